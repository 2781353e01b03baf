//! Output that cannot hurt the reader (issue 14, points 9-12): every subcommand on the
//! hostile fixture keeps control, C1 and bidi characters out of the terminal and forges
//! no line; CSV cells are never formulas; files are created private whatever the umask;
//! closed pipes, FIFOs, long names and OS errors give quiet exits or clear messages.

mod common;
use common::{root, text};

use rewind_schema::builder::TraceBuilder;
use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const HOSTILE: &str = "fixtures/synthetic/hostile/hostile.zst";
/// The terminal attack of the hostile fixture (`rewind_tests::synthetic::TERMINAL`):
/// file names and rule files below carry it too.
const TERMINAL: &str =
    "\u{1b}]0;pwned\u{7}\u{1b}[2J\r\nFORGED line\u{9b}31m\u{85}\u{202e}gpj.exe\u{2066}\u{7f}";

/// Runs the analyzer from the repository root with `args` (OS strings: paths may hold
/// anything).
fn run<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_analyzer"))
        .args(args)
        .current_dir(root())
        .env("NO_COLOR", "1")
        .output()
        .expect("run analyzer")
}

/// Where a byte sequence a terminal would act on starts in `b`, if anywhere: C0 controls
/// other than the printer's own newline and tab, DEL, UTF-8 C1 controls (U+0080-U+009F),
/// bidi embeddings, overrides and isolates (U+202A-U+202E, U+2066-U+2069).
fn raw_control(b: &[u8]) -> Option<usize> {
    (0..b.len()).find(|&i| {
        let c = b[i];
        let next = b.get(i + 1).copied().unwrap_or(0);
        let third = b.get(i + 2).copied().unwrap_or(0);
        (c < 0x20 && c != b'\n' && c != b'\t')
            || c == 0x7f
            || (c == 0xc2 && (0x80..=0x9f).contains(&next))
            || (c == 0xe2 && next == 0x80 && (0xaa..=0xae).contains(&third))
            || (c == 0xe2 && next == 0x81 && (0xa6..=0xa9).contains(&third))
    })
}

/// Asserts that neither stream of `o` carries a raw control or a forged line.
fn assert_safe(what: &str, o: &Output) {
    for (name, b) in [("stdout", &o.stdout), ("stderr", &o.stderr)] {
        if let Some(i) = raw_control(b) {
            let from = i.saturating_sub(60);
            panic!(
                "{what}: raw control byte {:#04x} on {name} at {i}: {:?}",
                b[i],
                String::from_utf8_lossy(&b[from..(i + 20).min(b.len())])
            );
        }
        let forged = b.split(|&c| c == b'\n').find(|l| l.starts_with(b"FORGED"));
        assert!(
            forged.is_none(),
            "{what}: forged line on {name}: {:?}",
            forged.map(String::from_utf8_lossy)
        );
    }
}

fn scratch() -> tempfile::TempDir {
    tempfile::tempdir().expect("tempdir")
}

/// A rules directory whose rule carries the attack in its title and whose test names a
/// copy of the hostile trace with the attack in its file name.
fn hostile_rules(dir: &Path) -> PathBuf {
    let rules = dir.join("rules");
    std::fs::create_dir(&rules).expect("mkdir");
    let trace_name = format!("copy{TERMINAL}.zst");
    std::fs::copy(root().join(HOSTILE), rules.join(&trace_name)).expect("copy");
    let yaml = format!(
        "id: RW-TEST-001\ntitle: \"Dropped binary \\e[31m \\u202e \\r\\nFORGED rule\"\n\
severity: high\nattack: [T1059.004]\ndescription: test\nmatch:\n  event: exec\n\
explain: \"{{proc}} ran {{process.cmdline}}\"\ntests:\n  - trace: {}\n    findings: 1\n",
        serde_json::to_string(&trace_name).expect("json string")
    );
    std::fs::write(rules.join("hostile.yml"), yaml).expect("write rule");
    rules
}

