//! The user-space evaluator of the enforcement policy: the same typed model the recorder
//! compiles into BPF maps (`rewind_schema::policy`), evaluated over replayed events, so an
//! operator sees what a policy would have killed, stopped, denied or audited in last
//! week's traces before it blocks anything today.
//!
//! The [`Evaluator`] is a replay [`Sink`]. It reads the acting process the way detections
//! do (through [`Fact`]: the image as it stands at the event, its parent and ancestors by
//! process), decides which rule fires for opens, execs, unlinks, renames, chmods, inet
//! connects and UDP sends, and keeps the hits. Semantics follow the policy format: rules
//! in file order, the first blocking rule decides (audit rules that fire are recorded
//! too), `unless` vetoes, monitor mode blocks nothing, and pid 1, kernel threads, the
//! recorder and its ancestors are never acted on (reported as exempt). Once a process
//! would have been killed or stopped, later events of it and of processes it started
//! afterwards are not evaluated: they would not have happened.

pub mod report;

use crate::detect::fact::Fact;
use crate::exit::Outcome;
use crate::model::process::{Image, ImageId};
use crate::model::Model;
use crate::replay::{ReplayOptions, Sink, Step};
use rewind_schema::meta::ClockAnchor;
use rewind_schema::policy::{
    Action, ContainerSel, Mode, NsSel, Op, Policy, Selectors, CAP_SYS_ADMIN,
};
use rewind_schema::trace::TraceSet;
use rewind_schema::wire::ByteString;
use rewind_schema::EventKind;
use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};
use serde::Serialize;
use std::net::SocketAddr;

/// What became of a rule firing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// The action would have been carried out (kill, stop or deny).
    Blocked,
    /// Monitor mode: recorded as a would-be action, nothing blocked.
    WouldBlock,
    /// The process is exempt (pid 1, kernel thread, the recorder or an ancestor).
    Exempt,
    /// An audit rule: recorded only.
    Audited,
}

/// One event on which a rule fired.
#[derive(Debug, Clone, Serialize)]
pub struct Hit {
    /// Wall-clock ns.
    pub wall_ns: i128,
    /// The operation.
    pub op: &'static str,
    /// Acting process, `name[pid]` (escaped).
    pub process: String,
    /// Its exec id.
    pub exec_id: String,
    /// `child < parent < grandparent` (escaped).
    pub ancestry: String,
    /// The event in words, as the timeline says it.
    pub event: String,
    /// What it acted on: the path, or `ip:port` (as enforcement records say it).
    pub detail: String,
    /// Index of the deciding rule.
    pub rule: u32,
    /// Its id (from the operator's policy file).
    pub rule_id: String,
    /// Its action.
    pub action: &'static str,
    /// What became of it.
    pub verdict: Verdict,
    /// Why the process is exempt, for [`Verdict::Exempt`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exempt: Option<&'static str>,
    /// Other rules that fired on the same event (audit rules before a blocking one, ...).
    pub also: Vec<String>,
    /// Every rule that fired, by index.
    pub fired: Vec<u32>,
}

/// Per-rule counts.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RuleCount {
    /// Rule index.
    pub index: u32,
    /// Rule id.
    pub id: String,
    /// Its action.
    pub action: &'static str,
    /// Events it fired on.
    pub hits: u64,
    /// Of which it decided and would have blocked.
    pub blocked: u64,
    /// Of which it decided in monitor mode (would block).
    pub would_block: u64,
    /// Of which the process was exempt.
    pub exempt: u64,
}

/// What a policy does over a set of traces.
#[derive(Debug, Clone, Serialize)]
pub struct PolicyReport {
    /// Policy name.
    pub policy: String,
    /// SHA-256 of the policy file.
    pub sha256: String,
    /// Mode it was evaluated in.
    pub mode: &'static str,
    /// Events replayed.
    pub events: u64,
    /// Every hit, in event order.
    pub hits: Vec<Hit>,
    /// Every rule, hits or not.
    pub rules: Vec<RuleCount>,
    /// Events not evaluated because their process would have been killed or stopped.
    pub not_evaluated: u64,
    /// Enforcement records found in the traces (what a recorder did), in words.
    pub recorded: Vec<String>,
    /// Enforcement records compared with the evaluation, when the traces have any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agreement: Option<Agreement>,
}

impl PolicyReport {
    /// Hits that would have been blocked (kill, stop, deny, carried out).
    pub fn blocked(&self) -> usize {
        self.hits
            .iter()
            .filter(|h| h.verdict == Verdict::Blocked)
            .count()
    }
}

