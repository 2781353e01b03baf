//! The SHA-256 chain: an edited, deleted, replaced or duplicated segment is detected.

use rewind_schema::builder::TraceBuilder;
use rewind_schema::trace::{verify_chain, ChainFinding, Severity, TraceSet};
use rewind_schema::writer::Rotation;
use std::path::{Path, PathBuf};

fn recording(dir: &Path, name: &str, trace_id: &str, pid_base: u32) -> Vec<PathBuf> {
    let mut b = TraceBuilder::new(&dir.join(name))
        .trace_id(trace_id)
        .rotation(Rotation {
            max_records: Some(12),
            ..Default::default()
        })
        .create()
        .expect("create");
    let t = b.start_ns();
    for i in 0..40u64 {
        b.exit(t + i * 1_000, pid_base + i as u32, (i % 3) as u8)
            .expect("exit");
    }
    b.finish().expect("finish")
}

fn verify(files: &[PathBuf]) -> Vec<ChainFinding> {
    let set = TraceSet::open(files).expect("open");
    let mut m = set.records();
    m.by_ref().for_each(drop);
    verify_chain(&set, m.reports())
}

fn problems(f: &[ChainFinding]) -> Vec<&str> {
    f.iter()
        .filter(|f| f.severity == Severity::Problem)
        .map(|f| f.message.as_str())
        .collect()
}

#[test]
fn intact_recording_verifies() {
    let dir = tempfile::tempdir().expect("tempdir");
    let files = recording(dir.path(), "t.zst", "11111111111111111111111111111111", 100);
    assert!(files.len() >= 4);
    assert_eq!(verify(&files), vec![]);
}

#[test]
fn deleted_middle_segment_is_a_gap() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut files = recording(dir.path(), "t.zst", "11111111111111111111111111111111", 100);
    let gone = files.remove(1);
    std::fs::remove_file(&gone).expect("rm");
    let f = verify(&files);
    let p = problems(&f);
    assert_eq!(p.len(), 1, "{f:?}");
    assert!(p[0].contains("segments 2..2 are missing"), "{}", p[0]);
}

#[test]
fn first_segments_rotated_away_is_only_a_note() {
    let dir = tempfile::tempdir().expect("tempdir");
    let files = recording(dir.path(), "t.zst", "11111111111111111111111111111111", 100);
    let f = verify(&files[2..]);
    assert!(problems(&f).is_empty(), "{f:?}");
    assert!(
        f.iter().any(|x| x.message.contains("starts at segment 3")),
        "{f:?}"
    );
}

#[test]
fn replaced_segment_breaks_the_link() {
    let dir = tempfile::tempdir().expect("tempdir");
    let a = recording(
        &dir.path().join("."),
        "a.zst",
        "11111111111111111111111111111111",
        100,
    );
    let other = tempfile::tempdir().expect("tempdir");
    // Same trace id, different content: a forged segment 2.
    let b = recording(
        other.path(),
        "a.zst",
        "11111111111111111111111111111111",
        900,
    );
    std::fs::copy(&b[1], &a[1]).expect("copy");
    let f = verify(&a);
    let p = problems(&f);
    assert!(p.iter().any(|m| m.contains("does not chain")), "{f:?}");
}

#[test]
fn edited_byte_is_a_hash_mismatch() {
    let dir = tempfile::tempdir().expect("tempdir");
    let files = recording(dir.path(), "t.zst", "11111111111111111111111111111111", 100);
    let mut bytes = std::fs::read(&files[2]).expect("read");
    let i = bytes.len() / 2;
    bytes[i] ^= 1;
    std::fs::write(&files[2], bytes).expect("write");
    let f = verify(&files);
    assert!(
        problems(&f)
            .iter()
            .any(|m| m.contains("SHA-256 does not match")),
        "{f:?}"
    );
}

#[test]
fn duplicate_segment_is_flagged() {
    let dir = tempfile::tempdir().expect("tempdir");
    let files = recording(dir.path(), "t.zst", "11111111111111111111111111111111", 100);
    let dup = dir.path().join("copy-of-2.zst");
    std::fs::copy(&files[1], &dup).expect("copy");
    let mut all = files.clone();
    all.push(dup);
    let f = verify(&all);
    assert!(
        problems(&f)
            .iter()
            .any(|m| m.contains("both claim to be segment 2")),
        "{f:?}"
    );
}

#[test]
fn max_segments_keeps_the_newest() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("ring.zst");
    let mut b = TraceBuilder::new(&path)
        .rotation(Rotation {
            max_records: Some(10),
            max_segments: Some(3),
            ..Default::default()
        })
        .create()
        .expect("create");
    let t = b.start_ns();
    for i in 0..100u64 {
        b.exit(t + i, 10 + i as u32, 0).expect("exit");
    }
    let written = b.finish().expect("finish");
    let on_disk: Vec<PathBuf> = written.iter().filter(|p| p.exists()).cloned().collect();
    assert_eq!(on_disk.len(), 3);
    assert_eq!(on_disk, written[written.len() - 3..].to_vec());
    assert!(on_disk[0]
        .to_string_lossy()
        .ends_with(&format!("ring.{:06}.zst", written.len() - 2)));
    let f = verify(&on_disk);
    assert!(problems(&f).is_empty(), "{f:?}");
}
