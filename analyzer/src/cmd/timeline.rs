//! `analyzer timeline`: the story of a trace, one line per event, in words.

use crate::exit::Outcome;
use crate::replay::{replay, ReplayOptions, Sink};
use crate::timeline::{parse_types, Filter, Format, Timeline};
use rewind_schema::trace::TraceSet;
use std::io::{BufWriter, IsTerminal, Write};

/// When to colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Color {
    /// When stdout is a terminal (and NO_COLOR is unset).
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}

/// Arguments of `analyzer timeline`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The traces to read.
    #[command(flatten)]
    pub input: super::Inputs,
    /// Time window, processes, container, incident.
    #[command(flatten)]
    pub scope: crate::scope::ScopeArgs,
    /// Only these event types or families (process, file, network, privilege, kernel,
    /// enforcement, loss), comma-separated or repeated.
    #[arg(long = "type", value_name = "TYPE")]
    pub types: Vec<String>,
    /// Only lines whose text or process matches this regular expression.
    #[arg(long, value_name = "REGEX")]
    pub grep: Option<String>,
    /// Also show routine start-up noise (loader and locale files, library mappings,
    /// forks, snapshot entries).
    #[arg(long)]
    pub all: bool,
    /// Show each process's ancestry (`child < parent < grandparent`).
    #[arg(long)]
    pub ancestry: bool,
    /// One JSON object per line.
    #[arg(long, conflicts_with = "csv")]
    pub json: bool,
    /// CSV with a header row.
    #[arg(long)]
    pub csv: bool,
    /// Colour.
    #[arg(long, value_enum, default_value = "auto")]
    pub color: Color,
    /// No progress display.
    #[arg(long, short)]
    pub quiet: bool,
    /// Rules that define the incidents.
    #[command(flatten)]
    pub rules: super::detect::RuleArgs,
}

impl Args {
    /// The filter these arguments describe.
    pub fn filter(&self) -> anyhow::Result<Filter> {
        let grep = match &self.grep {
            Some(g) => Some(
                regex::RegexBuilder::new(g)
                    .case_insensitive(true)
                    .build()
                    .map_err(|e| anyhow::anyhow!("bad --grep pattern: {e}"))?,
            ),
            None => None,
        };
        Ok(Filter {
            scope: self.scope.scope(),
            types: parse_types(&self.types).map_err(anyhow::Error::msg)?,
            grep,
            all: self.all,
            ancestry: self.ancestry,
        })
    }

    fn format(&self) -> Format {
        if self.json {
            Format::Json
        } else if self.csv {
            Format::Csv
        } else {
            let color = match self.color {
                Color::Always => true,
                Color::Never => false,
                Color::Auto => {
                    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none()
                }
            };
            Format::Text { color }
        }
    }
}

/// One line saying what was recorded where.
pub fn preamble(set: &TraceSet) -> String {
    let mut parts = Vec::new();
    for r in &set.recordings {
        let m = &set.segments[r.segments[0]].meta;
        let what = if m.capture.command.is_empty() {
            format!("{} mode", m.capture.mode)
        } else {
            format!(
                "command: {}",
                m.capture
                    .command
                    .iter()
                    .map(|a| rewind_schema::wire::ByteString::from(a.as_str()).display())
                    .collect::<Vec<_>>()
                    .join(" ")
            )
        };
        parts.push(format!(
            "host {} (kernel {}), recording {} ({what}), {} segment(s)",
            m.host.hostname,
            m.host.kernel_release,
            &m.trace_id[..m.trace_id.len().min(8)],
            r.segments.len()
        ));
    }
    format!("# {}; times in UTC", parts.join("; "))
}

/// Runs the command, writing to stdout.
pub fn run(args: &Args) -> anyhow::Result<Outcome> {
    let stdout = std::io::stdout();
    let mut out = BufWriter::with_capacity(1 << 16, stdout.lock());
    let outcome = write(args, &mut out)?;
    out.flush()?;
    Ok(outcome)
}

/// Writes the timeline of `args.input` to `out`.
pub fn write(args: &Args, out: &mut impl Write) -> anyhow::Result<Outcome> {
    let set = args.input.open()?;
    let mut filter = args.filter()?;
    if filter.scope.incident.is_some() {
        let d = super::detect::detect(&set, &args.rules, !args.quiet)?;
        crate::scope::resolve_incident(&mut filter.scope, &d.incidents)?;
    }
    let anchors = set.recordings.iter().map(|r| r.anchor).collect();
    let mut tl = Timeline::new(&mut *out, args.format(), filter, anchors);
    tl.preamble(&preamble(&set))?;
    let sinks: &mut [&mut dyn Sink] = &mut [&mut tl];
    let (_, stats) = replay(
        &set,
        sinks,
        ReplayOptions {
            progress: !args.quiet,
            streaming: true,
        },
    )?;
    Ok(stats.outcome.unwrap_or(Outcome::Clean))
}
