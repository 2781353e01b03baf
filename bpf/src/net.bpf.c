/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * net.bpf.c: the network family (connect, accept, listen, bind, close with byte counts,
 * UDP, payload snippets, DNS) -> schema/src/wire/net.rs. Included by rewind.bpf.c;
 * checked against Linux 6.18.
 *
 * Syscall tracepoints give the acting task; the socket is found from the fd
 * (task->files->fdt->fd[fd]->private_data->sk). The socket "cookie" in every record is
 * the struct sock pointer: stable while the socket lives, and the same value in the
 * connect/accept, snippet, UDP and close records of one socket. (bpf_get_socket_cookie()
 * is not callable from syscall tracepoints on a probe-read pointer.)
 *
 * TCP close runs from sock:inet_sock_set_state, often in softirq or in the peer's
 * context: the record is attributed to the socket's owner, remembered at connect and
 * accept in net_owner.
 */
#include <bpf/bpf_endian.h>

/* Random per recording, set by the loader: hides kernel addresses in socket cookies. */
const volatile __u64 cookie_key = 0;

#define NET_AF_UNIX  1
#define NET_AF_INET  2
#define NET_AF_INET6 10

#define SNIPPET_MAX 1024          /* hard limit on snippet_len */
#define UNIX_PATH_MAX_LEN 108
#define IOV_SUM_MAX 16            /* iovecs added up for a sendmsg/recvmsg length */
#define DNS_PORT 53

/* Masks v after an optimisation barrier, so that clang cannot drop the mask the verifier
 * needs to bound a size after a clamp. */
#define NET_BOUND(v, mask)            \
	do {                          \
		barrier_var(v);       \
		(v) &= (mask);        \
	} while (0)

/* What a syscall's entry hands to its exit, by thread. */
enum net_op {
	NET_OP_CONNECT = 1,
	NET_OP_BIND,
	NET_OP_LISTEN,
	NET_OP_SEND,
	NET_OP_RECV,
};

struct net_call {
	__u64 sk;        /* struct sock *, for send/recv */
	__u64 uaddr;     /* user sockaddr (connect, bind, sendto, recvfrom) or NULL */
	__u64 msg;       /* user msghdr (sendmsg, recvmsg) or NULL */
	__u64 buf;       /* user data: the buffer or the first iovec */
	__u64 total;     /* bytes asked for in the call */
	__u64 ts;        /* entry time */
	__u64 addrlen;   /* sockaddr length (connect, bind, sendto) or user pointer to it */
	__u32 buflen;    /* length of buf */
	__s32 fd;
	__s32 backlog;
	__u16 op;        /* enum net_op */
	__u16 proto;     /* IPPROTO_TCP / IPPROTO_UDP for send/recv */
	__u32 nr;        /* syscall number, checked at exit */
	__u32 off;       /* TCP: stream offset of the call's first byte */
	__u64 iov;       /* user iovec array (readv, writev, *msg) or NULL */
	__u32 iovcnt;
	__u8 mmsg;       /* sendmmsg/recvmmsg: msg is an mmsghdr vector, ret counts messages */
	__u8 _pad[3];
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH); /* a thread killed mid-call leaves its entry */
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, struct net_call);
} net_calls SEC(".maps");

/* TCP sockets of traced processes: who owns them and since when (connect/accept), and
 * write_seq at that moment: the sequence number of the first byte the owner sends. */
struct net_owner_val {
	__u64 start;
	__u32 tgid;
	__u32 tid;
	__u32 wseq0;
	__u32 _pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, struct net_owner_val);
} net_owner SEC(".maps");

/* ---- helpers ------------------------------------------------------------ */

static __always_inline bool net_on(void)
{
	return (class_mask & CLASS_NET) && traced();
}

static __always_inline __u32 net_tid(void)
{
	return (__u32)bpf_get_current_pid_tgid();
}

/* The struct socket behind a descriptor of the current task, or NULL when the fd is
 * not a socket. */
static __always_inline struct socket *sock_from_fd(int fd)
{
	struct file *f = fd_file(fd);

	if (!f)
		return NULL;
	if ((BPF_CORE_READ(f, f_inode, i_mode) & 0170000) != 0140000) /* S_IFSOCK */
		return NULL;
	return BPF_CORE_READ(f, private_data);
}

static __always_inline struct sock *sk_from_fd(int fd)
{
	struct socket *s = sock_from_fd(fd);

	return s ? BPF_CORE_READ(s, sk) : NULL;
}

/* Both ends as the socket knows them. */
static __always_inline void fill_sock(struct rw_sock *o, struct sock *sk)
{
	__u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);

	__builtin_memset(o, 0, sizeof(*o));
	{
		/* Copied out as a plain number: the verifier forbids arithmetic on a trusted
		 * BTF pointer. */
		__u64 addr = 0;
		struct sock *p = sk;

		bpf_probe_read_kernel(&addr, sizeof(addr), &p);
		o->cookie = (addr ^ cookie_key) * 0x9e3779b97f4a7c15ULL;
	}
	o->family = family;
	o->sock_type = BPF_CORE_READ(sk, sk_type);
	if (family != NET_AF_INET && family != NET_AF_INET6)
		return;
	o->lport = BPF_CORE_READ(sk, __sk_common.skc_num);
	/* inet_num is cleared when the port is released (TCP_CLOSE); inet_sport stays. */
	if (!o->lport)
		o->lport = bpf_ntohs(BPF_CORE_READ((struct inet_sock *)sk, inet_sport));
	o->rport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	if (family == NET_AF_INET) {
		BPF_CORE_READ_INTO((__u32 *)o->laddr, sk, __sk_common.skc_rcv_saddr);
		BPF_CORE_READ_INTO((__u32 *)o->raddr, sk, __sk_common.skc_daddr);
	} else {
		BPF_CORE_READ_INTO((struct in6_addr *)o->laddr, sk, __sk_common.skc_v6_rcv_saddr);
		BPF_CORE_READ_INTO((struct in6_addr *)o->raddr, sk, __sk_common.skc_v6_daddr);
	}
}

