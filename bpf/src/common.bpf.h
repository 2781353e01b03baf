/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * common.bpf.h: maps, configuration and helpers shared by every family.
 *
 * Configuration comes through `const volatile` globals set by the loader before load,
 * so disabled features cost nothing at run time.
 */
#ifndef REWIND_COMMON_BPF_H
#define REWIND_COMMON_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include "rewind.h"

/* ---- configuration (set by the loader) ---------------------------------- */
const volatile __u32 recorder_tgid = 0;   /* never record the recorder itself */
const volatile __u8 follow_mode = 0;      /* record only the `followed` process trees */
const volatile __u32 argv_limit = 4096;   /* bytes of argv kept per exec */
const volatile __u32 snippet_len = 256;
const volatile __u32 class_mask = 0xffffffff;
/* The recorder drains on a timer: no wakeup per record (BPF_RB_NO_WAKEUP), which saves a
 * wakeup per event at high rates. */
const volatile __u8 timer_drain = 0;

#define CLASS_PROCESS (1u << 0)
#define CLASS_FILE    (1u << 1)
#define CLASS_NET     (1u << 2)
#define CLASS_PRIV    (1u << 3)
#define CLASS_KERNEL  (1u << 4)

/* ---- maps --------------------------------------------------------------- */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 16 << 20); /* resized by the loader */
} events SEC(".maps");

/* Records that could not be handed over, per CPU: the recorder turns increases into
 * loss records with their time window. */
struct loss_state {
	__u64 count;
	__u64 last_ts;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct loss_state);
} loss SEC(".maps");

/* Thread groups followed in command mode; children are added at fork. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, __u32);
	__type(value, __u8);
} followed SEC(".maps");

#define SCRATCH_SIZE (1 << 15)
#define SCRATCH_MASK (SCRATCH_SIZE - 1)

struct scratch {
	__u8 buf[SCRATCH_SIZE];
};

/* Records are assembled here, then copied into the ring buffer at their real size. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct scratch);
} scratch_map SEC(".maps");

/* ---- helpers ------------------------------------------------------------ */
static __always_inline void *get_scratch(void)
{
	__u32 zero = 0;
	return bpf_map_lookup_elem(&scratch_map, &zero);
}

/* Older kernels name kernfs_node's parent `parent`, 6.15+ `__parent`. */
struct kernfs_node___old {
	struct kernfs_node *parent;
};

static __always_inline struct kernfs_node *kn_parent(struct kernfs_node *kn)
{
	if (bpf_core_field_exists(kn->__parent))
		return BPF_CORE_READ(kn, __parent);
	return BPF_CORE_READ((struct kernfs_node___old *)kn, parent);
}

/* --comm and --cgroup/--container: record only tasks with one of these names, or in one of
 * these cgroups or below them. */
const volatile __u8 comm_filter = 0;
const volatile __u8 cgroup_filter = 0;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, char[16]);
	__type(value, __u8);
} comm_allow SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, __u64);
	__type(value, __u8);
} cgroup_allow SEC(".maps");

#define CGROUP_FILTER_DEPTH 16

/* The current task passes the comm and cgroup filters. */
static __always_inline bool filters_pass(void)
{
	if (comm_filter) {
		char comm[16] = {};

		bpf_get_current_comm(comm, sizeof(comm));
		if (!bpf_map_lookup_elem(&comm_allow, comm))
			return false;
	}
	if (cgroup_filter) {
		struct task_struct *t = (struct task_struct *)bpf_get_current_task();
		struct kernfs_node *kn = BPF_CORE_READ(t, cgroups, dfl_cgrp, kn);
		bool hit = false;
		int i;

		/* a cgroup's id is its kernfs node id: walk up to the root */
		for (i = 0; i < CGROUP_FILTER_DEPTH && kn; i++) {
			__u64 id = BPF_CORE_READ(kn, id);

			if (bpf_map_lookup_elem(&cgroup_allow, &id)) {
				hit = true;
				break;
			}
			kn = kn_parent(kn);
		}
		if (!hit)
			return false;
	}
	return true;
}

/* In scope before the comm/cgroup filters: not the recorder, and followed in command or
 * --pid mode. Fork and exit keep the follow map up to date on this alone. */
static __always_inline bool in_scope(__u32 tgid)
{
	if (tgid == recorder_tgid)
		return false;
	return !follow_mode || bpf_map_lookup_elem(&followed, &tgid) != NULL;
}

static __always_inline bool traced_tgid(__u32 tgid)
{
	if (!in_scope(tgid))
		return false;
	/* The filters look at the current task: apply them when it is the one asked about
	 * (not for a socket's owner seen from softirq context). */
	if ((comm_filter || cgroup_filter) && tgid == (__u32)(bpf_get_current_pid_tgid() >> 32))
		return filters_pass();
	return true;
}

