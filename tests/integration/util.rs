//! Helpers: random records of every layout, and reading a trace back.

use proptest::prelude::*;
use rewind_schema::event::{self, layout_of, Event, EventKind, RecordType};
use rewind_schema::reader::SegmentReader;
use rewind_schema::snapshot::{ProcessSnapshot, SnapshotSource};
use rewind_schema::wire::{ByteString, RecordHeader, HDR_SIZE};
use std::path::{Path, PathBuf};

/// Kernel record types (everything the writer accepts as a plain record except JSON ones).
pub fn kernel_types() -> Vec<RecordType> {
    RecordType::ALL
        .iter()
        .copied()
        .filter(|t| {
            !matches!(
                t,
                RecordType::SegmentHeader | RecordType::SegmentFooter | RecordType::ProcessSnapshot
            )
        })
        .collect()
}

/// A raw record of type `t` whose fixed fields are `fixed` (cycled) and whose variable
/// fields hold `vars` (one per `*_len` field, extra ignored).
pub fn raw_record(t: RecordType, hdr: RecordHeader, fixed: &[u8], vars: &[Vec<u8>]) -> Vec<u8> {
    let layout = layout_of(t);
    let mut rec = vec![0u8; layout.size];
    for (i, b) in rec.iter_mut().enumerate().skip(HDR_SIZE) {
        *b = fixed.get(i % fixed.len().max(1)).copied().unwrap_or(0);
    }
    let mut tail = Vec::new();
    for (vi, f) in layout
        .fields
        .iter()
        .filter(|f| f.name.ends_with("_len"))
        .enumerate()
    {
        let v = vars.get(vi).cloned().unwrap_or_default();
        rec[f.offset..f.offset + 2].copy_from_slice(&(v.len() as u16).to_le_bytes());
        tail.extend_from_slice(&v);
    }
    // Padding after the last length field is zero on the wire.
    if let Some(last) = layout.fields.last() {
        let end = last.offset + last.size;
        rec[end..].iter_mut().for_each(|b| *b = 0);
    }
    rec.extend_from_slice(&tail);
    let mut h = hdr;
    h.rtype = t as u16;
    h.size = rec.len() as u32;
    let mut head = Vec::new();
    h.write(&mut head);
    rec[..HDR_SIZE].copy_from_slice(&head);
    rec
}

/// Any kernel event: random bytes decoded through the real decoder.
pub fn any_kernel_event() -> impl Strategy<Value = Event> {
    (
        prop::sample::select(kernel_types()),
        any::<(u16, u64, u32, u32)>(),
        prop::collection::vec(any::<u8>(), 1..64),
        prop::collection::vec(prop::collection::vec(any::<u8>(), 0..80), 0..4),
    )
        .prop_map(|(t, (cpu, ts, pid, tid), fixed, vars)| {
            let hdr = RecordHeader {
                rtype: 0,
                cpu,
                size: 0,
                ts,
                pid,
                tid,
            };
            let rec = raw_record(t, hdr, &fixed, &vars);
            match event::decode(&rec) {
                Ok(ev) => ev,
                Err(e) => panic!("a well-formed {t:?} record failed to decode: {e}"),
            }
        })
}

/// Any process snapshot event.
pub fn any_snapshot_event() -> impl Strategy<Value = Event> {
    (
        any::<(u32, u32, u64, u64)>(),
        "[ -~]{0,20}",
        prop::collection::vec("[^\u{0}]{0,12}", 0..5),
        any::<(u32, u32, u64)>(),
        any::<bool>(),
    )
        .prop_map(
            |((pid, ppid, start, ts), exe, argv, (uid, tty, cap), tracked)| Event {
                ts,
                cpu: 0,
                pid,
                tid: pid,
                kind: EventKind::ProcessSnapshot(Box::new(ProcessSnapshot {
                    pid,
                    ppid,
                    start,
                    comm: ByteString::from(exe.chars().take(15).collect::<String>()),
                    exe: ByteString::from(exe),
                    argv: argv.into_iter().map(ByteString::from).collect(),
                    uid,
                    euid: uid,
                    tty,
                    cap_eff: cap,
                    source: if tracked {
                        SnapshotSource::Tracked
                    } else {
                        SnapshotSource::Procfs
                    },
                    ..Default::default()
                })),
            },
        )
}

/// Every record of the segment files, in file order, decoded (segment by segment).
pub fn read_events(files: &[PathBuf]) -> Vec<Event> {
    let mut out = Vec::new();
    for f in files {
        let r = SegmentReader::open(f).unwrap_or_else(|e| panic!("{e}"));
        for rec in r {
            out.push(
                rec.decode()
                    .unwrap_or_else(|e| panic!("{}: {e}", f.display())),
            );
        }
    }
    out
}

/// All raw records of one segment and its damage list.
pub fn read_raw(path: &Path) -> (Vec<Vec<u8>>, Vec<rewind_schema::Damage>) {
    let mut r = SegmentReader::open(path).unwrap_or_else(|e| panic!("{e}"));
    let recs: Vec<Vec<u8>> = r.by_ref().map(|x| x.bytes().to_vec()).collect();
    (recs, r.damage().to_vec())
}
