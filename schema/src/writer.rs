//! Writing traces: [`SegmentWriter`] writes one self-contained segment file as a sequence
//! of independent zstd frames; [`TraceWriter`] rotates segments by size, time or record
//! count, chains their SHA-256 and opens every segment with a header and a snapshot.

use crate::error::TraceError;
use crate::event::{self, Event, EventKind, RecordType};
use crate::fsutil::{create_private, Existing};
use crate::meta::{SegmentFooter, SegmentMeta, FORMAT_MAJOR, FORMAT_MINOR, FORMAT_MINOR_SIGNED};
use crate::proctable::ProcessTable;
use crate::sign::SigningKey;
use crate::snapshot::ProcessSnapshot;
use crate::wire::{
    JsonRecord, Layout, RecordHeader, SegmentHeaderRecord, FORMAT_MAGIC, MAX_RECORD_SIZE,
};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, VecDeque};
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Largest uncompressed frame a writer produces; readers accept up to four times this.
pub const MAX_FRAME_BYTES: usize = 16 << 20;

/// Options of one segment file.
#[derive(Debug, Clone)]
pub struct WriterOptions {
    /// zstd level (1..=19). 3 is zstd's default and a good trade for live capture.
    pub level: i32,
    /// Close a frame once this many uncompressed bytes are buffered. The recorder also
    /// closes one at least once a second.
    pub frame_bytes: usize,
    /// pid written in the header of userspace records (the recorder's own).
    pub writer_pid: u32,
    /// Refuse to overwrite an existing file (the default: traces are evidence).
    pub create_new: bool,
    /// fsync a segment when it is closed (the default). Tests may turn it off.
    pub sync: bool,
    /// Close a frame once it spans this much record time (ns), so that a crash loses at
    /// most this much. The recorder also flushes on a wall-clock timer for quiet periods.
    pub max_frame_age_ns: u64,
    /// Sign every footer with this ed25519 key (format 1.1). `None`: unsigned footers
    /// (format 1.0).
    pub signing_key: Option<SigningKey>,
}

impl Default for WriterOptions {
    fn default() -> Self {
        WriterOptions {
            level: 3,
            frame_bytes: 1 << 20,
            writer_pid: 0,
            create_new: true,
            sync: true,
            max_frame_age_ns: 1_000_000_000,
            signing_key: None,
        }
    }
}

/// What a closed segment looks like.
#[derive(Debug, Clone)]
pub struct SegmentSummary {
    /// The file.
    pub path: PathBuf,
    /// Its footer.
    pub footer: SegmentFooter,
    /// File size.
    pub bytes: u64,
    /// Uncompressed record bytes.
    pub raw_bytes: u64,
}

/// Writes one segment. Records are buffered into the open frame; a frame is compressed and
/// written whole, so the file is valid after every frame.
pub struct SegmentWriter {
    path: PathBuf,
    file: File,
    compressor: zstd::bulk::Compressor<'static>,
    hasher: Sha256,
    offset: u64,
    buf: Vec<u8>,
    frame_bytes: usize,
    meta: SegmentMeta,
    counts: BTreeMap<u16, u64>,
    records: u64,
    frames: u64,
    first_ts: u64,
    last_ts: u64,
    lost: u64,
    raw_bytes: u64,
    writer_pid: u32,
    sync: bool,
    max_frame_age_ns: u64,
    frame_first_ts: Option<u64>,
    finished: bool,
    failed: bool,
    signing_key: Option<SigningKey>,
}

impl std::fmt::Debug for SegmentWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SegmentWriter")
            .field("path", &self.path)
            .field("offset", &self.offset)
            .field("records", &self.records)
            .finish_non_exhaustive()
    }
}

