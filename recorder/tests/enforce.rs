//! Live enforcement, for real: policies compiled into the kernel while recording, and what
//! the processes under them experience (killed before reading, EPERM, stopped), what the
//! trace says about it, what is refused, and that nothing stays loaded after a SIGKILL.

mod common;
use common::*;
use rewind_schema::wire::enforce::{
    ACTION_AUDIT, ACTION_DENY, ACTION_KILL, ENFORCE_EXEMPT, ENFORCE_MONITOR,
};
use rewind_schema::wire::Enforce;
use rewind_schema::EventKind;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A policy applies to the whole machine: tests that load one run one at a time.
fn serial() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

fn policy(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).expect("write policy");
    p
}

fn enforcements(r: &Recording) -> Vec<(u32, &Enforce)> {
    r.events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Enforce(x) => Some((e.pid, x)),
            _ => None,
        })
        .collect()
}

fn stdout(r: &Recording) -> String {
    String::from_utf8_lossy(&r.out.stdout).into_owned()
}

const SHADOW: &str = "version: 1
name: protect-shadow
rules:
  - id: shadow-readers
    on: [open]
    action: kill
    match:
      path: { exact: [/etc/shadow] }
      binary: { suffix: [/cat] }
";

/// A kill rule on opening /etc/shadow kills the reader before it writes a byte of the
/// contents, and the trace holds the action; a reader the rule does not name reads.
#[test]
fn kill_on_open_stops_the_reader_before_it_reads() {
    if !root_or_skip("kill_on_open_stops_the_reader_before_it_reads") {
        return;
    }
    let _one = serial();
    let dir = tempfile::tempdir().expect("tmp");
    let p = policy(dir.path(), "p.yaml", SHADOW);
    let r = record(
        &["--policy", p.to_str().expect("utf8")],
        &[
            "/bin/bash",
            "-c",
            "cat /etc/shadow | wc -c; echo \"cat ${PIPESTATUS[0]}\"; head -c 5 /etc/shadow | wc -c",
        ],
        None,
    );
    assert_eq!(r.code(), Some(0), "{}", r.stderr());
    assert_eq!(stdout(&r), "0\ncat 137\n5\n", "{}", r.stderr());
    let e = enforcements(&r);
    assert_eq!(e.len(), 1, "{}", r.dump());
    let (pid, x) = e[0];
    assert_eq!((x.action, x.rule, x.sig, x.flags), (ACTION_KILL, 0, 9, 0));
    assert_eq!(x.trigger, 0x0201);
    assert_eq!(x.detail.display(), "/etc/shadow");
    let cat = r.execs("/cat");
    assert_eq!(cat.len(), 1);
    assert_eq!(cat[0].0.pid, pid);
    let meta = r.meta();
    let sum = meta.capture.policy.as_ref().expect("policy in the header");
    assert_eq!(sum.rules[0].id, "shadow-readers");
    assert_eq!(
        meta.capture.policy_sha256.as_deref(),
        Some(sum.sha256.as_str())
    );
}

/// Monitor mode records the would-be kill and blocks nothing.
#[test]
fn monitor_mode_records_and_blocks_nothing() {
    if !root_or_skip("monitor_mode_records_and_blocks_nothing") {
        return;
    }
    let _one = serial();
    let dir = tempfile::tempdir().expect("tmp");
    let p = policy(dir.path(), "p.yaml", SHADOW);
    let r = record(
        &[
            "--policy",
            p.to_str().expect("utf8"),
            "--policy-mode",
            "monitor",
        ],
        &["/bin/bash", "-c", "cat /etc/shadow | head -c 3 | wc -c"],
        None,
    );
    assert_eq!(r.code(), Some(0), "{}", r.stderr());
    assert_eq!(stdout(&r), "3\n");
    let e = enforcements(&r);
    assert_eq!(e.len(), 1, "{}", r.dump());
    assert_eq!(e[0].1.action, ACTION_KILL);
    assert_eq!(e[0].1.flags & ENFORCE_MONITOR, ENFORCE_MONITOR);
    assert_eq!(
        r.meta().capture.policy.as_ref().expect("policy").mode,
        "monitor"
    );
}

/// A stop rule freezes the process (state T) and leaves it alive.
#[test]
fn stop_leaves_the_process_stopped_and_alive() {
    if !root_or_skip("stop_leaves_the_process_stopped_and_alive") {
        return;
    }
    let _one = serial();
    let dir = tempfile::tempdir().expect("tmp");
    let p = policy(
        dir.path(),
        "p.yaml",
        &SHADOW.replace("action: kill", "action: stop"),
    );
    let r = record(
        &["--policy", p.to_str().expect("utf8")],
        &[
            "/bin/bash",
            "-c",
            "cat /etc/shadow > /dev/null & c=$!; sleep 1; \
             echo \"state $(awk '{print $3}' /proc/$c/stat)\"; kill -9 $c; wait $c; echo \"exit $?\"",
        ],
        None,
    );
    assert_eq!(r.code(), Some(0), "{}", r.stderr());
    assert_eq!(stdout(&r), "state T\nexit 137\n", "{}", r.stderr());
    let e = enforcements(&r);
    assert_eq!(e.len(), 1, "{}", r.dump());
    assert_eq!((e[0].1.action, e[0].1.sig), (3, 19));
}

