//! Process family: `bpf/src/exec.bpf.c` (exec, fork, exit).

use super::{layout, nested, Argv, ByteString, Comm};

nested! {
    /// Namespace inode numbers of a task (`struct rw_ns`); 0 means unknown.
    Namespaces = "rw_ns" {
        /// Mount namespace.
        mnt: u32,
        /// PID namespace.
        pid: u32,
        /// Network namespace.
        net: u32,
        /// UTS namespace.
        uts: u32,
        /// IPC namespace.
        ipc: u32,
        /// User namespace.
        user: u32,
        /// Cgroup namespace.
        cgroup: u32,
        /// Time namespace.
        time: u32,
    }
}

layout! {
    /// A successful exec: a new process image (`struct rw_exec`).
    Exec = "rw_exec" {
        /// Start time of the thread group leader (boot-time ns).
        proc_start: u64,
        /// Cgroup v2 id.
        cgroup_id: u64,
        /// Inode of the executed file.
        exe_ino: u64,
        /// Effective capabilities after exec.
        cap_eff: u64,
        /// Permitted capabilities after exec.
        cap_prm: u64,
        /// Namespaces of the task.
        ns: Namespaces,
        /// Parent tgid.
        ppid: u32,
        /// Real uid.
        uid: u32,
        /// Real gid.
        gid: u32,
        /// Effective uid.
        euid: u32,
        /// Effective gid.
        egid: u32,
        /// Audit login uid (`u32::MAX` = unset).
        auid: u32,
        /// Audit session id.
        sessionid: u32,
        /// Device of the executed file.
        exe_dev: u32,
        /// Mode of the executed file (setuid/setgid bits).
        exe_mode: u32,
        /// Controlling tty (dev_t), 0 = none.
        tty: u32,
        /// Real argument count, even when argv was cut.
        argc: u32,
        /// `RW_EXEC_*` flags.
        flags: u32,
        /// Task name after exec.
        comm: Comm,
    }
    var {
        /// The path given to exec (resolved by the kernel).
        filename: ByteString,
        /// Arguments, possibly cut at the argv limit.
        argv: Argv,
        /// Working directory.
        cwd: ByteString,
        /// Cgroup path.
        cgroup: ByteString,
    }
}

/// `rw_exec.flags`: argv was cut at the configured limit.
pub const EXEC_ARGV_TRUNCATED: u32 = 1 << 0;
/// `rw_exec.flags`: the filename did not fit.
pub const EXEC_FILENAME_TRUNCATED: u32 = 1 << 1;
/// `rw_exec.flags`: the cwd did not fit.
pub const EXEC_CWD_TRUNCATED: u32 = 1 << 2;
/// `rw_exec.flags`: the binary is a memfd (fileless execution).
pub const EXEC_FROM_MEMFD: u32 = 1 << 3;
/// `rw_exec.flags`: the binary was deleted from disk.
pub const EXEC_EXE_DELETED: u32 = 1 << 4;

impl Exec {
    /// True when argv was cut.
    pub fn argv_truncated(&self) -> bool {
        self.flags & EXEC_ARGV_TRUNCATED != 0
    }
    /// True for a setuid or setgid binary.
    pub fn setid_binary(&self) -> bool {
        self.exe_mode & 0o6000 != 0
    }
}

layout! {
    /// A new process or thread (`struct rw_fork`); the header names the parent.
    Fork = "rw_fork" {
        /// Start time of the child (boot-time ns).
        child_start: u64,
        /// clone flags, 0 for fork.
        clone_flags: u64,
        /// Child tgid.
        child_pid: u32,
        /// Child thread id.
        child_tid: u32,
    }
}

layout! {
    /// A task exit (`struct rw_exit`).
    Exit = "rw_exit" {
        /// Start time of the exiting process (boot-time ns).
        proc_start: u64,
        /// Wait status: code << 8 | core << 7 | signal.
        status: u32,
        /// Bit 0: the whole thread group exited.
        flags: u32,
    }
}

impl Exit {
    /// Exit code when the process exited normally.
    pub fn code(&self) -> Option<u8> {
        (self.status & 0x7f == 0).then_some(((self.status >> 8) & 0xff) as u8)
    }
    /// Terminating signal, if it was killed by one.
    pub fn signal(&self) -> Option<u8> {
        let sig = (self.status & 0x7f) as u8;
        (sig != 0).then_some(sig)
    }
    /// True when it dumped core.
    pub fn core_dumped(&self) -> bool {
        self.status & 0x80 != 0
    }
}
