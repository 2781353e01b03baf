//! File family: `bpf/src/file.bpf.c` (open, unlink, rename, chmod, chown).

use super::{layout, ByteString};

/// `rw_open.flags`: the path did not fit. Other path records carry no flag: a path as
/// long as the header's `capture.path_limit` may have been cut.
pub const PATH_TRUNCATED: u32 = 1 << 0;

layout! {
    /// An open/openat/openat2 with its resolved absolute path (`struct rw_open`).
    Open = "rw_open" {
        /// Inode opened (0 on failure).
        ino: u64,
        /// fd, or -errno.
        ret: i32,
        /// `O_*` flags; `O_TRUNC` marks truncate-on-open.
        open_flags: u32,
        /// Creation mode.
        mode: u32,
        /// Device of the inode.
        dev: u32,
        /// `RW_PATH_TRUNCATED`.
        flags: u32,
    }
    var {
        /// Absolute path.
        path: ByteString,
    }
}

layout! {
    /// unlink/unlinkat/rmdir (`struct rw_unlink`).
    Unlink = "rw_unlink" {
        /// 0 or -errno.
        ret: i32,
        /// `AT_REMOVEDIR`.
        flags: u32,
    }
    var {
        /// Absolute path.
        path: ByteString,
    }
}

layout! {
    /// rename/renameat/renameat2 (`struct rw_rename`).
    Rename = "rw_rename" {
        /// 0 or -errno.
        ret: i32,
        /// renameat2 flags.
        flags: u32,
    }
    var {
        /// Old absolute path.
        old: ByteString,
        /// New absolute path.
        new: ByteString,
    }
}

layout! {
    /// chmod/fchmod/fchmodat (`struct rw_chmod`).
    Chmod = "rw_chmod" {
        /// 0 or -errno.
        ret: i32,
        /// New mode.
        mode: u32,
    }
    var {
        /// Absolute path.
        path: ByteString,
    }
}

impl Chmod {
    /// True when the new mode sets the setuid or setgid bit.
    pub fn sets_setid(&self) -> bool {
        self.mode & 0o6000 != 0
    }
}

layout! {
    /// chown/fchown/lchown/fchownat (`struct rw_chown`).
    Chown = "rw_chown" {
        /// 0 or -errno.
        ret: i32,
        /// New owner (`u32::MAX` = unchanged).
        uid: u32,
        /// New group (`u32::MAX` = unchanged).
        gid: u32,
    }
    var {
        /// Absolute path.
        path: ByteString,
    }
}
