//! A streaming replay (what `analyzer timeline` uses) frees finished processes and
//! connections as it goes: it must print exactly what a replay that keeps everything
//! prints, and end holding live state only.

use rewind_analyzer::replay::{replay, ReplayOptions};
use rewind_analyzer::timeline::{Filter, Format, Timeline};
use rewind_schema::trace::TraceSet;

fn timeline(set: &TraceSet, streaming: bool) -> (String, usize, usize, usize) {
    let anchors = set.recordings.iter().map(|r| r.anchor).collect();
    let filter = Filter {
        all: true,
        ancestry: true,
        ..Filter::default()
    };
    let mut tl = Timeline::new(Vec::new(), Format::Text { color: false }, filter, anchors);
    let (m, _) = replay(
        set,
        &mut [&mut tl],
        ReplayOptions {
            streaming,
            ..Default::default()
        },
    )
    .expect("replay");
    let out = String::from_utf8(tl.into_inner()).expect("utf8");
    (out, m.images.live(), m.images.len(), m.conns.live())
}

#[test]
fn streaming_replay_prints_the_same_and_keeps_live_state_only() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("w.zst");
    let files = rewind_tests::workload::write(&path, 300_000, 100_000).expect("workload");
    assert!(files.len() >= 3);
    let set = TraceSet::open(&files).expect("open");
    let (kept, kept_live, total, kept_conns) = timeline(&set, false);
    let (streamed, live, total2, conns) = timeline(&set, true);
    assert_eq!(total, total2);
    assert!(kept == streamed, "streaming changed the output");
    assert_eq!(kept_live, total, "nothing freed without streaming");
    // Thousands of processes came and went.
    assert!(total > 2_000, "{total}");
    eprintln!("images: {live} live of {total}; connections open {conns} of {kept_conns}");
    // ~200 live services and helpers, their exec chains and ancestors, and the exits of
    // the last seconds (kept for late records) remain.
    assert!(
        live * 3 < total,
        "live images at the end: {live} of {total}"
    );
    assert!(
        // Open TCP connections and UDP flows active in the last 30-90 s remain.
        conns * 5 < kept_conns,
        "open connections {conns} of {kept_conns}"
    );
}

#[test]
fn streaming_matches_on_every_recorded_fixture() {
    for f in [
        "reverse-shell",
        "lateral-movement",
        "http-redirect-tls",
        "container",
        "benign-build",
    ] {
        let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("..")
            .join(format!("fixtures/{f}.zst"));
        let set = TraceSet::open(&[p]).expect("open");
        assert!(timeline(&set, false).0 == timeline(&set, true).0, "{f}");
    }
}
