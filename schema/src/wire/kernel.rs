//! Namespace and kernel family: `bpf/src/kernel.bpf.c` (unshare/setns, mount, ptrace,
//! module and bpf loads, memfd, signals, executable mappings).

use super::{layout, ByteString, Comm, Namespaces};

/// `rw_namespace.op`: unshare(2).
pub const NS_UNSHARE: u32 = 1;
/// `rw_namespace.op`: setns(2).
pub const NS_SETNS: u32 = 2;
/// `rw_namespace.op`: clone with `CLONE_NEW*`.
pub const NS_CLONE: u32 = 3;

layout! {
    /// A namespace change (`struct rw_namespace`).
    Namespace = "rw_namespace" {
        /// `CLONE_NEW*` flags asked for.
        flags: u64,
        /// Namespaces before.
        old: Namespaces,
        /// Namespaces after.
        new: Namespaces,
        /// `RW_NS_*`.
        op: u32,
        /// 0 or -errno.
        ret: i32,
        /// setns fd, -1 otherwise.
        fd: i32,
    }
}

layout! {
    /// mount(2) (`struct rw_mount`).
    Mount = "rw_mount" {
        /// `MS_*` flags.
        flags: u64,
        /// 0 or -errno.
        ret: i32,
    }
    var {
        /// Source (device or path).
        source: ByteString,
        /// Target path.
        target: ByteString,
        /// Filesystem type.
        fstype: ByteString,
    }
}

layout! {
    /// umount2(2) (`struct rw_umount`).
    Umount = "rw_umount" {
        /// 0 or -errno.
        ret: i32,
        /// `MNT_*` flags.
        flags: u32,
    }
    var {
        /// Target path.
        target: ByteString,
    }
}

layout! {
    /// ptrace(2) (`struct rw_ptrace`).
    Ptrace = "rw_ptrace" {
        /// Request (`PTRACE_ATTACH`, ...).
        request: i64,
        /// Target pid.
        target: u32,
        /// 0 or -errno.
        ret: i32,
    }
}

layout! {
    /// init_module/finit_module (`struct rw_module_load`).
    ModuleLoad = "rw_module_load" {
        /// 0 or -errno.
        ret: i32,
        /// Syscall number.
        syscall: u32,
    }
    var {
        /// Module file path or name.
        name: ByteString,
    }
}

layout! {
    /// bpf(2) program loads and other commands (`struct rw_bpf_load`).
    BpfLoad = "rw_bpf_load" {
        /// `BPF_*` command.
        cmd: u32,
        /// Program type.
        prog_type: u32,
        /// Instruction count.
        insn_cnt: u32,
        /// Result.
        ret: i32,
        /// Program name.
        prog_name: Comm,
    }
}

layout! {
    /// memfd_create(2) (`struct rw_memfd`).
    Memfd = "rw_memfd" {
        /// fd or -errno.
        ret: i32,
        /// `MFD_*` flags.
        flags: u32,
    }
    var {
        /// Name given.
        name: ByteString,
    }
}

layout! {
    /// kill/tkill/tgkill (`struct rw_signal`).
    Signal = "rw_signal" {
        /// Target pid.
        target: u32,
        /// Signal number.
        sig: u32,
        /// 0 or -errno.
        ret: i32,
        /// Syscall number.
        syscall: u32,
    }
}

layout! {
    /// An executable file mapping: a loaded shared library (`struct rw_mmap_exec`).
    MmapExec = "rw_mmap_exec" {
        /// Inode.
        ino: u64,
        /// Device.
        dev: u32,
        /// `PROT_*`.
        prot: u32,
        /// `MAP_*`.
        flags: u32,
    }
    var {
        /// Absolute path.
        path: ByteString,
    }
}
