use super::*;

const GOOD: &str = "\
version: 1
name: web-tier
mode: monitor
kill_rate_limit: 20
rules:
  - id: no-shadow-read
    name: Nobody but the password tools reads /etc/shadow
    on: open
    action: kill
    match:
      path: { exact: [/etc/shadow], glob: [\"/home/*/.ssh/id_*\"] }
      binary: { exact: [/usr/bin/cat], prefix: [/tmp/], suffix: [/nc] }
    unless:
      binary: { exact: [/usr/sbin/unix_chkpwd] }
  - id: egress
    on: [connect, send]
    action: deny
    match:
      privileged: false
      caps: [CAP_NET_RAW, sys_admin]
      container: host
      namespaces: not-host
      uid: [1000, 1001]
      args: { contains: [\"-e\"] }
      dest: { cidr: [10.0.0.0/8, \"::1/128\", 192.0.2.7], ports: [443, \"8000-8999\"] }
";

fn parse(text: &str) -> Result<Policy, PolicyError> {
    Policy::parse(text.as_bytes(), "test.yaml")
}

#[test]
fn good_policy_parses_to_the_model() {
    let p = parse(GOOD).expect("valid");
    assert_eq!(p.name, "web-tier");
    assert_eq!(p.mode, Mode::Monitor);
    assert_eq!(p.kill_rate_limit, 20);
    assert_eq!(p.rules.len(), 2);
    let r = &p.rules[0];
    assert_eq!((r.index, r.id.as_str(), r.line), (0, "no-shadow-read", 6));
    assert_eq!(r.on, vec![Op::Open]);
    assert_eq!(r.action, Action::Kill);
    let path = r.matcher.path.as_ref().expect("path");
    assert_eq!(path.exact, vec!["/etc/shadow"]);
    assert!(path.matches(b"/home/alice/.ssh/id_rsa"));
    assert!(!path.matches(b"/home/a/b/.ssh/id_rsa"));
    assert!(!path.matches(b"/etc/shadow-"));
    let unless = r.unless.as_ref().expect("unless");
    assert_eq!(
        unless.binary.as_ref().expect("binary").exact,
        vec!["/usr/sbin/unix_chkpwd"]
    );
    let e = &p.rules[1];
    assert_eq!(e.line, 15);
    assert_eq!(e.on, vec![Op::Connect, Op::Send]);
    assert_eq!(e.matcher.privileged, Some(false));
    assert_eq!(e.matcher.caps, Some((1 << 13) | CAP_SYS_ADMIN));
    assert_eq!(e.matcher.container, Some(ContainerSel::Host));
    assert_eq!(e.matcher.namespaces, Some(NsSel::NotHost));
    assert_eq!(e.matcher.uid, Some(vec![1000, 1001]));
    let d = e.matcher.dest.as_ref().expect("dest");
    assert_eq!(d.ports, vec![(443, 443), (8000, 8999)]);
    assert_eq!(d.cidr.len(), 3);
    assert!(d.matches("10.1.2.3".parse().expect("ip"), 8080, true));
    assert!(d.matches("::ffff:10.1.2.3".parse().expect("ip"), 443, false));
    assert!(d.matches("::1".parse().expect("ip"), 443, true));
    assert!(!d.matches("11.0.0.1".parse().expect("ip"), 443, true));
    assert!(!d.matches("10.0.0.1".parse().expect("ip"), 80, true));
    assert_eq!(p.sha256_hex().len(), 64);
    let s = p.summary();
    assert_eq!(s.rules[1].on, vec!["connect", "send"]);
    assert_eq!(s.rule(0).expect("rule 0").action, "kill");
}

#[test]
fn explain_says_each_rule_in_words() {
    let p = parse(GOOD).expect("valid");
    let t = p.explain();
    assert!(
        t.contains("kill (SIGKILL, before the call returns) any process whose binary is /usr/bin/cat, or starts with /tmp/, or ends with /nc when it opens a path that is /etc/shadow, or matches /home/*/.ssh/id_*, unless it is a process whose binary is /usr/sbin/unix_chkpwd"),
        "{t}"
    );
    assert!(t.contains("connects to or sends a UDP datagram to an address in 10.0.0.0/8, ::1/128 or 192.0.2.7/32 on port 443 or 8000-8999"), "{t}");
    assert!(t.contains("mode monitor: nothing is blocked"), "{t}");
    assert!(t.contains("rule 1 `egress` (line 15)"), "{t}");
}

/// Every kind of invalid policy, with the line and column the error must name.
#[test]
fn bad_policies_are_refused_with_line_and_column() {
    let head = "version: 1\nrules:\n";
    let cases: &[(&str, usize, usize, &str)] = &[
        // (rules text after the head, line, column, part of the message)
        ("  - id: a\n    on: open\n    action: kill\n    colour: red\n", 6, 5, "unknown field `colour`"),
        ("  - id: a\n    on: open\n    action: explode\n", 5, 13, "unknown action \"explode\""),
        ("  - id: a\n    on: [open, fly]\n    action: kill\n", 4, 16, "unknown operation \"fly\""),
        ("  - id: a\n    on: connect\n    action: deny\n    match:\n      dest: { cidr: [10.0.0.0/33] }\n", 7, 22, "bad CIDR"),
        ("  - id: a\n    on: connect\n    action: deny\n    match:\n      dest: { cidr: [10.0.0.5/8] }\n", 7, 22, "host bits set"),
        ("  - id: a\n    on: connect\n    action: deny\n    match:\n      dest: { ports: [443, \"9000-80\"] }\n", 7, 28, "bad port range \"9000-80\""),
        ("  - id: a\n    on: connect\n    action: deny\n    match:\n      dest: { ports: [0] }\n", 7, 23, "bad port range \"0\""),
        ("  - id: a\n    on: open\n    action: kill\n    match:\n      dest: { ports: [443] }\n", 7, 7, "`dest` is not valid for `open`"),
        ("  - id: a\n    on: [open, connect]\n    action: kill\n    match:\n      path: { exact: [/etc/shadow] }\n", 7, 7, "`path` is not valid for `connect`"),
        ("  - id: a\n    on: open\n    action: kill\n    unless:\n      binary: { glob: [/usr/*] }\n", 7, 17, "`glob` is valid only for `path`"),
        ("  - id: a\n    on: open\n    action: kill\n  - id: b\n    on: exec\n    action: kill\n  - id: a\n    on: exec\n    action: kill\n", 9, 5, "duplicate rule id \"a\""),
        ("  - id: \"bad id!\"\n    on: open\n    action: kill\n", 3, 9, "invalid rule id"),
        ("  - id: a\n    on: open\n    action: kill\n    match:\n      caps: [CAP_FLY]\n", 7, 14, "unknown capability"),
        ("  - id: a\n    on: open\n    action: kill\n    match:\n      container: pod-x\n", 7, 18, "invalid container"),
        ("  - id: a\n    on: open\n    action: kill\n    match:\n      namespaces: mine\n", 7, 19, "invalid namespaces"),
        ("  - id: a\n    on: open\n    action: kill\n    match:\n      uid: [root]\n", 7, 13, "invalid type"),
        ("  - id: a\n    on: open\n    action: kill\n    match:\n      binary: {}\n", 7, 7, "`binary` lists nothing"),
        ("  - id: a\n    on: send\n    action: deny\n    match:\n      dest: { protocol: tcp }\n", 7, 25, "never matches `send`"),
        ("  - id: a\n    on: open\n    action: kill\n    match: { path: { exact: [ /x\n", 7, 1, "did not find expected"),
        ("  - id: a\n    on: []\n    action: kill\n", 4, 5, "`on` lists no operation"),
    ];
    for (rules, line, col, msg) in cases {
        let text = format!("{head}{rules}");
        match parse(&text) {
            Err(PolicyError::Invalid {
                line: l,
                column: c,
                message,
                file,
            }) => {
                assert_eq!(file, "test.yaml");
                assert!(
                    message.contains(msg),
                    "{message:?} lacks {msg:?} in\n{text}"
                );
                assert_eq!((l, c), (*line, *col), "{message} in\n{text}");
            }
            other => panic!("expected an error for\n{text}\ngot {other:?}"),
        }
    }
}

#[test]
fn policy_level_errors() {
    let cases: &[(&str, usize, usize, &str)] = &[
        (
            "version: 2\nrules: []\n",
            1,
            10,
            "unsupported policy version",
        ),
        ("version: 1\nmode: loud\nrules: []\n", 2, 7, "unknown mode"),
        ("version: 1\nrules: []\n", 2, 1, "no rules"),
        (
            "version: 1\nkill_rate_limit: 0\nrules: []\n",
            2,
            18,
            "at least 1",
        ),
        ("rules: []\n", 1, 1, "missing field `version`"),
        ("", 1, 1, "empty"),
    ];
    for (text, line, col, msg) in cases {
        match parse(text) {
            Err(PolicyError::Invalid {
                line: l,
                column: c,
                message,
                ..
            }) => {
                assert!(message.contains(msg), "{message:?} lacks {msg:?}");
                assert_eq!((l, c), (*line, *col), "{message} in\n{text}");
            }
            other => panic!("expected an error for {text:?}, got {other:?}"),
        }
    }
    let many: String = (0..=MAX_RULES)
        .map(|i| format!("  - id: r{i}\n    on: open\n    action: audit\n"))
        .collect();
    match parse(&format!("version: 1\nrules:\n{many}")) {
        Err(PolicyError::Invalid { line, message, .. }) => {
            assert!(message.contains("too many rules: 257"), "{message}");
            assert_eq!(line, 3 + 3 * MAX_RULES);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn glob_components() {
    assert!(glob_match(
        b"/home/*/.ssh/id_*",
        b"/home/bob/.ssh/id_ed25519"
    ));
    assert!(glob_match(b"/a/*x*/b", b"/a/yxz/b"));
    assert!(!glob_match(b"/a/*", b"/a/b/c"));
    assert!(!glob_match(b"/a/x*", b"/a/yx"));
}

#[test]
fn header_policy_summary_is_optional_and_round_trips() {
    use crate::meta::CaptureConfig;
    // A header written before the field existed reads, with no policy.
    let old: CaptureConfig =
        serde_json::from_str(r#"{"mode":"system","policy_sha256":null,"hooks":[]}"#).expect("old");
    assert_eq!((old.policy, old.recorder_pid), (None, None));
    // Without a policy nothing is written, so headers stay byte-identical.
    let json = serde_json::to_string(&CaptureConfig::default()).expect("json");
    assert!(
        !json.contains("\"policy\"") && !json.contains("recorder_pid"),
        "{json}"
    );
    let p = parse(GOOD).expect("valid");
    let c = CaptureConfig {
        policy: Some(p.summary()),
        recorder_pid: Some(4242),
        ..Default::default()
    };
    let json = serde_json::to_string(&c).expect("json");
    assert!(
        json.contains(r#""rules":[{"index":0,"id":"no-shadow-read","name":"Nobody but the password tools reads /etc/shadow","action":"kill","on":["open"]}"#),
        "{json}"
    );
    let back: CaptureConfig = serde_json::from_str(&json).expect("back");
    assert_eq!(back, c);
}