impl SegmentWriter {
    /// Creates the file and writes the header record in a frame of its own. The header's
    /// timestamp is `open_ts` (boot-time ns), the moment the segment starts.
    pub fn create(
        path: &Path,
        mut meta: SegmentMeta,
        open_ts: u64,
        opts: &WriterOptions,
    ) -> Result<Self, TraceError> {
        if meta.prev_sha256.as_deref() == Some("") {
            meta.prev_sha256 = None;
        }
        // 0600 whatever the umask: a trace holds argv, payloads and credentials.
        let existing = if opts.create_new {
            Existing::Refuse
        } else {
            Existing::Truncate
        };
        let file = create_private(path, existing).map_err(|e| TraceError::io(path, e))?;
        let mut compressor =
            zstd::bulk::Compressor::new(opts.level).map_err(|e| TraceError::io(path, e))?;
        compressor
            .include_checksum(true)
            .map_err(|e| TraceError::io(path, e))?;
        compressor
            .include_contentsize(true)
            .map_err(|e| TraceError::io(path, e))?;
        let mut w = SegmentWriter {
            path: path.to_path_buf(),
            file,
            compressor,
            hasher: Sha256::new(),
            offset: 0,
            buf: Vec::with_capacity(opts.frame_bytes.min(MAX_FRAME_BYTES) + 4096),
            frame_bytes: opts.frame_bytes.clamp(4096, MAX_FRAME_BYTES),
            meta,
            counts: BTreeMap::new(),
            records: 0,
            frames: 0,
            first_ts: u64::MAX,
            last_ts: 0,
            lost: 0,
            raw_bytes: 0,
            writer_pid: opts.writer_pid,
            sync: opts.sync,
            max_frame_age_ns: opts.max_frame_age_ns,
            frame_first_ts: None,
            finished: false,
            failed: false,
            signing_key: opts.signing_key.clone(),
        };
        let prev = w.meta.prev_sha256.clone().unwrap_or_default();
        let mut prev_bytes = [0u8; 32];
        if !prev.is_empty() {
            hex::decode_to_slice(&prev, &mut prev_bytes).map_err(|e| TraceError::BadRecord {
                path: path.to_path_buf(),
                reason: format!("previous segment hash {prev:?}: {e}"),
            })?;
        }
        w.hasher.update(prev_bytes);
        let meta_json = serde_json::to_vec(&w.meta).unwrap_or_default();
        let header = SegmentHeaderRecord {
            magic: FORMAT_MAGIC,
            major: FORMAT_MAJOR,
            minor: if w.signing_key.is_some() {
                FORMAT_MINOR_SIGNED
            } else {
                FORMAT_MINOR
            },
            reserved: 0,
            meta: meta_json,
        };
        let mut rec = Vec::new();
        w.userspace_record(&mut rec, RecordType::SegmentHeader, open_ts, |out| {
            header.encode_body(out)
        })?;
        w.push(&rec);
        if let Err(e) = w.flush_frame() {
            // Nothing usable was written (the header frame is cut back to zero bytes): do
            // not leave an empty file behind that would block a retry (`create_new`).
            drop(w);
            let _ = std::fs::remove_file(path);
            return Err(e);
        }
        Ok(w)
    }

    fn userspace_record(
        &self,
        out: &mut Vec<u8>,
        t: RecordType,
        ts: u64,
        body: impl FnOnce(&mut Vec<u8>) -> Result<(), crate::wire::EncodeError>,
    ) -> Result<(), TraceError> {
        let start = out.len();
        RecordHeader {
            rtype: t as u16,
            cpu: 0,
            size: 0,
            ts,
            pid: self.writer_pid,
            tid: self.writer_pid,
        }
        .write(out);
        body(out).map_err(|source| TraceError::Encode {
            path: self.path.clone(),
            source,
        })?;
        let size = (out.len() - start) as u32;
        out[start + 4..start + 8].copy_from_slice(&size.to_le_bytes());
        Ok(())
    }

    /// The file being written.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Compressed bytes on disk so far.
    pub fn bytes_written(&self) -> u64 {
        self.offset
    }

    /// Uncompressed record bytes so far.
    pub fn raw_bytes(&self) -> u64 {
        self.raw_bytes
    }

    /// Records written so far (header included).
    pub fn records(&self) -> u64 {
        self.records
    }

    /// Smallest timestamp written, if any record was.
    pub fn first_ts(&self) -> Option<u64> {
        (self.first_ts != u64::MAX).then_some(self.first_ts)
    }

    fn push(&mut self, rec: &[u8]) {
        if let Some(h) = RecordHeader::parse(rec) {
            *self.counts.entry(h.rtype).or_default() += 1;
            self.first_ts = self.first_ts.min(h.ts);
            self.last_ts = self.last_ts.max(h.ts);
            if h.rtype == RecordType::Loss as u16 {
                if let Ok(l) = crate::wire::Loss::decode(rec) {
                    self.lost = self.lost.saturating_add(l.count);
                }
            }
        }
        self.records += 1;
        self.raw_bytes += rec.len() as u64;
        self.buf.extend_from_slice(rec);
    }

