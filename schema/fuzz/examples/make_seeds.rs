//! Writes the seed corpora of the fuzz targets:
//!
//! - `seeds/segment_reader/`: small segment files made with `TraceBuilder` (one frame,
//!   many frames, with a process snapshot, a rotated two-segment trace whose second
//!   segment chains to the first), plus a few damaged variants of them;
//! - `seeds/decode_record/`: single raw records made with `event::encode`, one or more
//!   per event kind.
//!
//! Run from `schema/fuzz/`: `cargo run --example make_seeds` (optionally with an output
//! directory; the default is `seeds/` next to this crate's Cargo.toml). Output is
//! deterministic: same code, same bytes.

use rewind_schema::builder::TraceBuilder;
use rewind_schema::event::{encode, Event, EventKind};
use rewind_schema::reader::SegmentReader;
use rewind_schema::snapshot::ProcessSnapshot;
use rewind_schema::wire::{self, Argv, ByteString, Comm, Sock};
use rewind_schema::writer::{Rotation, WriterOptions};
use std::error::Error;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

type Res<T> = Result<T, Box<dyn Error>>;

/// Seeds must stay small enough to commit.
const MAX_SEED: usize = 4096;

fn addr(s: &str) -> SocketAddr {
    s.parse().expect("literal socket address")
}

fn small_frames() -> WriterOptions {
    WriterOptions { frame_bytes: 256, ..WriterOptions::default() }
}

/// Builds a trace in a scratch directory and returns the bytes of each segment.
fn build(
    scratch: &Path,
    name: &str,
    tune: impl FnOnce(rewind_schema::builder::BuilderOptions) -> rewind_schema::builder::BuilderOptions,
    events: impl FnOnce(&mut TraceBuilder, u64) -> Res<()>,
) -> Res<Vec<Vec<u8>>> {
    let path = scratch.join(format!("{name}.zst"));
    let mut b = tune(TraceBuilder::new(&path)).create()?;
    let t = b.start_ns();
    events(&mut b, t)?;
    let files = b.finish()?;
    files.iter().map(|f| Ok(std::fs::read(f)?)).collect()
}

fn basic_events(b: &mut TraceBuilder, t: u64) -> Res<()> {
    b.exec(t + 1_000, 100, 1, "/bin/sh", &["sh", "-c", "curl example.invalid"])?;
    b.fork(t + 2_000, 100, 101)?;
    b.exec(t + 3_000, 101, 100, "/usr/bin/curl", &["curl", "example.invalid"])?;
    b.open(t + 4_000, 101, "/etc/resolv.conf", 0, 3)?;
    b.open(t + 5_000, 101, "/root/.netrc", 0, -2)?;
    b.connect(t + 6_000, 101, 0xc0ffee, addr("10.0.0.2:40000"), addr("192.0.2.7:443"), 0)?;
    b.close(t + 7_000, 101, 0xc0ffee, addr("10.0.0.2:40000"), addr("192.0.2.7:443"), 120, 4096, 1_000)?;
    b.loss(t + 7_500, 1, 12, t + 7_000, t + 7_400)?;
    b.exit(t + 8_000, 101, 0)?;
    b.killed(t + 9_000, 100, 9)?;
    Ok(())
}