static __always_inline __u16 sk_proto(struct sock *sk)
{
	return BPF_CORE_READ(sk, sk_protocol);
}

static __always_inline __u16 sk_family(struct sock *sk)
{
	return BPF_CORE_READ(sk, __sk_common.skc_family);
}

struct net_addr {
	__u16 family;
	__u16 port;
	__u8 addr[16];
};

/* Parses an IPv4/IPv6 user sockaddr; returns 0 when it is one. */
static __always_inline int read_sockaddr(__u64 uaddr, __u32 len, struct net_addr *out)
{
	__u8 raw[32] = {};

	if (!uaddr || len < 2)
		return -1;
	if (len > 28)
		len = 28;
	NET_BOUND(len, 31);
	if (bpf_probe_read_user(raw, len, (void *)uaddr))
		return -1;
	out->family = raw[0] | (raw[1] << 8);
	out->port = (raw[2] << 8) | raw[3];
	if (out->family == NET_AF_INET && len >= 8) {
		__builtin_memset(out->addr, 0, 16);
		__builtin_memcpy(out->addr, &raw[4], 4);
		return 0;
	}
	if (out->family == NET_AF_INET6 && len >= 24) {
		__builtin_memcpy(out->addr, &raw[8], 16);
		return 0;
	}
	return -1;
}

static __always_inline void set_remote(struct rw_sock *o, struct net_addr *a)
{
	o->rport = a->port;
	__builtin_memcpy(o->raddr, a->addr, 16);
}

/* Copies the path of a user sockaddr_un of length len to dst; returns its length. */
static __always_inline __u32 read_unix_path(char *dst, __u64 uaddr, __u32 len)
{
	__u8 first = 0;
	long n;

	if (!uaddr || len <= 2)
		return 0;
	len -= 2;
	if (len > UNIX_PATH_MAX_LEN)
		len = UNIX_PATH_MAX_LEN;
	if (bpf_probe_read_user(&first, 1, (void *)(uaddr + 2)))
		return 0;
	NET_BOUND(len, 127);
	if (first == 0) {
		/* abstract: every byte counts, NULs included */
		if (bpf_probe_read_user(dst, len, (void *)(uaddr + 2)))
			return 0;
		return len;
	}
	n = bpf_probe_read_user_str(dst, len + 1, (void *)(uaddr + 2));
	if (n <= 1)
		return 0;
	n -= 1;
	return (__u32)n < len ? (__u32)n : len;
}

static __always_inline __u32 snippet_limit(void)
{
	__u32 lim = snippet_len;

	return lim > SNIPPET_MAX ? SNIPPET_MAX : lim;
}

/* Emits an RW_SNIPPET or RW_DNS record of up to the snippet limit from user memory.
 * `avail` bytes are readable at ubuf; `total` is the size of the whole send/recv. */
static __always_inline void emit_payload(__u16 type, struct sock *sk, struct net_addr *remote,
					 __u64 ubuf, __u32 avail, __u64 total, __u32 flags,
					 __u64 ts)
{
	struct rw_snippet *s;
	__u32 n = avail;
	__u8 *buf = get_scratch();

	if (!buf)
		return;
	s = (struct rw_snippet *)buf;
	if (n > total)
		n = total;
	if (n > snippet_limit())
		n = snippet_limit();
	if (n > SNIPPET_MAX)
		n = SNIPPET_MAX;
	NET_BOUND(n, 2047);
	if (total > n)
		flags |= RW_SNIPPET_TRUNCATED;
	fill_sock(&s->sock, sk);
	if (remote)
		set_remote(&s->sock, remote);
	s->total_len = total > 0xffffffffULL ? 0xffffffff : (__u32)total;
	s->flags = flags;
	s->_pad[0] = s->_pad[1] = s->_pad[2] = 0;
	if (n && bpf_probe_read_user(buf + sizeof(*s), n, (void *)ubuf))
		n = 0;
	s->data_len = n;
	fill_hdr(&s->hdr, type, sizeof(*s) + n);
	if (ts)
		s->hdr.ts = ts;
	emit(buf, sizeof(*s) + n);
}

/* Bytes of a TCP stream the application has already handed to the socket (outbound) or
 * taken from it (inbound): the offset in the stream of the next byte it sends or reads.
 * Taken from the kernel's own sequence state, so bytes that moved by paths without a
 * hook here (sendfile, splice, io_uring) still count, and the analyzer sees a gap.
 * Inbound: bytes_received counts rcv_nxt's advances past the SYN; rcv_nxt - copied_seq
 * is what is queued but unread. Outbound: write_seq against its value when the owner
 * connected or accepted; a socket older than the recording has no such mark, and the
 * bytes acknowledged plus those in flight stand in (one more on the connecting side,
 * whose acknowledged SYN counts). */
