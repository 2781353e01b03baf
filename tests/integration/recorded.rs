//! The fixtures recorded by the real recorder from `fixtures/scenarios/` (re-record with
//! `fixtures/record-all.sh`): each is intact and holds the facts its story needs.

use rewind_schema::trace::{verify_chain, TraceSet};
use rewind_schema::{Event, EventKind};
use std::path::PathBuf;

fn fixture(name: &str) -> Vec<Event> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures")
        .join(format!("{name}.zst"));
    let set = TraceSet::open(&[&path])
        .unwrap_or_else(|e| panic!("{e} (re-record with fixtures/record-all.sh)"));
    let mut m = set.records();
    let events: Vec<Event> = m
        .by_ref()
        .map(|r| r.rec.decode().expect("decodes"))
        .collect();
    assert!(
        m.reports().iter().all(|r| r.damage.is_empty()),
        "{name}: damaged"
    );
    assert!(verify_chain(&set, m.reports()).is_empty(), "{name}: chain");
    let meta = &set.segments[0].meta;
    assert_eq!(
        meta.capture.mode, "command",
        "{name}: recorded in command mode"
    );
    assert!(
        !events.iter().any(|e| matches!(e.kind, EventKind::Loss(_))),
        "{name}: nothing lost"
    );
    // Every process that ran also ended: the scenarios clean up before they exit.
    for e in &events {
        if matches!(e.kind, EventKind::Exec(_)) {
            let exited = events
                .iter()
                .any(|x| x.pid == e.pid && x.ts > e.ts && matches!(x.kind, EventKind::Exit(_)));
            assert!(exited, "{name}: pid {} exec'd and never exited", e.pid);
        }
    }
    events
}

fn execs<'a>(evs: &'a [Event], argv_has: &str) -> Vec<(&'a Event, &'a rewind_schema::wire::Exec)> {
    evs.iter()
        .filter_map(|e| match &e.kind {
            EventKind::Exec(x) if x.argv.joined().contains(argv_has) => Some((e, &**x)),
            _ => None,
        })
        .collect()
}

fn opened(evs: &[Event], path: &str) -> Vec<u32> {
    evs.iter()
        .filter_map(|e| match &e.kind {
            EventKind::Open(o) if o.path.display() == path => Some(e.pid),
            _ => None,
        })
        .collect()
}

#[test]
fn reverse_shell() {
    let evs = fixture("reverse-shell");
    let shell = evs
        .iter()
        .find(|e| matches!(&e.kind, EventKind::Exec(x) if x.argv.joined() == "bash -i"))
        .expect("the interactive shell");
    // The shell's connection to the listener, and the listener accepting it.
    let connect = evs.iter().find_map(|e| match &e.kind {
        EventKind::Connect(c) if c.sock.rport == 14444 => Some((e.pid, c.sock)),
        _ => None,
    });
    let (cpid, sock) = connect.expect("connect to 127.0.0.1:14444");
    assert_eq!(cpid, shell.pid, "the shell itself connects (socket stdio)");
    assert!(evs
        .iter()
        .any(|e| matches!(&e.kind, EventKind::Accept(a) if a.sock.rport == sock.lport)));
    // Discovery commands run under the shell.
    for cmd in ["id", "uname -a", "cat /etc/passwd"] {
        let found = execs(&evs, cmd)
            .into_iter()
            .any(|(_, x)| x.ppid == shell.pid);
        assert!(found, "{cmd} under the shell");
    }
    // Ancestry: the web service started the shell's parent chain.
    let (svc, _) = *execs(&evs, "webapp.py").first().expect("service");
    let (sh, sx) = *execs(&evs, "/dev/tcp/127.0.0.1/14444")
        .first()
        .expect("helper");
    assert_eq!(sx.ppid, svc.pid);
    assert!(sh.pid != svc.pid);
}

#[test]
fn sensitive_files() {
    let evs = fixture("sensitive-files");
    assert!(!opened(&evs, "/etc/shadow").is_empty());
    assert!(!opened(&evs, "/etc/passwd").is_empty());
    assert!(evs.iter().any(
        |e| matches!(&e.kind, EventKind::Open(o) if o.path.display().ends_with("/.ssh/id_rsa"))
    ));
}

#[test]
fn setuid_escalation() {
    let evs = fixture("setuid-escalation");
    let esc = evs.iter().any(|e| matches!(&e.kind, EventKind::Exec(x) if x.uid == 65534 && x.euid == 0 && x.setid_binary()));
    assert!(esc, "a setuid binary run by nobody executes with euid 0");
    let drop = evs.iter().any(|e| matches!(&e.kind, EventKind::Cred(c) if c.ret == 0 && c.old.euid == 0 && c.new.euid == 65534));
    assert!(drop, "a root -> nobody transition");
}

#[test]
fn memfd_exec() {
    let evs = fixture("memfd-exec");
    assert!(evs.iter().any(|e| matches!(&e.kind, EventKind::Memfd(m) if m.name.display() == "rewind-fixture" && m.ret >= 0)));
    let fileless = evs.iter().any(|e| matches!(&e.kind, EventKind::Exec(x)
        if x.flags & rewind_schema::wire::exec::EXEC_FROM_MEMFD != 0 && x.argv.joined() == "echo fileless-hello"));
    assert!(fileless, "an exec from the memfd");
}

#[test]
fn persistence() {
    let evs = fixture("persistence");
    assert!(evs.iter().any(|e| matches!(&e.kind, EventKind::Open(o) if o.path.display().starts_with("/etc/cron.d/rewind-fixture-") && o.open_flags & 0o100 != 0)));
    assert!(evs.iter().any(|e| matches!(&e.kind, EventKind::Open(o) if o.path.display().ends_with("/.bashrc") && o.open_flags & 3 != 0)));
    assert!(evs.iter().any(|e| matches!(&e.kind, EventKind::Open(o) if o.path.display().ends_with("/.ssh/authorized_keys"))));
}

