//! `analyzer info`: what a trace is (host, time span, segments), what it holds (counts by
//! type), what it missed (loss) and whether it is intact (hash chain, and with
//! `--verify-key` the recorder's ed25519 signature on every segment).

use crate::exit::Outcome;
use crate::timefmt;
use anyhow::Context;
use rewind_schema::reader::SegmentSeal;
use rewind_schema::sign::{self, SignatureStatus};
use rewind_schema::text::escape;
use rewind_schema::trace::{verify_chain_keyed, Severity};
use rewind_schema::wire::{Layout, Loss};
use rewind_schema::RecordType;
use serde_json::json;
use std::collections::BTreeMap;
use std::io::Write;

/// Arguments of `analyzer info`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The traces to read.
    #[command(flatten)]
    pub input: super::Inputs,
    /// Print one JSON document instead of text.
    #[arg(long)]
    pub json: bool,
    /// Check every segment's signature against this ed25519 public key (64 hex digits, or
    /// a file holding them, as `recorder keygen` and the recorder's key log print it). A
    /// segment unsigned, signed by another key or badly signed is damage (exit 3).
    #[arg(long, value_name = "KEY")]
    pub verify_key: Option<String>,
}

#[derive(Default)]
struct RecStats {
    first: Option<i128>,
    last: Option<i128>,
    counts: BTreeMap<String, u64>,
    /// Records that are events (`RecordType::is_event`).
    events: u64,
    /// Every record counted (events, the recorder's snapshots and loss markers, unknown).
    records: u64,
    lost: u64,
    loss_windows: Vec<(u32, u64, i128, i128)>,
    unknown: u64,
}

/// Runs the command, writing to stdout.
pub fn run(args: &Args) -> anyhow::Result<Outcome> {
    let mut out = std::io::stdout().lock();
    write(args, &mut out)
}