#[test]
fn every_subcommand_keeps_hostile_strings_off_the_terminal() {
    let dir = scratch();
    let d = dir.path();
    let db = d.join(format!("db{TERMINAL}.sqlite"));
    let html = d.join(format!("report{TERMINAL}.html"));
    let expect = d.join("expect");
    let rules = hostile_rules(d);
    // A damaged copy under a hostile name: the warnings name it.
    let damaged = d.join(format!("cut{TERMINAL}.zst"));
    let bytes = std::fs::read(root().join(HOSTILE)).expect("read fixture");
    std::fs::write(&damaged, &bytes[..bytes.len() - 40]).expect("write cut copy");
    let missing = d.join(format!("missing{TERMINAL}.zst"));

    let h = HOSTILE;
    let p = |p: &Path| p.to_string_lossy().into_owned();
    let mut cmds: Vec<Vec<String>> = [
        vec!["timeline", h],
        vec!["timeline", "--all", "--ancestry", h],
        vec!["timeline", "--csv", h],
        vec!["timeline", "--json", h],
        vec!["timeline", "--incident", "1", h],
        vec!["tree", h],
        vec!["tree", "--ids", h],
        vec!["tree", "--json", h],
        vec!["dump", h],
        vec!["dump", "--json", h],
        vec!["info", h],
        vec!["info", "--json", h],
        vec!["detect", h],
        vec!["detect", "--json", h],
        vec!["incidents", h],
        vec!["incidents", "--json", h],
        vec!["graph", h],
        vec!["graph", "--all", "--format", "json", h],
        vec!["stats", h],
        vec!["stats", "--json", h],
        vec!["query", h, "exec_tree", "--param", "pid=5244"],
        vec!["query", h, "exec_from_writable_dirs"],
        vec!["query", h, "net_http"],
        vec!["query", h, "net_dns_contacted", "--csv"],
        vec!["query", h, "net_destinations", "--json"],
        vec!["query", h, "SELECT * FROM processes"],
        vec!["query", h, "SELECT * FROM connections", "--csv"],
    ]
    .iter()
    .map(|v| v.iter().map(|s| s.to_string()).collect())
    .collect();
    let owned: Vec<Vec<String>> = vec![
        vec!["ingest".into(), h.into(), "-o".into(), p(&db)],
        vec!["query".into(), p(&db), "SELECT * FROM files".into()],
        vec!["report".into(), h.into(), "-o".into(), p(&html)],
        vec![
            "export".into(),
            h.into(),
            "--parquet".into(),
            p(&d.join("pq")),
        ],
        vec![
            "check".into(),
            h.into(),
            "--expect".into(),
            p(&expect),
            "--bless".into(),
        ],
        vec![
            "rules".into(),
            "list".into(),
            "--no-builtin".into(),
            "--rules".into(),
            p(&rules),
        ],
        vec![
            "rules".into(),
            "test".into(),
            "--no-builtin".into(),
            "--rules".into(),
            p(&rules),
        ],
        vec!["info".into(), p(&damaged)],
        vec!["timeline".into(), p(&damaged)],
        vec!["info".into(), p(&missing)],
    ];
    cmds.extend(owned);
    for args in &cmds {
        let o = run(args.as_slice());
        assert!(
            matches!(o.status.code(), Some(0 | 1 | 3)),
            "{args:?}: {:?}\n{}",
            o.status,
            text(&o.stderr)
        );
        assert_safe(&format!("{args:?}"), &o);
    }
    // The attack reached these outputs, escaped: the test is not vacuous.
    for args in [
        vec!["timeline", h],
        vec!["tree", h],
        vec!["dump", h],
        vec!["info", h],
        vec!["graph", h],
        vec!["query", h, "net_http"],
    ] {
        let out = text(&run(args.as_slice()).stdout);
        assert!(
            out.contains("FORGED line"),
            "{args:?} lost the hostile strings"
        );
    }
    let missing_err = text(&run(&["info".to_string(), p(&missing)]).stderr);
    assert!(missing_err.contains("\\u{1b}]0;pwned"), "{missing_err}");
    // An expectation file edited by hand (or by an attacker): its diff is escaped too.
    std::fs::write(expect.join("timeline.txt"), format!("{TERMINAL}\n")).expect("write");
    let o = run(&["check".to_string(), h.into(), "--expect".into(), p(&expect)]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
    assert!(
        text(&o.stdout).contains("-\\u{1b}]0;pwned"),
        "{}",
        text(&o.stdout)
    );
    assert_safe("check with a hostile expectation", &o);
}

/// Every cell of a CSV document.
fn csv_cells(b: &[u8]) -> Vec<String> {
    let mut r = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(b);
    r.records()
        .flat_map(|rec| {
            rec.expect("valid CSV")
                .iter()
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .collect()
}

#[test]
fn csv_cells_are_never_formulas() {
    let dir = scratch();
    let path = dir.path().join("formula.zst");
    let mut b = TraceBuilder::new(&path)
        .existing(1, 0, "/sbin/init", &["/sbin/init"], 0)
        .create()
        .expect("create");
    let t = b.start_ns() + 1_000_000_000;
    // No slash: the task name is the last path component.
    let evil = [
        "=HYPERLINK(1)",
        "+1+cmd|calc!A0",
        "-2+3+cmd|calc!A0",
        "@SUM(1+9)*cmd|calc!A0",
    ];
    for (i, e) in evil.into_iter().enumerate() {
        let pid = 100 + i as u32;
        b.fork(t + i as u64 * 1000, 1, pid).expect("fork");
        b.exec(
            t + i as u64 * 1000 + 10,
            pid,
            1,
            &format!("/tmp/{e}"),
            &[e, e],
        )
        .expect("exec");
        b.open(t + i as u64 * 1000 + 20, pid, e, 0o101, 3)
            .expect("open");
    }
    b.finish().expect("finish");
    let trace = path.to_string_lossy().into_owned();
    for args in [
        vec!["timeline", "--all", "--ancestry", "--csv", &trace],
        vec!["query", &trace, "exec_from_writable_dirs", "--csv"],
        vec![
            "query",
            &trace,
            "SELECT name, cmdline, exe FROM processes",
            "--csv",
        ],
        vec!["query", &trace, "SELECT path, ret FROM files", "--csv"],
    ] {
        let o = run(args.as_slice());
        assert_eq!(o.status.code(), Some(0), "{args:?}: {}", text(&o.stderr));
        let cells = csv_cells(&o.stdout);
        for c in &cells {
            assert!(
                !c.starts_with(['=', '+', '-', '@', '\t', '\r']),
                "{args:?}: formula cell {c:?}"
            );
        }
        assert!(
            cells.iter().any(|c| c.starts_with("'=HYPERLINK")),
            "{args:?}: the neutralised cell is missing: {cells:?}"
        );
    }
    // Numbers stay numbers: a failed open's negative return is not quoted.
    let o = run(&["query", &trace, "SELECT -13 AS ret", "--csv"]);
    assert_eq!(text(&o.stdout), "ret\n-13\n");
}

/// The permission bits of `p`.
fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).expect("metadata").permissions().mode() & 0o7777
}

/// Runs the analyzer under `umask`.
fn run_with_umask(umask: &str, args: &[&str]) -> Output {
    Command::new("sh")
        .arg("-c")
        .arg(format!("umask {umask} && exec \"$0\" \"$@\""))
        .arg(env!("CARGO_BIN_EXE_analyzer"))
        .args(args)
        .current_dir(root())
        .output()
        .expect("run sh")
}

/// Every file under `p` (and `p`), with its mode.
fn walk(p: &Path, out: &mut Vec<(PathBuf, u32)>) {
    out.push((p.to_path_buf(), mode(p)));
    if p.is_dir() {
        for e in std::fs::read_dir(p).expect("read_dir") {
            walk(&e.expect("entry").path(), out);
        }
    }
}

#[test]
fn every_output_file_is_private_whatever_the_umask() {
    for umask in ["000", "022"] {
        let dir = scratch();
        let d = dir.path();
        let s = |p: &Path| p.to_string_lossy().into_owned();
        let (db, html, pq, exp) = (
            d.join("t.db"),
            d.join("r.html"),
            d.join("pq/new"),
            d.join("exp/new"),
        );
        // An existing database replaced with --force stays private too.
        std::fs::write(&db, b"old").expect("write");
        std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o666)).expect("chmod");
        for args in [
            vec!["ingest", "-q", HOSTILE, "-o", &s(&db), "--force"],
            vec!["report", "-q", HOSTILE, "-o", &s(&html)],
            vec!["export", "-q", HOSTILE, "--parquet", &s(&pq)],
            vec!["check", HOSTILE, "--expect", &s(&exp), "--bless"],
        ] {
            let o = run_with_umask(umask, &args);
            assert_eq!(o.status.code(), Some(0), "{args:?}: {}", text(&o.stderr));
        }
        let mut all = Vec::new();
        for p in [&db, &html, &d.join("pq"), &d.join("exp")] {
            walk(p, &mut all);
        }
        for (p, m) in &all {
            let want = if p.is_dir() { 0o700 } else { 0o600 };
            // pq/ and exp/ themselves are created on the way, like every directory.
            assert_eq!(*m, want, "umask {umask}: {} is {m:o}", p.display());
        }
        assert!(all.len() > 10, "{all:?}");
    }
}

