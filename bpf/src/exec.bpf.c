/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * exec.bpf.c: the process family (exec, fork, exit) -> schema/src/wire/exec.rs.
 * Included by rewind.bpf.c; checked against Linux 6.18.
 */

#define CGROUP_DEPTH 12
#define CGROUP_LIMIT 1024

/* Writes the task's cgroup v2 path at dst; returns its length. */
static __always_inline __u32 cgroup_path(struct task_struct *task, char *dst, char *tmp)
{
	struct kernfs_node *kn = BPF_CORE_READ(task, cgroups, dfl_cgrp, kn);
	__u32 off = CGROUP_LIMIT;
	int i;

	for (i = 0; i < CGROUP_DEPTH && kn; i++) {
		struct kernfs_node *parent = kn_parent(kn);
		const char *name = BPF_CORE_READ(kn, name);
		char comp[128];
		long n;

		if (!parent)
			break; /* the root's name is empty */
		n = bpf_probe_read_kernel_str(comp, sizeof(comp), name);
		if (n <= 1)
			break;
		n -= 1;
		if ((__u32)n + 1 > off)
			break;
		off -= n + 1;
		off &= CGROUP_LIMIT - 1;
		bpf_probe_read_kernel(&tmp[off + 1], n & 127, comp);
		tmp[off] = '/';
		kn = parent;
	}
	if (off == CGROUP_LIMIT) {
		dst[0] = '/';
		return 1;
	}
	bpf_probe_read_kernel(dst, (CGROUP_LIMIT - off) & (CGROUP_LIMIT * 2 - 1), &tmp[off & (CGROUP_LIMIT - 1)]);
	return CGROUP_LIMIT - off;
}

static __always_inline void fill_ns(struct task_struct *task, struct rw_ns *ns)
{
	struct nsproxy *nsp = BPF_CORE_READ(task, nsproxy);

	ns->mnt = BPF_CORE_READ(nsp, mnt_ns, ns.inum);
	ns->pid = BPF_CORE_READ(nsp, pid_ns_for_children, ns.inum);
	ns->net = BPF_CORE_READ(nsp, net_ns, ns.inum);
	ns->uts = BPF_CORE_READ(nsp, uts_ns, ns.inum);
	ns->ipc = BPF_CORE_READ(nsp, ipc_ns, ns.inum);
	ns->cgroup = BPF_CORE_READ(nsp, cgroup_ns, ns.inum);
	ns->time = BPF_CORE_READ(nsp, time_ns, ns.inum);
	ns->user = BPF_CORE_READ(task, cred, user_ns, ns.inum);
}

static __always_inline __u32 tty_dev(struct task_struct *task)
{
	struct tty_struct *tty = BPF_CORE_READ(task, signal, tty);
	__u32 major, minor;

	if (!tty)
		return 0;
	major = BPF_CORE_READ(tty, driver, major);
	minor = BPF_CORE_READ(tty, driver, minor_start) + BPF_CORE_READ(tty, index);
	/* new_encode_dev(), as /proc/PID/stat shows tty_nr */
	return (minor & 0xff) | (major << 8) | ((minor & ~0xff) << 12);
}

#define EXEC_FIXED sizeof(struct rw_exec)
#define FILENAME_MAX_LEN 4096
#define ARGV_MAX 16384

/* tp_btf/sched_process_exec: fires after a successful exec, in the new image, with
 * the binprm (argc, filename, file). Checked against Linux 6.18. */
