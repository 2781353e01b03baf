//! Events in words: one short line per event, for `dump` and (later) `timeline`.
//! Every string from the trace goes through `ByteString::display`, which escapes control
//! characters, so a hostile argv cannot forge lines or terminal escapes.

use rewind_schema::meta::ClockAnchor;
use rewind_schema::wire::{self, ByteString, Sock};
use rewind_schema::{Event, EventKind};

fn ret(r: i32) -> String {
    if r < 0 {
        format!(" -> {}", errno_name(-r))
    } else {
        String::new()
    }
}

/// `EACCES`-style name of an errno, or the number.
pub fn errno_name(e: i32) -> String {
    let name = match e {
        1 => "EPERM",
        2 => "ENOENT",
        3 => "ESRCH",
        4 => "EINTR",
        9 => "EBADF",
        11 => "EAGAIN",
        12 => "ENOMEM",
        13 => "EACCES",
        16 => "EBUSY",
        17 => "EEXIST",
        20 => "ENOTDIR",
        21 => "EISDIR",
        22 => "EINVAL",
        28 => "ENOSPC",
        30 => "EROFS",
        95 => "EOPNOTSUPP",
        98 => "EADDRINUSE",
        99 => "EADDRNOTAVAIL",
        101 => "ENETUNREACH",
        110 => "ETIMEDOUT",
        111 => "ECONNREFUSED",
        113 => "EHOSTUNREACH",
        115 => "EINPROGRESS",
        _ => return format!("errno {e}"),
    };
    name.to_string()
}

fn sock(s: &Sock) -> String {
    match (s.local(), s.remote()) {
        (Some(l), Some(r)) => format!("{} {l} -> {r}", s.proto()),
        _ => format!("{} port {} -> {}", s.proto(), s.lport, s.rport),
    }
}

fn path(p: &ByteString) -> String {
    p.display()
}

fn open_mode(flags: u32) -> String {
    let acc = match flags & 3 {
        0 => "read",
        1 => "write",
        _ => "read-write",
    };
    let mut s = acc.to_string();
    if flags & 0o100 != 0 {
        s.push_str(",create");
    }
    if flags & 0o1000 != 0 {
        s.push_str(",truncate");
    }
    if flags & 0o2000 != 0 {
        s.push_str(",append");
    }
    s
}