    /// Appends one raw record (header included), as the kernel emitted it.
    pub fn append_raw(&mut self, rec: &[u8]) -> Result<(), TraceError> {
        let bad = |reason: String| TraceError::BadRecord {
            path: self.path.clone(),
            reason,
        };
        let hdr = RecordHeader::parse(rec).ok_or_else(|| bad(format!("{} bytes", rec.len())))?;
        if hdr.size as usize != rec.len() || rec.len() > MAX_RECORD_SIZE {
            return Err(bad(format!(
                "size field {} but {} bytes",
                hdr.size,
                rec.len()
            )));
        }
        if hdr.rtype == RecordType::SegmentHeader as u16
            || hdr.rtype == RecordType::SegmentFooter as u16
        {
            return Err(bad(
                "segment headers and footers are written by the writer".into()
            ));
        }
        if self.failed {
            return Err(bad("an earlier write failed; the segment is closed".into()));
        }
        self.push(rec);
        let first = *self.frame_first_ts.get_or_insert(hdr.ts);
        if self.buf.len() >= self.frame_bytes
            || hdr.ts.saturating_sub(first) >= self.max_frame_age_ns
        {
            self.flush_frame()?;
        }
        Ok(())
    }

    /// Closes the open frame, if it holds any record, and writes it.
    pub fn flush_frame(&mut self) -> Result<(), TraceError> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let frame = self
            .compressor
            .compress(&self.buf)
            .map_err(|e| TraceError::io(&self.path, e))?;
        self.write_frame(&frame)?;
        self.hasher.update(&frame);
        self.frames += 1;
        self.buf.clear();
        self.frame_first_ts = None;
        Ok(())
    }

    fn write_frame(&mut self, frame: &[u8]) -> Result<(), TraceError> {
        if let Err(e) = self.file.write_all(frame) {
            // Cut back to the last whole frame so the file stays a valid trace (a full disk
            // must not leave half a frame behind), then give up on this segment.
            self.failed = true;
            let _ = self.file.set_len(self.offset);
            return Err(TraceError::io(&self.path, e));
        }
        self.offset += frame.len() as u64;
        Ok(())
    }

    /// Flushes, writes the footer frame, syncs and closes the segment.
    pub fn finish(mut self, reason: &str) -> Result<SegmentSummary, TraceError> {
        if self.failed {
            return Err(TraceError::BadRecord {
                path: self.path.clone(),
                reason: "an earlier write failed; the segment ends at its last complete frame"
                    .into(),
            });
        }
        self.flush_frame()?;
        let sha = hex::encode(self.hasher.clone().finalize());
        let mut footer = SegmentFooter {
            trace_id: self.meta.trace_id.clone(),
            seq: self.meta.seq,
            records: self.records,
            frames: self.frames,
            counts: self
                .counts
                .iter()
                .map(|(t, n)| {
                    let name = RecordType::from_u16(*t)
                        .map(|t| t.name().to_string())
                        .unwrap_or_else(|| format!("{t:#06x}"));
                    (name, *n)
                })
                .collect(),
            first_ts: self.first_ts().unwrap_or(0),
            last_ts: self.last_ts,
            lost: self.lost,
            prev_sha256: self.meta.prev_sha256.clone(),
            sha256: sha,
            reason: reason.to_string(),
            public_key: None,
            signature: None,
        };
        if let Some(k) = &self.signing_key {
            crate::sign::sign_footer(&mut footer, k);
        }
        let json = serde_json::to_vec(&footer).unwrap_or_default();
        let mut rec = Vec::new();
        self.userspace_record(&mut rec, RecordType::SegmentFooter, self.last_ts, |out| {
            JsonRecord { json }.encode_body(out)
        })?;
        let frame = self
            .compressor
            .compress(&rec)
            .map_err(|e| TraceError::io(&self.path, e))?;
        self.write_frame(&frame)?;
        if self.sync {
            self.file
                .sync_all()
                .map_err(|e| TraceError::io(&self.path, e))?;
        }
        self.finished = true;
        Ok(SegmentSummary {
            path: self.path.clone(),
            footer,
            bytes: self.offset,
            raw_bytes: self.raw_bytes,
        })
    }
}

impl Drop for SegmentWriter {
    fn drop(&mut self) {
        // Dropped without finish (a panic upstream): keep what was buffered, as a killed
        // recorder would. No footer, so readers report the segment as unclosed.
        if !self.finished && !self.failed {
            let _ = self.flush_frame();
        }
    }
}

