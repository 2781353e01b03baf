//! Round trips: any events written and read back are identical, across rotation too.

use crate::util::*;
use proptest::prelude::*;
use rewind_schema::builder::TraceBuilder;
use rewind_schema::event::{self, Event, EventKind};
use rewind_schema::trace::TraceSet;
use rewind_schema::writer::{Rotation, WriterOptions};

fn not_snapshot(e: &Event) -> bool {
    !matches!(e.kind, EventKind::ProcessSnapshot(_))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// encode(decode(x)) is stable for every record layout.
    #[test]
    fn record_encode_decode(ev in prop_oneof![any_kernel_event(), any_snapshot_event()]) {
        let mut buf = Vec::new();
        event::encode(&ev, &mut buf).expect("encode");
        let back = event::decode(&buf).expect("decode");
        prop_assert_eq!(&back, &ev);
        let mut again = Vec::new();
        event::encode(&back, &mut again).expect("encode");
        prop_assert_eq!(again, buf);
    }

    /// A sequence of events written to one segment reads back identical, in order.
    #[test]
    fn segment_roundtrip(events in prop::collection::vec(prop_oneof![4 => any_kernel_event(), 1 => any_snapshot_event()], 0..200),
                         frame_kib in 4usize..64) {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("t.zst");
        let mut b = TraceBuilder::new(&path)
            .writer_options(WriterOptions { frame_bytes: frame_kib << 10, ..Default::default() })
            .create().expect("create");
        for e in &events {
            b.push(e.clone()).expect("push");
        }
        let files = b.finish().expect("finish");
        prop_assert_eq!(files.len(), 1);
        let back = read_events(&files);
        prop_assert_eq!(back, events);
    }

}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Across rotation boundaries (by records, by bytes, by time) no event is lost,
    /// duplicated or changed; every new segment starts with a snapshot.
    #[test]
    fn rotation_roundtrip(events in prop::collection::vec(any_kernel_event(), 1..300),
                          max_records in 5u64..60,
                          max_bytes in prop::option::of(1500u64..8192),
                          max_dur in prop::option::of(1u64..u64::MAX / 4)) {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("t.zst");
        let rotation = Rotation { max_records: Some(max_records), max_bytes, max_duration_ns: max_dur, max_segments: None };
        let mut b = TraceBuilder::new(&path)
            .rotation(rotation)
            .writer_options(WriterOptions { frame_bytes: 4096, sync: false, ..Default::default() })
            .existing(1, 0, "/sbin/init", &["init"], 0)
            .create().expect("create");
        for (i, e) in events.iter().enumerate() {
            b.push(e.clone()).expect("push");
            if i % 7 == 0 {
                b.flush().expect("flush");
            }
        }
        let files = b.finish().expect("finish");
        let back: Vec<Event> = read_events(&files).into_iter().filter(not_snapshot).collect();
        prop_assert_eq!(&back, &events);
        // Every segment after the first opens with the snapshot of live processes.
        for f in files.iter().skip(1) {
            let evs = read_events(std::slice::from_ref(f));
            prop_assert!(evs.first().is_some_and(|e| !not_snapshot(e)), "{} has no snapshot", f.display());
        }
    }

    /// Reading the segments through a TraceSet (merge, reorder) keeps time-ordered
    /// events identical and in order, whatever order the files are given in.
    #[test]
    fn traceset_roundtrip(mut events in prop::collection::vec(any_kernel_event(), 1..200), max_records in 5u64..50) {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("t.zst");
        let base = rewind_schema::builder::SYNTHETIC_BOOT_NS;
        for (i, e) in events.iter_mut().enumerate() {
            e.ts = base + 1_000 * i as u64;
        }
        let mut b = TraceBuilder::new(&path)
            .rotation(Rotation { max_records: Some(max_records), ..Default::default() })
            .writer_options(WriterOptions { sync: false, ..Default::default() })
            .create().expect("create");
        for e in &events {
            b.push(e.clone()).expect("push");
        }
        let mut files = b.finish().expect("finish");
        files.reverse();
        let set = TraceSet::open(&files).expect("open");
        let mut merged = set.records();
        let back: Vec<Event> = merged.by_ref().map(|m| m.rec.decode().expect("decode")).filter(not_snapshot).collect();
        prop_assert_eq!(back, events);
        prop_assert!(merged.reports().iter().all(|r| r.damage.is_empty()));
        prop_assert!(rewind_schema::trace::verify_chain(&set, merged.reports()).is_empty());
    }
}

#[test]
fn records_out_of_order_across_cpus_are_put_in_order() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("t.zst");
    let mut b = TraceBuilder::new(&path).create().expect("create");
    let t = b.start_ns();
    // Ring-buffer order is reservation order: timestamps may go back a little.
    let order = [5u64, 1, 3, 2, 4, 9, 7, 8, 6, 10];
    for (i, k) in order.iter().enumerate() {
        b.exit(t + k * 1_000_000, 100 + i as u32, 0).expect("exit");
    }
    let files = b.finish().expect("finish");
    let set = TraceSet::open(&files).expect("open");
    let ts: Vec<u64> = set.records().map(|m| m.rec.hdr.ts - t).collect();
    assert_eq!(ts, (1..=10).map(|k| k * 1_000_000).collect::<Vec<_>>());
}

#[test]
fn merges_two_recordings_by_wall_clock() {
    use rewind_schema::meta::ClockAnchor;
    let dir = tempfile::tempdir().expect("tempdir");
    let a = dir.path().join("a.zst");
    let bpath = dir.path().join("b.zst");
    // Host B booted 10 s after host A: same wall time, different boot clocks.
    let mut x = TraceBuilder::new(&a)
        .trace_id("aa000000000000000000000000000001")
        .create()
        .expect("a");
    let mut y = TraceBuilder::new(&bpath)
        .trace_id("bb000000000000000000000000000002")
        .clock(ClockAnchor {
            boot_ns: 5_000_000_000,
            wall_ns: rewind_schema::builder::SYNTHETIC_WALL_NS,
        })
        .create()
        .expect("b");
    let (ta, tb) = (x.start_ns(), y.start_ns());
    for i in 0..5u64 {
        x.exit(ta + (2 * i) * 1_000_000, 1000 + i as u32, 0)
            .expect("x");
        y.exit(tb + (2 * i + 1) * 1_000_000, 2000 + i as u32, 0)
            .expect("y");
    }
    x.finish().expect("x");
    y.finish().expect("y");
    let set = TraceSet::open(&[dir.path()]).expect("open dir");
    let pids: Vec<u32> = set.records().map(|m| m.rec.hdr.pid).collect();
    assert_eq!(
        pids,
        vec![1000, 2000, 1001, 2001, 1002, 2002, 1003, 2003, 1004, 2004]
    );
}
