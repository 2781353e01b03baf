//! `analyzer report`: one self-contained HTML file for the ticket. One replay runs the
//! detections with the graph builder and the analytics collector beside them; a second,
//! streaming replay puts the events of each incident's processes in words. Everything is
//! then turned into `rewind_reports::ReportData` (plain data) and rendered by that crate.
//! The file is written to a temporary name next to the output and renamed when
//! complete, so a failed run leaves nothing half-written.

use super::detect::{detect_with, Detection, RuleArgs};
use super::tree::{forest, process_heads, ProcNode};
use crate::analytics::{stats, Collector};
use crate::detect::rule::Severity as RuleSeverity;
use crate::exit::Outcome;
use crate::graph::{EdgeKind, GraphBuilder, GraphOptions, NodeKind, ProcessGraph};
use crate::model::process::ImageId;
use crate::model::Model;
use crate::replay::{replay, ReplayOptions, Sink, Step};
use crate::timefmt;
use crate::timeline::burst::{Burst, Piece};
use crate::timeline::words::{self, Weight};
use anyhow::Context;
use petgraph::stable_graph::NodeIndex;
use rewind_reports as rr;
use rewind_schema::meta::ClockAnchor;
use rewind_schema::trace::TraceSet;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Arguments of `analyzer report`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The traces to read.
    #[command(flatten)]
    pub input: super::Inputs,
    /// The HTML file to write (replaced if it exists).
    #[arg(short, long, value_name = "FILE")]
    pub output: PathBuf,
    /// Rules.
    #[command(flatten)]
    pub rules: RuleArgs,
    /// Only the incidents with a finding in scope (whole), and the graph, charts and file
    /// table of the processes in scope.
    #[command(flatten)]
    pub scope: crate::scope::ScopeArgs,
    /// Rows kept per table (files, network); incident processes' rows are kept first.
    #[arg(long, default_value_t = 5000, value_name = "N")]
    pub max_rows: usize,
    /// Incidents told in detail (findings, evidence, timeline), most important first; the
    /// others get their heading and facts.
    #[arg(long, default_value_t = 50, value_name = "N")]
    pub max_incidents: usize,
    /// Findings shown per incident, most severe first.
    #[arg(long, default_value_t = 40, value_name = "N")]
    pub max_findings: usize,
    /// Timeline lines kept per incident (the evidence of shown findings always is).
    #[arg(long, default_value_t = 2000, value_name = "N")]
    pub max_timeline: usize,
    /// Timeline lines kept over all incidents, shared evenly among the detailed ones.
    #[arg(long, default_value_t = 20000, value_name = "N")]
    pub max_timeline_total: usize,
    /// Processes kept in the tree (incident processes and their ancestors first).
    #[arg(long, default_value_t = 2000, value_name = "N")]
    pub max_processes: usize,
    /// Nodes drawn in the graph (incident neighbourhoods first).
    #[arg(long, default_value_t = 120, value_name = "N")]
    pub max_nodes: usize,
    /// No progress display.
    #[arg(long, short)]
    pub quiet: bool,
}

/// Caps of one report.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Rows per table.
    pub rows: usize,
    /// Incidents told in detail.
    pub incidents: usize,
    /// Findings per incident.
    pub findings: usize,
    /// Timeline lines per incident.
    pub timeline: usize,
    /// Timeline lines over all incidents.
    pub timeline_total: usize,
    /// Processes in the tree.
    pub processes: usize,
    /// Graph nodes.
    pub nodes: usize,
}

/// Runs the command.
pub fn run(args: &Args) -> anyhow::Result<Outcome> {
    let limits = Limits {
        rows: args.max_rows,
        incidents: args.max_incidents,
        findings: args.max_findings,
        timeline: args.max_timeline,
        timeline_total: args.max_timeline_total,
        processes: args.max_processes,
        nodes: args.max_nodes,
    };
    // Check where the report goes before spending a replay on it.
    let dir = match args.output.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    if !dir.is_dir() {
        anyhow::bail!(
            "cannot write report {}: directory {} does not exist",
            args.output.display(),
            dir.display()
        );
    }
    let set = args.input.open()?;
    let scope = crate::scope::resolve(&args.scope, &set, &args.rules, !args.quiet)?;
    let (html, outcome) = build(
        &set,
        &args.input.traces,
        &args.rules,
        &scope,
        limits,
        !args.quiet,
    )?;
    write_atomic(&args.output, &dir, html.as_bytes())?;
    if !args.quiet {
        eprintln!(
            "analyzer: wrote {} ({} bytes)",
            rewind_schema::text::Escaped(args.output.display()),
            html.len()
        );
    }
    Ok(outcome)
}