/// When to start a new segment. Any limit that is reached rotates.
#[derive(Debug, Clone, Default)]
pub struct Rotation {
    /// Compressed bytes per segment (approximate to one frame).
    pub max_bytes: Option<u64>,
    /// Time span of a segment, by record timestamps (ns).
    pub max_duration_ns: Option<u64>,
    /// Records per segment (the header and snapshot a segment opens with not counted).
    pub max_records: Option<u64>,
    /// Segments kept on disk; the oldest are deleted beyond this.
    pub max_segments: Option<usize>,
}

/// File name of segment `seq` of a trace written to `base`: `base` itself for the first,
/// then `name.000002.zst`, `name.000003.zst`, ...
pub fn segment_path(base: &Path, seq: u64) -> PathBuf {
    if seq <= 1 {
        return base.to_path_buf();
    }
    let name = base
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let new = match name.strip_suffix(".zst") {
        Some(stem) => format!("{stem}.{seq:06}.zst"),
        None => format!("{name}.{seq:06}"),
    };
    base.with_file_name(new)
}

/// Writes a whole trace: rotation, chaining, snapshots at the start of every segment.
pub struct TraceWriter {
    base: PathBuf,
    rotation: Rotation,
    opts: WriterOptions,
    meta: SegmentMeta,
    current: Option<SegmentWriter>,
    table: ProcessTable,
    anchor: Option<Box<dyn FnMut() -> crate::meta::ClockAnchor + Send>>,
    kept: VecDeque<PathBuf>,
    summaries: Vec<SegmentSummary>,
    scratch: Vec<u8>,
    /// Records appended to the current segment (header and snapshot not counted).
    seg_records: u64,
    on_seal: Option<SealHook>,
}

/// Called with every segment the [`TraceWriter`] closes, right after its footer is written.
pub type SealHook = Box<dyn FnMut(&SegmentSummary) + Send>;

impl std::fmt::Debug for TraceWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TraceWriter")
            .field("base", &self.base)
            .field("seq", &self.meta.seq)
            .finish_non_exhaustive()
    }
}

impl TraceWriter {
    /// Creates the first segment at `base` with `snapshot` as its state snapshot.
    /// `meta.seq` and `meta.prev_sha256` are managed by the writer.
    pub fn create(
        base: &Path,
        mut meta: SegmentMeta,
        rotation: Rotation,
        opts: WriterOptions,
        snapshot: Vec<ProcessSnapshot>,
    ) -> Result<Self, TraceError> {
        meta.seq = 1;
        meta.prev_sha256 = None;
        let mut table = ProcessTable::default();
        for p in snapshot {
            table.insert(p);
        }
        let mut w = TraceWriter {
            base: base.to_path_buf(),
            rotation,
            opts,
            meta,
            current: None,
            table,
            anchor: None,
            kept: VecDeque::new(),
            summaries: Vec::new(),
            scratch: Vec::new(),
            seg_records: 0,
            on_seal: None,
        };
        let ts = w.meta.clock.boot_ns;
        w.open_segment(ts)?;
        Ok(w)
    }

    /// Re-reads the clocks for every new segment (the recorder's live mode). Without it,
    /// every segment carries the first anchor.
    pub fn set_anchor_source(&mut self, f: Box<dyn FnMut() -> crate::meta::ClockAnchor + Send>) {
        self.anchor = Some(f);
    }

    /// Calls `f` with every segment closed from now on (rotation and finish): the recorder
    /// prints and logs each new chain head and signature there.
    pub fn set_seal_hook(&mut self, f: SealHook) {
        self.on_seal = Some(f);
    }

    /// The public half of the signing key, if the writer signs.
    pub fn public_key(&self) -> Option<crate::sign::VerifyingKey> {
        self.opts.signing_key.as_ref().map(|k| k.verifying_key())
    }

    /// The recording's id.
    pub fn trace_id(&self) -> &str {
        &self.meta.trace_id
    }

    fn sealed(&mut self, summary: SegmentSummary) {
        if let Some(f) = self.on_seal.as_mut() {
            f(&summary);
        }
        self.summaries.push(summary);
    }

    fn open_segment(&mut self, ts: u64) -> Result<(), TraceError> {
        if let Some(f) = self.anchor.as_mut() {
            self.meta.clock = f();
        }
        let path = segment_path(&self.base, self.meta.seq);
        let seg = SegmentWriter::create(&path, self.meta.clone(), ts, &self.opts)?;
        match self.start_segment(seg, ts) {
            Ok(seg) => self.current = Some(seg),
            Err(e) => {
                // A segment that failed before its snapshot was written (full disk) holds
                // nothing but a header: remove it so that it neither blocks a retry nor
                // sits in the directory as an empty segment.
                let _ = std::fs::remove_file(&path);
                return Err(e);
            }
        }
        self.seg_records = 0;
        self.kept.push_back(path);
        if let Some(max) = self.rotation.max_segments {
            while self.kept.len() > max.max(1) {
                if let Some(old) = self.kept.pop_front() {
                    std::fs::remove_file(&old).map_err(|e| TraceError::io(&old, e))?;
                }
            }
        }
        Ok(())
    }

