//! `analyzer policy test` output: each hit with its process, ancestry and event, then a
//! count per rule (rules that never fired included), as text or JSON. Shared by the
//! command and by `analyzer check` (the fixtures' `policy-NAME.txt` expectations).

use super::{PolicyReport, Verdict};
use rewind_schema::wire::ByteString;
use std::io::{self, Write};

/// Rule ids come from the operator's file, but a report may be read from a trace header
/// one day: escaped like every other string.
fn esc(s: &str) -> String {
    ByteString::from(s).display()
}

fn verdict_label(action: &str, v: Verdict) -> String {
    match v {
        Verdict::Blocked => action.to_ascii_uppercase(),
        Verdict::WouldBlock => format!("would {action}"),
        Verdict::Exempt => format!("exempt ({action})"),
        Verdict::Audited => "AUDIT".into(),
    }
}

/// The report as text.
pub fn write_text(out: &mut impl Write, r: &PolicyReport) -> io::Result<()> {
    writeln!(
        out,
        "# policy {} (sha256 {}), mode {}: {} rule(s) over {} event(s)",
        esc(&r.policy),
        &r.sha256[..r.sha256.len().min(16)],
        r.mode,
        r.rules.len(),
        r.events
    )?;
    for h in &r.hits {
        writeln!(
            out,
            "{}  {:<14} {}  ({})  rule {}",
            crate::timefmt::wall(h.wall_ns),
            verdict_label(h.action, h.verdict),
            h.process,
            h.exec_id,
            esc(&h.rule_id)
        )?;
        writeln!(out, "    ancestry: {}", h.ancestry)?;
        writeln!(out, "    event:    {}", h.event)?;
        if let Some(why) = h.exempt {
            writeln!(out, "    exempt:   {why} is never acted on")?;
        }
        if !h.also.is_empty() {
            let also: Vec<String> = h.also.iter().map(|a| esc(a)).collect();
            writeln!(out, "    also:     {}", also.join(", "))?;
        }
    }
    if r.hits.is_empty() {
        writeln!(out, "no rule fired")?;
    }
    writeln!(out)?;
    let w = r
        .rules
        .iter()
        .map(|c| esc(&c.id).chars().count())
        .max()
        .unwrap_or(2)
        .max(2);
    writeln!(
        out,
        "{:>4}  {:<w$}  {:<6} {:>6} {:>8} {:>12} {:>7}",
        "rule", "id", "action", "hits", "blocked", "would block", "exempt"
    )?;
    for c in &r.rules {
        writeln!(
            out,
            "{:>4}  {:<w$}  {:<6} {:>6} {:>8} {:>12} {:>7}",
            c.index,
            esc(&c.id),
            c.action,
            c.hits,
            c.blocked,
            c.would_block,
            c.exempt
        )?;
    }
    let count = |v: Verdict| r.hits.iter().filter(|h| h.verdict == v).count();
    writeln!(
        out,
        "\n{} event(s) would have been blocked, {} would-block in monitor mode, {} audited, {} exempt",
        r.blocked(),
        count(Verdict::WouldBlock),
        count(Verdict::Audited),
        count(Verdict::Exempt)
    )?;
    if r.not_evaluated > 0 {
        writeln!(
            out,
            "{} later event(s) not evaluated: their process would already have been killed or stopped",
            r.not_evaluated
        )?;
    }
    if !r.recorded.is_empty() {
        writeln!(
            out,
            "\nenforcement records in the trace ({}):",
            r.recorded.len()
        )?;
        for line in &r.recorded {
            writeln!(out, "  {line}")?;
        }
    }
    match &r.agreement {
        Some(a) if !a.same_policy => writeln!(
            out,
            "the traces were recorded under another policy (or none): not compared with the records"
        )?,
        Some(a) => {
            writeln!(
                out,
                "records and this evaluation: {} agree, {} only in the trace, {} only in the evaluation",
                a.matched,
                a.only_recorded.len(),
                a.only_evaluated.len()
            )?;
            for x in &a.only_recorded {
                writeln!(out, "  only in the trace:      {x}")?;
            }
            for x in &a.only_evaluated {
                writeln!(out, "  only in the evaluation: {x}")?;
            }
        }
        None => {}
    }
    Ok(())
}

/// The report as one JSON object.
pub fn write_json(out: &mut impl Write, r: &PolicyReport) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, r)?;
    writeln!(out)
}
