//! Loading and attaching the BPF object: configuration before load, the hooks actually
//! attached (and why others are not), the follow map, loss counters and run-time stats.

use crate::probe::{probe_kinds, KindProbe, ProgKind};
use crate::skel::{OpenRewindSkel, RewindSkel, RewindSkelBuilder};
use libbpf_rs::skel::{OpenSkel, Skel, SkelBuilder};
use libbpf_rs::{Link, MapCore, MapFlags, RingBuffer, RingBufferBuilder};
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, AsRawFd};
use std::path::Path;

/// What went wrong while preparing the kernel side.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// Not root (or lacking CAP_BPF/CAP_PERFMON/CAP_SYS_ADMIN).
    #[error("loading eBPF programs needs root (CAP_BPF, CAP_PERFMON and CAP_SYS_ADMIN): {0}")]
    NotPrivileged(String),
    /// The kernel has no BTF, which CO-RE and tp_btf need.
    #[error("the kernel has no BTF (/sys/kernel/btf/vmlinux is missing): Rewind needs CONFIG_DEBUG_INFO_BTF=y")]
    NoBtf,
    /// A filesystem could not be mounted.
    #[error("mounting {what} on {path} failed: {reason}")]
    Mount {
        /// tracefs or bpffs.
        what: &'static str,
        /// Mount point.
        path: &'static str,
        /// The OS error.
        reason: String,
    },
    /// The configuration cannot be expressed to the kernel programs.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// libbpf refused something.
    #[error("{what}: {source}")]
    Libbpf {
        /// What was being done.
        what: String,
        /// libbpf's error.
        #[source]
        source: libbpf_rs::Error,
    },
}

pub(crate) fn lb(what: impl Into<String>) -> impl FnOnce(libbpf_rs::Error) -> LoadError {
    let what = what.into();
    move |source| LoadError::Libbpf { what, source }
}

/// Record classes, as in `common.bpf.h`.
pub mod class {
    /// exec, fork, exit.
    pub const PROCESS: u32 = 1 << 0;
    /// open, unlink, rename, chmod, chown.
    pub const FILE: u32 = 1 << 1;
    /// connect, accept, listen, close, UDP, snippets, DNS.
    pub const NET: u32 = 1 << 2;
    /// credential and capability changes.
    pub const PRIV: u32 = 1 << 3;
    /// namespaces, mounts, ptrace, modules, bpf, memfd, signals, mappings.
    pub const KERNEL: u32 = 1 << 4;
    /// Everything.
    pub const ALL: u32 = 0x1f;
}

/// Configuration written into the programs' read-only globals before load.
#[derive(Debug, Clone)]
pub struct Config {
    /// The recorder's own tgid: never recorded.
    pub recorder_tgid: u32,
    /// Record only followed process trees (command mode).
    pub follow: bool,
    /// argv bytes kept per exec (at most 16384).
    pub argv_limit: u32,
    /// Payload snippet bytes.
    pub snippet_len: u32,
    /// Classes recorded (see [`class`]).
    pub classes: u32,
    /// Ring buffer size in bytes (a power of two, at least one page).
    pub ringbuf_bytes: u32,
    /// The consumer drains on a timer, so records do not wake it up.
    pub timer_drain: bool,
    /// File-family records are emitted only for paths starting with one of these
    /// (byte prefix of the resolved absolute path; a `*` component matches one path
    /// component, e.g. `/home/*/.ssh`). Empty: every path. At most
    /// [`MAX_PATH_PREFIXES`] entries of at most [`PATH_PREFIX_LEN`] bytes.
    pub path_prefixes: Vec<String>,
    /// Record only tasks with one of these names (empty = any).
    pub comms: Vec<String>,
    /// Record only tasks in one of these cgroups (v2 ids) or below them (empty = any).
    pub cgroup_ids: Vec<u64>,
}

/// Most path prefixes the kernel filter holds (`PREFIX_MAX` in `file.bpf.c`).
pub const MAX_PATH_PREFIXES: usize = 32;
/// Longest path prefix in bytes (`PREFIX_LEN` in `file.bpf.c`).
pub const PATH_PREFIX_LEN: usize = 128;

