//! Detections: rules (Rewind's YAML rules and Sigma rules) evaluated over the replayed
//! process model, findings that point at the events proving them, and incidents that
//! group findings along the process graph.
//!
//! The [`Detector`] is a replay [`Sink`]: it sees every event once, with the model as it
//! stands at that event, and keeps only findings and the partial matches of sequence
//! rules, so detection streams like the timeline does.

pub mod exceptions;
pub mod fact;
pub mod incident;
pub mod rule;
pub mod sigma;

use crate::model::process::ImageId;
use crate::model::Model;
use crate::replay::{Sink, Step};
use fact::Fact;
use rewind_schema::event::RecordType;
use rewind_schema::meta::ClockAnchor;
use rule::{Body, By, Rule, RuleMeta, Severity};
use rustc_hash::FxHashMap as HashMap;
use serde::Serialize;

/// Evidence: one event a finding rests on.
#[derive(Debug, Clone, Serialize)]
pub struct Evidence {
    /// Position of the event in the replay (0-based; the `events.seq` of SQLite).
    pub seq: u64,
    /// Boot-time ns.
    pub ts_ns: u64,
    /// Wall-clock ns.
    pub wall_ns: i128,
    /// Record type.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// Exec id of the acting process.
    pub exec_id: String,
    /// Acting process, `name[pid]`.
    pub process: String,
    /// The event in words, as the timeline says it.
    pub text: String,
}

/// A rule that fired, for one process (or once per rule).
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    /// The rule.
    pub rule: RuleMeta,
    /// Acting image of the event that completed the match.
    #[serde(skip)]
    pub image: Option<ImageId>,
    /// Its exec id.
    pub exec_id: String,
    /// `name[pid]`.
    pub process: String,
    /// What happened, in words (the rule's explanation filled in).
    pub explanation: String,
    /// First match: boot ns.
    pub ts_ns: u64,
    /// First match: wall-clock ns.
    pub wall_ns: i128,
    /// Last match: wall-clock ns.
    pub last_wall_ns: i128,
    /// How many times it matched for this process.
    pub count: u64,
    /// The events of the first match (every step of a sequence), then later matches'
    /// events up to [`MAX_EVIDENCE`].
    pub evidence: Vec<Evidence>,
}

/// Evidence kept per finding.
pub const MAX_EVIDENCE: usize = 8;

/// Rules from elsewhere (Sigma) evaluated on the same facts.
pub trait ExternalRules: std::fmt::Debug {
    /// The rules, indexed by what [`ExternalRules::eval`] reports.
    fn metas(&self) -> &[RuleMeta];
    /// Record types worth evaluating (others are skipped without building anything).
    fn wants(&self, t: RecordType) -> bool;
    /// Pushes the index of every rule the fact matches.
    fn eval(&mut self, fact: &Fact, hits: &mut Vec<usize>);
    /// Explanation of a hit.
    fn explain(&self, idx: usize, fact: &Fact) -> String;
}

/// A sequence in progress.
#[derive(Debug, Clone)]
struct Partial {
    next: usize,
    start_ns: u64,
    boot: u16,
    pid: u32,
    first: ImageId,
    rendered: Vec<Option<String>>,
    evidence: Vec<Evidence>,
}

/// At most this many partial matches per sequence rule; the oldest go first.
const MAX_PARTIALS: usize = 4096;

/// The detection sink.
#[derive(Debug)]
pub struct Detector {
    rules: Vec<Rule>,
    external: Option<Box<dyn ExternalRules>>,
    /// Rule indexes per record type.
    by_type: HashMap<RecordType, Vec<usize>>,
    partials: Vec<Vec<Partial>>,
    anchors: Vec<ClockAnchor>,
    findings: Vec<Finding>,
    index: HashMap<(usize, Option<(u16, u32)>), usize>,
    seq: u64,
    hits: Vec<usize>,
    /// Partial matches dropped because a rule had too many open.
    pub dropped_partials: u64,
    exceptions: exceptions::Exceptions,
    /// Keys of the findings the exceptions dropped (one per rule and process, as findings).
    suppressed: HashMap<(usize, Option<(u16, u32)>), Severity>,
}

fn label_of(model: &Model, id: Option<ImageId>) -> (String, String) {
    match id.and_then(|i| model.images.get(i.idx())) {
        Some(img) => (img.exec_id(), img.label()),
        None => (String::new(), "?".into()),
    }
}