/// One line describing what happened (without time and process).
pub fn describe(ev: &Event, clock: &ClockAnchor) -> String {
    use EventKind as K;
    match &ev.kind {
        K::Exec(x) => {
            let mut s = format!("exec {} [{}]", path(&x.filename), x.argv.joined());
            if x.argv_truncated() {
                s.push_str(&format!(" (argv cut, {} args)", x.argc));
            }
            s.push_str(&format!(" ppid {} uid {} euid {}", x.ppid, x.uid, x.euid));
            if x.setid_binary() {
                s.push_str(" setid-binary");
            }
            if x.flags & wire::exec::EXEC_FROM_MEMFD != 0 {
                s.push_str(" from-memfd");
            }
            if !x.cwd.is_empty() {
                s.push_str(&format!(" cwd {}", path(&x.cwd)));
            }
            if let Some(c) = rewind_schema::container::from_cgroup(&x.cgroup.display()) {
                s.push_str(&format!(" container {}:{}", c.runtime, c.short_id()));
            }
            s
        }
        K::Fork(x) if x.child_pid == ev.pid => format!("new thread {}", x.child_tid),
        K::Fork(x) => format!("fork child {}", x.child_pid),
        K::Exit(x) => match (x.code(), x.signal()) {
            (Some(c), _) => format!("exit code {c}"),
            (_, Some(sig)) => format!(
                "killed by signal {sig}{}",
                if x.core_dumped() {
                    " (core dumped)"
                } else {
                    ""
                }
            ),
            _ => format!("exit status {:#x}", x.status),
        },
        K::Open(x) => format!(
            "open {} {}{}",
            path(&x.path),
            open_mode(x.open_flags),
            ret(x.ret)
        ),
        K::Unlink(x) => format!("unlink {}{}", path(&x.path), ret(x.ret)),
        K::Rename(x) => format!("rename {} -> {}{}", path(&x.old), path(&x.new), ret(x.ret)),
        K::Chmod(x) => format!(
            "chmod {} {:o}{}{}",
            path(&x.path),
            x.mode,
            if x.sets_setid() {
                " (sets setuid/setgid)"
            } else {
                ""
            },
            ret(x.ret)
        ),
        K::Chown(x) => format!(
            "chown {} {}:{}{}",
            path(&x.path),
            x.uid as i32,
            x.gid as i32,
            ret(x.ret)
        ),
        K::Connect(x) if !x.path.is_empty() => {
            format!("connect unix {}{}", path(&x.path), ret(x.ret))
        }
        K::Connect(x) => format!("connect {}{}", sock(&x.sock), ret(x.ret)),
        K::Accept(x) => format!("accept {}{}", sock(&x.sock), ret(x.ret)),
        K::Listen(x) => format!("listen {}{}", sock(&x.sock), ret(x.ret)),
        K::Bind(x) if !x.path.is_empty() => format!("bind unix {}{}", path(&x.path), ret(x.ret)),
        K::Bind(x) => format!("bind {}{}", sock(&x.sock), ret(x.ret)),
        K::ConnResult(x) => format!(
            "conn_result {} {}{}{}",
            sock(&x.sock),
            if x.established() {
                "established"
            } else {
                "closed"
            },
            if x.err != 0 {
                format!(" {}", errno_name(x.err))
            } else {
                String::new()
            },
            if x.duration_ns > 0 {
                format!(" after {}", crate::timefmt::duration(x.duration_ns))
            } else {
                String::new()
            }
        ),
        K::SockClose(x) => format!(
            "close {} sent {} B received {} B{}",
            sock(&x.sock),
            x.bytes_sent,
            x.bytes_received,
            if x.duration_ns > 0 {
                format!(" after {}", crate::timefmt::duration(x.duration_ns))
            } else {
                String::new()
            }
        ),
        K::UdpSend(x) => format!("udp send {} B {}{}", x.len, sock(&x.sock), ret(x.ret)),
        K::UdpRecv(x) => format!("udp recv {} B {}{}", x.len, sock(&x.sock), ret(x.ret)),
        K::Snippet(x) | K::Dns(x) => format!(
            "{} {} {} of {} B on {}: {}",
            if matches!(ev.kind, K::Dns(_)) {
                "dns"
            } else {
                "payload"
            },
            if x.inbound() { "in" } else { "out" },
            x.data.0.len(),
            x.total_len,
            sock(&x.sock),
            snippet_preview(&x.data.0)
        ),
        K::Cred(x) => format!(
            "credentials uid {}->{} euid {}->{} gid {}->{} egid {}->{} (syscall {}){}",
            x.old.uid,
            x.new.uid,
            x.old.euid,
            x.new.euid,
            x.old.gid,
            x.new.gid,
            x.old.egid,
            x.new.egid,
            x.syscall,
            ret(x.ret)
        ),
        K::Capset(x) => format!(
            "capset effective {:#x}->{:#x} permitted {:#x}->{:#x}{}",
            x.old_eff,
            x.new_eff,
            x.old_prm,
            x.new_prm,
            ret(x.ret)
        ),
        K::Namespace(x) => {
            let op = match x.op {
                wire::kernel::NS_UNSHARE => "unshare",
                wire::kernel::NS_SETNS => "setns",
                wire::kernel::NS_CLONE => "clone into new",
                _ => "namespace op",
            };
            format!("{op} namespaces flags {:#x}{}", x.flags, ret(x.ret))
        }
        K::Mount(x) => format!(
            "mount {} on {} type {}{}",
            path(&x.source),
            path(&x.target),
            path(&x.fstype),
            ret(x.ret)
        ),
        K::Umount(x) => format!("umount {}{}", path(&x.target), ret(x.ret)),
        K::Ptrace(x) => format!(
            "ptrace request {} target {}{}",
            x.request,
            x.target,
            ret(x.ret)
        ),
        K::ModuleLoad(x) => format!("load kernel module {}{}", path(&x.name), ret(x.ret)),
        K::BpfLoad(x) => format!(
            "bpf cmd {} prog type {} {} ({} insns){}",
            x.cmd,
            x.prog_type,
            x.prog_name.display(),
            x.insn_cnt,
            ret(x.ret)
        ),
        K::Memfd(x) => format!("memfd_create {}{}", path(&x.name), ret(x.ret)),
        K::Signal(x) => format!("send signal {} to {}{}", x.sig, x.target, ret(x.ret)),
        K::MmapExec(x) => format!("map executable {}", path(&x.path)),
        K::Enforce(x) => format!(
            "{} ({}{}) by rule {}: {} {}",
            if x.action == rewind_schema::wire::enforce::ACTION_AUDIT {
                "AUDIT"
            } else if x.not_carried_out() {
                "WOULD BLOCK"
            } else {
                "BLOCKED"
            },
            x.action_name(),
            enforce_flags(x.flags),
            x.rule,
            rewind_schema::RecordType::from_u16(x.trigger)
                .map(|t| t.name())
                .unwrap_or("event"),
            x.detail_text()
        ),
        K::ProcessSnapshot(p) => format!(
            "running at start: {} [{}] ppid {} uid {} ({})",
            path(&p.exe),
            p.argv
                .iter()
                .map(|a| a.display())
                .collect::<Vec<_>>()
                .join(" "),
            p.ppid,
            p.uid,
            match p.source {
                rewind_schema::snapshot::SnapshotSource::Procfs => "from /proc",
                rewind_schema::snapshot::SnapshotSource::Tracked => "tracked",
            }
        ),
        K::Loss(x) => format!(
            "LOST {} records on cpu {} between {} and {}",
            x.count,
            x.loss_cpu,
            crate::timefmt::wall(clock.wall(x.window_start)),
            crate::timefmt::wall(clock.wall(x.window_end))
        ),
    }
}

/// Printable preview of payload bytes: text kept, the rest as `.`.
fn snippet_preview(b: &[u8]) -> String {
    b.iter()
        .take(64)
        .map(|&c| {
            if (0x20..0x7f).contains(&c) {
                c as char
            } else {
                '.'
            }
        })
        .collect()
}

/// `rw_enforce.flags` in words: ", monitor, exempt".
fn enforce_flags(flags: u16) -> String {
    use rewind_schema::wire::enforce as e;
    let mut s = String::new();
    for (bit, name) in [
        (e::ENFORCE_MONITOR, "monitor"),
        (e::ENFORCE_EXEMPT, "exempt"),
        (e::ENFORCE_RATE_LIMITED, "rate limited"),
    ] {
        if flags & bit != 0 {
            s.push_str(", ");
            s.push_str(name);
        }
    }
    let unknown = flags & !(e::ENFORCE_MONITOR | e::ENFORCE_EXEMPT | e::ENFORCE_RATE_LIMITED);
    if unknown != 0 {
        s.push_str(&format!(", flags {unknown:#x}"));
    }
    s
}
