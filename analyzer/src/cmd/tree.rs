//! `analyzer tree`: the process tree. One node per process (pid lifetime), showing its
//! exec chain (`bash -> sh -c ... -> bash -i`), duration, exit, and how many files,
//! connections and DNS names it touched; children are the processes it forked.

use crate::exit::Outcome;
use crate::model::process::{End, Image, ImageId, Origin};
use crate::model::Model;
use crate::replay::{replay, ReplayOptions};
use crate::timefmt;
use crate::timeline::ProcSel;
use rewind_schema::text::escape;
use serde::Serialize;
use std::collections::{BTreeMap, HashSet};
use std::io::{BufWriter, Write};

/// Arguments of `analyzer tree`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The traces to read.
    #[command(flatten)]
    pub input: super::Inputs,
    /// Only the processes that did something in this window, of these pids, under this
    /// process, in this container or of this incident (with their ancestors, to place
    /// them); `--process-tree` starts the tree at that process.
    #[command(flatten)]
    pub scope: crate::scope::ScopeArgs,
    /// Rules that number the incidents (for `--incident`).
    #[command(flatten)]
    pub rules: super::detect::RuleArgs,
    /// Show exec ids (for `timeline --process-tree`).
    #[arg(long)]
    pub ids: bool,
    /// JSON (nested) instead of text.
    #[arg(long)]
    pub json: bool,
    /// No progress display.
    #[arg(long, short)]
    pub quiet: bool,
}

/// One process: the images of one pid lifetime, in exec order.
#[derive(Debug, Clone, Serialize)]
pub struct ProcNode {
    /// Exec id of the first image.
    pub exec_id: String,
    /// pid.
    pub pid: u32,
    /// Program name of the last image.
    pub name: String,
    /// Command lines of each exec'd image, in order (a fork image that never exec'd
    /// contributes its inherited command line once).
    pub chain: Vec<String>,
    /// How the model learned about its first image.
    pub origin: &'static str,
    /// Wall-clock start (RFC 3339).
    pub start: String,
    /// Duration, when its end was seen.
    pub duration_ns: Option<u64>,
    /// Exit code.
    pub exit_code: Option<u8>,
    /// Killing signal.
    pub signal: Option<u8>,
    /// File events.
    pub files: u64,
    /// Connections and UDP flows.
    pub conns: u64,
    /// TCP/UDP connections that failed (refused, timed out, unreachable, ...; failed
    /// unix connects, routine for every nscd lookup, are not counted).
    pub failed_conns: u64,
    /// Distinct DNS names asked for.
    pub dns_names: Vec<String>,
    /// Container (short id).
    pub container: Option<String>,
    /// Forked processes.
    pub children: Vec<ProcNode>,
}

/// Groups images into processes: an image starts a new process unless its parent is an
/// image of the same pid that it replaced by exec.
pub fn process_heads(model: &Model) -> (Vec<ImageId>, BTreeMap<ImageId, ImageId>) {
    let mut head_of: BTreeMap<ImageId, ImageId> = BTreeMap::new();
    let mut heads = Vec::new();
    for img in &model.images {
        let exec_of_parent = img.parent.filter(|p| {
            let pi = model.image(*p);
            pi.pid == img.pid && matches!(pi.end, Some(End::Exec { next }) if next == img.id)
        });
        match exec_of_parent.and_then(|p| head_of.get(&p).copied()) {
            Some(h) => {
                head_of.insert(img.id, h);
            }
            None => {
                head_of.insert(img.id, img.id);
                heads.push(img.id);
            }
        }
    }
    (heads, head_of)
}

