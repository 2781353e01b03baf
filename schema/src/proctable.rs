//! The table of live processes a writer keeps from the records it writes, so that a new
//! segment opened by rotation starts with a snapshot of every process still alive.

use crate::event::{self, EventKind, RecordType};
use crate::snapshot::{ProcessSnapshot, SnapshotSource};
use crate::wire::RecordHeader;
use std::collections::HashMap;

/// Live processes by tgid.
#[derive(Debug, Default, Clone)]
pub struct ProcessTable {
    procs: HashMap<u32, ProcessSnapshot>,
}

impl ProcessTable {
    /// Adds or replaces a process (from /proc, or a synthetic snapshot).
    pub fn insert(&mut self, p: ProcessSnapshot) {
        self.procs.insert(p.pid, p);
    }

    /// Number of live processes.
    pub fn len(&self) -> usize {
        self.procs.len()
    }

    /// True when no process is known.
    pub fn is_empty(&self) -> bool {
        self.procs.is_empty()
    }

    /// A process by tgid.
    pub fn get(&self, pid: u32) -> Option<&ProcessSnapshot> {
        self.procs.get(&pid)
    }

    /// Updates the table from one raw record; only exec, fork and exit matter, and only
    /// those are decoded.
    pub fn observe(&mut self, rec: &[u8]) {
        let Some(hdr) = RecordHeader::parse(rec) else {
            return;
        };
        let interesting = matches!(
            RecordType::from_u16(hdr.rtype),
            Some(RecordType::Exec | RecordType::Fork | RecordType::Exit)
        );
        if !interesting {
            return;
        }
        let Ok(ev) = event::decode(rec) else { return };
        match ev.kind {
            EventKind::Fork(f) if f.child_pid != ev.pid => {
                let mut child = self.procs.get(&ev.pid).cloned().unwrap_or_default();
                child.pid = f.child_pid;
                child.ppid = ev.pid;
                child.start = f.child_start;
                child.source = SnapshotSource::Tracked;
                self.procs.insert(f.child_pid, child);
            }
            EventKind::Exec(x) => {
                let p = self.procs.entry(ev.pid).or_default();
                p.pid = ev.pid;
                if x.ppid != 0 || p.ppid == 0 {
                    p.ppid = x.ppid;
                }
                if x.proc_start != 0 {
                    p.start = x.proc_start;
                }
                p.exec_ts = ev.ts;
                p.comm = x.comm.as_bytes().to_vec().into();
                p.exe = x.filename;
                p.argv = x.argv.0;
                p.cwd = x.cwd;
                p.uid = x.uid;
                p.gid = x.gid;
                p.euid = x.euid;
                p.egid = x.egid;
                p.auid = x.auid;
                p.cap_eff = x.cap_eff;
                p.cap_prm = x.cap_prm;
                p.cgroup = x.cgroup;
                p.cgroup_id = x.cgroup_id;
                p.ns = x.ns;
                p.tty = x.tty;
                p.source = SnapshotSource::Tracked;
            }
            EventKind::Exit(x) if x.flags & 1 != 0 => {
                self.procs.remove(&ev.pid);
            }
            _ => {}
        }
    }

    /// Every live process, sorted by tgid.
    pub fn snapshot(&self) -> Vec<ProcessSnapshot> {
        let mut v: Vec<_> = self.procs.values().cloned().collect();
        v.sort_by_key(|p| (p.pid, p.start));
        v
    }
}
