//! `analyzer query`: a canned query (`queries/*.sql`) or ad-hoc SQL, read-only, on a
//! database written by `analyzer ingest` or on traces (ingested into memory first).

use crate::exit::Outcome;
use crate::replay::ReplayOptions;
use crate::sql::{self, query};
use anyhow::Context;
use rewind_schema::trace::TraceSet;
use std::io::{BufWriter, Write};
use std::path::PathBuf;

/// Arguments of `analyzer query`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "A NAME is a canned query (--list shows them); anything with a space \
is SQL. Exit codes: 0 success; 1 error, including bad SQL, an unknown query name, a missing \
--param, or SQL that would modify the database; 3 partial (damaged trace input)."
)]
pub struct Args {
    /// A database from `analyzer ingest`, or trace segments (files, directories, globs),
    /// followed by a canned query NAME or SQL.
    #[arg(value_name = "DB|TRACE... NAME|SQL", required_unless_present = "list")]
    pub args: Vec<String>,
    /// List the canned queries with their descriptions.
    #[arg(long)]
    pub list: bool,
    /// A value for a named parameter of the query (`--param pid=123` for `:pid`).
    #[arg(long, value_name = "NAME=VALUE", value_parser = parse_param)]
    pub param: Vec<(String, String)>,
    /// A JSON array of objects, one row per line.
    #[arg(long, conflicts_with = "csv")]
    pub json: bool,
    /// CSV with a header row.
    #[arg(long)]
    pub csv: bool,
    /// No progress display.
    #[arg(long, short)]
    pub quiet: bool,
}

fn parse_param(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.trim_start_matches(':').to_string(), v.to_string())),
        _ => Err(format!("{s}: expected NAME=VALUE")),
    }
}

/// Runs the command, writing to stdout.
pub fn run(args: &Args) -> anyhow::Result<Outcome> {
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let outcome = write(args, &mut out)?;
    out.flush()?;
    Ok(outcome)
}

/// Writes the canned query list.
fn list(out: &mut impl Write) -> anyhow::Result<()> {
    let width = query::CANNED
        .iter()
        .map(|c| c.name.len())
        .max()
        .unwrap_or(0);
    let mut all: Vec<_> = query::CANNED.iter().collect();
    all.sort_by_key(|c| c.name);
    for c in all {
        let params: Vec<String> = c
            .params()
            .iter()
            .map(|p| format!("--param {p}=..."))
            .collect();
        let params = if params.is_empty() {
            String::new()
        } else {
            format!(" [{}]", params.join(" "))
        };
        writeln!(out, "{:width$}  {}{params}", c.name, c.description())?;
    }
    Ok(())
}

/// Runs the query of `args` and writes its result to `out`.
pub fn write(args: &Args, out: &mut impl Write) -> anyhow::Result<Outcome> {
    if args.list {
        list(out)?;
        return Ok(Outcome::Clean);
    }
    let Some((q, inputs)) = args.args.split_last() else {
        anyhow::bail!("no query given");
    };
    if inputs.is_empty() {
        anyhow::bail!("give a database or traces, then a query name or SQL");
    }
    let (label, sql_text) = if q.contains(char::is_whitespace) {
        ("ad-hoc SQL".to_string(), q.as_str())
    } else {
        match query::canned(q) {
            Some(c) => (format!("query {}", c.name), c.sql),
            None => anyhow::bail!(
                "unknown query {q:?} (`analyzer query --list` shows the canned ones; SQL needs at least one space)"
            ),
        }
    };
    let paths: Vec<PathBuf> = inputs.iter().map(PathBuf::from).collect();
    let (conn, outcome) = if paths.len() == 1 && sql::is_sqlite_file(&paths[0]) {
        (sql::open_read_only(&paths[0])?, Outcome::Clean)
    } else {
        if let Some(db) = paths.iter().find(|p| sql::is_sqlite_file(p)) {
            anyhow::bail!(
                "{}: a database cannot be mixed with other inputs",
                db.display()
            );
        }
        let set = TraceSet::open(&paths)?;
        let mut conn = sql::engine::connection(None)?;
        let stats = sql::ingest(
            &mut conn,
            &set,
            ReplayOptions {
                progress: !args.quiet,
                // Process and connection rows are written from the whole model at the end.
                streaming: false,
            },
        )
        .context("ingesting into memory")?;
        conn.execute_batch("PRAGMA query_only=1")?;
        (conn, stats.outcome)
    };
    let table = query::run(&conn, sql_text, &args.param).with_context(|| label.clone())?;
    let format = if args.json {
        query::Format::Json
    } else if args.csv {
        query::Format::Csv
    } else {
        query::Format::Text
    };
    query::print(&table, format, out)?;
    Ok(outcome)
}
