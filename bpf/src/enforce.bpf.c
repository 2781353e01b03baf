/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * enforce.bpf.c: the policy in the kernel -> RW_ENFORCE records (schema/src/wire/enforce.rs).
 *
 * A separate object, loaded only when the recorder is given a policy; it shares the
 * recorder's ring buffer and loss counters (their fds are reused before load), so every
 * action lands in the trace with the events around it. No policy-specific code: the
 * policy is compiled by the recorder (recorder/src/policy.rs) into the maps below.
 *
 * Model: a rule has two selector sets, `match` (set i) and `unless` (set 256 + i). String
 * selectors are answered by LPM-trie lookups that return the 512-bit mask of sets whose
 * selector holds (binary exact/prefix and suffix at exec time, kept per process with the
 * parent's and the ancestors'; file path exact/prefix; destination CIDR); the recorder
 * precomputes each trie entry as the union of every shorter entry that is a prefix of it,
 * so the longest match answers for all. Scalar selectors (uids, privilege, capabilities,
 * namespaces, ports, protocol) are then checked only for rules of the operation whose
 * string selectors hold, in one bpf_loop over at most 256 rules: bounded cost per event.
 *
 * Mechanisms (checked against Linux 6.18):
 *  - kill/stop on exec: tp_btf/sched_process_exec, after the new image is set up and before
 *    it returns to user space: not one instruction of it runs.
 *  - kill/stop on open: syscalls:sys_exit_open*, on the path of the file actually opened
 *    (symlinks and relative paths resolved by the kernel); the signal is delivered before
 *    the call returns, so the process never reads a byte through the descriptor.
 *  - deny on connect/send: cgroup/connect4|6 and cgroup/sendmsg4|6 on the root cgroup v2,
 *    EPERM in the caller; kill/stop there deny too, and the signal follows at the syscall's
 *    exit (cgroup programs cannot send signals).
 *  - deny on open/exec needs BPF LSM: the recorder refuses such rules where the kernel does
 *    not allow it (this VM), naming `kill` as what works.
 */
#include "common.bpf.h"
#include <bpf/bpf_endian.h>

char LICENSE[] SEC("license") = "GPL";

#define POL_RULES 256
#define POL_SETS 512
#define POL_WORDS 8      /* 512 bits */
#define POL_KEY 256      /* bytes of a path in a trie key */
#define POL_LIST 8       /* uids, euids, port ranges per set */

#define POL_OP_OPEN 0
#define POL_OP_EXEC 1
#define POL_OP_CONNECT 2
#define POL_OP_SEND 3
#define POL_OPS 4

#define POL_F_UNLESS 1   /* match set: the rule has an unless set */

#define PF_KTHREAD_FLAG 0x00200000
#define SIG_KILL 9
#define SIG_STOP 19

struct pol_set {
	__u64 caps;              /* any of these in the effective set; 0 = not asked */
	__u32 flags;             /* POL_F_* */
	__u32 action;            /* RW_ACTION_* (match sets) */
	__u32 nuid, neuid, nports;
	__u32 uids[POL_LIST];
	__u32 euids[POL_LIST];
	__u16 port_lo[POL_LIST];
	__u16 port_hi[POL_LIST];
	__u8 proto;              /* 0 any, 6 tcp, 17 udp */
	__u8 priv;               /* 0 any, 1 privileged, 2 unprivileged */
	__u8 ns;                 /* 0 any, 1 host namespaces, 2 not */
	__u8 _pad;
};

struct pol_conf {
	__u64 ops[POL_OPS][4];   /* rules (match sets) of each operation */
	__u64 no_bin[POL_WORDS]; /* sets without a binary selector */
	__u64 no_par[POL_WORDS];
	__u64 no_anc[POL_WORDS];
	__u64 no_path[POL_WORDS];
	__u64 no_dest[POL_WORDS];
	__u32 host_mnt, host_pid, host_net, host_user;
	__u32 monitor;           /* nothing is carried out */
	__u32 rate_limit;        /* actions per rule per second before it turns to monitor */
};