SEC("tp_btf/sched_process_exec")
int BPF_PROG(handle_exec, struct task_struct *task, pid_t old_pid, struct linux_binprm *bprm)
{
	struct rw_exec *e;
	char *buf, *pb;
	__u32 pos, len;
	long n;
	bool cut;

	if (!(class_mask & CLASS_PROCESS) || !traced())
		return 0;
	buf = get_scratch();
	pb = get_pathbuf();
	if (!buf || !pb)
		return 0;
	e = (struct rw_exec *)buf;

	struct task_struct *leader = BPF_CORE_READ(task, group_leader);
	const struct cred *cred = BPF_CORE_READ(task, cred);
	struct file *file = BPF_CORE_READ(bprm, file);
	struct inode *inode = BPF_CORE_READ(file, f_inode);

	e->proc_start = BPF_CORE_READ(leader, start_boottime);
	e->cgroup_id = bpf_get_current_cgroup_id();
	e->exe_ino = BPF_CORE_READ(inode, i_ino);
	e->cap_eff = BPF_CORE_READ(cred, cap_effective.val);
	e->cap_prm = BPF_CORE_READ(cred, cap_permitted.val);
	fill_ns(task, &e->ns);
	e->ppid = BPF_CORE_READ(task, real_parent, tgid);
	e->uid = BPF_CORE_READ(cred, uid.val);
	e->gid = BPF_CORE_READ(cred, gid.val);
	e->euid = BPF_CORE_READ(cred, euid.val);
	e->egid = BPF_CORE_READ(cred, egid.val);
	e->auid = BPF_CORE_READ(task, loginuid.val);
	e->sessionid = BPF_CORE_READ(task, sessionid);
	e->exe_dev = BPF_CORE_READ(inode, i_sb, s_dev);
	e->exe_mode = BPF_CORE_READ(inode, i_mode);
	e->tty = tty_dev(task);
	e->argc = BPF_CORE_READ(bprm, argc);
	e->flags = 0;
	if (BPF_CORE_READ(inode, __i_nlink) == 0)
		e->flags |= RW_EXEC_EXE_DELETED;
	bpf_get_current_comm(e->comm, sizeof(e->comm));

	/* memfd files are named "memfd:NAME" */
	{
		char prefix[6] = {};
		const unsigned char *dname = BPF_CORE_READ(file, f_path.dentry, d_name.name);

		bpf_probe_read_kernel(prefix, sizeof(prefix), dname);
		if (prefix[0] == 'm' && prefix[1] == 'e' && prefix[2] == 'm' && prefix[3] == 'f' &&
		    prefix[4] == 'd' && prefix[5] == ':')
			e->flags |= RW_EXEC_FROM_MEMFD;
	}

	/* filename */
	pos = EXEC_FIXED;
	n = bpf_probe_read_kernel_str(&buf[pos], FILENAME_MAX_LEN, BPF_CORE_READ(bprm, filename));
	len = n > 0 ? n - 1 : 0;
	if (len >= FILENAME_MAX_LEN - 1)
		e->flags |= RW_EXEC_FILENAME_TRUNCATED;
	if (len > FILENAME_MAX_LEN)
		len = FILENAME_MAX_LEN;
	e->filename_len = len;
	pos += len;

	/* argv: the new image's argument area, as the kernel laid it out */
	{
		struct mm_struct *mm = BPF_CORE_READ(task, mm);
		__u64 start = BPF_CORE_READ(mm, arg_start);
		__u64 end = BPF_CORE_READ(mm, arg_end);
		__u64 want = end > start ? end - start : 0;
		__u32 limit = argv_limit < ARGV_MAX ? argv_limit : ARGV_MAX;

		if (want > limit) {
			want = limit;
			e->flags |= RW_EXEC_ARGV_TRUNCATED;
		}
		if (pos > EXEC_FIXED + FILENAME_MAX_LEN)
			return 0;
		if (want > ARGV_MAX)
			want = ARGV_MAX;
		if (bpf_probe_read_user(&buf[pos], want, (void *)start))
			want = 0;
		e->argv_len = want;
		pos += want;
	}

	/* cwd */
	{
		struct path pwd = BPF_CORE_READ(task, fs, pwd);
		__u32 start = resolve_path(pwd.mnt, pwd.dentry, pb, &cut);

		if (cut)
			e->flags |= RW_EXEC_CWD_TRUNCATED;
		if (pos > EXEC_FIXED + FILENAME_MAX_LEN + ARGV_MAX)
			return 0;
		len = copy_path(&buf[pos], pb, start);
		e->cwd_len = len;
		pos += len;
	}

	/* cgroup path */
	if (pos > EXEC_FIXED + FILENAME_MAX_LEN + ARGV_MAX + PATH_LIMIT)
		return 0;
	len = cgroup_path(task, &buf[pos], pb);
	e->cgroup_len = len;
	pos += len;

	fill_hdr(&e->hdr, RW_EXEC, pos);
	emit(buf, pos);
	return 0;
}

