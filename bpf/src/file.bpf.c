/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * file.bpf.c: the file family (open, unlink, rename, chmod, chown) -> schema/src/wire/file.rs.
 * Included by rewind.bpf.c; checked against Linux 6.18.
 *
 * Every syscall is caught twice: syscalls:sys_enter_* stashes the arguments by thread,
 * syscalls:sys_exit_* takes them back with the return value and emits the record.
 *
 * Paths are absolute. A successful open is resolved from the struct file it installed
 * (symlinks, dirfds and mount points resolved by the kernel already). Every other path
 * is built from the user string: absolute as is, else appended to the resolved cwd or
 * dirfd, then normalised lexically ("." and ".." components, repeated slashes); the
 * last components are not resolved through symlinks, since the kernel's own walk is
 * not visible from tracepoints.
 *
 * Only paths under the configured prefixes (path_prefixes, empty = all) are emitted.
 */

#define RW_AT_FDCWD       (-100)
#define RW_AT_REMOVEDIR   0x200
#define RW_AT_EMPTY_PATH  0x1000

enum file_op {
	FOP_OPEN = 1,
	FOP_UNLINK,
	FOP_RENAME,
	FOP_CHMOD,
	FOP_CHOWN,
};

/* Arguments of a file syscall in flight, by thread. */
struct file_call {
	__u64 path;    /* user pointer; 0: the object is the fd `dfd` itself */
	__u64 path2;   /* rename: new path */
	__s32 dfd;
	__s32 dfd2;
	__u32 op;      /* enum file_op */
	__u32 flags;   /* O_* for opens, AT_* or RENAME_* otherwise */
	__u32 mode;
	__u32 uid;
	__u32 gid;
	__u32 _pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, struct file_call);
} file_calls SEC(".maps");

/* ---- path-prefix filter ------------------------------------------------- */
#define PREFIX_MAX 32
#define PREFIX_LEN 128

/* Number of entries of path_prefixes in use; 0 records every path. */
const volatile __u32 path_prefix_cnt = 0;

struct path_prefix {
	__u32 len;
	char s[PREFIX_LEN]; /* bytes; '*' matches one non-empty path component */
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, PREFIX_MAX);
	__type(key, __u32);
	__type(value, struct path_prefix);
} path_prefixes SEC(".maps");

/* Working space of both bpf_loop callbacks below: offsets into the scratch buffer. */
struct pm_ctx {
	__u32 base;    /* path start in scratch */
	__u32 n;       /* path length */
	__u32 idx;     /* prefix being tried */
	__u32 i;       /* position in the prefix */
	__u32 j;       /* position in the path */
	__u32 matched;
};

struct norm_ctx {
	__u32 base, n, r, w, state;
};

/* Loop state of the bpf_loop callbacks, kept in a map rather than on the stack: the
 * verifier then sees unknown scalars and checks a callback once, instead of following
 * every iteration with exact values. */
struct loop_state {
	struct pm_ctx pm;
	struct norm_ctx norm;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct loop_state);
} loop_state_map SEC(".maps");

static __always_inline struct loop_state *get_loop_state(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&loop_state_map, &zero);
}

/* One step of matching the path against prefix idx; moves on to the next prefix on a
 * mismatch, stops on the first match. */
static long prefix_step(__u32 k, void *unused)
{
	struct loop_state *ls = get_loop_state();
	struct pm_ctx *c;
	struct path_prefix *p;
	__u32 idx, i, j, plen;
	char *buf = get_scratch();
	char pc, ch = 0;
	bool have;

	if (!ls || !buf)
		return 1;
	c = &ls->pm;
	idx = c->idx;
	i = c->i;
	j = c->j;
	if (idx >= path_prefix_cnt || idx >= PREFIX_MAX)
		return 1;
	p = bpf_map_lookup_elem(&path_prefixes, &idx);
	if (!p)
		return 1;
	plen = p->len;
	if (plen > PREFIX_LEN)
		plen = PREFIX_LEN;
	if (i >= plen) {
		c->matched = 1;
		return 1;
	}
	pc = p->s[i & (PREFIX_LEN - 1)];
	have = j < c->n;
	if (have)
		ch = buf[(c->base + j) & SCRATCH_MASK];
	if (pc == '*') {
		/* one component: at least one byte, up to the next '/' */
		if (have && ch != '/')
			c->j = j + 1;
		else if (j > 0 && buf[(c->base + j - 1) & SCRATCH_MASK] != '/')
			c->i = i + 1;
		else
			goto next;
		return 0;
	}
	if (have && ch == pc) {
		c->i = i + 1;
		c->j = j + 1;
		return 0;
	}
next:
	c->idx = idx + 1;
	c->i = 0;
	c->j = 0;
	return 0;
}

