//! Process images: one per exec (or fork, snapshot, or first sighting), keyed by
//! `(boot, tgid, start ns)` so pid reuse is harmless (see DESIGN.md, "Process identity").

use rewind_schema::container::Container;
use rewind_schema::wire::{ByteString, Namespaces};
use serde::Serialize;

/// Index of an image in [`super::Model::images`]. Stable for one replay only; the
/// [`Image::exec_id`] is the identity that survives across runs and input subsets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct ImageId(pub u32);

impl ImageId {
    /// As a `usize` index.
    pub fn idx(self) -> usize {
        self.0 as usize
    }
}

/// How the model learned about an image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    /// An exec record: the program and its context are exact.
    Exec,
    /// A fork record: same program as its parent until it execs.
    Fork,
    /// A segment's process snapshot: it existed before the recording (or segment) began.
    Snapshot,
    /// Only seen doing something: its start was not recorded (lost, filtered, or before a
    /// segment without a snapshot entry for it).
    Unknown,
}

impl Origin {
    /// Lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            Origin::Exec => "exec",
            Origin::Fork => "fork",
            Origin::Snapshot => "snapshot",
            Origin::Unknown => "unknown",
        }
    }
}

/// Credentials of an image, as last known.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Creds {
    /// Real uid.
    pub uid: u32,
    /// Effective uid.
    pub euid: u32,
    /// Real gid.
    pub gid: u32,
    /// Effective gid.
    pub egid: u32,
    /// Login uid (`u32::MAX` when unset).
    pub auid: u32,
    /// Effective capabilities.
    pub cap_eff: u64,
    /// Permitted capabilities.
    pub cap_prm: u64,
}

/// How an image ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "how")]
pub enum End {
    /// The process exited (whole thread group gone).
    Exit {
        /// Exit code when it exited normally.
        code: Option<u8>,
        /// Signal that killed it.
        signal: Option<u8>,
        /// Core dumped.
        core: bool,
    },
    /// The process exec'd another program: this image was replaced by `next`.
    Exec {
        /// The image that replaced it.
        next: ImageId,
    },
}

/// One process image.
#[derive(Debug, Clone, Serialize)]
pub struct Image {
    /// Index in the model.
    pub id: ImageId,
    /// Index into [`super::Model::boots`].
    pub boot: u16,
    /// Thread-group id.
    pub pid: u32,
    /// Parent pid as the kernel last reported it (1 after re-parenting).
    pub ppid: u32,
    /// Boot-time ns when this image began (exec time, fork time, or /proc start).
    pub start_ns: u64,
    /// Kernel start time of the process (same for every image of one process).
    pub proc_start: u64,
    /// The image this one came from: the previous image of the same pid for an exec, the
    /// forking image for a fork. Kept after the parent dies (ancestry at creation).
    pub parent: Option<ImageId>,
    /// How the model learned about it.
    pub origin: Origin,
    /// Program path (exec filename, or /proc exe).
    pub exe: ByteString,
    /// Command line.
    pub argv: Vec<ByteString>,
    /// The argv was cut by the recorder's limit.
    pub argv_truncated: bool,
    /// Task name.
    pub comm: ByteString,
    /// Working directory at exec.
    pub cwd: ByteString,
    /// Credentials (updated by credential changes).
    pub creds: Creds,
    /// Namespaces (updated by namespace changes).
    pub ns: Namespaces,
    /// cgroup v2 path.
    pub cgroup: ByteString,
    /// cgroup id.
    pub cgroup_id: u64,
    /// Container parsed from the cgroup path.
    pub container: Option<Container>,
    /// Controlling tty (0 = none).
    pub tty: u32,
    /// Executable inode and device.
    pub exe_ino: u64,
    /// Executable device.
    pub exe_dev: u32,
    /// Executable mode bits (setuid/setgid visible).
    pub exe_mode: u32,
    /// Exec'd from a memfd.
    pub from_memfd: bool,
    /// Executable was deleted when it ran.
    pub exe_deleted: bool,
    /// Boot-time ns of the end (exit or exec), if seen.
    pub end_ns: Option<u64>,
    /// How it ended, if seen.
    pub end: Option<End>,
    /// Activity counts.
    pub counts: Counts,
    /// Credentials after each successful change (set*id, capset), with its boot ns; the
    /// credentials at the image's start are in `creds` until the first change.
    pub cred_history: Vec<(u64, Creds)>,
    /// Children, connections and later images that point at this one: a streaming
    /// replay frees it only when none is left.
    #[serde(skip)]
    pub(crate) refs: u32,
}