#[test]
fn container() {
    let evs = fixture("container");
    let in_container = evs.iter().any(|e| matches!(&e.kind, EventKind::Exec(x)
        if rewind_schema::container::from_cgroup(&x.cgroup.display()).is_some_and(|c| c.runtime == "docker")));
    assert!(in_container, "execs inside the docker-like cgroup");
    let unshare = evs.iter().any(
        |e| matches!(&e.kind, EventKind::Namespace(n) if n.ret == 0 && n.flags & 0x40000000 != 0),
    );
    assert!(unshare, "a new network namespace");
}

#[test]
fn http_redirect_tls() {
    let evs = fixture("http-redirect-tls");
    let snip = |needle: &str| {
        evs.iter().any(|e| matches!(&e.kind, EventKind::Snippet(s) if String::from_utf8_lossy(&s.data.0).contains(needle)))
    };
    assert!(snip("GET /start HTTP/1.1"));
    assert!(snip("302"));
    assert!(snip("GET /final HTTP/1."));
    // TLS handshakes: a ClientHello (record type 0x16, handshake type 1) to each server.
    let hellos = evs
        .iter()
        .filter(|e| matches!(&e.kind, EventKind::Snippet(s) if !s.inbound() && s.data.0.first() == Some(&0x16) && s.data.0.get(5) == Some(&1)))
        .count();
    assert!(hellos >= 2, "{hellos} ClientHellos");
}

#[test]
fn lateral_movement() {
    let evs = fixture("lateral-movement");
    let curl_to = |port: u16| {
        evs.iter().any(|e| {
            matches!(&e.kind, EventKind::Connect(c) if c.sock.rport == port)
                && execs(&evs, "curl").iter().any(|(x, _)| x.pid == e.pid)
        })
    };
    assert!(curl_to(18081), "curl pulls from the internal service");
    assert!(curl_to(18082), "curl uploads to the exfil endpoint");
    let big_upload = evs.iter().any(|e| matches!(&e.kind, EventKind::SockClose(c) if c.sock.rport == 18082 && c.bytes_sent > 20_000));
    assert!(big_upload, "the upload carries the pulled data");
}

#[test]
fn package_manager() {
    let evs = fixture("package-manager");
    assert!(!execs(&evs, "tar").is_empty());
    assert!(!execs(&evs, "sha256sum").is_empty());
    assert!(opened(&evs, "/etc/shadow").is_empty());
    // the conffile goes through .dpkg-new and a rename, the way dpkg installs it
    assert!(evs.iter().any(|e| matches!(&e.kind, EventKind::Rename(r)
        if r.old.display().ends_with("/etc/demo.conf.dpkg-new") && r.new.display().ends_with("/etc/demo.conf"))));
    let ip = |s: &rewind_schema::wire::Sock| s.family != rewind_schema::wire::net::AF_UNIX;
    assert!(!evs
        .iter()
        .any(|e| matches!(&e.kind, EventKind::Connect(c) if ip(&c.sock))));
}

#[test]
fn benign_build() {
    let evs = fixture("benign-build");
    assert!(!execs(&evs, "tar").is_empty());
    assert!(opened(&evs, "/etc/shadow").is_empty());
    let ip = |s: &rewind_schema::wire::Sock| s.family != rewind_schema::wire::net::AF_UNIX;
    assert!(!evs
        .iter()
        .any(|e| matches!(&e.kind, EventKind::Connect(c) if ip(&c.sock))));
    assert!(!evs
        .iter()
        .any(|e| matches!(&e.kind, EventKind::Accept(a) if ip(&a.sock))));
}

/// The reverse-shell scenario recorded under fixtures/policies/reverse-shell-live.yaml:
/// the shell's connect to the attacker failed with EPERM, the shell was killed by the
/// policy before it had a socket, the interactive shell never started and nothing was
/// accepted; the header names the policy.
#[test]
fn reverse_shell_blocked() {
    let evs = fixture("reverse-shell-blocked");
    let connect = evs.iter().find_map(|e| match &e.kind {
        EventKind::Connect(c) if c.sock.rport == 14444 => Some((e.pid, c.ret)),
        _ => None,
    });
    let (pid, ret) = connect.expect("the shell's connect");
    assert_eq!(ret, -1, "EPERM in the calling program");
    let blocked: Vec<_> = evs
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Enforce(x) => Some((e.pid, x)),
            _ => None,
        })
        .collect();
    assert_eq!(blocked.len(), 1);
    assert_eq!(blocked[0].0, pid);
    let x = blocked[0].1;
    assert_eq!((x.action, x.rule, x.sig, x.flags), (1, 0, 9, 0));
    assert_eq!(x.detail_text(), "127.0.0.1:14444");
    assert!(evs
        .iter()
        .any(|e| e.pid == pid && matches!(&e.kind, EventKind::Exit(x) if x.status & 0x7f == 9)));
    assert!(
        !evs.iter()
            .any(|e| matches!(&e.kind, EventKind::Exec(x) if x.argv.joined() == "bash -i")),
        "no interactive shell"
    );
    assert!(!evs.iter().any(|e| matches!(&e.kind, EventKind::Accept(_))));
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fixtures/reverse-shell-blocked.zst");
    let set = TraceSet::open(&[&path]).expect("open");
    let policy = set.segments[0]
        .meta
        .capture
        .policy
        .as_ref()
        .expect("policy");
    assert_eq!(policy.name, "reverse-shell-live");
    assert_eq!(policy.rules[0].id, "service-shell-connects-out");
}