/* True when the path at scratch[base, base + n) is under a configured prefix. */
static __always_inline bool path_allowed(__u32 base, __u32 n)
{
	struct loop_state *ls;

	if (path_prefix_cnt == 0)
		return true;
	ls = get_loop_state();
	if (!ls)
		return false;
	ls->pm.base = base;
	ls->pm.n = n;
	ls->pm.idx = 0;
	ls->pm.i = 0;
	ls->pm.j = 0;
	ls->pm.matched = 0;
	bpf_loop(PREFIX_MAX * (PREFIX_LEN + 2 * NAME_LIMIT), prefix_step, NULL, 0);
	return ls->pm.matched;
}

/* ---- lexical normalisation ---------------------------------------------- */
enum { NS_START, NS_COPY, NS_BACK };

/* One step of an in-place normalisation of scratch[base, base + n): the output
 * (scratch[base, base + w), w <= r) never has a trailing slash; NS_BACK drops its last
 * component for "..". */
static long norm_step(__u32 k, void *unused)
{
	struct loop_state *ls = get_loop_state();
	struct norm_ctx *c;
	char *buf = get_scratch();
	__u32 r, w, b;
	char ch, c1, c2;

	if (!ls || !buf)
		return 1;
	c = &ls->norm;
	r = c->r;
	w = c->w;
	b = c->base;
	if (c->state == NS_BACK) {
		if (w == 0) {
			c->state = NS_START;
			return 0;
		}
		w--;
		c->w = w;
		if (buf[(b + w) & SCRATCH_MASK] == '/')
			c->state = NS_START;
		return 0;
	}
	if (r >= c->n)
		return 1;
	ch = buf[(b + r) & SCRATCH_MASK];
	if (c->state == NS_COPY) {
		if (ch == '/') {
			c->state = NS_START;
			return 0;
		}
		buf[(b + w) & SCRATCH_MASK] = ch;
		c->r = r + 1;
		c->w = w + 1;
		return 0;
	}
	/* NS_START: at a slash or at the start of a component */
	if (ch == '/') {
		c->r = r + 1;
		return 0;
	}
	c1 = r + 1 < c->n ? buf[(b + r + 1) & SCRATCH_MASK] : '/';
	c2 = r + 2 < c->n ? buf[(b + r + 2) & SCRATCH_MASK] : '/';
	if (ch == '.' && c1 == '/') {
		c->r = r + 1;
		return 0;
	}
	if (ch == '.' && c1 == '.' && c2 == '/') {
		c->r = r + 2;
		c->state = NS_BACK;
		return 0;
	}
	buf[(b + w) & SCRATCH_MASK] = '/';
	c->w = w + 1;
	c->state = NS_COPY;
	return 0;
}

/* Normalises the absolute path at scratch[base, base + n) in place; returns its new
 * length. */
static __always_inline __u32 normalize(char *buf, __u32 base, __u32 n)
{
	struct loop_state *ls;
	__u32 w;

	if (n == 0 || buf[base & SCRATCH_MASK] != '/')
		return n;
	ls = get_loop_state();
	if (!ls)
		return n;
	ls->norm.base = base;
	ls->norm.n = n;
	ls->norm.r = 0;
	ls->norm.w = 0;
	ls->norm.state = NS_START;
	bpf_loop(3 * PATH_LIMIT + 8, norm_step, NULL, 0);
	w = ls->norm.w;
	if (w == 0) {
		buf[base & SCRATCH_MASK] = '/';
		return 1;
	}
	return w > n ? n : w;
}

