//! The process model: one picture of who ran what, built once from the event stream and
//! shared by every output (timeline, tree, SQLite, graph, analytics).
//!
//! [`Model::apply`] takes one decoded event in time order, updates process images,
//! connections, the DNS cache and loss windows, and returns what the event was attributed
//! to, so that sinks can write it out without keeping events themselves. Memory grows
//! with the number of processes and connections, never with the number of events.

pub mod arena;
pub mod net;
pub mod process;
pub mod proto;

use arena::Arena;
use net::{Conn, ConnId, Direction, Gather, Listener};
use process::{Creds, End, Image, ImageId, Origin};
use proto::{DnsMsg, HttpMsg, TlsHello};
use rewind_schema::container;
use rewind_schema::snapshot::ProcessSnapshot;
use rewind_schema::wire::{self, ByteString, Namespaces, Sock};
use rewind_schema::{Event, EventKind};
use serde::Serialize;
// Keys are pids, cookies and addresses from the trace: FxHash is several times faster than
// SipHash here, and a hostile trace can at worst slow its own replay.
use rustc_hash::FxHashMap as HashMap;
use std::net::{IpAddr, SocketAddr};

/// A snapshot entry matches a known process when their start times differ by less than
/// this: /proc start times have clock-tick (10 ms) granularity.
const SNAPSHOT_START_TOLERANCE_NS: u64 = 20_000_000;

/// What a snippet's payload turned out to be.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "proto", rename_all = "snake_case")]
pub enum App {
    /// A DNS message.
    Dns(DnsMsg),
    /// A TLS hello.
    Tls(TlsHello),
    /// An HTTP head; for a response, the latency since the request on the same socket.
    Http {
        /// The head.
        msg: HttpMsg,
        /// Response time minus request time.
        latency_ns: Option<u64>,
    },
}

/// What [`Model::apply`] attributed an event to.
#[derive(Debug, Clone, Default)]
pub struct Attribution {
    /// The acting image (after an exec: the new image; for a snapshot: its image).
    pub image: Option<ImageId>,
    /// Exec: the image it replaced. Fork: the child.
    pub related: Option<ImageId>,
    /// The connection it belongs to.
    pub conn: Option<ConnId>,
    /// Parsed payload.
    pub app: Option<App>,
}

/// A window in which the recorder lost records.
#[derive(Debug, Clone, Serialize)]
pub struct LossWindow {
    /// Recording index.
    pub recording: u16,
    /// CPU.
    pub cpu: u32,
    /// Records lost.
    pub count: u64,
    /// Boot ns window.
    pub start_ns: u64,
    /// Boot ns window end.
    pub end_ns: u64,
}

/// One boot of one host (recordings of the same boot share process identity).
#[derive(Debug, Clone, Serialize)]
pub struct Boot {
    /// Boot id.
    pub boot_id: String,
    /// Hostname.
    pub hostname: String,
    /// The host's own namespaces, to tell which ones a process left.
    pub init_ns: Option<Namespaces>,
}

/// The process model.
#[derive(Debug, Default)]
pub struct Model {
    /// Boots seen, index = `Image::boot`.
    pub boots: Vec<Boot>,
    /// Recording index -> boot index.
    pub recording_boot: Vec<u16>,
    /// Every image, in creation order (in a streaming replay, only those still needed).
    pub images: Arena<Image>,
    /// Every connection and UDP flow, in creation order (in a streaming replay, only
    /// open ones).
    pub conns: Arena<Conn>,
    /// Listening sockets.
    pub listeners: Vec<Listener>,
    /// Loss windows.
    pub losses: Vec<LossWindow>,
    /// Recording index -> the enforcement policy its header names (rule ids and names for
    /// enforcement records), `None` when it ran without one.
    pub policies: Vec<Option<rewind_schema::meta::PolicySummary>>,
    current: HashMap<(u16, u32), ImageId>,
    streams: HashMap<(u16, u64), ConnId>,
    flows: HashMap<(u16, u64, Option<SocketAddr>), ConnId>,
    tuples: HashMap<(u16, SocketAddr, SocketAddr), ConnId>,
    dns: HashMap<(u16, IpAddr), String>,
    orphans: Vec<(ImageId, u32)>,
    in_snapshot: bool,
    /// Streaming: free exited images nothing refers to and closed connections.
    streaming: bool,
    /// Closed connections to free before the next event (sinks have seen the close).
    doomed: Vec<ConnId>,
    /// Exited images, freed once no event can still be theirs.
    exited: std::collections::VecDeque<(ImageId, u64)>,
    applied: u64,
    last_ts: u64,
}

