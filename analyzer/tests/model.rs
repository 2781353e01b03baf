//! The process model on synthetic traces: pid reuse, exec without fork, orphans
//! re-parented, snapshot processes, events of unknown processes, records out of order
//! across CPUs and segments, and loss windows.

use rewind_analyzer::cmd::tree::forest;
use rewind_analyzer::model::process::{End, Origin};
use rewind_analyzer::model::Model;
use rewind_analyzer::replay::{replay, ReplayOptions};
use rewind_analyzer::timeline::{Filter, Format, Timeline};
use rewind_schema::builder::TraceBuilder;
use rewind_schema::trace::TraceSet;
use rewind_schema::wire;
use rewind_schema::writer::Rotation;
use rewind_schema::{Event, EventKind};
use std::path::Path;

const MS: u64 = 1_000_000;

fn model_of(path: &Path) -> (Model, TraceSet) {
    let set = TraceSet::open(&[path]).expect("open");
    let (m, _) = replay(&set, &mut [], ReplayOptions::default()).expect("replay");
    (m, set)
}

fn timeline_of(set: &TraceSet, all: bool) -> String {
    let anchors = set.recordings.iter().map(|r| r.anchor).collect();
    let filter = Filter {
        all,
        ..Filter::default()
    };
    let mut tl = Timeline::new(Vec::new(), Format::Text { color: false }, filter, anchors);
    replay(set, &mut [&mut tl], ReplayOptions::default()).expect("replay");
    String::from_utf8(tl.into_inner()).expect("utf8")
}

fn images_of(m: &Model, pid: u32) -> Vec<&rewind_analyzer::model::process::Image> {
    m.images.iter().filter(|i| i.pid == pid).collect()
}

fn open_ev(path: &str) -> EventKind {
    EventKind::Open(wire::Open {
        ino: 1,
        ret: 3,
        open_flags: 0,
        mode: 0o100644,
        dev: 1,
        flags: 0,
        path: path.into(),
    })
}

#[test]
fn pid_reuse_makes_two_processes() {
    let dir = tempfile::tempdir().expect("tmp");
    let p = dir.path().join("t.zst");
    let mut b = TraceBuilder::new(&p)
        .existing(1, 0, "/sbin/init", &["/sbin/init"], 0)
        .existing(500, 1, "/usr/bin/bash", &["bash"], 0)
        .existing(700, 1, "/usr/sbin/cron", &["cron"], 0)
        .create()
        .expect("create");
    let t = b.start_ns() + 1000 * MS;
    b.fork(t, 500, 600).expect("fork");
    b.exec(t + MS, 600, 500, "/usr/bin/first", &["first"])
        .expect("exec");
    b.exit(t + 2 * MS, 600, 0).expect("exit");
    // Same pid, another parent, later.
    b.fork(t + 10 * MS, 700, 600).expect("fork");
    b.exec(t + 11 * MS, 600, 700, "/usr/bin/second", &["second"])
        .expect("exec");
    b.event(t + 12 * MS, 600, open_ev("/etc/shadow"))
        .expect("open");
    b.exit(t + 13 * MS, 600, 3).expect("exit");
    b.finish().expect("finish");

    let (m, _) = model_of(&p);
    let imgs = images_of(&m, 600);
    assert_eq!(imgs.len(), 4, "fork+exec twice: {imgs:#?}");
    let first = imgs
        .iter()
        .find(|i| i.exe.display() == "/usr/bin/first")
        .expect("first");
    let second = imgs
        .iter()
        .find(|i| i.exe.display() == "/usr/bin/second")
        .expect("second");
    assert_ne!(first.exec_id(), second.exec_id());
    let parent_pid = |i: &rewind_analyzer::model::process::Image| {
        m.ancestry(i.id).find(|a| a.pid != i.pid).map(|a| a.pid)
    };
    assert_eq!(parent_pid(first), Some(500));
    assert_eq!(parent_pid(second), Some(700));
    assert_eq!(first.exit_code(), Some(0));
    assert_eq!(second.exit_code(), Some(3));
    assert_eq!(second.counts.files, 1);
    assert_eq!(first.counts.files, 0);
}

