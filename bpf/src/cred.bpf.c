/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * cred.bpf.c: the privilege family (setuid and friends, capset) -> schema/src/wire/cred.rs.
 * Included by rewind.bpf.c. The credentials before the call are saved at sys_enter and
 * compared with those after it at sys_exit, so failed attempts are recorded too.
 */

struct cred_saved {
	struct rw_creds creds;
	__u64 cap_eff, cap_prm, cap_inh;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 8192);
	__type(key, __u32);
	__type(value, struct cred_saved);
} cred_before SEC(".maps");

static __always_inline void read_creds(struct rw_creds *c)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	const struct cred *cred = BPF_CORE_READ(task, cred);

	c->uid = BPF_CORE_READ(cred, uid.val);
	c->euid = BPF_CORE_READ(cred, euid.val);
	c->suid = BPF_CORE_READ(cred, suid.val);
	c->fsuid = BPF_CORE_READ(cred, fsuid.val);
	c->gid = BPF_CORE_READ(cred, gid.val);
	c->egid = BPF_CORE_READ(cred, egid.val);
	c->sgid = BPF_CORE_READ(cred, sgid.val);
	c->fsgid = BPF_CORE_READ(cred, fsgid.val);
}

static __always_inline void read_caps(struct cred_saved *s)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	const struct cred *cred = BPF_CORE_READ(task, cred);

	s->cap_eff = BPF_CORE_READ(cred, cap_effective.val);
	s->cap_prm = BPF_CORE_READ(cred, cap_permitted.val);
	s->cap_inh = BPF_CORE_READ(cred, cap_inheritable.val);
}

static __always_inline int cred_enter(void)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct cred_saved s = {};

	if (!(class_mask & CLASS_PRIV) || !traced())
		return 0;
	read_creds(&s.creds);
	read_caps(&s);
	bpf_map_update_elem(&cred_before, &tid, &s, BPF_ANY);
	return 0;
}

static __always_inline int cred_exit(struct trace_event_raw_sys_exit *ctx)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct cred_saved *s = bpf_map_lookup_elem(&cred_before, &tid);
	struct rw_cred c = {};

	if (!s)
		return 0;
	c.old = s->creds;
	bpf_map_delete_elem(&cred_before, &tid);
	read_creds(&c.new);
	c.syscall = ctx->id;
	c.ret = ctx->ret;
	fill_hdr(&c.hdr, RW_CRED, sizeof(c));
	emit(&c, sizeof(c));
	return 0;
}

/* syscalls:sys_enter_set*id / sys_exit_set*id, one pair per syscall (Linux 6.18). */
#define CRED_PAIR(name)                                                          \
	SEC("tp/syscalls/sys_enter_" #name)                                      \
	int handle_enter_##name(struct trace_event_raw_sys_enter *ctx)          \
	{                                                                        \
		return cred_enter();                                             \
	}                                                                        \
	SEC("tp/syscalls/sys_exit_" #name)                                       \
	int handle_##name(struct trace_event_raw_sys_exit *ctx)                 \
	{                                                                        \
		return cred_exit(ctx);                                           \
	}

CRED_PAIR(setuid)
CRED_PAIR(setgid)
CRED_PAIR(setreuid)
CRED_PAIR(setregid)
CRED_PAIR(setresuid)
CRED_PAIR(setresgid)
CRED_PAIR(setfsuid)
CRED_PAIR(setfsgid)

/* syscalls:sys_enter_capset / sys_exit_capset (Linux 6.18). */
SEC("tp/syscalls/sys_enter_capset")
int handle_enter_capset(struct trace_event_raw_sys_enter *ctx)
{
	return cred_enter();
}

SEC("tp/syscalls/sys_exit_capset")
int handle_capset(struct trace_event_raw_sys_exit *ctx)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct cred_saved *s = bpf_map_lookup_elem(&cred_before, &tid);
	struct cred_saved now = {};
	struct rw_capset c = {};

	if (!s)
		return 0;
	c.old_eff = s->cap_eff;
	c.old_prm = s->cap_prm;
	c.old_inh = s->cap_inh;
	bpf_map_delete_elem(&cred_before, &tid);
	read_caps(&now);
	c.new_eff = now.cap_eff;
	c.new_prm = now.cap_prm;
	c.new_inh = now.cap_inh;
	c.ret = ctx->ret;
	fill_hdr(&c.hdr, RW_CAPSET, sizeof(c));
	emit(&c, sizeof(c));
	return 0;
}

/* The number of the syscall the current task is in (its registers at kernel entry). */
static __always_inline __u32 current_syscall(void)
{
	struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());

#if defined(__TARGET_ARCH_x86)
	return BPF_CORE_READ(regs, orig_ax);
#elif defined(__TARGET_ARCH_arm64)
	return BPF_CORE_READ((struct user_pt_regs *)regs, regs[8]);
#else
	return 0;
#endif
}

/* fentry/commit_creds: the better hook for credential changes, used where the kernel
 * allows fentry (the loader probes it; refused here on Linux 6.18 with EPERM, where the
 * syscall tracepoints above and the credentials of every exec record serve instead).
 * Every change of a traced task's credentials passes here, whatever made it: set*id and
 * capset are left to their tracepoints (which also see failed attempts); this adds the
 * rest - execs of set-id binaries or binaries with file capabilities, io_uring
 * personalities, keyctl - as cred and capset records with the syscall that made them. */
SEC("fentry/commit_creds")
int BPF_PROG(handle_commit_creds, struct cred *new)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct cred_saved old = {};
	struct rw_cred c = {};
	__u64 eff, prm, inh;

	if (!(class_mask & CLASS_PRIV) || !traced())
		return 0;
	if (bpf_map_lookup_elem(&cred_before, &tid))
		return 0;
	read_creds(&old.creds);
	read_caps(&old);
	c.old = old.creds;
	c.new.uid = BPF_CORE_READ(new, uid.val);
	c.new.euid = BPF_CORE_READ(new, euid.val);
	c.new.suid = BPF_CORE_READ(new, suid.val);
	c.new.fsuid = BPF_CORE_READ(new, fsuid.val);
	c.new.gid = BPF_CORE_READ(new, gid.val);
	c.new.egid = BPF_CORE_READ(new, egid.val);
	c.new.sgid = BPF_CORE_READ(new, sgid.val);
	c.new.fsgid = BPF_CORE_READ(new, fsgid.val);
	eff = BPF_CORE_READ(new, cap_effective.val);
	prm = BPF_CORE_READ(new, cap_permitted.val);
	inh = BPF_CORE_READ(new, cap_inheritable.val);
	c.syscall = current_syscall();
	if (c.old.uid != c.new.uid || c.old.euid != c.new.euid || c.old.suid != c.new.suid ||
	    c.old.fsuid != c.new.fsuid || c.old.gid != c.new.gid || c.old.egid != c.new.egid ||
	    c.old.sgid != c.new.sgid || c.old.fsgid != c.new.fsgid) {
		fill_hdr(&c.hdr, RW_CRED, sizeof(c));
		emit(&c, sizeof(c));
	}
	if (eff != old.cap_eff || prm != old.cap_prm || inh != old.cap_inh) {
		struct rw_capset k = {
			.old_eff = old.cap_eff,
			.old_prm = old.cap_prm,
			.old_inh = old.cap_inh,
			.new_eff = eff,
			.new_prm = prm,
			.new_inh = inh,
		};

		fill_hdr(&k.hdr, RW_CAPSET, sizeof(k));
		emit(&k, sizeof(k));
	}
	return 0;
}
