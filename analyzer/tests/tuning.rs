//! Tuning detections: an exceptions file drops reviewed findings (built-in, directory and
//! Sigma rules alike), `--rules DIR` adds to the built-in rules unless `--no-builtin`, and
//! repeated low-value findings collapse to one block in the text output.

mod common;

use common::{analyzer, ok, text};
use rewind_schema::builder::TraceBuilder;
use std::path::Path;

const MS: u64 = 1_000_000;
const S: u64 = 1_000 * MS;

fn s(p: &Path) -> &str {
    p.to_str().expect("utf8")
}

/// (rule id, process) of every finding of `detect --json` with these arguments.
fn findings(args: &[&str]) -> Vec<(String, String)> {
    let mut all = vec!["detect", "-q", "--json"];
    all.extend_from_slice(args);
    ok(&all)
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("json line");
            (
                v["rule"]["id"].as_str().expect("id").to_string(),
                v["process"].as_str().expect("process").to_string(),
            )
        })
        .collect()
}

const SHADOW_RULE: &str = "id: T-SHADOW
title: shadow read
severity: high
attack: [T1003.008]
match:
  event: open
  file.path|startswith: /etc/shadow
";

/// Three readers of /etc/shadow: cat (root), a backup agent (uid 34), less (uid 1000).
fn shadow_trace(p: &Path) {
    let mut b = TraceBuilder::new(p)
        .existing(1, 0, "/sbin/init", &["/sbin/init"], 0)
        .existing(100, 1, "/usr/bin/cat", &["cat", "/etc/shadow"], 0)
        .existing(200, 1, "/opt/backup/bin/agent", &["agent"], 34)
        .existing(300, 1, "/usr/bin/less", &["less", "/etc/shadow"], 1000)
        .create()
        .expect("create");
    let t = b.start_ns() + S;
    for (k, pid) in [100, 200, 300].into_iter().enumerate() {
        b.open(t + k as u64 * MS, pid, "/etc/shadow", 0, 3)
            .expect("open");
    }
    b.finish().expect("finish");
}