#[test]
fn exec_without_fork_chains_images_of_one_process() {
    let dir = tempfile::tempdir().expect("tmp");
    let p = dir.path().join("t.zst");
    let mut b = TraceBuilder::new(&p)
        .existing(1, 0, "/sbin/init", &["/sbin/init"], 0)
        .existing(300, 1, "/usr/bin/bash", &["bash"], 1000)
        .create()
        .expect("create");
    let t = b.start_ns() + 1000 * MS;
    b.exec(t, 300, 1, "/usr/bin/env", &["env", "python3", "x.py"])
        .expect("exec");
    b.exec(t + MS, 300, 1, "/usr/bin/python3", &["python3", "x.py"])
        .expect("exec");
    b.exit(t + 5 * MS, 300, 0).expect("exit");
    b.finish().expect("finish");

    let (m, set) = model_of(&p);
    let imgs = images_of(&m, 300);
    assert_eq!(imgs.len(), 3);
    assert_eq!(imgs[0].origin, Origin::Snapshot);
    assert_eq!(imgs[1].parent, Some(imgs[0].id));
    assert_eq!(imgs[2].parent, Some(imgs[1].id));
    assert!(matches!(imgs[0].end, Some(End::Exec { next }) if next == imgs[1].id));
    assert_eq!(imgs[2].exit_code(), Some(0));
    // One process in the tree, showing the whole chain, under init.
    let anchors: Vec<_> = set.recordings.iter().map(|r| r.anchor).collect();
    let f = forest(&m, &anchors);
    assert_eq!(f.len(), 1, "{f:#?}");
    let bash = &f[0].children[0];
    assert_eq!(bash.pid, 300);
    assert_eq!(
        bash.chain,
        vec!["bash", "env python3 x.py", "python3 x.py"],
        "{bash:#?}"
    );
    assert_eq!(bash.exit_code, Some(0));
}

#[test]
fn orphan_keeps_its_ancestry_after_reparenting() {
    let dir = tempfile::tempdir().expect("tmp");
    let p = dir.path().join("t.zst");
    let mut b = TraceBuilder::new(&p)
        .existing(1, 0, "/sbin/init", &["/sbin/init"], 0)
        .existing(400, 1, "/usr/bin/daemonize", &["daemonize"], 0)
        .create()
        .expect("create");
    let t = b.start_ns() + 1000 * MS;
    b.fork(t, 400, 401).expect("fork");
    b.exit(t + MS, 400, 0).expect("exit");
    // The kernel now reports ppid 1.
    b.exec(t + 2 * MS, 401, 1, "/tmp/implant", &["implant"])
        .expect("exec");
    b.finish().expect("finish");

    let (m, _) = model_of(&p);
    let implant = m
        .images
        .iter()
        .find(|i| i.exe.display() == "/tmp/implant")
        .expect("implant");
    assert_eq!(implant.ppid, 1, "ppid as the kernel said");
    let chain: Vec<String> = m.ancestry(implant.id).map(|i| i.label()).collect();
    assert_eq!(
        chain,
        vec![
            "implant[401]",
            "daemonize[401]",
            "daemonize[400]",
            "init[1]"
        ]
    );
}

