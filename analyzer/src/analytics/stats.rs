//! `analyzer stats`: aggregations over the event stream and the model, computed with
//! polars (group-by, sum, sort), printed as aligned text tables or one JSON document.
//! Every listing is sorted to a total order (count descending, then key) so output is
//! byte-identical run to run.

use super::{destination_frame, event_frame, Collector};
use crate::model::Model;
use crate::timefmt;
use polars::prelude::*;
use rewind_schema::text::escape;
use rewind_schema::RecordType;
use serde::Serialize;
use std::io::Write;

/// Bucket sizes `--bucket auto` picks from: the smallest giving at most this many buckets.
const NICE_BUCKETS_NS: [u64; 16] = [
    1_000_000,
    10_000_000,
    100_000_000,
    1_000_000_000,
    5_000_000_000,
    10_000_000_000,
    30_000_000_000,
    60_000_000_000,
    300_000_000_000,
    900_000_000_000,
    1_800_000_000_000,
    3_600_000_000_000,
    6 * 3_600_000_000_000,
    12 * 3_600_000_000_000,
    24 * 3_600_000_000_000,
    7 * 24 * 3_600_000_000_000,
];
const MAX_AUTO_BUCKETS: u64 = 30;

/// The bucket `auto` picks for a time span.
pub fn auto_bucket(span_ns: u64) -> u64 {
    NICE_BUCKETS_NS
        .iter()
        .copied()
        .find(|b| span_ns / b < MAX_AUTO_BUCKETS)
        .unwrap_or(NICE_BUCKETS_NS[NICE_BUCKETS_NS.len() - 1])
}

/// Events of one type in one time bucket.
#[derive(Debug, Clone, Serialize)]
pub struct BucketCount {
    /// Bucket start, RFC 3339 UTC.
    pub bucket: String,
    /// Record type name.
    #[serde(rename = "type")]
    pub rtype: String,
    /// Events.
    pub count: u64,
}

/// Events of one type over the whole input.
#[derive(Debug, Clone, Serialize)]
pub struct TypeCount {
    /// Record type name.
    #[serde(rename = "type")]
    pub rtype: String,
    /// Events.
    pub count: u64,
}

/// A process image and how many events it did.
#[derive(Debug, Clone, Serialize)]
pub struct ProcessActivity {
    /// Exec id.
    pub exec_id: String,
    /// `name[pid]`.
    pub process: String,
    /// Command line.
    pub cmdline: String,
    /// Events attributed to it.
    pub events: u64,
}

/// Bytes exchanged with one destination.
#[derive(Debug, Clone, Serialize)]
pub struct DestinationBytes {
    /// `name (ip:port)`, `ip:port` or a unix path.
    pub destination: String,
    /// Connections and UDP flows.
    pub connections: u64,
    /// Bytes sent to it.
    pub bytes_sent: u64,
    /// Bytes received from it.
    pub bytes_received: u64,
    /// Both.
    pub bytes_total: u64,
}

/// How often one program was exec'd.
#[derive(Debug, Clone, Serialize)]
pub struct ExecCount {
    /// Program path.
    pub exe: String,
    /// Execs.
    pub execs: u64,
}

/// Everything `stats` prints.
#[derive(Debug, Clone, Serialize)]
pub struct Stats {
    /// Events.
    pub events: u64,
    /// First event, RFC 3339.
    pub first: Option<String>,
    /// Last event, RFC 3339.
    pub last: Option<String>,
    /// Bucket size in ns.
    pub bucket_ns: u64,
    /// Records the recorder lost (every count here is then a lower bound).
    pub lost_records: u64,
    /// Loss windows.
    pub loss_windows: u64,
    /// Events per type per bucket (only non-zero cells), by bucket then type.
    pub events_per_type: Vec<BucketCount>,
    /// Events per type over everything, most first.
    pub type_totals: Vec<TypeCount>,
    /// The most active processes, most first.
    pub top_processes: Vec<ProcessActivity>,
    /// Bytes by destination, most first.
    pub bytes_by_destination: Vec<DestinationBytes>,
    /// Execs by program, most first.
    pub exec_by_binary: Vec<ExecCount>,
}