/// Story 5: the backend port may be reached only by one binary running unprivileged.
/// The same destination is allowed to it as a normal user and denied (EPERM, in the
/// calling program) to it as root and to another binary, over IPv4 and IPv6; an audit
/// rule records the allowed connect.
#[test]
fn network_policy_depends_on_binary_and_privilege() {
    if !root_or_skip("network_policy_depends_on_binary_and_privilege") {
        return;
    }
    let _one = serial();
    let dir = tempfile::tempdir().expect("tmp");
    let py = std::fs::canonicalize("/usr/bin/python3").expect("python3");
    let p = policy(
        dir.path(),
        "p.yaml",
        &format!(
            "version: 1
name: frontend-backend
rules:
  - id: backend-only-from-app
    on: [connect]
    action: deny
    match:
      dest: {{ cidr: [127.0.0.1/32, \"::1/128\"], ports: [28080] }}
    unless:
      binary: {{ exact: [{py}] }}
      privileged: false
  - id: audit-backend
    on: [connect]
    action: audit
    match:
      dest: {{ cidr: [127.0.0.1/32, \"::1/128\"], ports: [28080] }}
",
            py = py.display()
        ),
    );
    // Listeners on both families; then each client tries; results printed by the script.
    let script = format!(
        r#"
set -u
{py} - <<'EOF' &
import socket, time
a = socket.socket(socket.AF_INET); a.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); a.bind(("127.0.0.1", 28080)); a.listen(16)
b = socket.socket(socket.AF_INET6); b.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); b.bind(("::1", 28080)); b.listen(16)
open("{ready}", "w").close()
time.sleep(6)
EOF
srv=$!
while [ ! -e {ready} ]; do sleep 0.05; done
try() {{ "$@" 2>/dev/null && echo ok || echo refused; }}
for host in 127.0.0.1 ::1; do
  fam=AF_INET; [ "$host" = ::1 ] && fam=AF_INET6
  code="import socket,sys
s=socket.socket(socket.$fam)
try:
  s.connect(('$host',28080)); print('connected')
except PermissionError: print('EPERM'); sys.exit(1)"
  echo "$host app-user $(setpriv --reuid=65534 --regid=65534 --clear-groups {py} -c "$code")"
  echo "$host app-root $({py} -c "$code")"
  echo "$host bash-user $(setpriv --reuid=65534 --regid=65534 --clear-groups /bin/bash -c "exec 3<>/dev/tcp/$host/28080 && echo connected" 2>&1 | grep -o 'connected\|Operation not permitted' | head -1)"
done
kill $srv
"#,
        py = py.display(),
        ready = dir.path().join("ready").display()
    );
    let r = record(
        &["--policy", p.to_str().expect("utf8")],
        &["/bin/bash", "-c", &script],
        None,
    );
    let out = stdout(&r);
    assert_eq!(
        out,
        "127.0.0.1 app-user connected\n127.0.0.1 app-root EPERM\n127.0.0.1 bash-user Operation not permitted\n\
         ::1 app-user connected\n::1 app-root EPERM\n::1 bash-user Operation not permitted\n",
        "{}",
        r.stderr()
    );
    let e = enforcements(&r);
    let denies: Vec<String> = e
        .iter()
        .filter(|(_, x)| x.action == ACTION_DENY)
        .map(|(_, x)| x.address().expect("address").to_string())
        .collect();
    assert_eq!(
        denies,
        vec![
            "127.0.0.1:28080",
            "127.0.0.1:28080",
            "[::1]:28080",
            "[::1]:28080"
        ],
        "{}",
        r.dump()
    );
    assert!(e.iter().all(|(_, x)| x.flags == 0 && x.trigger == 0x0301));
    let audits = e.iter().filter(|(_, x)| x.action == ACTION_AUDIT).count();
    assert_eq!(
        audits,
        2,
        "the two allowed connects are audited\n{}",
        r.dump()
    );
}

/// The recorder is never acted on: a rule that would kill it (its own binary opening
/// files in the trace's directory) only records that it is exempt.
#[test]
fn the_recorder_itself_is_exempt() {
    if !root_or_skip("the_recorder_itself_is_exempt") {
        return;
    }
    let _one = serial();
    let dir = tempfile::tempdir().expect("tmp");
    let out = dir.path().join("trace");
    std::fs::create_dir(&out).expect("mkdir");
    let p = policy(
        dir.path(),
        "p.yaml",
        &format!(
            "version: 1
name: kill-the-recorder
rules:
  - id: recorder-opens
    on: [open]
    action: kill
    match:
      path: {{ prefix: [{}/] }}
      binary: {{ exact: [{}] }}
",
            out.display(),
            std::fs::canonicalize(env!("CARGO_BIN_EXE_recorder"))
                .expect("recorder")
                .display()
        ),
    );
    let trace = out.join("t.zst");
    let o = Command::new(env!("CARGO_BIN_EXE_recorder"))
        .args(["record", "-q", "--rotate-size", "4K", "-o"])
        .arg(&trace)
        .arg("--policy")
        .arg(&p)
        .args([
            "--",
            "/bin/bash",
            "-c",
            "for i in $(seq 200); do ls / > /dev/null; done",
        ])
        .output()
        .expect("run");
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let events = read(&trace).expect("read");
    let e: Vec<&Enforce> = events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Enforce(x) => Some(x),
            _ => None,
        })
        .collect();
    assert!(!e.is_empty(), "rotation opened new segments under the rule");
    assert!(e.iter().all(|x| x.flags & ENFORCE_EXEMPT != 0), "{e:?}");
}

/// Policies the kernel cannot enforce are refused whole, with the reason and what would
/// work; invalid policies with their line; nothing is recorded.
#[test]
fn unenforceable_and_invalid_policies_are_refused() {
    if !root_or_skip("unenforceable_and_invalid_policies_are_refused") {
        return;
    }
    let _one = serial();
    let dir = tempfile::tempdir().expect("tmp");
    let deny = policy(
        dir.path(),
        "deny.yaml",
        &SHADOW.replace("action: kill", "action: deny"),
    );
    let check = |p: &Path| {
        Command::new(env!("CARGO_BIN_EXE_recorder"))
            .args(["policy", "check"])
            .arg(p)
            .output()
            .expect("run")
    };
    let o = check(&deny);
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("REFUSED rule shadow-readers (line 4)")
            && err.contains("BPF LSM")
            && err.contains("use action: kill"),
        "{err}"
    );
    let ok = policy(dir.path(), "ok.yaml", SHADOW);
    let o = check(&ok);
    assert_eq!(o.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&o.stdout).contains("sys_exit_open"));
    let bad = policy(
        dir.path(),
        "bad.yaml",
        &SHADOW.replace("action: kill", "action: kill\n    frobnicate: 1"),
    );
    let o = check(&bad);
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("bad.yaml:7:5: rules[0]: unknown field `frobnicate`"),
        "{err}"
    );
    // record refuses too, and writes nothing
    let trace = dir.path().join("t.zst");
    let o = Command::new(env!("CARGO_BIN_EXE_recorder"))
        .args(["record", "-q", "-o"])
        .arg(&trace)
        .arg("--policy")
        .arg(&deny)
        .args(["--", "/bin/true"])
        .output()
        .expect("run");
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("refused, nothing is loaded"));
    assert!(!trace.exists());
}

