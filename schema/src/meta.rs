//! Segment metadata: the JSON carried by the header record (host, clock anchor,
//! capture configuration, chain link) and by the footer record (counts, SHA-256).

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Format major version written by this build. A reader refuses other majors.
pub const FORMAT_MAJOR: u16 = 1;
/// Format minor version written by this build for unsigned segments. Readers ignore what
/// they do not know.
pub const FORMAT_MINOR: u16 = 0;
/// Format minor version of a signed segment (footer `public_key` and `signature`).
pub const FORMAT_MINOR_SIGNED: u16 = 1;

/// The host a segment was recorded on.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct HostInfo {
    /// hostname.
    pub hostname: String,
    /// /etc/machine-id.
    pub machine_id: String,
    /// uname -r.
    pub kernel_release: String,
    /// /proc/sys/kernel/random/boot_id: with tgid and start time it identifies a process.
    pub boot_id: String,
    /// uname -m.
    pub arch: String,
    /// Namespaces of init (pid 1): a process whose namespace differs is not in the host's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub init_ns: Option<crate::wire::Namespaces>,
}

/// A simultaneous reading of the two clocks, to turn record timestamps (boot-time ns)
/// into wall-clock time: `wall = wall_ns + (ts - boot_ns)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ClockAnchor {
    /// CLOCK_BOOTTIME ns.
    pub boot_ns: u64,
    /// CLOCK_REALTIME ns since the Unix epoch.
    pub wall_ns: u64,
}

impl ClockAnchor {
    /// Wall-clock ns for a boot-time timestamp.
    pub fn wall(&self, ts: u64) -> i128 {
        self.wall_ns as i128 + (ts as i128 - self.boot_ns as i128)
    }
}

/// One kernel hook and whether the recorder could use it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct HookStatus {
    /// What it captures ("exec", "open", ...).
    pub capture: String,
    /// The hook used ("tp/sched/sched_process_exec"), empty when none.
    pub hook: String,
    /// Why a better hook was not used, or why the capture is off.
    pub note: String,
}

/// How the capture was configured.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct CaptureConfig {
    /// "system", "command", or "synthetic" for traces built by `TraceBuilder`.
    pub mode: String,
    /// The followed command line, in command mode.
    pub command: Vec<String>,
    /// Filters in effect, as given ("pid=42", "path-prefix=/etc", ...).
    pub filters: Vec<String>,
    /// Event classes recorded.
    pub classes: Vec<String>,
    /// Snippet length in bytes.
    pub snippet_len: u32,
    /// argv limit in bytes.
    pub argv_limit: u32,
    /// Longest path the kernel side stores; a path this long may have been cut.
    pub path_limit: u32,
    /// SHA-256 of the enforcement policy, when one is loaded.
    pub policy_sha256: Option<String>,
    /// Hooks in use and missing.
    pub hooks: Vec<HookStatus>,
    /// The enforcement policy's rules, when one is loaded, so an enforcement record's
    /// rule index can be named. Absent in older traces and when no policy is loaded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy: Option<PolicySummary>,
    /// Thread-group id of the recorder, when it wrote it: the policy never acts on the
    /// recorder or its ancestors. Absent in older traces.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recorder_pid: Option<u32>,
}

/// The policy a segment was recorded under, compactly (`capture.policy`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct PolicySummary {
    /// The policy's name.
    pub name: String,
    /// `enforce` or `monitor`, as the recorder ran it.
    pub mode: String,
    /// SHA-256 of the policy file (same as `capture.policy_sha256`).
    pub sha256: String,
    /// Every rule, in file order.
    pub rules: Vec<PolicyRuleSummary>,
}

/// One rule of a [`PolicySummary`].
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct PolicyRuleSummary {
    /// `rw_enforce.rule`.
    pub index: u32,
    /// Rule id.
    pub id: String,
    /// Rule name (free text).
    pub name: String,
    /// `kill`, `stop`, `deny` or `audit`.
    pub action: String,
    /// Operations.
    pub on: Vec<String>,
}

impl PolicySummary {
    /// The rule with this index.
    pub fn rule(&self, index: u32) -> Option<&PolicyRuleSummary> {
        self.rules.iter().find(|r| r.index == index)
    }
}

/// JSON metadata of a segment header record.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct SegmentMeta {
    /// Random id shared by every segment of one recording (32 hex digits).
    pub trace_id: String,
    /// Position of this segment in the recording, from 1.
    pub seq: u64,
    /// SHA-256 of the previous segment (its footer's `sha256`), `None` for the first.
    pub prev_sha256: Option<String>,
    /// Version of the program that wrote it.
    pub recorder_version: String,
    /// The host.
    pub host: HostInfo,
    /// Clock anchor taken when the segment was opened.
    pub clock: ClockAnchor,
    /// Capture configuration.
    pub capture: CaptureConfig,
}

/// JSON body of the footer record, the last record of a cleanly closed segment.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct SegmentFooter {
    /// Same as the header's.
    pub trace_id: String,
    /// Same as the header's.
    pub seq: u64,
    /// Records before the footer, header included.
    pub records: u64,
    /// zstd frames before the footer frame.
    pub frames: u64,
    /// Records by type name.
    pub counts: BTreeMap<String, u64>,
    /// Smallest record timestamp (boot-time ns).
    pub first_ts: u64,
    /// Largest record timestamp.
    pub last_ts: u64,
    /// Records reported lost by loss records in this segment.
    pub lost: u64,
    /// Copied from the header.
    pub prev_sha256: Option<String>,
    /// SHA-256 over `prev` (32 bytes, zeros for the first segment) followed by every
    /// byte of the file before the footer frame.
    pub sha256: String,
    /// Why the segment was closed: "size", "time", "records", "shutdown", "error".
    pub reason: String,
    /// The ed25519 public key that signed this footer, 64 hex digits (format 1.1; absent
    /// in unsigned footers).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub public_key: Option<String>,
    /// ed25519 signature of [`crate::sign::signed_message`], 128 hex digits (format 1.1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signature: Option<String>,
}