impl Detector {
    /// A detector for these rules; `anchors` are the recordings' clock anchors (for the
    /// evidence's words).
    pub fn new(
        rules: Vec<Rule>,
        external: Option<Box<dyn ExternalRules>>,
        anchors: Vec<ClockAnchor>,
    ) -> Self {
        let mut by_type: HashMap<RecordType, Vec<usize>> = HashMap::default();
        for (i, r) in rules.iter().enumerate() {
            let types = match &r.body {
                Body::Single(p) => p.types.clone(),
                Body::Sequence { steps, .. } => {
                    steps.iter().flat_map(|s| s.types.iter().copied()).collect()
                }
            };
            for t in types {
                let v = by_type.entry(t).or_default();
                if !v.contains(&i) {
                    v.push(i);
                }
            }
        }
        let n = rules.len();
        Detector {
            rules,
            external,
            by_type,
            partials: vec![Vec::new(); n],
            anchors,
            findings: Vec::new(),
            index: HashMap::default(),
            seq: 0,
            hits: Vec::new(),
            dropped_partials: 0,
            exceptions: exceptions::Exceptions::default(),
            suppressed: Default::default(),
        }
    }

    /// Drops the matches these exceptions name, built-in and external rules alike.
    pub fn with_exceptions(mut self, ex: exceptions::Exceptions) -> Self {
        self.exceptions = ex;
        self
    }

    /// How many findings (rule and process) of at least severity `min` the exceptions
    /// dropped that were not otherwise reported.
    pub fn suppressed(&self, min: Severity) -> usize {
        self.suppressed
            .iter()
            .filter(|(k, s)| **s >= min && !self.index.contains_key(*k))
            .count()
    }

    /// The findings, in a total order: time of first match, then rule id, then process.
    pub fn into_findings(mut self) -> Vec<Finding> {
        self.findings.sort_by(|a, b| {
            (a.wall_ns, &a.rule.id, &a.exec_id).cmp(&(b.wall_ns, &b.rule.id, &b.exec_id))
        });
        self.findings
    }