fn write_atomic(path: &Path, dir: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let ctx = || format!("cannot write report {}", path.display());
    let mut tmp = tempfile::Builder::new()
        .prefix(".rewind-report-")
        .suffix(".tmp")
        .tempfile_in(dir)
        .with_context(ctx)?;
    tmp.write_all(bytes).with_context(ctx)?;
    // A report holds the trace's argv, paths and payloads: 0600 like every file Rewind
    // writes (tempfile creates 0600 today; said explicitly so it stays so).
    rewind_schema::fsutil::make_private(tmp.path()).with_context(ctx)?;
    tmp.flush().with_context(ctx)?;
    tmp.persist(path).map_err(|e| e.error).with_context(ctx)?;
    Ok(())
}

/// The report of `set` as HTML, and whether reading was clean.
pub fn build(
    set: &TraceSet,
    inputs: &[PathBuf],
    rules: &RuleArgs,
    scope: &crate::scope::Scope,
    limits: Limits,
    progress: bool,
) -> anyhow::Result<(String, Outcome)> {
    let anchors: Vec<ClockAnchor> = set.recordings.iter().map(|r| r.anchor).collect();
    let mut gb = GraphBuilder::new(GraphOptions::default());
    let mut col = Collector::new(anchors.clone());
    let (mut d, seen) = {
        let mut sg = crate::scope::Scoped::new(scope.clone(), &mut gb);
        let mut sc = crate::scope::Scoped::new(scope.clone(), &mut col);
        let d = detect_with(set, rules, progress, &mut [&mut sg, &mut sc])?;
        (d, std::mem::take(&mut sg.matcher.seen))
    };
    let mut graph = gb.into_graph();
    let images = (!scope.is_everything()).then_some(&seen);
    if images.is_some() {
        d.scope_incidents(scope)?;
        let mut seen: Vec<_> = seen.iter().copied().collect();
        seen.sort();
        graph = graph.around_images(seen, 1).unwrap_or_default();
    }
    let st = stats::compute(&col, &d.model, None, 10, images)?;
    let shown = shown_findings(&d, limits);
    let lines = incident_lines(set, &d, &shown, &anchors, limits, progress)?;
    let outcome = d.stats.outcome.unwrap_or(Outcome::Clean);
    let data = rr::ReportData {
        title: inputs
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(" "),
        summary: summary(set, inputs, &d, &st, &graph, outcome, &anchors),
        incidents: incidents(&d, &shown, lines),
        tree: Vec::new(),
        tree_note: None,
        graph: graph_data(&graph, &d, limits.nodes),
        charts: charts(&st, &d),
        files: files_table(&graph, &d, limits.rows),
        network: network_table(&d, &anchors, limits.rows),
    };
    let (tree, tree_note) = tree_data(&d, &anchors, limits.processes);
    let data = rr::ReportData {
        tree,
        tree_note,
        ..data
    };
    Ok((rr::render(&data), outcome))
}

fn sev(s: RuleSeverity) -> rr::Severity {
    match s {
        RuleSeverity::Info => rr::Severity::Info,
        RuleSeverity::Low => rr::Severity::Low,
        RuleSeverity::Medium => rr::Severity::Medium,
        RuleSeverity::High => rr::Severity::High,
        RuleSeverity::Critical => rr::Severity::Critical,
    }
}

fn weight(w: Weight) -> rr::Weight {
    match w {
        Weight::Routine | Weight::Normal => rr::Weight::Normal,
        Weight::Exec => rr::Weight::Exec,
        Weight::Net => rr::Weight::Net,
        Weight::Alert => rr::Weight::Alert,
    }
}

