//! Triage on a busy host: one's own fixtures with expectations of findings only (`check
//! --only`, MISSING expectations, rule tests naming processes and silent rules), and the
//! same scoping flags on every command that reads a trace.

mod common;

use common::{analyzer, ok, text};
use rewind_schema::builder::TraceBuilder;
use std::path::Path;

const MS: u64 = 1_000_000;
const S: u64 = 1_000 * MS;

/// A shell under a service reads /etc/shadow (RW-FILE-001, RW-FILE-004) at +1s; an
/// unrelated process reads /etc/sudoers at +60s; a container process runs `id` at +120s.
fn attack_trace(p: &Path) {
    let mut b = TraceBuilder::new(p)
        .existing(1, 0, "/sbin/init", &["/sbin/init"], 0)
        .existing(100, 1, "/usr/bin/python3", &["python3", "app.py"], 0)
        .existing(200, 1, "/usr/bin/node", &["node", "b.js"], 0)
        .create()
        .expect("create");
    let t = b.start_ns() + S;
    b.fork(t, 100, 300).expect("fork");
    b.exec(t + MS, 300, 100, "/bin/bash", &["bash", "-i"])
        .expect("exec");
    b.fork(t + 2 * MS, 300, 301).expect("fork");
    b.exec(t + 3 * MS, 301, 300, "/bin/cat", &["cat", "/etc/shadow"])
        .expect("exec");
    b.open(t + 4 * MS, 301, "/etc/shadow", 0, 3).expect("open");
    b.exit(t + 5 * MS, 301, 0).expect("exit");
    let t = t + 60 * S;
    b.fork(t, 200, 400).expect("fork");
    b.exec(t + MS, 400, 200, "/bin/cat", &["cat", "/etc/sudoers"])
        .expect("exec");
    b.open(t + 2 * MS, 400, "/etc/sudoers", 0, 3).expect("open");
    b.exit(t + 3 * MS, 400, 0).expect("exit");
    b.finish().expect("finish");
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf8")
}

#[test]
fn check_says_missing_for_absent_expectations() {
    let dir = tempfile::tempdir().expect("tmp");
    let trace = dir.path().join("mine.zst");
    attack_trace(&trace);
    let exp = dir.path().join("expected");
    let out = analyzer(&["check", s(&trace), "--expect", s(&exp)]);
    assert_eq!(out.status.code(), Some(1));
    let (o, e) = (text(&out.stdout), text(&out.stderr));
    assert!(o.contains("MISSING") && !o.contains("DIFFERS"), "{o}");
    assert!(e.contains("MISSING") && !e.contains("differ"), "{e}");
}

