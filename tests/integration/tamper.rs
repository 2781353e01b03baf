//! An attacker who can write the files: re-chained forgeries (edit a record, recompute every
//! SHA-256 after it) pass the unkeyed chain and fail `info --verify-key`; unreadable files
//! in a directory do not hide the intact segments; a full disk leaves no empty segment.

use rewind_analyzer::cmd::{info, Inputs};
use rewind_analyzer::exit::Outcome;
use rewind_schema::builder::TraceBuilder;
use rewind_schema::meta::SegmentFooter;
use rewind_schema::sign::{self, SigningKey};
use rewind_schema::trace::{verify_chain, Severity, TraceSet};
use rewind_schema::wire::RecordHeader;
use rewind_schema::writer::{Rotation, WriterOptions};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// A recording of several segments, signed with `key` when given.
pub(crate) fn signed_recording(dir: &Path, key: Option<&SigningKey>) -> Vec<PathBuf> {
    let mut b = TraceBuilder::new(&dir.join("t.zst"))
        .trace_id("7a7a7a7a000000000000000000000001")
        .rotation(Rotation {
            max_records: Some(12),
            ..Default::default()
        })
        .writer_options(WriterOptions {
            frame_bytes: 4096,
            sync: false,
            signing_key: key.cloned(),
            ..Default::default()
        })
        .existing(1, 0, "/sbin/init", &["init"], 0)
        .create()
        .expect("create");
    let t = b.start_ns();
    for i in 0..40u64 {
        b.open(t + i * 1000, 100 + i as u32, &format!("/etc/f{i}"), 0, 3)
            .expect("open");
        if i % 4 == 0 {
            b.flush().expect("flush");
        }
    }
    b.finish().expect("finish")
}

/// `analyzer info` on `files`: (outcome, text).
pub(crate) fn info_text(files: &[PathBuf], key: Option<String>) -> (Outcome, String) {
    let args = info::Args {
        input: Inputs {
            traces: files.to_vec(),
        },
        json: false,
        verify_key: key,
    };
    let mut out = Vec::new();
    let o = info::write(&args, &mut out).expect("info");
    (o, String::from_utf8(out).expect("utf8"))
}

fn frame_spans(bytes: &[u8]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut off = 0;
    while off < bytes.len() {
        let n = zstd::zstd_safe::find_frame_compressed_size(&bytes[off..]).expect("frame");
        out.push((off, n));
        off += n;
    }
    out
}

fn compress(data: &[u8]) -> Vec<u8> {
    let mut c = zstd::bulk::Compressor::new(3).expect("zstd");
    c.include_checksum(true).expect("checksum");
    c.compress(data).expect("compress")
}

/// A footer frame holding `footer`, with the common header of the old footer record `old`.
fn footer_frame(old: &[u8], footer: &SegmentFooter) -> Vec<u8> {
    let json = serde_json::to_vec(footer).expect("json");
    let mut rec = old[..24].to_vec();
    rec[4..8].copy_from_slice(&((32 + json.len()) as u32).to_le_bytes());
    rec.extend_from_slice(&(json.len() as u32).to_le_bytes());
    rec.extend_from_slice(&[0; 4]);
    rec.extend_from_slice(&json);
    compress(&rec)
}

/// What the forger does to the signatures.
#[derive(Clone, Copy, Debug)]
enum Resign<'a> {
    /// Leaves the old signature fields (they no longer match the footer).
    Keep,
    /// Removes them.
    Strip,
    /// Re-signs with the attacker's own key.
    With(&'a SigningKey),
}