static __always_inline __u32 stream_pos(struct sock *sk, bool inbound)
{
	struct tcp_sock *tp = (struct tcp_sock *)sk;
	struct net_owner_val *o;
	__u64 key = (__u64)sk, pos;

	if (inbound) {
		__u32 unread = BPF_CORE_READ(tp, rcv_nxt) - BPF_CORE_READ(tp, copied_seq);

		pos = BPF_CORE_READ(tp, bytes_received);
		pos = pos > unread ? pos - unread : 0;
	} else {
		__u32 wseq = BPF_CORE_READ(tp, write_seq);

		o = bpf_map_lookup_elem(&net_owner, &key);
		if (o)
			return wseq - o->wseq0;
		pos = BPF_CORE_READ(tp, bytes_acked) + (__u32)(wseq - BPF_CORE_READ(tp, snd_una));
	}
	return pos > 0xffffffffULL ? 0xffffffff : (__u32)pos;
}

/* Makes the current task the owner of a TCP socket since `start`. */
static __always_inline void own_since(struct sock *sk, __u64 start)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct net_owner_val v = {
		.start = start,
		.tgid = id >> 32,
		.tid = (__u32)id,
		.wseq0 = BPF_CORE_READ((struct tcp_sock *)sk, write_seq),
	};
	__u64 key = (__u64)sk;

	bpf_map_update_elem(&net_owner, &key, &v, BPF_ANY);
}

static __always_inline void own(struct sock *sk)
{
	own_since(sk, bpf_ktime_get_boot_ns());
}

static __always_inline bool tcp_inet(struct sock *sk)
{
	__u16 f = sk_family(sk);

	return sk_proto(sk) == IPPROTO_TCP && (f == NET_AF_INET || f == NET_AF_INET6);
}

/* Reads a user msghdr; returns 0 on success. */
static __always_inline int read_msghdr(__u64 umsg, struct user_msghdr *m)
{
	if (!umsg)
		return -1;
	return bpf_probe_read_user(m, sizeof(*m), (void *)umsg);
}

/* A user iovec array: the first iovec as the call's buffer, the array for TCP snippets
 * that span iovecs, and the sum of up to IOV_SUM_MAX iovec lengths. */
static __always_inline void read_iovec(__u64 uiov, __u64 n, struct net_call *c)
{
	struct iovec iov = {};
	int i;

	c->buf = 0;
	c->buflen = 0;
	c->total = 0;
	c->iov = 0;
	c->iovcnt = 0;
	if (!n || !uiov)
		return;
	if (bpf_probe_read_user(&iov, sizeof(iov), (void *)uiov))
		return;
	c->iov = uiov;
	c->iovcnt = n > 0xffffffffULL ? 0xffffffff : n;
	c->buf = (__u64)iov.iov_base;
	c->buflen = iov.iov_len > 0xffffffffULL ? 0xffffffff : iov.iov_len;
	c->total = iov.iov_len;
	for (i = 1; i < IOV_SUM_MAX; i++) {
		if (i >= n)
			break;
		if (bpf_probe_read_user(&iov, sizeof(iov), (void *)(uiov + i * sizeof(iov))))
			break;
		c->total += iov.iov_len;
	}
}

static __always_inline void read_iov(struct user_msghdr *m, struct net_call *c)
{
	read_iovec((__u64)m->msg_iov, m->msg_iovlen, c);
}

/* ---- connect ------------------------------------------------------------ */

/* syscalls:sys_enter_connect: remember fd and the user sockaddr (Linux 6.18). */
SEC("tp/syscalls/sys_enter_connect")
int handle_enter_connect(struct trace_event_raw_sys_enter *ctx)
{
	struct net_call c = {};
	struct sock *sk;
	__u32 tid = net_tid();

	if (!net_on())
		return 0;
	c.op = NET_OP_CONNECT;
	c.fd = ctx->args[0];
	c.uaddr = ctx->args[1];
	c.addrlen = (__u32)ctx->args[2];
	c.ts = bpf_ktime_get_boot_ns();
	/* The handshake can end inside the call (loopback: the SYN-ACK or RST is processed
	 * when connect releases the socket lock), so the owner must be known before it:
	 * the state change out of SYN_SENT reports the outcome to it. */
	sk = sk_from_fd(c.fd);
	if (sk && tcp_inet(sk) && BPF_CORE_READ(sk, __sk_common.skc_state) == TCP_CLOSE)
		own_since(sk, c.ts);
	bpf_map_update_elem(&net_calls, &tid, &c, BPF_ANY);
	return 0;
}

/* syscalls:sys_exit_connect: the connect record, local end read from the socket after
 * the call, remote end from the sockaddr asked for (Linux 6.18). */
