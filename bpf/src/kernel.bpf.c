/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * kernel.bpf.c: namespaces, mounts, ptrace, module and bpf loads, memfd, signals and
 * executable mappings -> schema/src/wire/kernel.rs. Included by rewind.bpf.c.
 * Syscall arguments are saved per thread at sys_enter and the record is emitted at
 * sys_exit with the result. Checked against Linux 6.18.
 */

struct k_args {
	__u64 a[6];
	struct rw_ns ns; /* namespaces before unshare/setns */
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, struct k_args);
} k_sysargs SEC(".maps");

static __always_inline struct task_struct *k_current(void)
{
	return (struct task_struct *)bpf_get_current_task();
}

/* Saves the first `nargs` arguments. Only those may be read: the kernel refuses to attach
 * a program that reads past the tracepoint's own arguments (EACCES). */
static __always_inline int k_save(struct trace_event_raw_sys_enter *ctx, int nargs, bool with_ns)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct k_args a = {};

	if (!(class_mask & CLASS_KERNEL) || !traced())
		return 0;
	/* unrolled with constant bounds: the verifier refuses a modified ctx pointer */
	if (nargs > 0)
		a.a[0] = ctx->args[0];
	if (nargs > 1)
		a.a[1] = ctx->args[1];
	if (nargs > 2)
		a.a[2] = ctx->args[2];
	if (nargs > 3)
		a.a[3] = ctx->args[3];
	if (nargs > 4)
		a.a[4] = ctx->args[4];
	if (nargs > 5)
		a.a[5] = ctx->args[5];
	if (with_ns)
		fill_ns(k_current(), &a.ns);
	bpf_map_update_elem(&k_sysargs, &tid, &a, BPF_ANY);
	return 0;
}

static __always_inline struct k_args *k_take(void)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();

	return bpf_map_lookup_elem(&k_sysargs, &tid);
}

static __always_inline void k_done(void)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();

	bpf_map_delete_elem(&k_sysargs, &tid);
}

/* Appends a user string at buf[pos] (at most `max` bytes); returns its length. */
static __always_inline __u32 k_user_str(char *buf, __u32 pos, const void *src, __u32 max)
{
	long n;

	if (!src || pos > SCRATCH_SIZE - PATH_LIMIT - 8)
		return 0;
	if (max > PATH_LIMIT)
		max = PATH_LIMIT;
	n = bpf_probe_read_user_str(&buf[pos], max, src);
	return n > 0 ? n - 1 : 0;
}

/* Appends the resolved path of a struct file at buf[pos]; returns its length. */
static __always_inline __u32 k_file_path(char *buf, __u32 pos, struct file *f)
{
	char *pb = get_pathbuf();
	bool cut;
	__u32 start;

	if (!f || !pb || pos > SCRATCH_SIZE - PATH_LIMIT - 8)
		return 0;
	start = resolve_path(BPF_CORE_READ(f, f_path.mnt), BPF_CORE_READ(f, f_path.dentry), pb, &cut);
	return copy_path(&buf[pos & (SCRATCH_SIZE - 1)], pb, start);
}

/* ---- unshare / setns ---------------------------------------------------- */
SEC("tp/syscalls/sys_enter_unshare")
int handle_enter_unshare(struct trace_event_raw_sys_enter *ctx)
{
	return k_save(ctx, 1, true);
}

SEC("tp/syscalls/sys_exit_unshare")
int handle_unshare(struct trace_event_raw_sys_exit *ctx)
{
	struct k_args *a = k_take();
	struct rw_namespace n = {};

	if (!a)
		return 0;
	n.flags = a->a[0];
	n.old = a->ns;
	k_done();
	fill_ns(k_current(), &n.new);
	n.op = RW_NS_UNSHARE;
	n.ret = ctx->ret;
	n.fd = -1;
	fill_hdr(&n.hdr, RW_NAMESPACE, sizeof(n));
	emit(&n, sizeof(n));
	return 0;
}

SEC("tp/syscalls/sys_enter_setns")
int handle_enter_setns(struct trace_event_raw_sys_enter *ctx)
{
	return k_save(ctx, 2, true);
}

SEC("tp/syscalls/sys_exit_setns")
int handle_setns(struct trace_event_raw_sys_exit *ctx)
{
	struct k_args *a = k_take();
	struct rw_namespace n = {};

	if (!a)
		return 0;
	n.fd = (int)a->a[0];
	n.flags = a->a[1];
	n.old = a->ns;
	k_done();
	fill_ns(k_current(), &n.new);
	n.op = RW_NS_SETNS;
	n.ret = ctx->ret;
	fill_hdr(&n.hdr, RW_NAMESPACE, sizeof(n));
	emit(&n, sizeof(n));
	return 0;
}

/* ---- mount / umount ----------------------------------------------------- */
SEC("tp/syscalls/sys_enter_mount")
int handle_enter_mount(struct trace_event_raw_sys_enter *ctx)
{
	return k_save(ctx, 5, false);
}

