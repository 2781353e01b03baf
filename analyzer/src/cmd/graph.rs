//! `analyzer graph`: the process-network graph (processes, executables, files, endpoints,
//! DNS names) as Graphviz DOT or JSON, whole or around one process.

use crate::exit::Outcome;
use crate::graph::{render, GraphBuilder, GraphOptions};
use crate::replay::{replay, ReplayOptions, Sink};
use crate::timeline::ProcSel;
use std::io::{BufWriter, Write};

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum GraphFormat {
    /// Graphviz DOT (`| dot -Tsvg > graph.svg`).
    Dot,
    /// One JSON document with `nodes` and `edges` arrays.
    Json,
}

/// Arguments of `analyzer graph`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The traces to read.
    #[command(flatten)]
    pub input: super::Inputs,
    /// Only the neighbourhood of this process: a pid (every image that had it) or an exec
    /// id (PID@START_NS).
    #[arg(long, value_name = "PID|EXEC_ID")]
    pub around: Option<ProcSel>,
    /// With --around: how many hops (edges, either direction) to include. Files and
    /// executables are shown but not walked through.
    #[arg(long, default_value_t = 2, requires = "around")]
    pub depth: u32,
    /// Output format.
    #[arg(long, value_enum, default_value = "dot")]
    pub format: GraphFormat,
    /// Also the loader, locale and library files every program opens.
    #[arg(long)]
    pub all: bool,
    /// Only what the processes in scope did in this window (their files, connections and
    /// DNS names, and the processes they forked or talked to), of these pids, under this
    /// process, in this container or of this incident.
    #[command(flatten)]
    pub scope: crate::scope::ScopeArgs,
    /// Rules that number the incidents (for `--incident`).
    #[command(flatten)]
    pub rules: super::detect::RuleArgs,
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

/// Writes the graph of `args.input` to `out`.
pub fn write(args: &Args, out: &mut impl Write) -> anyhow::Result<Outcome> {
    let set = args.input.open()?;
    let scope = crate::scope::resolve(&args.scope, &set, &args.rules, !args.quiet)?;
    let mut gb = GraphBuilder::new(GraphOptions {
        routine_files: args.all,
    });
    let mut scoped = crate::scope::Scoped::new(scope.clone(), &mut gb);
    let sinks: &mut [&mut dyn Sink] = &mut [&mut scoped];
    // Whole-model replay (no streaming): these outputs are built from every process
    // and connection at the end. The struct grows; keep the defaults for new fields.
    #[allow(clippy::needless_update)]
    let opts = ReplayOptions {
        progress: !args.quiet,
        ..Default::default()
    };
    let (model, stats) = replay(&set, sinks, opts)?;
    let seen = std::mem::take(&mut scoped.matcher.seen);
    let mut g = gb.into_graph();
    if !scope.is_everything() {
        // The processes in scope and what they touched, one hop out.
        let mut seen: Vec<_> = seen.into_iter().collect();
        seen.sort();
        g = g
            .around_images(seen, 1)
            .ok_or_else(|| anyhow::anyhow!("no process did anything in scope"))?;
    }
    let g = match &args.around {
        Some(sel) => g
            .around(&model, sel, args.depth)
            .ok_or_else(|| anyhow::anyhow!("no process in the trace matches {sel:?}"))?,
        None => g,
    };
    match args.format {
        GraphFormat::Dot => render::write_dot(&g, out)?,
        GraphFormat::Json => render::write_json(&g, out)?,
    }
    Ok(stats.outcome.unwrap_or(Outcome::Clean))
}
