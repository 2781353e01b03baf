//! Format benchmark (not a timed test): write and read throughput in events/s and
//! bytes/event on disk for a realistic synthetic mix. Prints medians of several runs.
//!
//! `cargo bench -p rewind-schema --bench format [-- EVENTS RUNS]`

use rewind_schema::event::{self, Event, EventKind};
use rewind_schema::meta::{ClockAnchor, SegmentMeta};
use rewind_schema::reader::SegmentReader;
use rewind_schema::trace::TraceSet;
use rewind_schema::wire::{self, Argv, ByteString, Comm, Payload, Sock};
use rewind_schema::writer::{Rotation, TraceWriter, WriterOptions};
use std::net::SocketAddr;
use std::time::Instant;

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
    "/lib/x86_64-linux-gnu/libc.so.6",
    "/lib/x86_64-linux-gnu/libpthread.so.0",
    "/etc/passwd",
    "/etc/group",
    "/etc/nsswitch.conf",
    "/etc/hosts",
    "/etc/resolv.conf",
    "/proc/self/status",
    "/proc/meminfo",
    "/usr/lib/locale/locale-archive",
    "/tmp/build/obj/main.o",
    "/tmp/build/obj/util.o",
    "/home/dev/.cache/pip/http/a/b/c",
    "/var/log/syslog",
    "/dev/null",
    "/usr/share/zoneinfo/UTC",
    "/etc/ssl/certs/ca-certificates.crt",
    "/root/.bash_history",
    "/var/lib/dpkg/status",
    "/usr/lib/python3.11/os.py",
    "/usr/lib/python3.11/__pycache__/os.cpython-311.pyc",
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
        &["curl", "-sSL", "http://127.0.0.1:8080/health"],
    ),
    (
        "/usr/bin/python3",
        &["python3", "-m", "pip", "install", "-r", "requirements.txt"],
    ),
];

