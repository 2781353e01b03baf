//! Names for kernel numbers: signals, capabilities, namespaces, ptrace requests, set*id
//! syscalls and bpf program types, so outputs say `SIGKILL`, not `9`.

/// `SIGKILL`-style name, or `signal N`.
pub fn signal(sig: u32) -> String {
    const NAMES: [&str; 32] = [
        "0",
        "SIGHUP",
        "SIGINT",
        "SIGQUIT",
        "SIGILL",
        "SIGTRAP",
        "SIGABRT",
        "SIGBUS",
        "SIGFPE",
        "SIGKILL",
        "SIGUSR1",
        "SIGSEGV",
        "SIGUSR2",
        "SIGPIPE",
        "SIGALRM",
        "SIGTERM",
        "SIGSTKFLT",
        "SIGCHLD",
        "SIGCONT",
        "SIGSTOP",
        "SIGTSTP",
        "SIGTTIN",
        "SIGTTOU",
        "SIGURG",
        "SIGXCPU",
        "SIGXFSZ",
        "SIGVTALRM",
        "SIGPROF",
        "SIGWINCH",
        "SIGIO",
        "SIGPWR",
        "SIGSYS",
    ];
    match NAMES.get(sig as usize) {
        Some(n) if sig > 0 => n.to_string(),
        _ => format!("signal {sig}"),
    }
}

const CAPS: [&str; 41] = [
    "chown",
    "dac_override",
    "dac_read_search",
    "fowner",
    "fsetid",
    "kill",
    "setgid",
    "setuid",
    "setpcap",
    "linux_immutable",
    "net_bind_service",
    "net_broadcast",
    "net_admin",
    "net_raw",
    "ipc_lock",
    "ipc_owner",
    "sys_module",
    "sys_rawio",
    "sys_chroot",
    "sys_ptrace",
    "sys_pacct",
    "sys_admin",
    "sys_boot",
    "sys_nice",
    "sys_resource",
    "sys_time",
    "sys_tty_config",
    "mknod",
    "lease",
    "audit_write",
    "audit_control",
    "setfcap",
    "mac_override",
    "mac_admin",
    "syslog",
    "wake_alarm",
    "block_suspend",
    "audit_read",
    "perfmon",
    "bpf",
    "checkpoint_restore",
];

/// Capability names in a set (`cap_sys_admin,cap_net_raw`); `all` for the full set.
pub fn caps(set: u64) -> String {
    let full = (1u64 << CAPS.len()) - 1;
    if set & full == full {
        return "all".into();
    }
    if set == 0 {
        return "none".into();
    }
    let mut out: Vec<String> = CAPS
        .iter()
        .enumerate()
        .filter(|(i, _)| set & (1 << i) != 0)
        .map(|(_, n)| format!("cap_{n}"))
        .collect();
    let unknown = set & !full;
    if unknown != 0 {
        out.push(format!("{unknown:#x}"));
    }
    out.join(",")
}

/// Namespace names in a CLONE_NEW* flag set.
pub fn ns_flags(flags: u64) -> String {
    const F: [(u64, &str); 8] = [
        (0x0002_0000, "mnt"),
        (0x0200_0000, "cgroup"),
        (0x0400_0000, "uts"),
        (0x0800_0000, "ipc"),
        (0x1000_0000, "user"),
        (0x2000_0000, "pid"),
        (0x4000_0000, "net"),
        (0x0000_0080, "time"),
    ];
    let v: Vec<&str> = F
        .iter()
        .filter(|(b, _)| flags & b != 0)
        .map(|(_, n)| *n)
        .collect();
    if v.is_empty() {
        format!("{flags:#x}")
    } else {
        v.join(",")
    }
}

/// Each namespace's name with its inode in `a` and in `b`, for comparisons.
pub fn ns_pairs(
    a: &rewind_schema::wire::Namespaces,
    b: &rewind_schema::wire::Namespaces,
) -> [(&'static str, u32, u32); 8] {
    [
        ("mnt", a.mnt, b.mnt),
        ("pid", a.pid, b.pid),
        ("net", a.net, b.net),
        ("uts", a.uts, b.uts),
        ("ipc", a.ipc, b.ipc),
        ("user", a.user, b.user),
        ("cgroup", a.cgroup, b.cgroup),
        ("time", a.time, b.time),
    ]
}

/// ptrace request name.
pub fn ptrace_request(r: i64) -> String {
    match r {
        0 => "TRACEME".into(),
        1 | 2 => "PEEKTEXT".into(),
        4 | 5 => "POKETEXT".into(),
        16 => "ATTACH".into(),
        17 => "DETACH".into(),
        0x4206 => "SEIZE".into(),
        n => format!("request {n}"),
    }
}

/// Name of a credential-changing syscall by x86_64 number.
pub fn cred_syscall(nr: u32) -> String {
    match nr {
        105 => "setuid".into(),
        106 => "setgid".into(),
        113 => "setreuid".into(),
        114 => "setregid".into(),
        117 => "setresuid".into(),
        119 => "setresgid".into(),
        122 => "setfsuid".into(),
        123 => "setfsgid".into(),
        59 | 322 => "exec".into(),
        n => format!("syscall {n}"),
    }
}

/// BPF program type name.
pub fn bpf_prog_type(t: u32) -> String {
    const T: [&str; 33] = [
        "unspec",
        "socket_filter",
        "kprobe",
        "sched_cls",
        "sched_act",
        "tracepoint",
        "xdp",
        "perf_event",
        "cgroup_skb",
        "cgroup_sock",
        "lwt_in",
        "lwt_out",
        "lwt_xmit",
        "sock_ops",
        "sk_skb",
        "cgroup_device",
        "sk_msg",
        "raw_tracepoint",
        "cgroup_sock_addr",
        "lwt_seg6local",
        "lirc_mode2",
        "sk_reuseport",
        "flow_dissector",
        "cgroup_sysctl",
        "raw_tracepoint_writable",
        "cgroup_sockopt",
        "tracing",
        "struct_ops",
        "ext",
        "lsm",
        "sk_lookup",
        "syscall",
        "netfilter",
    ];
    T.get(t as usize)
        .map(|s| s.to_string())
        .unwrap_or_else(|| format!("type {t}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(signal(9), "SIGKILL");
        assert_eq!(signal(64), "signal 64");
        assert_eq!(caps(1 << 21 | 1 << 13), "cap_net_raw,cap_sys_admin");
        assert_eq!(caps((1 << 41) - 1), "all");
        assert_eq!(ns_flags(0x4002_0000), "mnt,net");
        assert_eq!(ptrace_request(16), "ATTACH");
    }
}