static __always_inline bool traced(void)
{
	return traced_tgid(bpf_get_current_pid_tgid() >> 32);
}

static __always_inline void fill_hdr(struct rw_hdr *h, __u16 type, __u32 size)
{
	__u64 id = bpf_get_current_pid_tgid();

	h->type = type;
	h->cpu = bpf_get_smp_processor_id();
	h->size = size;
	h->ts = bpf_ktime_get_boot_ns();
	h->pid = id >> 32;
	h->tid = (__u32)id;
}

static __always_inline void count_loss(void)
{
	__u32 zero = 0;
	struct loss_state *l = bpf_map_lookup_elem(&loss, &zero);

	if (l) {
		l->count++;
		l->last_ts = bpf_ktime_get_boot_ns();
	}
}

/* Copies `size` bytes of an assembled record into the ring buffer, counting a loss when
 * it is full. */
static __always_inline int emit(void *rec, __u32 size)
{
	long err;

	if (size > SCRATCH_SIZE)
		size = SCRATCH_SIZE;
	err = bpf_ringbuf_output(&events, rec, size, timer_drain ? BPF_RB_NO_WAKEUP : 0);
	if (err)
		count_loss();
	return err;
}

/* The struct file behind a descriptor of the current task, or NULL. */
static __always_inline struct file *fd_file(int fd)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
	struct file **fds;
	struct file *f = NULL;

	if (fd < 0 || !fdt || (unsigned int)fd >= BPF_CORE_READ(fdt, max_fds))
		return NULL;
	fds = BPF_CORE_READ(fdt, fd);
	if (bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]))
		return NULL;
	return f;
}

/* ---- paths -------------------------------------------------------------- */
#define PATH_LIMIT 4096
#define PATH_DEPTH 40
#define NAME_LIMIT 256

/*
 * Resolves (mnt, dentry) to an absolute path, crossing mount points, the way d_path()
 * does. The path is written backwards ending at out[PATH_LIMIT]; out must have at
 * least PATH_LIMIT + NAME_LIMIT bytes. Returns the start offset; the length is
 * PATH_LIMIT - start. Sets *cut when the walk stopped before the root.
 */
static __always_inline __u32 resolve_path(struct vfsmount *vfsmnt, struct dentry *dentry,
					  char *out, bool *cut)
{
	struct mount *mnt = container_of(vfsmnt, struct mount, mnt);
	__u32 off = PATH_LIMIT;
	int i;

	*cut = true;
	for (i = 0; i < PATH_DEPTH; i++) {
		struct dentry *mnt_root = BPF_CORE_READ(vfsmnt, mnt_root);
		struct dentry *parent = BPF_CORE_READ(dentry, d_parent);

		if (dentry == mnt_root || dentry == parent) {
			struct mount *mnt_parent;

			if (dentry != mnt_root) {
				/* Root of a filesystem that is not mounted here (detached). */
				*cut = false;
				break;
			}
			mnt_parent = BPF_CORE_READ(mnt, mnt_parent);
			if (mnt == mnt_parent) {
				*cut = false;
				break;
			}
			dentry = BPF_CORE_READ(mnt, mnt_mountpoint);
			mnt = mnt_parent;
			vfsmnt = &mnt->mnt;
			continue;
		}
		struct qstr name = BPF_CORE_READ(dentry, d_name);
		__u32 len = name.len;

		if (len >= NAME_LIMIT || len + 1 > off)
			break;
		off -= len + 1;
		off &= PATH_LIMIT - 1;
		bpf_probe_read_kernel(&out[off + 1], len & (NAME_LIMIT - 1), name.name);
		out[off] = '/';
		dentry = parent;
	}
	if (off == PATH_LIMIT) {
		off = PATH_LIMIT - 1;
		out[off] = '/';
	}
	return off;
}

/* Copies a resolved path from the path buffer to dst; returns its length. */
static __always_inline __u32 copy_path(char *dst, char *pathbuf, __u32 start)
{
	__u32 len = PATH_LIMIT - start;

	if (start >= PATH_LIMIT || len > PATH_LIMIT)
		return 0;
	bpf_probe_read_kernel(dst, len & (2 * PATH_LIMIT - 1), &pathbuf[start & (PATH_LIMIT - 1)]);
	return len;
}

/* A second per-CPU buffer for path walks (resolve_path writes backwards). */
struct pathbuf {
	char buf[PATH_LIMIT + NAME_LIMIT];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct pathbuf);
} pathbuf_map SEC(".maps");

static __always_inline char *get_pathbuf(void)
{
	__u32 zero = 0;
	struct pathbuf *p = bpf_map_lookup_elem(&pathbuf_map, &zero);

	return p ? p->buf : NULL;
}

#endif /* REWIND_COMMON_BPF_H */