/// Checks path prefixes against the kernel filter's limits.
pub fn check_path_prefixes(prefixes: &[String]) -> Result<(), LoadError> {
    if prefixes.len() > MAX_PATH_PREFIXES {
        return Err(LoadError::Config(format!(
            "{} path prefixes given, at most {MAX_PATH_PREFIXES} are supported",
            prefixes.len()
        )));
    }
    for p in prefixes {
        if p.is_empty() || p.len() > PATH_PREFIX_LEN {
            return Err(LoadError::Config(format!(
                "path prefix {p:?}: must be 1 to {PATH_PREFIX_LEN} bytes long"
            )));
        }
    }
    Ok(())
}

impl Default for Config {
    fn default() -> Self {
        Config {
            recorder_tgid: std::process::id(),
            follow: false,
            argv_limit: 4096,
            snippet_len: 256,
            classes: class::ALL,
            ringbuf_bytes: 16 << 20,
            timer_drain: false,
            path_prefixes: Vec::new(),
            comms: Vec::new(),
            cgroup_ids: Vec::new(),
        }
    }
}

/// One capture and the hook serving it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hook {
    /// What it captures (the program's name without `handle_`).
    pub capture: String,
    /// The kernel hook (the program's section), e.g. `tp_btf/sched_process_exec`.
    pub hook: String,
    /// Attached and running.
    pub attached: bool,
    /// Why not, or which better hook this kernel refused.
    pub note: String,
}

/// Run-time statistics of one program (`kernel.bpf_stats_enabled`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProgStats {
    /// Program name.
    pub name: String,
    /// Times it ran.
    pub run_cnt: u64,
    /// Total ns spent in it.
    pub run_time_ns: u64,
}

/// The loaded and attached object.
pub struct Loaded {
    /// Programs not loaded because their tracepoint does not exist here.
    absent: Vec<String>,
    /// (program, its section, the loaded program that serves its tracepoint instead).
    shared: Vec<(String, String, String)>,
    /// Programs on better hooks (fentry, LSM) left out, and why.
    refused: Vec<(String, String)>,
    /// What the kernel allows beyond tracepoints.
    probes: Vec<KindProbe>,
    skel: RewindSkel<'static>,
    links: Vec<Link>,
    hooks: Vec<Hook>,
}

impl Drop for Loaded {
    /// Detaching a tracepoint waits for an RCU grace period; one link after the other that
    /// takes seconds for a hundred hooks. Detached from several threads at once, the waits
    /// overlap.
    fn drop(&mut self) {
        let links = std::mem::take(&mut self.links);
        let per = links.len().div_ceil(16).max(1);
        let mut chunks: Vec<Vec<Link>> = Vec::new();
        let mut it = links.into_iter().peekable();
        while it.peek().is_some() {
            chunks.push(it.by_ref().take(per).collect());
        }
        std::thread::scope(|s| {
            for chunk in chunks {
                s.spawn(move || drop(chunk));
            }
        });
    }
}

/// What serves a better hook's capture when its program is left out.
const FALLBACKS: &[(&str, &str)] = &[(
    "handle_commit_creds",
    "credential changes come from the set*id/capset tracepoints and each exec's credentials",
)];

/// A loaded object and what was left out of it.
struct Opened {
    skel: RewindSkel<'static>,
    absent: Vec<String>,
    shared: Vec<(String, String, String)>,
    refused: Vec<(String, String)>,
}

impl std::fmt::Debug for Loaded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Loaded")
            .field("hooks", &self.hooks)
            .finish_non_exhaustive()
    }
}