    /// Writes the process snapshot a new segment opens with.
    fn start_segment(
        &mut self,
        mut seg: SegmentWriter,
        ts: u64,
    ) -> Result<SegmentWriter, TraceError> {
        let path = seg.path().to_path_buf();
        for p in self.table.snapshot() {
            self.scratch.clear();
            let ev = Event {
                ts,
                cpu: 0,
                pid: p.pid,
                tid: p.pid,
                kind: EventKind::ProcessSnapshot(Box::new(p)),
            };
            event::encode(&ev, &mut self.scratch).map_err(|source| TraceError::Encode {
                path: path.clone(),
                source,
            })?;
            seg.append_raw(&self.scratch)?;
        }
        seg.flush_frame()?;
        Ok(seg)
    }

    fn rotation_due(&self, seg: &SegmentWriter, ts: u64) -> Option<&'static str> {
        let r = &self.rotation;
        if r.max_bytes.is_some_and(|m| seg.bytes_written() >= m) {
            return Some("size");
        }
        if r.max_records.is_some_and(|m| self.seg_records >= m) {
            return Some("records");
        }
        if let (Some(m), Some(first)) = (r.max_duration_ns, seg.first_ts()) {
            if ts.saturating_sub(first) >= m {
                return Some("time");
            }
        }
        None
    }

    /// Appends one raw record, rotating first when a limit is reached.
    pub fn append_raw(&mut self, rec: &[u8]) -> Result<(), TraceError> {
        let ts = RecordHeader::parse(rec).map(|h| h.ts).unwrap_or(0);
        let due = self
            .current
            .as_ref()
            .and_then(|seg| self.rotation_due(seg, ts));
        if let Some(reason) = due {
            self.rotate(reason, ts)?;
        }
        let seg = self.current.as_mut().ok_or_else(|| TraceError::BadRecord {
            path: self.base.clone(),
            reason: "the trace is closed".into(),
        })?;
        seg.append_raw(rec)?;
        self.seg_records += 1;
        self.table.observe(rec);
        Ok(())
    }

    /// Appends one event.
    pub fn append(&mut self, ev: &Event) -> Result<(), TraceError> {
        let mut buf = std::mem::take(&mut self.scratch);
        buf.clear();
        let res = event::encode(ev, &mut buf)
            .map_err(|source| TraceError::Encode {
                path: self.base.clone(),
                source,
            })
            .and_then(|_| self.append_raw(&buf));
        self.scratch = buf;
        res
    }

    /// Closes the current segment and opens the next.
    pub fn rotate(&mut self, reason: &str, ts: u64) -> Result<(), TraceError> {
        if let Some(seg) = self.current.take() {
            let summary = seg.finish(reason)?;
            self.meta.prev_sha256 = Some(summary.footer.sha256.clone());
            self.sealed(summary);
        }
        self.meta.seq += 1;
        self.open_segment(ts)
    }

    /// Writes the open frame (the recorder calls this at least once a second).
    pub fn flush(&mut self) -> Result<(), TraceError> {
        match self.current.as_mut() {
            Some(seg) => seg.flush_frame(),
            None => Ok(()),
        }
    }

    /// The segment being written.
    pub fn current_path(&self) -> Option<&Path> {
        self.current.as_ref().map(|s| s.path())
    }

    /// Compressed and uncompressed bytes of the whole trace so far.
    pub fn bytes(&self) -> (u64, u64) {
        let (mut c, mut r) = (0, 0);
        for s in &self.summaries {
            c += s.bytes;
            r += s.raw_bytes;
        }
        if let Some(seg) = &self.current {
            c += seg.bytes_written();
            r += seg.raw_bytes();
        }
        (c, r)
    }

    /// The live process table.
    pub fn processes(&self) -> &ProcessTable {
        &self.table
    }

    /// Closes the last segment; returns every segment written (including deleted ones).
    pub fn finish(mut self, reason: &str) -> Result<Vec<SegmentSummary>, TraceError> {
        if let Some(seg) = self.current.take() {
            let s = seg.finish(reason)?;
            self.sealed(s);
        }
        Ok(std::mem::take(&mut self.summaries))
    }
}
