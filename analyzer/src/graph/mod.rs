//! The process-network graph: who ran what, touched which files, talked to which
//! endpoints and resolved which names, as a petgraph [`StableGraph`] built by a replay
//! [`Sink`] from the one process model. `analyzer graph` prints it as DOT or JSON; the
//! HTML report draws the same [`ProcessGraph`].
//!
//! Nodes are deduplicated: one per process image (by exec id), per executable path, per
//! file path, per endpoint (`ip:port` or unix path) and per DNS name. Edges between the
//! same two nodes of the same kind are merged and carry a count, the first time and, by
//! kind, the file operations, bytes or peers.

pub mod render;

use crate::model::net::Direction;
use crate::model::process::{End, ImageId, Origin};
use crate::model::{App, Model};
use crate::replay::{Sink, Step};
use crate::timeline::words::routine_path;
use crate::timeline::ProcSel;
use petgraph::stable_graph::{NodeIndex, StableGraph};
use petgraph::visit::{EdgeRef, IntoEdgeReferences};
use rewind_schema::wire::ByteString;
use rewind_schema::EventKind;
use serde::Serialize;
use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::net::{IpAddr, SocketAddr};

/// What a node stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NodeKind {
    /// A process image (one per exec, fork, or snapshot entry).
    Process,
    /// A program file that was executed.
    Executable,
    /// A file opened or changed.
    File,
    /// A network endpoint (`ip:port`) or unix socket path.
    Endpoint,
    /// A DNS name.
    DnsName,
}

impl NodeKind {
    /// Lower-case name, as in JSON.
    pub fn name(self) -> &'static str {
        match self {
            NodeKind::Process => "process",
            NodeKind::Executable => "executable",
            NodeKind::File => "file",
            NodeKind::Endpoint => "endpoint",
            NodeKind::DnsName => "dns_name",
        }
    }
}

/// What an edge says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EdgeKind {
    /// Process -> process: the child was forked (`via: fork`), exec'd from (`exec`), or
    /// forked and exec'd at once (`spawn`) by the parent.
    Parent,
    /// Process -> executable: the image runs this program.
    Exec,
    /// Process -> file: opened (read, written, created) or changed (unlink, rename,
    /// chmod, chown), failed attempts included and counted.
    Opened,
    /// Process -> endpoint: an outbound connection, UDP flow, or a socket already open.
    Connected,
    /// Endpoint -> process: a connection accepted on this local endpoint.
    Accepted,
    /// Process -> DNS name: the process asked for it. DNS name -> endpoint: a connection
    /// went to an address a DNS answer in the trace gave for that name.
    Resolved,
}

impl EdgeKind {
    /// Lower-case name, as in JSON and DOT labels.
    pub fn name(self) -> &'static str {
        match self {
            EdgeKind::Parent => "parent",
            EdgeKind::Exec => "exec",
            EdgeKind::Opened => "opened",
            EdgeKind::Connected => "connected",
            EdgeKind::Accepted => "accepted",
            EdgeKind::Resolved => "resolved",
        }
    }
}

/// What the model knows about a process node.
#[derive(Debug, Clone, Serialize)]
pub struct ProcessInfo {
    /// The image in the model this node was built from.
    #[serde(skip)]
    pub image: ImageId,
    /// `tgid@start_ns`, the identity that survives across runs.
    pub exec_id: String,
    /// Thread-group id.
    pub pid: u32,
    /// Program path.
    pub exe: String,
    /// Command line.
    pub cmdline: String,
    /// Real uid.
    pub uid: u32,
    /// Effective uid.
    pub euid: u32,
    /// How the model learned about it.
    pub origin: &'static str,
    /// Container id, when in one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container: Option<String>,
    /// Exit code, when it exited normally.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<u8>,
    /// Signal that killed it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exit_signal: Option<u8>,
}