/// Names of the BPF programs loaded in the kernel now.
fn loaded_programs() -> Vec<String> {
    libbpf_rs::query::ProgInfoIter::default()
        .map(|p| p.name.to_string_lossy().into_owned())
        .collect()
}

/// After the recorder is killed with SIGKILL, no enforcement program (and so no cgroup
/// attachment or map of it) stays in the kernel.
#[test]
fn nothing_of_the_policy_remains_after_sigkill() {
    if !root_or_skip("nothing_of_the_policy_remains_after_sigkill") {
        return;
    }
    let _one = serial();
    let dir = tempfile::tempdir().expect("tmp");
    let p = policy(dir.path(), "p.yaml", SHADOW);
    let ours = |v: &[String]| v.iter().filter(|n| n.starts_with("enforce_")).count();
    let before = ours(&loaded_programs());
    let mut child = Command::new(env!("CARGO_BIN_EXE_recorder"))
        .args(["record", "-q", "-o"])
        .arg(dir.path().join("t.zst"))
        .arg("--policy")
        .arg(&p)
        .args(["--", "/bin/sleep", "30"])
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn");
    let mut during = 0;
    for _ in 0..200 {
        during = ours(&loaded_programs());
        if during > before {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(during > before, "the policy never loaded");
    child.kill().expect("SIGKILL");
    child.wait().expect("wait");
    let mut after = during;
    for _ in 0..100 {
        after = ours(&loaded_programs());
        if after == before {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_eq!(after, before, "enforcement programs left in the kernel");
    let _ = Command::new("pkill").args(["-f", "/bin/sleep 30"]).status();
}

/// The differential test of the two evaluators: a recording made under a policy, then the
/// analyzer's evaluation of the same policy over that trace. Every action the kernel took
/// (rule, process, what was attempted) is one the analyzer finds, and nothing more: kill
/// on open, kill on exec, deny on connect, audit, and an `unless` that spares one process.
#[test]
fn analyzer_policy_test_agrees_with_the_kernel() {
    if !root_or_skip("analyzer_policy_test_agrees_with_the_kernel") {
        return;
    }
    let _one = serial();
    let dir = tempfile::tempdir().expect("tmp");
    let text = "version: 1
name: differential
rules:
  - id: shadow-readers
    on: [open]
    action: kill
    match:
      path: { exact: [/etc/shadow] }
      binary: { suffix: [/cat] }
  - id: no-id
    on: [exec]
    action: kill
    match:
      binary: { exact: [/usr/bin/id] }
  - id: no-28081
    on: [connect]
    action: deny
    match:
      dest: { cidr: [127.0.0.1/32], ports: [28081] }
    unless:
      uid: [65534]
  - id: hostname-readers
    on: [open]
    action: audit
    match:
      path: { exact: [/etc/hostname] }
";
    let p = policy(dir.path(), "p.yaml", text);
    let script = "cat /etc/shadow > /dev/null; /usr/bin/id > /dev/null; head -c1 /etc/hostname > /dev/null; \
         exec 3<>/dev/tcp/127.0.0.1/28081 || true; \
         setpriv --reuid=65534 --regid=65534 --clear-groups /bin/bash -c 'exec 3<>/dev/tcp/127.0.0.1/28081' 2>/dev/null || true; echo done";
    let r = record(
        &["--policy", p.to_str().expect("utf8")],
        &["/bin/bash", "-c", script],
        None,
    );
    assert_eq!(r.code(), Some(0), "{}", r.stderr());
    assert_eq!(stdout(&r), "done\n", "{}", r.stderr());
    let kinds: Vec<(u32, u16)> = enforcements(&r)
        .iter()
        .map(|(_, x)| (x.rule, x.action))
        .collect();
    for want in [
        (0, ACTION_KILL),
        (1, ACTION_KILL),
        (2, ACTION_DENY),
        (3, ACTION_AUDIT),
    ] {
        assert!(kinds.contains(&want), "{want:?} in {kinds:?}\n{}", r.dump());
    }
    // the unprivileged connect was spared by `unless`: exactly one deny
    assert_eq!(kinds.iter().filter(|k| k.1 == ACTION_DENY).count(), 1);

    let pol = rewind_schema::policy::Policy::load(&p).expect("policy");
    let set = rewind_schema::trace::TraceSet::open(&[&r.trace]).expect("trace");
    let (report, _) = rewind_analyzer::policy::evaluate(&pol, &set, false).expect("policy test");
    let a = report.agreement.expect("compared with the trace's records");
    assert!(a.same_policy);
    assert!(
        a.only_recorded.is_empty() && a.only_evaluated.is_empty(),
        "kernel and analyzer disagree: only in the trace {:?}, only in the evaluation {:?}",
        a.only_recorded,
        a.only_evaluated
    );
    assert_eq!(a.matched, kinds.len(), "{a:?}");
}

/// The kill-rate guard: a rule that kills more than `kill_rate_limit` times in a second is
/// switched to monitor, the record that tripped it says so, the recorder says so, and
/// later matches are recorded but not carried out.
#[test]
fn a_rule_over_its_kill_rate_turns_to_monitor() {
    if !root_or_skip("a_rule_over_its_kill_rate_turns_to_monitor") {
        return;
    }
    let _one = serial();
    let dir = tempfile::tempdir().expect("tmp");
    let p = policy(
        dir.path(),
        "p.yaml",
        "version: 1
name: rate
kill_rate_limit: 3
rules:
  - id: no-true
    on: [exec]
    action: kill
    match:
      binary: { exact: [/usr/bin/true] }
",
    );
    let r = record(
        &["--policy", p.to_str().expect("utf8")],
        &[
            "/bin/bash",
            "-c",
            "for i in 1 2 3 4 5 6; do /usr/bin/true; printf '%s ' $?; done; echo",
        ],
        None,
    );
    assert_eq!(r.code(), Some(0), "{}", r.stderr());
    assert_eq!(stdout(&r), "137 137 137 0 0 0 \n", "{}", r.stderr());
    assert!(
        r.stderr()
            .contains("rule no-true acted more than 3 times in a second: switched to monitor"),
        "{}",
        r.stderr()
    );
    let flags: Vec<u16> = enforcements(&r).iter().map(|(_, x)| x.flags).collect();
    use rewind_schema::wire::enforce::{ENFORCE_RATE_LIMITED as L, ENFORCE_RATE_TRIPPED as T};
    assert_eq!(flags, vec![0, 0, 0, L | T, L, L], "{}", r.dump());
}