SEC("tp/syscalls/sys_exit_connect")
int handle_exit_connect(struct trace_event_raw_sys_exit *ctx)
{
	__u32 tid = net_tid();
	struct net_call *c = bpf_map_lookup_elem(&net_calls, &tid);
	struct rw_connect *r;
	struct net_addr a = {};
	struct sock *sk;
	__u8 *buf;
	__u32 len = 0;

	if (!c)
		return 0;
	if (c->op != NET_OP_CONNECT)
		goto out;
	buf = get_scratch();
	sk = sk_from_fd(c->fd);
	if (!buf || !sk)
		goto out;
	r = (struct rw_connect *)buf;
	fill_sock(&r->sock, sk);
	if (r->sock.family == NET_AF_UNIX) {
		len = read_unix_path((char *)buf + sizeof(*r), c->uaddr, c->addrlen);
	} else if (!read_sockaddr(c->uaddr, c->addrlen, &a)) {
		set_remote(&r->sock, &a);
	}
	r->ret = ctx->ret;
	r->path_len = len;
	r->_pad = 0;
	if (tcp_inet(sk)) {
		__u64 key = (__u64)sk;

		/* Owned since the entry; a socket back in (or still in) TCP_CLOSE never got
		 * anywhere, or its handshake failed inside the call (its RW_CONN_RESULT is out).
		 * EALREADY/EISCONN on a live socket leave its owner as it was. */
		if (BPF_CORE_READ(sk, __sk_common.skc_state) == TCP_CLOSE)
			bpf_map_delete_elem(&net_owner, &key);
		else if (ctx->ret == 0 || ctx->ret == -115 /* EINPROGRESS */)
			own_since(sk, c->ts); /* write_seq is known now */
	}
	NET_BOUND(len, 127);
	/* Stamped at the call's entry: the attempt comes before its outcome. */
	fill_hdr(&r->hdr, RW_CONNECT, sizeof(*r) + len);
	r->hdr.ts = c->ts;
	emit(buf, sizeof(*r) + len);
out:
	bpf_map_delete_elem(&net_calls, &tid);
	return 0;
}

/* ---- accept ------------------------------------------------------------- */

static __always_inline int accept_exit(long ret)
{
	struct rw_accept r = {};
	struct sock *sk;

	if (ret < 0 || !net_on())
		return 0;
	sk = sk_from_fd(ret);
	if (!sk)
		return 0;
	fill_sock(&r.sock, sk);
	r.ret = ret;
	if (sk_proto(sk) == IPPROTO_TCP && (r.sock.family == NET_AF_INET || r.sock.family == NET_AF_INET6))
		own(sk);
	fill_hdr(&r.hdr, RW_ACCEPT, sizeof(r));
	emit(&r, sizeof(r));
	return 0;
}

/* syscalls:sys_exit_accept: the new connection, local end = the listening side
 * (Linux 6.18). */
SEC("tp/syscalls/sys_exit_accept")
int handle_exit_accept(struct trace_event_raw_sys_exit *ctx)
{
	return accept_exit(ctx->ret);
}

/* syscalls:sys_exit_accept4: as accept (Linux 6.18). */
SEC("tp/syscalls/sys_exit_accept4")
int handle_exit_accept4(struct trace_event_raw_sys_exit *ctx)
{
	return accept_exit(ctx->ret);
}

/* ---- listen and bind ---------------------------------------------------- */

/* syscalls:sys_enter_listen: remember fd and backlog (Linux 6.18). */
SEC("tp/syscalls/sys_enter_listen")
int handle_enter_listen(struct trace_event_raw_sys_enter *ctx)
{
	struct net_call c = {};
	__u32 tid = net_tid();

	if (!net_on())
		return 0;
	c.op = NET_OP_LISTEN;
	c.fd = ctx->args[0];
	c.backlog = ctx->args[1];
	bpf_map_update_elem(&net_calls, &tid, &c, BPF_ANY);
	return 0;
}

/* syscalls:sys_exit_listen: the listen record (Linux 6.18). */
SEC("tp/syscalls/sys_exit_listen")
int handle_exit_listen(struct trace_event_raw_sys_exit *ctx)
{
	__u32 tid = net_tid();
	struct net_call *c = bpf_map_lookup_elem(&net_calls, &tid);
	struct rw_listen r = {};
	struct sock *sk;

	if (!c)
		return 0;
	if (c->op != NET_OP_LISTEN)
		goto out;
	sk = sk_from_fd(c->fd);
	if (!sk)
		goto out;
	fill_sock(&r.sock, sk);
	r.ret = ctx->ret;
	r.backlog = c->backlog;
	fill_hdr(&r.hdr, RW_LISTEN, sizeof(r));
	emit(&r, sizeof(r));
out:
	bpf_map_delete_elem(&net_calls, &tid);
	return 0;
}

/* syscalls:sys_enter_bind: remember fd and the user sockaddr (Linux 6.18). */
SEC("tp/syscalls/sys_enter_bind")
int handle_enter_bind(struct trace_event_raw_sys_enter *ctx)
{
	struct net_call c = {};
	__u32 tid = net_tid();

	if (!net_on())
		return 0;
	c.op = NET_OP_BIND;
	c.fd = ctx->args[0];
	c.uaddr = ctx->args[1];
	c.addrlen = (__u32)ctx->args[2];
	bpf_map_update_elem(&net_calls, &tid, &c, BPF_ANY);
	return 0;
}

/* syscalls:sys_exit_bind: the bind record; the local address is the one asked for, the
 * port the one the kernel chose when it succeeded (Linux 6.18). */