fn type_name(n: u32) -> String {
    u16::try_from(n)
        .ok()
        .and_then(RecordType::from_u16)
        .map(|t| t.name().to_string())
        .unwrap_or_else(|| format!("type_{n:#06x}"))
}

fn u64s(df: &DataFrame, name: &str) -> PolarsResult<Vec<u64>> {
    let s = df.column(name)?.cast(&DataType::UInt64)?;
    Ok(s.u64()?.iter().map(|v| v.unwrap_or(0)).collect())
}

fn strs(df: &DataFrame, name: &str) -> PolarsResult<Vec<String>> {
    Ok(df
        .column(name)?
        .str()?
        .iter()
        .map(|v| v.unwrap_or("").to_string())
        .collect())
}

/// Count descending, then the key ascending: a total order.
fn by_count_then(count: &str, key: &str) -> (Vec<Expr>, SortMultipleOptions) {
    (
        vec![col(count), col(key)],
        SortMultipleOptions::default()
            .with_order_descending_multi([true, false])
            .with_maintain_order(true),
    )
}

/// Computes the statistics. `bucket_ns` `None` picks one from the time span. With
/// `images` (a scope's), bytes by destination and execs by binary count only those
/// images' (the collector holds only the events in scope already).
pub fn compute(
    c: &Collector,
    model: &Model,
    bucket_ns: Option<u64>,
    top: usize,
    images: Option<&std::collections::HashSet<crate::model::process::ImageId>>,
) -> PolarsResult<Stats> {
    let first = c.events().map(|i| c.time[i]).min();
    let last = c.events().map(|i| c.time[i]).max();
    let span = match (first, last) {
        (Some(a), Some(b)) => b.abs_diff(a),
        _ => 0,
    };
    let bucket = bucket_ns.unwrap_or_else(|| auto_bucket(span)).max(1);
    let b = i64::try_from(bucket).unwrap_or(i64::MAX);
    // Buckets are floor(time / size) * size, computed here: polars' floor_div needs its
    // `round_series` feature, not worth a feature for one division.
    let ev = event_frame(c, b)?;

    // Events per type per bucket.
    let per = ev
        .clone()
        .lazy()
        .group_by([col("bucket"), col("type")])
        .agg([len().alias("count")])
        .sort_by_exprs([col("bucket"), col("type")], SortMultipleOptions::default())
        .collect()?;
    let buckets: Vec<i64> = per
        .column("bucket")?
        .i64()?
        .iter()
        .map(|v| v.unwrap_or(0))
        .collect();
    let types: Vec<u32> = per
        .column("type")?
        .u32()?
        .iter()
        .map(|v| v.unwrap_or(0))
        .collect();
    let counts = u64s(&per, "count")?;
    let events_per_type = buckets
        .iter()
        .zip(&types)
        .zip(&counts)
        .map(|((&bk, &t), &n)| BucketCount {
            bucket: timefmt::wall(bk as i128),
            rtype: type_name(t),
            count: n,
        })
        .collect();

    // Totals per type.
    let tot = ev
        .clone()
        .lazy()
        .group_by([col("type")])
        .agg([len().alias("count")])
        .collect()?;
    let mut type_totals: Vec<TypeCount> = tot
        .column("type")?
        .u32()?
        .iter()
        .zip(u64s(&tot, "count")?)
        .map(|(t, n)| TypeCount {
            rtype: type_name(t.unwrap_or(0)),
            count: n,
        })
        .collect();
    type_totals.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.rtype.cmp(&b.rtype)));

    // Top processes.
    let (by, opts) = by_count_then("count", "image");
    let procs = ev
        .lazy()
        .filter(col("image").is_not_null())
        .group_by([col("image")])
        .agg([len().alias("count")])
        .sort_by_exprs(by, opts)
        .limit(IdxSize::try_from(top).unwrap_or(IdxSize::MAX))
        .collect()?;
    let top_processes = procs
        .column("image")?
        .u32()?
        .iter()
        .zip(u64s(&procs, "count")?)
        .filter_map(|(i, n)| {
            let img = model.images.get(i? as usize)?;
            Some(ProcessActivity {
                exec_id: img.exec_id(),
                process: img.label(),
                cmdline: img.cmdline(),
                events: n,
            })
        })
        .collect();

    // Bytes by destination.
    let (_, opts) = by_count_then("bytes_total", "destination");
    let dest = destination_frame(model, images)?
        .lazy()
        .group_by([col("destination")])
        .agg([
            len().cast(DataType::UInt64).alias("connections"),
            col("bytes_sent").sum(),
            col("bytes_received").sum(),
        ])
        .with_column((col("bytes_sent") + col("bytes_received")).alias("bytes_total"))
        .sort_by_exprs([col("bytes_total"), col("destination")], opts)
        .collect()?;
    let dests = strs(&dest, "destination")?;
    let conns = u64s(&dest, "connections")?;
    let sent = u64s(&dest, "bytes_sent")?;
    let recv = u64s(&dest, "bytes_received")?;
    let total = u64s(&dest, "bytes_total")?;
    let bytes_by_destination = (0..dests.len())
        .map(|i| DestinationBytes {
            destination: dests[i].clone(),
            connections: conns[i],
            bytes_sent: sent[i],
            bytes_received: recv[i],
            bytes_total: total[i],
        })
        .collect();

    // Execs by binary.
    let execs: Vec<String> = model
        .images
        .iter()
        .filter(|i| i.origin == crate::model::process::Origin::Exec)
        .filter(|i| images.is_none_or(|s| s.contains(&i.id)))
        .map(|i| i.exe.display())
        .collect();
    let (by, opts) = by_count_then("execs", "exe");
    let ex = DataFrame::new_infer_height(vec![Column::from(Series::new("exe".into(), execs))])?
        .lazy()
        .group_by([col("exe")])
        .agg([len().alias("execs")])
        .sort_by_exprs(by, opts)
        .collect()?;
    let exec_by_binary = strs(&ex, "exe")?
        .into_iter()
        .zip(u64s(&ex, "execs")?)
        .map(|(exe, execs)| ExecCount { exe, execs })
        .collect();

    Ok(Stats {
        events: c.events().count() as u64,
        first: first.map(|t| timefmt::wall(t as i128)),
        last: last.map(|t| timefmt::wall(t as i128)),
        bucket_ns: bucket,
        lost_records: model.losses.iter().map(|l| l.count).sum(),
        loss_windows: model.losses.len() as u64,
        events_per_type,
        type_totals,
        top_processes,
        bytes_by_destination,
        exec_by_binary,
    })
}

