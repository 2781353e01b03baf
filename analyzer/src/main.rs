//! `analyzer`: argument parsing and dispatch only; each subcommand lives in `cmd/`.

use clap::{Parser, Subcommand};
use rewind_analyzer::cmd;
use std::process::ExitCode;

// Replay allocates and frees small values (paths, argv, DNS names) for every event, and
// SQLite ingest frees them on another thread: mimalloc is much cheaper than glibc's
// malloc at both (see README, Benchmarks).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "analyzer",
    version,
    about = "Replay Rewind traces into answers"
)]
#[command(
    after_help = "Exit codes: 0 success; 1 error (unreadable, not a trace, unsupported \
version, no input); 2 usage error; 3 partial: the trace is damaged or fails verification, output \
covers what was readable; 4 (`policy test`) the policy would have blocked something."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Host, time span, segments, counts by type, loss and hash-chain verification.
    Info(cmd::info::Args),
    /// Every event, decoded, one per line, in time order.
    Dump(cmd::dump::Args),
    /// The story: one line per event, in words, in time order.
    Timeline(Box<cmd::timeline::Args>),
    /// The process tree: exec chains, durations, exit codes, files, connections, DNS.
    Tree(cmd::tree::Args),
    /// Compare analyzer outputs on a fixture with committed expectations (diff on change).
    Check(cmd::check::Args),
    /// The process-network graph (processes, files, endpoints, DNS names) as DOT or JSON.
    Graph(cmd::graph::Args),
    /// Events per type over time, top processes, bytes by destination, execs by binary.
    Stats(cmd::stats::Args),
    /// The model as Parquet tables partitioned by host and day (Spark, Trino, DuckDB).
    Export(cmd::export::Args),
    /// Replay traces into a SQLite database (schema: queries/SCHEMA.md).
    Ingest(cmd::ingest::Args),
    /// Run a canned query (queries/*.sql) or read-only SQL on a database or traces.
    Query(cmd::query::Args),
    /// Run detection rules (built-in, a rules directory, Sigma): findings with evidence.
    Detect(cmd::detect::Args),
    /// Findings grouped into incidents along the process graph, each as an attack timeline.
    Incidents(cmd::incidents::Args),
    /// One self-contained HTML report: summary, incidents with timelines and ATT&CK,
    /// process tree, graph, charts, file and network tables.
    Report(Box<cmd::report::Args>),
    /// List the detection rules, or run their tests.
    Rules(cmd::rules::Args),
    /// Enforcement policies: check and explain one, or test what it would have blocked
    /// in recorded traces.
    Policy(cmd::policy::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let res = match cli.command {
        Command::Info(a) => cmd::info::run(&a),
        Command::Dump(a) => cmd::dump::run(&a),
        Command::Timeline(a) => cmd::timeline::run(&a),
        Command::Tree(a) => cmd::tree::run(&a),
        Command::Check(a) => cmd::check::run(&a),
        Command::Graph(a) => cmd::graph::run(&a),
        Command::Stats(a) => cmd::stats::run(&a),
        Command::Export(a) => cmd::export::run(&a),
        Command::Ingest(a) => cmd::ingest::run(&a),
        Command::Query(a) => cmd::query::run(&a),
        Command::Detect(a) => cmd::detect::run(&a),
        Command::Incidents(a) => cmd::incidents::run(&a),
        Command::Report(a) => cmd::report::run(&a),
        Command::Rules(a) => cmd::rules::run(&a),
        Command::Policy(a) => cmd::policy::run(&a),
    };
    rewind_analyzer::exit::finish(res)
}
