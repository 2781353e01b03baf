//! Damaged input: cut at every offset, corrupt frames, garbage, unknown types, other
//! versions, files that are not traces. Every complete frame before the damage is read,
//! the damage is reported with its offset, and nothing panics.

use crate::util::*;
use rewind_schema::builder::TraceBuilder;
use rewind_schema::error::TraceError;
use rewind_schema::reader::{SegmentReader, SegmentSeal};
use rewind_schema::wire::RecordHeader;
use rewind_schema::writer::WriterOptions;
use std::path::{Path, PathBuf};

/// A single-segment trace with many small frames; returns its path.
fn many_frames(dir: &Path, events: usize) -> PathBuf {
    let path = dir.join("t.zst");
    let mut b = TraceBuilder::new(&path)
        .writer_options(WriterOptions {
            frame_bytes: 4096,
            ..Default::default()
        })
        .existing(1, 0, "/sbin/init", &["init"], 0)
        .create()
        .expect("create");
    let t = b.start_ns();
    for i in 0..events as u64 {
        let pid = 100 + (i % 50) as u32;
        b.open(t + i * 1000, pid, &format!("/etc/file-{i}"), 0, 3)
            .expect("open");
        if i % 9 == 0 {
            b.flush().expect("flush");
        }
    }
    b.finish().expect("finish");
    path
}

/// (offset, length, records inside) of every zstd frame of a file.
fn frames(bytes: &[u8]) -> Vec<(usize, usize, usize)> {
    let mut out = Vec::new();
    let mut off = 0;
    while off < bytes.len() {
        let n = zstd::zstd_safe::find_frame_compressed_size(&bytes[off..]).expect("frame");
        let data = zstd::decode_all(&bytes[off..off + n]).expect("decompress");
        let mut k = 0;
        let mut p = 0;
        while p < data.len() {
            let h = RecordHeader::parse(&data[p..]).expect("hdr");
            p += h.size as usize;
            k += 1;
        }
        out.push((off, n, k));
        off += n;
    }
    out
}

#[test]
fn cut_at_every_offset() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = many_frames(dir.path(), 60);
    let bytes = std::fs::read(&path).expect("read");
    let (all, dmg) = read_raw(&path);
    assert!(dmg.is_empty());
    let fr = frames(&bytes);
    assert!(fr.len() >= 5, "want several frames, got {}", fr.len());
    let header_end = fr[0].0 + fr[0].1;
    let cut = dir.path().join("cut.zst");
    let mut checked = 0;
    for k in 0..bytes.len() {
        std::fs::write(&cut, &bytes[..k]).expect("write");
        match SegmentReader::open(&cut) {
            Err(e) => {
                assert!(
                    k < header_end,
                    "cut at {k} (header ends {header_end}) refused: {e}"
                );
                assert!(
                    matches!(
                        e,
                        TraceError::NotATrace { .. } | TraceError::BadHeader { .. }
                    ),
                    "cut at {k}: {e}"
                );
                assert!(
                    e.to_string().contains("cut.zst"),
                    "error names the file: {e}"
                );
            }
            Ok(mut r) => {
                assert!(
                    k >= header_end,
                    "cut at {k} opened before the header frame ended"
                );
                let got: Vec<Vec<u8>> = r.by_ref().map(|x| x.bytes().to_vec()).collect();
                // Complete frames before the cut: everything in them is read back.
                let whole: usize = fr.iter().filter(|f| f.0 + f.1 <= k).map(|f| f.2).sum();
                // The header record is not yielded; the footer is not either.
                let expect = whole.saturating_sub(1).min(all.len());
                assert_eq!(got.len(), expect, "cut at {k}");
                assert_eq!(&got[..], &all[..expect], "cut at {k}: records differ");
                let at_boundary = fr.iter().any(|f| f.0 == k) || k == bytes.len();
                if at_boundary {
                    assert!(
                        r.damage().is_empty(),
                        "cut at frame boundary {k}: {:?}",
                        r.damage()
                    );
                } else {
                    let d = r.damage();
                    assert_eq!(d.len(), 1, "cut at {k}: {d:?}");
                    let frame_start = fr.iter().rev().find(|f| f.0 <= k).expect("frame").0;
                    assert_eq!(d[0].offset as usize, frame_start, "cut at {k}: {d:?}");
                    assert!(d[0].what.contains("truncated"), "{}", d[0]);
                }
                if k < bytes.len() {
                    assert_eq!(r.seal(), SegmentSeal::Unsealed, "cut at {k}");
                } else {
                    assert_eq!(r.seal(), SegmentSeal::Intact);
                }
                checked += 1;
            }
        }
    }
    assert!(checked > bytes.len() / 2);
}