#[test]
fn trace_segments_are_private() {
    // The recorder writes segments through the same writer.
    let dir = scratch();
    let path = dir.path().join("t.zst");
    let b = TraceBuilder::new(&path).create().expect("create");
    b.finish().expect("finish");
    assert_eq!(mode(&path), 0o600);
}

/// A trace big enough that its output does not fit in a pipe.
fn big_trace(dir: &Path) -> PathBuf {
    let path = dir.join("big.zst");
    let mut b = TraceBuilder::new(&path).create().expect("create");
    let t = b.start_ns();
    for i in 0..20_000u64 {
        b.open(t + i, 100, "/etc/hosts", 0, 3).expect("open");
    }
    b.finish().expect("finish");
    path
}

#[test]
fn closed_pipes_exit_quietly_in_every_format() {
    let dir = scratch();
    let trace = big_trace(dir.path());
    let t = trace.to_string_lossy().into_owned();
    for args in [
        vec!["dump", &t],
        vec!["dump", "--json", &t],
        vec!["timeline", "--all", "--json", &t],
        vec!["timeline", "--all", "--csv", &t],
        vec!["query", &t, "SELECT * FROM events", "--csv"],
        vec!["query", &t, "SELECT * FROM events", "--json"],
    ] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_analyzer"))
            .args(&args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn");
        let stdout = child.stdout.take().expect("stdout");
        let mut first = String::new();
        BufReader::new(stdout).read_line(&mut first).expect("line");
        // Reader dropped: the pipe is closed like `| head -1` does.
        let out = child.wait_with_output().expect("wait");
        assert!(!first.is_empty(), "{args:?}");
        assert_eq!(
            out.status.code(),
            Some(0),
            "{args:?}: {}",
            text(&out.stderr)
        );
        assert!(out.stderr.is_empty(), "{args:?}: {}", text(&out.stderr));
    }
}

