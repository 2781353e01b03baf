//! Incidents: findings grouped along the process graph. Two findings belong together
//! when their processes share a story root (the top of their ancestry below a
//! supervisor such as systemd, sshd or a container shim, or below a harness: one
//! service, one login session, one command), or when a connection links the two trees
//! (a reverse shell and its listener, a tool and the internal service it reached), and
//! they are no further apart in time than the window.
//!
//! The story root rule: climb a finding's ancestry and stop below the first ancestor
//! that is
//! - a supervisor (pid 1 or 2, or one of [`SUPERVISORS`]), or
//! - a *harness*: a process with no finding of its own that is long-lived (it began at
//!   least [`HARNESS_MIN_AGE_NS`] before the child on the way down to the finding) and
//!   started at least [`HARNESS_UNRELATED_CHILDREN`] child processes with no finding
//!   anywhere in their subtrees (a test runner, a CI agent, a long interactive session:
//!   it runs a great deal of unrelated work, so it is the attack's host, not part of the
//!   attack). A short script that stages an attack (a recorded scenario) is not one: it
//!   is young when the attack starts.
//!
//! Incidents are ordered (and numbered) by severity, most severe first, then by their
//! first finding's time.

use super::rule::Severity;
use super::Finding;
use crate::model::process::{End, Image, ImageId, Origin};
use crate::model::Model;
use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};
use serde::Serialize;

/// Processes under which every story on a host runs: a story root is the ancestor just
/// below one of these (or the oldest ancestor known).
const SUPERVISORS: [&str; 16] = [
    "systemd",
    "init",
    "kthreadd",
    "sshd",
    "containerd",
    "containerd-shim",
    "containerd-shim-runc-v2",
    "conmon",
    "runc",
    "crun",
    "dockerd",
    "cron",
    "crond",
    "atd",
    "tmux: server",
    "screen",
];

/// An ancestor with no finding of its own that started this many child processes with no
/// finding in their subtrees is a harness: the story root stops below it.
pub const HARNESS_UNRELATED_CHILDREN: usize = 8;

/// How long before the child on the way to a finding an ancestor must have begun to be
/// a harness (5 minutes).
pub const HARNESS_MIN_AGE_NS: u64 = 300_000_000_000;

/// The longest command line shown in an incident header or story root, in characters.
pub const CMDLINE_CAP: usize = 200;

/// A command line cut to [`CMDLINE_CAP`] characters, with how much was left out.
pub fn cap_cmdline(cmd: &str) -> String {
    let total = cmd.chars().count();
    if total <= CMDLINE_CAP {
        return cmd.to_string();
    }
    let kept: String = cmd.chars().take(CMDLINE_CAP).collect();
    format!("{kept}…(+{} chars)", total - CMDLINE_CAP)
}

/// A group of findings that tell one story.
#[derive(Debug, Clone, Serialize)]
pub struct Incident {
    /// 1-based number: most severe first, then in order of first finding.
    pub id: usize,
    /// Highest severity of its findings.
    pub severity: Severity,
    /// The most severe (then earliest) finding's title, and how many more.
    pub title: String,
    /// First finding, wall-clock ns.
    pub start_wall_ns: i128,
    /// Last finding, wall-clock ns.
    pub end_wall_ns: i128,
    /// The story root: exec id and `name[pid]` and command line.
    pub root: String,
    /// Where it came in: the process just below the root on the way to the most severe
    /// finding (the exploited service, the session's first command).
    pub entry: String,
    /// Indexes into the findings list, in time order.
    pub findings: Vec<usize>,
    /// ATT&CK techniques of its findings, sorted.
    pub attack: Vec<String>,
    /// Exec ids of the processes involved, sorted.
    pub processes: Vec<String>,
    /// The images involved (findings' processes, their descendants, their ancestors up
    /// to the root, and the processes at the other end of their connections).
    #[serde(skip)]
    pub images: HashSet<ImageId>,
}

fn is_supervisor(img: &Image) -> bool {
    let name = img.name();
    img.pid <= 2 || SUPERVISORS.contains(&name.as_str())
}

/// A process (one pid lifetime): boot, pid and kernel start time.
type ProcKey = (u16, u32, u64);

fn key(img: &Image) -> ProcKey {
    (img.boot, img.pid, img.proc_start)
}

/// What the story-root rule needs: which processes have findings, which lie on the way
/// to one, and each process's child processes.
struct RootRule<'a> {
    model: &'a Model,
    /// Processes with a finding of their own.
    flagged: HashSet<ProcKey>,
    /// Processes with a finding in their subtree (their own included).
    on_path: HashSet<ProcKey>,
    /// Child processes of each process.
    children: HashMap<ProcKey, HashSet<ProcKey>>,
}

