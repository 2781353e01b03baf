//! Shared helpers for the analyzer's end-to-end tests: running the binary, and a synthetic
//! trace with hostile names, DNS, and activity on two days.
#![allow(dead_code)]

use rewind_schema::builder::TraceBuilder;
use rewind_schema::meta::HostInfo;
use rewind_schema::wire::{self, Sock};
use rewind_schema::EventKind;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Runs the analyzer from the repository root.
pub fn analyzer(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_analyzer"))
        .args(args)
        .current_dir(root())
        .env("NO_COLOR", "1")
        .output()
        .expect("run analyzer")
}

pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Runs and insists on exit 0, returning stdout.
pub fn ok(args: &[&str]) -> String {
    let out = analyzer(args);
    assert_eq!(
        out.status.code(),
        Some(0),
        "analyzer {args:?} failed:\n{}",
        text(&out.stderr)
    );
    text(&out.stdout)
}

/// An executable path that tries to break out of a DOT string and add an edge.
pub const HOSTILE_EXE: &str = "/tmp/x\"]; evil -> pwned [label=\"\\\n{|}<>";
/// A file path with quotes, backslashes, a newline and an escape.
pub const HOSTILE_FILE: &str = "/tmp/a\"b\\c\nd\x1b[31m";
/// The name the DNS answer gives, and the address it resolves to.
pub const C2_NAME: &str = "c2.example";
pub const C2_ADDR: &str = "203.0.113.7:443";
/// Host name with path characters, for partition escaping.
pub const HOSTILE_HOST: &str = "../evil host";

const MS: u64 = 1_000_000;
const S: u64 = 1_000 * MS;
const H: u64 = 3_600 * S;

fn addr(s: &str) -> SocketAddr {
    s.parse().expect("addr")
}

fn dns_packet(reply: bool) -> Vec<u8> {
    use simple_dns::{rdata::RData, Name, Packet, Question, ResourceRecord, CLASS, QCLASS};
    let mut p = if reply {
        Packet::new_reply(7)
    } else {
        Packet::new_query(7)
    };
    p.questions.push(Question::new(
        Name::new_unchecked(C2_NAME),
        simple_dns::TYPE::A.into(),
        QCLASS::CLASS(CLASS::IN),
        false,
    ));
    if reply {
        p.answers.push(ResourceRecord::new(
            Name::new_unchecked(C2_NAME),
            CLASS::IN,
            60,
            RData::A(simple_dns::rdata::A {
                address: u32::from(std::net::Ipv4Addr::new(203, 0, 113, 7)),
            }),
        ));
    }
    p.build_bytes_vec().expect("dns packet")
}

/// A shell spawns a dropper with a hostile name; it writes a hostile file, resolves
/// c2.example, uploads to it (100 B sent, 2000 B received); 16 hours later (the next
/// UTC day) the shell runs `id`. Hostname: `host`.
pub fn dropper_trace(dir: &Path, host: &str) -> PathBuf {
    dropper_trace_on(dir, host, 2)
}