/// The evaluation sink.
#[derive(Debug)]
pub struct Evaluator<'p> {
    policy: &'p Policy,
    monitor: bool,
    anchors: Vec<ClockAnchor>,
    recorder_pids: Vec<Option<u32>>,
    /// (boot, pid) of the recorder and its ancestors, as they are seen.
    recorder_family: HashSet<(u16, u32)>,
    /// Images that would have been killed or stopped.
    stopped: HashSet<ImageId>,
    /// The last attempt of each process and operation: object, time, known from an
    /// enforcement record (true) or an event.
    recent: HashMap<(ImageId, Op), (String, i128, bool)>,
    /// Enforcement records seen.
    acts: Vec<Act>,
    /// Per recording, the SHA-256 of the policy it was recorded under.
    recorded_sha: Vec<Option<String>>,
    report: PolicyReport,
}

/// One enforcement record, for the comparison with the evaluation.
#[derive(Debug)]
struct Act {
    exec_id: String,
    rule: u32,
    detail: String,
}

/// What the recorder did (enforcement records) against what the policy says, rule by rule
/// and process by process: the differential check of the two evaluators.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Agreement {
    /// The traces were recorded under this very policy (same SHA-256); if not, nothing
    /// was compared.
    pub same_policy: bool,
    /// (process, rule, object) found on both sides.
    pub matched: usize,
    /// In the trace only: `exec_id rule N detail`.
    pub only_recorded: Vec<String>,
    /// In the evaluation only.
    pub only_evaluated: Vec<String>,
}

impl<'p> Evaluator<'p> {
    /// An evaluator of `policy` over the recordings of `set`. `enforce` evaluates a
    /// monitor-mode policy as if it enforced.
    pub fn new(policy: &'p Policy, set: &TraceSet, enforce: bool) -> Self {
        let monitor = policy.mode == Mode::Monitor && !enforce;
        Evaluator {
            policy,
            monitor,
            anchors: set.recordings.iter().map(|r| r.anchor).collect(),
            recorder_pids: set
                .recordings
                .iter()
                .map(|r| set.segments[r.segments[0]].meta.capture.recorder_pid)
                .collect(),
            recorder_family: HashSet::default(),
            stopped: HashSet::default(),
            recent: HashMap::default(),
            acts: Vec::new(),
            recorded_sha: set
                .recordings
                .iter()
                .map(|r| {
                    set.segments[r.segments[0]]
                        .meta
                        .capture
                        .policy_sha256
                        .clone()
                })
                .collect(),
            report: PolicyReport {
                policy: policy.name.clone(),
                sha256: policy.sha256_hex(),
                mode: if monitor { "monitor" } else { "enforce" },
                events: 0,
                hits: Vec::new(),
                rules: policy
                    .rules
                    .iter()
                    .map(|r| RuleCount {
                        index: r.index,
                        id: r.id.clone(),
                        action: r.action.name(),
                        ..RuleCount::default()
                    })
                    .collect(),
                not_evaluated: 0,
                recorded: Vec::new(),
                agreement: None,
            },
        }
    }

    /// The finished report.
    pub fn into_report(self) -> PolicyReport {
        self.report
    }

    /// Why the acting process must never be acted on, if it must not.
    fn exempt(&mut self, model: &Model, step: &Step, img: &Image) -> Option<&'static str> {
        let recorder_pid = self
            .recorder_pids
            .get(step.recording as usize)
            .copied()
            .flatten();
        let is_recorder = |i: &Image| {
            Some(i.pid) == recorder_pid
                || i.exe.as_bytes().rsplit(|&b| b == b'/').next() == Some(b"recorder")
        };
        // The header names the recorder's pid: its ancestors are known from the first
        // event on, whoever acts first.
        if let Some(pid) = recorder_pid {
            let boot = model.recording_boot.get(step.recording as usize).copied();
            if let Some(r) = boot.and_then(|b| model.current_image_in(b, pid)) {
                if !self.recorder_family.contains(&(img.boot, pid)) {
                    for a in model.process_ancestry(r) {
                        self.recorder_family.insert((a.boot, a.pid));
                    }
                }
            }
        }
        if is_recorder(img) {
            for a in model.process_ancestry(img.id) {
                self.recorder_family.insert((a.boot, a.pid));
            }
            return Some("the recorder");
        }
        if img.pid == 1 {
            return Some("pid 1");
        }
        if img.exe.is_empty() && (img.pid == 2 || img.ppid == 2) {
            return Some("kernel thread");
        }
        if self.recorder_family.contains(&(img.boot, img.pid)) {
            return Some("an ancestor of the recorder");
        }
        None
    }
}