/* ---- paths -------------------------------------------------------------- */
/* A path length as the verifier must see it: clang knows lengths never exceed
 * PATH_LIMIT and drops plain checks, so hide the value from it and mask (a no-op
 * for every real length). */
static __always_inline __u32 vlen(__u32 len)
{
	asm volatile("" : "+r"(len));
	return len & (2 * PATH_LIMIT - 1);
}

/* Highest start offset of a path in the scratch buffer: leaves room for a resolved
 * base (copy_path's bound, 2 * PATH_LIMIT) and an appended user string. */
#define PATHS_MAX_POS (SCRATCH_SIZE - 4 * PATH_LIMIT)

/* Resolves p into scratch[pos...]; returns the length. */
static __always_inline __u32 put_resolved(char *buf, __u32 pos, char *pb, struct path *p,
					  bool *cut)
{
	__u32 start = resolve_path(p->mnt, p->dentry, pb, cut);
	__u32 len;

	if (pos > PATHS_MAX_POS)
		return 0;
	len = copy_path(&buf[pos], pb, start);
	return len > PATH_LIMIT ? PATH_LIMIT : len;
}

/*
 * Writes the absolute path named by (dfd, upath) at scratch[pos...] and returns its
 * length: upath absolute as is; relative to the cwd (dfd == AT_FDCWD) or to dfd's file;
 * an empty upath (AT_EMPTY_PATH) or a null one names dfd's file itself.
 */
static __always_inline __u32 build_path(char *buf, __u32 pos, char *pb, int dfd,
					const char *upath, bool *cut)
{
	struct path base;
	struct file *f;
	__u32 len, room;
	char first = 0;
	long n;

	*cut = false;
	if (pos > PATHS_MAX_POS)
		return 0;
	if (upath && bpf_probe_read_user(&first, 1, upath)) {
		*cut = true;
		return 0;
	}
	if (first == '/') {
		n = bpf_probe_read_user_str(&buf[pos], PATH_LIMIT, upath);
		len = n > 0 ? n - 1 : 0;
		if (len >= PATH_LIMIT - 1)
			*cut = true;
		if (len > PATH_LIMIT)
			len = PATH_LIMIT;
		return normalize(buf, pos, len);
	}
	if (upath && dfd == RW_AT_FDCWD) {
		struct task_struct *task = (struct task_struct *)bpf_get_current_task();

		base = BPF_CORE_READ(task, fs, pwd);
	} else {
		f = fd_file(dfd);
		if (!f) {
			/* bad dirfd: keep the relative string, flagged */
			*cut = true;
			if (!upath)
				return 0;
			n = bpf_probe_read_user_str(&buf[pos], PATH_LIMIT, upath);
			return n > 0 ? n - 1 : 0;
		}
		base = BPF_CORE_READ(f, f_path);
	}
	len = put_resolved(buf, pos, pb, &base, cut);
	if (!upath || !first)
		return len;
	len = vlen(len);
	if (!(len == 1 && buf[pos & SCRATCH_MASK] == '/')) {
		if (len >= PATH_LIMIT) {
			*cut = true;
			return len;
		}
		buf[(pos + len) & SCRATCH_MASK] = '/';
		len++;
	}
	room = PATH_LIMIT - len;
	if (room > PATH_LIMIT)
		return len;
	/* the verifier cannot derive room's bound: hide it from clang, then mask */
	asm volatile("" : "+r"(room));
	room &= 2 * PATH_LIMIT - 1;
	n = bpf_probe_read_user_str(&buf[pos + len], room, upath);
	if (n > 0) {
		if ((__u32)n >= room)
			*cut = true;
		len += n - 1;
	}
	len = vlen(len);
	return normalize(buf, pos, len);
}

/* ---- stash -------------------------------------------------------------- */
static __always_inline int stash(struct file_call *c)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();

	bpf_map_update_elem(&file_calls, &tid, c, BPF_ANY);
	return 0;
}

