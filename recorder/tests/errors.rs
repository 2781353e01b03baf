//! Bad situations get a clear message, a non-zero exit, and lose nothing already written.

mod common;
use common::*;
use std::process::Command;

fn recorder() -> Command {
    Command::new(env!("CARGO_BIN_EXE_recorder"))
}

#[test]
fn not_root_is_a_clear_error() {
    if !root_or_skip("not_root_is_a_clear_error") {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let out = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(env!("CARGO_BIN_EXE_recorder"))
        .args(["record", "-q", "-o"])
        .arg(dir.path().join("t.zst"))
        .args(["--", "/bin/true"])
        .output()
        .expect("setpriv (util-linux)");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("needs root"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn output_problems_are_refused_before_recording() {
    if !root_or_skip("output_problems_are_refused_before_recording") {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let existing = dir.path().join("old.zst");
    std::fs::write(&existing, b"evidence").expect("write");
    let out = recorder()
        .args(["record", "-q", "-o"])
        .arg(&existing)
        .args(["--", "/bin/true"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("already exists"));
    assert_eq!(
        std::fs::read(&existing).expect("read"),
        b"evidence",
        "never overwritten"
    );
    let out = recorder()
        .args([
            "record",
            "-q",
            "-o",
            "/nonexistent-dir/t.zst",
            "--",
            "/bin/true",
        ])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("/nonexistent-dir"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = recorder()
        .args(["record", "-q", "-o"])
        .arg(dir.path().join("x.zst"))
        .args(["--classes", "bogus", "--", "/bin/true"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("bogus"));
}

#[test]
fn full_disk_stops_cleanly_with_segments_intact() {
    if !root_or_skip("full_disk_stops_cleanly_with_segments_intact") {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let mnt = dir.path().join("small");
    std::fs::create_dir(&mnt).expect("mkdir");
    let ok = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=96k", "tmpfs"])
        .arg(&mnt)
        .status()
        .expect("mount");
    assert!(ok.success(), "mounting a small tmpfs");
    struct Unmount(std::path::PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = Command::new("umount").arg(&self.0).status();
        }
    }
    let _guard = Unmount(mnt.clone());
    let trace = mnt.join("t.zst");
    let out = recorder()
        .args(["record", "-q", "--zstd-level", "1", "--classes", "process", "-o"])
        .arg(&trace)
        .args(["--", "/bin/sh", "-c", "i=0; while [ $i -lt 4000 ]; do /bin/true $i-padding-to-make-records-bigger-and-less-compressible; i=$((i+1)); done"])
        .output()
        .expect("run");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(1),
        "a full disk is an error exit\n{err}"
    );
    assert!(
        err.contains("No space left on device") || err.contains("os error 28"),
        "{err}"
    );
    assert!(err.contains("intact"), "{err}");
    // What was written reads back without damage: whole frames only.
    let set = rewind_schema::trace::TraceSet::open(&[&trace]).expect("the trace opens");
    let mut m = set.records();
    let n = m.by_ref().count();
    assert!(n > 10, "records before the disk filled up are kept ({n})");
    assert!(
        m.reports().iter().all(|r| r.damage.is_empty()),
        "{:?}",
        m.reports()
    );
}
