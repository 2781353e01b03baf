//! A trace as the analyzer sees it: any set of segment files (paths, directories, globs),
//! grouped by recording, read in time order, with the hash chain verified.
//!
//! Segments of one recording are read one after the other (one open file per recording);
//! recordings are merged by wall-clock time. Records a few milliseconds out of order (the
//! ring buffer orders by reservation, not by timestamp) are put back in order by a bounded
//! reorder buffer, so memory does not grow with the trace.

use crate::error::TraceError;
use crate::meta::{ClockAnchor, SegmentFooter, SegmentMeta};
use crate::reader::{Damage, RawRecord, SegmentReader, SegmentSeal};
use crate::sign::{check_footer, SignatureStatus, VerifyingKey};
use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::path::{Path, PathBuf};

/// Default reorder window: records up to this much older than the newest seen are still
/// put in order.
pub const DEFAULT_REORDER_NS: u64 = 250_000_000;
/// Records held at most by one reorder buffer.
const REORDER_CAP: usize = 1 << 20;

/// Expands inputs: files as given, directories to the `*.zst` files inside, glob patterns
/// to their matches. Fails naming the input that matched nothing.
pub fn expand_inputs<P: AsRef<Path>>(inputs: &[P]) -> Result<Vec<PathBuf>, TraceError> {
    let mut out = Vec::new();
    for input in inputs {
        let p = input.as_ref();
        // stat(2) once: a missing path may be a glob pattern; any other failure (a name
        // too long, a denied directory) is reported as the OS says it.
        let md = match std::fs::metadata(p) {
            Ok(md) => Some(md),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(TraceError::io(p, e)),
        };
        if let Some(reason) = md.as_ref().and_then(crate::reader::not_a_file) {
            return Err(TraceError::NotATrace {
                path: p.to_path_buf(),
                reason,
            });
        }
        if md.as_ref().is_some_and(|m| m.is_dir()) {
            let rd = std::fs::read_dir(p).map_err(|e| TraceError::io(p, e))?;
            let mut found: Vec<PathBuf> = rd
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|f| f.is_file() && f.extension().is_some_and(|x| x == "zst"))
                .collect();
            if found.is_empty() {
                return Err(TraceError::NoInput {
                    pattern: p.display().to_string(),
                });
            }
            found.sort();
            out.extend(found);
        } else if md.is_some() {
            out.push(p.to_path_buf());
        } else {
            let s = p.to_string_lossy();
            if s.contains(['*', '?', '[']) {
                let found: Vec<PathBuf> = glob::glob(&s)
                    .map_err(|e| TraceError::NoInput {
                        pattern: format!("{s} ({e})"),
                    })?
                    .filter_map(Result::ok)
                    .filter(|f| f.is_file())
                    .collect();
                if found.is_empty() {
                    return Err(TraceError::NoInput {
                        pattern: s.into_owned(),
                    });
                }
                out.extend(found);
            } else {
                return Err(TraceError::io(
                    p,
                    std::io::Error::new(std::io::ErrorKind::NotFound, "no such file or directory"),
                ));
            }
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}

/// A segment's header, read when the trace set is opened.
#[derive(Debug, Clone)]
pub struct SegmentHead {
    /// The file.
    pub path: PathBuf,
    /// Header metadata.
    pub meta: SegmentMeta,
    /// Format version.
    pub version: (u16, u16),
    /// File size.
    pub file_len: u64,
}

/// What reading a segment to its end found.
#[derive(Debug, Clone)]
pub struct SegmentReport {
    /// Index into [`TraceSet::segments`].
    pub index: usize,
    /// Footer, if the segment was closed cleanly.
    pub footer: Option<SegmentFooter>,
    /// Hash verdict.
    pub seal: SegmentSeal,
    /// Damage found.
    pub damage: Vec<Damage>,
    /// Frames read.
    pub frames: u64,
    /// Records read (header and footer included).
    pub records: u64,
    /// Without a footer: the hash of everything read ([`SegmentReader::unsealed_sha256`]).
    pub unsealed_sha256: Option<String>,
}

/// One recording: segments sharing a trace id, in sequence order.
#[derive(Debug, Clone)]
pub struct Recording {
    /// The trace id.
    pub trace_id: String,
    /// Indexes into [`TraceSet::segments`], by sequence number.
    pub segments: Vec<usize>,
    /// Clock anchor of its first segment, used for the whole recording so that order
    /// within one boot is the order of boot-time timestamps.
    pub anchor: ClockAnchor,
}

/// A file given (or found in a directory) that could not be opened as a segment.
#[derive(Debug, Clone)]
pub struct UnreadableFile {
    /// The file.
    pub path: PathBuf,
    /// Why, naming the file ("t.000003.zst: not a Rewind trace: the file is empty").
    pub message: String,
}

/// Every segment given, grouped into recordings.
#[derive(Debug, Clone)]
pub struct TraceSet {
    /// Segment headers, in input order.
    pub segments: Vec<SegmentHead>,
    /// Recordings, ordered by start time.
    pub recordings: Vec<Recording>,
    /// Files that are not readable segments (empty, damaged header, not a trace). The
    /// others are read; [`Merged::errors`] reports these first.
    pub unreadable: Vec<UnreadableFile>,
}

impl TraceSet {
    /// Expands `inputs` and reads every segment header. A file that cannot be opened as a
    /// segment (a 0-byte file left by a full disk, a damaged header) does not stop the
    /// others from being read: it is listed in [`unreadable`](Self::unreadable). When no
    /// file at all is a readable segment, the first error is returned.
    pub fn open<P: AsRef<Path>>(inputs: &[P]) -> Result<Self, TraceError> {
        let paths = expand_inputs(inputs)?;
        let mut segments = Vec::with_capacity(paths.len());
        let mut unreadable = Vec::new();
        let mut first_err = None;
        for path in paths {
            let r = match SegmentReader::open(&path) {
                Ok(r) => r,
                Err(e) => {
                    unreadable.push(UnreadableFile {
                        path,
                        message: e.to_string(),
                    });
                    first_err.get_or_insert(e);
                    continue;
                }
            };
            segments.push(SegmentHead {
                meta: r.meta().clone(),
                version: r.version(),
                file_len: r.file_len(),
                path,
            });
        }
        if segments.is_empty() {
            if let Some(e) = first_err {
                return Err(e);
            }
        }
        let mut recordings: Vec<Recording> = Vec::new();
        for (i, s) in segments.iter().enumerate() {
            match recordings
                .iter_mut()
                .find(|r| r.trace_id == s.meta.trace_id)
            {
                Some(r) => r.segments.push(i),
                None => recordings.push(Recording {
                    trace_id: s.meta.trace_id.clone(),
                    segments: vec![i],
                    anchor: ClockAnchor::default(),
                }),
            }
        }
        for r in &mut recordings {
            r.segments.sort_by(|&a, &b| {
                let (sa, sb) = (&segments[a], &segments[b]);
                sa.meta
                    .seq
                    .cmp(&sb.meta.seq)
                    .then_with(|| sa.path.cmp(&sb.path))
            });
            r.anchor = segments[r.segments[0]].meta.clock;
        }
        recordings.sort_by_key(|r| r.anchor.wall(segments[r.segments[0]].meta.clock.boot_ns));
        Ok(TraceSet {
            segments,
            recordings,
            unreadable,
        })
    }

    /// Reads every record of every segment in time order.
    pub fn records(&self) -> Merged {
        self.records_with_window(DEFAULT_REORDER_NS)
    }

    /// Like [`records`](Self::records) with another reorder window (ns).
    pub fn records_with_window(&self, window_ns: u64) -> Merged {
        let cursors = self
            .recordings
            .iter()
            .enumerate()
            .map(|(ri, r)| Cursor {
                recording: ri,
                paths: r
                    .segments
                    .iter()
                    .map(|&i| (i, self.segments[i].path.clone()))
                    .collect(),
                next_seg: 0,
                reader: None,
                reorder: VecDeque::new(),
                max_ts: 0,
                window: window_ns,
                exhausted: false,
                anchor: r.anchor,
                last_emitted: 0,
            })
            .collect();
        Merged {
            cursors,
            heads: BinaryHeap::new(),
            pending: Vec::new(),
            started: false,
            reports: Vec::new(),
            errors: self
                .unreadable
                .iter()
                .map(|u| TraceError::Unreadable {
                    path: u.path.clone(),
                    message: u.message.clone(),
                })
                .collect(),
            out_of_order: 0,
        }
    }
}

/// A record with where it came from and when it happened.
#[derive(Debug, Clone)]
pub struct MergedRecord {
    /// The record.
    pub rec: RawRecord,
    /// Index of its segment in [`TraceSet::segments`].
    pub segment: usize,
    /// Index of its recording in [`TraceSet::recordings`].
    pub recording: usize,
    /// Wall-clock time, ns since the Unix epoch.
    pub wall_ns: i128,
}

/// A record waiting in the reorder buffer: kept small (the wall time and recording are
/// added when it leaves), since every record is moved in and out of the buffer.
struct Pending {
    ts: u64,
    rec: RawRecord,
    segment: u32,
}

struct Cursor {
    recording: usize,
    paths: Vec<(usize, PathBuf)>,
    next_seg: usize,
    reader: Option<(usize, SegmentReader)>,
    /// Sorted by (ts, arrival). Records arrive almost in order, so inserting from the back
    /// costs O(1) in the common case, much less than a heap.
    reorder: VecDeque<Pending>,
    max_ts: u64,
    window: u64,
    exhausted: bool,
    anchor: ClockAnchor,
    last_emitted: u64,
}

impl Cursor {
    /// Next record in file order, moving to the next segment at the end of one.
    fn pull(
        &mut self,
        reports: &mut Vec<SegmentReport>,
        errors: &mut Vec<TraceError>,
    ) -> Option<(RawRecord, usize)> {
        loop {
            if let Some((idx, r)) = self.reader.as_mut() {
                if let Some(rec) = r.next() {
                    return Some((rec, *idx));
                }
                reports.push(SegmentReport {
                    index: *idx,
                    footer: r.footer().cloned(),
                    seal: r.seal(),
                    damage: r.damage().to_vec(),
                    frames: r.frames(),
                    records: r.records(),
                    unsealed_sha256: r.unsealed_sha256(),
                });
                self.reader = None;
            }
            let (idx, path) = self.paths.get(self.next_seg)?.clone();
            self.next_seg += 1;
            match SegmentReader::open(&path) {
                Ok(r) => self.reader = Some((idx, r)),
                // The header was readable when the set was opened; it may have changed since.
                Err(e) => errors.push(e),
            }
        }
    }

    fn next(
        &mut self,
        reports: &mut Vec<SegmentReport>,
        errors: &mut Vec<TraceError>,
        ooo: &mut u64,
    ) -> Option<MergedRecord> {
        loop {
            if let Some(top) = self.reorder.front() {
                let ripe = self.exhausted
                    || top.ts.saturating_add(self.window) <= self.max_ts
                    || self.reorder.len() >= REORDER_CAP;
                if ripe {
                    let p = self.reorder.pop_front()?;
                    if p.ts < self.last_emitted {
                        *ooo += 1;
                    }
                    self.last_emitted = self.last_emitted.max(p.ts);
                    return Some(MergedRecord {
                        wall_ns: self.anchor.wall(p.ts),
                        rec: p.rec,
                        segment: p.segment as usize,
                        recording: self.recording,
                    });
                }
            }
            if self.exhausted {
                return None;
            }
            match self.pull(reports, errors) {
                Some((rec, segment)) => {
                    let ts = rec.hdr.ts;
                    self.max_ts = self.max_ts.max(ts);
                    let p = Pending {
                        ts,
                        rec,
                        segment: segment as u32,
                    };
                    if self.reorder.back().is_none_or(|b| b.ts <= ts) {
                        self.reorder.push_back(p);
                    } else {
                        let at = self.reorder.partition_point(|q| q.ts <= ts);
                        self.reorder.insert(at, p);
                    }
                }
                None => self.exhausted = true,
            }
        }
    }
}

/// Iterator over the records of a [`TraceSet`] in time order. After the end,
/// [`reports`](Merged::reports) tells what each segment's reading found.
pub struct Merged {
    cursors: Vec<Cursor>,
    heads: BinaryHeap<Reverse<(i128, usize, usize)>>,
    pending: Vec<Head>,
    started: bool,
    reports: Vec<SegmentReport>,
    errors: Vec<TraceError>,
    out_of_order: u64,
}

impl std::fmt::Debug for Merged {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Merged")
            .field("cursors", &self.cursors.len())
            .finish_non_exhaustive()
    }
}

