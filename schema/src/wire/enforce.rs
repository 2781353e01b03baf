//! Enforcement family: `bpf/src/enforce.bpf.c`. Every action the policy takes is itself
//! a record.

use super::{layout, ByteString};

/// `rw_enforce.action`: the task was sent a signal.
pub const ACTION_KILL: u32 = 1;
/// `rw_enforce.action`: the operation was refused (EPERM).
pub const ACTION_DENY: u32 = 2;

layout! {
    /// A policy action taken in the kernel (`struct rw_enforce`).
    Enforce = "rw_enforce" {
        /// `RW_ACTION_*`.
        action: u32,
        /// Policy rule index.
        rule: u32,
        /// Signal sent, for kill.
        sig: u32,
        /// Record type of what was blocked.
        trigger: u16,
    }
    var {
        /// What was blocked: a path or an address.
        detail: ByteString,
    }
}

impl Enforce {
    /// "kill", "deny" or the number.
    pub fn action_name(&self) -> String {
        match self.action {
            ACTION_KILL => "kill".into(),
            ACTION_DENY => "deny".into(),
            n => format!("action-{n}"),
        }
    }
}
