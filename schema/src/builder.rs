//! `TraceBuilder`: synthetic traces for tests and benchmarks, written through the real
//! writer, with explicit timestamps and pids and deterministic output (same calls, same
//! bytes).

use crate::error::TraceError;
use crate::event::{Event, EventKind};
use crate::meta::{CaptureConfig, ClockAnchor, HostInfo, SegmentMeta};
use crate::snapshot::{ProcessSnapshot, SnapshotSource};
use crate::wire::{self, Argv, ByteString, Comm, Sock};
use crate::writer::{Rotation, SegmentSummary, TraceWriter, WriterOptions};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// Boot-time ns at which synthetic traces start by default.
pub const SYNTHETIC_BOOT_NS: u64 = 1_000_000_000_000;
/// Wall-clock ns matching [`SYNTHETIC_BOOT_NS`]: 2026-01-15T09:00:00Z.
pub const SYNTHETIC_WALL_NS: u64 = 1_768_467_600_000_000_000;

/// Builds a synthetic trace.
///
/// ```
/// # let dir = tempfile::tempdir().unwrap();
/// use rewind_schema::builder::TraceBuilder;
/// let mut b = TraceBuilder::new(&dir.path().join("t.zst")).create().unwrap();
/// let t = b.start_ns();
/// b.exec(t + 1_000, 100, 1, "/bin/sh", &["sh", "-c", "id"]).unwrap();
/// b.exit(t + 2_000, 100, 0).unwrap();
/// let files = b.finish().unwrap();
/// assert_eq!(files.len(), 1);
/// ```
#[derive(Debug)]
pub struct TraceBuilder {
    writer: TraceWriter,
    start: u64,
}

/// Options of a synthetic trace, set before it is created.
#[derive(Debug, Clone)]
pub struct BuilderOptions {
    path: PathBuf,
    meta: SegmentMeta,
    rotation: Rotation,
    writer: WriterOptions,
    snapshot: Vec<ProcessSnapshot>,
}

impl TraceBuilder {
    /// Options for a trace at `path` with a fixed synthetic host and clock.
    #[allow(clippy::new_ret_no_self)]
    pub fn new(path: &Path) -> BuilderOptions {
        BuilderOptions {
            path: path.to_path_buf(),
            meta: SegmentMeta {
                trace_id: "5e5e5e5e000000000000000000000001".into(),
                seq: 1,
                prev_sha256: None,
                recorder_version: concat!(
                    "rewind-schema ",
                    env!("CARGO_PKG_VERSION"),
                    " (TraceBuilder)"
                )
                .into(),
                host: HostInfo {
                    hostname: "fixture-host".into(),
                    machine_id: "0123456789abcdef0123456789abcdef".into(),
                    kernel_release: "6.18.0-synthetic".into(),
                    boot_id: "00000000-0000-4000-8000-000000000001".into(),
                    arch: "x86_64".into(),
                    init_ns: None,
                },
                clock: ClockAnchor {
                    boot_ns: SYNTHETIC_BOOT_NS,
                    wall_ns: SYNTHETIC_WALL_NS,
                },
                capture: CaptureConfig {
                    mode: "synthetic".into(),
                    snippet_len: 256,
                    argv_limit: 4096,
                    ..Default::default()
                },
            },
            rotation: Rotation::default(),
            writer: WriterOptions::default(),
            snapshot: Vec::new(),
        }
    }

    /// Boot-time ns of the header: synthetic events usually start after it.
    pub fn start_ns(&self) -> u64 {
        self.start
    }

    /// Appends any event.
    pub fn push(&mut self, ev: Event) -> Result<(), TraceError> {
        self.writer.append(&ev)
    }

    /// Appends an event of `kind` by `pid` (as its main thread) at `ts`.
    pub fn event(&mut self, ts: u64, pid: u32, kind: EventKind) -> Result<(), TraceError> {
        self.push(Event {
            ts,
            cpu: (pid % 2) as u16,
            pid,
            tid: pid,
            kind,
        })
    }

    /// `parent` forks `child`.
    pub fn fork(&mut self, ts: u64, parent: u32, child: u32) -> Result<(), TraceError> {
        let f = wire::Fork {
            child_start: ts,
            clone_flags: 0x11,
            child_pid: child,
            child_tid: child,
        };
        self.event(ts, parent, EventKind::Fork(f))
    }