/// A node.
#[derive(Debug, Clone, Serialize)]
pub struct Node {
    /// Stable id (`proc:16033@4001`, `file:/etc/passwd`, `ep:127.0.0.1:14444`, ...); the
    /// host name is part of it for host-local things when the input spans several hosts.
    pub id: String,
    /// What it is.
    pub kind: NodeKind,
    /// Short display text (`bash[16033]`, a path, an address, a name).
    pub label: String,
    /// Host it belongs to (empty for DNS names and public endpoints).
    pub host: String,
    /// Wall-clock ns it was first seen.
    pub first_ns: Option<i128>,
    /// Process details (process nodes only).
    pub process: Option<ProcessInfo>,
}

/// An edge: one or more occurrences of the same relation between two nodes.
#[derive(Debug, Clone, Serialize)]
pub struct Edge {
    /// What it says.
    pub kind: EdgeKind,
    /// Occurrences merged into it (opens, connections, queries, ...).
    pub count: u64,
    /// Of those, failed ones (open or connect returned an error).
    pub failed: u64,
    /// Wall-clock ns of the first occurrence.
    pub first_ns: Option<i128>,
    /// File operations (`read`, `write`, `create`, `truncate`, `unlink`, `rename_from`,
    /// `rename_to`, `chmod`, `chown`), for `opened`.
    pub ops: BTreeSet<&'static str>,
    /// Protocols (`tcp`, `udp`, `unix`), for `connected` and `accepted`.
    pub protos: BTreeSet<&'static str>,
    /// Bytes the process sent, for `connected` and `accepted`.
    pub bytes_sent: u64,
    /// Bytes the process received.
    pub bytes_received: u64,
    /// Remote addresses connections came from, for `accepted`.
    pub peers: BTreeSet<String>,
    /// For `parent`: `fork`, `exec` (same process, new program) or `spawn` (a fork that
    /// exec'd at once, drawn as one step).
    pub via: Option<&'static str>,
}

impl Edge {
    fn new(kind: EdgeKind) -> Self {
        Edge {
            kind,
            count: 0,
            failed: 0,
            first_ns: None,
            ops: BTreeSet::new(),
            protos: BTreeSet::new(),
            bytes_sent: 0,
            bytes_received: 0,
            peers: BTreeSet::new(),
            via: None,
        }
    }

    fn seen(&mut self, at: Option<i128>) {
        self.count += 1;
        self.first_ns = min_time(self.first_ns, at);
    }
}

fn min_time(a: Option<i128>, b: Option<i128>) -> Option<i128> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, None) => x,
        (None, y) => y,
    }
}

/// The graph with its node index (id -> node).
#[derive(Debug, Clone, Default)]
pub struct ProcessGraph {
    /// The petgraph graph.
    pub graph: StableGraph<Node, Edge>,
    index: HashMap<String, NodeIndex>,
    /// Image index -> its node (a folded fork maps to the image it exec'd).
    images: Vec<Option<NodeIndex>>,
    /// Records the recorder lost (loss windows in the trace): the graph may miss edges.
    pub lost_records: u64,
    edges: HashMap<(NodeIndex, NodeIndex, EdgeKind), petgraph::stable_graph::EdgeIndex>,
}

impl ProcessGraph {
    /// The node with this id.
    pub fn node(&self, id: &str) -> Option<NodeIndex> {
        self.index.get(id).copied()
    }

    /// The node drawing this image (a fork that only exec'd is drawn as what it exec'd).
    pub fn image_node(&self, id: ImageId) -> Option<NodeIndex> {
        self.images.get(id.idx()).copied().flatten()
    }

    /// Node indices sorted by id: the order every output uses.
    pub fn sorted_nodes(&self) -> Vec<NodeIndex> {
        let mut v: Vec<NodeIndex> = self.graph.node_indices().collect();
        v.sort_by(|a, b| self.graph[*a].id.cmp(&self.graph[*b].id));
        v
    }