/// Builds the forest (roots are processes whose parent is unknown or not selected).
pub fn forest(model: &Model, anchors: &[rewind_schema::meta::ClockAnchor]) -> Vec<ProcNode> {
    let (heads, head_of) = process_heads(model);
    // Images of each process, in order.
    let mut members: BTreeMap<ImageId, Vec<&Image>> = BTreeMap::new();
    for img in &model.images {
        if let Some(h) = head_of.get(&img.id) {
            members.entry(*h).or_default().push(img);
        }
    }
    // Children of each process, by the process of the head's parent image.
    let mut kids: BTreeMap<ImageId, Vec<ImageId>> = BTreeMap::new();
    let mut roots = Vec::new();
    for &h in &heads {
        match model.image(h).parent.and_then(|p| head_of.get(&p).copied()) {
            Some(ph) if ph != h => kids.entry(ph).or_default().push(h),
            _ => roots.push(h),
        }
    }
    let mut failed: BTreeMap<ImageId, u64> = BTreeMap::new();
    for c in &model.conns {
        if c.proto != "unix" && c.failed() {
            *failed.entry(c.image).or_default() += 1;
        }
    }
    fn build(
        model: &Model,
        anchors: &[rewind_schema::meta::ClockAnchor],
        h: ImageId,
        members: &BTreeMap<ImageId, Vec<&Image>>,
        kids: &BTreeMap<ImageId, Vec<ImageId>>,
        failed: &BTreeMap<ImageId, u64>,
    ) -> ProcNode {
        let imgs = members.get(&h).cloned().unwrap_or_default();
        let first = model.image(h);
        let last = imgs.last().copied().unwrap_or(first);
        let mut chain = Vec::new();
        let mut files = 0;
        let mut conns = 0;
        let mut failed_conns = 0;
        let mut dns: Vec<String> = Vec::new();
        // Exec'd images show their command lines; a process that never exec'd shows the
        // command line it inherited.
        let execd: Vec<&Image> = imgs
            .iter()
            .copied()
            .filter(|i| i.origin != Origin::Fork)
            .collect();
        let shown = if execd.is_empty() {
            imgs.first().copied().into_iter().collect()
        } else {
            execd
        };
        for img in shown {
            let c = img.cmdline();
            chain.push(if c.is_empty() { img.name() } else { c });
        }
        for img in &imgs {
            files += img.counts.files;
            conns += img.counts.conns;
            failed_conns += failed.get(&img.id).copied().unwrap_or(0);
            for n in &img.counts.dns_names {
                if !dns.contains(n) {
                    dns.push(n.clone());
                }
            }
        }
        let anchor = model
            .recording_boot
            .iter()
            .position(|&b| b == first.boot)
            .and_then(|r| anchors.get(r))
            .copied()
            .unwrap_or_default();
        let (exit_code, signal) = match last.end {
            Some(End::Exit { code, signal, .. }) => (code, signal),
            _ => (None, None),
        };
        let mut children: Vec<ProcNode> = kids
            .get(&h)
            .map(|v| {
                v.iter()
                    .map(|&k| build(model, anchors, k, members, kids, failed))
                    .collect()
            })
            .unwrap_or_default();
        children.sort_by(|a, b| (&a.start, a.pid).cmp(&(&b.start, b.pid)));
        ProcNode {
            exec_id: first.exec_id(),
            pid: first.pid,
            name: last.name(),
            chain,
            origin: first.origin.name(),
            start: timefmt::wall(anchor.wall(first.start_ns)),
            duration_ns: last.end_ns.map(|e| e.saturating_sub(first.start_ns)),
            exit_code,
            signal,
            files,
            conns,
            failed_conns,
            dns_names: dns,
            container: last.container.as_ref().map(|c| c.short_id().to_string()),
            children,
        }
    }
    let mut out: Vec<ProcNode> = roots
        .iter()
        .map(|&r| build(model, anchors, r, &members, &kids, &failed))
        .collect();
    out.sort_by(|a, b| (&a.start, a.pid).cmp(&(&b.start, b.pid)));
    out
}

/// The nodes in `keep` and their ancestors.
fn prune(nodes: Vec<ProcNode>, keep: &HashSet<String>) -> Vec<ProcNode> {
    nodes
        .into_iter()
        .filter_map(|mut n| {
            n.children = prune(std::mem::take(&mut n.children), keep);
            (keep.contains(&n.exec_id) || !n.children.is_empty()).then_some(n)
        })
        .collect()
}

fn select<'a>(nodes: &'a [ProcNode], sel: &ProcSel, out: &mut Vec<&'a ProcNode>) {
    for n in nodes {
        let hit = match sel {
            ProcSel::Pid(p) => n.pid == *p,
            ProcSel::ExecId(e) => n.exec_id == *e,
        };
        if hit {
            out.push(n);
        } else {
            select(&n.children, sel, out);
        }
    }
}

