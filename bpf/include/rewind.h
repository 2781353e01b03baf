/* SPDX-License-Identifier: (GPL-2.0-only OR Apache-2.0) */
/*
 * rewind.h: the single definition of every record Rewind writes into a trace.
 *
 * Kernel programs (bpf/src/*.bpf.c) emit these structs into the ring buffer;
 * the recorder stores the bytes as they are; `schema/src/wire/` decodes them
 * at replay without linking libbpf. `bpf/tests/layout.rs` compiles this header
 * and proves that every size and offset agrees with the Rust side.
 *
 * Rules for every struct here (see schema/FORMAT.md):
 *  - little-endian, naturally aligned, no implicit padding (explicit `_pad`);
 *  - starts with `struct rw_hdr`; `hdr.size` is the whole record, header,
 *    fixed part and variable tail included;
 *  - variable-length fields (paths, argv, payload) follow the fixed part in the
 *    order of their `<name>_len` fields; a length counts stored bytes only;
 *  - type numbers are grouped by family, explicit and never reused: a retired
 *    number stays here as a comment.
 */
#ifndef REWIND_H
#define REWIND_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

/* ---- record types ------------------------------------------------------ */
enum rw_type {
	/* process family: exec.bpf.c */
	RW_EXEC = 0x0101,
	RW_FORK = 0x0102,
	RW_EXIT = 0x0103,
	/* file family: file.bpf.c */
	RW_OPEN = 0x0201,
	RW_UNLINK = 0x0202,
	RW_RENAME = 0x0203,
	RW_CHMOD = 0x0204,
	RW_CHOWN = 0x0205,
	/* network family: net.bpf.c */
	RW_CONNECT = 0x0301,
	RW_ACCEPT = 0x0302,
	RW_LISTEN = 0x0303,
	RW_BIND = 0x0304,
	RW_SOCK_CLOSE = 0x0305,
	RW_UDP_SEND = 0x0306,
	RW_UDP_RECV = 0x0307,
	RW_SNIPPET = 0x0308,
	RW_DNS = 0x0309,
	RW_CONN_RESULT = 0x030a,
	/* privilege family: priv.bpf.c */
	RW_CRED = 0x0401,
	RW_CAPSET = 0x0402,
	/* namespace and kernel family: kernel.bpf.c */
	RW_NAMESPACE = 0x0501,
	RW_MOUNT = 0x0502,
	RW_UMOUNT = 0x0503,
	RW_PTRACE = 0x0504,
	RW_MODULE_LOAD = 0x0505,
	RW_BPF_LOAD = 0x0506,
	RW_MEMFD = 0x0507,
	RW_SIGNAL = 0x0508,
	RW_MMAP_EXEC = 0x0509,
	/* enforcement family: enforce.bpf.c */
	RW_ENFORCE = 0x0601,
	/* userspace records, written by the recorder (0xf0xx) */
	RW_SEGMENT_HEADER = 0xf001,
	RW_PROCESS_SNAPSHOT = 0xf002,
	RW_LOSS = 0xf003,
	RW_SEGMENT_FOOTER = 0xf004,
};

/* ---- flags ------------------------------------------------------------- */
/* rw_exec.flags */
#define RW_EXEC_ARGV_TRUNCATED     (1u << 0)
#define RW_EXEC_FILENAME_TRUNCATED (1u << 1)
#define RW_EXEC_CWD_TRUNCATED      (1u << 2)
#define RW_EXEC_FROM_MEMFD         (1u << 3)
#define RW_EXEC_EXE_DELETED        (1u << 4)
/* rw_open.flags: the path did not fit. Other path records carry no flag: a path
 * as long as the recorder's path limit (header capture.path_limit) may be cut. */