    /// Edges as (source, target, edge), sorted by source id, target id, kind.
    pub fn sorted_edges(&self) -> Vec<(NodeIndex, NodeIndex, &Edge)> {
        let mut v: Vec<_> = (&self.graph)
            .edge_references()
            .map(|e| (e.source(), e.target(), e.weight()))
            .collect();
        v.sort_by(|a, b| {
            (&self.graph[a.0].id, &self.graph[a.1].id, a.2.kind).cmp(&(
                &self.graph[b.0].id,
                &self.graph[b.1].id,
                b.2.kind,
            ))
        });
        v
    }

    fn add_node(&mut self, node: Node) -> NodeIndex {
        if let Some(&i) = self.index.get(&node.id) {
            let first = min_time(self.graph[i].first_ns, node.first_ns);
            self.graph[i].first_ns = first;
            return i;
        }
        let id = node.id.clone();
        let i = self.graph.add_node(node);
        self.index.insert(id, i);
        i
    }

    /// The edge `a -kind-> b`, created empty when new.
    fn edge(&mut self, a: NodeIndex, b: NodeIndex, kind: EdgeKind) -> &mut Edge {
        let e = match self.edges.get(&(a, b, kind)) {
            Some(&e) => e,
            None => {
                let e = self.graph.add_edge(a, b, Edge::new(kind));
                self.edges.insert((a, b, kind), e);
                e
            }
        };
        &mut self.graph[e]
    }

    /// The subgraph within `depth` hops (either direction) of the process nodes `sel`
    /// matches. Files and executables are included but not walked through: they are
    /// shared by unrelated processes (`/etc/passwd`, `/usr/bin/bash`). `None` when no
    /// process matches.
    pub fn around(&self, model: &Model, sel: &ProcSel, depth: u32) -> Option<ProcessGraph> {
        let seeds = model
            .images
            .iter()
            .filter(|i| sel.matches(model, i.id))
            .map(|i| i.id);
        self.around_images(seeds, depth)
    }

    /// The subgraph within `depth` hops of these images' process nodes (as
    /// [`ProcessGraph::around`]); `None` when none of them is drawn.
    pub fn around_images(
        &self,
        images: impl IntoIterator<Item = ImageId>,
        depth: u32,
    ) -> Option<ProcessGraph> {
        let seeds: BTreeSet<NodeIndex> = images
            .into_iter()
            .filter_map(|i| self.image_node(i))
            .collect();
        if seeds.is_empty() {
            return None;
        }
        let mut keep: HashSet<NodeIndex> = seeds.iter().copied().collect();
        let mut queue: VecDeque<(NodeIndex, u32)> = seeds.into_iter().map(|n| (n, 0)).collect();
        while let Some((n, d)) = queue.pop_front() {
            if d >= depth {
                continue;
            }
            let kind = self.graph[n].kind;
            if d > 0 && matches!(kind, NodeKind::File | NodeKind::Executable) {
                continue;
            }
            // Not through an edge of failed attempts only: every process that tried the
            // absent nscd socket (or a closed port) would otherwise be one hop from the next.
            let edges = self
                .graph
                .edges_directed(n, petgraph::Direction::Outgoing)
                .map(|e| (e.target(), e.weight()))
                .chain(
                    self.graph
                        .edges_directed(n, petgraph::Direction::Incoming)
                        .map(|e| (e.source(), e.weight())),
                );
            for (m, e) in edges {
                if e.count > 0 && e.failed >= e.count {
                    continue;
                }
                if keep.insert(m) {
                    queue.push_back((m, d + 1));
                }
            }
        }
        let mut sub = ProcessGraph {
            lost_records: self.lost_records,
            ..Default::default()
        };
        let mut map = HashMap::new();
        for n in self.sorted_nodes() {
            if keep.contains(&n) {
                map.insert(n, sub.add_node(self.graph[n].clone()));
            }
        }
        for (a, b, e) in self.sorted_edges() {
            if let (Some(&x), Some(&y)) = (map.get(&a), map.get(&b)) {
                *sub.edge(x, y, e.kind) = e.clone();
            }
        }
        sub.images = self
            .images
            .iter()
            .map(|n| n.and_then(|n| map.get(&n).copied()))
            .collect();
        Some(sub)
    }
}