fn summary(
    set: &TraceSet,
    inputs: &[PathBuf],
    d: &Detection,
    st: &stats::Stats,
    graph: &ProcessGraph,
    outcome: Outcome,
    anchors: &[ClockAnchor],
) -> rr::Summary {
    let hosts = set
        .recordings
        .iter()
        .map(|r| {
            let m = &set.segments[r.segments[0]].meta;
            let mode = if m.capture.command.is_empty() {
                format!("{} mode", m.capture.mode)
            } else {
                format!("command: {}", m.capture.command.join(" "))
            };
            rr::HostRow {
                hostname: m.host.hostname.clone(),
                kernel: m.host.kernel_release.clone(),
                boot_id: m.host.boot_id.clone(),
                recorder: m.recorder_version.clone(),
                mode,
                segments: r.segments.len(),
            }
        })
        .collect();
    let m = &d.model;
    let count_kind = |k: NodeKind| {
        graph
            .graph
            .node_indices()
            .filter(|&n| graph.graph[n].kind == k)
            .count() as u64
    };
    let mut by_sev: BTreeMap<rr::Severity, u64> = BTreeMap::new();
    for f in &d.findings {
        *by_sev.entry(sev(f.rule.severity)).or_default() += 1;
    }
    let lost: u64 = m.losses.iter().map(|l| l.count).sum();
    let loss_windows = m
        .losses
        .iter()
        .map(|l| {
            let a = anchors
                .get(l.recording as usize)
                .copied()
                .unwrap_or_default();
            format!(
                "{} records on CPU {} between {} and {}",
                l.count,
                l.cpu,
                timefmt::wall(a.wall(l.start_ns)),
                timefmt::wall(a.wall(l.end_ns))
            )
        })
        .collect();
    let (first, last) = (
        st.first.clone().unwrap_or_default(),
        st.last.clone().unwrap_or_default(),
    );
    let span = match (
        st.first.as_deref().and_then(timefmt::parse_wall),
        st.last.as_deref().and_then(timefmt::parse_wall),
    ) {
        (Some(a), Some(b)) => timefmt::duration(u64::try_from(b - a).unwrap_or(0)),
        _ => "no events".into(),
    };
    let (integrity, problems) = match outcome {
        // A replay never ends blocked; only `policy test` does.
        Outcome::Clean | Outcome::Blocked => (
            "every segment read whole; hash chain verified (notes, if any, on the analyzer's stderr)".to_string(),
            Vec::new(),
        ),
        Outcome::Partial => (
            "PARTIAL: damage or a failed verification was found (details on the analyzer's stderr)".to_string(),
            vec!["The trace is damaged or failed verification: this report covers what was readable.".to_string()],
        ),
    };
    rr::Summary {
        inputs: inputs.iter().map(|p| p.display().to_string()).collect(),
        hosts,
        first,
        last,
        duration: span,
        counts: vec![
            ("events".into(), d.stats.events),
            ("process images".into(), m.images.len() as u64),
            ("connections and flows".into(), m.conns.len() as u64),
            ("files touched".into(), count_kind(NodeKind::File)),
            ("DNS names".into(), count_kind(NodeKind::DnsName)),
            ("findings".into(), d.findings.len() as u64),
        ],
        findings_by_severity: by_sev.into_iter().rev().collect(),
        lost_records: lost,
        loss_windows,
        problems,
        integrity,
    }
}

/// The words of each incident's processes' events, from a second (streaming) replay.
struct IncidentLines<'a> {
    anchors: &'a [ClockAnchor],
    /// Image -> incidents (indexes into the incidents list).
    of_image: HashMap<ImageId, Vec<usize>>,
    /// Evidence seq -> findings whose evidence it is.
    evidence: HashMap<u64, Vec<usize>>,
    /// Finding -> its incident, and the seq of its last evidence.
    last_evidence: HashMap<u64, Vec<usize>>,
    findings: &'a [crate::detect::Finding],
    lines: Vec<Vec<rr::TimelineLine>>,
    /// Per incident, the payload burst its last line tells (joined as in the timeline).
    bursts: Vec<Option<Burst>>,
    totals: Vec<u64>,
    /// Per incident, the events its lines tell (a burst's line tells each piece).
    told: Vec<u64>,
    cap: usize,
    seq: u64,
}