    /// `pid` execs `filename` with `argv`; credentials and the rest are inherited from what
    /// the builder knows of `pid` (root when nothing is known).
    pub fn exec(
        &mut self,
        ts: u64,
        pid: u32,
        ppid: u32,
        filename: &str,
        argv: &[&str],
    ) -> Result<(), TraceError> {
        let known = self
            .writer
            .processes()
            .get(pid)
            .cloned()
            .unwrap_or_default();
        let comm = filename.rsplit('/').next().unwrap_or(filename);
        let x = wire::Exec {
            proc_start: if known.start != 0 { known.start } else { ts },
            ppid,
            uid: known.uid,
            gid: known.gid,
            euid: known.euid,
            egid: known.egid,
            auid: u32::MAX,
            cap_eff: if known.euid == 0 { 0x1ff_ffff_ffff } else { 0 },
            cap_prm: if known.euid == 0 { 0x1ff_ffff_ffff } else { 0 },
            argc: argv.len() as u32,
            comm: Comm::new(comm),
            filename: filename.into(),
            argv: Argv(argv.iter().map(|a| ByteString::from(*a)).collect()),
            cwd: if known.cwd.is_empty() {
                "/".into()
            } else {
                known.cwd.clone()
            },
            cgroup: if known.cgroup.is_empty() {
                "/user.slice".into()
            } else {
                known.cgroup.clone()
            },
            exe_mode: 0o100755,
            ..Default::default()
        };
        self.event(ts, pid, EventKind::Exec(Box::new(x)))
    }

    /// `pid` exits with `code` (whole thread group).
    pub fn exit(&mut self, ts: u64, pid: u32, code: u8) -> Result<(), TraceError> {
        let start = self
            .writer
            .processes()
            .get(pid)
            .map(|p| p.start)
            .unwrap_or(0);
        let x = wire::Exit {
            proc_start: start,
            status: (code as u32) << 8,
            flags: 1,
        };
        self.event(ts, pid, EventKind::Exit(x))
    }

    /// `pid` is killed by signal `sig`.
    pub fn killed(&mut self, ts: u64, pid: u32, sig: u8) -> Result<(), TraceError> {
        let start = self
            .writer
            .processes()
            .get(pid)
            .map(|p| p.start)
            .unwrap_or(0);
        let x = wire::Exit {
            proc_start: start,
            status: sig as u32 & 0x7f,
            flags: 1,
        };
        self.event(ts, pid, EventKind::Exit(x))
    }

    /// `pid` opens `path` with `O_*` flags; `ret` is the fd or -errno.
    pub fn open(
        &mut self,
        ts: u64,
        pid: u32,
        path: &str,
        open_flags: u32,
        ret: i32,
    ) -> Result<(), TraceError> {
        let x = wire::Open {
            ret,
            open_flags,
            path: path.into(),
            ..Default::default()
        };
        self.event(ts, pid, EventKind::Open(x))
    }

    /// `pid` connects a TCP socket from `local` to `remote`.
    pub fn connect(
        &mut self,
        ts: u64,
        pid: u32,
        cookie: u64,
        local: SocketAddr,
        remote: SocketAddr,
        ret: i32,
    ) -> Result<(), TraceError> {
        let x = wire::Connect {
            sock: Sock::tcp(cookie, local, remote),
            ret,
            path: ByteString::default(),
        };
        self.event(ts, pid, EventKind::Connect(x))
    }

    /// `pid` accepts a TCP connection on `local` from `remote`.
    pub fn accept(
        &mut self,
        ts: u64,
        pid: u32,
        cookie: u64,
        local: SocketAddr,
        remote: SocketAddr,
    ) -> Result<(), TraceError> {
        let x = wire::Accept {
            sock: Sock::tcp(cookie, local, remote),
            ret: 3,
        };
        self.event(ts, pid, EventKind::Accept(x))
    }

    /// The kernel's outcome of `pid`'s connect on `cookie`: established when `err` is
    /// `None`, else closed with that socket error (0 = closed by the application).
    #[allow(clippy::too_many_arguments)]
    pub fn conn_result(
        &mut self,
        ts: u64,
        pid: u32,
        cookie: u64,
        local: SocketAddr,
        remote: SocketAddr,
        err: Option<i32>,
        duration_ns: u64,
    ) -> Result<(), TraceError> {
        let x = wire::ConnResult {
            sock: Sock::tcp(cookie, local, remote),
            duration_ns,
            err: err.unwrap_or(0),
            state: if err.is_none() {
                wire::net::TCP_ESTABLISHED
            } else {
                wire::net::TCP_CLOSE
            },
        };
        self.event(ts, pid, EventKind::ConnResult(x))
    }