/// Groups of sys_exit handlers with identical code (they only pass `ctx->id`/`ctx->ret` on): the
/// verifier would spend up to a second on each copy, so one is loaded and attached to all
/// the group's tracepoints (sys_exit contexts share one layout).
const SHARED_EXITS: &[&[&str]] = &[
    &[
        "handle_exit_open",
        "handle_exit_openat",
        "handle_exit_openat2",
    ],
    &[
        "handle_exit_unlink",
        "handle_exit_unlinkat",
        "handle_exit_rmdir",
    ],
    &[
        "handle_exit_rename",
        "handle_exit_renameat",
        "handle_exit_renameat2",
    ],
    &[
        "handle_exit_chmod",
        "handle_exit_fchmod",
        "handle_exit_fchmodat",
        "handle_exit_fchmodat2",
    ],
    &[
        "handle_exit_chown",
        "handle_exit_lchown",
        "handle_exit_fchown",
        "handle_exit_fchownat",
    ],
    &["handle_exit_accept", "handle_exit_accept4"],
    &[
        "handle_exit_write",
        "handle_exit_sendto",
        "handle_exit_sendmsg",
        "handle_exit_read",
        "handle_exit_recvfrom",
        "handle_exit_recvmsg",
        "handle_exit_writev",
        "handle_exit_readv",
        "handle_exit_sendmmsg",
        "handle_exit_recvmmsg",
    ],
];

/// 64 random bits from the kernel, for the socket cookie key.
fn random_u64() -> u64 {
    use std::io::Read;
    let mut b = [0u8; 8];
    let ok = std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut b))
        .is_ok();
    if !ok {
        // Still hides the address bits well enough to be useless, if not secret.
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        return t.as_nanos() as u64 ^ 0x5bd1_e995_7f4a_7c15;
    }
    u64::from_ne_bytes(b)
}

/// Mounts tracefs and bpffs when they are missing (the recorder needs tracefs to attach
/// tracepoints) and raises RLIMIT_MEMLOCK for kernels that still charge it.
pub fn prepare_system() -> Result<Vec<String>, LoadError> {
    let mut done = Vec::new();
    if !Path::new("/sys/kernel/btf/vmlinux").exists() {
        return Err(LoadError::NoBtf);
    }
    let _ = nix::sys::resource::setrlimit(
        nix::sys::resource::Resource::RLIMIT_MEMLOCK,
        nix::sys::resource::RLIM_INFINITY,
        nix::sys::resource::RLIM_INFINITY,
    );
    let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap_or_default();
    let mounted = |fs: &str| {
        mounts
            .lines()
            .any(|l| l.split_whitespace().nth(2) == Some(fs))
    };
    for (what, path, fstype) in [
        ("tracefs", "/sys/kernel/tracing", "tracefs"),
        ("bpffs", "/sys/fs/bpf", "bpf"),
    ] {
        if mounted(fstype) {
            continue;
        }
        nix::mount::mount(
            Some(fstype),
            path,
            Some(fstype),
            nix::mount::MsFlags::empty(),
            None::<&str>,
        )
        .map_err(|e| LoadError::Mount {
            what,
            path,
            reason: e.to_string(),
        })?;
        done.push(format!("mounted {what} on {path}"));
    }
    Ok(done)
}

/// Fails with a clear message unless running as root.
pub fn check_privileges() -> Result<(), LoadError> {
    if nix::unistd::geteuid().is_root() {
        Ok(())
    } else {
        Err(LoadError::NotPrivileged(format!(
            "running as uid {}; run the recorder as root",
            nix::unistd::geteuid()
        )))
    }
}

impl Loaded {
    /// Opens, configures, loads and attaches every program this kernel supports. The
    /// kinds of better hooks (fentry, LSM) are probed first; programs of a refused kind
    /// are left out, and when the verifier refuses one of the better programs on a kernel
    /// that allows their kind, the object is loaded again without them.
    pub fn load(cfg: &Config) -> Result<Self, LoadError> {
        check_path_prefixes(&cfg.path_prefixes)?;
        check_privileges()?;
        if std::env::var_os("REWIND_BPF_DEBUG").is_some() {
            libbpf_rs::set_print(Some((libbpf_rs::PrintLevel::Debug, |_, msg| {
                eprint!("{msg}")
            })));
        }
        let probes = probe_kinds();
        let refuse = |kind: ProgKind| {
            probes
                .iter()
                .find(|p| p.kind == kind && !p.allowed)
                .map(|p| p.reason.clone())
        };
        let opened = match Self::open_and_load(cfg, &refuse) {
            Ok(x) => x,
            Err(e) if probes.iter().any(|p| p.allowed) => {
                let why = format!(
                    "the verifier refused the better hooks ({e}); tracepoints serve instead"
                );
                Self::open_and_load(cfg, &|_| Some(why.clone()))?
            }
            Err(e) => return Err(e),
        };
        let mut loaded = Loaded {
            absent: opened.absent,
            shared: opened.shared,
            refused: opened.refused,
            probes,
            skel: opened.skel,
            links: Vec::new(),
            hooks: Vec::new(),
        };
        loaded.configure_maps(cfg)?;
        loaded.attach_all()?;
        Ok(loaded)
    }

