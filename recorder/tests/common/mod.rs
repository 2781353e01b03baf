//! Shared by the recorder's end-to-end tests: run `recorder record` for real (root, real
//! eBPF) and read the trace back.
#![allow(dead_code)]

use rewind_schema::trace::TraceSet;
use rewind_schema::{Event, EventKind};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// True when the test may run; false (after saying so) when it must skip. With
/// `REWIND_REQUIRE_ROOT` set (CI), a skip is a failure.
pub fn root_or_skip(test: &str) -> bool {
    if nix::unistd::geteuid().is_root() {
        return true;
    }
    if std::env::var_os("REWIND_REQUIRE_ROOT").is_some() {
        panic!("{test}: needs root for real eBPF, and REWIND_REQUIRE_ROOT is set");
    }
    eprintln!("SKIPPED {test}: needs root (real eBPF); run as root or in CI");
    false
}

/// A finished recording.
pub struct Recording {
    /// Keeps the directory alive.
    pub dir: tempfile::TempDir,
    /// The trace's first segment.
    pub trace: PathBuf,
    /// The recorder's output.
    pub out: Output,
    /// Every event of every segment, in time order.
    pub events: Vec<Event>,
}

impl Recording {
    /// The recorder's exit code.
    pub fn code(&self) -> Option<i32> {
        self.out.status.code()
    }
    /// The recorder's stderr.
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.out.stderr).into_owned()
    }
    /// Execs whose filename ends with `suffix`.
    pub fn execs(&self, suffix: &str) -> Vec<(&Event, &rewind_schema::wire::Exec)> {
        self.events
            .iter()
            .filter_map(|e| match &e.kind {
                EventKind::Exec(x) if x.filename.as_bytes().ends_with(suffix.as_bytes()) => {
                    Some((e, &**x))
                }
                _ => None,
            })
            .collect()
    }
    /// The first segment's header metadata.
    pub fn meta(&self) -> rewind_schema::meta::SegmentMeta {
        let set = TraceSet::open(&[&self.trace]).expect("open trace");
        set.segments[0].meta.clone()
    }
    /// Dumps every event (for failure messages).
    pub fn dump(&self) -> String {
        self.events.iter().map(|e| format!("{e:?}\n")).collect()
    }
}

/// Runs `recorder record -q -o DIR/t.zst EXTRA... -- COMMAND...` in `cwd` (a temp dir
/// when `None`) and reads the trace back.
pub fn record(extra: &[&str], command: &[&str], cwd: Option<&Path>) -> Recording {
    let dir = tempfile::tempdir().expect("tempdir");
    let trace = dir.path().join("t.zst");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_recorder"));
    cmd.arg("record")
        .arg("-q")
        .arg("-o")
        .arg(&trace)
        .args(extra)
        .arg("--")
        .args(command);
    cmd.current_dir(cwd.unwrap_or(dir.path()));
    let out = cmd.output().expect("run recorder");
    let events = read(&trace).unwrap_or_else(|e| {
        panic!(
            "reading {}: {e}\nrecorder stderr:\n{}",
            trace.display(),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    Recording {
        dir,
        trace,
        out,
        events,
    }
}

/// Every event of the trace's segments, time-ordered.
pub fn read(trace: &Path) -> Result<Vec<Event>, String> {
    let dir = trace.parent().ok_or("no parent")?;
    let set = TraceSet::open(&[dir]).map_err(|e| e.to_string())?;
    let mut m = set.records();
    let evs: Result<Vec<Event>, String> = m
        .by_ref()
        .map(|r| r.rec.decode().map_err(|e| e.to_string()))
        .collect();
    for r in m.reports() {
        if !r.damage.is_empty() {
            return Err(format!("damage: {:?}", r.damage));
        }
    }
    evs
}
