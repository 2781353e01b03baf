//! `analyzer ingest`: replays traces into a SQLite database (schema: `queries/SCHEMA.md`).

use crate::exit::Outcome;
use crate::replay::ReplayOptions;
use crate::sql;
use anyhow::Context;
use rewind_schema::fsutil;
use std::path::{Path, PathBuf};

/// Arguments of `analyzer ingest`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The traces to read.
    #[command(flatten)]
    pub input: super::Inputs,
    /// The database to write.
    #[arg(short, long, value_name = "DB")]
    pub output: PathBuf,
    /// Replace the database if it exists.
    #[arg(long)]
    pub force: bool,
    /// Say what was written (rows, rows/s) even when all is well.
    #[arg(short, long)]
    pub verbose: bool,
    /// No progress display.
    #[arg(long, short)]
    pub quiet: bool,
}

/// Removes the temporary file unless it was renamed into place.
struct TempDb {
    path: PathBuf,
    keep: bool,
}

impl Drop for TempDb {
    fn drop(&mut self) {
        if !self.keep {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// A temporary name next to `out` (same directory, so the rename is atomic).
fn temp_path(out: &Path) -> PathBuf {
    let name = out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "trace.db".into());
    out.with_file_name(format!(".{name}.{}.tmp", std::process::id()))
}

/// Runs the command.
pub fn run(args: &Args) -> anyhow::Result<Outcome> {
    let out = &args.output;
    if out.exists() && !args.force {
        anyhow::bail!(
            "{}: already exists (use --force to replace it)",
            out.display()
        );
    }
    if out.is_dir() {
        anyhow::bail!("{}: is a directory", out.display());
    }
    let set = args.input.open()?;
    let tmp = TempDb {
        path: temp_path(out),
        keep: false,
    };
    let _ = std::fs::remove_file(&tmp.path);
    // Created empty and 0600 before SQLite opens it: SQLite would create it 0644 less the
    // umask, and gives its journal the database file's mode.
    fsutil::create_private(&tmp.path, fsutil::Existing::Refuse)
        .with_context(|| format!("{}: cannot create database", tmp.path.display()))?;
    let stats = {
        let mut conn = sql::engine::connection(Some(&tmp.path))
            .with_context(|| format!("{}: cannot create database", tmp.path.display()))?;
        let stats = sql::ingest(
            &mut conn,
            &set,
            ReplayOptions {
                progress: !args.quiet,
                // Process and connection rows are written from the whole model at the end.
                streaming: false,
            },
        )
        .with_context(|| format!("writing {}", out.display()))?;
        conn.close()
            .map_err(|(_, e)| e)
            .with_context(|| format!("{}: closing", tmp.path.display()))?;
        stats
    };
    fsutil::make_private(&tmp.path)
        .with_context(|| format!("{}: cannot set its permissions", tmp.path.display()))?;
    std::fs::rename(&tmp.path, out)
        .with_context(|| format!("{}: cannot move the database into place", out.display()))?;
    let mut tmp = tmp;
    tmp.keep = true;
    if args.verbose || !args.quiet {
        eprintln!(
            "analyzer: {}: {} events ({} records), {} rows in {:.2}s ({:.0} rows/s)",
            rewind_schema::text::Escaped(out.display()),
            stats.events,
            stats.records,
            stats.rows,
            stats.elapsed.as_secs_f64(),
            stats.rows_per_sec()
        );
    }
    if args.verbose {
        eprintln!("analyzer: time by phase: {}", stats.phases_text());
    }
    Ok(stats.outcome)
}