/// A process's life in short phrases: duration, exit or signal (or still running),
/// file/connection/DNS counts, container. Shared by the text tree and the HTML report.
pub fn life_facts(n: &ProcNode, facts: &mut Vec<String>) {
    if let Some(d) = n.duration_ns {
        facts.push(timefmt::duration(d));
    }
    match (n.exit_code, n.signal) {
        (Some(c), _) => facts.push(format!("exit {c}")),
        (_, Some(s)) => facts.push(format!("killed by {}", crate::names::signal(s as u32))),
        _ if n.duration_ns.is_none() => facts.push("still running".into()),
        _ => {}
    }
    if n.files > 0 {
        facts.push(format!("files {}", n.files));
    }
    if n.conns > 0 && n.failed_conns > 0 {
        facts.push(format!("conns {} ({} failed)", n.conns, n.failed_conns));
    } else if n.conns > 0 {
        facts.push(format!("conns {}", n.conns));
    }
    if !n.dns_names.is_empty() {
        facts.push(format!("dns {}", n.dns_names.join(",")));
    }
    if let Some(c) = &n.container {
        facts.push(format!("container {c}"));
    }
}

/// Writes the tree as text.
pub fn write_text(out: &mut impl Write, nodes: &[&ProcNode], ids: bool) -> std::io::Result<()> {
    fn line(n: &ProcNode, ids: bool) -> String {
        let mut s = format!("{}[{}] {}", n.name, n.pid, n.chain.join("  =>  "));
        let mut facts = Vec::new();
        if n.origin == "snapshot" {
            facts.push("running at start".to_string());
        } else if n.origin == "unknown" {
            facts.push("start not recorded".to_string());
        }
        life_facts(n, &mut facts);
        if ids {
            facts.push(n.exec_id.clone());
        }
        s.push_str(&format!("  ({})", facts.join(", ")));
        s
    }
    fn walk(
        out: &mut impl Write,
        n: &ProcNode,
        prefix: &str,
        last: bool,
        root: bool,
        ids: bool,
    ) -> std::io::Result<()> {
        let (branch, cont) = if root {
            ("", "")
        } else if last {
            ("`- ", "   ")
        } else {
            ("|- ", "|  ")
        };
        writeln!(out, "{prefix}{branch}{}", escape(&line(n, ids)))?;
        let next = format!("{prefix}{cont}");
        for (i, c) in n.children.iter().enumerate() {
            walk(out, c, &next, i + 1 == n.children.len(), false, ids)?;
        }
        Ok(())
    }
    for n in nodes {
        walk(out, n, "", true, true, ids)?;
    }
    Ok(())
}

/// Runs the command, writing to stdout.
pub fn run(args: &Args) -> anyhow::Result<Outcome> {
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let outcome = write(args, &mut out)?;
    out.flush()?;
    Ok(outcome)
}

/// Writes the tree of `args.input` to `out`.
pub fn write(args: &Args, out: &mut impl Write) -> anyhow::Result<Outcome> {
    let set = args.input.open()?;
    let scope = crate::scope::resolve(&args.scope, &set, &args.rules, !args.quiet)?;
    let mut noop = crate::scope::Ignore;
    let mut scoped = crate::scope::Scoped::new(scope.clone(), &mut noop);
    let (model, stats) = replay(
        &set,
        &mut [&mut scoped],
        ReplayOptions {
            progress: !args.quiet,
            streaming: false,
        },
    )?;
    let anchors: Vec<_> = set.recordings.iter().map(|r| r.anchor).collect();
    let mut all = forest(&model, &anchors);
    if !scope.is_everything() {
        // The processes with an event in scope, by their first image's exec id.
        let (_, head_of) = process_heads(&model);
        let keep: HashSet<String> = scoped
            .matcher
            .seen
            .iter()
            .filter_map(|i| head_of.get(i))
            .map(|h| model.image(*h).exec_id())
            .collect();
        all = prune(all, &keep);
    }
    let mut picked = Vec::new();
    match &scope.tree {
        Some(sel) => {
            select(&all, sel, &mut picked);
            if picked.is_empty() {
                anyhow::bail!("no process matches {sel:?} in scope");
            }
        }
        None => picked.extend(all.iter()),
    }
    if args.json {
        rewind_schema::text::write_json_pretty(&mut *out, &picked)?;
        writeln!(out)?;
    } else {
        write_text(out, &picked, args.ids)?;
    }
    Ok(stats.outcome.unwrap_or(Outcome::Clean))
}