static __always_inline bool file_traced(void)
{
	return (class_mask & CLASS_FILE) && traced();
}

/* Takes the stashed call of this thread, if it is of kind op. */
static __always_inline bool unstash(struct file_call *out, __u32 op)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct file_call *c = bpf_map_lookup_elem(&file_calls, &tid);

	if (!c)
		return false;
	*out = *c;
	bpf_map_delete_elem(&file_calls, &tid);
	return out->op == op;
}

/* ---- open --------------------------------------------------------------- */
#define OPEN_FIXED sizeof(struct rw_open)

/* syscalls:sys_enter_open: open(filename, flags, mode) (Linux 6.18). */
SEC("tp/syscalls/sys_enter_open")
int handle_enter_open(struct trace_event_raw_sys_enter *ctx)
{
	struct file_call c = { .op = FOP_OPEN, .dfd = RW_AT_FDCWD };

	if (!file_traced())
		return 0;
	c.path = ctx->args[0];
	c.flags = ctx->args[1];
	c.mode = ctx->args[2];
	return stash(&c);
}

/* syscalls:sys_enter_openat: openat(dfd, filename, flags, mode) (Linux 6.18). */
SEC("tp/syscalls/sys_enter_openat")
int handle_enter_openat(struct trace_event_raw_sys_enter *ctx)
{
	struct file_call c = { .op = FOP_OPEN };

	if (!file_traced())
		return 0;
	c.dfd = ctx->args[0];
	c.path = ctx->args[1];
	c.flags = ctx->args[2];
	c.mode = ctx->args[3];
	return stash(&c);
}

/* syscalls:sys_enter_openat2: openat2(dfd, filename, struct open_how *how, size)
 * (Linux 6.18). */
SEC("tp/syscalls/sys_enter_openat2")
int handle_enter_openat2(struct trace_event_raw_sys_enter *ctx)
{
	struct file_call c = { .op = FOP_OPEN };
	struct open_how how = {};

	if (!file_traced())
		return 0;
	c.dfd = ctx->args[0];
	c.path = ctx->args[1];
	bpf_probe_read_user(&how, sizeof(how), (void *)ctx->args[2]);
	c.flags = how.flags;
	c.mode = how.mode;
	return stash(&c);
}

static __always_inline int open_exit(long ret)
{
	struct file_call c;
	struct rw_open *o;
	char *buf, *pb;
	__u32 len = 0;
	bool cut = false;

	if (!unstash(&c, FOP_OPEN))
		return 0;
	buf = get_scratch();
	pb = get_pathbuf();
	if (!buf || !pb)
		return 0;
	o = (struct rw_open *)buf;
	o->ino = 0;
	o->dev = 0;
	o->ret = ret;
	o->open_flags = c.flags;
	o->mode = c.mode;
	o->flags = 0;
	o->_pad = 0;
	if (ret >= 0) {
		struct file *f = fd_file(ret);

		if (f) {
			struct path p = BPF_CORE_READ(f, f_path);
			struct inode *inode = BPF_CORE_READ(f, f_inode);

			len = put_resolved(buf, OPEN_FIXED, pb, &p, &cut);
			o->ino = BPF_CORE_READ(inode, i_ino);
			o->dev = BPF_CORE_READ(inode, i_sb, s_dev);
		} else {
			len = build_path(buf, OPEN_FIXED, pb, c.dfd, (const char *)c.path, &cut);
		}
	} else {
		len = build_path(buf, OPEN_FIXED, pb, c.dfd, (const char *)c.path, &cut);
	}
	len = vlen(len);
	if (!path_allowed(OPEN_FIXED, len))
		return 0;
	if (cut)
		o->flags |= RW_PATH_TRUNCATED;
	o->path_len = len;
	fill_hdr(&o->hdr, RW_OPEN, OPEN_FIXED + len);
	emit(buf, OPEN_FIXED + len);
	return 0;
}

