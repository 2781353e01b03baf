//! The enforcement policy: one typed model, parsed once, shared by the recorder (which
//! compiles it into BPF maps) and the analyzer (which evaluates it over replayed traces),
//! so that what the kernel did and what `analyzer policy test` says it would do come from
//! the same rules (issue 13, "one policy model, two evaluators").
//!
//! The YAML format is documented in `fixtures/policies/README.md`. [`Policy::parse`]
//! refuses anything it does not understand with the file, line and column of the
//! offending key or value. The primitive matchers ([`StrMatch::matches`],
//! [`Cidr::contains`], [`glob_match`], ...) live here so both evaluators share their
//! meaning; walking selectors against a process is each evaluator's own business.

mod explain;
mod parse;

use crate::meta::{PolicyRuleSummary, PolicySummary};
use sha2::{Digest, Sha256};
use std::fmt;
use std::net::IpAddr;
use std::path::Path;

/// Most rules a policy may hold (the kernel's rule map is sized for this).
pub const MAX_RULES: usize = 256;
/// Most strings (or numbers) in one selector list.
pub const MAX_LIST: usize = 64;
/// Longest path or binary string, in bytes (the kernel compares at most this many).
pub const MAX_PATH: usize = 255;
/// Default of `kill_rate_limit`: kills/stops per second before a rule goes to monitor.
pub const DEFAULT_KILL_RATE_LIMIT: u32 = 50;

/// Whether actions are carried out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Actions are carried out.
    Enforce,
    /// Nothing is blocked; would-be actions are recorded.
    Monitor,
}

impl Mode {
    /// `enforce` or `monitor`.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Enforce => "enforce",
            Mode::Monitor => "monitor",
        }
    }
}

/// An operation a rule applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Op {
    /// open/openat/openat2.
    Open,
    /// execve/execveat.
    Exec,
    /// unlink/unlinkat/rmdir.
    Unlink,
    /// rename/renameat/renameat2 (either name).
    Rename,
    /// chmod/fchmod/fchmodat.
    Chmod,
    /// connect on an IPv4/IPv6 socket.
    Connect,
    /// UDP sendto/sendmsg with a destination.
    Send,
}

impl Op {
    /// Every operation, in file-format order.
    pub const ALL: [Op; 7] = [
        Op::Open,
        Op::Exec,
        Op::Unlink,
        Op::Rename,
        Op::Chmod,
        Op::Connect,
        Op::Send,
    ];

    /// The name used in policy files.
    pub fn name(self) -> &'static str {
        match self {
            Op::Open => "open",
            Op::Exec => "exec",
            Op::Unlink => "unlink",
            Op::Rename => "rename",
            Op::Chmod => "chmod",
            Op::Connect => "connect",
            Op::Send => "send",
        }
    }

    /// From a policy file name.
    pub fn parse(s: &str) -> Option<Op> {
        Op::ALL.into_iter().find(|o| o.name() == s)
    }

    /// Operations on a file path (`path` applies); the others are network operations
    /// (`dest` applies).
    pub fn is_file(self) -> bool {
        !matches!(self, Op::Connect | Op::Send)
    }
}

/// What a rule does when it fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Action {
    /// SIGKILL the acting process before the syscall returns.
    Kill,
    /// SIGSTOP it (frozen for memory forensics).
    Stop,
    /// The operation fails with EPERM.
    Deny,
    /// Record only.
    Audit,
}

impl Action {
    /// Every action.
    pub const ALL: [Action; 4] = [Action::Kill, Action::Stop, Action::Deny, Action::Audit];

    /// The name used in policy files.
    pub fn name(self) -> &'static str {
        match self {
            Action::Kill => "kill",
            Action::Stop => "stop",
            Action::Deny => "deny",
            Action::Audit => "audit",
        }
    }

    /// From a policy file name.
    pub fn parse(s: &str) -> Option<Action> {
        Action::ALL.into_iter().find(|a| a.name() == s)
    }

    /// Kill, stop and deny block; audit only records.
    pub fn blocks(self) -> bool {
        self != Action::Audit
    }

    /// The `rw_enforce.action` number (`RW_ACTION_*`).
    pub fn wire(self) -> u16 {
        use crate::wire::enforce as e;
        match self {
            Action::Kill => e::ACTION_KILL,
            Action::Deny => e::ACTION_DENY,
            Action::Stop => e::ACTION_STOP,
            Action::Audit => e::ACTION_AUDIT,
        }
    }
}

/// String selector: any of the listed forms matching is a match.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StrMatch {
    /// Whole string equal.
    pub exact: Vec<String>,
    /// Starts with.
    pub prefix: Vec<String>,
    /// Ends with.
    pub suffix: Vec<String>,
    /// Path pattern where `*` matches within exactly one component (`path` only).
    pub glob: Vec<String>,
}

impl StrMatch {
    /// True when any listed form matches `s`.
    pub fn matches(&self, s: &[u8]) -> bool {
        self.exact.iter().any(|e| e.as_bytes() == s)
            || self.prefix.iter().any(|p| s.starts_with(p.as_bytes()))
            || self.suffix.iter().any(|p| s.ends_with(p.as_bytes()))
            || self.glob.iter().any(|g| glob_match(g.as_bytes(), s))
    }