    /// A TCP connection of `pid` closes after moving `sent`/`received` bytes.
    #[allow(clippy::too_many_arguments)]
    pub fn close(
        &mut self,
        ts: u64,
        pid: u32,
        cookie: u64,
        local: SocketAddr,
        remote: SocketAddr,
        sent: u64,
        received: u64,
        duration_ns: u64,
    ) -> Result<(), TraceError> {
        let x = wire::SockClose {
            sock: Sock::tcp(cookie, local, remote),
            bytes_sent: sent,
            bytes_received: received,
            duration_ns,
        };
        self.event(ts, pid, EventKind::SockClose(x))
    }

    /// The kernel lost `count` records on `cpu` between `from` and `to`.
    pub fn loss(
        &mut self,
        ts: u64,
        cpu: u32,
        count: u64,
        from: u64,
        to: u64,
    ) -> Result<(), TraceError> {
        let x = wire::Loss {
            count,
            window_start: from,
            window_end: to,
            loss_cpu: cpu,
        };
        self.push(Event {
            ts,
            cpu: cpu as u16,
            pid: 0,
            tid: 0,
            kind: EventKind::Loss(x),
        })
    }

    /// Writes the open frame, as the recorder does every second.
    pub fn flush(&mut self) -> Result<(), TraceError> {
        self.writer.flush()
    }

    /// Closes the trace; returns its segment files.
    pub fn finish(self) -> Result<Vec<PathBuf>, TraceError> {
        Ok(self
            .finish_with_summaries()?
            .into_iter()
            .map(|s| s.path)
            .collect())
    }

    /// Closes the trace; returns each segment's summary.
    pub fn finish_with_summaries(self) -> Result<Vec<SegmentSummary>, TraceError> {
        self.writer.finish("shutdown")
    }

    /// The underlying writer (to append raw records, or to rotate by hand).
    pub fn writer(&mut self) -> &mut TraceWriter {
        &mut self.writer
    }
}

impl BuilderOptions {
    /// Sets the host.
    pub fn host(mut self, host: HostInfo) -> Self {
        self.meta.host = host;
        self
    }
    /// Sets the trace id (32 hex digits).
    pub fn trace_id(mut self, id: &str) -> Self {
        self.meta.trace_id = id.into();
        self
    }
    /// Sets the clock anchor.
    pub fn clock(mut self, anchor: ClockAnchor) -> Self {
        self.meta.clock = anchor;
        self
    }
    /// Sets the rotation policy.
    pub fn rotation(mut self, r: Rotation) -> Self {
        self.rotation = r;
        self
    }
    /// Sets writer options (zstd level, frame size).
    pub fn writer_options(mut self, w: WriterOptions) -> Self {
        self.writer = w;
        self
    }
    /// Sets the capture configuration recorded in the header.
    pub fn capture(mut self, c: CaptureConfig) -> Self {
        self.meta.capture = c;
        self
    }
    /// Adds a process alive when recording starts (written in the first snapshot).
    pub fn process(mut self, p: ProcessSnapshot) -> Self {
        self.snapshot.push(p);
        self
    }
    /// Adds a simple pre-existing process.
    pub fn existing(self, pid: u32, ppid: u32, exe: &str, argv: &[&str], uid: u32) -> Self {
        let start = self
            .meta
            .clock
            .boot_ns
            .saturating_sub(60_000_000_000 - pid as u64);
        let comm = exe.rsplit('/').next().unwrap_or(exe);
        self.process(ProcessSnapshot {
            pid,
            ppid,
            start,
            comm: comm.into(),
            exe: exe.into(),
            argv: argv.iter().map(|a| ByteString::from(*a)).collect(),
            cwd: "/".into(),
            uid,
            gid: uid,
            euid: uid,
            egid: uid,
            auid: u32::MAX,
            cgroup: "/system.slice".into(),
            source: SnapshotSource::Procfs,
            ..Default::default()
        })
    }
    /// Creates the first segment.
    pub fn create(self) -> Result<TraceBuilder, TraceError> {
        let start = self.meta.clock.boot_ns;
        let writer = TraceWriter::create(
            &self.path,
            self.meta,
            self.rotation,
            self.writer,
            self.snapshot,
        )?;
        Ok(TraceBuilder { writer, start })
    }
}