fn segment_seeds(scratch: &Path) -> Res<Vec<(String, Vec<u8>)>> {
    let mut out = Vec::new();

    // One frame: header, snapshot, events, footer.
    let basic = build(scratch, "basic", |o| o, basic_events)?;
    out.push(("basic.zst".into(), basic[0].clone()));

    // Many small frames, a pre-existing process in the snapshot, IPv6, an explicit flush.
    let frames = build(
        scratch,
        "frames",
        |o| {
            o.writer_options(small_frames())
                .existing(42, 1, "/usr/sbin/sshd", &["sshd", "-D"], 0)
                .existing(77, 42, "/bin/bash", &["-bash"], 1000)
        },
        |b, t| {
            b.exec(t + 1_000, 200, 42, "/usr/bin/python3", &["python3", "-c", "import os"])?;
            b.flush()?;
            b.open(t + 2_000, 200, "/tmp/x", 0o101, 4)?;
            b.accept(t + 3_000, 42, 7, addr("[2001:db8::1]:22"), addr("[2001:db8::2]:51000"))?;
            b.connect(t + 4_000, 77, 8, addr("[::1]:40001"), addr("[::1]:8080"), -111)?;
            b.loss(t + 5_000, 0, 1, t + 4_500, t + 4_900)?;
            b.exit(t + 6_000, 200, 1)?;
            Ok(())
        },
    )?;
    out.push(("frames.zst".into(), frames[0].clone()));

    // A rotated trace: the second segment carries prev_sha256 of the first.
    let rotated = build(
        scratch,
        "rotated",
        |o| o.rotation(Rotation { max_records: Some(6), ..Rotation::default() }),
        basic_events,
    )?;
    for (i, seg) in rotated.iter().enumerate().take(3) {
        out.push((format!("rotated-{}.zst", i + 1), seg.clone()));
    }

    // An empty trace: header, snapshot and footer only.
    let empty = build(scratch, "empty", |o| o, |_, _| Ok(()))?;
    out.push(("empty.zst".into(), empty[0].clone()));

    // Damaged variants, so that the recovery paths start covered.
    let f = &frames[0];
    out.push(("cut-tail.zst".into(), f[..f.len() - 7].to_vec()));
    let mut flipped = f.clone();
    let mid = flipped.len() / 2;
    flipped[mid] ^= 0x55;
    out.push(("flipped-byte.zst".into(), flipped));
    let mut garbage = f.clone();
    garbage.extend_from_slice(b"not a zstd frame\x28\xb5");
    out.push(("trailing-garbage.zst".into(), garbage));
    // A zstd skippable frame (magic 0x184D2A5?) between the header frame and the rest.
    let b0 = &basic[0];
    let first = zstd_first_frame_len(b0);
    let mut skip = b0[..first].to_vec();
    skip.extend_from_slice(&[0x50, 0x2a, 0x4d, 0x18, 4, 0, 0, 0, 1, 2, 3, 4]);
    skip.extend_from_slice(&b0[first..]);
    out.push(("skippable-frame.zst".into(), skip));
    // Header frame only: an unsealed segment.
    out.push(("header-only.zst".into(), b0[..first].to_vec()));
    Ok(out)
}

/// Length of the first zstd frame (the header frame), found by decoding frames one by one.
fn zstd_first_frame_len(b: &[u8]) -> usize {
    // The frame after the header starts at the next zstd magic; good enough for seeds
    // written by our own writer (the magic never appears inside these small frames).
    b.windows(4)
        .skip(1)
        .position(|w| w == [0x28, 0xb5, 0x2f, 0xfd])
        .map(|i| i + 1)
        .unwrap_or(b.len())
}

fn ev(ts: u64, pid: u32, kind: EventKind) -> Event {
    Event { ts, cpu: 1, pid, tid: pid + 1, kind }
}