    /// Number of strings listed.
    pub fn len(&self) -> usize {
        self.exact.len() + self.prefix.len() + self.suffix.len() + self.glob.len()
    }

    /// Nothing listed.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A path pattern: components compared one by one, `*` matching any run of characters
/// other than `/` (so `/home/*/.ssh/id_*` matches `/home/alice/.ssh/id_rsa` but not
/// `/home/a/b/.ssh/id_rsa`).
pub fn glob_match(pattern: &[u8], path: &[u8]) -> bool {
    let pc: Vec<&[u8]> = pattern.split(|&b| b == b'/').collect();
    let sc: Vec<&[u8]> = path.split(|&b| b == b'/').collect();
    pc.len() == sc.len() && pc.iter().zip(&sc).all(|(p, s)| component_match(p, s))
}

/// `*` matches any run (empty included) within one component.
fn component_match(p: &[u8], s: &[u8]) -> bool {
    match p.iter().position(|&b| b == b'*') {
        None => p == s,
        Some(i) => {
            let (head, rest) = (&p[..i], &p[i + 1..]);
            if !s.starts_with(head) {
                return false;
            }
            let s = &s[head.len()..];
            (0..=s.len()).any(|k| component_match(rest, &s[k..]))
        }
    }
}

/// Selector on the command line (argv joined with spaces).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ArgsMatch {
    /// Contains any of these.
    pub contains: Vec<String>,
    /// Starts with any of these.
    pub prefix: Vec<String>,
}

impl ArgsMatch {
    /// True when the joined command line contains or starts with a listed string.
    pub fn matches(&self, cmdline: &[u8]) -> bool {
        self.contains
            .iter()
            .any(|c| contains(cmdline, c.as_bytes()))
            || self
                .prefix
                .iter()
                .any(|p| cmdline.starts_with(p.as_bytes()))
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || hay.windows(needle.len()).any(|w| w == needle)
}

/// Container selector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContainerSel {
    /// In any container.
    Any,
    /// Not in a container.
    Host,
    /// In a container whose id starts with this (lowercase hex).
    Id(String),
}

/// Namespace selector.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NsSel {
    /// Every namespace equal to the host's (pid 1's).
    Host,
    /// At least one namespace differs from the host's.
    NotHost,
}

/// Transport protocol of a destination selector.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proto {
    /// TCP only.
    Tcp,
    /// UDP only.
    Udp,
    /// Either.
    Any,
}

impl Proto {
    /// `tcp`, `udp` or `any`.
    pub fn name(self) -> &'static str {
        match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
            Proto::Any => "any",
        }
    }
}

/// An address block, IPv4 or IPv6.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    /// Network address (host bits zero).
    pub addr: IpAddr,
    /// Prefix length.
    pub len: u8,
}

impl Cidr {
    /// Parses `10.0.0.0/8`, `::1/128` or a bare address (a host block). Host bits must be
    /// zero, so a typo like `10.0.0.5/8` is refused rather than silently widened.
    pub fn parse(s: &str) -> Result<Cidr, String> {
        let (a, l) = match s.split_once('/') {
            Some((a, l)) => (a, Some(l)),
            None => (s, None),
        };
        let addr: IpAddr = a
            .parse()
            .map_err(|_| format!("{s:?} is not an IPv4 or IPv6 address block"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let len = match l {
            None => max,
            Some(l) => match l.parse::<u8>() {
                Ok(n) if n <= max => n,
                _ => return Err(format!("{s:?}: prefix length must be 0 to {max}")),
            },
        };
        let c = Cidr { addr, len };
        if c.network() != addr {
            return Err(format!(
                "{s:?} has host bits set (the block is {}/{len})",
                c.network()
            ));
        }
        Ok(c)
    }

    fn mask(&self, ip: IpAddr) -> IpAddr {
        match ip {
            IpAddr::V4(v) => {
                let m = u32::MAX.checked_shl(32 - self.len as u32).unwrap_or(0);
                IpAddr::V4((u32::from(v) & m).into())
            }
            IpAddr::V6(v) => {
                let m = u128::MAX.checked_shl(128 - self.len as u32).unwrap_or(0);
                IpAddr::V6((u128::from(v) & m).into())
            }
        }
    }

    fn network(&self) -> IpAddr {
        self.mask(self.addr)
    }

    /// True when `ip` is in the block. An IPv4-mapped IPv6 address (`::ffff:10.0.0.1`,
    /// what a dual-stack socket connects to) counts as its IPv4 address.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v) => v.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
            v4 => v4,
        };
        ip.is_ipv4() == self.addr.is_ipv4() && self.mask(ip) == self.addr
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.len)
    }
}

/// Network destination selector (connect, send).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DestSel {
    /// Address blocks; empty = any address.
    pub cidr: Vec<Cidr>,
    /// Inclusive port ranges; empty = any port.
    pub ports: Vec<(u16, u16)>,
    /// Protocol.
    pub protocol: Proto,
}

