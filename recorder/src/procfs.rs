//! What the recorder reads from the running system: host identity, the clock anchor, and
//! the snapshot of every live process from /proc.

use nix::time::{clock_gettime, ClockId};
use rewind_schema::meta::{ClockAnchor, HostInfo};
use rewind_schema::snapshot::{ProcessSnapshot, SnapshotSource};
use rewind_schema::wire::{ByteString, Namespaces};
use std::os::unix::ffi::OsStrExt;

fn read_trim(path: &str) -> String {
    std::fs::read_to_string(path)
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

/// hostname, machine id, kernel release, boot id, architecture.
pub fn host() -> HostInfo {
    HostInfo {
        hostname: read_trim("/proc/sys/kernel/hostname"),
        machine_id: read_trim("/etc/machine-id"),
        kernel_release: read_trim("/proc/sys/kernel/osrelease"),
        boot_id: read_trim("/proc/sys/kernel/random/boot_id"),
        arch: std::env::consts::ARCH.to_string(),
        init_ns: process(1).map(|p| p.ns),
    }
}

fn ns_of(c: ClockId) -> u64 {
    clock_gettime(c)
        .map(|t| t.tv_sec() as u64 * 1_000_000_000 + t.tv_nsec() as u64)
        .unwrap_or(0)
}

/// CLOCK_BOOTTIME now, the clock of record timestamps.
pub fn boot_ns() -> u64 {
    ns_of(ClockId::CLOCK_BOOTTIME)
}

/// Both clocks read as close together as possible (the boot reading is bracketed by two
/// wall readings and paired with their midpoint).
pub fn clock_anchor() -> ClockAnchor {
    let w1 = ns_of(ClockId::CLOCK_REALTIME);
    let b = ns_of(ClockId::CLOCK_BOOTTIME);
    let w2 = ns_of(ClockId::CLOCK_REALTIME);
    ClockAnchor {
        boot_ns: b,
        wall_ns: w1 / 2 + w2 / 2,
    }
}

/// A fresh random recording id (32 hex digits).
pub fn trace_id() -> String {
    read_trim("/proc/sys/kernel/random/uuid").replace('-', "")
}

fn clk_tck() -> u64 {
    nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .map(|v| v as u64)
        .unwrap_or(100)
}

fn ns_inode(pid: u32, name: &str) -> u32 {
    std::fs::read_link(format!("/proc/{pid}/ns/{name}"))
        .ok()
        .and_then(|l| {
            let s = l.to_string_lossy().into_owned();
            let a = s.find('[')? + 1;
            let b = s.find(']')?;
            s[a..b].parse().ok()
        })
        .unwrap_or(0)
}

fn link_bytes(p: &str) -> ByteString {
    std::fs::read_link(p)
        .map(|l| ByteString(l.as_os_str().as_bytes().to_vec()))
        .unwrap_or_default()
}

/// Where cgroup v2 is mounted: /sys/fs/cgroup, or /sys/fs/cgroup/unified on hybrid
/// systems. A cgroup's id is the inode number of its directory there.
pub fn cgroup2_root() -> std::path::PathBuf {
    let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap_or_default();
    mounts
        .lines()
        .find_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.get(2) == Some(&"cgroup2"))
                .then(|| std::path::PathBuf::from(f.get(1).copied().unwrap_or("")))
        })
        .unwrap_or_else(|| "/sys/fs/cgroup".into())
}

