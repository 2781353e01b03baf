//! `analyzer stats`: events per type over time, the most active processes, bytes by
//! destination and exec frequency by binary, computed with polars.

use crate::analytics::{stats, Collector};
use crate::exit::Outcome;
use crate::replay::{replay, ReplayOptions, Sink};
use std::io::{BufWriter, Write};

/// A bucket size: `auto` or a duration (`1s`, `250ms`, `5m`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bucket(pub Option<u64>);

impl std::str::FromStr for Bucket {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        if s == "auto" {
            return Ok(Bucket(None));
        }
        match crate::timefmt::parse_duration(s) {
            Some(ns) if ns > 0 => Ok(Bucket(Some(ns))),
            _ => Err(format!(
                "bad bucket {s:?}: use auto or a duration such as 1s, 250ms, 5m"
            )),
        }
    }
}

/// Arguments of `analyzer stats`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The traces to read.
    #[command(flatten)]
    pub input: super::Inputs,
    /// Time bucket for events per type over time: `auto` (at most 30 buckets) or a
    /// duration such as 1s, 250ms, 5m.
    #[arg(long, default_value = "auto", value_name = "DURATION")]
    pub bucket: Bucket,
    /// How many processes to list.
    #[arg(long, default_value_t = 10)]
    pub top: usize,
    /// Only the events in this window, of these pids, under this process, in this
    /// container or of this incident (bytes and execs: of the processes in scope).
    #[command(flatten)]
    pub scope: crate::scope::ScopeArgs,
    /// Rules that number the incidents (for `--incident`).
    #[command(flatten)]
    pub rules: super::detect::RuleArgs,
    /// One JSON document instead of text tables.
    #[arg(long)]
    pub json: bool,
    /// No progress display.
    #[arg(long, short)]
    pub quiet: bool,
}

/// Runs the command, writing to stdout.
pub fn run(args: &Args) -> anyhow::Result<Outcome> {
    let stdout = std::io::stdout();
    let mut out = BufWriter::with_capacity(1 << 16, stdout.lock());
    let outcome = write(args, &mut out)?;
    out.flush()?;
    Ok(outcome)
}

/// Writes the statistics of `args.input` to `out`.
pub fn write(args: &Args, out: &mut impl Write) -> anyhow::Result<Outcome> {
    let set = args.input.open()?;
    let scope = crate::scope::resolve(&args.scope, &set, &args.rules, !args.quiet)?;
    let mut c = Collector::new(set.recordings.iter().map(|r| r.anchor).collect());
    let mut scoped = crate::scope::Scoped::new(scope.clone(), &mut c);
    let sinks: &mut [&mut dyn Sink] = &mut [&mut scoped];
    // Whole-model replay (no streaming): these outputs are built from every process
    // and connection at the end. The struct grows; keep the defaults for new fields.
    #[allow(clippy::needless_update)]
    let opts = ReplayOptions {
        progress: !args.quiet,
        ..Default::default()
    };
    let (model, rs) = replay(&set, sinks, opts)?;
    let seen = std::mem::take(&mut scoped.matcher.seen);
    let images = (!scope.is_everything()).then_some(&seen);
    let s = stats::compute(&c, &model, args.bucket.0, args.top, images)?;
    if args.json {
        stats::write_json(&s, out)?;
    } else {
        stats::write_text(&s, out)?;
    }
    Ok(rs.outcome.unwrap_or(Outcome::Clean))
}