/* Clone flags seen at syscall entry, by thread, for the fork record. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, __u64);
} clone_flags SEC(".maps");

/* syscalls:sys_enter_clone: remember the flags (Linux 6.18). */
SEC("tp/syscalls/sys_enter_clone")
int handle_enter_clone(struct trace_event_raw_sys_enter *ctx)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	__u64 flags = ctx->args[0];

	if (!traced())
		return 0;
	bpf_map_update_elem(&clone_flags, &tid, &flags, BPF_ANY);
	return 0;
}

/* syscalls:sys_enter_clone3: flags are the first member of struct clone_args. */
SEC("tp/syscalls/sys_enter_clone3")
int handle_enter_clone3(struct trace_event_raw_sys_enter *ctx)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	__u64 flags = 0;

	if (!traced())
		return 0;
	bpf_probe_read_user(&flags, sizeof(flags), (void *)ctx->args[0]);
	bpf_map_update_elem(&clone_flags, &tid, &flags, BPF_ANY);
	return 0;
}

/* tp_btf/sched_process_fork: a new task exists (Linux 6.18). Threads are not
 * recorded, only new thread groups. */
SEC("tp_btf/sched_process_fork")
int BPF_PROG(handle_fork, struct task_struct *parent, struct task_struct *child)
{
	__u32 ptgid = BPF_CORE_READ(parent, tgid);
	__u32 ctgid = BPF_CORE_READ(child, tgid);
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct rw_fork f = {};
	__u64 *flags;
	__u8 one = 1;

	if (ctgid == ptgid)
		return 0;
	if (!in_scope(ptgid))
		return 0;
	if (follow_mode)
		bpf_map_update_elem(&followed, &ctgid, &one, BPF_ANY);
	if (!traced_tgid(ptgid))
		return 0;
	flags = bpf_map_lookup_elem(&clone_flags, &tid);
	if (flags) {
		f.clone_flags = *flags;
		bpf_map_delete_elem(&clone_flags, &tid);
	} else {
		f.clone_flags = 17; /* SIGCHLD: fork(2)/vfork(2) */
	}
	/* clone(CLONE_NEW*): the child starts in new namespaces */
	if ((f.clone_flags & 0x7e020080) && (class_mask & CLASS_KERNEL)) {
		struct rw_namespace n = {};

		n.flags = f.clone_flags & 0x7e020080;
		fill_ns(parent, &n.old);
		fill_ns(child, &n.new);
		n.op = RW_NS_CLONE;
		n.ret = ctgid;
		n.fd = -1;
		fill_hdr(&n.hdr, RW_NAMESPACE, sizeof(n));
		emit(&n, sizeof(n));
	}
	if (!(class_mask & CLASS_PROCESS))
		return 0;
	f.child_start = BPF_CORE_READ(child, start_boottime);
	f.child_pid = ctgid;
	f.child_tid = BPF_CORE_READ(child, pid);
	fill_hdr(&f.hdr, RW_FORK, sizeof(f));
	emit(&f, sizeof(f));
	return 0;
}

/* tp_btf/sched_process_exit: a task exits; recorded when its whole thread group is
 * gone (signal->live reached zero), with the wait status (Linux 6.18). */
SEC("tp_btf/sched_process_exit")
int BPF_PROG(handle_exit, struct task_struct *task)
{
	__u32 tgid = BPF_CORE_READ(task, tgid);
	struct rw_exit x = {};
	bool keep;

	if (BPF_CORE_READ(task, signal, live.counter) != 0)
		return 0;
	if (!in_scope(tgid))
		return 0;
	/* decide before forgetting the tgid: traced_tgid() looks it up in the follow map */
	keep = traced_tgid(tgid);
	if (follow_mode)
		bpf_map_delete_elem(&followed, &tgid);
	if (!keep)
		return 0;
	if (!(class_mask & CLASS_PROCESS))
		return 0;
	x.proc_start = BPF_CORE_READ(task, group_leader, start_boottime);
	x.status = BPF_CORE_READ(task, exit_code);
	x.flags = 1;
	fill_hdr(&x.hdr, RW_EXIT, sizeof(x));
	emit(&x, sizeof(x));
	return 0;
}