/// The operation an event is, with the path(s) or destination it acts on.
enum Object<'a> {
    Paths(&'a [u8], Option<&'a [u8]>),
    Dest(SocketAddr, bool),
}

impl Object<'_> {
    /// As an enforcement record's `detail` says it: the path, or `ip:port`.
    fn detail(&self) -> String {
        match self {
            Object::Paths(p, _) => ByteString(p.to_vec()).display(),
            Object::Dest(a, _) => a.to_string(),
        }
    }
}

/// The attempt an enforcement record stands for, when the event itself may be missing (a
/// process killed at syscall entry never produces the exit-side record).
fn attempt_of_record(e: &rewind_schema::wire::Enforce) -> Option<(Op, Object<'_>)> {
    use rewind_schema::RecordType as T;
    let d = e.detail.as_bytes();
    // the kernel's 20-byte address, or "ip:port" text from synthetic traces
    let dest = |tcp| {
        e.address()
            .or_else(|| std::str::from_utf8(d).ok()?.parse::<SocketAddr>().ok())
            .map(|a| Object::Dest(a, tcp))
    };
    Some(match T::from_u16(e.trigger)? {
        T::Open => (Op::Open, Object::Paths(d, None)),
        T::Exec => (Op::Exec, Object::Paths(d, None)),
        T::Unlink => (Op::Unlink, Object::Paths(d, None)),
        T::Rename => (Op::Rename, Object::Paths(d, None)),
        T::Chmod => (Op::Chmod, Object::Paths(d, None)),
        T::Connect => (Op::Connect, dest(true)?),
        T::UdpSend => (Op::Send, dest(false)?),
        _ => return None,
    })
}

fn op_of(kind: &EventKind) -> Option<(Op, Object<'_>)> {
    use EventKind as K;
    Some(match kind {
        // The kernel acts on the file an open actually opened (sys_exit_open*, path
        // resolved from the descriptor): a failed open is not an enforcement point.
        K::Open(x) if x.ret >= 0 => (Op::Open, Object::Paths(x.path.as_bytes(), None)),
        K::Exec(x) => (Op::Exec, Object::Paths(x.filename.as_bytes(), None)),
        K::Unlink(x) => (Op::Unlink, Object::Paths(x.path.as_bytes(), None)),
        K::Rename(x) => (
            Op::Rename,
            Object::Paths(x.old.as_bytes(), Some(x.new.as_bytes())),
        ),
        K::Chmod(x) => (Op::Chmod, Object::Paths(x.path.as_bytes(), None)),
        // The kernel side hooks cgroup/connect4|6: inet sockets only.
        K::Connect(x) => (
            Op::Connect,
            Object::Dest(x.sock.remote()?, x.sock.proto() == "tcp"),
        ),
        K::UdpSend(x) => (Op::Send, Object::Dest(x.sock.remote()?, false)),
        _ => return None,
    })
}