#[test]
fn snapshot_processes_link_to_parents_listed_after_them() {
    let dir = tempfile::tempdir().expect("tmp");
    let p = dir.path().join("t.zst");
    // Child first, parent second: linking must wait for the whole snapshot.
    let mut b = TraceBuilder::new(&p)
        .existing(900, 800, "/usr/sbin/sshd", &["sshd: alice"], 0)
        .existing(800, 1, "/usr/sbin/sshd", &["sshd", "-D"], 0)
        .existing(1, 0, "/sbin/init", &["/sbin/init"], 0)
        .create()
        .expect("create");
    let t = b.start_ns() + 1000 * MS;
    b.event(t, 900, open_ev("/home/alice/.ssh/authorized_keys"))
        .expect("open");
    b.finish().expect("finish");

    let (m, set) = model_of(&p);
    let s900 = images_of(&m, 900)[0];
    assert_eq!(s900.origin, Origin::Snapshot);
    let chain: Vec<u32> = m.ancestry(s900.id).map(|i| i.pid).collect();
    assert_eq!(chain, vec![900, 800, 1]);
    assert_eq!(
        s900.counts.files, 1,
        "the open is attributed to the snapshot image"
    );
    let tl = timeline_of(&set, false);
    assert!(
        tl.contains("sshd[900]") && tl.contains("read /home/alice/.ssh/authorized_keys"),
        "{tl}"
    );
    // Snapshot entries are routine: folded by default, shown with --all.
    assert!(!tl.contains("was running when the recording began"), "{tl}");
    let all = timeline_of(&set, true);
    assert!(
        all.contains("was running when the recording began: /usr/sbin/sshd: sshd: alice"),
        "{all}"
    );
}

#[test]
fn unknown_processes_are_created_on_first_sight() {
    let dir = tempfile::tempdir().expect("tmp");
    let p = dir.path().join("t.zst");
    let mut b = TraceBuilder::new(&p).create().expect("create");
    let t = b.start_ns() + 1000 * MS;
    b.event(t, 4321, open_ev("/etc/passwd")).expect("open");
    b.event(t + MS, 4321, open_ev("/etc/group")).expect("open");
    let c = wire::Cred {
        old: wire::Creds {
            uid: 1000,
            euid: 1000,
            ..Default::default()
        },
        new: wire::Creds {
            uid: 1000,
            euid: 0,
            ..Default::default()
        },
        syscall: 105,
        ret: 0,
    };
    b.event(t + MS + 1, 4321, EventKind::Cred(c)).expect("cred");
    b.exit(t + 2 * MS, 4321, 1).expect("exit");
    b.finish().expect("finish");

    let (m, set) = model_of(&p);
    let imgs = images_of(&m, 4321);
    assert_eq!(imgs.len(), 1);
    assert_eq!(imgs[0].origin, Origin::Unknown);
    assert_eq!(imgs[0].counts.files, 2);
    assert_eq!(imgs[0].exit_code(), Some(1));
    assert_eq!(imgs[0].creds.euid, 0);
    assert_eq!(imgs[0].cred_history.len(), 1);
    assert_eq!(imgs[0].cred_history[0].1.euid, 0);
    let tl = timeline_of(&set, false);
    assert!(
        tl.contains("?[4321]") && tl.contains("read /etc/passwd"),
        "{tl}"
    );
}