impl Merged {
    /// Per-segment results, in the order segments were finished.
    pub fn reports(&self) -> &[SegmentReport] {
        &self.reports
    }
    /// Files that are not readable segments ([`TraceSet::unreadable`]), then segments
    /// that could no longer be opened while reading.
    pub fn errors(&self) -> &[TraceError] {
        &self.errors
    }
    /// Records that arrived later than the reorder window allowed and were emitted out of
    /// order.
    pub fn out_of_order(&self) -> u64 {
        self.out_of_order
    }
}

/// Buffered head of each cursor, so the heap can compare them.
type Head = Option<MergedRecord>;

impl Iterator for Merged {
    type Item = MergedRecord;

    fn next(&mut self) -> Option<MergedRecord> {
        // One recording: no cross-recording merge needed.
        if self.cursors.len() == 1 {
            let c = &mut self.cursors[0];
            return c.next(&mut self.reports, &mut self.errors, &mut self.out_of_order);
        }
        if !self.started {
            self.started = true;
            for i in 0..self.cursors.len() {
                self.refill(i);
            }
        }
        let Reverse((_, _, i)) = self.heads.pop()?;
        let item = self.pending[i].take();
        self.refill(i);
        item
    }
}

impl Merged {
    fn refill(&mut self, i: usize) {
        if self.pending.len() < self.cursors.len() {
            self.pending.resize_with(self.cursors.len(), || None);
        }
        let c = &mut self.cursors[i];
        if let Some(item) = c.next(&mut self.reports, &mut self.errors, &mut self.out_of_order) {
            self.heads.push(Reverse((item.wall_ns, item.recording, i)));
            self.pending[i] = Some(item);
        }
    }
}

