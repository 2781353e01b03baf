//! Network family end to end: a loopback TCP exchange with known byte counts seen from
//! both ends (connect/accept attribution, close byte counts, payload snippets), DNS over
//! loopback UDP in a private network namespace, and an IPv6 connect.

mod common;
use common::*;
use rewind_schema::wire::{self, Sock};
use rewind_schema::{Event, EventKind};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

const AF_INET6: u16 = 10;

/// Server in the parent, client in a forked child. The client connects, writes 1000
/// bytes with write(2), reads 2500 with recvmsg(2); the server accepts, reads with
/// recv(2), answers with sendmsg(2), waits for the client's close, closes.
const TCP_SCRIPT: &str = r#"
import os, socket, sys
fam = socket.AF_INET6 if sys.argv[1] == "6" else socket.AF_INET
host = sys.argv[2]
req = b"GET /x HTTP/1.1\r\n" + bytes(range(256)) * 3 + b"A" * (1000 - 17 - 768)
resp = b"HTTP/1.1 200 OK\r\n" + b"B" * (2500 - 17)
assert len(req) == 1000 and len(resp) == 2500
srv = socket.socket(fam, socket.SOCK_STREAM)
srv.bind((host, 0))
srv.listen(7)
port = srv.getsockname()[1]
r, w = os.pipe()
pid = os.fork()
if pid == 0:
    srv.close()
    os.close(w)
    os.read(r, 1)
    c = socket.socket(fam, socket.SOCK_STREAM)
    c.connect((host, port))
    os.write(c.fileno(), req)
    got = b""
    while len(got) < 2500:
        d, _, _, _ = c.recvmsg(65536)
        if not d:
            break
        got += d
    assert got == resp, len(got)
    c.close()
    os._exit(0)
os.close(r)
print(os.getpid(), pid, port, flush=True)
os.write(w, b"x")
conn, _ = srv.accept()
got = b""
while len(got) < 1000:
    got += conn.recv(65536)
assert got == req
conn.sendmsg([resp])
assert conn.recv(1) == b""
conn.close()
_, st = os.waitpid(pid, 0)
sys.exit(1 if st else 0)
"#;

/// The request and answer of TCP_SCRIPT.
fn req() -> Vec<u8> {
    let mut v = b"GET /x HTTP/1.1\r\n".to_vec();
    for _ in 0..3 {
        v.extend(0..=255u8);
    }
    v.resize(1000, b'A');
    v
}

fn resp() -> Vec<u8> {
    let mut v = b"HTTP/1.1 200 OK\r\n".to_vec();
    v.resize(2500, b'B');
    v
}

/// (server pid, client pid, port) printed by a script.
fn pids(r: &Recording) -> (u32, u32, u16) {
    let out = String::from_utf8_lossy(&r.out.stdout).into_owned();
    let line = out
        .lines()
        .find(|l| l.split_whitespace().count() == 3)
        .unwrap_or_else(|| panic!("no pid line in stdout {out:?}\n{}", r.stderr()));
    let v: Vec<u32> = line
        .split_whitespace()
        .map(|x| x.parse().expect("number"))
        .collect();
    (v[0], v[1], v[2] as u16)
}

fn only<'a, T>(
    r: &'a Recording,
    what: &str,
    f: impl Fn(&'a Event) -> Option<&'a T>,
) -> (&'a Event, &'a T) {
    let v: Vec<(&Event, &T)> = r
        .events
        .iter()
        .filter_map(|e| f(e).map(|x| (e, x)))
        .collect();
    assert_eq!(v.len(), 1, "exactly one {what}\n{}", r.dump());
    v[0]
}

