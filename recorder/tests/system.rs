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
    // A shell that exists before the recorder, and acts once it runs.
    let marker = format!("rewind-marker-{}", std::process::id());
    let mut pre = Command::new("/bin/sh")
        .arg("-c")
        .arg(format!("sleep 1.5; /bin/echo {marker} >/dev/null"))
        .spawn()
        .expect("spawn");
    let pre_pid = pre.id();
    let dir = tempfile::tempdir().expect("tempdir");
    let trace = dir.path().join("sys.zst");
    let child = Command::new(env!("CARGO_BIN_EXE_recorder"))
        .args(["record", "-q", "--duration", "3s", "-o"])
        .arg(&trace)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("recorder");
    let recorder_pid = child.id();
    let out = child.wait_with_output().expect("recorder");
    let _ = pre.wait();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
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