/// The forgery: flips the pid of the first record in segment `victim`'s third frame, then
/// walks the recording recomputing every header link and footer hash from there on.
fn forge(files: &[PathBuf], victim: usize, resign: Resign<'_>) {
    let mut prev: Option<String> = None;
    for (k, f) in files.iter().enumerate() {
        let bytes = std::fs::read(f).expect("read");
        let spans = frame_spans(&bytes);
        let mut out = Vec::new();
        let mut footer_rec = None;
        for (i, &(off, n)) in spans.iter().enumerate() {
            let mut data = zstd::decode_all(&bytes[off..off + n]).expect("frame");
            let h = RecordHeader::parse(&data).expect("record");
            if h.rtype == 0xf004 {
                footer_rec = Some(data);
                continue;
            }
            if i == 0 && k > 0 {
                // The header's prev_sha256 (64 hex digits, same length) points at the
                // previous segment's new hash.
                let text = String::from_utf8_lossy(&data).into_owned();
                let old = text
                    .split("\"prev_sha256\":\"")
                    .nth(1)
                    .map(|r| r[..64].to_string())
                    .expect("prev_sha256 in the header");
                let new = prev.clone().expect("previous hash");
                let at = data
                    .windows(64)
                    .position(|w| w == old.as_bytes())
                    .expect("find");
                data[at..at + 64].copy_from_slice(new.as_bytes());
            }
            if k == victim && i == 2 {
                data[16] ^= 1;
            }
            out.extend_from_slice(&if (k == victim && i == 2) || (i == 0 && k > 0) {
                compress(&data)
            } else {
                bytes[off..off + n].to_vec()
            });
        }
        let rec = footer_rec.expect("a footer");
        let h = RecordHeader::parse(&rec).expect("hdr");
        let mut footer: SegmentFooter = serde_json::from_slice(&rec[32..]).expect("footer json");
        let mut hasher = Sha256::new();
        let mut p = [0u8; 32];
        if let Some(x) = &prev {
            hex::decode_to_slice(x, &mut p).expect("hex");
        }
        hasher.update(p);
        hasher.update(&out);
        footer.sha256 = hex::encode(hasher.finalize());
        footer.prev_sha256 = prev.clone();
        match resign {
            Resign::Keep => {}
            Resign::Strip => {
                footer.public_key = None;
                footer.signature = None;
            }
            Resign::With(k) => sign::sign_footer(&mut footer, k),
        }
        assert_eq!(h.rtype, 0xf004);
        out.extend_from_slice(&footer_frame(&rec, &footer));
        std::fs::write(f, &out).expect("write");
        prev = Some(footer.sha256.clone());
    }
}

fn chain_problems(files: &[PathBuf]) -> Vec<String> {
    let set = TraceSet::open(files).expect("open");
    let mut m = set.records();
    m.by_ref().for_each(drop);
    verify_chain(&set, m.reports())
        .into_iter()
        .filter(|f| f.severity == Severity::Problem)
        .map(|f| f.message)
        .collect()
}

#[test]
fn rechained_forgery_passes_the_unkeyed_chain() {
    let dir = tempfile::tempdir().expect("tempdir");
    let files = signed_recording(dir.path(), None);
    assert!(files.len() >= 3, "{files:?}");
    let before = std::fs::read(&files[1]).expect("read");
    forge(&files, 1, Resign::Keep);
    assert_ne!(std::fs::read(&files[1]).expect("read"), before, "edited");
    // This is exactly what an unkeyed chain cannot see: every hash and link is right.
    assert_eq!(chain_problems(&files), Vec::<String>::new());
    let (o, text) = info_text(&files, None);
    assert_eq!(o, Outcome::Clean, "{text}");
    assert!(text.contains("Chain: verified"), "{text}");
}