#[test]
fn check_only_compares_the_named_outputs() {
    let dir = tempfile::tempdir().expect("tmp");
    let trace = dir.path().join("mine.zst");
    attack_trace(&trace);
    let exp = dir.path().join("expected");
    let (t, x) = (s(&trace), s(&exp));
    let blessed = ok(&[
        "check",
        t,
        "--expect",
        x,
        "--only",
        "detect,incidents",
        "--bless",
    ]);
    let mut files: Vec<String> = std::fs::read_dir(&exp)
        .expect("expectations")
        .flatten()
        .map(|f| f.file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(files, ["detect.txt", "incidents.txt"], "{blessed}");
    let detect = std::fs::read_to_string(exp.join("detect.txt")).expect("read");
    assert!(detect.contains("RW-FILE-001"), "{detect}");
    // Compared alone: no MISSING timeline or tree.
    let o = ok(&[
        "check",
        t,
        "--expect",
        x,
        "--only",
        "detect",
        "--only",
        "incidents",
    ]);
    assert_eq!(o.lines().filter(|l| l.starts_with("ok ")).count(), 2, "{o}");
    // A change in the findings is caught.
    std::fs::write(
        exp.join("detect.txt"),
        detect.replace("RW-FILE-001", "RW-X"),
    )
    .expect("w");
    let out = analyzer(&["check", t, "--expect", x, "--only", "detect,incidents"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stdout).contains("DIFFERS"),
        "{}",
        text(&out.stdout)
    );
    // A name that selects nothing is refused, naming the outputs.
    let out = analyzer(&["check", t, "--expect", x, "--only", "detections"]);
    assert_eq!(out.status.code(), Some(1));
    let e = text(&out.stderr);
    assert!(
        e.contains("--only detections") && e.contains("incidents"),
        "{e}"
    );
}

/// Rule tests name the processes that must fire and the rules that must stay silent.
#[test]
fn rule_tests_assert_processes_and_silent_rules() {
    let dir = tempfile::tempdir().expect("tmp");
    attack_trace(&dir.path().join("mine.zst"));
    let rules = |processes: &str, silent: &str| {
        format!(
            "id: T-SHADOW\ntitle: shadow read\nseverity: high\nattack: [T1003.008]\nmatch:\n  event: open\n  file.path: /etc/shadow\ntests:\n  - trace: mine.zst\n    processes: [{processes}]\n    silent: [{silent}]\n---\nid: T-SUDOERS\ntitle: sudoers read\nseverity: medium\nattack: [T1548]\nmatch:\n  event: open\n  file.path: /etc/sudoers\n---\nid: T-NOTHING\ntitle: never\nseverity: low\nattack: [T1548]\nmatch:\n  event: open\n  file.path: /nothing\n"
        )
    };
    let run = |body: String| {
        std::fs::write(dir.path().join("r.yml"), body).expect("write");
        analyzer(&["rules", "test", "--no-builtin", "--rules", s(dir.path())])
    };
    let out = run(rules("\"cat[301]\"", "T-NOTHING"));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    assert!(
        text(&out.stdout).contains(
            "ok   T-SHADOW on mine.zst: 1 findings; processes cat[301]; silent T-NOTHING"
        ),
        "{}",
        text(&out.stdout)
    );
    for (procs, silent, why) in [
        (
            "\"cat[400]\"",
            "T-NOTHING",
            "fired in [cat[301]], expected [cat[400]]",
        ),
        ("\"cat[301]\"", "T-SUDOERS", "T-SUDOERS fired (cat[400])"),
        (
            "\"cat[301]\"",
            "T-TYPO",
            "silent rule T-TYPO is not among the rules",
        ),
    ] {
        let out = run(rules(procs, silent));
        assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
        let o = text(&out.stdout);
        assert!(o.contains("FAIL T-SHADOW") && o.contains(why), "{why}: {o}");
    }
}

/// Runs `args` on `trace` and returns stdout.
fn on(trace: &Path, args: &[&str]) -> String {
    let mut all = args.to_vec();
    all.extend(["-q", s(trace)]);
    ok(&all)
}

/// The headers of `incidents`' text.
fn heads(out: &str) -> Vec<&str> {
    out.lines().filter(|l| l.starts_with("Incident ")).collect()
}

/// A trace for the scoping tests (kept alive with its directory).
fn scoped_trace() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().expect("tmp");
    let trace = dir.path().join("mine.zst");
    attack_trace(&trace);
    (dir, trace)
}

// The scoping tests: the attack on python3[100]'s tree at 09:00:01 (incident 1), the
// sudoers read by node[200]'s child at 09:01:01 (incident 2).

#[test]
fn timeline_and_detect_take_every_time_form() {
    let (_d, trace) = scoped_trace();
    let t = &trace;
    // A time of day as the timeline prints it, an offset, RFC 3339.
    for late in [
        &["--since", "09:00:30"][..],
        &["--since", "+30s"],
        &["--since", "2026-01-15T09:00:30Z"],
    ] {
        let tl = on(t, &[&["timeline"][..], late].concat());
        assert!(
            tl.contains("cat[400]") && !tl.contains("cat[301]"),
            "{late:?}: {tl}"
        );
        let d = on(t, &[&["detect"][..], late].concat());
        assert!(
            d.contains("cat[400]") && !d.contains("cat[301]"),
            "{late:?}: {d}"
        );
        assert!(
            d.contains("-- 1 findings (1 high) in 1 incidents --"),
            "{d}"
        );
    }
    let early = ["--until", "09:00:30.5"];
    let d = on(t, &[&["detect"][..], &early].concat());
    assert!(d.contains("cat[301]") && !d.contains("cat[400]"), "{d}");
}

#[test]
fn detect_is_scoped_by_process_and_incident() {
    let (_d, trace) = scoped_trace();
    let t = &trace;
    let d = on(t, &["detect", "--pid", "400"]);
    assert!(d.contains("cat[400]") && !d.contains("cat[301]"), "{d}");
    let d = on(t, &["detect", "--incident", "1"]);
    assert!(d.contains("cat[301]") && !d.contains("cat[400]"), "{d}");
    assert!(
        d.contains("-- 2 findings (1 high, 1 low) in 1 incidents --"),
        "{d}"
    );
    let d = on(
        t,
        &[
            "detect",
            "--json",
            "--container",
            "host",
            "--process-tree",
            "100",
        ],
    );
    assert_eq!(d.lines().count(), 2, "{d}");
}