/// Options of the graph.
#[derive(Debug, Clone, Copy, Default)]
pub struct GraphOptions {
    /// Also the loader, locale and library files every program opens.
    pub routine_files: bool,
}

#[derive(Debug, Default)]
struct FileUse {
    count: u64,
    failed: u64,
    first: Option<i128>,
    ops: BTreeSet<&'static str>,
}

/// A [`Sink`] that collects what the model does not keep (file operations, first-seen
/// times) and builds the [`ProcessGraph`] at the end of the replay.
#[derive(Debug, Default)]
pub struct GraphBuilder {
    opts: GraphOptions,
    image_first: Vec<Option<i128>>,
    conn_first: Vec<Option<i128>>,
    /// (image, path) -> use; paths are host-scoped through the image's boot.
    files: HashMap<(ImageId, ByteString), FileUse>,
    dns_first: HashMap<(ImageId, String), i128>,
    graph: ProcessGraph,
}

fn set_first(v: &mut Vec<Option<i128>>, idx: usize, t: i128) {
    if v.len() <= idx {
        v.resize(idx + 1, None);
    }
    if v[idx].is_none() {
        v[idx] = Some(t);
    }
}

impl GraphBuilder {
    /// A builder with these options.
    pub fn new(opts: GraphOptions) -> Self {
        GraphBuilder {
            opts,
            ..Default::default()
        }
    }

    /// The graph (complete after the replay's `finish`).
    pub fn graph(&self) -> &ProcessGraph {
        &self.graph
    }

    /// Takes the graph out.
    pub fn into_graph(self) -> ProcessGraph {
        self.graph
    }