/* syscalls:sys_exit_open (Linux 6.18). */
SEC("tp/syscalls/sys_exit_open")
int handle_exit_open(struct trace_event_raw_sys_exit *ctx)
{
	return open_exit(ctx->ret);
}

/* syscalls:sys_exit_openat (Linux 6.18). */
SEC("tp/syscalls/sys_exit_openat")
int handle_exit_openat(struct trace_event_raw_sys_exit *ctx)
{
	return open_exit(ctx->ret);
}

/* syscalls:sys_exit_openat2 (Linux 6.18). */
SEC("tp/syscalls/sys_exit_openat2")
int handle_exit_openat2(struct trace_event_raw_sys_exit *ctx)
{
	return open_exit(ctx->ret);
}

/* ---- unlink ------------------------------------------------------------- */
#define UNLINK_FIXED sizeof(struct rw_unlink)

/* syscalls:sys_enter_unlink: unlink(pathname) (Linux 6.18). */
SEC("tp/syscalls/sys_enter_unlink")
int handle_enter_unlink(struct trace_event_raw_sys_enter *ctx)
{
	struct file_call c = { .op = FOP_UNLINK, .dfd = RW_AT_FDCWD };

	if (!file_traced())
		return 0;
	c.path = ctx->args[0];
	return stash(&c);
}

/* syscalls:sys_enter_unlinkat: unlinkat(dfd, pathname, flag) (Linux 6.18). */
SEC("tp/syscalls/sys_enter_unlinkat")
int handle_enter_unlinkat(struct trace_event_raw_sys_enter *ctx)
{
	struct file_call c = { .op = FOP_UNLINK };

	if (!file_traced())
		return 0;
	c.dfd = ctx->args[0];
	c.path = ctx->args[1];
	c.flags = ctx->args[2];
	return stash(&c);
}

/* syscalls:sys_enter_rmdir: rmdir(pathname), recorded as unlink with AT_REMOVEDIR
 * (Linux 6.18). */
SEC("tp/syscalls/sys_enter_rmdir")
int handle_enter_rmdir(struct trace_event_raw_sys_enter *ctx)
{
	struct file_call c = { .op = FOP_UNLINK, .dfd = RW_AT_FDCWD, .flags = RW_AT_REMOVEDIR };

	if (!file_traced())
		return 0;
	c.path = ctx->args[0];
	return stash(&c);
}

static __always_inline int unlink_exit(long ret)
{
	struct file_call c;
	struct rw_unlink *u;
	char *buf, *pb;
	__u32 len;
	bool cut;

	if (!unstash(&c, FOP_UNLINK))
		return 0;
	buf = get_scratch();
	pb = get_pathbuf();
	if (!buf || !pb)
		return 0;
	u = (struct rw_unlink *)buf;
	len = build_path(buf, UNLINK_FIXED, pb, c.dfd, (const char *)c.path, &cut);
	len = vlen(len);
	if (!path_allowed(UNLINK_FIXED, len))
		return 0;
	u->ret = ret;
	u->flags = c.flags;
	u->path_len = len;
	u->_pad[0] = u->_pad[1] = u->_pad[2] = 0;
	fill_hdr(&u->hdr, RW_UNLINK, UNLINK_FIXED + len);
	emit(buf, UNLINK_FIXED + len);
	return 0;
}

/* syscalls:sys_exit_unlink (Linux 6.18). */
SEC("tp/syscalls/sys_exit_unlink")
int handle_exit_unlink(struct trace_event_raw_sys_exit *ctx)
{
	return unlink_exit(ctx->ret);
}

/* syscalls:sys_exit_unlinkat (Linux 6.18). */
SEC("tp/syscalls/sys_exit_unlinkat")
int handle_exit_unlinkat(struct trace_event_raw_sys_exit *ctx)
{
	return unlink_exit(ctx->ret);
}

/* syscalls:sys_exit_rmdir (Linux 6.18). */
SEC("tp/syscalls/sys_exit_rmdir")
int handle_exit_rmdir(struct trace_event_raw_sys_exit *ctx)
{
	return unlink_exit(ctx->ret);
}