SEC("tp/syscalls/sys_exit_mount")
int handle_mount(struct trace_event_raw_sys_exit *ctx)
{
	struct k_args *a = k_take();
	struct rw_mount *m;
	char *buf = get_scratch();
	__u32 pos = sizeof(struct rw_mount), n;

	if (!a || !buf) {
		k_done();
		return 0;
	}
	m = (struct rw_mount *)buf;
	m->flags = a->a[3];
	m->ret = ctx->ret;
	n = k_user_str(buf, pos, (void *)a->a[0], 1024);
	m->source_len = n;
	pos += n;
	n = k_user_str(buf, pos, (void *)a->a[1], PATH_LIMIT);
	m->target_len = n;
	pos += n;
	n = k_user_str(buf, pos, (void *)a->a[2], 64);
	m->fstype_len = n;
	pos += n;
	k_done();
	fill_hdr(&m->hdr, RW_MOUNT, pos);
	emit(buf, pos);
	return 0;
}

SEC("tp/syscalls/sys_enter_umount")
int handle_enter_umount(struct trace_event_raw_sys_enter *ctx)
{
	return k_save(ctx, 2, false);
}

SEC("tp/syscalls/sys_exit_umount")
int handle_umount(struct trace_event_raw_sys_exit *ctx)
{
	struct k_args *a = k_take();
	struct rw_umount *u;
	char *buf = get_scratch();
	__u32 pos = sizeof(struct rw_umount), n;

	if (!a || !buf) {
		k_done();
		return 0;
	}
	u = (struct rw_umount *)buf;
	u->flags = a->a[1];
	u->ret = ctx->ret;
	n = k_user_str(buf, pos, (void *)a->a[0], PATH_LIMIT);
	u->target_len = n;
	pos += n;
	k_done();
	fill_hdr(&u->hdr, RW_UMOUNT, pos);
	emit(buf, pos);
	return 0;
}

/* ---- ptrace: attaching and writing, not the reads a debugger does all the time -- */
SEC("tp/syscalls/sys_enter_ptrace")
int handle_enter_ptrace(struct trace_event_raw_sys_enter *ctx)
{
	long req = ctx->args[0];

	/* TRACEME, POKETEXT, POKEDATA, POKEUSER, SETREGS, ATTACH, SEIZE */
	if (req != 0 && req != 4 && req != 5 && req != 6 && req != 13 && req != 16 &&
	    req != 0x4206)
		return 0;
	return k_save(ctx, 4, false);
}

SEC("tp/syscalls/sys_exit_ptrace")
int handle_ptrace(struct trace_event_raw_sys_exit *ctx)
{
	struct k_args *a = k_take();
	struct rw_ptrace p = {};

	if (!a)
		return 0;
	p.request = a->a[0];
	p.target = a->a[1];
	k_done();
	p.ret = ctx->ret;
	fill_hdr(&p.hdr, RW_PTRACE, sizeof(p));
	emit(&p, sizeof(p));
	return 0;
}

/* ---- kernel modules ----------------------------------------------------- */
static __always_inline int module_exit(struct trace_event_raw_sys_exit *ctx, bool from_fd)
{
	struct k_args *a = k_take();
	struct rw_module_load *m;
	char *buf = get_scratch();
	__u32 pos = sizeof(struct rw_module_load), n = 0;

	if (!a || !buf) {
		k_done();
		return 0;
	}
	m = (struct rw_module_load *)buf;
	m->ret = ctx->ret;
	m->syscall = ctx->id;
	if (from_fd)
		n = k_file_path(buf, pos, fd_file((int)a->a[0]));
	m->name_len = n;
	pos += n;
	k_done();
	fill_hdr(&m->hdr, RW_MODULE_LOAD, pos);
	emit(buf, pos);
	return 0;
}

SEC("tp/syscalls/sys_enter_init_module")
int handle_enter_init_module(struct trace_event_raw_sys_enter *ctx)
{
	return k_save(ctx, 3, false);
}

SEC("tp/syscalls/sys_exit_init_module")
int handle_init_module(struct trace_event_raw_sys_exit *ctx)
{
	return module_exit(ctx, false);
}

SEC("tp/syscalls/sys_enter_finit_module")
int handle_enter_finit_module(struct trace_event_raw_sys_enter *ctx)
{
	return k_save(ctx, 3, false);
}

SEC("tp/syscalls/sys_exit_finit_module")
int handle_finit_module(struct trace_event_raw_sys_exit *ctx)
{
	return module_exit(ctx, true);
}

/* ---- bpf(BPF_PROG_LOAD) ------------------------------------------------- */
SEC("tp/syscalls/sys_enter_bpf")
int handle_enter_bpf(struct trace_event_raw_sys_enter *ctx)
{
	if (ctx->args[0] != 5 /* BPF_PROG_LOAD */)
		return 0;
	return k_save(ctx, 3, false);
}

