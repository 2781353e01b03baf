//! Enforcement family: `bpf/src/enforce.bpf.c`. Every action the policy takes (or would
//! take, in monitor mode) is itself a record.

use super::{layout, ByteString};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// `rw_enforce.action`: the task was sent SIGKILL.
pub const ACTION_KILL: u32 = 1;
/// `rw_enforce.action`: the operation was refused (EPERM).
pub const ACTION_DENY: u32 = 2;
/// `rw_enforce.action`: the task was sent SIGSTOP (frozen for memory forensics).
pub const ACTION_STOP: u32 = 3;
/// `rw_enforce.action`: recorded only.
pub const ACTION_AUDIT: u32 = 4;

/// `rw_enforce.flags`: monitor mode, the action was not carried out.
pub const ENFORCE_MONITOR: u32 = 1 << 0;
/// `rw_enforce.flags`: the task is protected (pid 1, a kernel thread, the recorder or one of
/// its ancestors); not carried out.
pub const ENFORCE_EXEMPT: u32 = 1 << 1;
/// `rw_enforce.flags`: the rule went over its rate limit and acts as in monitor mode.
pub const ENFORCE_RATE_LIMITED: u32 = 1 << 2;
/// `rw_enforce.flags`: the rule went over its rate limit with this record.
pub const ENFORCE_RATE_TRIPPED: u32 = 1 << 3;

layout! {
    /// A policy action taken (or that would have been taken) in the kernel
    /// (`struct rw_enforce`).
    Enforce = "rw_enforce" {
        /// `RW_ACTION_*`.
        action: u32,
        /// Policy rule index.
        rule: u32,
        /// Signal sent, for kill and stop.
        sig: u32,
        /// `RW_ENFORCE_*`.
        flags: u32,
        /// Record type of what was attempted.
        trigger: u16,
    }
    var {
        /// What was attempted: a path, or a 20-byte address (family, port, address).
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

    /// True when the action was carried out (not monitor, exempt or rate-limited).
    pub fn carried_out(&self) -> bool {
        self.flags & (ENFORCE_MONITOR | ENFORCE_EXEMPT | ENFORCE_RATE_LIMITED) == 0
    }

    /// The destination of a connect or send, from the 20-byte detail.
    pub fn address(&self) -> Option<SocketAddr> {
        let d = self.detail.as_bytes();
        if d.len() != 20 {
            return None;
        }
        let family = u16::from_le_bytes([d[0], d[1]]);
        let port = u16::from_le_bytes([d[2], d[3]]);
        let ip = match family {
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
}