#define RW_PATH_TRUNCATED          (1u << 0)
/* rw_snippet.flags */
#define RW_SNIPPET_INBOUND         (1u << 0)
#define RW_SNIPPET_TRUNCATED       (1u << 1)
/* Bits 16-31 of a snippet's flags: the TCP stream offset of its first byte (the bytes the
 * application had sent or read on that socket before this call); 0 for datagrams. */
#define RW_SNIPPET_OFFSET_SHIFT    16
/* rw_namespace.op */
#define RW_NS_UNSHARE 1
#define RW_NS_SETNS   2
#define RW_NS_CLONE   3
/* rw_enforce.action: what the rule does (the policy file's `action`) */
#define RW_ACTION_KILL  1  /* SIGKILL from the syscall-entry hook */
#define RW_ACTION_DENY  2  /* the operation fails with EPERM */
#define RW_ACTION_STOP  3  /* SIGSTOP: frozen for memory forensics */
#define RW_ACTION_AUDIT 4  /* recorded only */
/* rw_enforce.flags: set bits mean the action was NOT carried out */
#define RW_ENFORCE_MONITOR      (1u << 0) /* policy in monitor mode */
#define RW_ENFORCE_EXEMPT       (1u << 1) /* pid 1, kernel thread, recorder or its ancestor */
#define RW_ENFORCE_RATE_LIMITED (1u << 2) /* rule over kill_rate_limit, switched to monitor */
#define RW_ENFORCE_RATE_TRIPPED (1u << 3) /* ... with this record (said once per rule) */

#define RW_COMM_LEN 16

/* ---- common header: 24 bytes ------------------------------------------- */
struct rw_hdr {
	__u16 type;   /* enum rw_type */
	__u16 cpu;    /* CPU that emitted the record */
	__u32 size;   /* whole record in bytes, tail included */
	__u64 ts;     /* CLOCK_BOOTTIME ns (bpf_ktime_get_boot_ns) */
	__u32 pid;    /* tgid of the acting task */
	__u32 tid;    /* pid (thread id) of the acting task */
};

/* namespace inode numbers of a task (0 = unknown) */
struct rw_ns {
	__u32 mnt, pid, net, uts, ipc, user, cgroup, time;
};

/* both ends of a socket; addresses are IPv4 in the first 4 bytes or IPv6 */
struct rw_sock {
	__u64 cookie;   /* bpf_get_socket_cookie(), stable per socket */
	__u16 family;   /* AF_INET, AF_INET6, AF_UNIX */
	__u16 sock_type; /* SOCK_STREAM, SOCK_DGRAM, ... */
	__u16 lport;    /* host byte order */
	__u16 rport;
	__u8 laddr[16];
	__u8 raddr[16];
};

/* ---- process family ---------------------------------------------------- */
struct rw_exec {
	struct rw_hdr hdr;
	__u64 proc_start;  /* task->group_leader->start_boottime */
	__u64 cgroup_id;
	__u64 exe_ino;
	__u64 cap_eff;
	__u64 cap_prm;
	struct rw_ns ns;
	__u32 ppid;
	__u32 uid, gid, euid, egid, auid, sessionid;
	__u32 exe_dev;
	__u32 exe_mode;    /* st_mode of the binary: setuid/setgid bits */
	__u32 tty;         /* dev_t of the controlling tty, 0 = none */
	__u32 argc;        /* real argument count, even when argv is cut */
	__u32 flags;       /* RW_EXEC_* */
	char comm[RW_COMM_LEN];
	__u16 filename_len, argv_len, cwd_len, cgroup_len;
	/* tail: filename, argv (NUL-separated), cwd, cgroup path */
};

struct rw_fork {
	struct rw_hdr hdr;
	__u64 child_start;
	__u64 clone_flags;
	__u32 child_pid;
	__u32 child_tid;
};

struct rw_exit {
	struct rw_hdr hdr;
	__u64 proc_start;
	__u32 status;      /* wait status: code << 8 | core << 7 | signal */
	__u32 flags;       /* bit 0: whole thread group exited */
};