struct pol_mask {
	__u64 w[POL_WORDS];
};

struct pol_bin_val {             /* sets whose binary / parent / ancestor selector holds */
	__u64 bin[POL_WORDS];
	__u64 par[POL_WORDS];
	__u64 anc[POL_WORDS];
};

struct pol_proc {                /* per thread group: its image and its ancestry */
	__u64 bin[POL_WORDS];        /* sets whose binary selector holds for this image */
	__u64 par_here[POL_WORDS];   /* ... whose parent selector this image satisfies */
	__u64 anc_here[POL_WORDS];   /* ... whose ancestor selector this image satisfies */
	__u64 parent[POL_WORDS];     /* the parent image's par_here */
	__u64 ancestor[POL_WORDS];   /* union of every ancestor's anc_here */
};

struct pol_str_key {
	__u32 prefixlen;
	__u8 data[POL_KEY];
};

struct pol_dest_key {
	__u32 prefixlen;
	__u8 family;             /* 4 or 6 */
	__u8 addr[16];
};

struct pol_rate {
	__u64 window;            /* second (boot time) of the count */
	__u32 count;
	__u32 tripped;
};

struct pol_pending {
	__u32 sig;
	__u32 _pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, POL_SETS);
	__type(key, __u32);
	__type(value, struct pol_set);
} pol_sets SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct pol_conf);
} pol_conf_map SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 4096);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct pol_str_key);
	__type(value, struct pol_bin_val);
} pol_bin SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE); /* reversed paths: suffixes */
	__uint(max_entries, 4096);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct pol_str_key);
	__type(value, struct pol_bin_val);
} pol_bin_rev SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 4096);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct pol_str_key);
	__type(value, struct pol_mask);
} pol_path SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 4096);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct pol_dest_key);
	__type(value, struct pol_mask);
} pol_dest SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 32768);
	__type(key, __u32);
	__type(value, struct pol_proc);
} pol_procs SEC(".maps");

/* Never acted on: the recorder and its ancestors (pid 1 and kernel threads are checked
 * in code). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, __u32);
	__type(value, __u8);
} pol_exempt SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, POL_RULES);
	__type(key, __u32);
	__type(value, struct pol_rate);
} pol_rates SEC(".maps");

/* Signals owed by a connect/send a cgroup program denied, sent at the syscall's exit. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, struct pol_pending);
} pol_pending_map SEC(".maps");

/* Per-CPU room for a trie key and the process state being built. */
struct pol_scratch {
	struct pol_str_key key;
	struct pol_proc proc;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct pol_scratch);
} pol_scratch_map SEC(".maps");

static __always_inline struct pol_conf *conf(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&pol_conf_map, &zero);
}

static __always_inline struct pol_scratch *pol_scratch(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&pol_scratch_map, &zero);
}

/* ---- deciding ----------------------------------------------------------- */

/* What is known of the acting task and the operation. */
struct pol_ctx {
	__u64 ok[POL_WORDS];     /* sets whose string selectors hold */
	__u64 cand[POL_WORDS];   /* rules of the operation (words 4-7 zero) */
	__u64 caps;
	__u32 uid, euid;
	__u32 host_ns;           /* every namespace is the host's */
	__u32 port;              /* destination port, host order */
	__u32 proto;
	__u32 block_rule, block_action;  /* first blocking rule that fired (or ~0) */
	__u32 audit_rule;                /* first audit rule that fired (or ~0) */
};

/* Word w of a mask on the stack: constant offsets only (the verifier refuses a stack read
 * at a variable offset). */
static __always_inline __u64 word(const __u64 *m, __u32 w)
{
	switch (w) {
	case 0: return m[0];
	case 1: return m[1];
	case 2: return m[2];
	case 3: return m[3];
	case 4: return m[4];
	case 5: return m[5];
	case 6: return m[6];
	default: return m[7];
	}
}

static __always_inline bool in_list(const __u32 *list, __u32 n, __u32 v)
{
	for (int i = 0; i < POL_LIST; i++) {
		if (i >= n)
			break;
		if (list[i] == v)
			return true;
	}
	return false;
}