/* ---- rename ------------------------------------------------------------- */
#define RENAME_FIXED sizeof(struct rw_rename)

/* syscalls:sys_enter_rename: rename(oldname, newname) (Linux 6.18). */
SEC("tp/syscalls/sys_enter_rename")
int handle_enter_rename(struct trace_event_raw_sys_enter *ctx)
{
	struct file_call c = { .op = FOP_RENAME, .dfd = RW_AT_FDCWD, .dfd2 = RW_AT_FDCWD };

	if (!file_traced())
		return 0;
	c.path = ctx->args[0];
	c.path2 = ctx->args[1];
	return stash(&c);
}

/* syscalls:sys_enter_renameat: renameat(olddfd, oldname, newdfd, newname)
 * (Linux 6.18). */
SEC("tp/syscalls/sys_enter_renameat")
int handle_enter_renameat(struct trace_event_raw_sys_enter *ctx)
{
	struct file_call c = { .op = FOP_RENAME };

	if (!file_traced())
		return 0;
	c.dfd = ctx->args[0];
	c.path = ctx->args[1];
	c.dfd2 = ctx->args[2];
	c.path2 = ctx->args[3];
	return stash(&c);
}

/* syscalls:sys_enter_renameat2: renameat2(olddfd, oldname, newdfd, newname, flags)
 * (Linux 6.18). */
SEC("tp/syscalls/sys_enter_renameat2")
int handle_enter_renameat2(struct trace_event_raw_sys_enter *ctx)
{
	struct file_call c = { .op = FOP_RENAME };

	if (!file_traced())
		return 0;
	c.dfd = ctx->args[0];
	c.path = ctx->args[1];
	c.dfd2 = ctx->args[2];
	c.path2 = ctx->args[3];
	c.flags = ctx->args[4];
	return stash(&c);
}

static __always_inline int rename_exit(long ret)
{
	struct file_call c;
	struct rw_rename *r;
	char *buf, *pb;
	__u32 olen, nlen;
	bool cut;

	if (!unstash(&c, FOP_RENAME))
		return 0;
	buf = get_scratch();
	pb = get_pathbuf();
	if (!buf || !pb)
		return 0;
	r = (struct rw_rename *)buf;
	olen = build_path(buf, RENAME_FIXED, pb, c.dfd, (const char *)c.path, &cut);
	olen = vlen(olen);
	nlen = build_path(buf, RENAME_FIXED + olen, pb, c.dfd2, (const char *)c.path2, &cut);
	nlen = vlen(nlen);
	if (!path_allowed(RENAME_FIXED, olen) && !path_allowed(RENAME_FIXED + olen, nlen))
		return 0;
	r->ret = ret;
	r->flags = c.flags;
	r->old_len = olen;
	r->new_len = nlen;
	r->_pad = 0;
	fill_hdr(&r->hdr, RW_RENAME, RENAME_FIXED + olen + nlen);
	emit(buf, RENAME_FIXED + olen + nlen);
	return 0;
}

/* syscalls:sys_exit_rename (Linux 6.18). */
SEC("tp/syscalls/sys_exit_rename")
int handle_exit_rename(struct trace_event_raw_sys_exit *ctx)
{
	return rename_exit(ctx->ret);
}

/* syscalls:sys_exit_renameat (Linux 6.18). */
SEC("tp/syscalls/sys_exit_renameat")
int handle_exit_renameat(struct trace_event_raw_sys_exit *ctx)
{
	return rename_exit(ctx->ret);
}

/* syscalls:sys_exit_renameat2 (Linux 6.18). */
SEC("tp/syscalls/sys_exit_renameat2")
int handle_exit_renameat2(struct trace_event_raw_sys_exit *ctx)
{
	return rename_exit(ctx->ret);
}

/* ---- chmod -------------------------------------------------------------- */
#define CHMOD_FIXED sizeof(struct rw_chmod)

