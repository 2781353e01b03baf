//! `analyzer stats` and `analyzer export` end to end, checked against the process model
//! (replayed here through the library) and by reading the Parquet back with polars.

mod common;

use common::*;
use polars::prelude::*;
use rewind_analyzer::model::net::Direction;
use rewind_analyzer::model::process::Origin;
use rewind_analyzer::model::Model;
use rewind_analyzer::replay::{replay, ReplayOptions};
use rewind_schema::trace::TraceSet;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

const REVSHELL: &str = "fixtures/reverse-shell.zst";
const HTTP: &str = "fixtures/http-redirect-tls.zst";

/// The model and event count of a trace, replayed through the library.
fn model(trace: &str) -> (Model, u64) {
    let p = root().join(trace);
    let set = TraceSet::open(&[p]).expect("open");
    let (m, s) = replay(&set, &mut [], ReplayOptions::default()).expect("replay");
    (m, s.events)
}

fn stats_json(args: &[&str]) -> Value {
    let mut a = vec!["stats", "-q", "--json"];
    a.extend_from_slice(args);
    serde_json::from_str(&ok(&a)).expect("stats JSON")
}

#[test]
fn bytes_by_destination_match_the_model() {
    let s = stats_json(&[HTTP]);
    let (m, _) = model(HTTP);
    let dest = "127.0.0.1:18080";
    let (mut sent, mut recv, mut n) = (0u64, 0u64, 0u64);
    for c in m.conns.iter().filter(|c| c.dir != Direction::Inbound) {
        if c.remote_text() == dest {
            sent += c.bytes_sent;
            recv += c.bytes_received;
            n += 1;
        }
    }
    assert!(n > 0 && sent + recv > 0, "fixture has traffic to {dest}");
    let rows = s["bytes_by_destination"].as_array().expect("rows");
    let row = rows
        .iter()
        .find(|r| r["destination"] == dest)
        .unwrap_or_else(|| panic!("{dest} missing: {rows:#?}"));
    assert_eq!(row["bytes_sent"], sent);
    assert_eq!(row["bytes_received"], recv);
    assert_eq!(row["bytes_total"], sent + recv);
    assert_eq!(row["connections"], n);
    // Most bytes first, a total order.
    let totals: Vec<u64> = rows
        .iter()
        .filter_map(|r| r["bytes_total"].as_u64())
        .collect();
    assert!(totals.windows(2).all(|w| w[0] >= w[1]), "{totals:?}");
}

