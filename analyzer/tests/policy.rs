//! `analyzer policy test|check` end to end: every committed fixture under the example
//! policies (attack fixtures blocked at their first malicious step, benign ones
//! untouched, outputs equal to fixtures/expected/NAME/policy-POLICY.txt), the safety
//! exclusions, monitor mode and `unless` on synthetic traces, the story-5 network policy,
//! and enforcement records shown in the timeline.

mod common;
use common::{analyzer, root, text};

use rewind_schema::builder::TraceBuilder;
use rewind_schema::meta::CaptureConfig;
use rewind_schema::policy::Policy;
use rewind_schema::wire::{self, enforce};
use rewind_schema::EventKind;
use std::path::Path;

const POLICIES: [&str; 4] = [
    "frontend-backend",
    "protect-credentials",
    "reverse-shell",
    "reverse-shell-live",
];

/// (policy, fixture) pairs where the policy must block something, with the first hit's
/// process and rule: the first malicious step.
const BLOCKED: [(&str, &str, &str, &str); 6] = [
    (
        "reverse-shell",
        "reverse-shell",
        "sh[16032]",
        "shell-dev-tcp",
    ),
    (
        "reverse-shell",
        "reverse-shell-blocked",
        "sh[12603]",
        "shell-dev-tcp",
    ),
    (
        "reverse-shell-live",
        "reverse-shell",
        "bash[16033]",
        "service-shell-connects-out",
    ),
    // recorded under this policy: the kernel's block, found again by the evaluation
    (
        "reverse-shell-live",
        "reverse-shell-blocked",
        "bash[12604]",
        "service-shell-connects-out",
    ),
    (
        "reverse-shell",
        "lateral-movement",
        "curl[15941]",
        "service-shell-network-tool",
    ),
    (
        "protect-credentials",
        "sensitive-files",
        "cat[16066]",
        "shadow-readers",
    ),
];

fn fixture_names() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(root().join("fixtures"))
        .expect("fixtures dir")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter_map(|n| n.strip_suffix(".zst").map(str::to_string))
        .collect();
    names.sort();
    names
}