/// True when running as root (uid 0): `/proc/self/status` says so without a libc call.
fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|e| e == "0"))
        })
        .unwrap_or(false)
}

/// Runs with a deadline: a reader that blocks fails the test instead of hanging it.
fn run_with_deadline(args: &[&str], limit: Duration) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_analyzer"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let start = Instant::now();
    while child.try_wait().expect("try_wait").is_none() {
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("analyzer {args:?} still running after {limit:?}: it blocked");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().expect("output")
}

#[test]
fn a_fifo_is_refused_not_waited_on() {
    let dir = scratch();
    let fifo = dir.path().join("trace.zst");
    let st = Command::new("mkfifo").arg(&fifo).status().expect("mkfifo");
    assert!(st.success());
    let f = fifo.to_string_lossy().into_owned();
    for args in [
        vec!["info", &f],
        vec!["timeline", &f],
        vec!["query", &f, "exec_tree"],
    ] {
        let o = run_with_deadline(&args, Duration::from_secs(20));
        assert_eq!(o.status.code(), Some(1), "{args:?}");
        let err = text(&o.stderr);
        assert!(
            err.contains("trace.zst") && err.contains("FIFO") && err.contains("not a regular file"),
            "{args:?}: {err}"
        );
    }
    // In a directory, a FIFO is not a segment: the real segments are read.
    std::fs::copy(root().join(HOSTILE), dir.path().join("a.zst")).expect("copy");
    let d = dir.path().to_string_lossy().into_owned();
    let o = run_with_deadline(&["info", &d], Duration::from_secs(20));
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
}

#[test]
fn os_errors_are_said_once_and_long_names_say_so() {
    let dir = scratch();
    let file = dir.path().join("plain");
    std::fs::write(&file, b"x").expect("write");
    // A path through a file: ENOTDIR, the OS's words once.
    let through = file.join("x.zst").to_string_lossy().into_owned();
    let o = run(&["info", &through]);
    assert_eq!(o.status.code(), Some(1));
    let err = text(&o.stderr);
    assert_eq!(err.matches("os error 20").count(), 1, "{err}");
    assert!(err.contains("Not a directory"), "{err}");
    let long = dir
        .path()
        .join(format!("{}.zst", "n".repeat(300)))
        .to_string_lossy()
        .into_owned();
    for args in [vec!["info", &long], vec!["query", &long, "exec_tree"]] {
        let o = run(args.as_slice());
        assert_eq!(o.status.code(), Some(1));
        let err = text(&o.stderr);
        assert!(
            err.to_lowercase().contains("file name too long"),
            "{args:?}: {err}"
        );
        assert_eq!(err.matches("os error 36").count(), 1, "{err}");
    }
    // A file this user may not read: EACCES, said once (as root, run as nobody).
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let locked = dir.path().join("locked.zst");
    std::fs::copy(root().join(HOSTILE), &locked).expect("copy");
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o000)).expect("chmod");
    let mut cmd = if is_root() {
        let mut c = Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
            .arg(env!("CARGO_BIN_EXE_analyzer"));
        c
    } else {
        Command::new(env!("CARGO_BIN_EXE_analyzer"))
    };
    let o = cmd.arg("info").arg(&locked).output().expect("run");
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
    let err = text(&o.stderr);
    assert!(err.contains("locked.zst: Permission denied"), "{err}");
    assert_eq!(err.matches("os error 13").count(), 1, "{err}");
    // An output that cannot be written: the reason once.
    let o = run(&["ingest", HOSTILE, "-o", &through]);
    assert_eq!(o.status.code(), Some(1));
    let err = text(&o.stderr);
    assert_eq!(err.matches("os error 20").count(), 1, "{err}");
}