/// Right-aligns numeric columns, left-aligns the rest; `numeric[i]` says which.
fn table(
    out: &mut impl Write,
    title: &str,
    head: &[&str],
    numeric: &[bool],
    rows: &[Vec<String>],
) -> std::io::Result<()> {
    writeln!(out, "## {title}")?;
    // Cells hold the trace's names (processes, destinations, binaries): escaped.
    let rows: Vec<Vec<String>> = rows
        .iter()
        .map(|r| r.iter().map(|c| escape(c).into_owned()).collect())
        .collect();
    if rows.is_empty() {
        writeln!(out, "(none)")?;
        return writeln!(out);
    }
    let mut w: Vec<usize> = head.iter().map(|h| h.chars().count()).collect();
    for r in &rows {
        for (i, c) in r.iter().enumerate() {
            if let Some(x) = w.get_mut(i) {
                *x = (*x).max(c.chars().count());
            }
        }
    }
    let line = |cells: Vec<&str>| -> String {
        let n = cells.len();
        let mut s = String::new();
        for (i, c) in cells.into_iter().enumerate() {
            let pad = w
                .get(i)
                .copied()
                .unwrap_or(0)
                .saturating_sub(c.chars().count());
            let last = i + 1 == n;
            if numeric.get(i).copied().unwrap_or(false) {
                s.push_str(&" ".repeat(pad));
                s.push_str(c);
            } else {
                s.push_str(c);
                if !last {
                    s.push_str(&" ".repeat(pad));
                }
            }
            if !last {
                s.push_str("  ");
            }
        }
        s
    };
    writeln!(out, "{}", line(head.to_vec()))?;
    writeln!(
        out,
        "{}",
        line(
            w.iter()
                .map(|&n| "-".repeat(n))
                .collect::<Vec<_>>()
                .iter()
                .map(String::as_str)
                .collect()
        )
    )?;
    for r in &rows {
        writeln!(out, "{}", line(r.iter().map(String::as_str).collect()))?;
    }
    writeln!(out)
}

