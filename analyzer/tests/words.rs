//! Words and units (issue 14.5), end to end on synthetic traces: DNS errors by their
//! RCODE names, entropy in bits per character, and processes whose start was not
//! recorded saying so instead of a made-up duration.

mod common;
use common::ok;
use rewind_schema::builder::TraceBuilder;
use rewind_schema::wire::{self, Sock};
use rewind_schema::EventKind;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

const MS: u64 = 1_000_000;

fn addr(s: &str) -> SocketAddr {
    s.parse().expect("addr")
}

/// A DNS message for `name` (A), a query, or a reply with `rcode` and no answer.
fn dns(name: &str, reply: Option<simple_dns::RCODE>) -> Vec<u8> {
    use simple_dns::{Name, Packet, Question, CLASS, QCLASS};
    let mut p = match reply {
        Some(rcode) => {
            let mut p = Packet::new_reply(7);
            *p.rcode_mut() = rcode;
            p
        }
        None => Packet::new_query(7),
    };
    p.questions.push(Question::new(
        Name::new_unchecked(name),
        simple_dns::TYPE::A.into(),
        QCLASS::CLASS(CLASS::IN),
        false,
    ));
    p.build_bytes_vec().expect("dns packet")
}

/// `curl` (pid 600) resolves names; `?[5222]`, seen only exiting (its fork and exec were
/// not recorded), exits 0 a second later.
fn trace(dir: &Path, names: &[(&str, Option<simple_dns::RCODE>)]) -> PathBuf {
    let path = dir.join("words.zst");
    let mut b = TraceBuilder::new(&path)
        .existing(1, 0, "/sbin/init", &["/sbin/init"], 0)
        .existing(600, 1, "/usr/bin/curl", &["curl", "http://x/"], 1000)
        .create()
        .expect("builder");
    let mut t = b.start_ns() + 1_000 * MS;
    let sock = Sock::udp(9, addr("10.0.0.2:5353"), addr("10.0.0.53:53"));
    for (name, reply) in names {
        for r in [None, *reply] {
            let data = dns(name, r);
            let s = wire::Snippet {
                sock,
                total_len: data.len() as u32,
                flags: if r.is_some() {
                    wire::net::SNIPPET_INBOUND
                } else {
                    0
                },
                data: wire::Payload(data),
            };
            t += MS;
            b.event(t, 600, EventKind::Dns(s)).expect("dns");
            if reply.is_none() {
                break;
            }
        }
    }
    b.exit(t + 1_000 * MS, 5222, 0).expect("exit");
    b.finish().expect("finish");
    path
}

#[test]
fn dns_errors_are_rcode_names() {
    use simple_dns::RCODE;
    let dir = tempfile::tempdir().expect("tmp");
    let t = trace(
        dir.path(),
        &[
            ("nosuch.example", Some(RCODE::NameError)),
            ("broken.example", Some(RCODE::ServerFailure)),
            ("closed.example", Some(RCODE::Refused)),
        ],
    );
    let tl = ok(&["timeline", t.to_str().expect("utf-8")]);
    for want in [
        "DNS answer nosuch.example -> NXDOMAIN",
        "DNS answer broken.example -> SERVFAIL",
        "DNS answer closed.example -> REFUSED",
    ] {
        assert!(tl.contains(want), "no {want:?} in\n{tl}");
    }
    assert!(!tl.contains("NameError"), "{tl}");
}

#[test]
fn entropy_is_in_bits_per_character() {
    let dir = tempfile::tempdir().expect("tmp");
    // 20 different characters: log2(20) = 4.32 bits per character.
    let t = trace(dir.path(), &[("x7kq9zpl2mw4rt8vbn3c.example", None)]);
    let out = ok(&["detect", t.to_str().expect("utf-8")]);
    assert!(out.contains("RW-NET-002"), "{out}");
    assert!(
        out.contains("(longest label 20 characters, entropy 4.32 bits/char)"),
        "{out}"
    );
    assert!(!out.contains("/100"), "{out}");
}

#[test]
fn an_exit_without_a_recorded_start_says_so() {
    let dir = tempfile::tempdir().expect("tmp");
    let t = trace(dir.path(), &[]);
    let tl = ok(&["timeline", t.to_str().expect("utf-8")]);
    let line = tl
        .lines()
        .find(|l| l.contains("[5222]"))
        .unwrap_or_else(|| panic!("no line of pid 5222 in\n{tl}"));
    assert!(line.ends_with("(start not recorded) exited 0"), "{line}");
    assert!(!line.contains(" after "), "{line}");
    // A process whose start is known keeps its duration.
    let dir2 = tempfile::tempdir().expect("tmp");
    let path = dir2.path().join("known.zst");
    let mut b = TraceBuilder::new(&path)
        .existing(1, 0, "/sbin/init", &["/sbin/init"], 0)
        .create()
        .expect("builder");
    let t0 = b.start_ns() + 1_000 * MS;
    b.fork(t0, 1, 700).expect("fork");
    b.exec(t0 + MS, 700, 1, "/bin/true", &["true"])
        .expect("exec");
    b.exit(t0 + 3 * MS, 700, 0).expect("exit");
    b.finish().expect("finish");
    let tl = ok(&["timeline", path.to_str().expect("utf-8")]);
    assert!(
        tl.contains("true[700]            exited 0 after 2.0ms"),
        "{tl}"
    );
}