impl<'a> RootRule<'a> {
    fn new(model: &'a Model, findings: &[Finding]) -> Self {
        let mut flagged = HashSet::default();
        let mut on_path = HashSet::default();
        for f in findings {
            let Some(img) = f.image.and_then(|i| model.images.get(i.idx())) else {
                continue;
            };
            flagged.insert(key(img));
            on_path.extend(model.ancestry(img.id).map(key));
        }
        let mut children: HashMap<ProcKey, HashSet<ProcKey>> = HashMap::default();
        for img in model.images.iter() {
            if let Some(p) = img.parent.and_then(|p| model.images.get(p.idx())) {
                if key(p) != key(img) {
                    children.entry(key(p)).or_default().insert(key(img));
                }
            }
        }
        RootRule {
            model,
            flagged,
            on_path,
            children,
        }
    }

    /// A long-lived process with no finding of its own that ran much unrelated work;
    /// `child` is its child on the way down to the finding.
    fn is_harness(&self, img: &Image, child: &Image) -> bool {
        let k = key(img);
        if self.flagged.contains(&k) {
            return false;
        }
        let long_lived = img.origin != Origin::Unknown
            && img.boot == child.boot
            && child.proc_start >= img.proc_start.saturating_add(HARNESS_MIN_AGE_NS);
        if !long_lived {
            return false;
        }
        let unrelated = self
            .children
            .get(&k)
            .map(|cs| cs.iter().filter(|c| !self.on_path.contains(c)).count())
            .unwrap_or(0);
        unrelated >= HARNESS_UNRELATED_CHILDREN
    }

    /// The top of a process's story: the highest ancestor below a supervisor or a
    /// harness (see the module documentation).
    fn story_root(&self, id: ImageId) -> ImageId {
        let mut root = self.model.image(id);
        for a in self.model.ancestry(id) {
            if a.id != id && (is_supervisor(a) || (key(a) != key(root) && self.is_harness(a, root)))
            {
                break;
            }
            root = a;
        }
        root.id
    }
}

fn find(parent: &mut [usize], mut x: usize) -> usize {
    while parent[x] != x {
        parent[x] = parent[parent[x]];
        x = parent[x];
    }
    x
}

fn describe(model: &Model, id: ImageId) -> String {
    let img = model.image(id);
    let cmd = cap_cmdline(&img.cmdline());
    if cmd.is_empty() {
        format!("{} ({})", img.label(), img.exec_id())
    } else {
        format!("{} ({}): {cmd}", img.label(), img.exec_id())
    }
}

/// The image that names a root: a forked copy that went on to exec is named by the
/// program it ran (`bash[600]`, not the `harness[600]` it was forked as).
fn shown_root(model: &Model, id: ImageId) -> ImageId {
    let img = model.image(id);
    match (img.origin, img.end) {
        (Origin::Fork, Some(End::Exec { next })) if model.images.get(next.idx()).is_some() => next,
        _ => id,
    }
}

/// Groups findings into incidents; `window_ns` is the largest gap between consecutive
/// findings of one incident. The model must be whole (not a streaming replay's).
pub fn group(model: &Model, findings: &[Finding], window_ns: i128) -> Vec<Incident> {
    // Union-find over findings: same story root, or roots linked by a connection.
    let n = findings.len();
    let mut parent: Vec<usize> = (0..n).collect();
    let rule = RootRule::new(model, findings);
    let roots: Vec<Option<ImageId>> = findings
        .iter()
        .map(|f| f.image.filter(|i| model.images.get(i.idx()).is_some()))
        .map(|i| i.map(|i| rule.story_root(i)))
        .collect();
    let mut by_root: HashMap<ImageId, usize> = HashMap::default();
    for (i, r) in roots.iter().enumerate() {
        if let Some(r) = r {
            match by_root.get(r) {
                Some(&j) => {
                    let (a, b) = (find(&mut parent, i), find(&mut parent, j));
                    parent[a] = b;
                }
                None => {
                    by_root.insert(*r, i);
                }
            }
        }
    }
    let mut root_cache: HashMap<ImageId, ImageId> = HashMap::default();
    let mut root_of = |id: ImageId| *root_cache.entry(id).or_insert_with(|| rule.story_root(id));
    for c in model.conns.iter() {
        let Some(peer) = c.peer.and_then(|p| model.try_conn(p)) else {
            continue;
        };
        let (ra, rb) = (root_of(c.image), root_of(peer.image));
        if let (Some(&a), Some(&b)) = (by_root.get(&ra), by_root.get(&rb)) {
            let (a, b) = (find(&mut parent, a), find(&mut parent, b));
            parent[a] = b;
        }
    }
    let mut groups: HashMap<usize, Vec<usize>> = HashMap::default();
    for i in 0..n {
        let g = find(&mut parent, i);
        groups.entry(g).or_default().push(i);
    }
    // Split each group where findings are further apart than the window.
    let mut parts: Vec<Vec<usize>> = Vec::new();
    for (_, mut members) in groups {
        members.sort_by_key(|&i| (findings[i].wall_ns, i));
        let mut cur: Vec<usize> = Vec::new();
        for i in members {
            if let Some(&last) = cur.last() {
                if findings[i].wall_ns - findings[last].last_wall_ns.max(findings[last].wall_ns)
                    > window_ns
                {
                    parts.push(std::mem::take(&mut cur));
                }
            }
            cur.push(i);
        }
        parts.push(cur);
    }
    // Most severe first, then earliest.
    let severity = |p: &Vec<usize>| p.iter().map(|&i| findings[i].rule.severity).max();
    parts.sort_by(|a, b| {
        severity(b)
            .cmp(&severity(a))
            .then((findings[a[0]].wall_ns, a[0]).cmp(&(findings[b[0]].wall_ns, b[0])))
    });
    let children = children_of(model);
    // Image -> images at the other end of its connections (loopback peers in the trace).
    let mut peers: HashMap<ImageId, Vec<ImageId>> = HashMap::default();
    for c in model.conns.iter() {
        if let Some(p) = c.peer.and_then(|p| model.try_conn(p)) {
            peers.entry(c.image).or_default().push(p.image);
        }
    }
    parts
        .into_iter()
        .enumerate()
        .map(|(k, members)| build(model, findings, &roots, &children, &peers, k + 1, members))
        .collect()
}

