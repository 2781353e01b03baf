//! Privilege family: `bpf/src/cred.bpf.c` (setuid and friends, capset).

use super::{layout, nested};

nested! {
    /// A task's ids (`struct rw_creds`).
    Creds = "rw_creds" {
        /// Real uid.
        uid: u32,
        /// Effective uid.
        euid: u32,
        /// Saved uid.
        suid: u32,
        /// Filesystem uid.
        fsuid: u32,
        /// Real gid.
        gid: u32,
        /// Effective gid.
        egid: u32,
        /// Saved gid.
        sgid: u32,
        /// Filesystem gid.
        fsgid: u32,
    }
}

layout! {
    /// A credential change by setuid/setgid/setre*/setres*/setfs* (`struct rw_cred`).
    Cred = "rw_cred" {
        /// Before the call.
        old: Creds,
        /// After the call.
        new: Creds,
        /// Syscall number.
        syscall: u32,
        /// 0 or -errno.
        ret: i32,
    }
}

impl Cred {
    /// True when the call succeeded and made the effective or the real uid root from
    /// non-root (after-values: a failed or refused call gains nothing).
    pub fn gained_root(&self) -> bool {
        self.ret == 0
            && ((self.old.euid != 0 && self.new.euid == 0)
                || (self.old.uid != 0 && self.new.uid == 0))
    }
}

layout! {
    /// A capset (`struct rw_capset`).
    Capset = "rw_capset" {
        /// Effective set before.
        old_eff: u64,
        /// Permitted set before.
        old_prm: u64,
        /// Inheritable set before.
        old_inh: u64,
        /// Effective set after.
        new_eff: u64,
        /// Permitted set after.
        new_prm: u64,
        /// Inheritable set after.
        new_inh: u64,
        /// 0 or -errno.
        ret: i32,
    }
}
