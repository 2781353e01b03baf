//! A large synthetic workload for benchmarks: a busy host with a bounded set of live
//! processes that keep forking, exec'ing and exiting (so the trace holds far more
//! processes than are ever alive at once), opening files, mapping libraries, connecting
//! with HTTP snippets, resolving names, and the odd privilege change and signal.
//! Deterministic for a given seed.

use rewind_schema::builder::TraceBuilder;
use rewind_schema::wire::{self, ByteString, Payload, Sock};
use rewind_schema::writer::Rotation;
use rewind_schema::{EventKind, TraceError};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const PATHS: &[&str] = &[
    "/etc/ld.so.cache",
    "/etc/passwd",
    "/etc/group",
    "/etc/nsswitch.conf",
    "/etc/hosts",
    "/etc/resolv.conf",
    "/proc/self/status",
    "/usr/lib/locale/locale-archive",
    "/tmp/build/obj/main.o",
    "/tmp/build/obj/util.o",
    "/home/dev/.cache/pip/http/a/b/c",
    "/var/log/syslog",
    "/etc/ssl/certs/ca-certificates.crt",
    "/root/.bash_history",
    "/var/lib/dpkg/status",
    "/usr/lib/python3.11/os.py",
];
const LIBS: &[&str] = &[
    "/usr/lib/x86_64-linux-gnu/libc.so.6",
    "/usr/lib/x86_64-linux-gnu/libz.so.1",
    "/usr/lib/x86_64-linux-gnu/libssl.so.3",
];
const EXES: &[(&str, &[&str])] = &[
    (
        "/usr/bin/cc",
        &["cc", "-O2", "-c", "main.c", "-o", "obj/main.o"],
    ),
    ("/bin/sh", &["sh", "-c", "make -j2 all"]),
    ("/usr/bin/git", &["git", "status", "--porcelain"]),
    (
        "/usr/bin/curl",
        &["curl", "-sSL", "http://svc.internal:8080/health"],
    ),
    (
        "/usr/bin/python3",
        &["python3", "-m", "pip", "install", "-r", "req.txt"],
    ),
];

fn lo(last: u8, port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, last], port))
}

/// A DNS query or answer for `svc<N>.internal` -> 127.0.0.N.
fn dns(id: u16, n: u8, answer: bool) -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(&id.to_be_bytes());
    b.extend_from_slice(if answer { &[0x81, 0x80] } else { &[0x01, 0x00] });
    b.extend_from_slice(&[0, 1, 0, u8::from(answer), 0, 0, 0, 0]);
    let label = format!("svc{n}");
    b.push(label.len() as u8);
    b.extend_from_slice(label.as_bytes());
    b.push(8);
    b.extend_from_slice(b"internal");
    b.push(0);
    b.extend_from_slice(&[0, 1, 0, 1]);
    if answer {
        b.extend_from_slice(&[0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 127, 0, 0, n]);
    }
    b
}