#[test]
fn corrupt_frame_in_the_middle_loses_only_that_frame() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = many_frames(dir.path(), 80);
    let bytes = std::fs::read(&path).expect("read");
    let (all, _) = read_raw(&path);
    let fr = frames(&bytes);
    let victim = fr.len() / 2;
    let (off, len, lost) = fr[victim];
    let mut bad = bytes.clone();
    bad[off + len / 2] ^= 0x55;
    let p = dir.path().join("bad.zst");
    std::fs::write(&p, &bad).expect("write");
    let mut r = SegmentReader::open(&p).expect("open");
    let got: Vec<Vec<u8>> = r.by_ref().map(|x| x.bytes().to_vec()).collect();
    assert_eq!(
        got.len(),
        all.len() - lost,
        "only the victim frame's records are lost"
    );
    let before: usize = fr[..victim].iter().map(|f| f.2).sum::<usize>() - 1;
    assert_eq!(&got[..before], &all[..before]);
    assert_eq!(&got[before..], &all[before + lost..]);
    let d = r.damage();
    assert_eq!(d.len(), 1, "{d:?}");
    assert_eq!(d[0].offset as usize, off);
    assert!(
        matches!(r.seal(), SegmentSeal::Mismatch { .. }),
        "an edited segment fails its hash"
    );
}

#[test]
fn garbage_between_frames_is_skipped_and_reported() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = many_frames(dir.path(), 40);
    let bytes = std::fs::read(&path).expect("read");
    let (all, _) = read_raw(&path);
    let fr = frames(&bytes);
    let at = fr[3].0;
    let mut bad = bytes[..at].to_vec();
    bad.extend_from_slice(b"this is not a zstd frame at all \x28\xb5\x2f");
    bad.extend_from_slice(&bytes[at..]);
    let p = dir.path().join("garbage.zst");
    std::fs::write(&p, &bad).expect("write");
    let (got, d) = read_raw(&p);
    assert_eq!(got, all);
    assert_eq!(d.len(), 1, "{d:?}");
    assert_eq!(d[0].offset as usize, at);
    assert_eq!(d[0].len, 35);
}

#[test]
fn random_bytes_never_panic() {
    // A cheap deterministic stand-in for the fuzzer, run on every `cargo test`.
    let dir = tempfile::tempdir().expect("tempdir");
    let path = many_frames(dir.path(), 30);
    let bytes = std::fs::read(&path).expect("read");
    let p = dir.path().join("mut.zst");
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for _ in 0..300 {
        let mut m = bytes.clone();
        for _ in 0..4 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let i = (x as usize) % m.len();
            m[i] = (x >> 32) as u8;
        }
        std::fs::write(&p, &m).expect("write");
        if let Ok(mut r) = SegmentReader::open(&p) {
            for rec in r.by_ref() {
                let _ = rec.decode();
            }
            let _ = r.seal();
        }
    }
}

#[test]
fn unknown_record_types_are_skipped_and_kept() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("u.zst");
    let mut b = TraceBuilder::new(&path).create().expect("create");
    let t = b.start_ns();
    b.exit(t + 1, 10, 0).expect("exit");
    let mut rec = Vec::new();
    RecordHeader {
        rtype: 0x7777,
        cpu: 1,
        size: 40,
        ts: t + 2,
        pid: 11,
        tid: 11,
    }
    .write(&mut rec);
    rec.extend_from_slice(&[0xab; 16]);
    b.writer().append_raw(&rec).expect("append unknown type");
    b.exit(t + 3, 12, 0).expect("exit");
    b.finish().expect("finish");
    let mut r = SegmentReader::open(&path).expect("open");
    let recs: Vec<_> = r.by_ref().collect();
    assert_eq!(recs.len(), 3);
    assert_eq!(recs[1].hdr.rtype, 0x7777);
    assert_eq!(recs[1].bytes(), &rec[..]);
    assert!(matches!(
        recs[1].decode(),
        Err(rewind_schema::wire::DecodeError::UnknownType(0x7777))
    ));
    assert!(recs[2].decode().is_ok());
    assert!(r.damage().is_empty());
}

/// Rewrites the header frame of a segment with `patch` applied to its decompressed bytes.
fn patch_header(src: &Path, dst: &Path, patch: impl FnOnce(&mut Vec<u8>)) {
    let bytes = std::fs::read(src).expect("read");
    let n = zstd::zstd_safe::find_frame_compressed_size(&bytes).expect("frame");
    let mut data = zstd::decode_all(&bytes[..n]).expect("decompress");
    patch(&mut data);
    let mut out = zstd::bulk::compress(&data, 3).expect("compress");
    out.extend_from_slice(&bytes[n..]);
    std::fs::write(dst, out).expect("write");
}