/// Writes the report on `args.input` to `out`.
pub fn write(args: &Args, out: &mut impl Write) -> anyhow::Result<Outcome> {
    let key = match &args.verify_key {
        Some(k) => Some(sign::public_key_arg(k).context("--verify-key")?),
        None => None,
    };
    let set = args.input.open()?;
    let mut stats: Vec<RecStats> = set.recordings.iter().map(|_| RecStats::default()).collect();
    let mut merged = set.records();
    for m in merged.by_ref() {
        let st = &mut stats[m.recording];
        if m.rec.record_type() != Some(RecordType::ProcessSnapshot) {
            st.first = Some(st.first.map_or(m.wall_ns, |f| f.min(m.wall_ns)));
            st.last = Some(st.last.map_or(m.wall_ns, |l| l.max(m.wall_ns)));
        }
        let name = match m.rec.record_type() {
            Some(t) => t.name().to_string(),
            None => {
                st.unknown += 1;
                format!("unknown {:#06x}", m.rec.hdr.rtype)
            }
        };
        *st.counts.entry(name).or_default() += 1;
        st.records += 1;
        if m.rec.record_type().is_some_and(RecordType::is_event) {
            st.events += 1;
        }
        if m.rec.record_type() == Some(RecordType::Loss) {
            if let Ok(l) = Loss::decode(m.rec.bytes()) {
                let anchor = set.recordings[m.recording].anchor;
                st.lost = st.lost.saturating_add(l.count);
                st.loss_windows.push((
                    l.loss_cpu,
                    l.count,
                    anchor.wall(l.window_start),
                    anchor.wall(l.window_end),
                ));
            }
        }
    }
    let findings = verify_chain_keyed(&set, merged.reports(), key.as_ref());
    let report_of = |i: usize| merged.reports().iter().find(|r| r.index == i);
    let mut damaged = false;
    let mut signed = key.is_some();

    let mut recordings_json = Vec::new();
    for (ri, rec) in set.recordings.iter().enumerate() {
        let st = &stats[ri];
        let first = &set.segments[rec.segments[0]];
        let host = &first.meta.host;
        let mut segs = Vec::new();
        for &i in &rec.segments {
            let s = &set.segments[i];
            let r = report_of(i);
            let seal = match r.map(|r| &r.seal) {
                Some(SegmentSeal::Intact) => "intact",
                Some(SegmentSeal::Unsealed) => "unsealed",
                Some(SegmentSeal::Mismatch { .. }) => "MODIFIED",
                Some(SegmentSeal::Appended { .. }) => "APPENDED",
                None => "unread",
            };
            let footer = r.and_then(|r| r.footer.as_ref());
            let signature = footer.map(|f| match sign::check_footer(f, key.as_ref()) {
                SignatureStatus::Valid { .. } if key.is_some() => "valid".to_string(),
                SignatureStatus::Valid { .. } => "unverified (no --verify-key)".to_string(),
                SignatureStatus::Missing => "none".to_string(),
                SignatureStatus::OtherKey { .. } => "OTHER KEY".to_string(),
                SignatureStatus::Bad { .. } => "BAD".to_string(),
            });
            signed |= footer.is_some_and(|f| f.signature.is_some());
            let damage: Vec<String> = r
                .map(|r| r.damage.iter().map(|d| d.to_string()).collect())
                .unwrap_or_default();
            damaged |= !damage.is_empty();
            segs.push(json!({
                "path": s.path.display().to_string(),
                "seq": s.meta.seq,
                "bytes": s.file_len,
                "version": format!("{}.{}", s.version.0, s.version.1),
                "frames": r.map(|r| r.frames),
                "records": r.map(|r| r.records),
                "closed": footer.map(|f| f.reason.clone()),
                "seal": seal,
                "sha256": footer.map(|f| f.sha256.clone()),
                "public_key": footer.and_then(|f| f.public_key.clone()),
                "signature": signature,
                "damage": damage,
            }));
        }
        let span_ns = match (st.first, st.last) {
            (Some(a), Some(b)) => Some((b - a).max(0) as u64),
            _ => None,
        };
        recordings_json.push(json!({
            "trace_id": rec.trace_id,
            "host": host,
            "recorder_version": first.meta.recorder_version,
            "capture": first.meta.capture,
            "first": st.first.map(timefmt::wall),
            "last": st.last.map(timefmt::wall),
            "span_ns": span_ns,
            "segments": segs,
            "counts": st.counts,
            "events": st.events,
            "records": st.records,
            "lost": st.lost,
            "loss_windows": st.loss_windows.iter().map(|(cpu, n, a, b)| json!({
                "cpu": cpu, "count": n, "from": timefmt::wall(*a), "to": timefmt::wall(*b)
            })).collect::<Vec<_>>(),
            "unknown_records": st.unknown,
        }));
    }
    let problems: Vec<&str> = findings
        .iter()
        .filter(|f| f.severity == Severity::Problem)
        .map(|f| f.message.as_str())
        .collect();
    let notes: Vec<&str> = findings
        .iter()
        .filter(|f| f.severity == Severity::Note)
        .map(|f| f.message.as_str())
        .collect();
    let errors: Vec<String> = merged.errors().iter().map(|e| e.to_string()).collect();
    let partial = damaged || !problems.is_empty() || !errors.is_empty();

    if args.json {
        let doc = json!({
            "recordings": recordings_json,
            "chain": {
                "verified": problems.is_empty() && notes.is_empty() && errors.is_empty(),
                "signed_by": key.as_ref().map(sign::key_hex),
                "problems": problems,
                "notes": notes,
            },
            "errors": errors,
            "partial": partial,
        });
        rewind_schema::text::write_json_pretty(&mut *out, &doc)?;
        writeln!(out)?;
    } else {
        let keyed = key.as_ref().map(sign::key_hex);
        let t = Text {
            recs: &recordings_json,
            problems: &problems,
            notes: &notes,
            errors: &errors,
            signed,
            key: keyed.as_deref(),
        };
        t.write(out)?;
    }
    Ok(if partial {
        Outcome::Partial
    } else {
        Outcome::Clean
    })
}

/// A value as text; strings (host names, paths, messages) escaped for the terminal.
fn s(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => escape(s).into_owned(),
        serde_json::Value::Null => "-".into(),
        other => other.to_string(),
    }
}

/// What the text report shows.
struct Text<'a> {
    recs: &'a [serde_json::Value],
    problems: &'a [&'a str],
    notes: &'a [&'a str],
    errors: &'a [String],
    /// Some segment is signed, or a key was given: show the signature column.
    signed: bool,
    /// The key given, hex.
    key: Option<&'a str>,
}

impl Text<'_> {
    fn write(&self, out: &mut impl Write) -> anyhow::Result<()> {
        write_text(out, self)
    }
}