#[test]
fn rechained_forgery_is_caught_by_the_key() {
    let key = SigningKey::from_bytes(&[3; 32]);
    let pk = sign::key_hex(&key.verifying_key());
    let attacker = SigningKey::from_bytes(&[4; 32]);
    for resign in [Resign::Keep, Resign::Strip, Resign::With(&attacker)] {
        let dir = tempfile::tempdir().expect("tempdir");
        let files = signed_recording(dir.path(), Some(&key));
        let (o, text) = info_text(&files, Some(pk.clone()));
        assert_eq!(o, Outcome::Clean, "{text}");
        assert!(text.contains(&format!("signed by {pk}")), "{text}");
        assert!(text.contains("valid"), "{text}");

        forge(&files, 1, resign);
        let (o, text) = info_text(&files, Some(pk.clone()));
        assert_eq!(o, Outcome::Partial, "{resign:?}: {text}");
        assert!(text.contains("Chain: FAILED"), "{resign:?}: {text}");
        assert!(!text.contains("Chain: verified"), "{resign:?}: {text}");
        // Every re-sealed segment is named: the victim and every one after it.
        for f in &files[1..] {
            let name = f.display().to_string();
            assert!(
                text.lines()
                    .any(|l| l.contains("problem:") && l.contains(&name)),
                "{resign:?}: {name} not named: {text}"
            );
        }
        let expected = match resign {
            Resign::Keep => "bad signature",
            Resign::Strip => "is not signed",
            Resign::With(_) => "not by the key given",
        };
        assert!(text.contains(expected), "{resign:?}: {text}");
        // Without the key: footers all stripped or all re-signed by one key pass the
        // unkeyed check, which has nothing to compare with; kept signatures no longer
        // match their footers.
        let unkeyed = chain_problems(&files);
        match resign {
            Resign::Keep => assert!(
                unkeyed.iter().any(|p| p.contains("bad signature")),
                "{unkeyed:?}"
            ),
            Resign::Strip | Resign::With(_) => assert_eq!(unkeyed, Vec::<String>::new()),
        }
    }
}

#[test]
fn wrong_or_malformed_key_and_unsigned_traces() {
    let dir = tempfile::tempdir().expect("tempdir");
    let key = SigningKey::from_bytes(&[3; 32]);
    let files = signed_recording(dir.path(), Some(&key));
    let other = sign::key_hex(&SigningKey::from_bytes(&[5; 32]).verifying_key());
    let (o, text) = info_text(&files, Some(other.clone()));
    assert_eq!(o, Outcome::Partial, "{text}");
    assert!(text.contains("OTHER KEY"), "{text}");
    // The key may be given as a file.
    let kf = dir.path().join("k.pub");
    std::fs::write(&kf, format!("{other}\n")).expect("write");
    let (o, _) = info_text(&files, Some(kf.display().to_string()));
    assert_eq!(o, Outcome::Partial);
    // Unsigned traces checked with a key: every segment lacks a signature.
    let d2 = tempfile::tempdir().expect("tempdir");
    let unsigned = signed_recording(d2.path(), None);
    let (o, text) = info_text(&unsigned, Some(other));
    assert_eq!(o, Outcome::Partial, "{text}");
    assert_eq!(
        text.matches("is not signed").count(),
        unsigned.len(),
        "{text}"
    );
    // A malformed key is an error naming the option.
    let args = info::Args {
        input: Inputs {
            traces: files.clone(),
        },
        json: false,
        verify_key: Some("not-a-key".into()),
    };
    let e = info::write(&args, &mut Vec::new()).expect_err("bad key");
    assert!(format!("{e:#}").contains("--verify-key"), "{e:#}");
    // Signed segments declare format 1.1, unsigned ones 1.0.
    let set = TraceSet::open(&files).expect("open");
    assert!(set.segments.iter().all(|s| s.version == (1, 1)));
    let set = TraceSet::open(&unsigned).expect("open");
    assert!(set.segments.iter().all(|s| s.version == (1, 0)));
}

#[test]
fn deleting_the_newest_segments_is_seen_only_through_the_rotation_reason() {
    let key = SigningKey::from_bytes(&[3; 32]);
    let pk = sign::key_hex(&key.verifying_key());
    let dir = tempfile::tempdir().expect("tempdir");
    let files = signed_recording(dir.path(), Some(&key));
    let kept = &files[..files.len() - 1];
    // Without a key: a note (the reason could be forged, or a subset given on purpose).
    let (o, text) = info_text(kept, None);
    assert_eq!(o, Outcome::Clean, "{text}");
    assert!(text.contains("closed for rotation"), "{text}");
    // With the key, the signed reason says the recording went on: a problem.
    let (o, text) = info_text(kept, Some(pk));
    assert_eq!(o, Outcome::Partial, "{text}");
    assert!(text.contains("were not given or were deleted"), "{text}");
}