#[test]
fn records_out_of_order_across_cpus_and_segments_are_replayed_in_time_order() {
    let dir = tempfile::tempdir().expect("tmp");
    let p = dir.path().join("t.zst");
    let mut b = TraceBuilder::new(&p)
        .rotation(Rotation {
            max_records: Some(3),
            ..Default::default()
        })
        .existing(1, 0, "/sbin/init", &["/sbin/init"], 0)
        .create()
        .expect("create");
    let t = b.start_ns() + 1000 * MS;
    b.fork(t, 1, 50).expect("fork");
    // The open (cpu 1) reached the ring buffer before the exec (cpu 0) though it
    // happened after it; they land in different segments.
    let push = |b: &mut TraceBuilder, ts: u64, cpu: u16, kind: EventKind| {
        b.push(Event {
            ts,
            cpu,
            pid: 50,
            tid: 50,
            kind,
        })
        .expect("push");
    };
    push(&mut b, t + 3 * MS, 1, open_ev("/etc/shadow"));
    push(&mut b, t + 4 * MS, 1, open_ev("/etc/gshadow"));
    b.flush().expect("flush");
    b.exec(t + 2 * MS, 50, 1, "/usr/bin/reader", &["reader"])
        .expect("exec");
    b.exit(t + 5 * MS, 50, 0).expect("exit");
    let paths = b.finish().expect("finish");
    assert!(paths.len() >= 2, "rotated: {paths:?}");

    // Segments given in reverse order, as a glob would not guarantee order either.
    let mut rev = paths.clone();
    rev.reverse();
    let set = TraceSet::open(&rev).expect("open");
    let (m, _) = replay(&set, &mut [], ReplayOptions::default()).expect("replay");
    let reader = m
        .images
        .iter()
        .find(|i| i.exe.display() == "/usr/bin/reader")
        .expect("reader");
    assert_eq!(reader.counts.files, 2, "opens after the exec belong to it");
    let tl = timeline_of(&set, false);
    let exec_at = tl.find("exec /usr/bin/reader").expect("exec line");
    let open_at = tl.find("read /etc/shadow").expect("open line");
    assert!(exec_at < open_at, "{tl}");
    assert!(
        tl.lines()
            .any(|l| l.contains("reader[50]") && l.contains("read /etc/shadow")),
        "{tl}"
    );
}

#[test]
fn loss_windows_are_carried_and_shown_inline() {
    let dir = tempfile::tempdir().expect("tmp");
    let p = dir.path().join("t.zst");
    let mut b = TraceBuilder::new(&p)
        .existing(1, 0, "/sbin/init", &["/sbin/init"], 0)
        .create()
        .expect("create");
    let t = b.start_ns() + 1000 * MS;
    b.fork(t, 1, 60).expect("fork");
    b.exec(t + MS, 60, 1, "/usr/bin/busy", &["busy"])
        .expect("exec");
    b.loss(t + 3 * MS, 1, 1234, t + 2 * MS, t + 3 * MS)
        .expect("loss");
    b.exit(t + 4 * MS, 60, 0).expect("exit");
    b.finish().expect("finish");

    let (m, set) = model_of(&p);
    assert_eq!(m.losses.len(), 1);
    assert_eq!(m.losses[0].count, 1234);
    assert_eq!(m.losses[0].cpu, 1);
    let tl = timeline_of(&set, false);
    let lost = tl.find("LOST 1234 records on cpu 1").expect("inline loss");
    let exit = tl.find("exited 0").expect("exit line");
    assert!(lost < exit, "{tl}");
    assert!(
        tl.contains("1234 records LOST in 1 windows: the story may have gaps"),
        "{tl}"
    );
    // A process filter never hides loss.
    let anchors = set.recordings.iter().map(|r| r.anchor).collect();
    let filter = Filter {
        scope: rewind_analyzer::scope::Scope {
            pids: vec![999],
            ..Default::default()
        },
        ..Filter::default()
    };
    let mut tl = Timeline::new(Vec::new(), Format::Json, filter, anchors);
    replay(&set, &mut [&mut tl], ReplayOptions::default()).expect("replay");
    let out = String::from_utf8(tl.into_inner()).expect("utf8");
    assert_eq!(out.lines().count(), 1, "{out}");
    assert!(out.contains("\"type\":\"loss\""), "{out}");
}

fn dns_packet(id: u16, name: &str, answer: Option<std::net::Ipv4Addr>) -> Vec<u8> {
    use simple_dns::{rdata::RData, Name, Packet, Question, ResourceRecord, CLASS, QCLASS};
    let mut p = match answer {
        Some(_) => Packet::new_reply(id),
        None => Packet::new_query(id),
    };
    p.questions.push(Question::new(
        Name::new_unchecked(name),
        simple_dns::TYPE::A.into(),
        QCLASS::CLASS(CLASS::IN),
        false,
    ));
    if let Some(ip) = answer {
        p.answers.push(ResourceRecord::new(
            Name::new_unchecked(name),
            CLASS::IN,
            60,
            RData::A(simple_dns::rdata::A {
                address: u32::from(ip),
            }),
        ));
    }
    p.build_bytes_vec().expect("dns bytes")
}

