//! The replay engine: streams any set of segments in time order, decodes each record,
//! applies it to the [`Model`] and pushes it, with what it was attributed to, into sinks
//! (timeline printer, SQLite writer, graph builder, ...). Sinks see each event once and
//! keep only what they need.

use crate::cmd::report_problems;
use crate::exit::Outcome;
use crate::model::{Attribution, Model};
use indicatif::{ProgressBar, ProgressStyle};
use rewind_schema::trace::TraceSet;
use rewind_schema::Event;
use std::io::IsTerminal;
use std::time::Duration;

/// One event as sinks see it.
#[derive(Debug)]
pub struct Step<'a> {
    /// Wall-clock ns since the Unix epoch.
    pub wall_ns: i128,
    /// Recording index (into `TraceSet::recordings` and `Model::recording_boot`).
    pub recording: u16,
    /// Segment index (into `TraceSet::segments`).
    pub segment: usize,
    /// The decoded event.
    pub ev: &'a Event,
    /// What the model attributed it to.
    pub at: &'a Attribution,
}

/// A consumer of replayed events.
pub trait Sink {
    /// Called for every decoded event, in time order, after the model has applied it.
    fn step(&mut self, model: &Model, step: &Step) -> anyhow::Result<()>;
    /// Called once at the end, with the finished model.
    fn finish(&mut self, _model: &Model) -> anyhow::Result<()> {
        Ok(())
    }
}

/// What a replay read.
#[derive(Debug, Clone, Default)]
pub struct ReplayStats {
    /// Events decoded and applied.
    pub events: u64,
    /// Records that could not be decoded (skipped, counted).
    pub undecodable: u64,
    /// Clean, or partial (damage or failed verification; warnings already printed).
    pub outcome: Option<Outcome>,
}

/// Options of a replay.
#[derive(Debug, Clone, Copy, Default)]
pub struct ReplayOptions {
    /// Show a progress spinner on stderr when it is a terminal.
    pub progress: bool,
    /// Free finished processes and connections as soon as sinks have seen them (see
    /// [`Model::set_streaming`]); the returned model then holds live state only.
    pub streaming: bool,
}

/// An empty model for the recordings of `set`.
pub fn model_for(set: &TraceSet) -> Model {
    let recs: Vec<_> = set
        .recordings
        .iter()
        .map(|r| {
            let m = &set.segments[r.segments[0]].meta;
            (
                m.host.boot_id.clone(),
                m.host.hostname.clone(),
                m.host.init_ns,
            )
        })
        .collect();
    Model::new(&recs)
}

/// Replays `set` into a model, feeding every sink. Damage and verification problems are
/// printed as warnings to stderr and make the outcome partial; what is readable is used.
pub fn replay(
    set: &TraceSet,
    sinks: &mut [&mut dyn Sink],
    opts: ReplayOptions,
) -> anyhow::Result<(Model, ReplayStats)> {
    let mut model = model_for(set);
    model.set_streaming(opts.streaming);
    let mut stats = ReplayStats::default();
    let bar = (opts.progress && std::io::stderr().is_terminal()).then(|| {
        let b = ProgressBar::new_spinner();
        b.set_style(
            ProgressStyle::with_template("{spinner} {msg} [{elapsed}]")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        b.enable_steady_tick(Duration::from_millis(120));
        b
    });
    let nseg = set.segments.len();
    let mut merged = set.records();
    for m in merged.by_ref() {
        let ev = match m.rec.decode() {
            Ok(ev) => ev,
            Err(_) => {
                stats.undecodable += 1;
                continue;
            }
        };
        let rec = m.recording as u16;
        let at = model.apply(rec, &ev);
        let step = Step {
            wall_ns: m.wall_ns,
            recording: rec,
            segment: m.segment,
            ev: &ev,
            at: &at,
        };
        for s in sinks.iter_mut() {
            s.step(&model, &step)?;
        }
        stats.events += 1;
        if let Some(b) = &bar {
            if stats.events % 65_536 == 0 {
                b.set_message(format!(
                    "replaying: {} events, segment {} of {nseg}",
                    stats.events,
                    m.segment + 1
                ));
            }
        }
    }
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    model.finish();
    for s in sinks.iter_mut() {
        s.finish(&model)?;
    }
    if stats.undecodable > 0 {
        eprintln!(
            "analyzer: warning: {} records could not be decoded and were skipped",
            stats.undecodable
        );
    }
    stats.outcome = Some(report_problems(set, &merged));
    Ok((model, stats))
}