fn write_text(out: &mut impl Write, t: &Text<'_>) -> anyhow::Result<()> {
    let (problems, notes, errors) = (t.problems, t.notes, t.errors);
    for r in t.recs {
        let h = &r["host"];
        writeln!(out, "Recording {}", s(&r["trace_id"]))?;
        writeln!(
            out,
            "  host       {} (kernel {}, {}, machine-id {}, boot {})",
            s(&h["hostname"]),
            s(&h["kernel_release"]),
            s(&h["arch"]),
            s(&h["machine_id"]),
            s(&h["boot_id"])
        )?;
        writeln!(
            out,
            "  recorder   {} ({} mode)",
            s(&r["recorder_version"]),
            s(&r["capture"]["mode"])
        )?;
        let span = r["span_ns"]
            .as_u64()
            .map(timefmt::duration)
            .unwrap_or_else(|| "-".into());
        writeln!(
            out,
            "  time       {} .. {} ({span})",
            s(&r["first"]),
            s(&r["last"])
        )?;
        let (events, records) = (
            r["events"].as_u64().unwrap_or(0),
            r["records"].as_u64().unwrap_or(0),
        );
        if events == records {
            writeln!(out, "  events     {events}")?;
        } else {
            // Name both numbers: the others are the recorder's own records (or unknown).
            let others: Vec<String> = r["counts"]
                .as_object()
                .into_iter()
                .flatten()
                .filter(|(k, _)| {
                    !RecordType::ALL
                        .iter()
                        .any(|t| t.is_event() && t.name() == k.as_str())
                })
                .map(|(k, v)| format!("{v} {}", escape(k)))
                .collect();
            writeln!(
                out,
                "  events     {events} ({records} records, including {})",
                others.join(", ")
            )?;
        }
        let lost = r["lost"].as_u64().unwrap_or(0);
        if lost == 0 {
            writeln!(out, "  loss       none reported")?;
        } else {
            writeln!(
                out,
                "  loss       {lost} records LOST; outputs covering these windows are incomplete:"
            )?;
            for w in r["loss_windows"].as_array().into_iter().flatten() {
                writeln!(
                    out,
                    "               cpu {} lost {} between {} and {}",
                    w["cpu"],
                    w["count"],
                    s(&w["from"]),
                    s(&w["to"])
                )?;
            }
        }
        writeln!(out, "  segments")?;
        let w = r["segments"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|x| s(&x["path"]).len())
            .max()
            .unwrap_or(4);
        let sig_head = if t.signed { "  signature" } else { "" };
        let head = format!(
            "    {:>4}  {:<w$} {:>10} {:>7} {:>9}  {:<8} {:<9}{sig_head}",
            "seq", "file", "size", "frames", "records", "seal", "closed"
        );
        writeln!(out, "{}", head.trim_end())?;
        for seg in r["segments"].as_array().into_iter().flatten() {
            let sig = if t.signed {
                format!("  {}", s(&seg["signature"]))
            } else {
                String::new()
            };
            let line = format!(
                "    {:>4}  {:<w$} {:>10} {:>7} {:>9}  {:<8} {:<9}{sig}",
                s(&seg["seq"]),
                s(&seg["path"]),
                timefmt::bytes(seg["bytes"].as_u64().unwrap_or(0)),
                s(&seg["frames"]),
                s(&seg["records"]),
                s(&seg["seal"]),
                s(&seg["closed"]),
            );
            writeln!(out, "{}", line.trim_end())?;
            if t.signed {
                if let Some(pk) = seg["public_key"].as_str() {
                    writeln!(out, "          signed by {pk}")?;
                }
            }
            for d in seg["damage"].as_array().into_iter().flatten() {
                writeln!(out, "          DAMAGED {}", s(d))?;
            }
        }
        writeln!(out, "  counts by type")?;
        for (k, v) in r["counts"].as_object().into_iter().flatten() {
            writeln!(out, "    {:<18} {v:>10}", escape(k))?;
        }
    }
    if problems.is_empty() && notes.is_empty() && errors.is_empty() {
        match t.key {
            Some(k) => writeln!(
                out,
                "Chain: verified: every segment intact, linked and signed by {k}"
            )?,
            None => writeln!(out, "Chain: verified: every segment intact and linked")?,
        }
    } else if problems.is_empty() && errors.is_empty() {
        writeln!(out, "Chain: no tampering found, with notes:")?;
    } else {
        writeln!(out, "Chain: FAILED")?;
    }
    for p in problems {
        writeln!(out, "  problem: {}", escape(p))?;
    }
    for n in notes {
        writeln!(out, "  note: {}", escape(n))?;
    }
    for e in errors {
        writeln!(out, "  error: {}", escape(e))?;
    }
    Ok(())
}