static __always_inline bool set_holds(__u32 idx, struct pol_ctx *c)
{
	struct pol_set *s;

	if (!(word(c->ok, idx >> 6) & (1ULL << (idx & 63))))
		return false;
	s = bpf_map_lookup_elem(&pol_sets, &idx);
	if (!s)
		return false;
	if (s->nuid && !in_list(s->uids, s->nuid, c->uid))
		return false;
	if (s->neuid && !in_list(s->euids, s->neuid, c->euid))
		return false;
	if (s->priv) {
		bool p = c->euid == 0 || (c->caps & (1ULL << 21 /* CAP_SYS_ADMIN */));

		if ((s->priv == 1) != p)
			return false;
	}
	if (s->caps && !(c->caps & s->caps))
		return false;
	if (s->ns && (s->ns == 1) != (c->host_ns != 0))
		return false;
	if (s->proto && s->proto != c->proto)
		return false;
	if (s->nports) {
		bool hit = false;

		for (int i = 0; i < POL_LIST; i++) {
			if (i >= s->nports)
				break;
			if (c->port >= s->port_lo[i] && c->port <= s->port_hi[i]) {
				hit = true;
				break;
			}
		}
		if (!hit)
			return false;
	}
	return true;
}

static long decide_one(__u32 i, struct pol_ctx *c)
{
	struct pol_set *s;
	__u32 idx = i;

	if (i >= POL_RULES)
		return 1;
	if (!(word(c->cand, i >> 6) & (1ULL << (i & 63))))
		return 0;
	if (!set_holds(idx, c))
		return 0;
	s = bpf_map_lookup_elem(&pol_sets, &idx);
	if (!s)
		return 0;
	if ((s->flags & POL_F_UNLESS) && set_holds(idx + POL_RULES, c))
		return 0;
	if (s->action == RW_ACTION_AUDIT) {
		if (c->audit_rule == ~0u)
			c->audit_rule = i;
		return 0;
	}
	c->block_rule = i;
	c->block_action = s->action;
	return 1; /* the first blocking rule decides */
}

/* Fills what every hook knows of the current task. */
static __always_inline void task_facts(struct pol_ctx *c, struct pol_conf *cf)
{
	struct task_struct *t = (struct task_struct *)bpf_get_current_task();
	const struct cred *cr = BPF_CORE_READ(t, cred);
	struct nsproxy *nsp = BPF_CORE_READ(t, nsproxy);

	c->uid = BPF_CORE_READ(cr, uid.val);
	c->euid = BPF_CORE_READ(cr, euid.val);
	c->caps = BPF_CORE_READ(cr, cap_effective.val);
	c->host_ns = BPF_CORE_READ(nsp, mnt_ns, ns.inum) == cf->host_mnt &&
		     BPF_CORE_READ(nsp, pid_ns_for_children, ns.inum) == cf->host_pid &&
		     BPF_CORE_READ(nsp, net_ns, ns.inum) == cf->host_net &&
		     BPF_CORE_READ(cr, user_ns, ns.inum) == cf->host_user;
	c->block_rule = ~0u;
	c->audit_rule = ~0u;
}

/* ok &= (sets without the selector | sets whose selector holds) */
static __always_inline void narrow(__u64 *ok, const __u64 *none, const __u64 *hit)
{
	for (int w = 0; w < POL_WORDS; w++)
		ok[w] &= none[w] | (hit ? hit[w] : 0);
}

static __always_inline bool exempt(void)
{
	struct task_struct *t = (struct task_struct *)bpf_get_current_task();
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;

	if (tgid <= 1 || (BPF_CORE_READ(t, flags) & PF_KTHREAD_FLAG))
		return true;
	return bpf_map_lookup_elem(&pol_exempt, &tgid) != NULL;
}

/* Over its rate: the rule acts as in monitor mode from now on (said once, by the flag on
 * the record that tripped it). */