#[test]
fn dns_answers_name_the_addresses_contacted_later() {
    use rewind_schema::wire::{Payload, Sock};
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
        &["curl", "http://exfil.example/"],
    )
    .expect("exec");
    let local: std::net::SocketAddr = "127.0.0.1:53000".parse().expect("addr");
    let resolver: std::net::SocketAddr = "127.0.0.53:53".parse().expect("addr");
    let udp = Sock::udp(11, local, resolver);
    let q = wire::Snippet {
        sock: udp,
        total_len: 0,
        flags: 0,
        data: Payload(dns_packet(9, "exfil.example", None)),
    };
    b.event(t + 2 * MS, 70, EventKind::Dns(q)).expect("query");
    let a = wire::Snippet {
        sock: udp,
        total_len: 0,
        flags: wire::net::SNIPPET_INBOUND,
        data: Payload(dns_packet(
            9,
            "exfil.example",
            Some("127.0.0.9".parse().expect("ip")),
        )),
    };
    b.event(t + 3 * MS, 70, EventKind::Dns(a)).expect("answer");
    b.connect(
        t + 4 * MS,
        70,
        12,
        "127.0.0.1:41000".parse().expect("addr"),
        "127.0.0.9:443".parse().expect("addr"),
        0,
    )
    .expect("connect");
    b.exit(t + 9 * MS, 70, 0).expect("exit");
    b.finish().expect("finish");

    let (m, set) = model_of(&p);
    let conn = m
        .conns
        .iter()
        .find(|c| c.proto == "tcp")
        .expect("tcp connection");
    assert_eq!(conn.remote_name.as_deref(), Some("exfil.example"));
    let curl = images_of(&m, 70)
        .into_iter()
        .find(|i| i.exe.display() == "/usr/bin/curl")
        .expect("curl");
    assert_eq!(curl.counts.dns_names, vec!["exfil.example".to_string()]);
    let tl = timeline_of(&set, false);
    assert!(
        tl.contains("DNS query exfil.example A via 127.0.0.53:53"),
        "{tl}"
    );
    assert!(tl.contains("DNS answer exfil.example -> 127.0.0.9"), "{tl}");
    assert!(
        tl.contains("connected to exfil.example (127.0.0.9:443) (tcp)"),
        "{tl}"
    );
}

#[test]
fn instants_far_from_now_still_print() {
    use rewind_schema::meta::ClockAnchor;
    let dir = tempfile::tempdir().expect("tmp");
    let p = dir.path().join("t.zst");
    // A clock anchor that puts events centuries before the epoch.
    let mut b = TraceBuilder::new(&p)
        .clock(ClockAnchor {
            boot_ns: u64::MAX / 2,
            wall_ns: 0,
        })
        .create()
        .expect("create");
    b.event(1, 42, open_ev("/etc/shadow")).expect("open");
    b.finish().expect("finish");
    let set = TraceSet::open(&[&p]).expect("open");
    let tl = timeline_of(&set, false);
    assert!(
        tl.contains("-- 1677-09-21 (UTC) --") && tl.contains("read /etc/shadow"),
        "{tl}"
    );
}

/// A TLS 1.2 ServerHello (cipher 0xc02f, no extensions), record header included.
fn server_hello() -> Vec<u8> {
    let mut body = vec![0x03, 0x03];
    body.extend([7u8; 32]);
    body.extend([0x00, 0xc0, 0x2f, 0x00]);
    let mut hs = vec![0x02, 0, 0, body.len() as u8];
    hs.extend(body);
    let mut rec = vec![0x16, 0x03, 0x03, 0, hs.len() as u8];
    rec.extend(hs);
    rec
}

