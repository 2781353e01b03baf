//! `analyzer dump`: every event, decoded, one per line, in time order.

use crate::describe::describe;
use crate::exit::Outcome;
use crate::timefmt;
use rewind_schema::text::{escape, Escaped};
use rewind_schema::RecordType;
use std::io::{BufWriter, Write};

/// Arguments of `analyzer dump`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The traces to read.
    #[command(flatten)]
    pub input: super::Inputs,
    /// One JSON object per line instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Runs the command, writing to stdout.
pub fn run(args: &Args) -> anyhow::Result<Outcome> {
    let stdout = std::io::stdout();
    let mut out = BufWriter::with_capacity(1 << 16, stdout.lock());
    let outcome = write(args, &mut out)?;
    out.flush()?;
    Ok(outcome)
}

/// Writes the dump of `args.input` to `out`.
pub fn write(args: &Args, out: &mut impl Write) -> anyhow::Result<Outcome> {
    let set = args.input.open()?;
    let mut merged = set.records();
    let mut undecodable = 0u64;
    for m in merged.by_ref() {
        let seg = &set.segments[m.segment];
        let time = timefmt::wall(m.wall_ns);
        match m.rec.decode() {
            Ok(ev) => {
                if args.json {
                    let mut v = serde_json::to_value(&ev)?;
                    if let Some(o) = v.as_object_mut() {
                        o.insert("time".into(), time.into());
                        o.insert("host".into(), seg.meta.host.hostname.clone().into());
                    }
                    rewind_schema::text::write_json(&mut *out, &v)?;
                    writeln!(out)?;
                } else {
                    let anchor = &set.recordings[m.recording].anchor;
                    writeln!(
                        out,
                        "{time} {:>7}/{:<7} cpu{:<2} {:<16} {}",
                        ev.pid,
                        ev.tid,
                        ev.cpu,
                        ev.kind.record_type().name(),
                        escape(&describe(&ev, anchor))
                    )?;
                }
            }
            Err(e) => {
                undecodable += 1;
                let h = m.rec.hdr;
                let name = RecordType::from_u16(h.rtype).map(|t| t.name().to_string());
                let name = name.unwrap_or_else(|| format!("{:#06x}", h.rtype));
                if args.json {
                    let v = serde_json::json!({
                        "time": time, "ts": h.ts, "cpu": h.cpu, "pid": h.pid, "tid": h.tid,
                        "type": "undecodable", "record_type": name, "size": h.size,
                        "error": e.to_string(),
                    });
                    rewind_schema::text::write_json(&mut *out, &v)?;
                    writeln!(out)?;
                } else {
                    writeln!(
                        out,
                        "{time} {:>7}/{:<7} cpu{:<2} {:<16} undecodable ({} bytes): {}",
                        h.pid,
                        h.tid,
                        h.cpu,
                        name,
                        h.size,
                        Escaped(&e)
                    )?;
                }
            }
        }
    }
    out.flush()?;
    if undecodable > 0 {
        eprintln!(
            "analyzer: warning: {undecodable} records could not be decoded (shown as undecodable)"
        );
    }
    Ok(super::report_problems(&set, &merged))
}
