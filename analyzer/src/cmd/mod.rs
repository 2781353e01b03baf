//! One module per subcommand, each with an `Args` (clap) and a `run` entry.

pub mod check;
pub mod detect;
pub mod dump;
pub mod export;
pub mod graph;
pub mod incidents;
pub mod info;
pub mod ingest;
pub mod policy;
pub mod query;
pub mod report;
pub mod rules;
pub mod stats;
pub mod timeline;
pub mod tree;

use crate::exit::Outcome;
use rewind_schema::text::{escape, Escaped};
use rewind_schema::trace::{verify_chain, Merged, Severity, TraceSet};
use std::path::PathBuf;

/// The traces a command reads (shared by every subcommand).
#[derive(Debug, clap::Args)]
pub struct Inputs {
    /// Trace segments: files, directories or glob patterns.
    #[arg(required = true, value_name = "TRACE")]
    pub traces: Vec<PathBuf>,
}

impl Inputs {
    /// Opens the inputs; the error names what failed.
    pub(crate) fn open(&self) -> anyhow::Result<TraceSet> {
        Ok(TraceSet::open(&self.traces)?)
    }
}

/// Prints what reading found wrong (damage, chain problems) to stderr and says whether
/// the output is partial.
pub(crate) fn report_problems(set: &TraceSet, merged: &Merged) -> Outcome {
    let mut partial = false;
    for e in merged.errors() {
        eprintln!("analyzer: warning: {}", Escaped(e));
        partial = true;
    }
    for r in merged.reports() {
        let seg = &set.segments[r.index];
        let path = Escaped(seg.path.display());
        for d in &r.damage {
            eprintln!("analyzer: warning: {path}: damaged: {}", Escaped(d));
            partial = true;
        }
        if !r.damage.is_empty() {
            let lost: u64 = r.damage.iter().map(|d| d.len).sum();
            eprintln!(
                "analyzer: warning: {path}: recovered {} records in {} intact frames; {lost} of {} bytes unreadable",
                r.records, r.frames, seg.file_len
            );
        }
    }
    for f in verify_chain(set, merged.reports()) {
        match f.severity {
            Severity::Problem => {
                eprintln!("analyzer: warning: {}", escape(&f.message));
                partial = true;
            }
            Severity::Note => eprintln!("analyzer: note: {}", escape(&f.message)),
        }
    }
    if merged.out_of_order() > 0 {
        eprintln!(
            "analyzer: note: {} records arrived later than the reorder window and are shown out of order",
            merged.out_of_order()
        );
    }
    if partial {
        Outcome::Partial
    } else {
        Outcome::Clean
    }
}