#[test]
fn other_major_versions_are_refused_minor_ones_read() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = many_frames(dir.path(), 5);
    let v2 = dir.path().join("v2.zst");
    patch_header(&path, &v2, |d| d[32] = 2);
    let err = SegmentReader::open(&v2).expect_err("major 2 must be refused");
    assert!(
        matches!(err, TraceError::UnsupportedVersion { major: 2, .. }),
        "{err}"
    );
    assert!(
        err.to_string().contains("v2.zst") && err.to_string().contains("2.0"),
        "{err}"
    );
    let minor = dir.path().join("minor.zst");
    patch_header(&path, &minor, |d| d[34] = 9);
    let r = SegmentReader::open(&minor).expect("a newer minor is readable");
    assert_eq!(r.version(), (1, 9));
    let reserved = dir.path().join("reserved.zst");
    patch_header(&path, &reserved, |d| d[36] = 1);
    assert!(matches!(
        SegmentReader::open(&reserved),
        Err(TraceError::BadHeader { .. })
    ));
}

#[test]
fn not_traces_are_refused_clearly() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("empty.zst", vec![], "empty"),
        ("text.zst", b"hello, world\n".to_vec(), "zstd"),
        (
            "other.zst",
            zstd::bulk::compress(&[7u8; 100], 3).expect("z"),
            "not a Rewind segment",
        ),
        (
            "magic.zst",
            {
                let mut v = zstd::bulk::compress(&[0u8; 10], 3).expect("z");
                v.truncate(6);
                v
            },
            "first frame",
        ),
    ];
    for (name, bytes, needle) in cases {
        let p = dir.path().join(name);
        std::fs::write(&p, &bytes).expect("write");
        let e = SegmentReader::open(&p).expect_err(name);
        let msg = e.to_string();
        assert!(msg.contains(name), "{msg}");
        assert!(msg.contains(needle), "{name}: {msg}");
    }
    let e = SegmentReader::open(dir.path()).expect_err("dir");
    assert!(e.to_string().contains("directory"), "{e}");
    let e = SegmentReader::open(&dir.path().join("missing.zst")).expect_err("missing");
    assert!(
        matches!(e, TraceError::Io { .. }) && e.to_string().contains("missing.zst"),
        "{e}"
    );
}

#[test]
fn readers_never_modify_the_trace() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = many_frames(dir.path(), 20);
    let before = std::fs::read(&path).expect("read");
    let mtime = std::fs::metadata(&path)
        .and_then(|m| m.modified())
        .expect("mtime");
    let _ = read_raw(&path);
    assert_eq!(std::fs::read(&path).expect("read"), before);
    assert_eq!(
        std::fs::metadata(&path)
            .and_then(|m| m.modified())
            .expect("mtime"),
        mtime
    );
}

#[test]
fn zstd_cli_decompresses_a_segment() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = many_frames(dir.path(), 20);
    let out = std::process::Command::new("zstd")
        .args(["-d", "-c", "-q"])
        .arg(&path)
        .output();
    let out = match out {
        Ok(o) => o,
        Err(e) => panic!("the zstd command is needed (run .ci/setup): {e}"),
    };
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        &out.stdout[24..32],
        b"REWIND\0\0",
        "the stream starts with the segment header"
    );
}

#[test]
fn huge_skippable_frame_claim_does_not_allocate_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = many_frames(dir.path(), 10);
    let bytes = std::fs::read(&path).expect("read");
    let (all, _) = read_raw(&path);
    let fr = frames(&bytes);
    let at = fr[1].0;
    // A skippable frame (magic 0x184D2A50) claiming ~4 GiB, then the rest of the file.
    let mut bad = bytes[..at].to_vec();
    bad.extend_from_slice(&[0x50, 0x2a, 0x4d, 0x18, 0xf0, 0xff, 0xff, 0xff]);
    bad.extend_from_slice(&vec![0u8; 2 << 20]);
    let p = dir.path().join("skip.zst");
    std::fs::write(&p, &bad).expect("write");
    let (got, d) = read_raw(&p);
    // Everything before it is read; the claim swallows the rest and is reported.
    let before: usize = fr[..1].iter().map(|f| f.2).sum::<usize>() - 1;
    assert_eq!(&got[..], &all[..before]);
    assert_eq!(d.len(), 1, "{d:?}");
    assert!(d[0].what.contains("skippable"), "{}", d[0]);
}