fn tcp_exchange(v6: bool) {
    let (fam, host, ip) = if v6 {
        ("6", "::1", IpAddr::V6(Ipv6Addr::LOCALHOST))
    } else {
        ("4", "127.0.0.1", IpAddr::V4(Ipv4Addr::LOCALHOST))
    };
    let r = record(
        &[],
        &["/usr/bin/python3", "-c", TCP_SCRIPT, fam, host],
        None,
    );
    assert_eq!(r.code(), Some(0), "{}", r.stderr());
    let (server, client, port) = pids(&r);
    assert_ne!(server, client);
    let server_addr = SocketAddr::new(ip, port);

    // connect by the client, to the server's port, succeeded.
    let (ce, c) = only(&r, "client connect", |e| match &e.kind {
        EventKind::Connect(c) if e.pid == client => Some(c),
        _ => None,
    });
    assert_eq!(ce.tid, client);
    assert_eq!(c.ret, 0);
    assert_eq!(c.sock.proto(), "tcp");
    assert_eq!(c.sock.remote(), Some(server_addr), "{c:?}");
    let client_addr = c.sock.local().expect("client local");
    assert_eq!(client_addr.ip(), ip);
    assert_ne!(client_addr.port(), 0);
    if v6 {
        assert_eq!(c.sock.family, AF_INET6);
    }

    // accept by the server: local = listening side, remote = the client's end.
    let (_, a) = only(&r, "server accept", |e| match &e.kind {
        EventKind::Accept(a) if e.pid == server => Some(a),
        _ => None,
    });
    assert!(a.ret >= 0);
    assert_eq!(a.sock.local(), Some(server_addr), "{a:?}");
    assert_eq!(a.sock.remote(), Some(client_addr), "{a:?}");
    assert!(
        !r.events
            .iter()
            .any(|e| e.pid == client && matches!(e.kind, EventKind::Accept(_))),
        "{}",
        r.dump()
    );

    // listen and bind by the server.
    let (_, l) = only(&r, "listen", |e| match &e.kind {
        EventKind::Listen(l) if e.pid == server => Some(l),
        _ => None,
    });
    assert_eq!((l.ret, l.backlog), (0, 7));
    assert_eq!(l.sock.local(), Some(server_addr));
    let (_, b) = only(&r, "bind", |e| match &e.kind {
        EventKind::Bind(b) if e.pid == server => Some(b),
        _ => None,
    });
    assert_eq!(b.ret, 0);
    assert_eq!(b.sock.local(), Some(server_addr));

    // One close per side, attributed to its owner, with exact byte counts.
    let close_of = |pid: u32, sock: &Sock| {
        only(&r, "close", move |e| match &e.kind {
            EventKind::SockClose(x) if e.pid == pid && x.sock.cookie == sock.cookie => Some(x),
            _ => None,
        })
    };
    let (cle, cl) = close_of(client, &c.sock);
    assert_eq!(cle.tid, client);
    assert_eq!((cl.bytes_sent, cl.bytes_received), (1000, 2500), "{cl:?}");
    assert_eq!(cl.sock.local(), Some(client_addr));
    assert_eq!(cl.sock.remote(), Some(server_addr));
    assert!(cl.duration_ns > 0 && cl.duration_ns < 60_000_000_000);
    let (sle, sl) = close_of(server, &a.sock);
    assert_eq!(sle.tid, server);
    assert_eq!((sl.bytes_sent, sl.bytes_received), (2500, 1000), "{sl:?}");
    assert_eq!(sl.sock.local(), Some(server_addr));
    assert_eq!(sl.sock.remote(), Some(client_addr));
    assert_eq!(
        r.events
            .iter()
            .filter(|e| matches!(e.kind, EventKind::SockClose(_)))
            .count(),
        2,
        "{}",
        r.dump()
    );

    // Snippets: the first 256 bytes of each direction, on each side.
    let snip = |pid: u32, inbound: bool| {
        only(&r, "snippet", move |e| match &e.kind {
            EventKind::Snippet(s) if e.pid == pid && s.inbound() == inbound => Some(s),
            _ => None,
        })
        .1
    };
    let check = |s: &wire::Snippet, want: &[u8], total: u32| {
        assert_eq!(s.total_len, total, "{s:?}");
        assert_eq!(s.data.0.len(), 256, "{s:?}");
        assert_eq!(&s.data.0[..], &want[..256]);
        assert_eq!(
            s.flags & wire::net::SNIPPET_TRUNCATED,
            wire::net::SNIPPET_TRUNCATED
        );
    };
    let out = snip(client, false);
    check(out, &req(), 1000);
    assert!(out.data.0.starts_with(b"GET /x HTTP/1.1\r\n"));
    assert_eq!(out.sock.cookie, c.sock.cookie);
    // Cookies are scrambled: no kernel address (0xffff... on x86_64) lands in a trace.
    assert_ne!(
        c.sock.cookie >> 48,
        0xffff,
        "cookie {:#x} looks like a kernel pointer",
        c.sock.cookie
    );
    assert_ne!(
        a.sock.cookie >> 48,
        0xffff,
        "cookie {:#x} looks like a kernel pointer",
        a.sock.cookie
    );
    let back = snip(client, true);
    assert!(back.data.0.starts_with(b"HTTP/1.1 200 OK\r\n"));
    assert_eq!(&back.data.0[..], &resp()[..256]);
    // The server's first recv returns what had arrived: at most the whole request.
    let sin = snip(server, true);
    assert!(sin.total_len >= 256 && sin.total_len <= 1000, "{sin:?}");
    assert_eq!(&sin.data.0[..], &req()[..256]);
    assert_eq!(sin.sock.cookie, a.sock.cookie);
    check(snip(server, false), &resp(), 2500);
}