    /// Opens, configures and loads the object; programs of a kind `refuse` gives a reason
    /// for are not loaded.
    fn open_and_load(
        cfg: &Config,
        refuse: &dyn Fn(ProgKind) -> Option<String>,
    ) -> Result<Opened, LoadError> {
        // The skeleton borrows its object storage for its whole life; the recorder loads
        // once per process, so the storage simply lives until exit.
        let storage: &'static mut MaybeUninit<libbpf_rs::OpenObject> =
            Box::leak(Box::new(MaybeUninit::uninit()));
        let builder = RewindSkelBuilder::default();
        let mut open: OpenRewindSkel<'static> = builder
            .open(storage)
            .map_err(lb("opening the BPF object"))?;
        {
            let ro = open
                .maps
                .rodata_data
                .as_deref_mut()
                .ok_or_else(|| LoadError::Libbpf {
                    what: "configuring the BPF object".into(),
                    source: libbpf_rs::Error::from(std::io::Error::other("no .rodata map")),
                })?;
            ro.recorder_tgid = cfg.recorder_tgid;
            ro.follow_mode = cfg.follow as u8;
            ro.argv_limit = cfg.argv_limit.min(16384);
            ro.snippet_len = cfg.snippet_len;
            ro.class_mask = cfg.classes;
            ro.timer_drain = cfg.timer_drain as u8;
            ro.cookie_key = random_u64();
            ro.path_prefix_cnt = cfg.path_prefixes.len() as u32;
            ro.comm_filter = !cfg.comms.is_empty() as u8;
            ro.cgroup_filter = !cfg.cgroup_ids.is_empty() as u8;
        }
        // Programs on tracepoints this kernel lacks (e.g. no module support) are not
        // loaded at all, and reported as unavailable.
        let mut absent = Vec::new();
        let mut refused = Vec::new();
        for mut p in open.open_object_mut().progs_mut() {
            let section = p.section().to_string_lossy().into_owned();
            if let Some(why) = ProgKind::of_section(&section).and_then(refuse) {
                let name = p.name().to_string_lossy().into_owned();
                p.set_autoload(false);
                let why = match FALLBACKS.iter().find(|(n, _)| *n == name) {
                    Some((_, instead)) => format!("{why}; {instead}"),
                    None => why,
                };
                refused.push((name, why));
                continue;
            }
            let missing = section
                .strip_prefix("tp/")
                .is_some_and(|tp| !Path::new("/sys/kernel/tracing/events").join(tp).exists());
            if missing {
                p.set_autoload(false);
                absent.push(p.name().to_string_lossy().into_owned());
            }
        }
        // Identical sys_exit handlers share one loaded program (the first present of each
        // group), attached to every group member's tracepoint.
        let mut shared: Vec<(String, String, String)> = Vec::new();
        for group in SHARED_EXITS {
            let present: Vec<&str> = group
                .iter()
                .copied()
                .filter(|n| !absent.iter().any(|a| a == n))
                .collect();
            let Some((rep, rest)) = present.split_first() else {
                continue;
            };
            for mut p in open.open_object_mut().progs_mut() {
                let name = p.name().to_string_lossy().into_owned();
                if rest.contains(&name.as_str()) {
                    p.set_autoload(false);
                    shared.push((
                        name,
                        p.section().to_string_lossy().into_owned(),
                        rep.to_string(),
                    ));
                }
            }
        }
        let rb = cfg.ringbuf_bytes.max(4096).next_power_of_two();
        open.maps
            .events
            .set_max_entries(rb)
            .map_err(lb("sizing the ring buffer"))?;
        let skel = open.load().map_err(|e| LoadError::Libbpf {
            what: "loading the BPF programs (the kernel verifier refused one; its log is above, \
                   REWIND_BPF_DEBUG=1 shows everything libbpf does)"
                .into(),
            source: e,
        })?;
        Ok(Opened {
            skel,
            absent,
            shared,
            refused,
        })
    }

