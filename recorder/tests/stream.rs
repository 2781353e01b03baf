//! Payload snippets gathered across calls: the first N bytes of each TCP direction however
//! the application splits them (a 5-byte read of a TLS-style header first, writev with
//! several iovecs), stream offsets from the kernel's TCP state (so bytes sent with
//! sendfile, which has no snippet, leave a visible gap), and DNS queries sent with
//! glibc's sendmmsg (its resolver asks for A and AAAA in one call).

mod common;
use common::*;
use rewind_schema::wire::{self, Snippet};
use rewind_schema::EventKind;

/// Client (forked child) sends "abc", 100 bytes with sendfile(2), then 309 bytes with
/// send(2); reads the answer 5 bytes first, then the rest. Server reads 5, then 20, then
/// the rest, and answers with one writev(2) of three iovecs.
const SCRIPT: &str = r#"
import os, socket, sys, tempfile
head = b"abc"
filed = bytes(range(100))
tail = b"after-gap" + b"z" * 300
stream = head + filed + tail
parts = [b"HTTP/1.1 200 OK\r\n", b"X" * 50, b"Y" * 300]
resp = b"".join(parts)
fd, path = tempfile.mkstemp()
os.write(fd, filed)
os.close(fd)
srv = socket.socket()
srv.bind(("127.0.0.1", 0))
srv.listen(1)
port = srv.getsockname()[1]
pid = os.fork()
if pid == 0:
    srv.close()
    c = socket.create_connection(("127.0.0.1", port))
    c.sendall(head)
    with open(path, "rb") as f:
        assert os.sendfile(c.fileno(), f.fileno(), 0, len(filed)) == len(filed)
    c.sendall(tail)
    got = c.recv(5)
    while len(got) < len(resp):
        d = c.recv(65536)
        if not d:
            break
        got += d
    assert got == resp, len(got)
    c.close()
    os._exit(0)
print(os.getpid(), pid, port, flush=True)
conn, _ = srv.accept()
got = conn.recv(5)
got += conn.recv(20)
while len(got) < len(stream):
    got += conn.recv(65536)
assert got == stream
os.writev(conn.fileno(), parts)
assert conn.recv(1) == b""
conn.close()
os.unlink(path)
_, st = os.waitpid(pid, 0)
sys.exit(1 if st else 0)
"#;

fn stream_bytes() -> Vec<u8> {
    let mut v = b"abc".to_vec();
    v.extend(0..100u8);
    v.extend_from_slice(b"after-gap");
    v.resize(v.len() + 300, b'z');
    v
}

fn resp_bytes() -> Vec<u8> {
    let mut v = b"HTTP/1.1 200 OK\r\n".to_vec();
    v.resize(v.len() + 50, b'X');
    v.resize(v.len() + 300, b'Y');
    v
}

/// "A B C" numbers printed by a script.
fn numbers(r: &Recording) -> Vec<u32> {
    let out = String::from_utf8_lossy(&r.out.stdout).into_owned();
    let line = out
        .lines()
        .next()
        .unwrap_or_else(|| panic!("no output {out:?}\n{}", r.stderr()));
    line.split_whitespace()
        .map_while(|x| x.parse().ok())
        .collect()
}

/// Snippets of one process and direction, by stream offset.
fn snippets(r: &Recording, pid: u32, inbound: bool) -> Vec<&Snippet> {
    let mut v: Vec<&Snippet> = r
        .events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Snippet(s) if e.pid == pid && s.inbound() == inbound => Some(s),
            _ => None,
        })
        .collect();
    v.sort_by_key(|s| s.offset());
    v
}

/// Every snippet holds exactly the stream's bytes at its offset; returns the byte ranges.
fn check_against(what: &str, v: &[&Snippet], stream: &[u8]) -> Vec<(usize, usize)> {
    v.iter()
        .map(|s| {
            let off = s.offset() as usize;
            let end = off + s.data.0.len();
            assert!(end <= stream.len(), "{what}: {s:?}");
            assert_eq!(&s.data.0[..], &stream[off..end], "{what} at offset {off}");
            (off, end)
        })
        .collect()
}

#[test]
fn snippets_accumulate_across_calls_with_kernel_offsets() {
    if !root_or_skip("snippets_accumulate_across_calls_with_kernel_offsets") {
        return;
    }
    let r = record(&[], &["/usr/bin/python3", "-c", SCRIPT], None);
    assert_eq!(r.code(), Some(0), "{}", r.stderr());
    let n = numbers(&r);
    let (server, client) = (n[0], n[1]);
    let (stream, resp) = (stream_bytes(), resp_bytes());

    // Server, inbound: 5 bytes, then up to 20, then the rest up to 256, contiguous.
    let sin = snippets(&r, server, true);
    let ranges = check_against("server inbound", &sin, &stream);
    assert_eq!(ranges.first().map(|x| x.0), Some(0), "{sin:?}");
    assert!(ranges.windows(2).all(|w| w[0].1 == w[1].0), "{ranges:?}");
    assert_eq!(ranges.last().map(|x| x.1), Some(256), "{ranges:?}");
    assert!(sin[0].data.0.len() <= 5 && sin.len() >= 3, "{sin:?}");

    // Client, outbound: "abc" at 0, then (after the 100 sendfile bytes, not captured)
    // the tail at offset 103 up to the limit.
    let cout = snippets(&r, client, false);
    let ranges = check_against("client outbound", &cout, &stream);
    assert_eq!(ranges, vec![(0, 3), (103, 256)], "{cout:?}");
    assert_eq!(cout[1].total_len, 309);
    assert_eq!(
        cout[1].flags & wire::net::SNIPPET_TRUNCATED,
        wire::net::SNIPPET_TRUNCATED
    );
    assert_eq!(cout[0].flags & wire::net::SNIPPET_TRUNCATED, 0);

    // Server, outbound: one writev of three iovecs, gathered into one 256-byte snippet.
    let sout = snippets(&r, server, false);
    assert_eq!(sout.len(), 1, "{sout:?}");
    assert_eq!(
        check_against("server outbound", &sout, &resp),
        vec![(0, 256)]
    );
    assert_eq!(sout[0].total_len as usize, resp.len());

    // Client, inbound: the 5-byte header read, then the rest from offset 5.
    let cin = snippets(&r, client, true);
    let ranges = check_against("client inbound", &cin, &resp);
    assert_eq!(ranges, vec![(0, 5), (5, 256)], "{cin:?}");
    // Both ends of one direction name the same stream bytes.
    assert_eq!(sin[0].sock.rport, cout[0].sock.lport);
}