SEC("tp/syscalls/sys_exit_bpf")
int handle_bpf(struct trace_event_raw_sys_exit *ctx)
{
	struct k_args *a = k_take();
	struct rw_bpf_load b = {};
	__u8 attr[64] = {};

	if (!a)
		return 0;
	b.cmd = a->a[0];
	bpf_probe_read_user(attr, sizeof(attr), (void *)a->a[1]);
	k_done();
	/* union bpf_attr, BPF_PROG_LOAD: prog_type @0, insn_cnt @4, prog_name @48 */
	__builtin_memcpy(&b.prog_type, &attr[0], 4);
	__builtin_memcpy(&b.insn_cnt, &attr[4], 4);
	__builtin_memcpy(b.prog_name, &attr[48], 16);
	b.ret = ctx->ret;
	fill_hdr(&b.hdr, RW_BPF_LOAD, sizeof(b));
	emit(&b, sizeof(b));
	return 0;
}

/* ---- memfd_create ------------------------------------------------------- */
SEC("tp/syscalls/sys_enter_memfd_create")
int handle_enter_memfd_create(struct trace_event_raw_sys_enter *ctx)
{
	return k_save(ctx, 2, false);
}

SEC("tp/syscalls/sys_exit_memfd_create")
int handle_memfd_create(struct trace_event_raw_sys_exit *ctx)
{
	struct k_args *a = k_take();
	struct rw_memfd *m;
	char *buf = get_scratch();
	__u32 pos = sizeof(struct rw_memfd), n;

	if (!a || !buf) {
		k_done();
		return 0;
	}
	m = (struct rw_memfd *)buf;
	m->ret = ctx->ret;
	m->flags = a->a[1];
	n = k_user_str(buf, pos, (void *)a->a[0], 256);
	m->name_len = n;
	pos += n;
	k_done();
	fill_hdr(&m->hdr, RW_MEMFD, pos);
	emit(buf, pos);
	return 0;
}

/* ---- signals (signal 0, an existence probe, is not recorded) ------------- */
static __always_inline int signal_enter(struct trace_event_raw_sys_enter *ctx, int nargs, long sig)
{
	if (sig == 0)
		return 0;
	return k_save(ctx, nargs, false);
}

static __always_inline int signal_exit(struct trace_event_raw_sys_exit *ctx, int target_arg, int sig_arg)
{
	struct k_args *a = k_take();
	struct rw_signal s = {};

	if (!a)
		return 0;
	s.target = a->a[target_arg & 3];
	s.sig = a->a[sig_arg & 3];
	k_done();
	s.ret = ctx->ret;
	s.syscall = ctx->id;
	fill_hdr(&s.hdr, RW_SIGNAL, sizeof(s));
	emit(&s, sizeof(s));
	return 0;
}

SEC("tp/syscalls/sys_enter_kill")
int handle_enter_kill(struct trace_event_raw_sys_enter *ctx)
{
	return signal_enter(ctx, 2, ctx->args[1]);
}

SEC("tp/syscalls/sys_exit_kill")
int handle_kill(struct trace_event_raw_sys_exit *ctx)
{
	return signal_exit(ctx, 0, 1);
}

SEC("tp/syscalls/sys_enter_tkill")
int handle_enter_tkill(struct trace_event_raw_sys_enter *ctx)
{
	return signal_enter(ctx, 2, ctx->args[1]);
}

SEC("tp/syscalls/sys_exit_tkill")
int handle_tkill(struct trace_event_raw_sys_exit *ctx)
{
	return signal_exit(ctx, 0, 1);
}

SEC("tp/syscalls/sys_enter_tgkill")
int handle_enter_tgkill(struct trace_event_raw_sys_enter *ctx)
{
	return signal_enter(ctx, 3, ctx->args[2]);
}

SEC("tp/syscalls/sys_exit_tgkill")
int handle_tgkill(struct trace_event_raw_sys_exit *ctx)
{
	return signal_exit(ctx, 0, 2);
}

/* ---- executable file mappings: loaded libraries and binaries ------------- */
SEC("tp/syscalls/sys_enter_mmap")
int handle_enter_mmap(struct trace_event_raw_sys_enter *ctx)
{
	/* PROT_EXEC with a file behind it */
	if (!(ctx->args[2] & 4) || (long)ctx->args[4] < 0)
		return 0;
	return k_save(ctx, 6, false);
}

SEC("tp/syscalls/sys_exit_mmap")
int handle_mmap(struct trace_event_raw_sys_exit *ctx)
{
	struct k_args *a = k_take();
	struct rw_mmap_exec *m;
	char *buf = get_scratch();
	struct file *f;
	__u32 pos = sizeof(struct rw_mmap_exec), n;

	if (!a || !buf) {
		k_done();
		return 0;
	}
	if (ctx->ret < 0 && ctx->ret > -4096) {
		k_done();
		return 0;
	}
	m = (struct rw_mmap_exec *)buf;
	f = fd_file((int)a->a[4]);
	m->prot = a->a[2];
	m->flags = a->a[3];
	k_done();
	m->ino = BPF_CORE_READ(f, f_inode, i_ino);
	m->dev = BPF_CORE_READ(f, f_inode, i_sb, s_dev);
	n = k_file_path(buf, pos, f);
	m->path_len = n;
	pos += n;
	fill_hdr(&m->hdr, RW_MMAP_EXEC, pos);
	emit(buf, pos);
	return 0;
}