SEC("tp/syscalls/sys_exit_bind")
int handle_exit_bind(struct trace_event_raw_sys_exit *ctx)
{
	__u32 tid = net_tid();
	struct net_call *c = bpf_map_lookup_elem(&net_calls, &tid);
	struct net_addr a = {};
	struct rw_bind *r;
	struct sock *sk;
	__u8 *buf;
	__u32 len = 0;

	if (!c)
		return 0;
	if (c->op != NET_OP_BIND)
		goto out;
	buf = get_scratch();
	sk = sk_from_fd(c->fd);
	if (!buf || !sk)
		goto out;
	r = (struct rw_bind *)buf;
	fill_sock(&r->sock, sk);
	if (r->sock.family == NET_AF_UNIX) {
		len = read_unix_path((char *)buf + sizeof(*r), c->uaddr, c->addrlen);
	} else if (!read_sockaddr(c->uaddr, c->addrlen, &a)) {
		__builtin_memcpy(r->sock.laddr, a.addr, 16);
		if (ctx->ret != 0 || !r->sock.lport)
			r->sock.lport = a.port;
	}
	r->ret = ctx->ret;
	r->path_len = len;
	r->_pad = 0;
	NET_BOUND(len, 127);
	fill_hdr(&r->hdr, RW_BIND, sizeof(*r) + len);
	emit(buf, sizeof(*r) + len);
out:
	bpf_map_delete_elem(&net_calls, &tid);
	return 0;
}

/* ---- TCP close ---------------------------------------------------------- */

/* The outcome of a connect: the socket left SYN_SENT. The socket error is set before the
 * state changes (tcp_done_with_error: ECONNREFUSED on a RST, ETIMEDOUT or the ICMP error
 * after the SYN retries); 0 when the application closed it first. */
static __always_inline void conn_result(const struct sock *sk, struct net_owner_val *o, int newstate,
					__u64 now)
{
	struct rw_conn_result r = {};

	fill_sock(&r.sock, (struct sock *)sk);
	r.sock.sock_type = SOCK_STREAM;
	r.state = newstate;
	r.err = newstate == TCP_ESTABLISHED ? 0 : BPF_CORE_READ(sk, sk_err);
	r.duration_ns = o->start && now > o->start ? now - o->start : 0;
	fill_hdr(&r.hdr, RW_CONN_RESULT, sizeof(r));
	r.hdr.ts = now;
	r.hdr.pid = o->tgid;
	r.hdr.tid = o->tid;
	emit(&r, sizeof(r));
}

/* tp_btf/inet_sock_set_state: an owned TCP socket leaving SYN_SENT (the connect's
 * outcome) or reaching TCP_CLOSE (with its byte counts from struct tcp_sock); attributed
 * to the owner recorded at connect/accept, since this often runs in softirq or in the
 * peer's context (Linux 6.18). */
SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(handle_tcp_close, const struct sock *sk, const int oldstate, const int newstate)
{
	struct net_owner_val *o;
	struct rw_sock_close r = {};
	struct tcp_sock *tp = (struct tcp_sock *)sk;
	__u64 key = (__u64)sk;
	__u64 now;

	if ((newstate != TCP_CLOSE && oldstate != TCP_SYN_SENT) || !(class_mask & CLASS_NET))
		return 0;
	if (BPF_CORE_READ(sk, sk_protocol) != IPPROTO_TCP)
		return 0;
	o = bpf_map_lookup_elem(&net_owner, &key);
	if (!o)
		return 0;
	now = bpf_ktime_get_boot_ns();
	if (oldstate == TCP_SYN_SENT) {
		conn_result(sk, o, newstate, now);
		/* Never established: nothing moved, no close record. */
		if (newstate == TCP_CLOSE)
			bpf_map_delete_elem(&net_owner, &key);
		return 0;
	}
	if (newstate != TCP_CLOSE)
		return 0;
	fill_sock(&r.sock, (struct sock *)sk);
	r.sock.sock_type = SOCK_STREAM;
	r.bytes_sent = BPF_CORE_READ(tp, bytes_sent);
	r.bytes_received = BPF_CORE_READ(tp, bytes_received);
	/* bytes_received follows rcv_nxt, which counts the peer's FIN too; tcp_fin() sets
	 * SOCK_DONE when that FIN arrives. */
	if (r.bytes_received &&
	    (BPF_CORE_READ(sk, __sk_common.skc_flags) & (1UL << bpf_core_enum_value(enum sock_flags, SOCK_DONE))))
		r.bytes_received--;
	r.duration_ns = o->start && now > o->start ? now - o->start : 0;
	fill_hdr(&r.hdr, RW_SOCK_CLOSE, sizeof(r));
	r.hdr.ts = now;
	r.hdr.pid = o->tgid;
	r.hdr.tid = o->tid;
	bpf_map_delete_elem(&net_owner, &key);
	emit(&r, sizeof(r));
	return 0;
}

/* ---- send and receive: UDP records, TCP snippets, DNS -------------------- */

static __always_inline bool inet(struct sock *sk)
{
	__u16 f = sk_family(sk);

	return f == NET_AF_INET || f == NET_AF_INET6;
}

#define SNIP_IOV_MAX 8   /* iovecs a TCP snippet is gathered from */
#define MMSG_MAX 4       /* datagrams of one sendmmsg/recvmmsg recorded */

