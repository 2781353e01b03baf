//! `analyzer detect`: findings of the built-in rules (or a rules directory) and of Sigma
//! rules, each with the events that prove it.

use crate::detect::exceptions::Exceptions;
use crate::detect::incident::{self, Incident};
use crate::detect::rule::{self, Rule, Severity};
use crate::detect::{Detector, ExternalRules, Finding};
use crate::exit::Outcome;
use crate::model::Model;
use crate::replay::{replay, ReplayOptions, ReplayStats, Sink};
use crate::scope::{Matcher, Scope};
use crate::timefmt;
use anyhow::Context;
use rewind_schema::text::{escape, Escaped};
use rewind_schema::trace::TraceSet;
use std::io::{BufWriter, Write};
use std::path::PathBuf;

/// Which rules to run (shared by detect, incidents, report and timeline --incident).
#[derive(Debug, Clone, clap::Args)]
pub struct RuleArgs {
    /// Rewind rules from this directory (every *.yml inside), in addition to the
    /// built-in ones (with --no-builtin: instead of them).
    #[arg(long, value_name = "DIR")]
    pub rules: Option<PathBuf>,
    /// Leave the built-in rules out (run only --rules DIR and --sigma DIR).
    #[arg(long)]
    pub no_builtin: bool,
    /// Drop the findings this YAML allowlist names (by rule, binary, parent, path,
    /// uid, container; see analyzer/rules/README.md).
    #[arg(long, value_name = "FILE")]
    pub exceptions: Option<PathBuf>,
    /// Also evaluate the Sigma rules in this directory (Linux process_creation,
    /// file_event, network_connection); rules that cannot be evaluated are listed.
    #[arg(long, value_name = "DIR")]
    pub sigma: Option<PathBuf>,
    /// Only findings of at least this severity (info, low, medium, high, critical).
    #[arg(long, value_name = "LEVEL", default_value = "info", value_parser = parse_severity)]
    pub min_severity: Severity,
    /// Largest gap between two findings of one incident.
    #[arg(long, value_name = "DURATION", default_value = "1h", value_parser = parse_window)]
    pub window: u64,
}

fn parse_severity(s: &str) -> Result<Severity, String> {
    Severity::parse(s).ok_or_else(|| format!("{s:?}: use info, low, medium, high or critical"))
}

fn parse_window(s: &str) -> Result<u64, String> {
    timefmt::parse_duration(s).ok_or_else(|| format!("{s:?} is not a duration (30s, 10m, 1h)"))
}

/// Arguments of `analyzer detect`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The traces to read.
    #[command(flatten)]
    pub input: super::Inputs,
    /// Rules.
    #[command(flatten)]
    pub rules: RuleArgs,
    /// Only findings in this time window, of these processes, of this incident.
    #[command(flatten)]
    pub scope: crate::scope::ScopeArgs,
    /// One JSON object per finding, one per line.
    #[arg(long)]
    pub json: bool,
    /// No progress display.
    #[arg(long, short)]
    pub quiet: bool,
}

/// The rules `args` name: the built-in ones (unless --no-builtin), then a directory's.
pub fn load_rules(args: &RuleArgs) -> anyhow::Result<Vec<Rule>> {
    let mut rules = Vec::new();
    if !args.no_builtin {
        rules = rule::builtin().map_err(anyhow::Error::msg)?;
    }
    if let Some(dir) = &args.rules {
        rules.extend(rule::load_dir(dir).map_err(anyhow::Error::msg)?);
    }
    let mut seen = std::collections::HashMap::new();
    for r in &rules {
        if let Some(first) = seen.insert(r.meta.id.clone(), r.meta.source.clone()) {
            anyhow::bail!(
                "rule id {} is defined twice ({} and {}){}",
                r.meta.id,
                first,
                r.meta.source,
                if first.starts_with("built-in:") {
                    "; --no-builtin runs your rules instead of the built-in ones"
                } else {
                    ""
                }
            );
        }
    }
    Ok(rules)
}

/// The exceptions file `args` names, if any.
pub fn load_exceptions(args: &RuleArgs) -> anyhow::Result<Exceptions> {
    match &args.exceptions {
        Some(p) => Exceptions::load(p).map_err(anyhow::Error::msg),
        None => Ok(Exceptions::default()),
    }
}

/// The Sigma rules `args` name, with those that cannot be evaluated reported on stderr.
pub fn load_sigma(args: &RuleArgs) -> anyhow::Result<Option<Box<dyn ExternalRules>>> {
    let Some(dir) = &args.sigma else {
        return Ok(None);
    };
    let set = crate::detect::sigma::SigmaRules::load_dir(dir)
        .with_context(|| format!("cannot load Sigma rules from {}", dir.display()))?;
    for (path, why) in set.skipped() {
        eprintln!(
            "analyzer: note: Sigma rule {} not evaluated: {}",
            Escaped(path),
            Escaped(why)
        );
    }
    if set.is_empty() {
        eprintln!(
            "analyzer: note: no Sigma rule in {} can be evaluated",
            Escaped(dir.display())
        );
    }
    Ok(Some(Box::new(set)))
}