/// A responder on 127.0.0.53:53 in a private network and mount namespace whose
/// /etc/resolv.conf points at it; the client resolves a name with getaddrinfo (glibc:
/// A and AAAA in one sendmmsg).
const RESOLVE: &str = r#"
import os, socket, struct, sys
srv = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
srv.bind(("127.0.0.53", 53))
pid = os.fork()
if pid == 0:
    srv.close()
    infos = socket.getaddrinfo("rewind-test.example", 80, socket.AF_UNSPEC, socket.SOCK_STREAM)
    assert ("10.9.8.7", 80) in [i[4] for i in infos], infos
    os._exit(0)
srv.settimeout(10)
answered = []
while len(answered) < 2:
    q, _, _, addr = srv.recvmsg(512)
    qid = struct.unpack("!H", q[:2])[0]
    end = 12
    while q[end]:
        end += 1 + q[end]
    qtype = struct.unpack("!H", q[end + 1:end + 3])[0]
    if qtype == 1:
        ans, n = b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 60, 4) + bytes([10, 9, 8, 7]), 1
    else:
        ans, n = b"", 0
    srv.sendmsg([struct.pack("!HHHHHH", qid, 0x8180, 1, n, 0, 0) + q[12:end + 5] + ans], [], 0, addr)
    answered.append(qtype)
print(os.getpid(), pid, flush=True)
_, st = os.waitpid(pid, 0)
sys.exit(1 if st else 0)
"#;

#[test]
fn dns_queries_sent_with_sendmmsg() {
    if !root_or_skip("dns_queries_sent_with_sendmmsg") {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let resolv = dir.path().join("resolv.conf");
    let nss = dir.path().join("nsswitch.conf");
    std::fs::write(&resolv, "nameserver 127.0.0.53\n").expect("resolv.conf");
    std::fs::write(&nss, "hosts: dns\n").expect("nsswitch.conf");
    // unshare makes the new mount namespace private: the bind mounts never reach the host.
    let script = format!(
        "ip link set lo up && mount --bind {} /etc/resolv.conf && mount --bind {} \
         /etc/nsswitch.conf && exec /usr/bin/python3 -c '{RESOLVE}'",
        resolv.display(),
        nss.display()
    );
    let r = record(
        &[],
        &[
            "/usr/bin/unshare",
            "--net",
            "--mount",
            "/bin/sh",
            "-c",
            &script,
        ],
        None,
    );
    assert_eq!(r.code(), Some(0), "{}", r.stderr());
    let n = numbers(&r);
    let client = n[1];
    let queries: Vec<(&wire::Snippet, u16)> = r
        .events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Dns(s) if e.pid == client && !s.inbound() => Some(s),
            _ => None,
        })
        .map(|s| {
            let d = &s.data.0;
            let mut end = 12;
            while end < d.len() && d[end] != 0 {
                end += 1 + d[end] as usize;
            }
            (s, u16::from_be_bytes([d[end + 1], d[end + 2]]))
        })
        .collect();
    let mut types: Vec<u16> = queries.iter().map(|q| q.1).collect();
    types.sort();
    assert_eq!(types, vec![1, 28], "A and AAAA queries\n{}", r.dump());
    for (s, _) in &queries {
        assert_eq!(s.sock.rport, 53, "{s:?}");
        assert!(s.data.0.windows(11).any(|w| w == b"rewind-test"), "{s:?}");
        assert_eq!(s.total_len as usize, s.data.0.len());
    }
    // One UDP send record per datagram of the sendmmsg, with its own length.
    let sends: Vec<&wire::Udp> = r
        .events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::UdpSend(u) if e.pid == client && u.sock.rport == 53 => Some(u),
            _ => None,
        })
        .collect();
    assert_eq!(sends.len(), 2, "{sends:?}");
    let mut lens: Vec<u32> = sends.iter().map(|u| u.len).collect();
    let mut qlens: Vec<u32> = queries.iter().map(|q| q.0.total_len).collect();
    lens.sort();
    qlens.sort();
    assert_eq!(lens, qlens);
    // The answers came back in (recvfrom) and carry the A record.
    let answers = r
        .events
        .iter()
        .filter(|e| {
            e.pid == client && matches!(&e.kind, EventKind::Dns(s) if s.inbound() && s.data.0.ends_with(&[10, 9, 8, 7]))
        })
        .count();
    assert_eq!(answers, 1, "{}", r.dump());
}