/* Entry of every send and receive call on an IPv4/IPv6 TCP or UDP socket. TCP: only
 * while the stream offset is below the snippet length, so that a connection costs
 * nothing here once its first bytes are captured. The call is remembered for its exit,
 * which captures what was really transferred. `uiov`/`iovcnt`: readv/writev; `umsg`: a
 * msghdr, or the first of an mmsghdr vector when `mmsg`. */
static __always_inline int sendrecv_enter(__u32 nr, bool in, int fd, __u64 ubuf, __u64 len,
					  __u64 uaddr, __u64 addrlen, __u64 umsg, __u64 uiov,
					  __u64 iovcnt, bool mmsg)
{
	struct net_call c = {};
	struct sock *sk;
	__u32 tid = net_tid();
	__u16 proto;

	if (!net_on())
		return 0;
	sk = sk_from_fd(fd);
	if (!sk || !inet(sk))
		return 0;
	proto = sk_proto(sk);
	if (proto != IPPROTO_TCP && proto != IPPROTO_UDP)
		return 0;
	if (proto == IPPROTO_TCP) {
		c.off = stream_pos(sk, in);
		if (c.off >= snippet_limit())
			return 0;
	}
	c.buf = ubuf;
	c.buflen = len > 0xffffffffULL ? 0xffffffff : len;
	c.total = len;
	if (uiov)
		read_iovec(uiov, iovcnt, &c);
	if (umsg) {
		struct user_msghdr m = {};

		if (read_msghdr(umsg, &m))
			return 0;
		if (!in) {
			uaddr = (__u64)m.msg_name;
			addrlen = m.msg_namelen;
		}
		read_iov(&m, &c);
	}
	c.op = in ? NET_OP_RECV : NET_OP_SEND;
	c.proto = proto;
	c.nr = nr;
	c.fd = fd;
	c.sk = (__u64)sk;
	c.uaddr = uaddr;
	c.addrlen = addrlen;
	c.msg = umsg;
	c.mmsg = mmsg;
	c.ts = bpf_ktime_get_boot_ns();
	bpf_map_update_elem(&net_calls, &tid, &c, BPF_ANY);
	return 0;
}

static __always_inline bool dns(struct rw_sock *s)
{
	return s->lport == DNS_PORT || s->rport == DNS_PORT;
}

/* One datagram: a UDP record, and a DNS record with its payload on port 53. `umsg`: its
 * msghdr (recvmsg, *mmsg), else `c`'s sockaddr. `len`: bytes sent or received, `ret`
 * what the call returned. Sends are stamped with the call's entry time. */
static __noinline void udp_datagram(struct net_call *c, __u64 umsg, struct iovec *data,
				    __u64 len, long ret)
{
	struct sock *sk = (struct sock *)c->sk;
	bool in = c->op == NET_OP_RECV;
	struct net_addr a = {};
	struct rw_udp r = {};
	bool have = false;

	if (umsg) {
		struct user_msghdr m = {};

		if (!read_msghdr(umsg, &m) && ret >= 0)
			have = !read_sockaddr((__u64)m.msg_name, m.msg_namelen, &a);
	} else if (in) {
		if (c->uaddr && c->addrlen && ret >= 0) {
			__u32 alen = 0;

			bpf_probe_read_user(&alen, sizeof(alen), (void *)c->addrlen);
			have = !read_sockaddr(c->uaddr, alen, &a);
		}
	} else {
		have = !read_sockaddr(c->uaddr, c->addrlen, &a);
	}
	fill_sock(&r.sock, sk);
	if (have)
		set_remote(&r.sock, &a);
	r.len = len > 0xffffffffULL ? 0xffffffff : len;
	r.ret = ret;
	fill_hdr(&r.hdr, in ? RW_UDP_RECV : RW_UDP_SEND, sizeof(r));
	if (!in)
		r.hdr.ts = c->ts;
	emit(&r, sizeof(r));
	if (ret >= 0 && len && dns(&r.sock))
		emit_payload(RW_DNS, sk, have ? &a : NULL, (__u64)data->iov_base,
			     data->iov_len > 0xffffffffULL ? 0xffffffff : data->iov_len, len,
			     in ? RW_SNIPPET_INBOUND : 0, in ? 0 : c->ts);
}

/* sendmmsg/recvmmsg: `ret` datagrams went; the first MMSG_MAX are recorded, each with
 * its own address, length (msg_len) and first iovec. */
static __always_inline void udp_mmsg_exit(struct net_call *c, long ret)
{
	struct iovec first = {.iov_base = (void *)c->buf, .iov_len = c->buflen};
	int i;

	if (ret <= 0) {
		udp_datagram(c, c->msg, &first, 0, ret);
		return;
	}
	for (i = 0; i < MMSG_MAX; i++) {
		__u64 um = c->msg + i * sizeof(struct mmsghdr);
		struct user_msghdr m = {};
		struct iovec iov = {};
		__u32 mlen = 0;

		if (i >= ret)
			break;
		if (read_msghdr(um, &m) ||
		    bpf_probe_read_user(&mlen, sizeof(mlen), (void *)(um + sizeof(struct user_msghdr))))
			break;
		if (m.msg_iovlen && m.msg_iov)
			bpf_probe_read_user(&iov, sizeof(iov), m.msg_iov);
		udp_datagram(c, um, &iov, mlen, mlen);
	}
}