/// How serious a chain finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// Worth knowing (earlier segments rotated away, a segment not closed cleanly).
    Note,
    /// Evidence of damage or tampering.
    Problem,
}

/// A finding of the chain verification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainFinding {
    /// How serious.
    pub severity: Severity,
    /// What, naming the files.
    pub message: String,
}

/// Verifies the SHA-256 chain of every recording from the per-segment reports. Footers
/// that carry a signature are checked against the key they name (which catches damage, not
/// forgery: see [`verify_chain_keyed`]).
pub fn verify_chain(set: &TraceSet, reports: &[SegmentReport]) -> Vec<ChainFinding> {
    verify_chain_keyed(set, reports, None)
}

/// Footer reasons of a segment closed because the next one was opened.
const ROTATION_REASONS: [&str; 3] = ["size", "time", "records"];

/// Like [`verify_chain`], and with `key` every sealed segment must carry a valid signature
/// by that key (a missing signature, another key or a bad signature is a problem), and a
/// recording whose last segment given was closed for rotation is a problem: its newer
/// segments are missing.
pub fn verify_chain_keyed(
    set: &TraceSet,
    reports: &[SegmentReport],
    key: Option<&VerifyingKey>,
) -> Vec<ChainFinding> {
    let mut out = Vec::new();
    let note = |m: String| ChainFinding {
        severity: Severity::Note,
        message: m,
    };
    let problem = |m: String| ChainFinding {
        severity: Severity::Problem,
        message: m,
    };
    for rec in &set.recordings {
        let mut prev: Option<(&SegmentHead, Option<&SegmentReport>)> = None;
        let last = rec.segments.last().map(|&i| &set.segments[i]);
        let mut signers: Vec<String> = Vec::new();
        for &i in &rec.segments {
            let seg = &set.segments[i];
            let name = seg.path.display();
            let report = reports.iter().find(|r| r.index == i);
            match report.map(|r| &r.seal) {
                Some(SegmentSeal::Intact) => {}
                Some(SegmentSeal::Unsealed) => match last.filter(|l| l.meta.seq > seg.meta.seq) {
                    // Only the newest segment may lack its footer (a killed recorder): one
                    // missing in the middle was cut, and what followed the cut is gone.
                    Some(l) => {
                        // The next segment's link is the hash this one's footer held: equal
                        // means only the footer frame was removed.
                        let next = rec
                            .segments
                            .iter()
                            .map(|&j| &set.segments[j])
                            .find(|n| n.meta.seq == seg.meta.seq + 1);
                        let have = report.and_then(|r| r.unsealed_sha256.as_ref());
                        let what = match next {
                            Some(n) if n.meta.prev_sha256.is_some() && n.meta.prev_sha256.as_ref() == have => {
                                "only its footer was removed: the content before it matches the next segment's link"
                            }
                            Some(_) => "it was cut: the content does not match the next segment's link, records at its end are lost",
                            None => "its end is missing and its content cannot be verified",
                        };
                        out.push(problem(format!(
                            "{name}: segment {} has no footer, but a later segment of recording {} exists ({}, segment {}): {what}",
                            seg.meta.seq,
                            rec.trace_id,
                            l.path.display(),
                            l.meta.seq
                        )))
                    }
                    None => out.push(note(format!(
                        "{name}: segment {} has no footer (recorder stopped without closing it, or its tail is lost); its content cannot be verified",
                        seg.meta.seq
                    ))),
                },
                Some(SegmentSeal::Mismatch { expected, actual }) => out.push(problem(format!(
                    "{name}: SHA-256 does not match the footer (footer {expected}, content {actual}): the segment was modified or damaged"
                ))),
                Some(SegmentSeal::Appended { bytes }) => out.push(problem(format!(
                    "{name}: {bytes} bytes after the footer: data was appended after the segment was sealed (no hash or signature covers it)"
                ))),
                None => out.push(problem(format!("{name}: segment was not read to its end"))),
            }
            if let Some(f) = report.and_then(|r| r.footer.as_ref()) {
                if f.trace_id != seg.meta.trace_id
                    || f.seq != seg.meta.seq
                    || f.prev_sha256 != seg.meta.prev_sha256
                {
                    out.push(problem(format!(
                        "{name}: footer (recording {} segment {}) does not match the header (recording {} segment {})",
                        f.trace_id, f.seq, seg.meta.trace_id, seg.meta.seq
                    )));
                }
                match check_footer(f, key) {
                    SignatureStatus::Valid { public_key } => signers.push(public_key),
                    SignatureStatus::Missing if key.is_some() => out.push(problem(format!(
                        "{name}: segment {} is not signed, but a key was given to verify it",
                        seg.meta.seq
                    ))),
                    SignatureStatus::Missing => signers.push("none (unsigned)".into()),
                    SignatureStatus::OtherKey { public_key } => out.push(problem(format!(
                        "{name}: segment {} is signed by key {public_key}, not by the key given: it was re-sealed by someone else",
                        seg.meta.seq
                    ))),
                    SignatureStatus::Bad { reason } => out.push(problem(format!(
                        "{name}: segment {} has a bad signature ({reason}): its footer was modified",
                        seg.meta.seq
                    ))),
                }
            }
            if seg.meta.seq <= 1 && seg.meta.prev_sha256.is_some() {
                out.push(problem(format!(
                    "{name}: segment {} claims a previous segment",
                    seg.meta.seq
                )));
            }
            match prev {
                None if seg.meta.seq > 1 => out.push(note(format!(
                    "{name}: recording {} starts at segment {}: earlier segments were not given or were rotated away",
                    rec.trace_id, seg.meta.seq
                ))),
                None => {}
                Some((p, _)) if p.meta.seq == seg.meta.seq => out.push(problem(format!(
                    "{name} and {}: both claim to be segment {} of recording {}",
                    p.path.display(),
                    seg.meta.seq,
                    rec.trace_id
                ))),
                Some((p, _)) if p.meta.seq + 1 != seg.meta.seq => out.push(problem(format!(
                    "recording {}: segments {}..{} are missing between {} and {name}",
                    rec.trace_id,
                    p.meta.seq + 1,
                    seg.meta.seq - 1,
                    p.path.display()
                ))),
                Some((p, pr)) => {
                    let sealed = pr.and_then(|r| r.footer.as_ref()).map(|f| &f.sha256);
                    if let Some(sha) = sealed {
                        if seg.meta.prev_sha256.as_ref() != Some(sha) {
                            out.push(problem(format!(
                                "{name}: does not chain to {} (its previous-segment hash differs): a segment was replaced or edited",
                                p.path.display()
                            )));
                        }
                    }
                }
            }
            prev = Some((seg, report));
        }
        signers.sort();
        signers.dedup();
        if signers.len() > 1 {
            out.push(problem(format!(
                "recording {}: its segments are not all sealed by one key ({}): some were re-sealed by someone else",
                rec.trace_id,
                signers.join(", ")
            )));
        }
        let (Some((p, pr)), Some(_)) = (prev, last) else {
            continue;
        };
        let reason = pr
            .and_then(|r| r.footer.as_ref())
            .map(|f| f.reason.as_str());
        if let Some(reason) = reason.filter(|r| ROTATION_REASONS.contains(r)) {
            let m = format!(
                "recording {} ends with {} (segment {}), which was closed for rotation ({reason:?}): the segments after it were not given or were deleted",
                rec.trace_id,
                p.path.display(),
                p.meta.seq
            );
            // Without a key the reason itself may be forged; with one it is signed, and
            // a verification asked for with a key wants the whole recording.
            out.push(if key.is_some() { problem(m) } else { note(m) });
        }
    }
    out
}