#[test]
fn counts_add_up_and_execs_match_the_model() {
    let s = stats_json(&["--bucket", "1s", REVSHELL]);
    let (m, events) = model(REVSHELL);
    assert_eq!(s["events"], events);
    assert_eq!(s["bucket_ns"], 1_000_000_000u64);
    let cells = s["events_per_type"].as_array().expect("cells");
    let sum: u64 = cells.iter().filter_map(|c| c["count"].as_u64()).sum();
    assert_eq!(sum, events);
    assert!(
        cells.iter().all(|c| c["bucket"]
            .as_str()
            .is_some_and(|b| b.ends_with(":03.000000000Z")
                || b.ends_with(":04.000000000Z")
                || b.ends_with(":05.000000000Z"))),
        "{cells:#?}"
    );
    let tsum: u64 = s["type_totals"]
        .as_array()
        .expect("totals")
        .iter()
        .filter_map(|c| c["count"].as_u64())
        .sum();
    assert_eq!(tsum, events);
    // Execs by binary, against the model.
    let mut want: BTreeMap<String, u64> = BTreeMap::new();
    for i in m.images.iter().filter(|i| i.origin == Origin::Exec) {
        *want.entry(i.exe.display()).or_default() += 1;
    }
    let got: BTreeMap<String, u64> = s["exec_by_binary"]
        .as_array()
        .expect("execs")
        .iter()
        .map(|r| {
            (
                r["exe"].as_str().unwrap_or("").to_string(),
                r["execs"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    assert_eq!(got, want);
    assert_eq!(want.get("/usr/bin/bash"), Some(&3));
    // The busiest process is the reverse shell (bash -i).
    let top = &s["top_processes"][0];
    assert_eq!(top["cmdline"], "bash -i", "{top}");
    assert!(s["top_processes"].as_array().is_some_and(|v| v.len() == 10));
}

#[test]
fn stats_text_is_deterministic_and_complete() {
    let a = ok(&["stats", "-q", "fixtures/"]);
    let b = ok(&["stats", "-q", "fixtures/"]);
    assert!(a == b, "stats output differs between runs");
    for title in [
        "## Events per type over time",
        "## Top processes by activity",
        "## Bytes by destination",
        "## Exec frequency by binary",
    ] {
        assert!(a.contains(title), "{title} missing:\n{a}");
    }
    let out = analyzer(&["stats", "--bucket", "soon", REVSHELL]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
}

fn read(path: &Path) -> DataFrame {
    let f = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    ParquetReader::new(f).finish().expect("read parquet")
}

fn parquet_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("read_dir") {
            let p = e.expect("entry").path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

fn strs(df: &DataFrame, name: &str) -> Vec<String> {
    df.column(name)
        .expect(name)
        .str()
        .expect("str")
        .iter()
        .map(|v| v.unwrap_or("").to_string())
        .collect()
}

#[test]
fn export_reads_back_as_the_model() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("pq");
    let o = out.to_str().expect("utf-8");
    ok(&["export", "-q", REVSHELL, "--parquet", o]);
    let (m, events) = model(REVSHELL);
    let part = |t: &str| out.join(t).join("host=vm/day=2026-11-25/part-0.parquet");
    let ev = read(&part("events"));
    assert_eq!(ev.height() as u64, events);
    // Partition keys live in the path only.
    assert!(ev.column("host").is_err() && ev.column("day").is_err());
    let types = strs(&ev, "type");
    assert_eq!(types.iter().filter(|t| *t == "exec").count(), 19);
    assert!(matches!(
        ev.column("time").expect("time").dtype(),
        DataType::Datetime(TimeUnit::Nanoseconds, _)
    ));

    let pr = read(&part("processes"));
    assert_eq!(pr.height(), m.images.len());
    let ids = strs(&pr, "exec_id");
    let exes = strs(&pr, "exe");
    let cmd = strs(&pr, "cmdline");
    for img in &m.images {
        let i = ids
            .iter()
            .position(|x| *x == img.exec_id())
            .unwrap_or_else(|| panic!("{} missing", img.exec_id()));
        assert_eq!(exes[i], img.exe.display());
        assert_eq!(cmd[i], img.cmdline());
    }

    let cn = read(&part("connections"));
    assert_eq!(cn.height(), m.conns.len());
    let remote = strs(&cn, "remote");
    let sent: Vec<u64> = cn
        .column("bytes_sent")
        .expect("bytes_sent")
        .u64()
        .expect("u64")
        .iter()
        .map(|v| v.unwrap_or(0))
        .collect();
    let c = m
        .conns
        .iter()
        .find(|c| c.dir == Direction::Outbound && c.remote.is_some_and(|r| r.port() == 14444))
        .expect("reverse shell connection");
    let i = remote
        .iter()
        .zip(&sent)
        .position(|(r, s)| r == "127.0.0.1:14444" && *s == c.bytes_sent);
    assert!(i.is_some(), "{remote:?} {sent:?}");

    let fl = read(&part("files"));
    let paths = strs(&fl, "path");
    assert!(paths.iter().any(|p| p == "/etc/passwd"));
    let files_events = types
        .iter()
        .filter(|t| matches!(t.as_str(), "open" | "unlink" | "rename" | "chmod" | "chown"))
        .count();
    assert_eq!(fl.height(), files_events);
}

#[test]
fn export_refuses_a_non_empty_dir_unless_forced() {
    let dir = tempfile::tempdir().expect("tempdir");
    let keep = dir.path().join("notes.txt");
    std::fs::write(&keep, "mine").expect("write");
    let o = dir.path().to_str().expect("utf-8");
    let out = analyzer(&["export", "-q", REVSHELL, "--parquet", o]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("--force"),
        "{}",
        text(&out.stderr)
    );
    assert!(!dir.path().join("events").exists());
    ok(&["export", "-q", REVSHELL, "--parquet", o, "--force"]);
    ok(&["export", "-q", REVSHELL, "--parquet", o, "--force"]);
    assert_eq!(std::fs::read_to_string(&keep).expect("kept"), "mine");
    assert_eq!(parquet_files(&dir.path().join("events")).len(), 1);
}

#[test]
fn export_partitions_by_day_and_escapes_the_host() {
    let dir = tempfile::tempdir().expect("tempdir");
    let trace = dropper_trace(dir.path(), HOSTILE_HOST);
    let out = dir.path().join("pq");
    let o = out.to_str().expect("utf-8");
    ok(&[
        "export",
        "-q",
        trace.to_str().expect("utf-8"),
        "--parquet",
        o,
    ]);
    let files = parquet_files(&out.join("events"));
    let host = "host=%2E.%2Fevil%20host";
    let want: Vec<PathBuf> = ["2026-01-15", "2026-01-16"]
        .iter()
        .map(|d| {
            out.join("events")
                .join(host)
                .join(format!("day={d}/part-0.parquet"))
        })
        .collect();
    assert_eq!(files, want);
    // The next day holds the fork, exec and exit of `id`.
    let day2 = read(&want[1]);
    assert_eq!(strs(&day2, "type"), ["fork", "exec", "exit"]);
    let day1 = read(&want[0]);
    let (_, records) = model_at(&trace);
    assert_eq!((day1.height() + day2.height()) as u64, records);
    // DNS and files tables carry the dropper's activity.
    let dns = read(
        &out.join("dns")
            .join(host)
            .join("day=2026-01-15/part-0.parquet"),
    );
    assert_eq!(strs(&dns, "name"), [C2_NAME, C2_NAME]);
    assert_eq!(strs(&dns, "answers"), ["", "203.0.113.7"]);
    let fl = read(
        &out.join("files")
            .join(host)
            .join("day=2026-01-15/part-0.parquet"),
    );
    assert_eq!(
        strs(&fl, "path"),
        [HOSTILE_FILE.replace('\n', "\\n").replace('\x1b', "\\u{1b}")]
    );
    // Nothing escaped the output directory.
    assert!(!dir.path().join("evil host").exists());
}

fn model_at(trace: &Path) -> (Model, u64) {
    let set = TraceSet::open(&[trace.to_path_buf()]).expect("open");
    let (m, s) = replay(&set, &mut [], ReplayOptions::default()).expect("replay");
    (m, s.records)
}

#[test]
fn loss_is_stated_and_exported() {
    let s = stats_json(&["fixtures/synthetic/"]);
    assert_eq!(s["lost_records"], 17);
    assert_eq!(s["loss_windows"], 1);
    let txt = ok(&["stats", "-q", "fixtures/synthetic/"]);
    assert!(txt.contains("lost 17 records"), "{txt}");
    let dir = tempfile::tempdir().expect("tempdir");
    let o = dir.path().join("pq");
    ok(&[
        "export",
        "-q",
        "fixtures/synthetic/",
        "--parquet",
        o.to_str().expect("utf-8"),
    ]);
    let files = parquet_files(&o.join("losses"));
    assert_eq!(files.len(), 1, "{files:?}");
    let l = read(&files[0]);
    let count: Vec<u64> = l
        .column("count")
        .expect("count")
        .u64()
        .expect("u64")
        .iter()
        .map(|v| v.unwrap_or(0))
        .collect();
    assert_eq!(count, [17]);
}

#[test]
fn an_empty_trace_gives_empty_answers() {
    use rewind_schema::builder::TraceBuilder;
    let dir = tempfile::tempdir().expect("tempdir");
    let p = dir.path().join("empty.zst");
    TraceBuilder::new(&p)
        .create()
        .expect("builder")
        .finish()
        .expect("finish");
    let t = p.to_str().expect("utf-8");
    let s = stats_json(&[t]);
    assert_eq!(s["events"], 0);
    let txt = ok(&["stats", "-q", t]);
    assert!(txt.contains("(none)"), "{txt}");
    let o = dir.path().join("pq");
    ok(&["export", "-q", t, "--parquet", o.to_str().expect("utf-8")]);
    assert!(parquet_files(&o).is_empty());
    let g = ok(&["graph", "-q", t]);
    assert!(g.starts_with("digraph rewind {"), "{g}");
}

#[test]
fn several_hosts_export_to_their_own_partitions() {
    let dir = tempfile::tempdir().expect("tempdir");
    let a = dropper_trace_on(dir.path(), "host-a", 3);
    let b = dropper_trace_on(dir.path(), "host-b", 4);
    let (a, b) = (a.to_str().expect("utf-8"), b.to_str().expect("utf-8"));
    let o = dir.path().join("pq");
    ok(&[
        "export",
        "-q",
        a,
        b,
        "--parquet",
        o.to_str().expect("utf-8"),
    ]);
    let procs = parquet_files(&o.join("processes"));
    let rel: Vec<String> = procs
        .iter()
        .filter_map(|p| p.strip_prefix(&o).ok())
        .map(|p| p.display().to_string())
        .collect();
    assert_eq!(
        rel,
        [
            "processes/host=host-a/day=2026-01-15/part-0.parquet",
            "processes/host=host-a/day=2026-01-16/part-0.parquet",
            "processes/host=host-b/day=2026-01-15/part-0.parquet",
            "processes/host=host-b/day=2026-01-16/part-0.parquet",
        ]
    );
    // Stats merge the hosts: both droppers' uploads go to one destination.
    let s = stats_json(&[a, b]);
    let row = s["bytes_by_destination"]
        .as_array()
        .and_then(|r| {
            r.iter()
                .find(|r| r["destination"] == format!("{C2_NAME} ({C2_ADDR})"))
        })
        .cloned()
        .unwrap_or_else(|| panic!("{s:#}"));
    assert_eq!(row["connections"], 2);
    assert_eq!(row["bytes_total"], 2 * 2100);
}