/// Copies the recording into a fresh directory; returns the copies.
fn copy_all(files: &[PathBuf], to: &Path) -> Vec<PathBuf> {
    files
        .iter()
        .map(|f| {
            let dst = to.join(f.file_name().expect("name"));
            std::fs::copy(f, &dst).expect("copy");
            dst
        })
        .collect()
}

#[test]
fn segment_cut_at_every_frame_boundary() {
    let dir = tempfile::tempdir().expect("tempdir");
    let files = crate::tamper::signed_recording(dir.path(), None);
    let last = files.len() - 1;
    assert!(last >= 2, "{files:?}");
    for (victim, f) in files.iter().enumerate() {
        let bytes = std::fs::read(f).expect("read");
        let fr = frames(&bytes);
        assert!(fr.len() >= 4, "{}: {fr:?}", f.display());
        // Every boundary after the header frame, the footer's start (footer removed) included.
        for &(cut, _, _) in &fr[1..] {
            let work = tempfile::tempdir().expect("tempdir");
            let copies = copy_all(&files, work.path());
            std::fs::write(&copies[victim], &bytes[..cut]).expect("cut");
            let name = copies[victim].display().to_string();
            let (outcome, text) = crate::tamper::info_text(&[work.path().to_path_buf()], None);
            let flagged = |kind: &str| {
                text.lines()
                    .any(|l| l.contains(kind) && l.contains(&name) && l.contains("no footer"))
            };
            if victim < last {
                // A later segment exists: the cut segment's end is gone. Damage.
                assert_eq!(
                    outcome,
                    rewind_analyzer::exit::Outcome::Partial,
                    "segment {} cut at {cut}: {text}",
                    victim + 1
                );
                assert!(
                    flagged("problem:"),
                    "segment {} cut at {cut}: {text}",
                    victim + 1
                );
                assert!(text.contains("a later segment"), "{text}");
                // Cut exactly at the footer: nothing but the footer is gone.
                let footer_only = cut == fr[fr.len() - 1].0;
                assert_eq!(
                    text.contains("only its footer was removed"),
                    footer_only,
                    "cut at {cut}: {text}"
                );
                assert_eq!(text.contains("records at its end are lost"), !footer_only);
                assert!(!text.contains("Chain: verified"), "{text}");
            } else {
                // The newest segment without a footer: a killed recorder looks the same.
                assert_eq!(
                    outcome,
                    rewind_analyzer::exit::Outcome::Clean,
                    "newest cut at {cut}: {text}"
                );
                assert!(flagged("note:"), "newest cut at {cut}: {text}");
            }
        }
    }
}

#[test]
fn bytes_appended_after_the_footer_break_the_seal() {
    let dir = tempfile::tempdir().expect("tempdir");
    let files = crate::tamper::signed_recording(dir.path(), None);
    for (victim, f) in files.iter().enumerate() {
        let bytes = std::fs::read(f).expect("read");
        let fr = frames(&bytes);
        let record_frame = &bytes[fr[2].0..fr[2].0 + fr[2].1];
        let footer_frame = &bytes[fr[fr.len() - 1].0..];
        let skippable = [0x50, 0x2a, 0x4d, 0x18, 4, 0, 0, 0, 1, 2, 3, 4];
        let appendages: [(&str, &[u8]); 5] = [
            ("a record frame", record_frame),
            ("a second footer", footer_frame),
            ("a skippable frame", &skippable),
            ("stray bytes", b"xy"),
            ("garbage", &[0x41; 100]),
        ];
        for (what, extra) in appendages {
            let work = tempfile::tempdir().expect("tempdir");
            let copies = copy_all(&files, work.path());
            let mut b = bytes.clone();
            b.extend_from_slice(extra);
            std::fs::write(&copies[victim], &b).expect("write");
            let mut r = SegmentReader::open(&copies[victim]).expect("open");
            r.by_ref().for_each(drop);
            assert_eq!(
                r.seal(),
                SegmentSeal::Appended {
                    bytes: extra.len() as u64
                },
                "{what} after segment {}",
                victim + 1
            );
            let name = copies[victim].display().to_string();
            let (outcome, text) = crate::tamper::info_text(&copies, None);
            assert_eq!(
                outcome,
                rewind_analyzer::exit::Outcome::Partial,
                "{what}: {text}"
            );
            assert!(!text.contains("verified"), "{what}: {text}");
            assert!(
                text.lines().any(|l| l.contains("problem:")
                    && l.contains(&name)
                    && l.contains("after the footer")),
                "{what} after segment {}: {text}",
                victim + 1
            );
        }
    }
}