static __always_inline __u32 rate_check(__u32 rule, struct pol_conf *cf)
{
	struct pol_rate *r = bpf_map_lookup_elem(&pol_rates, &rule);
	__u64 sec = bpf_ktime_get_boot_ns() / 1000000000ULL;

	if (!r || !cf->rate_limit)
		return 0;
	if (r->tripped)
		return RW_ENFORCE_RATE_LIMITED;
	if (r->window != sec) {
		r->window = sec;
		r->count = 0;
	}
	if (++r->count > cf->rate_limit) {
		r->tripped = 1;
		return RW_ENFORCE_RATE_LIMITED | RW_ENFORCE_RATE_TRIPPED;
	}
	return 0;
}

/* Emits the record of a decision; `detail` is a path or a 20-byte address. */
static __always_inline void record(__u32 action, __u32 rule, __u32 sig, __u16 trigger, __u32 flags,
				   const void *detail, __u32 len, bool kernel_detail)
{
	struct rw_enforce *r;
	__u8 *buf = get_scratch();

	if (!buf)
		return;
	r = (struct rw_enforce *)buf;
	len &= POL_KEY - 1;
	r->action = action;
	r->flags = flags;
	r->rule = rule;
	r->sig = sig;
	r->trigger = trigger;
	r->detail_len = len;
	if (kernel_detail) {
		bpf_probe_read_kernel(buf + sizeof(*r), len, detail);
	} else {
		/* 20 address bytes and a terminating NUL, which readers strip as they do for
		 * every string the kernel writes (so an address ending in zeros stays whole) */
		__builtin_memcpy(buf + sizeof(*r), detail, 20);
		buf[sizeof(*r) + 20] = 0;
		len = 21;
		r->detail_len = len;
	}
	fill_hdr(&r->hdr, RW_ENFORCE, sizeof(*r) + len);
	emit(buf, sizeof(*r) + len);
}

static __always_inline __u32 sig_of(__u32 action)
{
	return action == RW_ACTION_KILL ? SIG_KILL : action == RW_ACTION_STOP ? SIG_STOP : 0;
}

/* Runs the rules of `op` and reports; returns the action to carry out (0 = none). */
static __always_inline __u32 decide(struct pol_ctx *c, struct pol_conf *cf, __u32 op, __u16 trigger,
				    const void *detail, __u32 len, bool kernel_detail)
{
	__u32 flags = 0, action, rule;

	if (op >= POL_OPS)
		return 0;
	c->cand[0] = cf->ops[op][0];
	c->cand[1] = cf->ops[op][1];
	c->cand[2] = cf->ops[op][2];
	c->cand[3] = cf->ops[op][3];
	if (!(c->cand[0] | c->cand[1] | c->cand[2] | c->cand[3]))
		return 0;
	bpf_loop(POL_RULES, decide_one, c, 0);
	if (c->block_rule != ~0u) {
		rule = c->block_rule;
		action = c->block_action;
	} else if (c->audit_rule != ~0u) {
		record(RW_ACTION_AUDIT, c->audit_rule, 0, trigger, 0, detail, len, kernel_detail);
		return 0;
	} else {
		return 0;
	}
	if (cf->monitor)
		flags |= RW_ENFORCE_MONITOR;
	if (exempt())
		flags |= RW_ENFORCE_EXEMPT;
	if (!flags)
		flags |= rate_check(rule, cf);
	record(action, rule, sig_of(action), trigger, flags, detail, len, kernel_detail);
	if (flags & (RW_ENFORCE_MONITOR | RW_ENFORCE_EXEMPT | RW_ENFORCE_RATE_LIMITED))
		return 0;
	return action;
}

/* ---- processes: binary, parent and ancestors ---------------------------- */

/* Copies the path written backwards at pb[start..PATH_LIMIT) into a trie key, NUL
 * terminated (so that an exact entry, stored with its NUL, matches only the whole path).
 * Returns the path length. */
