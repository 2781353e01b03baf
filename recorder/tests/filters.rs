//! In-kernel filters: comm and cgroup (container) select which tasks are recorded.

mod common;
use common::*;
use rewind_schema::EventKind;

/// Removes a cgroup directory made by a test, even when the test fails.
struct Rm(std::path::PathBuf);

impl Drop for Rm {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir(&self.0);
    }
}

#[test]
fn comm_filter_records_only_named_tasks() {
    if !root_or_skip("comm_filter_records_only_named_tasks") {
        return;
    }
    let r = record(
        &["--comm", "cat", "--classes", "process,file"],
        &[
            "/bin/sh",
            "-c",
            "cat /etc/hostname >/dev/null; head -c1 /etc/hostname >/dev/null",
        ],
        None,
    );
    assert_eq!(r.code(), Some(0), "{}", r.stderr());
    let opens: Vec<String> = r
        .events
        .iter()
        .filter(|e| matches!(&e.kind, EventKind::Open(o) if o.path.display() == "/etc/hostname"))
        .map(|e| format!("{}", e.pid))
        .collect();
    assert_eq!(opens.len(), 1, "only cat's open\n{}", r.dump());
    assert_eq!(r.execs("/cat").len(), 1);
    assert!(r.execs("/head").is_empty(), "head is filtered out");
    assert!(r.execs("/sh").is_empty(), "sh is filtered out");
}

#[test]
fn cgroup_filter_records_only_tasks_in_it() {
    if !root_or_skip("cgroup_filter_records_only_tasks_in_it") {
        return;
    }
    let root = rewind_recorder::procfs::cgroup2_root();
    let name = format!("rewind-filter-test-{}", std::process::id());
    let cg = root.join(&name);
    std::fs::create_dir(&cg).expect("create a cgroup");
    let _rm = Rm(cg.clone());
    let script = format!(
        "cat /etc/hostname >/dev/null; sh -c 'echo $$ > {}/cgroup.procs; cat /etc/passwd >/dev/null'",
        cg.display()
    );
    let r = record(
        &["--cgroup", &name, "--classes", "process,file"],
        &["/bin/sh", "-c", &script],
        None,
    );
    assert_eq!(r.code(), Some(0), "{}", r.stderr());
    let paths: Vec<String> = r
        .events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Open(o)
                if o.path.display().starts_with("/etc/") && !o.path.display().contains("ld.so") =>
            {
                Some(o.path.display())
            }
            _ => None,
        })
        .collect();
    assert!(
        paths.contains(&"/etc/passwd".to_string()),
        "{paths:?}\n{}",
        r.dump()
    );
    assert!(
        !paths.contains(&"/etc/hostname".to_string()),
        "the first cat runs outside the cgroup: {paths:?}"
    );
    let in_cg = r.execs("/cat");
    assert_eq!(in_cg.len(), 1);
    assert!(
        in_cg[0].1.cgroup.display().ends_with(&name),
        "{:?}",
        in_cg[0].1.cgroup
    );
    let bad = std::process::Command::new(env!("CARGO_BIN_EXE_recorder"))
        .args([
            "record",
            "-q",
            "--cgroup",
            "no-such-cgroup-here",
            "-o",
            "/tmp/never.zst",
            "--",
            "true",
        ])
        .output()
        .expect("run");
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("no-such-cgroup-here"));
}

#[test]
fn container_filter_finds_the_container_cgroup() {
    if !root_or_skip("container_filter_finds_the_container_cgroup") {
        return;
    }
    let root = rewind_recorder::procfs::cgroup2_root();
    let id = format!("{:064x}", 0x5e5e_0000_u64 + std::process::id() as u64);
    let cg = root.join(format!("docker-{id}.scope"));
    std::fs::create_dir(&cg).expect("create a container-like cgroup");
    let _rm = Rm(cg.clone());
    let script = format!("sh -c 'echo $$ > {}/cgroup.procs; exec /bin/echo inside >/dev/null'; /bin/echo outside >/dev/null", cg.display());
    let r = record(
        &["--container", &id[..16], "--classes", "process"],
        &["/bin/sh", "-c", &script],
        None,
    );
    assert_eq!(r.code(), Some(0), "{}", r.stderr());
    assert!(
        r.stderr().contains(&format!("docker-{id}.scope")),
        "{}",
        r.stderr()
    );
    let echoes: Vec<String> = r
        .execs("/echo")
        .iter()
        .map(|(_, x)| x.argv.joined())
        .collect();
    assert_eq!(echoes, vec!["/bin/echo inside".to_string()], "{}", r.dump());
    let c = rewind_schema::container::from_cgroup(&r.execs("/echo")[0].1.cgroup.display())
        .expect("container");
    assert_eq!((c.runtime.as_str(), c.id.as_str()), ("docker", id.as_str()));
    let bad = std::process::Command::new(env!("CARGO_BIN_EXE_recorder"))
        .args([
            "record",
            "-q",
            "--container",
            "abc",
            "-o",
            "/tmp/never.zst",
            "--",
            "true",
        ])
        .output()
        .expect("run");
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("12 hex digits"));
}