#[test]
fn tcp_loopback_both_ends() {
    if !root_or_skip("tcp_loopback_both_ends") {
        return;
    }
    tcp_exchange(false);
}

#[test]
fn tcp_ipv6_loopback_both_ends() {
    if !root_or_skip("tcp_ipv6_loopback_both_ends") {
        return;
    }
    tcp_exchange(true);
}

/// A DNS responder on 127.0.0.53:53 in a fresh network namespace (recvmsg/sendmsg), a
/// client in a forked child (sendto/recvfrom).
const DNS_SCRIPT: &str = r#"
import os, socket, sys
query = bytes.fromhex("beef01000001000000000000076578616d706c6503636f6d0000010001")
answer = bytes.fromhex("beef81800001000100000000076578616d706c6503636f6d0000010001c00c000100010000012c00045db8d822")
srv = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
srv.bind(("127.0.0.53", 53))
pid = os.fork()
if pid == 0:
    c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    c.sendto(query, ("127.0.0.53", 53))
    data, addr = c.recvfrom(512)
    assert data == answer and addr == ("127.0.0.53", 53)
    os._exit(0)
data, _, _, addr = srv.recvmsg(512)
assert data == query
srv.sendmsg([answer], [], 0, addr)
print(os.getpid(), pid, addr[1], flush=True)
_, st = os.waitpid(pid, 0)
sys.exit(1 if st else 0)
"#;

const DNS_QUERY: &str = "beef01000001000000000000076578616d706c6503636f6d0000010001";
const DNS_ANSWER: &str =
    "beef81800001000100000000076578616d706c6503636f6d0000010001c00c000100010000012c00045db8d822";

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