static __always_inline __u32 key_of(struct pol_str_key *k, char *pb, __u32 start)
{
	__u32 len = PATH_LIMIT - start;

	if (start >= PATH_LIMIT)
		return 0;
	if (len > POL_KEY - 1)
		len = POL_KEY - 1;
	barrier_var(len);
	len &= POL_KEY - 1;
	bpf_probe_read_kernel(k->data, len, &pb[start & (PATH_LIMIT - 1)]);
	k->data[len] = 0;
	k->prefixlen = (len + 1) * 8;
	return len;
}

struct rev_ctx {
	struct pol_str_key *src;
	struct pol_str_key *dst;
	__u32 len;
};

static long rev_one(__u32 i, struct rev_ctx *r)
{
	__u32 j, k = i;

	if (i >= r->len || i >= POL_KEY)
		return 1;
	j = r->len - 1 - i;
	/* masks after a barrier: clang would drop them after the compare above */
	barrier_var(j);
	j &= POL_KEY - 1;
	barrier_var(k);
	k &= POL_KEY - 1;
	r->dst->data[k] = r->src->data[j];
	return 0;
}

static __always_inline void or_into(__u64 *dst, const __u64 *a, const __u64 *b)
{
	for (int w = 0; w < POL_WORDS; w++)
		dst[w] = (a ? a[w] : 0) | (b ? b[w] : 0);
}

/* tp_btf/sched_process_exec: the new image's masks, then the exec rules on its path
 * (Linux 6.18). */
SEC("tp_btf/sched_process_exec")
int BPF_PROG(enforce_exec, struct task_struct *task, pid_t old_pid, struct linux_binprm *bprm)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct pol_conf *cf = conf();
	struct pol_scratch *sc = pol_scratch();
	struct pol_proc *old, *np;
	struct pol_bin_val *v1, *v2;
	struct pol_mask *pm;
	struct pol_ctx c = {};
	struct pol_str_key *rev;
	struct rev_ctx rc;
	char *pb = get_pathbuf();
	__u32 start, len, action;
	bool cut;

	if (!cf || !sc || !pb)
		return 0;
	struct file *file = BPF_CORE_READ(bprm, file);
	struct path p = BPF_CORE_READ(file, f_path);

	start = resolve_path(p.mnt, p.dentry, pb, &cut);
	len = key_of(&sc->key, pb, start);
	v1 = bpf_map_lookup_elem(&pol_bin, &sc->key);
	pm = bpf_map_lookup_elem(&pol_path, &sc->key);
	/* the reversed path (no NUL) for suffixes, built in the process slot's place */
	rev = (struct pol_str_key *)&sc->proc;
	rc.src = &sc->key;
	rc.dst = rev;
	rc.len = len;
	bpf_loop(POL_KEY, rev_one, &rc, 0);
	rev->prefixlen = len * 8;
	v2 = bpf_map_lookup_elem(&pol_bin_rev, rev);

	old = bpf_map_lookup_elem(&pol_procs, &tgid);
	np = &sc->proc;
	/* parent and ancestors from the image this one replaces (its parent in the model) */
	if (old) {
		or_into(np->parent, old->par_here, NULL);
		or_into(np->ancestor, old->ancestor, old->anc_here);
	} else {
		or_into(np->parent, NULL, NULL);
		or_into(np->ancestor, NULL, NULL);
	}
	or_into(np->bin, v1 ? v1->bin : NULL, v2 ? v2->bin : NULL);
	or_into(np->par_here, v1 ? v1->par : NULL, v2 ? v2->par : NULL);
	or_into(np->anc_here, v1 ? v1->anc : NULL, v2 ? v2->anc : NULL);
	bpf_map_update_elem(&pol_procs, &tgid, np, BPF_ANY);

	for (int w = 0; w < POL_WORDS; w++)
		c.ok[w] = ~0ULL;
	narrow(c.ok, cf->no_bin, np->bin);
	narrow(c.ok, cf->no_par, np->parent);
	narrow(c.ok, cf->no_anc, np->ancestor);
	narrow(c.ok, cf->no_path, pm ? pm->w : NULL);
	narrow(c.ok, cf->no_dest, NULL);
	task_facts(&c, cf);
	action = decide(&c, cf, POL_OP_EXEC, RW_EXEC, sc->key.data, len, true);
	if (action == RW_ACTION_KILL || action == RW_ACTION_STOP)
		bpf_send_signal(sig_of(action));
	return 0;
}