fn record_seeds() -> Res<Vec<(String, Vec<u8>)>> {
    let t = 1_000_000_000_000u64;
    let tcp = Sock::tcp(0xabc, addr("10.0.0.2:40000"), addr("192.0.2.7:443"));
    let udp = Sock::udp(0xdef, addr("10.0.0.2:5353"), addr("192.0.2.53:53"));
    let events = vec![
        ev(t, 100, EventKind::Exec(Box::new(wire::Exec {
            proc_start: t,
            ppid: 1,
            auid: u32::MAX,
            argc: 3,
            comm: Comm::new("sh"),
            filename: "/bin/sh".into(),
            argv: Argv(vec!["sh".into(), "-c".into(), ByteString(b"id\xff".to_vec())]),
            cwd: "/root".into(),
            cgroup: "/user.slice".into(),
            exe_mode: 0o100755,
            ..Default::default()
        }))),
        ev(t + 1, 100, EventKind::Fork(wire::Fork { child_start: t + 1, clone_flags: 0x11, child_pid: 101, child_tid: 101 })),
        ev(t + 2, 101, EventKind::Exit(wire::Exit { proc_start: t + 1, status: 256, flags: 1 })),
        ev(t + 3, 100, EventKind::Open(wire::Open { ret: 3, open_flags: 0o2, path: "/etc/shadow".into(), ..Default::default() })),
        ev(t + 4, 100, EventKind::Rename(wire::Rename { old: "/tmp/a".into(), new: "/tmp/b".into(), ..Default::default() })),
        ev(t + 5, 100, EventKind::Unlink(wire::Unlink { path: "/tmp/b".into(), ..Default::default() })),
        ev(t + 6, 100, EventKind::Connect(wire::Connect { sock: tcp, ret: 0, path: ByteString::default() })),
        ev(t + 7, 100, EventKind::Connect(wire::Connect { sock: Sock::default(), ret: 0, path: "/run/dbus.sock".into() })),
        ev(t + 8, 100, EventKind::SockClose(wire::SockClose { sock: tcp, bytes_sent: 10, bytes_received: 20, duration_ns: 30 })),
        ev(t + 9, 100, EventKind::UdpSend(wire::Udp { sock: udp, ..Default::default() })),
        ev(t + 10, 100, EventKind::Dns(wire::Snippet { data: wire::Payload(b"\x12\x34\x01\x00\x00\x01".to_vec()), ..Default::default() })),
        ev(t + 11, 0, EventKind::Loss(wire::Loss { count: 5, window_start: t, window_end: t + 10, loss_cpu: 1 })),
        ev(t + 12, 100, EventKind::Cred(Default::default())),
        ev(t + 13, 100, EventKind::Mount(Default::default())),
        ev(t + 14, 100, EventKind::Enforce(Default::default())),
        ev(t + 15, 100, EventKind::MmapExec(Default::default())),
        ev(t + 16, 0, EventKind::ProcessSnapshot(Box::new(ProcessSnapshot {
            pid: 42,
            ppid: 1,
            start: t - 5,
            comm: "sshd".into(),
            exe: "/usr/sbin/sshd".into(),
            argv: vec!["sshd".into(), "-D".into()],
            cwd: "/".into(),
            auid: u32::MAX,
            cgroup: "/system.slice/ssh.service".into(),
            ..Default::default()
        }))),
    ];
    let mut out = Vec::new();
    for e in &events {
        let mut buf = Vec::new();
        encode(e, &mut buf)?;
        let name = format!("{:02}-{}.bin", out.len(), e.kind.record_type().name());
        out.push((name, buf));
    }
    Ok(out)
}

fn write_all(dir: &Path, seeds: &[(String, Vec<u8>)]) -> Res<()> {
    std::fs::create_dir_all(dir)?;
    for (name, bytes) in seeds {
        if bytes.len() > MAX_SEED {
            return Err(format!("seed {name} is {} bytes, over {MAX_SEED}", bytes.len()).into());
        }
        std::fs::write(dir.join(name), bytes)?;
        println!("{:>5} bytes  {}", bytes.len(), dir.join(name).display());
    }
    Ok(())
}

fn main() -> Res<()> {
    let out: PathBuf = match std::env::args_os().nth(1) {
        Some(p) => p.into(),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("seeds"),
    };
    let scratch = std::env::temp_dir().join(format!("rewind-make-seeds-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&scratch);
    std::fs::create_dir_all(&scratch)?;
    let segs = segment_seeds(&scratch);
    let _ = std::fs::remove_dir_all(&scratch);
    let seg_dir = out.join("segment_reader");
    write_all(&seg_dir, &segs?)?;
    write_all(&out.join("decode_record"), &record_seeds()?)?;
    // Show what the reader makes of each segment seed (valid ones must be intact).
    let mut names: Vec<_> = std::fs::read_dir(&seg_dir)?.collect::<Result<Vec<_>, _>>()?;
    names.sort_by_key(|e| e.file_name());
    for e in names {
        match SegmentReader::open(&e.path()) {
            Ok(mut r) => {
                let n = r.by_ref().count();
                println!(
                    "{:<24} {n:>2} records, {:?}, {} damage",
                    e.file_name().to_string_lossy(),
                    r.seal(),
                    r.damage().len()
                );
            }
            Err(err) => println!("{:<24} open failed: {err}", e.file_name().to_string_lossy()),
        }
    }
    Ok(())
}