impl Sink for IncidentLines<'_> {
    fn step(&mut self, model: &Model, step: &Step) -> anyhow::Result<()> {
        let seq = self.seq;
        self.seq += 1;
        let Some(incs) = step.at.image.and_then(|i| self.of_image.get(&i)) else {
            return Ok(());
        };
        let anchor = self
            .anchors
            .get(step.recording as usize)
            .copied()
            .unwrap_or_default();
        let is_evidence = self.evidence.contains_key(&seq);
        let Some(wd) = words::words(model, step, &anchor) else {
            return Ok(());
        };
        if wd.weight == Weight::Routine && !is_evidence {
            return Ok(());
        }
        let process = step
            .at
            .image
            .map(|i| model.image(i).label())
            .unwrap_or_default();
        let time = timefmt::wall(step.wall_ns);
        // Payload pieces join their burst's line as in the timeline (evidence marks it).
        let piece = Piece::of(step);
        for &inc in incs {
            self.totals[inc] += 1;
            let joined = match (&piece, self.bursts[inc].as_mut()) {
                (Some(p), Some(b)) if b.joins(p) => {
                    b.push(p);
                    self.told[inc] += 1;
                    if let Some(last) = self.lines[inc].last_mut() {
                        last.text = b.text();
                        last.evidence |= is_evidence;
                    }
                    true
                }
                _ => {
                    self.bursts[inc] = None;
                    false
                }
            };
            if !joined && (self.lines[inc].len() < self.cap || is_evidence) {
                self.bursts[inc] = piece.as_ref().map(|p| Burst::start(p, model));
                self.told[inc] += 1;
                self.lines[inc].push(rr::TimelineLine {
                    time: time.clone(),
                    process: process.clone(),
                    text: wd.text.clone(),
                    weight: weight(wd.weight),
                    evidence: is_evidence,
                    finding: None,
                });
            }
            if let Some(fs) = self.last_evidence.get(&seq) {
                self.bursts[inc] = None;
                for &fi in fs {
                    let f = &self.findings[fi];
                    self.lines[inc].push(rr::TimelineLine {
                        time: time.clone(),
                        process: f.process.clone(),
                        text: format!("{}: {}", f.rule.title, f.explanation),
                        weight: rr::Weight::Alert,
                        evidence: false,
                        finding: Some((sev(f.rule.severity), f.rule.id.clone())),
                    });
                }
            }
        }
        Ok(())
    }
}

/// The findings shown of each incident told in detail (the first `limits.incidents`):
/// most severe first, then in time order, at most `limits.findings`.
fn shown_findings(d: &Detection, limits: Limits) -> Vec<Vec<usize>> {
    d.incidents
        .iter()
        .take(limits.incidents)
        .map(|inc| {
            let mut v = inc.findings.clone();
            v.sort_by_key(|&i| {
                (
                    std::cmp::Reverse(d.findings[i].rule.severity),
                    d.findings[i].wall_ns,
                )
            });
            v.truncate(limits.findings);
            v.sort_by_key(|&i| d.findings[i].wall_ns);
            v
        })
        .collect()
}

fn incident_lines(
    set: &TraceSet,
    d: &Detection,
    shown: &[Vec<usize>],
    anchors: &[ClockAnchor],
    limits: Limits,
    progress: bool,
) -> anyhow::Result<Vec<(Vec<rr::TimelineLine>, u64, u64)>> {
    if shown.is_empty() {
        return Ok(Vec::new());
    }
    let cap = limits
        .timeline
        .min(limits.timeline_total / shown.len().max(1));
    let mut of_image: HashMap<ImageId, Vec<usize>> = HashMap::new();
    let mut evidence: HashMap<u64, Vec<usize>> = HashMap::new();
    let mut last_evidence: HashMap<u64, Vec<usize>> = HashMap::new();
    for (k, (inc, fs)) in d.incidents.iter().zip(shown).enumerate() {
        let mut imgs: Vec<ImageId> = inc.images.iter().copied().collect();
        imgs.sort();
        for i in imgs {
            of_image.entry(i).or_default().push(k);
        }
        for &fi in fs {
            let f = &d.findings[fi];
            for e in &f.evidence {
                evidence.entry(e.seq).or_default().push(fi);
            }
            if let Some(e) = f.evidence.iter().max_by_key(|e| e.seq) {
                last_evidence.entry(e.seq).or_default().push(fi);
            }
        }
    }
    let mut sink = IncidentLines {
        anchors,
        of_image,
        evidence,
        last_evidence,
        findings: &d.findings,
        lines: vec![Vec::new(); shown.len()],
        bursts: vec![None; shown.len()],
        totals: vec![0; shown.len()],
        told: vec![0; shown.len()],
        cap,
        seq: 0,
    };
    // The streaming replay prints its warnings again; they were printed by the first.
    replay(
        set,
        &mut [&mut sink],
        ReplayOptions {
            progress,
            streaming: true,
        },
    )?;
    Ok(sink
        .lines
        .into_iter()
        .zip(sink.totals)
        .zip(sink.told)
        .map(|((l, total), told)| (l, total, told))
        .collect())
}

fn evidence_lines(f: &crate::detect::Finding) -> Vec<rr::TimelineLine> {
    f.evidence
        .iter()
        .map(|e| rr::TimelineLine {
            time: timefmt::wall(e.wall_ns),
            process: e.process.clone(),
            text: e.text.clone(),
            weight: rr::Weight::Normal,
            evidence: true,
            finding: None,
        })
        .collect()
}