#[test]
fn every_fixture_under_every_example_policy() {
    let names = fixture_names();
    assert!(names.len() >= 10, "{names:?}");
    let mut failures = Vec::new();
    for policy in POLICIES {
        for name in &names {
            let out = analyzer(&[
                "policy",
                "test",
                "--policy",
                &format!("fixtures/policies/{policy}.yaml"),
                &format!("fixtures/{name}.zst"),
            ]);
            let stdout = text(&out.stdout);
            let blocked = BLOCKED
                .iter()
                .find(|(p, f, _, _)| *p == policy && f == name);
            let want_code = if blocked.is_some() { 4 } else { 0 };
            if out.status.code() != Some(want_code) {
                failures.push(format!(
                    "{policy} on {name}: exit {:?}, want {want_code}\n{stdout}{}",
                    out.status.code(),
                    text(&out.stderr)
                ));
                continue;
            }
            match blocked {
                Some((_, _, proc_, rule)) => {
                    let first = stdout.lines().nth(1).unwrap_or_default();
                    if !(first.contains(" KILL ")
                        && first.contains(proc_)
                        && first.ends_with(&format!("rule {rule}")))
                    {
                        failures.push(format!("{policy} on {name}: first hit is {first:?}"));
                    }
                }
                None => {
                    let any_block = stdout
                        .lines()
                        .filter(|l| l.starts_with("20"))
                        .any(|l| [" KILL ", " STOP ", " DENY "].iter().any(|a| l.contains(a)));
                    if any_block {
                        failures.push(format!("{policy} blocks in benign {name}:\n{stdout}"));
                    }
                }
            }
            let golden = root().join(format!("fixtures/expected/{name}/policy-{policy}.txt"));
            match std::fs::read_to_string(&golden) {
                Ok(want) if want == stdout => {}
                Ok(want) => failures.push(format!(
                    "{} differs (re-bless with analyzer check --bless)\n--- expected\n{want}\n--- actual\n{stdout}",
                    golden.display()
                )),
                Err(e) => failures.push(format!("{}: {e}", golden.display())),
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn policy_check_explains_and_refuses_with_line_and_column() {
    let out = analyzer(&[
        "policy",
        "check",
        "fixtures/policies/protect-credentials.yaml",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let t = text(&out.stdout);
    assert!(
        t.contains("kill (SIGKILL, before the call returns) any process when it opens a path that is /etc/shadow"),
        "{t}"
    );
    let dir = tempfile::tempdir().expect("tmp");
    let bad = dir.path().join("bad.yaml");
    std::fs::write(
        &bad,
        "version: 1\nrules:\n  - id: x\n    on: connect\n    action: deny\n    match:\n      dest: { cidr: [10.0.0.1/8] }\n",
    )
    .expect("write");
    let out = analyzer(&["policy", "check", bad.to_str().expect("utf8")]);
    assert_eq!(out.status.code(), Some(1));
    let e = text(&out.stderr);
    assert!(e.contains("bad.yaml:7:22: bad CIDR"), "{e}");
    // The same refusal from `policy test`, before any trace is read.
    let out = analyzer(&[
        "policy",
        "test",
        "--policy",
        bad.to_str().expect("utf8"),
        "fixtures/reverse-shell.zst",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("bad.yaml:7:22"));
}

const MS: u64 = 1_000_000;

fn write_policy(dir: &Path, name: &str, body: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, body).expect("write policy");
    p.to_str().expect("utf8").to_string()
}

/// Story 5: 127.0.0.1:8080 and [::1]:8080 only from /usr/bin/app running unprivileged.
#[test]
fn frontend_backend_allows_only_the_unprivileged_app() {
    let dir = tempfile::tempdir().expect("tmp");
    let trace = dir.path().join("story5.zst");
    let mut b = TraceBuilder::new(&trace)
        .existing(1, 0, "/sbin/init", &["/sbin/init"], 0)
        .existing(100, 1, "/usr/bin/app", &["/usr/bin/app"], 1000)
        .existing(101, 1, "/usr/bin/app", &["/usr/bin/app"], 0)
        .existing(
            102,
            1,
            "/usr/bin/curl",
            &["curl", "http://127.0.0.1:8080/"],
            1000,
        )
        .create()
        .expect("create");
    let t0 = b.start_ns() + MS;
    let local = "127.0.0.1:40000".parse().expect("addr");
    let local6 = "[::1]:40000".parse().expect("addr");
    let v4 = "127.0.0.1:8080".parse().expect("addr");
    let v6 = "[::1]:8080".parse().expect("addr");
    let other = "127.0.0.1:8081".parse().expect("addr");
    b.connect(t0, 100, 1, local, v4, 0).expect("app v4");
    b.connect(t0 + MS, 100, 2, local6, v6, 0).expect("app v6");
    b.connect(t0 + 2 * MS, 101, 3, local, v4, 0)
        .expect("root app v4");
    b.connect(t0 + 3 * MS, 101, 4, local6, v6, 0)
        .expect("root app v6");
    b.connect(t0 + 4 * MS, 102, 5, local, v4, -1)
        .expect("curl v4");
    b.connect(t0 + 5 * MS, 102, 6, local, other, 0)
        .expect("curl other port");
    b.finish().expect("finish");
    let out = analyzer(&[
        "policy",
        "test",
        "--policy",
        "fixtures/policies/frontend-backend.yaml",
        trace.to_str().expect("utf8"),
    ]);
    assert_eq!(out.status.code(), Some(4), "{}", text(&out.stderr));
    let t = text(&out.stdout);
    let denied: Vec<&str> = t.lines().filter(|l| l.contains(" DENY ")).collect();
    assert_eq!(denied.len(), 3, "{t}");
    assert!(
        denied[0].contains("app[101]") && denied[1].contains("app[101]"),
        "{t}"
    );
    // A failed connect is still an attempt.
    assert!(denied[2].contains("curl[102]"), "{t}");
    assert!(!t.contains("app[100]"), "{t}");
    assert!(
        t.contains("connect to [::1]:8080") || t.contains("[::1]:8080"),
        "{t}"
    );
    assert!(
        t.contains("   0  backend-only-from-app  deny        3        3"),
        "{t}"
    );
}

const SHADOW_POLICY: &str = "\
version: 1
name: shadow
mode: MODE
rules:
  - id: note-shadow
    on: open
    action: audit
    match:
      path: { exact: [/etc/shadow] }
  - id: no-shadow
    on: open
    action: kill
    match:
      path: { exact: [/etc/shadow] }
    unless:
      binary: { exact: [/usr/sbin/unix_chkpwd] }
";

/// pid 1, the recorder and its ancestors are never acted on; `unless` vetoes; audit rules
/// that fire first are listed with the blocking rule that decides; a killed process's
/// later events are not evaluated.
fn shadow_trace(path: &Path) {
    let mut b = TraceBuilder::new(path)
        .capture(CaptureConfig {
            mode: "system".into(),
            recorder_pid: Some(50),
            ..Default::default()
        })
        .existing(1, 0, "/sbin/init", &["/sbin/init"], 0)
        .existing(40, 1, "/usr/bin/sudo", &["sudo", "recorder"], 0)
        .existing(
            50,
            40,
            "/usr/local/bin/recorder",
            &["recorder", "record"],
            0,
        )
        .existing(60, 1, "/usr/bin/bash", &["bash"], 1000)
        .create()
        .expect("create");
    let t = b.start_ns() + MS;
    b.open(t, 1, "/etc/shadow", 0, 3).expect("init");
    // The recorder's parent acts before the recorder: the header's recorder pid makes it
    // exempt all the same.
    b.open(t + MS, 40, "/etc/shadow", 0, 3).expect("sudo");
    b.open(t + 2 * MS, 50, "/etc/shadow", 0, 3)
        .expect("recorder");
    b.fork(t + 3 * MS, 60, 61).expect("fork");
    b.exec(
        t + 4 * MS,
        61,
        60,
        "/usr/sbin/unix_chkpwd",
        &["unix_chkpwd", "bob"],
    )
    .expect("chkpwd");
    b.open(t + 5 * MS, 61, "/etc/shadow", 0, 3)
        .expect("chkpwd open");
    b.fork(t + 6 * MS, 60, 62).expect("fork");
    let hostile = "/tmp/\x1b[31mevil";
    b.exec(t + 7 * MS, 62, 60, hostile, &[hostile, "/etc/shadow"])
        .expect("exec");
    b.open(t + 8 * MS, 62, "/etc/shadow", 0, 3).expect("open");
    b.open(t + 9 * MS, 62, "/etc/passwd", 0, 3)
        .expect("after kill");
    b.finish().expect("finish");
}

#[test]
fn exemptions_unless_audit_and_monitor_mode() {
    let dir = tempfile::tempdir().expect("tmp");
    let trace = dir.path().join("shadow.zst");
    shadow_trace(&trace);
    let tr = trace.to_str().expect("utf8");
    let enforce = write_policy(
        dir.path(),
        "e.yaml",
        &SHADOW_POLICY.replace("MODE", "enforce"),
    );
    let out = analyzer(&["policy", "test", "--policy", &enforce, tr]);
    assert_eq!(out.status.code(), Some(4), "{}", text(&out.stderr));
    let t = text(&out.stdout);
    let hits: Vec<&str> = t.lines().filter(|l| l.starts_with("20")).collect();
    assert_eq!(hits.len(), 5, "{t}");
    assert!(
        hits[0].contains("exempt (kill)") && hits[0].contains("init[1]"),
        "{t}"
    );
    assert!(
        hits[1].contains("exempt (kill)") && hits[1].contains("sudo[40]"),
        "{t}"
    );
    assert!(
        hits[2].contains("exempt (kill)") && hits[2].contains("recorder[50]"),
        "{t}"
    );
    assert!(
        t.contains("exempt:   an ancestor of the recorder is never acted on"),
        "{t}"
    );
    // unix_chkpwd is spared by `unless`: only the audit rule fires for it.
    assert!(
        hits[3].contains("AUDIT") && hits[3].contains("unix_chkpwd[61]"),
        "{t}"
    );
    assert!(hits[3].ends_with("rule note-shadow"), "{t}");
    assert!(
        hits[4].contains(" KILL ") && hits[4].contains("rule no-shadow"),
        "{t}"
    );
    assert!(t.contains("also:     note-shadow"), "{t}");
    // Escaped: the terminal escape in the program name never reaches the output.
    assert!(!t.contains('\x1b'), "{t:?}");
    assert!(t.contains("1 later event(s) not evaluated"), "{t}");
    assert!(
        t.contains("   0  note-shadow  audit       5        0            0       0"),
        "{t}"
    );
    assert!(
        t.contains("   1  no-shadow    kill        4        1            0       3"),
        "{t}"
    );

    // Monitor mode: the same hits as would-be actions; nothing blocked, exit 0, and the
    // process lives on, so its later open is evaluated (and fires nothing).
    let monitor = write_policy(
        dir.path(),
        "m.yaml",
        &SHADOW_POLICY.replace("MODE", "monitor"),
    );
    let out = analyzer(&["policy", "test", "--policy", &monitor, tr]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let t = text(&out.stdout);
    assert!(t.contains("would kill") && !t.contains(" KILL "), "{t}");
    assert!(!t.contains("not evaluated"), "{t}");
    // --enforce evaluates it as enforced.
    let out = analyzer(&["policy", "test", "--policy", &monitor, "--enforce", tr]);
    assert_eq!(out.status.code(), Some(4));

    // JSON: one object with hits and per-rule counts.
    let out = analyzer(&["policy", "test", "--policy", &enforce, "--json", tr]);
    assert_eq!(out.status.code(), Some(4));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["hits"].as_array().map(Vec::len), Some(5));
    assert_eq!(v["hits"][4]["verdict"], "blocked");
    assert_eq!(v["hits"][3]["verdict"], "audited");
    assert_eq!(v["hits"][0]["exempt"], "pid 1");
    assert_eq!(v["rules"][1]["blocked"], 1);
}

/// Enforcement records as the kernel side writes them, named through the header's policy
/// summary: "BLOCKED: ... denied by rule ...", "WOULD BLOCK", "EXEMPT", as alerts.
#[test]
fn enforcement_records_in_the_timeline() {
    let dir = tempfile::tempdir().expect("tmp");
    let trace = dir.path().join("enforced.zst");
    let policy = Policy::parse(
        b"version: 1\nname: web\nrules:\n  - id: no-shadow-read\n    on: open\n    action: kill\n    match:\n      path: { exact: [/etc/shadow] }\n  - id: no-egress-from-web\n    on: connect\n    action: deny\n    match:\n      dest: { cidr: [10.0.0.0/8] }\n",
        "web.yaml",
    )
    .expect("policy");
    let mut b = TraceBuilder::new(&trace)
        .capture(CaptureConfig {
            mode: "system".into(),
            policy_sha256: Some(policy.sha256_hex()),
            policy: Some(policy.summary()),
            ..Default::default()
        })
        .existing(1, 0, "/sbin/init", &["/sbin/init"], 0)
        .existing(70, 1, "/usr/bin/web", &["web"], 33)
        .create()
        .expect("create");
    let t = b.start_ns() + MS;
    let rec = |action, flags, rule, trigger: u16, detail: &str| {
        EventKind::Enforce(wire::Enforce {
            action,
            flags,
            rule,
            sig: if action == enforce::ACTION_KILL { 9 } else { 0 },
            trigger,
            detail: detail.into(),
        })
    };
    b.event(
        t,
        70,
        rec(enforce::ACTION_DENY, 0, 1, 0x0301, "10.0.0.5:443"),
    )
    .expect("deny");
    b.event(
        t + MS,
        70,
        rec(
            enforce::ACTION_KILL,
            enforce::ENFORCE_MONITOR,
            0,
            0x0201,
            "/etc/shadow",
        ),
    )
    .expect("monitor");
    b.event(
        t + 2 * MS,
        1,
        rec(
            enforce::ACTION_KILL,
            enforce::ENFORCE_EXEMPT,
            0,
            0x0201,
            "/etc/shadow",
        ),
    )
    .expect("exempt");
    b.event(
        t + 3 * MS,
        70,
        rec(enforce::ACTION_STOP, 0, 7, 0x0201, "/etc/x\x1b[2J"),
    )
    .expect("unknown rule");
    b.finish().expect("finish");
    let tr = trace.to_str().expect("utf8");
    let out = analyzer(&["timeline", tr]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let tl = text(&out.stdout);
    let line = |needle: &str| {
        tl.lines()
            .find(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("{needle:?} not in\n{tl}"))
            .to_string()
    };
    let deny = line("BLOCKED: connect to 10.0.0.5:443 denied by rule no-egress-from-web");
    assert!(deny.contains(" ! "), "an alert: {deny}");
    line("WOULD BLOCK: open of /etc/shadow, process would be killed by rule no-shadow-read (monitor mode)");
    line("EXEMPT: open of /etc/shadow, process would be killed by rule no-shadow-read, but the process is exempt");
    // A rule index the header does not name: the number; the detail escaped.
    let stop = line("BLOCKED: open of /etc/x");
    assert!(
        stop.contains("process stopped by rule #7") && !stop.contains('\x1b'),
        "{stop:?}"
    );
    let out = analyzer(&["dump", tr]);
    let d = text(&out.stdout);
    assert!(
        d.contains("WOULD BLOCK (kill, monitor) by rule 0: open /etc/shadow"),
        "{d}"
    );
    assert!(
        d.contains("BLOCKED (deny) by rule 1: connect 10.0.0.5:443"),
        "{d}"
    );
    // `policy test` lists what the recorder did next to what the policy says.
    let p = write_policy(
        dir.path(),
        "web.yaml",
        "version: 1\nrules:\n  - id: a\n    on: open\n    action: audit\n",
    );
    let out = analyzer(&["policy", "test", "--policy", &p, tr]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let t = text(&out.stdout);
    assert!(t.contains("enforcement records in the trace (4):"), "{t}");
    assert!(
        t.contains("web[70]  BLOCKED: connect to 10.0.0.5:443 denied by rule no-egress-from-web"),
        "{t}"
    );
}

/// The differential check: a trace recorded under a policy (its records as the kernel side
/// writes them: a kill at syscall entry leaves no open record behind; a deny leaves the
/// failed connect) and `policy test` with that policy agree rule by rule and process by
/// process; an action the policy does not explain is named.
#[test]
fn records_and_evaluation_agree_under_the_same_policy() {
    let dir = tempfile::tempdir().expect("tmp");
    let body = "version: 1\nname: web\nrules:\n  - id: no-shadow-read\n    on: open\n    action: kill\n    match:\n      path: { exact: [/etc/shadow] }\n  - id: no-egress\n    on: connect\n    action: deny\n    match:\n      dest: { cidr: [10.0.0.0/8] }\n";
    let pfile = write_policy(dir.path(), "web.yaml", body);
    let policy = Policy::parse(body.as_bytes(), "web.yaml").expect("policy");
    let build = |name: &str, extra: bool| {
        let trace = dir.path().join(name);
        let mut b = TraceBuilder::new(&trace)
            .capture(CaptureConfig {
                mode: "system".into(),
                policy_sha256: Some(policy.sha256_hex()),
                policy: Some(policy.summary()),
                ..Default::default()
            })
            .existing(1, 0, "/sbin/init", &["/sbin/init"], 0)
            .existing(70, 1, "/usr/bin/web", &["web"], 33)
            .existing(80, 1, "/usr/bin/cat", &["cat", "/etc/shadow"], 0)
            .create()
            .expect("create");
        let t = b.start_ns() + MS;
        let kill = wire::Enforce {
            action: enforce::ACTION_KILL,
            flags: 0,
            rule: 0,
            sig: 9,
            trigger: 0x0201,
            detail: "/etc/shadow".into(),
        };
        b.event(t, 80, EventKind::Enforce(kill)).expect("kill");
        b.killed(t + 1000, 80, 9).expect("exit");
        let deny = wire::Enforce {
            action: enforce::ACTION_DENY,
            flags: 0,
            rule: 1,
            sig: 0,
            trigger: 0x0301,
            detail: "10.0.0.5:443".into(),
        };
        b.event(t + MS, 70, EventKind::Enforce(deny)).expect("deny");
        let local = "192.168.1.2:40000".parse().expect("addr");
        let remote = "10.0.0.5:443".parse().expect("addr");
        b.connect(t + MS + 1000, 70, 9, local, remote, -1)
            .expect("connect");
        if extra {
            // An action the policy cannot explain: rule 1 on a destination it does not match.
            let odd = wire::Enforce {
                action: enforce::ACTION_DENY,
                flags: 0,
                rule: 1,
                sig: 0,
                trigger: 0x0301,
                detail: "192.0.2.1:80".into(),
            };
            b.event(t + 3 * MS, 70, EventKind::Enforce(odd))
                .expect("odd");
        }
        b.finish().expect("finish");
        trace.to_str().expect("utf8").to_string()
    };
    let same = build("same.zst", false);
    let out = analyzer(&["policy", "test", "--policy", &pfile, &same]);
    assert_eq!(out.status.code(), Some(4), "{}", text(&out.stderr));
    let t = text(&out.stdout);
    let hits: Vec<&str> = t.lines().filter(|l| l.starts_with("20")).collect();
    // One hit per attempt: the deny record and its failed connect are one attempt.
    assert_eq!(hits.len(), 2, "{t}");
    assert!(
        hits[0].contains("KILL") && hits[0].contains("cat[80]"),
        "{t}"
    );
    assert!(
        t.contains("open /etc/shadow (known from the enforcement record"),
        "{t}"
    );
    assert!(
        hits[1].contains("DENY") && hits[1].contains("web[70]"),
        "{t}"
    );
    assert!(
        t.contains(
            "records and this evaluation: 2 agree, 0 only in the trace, 0 only in the evaluation"
        ),
        "{t}"
    );
    let odd = build("odd.zst", true);
    let out = analyzer(&["policy", "test", "--policy", &pfile, "--json", &odd]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["agreement"]["matched"], 2, "{v}");
    let only = v["agreement"]["only_recorded"][0]
        .as_str()
        .unwrap_or_default();
    assert!(only.ends_with("rule 1 192.0.2.1:80"), "{v}");
}