/// UDP flows have no close record: a streaming replay forgets one idle this long.
const FLOW_IDLE_NS: u64 = 30_000_000_000;
/// Records of a process can follow its exit record (a socket closed by the exit, records
/// from other CPUs): a streaming replay keeps an exited image this long.
const EXIT_GRACE_NS: u64 = 10_000_000_000;

impl Model {
    /// An empty model for these recordings: `(boot id, hostname, init namespaces)` each.
    pub fn new(recordings: &[(String, String, Option<Namespaces>)]) -> Self {
        let mut m = Model::default();
        for (boot_id, hostname, init_ns) in recordings {
            let idx = match m.boots.iter().position(|b| &b.boot_id == boot_id) {
                Some(i) => i,
                None => {
                    m.boots.push(Boot {
                        boot_id: boot_id.clone(),
                        hostname: hostname.clone(),
                        init_ns: *init_ns,
                    });
                    m.boots.len() - 1
                }
            };
            m.recording_boot.push(idx as u16);
        }
        m
    }

    /// An image.
    pub fn image(&self, id: ImageId) -> &Image {
        &self.images[id.idx()]
    }

    /// The rule an enforcement record of `recording` points at, from its header.
    pub fn policy_rule(
        &self,
        recording: u16,
        rule: u32,
    ) -> Option<&rewind_schema::meta::PolicyRuleSummary> {
        self.policies.get(recording as usize)?.as_ref()?.rule(rule)
    }

    /// A connection.
    pub fn conn(&self, id: ConnId) -> &Conn {
        &self.conns[id.idx()]
    }

    /// A connection, unless a streaming replay has already freed it (a peer that closed).
    pub fn try_conn(&self, id: ConnId) -> Option<&Conn> {
        self.conns.get(id.idx())
    }

    /// Streaming mode: exited processes that nothing refers to and closed connections
    /// are freed once sinks have seen their last event, so memory follows live state.
    /// Outputs that need the whole model at the end (tree, SQLite, graph) must not set it.
    pub fn set_streaming(&mut self, on: bool) {
        self.streaming = on;
    }

    /// The image and its ancestors, nearest first (exec chain and forks alike).
    pub fn ancestry(&self, id: ImageId) -> impl Iterator<Item = &Image> {
        let mut next = Some(id);
        let mut steps = 0usize;
        std::iter::from_fn(move || {
            let cur = next?;
            steps += 1;
            // Links never form cycles (see link_orphans); the bound is a guard.
            if steps > self.images.len() {
                return None;
            }
            let img = self.images.get(cur.idx())?;
            next = img.parent;
            Some(img)
        })
    }

    /// Ancestry by process: the image, then the nearest image of each earlier process
    /// (images of one pid replaced by exec, and the fork image before an exec, are one
    /// process; the nearest, i.e. most recent, stands for it).
    pub fn process_ancestry(&self, id: ImageId) -> impl Iterator<Item = &Image> {
        let mut last_pid = None;
        self.ancestry(id).filter(move |i| {
            let new = last_pid != Some((i.boot, i.pid));
            last_pid = Some((i.boot, i.pid));
            new
        })
    }

    /// True when `id` is `root` or descends from it.
    pub fn descends_from(&self, id: ImageId, root: ImageId) -> bool {
        self.ancestry(id).any(|i| i.id == root)
    }