#[test]
fn exceptions_drop_matching_findings_and_count_them() {
    let dir = tempfile::tempdir().expect("tmp");
    let rules = dir.path().join("rules");
    std::fs::create_dir(&rules).expect("mkdir");
    std::fs::write(rules.join("r.yml"), SHADOW_RULE).expect("write");
    let trace = dir.path().join("t.zst");
    shadow_trace(&trace);
    let ex = dir.path().join("ex.yaml");
    std::fs::write(
        &ex,
        "# reviewed\n\
         - rule: T-SHADOW\n  binary: /opt/backup/*\n  reason: nightly backup\n\
         - rule: \"*\"\n  uid: 1000\n  path: /etc/\n\
         - rule: T-SHADOW\n  parent: /usr/sbin/sshd\n\
         - rule: T-SHADOW\n  container: abc\n",
    )
    .expect("write");
    let base = ["--no-builtin", "--rules", s(&rules)];
    let all = findings(&[&base[..], &[s(&trace)]].concat());
    assert_eq!(all.len(), 3, "{all:?}");
    let kept = findings(&[&base[..], &["--exceptions", s(&ex), s(&trace)]].concat());
    assert_eq!(
        kept,
        [("T-SHADOW".to_string(), "cat[100]".to_string())],
        "{kept:?}"
    );
    let out = analyzer(
        &[
            &["detect", "-q"],
            &base[..],
            &["--exceptions", s(&ex), s(&trace)],
        ]
        .concat(),
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains(
            "-- 1 findings (1 high) in 1 incidents; 2 findings suppressed by exceptions --"
        ),
        "{stdout}"
    );
    assert!(
        text(&out.stderr).contains("2 findings suppressed by exceptions"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn exceptions_apply_to_sigma_rules_too() {
    let dir = tempfile::tempdir().expect("tmp");
    let args = ["--no-builtin", "--sigma", "fixtures/sigma"];
    let all = findings(&[&args[..], &["fixtures/persistence.zst"]].concat());
    assert_eq!(all.len(), 5, "{all:?}");
    let ex = dir.path().join("ex.yaml");
    std::fs::write(
        &ex,
        "- rule: 286d9f28-2f7a-4dff-9384-c4890184e1ea\n  binary: /usr/bin/tee\n\
         - rule: \"*\"\n  path: /tmp/rewind-persist.\n",
    )
    .expect("write");
    let kept = findings(
        &[
            &args[..],
            &["--exceptions", s(&ex), "fixtures/persistence.zst"],
        ]
        .concat(),
    );
    let ids: Vec<&str> = kept.iter().map(|(r, _)| r.as_str()).collect();
    assert_eq!(ids, ["449593fb-e1fb-4c72-b5bf-547bef3a0520"], "{kept:?}");
}

#[test]
fn bad_exceptions_name_the_file_line_and_problem() {
    let dir = tempfile::tempdir().expect("tmp");
    let ex = dir.path().join("bad.yaml");
    let cases = [
        (
            "- rule: X\n  binray: /a\n",
            "line 2",
            "unknown field `binray`",
        ),
        (
            "# c\n- rule: X\n  binary: /a\n- rule: \"*\"\n",
            "line 4",
            "would drop every finding",
        ),
        ("- rule: X\n  uid: root\n", "line 2", "uid"),
        ("- rule: X\n  binary: \"\"\n", "line 1", "empty value"),
        ("- binary: /a\n", "line 1", "rule"),
    ];
    for (body, line, why) in cases {
        std::fs::write(&ex, body).expect("write");
        let out = analyzer(&[
            "detect",
            "-q",
            "--exceptions",
            s(&ex),
            "fixtures/reverse-shell.zst",
        ]);
        assert_eq!(out.status.code(), Some(1), "{body}");
        let err = text(&out.stderr);
        assert!(
            err.contains("bad.yaml") && err.contains(line) && err.contains(why),
            "{body}: expected {line} and {why:?} in {err}"
        );
        assert!(!err.contains("panicked"), "{err}");
    }
    // The documented example parses and drops nothing of the reverse shell.
    let out = analyzer(&[
        "detect",
        "-q",
        "--exceptions",
        "fixtures/exceptions/example.yaml",
        "fixtures/reverse-shell.zst",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
}

#[test]
fn rules_dir_adds_to_the_builtin_rules_unless_no_builtin() {
    let dir = tempfile::tempdir().expect("tmp");
    std::fs::write(
        dir.path().join("r.yml"),
        "id: T-CAT\ntitle: cat ran\nseverity: medium\nattack: [T1005]\nmatch:\n  event: exec\n  process.name: cat\n",
    )
    .expect("write");
    let d = s(dir.path());
    let both = findings(&["--rules", d, "fixtures/reverse-shell.zst"]);
    let has = |v: &[(String, String)], id: &str| v.iter().any(|(r, _)| r == id);
    assert!(has(&both, "T-CAT") && has(&both, "RW-PROC-001"), "{both:?}");
    let mine = findings(&["--no-builtin", "--rules", d, "fixtures/reverse-shell.zst"]);
    assert!(
        has(&mine, "T-CAT") && mine.iter().all(|(r, _)| r == "T-CAT"),
        "{mine:?}"
    );
    // A directory rule with a built-in id clashes, and the message says what to do.
    std::fs::write(
        dir.path().join("r.yml"),
        "id: RW-PROC-001\ntitle: mine\nseverity: low\nattack: [T1005]\nmatch:\n  event: exec\n",
    )
    .expect("write");
    let out = analyzer(&["detect", "-q", "--rules", d, "fixtures/reverse-shell.zst"]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains("defined twice") && err.contains("--no-builtin"),
        "{err}"
    );
}

#[test]
fn repeated_low_findings_collapse_in_text_but_not_in_json() {
    let dir = tempfile::tempdir().expect("tmp");
    std::fs::write(
        dir.path().join("r.yml"),
        "id: T-LOAD\ntitle: program loaded\nseverity: low\nattack: [T1005]\nmatch:\n  event: open\n  file.path: /sys/fs/bpf/x\n---\nid: T-HIGH\ntitle: important\nseverity: high\nattack: [T1005]\nmatch:\n  event: open\n  file.path: /etc/shadow\n",
    )
    .expect("write");
    let trace = dir.path().join("t.zst");
    let mut b = TraceBuilder::new(&trace)
        .existing(1, 0, "/sbin/init", &["/sbin/init"], 0)
        .create()
        .expect("create");
    let t = b.start_ns() + S;
    // Four recorders (one binary) and another program load; two of them read shadow.
    for (k, (pid, exe)) in [
        (100, "/usr/bin/recorder"),
        (101, "/usr/bin/recorder"),
        (102, "/usr/bin/recorder"),
        (103, "/usr/bin/recorder"),
        (104, "/usr/bin/other"),
    ]
    .into_iter()
    .enumerate()
    {
        let at = t + k as u64 * S;
        b.fork(at, 1, pid).expect("fork");
        let name = exe.rsplit('/').next().expect("name");
        b.exec(at + MS, pid, 1, exe, &[name]).expect("exec");
        b.open(at + 2 * MS, pid, "/sys/fs/bpf/x", 0, 3)
            .expect("open");
        if pid == 100 || pid == 101 {
            b.open(at + 3 * MS, pid, "/etc/shadow", 0, 3).expect("open");
        }
    }
    b.finish().expect("finish");
    let d = s(dir.path());
    let json = findings(&["--no-builtin", "--rules", d, s(&trace)]);
    assert_eq!(
        json.iter().filter(|(r, _)| r == "T-LOAD").count(),
        5,
        "{json:?}"
    );
    let out = ok(&["detect", "-q", "--no-builtin", "--rules", d, s(&trace)]);
    let heads = |id: &str| {
        out.lines()
            .filter(|l| l.contains(&format!(" {id} ")))
            .count()
    };
    assert_eq!(heads("T-LOAD"), 2, "one block per binary: {out}");
    assert_eq!(heads("T-HIGH"), 2, "high findings never collapse: {out}");
    assert!(
        out.contains("    + 3 more of this rule by /usr/bin/recorder (last ")
            && out.contains("): recorder[101], recorder[102], recorder[103]\n"),
        "{out}"
    );
    assert!(out.contains("-- 7 findings (2 high, 5 low)"), "{out}");
}