/// Does every selector present hold for this process and object?
fn holds(s: &Selectors, model: &Model, img: &Image, obj: &Object) -> bool {
    if let Some(m) = &s.path {
        let Object::Paths(a, b) = obj else {
            return false;
        };
        if !(m.matches(a) || b.is_some_and(|b| m.matches(b))) {
            return false;
        }
    }
    if let Some(d) = &s.dest {
        let Object::Dest(addr, tcp) = obj else {
            return false;
        };
        if !d.matches(addr.ip(), addr.port(), *tcp) {
            return false;
        }
    }
    if let Some(m) = &s.binary {
        if !m.matches(img.exe.as_bytes()) {
            return false;
        }
    }
    if let Some(m) = &s.parent {
        match model.process_ancestry(img.id).nth(1) {
            Some(p) if m.matches(p.exe.as_bytes()) => {}
            _ => return false,
        }
    }
    if let Some(m) = &s.ancestor {
        if !model
            .process_ancestry(img.id)
            .skip(1)
            .any(|a| m.matches(a.exe.as_bytes()))
        {
            return false;
        }
    }
    if let Some(a) = &s.args {
        let joined: Vec<u8> = img
            .argv
            .iter()
            .map(|x| x.as_bytes())
            .collect::<Vec<_>>()
            .join(&b' ');
        if !a.matches(&joined) {
            return false;
        }
    }
    if s.uid.as_ref().is_some_and(|u| !u.contains(&img.creds.uid)) {
        return false;
    }
    if s.euid
        .as_ref()
        .is_some_and(|u| !u.contains(&img.creds.euid))
    {
        return false;
    }
    if let Some(want) = s.privileged {
        let privileged = img.creds.euid == 0 || img.creds.cap_eff & CAP_SYS_ADMIN != 0;
        if privileged != want {
            return false;
        }
    }
    if s.caps.is_some_and(|mask| img.creds.cap_eff & mask == 0) {
        return false;
    }
    match (&s.container, &img.container) {
        (None, _) | (Some(ContainerSel::Any), Some(_)) | (Some(ContainerSel::Host), None) => {}
        (Some(ContainerSel::Id(id)), Some(c)) if c.id.starts_with(id.as_str()) => {}
        _ => return false,
    }
    if let Some(m) = &s.cgroup {
        if !m.matches(img.cgroup.as_bytes()) {
            return false;
        }
    }
    if let Some(ns) = s.namespaces {
        let off_host = !model.non_host_namespaces(img).is_empty();
        if off_host != (ns == NsSel::NotHost) {
            return false;
        }
    }
    true
}

fn ancestry_text(model: &Model, img: &Image) -> String {
    model
        .process_ancestry(img.id)
        .map(Image::label)
        .collect::<Vec<_>>()
        .join(" < ")
}

/// An attempt known from an enforcement record is the same attempt as an event of the
/// same process, operation and object this close to it, before or after (the recorder
/// stamps a connect at the call's entry and its record in the cgroup hook after it; an
/// open's record follows the exit-side open record), and is not evaluated twice.
const SAME_ATTEMPT_NS: i128 = 10_000_000;

impl Evaluator<'_> {
    /// Evaluates one attempt; `from_record` when it is known from an enforcement record.
    fn attempt(&mut self, model: &Model, step: &Step, op: Op, obj: &Object, from_record: bool) {
        let fact = Fact { model, step };
        let Some(img) = fact.image() else {
            return;
        };
        let detail = obj.detail();
        match self.recent.remove(&(img.id, op)) {
            Some((d, at, src))
                if src != from_record
                    && d == detail
                    && (step.wall_ns - at).abs() <= SAME_ATTEMPT_NS =>
            {
                return;
            }
            _ => {
                self.recent
                    .insert((img.id, op), (detail.clone(), step.wall_ns, from_record));
            }
        }
        if !self.stopped.is_empty() && model.ancestry(img.id).any(|a| self.stopped.contains(&a.id))
        {
            self.report.not_evaluated += 1;
            return;
        }
        let fired: Vec<u32> = self
            .policy
            .rules
            .iter()
            .filter(|r| {
                r.applies_to(op)
                    && holds(&r.matcher, model, img, obj)
                    && !r.unless.as_ref().is_some_and(|u| holds(u, model, img, obj))
            })
            .map(|r| r.index)
            .collect();
        if fired.is_empty() {
            return;
        }
        let rules = &self.policy.rules;
        let decisive = fired
            .iter()
            .copied()
            .find(|&i| rules[i as usize].action.blocks())
            .unwrap_or(fired[0]);
        let rule = &rules[decisive as usize];
        let exempt = if rule.action.blocks() {
            self.exempt(model, step, img)
        } else {
            None
        };
        let verdict = match (rule.action, exempt, self.monitor) {
            (Action::Audit, _, _) => Verdict::Audited,
            (_, Some(_), _) => Verdict::Exempt,
            (_, None, true) => Verdict::WouldBlock,
            (_, None, false) => Verdict::Blocked,
        };
        for &i in &fired {
            let c = &mut self.report.rules[i as usize];
            c.hits += 1;
            if i == decisive {
                match verdict {
                    Verdict::Blocked => c.blocked += 1,
                    Verdict::WouldBlock => c.would_block += 1,
                    Verdict::Exempt => c.exempt += 1,
                    Verdict::Audited => {}
                }
            }
        }
        if verdict == Verdict::Blocked && matches!(rule.action, Action::Kill | Action::Stop) {
            self.stopped.insert(img.id);
        }
        let anchor = self.anchors[step.recording as usize];
        let event = if from_record {
            format!(
                "{} {detail} (known from the enforcement record: the call did not complete)",
                op.name()
            )
        } else {
            crate::timeline::words::words(model, step, &anchor)
                .map(|w| w.text)
                .unwrap_or_else(|| crate::describe::describe(step.ev, &anchor))
        };
        self.report.hits.push(Hit {
            wall_ns: step.wall_ns,
            op: op.name(),
            process: img.label(),
            exec_id: img.exec_id(),
            ancestry: ancestry_text(model, img),
            event,
            detail,
            rule: decisive,
            rule_id: rule.id.clone(),
            action: rule.action.name(),
            verdict,
            exempt,
            also: fired
                .iter()
                .filter(|&&i| i != decisive)
                .map(|&i| rules[i as usize].id.clone())
                .collect(),
            fired,
        });
    }
}