#[test]
fn snippets_at_stream_offsets_are_joined() {
    use rewind_schema::wire::{Payload, Sock};
    let dir = tempfile::tempdir().expect("tmp");
    let p = dir.path().join("t.zst");
    let mut b = TraceBuilder::new(&p)
        .existing(1, 0, "/sbin/init", &["/sbin/init"], 0)
        .create()
        .expect("create");
    let t = b.start_ns() + 1000 * MS;
    b.fork(t, 1, 70).expect("fork");
    b.exec(t + MS, 70, 1, "/usr/bin/client", &["client"])
        .expect("exec");
    let local: std::net::SocketAddr = "127.0.0.1:41000".parse().expect("addr");
    let remote: std::net::SocketAddr = "127.0.0.1:443".parse().expect("addr");
    b.connect(t + 2 * MS, 70, 12, local, remote, 0)
        .expect("connect");
    let sock = Sock::tcp(12, local, remote);
    let piece = |data: &[u8], off: u32, inbound: bool, total: u32| {
        EventKind::Snippet(wire::Snippet {
            sock,
            total_len: total,
            flags: (off << wire::net::SNIPPET_OFFSET_SHIFT)
                | if inbound {
                    wire::net::SNIPPET_INBOUND
                } else {
                    0
                },
            data: Payload(data.to_vec()),
        })
    };
    // An HTTP request head written in two pieces: the Host header is cut between them.
    let req = b"GET /a HTTP/1.1\r\nHost: split.example\r\n\r\n";
    b.event(t + 3 * MS, 70, piece(&req[..19], 0, false, 19))
        .expect("req 1");
    b.event(
        t + 4 * MS,
        70,
        piece(&req[19..], 19, false, (req.len() - 19) as u32),
    )
    .expect("req 2");
    // The ServerHello read as a 5-byte record header, then the rest.
    let sh = server_hello();
    b.event(t + 5 * MS, 70, piece(&sh[..5], 0, true, 5))
        .expect("hello 1");
    b.event(
        t + 6 * MS,
        70,
        piece(&sh[5..], 5, true, (sh.len() - 5) as u32),
    )
    .expect("hello 2");
    // Bytes after a gap (sent without a snippet, e.g. sendfile) say nothing on their own.
    b.event(
        t + 7 * MS,
        70,
        piece(b"HTTP/1.1 500 Oops\r\n\r\n", 180, true, 21),
    )
    .expect("after gap");
    b.exit(t + 9 * MS, 70, 0).expect("exit");
    b.finish().expect("finish");

    let (m, set) = model_of(&p);
    let conn = m.conns.iter().find(|c| c.proto == "tcp").expect("tcp");
    match conn.tls_server.as_deref() {
        Some(rewind_analyzer::model::proto::TlsHello::Server {
            version,
            cipher,
            truncated,
        }) => assert_eq!((*version, *cipher, *truncated), (0x0303, 0xc02f, false)),
        other => panic!("no ServerHello from the joined pieces: {other:?}"),
    }
    match conn.http_request.as_deref() {
        Some((_, rewind_analyzer::model::proto::HttpMsg::Request { host, .. })) => {
            assert_eq!(host.as_deref(), Some("split.example"))
        }
        other => panic!("request head not joined: {other:?}"),
    }
    assert!(
        conn.http_response.is_none(),
        "bytes after a gap were parsed"
    );
    let tl = timeline_of(&set, true);
    assert_eq!(tl.matches("TLS negotiated").count(), 1, "{tl}");
    assert!(tl.contains("TLS negotiated TLS 1.2"), "{tl}");
    // The request is told when first recognised, and again when the Host header came.
    assert!(tl.contains("HTTP GET /a (Host: split.example)"), "{tl}");
    assert!(!tl.contains("HTTP 500"), "{tl}");
}