/* A TCP snippet: the bytes `c`'s call moved (`moved`), from stream offset c->off up to the
 * snippet length, gathered across up to SNIP_IOV_MAX iovecs. Outbound snippets are
 * stamped with the call's entry time, before the peer can have read the bytes. */
static __noinline void tcp_snippet(struct net_call *c, __u64 moved)
{
	struct sock *sk = (struct sock *)c->sk;
	bool in = c->op == NET_OP_RECV;
	__u32 lim = snippet_limit(), off = c->off, want, got = 0, k;
	struct rw_snippet *s;
	__u8 *buf = get_scratch();
	int i;

	if (!buf || off >= lim || !moved)
		return;
	want = lim - off;
	if (want > moved)
		want = moved;
	s = (struct rw_snippet *)buf;
	if (c->iov) {
		for (i = 0; i < SNIP_IOV_MAX; i++) {
			struct iovec iov = {};

			if (i >= c->iovcnt || got >= want)
				break;
			if (bpf_probe_read_user(&iov, sizeof(iov), (void *)(c->iov + i * sizeof(iov))))
				break;
			k = want - got;
			if (k > iov.iov_len)
				k = iov.iov_len;
			NET_BOUND(got, 2047);
			NET_BOUND(k, 2047);
			if (bpf_probe_read_user(buf + sizeof(*s) + got, k, iov.iov_base))
				break;
			got += k;
		}
	} else {
		k = want;
		if (k > c->buflen)
			k = c->buflen;
		NET_BOUND(k, 2047);
		if (!bpf_probe_read_user(buf + sizeof(*s), k, (void *)c->buf))
			got = k;
	}
	NET_BOUND(got, 2047);
	fill_sock(&s->sock, sk);
	s->total_len = moved > 0xffffffffULL ? 0xffffffff : (__u32)moved;
	s->flags = (in ? RW_SNIPPET_INBOUND : 0) | (moved > got ? RW_SNIPPET_TRUNCATED : 0) |
		   (off << RW_SNIPPET_OFFSET_SHIFT);
	s->data_len = got;
	s->_pad[0] = s->_pad[1] = s->_pad[2] = 0;
	fill_hdr(&s->hdr, RW_SNIPPET, sizeof(*s) + got);
	if (!in)
		s->hdr.ts = c->ts;
	emit(buf, sizeof(*s) + got);
}

/* Exit of every send and receive call remembered by sendrecv_enter. */
static __always_inline int sendrecv_exit(__u32 nr, long ret)
{
	__u32 tid = net_tid();
	struct net_call *c = bpf_map_lookup_elem(&net_calls, &tid);

	if (!c)
		return 0;
	if (c->nr != nr || (c->op != NET_OP_SEND && c->op != NET_OP_RECV))
		return 0;
	if (c->proto == IPPROTO_UDP) {
		struct iovec first = {.iov_base = (void *)c->buf, .iov_len = c->buflen};

		if (c->mmsg)
			udp_mmsg_exit(c, ret);
		else
			udp_datagram(c, c->op == NET_OP_RECV ? c->msg : 0, &first,
				     c->op == NET_OP_RECV ? (ret > 0 ? ret : 0) : c->total, ret);
	} else if (ret > 0) {
		__u64 moved = ret;

		/* *mmsg on TCP: the first message's bytes (its msg_len). */
		if (c->mmsg) {
			__u32 mlen = 0;

			bpf_probe_read_user(&mlen, sizeof(mlen),
					    (void *)(c->msg + sizeof(struct user_msghdr)));
			moved = mlen;
		}
		tcp_snippet(c, moved);
	}
	bpf_map_delete_elem(&net_calls, &tid);
	return 0;
}

/* The tracepoints (Linux 6.18 syscall signatures). */
#define NET_SEND 0
#define NET_RECV 1

/* syscalls:sys_enter_write: TCP stream bytes, UDP on connected sockets. */
SEC("tp/syscalls/sys_enter_write")
int handle_enter_write(struct trace_event_raw_sys_enter *ctx)
{
	return sendrecv_enter(ctx->id, NET_SEND, ctx->args[0], ctx->args[1], ctx->args[2], 0, 0, 0, 0,
			      0, false);
}

/* syscalls:sys_exit_write. */
SEC("tp/syscalls/sys_exit_write")
int handle_exit_write(struct trace_event_raw_sys_exit *ctx)
{
	return sendrecv_exit(ctx->id, ctx->ret);
}

/* syscalls:sys_enter_writev(fd, iov, iovcnt). */
SEC("tp/syscalls/sys_enter_writev")
int handle_enter_writev(struct trace_event_raw_sys_enter *ctx)
{
	return sendrecv_enter(ctx->id, NET_SEND, ctx->args[0], 0, 0, 0, 0, 0, ctx->args[1],
			      ctx->args[2], false);
}

/* syscalls:sys_exit_writev. */
SEC("tp/syscalls/sys_exit_writev")
int handle_exit_writev(struct trace_event_raw_sys_exit *ctx)
{
	return sendrecv_exit(ctx->id, ctx->ret);
}

/* syscalls:sys_enter_sendto: send(2) and sendto(2). */
SEC("tp/syscalls/sys_enter_sendto")
int handle_enter_sendto(struct trace_event_raw_sys_enter *ctx)
{
	return sendrecv_enter(ctx->id, NET_SEND, ctx->args[0], ctx->args[1], ctx->args[2],
			      ctx->args[4], ctx->args[5], 0, 0, 0, false);
}