/// [`dropper_trace`] as recording number `n` (its own boot id and trace id), written to
/// `dir/dropper-N.zst`, so several hosts can be merged.
pub fn dropper_trace_on(dir: &Path, host: &str, n: u32) -> PathBuf {
    let path = dir.join(format!("dropper-{n}.zst"));
    let mut b = TraceBuilder::new(&path)
        .host(HostInfo {
            hostname: host.into(),
            machine_id: "0123456789abcdef0123456789abcdef".into(),
            kernel_release: "6.18.0-synthetic".into(),
            boot_id: format!("00000000-0000-4000-8000-{n:012}"),
            arch: "x86_64".into(),
            init_ns: None,
        })
        .trace_id(&format!("5e5e5e5e{n:024}"))
        .existing(1, 0, "/sbin/init", &["/sbin/init"], 0)
        .existing(500, 1, "/bin/bash", &["bash"], 0)
        .create()
        .expect("builder");
    let t = b.start_ns() + S;
    b.fork(t, 500, 600).expect("fork");
    b.exec(
        t + MS,
        600,
        500,
        HOSTILE_EXE,
        &[HOSTILE_EXE, "--flag=\"q\""],
    )
    .expect("exec");
    b.open(t + 2 * MS, 600, HOSTILE_FILE, 0o1101, 3)
        .expect("open");
    let local = addr("10.0.0.2:5353");
    let resolver = addr("10.0.0.53:53");
    for (i, reply) in [false, true].into_iter().enumerate() {
        let data = dns_packet(reply);
        let s = wire::Snippet {
            sock: Sock::udp(9, local, resolver),
            total_len: data.len() as u32,
            flags: if reply { wire::net::SNIPPET_INBOUND } else { 0 },
            data: wire::Payload(data),
        };
        b.event(t + (3 + i as u64) * MS, 600, EventKind::Dns(s))
            .expect("dns");
    }
    let me = addr("10.0.0.2:40000");
    let c2 = addr(C2_ADDR);
    b.connect(t + 10 * MS, 600, 10, me, c2, 0).expect("connect");
    b.close(t + 20 * MS, 600, 10, me, c2, 100, 2000, 10 * MS)
        .expect("close");
    b.exit(t + 30 * MS, 600, 0).expect("exit");
    // The next day (the synthetic clock starts 09:00 UTC).
    let t2 = t + 16 * H;
    b.fork(t2, 500, 601).expect("fork");
    b.exec(t2 + MS, 601, 500, "/usr/bin/id", &["id"])
        .expect("exec");
    b.exit(t2 + 2 * MS, 601, 0).expect("exit");
    b.finish().expect("finish");
    path
}

/// An interactive shell over a socket, a byte per read and write (issue 14.4): `id\n`
/// typed (3 pieces within microseconds), its output written a byte at a time, a pause of
/// a second, `ls\n`; then `ls` runs (a printed line) between two pieces of its output.
pub fn byte_per_snippet_session(dir: &std::path::Path) -> std::path::PathBuf {
    use rewind_schema::builder::TraceBuilder;
    use rewind_schema::wire::{self, Sock};
    use rewind_schema::EventKind;
    let path = dir.join("interactive.zst");
    let mut b = TraceBuilder::new(&path)
        .existing(1, 0, "/sbin/init", &["/sbin/init"], 0)
        .existing(650, 1, "/usr/bin/python3", &["python3", "x.py"], 0)
        .existing(700, 650, "/bin/bash", &["bash", "-i"], 0)
        .create()
        .expect("builder");
    let me: std::net::SocketAddr = "10.0.0.2:40000".parse().expect("addr");
    let attacker: std::net::SocketAddr = "203.0.113.9:4444".parse().expect("addr");
    let mut t = b.start_ns() + 1_000 * MS;
    // The parent connects; the shell uses the socket (its stdio): a reverse shell.
    b.connect(t, 650, 11, me, attacker, 0).expect("connect");
    let piece = |b: &mut TraceBuilder, t: u64, inbound: bool, byte: &[u8]| {
        let s = wire::Snippet {
            sock: Sock::tcp(11, me, attacker),
            total_len: byte.len() as u32,
            flags: if inbound {
                wire::net::SNIPPET_INBOUND
            } else {
                0
            },
            data: wire::Payload(byte.to_vec()),
        };
        b.event(t, 700, EventKind::Snippet(s)).expect("snippet");
    };
    for c in b"id\n" {
        t += 10_000;
        piece(&mut b, t, true, &[*c]);
    }
    for c in b"uid=0(root) gid=0(root)\n" {
        t += 50_000;
        piece(&mut b, t, false, &[*c]);
    }
    t += 1_000 * MS;
    for c in b"ls\n" {
        t += 150 * MS; // slow typing, still under the 200 ms gap
        piece(&mut b, t, true, &[*c]);
    }
    piece(&mut b, t + MS, false, b"a");
    b.fork(t + 2 * MS, 700, 701).expect("fork");
    b.exec(t + 3 * MS, 701, 700, "/usr/bin/ls", &["ls"])
        .expect("exec");
    piece(&mut b, t + 4 * MS, false, b"b");
    b.finish().expect("finish");
    path
}
