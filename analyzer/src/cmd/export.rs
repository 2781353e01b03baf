//! `analyzer export`: the process model and the event stream as Parquet tables,
//! partitioned by host and day, for Spark, Trino or DuckDB.

use crate::analytics::{export, Collector, Tables};
use crate::exit::Outcome;
use crate::replay::{replay, ReplayOptions, Sink};
use std::path::PathBuf;

/// Arguments of `analyzer export`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The traces to read.
    #[command(flatten)]
    pub input: super::Inputs,
    /// Write Parquet tables (events, processes, connections, files, dns, losses) under DIR, as
    /// DIR/<table>/host=<host>/day=<YYYY-MM-DD>/part-0.parquet.
    #[arg(long, value_name = "DIR", required = true)]
    pub parquet: PathBuf,
    /// Write into a non-empty DIR, replacing the tables an export writes (nothing else in
    /// it is touched).
    #[arg(long)]
    pub force: bool,
    /// No progress display.
    #[arg(long, short)]
    pub quiet: bool,
}

/// Runs the command; a summary goes to stderr, so stdout stays empty.
pub fn run(args: &Args) -> anyhow::Result<Outcome> {
    let set = args.input.open()?;
    // Checked before the replay, which may be long.
    export::prepare_dir(&args.parquet, args.force)?;
    let mut c = Collector::new(set.recordings.iter().map(|r| r.anchor).collect());
    let sinks: &mut [&mut dyn Sink] = &mut [&mut c];
    // Whole-model replay (no streaming): these outputs are built from every process
    // and connection at the end. The struct grows; keep the defaults for new fields.
    #[allow(clippy::needless_update)]
    let opts = ReplayOptions {
        progress: !args.quiet,
        ..Default::default()
    };
    let (model, rs) = replay(&set, sinks, opts)?;
    let tables = Tables::build(&c, &model)?;
    drop(c);
    let written = export::write_all(&args.parquet, &tables)?;
    if !args.quiet {
        for t in &written {
            eprintln!(
                "analyzer: {}: {} rows in {} file(s)",
                t.table,
                t.rows,
                t.files.len()
            );
        }
    }
    Ok(rs.outcome.unwrap_or(Outcome::Clean))
}
