//! Whole-system mode: processes that started before the recorder appear in the snapshot
//! with their ancestry, and what they do afterwards is recorded.

mod common;
use common::*;
use rewind_schema::EventKind;
use std::process::Command;

#[test]
fn activity_of_processes_started_before_recording() {
    if !root_or_skip("activity_of_processes_started_before_recording") {
        return;
    }
    // A shell that exists before the recorder, and acts once the recorder runs.
    let marker = format!("rewind-marker-{}", std::process::id());
    let dir = tempfile::tempdir().expect("tempdir");
    let go = dir.path().join("go");
    let mut pre = Command::new("/bin/sh")
        .arg("-c")
        .arg(format!(
            "while [ ! -e {} ]; do sleep 0.05; done; /bin/echo {marker} >/dev/null",
            go.display()
        ))
        .spawn()
        .expect("spawn");
    let pre_pid = pre.id();
    let trace = dir.path().join("sys.zst");
    let child = Command::new(env!("CARGO_BIN_EXE_recorder"))
        .args(["record", "-q", "-o"])
        .arg(&trace)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("recorder");
    let recorder_pid = child.id();
    // The trace file appears once the programs are attached and the snapshot is written.
    let started = std::time::Instant::now();
    while std::fs::metadata(&trace).map(|m| m.len()).unwrap_or(0) == 0 {
        assert!(
            started.elapsed().as_secs() < 120,
            "the recorder did not start"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    std::fs::write(&go, b"").expect("go");
    let _ = pre.wait();
    std::thread::sleep(std::time::Duration::from_millis(1500));
    // SIGINT: a graceful stop that flushes and seals the trace.
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(recorder_pid as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .expect("SIGINT");
    let out = child.wait_with_output().expect("recorder");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("stopped by SIGINT"));
    let set = rewind_schema::trace::TraceSet::open(&[&trace]).expect("open");
    let mut m = set.records();
    m.by_ref().for_each(drop);
    assert!(
        rewind_schema::trace::verify_chain(&set, m.reports()).is_empty(),
        "sealed: footer and hash present"
    );
    let events = read(&trace).expect("read");
    let snap = events.iter().find_map(|e| match &e.kind {
        EventKind::ProcessSnapshot(p) if p.pid == pre_pid => Some(p.clone()),
        _ => None,
    });
    let snap = snap.unwrap_or_else(|| panic!("pid {pre_pid} is not in the snapshot"));
    assert_eq!(
        snap.ppid,
        std::process::id(),
        "ancestry: the test process started it"
    );
    assert!(snap.exe.display().ends_with("sh"), "{:?}", snap.exe);
    assert!(
        snap.argv.iter().any(|a| a.display().contains(&marker)),
        "{snap:?}"
    );
    assert!(snap.start > 0);
    // Our own test process is there too, with its parent.
    assert!(events
        .iter()
        .any(|e| matches!(&e.kind, EventKind::ProcessSnapshot(p) if p.pid == std::process::id())));
    // What it did after the recorder started: fork + exec of echo with the marker.
    let echo = events.iter().find_map(|e| match &e.kind {
        EventKind::Exec(x) if x.argv.joined().contains(&marker) => Some((e.pid, x.ppid)),
        _ => None,
    });
    let (echo_pid, echo_ppid) = echo.expect("the echo exec was recorded");
    assert_eq!(echo_ppid, pre_pid);
    assert!(events.iter().any(
        |e| matches!(&e.kind, EventKind::Fork(f) if e.pid == pre_pid && f.child_pid == echo_pid)
    ));
    // The recorder never records itself (other recorders on the machine may appear).
    let mine: Vec<_> = events
        .iter()
        .filter(|e| e.pid == recorder_pid && !matches!(e.kind, EventKind::ProcessSnapshot(_)))
        .collect();
    assert!(mine.is_empty(), "{mine:?}");
    assert!(!events
        .iter()
        .any(|e| matches!(&e.kind, EventKind::ProcessSnapshot(p) if p.pid == recorder_pid)));
}

/// The better hook kinds (fentry, BPF LSM) are probed at start and the answer is both
/// printed and kept in the trace header; a refused kind's programs are left out with the
/// kernel's reason and what serves instead, and the tracepoint path still records (here:
/// Linux 6.18 refuses both with EPERM, so this is the path the other tests exercise).
#[test]
fn better_hooks_are_probed_and_reported() {
    if !root_or_skip("better_hooks_are_probed_and_reported") {
        return;
    }
    let r = record(&[], &["/bin/true"], None);
    assert_eq!(r.code(), Some(0), "{}", r.stderr());
    let err = r.stderr();
    let seg = rewind_schema::reader::SegmentReader::open(&r.trace).expect("segment");
    let hooks = &seg.meta().capture.hooks;
    for kind in ["fentry/fexit", "BPF LSM"] {
        let line = err
            .lines()
            .find(|l| {
                l.contains(&format!("kernel allows {kind}"))
                    || l.contains(&format!("kernel refuses {kind}:"))
            })
            .unwrap_or_else(|| panic!("no probe line for {kind} in\n{err}"));
        let probe = hooks
            .iter()
            .find(|h| h.capture == format!("probe {kind}"))
            .unwrap_or_else(|| panic!("no probe {kind} in the header: {hooks:?}"));
        if line.contains("refuses") {
            assert!(probe.hook.is_empty(), "{probe:?}");
            assert!(probe.note.contains("refused: "), "{probe:?}");
        } else {
            assert_eq!(probe.note, "allowed", "{probe:?}");
        }
    }
    let fentry_ok = hooks
        .iter()
        .any(|h| h.capture == "probe fentry/fexit" && h.note == "allowed");
    let cc = hooks
        .iter()
        .find(|h| h.capture == "commit_creds")
        .unwrap_or_else(|| panic!("commit_creds missing: {hooks:?}"));
    if fentry_ok {
        // Used, unless the verifier refused it (then said so).
        assert!(
            cc.hook == "fentry/commit_creds" || cc.note.contains("verifier refused"),
            "{cc:?}"
        );
    } else {
        assert!(cc.hook.is_empty(), "{cc:?}");
        assert!(cc.note.contains("set*id/capset tracepoints"), "{cc:?}");
        assert!(err.contains("commit_creds UNAVAILABLE"), "{err}");
    }
    // The tracepoints serve: exec of /bin/true is in the trace.
    assert_eq!(r.execs("/bin/true").len(), 1, "{}", r.dump());
}