/* ---- file family ------------------------------------------------------- */
struct rw_open {
	struct rw_hdr hdr;
	__u64 ino;
	__s32 ret;         /* fd, or -errno */
	__u32 open_flags;  /* O_* */
	__u32 mode;
	__u32 dev;
	__u32 flags;       /* RW_PATH_TRUNCATED */
	__u16 path_len;
	__u16 _pad;
};

struct rw_unlink {
	struct rw_hdr hdr;
	__s32 ret;
	__u32 flags;       /* AT_REMOVEDIR */
	__u16 path_len;
	__u16 _pad[3];
};

struct rw_rename {
	struct rw_hdr hdr;
	__s32 ret;
	__u32 flags;
	__u16 old_len, new_len;
	__u32 _pad;
};

struct rw_chmod {
	struct rw_hdr hdr;
	__s32 ret;
	__u32 mode;
	__u16 path_len;
	__u16 _pad[3];
};

struct rw_chown {
	struct rw_hdr hdr;
	__s32 ret;
	__u32 uid;
	__u32 gid;
	__u16 path_len;
	__u16 _pad;
};

/* ---- network family ---------------------------------------------------- */
struct rw_connect {
	struct rw_hdr hdr;
	struct rw_sock sock;
	__s32 ret;
	__u16 path_len;    /* unix socket path */
	__u16 _pad;
};

struct rw_accept {
	struct rw_hdr hdr;
	struct rw_sock sock;
	__s32 ret;         /* new fd */
	__u32 _pad;
};

struct rw_listen {
	struct rw_hdr hdr;
	struct rw_sock sock;
	__s32 ret;
	__s32 backlog;
};

struct rw_bind {
	struct rw_hdr hdr;
	struct rw_sock sock;
	__s32 ret;
	__u16 path_len;
	__u16 _pad;
};

struct rw_sock_close {
	struct rw_hdr hdr;
	struct rw_sock sock;
	__u64 bytes_sent;
	__u64 bytes_received;
	__u64 duration_ns;  /* since connect/accept, 0 = unknown */
};

struct rw_udp {   /* RW_UDP_SEND, RW_UDP_RECV */
	struct rw_hdr hdr;
	struct rw_sock sock;
	__u32 len;
	__s32 ret;
};

struct rw_snippet {   /* RW_SNIPPET, RW_DNS */
	struct rw_hdr hdr;
	struct rw_sock sock;
	__u32 total_len;   /* bytes in the send/recv this was cut from */
	__u32 flags;       /* RW_SNIPPET_* */
	__u16 data_len;
	__u16 _pad[3];
};

/* RW_CONN_RESULT: how a TCP connect ended, from the kernel: the socket left SYN_SENT for
 * ESTABLISHED (err 0) or for CLOSE (err = the socket error: ECONNREFUSED, ETIMEDOUT,
 * EHOSTUNREACH, ...; 0 when the application closed or disconnected it first). Emitted for
 * blocking and non-blocking connects alike, attributed to the connecting task; a socket
 * that never got established has no RW_SOCK_CLOSE. New in December 2026: older readers skip
 * it as an unknown type. */
struct rw_conn_result {
	struct rw_hdr hdr;
	struct rw_sock sock;
	__u64 duration_ns;  /* since the connect call's entry, 0 = unknown */
	__s32 err;          /* positive errno, 0 = established or closed by the application */
	__u32 state;        /* TCP state entered: 1 ESTABLISHED, 7 CLOSE */
};

/* ---- privilege family -------------------------------------------------- */
struct rw_creds {
	__u32 uid, euid, suid, fsuid, gid, egid, sgid, fsgid;
};

struct rw_cred {
	struct rw_hdr hdr;
	struct rw_creds old;
	struct rw_creds new;
	__u32 syscall;     /* syscall number that changed them */
	__s32 ret;
};