#[test]
fn unreadable_files_in_a_directory_do_not_hide_the_rest() {
    let dir = tempfile::tempdir().expect("tempdir");
    let files = signed_recording(dir.path(), None);
    let all_events = {
        let set = TraceSet::open(&[dir.path()]).expect("open");
        set.records().count()
    };
    // A 0-byte segment (full disk at rotation) and one whose header frame is corrupt.
    let empty = dir.path().join("t.000009.zst");
    std::fs::write(&empty, b"").expect("write");
    let mut bad = std::fs::read(&files[1]).expect("read");
    let corrupt = dir.path().join("corrupt.zst");
    bad[20] ^= 0xff;
    bad.truncate(60);
    std::fs::write(&corrupt, &bad).expect("write");

    let set = TraceSet::open(&[dir.path()]).expect("the intact segments open");
    assert_eq!(set.segments.len(), files.len());
    assert_eq!(set.unreadable.len(), 2, "{:?}", set.unreadable);
    let mut m = set.records();
    assert_eq!(
        m.by_ref().count(),
        all_events,
        "every intact record is read"
    );
    let errs: Vec<String> = m.errors().iter().map(|e| e.to_string()).collect();
    assert!(
        errs.iter()
            .any(|e| e.contains("t.000009.zst") && e.contains("empty")),
        "{errs:?}"
    );
    assert!(
        errs.iter()
            .any(|e| e.contains("corrupt.zst") && e.contains("header")),
        "{errs:?}"
    );
    let (o, text) = info_text(&[dir.path().to_path_buf()], None);
    assert_eq!(o, Outcome::Partial, "{text}");
    assert!(!text.contains("Chain: verified"), "{text}");
    assert!(text.contains("t.000009.zst"), "{text}");
    // Only bad files: still an error naming the file.
    let d2 = tempfile::tempdir().expect("tempdir");
    std::fs::write(d2.path().join("x.zst"), b"").expect("write");
    let e = TraceSet::open(&[d2.path()]).expect_err("nothing readable");
    assert!(e.to_string().contains("x.zst"), "{e}");
}

/// A tmpfs of `size` mounted on a fresh directory, unmounted when dropped.
struct SmallDisk(tempfile::TempDir);

impl SmallDisk {
    fn mount(size: &str) -> Option<SmallDisk> {
        if !nix_root() {
            if std::env::var_os("REWIND_REQUIRE_ROOT").is_some() {
                panic!("needs root to mount a tmpfs, and REWIND_REQUIRE_ROOT is set");
            }
            eprintln!("SKIPPED: needs root to mount a small tmpfs");
            return None;
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let st = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "rewind-test"])
            .arg(dir.path())
            .status()
            .expect("run mount");
        assert!(st.success(), "mount tmpfs");
        Some(SmallDisk(dir))
    }
    fn path(&self) -> &Path {
        self.0.path()
    }
    /// Fills the disk; returns the filler file.
    fn fill(&self) -> PathBuf {
        use std::io::Write;
        let p = self.path().join("filler");
        let mut f = std::fs::File::create(&p).expect("filler");
        let chunk = vec![0x5au8; 4096];
        while f.write_all(&chunk).is_ok() {}
        while f.write_all(&chunk[..1]).is_ok() {}
        p
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg(self.0.path())
            .status();
    }
}

fn nix_root() -> bool {
    // The effective uid, read from /proc (this crate has no libc binding).
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|u| u == "0"))
        })
        .unwrap_or(false)
}

#[test]
fn full_disk_at_start_leaves_no_file_that_blocks_the_retry() {
    let Some(disk) = SmallDisk::mount("64k") else {
        return;
    };
    let filler = disk.fill();
    let path = disk.path().join("t.zst");
    let e = TraceBuilder::new(&path)
        .existing(1, 0, "/sbin/init", &["init"], 0)
        .create()
        .expect_err("the disk is full");
    assert!(e.to_string().contains("t.zst"), "{e}");
    assert!(
        !path.exists(),
        "a failed start left {} behind",
        path.display()
    );
    std::fs::remove_file(&filler).expect("rm filler");
    let b = TraceBuilder::new(&path)
        .existing(1, 0, "/sbin/init", &["init"], 0)
        .create()
        .expect("the retry works once there is space");
    b.finish().expect("finish");
}