#[test]
fn dns_over_loopback_udp() {
    if !root_or_skip("dns_over_loopback_udp") {
        return;
    }
    let script = format!("ip link set lo up && exec /usr/bin/python3 -c '{DNS_SCRIPT}'");
    let r = record(
        &[],
        &["/usr/bin/unshare", "--net", "/bin/sh", "-c", &script],
        None,
    );
    assert_eq!(r.code(), Some(0), "{}", r.stderr());
    let (server, client, cport) = pids(&r);
    let dns_addr: SocketAddr = "127.0.0.53:53".parse().expect("addr");
    let client_addr: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), cport);
    let (query, answer) = (unhex(DNS_QUERY), unhex(DNS_ANSWER));

    let dns = |pid: u32, inbound: bool| {
        only(&r, "dns record", move |e| match &e.kind {
            EventKind::Dns(s) if e.pid == pid && s.inbound() == inbound => Some(s),
            _ => None,
        })
        .1
    };
    // Client: the query out, the answer in, both with the responder as the remote end.
    let q = dns(client, false);
    assert_eq!(q.data.0, query);
    assert_eq!(q.total_len as usize, query.len());
    assert_eq!(q.flags, 0);
    assert_eq!(q.sock.remote(), Some(dns_addr), "{q:?}");
    assert_eq!(q.sock.lport, cport);
    let a = dns(client, true);
    assert_eq!(a.data.0, answer);
    assert_eq!(a.total_len as usize, answer.len());
    assert_eq!(a.flags, wire::net::SNIPPET_INBOUND);
    assert_eq!(a.sock.remote(), Some(dns_addr), "{a:?}");
    assert_eq!(q.sock.cookie, a.sock.cookie);
    // Responder: the query in from the client, the answer out to it.
    let sq = dns(server, true);
    assert_eq!(sq.data.0, query);
    assert_eq!(sq.sock.local(), Some(dns_addr));
    assert_eq!(sq.sock.remote(), Some(client_addr), "{sq:?}");
    let sa = dns(server, false);
    assert_eq!(sa.data.0, answer);
    assert_eq!(sa.sock.remote(), Some(client_addr), "{sa:?}");

    // The UDP records of the same datagrams.
    let (_, send) = only(&r, "client udp send", |e| match &e.kind {
        EventKind::UdpSend(u) if e.pid == client => Some(u),
        _ => None,
    });
    assert_eq!(
        (send.len as usize, send.ret as usize),
        (query.len(), query.len())
    );
    assert_eq!(send.sock.remote(), Some(dns_addr));
    let (_, recv) = only(&r, "client udp recv", |e| match &e.kind {
        EventKind::UdpRecv(u) if e.pid == client => Some(u),
        _ => None,
    });
    assert_eq!(recv.ret as usize, answer.len());
    assert_eq!(recv.sock.remote(), Some(dns_addr));
    let (_, srecv) = only(&r, "server udp recv", |e| match &e.kind {
        EventKind::UdpRecv(u) if e.pid == server => Some(u),
        _ => None,
    });
    assert_eq!(srecv.ret as usize, query.len());
    assert_eq!(srecv.sock.remote(), Some(client_addr));
    // Nothing TCP here.
    assert!(!r
        .events
        .iter()
        .any(|e| matches!(e.kind, EventKind::Snippet(_) | EventKind::SockClose(_))));
}

#[test]
fn net_class_can_be_turned_off() {
    if !root_or_skip("net_class_can_be_turned_off") {
        return;
    }
    let r = record(
        &["--classes", "process"],
        &["/usr/bin/python3", "-c", TCP_SCRIPT, "4", "127.0.0.1"],
        None,
    );
    assert_eq!(r.code(), Some(0), "{}", r.stderr());
    assert!(
        !r.events.iter().any(|e| matches!(
            e.kind,
            EventKind::Connect(_)
                | EventKind::Accept(_)
                | EventKind::SockClose(_)
                | EventKind::Snippet(_)
        )),
        "{}",
        r.dump()
    );
}

/// A unix stream socket bound and connected by path: the path is in both records.
const UNIX_SCRIPT: &str = r#"
import os, socket
srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
srv.bind("rw.sock")
srv.listen(1)
c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
c.connect("rw.sock")
conn, _ = srv.accept()
c.sendall(b"hi")
assert conn.recv(2) == b"hi"
"#;

#[test]
fn unix_socket_paths() {
    if !root_or_skip("unix_socket_paths") {
        return;
    }
    let r = record(&[], &["/usr/bin/python3", "-c", UNIX_SCRIPT], None);
    assert_eq!(r.code(), Some(0), "{}", r.stderr());
    let (_, b) = only(&r, "unix bind", |e| match &e.kind {
        EventKind::Bind(b) => Some(b),
        _ => None,
    });
    assert_eq!(
        (b.ret, b.sock.family, b.path.0.as_slice()),
        (0, 1, &b"rw.sock"[..])
    );
    let (_, c) = only(&r, "unix connect", |e| match &e.kind {
        EventKind::Connect(c) => Some(c),
        _ => None,
    });
    assert_eq!(
        (c.ret, c.sock.family, c.path.0.as_slice()),
        (0, 1, &b"rw.sock"[..])
    );
    assert_eq!(c.sock.sock_type, 1);
    // Unix streams are not TCP: no snippet, no close record.
    assert!(!r
        .events
        .iter()
        .any(|e| matches!(e.kind, EventKind::Snippet(_) | EventKind::SockClose(_))));
}