#[test]
fn incidents_are_scoped_whole_with_their_numbers() {
    let (_d, trace) = scoped_trace();
    let t = &trace;
    let i = on(t, &["incidents", "--since", "09:00:30"]);
    assert_eq!(
        heads(&i),
        ["Incident 2  HIGH Password or sudo configuration read: cat[400]"]
    );
    let i = on(t, &["incidents", "--incident", "1"]);
    assert_eq!(heads(&i).len(), 1, "{i}");
    assert!(
        heads(&i)[0].starts_with("Incident 1 ") && i.contains("cat[301]"),
        "{i}"
    );
    let i = on(t, &["incidents", "--process-tree", "200"]);
    assert_eq!(heads(&i).len(), 1, "{i}");
    assert!(heads(&i)[0].starts_with("Incident 2 "), "{i}");
    let i = on(t, &["incidents", "--container", "0123abc"]);
    assert!(heads(&i).is_empty(), "{i}");
}

#[test]
fn tree_shows_the_processes_in_scope_with_their_ancestors() {
    let (_d, trace) = scoped_trace();
    let t = &trace;
    let tr = on(t, &["tree", "--since", "09:00:30"]);
    assert!(tr.contains("cat[400]") && tr.contains("node[200]"), "{tr}");
    assert!(
        !tr.contains("cat[301]") && !tr.contains("python3[100]"),
        "{tr}"
    );
    let tr = on(t, &["tree", "--incident", "1"]);
    assert!(tr.contains("cat[301]") && !tr.contains("cat[400]"), "{tr}");
    let tr = on(t, &["tree", "--pid", "301"]);
    assert!(tr.contains("bash[300]") && tr.contains("cat[301]"), "{tr}");
    assert!(!tr.contains("node[200]"), "{tr}");
}

#[test]
fn graph_shows_what_the_processes_in_scope_touched() {
    let (_d, trace) = scoped_trace();
    let t = &trace;
    let files = |args: &[&str]| -> Vec<String> {
        let g = on(t, &[&["graph", "--format", "json"][..], args].concat());
        let v: serde_json::Value = serde_json::from_str(&g).expect("json");
        let mut f: Vec<String> = v["nodes"]
            .as_array()
            .expect("nodes")
            .iter()
            .filter(|n| n["kind"] == "file")
            .map(|n| n["label"].as_str().expect("label").to_string())
            .collect();
        f.sort();
        f
    };
    assert_eq!(files(&[]), ["/etc/shadow", "/etc/sudoers"]);
    assert_eq!(files(&["--pid", "400"]), ["/etc/sudoers"]);
    assert_eq!(files(&["--until", "+30s"]), ["/etc/shadow"]);
    assert_eq!(files(&["--incident", "2"]), ["/etc/sudoers"]);
}

#[test]
fn stats_count_the_events_in_scope() {
    let (_d, trace) = scoped_trace();
    let t = &trace;
    let st = on(t, &["stats", "--json", "--since", "09:00:30"]);
    let v: serde_json::Value = serde_json::from_str(&st).expect("json");
    assert_eq!(v["events"], 4, "{st}");
    assert!(!st.contains("cat[301]") && st.contains("cat[400]"), "{st}");
    let st = on(t, &["stats", "--json", "--process-tree", "300"]);
    assert!(
        !st.contains("/etc/sudoers") && !st.contains("cat[400]"),
        "{st}"
    );
}

#[test]
fn report_of_one_incident() {
    let (dir, trace) = scoped_trace();
    let t = &trace;
    let html = dir.path().join("r.html");
    let h = s(&html);
    on(t, &["report", "-o", h, "--incident", "2"]);
    let body = std::fs::read_to_string(&html).expect("report");
    assert!(body.contains("cat /etc/sudoers"), "report lacks incident 2");
    assert!(!body.contains("Incident 1"), "report has incident 1");
    assert!(
        body.contains("Incident 2"),
        "report lacks incident 2's heading"
    );
    // Unscoped, both.
    on(t, &["report", "-o", h]);
    let body = std::fs::read_to_string(&html).expect("report");
    assert!(body.contains("Incident 1") && body.contains("Incident 2"));
}

#[test]
fn bad_scopes_are_refused_on_every_command() {
    let (_d, trace) = scoped_trace();
    let t = &trace;
    for c in ["timeline", "detect", "incidents", "tree", "graph", "stats"] {
        let out = analyzer(&[c, "-q", "--since", "25:00", s(t)]);
        assert_eq!(out.status.code(), Some(2), "{c}");
        assert!(
            text(&out.stderr).contains("time of day"),
            "{c}: {}",
            text(&out.stderr)
        );
        let out = analyzer(&[c, "-q", "--incident", "9", s(t)]);
        assert_eq!(out.status.code(), Some(1), "{c}");
        assert!(text(&out.stderr).contains("there is no incident 9"), "{c}");
    }
}
