//! The replay engine: streams any set of segments in time order, decodes each record,
//! applies it to the [`Model`] and pushes it, with what it was attributed to, into sinks
//! (timeline printer, SQLite writer, graph builder, ...). Sinks see each event once and
//! keep only what they need.

use crate::cmd::report_problems;
use crate::exit::Outcome;
use crate::model::{Attribution, Model};
use indicatif::{ProgressBar, ProgressStyle};
use rewind_schema::trace::{Merged, MergedRecord, TraceSet};
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
    /// Events applied: records the kernel made ([`rewind_schema::RecordType::is_event`]), the number
    /// every command reports as "events".
    pub events: u64,
    /// Records applied: the events and the recorder's process snapshots and loss markers.
    pub records: u64,
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
    let mut m = Model::new(&recs);
    m.policies = set
        .recordings
        .iter()
        .map(|r| set.segments[r.segments[0]].meta.capture.policy.clone())
        .collect();
    m
}

/// One decoded record on its way from the reading thread to the model.
struct Decoded {
    wall_ns: i128,
    recording: u16,
    segment: usize,
    /// `None`: the record could not be decoded.
    ev: Option<Event>,
}

impl Decoded {
    fn of(m: MergedRecord) -> Self {
        Decoded {
            wall_ns: m.wall_ns,
            recording: m.recording as u16,
            segment: m.segment,
            ev: m.rec.decode().ok(),
        }
    }
}

/// Records per hand-over between the threads.
const READ_AHEAD_BATCH: usize = 1024;
/// Batches in flight.
const READ_AHEAD_QUEUE: usize = 16;

/// Whether to read and decode on a second thread: yes unless `REWIND_READ_AHEAD=0` or
/// the process may use one CPU only.
fn read_ahead() -> bool {
    if std::env::var_os("REWIND_READ_AHEAD").is_some_and(|v| v == "0") {
        return false;
    }
    std::thread::available_parallelism().is_ok_and(|n| n.get() > 1)
}

/// Replays `set` into a model, feeding every sink. Damage and verification problems are
/// printed as warnings to stderr and make the outcome partial; what is readable is used.
///
/// Reading (file I/O, zstd, SHA-256), ordering and decoding run on a second thread ahead
/// of the model and the sinks, when more than one CPU is available: they are about 40 %
/// of a replay, the model and sinks the rest. The order of events is the same either way.
pub fn replay(
    set: &TraceSet,
    sinks: &mut [&mut dyn Sink],
    opts: ReplayOptions,
) -> anyhow::Result<(Model, ReplayStats)> {
    if !read_ahead() {
        let mut merged = set.records();
        let decoded = merged.by_ref().map(Decoded::of);
        let out = apply_all(set, decoded, sinks, opts)?;
        return Ok(finish(set, out, &merged));
    }
    let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<Decoded>>(READ_AHEAD_QUEUE);
    let (back_tx, back_rx) = std::sync::mpsc::sync_channel::<Vec<Decoded>>(READ_AHEAD_QUEUE + 2);
    std::thread::scope(|scope| {
        let reader = std::thread::Builder::new()
            .name("read-ahead".into())
            .spawn_scoped(scope, move || {
                let mut merged = set.records();
                let mut batch = Vec::with_capacity(READ_AHEAD_BATCH);
                for m in merged.by_ref() {
                    batch.push(Decoded::of(m));
                    if batch.len() == READ_AHEAD_BATCH {
                        let next = back_rx
                            .try_recv()
                            .unwrap_or_else(|_| Vec::with_capacity(READ_AHEAD_BATCH));
                        if tx.send(std::mem::replace(&mut batch, next)).is_err() {
                            // The model side stopped (a sink failed): its error is reported.
                            return merged;
                        }
                    }
                }
                if !batch.is_empty() {
                    let _ = tx.send(batch);
                }
                merged
            })?;
        let decoded = Batches {
            rx,
            back: back_tx,
            cur: Vec::new(),
            pos: 0,
        };
        let out = apply_all(set, decoded, sinks, opts);
        let merged = reader
            .join()
            .map_err(|_| anyhow::anyhow!("the trace reading thread panicked"))?;
        Ok(finish(set, out?, &merged))
    })
}

/// The model side of the hand-over: records one by one, emptied buffers sent back to the
/// reader for reuse.
struct Batches {
    rx: std::sync::mpsc::Receiver<Vec<Decoded>>,
    back: std::sync::mpsc::SyncSender<Vec<Decoded>>,
    cur: Vec<Decoded>,
    pos: usize,
}

impl Iterator for Batches {
    type Item = Decoded;

    fn next(&mut self) -> Option<Decoded> {
        loop {
            if let Some(d) = self.cur.get_mut(self.pos) {
                self.pos += 1;
                return Some(Decoded {
                    wall_ns: d.wall_ns,
                    recording: d.recording,
                    segment: d.segment,
                    ev: d.ev.take(),
                });
            }
            let next = self.rx.recv().ok()?;
            let mut done = std::mem::replace(&mut self.cur, next);
            self.pos = 0;
            done.clear();
            // If the reader already has spares, this one is simply freed.
            let _ = self.back.try_send(done);
        }
    }
}

/// Applies every decoded record to a new model and feeds the sinks.
fn apply_all(
    set: &TraceSet,
    decoded: impl Iterator<Item = Decoded>,
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
    for d in decoded {
        let Some(ev) = d.ev else {
            stats.undecodable += 1;
            continue;
        };
        let at = model.apply(d.recording, &ev);
        let step = Step {
            wall_ns: d.wall_ns,
            recording: d.recording,
            segment: d.segment,
            ev: &ev,
            at: &at,
        };
        for s in sinks.iter_mut() {
            s.step(&model, &step)?;
        }
        stats.records += 1;
        if ev.kind.record_type().is_event() {
            stats.events += 1;
        }
        if let Some(b) = &bar {
            if stats.records % 65_536 == 0 {
                b.set_message(format!(
                    "replaying: {} records, segment {} of {nseg}",
                    stats.records,
                    d.segment + 1
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
    Ok((model, stats))
}

/// Warnings about undecodable records, damage and the hash chain; the outcome.
fn finish(
    set: &TraceSet,
    (model, mut stats): (Model, ReplayStats),
    merged: &Merged,
) -> (Model, ReplayStats) {
    if stats.undecodable > 0 {
        eprintln!(
            "analyzer: warning: {} records could not be decoded and were skipped",
            stats.undecodable
        );
    }
    stats.outcome = Some(report_problems(set, merged));
    (model, stats)
}