/* syscalls:sys_enter_chmod: chmod(filename, mode) (Linux 6.18). */
SEC("tp/syscalls/sys_enter_chmod")
int handle_enter_chmod(struct trace_event_raw_sys_enter *ctx)
{
	struct file_call c = { .op = FOP_CHMOD, .dfd = RW_AT_FDCWD };

	if (!file_traced())
		return 0;
	c.path = ctx->args[0];
	c.mode = ctx->args[1];
	return stash(&c);
}

/* syscalls:sys_enter_fchmod: fchmod(fd, mode) (Linux 6.18). */
SEC("tp/syscalls/sys_enter_fchmod")
int handle_enter_fchmod(struct trace_event_raw_sys_enter *ctx)
{
	struct file_call c = { .op = FOP_CHMOD };

	if (!file_traced())
		return 0;
	c.dfd = ctx->args[0];
	c.mode = ctx->args[1];
	return stash(&c);
}

/* syscalls:sys_enter_fchmodat: fchmodat(dfd, filename, mode) (Linux 6.18). */
SEC("tp/syscalls/sys_enter_fchmodat")
int handle_enter_fchmodat(struct trace_event_raw_sys_enter *ctx)
{
	struct file_call c = { .op = FOP_CHMOD };

	if (!file_traced())
		return 0;
	c.dfd = ctx->args[0];
	c.path = ctx->args[1];
	c.mode = ctx->args[2];
	return stash(&c);
}

/* syscalls:sys_enter_fchmodat2: fchmodat2(dfd, filename, mode, flags) (Linux 6.6+,
 * checked against 6.18). */
SEC("tp/syscalls/sys_enter_fchmodat2")
int handle_enter_fchmodat2(struct trace_event_raw_sys_enter *ctx)
{
	struct file_call c = { .op = FOP_CHMOD };

	if (!file_traced())
		return 0;
	c.dfd = ctx->args[0];
	c.path = ctx->args[1];
	c.mode = ctx->args[2];
	c.flags = ctx->args[3];
	return stash(&c);
}

static __always_inline int chmod_exit(long ret)
{
	struct file_call c;
	struct rw_chmod *m;
	char *buf, *pb;
	__u32 len;
	bool cut;

	if (!unstash(&c, FOP_CHMOD))
		return 0;
	buf = get_scratch();
	pb = get_pathbuf();
	if (!buf || !pb)
		return 0;
	m = (struct rw_chmod *)buf;
	len = build_path(buf, CHMOD_FIXED, pb, c.dfd, (const char *)c.path, &cut);
	len = vlen(len);
	if (!path_allowed(CHMOD_FIXED, len))
		return 0;
	m->ret = ret;
	m->mode = c.mode;
	m->path_len = len;
	m->_pad[0] = m->_pad[1] = m->_pad[2] = 0;
	fill_hdr(&m->hdr, RW_CHMOD, CHMOD_FIXED + len);
	emit(buf, CHMOD_FIXED + len);
	return 0;
}

/* syscalls:sys_exit_chmod (Linux 6.18). */
SEC("tp/syscalls/sys_exit_chmod")
int handle_exit_chmod(struct trace_event_raw_sys_exit *ctx)
{
	return chmod_exit(ctx->ret);
}

/* syscalls:sys_exit_fchmod (Linux 6.18). */
SEC("tp/syscalls/sys_exit_fchmod")
int handle_exit_fchmod(struct trace_event_raw_sys_exit *ctx)
{
	return chmod_exit(ctx->ret);
}

/* syscalls:sys_exit_fchmodat (Linux 6.18). */
SEC("tp/syscalls/sys_exit_fchmodat")
int handle_exit_fchmodat(struct trace_event_raw_sys_exit *ctx)
{
	return chmod_exit(ctx->ret);
}

/* syscalls:sys_exit_fchmodat2 (Linux 6.18). */
SEC("tp/syscalls/sys_exit_fchmodat2")
int handle_exit_fchmodat2(struct trace_event_raw_sys_exit *ctx)
{
	return chmod_exit(ctx->ret);
}

/* ---- chown -------------------------------------------------------------- */
#define CHOWN_FIXED sizeof(struct rw_chown)