/// Connects whose outcome comes after the call: a non-blocking connect to a closed port
/// (refused after EINPROGRESS), one to a listening port (established), and a blocking one
/// to a closed port (refused in the call). The kernel's `conn_result` says which, the
/// failed ones leave no close record, and the analyzer shows "refused", never "connected".
const CONNECT_OUTCOMES: &str = r#"
import errno, os, select, socket
def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p
closed = free_port()
srv = socket.socket(); srv.bind(("127.0.0.1", 0)); srv.listen(4)
open_port = srv.getsockname()[1]
def nb(port):
    c = socket.socket(); c.setblocking(False)
    r = c.connect_ex(("127.0.0.1", port))
    select.select([], [c], [], 5)
    e = c.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
    return c, r, e
c1, r1, e1 = nb(closed)
c2, r2, e2 = nb(open_port)
b = socket.socket()
r3 = b.connect_ex(("127.0.0.1", closed))
print(closed, open_port, r1, e1, r2, e2, r3, flush=True)
srv.accept()[0].close(); c2.close(); c1.close(); b.close()
"#;

#[test]
fn connect_outcomes_come_from_the_kernel() {
    if !root_or_skip("connect_outcomes_come_from_the_kernel") {
        return;
    }
    let r = record(&[], &["/usr/bin/python3", "-c", CONNECT_OUTCOMES], None);
    assert_eq!(r.code(), Some(0), "{}", r.stderr());
    let out = String::from_utf8_lossy(&r.out.stdout).into_owned();
    let v: Vec<i64> = out
        .split_whitespace()
        .map(|x| x.parse().expect("number"))
        .collect();
    let (closed, open) = (v[0] as u16, v[1] as u16);
    // What the program saw: EINPROGRESS then ECONNREFUSED; EINPROGRESS then 0;
    // ECONNREFUSED from the blocking call.
    assert_eq!(&v[2..], &[115, 111, 115, 0, 111], "{out}");

    let connects: Vec<&wire::Connect> = r
        .events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Connect(c) if c.sock.rport == closed || c.sock.rport == open => Some(c),
            _ => None,
        })
        .collect();
    assert_eq!(
        connects.iter().map(|c| c.ret).collect::<Vec<_>>(),
        vec![-115, -115, -111],
        "{}",
        r.dump()
    );
    let results: Vec<(u64, &wire::ConnResult)> = r
        .events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::ConnResult(x) => Some((x.sock.cookie, x)),
            _ => None,
        })
        .collect();
    let result_of = |c: &wire::Connect| {
        let v: Vec<&wire::ConnResult> = results
            .iter()
            .filter(|(k, _)| *k == c.sock.cookie)
            .map(|(_, x)| *x)
            .collect();
        assert_eq!(v.len(), 1, "one result for {c:?}\n{}", r.dump());
        v[0]
    };
    let refused = result_of(connects[0]);
    assert!(!refused.established() && refused.err == 111, "{refused:?}");
    let ok = result_of(connects[1]);
    assert!(ok.established() && ok.err == 0, "{ok:?}");
    assert_eq!(ok.sock.rport, open);
    let blocking = result_of(connects[2]);
    assert!(
        !blocking.established() && blocking.err == 111,
        "{blocking:?}"
    );
    // Never established: no close record for the refused sockets.
    for c in [connects[0], connects[2]] {
        assert!(
            !r.events.iter().any(|e| matches!(&e.kind,
                EventKind::SockClose(x) if x.sock.cookie == c.sock.cookie)),
            "{}",
            r.dump()
        );
    }
}
