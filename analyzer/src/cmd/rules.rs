//! `analyzer rules list|test`: what the rules are, and whether each still fires where
//! its `tests:` say it should (the detection engineer's CI check).

use super::detect::{load_rules, load_sigma, RuleArgs};
use crate::detect::rule::{Rule, RuleTest};
use crate::detect::Detector;
use crate::exit::Outcome;
use crate::replay::{replay, ReplayOptions};
use rewind_schema::text::{escape, Escaped};
use rewind_schema::trace::TraceSet;
use std::io::Write;

/// `analyzer rules` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// One line per rule: id, severity, ATT&CK, title.
    List {
        /// Rules.
        #[command(flatten)]
        rules: RuleArgs,
        /// JSON: one object per rule.
        #[arg(long)]
        json: bool,
    },
    /// Compile every rule and run each rule's `tests:` (trace and expected findings).
    Test {
        /// Rules.
        #[command(flatten)]
        rules: RuleArgs,
    },
}

/// Arguments of `analyzer rules`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Runs the command.
pub fn run(args: &Args) -> anyhow::Result<Outcome> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match &args.command {
        Command::List { rules: ra, json } => {
            let rules = load_rules(ra)?;
            // Sigma rules (those that can be evaluated; the others are noted on stderr).
            let sigma = load_sigma(ra)?;
            let metas = rules
                .iter()
                .map(|r| &r.meta)
                .chain(sigma.iter().flat_map(|s| s.metas().iter()));
            let mut n = 0usize;
            for m in metas {
                n += 1;
                if *json {
                    rewind_schema::text::write_json(&mut out, m)?;
                    writeln!(out)?;
                } else {
                    writeln!(
                        out,
                        "{:<18} {:<8} {:<28} {}",
                        escape(&m.id),
                        m.severity.name(),
                        escape(&m.attack.join(",")),
                        escape(&m.title)
                    )?;
                }
            }
            if !*json {
                writeln!(out, "-- {n} rules --")?;
            }
            Ok(Outcome::Clean)
        }
        Command::Test { rules: ra } => {
            let rules = load_rules(ra)?;
            if let Some(dir) = &ra.sigma {
                eprintln!(
                    "analyzer: note: Sigma rules ({}) carry no tests: \
                     `analyzer detect --sigma` runs them",
                    Escaped(dir.display())
                );
            }
            let mut failed = 0usize;
            let mut ran = 0usize;
            for r in &rules {
                for t in &r.tests {
                    ran += 1;
                    // Built-in rules' test paths are relative to analyzer/rules/.
                    let base = match &ra.rules {
                        Some(dir) => std::path::Path::new(&r.meta.source)
                            .parent()
                            .map(|p| p.to_path_buf())
                            .unwrap_or_else(|| dir.clone()),
                        None => std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("rules"),
                    };
                    let path = base.join(&t.trace);
                    let (ok, text) = run_test(&rules, r, t, &path)?;
                    if !ok {
                        failed += 1;
                    }
                    writeln!(
                        out,
                        "{} {} on {}: {}",
                        if ok { "ok  " } else { "FAIL" },
                        escape(&r.meta.id),
                        Escaped(t.trace.display()),
                        escape(&text)
                    )?;
                }
            }
            writeln!(
                out,
                "-- {} rules compiled; {ran} tests, {failed} failed --",
                rules.len()
            )?;
            if failed > 0 {
                anyhow::bail!("{failed} rule tests failed");
            }
            Ok(Outcome::Clean)
        }
    }
}

/// Runs one test of `rule` on the trace at `path`: the rule and the rules it names
/// silent, together. Whether it passed, and what was found.
fn run_test(
    all: &[Rule],
    rule: &Rule,
    t: &RuleTest,
    path: &std::path::Path,
) -> anyhow::Result<(bool, String)> {
    let mut run = vec![rule.clone()];
    let mut problems = Vec::new();
    for id in &t.silent {
        match all.iter().find(|r| &r.meta.id == id) {
            Some(s) if s.meta.id != rule.meta.id => run.push(s.clone()),
            Some(_) => problems.push(format!("{id} cannot be silent in its own test")),
            None => problems.push(format!("silent rule {id} is not among the rules")),
        }
    }
    let set = TraceSet::open(&[path])?;
    let anchors = set.recordings.iter().map(|x| x.anchor).collect();
    let mut det = Detector::new(run, None, anchors);
    replay(&set, &mut [&mut det], ReplayOptions::default())?;
    let found = det.into_findings();
    let own: Vec<&crate::detect::Finding> =
        found.iter().filter(|f| f.rule.id == rule.meta.id).collect();
    let mut text = format!("{} findings", own.len());
    if let Some(n) = t.findings {
        text.push_str(&format!(", expected {n}"));
        if own.len() != n {
            problems.push(format!("{} findings, expected {n}", own.len()));
        }
    }
    if let Some(want) = &t.processes {
        let mut got: Vec<&str> = own.iter().map(|f| f.process.as_str()).collect();
        got.sort_unstable();
        got.dedup();
        let mut want: Vec<&str> = want.iter().map(String::as_str).collect();
        want.sort_unstable();
        want.dedup();
        text.push_str(&format!("; processes {}", got.join(", ")));
        if got != want {
            problems.push(format!(
                "fired in [{}], expected [{}]",
                got.join(", "),
                want.join(", ")
            ));
        }
    }
    if !t.silent.is_empty() {
        text.push_str(&format!("; silent {}", t.silent.join(", ")));
        for id in &t.silent {
            let mut by: Vec<&str> = found
                .iter()
                .filter(|f| &f.rule.id == id)
                .map(|f| f.process.as_str())
                .collect();
            by.dedup();
            if !by.is_empty() {
                problems.push(format!("{id} fired ({})", by.join(", ")));
            }
        }
    }
    if problems.is_empty() {
        Ok((true, text))
    } else {
        Ok((false, format!("{text}: {}", problems.join("; "))))
    }
}
