//! Process snapshots: the state of every live process at the start of a segment, so
//! that a segment read alone still knows who its processes are.

use crate::wire::{ByteString, Namespaces};
use serde::{Deserialize, Serialize};

/// Where a snapshot entry's facts come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SnapshotSource {
    /// Read from /proc when recording started: it began before the recorder.
    #[default]
    Procfs,
    /// Carried over from the recorder's table of processes it saw start (rotation).
    Tracked,
}

/// One live process (JSON body of a `process_snapshot` record). Every field is optional
/// on read so that later minor versions can add fields.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ProcessSnapshot {
    /// Thread-group id.
    pub pid: u32,
    /// Parent tgid.
    pub ppid: u32,
    /// Process start time (boot-time ns), part of the process identity.
    pub start: u64,
    /// Time of its last exec (boot-time ns), 0 when unknown.
    pub exec_ts: u64,
    /// Task name.
    pub comm: ByteString,
    /// Executable path.
    pub exe: ByteString,
    /// Arguments.
    pub argv: Vec<ByteString>,
    /// Working directory.
    pub cwd: ByteString,
    /// Real uid.
    pub uid: u32,
    /// Real gid.
    pub gid: u32,
    /// Effective uid.
    pub euid: u32,
    /// Effective gid.
    pub egid: u32,
    /// Audit login uid (`u32::MAX` = unset).
    pub auid: u32,
    /// Effective capabilities.
    pub cap_eff: u64,
    /// Permitted capabilities.
    pub cap_prm: u64,
    /// Cgroup path.
    pub cgroup: ByteString,
    /// Cgroup id.
    pub cgroup_id: u64,
    /// Namespaces.
    pub ns: Namespaces,
    /// Controlling tty, 0 = none.
    pub tty: u32,
    /// Where these facts come from.
    pub source: SnapshotSource,
}
