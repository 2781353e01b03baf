//! `analyzer incidents`: findings grouped into incidents along the process graph, each
//! told as a short attack timeline (the full one: `analyzer timeline --incident N`).

use super::detect::{detect, sev_tag, Detection, RuleArgs};
use crate::exit::Outcome;
use crate::timefmt;
use rewind_schema::text::escape;
use std::io::{BufWriter, Write};

/// Arguments of `analyzer incidents`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The traces to read.
    #[command(flatten)]
    pub input: super::Inputs,
    /// Rules.
    #[command(flatten)]
    pub rules: RuleArgs,
    /// Only the incidents with a finding in this time window, of these processes (shown
    /// whole, with their numbers), or this incident.
    #[command(flatten)]
    pub scope: crate::scope::ScopeArgs,
    /// One JSON object per incident (with its findings), one per line.
    #[arg(long)]
    pub json: bool,
    /// No progress display.
    #[arg(long, short)]
    pub quiet: bool,
}

/// Runs the command.
pub fn run(args: &Args) -> anyhow::Result<Outcome> {
    let set = args.input.open()?;
    let mut d = detect(&set, &args.rules, !args.quiet)?;
    d.scope_incidents(&args.scope.scope())?;
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    if args.json {
        for inc in &d.incidents {
            let findings: Vec<_> = inc.findings.iter().map(|&i| &d.findings[i]).collect();
            let v = serde_json::json!({ "incident": inc, "findings": findings });
            rewind_schema::text::write_json(&mut out, &v)?;
            out.write_all(b"\n")?;
        }
    } else {
        write_incidents(&mut out, &d)?;
    }
    out.flush()?;
    Ok(d.stats.outcome.unwrap_or(Outcome::Clean))
}

/// The incidents as text.
pub fn write_incidents(out: &mut impl Write, d: &Detection) -> std::io::Result<()> {
    for inc in &d.incidents {
        let span = (inc.end_wall_ns - inc.start_wall_ns).max(0) as u64;
        writeln!(
            out,
            "Incident {}  {} {}",
            inc.id,
            sev_tag(inc.severity).trim_end(),
            escape(&inc.title)
        )?;
        writeln!(
            out,
            "  when:     {} .. {} ({})",
            timefmt::wall(inc.start_wall_ns),
            timefmt::wall(inc.end_wall_ns),
            timefmt::duration(span)
        )?;
        writeln!(out, "  root:     {}", escape(&inc.root))?;
        writeln!(out, "  entry:    {}", escape(&inc.entry))?;
        writeln!(out, "  ATT&CK:   {}", escape(&inc.attack.join(", ")))?;
        writeln!(out, "  processes: {}", inc.processes.len())?;
        writeln!(out, "  story:")?;
        // Findings and their evidence, merged in time order, each event once.
        let mut lines: Vec<(i128, u64, String)> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for &i in &inc.findings {
            let f = &d.findings[i];
            for e in &f.evidence {
                if seen.insert(e.seq) {
                    lines.push((
                        e.wall_ns,
                        e.seq,
                        format!(
                            "    {}  {:<20} {}",
                            timefmt::wall(e.wall_ns),
                            escape(&e.process),
                            escape(&e.text)
                        ),
                    ));
                }
            }
            let at = f
                .evidence
                .last()
                .map(|e| (e.wall_ns, e.seq))
                .unwrap_or((f.wall_ns, 0));
            lines.push((
                at.0,
                at.1,
                format!(
                    "    {}  ! {} {}: {}",
                    " ".repeat(timefmt::wall(f.wall_ns).len() - 2),
                    f.rule.severity.name().to_ascii_uppercase(),
                    escape(&f.rule.id),
                    escape(&f.explanation)
                ),
            ));
        }
        lines.sort_by_key(|a| (a.0, a.1));
        for (_, _, l) in lines {
            writeln!(out, "{l}")?;
        }
        writeln!(
            out,
            "  full story: analyzer timeline --incident {} TRACE...",
            inc.id
        )?;
        writeln!(out)?;
    }
    let loss: u64 = d.model.losses.iter().map(|l| l.count).sum();
    writeln!(
        out,
        "-- {} incidents from {} findings{} --",
        d.incidents.len(),
        // Every finding belongs to one incident: all of them unless scoped.
        d.incidents.iter().map(|i| i.findings.len()).sum::<usize>(),
        if loss > 0 {
            format!(
                "; WARNING: {loss} records were lost during recording, incidents may be incomplete"
            )
        } else {
            String::new()
        }
    )
}