impl DestSel {
    /// True when the destination matches every listed part. `tcp` is whether the socket
    /// is a stream socket.
    pub fn matches(&self, ip: IpAddr, port: u16, tcp: bool) -> bool {
        let proto = match self.protocol {
            Proto::Any => true,
            Proto::Tcp => tcp,
            Proto::Udp => !tcp,
        };
        proto
            && (self.cidr.is_empty() || self.cidr.iter().any(|c| c.contains(ip)))
            && (self.ports.is_empty() || self.ports.iter().any(|&(a, b)| a <= port && port <= b))
    }
}

/// Conditions of a rule's `match` or `unless`: every one present must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selectors {
    /// The file path (for rename: either name).
    pub path: Option<StrMatch>,
    /// The acting image's executable (for exec: the program being started).
    pub binary: Option<StrMatch>,
    /// The parent process's executable.
    pub parent: Option<StrMatch>,
    /// Any ancestor's executable (parent included).
    pub ancestor: Option<StrMatch>,
    /// The command line.
    pub args: Option<ArgsMatch>,
    /// Real uid in this list.
    pub uid: Option<Vec<u32>>,
    /// Effective uid in this list.
    pub euid: Option<Vec<u32>>,
    /// euid 0 or CAP_SYS_ADMIN effective (true), or neither (false).
    pub privileged: Option<bool>,
    /// Any of these capabilities effective (bit n = capability n).
    pub caps: Option<u64>,
    /// Container.
    pub container: Option<ContainerSel>,
    /// cgroup v2 path.
    pub cgroup: Option<StrMatch>,
    /// Namespaces relative to the host's.
    pub namespaces: Option<NsSel>,
    /// Network destination.
    pub dest: Option<DestSel>,
}

/// One rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// Position in the file, from 0 (`rw_enforce.rule`).
    pub index: u32,
    /// Unique id (`[A-Za-z0-9_.-]{1,63}`).
    pub id: String,
    /// Free text, may be empty.
    pub name: String,
    /// Operations it applies to.
    pub on: Vec<Op>,
    /// What it does.
    pub action: Action,
    /// Conditions that must all hold.
    pub matcher: Selectors,
    /// If all of these hold, the rule does not fire.
    pub unless: Option<Selectors>,
    /// Line of the rule in the file (1-based), for messages.
    pub line: u32,
}

impl Rule {
    /// True when the rule applies to `op`.
    pub fn applies_to(&self, op: Op) -> bool {
        self.on.contains(&op)
    }
}

/// A parsed, validated policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// Format version (1).
    pub version: u32,
    /// Free-text name.
    pub name: String,
    /// Enforce or monitor.
    pub mode: Mode,
    /// Kills/stops per second after which a rule is switched to monitor.
    pub kill_rate_limit: u32,
    /// Rules in file order.
    pub rules: Vec<Rule>,
    /// SHA-256 of the file's bytes.
    pub sha256: [u8; 32],
}

/// A policy that could not be read or is invalid.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// The file could not be read.
    #[error("{file}: {source}")]
    Io {
        /// The file.
        file: String,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not a valid policy.
    #[error("{file}:{line}:{column}: {message}")]
    Invalid {
        /// The file.
        file: String,
        /// 1-based line (0 when unknown).
        line: usize,
        /// 1-based column (0 when unknown).
        column: usize,
        /// What is wrong.
        message: String,
    },
}

impl Policy {
    /// Reads and parses a policy file.
    pub fn load(path: &Path) -> Result<Policy, PolicyError> {
        let bytes = std::fs::read(path).map_err(|source| PolicyError::Io {
            file: path.display().to_string(),
            source,
        })?;
        Policy::parse(&bytes, &path.display().to_string())
    }

    /// Parses and validates policy text; `file` names it in errors.
    pub fn parse(bytes: &[u8], file: &str) -> Result<Policy, PolicyError> {
        let mut p = parse::parse(bytes, file)?;
        p.sha256 = Sha256::digest(bytes).into();
        Ok(p)
    }

    /// The SHA-256 of the file, in hex.
    pub fn sha256_hex(&self) -> String {
        hex::encode(self.sha256)
    }

    /// The compact summary written into the trace header (rule index, id, name, action,
    /// ops), so a trace names the rule an enforcement record points at.
    pub fn summary(&self) -> PolicySummary {
        PolicySummary {
            name: self.name.clone(),
            mode: self.mode.name().into(),
            sha256: self.sha256_hex(),
            rules: self
                .rules
                .iter()
                .map(|r| PolicyRuleSummary {
                    index: r.index,
                    id: r.id.clone(),
                    name: r.name.clone(),
                    action: r.action.name().into(),
                    on: r.on.iter().map(|o| o.name().to_string()).collect(),
                })
                .collect(),
        }
    }

    /// Each rule in words, one paragraph per rule, with the mode first.
    pub fn explain(&self) -> String {
        explain::policy(self)
    }
}

/// Capability names, bit n = capability n (`CAP_CHOWN` = 0).
pub const CAP_NAMES: [&str; 41] = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
];

/// Bit of CAP_SYS_ADMIN.
pub const CAP_SYS_ADMIN: u64 = 1 << 21;

#[cfg(test)]
mod tests;