/* tp_btf/sched_process_fork: a new process starts as a copy of the forking image, whose
 * child it is (Linux 6.18). */
SEC("tp_btf/sched_process_fork")
int BPF_PROG(enforce_fork, struct task_struct *parent, struct task_struct *child)
{
	__u32 ptgid = BPF_CORE_READ(parent, tgid);
	__u32 ctgid = BPF_CORE_READ(child, tgid);
	struct pol_scratch *sc = pol_scratch();
	struct pol_proc *pp, *np;

	if (ctgid == ptgid || !sc)
		return 0; /* a thread */
	pp = bpf_map_lookup_elem(&pol_procs, &ptgid);
	if (!pp)
		return 0;
	np = &sc->proc;
	or_into(np->bin, pp->bin, NULL);
	or_into(np->par_here, pp->par_here, NULL);
	or_into(np->anc_here, pp->anc_here, NULL);
	or_into(np->parent, pp->par_here, NULL);
	or_into(np->ancestor, pp->ancestor, pp->anc_here);
	bpf_map_update_elem(&pol_procs, &ctgid, np, BPF_ANY);
	return 0;
}

/* tp_btf/sched_process_exit: the thread group leader leaving (Linux 6.18). */
SEC("tp_btf/sched_process_exit")
int BPF_PROG(enforce_exit, struct task_struct *task)
{
	__u32 tgid = BPF_CORE_READ(task, tgid);

	if (BPF_CORE_READ(task, pid) == tgid)
		bpf_map_delete_elem(&pol_procs, &tgid);
	return 0;
}

/* Sets whose binary, parent and ancestor selectors hold for the current process. */
static __always_inline bool proc_ok(struct pol_ctx *c, struct pol_conf *cf)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct pol_proc *pp = bpf_map_lookup_elem(&pol_procs, &tgid);

	for (int w = 0; w < POL_WORDS; w++)
		c->ok[w] = ~0ULL;
	narrow(c->ok, cf->no_bin, pp ? pp->bin : NULL);
	narrow(c->ok, cf->no_par, pp ? pp->parent : NULL);
	narrow(c->ok, cf->no_anc, pp ? pp->ancestor : NULL);
	return true;
}

/* ---- open --------------------------------------------------------------- */

/* syscalls:sys_exit_open, openat, openat2: the file actually opened (Linux 6.18). */
SEC("tp/syscalls/sys_exit_openat")
int enforce_open(struct trace_event_raw_sys_exit *ctx)
{
	struct pol_conf *cf = conf();
	struct pol_scratch *sc = pol_scratch();
	struct pol_ctx c = {};
	struct pol_mask *pm;
	struct file *f;
	char *pb = get_pathbuf();
	__u32 start, len, action;
	bool cut;

	if (ctx->ret < 0 || !cf || !sc || !pb)
		return 0;
	if (!(cf->ops[POL_OP_OPEN][0] | cf->ops[POL_OP_OPEN][1] | cf->ops[POL_OP_OPEN][2] |
	      cf->ops[POL_OP_OPEN][3]))
		return 0;
	/* Rules whose binary, parent and ancestor selectors hold for this process: most
	 * rules name binaries, so most opens stop here, before the path walk. */
	proc_ok(&c, cf);
	if (!((c.ok[0] & cf->ops[POL_OP_OPEN][0]) | (c.ok[1] & cf->ops[POL_OP_OPEN][1]) |
	      (c.ok[2] & cf->ops[POL_OP_OPEN][2]) | (c.ok[3] & cf->ops[POL_OP_OPEN][3])))
		return 0;
	f = fd_file(ctx->ret);
	if (!f)
		return 0;
	struct path p = BPF_CORE_READ(f, f_path);

	start = resolve_path(p.mnt, p.dentry, pb, &cut);
	len = key_of(&sc->key, pb, start);
	pm = bpf_map_lookup_elem(&pol_path, &sc->key);
	narrow(c.ok, cf->no_path, pm ? pm->w : NULL);
	narrow(c.ok, cf->no_dest, NULL);
	task_facts(&c, cf);
	action = decide(&c, cf, POL_OP_OPEN, RW_OPEN, sc->key.data, len, true);
	if (action == RW_ACTION_KILL || action == RW_ACTION_STOP)
		bpf_send_signal(sig_of(action));
	return 0;
}

