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
        analyzer(&["rules", "test", "--rules", s(dir.path())])
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