/// One process from /proc, `None` when it vanished meanwhile.
pub fn process(pid: u32) -> Option<ProcessSnapshot> {
    let stat = std::fs::read(format!("/proc/{pid}/stat")).ok()?;
    // comm may contain spaces and parentheses: fields start after the last ')'.
    let close = stat.iter().rposition(|&c| c == b')')?;
    let open = stat.iter().position(|&c| c == b'(')?;
    let comm = ByteString(stat[open + 1..close].to_vec());
    let rest = String::from_utf8_lossy(&stat[close + 2..]).into_owned();
    let f: Vec<&str> = rest.split_whitespace().collect();
    // f[0] is field 3 (state); ppid is field 4, tty_nr 7, starttime 22.
    let num = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    let ppid = num(1) as u32;
    let tty = num(4) as u32;
    let start = num(19) * (1_000_000_000 / clk_tck());
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let ids = |key: &str| -> Vec<u32> {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .map(|v| {
                v.split_whitespace()
                    .filter_map(|x| x.parse().ok())
                    .collect()
            })
            .unwrap_or_default()
    };
    let hex = |key: &str| -> u64 {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
            .unwrap_or(0)
    };
    let uids = ids("Uid:");
    let gids = ids("Gid:");
    let argv = std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|b| {
            let b = b.strip_suffix(&[0]).unwrap_or(&b).to_vec();
            if b.is_empty() {
                Vec::new()
            } else {
                b.split(|&c| c == 0)
                    .map(|a| ByteString(a.to_vec()))
                    .collect()
            }
        })
        .unwrap_or_default();
    let cgroup = std::fs::read_to_string(format!("/proc/{pid}/cgroup"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("0::").map(str::to_string))
        .unwrap_or_default();
    let cgroup_id = std::fs::metadata(cgroup2_root().join(cgroup.trim_start_matches('/')))
        .map(|m| std::os::unix::fs::MetadataExt::ino(&m))
        .unwrap_or(0);
    let auid = read_trim(&format!("/proc/{pid}/loginuid"))
        .parse()
        .unwrap_or(u32::MAX);
    Some(ProcessSnapshot {
        pid,
        ppid,
        start,
        exec_ts: 0,
        comm,
        exe: link_bytes(&format!("/proc/{pid}/exe")),
        argv,
        cwd: link_bytes(&format!("/proc/{pid}/cwd")),
        uid: uids.first().copied().unwrap_or(0),
        gid: gids.first().copied().unwrap_or(0),
        euid: uids.get(1).copied().unwrap_or(0),
        egid: gids.get(1).copied().unwrap_or(0),
        auid,
        cap_eff: hex("CapEff:"),
        cap_prm: hex("CapPrm:"),
        cgroup: ByteString::from(cgroup),
        cgroup_id,
        ns: Namespaces {
            mnt: ns_inode(pid, "mnt"),
            pid: ns_inode(pid, "pid_for_children"),
            net: ns_inode(pid, "net"),
            uts: ns_inode(pid, "uts"),
            ipc: ns_inode(pid, "ipc"),
            user: ns_inode(pid, "user"),
            cgroup: ns_inode(pid, "cgroup"),
            time: ns_inode(pid, "time"),
        },
        tty,
        source: SnapshotSource::Procfs,
    })
}

/// Every live process (threads excluded), sorted by pid, except `skip`.
pub fn snapshot(skip: u32) -> Vec<ProcessSnapshot> {
    let mut pids: Vec<u32> = std::fs::read_dir("/proc")
        .map(|rd| {
            rd.flatten()
                .filter_map(|e| e.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default();
    pids.sort_unstable();
    pids.into_iter()
        .filter(|&p| p != skip)
        .filter_map(process)
        .collect()
}

/// `pid` and all its descendants alive now (for `--pid`).
pub fn descendants(roots: &[u32], all: &[ProcessSnapshot]) -> Vec<u32> {
    let mut out: Vec<u32> = roots.to_vec();
    let mut i = 0;
    while i < out.len() {
        let p = out[i];
        out.extend(
            all.iter()
                .filter(|s| s.ppid == p && !out.contains(&s.pid))
                .map(|s| s.pid)
                .collect::<Vec<_>>(),
        );
        i += 1;
    }
    out
}

/// The cgroup id (inode of its cgroup2 directory) of `path`: absolute, or relative to the
/// cgroup2 mount.
pub fn cgroup_id(path: &str) -> anyhow::Result<u64> {
    use anyhow::Context;
    let root = cgroup2_root();
    let p = std::path::Path::new(path);
    let full = if p.is_absolute() && p.starts_with(&root) {
        p.to_path_buf()
    } else {
        root.join(path.trim_start_matches('/'))
    };
    let md = std::fs::metadata(&full).with_context(|| {
        format!(
            "cgroup {path}: {} is not a cgroup directory",
            full.display()
        )
    })?;
    if !md.is_dir() {
        anyhow::bail!("cgroup {path}: {} is not a directory", full.display());
    }
    Ok(std::os::unix::fs::MetadataExt::ino(&md))
}

/// Cgroup ids of every cgroup whose name holds a container id starting with `prefix`.
pub fn container_cgroups(prefix: &str) -> anyhow::Result<Vec<(u64, String)>> {
    if prefix.len() < 12 || !prefix.bytes().all(|b| b.is_ascii_hexdigit()) {
        anyhow::bail!("container {prefix:?}: give at least 12 hex digits of the container id");
    }
    let prefix = prefix.to_ascii_lowercase();
    let root = cgroup2_root();
    let mut out = Vec::new();
    let mut stack = vec![(root.clone(), 0usize)];
    while let Some((dir, depth)) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in rd.flatten() {
            let Ok(ft) = e.file_type() else { continue };
            if !ft.is_dir() {
                continue;
            }
            let path = e.path();
            let rel = format!(
                "/{}",
                path.strip_prefix(&root)
                    .map(|p| p.display().to_string())
                    .unwrap_or_default()
            );
            if let Some(c) = rewind_schema::container::from_cgroup(&rel) {
                if c.id.starts_with(&prefix) {
                    if let Ok(md) = e.metadata() {
                        out.push((std::os::unix::fs::MetadataExt::ino(&md), rel.clone()));
                    }
                    continue;
                }
            }
            if depth < 8 {
                stack.push((path, depth + 1));
            }
        }
    }
    if out.is_empty() {
        anyhow::bail!(
            "container {prefix}: no cgroup under {} holds that container id",
            root.display()
        );
    }
    Ok(out)
}