/// Per-image activity counts (for `tree` and summaries).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Counts {
    /// Events attributed to it.
    pub events: u64,
    /// File opens and changes.
    pub files: u64,
    /// Connections made or accepted (TCP, unix) and UDP flows.
    pub conns: u64,
    /// Distinct DNS names it asked for.
    pub dns_names: Vec<String>,
    /// Child images (forks).
    pub children: u32,
}

impl Image {
    /// The identity that survives across runs: `tgid@start_ns`, with the boot index in
    /// front when the input spans several boots (`b1:tgid@start_ns`).
    pub fn exec_id(&self) -> String {
        if self.boot == 0 {
            format!("{}@{}", self.pid, self.start_ns)
        } else {
            format!("b{}:{}@{}", self.boot, self.pid, self.start_ns)
        }
    }

    /// The program's short name: the last component of exe, else comm.
    pub fn name(&self) -> String {
        let exe = self.exe.as_bytes();
        // A memfd or fd path names nothing ("3"): the task name says more.
        let anonymous = exe.starts_with(b"/proc/") || exe.starts_with(b"/dev/fd/");
        if !exe.is_empty() && (!anonymous || self.comm.is_empty()) {
            let base = exe.rsplit(|&b| b == b'/').next().unwrap_or(exe);
            if !base.is_empty() {
                return ByteString(base.to_vec()).display();
            }
        }
        if self.comm.is_empty() {
            "?".to_string()
        } else {
            self.comm.display()
        }
    }

    /// Command line joined by spaces, control characters escaped.
    pub fn cmdline(&self) -> String {
        let mut s = self
            .argv
            .iter()
            .map(ByteString::display)
            .collect::<Vec<_>>()
            .join(" ");
        if self.argv_truncated {
            s.push_str(" …");
        }
        s
    }

    /// Exit code, if it exited normally.
    pub fn exit_code(&self) -> Option<u8> {
        match self.end {
            Some(End::Exit { code, .. }) => code,
            _ => None,
        }
    }

    /// Signal that killed it.
    pub fn exit_signal(&self) -> Option<u8> {
        match self.end {
            Some(End::Exit { signal, .. }) => signal,
            _ => None,
        }
    }

    /// `name[pid]`, the short label used everywhere.
    pub fn label(&self) -> String {
        format!("{}[{}]", self.name(), self.pid)
    }

    pub(crate) fn blank(id: ImageId, boot: u16, pid: u32, start_ns: u64, origin: Origin) -> Self {
        Image {
            id,
            boot,
            pid,
            ppid: 0,
            start_ns,
            proc_start: start_ns,
            parent: None,
            origin,
            exe: ByteString::default(),
            argv: Vec::new(),
            argv_truncated: false,
            comm: ByteString::default(),
            cwd: ByteString::default(),
            creds: Creds {
                auid: u32::MAX,
                ..Creds::default()
            },
            ns: Namespaces::default(),
            cgroup: ByteString::default(),
            cgroup_id: 0,
            container: None,
            tty: 0,
            exe_ino: 0,
            exe_dev: 0,
            exe_mode: 0,
            from_memfd: false,
            exe_deleted: false,
            end_ns: None,
            end: None,
            counts: Counts::default(),
            cred_history: Vec::new(),
            refs: 0,
        }
    }
}