fn children_of(model: &Model) -> HashMap<ImageId, Vec<ImageId>> {
    let mut ch: HashMap<ImageId, Vec<ImageId>> = HashMap::default();
    for img in model.images.iter() {
        if let Some(p) = img.parent {
            ch.entry(p).or_default().push(img.id);
        }
    }
    ch
}

fn build(
    model: &Model,
    findings: &[Finding],
    roots: &[Option<ImageId>],
    children: &HashMap<ImageId, Vec<ImageId>>,
    peers: &HashMap<ImageId, Vec<ImageId>>,
    id: usize,
    members: Vec<usize>,
) -> Incident {
    let top = members
        .iter()
        .copied()
        .max_by(|&a, &b| {
            findings[a]
                .rule
                .severity
                .cmp(&findings[b].rule.severity)
                .then(findings[b].wall_ns.cmp(&findings[a].wall_ns))
        })
        .unwrap_or(members[0]);
    let f0 = &findings[members[0]];
    let mut title = format!("{}: {}", findings[top].rule.title, findings[top].process);
    if members.len() > 1 {
        title.push_str(&format!(" (+{} more findings)", members.len() - 1));
    }
    let mut attack: Vec<String> = members
        .iter()
        .flat_map(|&i| findings[i].rule.attack.iter().cloned())
        .collect();
    attack.sort();
    attack.dedup();
    // Processes involved.
    let mut images: HashSet<ImageId> = HashSet::default();
    let root = members.iter().find_map(|&i| roots[i]);
    for &i in &members {
        let Some(img) = findings[i]
            .image
            .filter(|i| model.images.get(i.idx()).is_some())
        else {
            continue;
        };
        let r = roots[i].unwrap_or(img);
        for a in model.ancestry(img) {
            images.insert(a.id);
            if a.id == r {
                break;
            }
        }
        // The whole process (later images of the same pid) and its descendants.
        let mut stack = vec![img];
        while let Some(x) = stack.pop() {
            if images.insert(x) || x == img {
                if let Some(cs) = children.get(&x) {
                    stack.extend(cs.iter().copied().filter(|c| !images.contains(c)));
                }
            }
        }
    }
    // The other ends of their connections.
    let linked: Vec<ImageId> = images
        .iter()
        .filter_map(|i| peers.get(i))
        .flatten()
        .copied()
        .collect();
    images.extend(linked);
    let mut processes: Vec<String> = images
        .iter()
        .filter_map(|i| model.images.get(i.idx()))
        .map(|i| i.exec_id())
        .collect();
    processes.sort();
    let entry = findings[top]
        .image
        .filter(|i| model.images.get(i.idx()).is_some())
        .map(|i| {
            let r = roots[top].map(|r| model.image(r));
            // The processes from the finding up to (not including) the root's own.
            let procs: Vec<&Image> = model
                .process_ancestry(i)
                .take_while(|p| r.is_none_or(|r| (p.boot, p.pid) != (r.boot, r.pid)))
                .collect();
            // The topmost of them (the finding's own process when it is the root's).
            let below = procs.last().copied().unwrap_or(model.image(i));
            describe(model, below.id)
        })
        .unwrap_or_else(|| "unknown".into());
    let mut sorted = members.clone();
    sorted.sort_by_key(|&i| (findings[i].wall_ns, i));
    Incident {
        id,
        severity: findings[top].rule.severity,
        title,
        start_wall_ns: f0.wall_ns,
        end_wall_ns: members
            .iter()
            .map(|&i| findings[i].last_wall_ns)
            .max()
            .unwrap_or(f0.wall_ns),
        root: root
            .map(|r| describe(model, shown_root(model, r)))
            .unwrap_or_else(|| "unknown".into()),
        entry,
        findings: sorted,
        attack,
        processes,
        images,
    }
}