/// Writes `events` events (about) to `path`, rotating every `segment_events`.
pub fn write(path: &Path, events: u64, segment_events: u64) -> Result<Vec<PathBuf>, TraceError> {
    let mut b = TraceBuilder::new(path).rotation(Rotation {
        max_records: Some(segment_events),
        ..Default::default()
    });
    b = b.existing(1, 0, "/sbin/init", &["/sbin/init"], 0);
    let mut live: Vec<u32> = Vec::new();
    for pid in 100..300u32 {
        b = b.existing(pid, 1, "/usr/sbin/worker", &["worker", "--serve"], 1000);
        live.push(pid);
    }
    let mut b = b.create()?;
    let mut r = Rng(0x9e37_79b9_7f4a_7c15);
    let mut ts = b.start_ns() + 1_000_000_000;
    let mut next_pid = 10_000u32;
    let mut open_conns: Vec<(u32, Sock)> = Vec::new();
    let mut depth: std::collections::HashMap<u32, u32> = std::collections::HashMap::new();
    let mut n = 0u64;
    while n < events {
        // About 1 k events/s on average (5 M events span some 80 minutes).
        ts += 200_000 + r.below(1_600_000);
        let pid = live[r.below(live.len() as u64) as usize];
        let pick = r.below(1000);
        match pick {
            // Services fork helpers, helpers fork tools, tools rarely go deeper: the
            // tree stays shallow as on real hosts.
            0..=9 if depth.get(&pid).copied().unwrap_or(0) < 3 => {
                let child = next_pid;
                depth.insert(child, depth.get(&pid).copied().unwrap_or(0) + 1);
                next_pid = if next_pid >= 4_000_000 {
                    10_000
                } else {
                    next_pid + 1
                };
                b.fork(ts, pid, child)?;
                let (exe, argv) = EXES[r.below(EXES.len() as u64) as usize];
                b.exec(ts + 5_000, child, pid, exe, argv)?;
                live.push(child);
                n += 2;
            }
            // Helpers and tools exit; the 200 services (pids below 10 000) stay.
            10..=19 if live.len() > 260 => {
                let i = 200 + r.below(live.len() as u64 - 200) as usize;
                let victim = live.swap_remove(i);
                depth.remove(&victim);
                b.exit(ts, victim, (r.below(3)) as u8)?;
                n += 1;
                // The kernel closes the sockets of a process that exits.
                let mut k = 0;
                while k < open_conns.len() {
                    if open_conns[k].0 == victim {
                        let (_, sock) = open_conns.swap_remove(k);
                        let c = wire::SockClose {
                            sock,
                            bytes_sent: 90,
                            bytes_received: 0,
                            duration_ns: 1_000_000,
                        };
                        b.event(ts + 1_000, victim, EventKind::SockClose(c))?;
                        n += 1;
                    } else {
                        k += 1;
                    }
                }
            }
            10..=559 => {
                let path = PATHS[r.below(PATHS.len() as u64) as usize];
                let o = wire::Open {
                    ino: 1000 + r.below(5000),
                    ret: if r.below(10) == 0 { -2 } else { 3 },
                    open_flags: if r.below(5) == 0 { 0o1101 } else { 0 },
                    mode: 0o100644,
                    dev: 0x801,
                    flags: 0,
                    path: ByteString::from(path),
                };
                b.event(ts, pid, EventKind::Open(o))?;
                n += 1;
            }
            560..=679 => {
                let m = wire::MmapExec {
                    ino: 2000 + r.below(100),
                    dev: 0x801,
                    prot: 5,
                    flags: 0x802,
                    path: ByteString::from(LIBS[r.below(LIBS.len() as u64) as usize]),
                };
                b.event(ts, pid, EventKind::MmapExec(m))?;
                n += 1;
            }
            680..=759 => {
                let svc = 1 + r.below(20) as u8;
                let sock = Sock::tcp(
                    r.next(),
                    lo(1, 40_000 + r.below(20_000) as u16),
                    lo(svc, 8080),
                );
                b.event(
                    ts,
                    pid,
                    EventKind::Connect(wire::Connect {
                        sock,
                        ret: -115,
                        path: ByteString::default(),
                    }),
                )?;
                let s = wire::Snippet {
                    sock,
                    total_len: 90,
                    flags: 0,
                    data: Payload::from(
                        "GET /health HTTP/1.1\r\nHost: svc.internal:8080\r\nUser-Agent: curl/8.5.0\r\n\r\n",
                    ),
                };
                b.event(ts + 20_000, pid, EventKind::Snippet(s))?;
                open_conns.push((pid, sock));
                n += 2;
            }
            760..=839 if !open_conns.is_empty() => {
                let (owner, sock) = open_conns.swap_remove(0);
                let s = wire::Snippet {
                    sock,
                    total_len: 60,
                    flags: wire::net::SNIPPET_INBOUND,
                    data: Payload::from("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"),
                };
                b.event(ts, owner, EventKind::Snippet(s))?;
                let c = wire::SockClose {
                    sock,
                    bytes_sent: 90,
                    bytes_received: 60 + r.below(4096),
                    duration_ns: 1_000_000 + r.below(50_000_000),
                };
                b.event(ts + 10_000, owner, EventKind::SockClose(c))?;
                n += 2;
            }
            840..=899 => {
                let svc = 1 + r.below(20) as u8;
                let id = r.below(65536) as u16;
                let sock = Sock::udp(r.next(), lo(1, 50_000 + r.below(10_000) as u16), lo(53, 53));
                let q = wire::Snippet {
                    sock,
                    total_len: 0,
                    flags: 0,
                    data: Payload(dns(id, svc, false)),
                };
                b.event(ts, pid, EventKind::Dns(q))?;
                let a = wire::Snippet {
                    sock,
                    total_len: 0,
                    flags: wire::net::SNIPPET_INBOUND,
                    data: Payload(dns(id, svc, true)),
                };
                b.event(ts + 30_000, pid, EventKind::Dns(a))?;
                n += 2;
            }
            900..=989 => {
                let s = wire::Signal {
                    target: live[r.below(live.len() as u64) as usize],
                    sig: 15,
                    ret: 0,
                    syscall: 62,
                };
                b.event(ts, pid, EventKind::Signal(s))?;
                n += 1;
            }
            _ => {
                let c = wire::Cred {
                    old: wire::Creds {
                        uid: 1000,
                        euid: 1000,
                        suid: 1000,
                        fsuid: 1000,
                        gid: 1000,
                        egid: 1000,
                        sgid: 1000,
                        fsgid: 1000,
                    },
                    new: wire::Creds::default(),
                    syscall: 105,
                    ret: 0,
                };
                b.event(ts, pid, EventKind::Cred(c))?;
                n += 1;
            }
        }
    }
    b.finish()
}