fn incidents(
    d: &Detection,
    shown: &[Vec<usize>],
    mut lines: Vec<(Vec<rr::TimelineLine>, u64, u64)>,
) -> Vec<rr::IncidentView> {
    lines.resize_with(d.incidents.len(), Default::default);
    let none = Vec::new();
    d.incidents
        .iter()
        .zip(lines)
        .enumerate()
        .map(|(k, (inc, (timeline, total, told)))| rr::IncidentView {
            id: inc.id,
            severity: sev(inc.severity),
            title: inc.title.clone(),
            start: timefmt::wall(inc.start_wall_ns),
            end: timefmt::wall(inc.end_wall_ns),
            duration: timefmt::duration(
                u64::try_from(inc.end_wall_ns - inc.start_wall_ns).unwrap_or(0),
            ),
            root: inc.root.clone(),
            entry: inc.entry.clone(),
            attack: inc.attack.clone(),
            processes: inc.processes.len(),
            summary_only: k >= shown.len(),
            findings_total: inc.findings.len(),
            findings: shown
                .get(k)
                .unwrap_or(&none)
                .iter()
                .map(|&i| {
                    let f = &d.findings[i];
                    rr::FindingView {
                        time: timefmt::wall(f.wall_ns),
                        severity: sev(f.rule.severity),
                        rule_id: f.rule.id.clone(),
                        title: f.rule.title.clone(),
                        attack: f.rule.attack.clone(),
                        explanation: f.explanation.clone(),
                        count: f.count,
                        process: f.process.clone(),
                        evidence: evidence_lines(f),
                    }
                })
                .collect(),
            timeline_total: total.max(told),
            timeline_told: told,
            timeline,
        })
        .collect()
}

/// The process forest, cut to `cap` processes: incident processes and their ancestors
/// first, then breadth first from the roots.
fn tree_data(
    d: &Detection,
    anchors: &[ClockAnchor],
    cap: usize,
) -> (Vec<rr::TreeNode>, Option<String>) {
    let m = &d.model;
    let (_, head_of) = process_heads(m);
    let mut inc_of: HashMap<String, BTreeSet<usize>> = HashMap::new();
    for inc in &d.incidents {
        for i in &inc.images {
            if let (Some(h), true) = (head_of.get(i), i.idx() < m.images.len()) {
                if let Some(img) = m.images.get(h.idx()) {
                    inc_of.entry(img.exec_id()).or_default().insert(inc.id);
                }
            }
        }
    }
    let roots = forest(m, anchors);
    // Flatten breadth first: (parent slot, node without children).
    let mut flat: Vec<(Option<usize>, &ProcNode)> = Vec::new();
    let mut queue: std::collections::VecDeque<(Option<usize>, &ProcNode)> =
        roots.iter().map(|r| (None, r)).collect();
    while let Some((p, n)) = queue.pop_front() {
        let me = flat.len();
        flat.push((p, n));
        for c in &n.children {
            queue.push_back((Some(me), c));
        }
    }
    let total = flat.len();
    let mut keep = vec![false; total];
    let mut kept = 0usize;
    let mut inc_left = 0usize;
    if total > cap {
        // Incident processes, most important incident first, each with the ancestors that
        // connect it to a root, as long as they fit.
        let mut cands: Vec<(usize, usize)> = (0..total)
            .filter_map(|i| {
                let first = inc_of.get(&flat[i].1.exec_id)?.iter().next()?;
                Some((*first, i))
            })
            .collect();
        cands.sort_unstable();
        for &(_, i) in &cands {
            let mut path = Vec::new();
            let mut j = Some(i);
            while let Some(k) = j {
                if keep[k] {
                    break;
                }
                path.push(k);
                j = flat[k].0;
            }
            if kept + path.len() > cap {
                inc_left += 1;
                continue;
            }
            for k in path {
                keep[k] = true;
                kept += 1;
            }
        }
        for i in 0..total {
            if kept >= cap {
                break;
            }
            if !keep[i] && flat[i].0.is_none_or(|p| keep[p]) {
                keep[i] = true;
                kept += 1;
            }
        }
    } else {
        keep.iter_mut().for_each(|k| *k = true);
        kept = total;
    }
    let node = |n: &ProcNode| {
        let mut facts = Vec::new();
        match n.origin {
            "snapshot" => facts.push("running at start".to_string()),
            "unknown" => facts.push("start not recorded".to_string()),
            _ => {}
        }
        facts.push(format!("started {}", n.start));
        super::tree::life_facts(n, &mut facts);
        facts.push(n.exec_id.clone());
        rr::TreeNode {
            label: format!("{}[{}]", n.name, n.pid),
            chain: n.chain.clone(),
            facts,
            exec_id: n.exec_id.clone(),
            incidents: inc_of
                .get(&n.exec_id)
                .map(|s| s.iter().copied().collect())
                .unwrap_or_default(),
            children: Vec::new(),
        }
    };
    // Build bottom-up: children come after their parents in breadth-first order.
    let mut built: Vec<Option<rr::TreeNode>> = flat
        .iter()
        .zip(&keep)
        .map(|((_, n), &k)| k.then(|| node(n)))
        .collect();
    let mut out = Vec::new();
    for i in (0..total).rev() {
        let Some(n) = built[i].take() else { continue };
        match flat[i].0 {
            Some(p) => {
                if let Some(parent) = built[p].as_mut() {
                    parent.children.push(n);
                }
            }
            None => out.push(n),
        }
    }
    // Pushed in reverse: restore the order.
    out.reverse();
    fn fix(n: &mut rr::TreeNode) {
        n.children.reverse();
        n.children.iter_mut().for_each(fix);
    }
    out.iter_mut().for_each(fix);
    let note = (kept < total).then(|| {
        let left = if inc_left > 0 {
            format!(" ({inc_left} incident processes did not fit)")
        } else {
            String::new()
        };
        format!(
            "Showing {kept} of {total} processes: the processes of incidents, most important incident first, with their ancestors{left}, then the others breadth first from the roots (`analyzer tree` lists them all; `--max-processes` raises the cap)."
        )
    });
    (out, note)
}