/* syscalls:sys_exit_sendto. */
SEC("tp/syscalls/sys_exit_sendto")
int handle_exit_sendto(struct trace_event_raw_sys_exit *ctx)
{
	return sendrecv_exit(ctx->id, ctx->ret);
}

/* syscalls:sys_enter_sendmsg: iovecs, destination from msg_name. */
SEC("tp/syscalls/sys_enter_sendmsg")
int handle_enter_sendmsg(struct trace_event_raw_sys_enter *ctx)
{
	return sendrecv_enter(ctx->id, NET_SEND, ctx->args[0], 0, 0, 0, 0, ctx->args[1], 0, 0, false);
}

/* syscalls:sys_exit_sendmsg. */
SEC("tp/syscalls/sys_exit_sendmsg")
int handle_exit_sendmsg(struct trace_event_raw_sys_exit *ctx)
{
	return sendrecv_exit(ctx->id, ctx->ret);
}

/* syscalls:sys_enter_sendmmsg(fd, mmsg, vlen, flags): glibc's resolver sends its A and
 * AAAA queries with one call. */
SEC("tp/syscalls/sys_enter_sendmmsg")
int handle_enter_sendmmsg(struct trace_event_raw_sys_enter *ctx)
{
	if (!ctx->args[2])
		return 0;
	return sendrecv_enter(ctx->id, NET_SEND, ctx->args[0], 0, 0, 0, 0, ctx->args[1], 0, 0, true);
}

/* syscalls:sys_exit_sendmmsg: returns the number of messages sent. */
SEC("tp/syscalls/sys_exit_sendmmsg")
int handle_exit_sendmmsg(struct trace_event_raw_sys_exit *ctx)
{
	return sendrecv_exit(ctx->id, ctx->ret);
}

/* syscalls:sys_enter_read. */
SEC("tp/syscalls/sys_enter_read")
int handle_enter_read(struct trace_event_raw_sys_enter *ctx)
{
	return sendrecv_enter(ctx->id, NET_RECV, ctx->args[0], ctx->args[1], ctx->args[2], 0, 0, 0, 0,
			      0, false);
}

/* syscalls:sys_exit_read. */
SEC("tp/syscalls/sys_exit_read")
int handle_exit_read(struct trace_event_raw_sys_exit *ctx)
{
	return sendrecv_exit(ctx->id, ctx->ret);
}

/* syscalls:sys_enter_readv(fd, iov, iovcnt). */
SEC("tp/syscalls/sys_enter_readv")
int handle_enter_readv(struct trace_event_raw_sys_enter *ctx)
{
	return sendrecv_enter(ctx->id, NET_RECV, ctx->args[0], 0, 0, 0, 0, 0, ctx->args[1],
			      ctx->args[2], false);
}

/* syscalls:sys_exit_readv. */
SEC("tp/syscalls/sys_exit_readv")
int handle_exit_readv(struct trace_event_raw_sys_exit *ctx)
{
	return sendrecv_exit(ctx->id, ctx->ret);
}

/* syscalls:sys_enter_recvfrom: recv(2) and recvfrom(2). */
SEC("tp/syscalls/sys_enter_recvfrom")
int handle_enter_recvfrom(struct trace_event_raw_sys_enter *ctx)
{
	return sendrecv_enter(ctx->id, NET_RECV, ctx->args[0], ctx->args[1], ctx->args[2],
			      ctx->args[4], ctx->args[5], 0, 0, 0, false);
}

/* syscalls:sys_exit_recvfrom: source from the filled sockaddr. */
SEC("tp/syscalls/sys_exit_recvfrom")
int handle_exit_recvfrom(struct trace_event_raw_sys_exit *ctx)
{
	return sendrecv_exit(ctx->id, ctx->ret);
}

/* syscalls:sys_enter_recvmsg. */
SEC("tp/syscalls/sys_enter_recvmsg")
int handle_enter_recvmsg(struct trace_event_raw_sys_enter *ctx)
{
	return sendrecv_enter(ctx->id, NET_RECV, ctx->args[0], 0, 0, 0, 0, ctx->args[1], 0, 0, false);
}

/* syscalls:sys_exit_recvmsg: source from msg_name. */
SEC("tp/syscalls/sys_exit_recvmsg")
int handle_exit_recvmsg(struct trace_event_raw_sys_exit *ctx)
{
	return sendrecv_exit(ctx->id, ctx->ret);
}

/* syscalls:sys_enter_recvmmsg(fd, mmsg, vlen, flags, timeout). */
SEC("tp/syscalls/sys_enter_recvmmsg")
int handle_enter_recvmmsg(struct trace_event_raw_sys_enter *ctx)
{
	if (!ctx->args[2])
		return 0;
	return sendrecv_enter(ctx->id, NET_RECV, ctx->args[0], 0, 0, 0, 0, ctx->args[1], 0, 0, true);
}

/* syscalls:sys_exit_recvmmsg: returns the number of messages received. */
SEC("tp/syscalls/sys_exit_recvmmsg")
int handle_exit_recvmmsg(struct trace_event_raw_sys_exit *ctx)
{
	return sendrecv_exit(ctx->id, ctx->ret);
}