    /// Fills the filter maps.
    fn configure_maps(&self, cfg: &Config) -> Result<(), LoadError> {
        let skel = &self.skel;
        for (i, p) in cfg.path_prefixes.iter().enumerate() {
            // struct path_prefix { __u32 len; char s[PATH_PREFIX_LEN]; }
            let mut v = vec![0u8; 4 + PATH_PREFIX_LEN];
            v[..4].copy_from_slice(&(p.len() as u32).to_ne_bytes());
            v[4..4 + p.len()].copy_from_slice(p.as_bytes());
            skel.maps
                .path_prefixes
                .update(&(i as u32).to_ne_bytes(), &v, MapFlags::ANY)
                .map_err(lb(format!("setting path prefix {p:?}")))?;
        }
        for c in &cfg.comms {
            let mut key = [0u8; 16];
            let n = c.len().min(15);
            key[..n].copy_from_slice(&c.as_bytes()[..n]);
            skel.maps
                .comm_allow
                .update(&key, &[1u8], MapFlags::ANY)
                .map_err(lb(format!("setting comm filter {c:?}")))?;
        }
        for id in &cfg.cgroup_ids {
            skel.maps
                .cgroup_allow
                .update(&id.to_ne_bytes(), &[1u8], MapFlags::ANY)
                .map_err(lb(format!("setting cgroup filter {id}")))?;
        }
        Ok(())
    }

    /// Attaches every program of the object; a program's capture name is its C name
    /// without `handle_`, its hook its ELF section. Only exec is mandatory.
    fn attach_all(&mut self) -> Result<(), LoadError> {
        let mut hooks = Vec::new();
        let mut links = Vec::new();
        for prog in self.skel.object().progs_mut() {
            let name = prog.name().to_string_lossy().into_owned();
            let capture = name.strip_prefix("handle_").unwrap_or(&name).to_string();
            let hook = prog.section().to_string_lossy().into_owned();
            if self.shared.iter().any(|(n, _, _)| *n == name) {
                continue;
            }
            if let Some((_, why)) = self.refused.iter().find(|(n, _)| *n == name) {
                hooks.push(Hook {
                    capture,
                    hook,
                    attached: false,
                    note: why.clone(),
                });
                continue;
            }
            if self.absent.contains(&name) {
                let note =
                    "this kernel has no such tracepoint (a feature compiled out, e.g. modules)"
                        .into();
                hooks.push(Hook {
                    capture,
                    hook,
                    attached: false,
                    note,
                });
                continue;
            }
            match prog.attach() {
                Ok(link) => {
                    links.push(link);
                    hooks.push(Hook {
                        capture,
                        hook,
                        attached: true,
                        note: String::new(),
                    });
                }
                Err(e) if capture == "exec" => {
                    return Err(LoadError::Libbpf {
                        what: format!("attaching {hook}"),
                        source: e,
                    });
                }
                Err(e) => {
                    let missing = hook.strip_prefix("tp/").is_some_and(|tp| {
                        !Path::new("/sys/kernel/tracing/events").join(tp).exists()
                    });
                    let note = if missing {
                        "this kernel has no such tracepoint (a feature compiled out, e.g. modules)"
                            .into()
                    } else {
                        e.to_string()
                    };
                    hooks.push(Hook {
                        capture,
                        hook,
                        attached: false,
                        note,
                    })
                }
            }
        }
        for (name, section, rep) in &self.shared {
            let capture = name.strip_prefix("handle_").unwrap_or(name).to_string();
            let tp = section.rsplit('/').next().unwrap_or_default().to_string();
            let prog = self
                .skel
                .object()
                .progs_mut()
                .find(|p| p.name().to_string_lossy() == *rep);
            let res = match prog {
                Some(p) => p
                    .attach_tracepoint(libbpf_rs::TracepointCategory::Syscalls, &tp)
                    .map_err(|e| e.to_string()),
                None => Err(format!("{rep} is not loaded")),
            };
            match res {
                Ok(link) => {
                    links.push(link);
                    hooks.push(Hook {
                        capture,
                        hook: section.clone(),
                        attached: true,
                        note: format!("shares {rep}"),
                    });
                }
                Err(note) => hooks.push(Hook {
                    capture,
                    hook: section.clone(),
                    attached: false,
                    note,
                }),
            }
        }
        hooks.sort_by(|a, b| a.capture.cmp(&b.capture));
        self.hooks = hooks;
        self.links = links;
        Ok(())
    }