/* syscalls:sys_enter_chown: chown(filename, user, group) (Linux 6.18). */
SEC("tp/syscalls/sys_enter_chown")
int handle_enter_chown(struct trace_event_raw_sys_enter *ctx)
{
	struct file_call c = { .op = FOP_CHOWN, .dfd = RW_AT_FDCWD };

	if (!file_traced())
		return 0;
	c.path = ctx->args[0];
	c.uid = ctx->args[1];
	c.gid = ctx->args[2];
	return stash(&c);
}

/* syscalls:sys_enter_lchown: lchown(filename, user, group) (Linux 6.18). */
SEC("tp/syscalls/sys_enter_lchown")
int handle_enter_lchown(struct trace_event_raw_sys_enter *ctx)
{
	struct file_call c = { .op = FOP_CHOWN, .dfd = RW_AT_FDCWD };

	if (!file_traced())
		return 0;
	c.path = ctx->args[0];
	c.uid = ctx->args[1];
	c.gid = ctx->args[2];
	return stash(&c);
}

/* syscalls:sys_enter_fchown: fchown(fd, user, group) (Linux 6.18). */
SEC("tp/syscalls/sys_enter_fchown")
int handle_enter_fchown(struct trace_event_raw_sys_enter *ctx)
{
	struct file_call c = { .op = FOP_CHOWN };

	if (!file_traced())
		return 0;
	c.dfd = ctx->args[0];
	c.uid = ctx->args[1];
	c.gid = ctx->args[2];
	return stash(&c);
}

/* syscalls:sys_enter_fchownat: fchownat(dfd, filename, user, group, flag)
 * (Linux 6.18). */
SEC("tp/syscalls/sys_enter_fchownat")
int handle_enter_fchownat(struct trace_event_raw_sys_enter *ctx)
{
	struct file_call c = { .op = FOP_CHOWN };

	if (!file_traced())
		return 0;
	c.dfd = ctx->args[0];
	c.path = ctx->args[1];
	c.uid = ctx->args[2];
	c.gid = ctx->args[3];
	c.flags = ctx->args[4];
	return stash(&c);
}

static __always_inline int chown_exit(long ret)
{
	struct file_call c;
	struct rw_chown *o;
	char *buf, *pb;
	__u32 len;
	bool cut;

	if (!unstash(&c, FOP_CHOWN))
		return 0;
	buf = get_scratch();
	pb = get_pathbuf();
	if (!buf || !pb)
		return 0;
	o = (struct rw_chown *)buf;
	len = build_path(buf, CHOWN_FIXED, pb, c.dfd, (const char *)c.path, &cut);
	len = vlen(len);
	if (!path_allowed(CHOWN_FIXED, len))
		return 0;
	o->ret = ret;
	o->uid = c.uid;
	o->gid = c.gid;
	o->path_len = len;
	o->_pad = 0;
	fill_hdr(&o->hdr, RW_CHOWN, CHOWN_FIXED + len);
	emit(buf, CHOWN_FIXED + len);
	return 0;
}

/* syscalls:sys_exit_chown (Linux 6.18). */
SEC("tp/syscalls/sys_exit_chown")
int handle_exit_chown(struct trace_event_raw_sys_exit *ctx)
{
	return chown_exit(ctx->ret);
}

/* syscalls:sys_exit_lchown (Linux 6.18). */
SEC("tp/syscalls/sys_exit_lchown")
int handle_exit_lchown(struct trace_event_raw_sys_exit *ctx)
{
	return chown_exit(ctx->ret);
}

/* syscalls:sys_exit_fchown (Linux 6.18). */
SEC("tp/syscalls/sys_exit_fchown")
int handle_exit_fchown(struct trace_event_raw_sys_exit *ctx)
{
	return chown_exit(ctx->ret);
}

/* syscalls:sys_exit_fchownat (Linux 6.18). */
SEC("tp/syscalls/sys_exit_fchownat")
int handle_exit_fchownat(struct trace_event_raw_sys_exit *ctx)
{
	return chown_exit(ctx->ret);
}