fn edge_label(e: &crate::graph::Edge) -> String {
    let times = if e.count > 1 {
        format!(" x{}", e.count)
    } else {
        String::new()
    };
    match e.kind {
        EdgeKind::Parent => e.via.unwrap_or("fork").to_string(),
        EdgeKind::Exec => "ran".into(),
        EdgeKind::Opened => format!(
            "opened {}{times}{}",
            e.ops.iter().copied().collect::<Vec<_>>().join(","),
            if e.failed > 0 {
                format!(" ({} failed)", e.failed)
            } else {
                String::new()
            }
        ),
        EdgeKind::Connected | EdgeKind::Accepted => format!(
            "{} {}{times}, {} sent, {} received",
            e.kind.name(),
            e.protos.iter().copied().collect::<Vec<_>>().join(","),
            timefmt::bytes(e.bytes_sent),
            timefmt::bytes(e.bytes_received)
        ),
        EdgeKind::Resolved => format!("resolved{times}"),
    }
}

fn node_kind(k: NodeKind) -> rr::NodeKind {
    match k {
        NodeKind::Process => rr::NodeKind::Process,
        NodeKind::Executable => rr::NodeKind::Executable,
        NodeKind::File => rr::NodeKind::File,
        NodeKind::Endpoint => rr::NodeKind::Endpoint,
        NodeKind::DnsName => rr::NodeKind::Dns,
    }
}

