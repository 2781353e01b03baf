//! The `analyzer` binary end to end: golden outputs on the committed fixtures, exit codes,
//! and clear errors on bad input.

mod common;
use common::{analyzer, root, text};

/// Compares `actual` with the golden file, printing both and the first differing line.
/// `REWIND_BLESS=1` rewrites the golden file instead.
fn golden(name: &str, actual: &str) {
    let path = root().join("fixtures/synthetic/expected").join(name);
    if std::env::var_os("REWIND_BLESS").is_some() {
        std::fs::write(&path, actual).expect("bless");
        return;
    }
    let want = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (create it with REWIND_BLESS=1)", path.display()));
    if want != actual {
        let line = want.lines().zip(actual.lines()).position(|(a, b)| a != b);
        panic!(
            "{} differs (first differing line {:?}; REWIND_BLESS=1 rewrites it)\n--- expected\n{want}\n--- actual\n{actual}",
            path.display(),
            line.map(|l| l + 1)
        );
    }
}

const FIXTURE: &str = "fixtures/synthetic/reverse-shell.zst";
const FIXTURE_ALL: &str = "fixtures/synthetic/";

#[test]
fn info_on_the_fixture() {
    let out = analyzer(&["info", FIXTURE_ALL]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    golden("reverse-shell.info.txt", &text(&out.stdout));
}

#[test]
fn info_json_is_one_document() {
    let out = analyzer(&["info", "--json", FIXTURE_ALL]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let rec = &v["recordings"][0];
    assert_eq!(rec["host"]["hostname"], "fixture-host");
    assert_eq!(rec["segments"].as_array().map(Vec::len), Some(2));
    assert_eq!(rec["counts"]["exec"], 9);
    assert_eq!(rec["lost"], 17);
    assert_eq!(v["chain"]["verified"], true);
    assert_eq!(v["partial"], false);
}

#[test]
fn dump_on_the_fixture() {
    let out = analyzer(&["dump", FIXTURE_ALL]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    golden("reverse-shell.dump.txt", &text(&out.stdout));
    let json = analyzer(&["dump", "--json", FIXTURE_ALL]);
    assert_eq!(json.status.code(), Some(0));
    golden("reverse-shell.dump.jsonl", &text(&json.stdout));
    for line in text(&json.stdout).lines() {
        let v: serde_json::Value = serde_json::from_str(line).expect("each line is JSON");
        assert!(v["type"].is_string() && v["time"].is_string(), "{line}");
    }
}

#[test]
fn one_segment_alone_and_globs_work() {
    let one = analyzer(&["dump", "fixtures/synthetic/reverse-shell.000002.zst"]);
    assert_eq!(one.status.code(), Some(0), "{}", text(&one.stderr));
    let stdout = text(&one.stdout);
    // The second segment alone still knows the live processes from its snapshot.
    assert!(stdout.contains("running at start: /bin/sh"), "{stdout}");
    let stderr = text(&one.stderr);
    assert!(stderr.contains("starts at segment 2"), "{stderr}");
    let glob = analyzer(&["dump", "fixtures/synthetic/reverse-shell*.zst"]);
    let dir = analyzer(&["dump", FIXTURE_ALL]);
    assert_eq!(glob.stdout, dir.stdout);
    assert_eq!(
        analyzer(&["dump", FIXTURE_ALL]).stdout,
        dir.stdout,
        "byte-identical run to run"
    );
}

#[test]
fn not_a_trace_is_exit_1_naming_the_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = dir.path().join("notes.txt");
    std::fs::write(&p, "hello").expect("write");
    let ps = p.to_string_lossy().into_owned();
    for cmd in ["info", "dump"] {
        let out = analyzer(&[cmd, &ps]);
        assert_eq!(out.status.code(), Some(1), "{cmd}");
        let err = text(&out.stderr);
        assert!(
            err.contains("notes.txt") && err.contains("not a Rewind trace"),
            "{err}"
        );
        assert!(!err.contains("panicked"), "{err}");
    }
    let missing = analyzer(&["info", "/nonexistent/trace.zst"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(text(&missing.stderr).contains("/nonexistent/trace.zst"));
    let empty_glob = analyzer(&["info", "/nonexistent/*.zst"]);
    assert_eq!(empty_glob.status.code(), Some(1));
    assert!(text(&empty_glob.stderr).contains("no trace files found"));
}

#[test]
fn usage_error_is_exit_2() {
    assert_eq!(analyzer(&["info"]).status.code(), Some(2));
    assert_eq!(analyzer(&["frobnicate"]).status.code(), Some(2));
}

#[test]
fn truncated_trace_is_exit_3_with_what_was_readable() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bytes = std::fs::read(root().join(FIXTURE)).expect("read");
    let p = dir.path().join("cut.zst");
    std::fs::write(&p, &bytes[..bytes.len() - 200]).expect("write");
    let ps = p.to_string_lossy().into_owned();
    let out = analyzer(&["dump", &ps]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(
        err.contains("cut.zst") && err.contains("truncated"),
        "{err}"
    );
    assert!(
        text(&out.stdout).lines().count() > 5,
        "the readable part is printed"
    );
    let info = analyzer(&["info", &ps]);
    assert_eq!(info.status.code(), Some(3));
    assert!(
        text(&info.stdout).contains("DAMAGED"),
        "{}",
        text(&info.stdout)
    );
}

#[test]
fn unsupported_version_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bytes = std::fs::read(root().join(FIXTURE)).expect("read");
    let n = zstd_frame_len(&bytes);
    let mut data = zstd_decode(&bytes[..n]);
    data[32] = 7; // major version
    let mut out = zstd_encode(&data);
    out.extend_from_slice(&bytes[n..]);
    let p = dir.path().join("future.zst");
    std::fs::write(&p, out).expect("write");
    let res = analyzer(&["info", &p.to_string_lossy()]);
    assert_eq!(res.status.code(), Some(1));
    let err = text(&res.stderr);
    assert!(
        err.contains("future.zst") && err.contains("version 7.0 is not supported"),
        "{err}"
    );
}

fn zstd_frame_len(b: &[u8]) -> usize {
    zstd::zstd_safe::find_frame_compressed_size(b).expect("header frame")
}

fn zstd_decode(b: &[u8]) -> Vec<u8> {
    zstd::decode_all(b).expect("decompress")
}

fn zstd_encode(b: &[u8]) -> Vec<u8> {
    zstd::bulk::compress(b, 3).expect("compress")
}

/// Issue 14.3: "event" means one thing everywhere. On a trace holding process snapshots
/// and a loss marker (records, not events), `info --json`, `stats`, `ingest`'s meta row
/// and the report's figure agree, and `info` names the records too.
#[test]
fn every_command_counts_the_same_events() {
    let info: serde_json::Value =
        serde_json::from_str(&common::ok(&["info", "--json", FIXTURE_ALL])).expect("json");
    let rec = &info["recordings"][0];
    let events = rec["events"].as_u64().expect("events");
    let records = rec["records"].as_u64().expect("records");
    assert!(
        records > events,
        "the fixture has snapshots and loss: {rec}"
    );
    let kernel: u64 = rec["counts"]
        .as_object()
        .expect("counts")
        .iter()
        .filter(|(k, _)| *k != "process_snapshot" && *k != "loss")
        .map(|(_, v)| v.as_u64().unwrap_or(0))
        .sum();
    assert_eq!(events, kernel);

    let stats = common::ok(&["stats", FIXTURE_ALL]);
    assert!(
        stats.starts_with(&format!("# {events} events,")),
        "stats says otherwise:\n{stats}"
    );

    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("t.db");
    let db_s = db.to_str().expect("utf-8");
    let out = analyzer(&["ingest", "-o", db_s, FIXTURE_ALL]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains(&format!(" {events} events ({records} records)")),
        "{}",
        text(&out.stderr)
    );
    let conn = rusqlite::Connection::open(&db).expect("open");
    let meta = |k: &str| -> String {
        conn.query_row("SELECT value FROM meta WHERE key = ?1", [k], |r| r.get(0))
            .expect(k)
    };
    assert_eq!(meta("events"), events.to_string());
    assert_eq!(meta("records"), records.to_string());

    let html = dir.path().join("r.html");
    let out = analyzer(&["report", "-o", html.to_str().expect("utf-8"), FIXTURE_ALL]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let page = std::fs::read_to_string(&html).expect("report");
    let card = format!(r#"<div class="n">{events}</div><div class="l">events</div>"#);
    assert!(page.contains(&card), "no {card} in the report");
}