    /// The image a process had at the end of the replay, by pid (most recent boot first).
    pub fn current_image(&self, pid: u32) -> Option<ImageId> {
        (0..self.boots.len() as u16)
            .rev()
            .find_map(|b| self.current.get(&(b, pid)).copied())
    }

    /// The image a pid of one boot has now (during a replay: at the event being applied).
    pub fn current_image_in(&self, boot: u16, pid: u32) -> Option<ImageId> {
        self.current.get(&(boot, pid)).copied()
    }

    /// Which namespaces differ from the host's (names), when the host's are known.
    pub fn non_host_namespaces(&self, img: &Image) -> Vec<&'static str> {
        let Some(init) = self.boots.get(img.boot as usize).and_then(|b| b.init_ns) else {
            return Vec::new();
        };
        crate::names::ns_pairs(&img.ns, &init)
            .iter()
            .filter(|(_, a, b)| *a != 0 && *b != 0 && a != b)
            .map(|(name, _, _)| *name)
            .collect()
    }

    /// Ends the replay: links snapshot processes whose parent entry came last.
    pub fn finish(&mut self) {
        self.link_orphans();
    }

    fn new_image(&mut self, boot: u16, pid: u32, start: u64, origin: Origin) -> ImageId {
        let id = ImageId(self.images.len() as u32);
        self.images.push(Image::blank(id, boot, pid, start, origin));
        id
    }

    /// Links `id` to its parent image, counting the reference (streaming eviction).
    fn set_parent(&mut self, id: ImageId, parent: Option<ImageId>) {
        if let Some(old) = self.images[id.idx()].parent {
            if let Some(o) = self.images.get_mut(old.idx()) {
                o.refs = o.refs.saturating_sub(1);
            }
        }
        self.images[id.idx()].parent = parent;
        if let Some(p) = parent.and_then(|p| self.images.get_mut(p.idx())) {
            p.refs += 1;
        }
    }

    /// Frees what the previous event finished (sinks have seen it), and in streaming
    /// mode UDP flows idle for long.
    fn collect(&mut self, now: u64) {
        while let Some(c) = self.doomed.pop() {
            self.evict_conn(c);
        }
        while let Some(&(id, at)) = self.exited.front() {
            if at.saturating_add(EXIT_GRACE_NS) >= now {
                break;
            }
            self.exited.pop_front();
            self.evict_image(id);
        }
        self.applied += 1;
        if self.applied % 65_536 == 0 {
            let idle: Vec<ConnId> = self
                .flows
                .values()
                .copied()
                .filter(|c| {
                    self.conns
                        .get(c.idx())
                        .is_some_and(|f| f.end_ns.unwrap_or(f.start_ns) + FLOW_IDLE_NS < now)
                })
                .collect();
            for c in idle {
                self.evict_conn(c);
            }
        }
    }

    fn evict_conn(&mut self, id: ConnId) {
        let Some(c) = self.conns.get(id.idx()) else {
            return;
        };
        let (rec, cookie, image, local, remote, dir) =
            (c.recording, c.cookie, c.image, c.local, c.remote, c.dir);
        if self.streams.get(&(rec, cookie)) == Some(&id) {
            self.streams.remove(&(rec, cookie));
        }
        if dir == Direction::Datagram {
            self.flows.remove(&(rec, cookie, remote));
        }
        if let (Some(l), Some(r)) = (local, remote) {
            if self.tuples.get(&(rec, l, r)) == Some(&id) {
                self.tuples.remove(&(rec, l, r));
            }
        }
        self.conns.evict(id.idx());
        self.unref(image);
    }

    fn unref(&mut self, id: ImageId) {
        let Some(img) = self.images.get_mut(id.idx()) else {
            return;
        };
        img.refs = img.refs.saturating_sub(1);
        if img.refs == 0 && self.streaming {
            let done = match img.end {
                Some(End::Exec { .. }) => true,
                Some(End::Exit { .. }) => img
                    .end_ns
                    .is_some_and(|e| e.saturating_add(EXIT_GRACE_NS) < self.last_ts),
                None => false,
            };
            if done {
                self.evict_image(id);
            }
        }
    }

    fn evict_image(&mut self, id: ImageId) {
        let Some(img) = self.images.get(id.idx()) else {
            return;
        };
        if img.refs > 0 {
            return;
        }
        let (boot, pid, parent) = (img.boot, img.pid, img.parent);
        if self.current.get(&(boot, pid)) == Some(&id) {
            self.current.remove(&(boot, pid));
        }
        self.images.evict(id.idx());
        if let Some(p) = parent {
            self.unref(p);
        }
    }

    /// The image doing something now; an unknown one is created on first sight.
    fn acting(&mut self, boot: u16, pid: u32, ts: u64) -> ImageId {
        if let Some(&id) = self.current.get(&(boot, pid)) {
            return id;
        }
        let id = self.new_image(boot, pid, ts, Origin::Unknown);
        self.current.insert((boot, pid), id);
        id
    }

    /// Applies one event (in time order) from recording `rec`.
    pub fn apply(&mut self, rec: u16, ev: &Event) -> Attribution {
        if self.streaming {
            self.last_ts = self.last_ts.max(ev.ts);
            self.collect(self.last_ts);
        }
        let boot = self.recording_boot.get(rec as usize).copied().unwrap_or(0);
        let was_snapshot = self.in_snapshot;
        self.in_snapshot = matches!(ev.kind, EventKind::ProcessSnapshot(_));
        if was_snapshot && !self.in_snapshot {
            self.link_orphans();
        }
        let mut at = Attribution::default();
        use EventKind as K;
        match &ev.kind {
            K::ProcessSnapshot(p) => return self.snapshot(boot, p),
            K::Exec(e) => return self.exec(boot, ev, e),
            K::Fork(f) => {
                let parent = self.acting(boot, ev.pid, ev.ts);
                let child = self.fork(boot, parent, f);
                at.image = Some(parent);
                at.related = Some(child);
            }
            K::Exit(x) => {
                let id = self.acting(boot, ev.pid, ev.ts);
                let img = &mut self.images[id.idx()];
                img.end_ns = Some(ev.ts);
                img.end = Some(End::Exit {
                    code: x.code(),
                    signal: x.signal(),
                    core: x.core_dumped(),
                });
                at.image = Some(id);
                if self.streaming {
                    self.exited.push_back((id, ev.ts));
                }
            }
            K::Loss(l) => {
                self.losses.push(LossWindow {
                    recording: rec,
                    cpu: l.loss_cpu,
                    count: l.count,
                    start_ns: l.window_start,
                    end_ns: l.window_end,
                });
                return at;
            }
            _ => {
                let id = self.acting(boot, ev.pid, ev.ts);
                at.image = Some(id);
                self.activity(rec, boot, id, ev, &mut at);
            }
        }
        if let Some(id) = at.image {
            self.images[id.idx()].counts.events += 1;
        }
        at
    }

    fn snapshot(&mut self, boot: u16, p: &ProcessSnapshot) -> Attribution {
        if let Some(&id) = self.current.get(&(boot, p.pid)) {
            let img = &self.images[id.idx()];
            let same = img.proc_start.abs_diff(p.start) < SNAPSHOT_START_TOLERANCE_NS;
            if same && img.origin != Origin::Unknown {
                return Attribution {
                    image: Some(id),
                    ..Default::default()
                };
            }
            if same {
                // Seen acting before its snapshot entry (another segment): fill it in.
                fill_from_snapshot(&mut self.images[id.idx()], p);
                self.images[id.idx()].origin = Origin::Snapshot;
                return Attribution {
                    image: Some(id),
                    ..Default::default()
                };
            }
        }
        let start = if p.exec_ts != 0 { p.exec_ts } else { p.start };
        let id = self.new_image(boot, p.pid, start, Origin::Snapshot);
        let img = &mut self.images[id.idx()];
        img.proc_start = p.start;
        fill_from_snapshot(img, p);
        self.current.insert((boot, p.pid), id);
        match self.current.get(&(boot, p.ppid)) {
            Some(&parent) if parent != id => self.set_parent(id, Some(parent)),
            _ if p.ppid != 0 => self.orphans.push((id, p.ppid)),
            _ => {}
        }
        Attribution {
            image: Some(id),
            ..Default::default()
        }
    }

    /// Snapshot entries come in pid order, so a parent may follow its child: link them
    /// once the snapshot block is over.
    fn link_orphans(&mut self) {
        for (id, ppid) in std::mem::take(&mut self.orphans) {
            let boot = self.images[id.idx()].boot;
            if let Some(&parent) = self.current.get(&(boot, ppid)) {
                // Never create a cycle (inconsistent /proc data under pid reuse).
                if parent != id && !self.descends_from(parent, id) {
                    self.set_parent(id, Some(parent));
                }
            }
        }
    }

    fn exec(&mut self, boot: u16, ev: &Event, e: &wire::Exec) -> Attribution {
        let prev = self.current.get(&(boot, ev.pid)).copied();
        // The previous image is this process's only if it is the same process (same
        // kernel start time); otherwise the pid was reused and its fork was not seen.
        let same_process = prev.is_some_and(|p| {
            let img = &self.images[p.idx()];
            img.origin == Origin::Unknown
                || img.proc_start.abs_diff(e.proc_start) < SNAPSHOT_START_TOLERANCE_NS
        });
        let parent = if same_process {
            prev
        } else {
            self.current.get(&(boot, e.ppid)).copied()
        };
        let id = self.new_image(boot, ev.pid, ev.ts, Origin::Exec);
        self.set_parent(id, parent);
        {
            let img = &mut self.images[id.idx()];
            img.ppid = e.ppid;
            img.proc_start = e.proc_start;
            img.exe = e.filename.clone();
            img.argv = e.argv.0.clone();
            img.argv_truncated = e.argv_truncated();
            img.comm = ByteString(e.comm.as_bytes().to_vec());
            img.cwd = e.cwd.clone();
            img.creds = Creds {
                uid: e.uid,
                euid: e.euid,
                gid: e.gid,
                egid: e.egid,
                auid: e.auid,
                cap_eff: e.cap_eff,
                cap_prm: e.cap_prm,
            };
            img.ns = e.ns;
            img.cgroup = e.cgroup.clone();
            img.cgroup_id = e.cgroup_id;
            img.container = container::from_cgroup(&e.cgroup.display());
            img.tty = e.tty;
            img.exe_ino = e.exe_ino;
            img.exe_dev = e.exe_dev;
            img.exe_mode = e.exe_mode;
            img.from_memfd = e.flags & wire::exec::EXEC_FROM_MEMFD != 0;
            img.exe_deleted = e.flags & wire::exec::EXEC_EXE_DELETED != 0;
            img.counts.events = 1;
        }
        if let Some(p) = prev.filter(|_| same_process) {
            let old = &mut self.images[p.idx()];
            old.end_ns = Some(ev.ts);
            old.end = Some(End::Exec { next: id });
        } else if let Some(p) = parent {
            self.images[p.idx()].counts.children += 1;
        }
        self.current.insert((boot, ev.pid), id);
        Attribution {
            image: Some(id),
            related: prev.filter(|_| same_process),
            ..Default::default()
        }
    }

    fn fork(&mut self, boot: u16, parent: ImageId, f: &wire::Fork) -> ImageId {
        let id = self.new_image(boot, f.child_pid, f.child_start, Origin::Fork);
        self.set_parent(id, Some(parent));
        // Field by field from the parent: cloning the whole image would also copy its
        // DNS names and credential history, which the child does not inherit.
        let (parents, children) = self.images.pair_mut(parent.idx(), id.idx());
        let (Some(p), Some(img)) = (parents, children) else {
            return id;
        };
        img.ppid = p.pid;
        img.proc_start = f.child_start;
        img.exe.clone_from(&p.exe);
        img.argv.clone_from(&p.argv);
        img.argv_truncated = p.argv_truncated;
        img.comm.clone_from(&p.comm);
        img.cwd.clone_from(&p.cwd);
        img.creds = p.creds;
        img.ns = p.ns;
        img.cgroup.clone_from(&p.cgroup);
        img.cgroup_id = p.cgroup_id;
        img.container.clone_from(&p.container);
        img.tty = p.tty;
        img.exe_ino = p.exe_ino;
        img.exe_dev = p.exe_dev;
        img.exe_mode = p.exe_mode;
        img.from_memfd = p.from_memfd;
        img.exe_deleted = p.exe_deleted;
        self.images[parent.idx()].counts.children += 1;
        self.current.insert((boot, f.child_pid), id);
        id
    }

    fn activity(&mut self, rec: u16, boot: u16, id: ImageId, ev: &Event, at: &mut Attribution) {
        use EventKind as K;
        match &ev.kind {
            K::Open(_) | K::Unlink(_) | K::Rename(_) | K::Chmod(_) | K::Chown(_) => {
                self.images[id.idx()].counts.files += 1;
            }
            K::Cred(c) if c.ret == 0 => {
                let img = &mut self.images[id.idx()];
                let cr = &mut img.creds;
                cr.uid = c.new.uid;
                cr.euid = c.new.euid;
                cr.gid = c.new.gid;
                cr.egid = c.new.egid;
                let now = *cr;
                img.cred_history.push((ev.ts, now));
            }
            K::Capset(c) if c.ret == 0 => {
                let img = &mut self.images[id.idx()];
                img.creds.cap_eff = c.new_eff;
                img.creds.cap_prm = c.new_prm;
                let now = img.creds;
                img.cred_history.push((ev.ts, now));
            }
            K::Namespace(n) if n.ret == 0 && n.new != Namespaces::default() => {
                self.images[id.idx()].ns = n.new;
            }
            K::Connect(c) => {
                let cid = self.open_stream(rec, boot, id, &c.sock, Direction::Outbound, ev.ts);
                let conn = &mut self.conns[cid.idx()];
                conn.ret = c.ret;
                if !c.path.is_empty() {
                    conn.unix_path = Some(c.path.clone());
                }
                if conn.failed() {
                    conn.end_ns = Some(ev.ts);
                    self.streams.remove(&(rec, c.sock.cookie));
                    if self.streaming {
                        self.doomed.push(cid);
                    }
                }
                at.conn = Some(cid);
            }
            K::ConnResult(r) => {
                // A result for a connect that already failed in its call (its stream is
                // gone) or was never seen adds nothing.
                if let Some(&cid) = self.streams.get(&(rec, r.sock.cookie)) {
                    let conn = &mut self.conns[cid.idx()];
                    conn.settled = Some(net::Settled {
                        ns: ev.ts,
                        established: r.established(),
                        err: r.err,
                        after_ns: r.duration_ns,
                    });
                    if conn.failed() {
                        conn.end_ns = Some(ev.ts);
                        self.streams.remove(&(rec, r.sock.cookie));
                        if self.streaming {
                            self.doomed.push(cid);
                        }
                    }
                    at.conn = Some(cid);
                }
            }
            K::Accept(a) if a.ret >= 0 => {
                at.conn = Some(self.open_stream(rec, boot, id, &a.sock, Direction::Inbound, ev.ts));
            }
            K::Listen(l) => self.listeners.push(Listener {
                image: id,
                ts: ev.ts,
                proto: l.sock.proto(),
                local: l.sock.local(),
                port: l.sock.lport,
                ret: l.ret,
            }),
            K::SockClose(c) => {
                let cid = self.stream(rec, boot, id, &c.sock, ev.ts);
                let conn = &mut self.conns[cid.idx()];
                conn.bytes_sent = c.bytes_sent;
                conn.bytes_received = c.bytes_received;
                conn.end_ns = Some(ev.ts);
                self.streams.remove(&(rec, c.sock.cookie));
                if self.streaming {
                    self.doomed.push(cid);
                }
                at.conn = Some(cid);
            }
            K::UdpSend(u) | K::UdpRecv(u) => {
                let cid = self.flow(rec, boot, id, &u.sock, ev.ts);
                let conn = &mut self.conns[cid.idx()];
                conn.datagrams += 1;
                if u.ret >= 0 {
                    if matches!(ev.kind, K::UdpSend(_)) {
                        conn.bytes_sent += u.len as u64;
                    } else {
                        conn.bytes_received += u.len as u64;
                    }
                }
                conn.end_ns = Some(ev.ts);
                at.conn = Some(cid);
            }
            K::Dns(s) => {
                let cid = self.flow(rec, boot, id, &s.sock, ev.ts);
                at.conn = Some(cid);
                if let Some(m) = proto::parse_dns(&s.data.0) {
                    let names = &mut self.images[id.idx()].counts.dns_names;
                    for (q, _) in &m.questions {
                        if !names.contains(q) {
                            names.push(q.clone());
                        }
                    }
                    if m.response {
                        // Answers map addresses back to the name that was asked for.
                        let asked = m.questions.first().map(|q| q.0.clone());
                        for (name, ip) in &m.addrs {
                            let n = asked.clone().unwrap_or_else(|| name.clone());
                            self.dns.insert((boot, *ip), n);
                        }
                    }
                    at.app = Some(App::Dns(m));
                }
            }
            K::Snippet(s) => {
                let cid = self.stream(rec, boot, id, &s.sock, ev.ts);
                at.conn = Some(cid);
                at.app = self.snippet(cid, s, ev.ts);
            }
            _ => {}
        }
    }

    fn open_stream(
        &mut self,
        rec: u16,
        boot: u16,
        image: ImageId,
        sock: &Sock,
        dir: Direction,
        ts: u64,
    ) -> ConnId {
        let id = self.new_conn(rec, boot, image, sock, dir, ts);
        let (local, remote) = (self.conns[id.idx()].local, self.conns[id.idx()].remote);
        if let (Some(l), Some(r)) = (local, remote) {
            if let Some(&peer) = self.tuples.get(&(rec, r, l)) {
                if self.conns[peer.idx()].end_ns.is_none() {
                    self.conns[id.idx()].peer = Some(peer);
                    self.conns[peer.idx()].peer = Some(id);
                }
            }
            self.tuples.insert((rec, l, r), id);
        }
        self.streams.insert((rec, sock.cookie), id);
        id
    }

    /// A new connection or flow of `image`, named by an earlier DNS answer when one gave
    /// its remote address.
    fn new_conn(
        &mut self,
        rec: u16,
        boot: u16,
        image: ImageId,
        sock: &Sock,
        dir: Direction,
        ts: u64,
    ) -> ConnId {
        let id = ConnId(self.conns.len() as u32);
        let mut c = Conn::new(id, image, rec, sock, dir, ts);
        if let Some(r) = c.remote {
            c.remote_name = self.dns.get(&(boot, r.ip())).cloned();
        }
        self.conns.push(c);
        let img = &mut self.images[image.idx()];
        img.refs += 1;
        img.counts.conns += 1;
        id
    }

    /// The stream a socket belongs to; one already open when first seen is created.
    fn stream(&mut self, rec: u16, boot: u16, image: ImageId, sock: &Sock, ts: u64) -> ConnId {
        match self.streams.get(&(rec, sock.cookie)) {
            Some(&id) => id,
            None => self.open_stream(rec, boot, image, sock, Direction::Existing, ts),
        }
    }

    fn flow(&mut self, rec: u16, boot: u16, image: ImageId, sock: &Sock, ts: u64) -> ConnId {
        let key = (rec, sock.cookie, sock.remote());
        if let Some(&id) = self.flows.get(&key) {
            return id;
        }
        let id = self.new_conn(rec, boot, image, sock, Direction::Datagram, ts);
        self.flows.insert(key, id);
        id
    }

    /// What a TCP snippet says. Snippets of one direction come at stream offsets (the
    /// recorder captures up to its snippet length across calls): a piece continuing bytes
    /// that did not yet make a whole TLS hello or HTTP head is joined to them and the
    /// whole parsed again; the event gets the result when it is new. A piece after a gap
    /// (bytes moved without a snippet, e.g. by sendfile) or continuing bytes already
    /// understood says nothing.
    fn snippet(&mut self, cid: ConnId, s: &wire::Snippet, ts: u64) -> Option<App> {
        let dir = s.inbound() as usize;
        let off = s.offset() as usize;
        let conn = &mut self.conns[cid.idx()];
        // Offset 0 starts afresh (also every snippet of traces older than offsets).
        let earlier = conn.gather[dir].take().filter(|_| off > 0);
        let gathered = earlier.is_some();
        let (bytes, said) = match earlier {
            None if off == 0 => (std::borrow::Cow::Borrowed(&s.data.0[..]), None),
            None => return None,
            Some(g) if off > g.bytes.len() => return None,
            Some(g) => {
                let Gather { mut bytes, said } = *g;
                bytes.truncate(off);
                bytes.extend_from_slice(&s.data.0);
                (std::borrow::Cow::Owned(bytes), said)
            }
        };
        let app = Self::parse_stream(conn, &bytes, ts, gathered);
        let whole = match &app {
            Some(App::Tls(h)) => !h.truncated(),
            Some(App::Http { .. }) => bytes.windows(4).any(|w| w == b"\r\n\r\n"),
            _ => false,
        };
        // More follows unless this call moved more than the snippet kept (the limit).
        let more = s.flags & wire::net::SNIPPET_TRUNCATED == 0 && bytes.len() < MAX_GATHER;
        let new = app.is_some() && app != said;
        if more && !whole {
            conn.gather[dir] = Some(Box::new(Gather {
                bytes: bytes.into_owned(),
                said: app.clone(),
            }));
        }
        if new {
            app
        } else {
            None
        }
    }

    /// Parses a direction's bytes from offset 0 and notes a hello or head on the
    /// connection: the first one seen, or (`gathered`) a more complete reading of it.
    fn parse_stream(conn: &mut Conn, data: &[u8], ts: u64, gathered: bool) -> Option<App> {
        if let Some(h) = proto::parse_tls(data) {
            let slot = match h {
                TlsHello::Client { .. } => &mut conn.tls_client,
                TlsHello::Server { .. } => &mut conn.tls_server,
            };
            if slot.is_none() || gathered {
                *slot = Some(Box::new(h.clone()));
            }
            return Some(App::Tls(h));
        }
        let msg = proto::parse_http(data)?;
        let latency_ns = match msg {
            HttpMsg::Request { .. } => {
                match conn.http_request.as_deref_mut() {
                    None => conn.http_request = Some(Box::new((ts, msg.clone()))),
                    Some((_, m)) if gathered => *m = msg.clone(),
                    Some(_) => {}
                }
                None
            }
            HttpMsg::Response { .. } => {
                match conn.http_response.as_deref_mut() {
                    None => conn.http_response = Some(Box::new((ts, msg.clone()))),
                    Some((_, m)) if gathered => *m = msg.clone(),
                    Some(_) => {}
                }
                conn.http_latency_ns()
            }
        };
        Some(App::Http { msg, latency_ns })
    }
}

/// Most bytes of one direction gathered (the recorder's snippet length is at most 1024).
const MAX_GATHER: usize = 1024;

fn fill_from_snapshot(img: &mut Image, p: &ProcessSnapshot) {
    img.ppid = p.ppid;
    img.exe = p.exe.clone();
    img.argv = p.argv.clone();
    img.comm = p.comm.clone();
    img.cwd = p.cwd.clone();
    img.creds = Creds {
        uid: p.uid,
        euid: p.euid,
        gid: p.gid,
        egid: p.egid,
        auid: p.auid,
        cap_eff: p.cap_eff,
        cap_prm: p.cap_prm,
    };
    img.ns = p.ns;
    img.cgroup = p.cgroup.clone();
    img.cgroup_id = p.cgroup_id;
    img.container = container::from_cgroup(&p.cgroup.display());
    img.tty = p.tty;
}