/* ---- connect and send --------------------------------------------------- */

static __always_inline int sock_addr(struct bpf_sock_addr *ctx, __u32 op, bool v6)
{
	struct pol_conf *cf = conf();
	struct pol_dest_key k = {};
	struct pol_ctx c = {};
	struct pol_mask *dm;
	__u8 detail[20] = {};
	__u32 action;
	__u16 port;

	if (!cf)
		return 1;
	if (!(cf->ops[op][0] | cf->ops[op][1] | cf->ops[op][2] | cf->ops[op][3]))
		return 1;
	port = bpf_ntohs((__u16)ctx->user_port);
	if (v6) {
		__u32 a[4] = { ctx->user_ip6[0], ctx->user_ip6[1], ctx->user_ip6[2], ctx->user_ip6[3] };

		k.family = 6;
		__builtin_memcpy(k.addr, a, 16);
		k.prefixlen = 8 + 128;
		detail[0] = 10;
	} else {
		__u32 a = ctx->user_ip4;

		k.family = 4;
		__builtin_memcpy(k.addr, &a, 4);
		k.prefixlen = 8 + 32;
		detail[0] = 2;
	}
	__builtin_memcpy(&detail[2], &port, 2);
	__builtin_memcpy(&detail[4], k.addr, 16);
	dm = bpf_map_lookup_elem(&pol_dest, &k);
	proc_ok(&c, cf);
	narrow(c.ok, cf->no_path, NULL);
	narrow(c.ok, cf->no_dest, dm ? dm->w : NULL);
	task_facts(&c, cf);
	c.port = port;
	c.proto = ctx->protocol;
	action = decide(&c, cf, op, op == POL_OP_CONNECT ? RW_CONNECT : RW_UDP_SEND, detail, 20, false);
	if (!action || action == RW_ACTION_AUDIT)
		return 1;
	if (action == RW_ACTION_KILL || action == RW_ACTION_STOP) {
		__u32 tid = (__u32)bpf_get_current_pid_tgid();
		struct pol_pending pend = { .sig = sig_of(action) };

		bpf_map_update_elem(&pol_pending_map, &tid, &pend, BPF_ANY);
	}
	return 0; /* EPERM */
}

/* cgroup/connect4, connect6, sendmsg4, sendmsg6 on the root cgroup v2 (Linux 6.18). */
SEC("cgroup/connect4")
int enforce_connect4(struct bpf_sock_addr *ctx)
{
	return sock_addr(ctx, POL_OP_CONNECT, false);
}

SEC("cgroup/connect6")
int enforce_connect6(struct bpf_sock_addr *ctx)
{
	return sock_addr(ctx, POL_OP_CONNECT, true);
}

SEC("cgroup/sendmsg4")
int enforce_sendmsg4(struct bpf_sock_addr *ctx)
{
	return sock_addr(ctx, POL_OP_SEND, false);
}

SEC("cgroup/sendmsg6")
int enforce_sendmsg6(struct bpf_sock_addr *ctx)
{
	return sock_addr(ctx, POL_OP_SEND, true);
}

/* syscalls:sys_exit_connect, sendto, sendmsg: the signal a denied call owes (Linux 6.18). */
SEC("tp/syscalls/sys_exit_connect")
int enforce_owed_signal(struct trace_event_raw_sys_exit *ctx)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct pol_pending *p = bpf_map_lookup_elem(&pol_pending_map, &tid);

	if (!p)
		return 0;
	bpf_send_signal(p->sig);
	bpf_map_delete_elem(&pol_pending_map, &tid);
	return 0;
}