/// The graph to draw: all of it when small, else the incidents' processes and their
/// neighbours (or, without incidents, the busiest processes and theirs), up to `cap`.
fn graph_data(g: &ProcessGraph, d: &Detection, cap: usize) -> rr::GraphData {
    let mut incident_nodes: BTreeSet<NodeIndex> = BTreeSet::new();
    for inc in &d.incidents {
        for &i in &inc.images {
            if let Some(n) = g.image_node(i) {
                incident_nodes.insert(n);
            }
        }
    }
    // Executables are left out: each process box already names its program, and one
    // node per binary doubles the drawing.
    let order: Vec<NodeIndex> = g
        .sorted_nodes()
        .into_iter()
        .filter(|&n| g.graph[n].kind != NodeKind::Executable)
        .collect();
    let total = order.len();
    let keep: BTreeSet<NodeIndex> = if total <= cap {
        order.iter().copied().collect()
    } else {
        let mut seeds: Vec<NodeIndex> = order
            .iter()
            .copied()
            .filter(|n| incident_nodes.contains(n))
            .collect();
        if seeds.is_empty() {
            let mut procs: Vec<(usize, usize)> = order
                .iter()
                .enumerate()
                .filter(|(_, &n)| g.graph[n].kind == NodeKind::Process)
                .map(|(i, &n)| (g.graph.neighbors_undirected(n).count(), i))
                .collect();
            procs.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
            seeds = procs.iter().take(cap / 4).map(|&(_, i)| order[i]).collect();
        }
        let mut keep: BTreeSet<NodeIndex> = BTreeSet::new();
        for &s in &seeds {
            if keep.len() >= cap {
                break;
            }
            keep.insert(s);
        }
        // One hop out, in id order, until the cap.
        let rank: HashMap<NodeIndex, usize> =
            order.iter().enumerate().map(|(i, &n)| (n, i)).collect();
        'out: for &s in &seeds {
            let mut nb: Vec<NodeIndex> = g.graph.neighbors_undirected(s).collect();
            nb.sort_by_key(|n| rank.get(n).copied().unwrap_or(usize::MAX));
            nb.dedup();
            for n in nb {
                if keep.len() >= cap {
                    break 'out;
                }
                keep.insert(n);
            }
        }
        keep
    };
    let mut index: HashMap<NodeIndex, usize> = HashMap::new();
    let mut nodes = Vec::new();
    for &n in &order {
        if keep.contains(&n) {
            index.insert(n, nodes.len());
            let node = &g.graph[n];
            nodes.push(rr::GraphNode {
                kind: node_kind(node.kind),
                label: node.label.clone(),
                incident: incident_nodes.contains(&n),
            });
        }
    }
    let mut edges = Vec::new();
    for (a, b, e) in g.sorted_edges() {
        if let (Some(&x), Some(&y)) = (index.get(&a), index.get(&b)) {
            edges.push(rr::GraphEdge {
                from: x,
                to: y,
                label: edge_label(e),
            });
        }
    }
    let mut notes = Vec::new();
    if nodes.len() < total {
        notes.push(format!(
            "Showing {} of {total} nodes: {} (`analyzer graph` writes the whole graph as DOT or JSON).",
            nodes.len(),
            if incident_nodes.is_empty() {
                "the busiest processes and their neighbours"
            } else {
                "the processes of incidents and their neighbours"
            }
        ));
    }
    if g.lost_records > 0 {
        notes.push(format!(
            "{} records were lost during recording: edges may be missing.",
            g.lost_records
        ));
    }
    rr::GraphData {
        nodes,
        edges,
        note: (!notes.is_empty()).then(|| notes.join(" ")),
    }
}

fn family(rtype: &str) -> &'static str {
    crate::timeline::FAMILIES
        .iter()
        .find(|(_, m)| m.contains(&rtype))
        .map(|(f, _)| *f)
        .unwrap_or("other")
}

fn charts(st: &stats::Stats, d: &Detection) -> rr::Charts {
    let start = st
        .first
        .as_deref()
        .and_then(timefmt::parse_wall)
        .unwrap_or(0);
    let bucket = st.bucket_ns.max(1);
    // Floor of the first event: buckets are multiples of the bucket size.
    let origin = start.div_euclid(bucket as i128) * bucket as i128;
    let mut fams: BTreeMap<&'static str, BTreeMap<i128, u64>> = BTreeMap::new();
    for b in &st.events_per_type {
        let Some(t) = timefmt::parse_wall(&b.bucket) else {
            continue;
        };
        *fams
            .entry(family(&b.rtype))
            .or_default()
            .entry(t)
            .or_default() += b.count;
    }
    let buckets: BTreeSet<i128> = fams.values().flat_map(|m| m.keys().copied()).collect();
    let activity = fams
        .into_iter()
        .map(|(f, m)| {
            let series = buckets
                .iter()
                .map(|t| (((t - origin) as f64) / 1e9, m.get(t).copied().unwrap_or(0)))
                .collect();
            (f.to_string(), series)
        })
        .collect();
    rr::Charts {
        start_wall_ns: origin,
        bucket_s: bucket as f64 / 1e9,
        activity,
        findings: d
            .findings
            .iter()
            .map(|f| rr::Marker {
                at_s: (f.wall_ns - origin) as f64 / 1e9,
                severity: sev(f.rule.severity),
                label: f.rule.id.clone(),
            })
            .collect(),
        destinations: st
            .bytes_by_destination
            .iter()
            .take(10)
            .map(|d| (d.destination.clone(), d.bytes_total))
            .collect(),
        execs: st
            .exec_by_binary
            .iter()
            .take(10)
            .map(|e| (e.exe.clone(), e.execs))
            .collect(),
    }
}