/// Everything detection produced.
#[derive(Debug)]
pub struct Detection {
    /// The whole model.
    pub model: Model,
    /// Findings at or above the minimum severity, in time order.
    pub findings: Vec<Finding>,
    /// Incidents over those findings.
    pub incidents: Vec<Incident>,
    /// What the replay read.
    pub stats: ReplayStats,
    /// The first event's time.
    pub first_wall: Option<i128>,
    /// Findings the exceptions dropped.
    pub suppressed: usize,
}

/// Which findings `scope` keeps (by index): those of its processes, at least partly in
/// its window, of its incident.
fn in_scope(d: &Detection, scope: &Scope) -> anyhow::Result<Vec<bool>> {
    let mut scope = scope.clone();
    crate::scope::resolve_incident(&mut scope, &d.incidents)?;
    let of_incident: Option<&Vec<usize>> = scope
        .incident
        .and_then(|n| d.incidents.iter().find(|i| i.id == n))
        .map(|i| &i.findings);
    let mut m = Matcher::new(scope);
    if let Some(t) = d.first_wall {
        m.first(t);
    }
    Ok(d.findings
        .iter()
        .enumerate()
        .map(|(k, f)| {
            of_incident.is_none_or(|fs| fs.contains(&k))
                && m.thing(&d.model, f.image, f.wall_ns, f.last_wall_ns.max(f.wall_ns))
        })
        .collect())
}

impl Detection {
    /// Keeps the incidents with a finding in `scope`, whole (`analyzer incidents`,
    /// the report): their numbers do not change.
    pub fn scope_incidents(&mut self, scope: &Scope) -> anyhow::Result<()> {
        if scope.is_everything() {
            return Ok(());
        }
        let keep = in_scope(self, scope)?;
        self.incidents
            .retain(|i| i.findings.iter().any(|&f| keep[f]));
        Ok(())
    }

    /// Keeps the findings in `scope`, and the incidents they belong to, with those
    /// findings only (`analyzer detect`).
    pub fn scope_findings(&mut self, scope: &Scope) -> anyhow::Result<()> {
        if scope.is_everything() {
            return Ok(());
        }
        let keep = in_scope(self, scope)?;
        let mut new_index = vec![None; keep.len()];
        let mut kept = Vec::new();
        for (k, f) in std::mem::take(&mut self.findings).into_iter().enumerate() {
            if keep[k] {
                new_index[k] = Some(kept.len());
                kept.push(f);
            }
        }
        self.findings = kept;
        for inc in &mut self.incidents {
            inc.findings = inc.findings.iter().filter_map(|&f| new_index[f]).collect();
        }
        self.incidents.retain(|i| !i.findings.is_empty());
        Ok(())
    }
}

/// Replays `set` with the rules and groups the findings.
pub fn detect(set: &TraceSet, args: &RuleArgs, progress: bool) -> anyhow::Result<Detection> {
    detect_with(set, args, progress, &mut [])
}

/// Like [`detect`], with more sinks fed by the same replay (the report's graph and
/// analytics), so the trace is read once.
pub fn detect_with(
    set: &TraceSet,
    args: &RuleArgs,
    progress: bool,
    extra: &mut [&mut dyn Sink],
) -> anyhow::Result<Detection> {
    let rules = load_rules(args)?;
    let sigma = load_sigma(args)?;
    let anchors = set.recordings.iter().map(|r| r.anchor).collect();
    let exceptions = load_exceptions(args)?;
    let mut det = Detector::new(rules, sigma, anchors).with_exceptions(exceptions);
    let mut both = Both {
        det: &mut det,
        extra,
        first: None,
    };
    let (model, stats) = replay(
        set,
        &mut [&mut both],
        ReplayOptions {
            progress,
            ..Default::default()
        },
    )?;
    let first_wall = both.first;
    let suppressed = det.suppressed(args.min_severity);
    if args.exceptions.is_some() {
        eprintln!("analyzer: note: {suppressed} findings suppressed by exceptions");
    }
    let findings: Vec<Finding> = det
        .into_findings()
        .into_iter()
        .filter(|f| f.rule.severity >= args.min_severity)
        .collect();
    let incidents = incident::group(&model, &findings, args.window as i128);
    Ok(Detection {
        model,
        findings,
        incidents,
        stats,
        first_wall,
        suppressed,
    })
}

/// The detector, then the other sinks, as one sink.
struct Both<'a, 'b> {
    det: &'a mut Detector,
    extra: &'a mut [&'b mut dyn Sink],
    first: Option<i128>,
}

impl Sink for Both<'_, '_> {
    fn step(&mut self, model: &Model, step: &crate::replay::Step) -> anyhow::Result<()> {
        self.first.get_or_insert(step.wall_ns);
        self.det.step(model, step)?;
        for s in self.extra.iter_mut() {
            s.step(model, step)?;
        }
        Ok(())
    }