    fn file(&mut self, image: ImageId, path: &ByteString, ops: &[&'static str], ok: bool, t: i128) {
        if !self.opts.routine_files && routine_path(path.as_bytes()) {
            return;
        }
        if path.is_empty() {
            return;
        }
        let u = self.files.entry((image, path.clone())).or_default();
        u.count += 1;
        if !ok {
            u.failed += 1;
        }
        u.first = min_time(u.first, Some(t));
        u.ops.extend(ops.iter().copied());
    }

    fn build(&mut self, model: &Model) {
        let hosts: BTreeSet<&str> = model.boots.iter().map(|b| b.hostname.as_str()).collect();
        let multi_host = hosts.len() > 1;
        let host_of = |boot: u16| -> String {
            model
                .boots
                .get(boot as usize)
                .map(|b| b.hostname.clone())
                .unwrap_or_default()
        };
        let scoped = |prefix: &str, host: &str, key: &str| -> String {
            if multi_host {
                format!("{prefix}:{host}:{key}")
            } else {
                format!("{prefix}:{key}")
            }
        };
        let g = &mut self.graph;
        // Processes, in creation order; exec ids are unique in practice, but a clash
        // (same pid and start ns) must not merge two images. A fork that did nothing but
        // exec is drawn as its exec'd image: `python3 -> sh`, not `python3 -> python3 -> sh`.
        let mut proc_node: Vec<Option<NodeIndex>> = vec![None; model.images.len()];
        let mut used: HashSet<String> = HashSet::new();
        for img in &model.images {
            if spawn_only(model, img.id).is_some() {
                continue;
            }
            let mut id = format!("proc:{}", img.exec_id());
            if !used.insert(id.clone()) {
                id = format!("{id}#{}", img.id.0);
                used.insert(id.clone());
            }
            let info = ProcessInfo {
                image: img.id,
                exec_id: img.exec_id(),
                pid: img.pid,
                exe: img.exe.display(),
                cmdline: img.cmdline(),
                uid: img.creds.uid,
                euid: img.creds.euid,
                origin: img.origin.name(),
                container: img.container.as_ref().map(|c| c.id.clone()),
                exit_code: img.exit_code(),
                exit_signal: img.exit_signal(),
            };
            let n = g.add_node(Node {
                id,
                kind: NodeKind::Process,
                label: img.label(),
                host: host_of(img.boot),
                first_ns: self.image_first.get(img.id.idx()).copied().flatten(),
                process: Some(info),
            });
            proc_node[img.id.idx()] = Some(n);
        }
        // Collapsed forks stand for the image they exec'd (chains are followed, bounded).
        let node_of = |mut id: ImageId| -> Option<NodeIndex> {
            for _ in 0..=model.images.len() {
                match proc_node.get(id.idx()).copied().flatten() {
                    Some(n) => return Some(n),
                    None => id = spawn_only(model, id)?,
                }
            }
            None
        };
        for img in &model.images {
            let Some(me) = proc_node[img.id.idx()] else {
                continue;
            };
            let t = g.graph[me].first_ns;
            if let Some(p) = img.parent {
                let (from, via) = match spawn_only(model, p) {
                    Some(_) => (model.image(p).parent, "spawn"),
                    None => match model.image(p).end {
                        Some(End::Exec { next }) if next == img.id => (Some(p), "exec"),
                        _ => (Some(p), "fork"),
                    },
                };
                if let Some(from) = from.and_then(node_of) {
                    let e = g.edge(from, me, EdgeKind::Parent);
                    e.seen(t);
                    e.via = Some(via);
                }
            }
            let runs = matches!(img.origin, Origin::Exec | Origin::Snapshot);
            if runs && !img.exe.is_empty() {
                let host = host_of(img.boot);
                let path = img.exe.display();
                let x = g.add_node(Node {
                    id: scoped("exe", &host, &path),
                    kind: NodeKind::Executable,
                    label: path,
                    host,
                    first_ns: t,
                    process: None,
                });
                g.edge(me, x, EdgeKind::Exec).seen(t);
            }
        }
        // Files, sorted so node creation order (and so petgraph indices) is stable.
        let mut files: Vec<_> = self.files.iter().collect();
        files.sort_by(|a, b| a.0.cmp(b.0));
        for ((image, path), u) in files {
            let img = model.image(*image);
            let host = host_of(img.boot);
            let p = path.display();
            let f = g.add_node(Node {
                id: scoped("file", &host, &p),
                kind: NodeKind::File,
                label: p,
                host,
                first_ns: u.first,
                process: None,
            });
            let Some(me) = node_of(*image) else { continue };
            let e = g.edge(me, f, EdgeKind::Opened);
            e.count += u.count;
            e.failed += u.failed;
            e.first_ns = min_time(e.first_ns, u.first);
            e.ops.extend(u.ops.iter().copied());
        }
        // Connections.
        for c in &model.conns {
            let img = model.image(c.image);
            let Some(me) = node_of(c.image) else { continue };
            let t = self.conn_first.get(c.id.idx()).copied().flatten();
            let host = host_of(img.boot);
            let inbound = c.dir == Direction::Inbound;
            let (id, label, ep_host) = if let Some(p) = &c.unix_path {
                let p = p.display();
                (scoped("unix", &host, &p), p, host.clone())
            } else {
                let addr = if inbound { c.local } else { c.remote };
                let Some(addr) = addr else { continue };
                let local = host_local(addr);
                let h = if local { host.clone() } else { String::new() };
                let id = if local {
                    scoped("ep", &host, &addr.to_string())
                } else {
                    format!("ep:{addr}")
                };
                (id, addr.to_string(), h)
            };
            let ep = g.add_node(Node {
                id,
                kind: NodeKind::Endpoint,
                label,
                host: ep_host,
                first_ns: t,
                process: None,
            });
            let e = if inbound {
                g.edge(ep, me, EdgeKind::Accepted)
            } else {
                g.edge(me, ep, EdgeKind::Connected)
            };
            e.seen(t);
            if c.failed() {
                e.failed += 1;
            }
            e.protos.insert(c.proto);
            e.bytes_sent += c.bytes_sent;
            e.bytes_received += c.bytes_received;
            if inbound {
                if let Some(r) = c.remote {
                    // Bounded: a busy server accepts from many ports; the address is what
                    // matters, and a few hundred of them are already too many to draw.
                    if e.peers.len() < 256 {
                        e.peers.insert(r.ip().to_string());
                    }
                }
            }
            if let (Some(name), false) = (&c.remote_name, inbound) {
                let d = g.add_node(dns_node(name, t));
                g.edge(d, ep, EdgeKind::Resolved).seen(t);
            }
        }
        // Names each process asked for.
        for img in &model.images {
            for name in &img.counts.dns_names {
                let t = self.dns_first.get(&(img.id, name.clone())).copied();
                let d = g.add_node(dns_node(name, t));
                if let Some(me) = node_of(img.id) {
                    g.edge(me, d, EdgeKind::Resolved).seen(t);
                }
            }
        }
        g.images = model.images.iter().map(|i| node_of(i.id)).collect();
        g.lost_records = model.losses.iter().map(|l| l.count).sum();
    }
}

/// For a fork image that did nothing before it exec'd (no events, no children of its
/// own): the image it became.
fn spawn_only(model: &Model, id: ImageId) -> Option<ImageId> {
    let img = model.images.get(id.idx())?;
    match img.end {
        Some(End::Exec { next })
            if img.origin == Origin::Fork && img.counts.events == 0 && img.counts.children == 0 =>
        {
            Some(next)
        }
        _ => None,
    }
}

fn dns_node(name: &str, t: Option<i128>) -> Node {
    Node {
        id: format!("dns:{name}"),
        kind: NodeKind::DnsName,
        label: name.to_string(),
        host: String::new(),
        first_ns: t,
        process: None,
    }
}

/// Addresses that mean something only on their own host.
fn host_local(a: SocketAddr) -> bool {
    match a.ip() {
        IpAddr::V4(v) => v.is_loopback() || v.is_unspecified() || v.is_link_local(),
        IpAddr::V6(v) => {
            v.is_loopback() || v.is_unspecified() || (v.segments()[0] & 0xffc0) == 0xfe80
        }
    }
}

impl Sink for GraphBuilder {
    fn step(&mut self, _model: &Model, step: &Step) -> anyhow::Result<()> {
        let t = step.wall_ns;
        let at = step.at;
        if let Some(i) = at.image {
            set_first(&mut self.image_first, i.idx(), t);
        }
        if let Some(i) = at.related {
            set_first(&mut self.image_first, i.idx(), t);
        }
        if let Some(c) = at.conn {
            set_first(&mut self.conn_first, c.idx(), t);
        }
        let Some(image) = at.image else {
            return Ok(());
        };
        use EventKind as K;
        match &step.ev.kind {
            K::Open(o) => {
                let mut ops = vec![if o.open_flags & 3 == 0 {
                    "read"
                } else {
                    "write"
                }];
                if o.open_flags & 0o100 != 0 {
                    ops.push("create");
                }
                if o.open_flags & 0o1000 != 0 {
                    ops.push("truncate");
                }
                self.file(image, &o.path, &ops, o.ret >= 0, t);
            }
            K::Unlink(u) => self.file(image, &u.path, &["unlink"], u.ret == 0, t),
            K::Rename(r) => {
                self.file(image, &r.old, &["rename_from"], r.ret == 0, t);
                self.file(image, &r.new, &["rename_to"], r.ret == 0, t);
            }
            K::Chmod(c) => self.file(image, &c.path, &["chmod"], c.ret == 0, t),
            K::Chown(c) => self.file(image, &c.path, &["chown"], c.ret == 0, t),
            _ => {}
        }
        if let Some(App::Dns(m)) = &at.app {
            for (q, _) in &m.questions {
                self.dns_first.entry((image, q.clone())).or_insert(t);
            }
        }
        Ok(())
    }

    fn finish(&mut self, model: &Model) -> anyhow::Result<()> {
        self.build(model);
        Ok(())
    }
}
