//! Process family end to end: exec with exact argv and parent, fork, exit codes and
//! signals, argv truncation, loss with a deliberately tiny ring buffer.

mod common;
use common::*;
use rewind_schema::EventKind;

#[test]
fn exec_with_exact_argv_and_parent() {
    if !root_or_skip("exec_with_exact_argv_and_parent") {
        return;
    }
    let r = record(
        &[],
        &[
            "/bin/sh",
            "-c",
            "/bin/echo hello 'two words' \"$HOME\" >/dev/null; true",
        ],
        None,
    );
    assert_eq!(r.code(), Some(0), "{}", r.stderr());
    let sh = r.execs("/sh");
    assert_eq!(sh.len(), 1, "{}", r.dump());
    let (sh_ev, _) = sh[0];
    let echo = r.execs("/echo");
    assert_eq!(echo.len(), 1, "{}", r.dump());
    let (ev, x) = echo[0];
    let argv: Vec<String> = x.argv.0.iter().map(|a| a.display()).collect();
    let home = std::env::var("HOME").unwrap_or_default();
    assert_eq!(
        argv,
        vec![
            "/bin/echo".to_string(),
            "hello".into(),
            "two words".into(),
            home
        ]
    );
    assert_eq!(x.argc, 4);
    assert!(!x.argv_truncated());
    assert_eq!(x.ppid, sh_ev.pid, "echo's parent is the shell");
    assert_eq!(x.comm.display(), "echo");
    // The shell forked it.
    assert!(
        r.events.iter().any(
            |e| matches!(&e.kind, EventKind::Fork(f) if e.pid == sh_ev.pid && f.child_pid == ev.pid)
        ),
        "{}",
        r.dump()
    );
    // The command is recorded from its first exec: the gate is not.
    assert!(r.execs("recorder").is_empty(), "{}", r.dump());
    assert_eq!(x.cwd.display(), r.dir.path().display().to_string());
    assert!(x.uid == 0 && x.euid == 0 && x.cap_eff != 0);
    assert!(x.ns.mnt != 0 && x.ns.net != 0 && x.ns.pid != 0 && x.ns.user != 0);
    assert!(
        x.cgroup_id != 0 && x.cgroup.as_bytes().starts_with(b"/"),
        "{:?}",
        x.cgroup
    );
    assert!(x.exe_ino != 0 && x.exe_mode & 0o170000 == 0o100000);
}

#[test]
fn exit_codes_and_signals() {
    if !root_or_skip("exit_codes_and_signals") {
        return;
    }
    let r = record(
        &[],
        &[
            "/bin/sh",
            "-c",
            "sleep 30 & sleep 0.3; kill -9 $!; wait; exit 7",
        ],
        None,
    );
    assert_eq!(
        r.code(),
        Some(7),
        "the recorder returns the command's exit code\n{}",
        r.stderr()
    );
    let sleep30 = r
        .execs("/sleep")
        .into_iter()
        .find(|(_, x)| x.argv.joined() == "sleep 30");
    let sleep_pid = sleep30.map(|(e, _)| e.pid).expect("sleep 30 exec");
    let sh_pid = r.execs("/sh").first().map(|(e, _)| e.pid).expect("sh exec");
    let exit_of = |pid| {
        r.events.iter().find_map(|e| match &e.kind {
            EventKind::Exit(x) if e.pid == pid => Some(x.clone()),
            _ => None,
        })
    };
    let sleep_exit = exit_of(sleep_pid).expect("sleep exit");
    assert_eq!(sleep_exit.signal(), Some(9), "{sleep_exit:?}");
    assert_eq!(sleep_exit.code(), None);
    let sh_exit = exit_of(sh_pid).expect("sh exit");
    assert_eq!(sh_exit.code(), Some(7));
    // Exits come after the execs they end.
    let ts_exec = sleep30.map(|(e, _)| e.ts).unwrap_or(0);
    assert!(r
        .events
        .iter()
        .any(|e| e.pid == sleep_pid && matches!(e.kind, EventKind::Exit(_)) && e.ts > ts_exec));
}

#[test]
fn long_argv_is_cut_and_flagged() {
    if !root_or_skip("long_argv_is_cut_and_flagged") {
        return;
    }
    let long = "x".repeat(300);
    let r = record(
        &["--argv-limit", "100"],
        &["/bin/echo", &long, "tail"],
        None,
    );
    assert_eq!(r.code(), Some(0), "{}", r.stderr());
    let (_, x) = r.execs("/echo")[0];
    assert!(x.argv_truncated(), "{x:?}");
    assert_eq!(x.argc, 3, "the real count survives the cut");
    // 100 bytes: "/bin/echo\0" and the first 90 bytes of the long argument.
    assert_eq!(x.argv.0.len(), 2, "{:?}", x.argv);
    assert_eq!(x.argv.0[1].display(), "x".repeat(90));
}

#[test]
fn tiny_ring_buffer_reports_loss() {
    if !root_or_skip("tiny_ring_buffer_reports_loss") {
        return;
    }
    let r = record(
        // Process records only: the accounting below counts exec, fork and exit.
        &["--ringbuf-size", "4096", "--classes", "process"],
        &[
            "/bin/sh",
            "-c",
            "for i in $(seq 300); do sleep 1 & done; wait",
        ],
        None,
    );
    assert_eq!(r.code(), Some(0), "{}", r.stderr());
    let lost: u64 = r
        .events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Loss(l) => Some(l.count),
            _ => None,
        })
        .sum();
    assert!(
        lost > 0,
        "a 4 KiB ring buffer must overflow on 300 simultaneous exits\n{}",
        r.stderr()
    );
    // Recorded plus reported lost accounts for every record the kernel produced:
    // 300 forks, execs and exits of the sleeps, the shell's, and $(seq)'s.
    let recorded = r
        .events
        .iter()
        .filter(|e| {
            matches!(
                e.kind,
                EventKind::Exit(_) | EventKind::Exec(_) | EventKind::Fork(_)
            )
        })
        .count() as u64;
    assert!(
        (900..=910).contains(&(recorded + lost)),
        "recorded {recorded} + lost {lost}"
    );
    assert!(
        r.stderr().contains(&format!("{lost} lost")),
        "{}",
        r.stderr()
    );
}