/// A mix close to a busy build/CI host: opens dominate, then library mappings, process
/// lifecycle, network with snippets, DNS, and a few privilege events.
fn make_events(n: usize) -> Vec<Event> {
    let mut r = Rng(0x2545_f491_4f6c_dd1d);
    let mut ts = 1_000_000_000_000u64;
    let mut out = Vec::with_capacity(n);
    let lo = |p: u16| SocketAddr::from(([127, 0, 0, 1], p));
    while out.len() < n {
        ts += 500 + r.below(3_000);
        let pid = 2000 + r.below(60) as u32;
        let cpu = r.below(2) as u16;
        let pick = r.below(1000);
        let kind = match pick {
            0..=549 => EventKind::Open(wire::Open {
                ino: 1000 + r.below(5000),
                ret: if r.below(10) == 0 { -2 } else { 3 + r.below(20) as i32 },
                open_flags: if r.below(5) == 0 { 0o1101 } else { 0o2000000 },
                mode: 0o644,
                dev: 0x801,
                flags: 0,
                path: ByteString::from(PATHS[r.below(PATHS.len() as u64) as usize]),
            }),
            550..=699 => EventKind::MmapExec(wire::MmapExec {
                ino: 2000 + r.below(100),
                dev: 0x801,
                prot: 5,
                flags: 0x802,
                path: ByteString::from(PATHS[1 + r.below(2) as usize]),
            }),
            700..=739 => EventKind::Fork(wire::Fork {
                child_start: ts,
                clone_flags: 0x1200011,
                child_pid: 10_000 + out.len() as u32,
                child_tid: 10_000 + out.len() as u32,
            }),
            740..=779 => {
                let (exe, argv) = EXES[r.below(EXES.len() as u64) as usize];
                EventKind::Exec(Box::new(wire::Exec {
                    proc_start: ts - 1_000_000,
                    cgroup_id: 0x1234,
                    exe_ino: 777,
                    cap_eff: 0,
                    cap_prm: 0,
                    ns: wire::Namespaces { mnt: 4026531841, pid: 4026531836, net: 4026531840, uts: 4026531838, ipc: 4026531839, user: 4026531837, cgroup: 4026531835, time: 4026531834 },
                    ppid: pid - 1,
                    uid: 1000,
                    gid: 1000,
                    euid: 1000,
                    egid: 1000,
                    auid: 1000,
                    sessionid: 3,
                    exe_dev: 0x801,
                    exe_mode: 0o100755,
                    tty: 0x8801,
                    argc: argv.len() as u32,
                    flags: 0,
                    comm: Comm::new(argv[0]),
                    filename: ByteString::from(exe),
                    argv: Argv(argv.iter().map(|a| ByteString::from(*a)).collect()),
                    cwd: ByteString::from("/home/dev/src/project"),
                    cgroup: ByteString::from("/user.slice/user-1000.slice/session-3.scope"),
                }))
            }
            780..=819 => EventKind::Exit(wire::Exit { proc_start: ts - 5_000_000, status: 0, flags: 1 }),
            820..=869 => EventKind::Connect(wire::Connect {
                sock: Sock::tcp(r.next(), lo(40_000 + r.below(20_000) as u16), lo(8080)),
                ret: -115,
                path: ByteString::default(),
            }),
            870..=909 => EventKind::SockClose(wire::SockClose {
                sock: Sock::tcp(r.next(), lo(40_000 + r.below(20_000) as u16), lo(8080)),
                bytes_sent: r.below(4096),
                bytes_received: r.below(65536),
                duration_ns: r.below(50_000_000),
            }),
            910..=949 => EventKind::Snippet(wire::Snippet {
                sock: Sock::tcp(r.next(), lo(40_000 + r.below(20_000) as u16), lo(8080)),
                total_len: 120,
                flags: 0,
                data: Payload::from("GET /health HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: curl/8.5.0\r\nAccept: */*\r\n\r\n"),
            }),
            950..=979 => EventKind::Dns(wire::Snippet {
                sock: Sock::udp(r.next(), lo(50_000 + r.below(10_000) as u16), lo(53)),
                total_len: 40,
                flags: 0,
                data: Payload(b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x07example\x03com\x00\x00\x01\x00\x01".to_vec()),
            }),
            980..=989 => EventKind::Signal(wire::Signal { target: pid + 1, sig: 15, ret: 0, syscall: 62 }),
            _ => EventKind::Cred(wire::Cred {
                old: wire::Creds { uid: 1000, euid: 1000, suid: 1000, fsuid: 1000, gid: 1000, egid: 1000, sgid: 1000, fsgid: 1000 },
                new: wire::Creds::default(),
                syscall: 105,
                ret: 0,
            }),
        };
        out.push(Event {
            ts,
            cpu,
            pid,
            tid: pid,
            kind,
        });
    }
    out
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let n: usize = args
        .first()
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let runs: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(5);
    let events = make_events(n);
    let mut raw: Vec<Vec<u8>> = Vec::with_capacity(n);
    for e in &events {
        let mut b = Vec::new();
        event::encode(e, &mut b).expect("encode");
        raw.push(b);
    }
    let raw_bytes: usize = raw.iter().map(Vec::len).sum();
    println!(
        "format benchmark: {n} events, {runs} runs, mean record {:.1} B uncompressed",
        raw_bytes as f64 / n as f64
    );

    let dir = tempfile::tempdir().expect("tempdir");
    let (mut w_eps, mut enc_eps, mut r_eps, mut d_eps, mut m_eps) =
        (vec![], vec![], vec![], vec![], vec![]);
    let mut disk = 0u64;
    for run in 0..runs {
        let path = dir.path().join(format!("w{run}.zst"));
        let meta = SegmentMeta {
            trace_id: format!("{run:032x}"),
            clock: ClockAnchor {
                boot_ns: 1_000_000_000_000,
                wall_ns: 1_768_467_600_000_000_000,
            },
            ..Default::default()
        };
        // Raw records, as the recorder hands them over: framing, compression, hashing, I/O.
        let t = Instant::now();
        let mut w = TraceWriter::create(
            &path,
            meta.clone(),
            Rotation::default(),
            WriterOptions::default(),
            vec![],
        )
        .expect("create");
        for r in &raw {
            w.append_raw(r).expect("append");
        }
        let sums = w.finish("shutdown").expect("finish");
        w_eps.push(n as f64 / t.elapsed().as_secs_f64());
        disk = sums.iter().map(|s| s.bytes).sum();
        // Events: encoding included (the TraceBuilder path).
        let path2 = dir.path().join(format!("e{run}.zst"));
        let t = Instant::now();
        let mut w = TraceWriter::create(
            &path2,
            meta,
            Rotation::default(),
            WriterOptions::default(),
            vec![],
        )
        .expect("create");
        for e in &events {
            w.append(e).expect("append");
        }
        w.finish("shutdown").expect("finish");
        enc_eps.push(n as f64 / t.elapsed().as_secs_f64());
        // Read raw records (decompress, frame, hash).
        let t = Instant::now();
        let count = SegmentReader::open(&path).expect("open").count();
        r_eps.push(count as f64 / t.elapsed().as_secs_f64());
        assert_eq!(count, n);
        // Read and decode every event.
        let t = Instant::now();
        let mut ok = 0usize;
        for rec in SegmentReader::open(&path).expect("open") {
            ok += rec.decode().is_ok() as usize;
        }
        d_eps.push(ok as f64 / t.elapsed().as_secs_f64());
        assert_eq!(ok, n);
        // Through the TraceSet: reorder buffer and merge included.
        let t = Instant::now();
        let set = TraceSet::open(&[&path]).expect("set");
        let c = set.records().count();
        m_eps.push(c as f64 / t.elapsed().as_secs_f64());
        std::fs::remove_file(&path).ok();
        std::fs::remove_file(&path2).ok();
    }
    println!(
        "write raw records   {:>12.0} events/s (median)",
        median(&mut w_eps)
    );
    println!(
        "encode + write      {:>12.0} events/s (median)",
        median(&mut enc_eps)
    );
    println!(
        "read raw records    {:>12.0} events/s (median)",
        median(&mut r_eps)
    );
    println!(
        "read + decode       {:>12.0} events/s (median)",
        median(&mut d_eps)
    );
    println!(
        "read via TraceSet   {:>12.0} events/s (median, ordered merge)",
        median(&mut m_eps)
    );
    println!(
        "on disk             {:>12.2} bytes/event ({} bytes, ratio {:.1}x vs uncompressed)",
        disk as f64 / n as f64,
        disk,
        raw_bytes as f64 / disk as f64
    );
}