/// Writes the statistics as text tables.
pub fn write_text(s: &Stats, out: &mut impl Write) -> std::io::Result<()> {
    writeln!(
        out,
        "# {} events, {} .. {}; buckets of {}; times in UTC",
        s.events,
        s.first.as_deref().unwrap_or("-"),
        s.last.as_deref().unwrap_or("-"),
        timefmt::duration(s.bucket_ns)
    )?;
    if s.lost_records > 0 {
        writeln!(
            out,
            "# warning: the recorder lost {} records in {} window(s); counts are lower bounds",
            s.lost_records, s.loss_windows
        )?;
    }
    writeln!(out)?;
    // Events per type over time: one row per bucket, one column per type (types in
    // descending total order, so the busiest come first).
    let types: Vec<&str> = s.type_totals.iter().map(|t| t.rtype.as_str()).collect();
    let mut rows: Vec<Vec<String>> = Vec::new();
    let mut cur: Option<&str> = None;
    for bc in &s.events_per_type {
        if cur != Some(bc.bucket.as_str()) {
            cur = Some(bc.bucket.as_str());
            let mut r = vec![bc.bucket.clone()];
            r.extend(types.iter().map(|_| String::new()));
            r.push("0".into());
            rows.push(r);
        }
        if let (Some(r), Some(i)) = (rows.last_mut(), types.iter().position(|t| *t == bc.rtype)) {
            r[i + 1] = bc.count.to_string();
            let total: u64 = r.last().and_then(|x| x.parse().ok()).unwrap_or(0) + bc.count;
            if let Some(l) = r.last_mut() {
                *l = total.to_string();
            }
        }
    }
    let mut head = vec!["bucket"];
    head.extend(types.iter().copied());
    head.push("total");
    let mut numeric = vec![false];
    numeric.extend(types.iter().map(|_| true));
    numeric.push(true);
    let mut totals = vec!["total".to_string()];
    totals.extend(s.type_totals.iter().map(|t| t.count.to_string()));
    totals.push(s.events.to_string());
    if !rows.is_empty() {
        rows.push(totals);
    }
    table(out, "Events per type over time", &head, &numeric, &rows)?;

    let rows: Vec<Vec<String>> = s
        .top_processes
        .iter()
        .map(|p| {
            vec![
                p.events.to_string(),
                p.process.clone(),
                p.exec_id.clone(),
                cut(&p.cmdline, 80),
            ]
        })
        .collect();
    table(
        out,
        "Top processes by activity",
        &["events", "process", "exec_id", "command line"],
        &[true, false, false, false],
        &rows,
    )?;

    let rows: Vec<Vec<String>> = s
        .bytes_by_destination
        .iter()
        .map(|d| {
            vec![
                d.destination.clone(),
                d.connections.to_string(),
                d.bytes_sent.to_string(),
                d.bytes_received.to_string(),
                d.bytes_total.to_string(),
            ]
        })
        .collect();
    table(
        out,
        "Bytes by destination",
        &["destination", "conns", "sent", "received", "total"],
        &[false, true, true, true, true],
        &rows,
    )?;

    let rows: Vec<Vec<String>> = s
        .exec_by_binary
        .iter()
        .map(|e| vec![e.execs.to_string(), e.exe.clone()])
        .collect();
    table(
        out,
        "Exec frequency by binary",
        &["execs", "binary"],
        &[true, false],
        &rows,
    )
}

fn cut(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut t: String = s.chars().take(max - 1).collect();
    t.push('…');
    t
}

/// Writes the statistics as one JSON document.
pub fn write_json(s: &Stats, out: &mut impl Write) -> anyhow::Result<()> {
    rewind_schema::text::write_json_pretty(&mut *out, s)?;
    writeln!(out)?;
    Ok(())
}