#[test]
fn full_disk_at_rotation_leaves_no_empty_segment() {
    let Some(disk) = SmallDisk::mount("64k") else {
        return;
    };
    let path = disk.path().join("t.zst");
    let mut b = TraceBuilder::new(&path)
        .rotation(Rotation {
            max_records: Some(5),
            ..Default::default()
        })
        .writer_options(WriterOptions {
            sync: false,
            ..Default::default()
        })
        .existing(1, 0, "/sbin/init", &["init"], 0)
        .create()
        .expect("create");
    let t = b.start_ns();
    for i in 0..5u64 {
        b.exit(t + i, 10 + i as u32, 0).expect("exit");
    }
    b.flush().expect("flush");
    disk.fill();
    // The 6th record rotates: segment 1's footer or segment 2's header cannot be written.
    let err = b.exit(t + 10, 20, 0).expect_err("the disk is full");
    drop(b);
    // Segment 1's footer still fits in its last page; segment 2's header needs a new one.
    let seg2 = rewind_schema::writer::segment_path(&path, 2);
    assert!(
        err.to_string().contains("t.000002.zst"),
        "the header of segment 2 failed: {err}"
    );
    assert!(
        !seg2.exists(),
        "{err}: an empty {} was left behind",
        seg2.display()
    );
    // Whatever was written reads back.
    let set = TraceSet::open(&[&path]).expect("segment 1 opens");
    assert_eq!(set.records().count(), 5 + 1, "5 exits and the snapshot");
}

#[test]
fn one_segment_resealed_by_another_key_is_seen_without_the_key() {
    let key = SigningKey::from_bytes(&[3; 32]);
    let attacker = SigningKey::from_bytes(&[4; 32]);
    let dir = tempfile::tempdir().expect("tempdir");
    let files = signed_recording(dir.path(), Some(&key));
    // Re-sign the last segment's footer alone (its hash is unchanged).
    let last = files.last().expect("segments");
    let bytes = std::fs::read(last).expect("read");
    let spans = frame_spans(&bytes);
    let (off, n) = spans[spans.len() - 1];
    let rec = zstd::decode_all(&bytes[off..off + n]).expect("footer frame");
    let mut footer: SegmentFooter = serde_json::from_slice(&rec[32..]).expect("json");
    sign::sign_footer(&mut footer, &attacker);
    let mut out = bytes[..off].to_vec();
    out.extend_from_slice(&footer_frame(&rec, &footer));
    std::fs::write(last, out).expect("write");
    let p = chain_problems(&files);
    assert!(
        p.iter().any(|m| m.contains("not all sealed by one key")),
        "{p:?}"
    );
}

#[test]
fn info_json_shows_heads_and_signatures() {
    let key = SigningKey::from_bytes(&[3; 32]);
    let pk = sign::key_hex(&key.verifying_key());
    let dir = tempfile::tempdir().expect("tempdir");
    let files = signed_recording(dir.path(), Some(&key));
    let args = info::Args {
        input: Inputs {
            traces: files.clone(),
        },
        json: true,
        verify_key: Some(pk.clone()),
    };
    let mut out = Vec::new();
    assert_eq!(info::write(&args, &mut out).expect("info"), Outcome::Clean);
    let v: serde_json::Value = serde_json::from_slice(&out).expect("json");
    assert_eq!(v["chain"]["verified"], true);
    assert_eq!(v["chain"]["signed_by"], pk.as_str());
    let segs = v["recordings"][0]["segments"].as_array().expect("segments");
    assert_eq!(segs.len(), files.len());
    let set = TraceSet::open(&files).expect("open");
    let mut m = set.records();
    m.by_ref().for_each(drop);
    for (seg, r) in segs.iter().zip(m.reports()) {
        let f = r.footer.as_ref().expect("footer");
        assert_eq!(
            seg["sha256"],
            f.sha256.as_str(),
            "the head to compare with the log"
        );
        assert_eq!(seg["public_key"], pk.as_str());
        assert_eq!(seg["signature"], "valid");
    }
}
