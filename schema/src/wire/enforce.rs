//! Enforcement family: `bpf/src/enforce.bpf.c`. Every action the policy takes (or, in
//! monitor mode or on an exempt process, would have taken) is itself a record.

use super::{layout, ByteString};

/// `rw_enforce.action`: SIGKILL sent from the syscall-entry hook.
pub const ACTION_KILL: u16 = 1;
/// `rw_enforce.action`: the operation was refused with EPERM.
pub const ACTION_DENY: u16 = 2;
/// `rw_enforce.action`: SIGSTOP sent (the process is frozen for forensics).
pub const ACTION_STOP: u16 = 3;
/// `rw_enforce.action`: recorded only.
pub const ACTION_AUDIT: u16 = 4;

/// `rw_enforce.flags`: monitor mode: the action was not carried out.
pub const ENFORCE_MONITOR: u16 = 1 << 0;
/// `rw_enforce.flags`: the process is exempt (pid 1, a kernel thread, the recorder or
/// one of its ancestors): the action was not carried out.
pub const ENFORCE_EXEMPT: u16 = 1 << 1;
/// `rw_enforce.flags`: the rule exceeded the policy's kill rate limit and was switched to
/// monitor: this action and the rule's later ones are not carried out.
pub const ENFORCE_RATE_LIMITED: u16 = 1 << 2;
/// `rw_enforce.flags`: the rule went over its rate limit with this record.
pub const ENFORCE_RATE_TRIPPED: u16 = 1 << 3;

layout! {
    /// A policy action taken in the kernel (`struct rw_enforce`). The header's pid/tid are
    /// the acting (targeted) task's.
    Enforce = "rw_enforce" {
        /// `RW_ACTION_*`.
        action: u16,
        /// `RW_ENFORCE_*` bits.
        flags: u16,
        /// Policy rule index (`capture.policy.rules[].index` in the segment header).
        rule: u32,
        /// Signal sent (9 for kill, 19 for stop); 0 otherwise.
        sig: u32,
        /// Record type of what was attempted (`RW_OPEN`, `RW_CONNECT`, ...).
        trigger: u16,
    }
    var {
        /// What was attempted: a path, or for connect/send a 20-byte address (`u16`
        /// family 2 or 10, `u16` port, 16 address bytes; see [`Enforce::address`]).
        detail: ByteString,
    }
}

impl Enforce {
    /// "kill", "deny", "stop", "audit" or the number.
    pub fn action_name(&self) -> String {
        match self.action {
            ACTION_KILL => "kill".into(),
            ACTION_DENY => "deny".into(),
            ACTION_STOP => "stop".into(),
            ACTION_AUDIT => "audit".into(),
            n => format!("action-{n}"),
        }
    }

    /// The destination of a connect or send, from the 20-byte detail.
    pub fn address(&self) -> Option<std::net::SocketAddr> {
        use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
        let d = self.detail.as_bytes();
        if d.len() != 20 {
            return None;
        }
        let port = u16::from_le_bytes([d[2], d[3]]);
        let ip = match u16::from_le_bytes([d[0], d[1]]) {
            2 => IpAddr::V4(Ipv4Addr::new(d[4], d[5], d[6], d[7])),
            10 => {
                let mut a = [0u8; 16];
                a.copy_from_slice(&d[4..20]);
                IpAddr::V6(Ipv6Addr::from(a))
            }
            _ => return None,
        };
        Some(SocketAddr::new(ip, port))
    }

    /// What was attempted, in words: the address of a connect/send, else the path.
    pub fn detail_text(&self) -> String {
        match self.address() {
            Some(a) => a.to_string(),
            None => self.detail.display(),
        }
    }

    /// The action was not carried out: monitor mode, exempt target or rate limited.
    pub fn not_carried_out(&self) -> bool {
        self.flags & (ENFORCE_MONITOR | ENFORCE_EXEMPT | ENFORCE_RATE_LIMITED) != 0
    }
}