struct rw_capset {
	struct rw_hdr hdr;
	__u64 old_eff, old_prm, old_inh;
	__u64 new_eff, new_prm, new_inh;
	__s32 ret;
	__u32 _pad;
};

/* ---- namespace and kernel family --------------------------------------- */
struct rw_namespace {
	struct rw_hdr hdr;
	__u64 flags;       /* CLONE_NEW* */
	struct rw_ns old;
	struct rw_ns new;
	__u32 op;          /* RW_NS_* */
	__s32 ret;
	__s32 fd;          /* setns fd, -1 otherwise */
	__u32 _pad;
};

struct rw_mount {
	struct rw_hdr hdr;
	__u64 flags;
	__s32 ret;
	__u16 source_len, target_len, fstype_len;
	__u16 _pad;
	__u32 _pad2;
};

struct rw_umount {
	struct rw_hdr hdr;
	__s32 ret;
	__u32 flags;
	__u16 target_len;
	__u16 _pad[3];
};

struct rw_ptrace {
	struct rw_hdr hdr;
	__s64 request;
	__u32 target;
	__s32 ret;
};

struct rw_module_load {
	struct rw_hdr hdr;
	__s32 ret;
	__u32 syscall;     /* init_module or finit_module */
	__u16 name_len;    /* module path (finit_module fd) or name */
	__u16 _pad[3];
};

struct rw_bpf_load {
	struct rw_hdr hdr;
	__u32 cmd;
	__u32 prog_type;
	__u32 insn_cnt;
	__s32 ret;
	char prog_name[RW_COMM_LEN];
};

struct rw_memfd {
	struct rw_hdr hdr;
	__s32 ret;
	__u32 flags;
	__u16 name_len;
	__u16 _pad[3];
};

struct rw_signal {
	struct rw_hdr hdr;
	__u32 target;
	__u32 sig;
	__s32 ret;
	__u32 syscall;
};

struct rw_mmap_exec {
	struct rw_hdr hdr;
	__u64 ino;
	__u32 dev;
	__u32 prot;
	__u32 flags;
	__u16 path_len;
	__u16 _pad;
};

/* ---- enforcement family ------------------------------------------------ */
/* One record per rule that fired (hdr.pid/tid: the acting task). The rule index refers to
 * the segment header's capture.policy.rules (schema/FORMAT.md 5.7). */
struct rw_enforce {
	struct rw_hdr hdr;
	__u16 action;      /* RW_ACTION_* */
	__u16 flags;       /* RW_ENFORCE_*: monitor / exempt / rate limited (not carried out) */
	__u32 rule;        /* policy rule index, from 0, in file order */
	__u32 sig;         /* signal sent: 9 (kill), 19 (stop); 0 otherwise */
	__u16 trigger;     /* enum rw_type of what was attempted (RW_OPEN, RW_CONNECT, ...) */
	__u16 detail_len;  /* tail: what was attempted: the path; for connect/send 20 bytes:
	                    * __u16 family (2/10), __u16 port, 16 address bytes (LE numbers),
	                    * then a NUL (stored 21, decoded 20) */
};

/* ---- userspace records ------------------------------------------------- */
/* RW_SEGMENT_HEADER: magic, then JSON metadata (schema/FORMAT.md) */
struct rw_segment_header {
	struct rw_hdr hdr;
	char magic[8];     /* "REWIND\0\0" */
	__u16 major;
	__u16 minor;
	__u32 reserved;    /* must be zero */
	__u32 meta_len;
	__u32 _pad;
};

struct rw_loss {
	struct rw_hdr hdr;
	__u64 count;       /* records dropped in the window */
	__u64 window_start;
	__u64 window_end;
	__u32 loss_cpu;
	__u32 _pad;
};

/* RW_PROCESS_SNAPSHOT and RW_SEGMENT_FOOTER: header, then JSON */
struct rw_json {
	struct rw_hdr hdr;
	__u32 json_len;
	__u32 _pad;
};

#endif /* REWIND_H */