impl Sink for Evaluator<'_> {
    fn step(&mut self, model: &Model, step: &Step) -> anyhow::Result<()> {
        self.report.events += 1;
        if let EventKind::Enforce(e) = &step.ev.kind {
            let img = step.at.image.map(|i| model.image(i));
            let who = img
                .map(Image::label)
                .unwrap_or_else(|| format!("[{}]", step.ev.pid));
            self.report.recorded.push(format!(
                "{}  {who}  {}",
                crate::timefmt::wall(step.wall_ns),
                crate::timeline::words::enforce_words(model, step, e)
            ));
            self.acts.push(Act {
                exec_id: img.map(Image::exec_id).unwrap_or_default(),
                rule: e.rule,
                detail: e.detail_text(),
            });
            if let Some((op, obj)) = attempt_of_record(e) {
                self.attempt(model, step, op, &obj, true);
            }
            return Ok(());
        }
        if let Some((op, obj)) = op_of(&step.ev.kind) {
            self.attempt(model, step, op, &obj, false);
        }
        Ok(())
    }

    fn finish(&mut self, _model: &Model) -> anyhow::Result<()> {
        if self.acts.is_empty() {
            return Ok(());
        }
        let sha = self.policy.sha256_hex();
        if !self
            .recorded_sha
            .iter()
            .any(|s| s.as_deref() == Some(sha.as_str()))
        {
            self.report.agreement = Some(Agreement {
                same_policy: false,
                ..Agreement::default()
            });
            return Ok(());
        }
        // Every rule that fired on an attempt is one record on the kernel side.
        let key = |e: &str, r: u32, d: &str| format!("{e} rule {r} {d}");
        let mut evaluated: Vec<String> = self
            .report
            .hits
            .iter()
            .flat_map(|h| h.fired.iter().map(|&r| key(&h.exec_id, r, &h.detail)))
            .collect();
        let mut recorded: Vec<String> = self
            .acts
            .iter()
            .map(|a| key(&a.exec_id, a.rule, &a.detail))
            .collect();
        evaluated.sort();
        recorded.sort();
        let mut a = Agreement {
            same_policy: true,
            ..Agreement::default()
        };
        let (mut i, mut j) = (0, 0);
        while i < evaluated.len() || j < recorded.len() {
            match (evaluated.get(i), recorded.get(j)) {
                (Some(e), Some(r)) if e == r => {
                    a.matched += 1;
                    i += 1;
                    j += 1;
                }
                (Some(e), Some(r)) if e < r => {
                    a.only_evaluated.push(e.clone());
                    i += 1;
                }
                (Some(e), None) => {
                    a.only_evaluated.push(e.clone());
                    i += 1;
                }
                (_, Some(r)) => {
                    a.only_recorded.push(r.clone());
                    j += 1;
                }
                (None, None) => break,
            }
        }
        self.report.agreement = Some(a);
        Ok(())
    }
}

/// Replays `set` and evaluates `policy` over it. The outcome is partial when the trace
/// is damaged (warnings already printed).
pub fn evaluate(
    policy: &Policy,
    set: &TraceSet,
    enforce: bool,
) -> anyhow::Result<(PolicyReport, Outcome)> {
    let mut ev = Evaluator::new(policy, set, enforce);
    let (_, stats) = crate::replay::replay(
        set,
        &mut [&mut ev],
        ReplayOptions {
            progress: false,
            // Not streaming: the evaluator keeps ids of killed images, and a streaming
            // replay may reuse a freed image's id.
            streaming: false,
        },
    )?;
    Ok((ev.into_report(), stats.outcome.unwrap_or(Outcome::Clean)))
}