    /// The ring buffer and loss counters, for the enforcement object to share.
    pub fn shared_maps(&self) -> (std::os::fd::BorrowedFd<'_>, std::os::fd::BorrowedFd<'_>) {
        (self.skel.maps.events.as_fd(), self.skel.maps.loss.as_fd())
    }

    /// Hooks in use and missing.
    pub fn hooks(&self) -> &[Hook] {
        &self.hooks
    }

    /// What the kernel allows beyond tracepoints, as probed at load.
    pub fn probes(&self) -> &[KindProbe] {
        &self.probes
    }

    /// Starts following a thread group (command mode): it and its descendants are
    /// recorded from now on.
    pub fn follow(&self, tgid: u32) -> Result<(), LoadError> {
        self.skel
            .maps
            .followed
            .update(&tgid.to_ne_bytes(), &[1u8], MapFlags::ANY)
            .map_err(lb(format!("following pid {tgid}")))
    }

    /// A ring-buffer consumer calling `f` with every record, as the kernel wrote it.
    pub fn ring_buffer<'a, F>(&'a self, f: F) -> Result<RingBuffer<'a>, LoadError>
    where
        F: FnMut(&[u8]) -> i32 + 'a,
    {
        let mut b = RingBufferBuilder::new();
        b.add(&self.skel.maps.events, f)
            .map_err(lb("ring buffer"))?;
        b.build().map_err(lb("ring buffer"))
    }

    /// Per-CPU (records lost so far, boot-time ns of the last loss).
    pub fn loss(&self) -> Result<Vec<(u64, u64)>, LoadError> {
        let v = self
            .skel
            .maps
            .loss
            .lookup_percpu(&0u32.to_ne_bytes(), MapFlags::ANY)
            .map_err(lb("reading loss counters"))?
            .unwrap_or_default();
        Ok(v.iter()
            .map(|b| {
                let n = |i: usize| {
                    let mut a = [0u8; 8];
                    if let Some(s) = b.get(i..i + 8) {
                        a.copy_from_slice(s);
                    }
                    u64::from_ne_bytes(a)
                };
                (n(0), n(8))
            })
            .collect())
    }

    /// Run counts and times of every attached program, from /proc/self/fdinfo (needs
    /// `kernel.bpf_stats_enabled=1`, see [`enable_stats`]).
    pub fn prog_stats(&self) -> Vec<ProgStats> {
        self.skel
            .object()
            .progs()
            .map(|p| {
                let fd = p.as_fd().as_raw_fd();
                let info =
                    std::fs::read_to_string(format!("/proc/self/fdinfo/{fd}")).unwrap_or_default();
                let field = |k: &str| {
                    info.lines()
                        .find_map(|l| l.strip_prefix(k).map(|v| v.trim().parse().unwrap_or(0)))
                        .unwrap_or(0)
                };
                ProgStats {
                    name: p.name().to_string_lossy().into_owned(),
                    run_cnt: field("run_cnt:"),
                    run_time_ns: field("run_time_ns:"),
                }
            })
            .collect()
    }
}

/// Turns on the kernel's per-program run-time accounting; returns the previous setting so
/// that it can be restored.
pub fn enable_stats() -> std::io::Result<String> {
    let path = "/proc/sys/kernel/bpf_stats_enabled";
    let old = std::fs::read_to_string(path)?;
    std::fs::write(path, "1")?;
    Ok(old.trim().to_string())
}

/// Restores the setting returned by [`enable_stats`].
pub fn restore_stats(old: &str) -> std::io::Result<()> {
    std::fs::write("/proc/sys/kernel/bpf_stats_enabled", old)
}