    fn finish(&mut self, model: &Model) -> anyhow::Result<()> {
        self.det.finish(model)?;
        for s in self.extra.iter_mut() {
            s.finish(model)?;
        }
        Ok(())
    }
}

/// Runs the command.
pub fn run(args: &Args) -> anyhow::Result<Outcome> {
    let set = args.input.open()?;
    let mut d = detect(&set, &args.rules, !args.quiet)?;
    d.scope_findings(&args.scope.scope())?;
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    if args.json {
        for f in &d.findings {
            rewind_schema::text::write_json(&mut out, f)?;
            out.write_all(b"\n")?;
        }
    } else {
        write_findings(&mut out, &d)?;
    }
    out.flush()?;
    Ok(d.stats.outcome.unwrap_or(Outcome::Clean))
}

/// A severity as a fixed-width tag.
pub fn sev_tag(s: Severity) -> String {
    format!("{:<8}", s.name().to_ascii_uppercase())
}

/// The binary a finding's process ran (for collapsing repeats).
fn binary_of(d: &Detection, f: &Finding) -> String {
    f.image
        .and_then(|i| d.model.images.get(i.idx()))
        .map(|i| String::from_utf8_lossy(i.exe.as_bytes()).into_owned())
        .unwrap_or_default()
}

/// Low-value findings (info, low) of one rule and one binary collapse into the first of
/// them: for each finding, `None` when it was folded into an earlier one, else the
/// findings folded into it (their indexes).
fn collapse(d: &Detection) -> Vec<Option<Vec<usize>>> {
    let mut first: std::collections::HashMap<(&str, String), usize> = Default::default();
    let mut out: Vec<Option<Vec<usize>>> = Vec::with_capacity(d.findings.len());
    for (k, f) in d.findings.iter().enumerate() {
        if f.rule.severity > Severity::Low {
            out.push(Some(Vec::new()));
            continue;
        }
        match first.entry((f.rule.id.as_str(), binary_of(d, f))) {
            std::collections::hash_map::Entry::Occupied(e) => {
                if let Some(v) = out[*e.get()].as_mut() {
                    v.push(k);
                }
                out.push(None);
            }
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert(k);
                out.push(Some(Vec::new()));
            }
        }
    }
    out
}

/// Processes named in a collapsed line, at most.
const COLLAPSED_NAMES: usize = 5;

/// The findings as text: one block per finding with its evidence; repeated low-value
/// findings (same rule, same binary) once, with a count.
pub fn write_findings(out: &mut impl Write, d: &Detection) -> std::io::Result<()> {
    let folds = collapse(d);
    for (f, fold) in d.findings.iter().zip(&folds) {
        let Some(fold) = fold else { continue };
        writeln!(
            out,
            "{}  {} {}  {}  [{}]",
            timefmt::wall(f.wall_ns),
            sev_tag(f.rule.severity),
            escape(&f.rule.id),
            escape(&f.rule.title),
            escape(&f.rule.attack.join(", "))
        )?;
        let times = if f.count > 1 {
            format!(
                " ({} times, last {})",
                f.count,
                timefmt::wall(f.last_wall_ns)
            )
        } else {
            String::new()
        };
        writeln!(out, "    {}{times}", escape(&f.explanation))?;
        for e in &f.evidence {
            writeln!(
                out,
                "      {}  {:<20} {}",
                timefmt::wall(e.wall_ns),
                escape(&e.process),
                escape(&e.text)
            )?;
        }
        if !fold.is_empty() {
            let names: Vec<String> = fold
                .iter()
                .take(COLLAPSED_NAMES)
                .map(|&k| escape(&d.findings[k].process).to_string())
                .collect();
            let more = if fold.len() > COLLAPSED_NAMES {
                ", ..."
            } else {
                ""
            };
            let last = fold.iter().map(|&k| d.findings[k].last_wall_ns).max();
            writeln!(
                out,
                "    + {} more of this rule by {} (last {}): {}{more}",
                fold.len(),
                escape(&binary_of(d, f)),
                timefmt::wall(last.unwrap_or(f.last_wall_ns)),
                names.join(", ")
            )?;
        }
    }
    let counts = crate::detect::by_severity(&d.findings)
        .iter()
        .map(|(s, n)| format!("{n} {}", s.name()))
        .collect::<Vec<_>>()
        .join(", ");
    let loss: u64 = d.model.losses.iter().map(|l| l.count).sum();
    let loss = if loss > 0 {
        format!("; WARNING: {loss} records were lost during recording, findings may be missing")
    } else {
        String::new()
    };
    let suppressed = if d.suppressed > 0 {
        format!("; {} findings suppressed by exceptions", d.suppressed)
    } else {
        String::new()
    };
    writeln!(
        out,
        "-- {} findings{} in {} incidents{suppressed}{loss} --",
        d.findings.len(),
        if counts.is_empty() {
            String::new()
        } else {
            format!(" ({counts})")
        },
        d.incidents.len()
    )
}