/// Keeps incident rows first, then the earliest, up to `cap`; returns them in time order.
fn cap_rows(mut rows: Vec<(i128, rr::Row)>, cap: usize) -> (Vec<rr::Row>, u64, Option<String>) {
    let total = rows.len() as u64;
    let mut note = None;
    if rows.len() > cap {
        rows.sort_by_key(|r| (!r.1.incident, r.0));
        rows.truncate(cap);
        note = Some(format!(
            "Showing {cap} of {total} rows: rows of incident processes first, then the earliest (raise with --max-rows; `analyzer query` has them all)."
        ));
    }
    rows.sort_by_key(|r| r.0);
    (rows.into_iter().map(|r| r.1).collect(), total, note)
}

fn files_table(g: &ProcessGraph, d: &Detection, cap: usize) -> rr::Table {
    let inc_nodes: HashSet<NodeIndex> = d
        .incidents
        .iter()
        .flat_map(|i| i.images.iter().filter_map(|&im| g.image_node(im)))
        .collect();
    let mut rows = Vec::new();
    for (a, b, e) in g.sorted_edges() {
        if e.kind != EdgeKind::Opened {
            continue;
        }
        let first = e.first_ns.unwrap_or(0);
        let p = &g.graph[a];
        rows.push((
            first,
            rr::Row {
                incident: inc_nodes.contains(&a),
                cells: vec![
                    rr::Cell::text(timefmt::wall(first)),
                    rr::Cell::text(p.label.clone()),
                    rr::Cell::text(g.graph[b].label.clone()),
                    rr::Cell::text(e.ops.iter().copied().collect::<Vec<_>>().join(", ")),
                    rr::Cell::num(e.count.to_string(), e.count as f64),
                    rr::Cell::num(e.failed.to_string(), e.failed as f64),
                    rr::Cell::text(
                        p.process
                            .as_ref()
                            .map(|i| i.exec_id.clone())
                            .unwrap_or_default(),
                    ),
                ],
            },
        ));
    }
    let (rows, total, note) = cap_rows(rows, cap);
    rr::Table {
        columns: vec![
            ("first".into(), false),
            ("process".into(), false),
            ("path".into(), false),
            ("operations".into(), false),
            ("times".into(), true),
            ("failed".into(), true),
            ("exec id".into(), false),
        ],
        rows,
        total,
        note,
    }
}

fn network_table(d: &Detection, anchors: &[ClockAnchor], cap: usize) -> rr::Table {
    let m = &d.model;
    let inc_images: HashSet<ImageId> = d
        .incidents
        .iter()
        .flat_map(|i| i.images.iter().copied())
        .collect();
    let mut rows = Vec::new();
    for c in &m.conns {
        let a = anchors
            .get(c.recording as usize)
            .copied()
            .unwrap_or_default();
        let t = a.wall(c.start_ns);
        let proc_label = m
            .images
            .get(c.image.idx())
            .map(|i| i.label())
            .unwrap_or_else(|| "?".into());
        let dur = c.end_ns.map(|e| e.saturating_sub(c.start_ns));
        let result = match c.outcome() {
            crate::model::net::Outcome::Connected => "ok".into(),
            o => o.text(),
        };
        rows.push((
            t,
            rr::Row {
                incident: inc_images.contains(&c.image),
                cells: vec![
                    rr::Cell::text(timefmt::wall(t)),
                    rr::Cell::text(proc_label),
                    rr::Cell::text(c.dir.name()),
                    rr::Cell::text(c.proto),
                    rr::Cell::text(c.local.map(|l| l.to_string()).unwrap_or_default()),
                    rr::Cell::text(c.remote_text()),
                    rr::Cell::num(timefmt::bytes(c.bytes_sent), c.bytes_sent as f64),
                    rr::Cell::num(timefmt::bytes(c.bytes_received), c.bytes_received as f64),
                    match dur {
                        Some(ns) => rr::Cell::num(timefmt::duration(ns), ns as f64),
                        None => rr::Cell::num("open", -1.0),
                    },
                    rr::Cell::text(result),
                ],
            },
        ));
    }
    let (rows, total, note) = cap_rows(rows, cap);
    rr::Table {
        columns: vec![
            ("start".into(), false),
            ("process".into(), false),
            ("direction".into(), false),
            ("proto".into(), false),
            ("local".into(), false),
            ("remote".into(), false),
            ("sent".into(), true),
            ("received".into(), true),
            ("duration".into(), true),
            ("result".into(), false),
        ],
        rows,
        total,
        note,
    }
}