    fn evidence(&self, model: &Model, step: &Step) -> Evidence {
        let (exec_id, process) = label_of(model, step.at.image);
        let anchor = self
            .anchors
            .get(step.recording as usize)
            .copied()
            .unwrap_or_default();
        let text = crate::timeline::words::words(model, step, &anchor)
            .map(|w| w.text)
            .unwrap_or_else(|| step.ev.kind.record_type().name().to_string());
        Evidence {
            seq: self.seq,
            ts_ns: step.ev.ts,
            wall_ns: step.wall_ns,
            kind: step.ev.kind.record_type().name(),
            exec_id,
            process,
            text,
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn record(
        &mut self,
        key_rule: usize,
        meta: &RuleMeta,
        per_process: bool,
        model: &Model,
        step: &Step,
        explanation: impl FnOnce() -> String,
        evidence: Vec<Evidence>,
    ) {
        let key = finding_key(key_rule, per_process, model, step);
        if !self.exceptions.is_empty() && self.exceptions.drops(&meta.id, &Fact { model, step }) {
            self.suppressed.insert(key, meta.severity);
            return;
        }
        if let Some(&i) = self.index.get(&key) {
            let f = &mut self.findings[i];
            f.count += 1;
            f.last_wall_ns = step.wall_ns;
            for e in evidence {
                if f.evidence.len() >= MAX_EVIDENCE {
                    break;
                }
                if !f.evidence.iter().any(|x| x.seq == e.seq) {
                    f.evidence.push(e);
                }
            }
            return;
        }
        let (exec_id, process) = label_of(model, step.at.image);
        self.index.insert(key, self.findings.len());
        let mut evidence = evidence;
        evidence.truncate(MAX_EVIDENCE);
        self.findings.push(Finding {
            rule: meta.clone(),
            image: step.at.image,
            exec_id,
            process,
            explanation: explanation(),
            ts_ns: evidence.first().map(|e| e.ts_ns).unwrap_or(step.ev.ts),
            wall_ns: evidence.first().map(|e| e.wall_ns).unwrap_or(step.wall_ns),
            last_wall_ns: step.wall_ns,
            count: 1,
            evidence,
        });
    }

    fn eval_rule(&mut self, ri: usize, model: &Model, step: &Step, t: RecordType) {
        let fact = Fact { model, step };
        let rule = &self.rules[ri];
        match &rule.body {
            Body::Single(p) => {
                if p.types.contains(&t) && p.cond.eval(&fact) {
                    // A repeat whose evidence is full only counts: no words, no explanation.
                    let key = finding_key(ri, rule.per_process, model, step);
                    if let Some(&i) = self.index.get(&key) {
                        let f = &mut self.findings[i];
                        if f.evidence.len() >= MAX_EVIDENCE
                            && !self.exceptions.drops(&rule.meta.id, &fact)
                        {
                            f.count += 1;
                            f.last_wall_ns = step.wall_ns;
                            return;
                        }
                    }
                    let mut rendered = vec![None; rule.explain.len()];
                    rule::render_step(&rule.explain, 0, true, &fact, &mut rendered);
                    let text = rule::join(&rule.explain, &rendered);
                    let meta = rule.meta.clone();
                    let per = rule.per_process;
                    let ev = vec![self.evidence(model, step)];
                    self.record(ri, &meta, per, model, step, || text, ev);
                }
            }
            Body::Sequence {
                steps,
                within_ns,
                by,
            } => {
                let now = step.ev.ts;
                let Some(img) = fact.image() else { return };
                let (boot, pid, id) = (img.boot, img.pid, img.id);
                let within = *within_ns;
                let by = *by;
                let last = steps.len() - 1;
                // Advance open partials (at most one step per event each).
                let mut done: Vec<Partial> = Vec::new();
                let mut parts = std::mem::take(&mut self.partials[ri]);
                parts.retain(|p| now.saturating_sub(p.start_ns) <= within);
                for p in parts.iter_mut() {
                    let s = &steps[p.next];
                    if !s.types.contains(&t) {
                        continue;
                    }
                    let related = match by {
                        By::Process => p.boot == boot && p.pid == pid,
                        By::Descendants => {
                            p.boot == boot && (p.pid == pid || model.descends_from(id, p.first))
                        }
                        By::Host => true,
                    };
                    if !related || !s.cond.eval(&fact) {
                        continue;
                    }
                    rule::render_step(
                        &rule.explain,
                        p.next,
                        p.next == last,
                        &fact,
                        &mut p.rendered,
                    );
                    p.evidence.push(self.evidence(model, step));
                    p.next += 1;
                    if p.next > last {
                        done.push(p.clone());
                    }
                }
                parts.retain(|p| p.next <= last);
                // Start a new partial (one per process and first step at a time).
                let s0 = &steps[0];
                if s0.types.contains(&t)
                    && !parts
                        .iter()
                        .any(|p| p.boot == boot && p.pid == pid && p.next == 1)
                    && s0.cond.eval(&fact)
                {
                    let mut rendered = vec![None; rule.explain.len()];
                    rule::render_step(&rule.explain, 0, false, &fact, &mut rendered);
                    if parts.len() >= MAX_PARTIALS {
                        parts.remove(0);
                        self.dropped_partials += 1;
                    }
                    parts.push(Partial {
                        next: 1,
                        start_ns: now,
                        boot,
                        pid,
                        first: id,
                        rendered,
                        evidence: vec![self.evidence(model, step)],
                    });
                }
                self.partials[ri] = parts;
                for p in done {
                    let text = rule::join(&self.rules[ri].explain, &p.rendered);
                    let meta = self.rules[ri].meta.clone();
                    let per = self.rules[ri].per_process;
                    self.record(ri, &meta, per, model, step, || text, p.evidence);
                }
            }
        }
    }
}

impl Sink for Detector {
    fn step(&mut self, model: &Model, step: &Step) -> anyhow::Result<()> {
        let t = step.ev.kind.record_type();
        if let Some(list) = self.by_type.get_mut(&t) {
            // Taken out for the loop (eval_rule needs &mut self), put back after.
            let list = std::mem::take(list);
            for &ri in &list {
                self.eval_rule(ri, model, step, t);
            }
            self.by_type.insert(t, list);
        }
        if let Some(mut ext) = self.external.take() {
            if ext.wants(t) {
                let fact = Fact { model, step };
                let mut hits = std::mem::take(&mut self.hits);
                hits.clear();
                ext.eval(&fact, &mut hits);
                for &h in &hits {
                    let meta = ext.metas()[h].clone();
                    let ev = vec![self.evidence(model, step)];
                    let key = self.rules.len() + h;
                    let text = || ext.explain(h, &fact);
                    self.record(key, &meta, true, model, step, text, ev);
                }
                self.hits = hits;
            }
            self.external = Some(ext);
        }
        self.seq += 1;
        Ok(())
    }
}

/// One finding per rule and process (boot, pid), or per rule.
fn finding_key(
    rule: usize,
    per_process: bool,
    model: &Model,
    step: &Step,
) -> (usize, Option<(u16, u32)>) {
    let who = step
        .at
        .image
        .and_then(|i| model.images.get(i.idx()))
        .map(|i| (i.boot, i.pid));
    (rule, if per_process { who } else { None })
}

/// Counts of findings by severity, highest first (for summaries).
pub fn by_severity(findings: &[Finding]) -> Vec<(Severity, usize)> {
    let mut v: Vec<(Severity, usize)> = Vec::new();
    for f in findings {
        match v.iter_mut().find(|(s, _)| *s == f.rule.severity) {
            Some((_, n)) => *n += 1,
            None => v.push((f.rule.severity, 1)),
        }
    }
    v.sort_by_key(|b| std::cmp::Reverse(b.0));
    v
}
