//! Reading one segment: frames, records, the header and footer, and damage.
//!
//! The reader streams (memory holds one frame, not the file), never writes, and tolerates
//! damage: a truncated tail, a corrupt frame or unrecognised bytes are reported as
//! [`Damage`] with their byte offsets, and reading resumes at the next intact frame.

use crate::error::TraceError;
use crate::event::{self, Event, RecordType};
use crate::meta::{SegmentFooter, SegmentMeta, FORMAT_MAJOR};
use crate::wire::{
    DecodeError, JsonRecord, Layout, RecordHeader, SegmentHeaderRecord, FORMAT_MAGIC, HDR_SIZE,
    MAX_RECORD_SIZE,
};
use sha2::{Digest, Sha256};
use std::fmt;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];
/// Largest compressed frame the reader buffers before calling it damaged.
const MAX_FRAME_COMPRESSED: usize = 80 << 20;
/// Largest decompressed frame the reader accepts.
const MAX_FRAME_DECOMPRESSED: usize = 64 << 20;
const READ_CHUNK: usize = 1 << 20;
/// Finished frame buffers kept for reuse.
const RETIRED_FRAMES: usize = 4;

/// A damaged stretch of a segment. Reading goes on after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Damage {
    /// File offset where the damage starts.
    pub offset: u64,
    /// Bytes lost (the stretch skipped).
    pub len: u64,
    /// What was found.
    pub what: String,
}

impl fmt::Display for Damage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "bytes {}..{}: {}",
            self.offset,
            self.offset + self.len,
            self.what
        )
    }
}

/// One record, borrowed from its decompressed frame (cheap to clone).
#[derive(Clone)]
pub struct RawRecord {
    /// Its common header.
    pub hdr: RecordHeader,
    frame: Arc<Vec<u8>>,
    start: usize,
}

impl fmt::Debug for RawRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RawRecord")
            .field("hdr", &self.hdr)
            .finish_non_exhaustive()
    }
}

impl RawRecord {
    /// The record's bytes, header included.
    pub fn bytes(&self) -> &[u8] {
        &self.frame[self.start..self.start + self.hdr.size as usize]
    }
    /// Its type, `None` when this version does not know the number.
    pub fn record_type(&self) -> Option<RecordType> {
        RecordType::from_u16(self.hdr.rtype)
    }
    /// Decodes it.
    pub fn decode(&self) -> Result<Event, DecodeError> {
        event::decode(self.bytes())
    }
}

/// What a segment's hash chain says about it, known once the whole segment was read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SegmentSeal {
    /// Footer present and the SHA-256 of the bytes matches it.
    Intact,
    /// No footer: the recorder stopped without closing it (killed, crash, full disk), or
    /// the tail is lost. Its content cannot be verified.
    Unsealed,
    /// Footer present but the bytes do not hash to it: edited or damaged.
    Mismatch {
        /// Hash in the footer.
        expected: String,
        /// Hash of the bytes.
        actual: String,
    },
    /// Footer present and the bytes before it match, but the file goes on after the
    /// footer frame: bytes appended after the seal, which no hash covers.
    Appended {
        /// Bytes after the footer frame.
        bytes: u64,
    },
}

/// Reads one segment file.
pub struct SegmentReader {
    path: PathBuf,
    file: File,
    buf: Vec<u8>,
    pos: usize,
    buf_off: u64,
    eof: bool,
    hasher: Sha256,
    frame: Arc<Vec<u8>>,
    /// Buffers of finished frames, reused by later decompressions.
    retired: Vec<Arc<Vec<u8>>>,
    frame_pos: usize,
    frame_off: u64,
    decomp: zstd::bulk::Decompressor<'static>,
    meta: SegmentMeta,
    version: (u16, u16),
    header_ts: u64,
    footer: Option<SegmentFooter>,
    footer_sha: Option<String>,
    /// File offset just after the footer frame.
    footer_end: Option<u64>,
    damage: Vec<Damage>,
    frames: u64,
    records: u64,
    file_len: u64,
}

impl fmt::Debug for SegmentReader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SegmentReader")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

/// Why a path that is neither a regular file nor a directory cannot be a trace (`None`
/// for files and directories). A FIFO or a terminal would block a reader, a device could
/// be endless: refused with a message instead of hanging.
pub fn not_a_file(md: &std::fs::Metadata) -> Option<String> {
    let t = md.file_type();
    if t.is_file() || t.is_dir() {
        return None;
    }
    #[cfg(unix)]
    let what = {
        use std::os::unix::fs::FileTypeExt;
        if t.is_fifo() {
            "a FIFO (named pipe)"
        } else if t.is_socket() {
            "a socket"
        } else if t.is_char_device() {
            "a character device"
        } else if t.is_block_device() {
            "a block device"
        } else {
            "a special file"
        }
    };
    #[cfg(not(unix))]
    let what = "a special file";
    Some(format!(
        "is {what}, not a regular file (a trace must be a file or a directory of segments)"
    ))
}

impl SegmentReader {
    /// Opens a segment and reads its header. Fails only when the file cannot be read or is
    /// not a Rewind segment of a supported version.
    pub fn open(path: &Path) -> Result<Self, TraceError> {
        // Checked before open(2): opening a FIFO waits for a writer, forever.
        let md = std::fs::metadata(path).map_err(|e| TraceError::io(path, e))?;
        if let Some(reason) = not_a_file(&md) {
            return Err(TraceError::NotATrace {
                path: path.into(),
                reason,
            });
        }
        let file = File::open(path).map_err(|e| TraceError::io(path, e))?;
        let md = file.metadata().map_err(|e| TraceError::io(path, e))?;
        if md.is_dir() {
            return Err(TraceError::NotATrace {
                path: path.into(),
                reason: "is a directory".into(),
            });
        }
        let decomp = zstd::bulk::Decompressor::new().map_err(|e| TraceError::io(path, e))?;
        let mut r = SegmentReader {
            path: path.to_path_buf(),
            file,
            buf: Vec::new(),
            pos: 0,
            buf_off: 0,
            eof: false,
            hasher: Sha256::new(),
            frame: Arc::new(Vec::new()),
            retired: Vec::new(),
            frame_pos: 0,
            frame_off: 0,
            decomp,
            meta: SegmentMeta::default(),
            version: (0, 0),
            header_ts: 0,
            footer: None,
            footer_sha: None,
            footer_end: None,
            damage: Vec::new(),
            frames: 0,
            records: 0,
            file_len: md.len(),
        };
        r.read_header()?;
        Ok(r)
    }

    fn not_a_trace(&self, reason: impl Into<String>) -> TraceError {
        TraceError::NotATrace {
            path: self.path.clone(),
            reason: reason.into(),
        }
    }

    fn read_header(&mut self) -> Result<(), TraceError> {
        self.fill(READ_CHUNK)
            .map_err(|e| TraceError::io(&self.path, e))?;
        let avail = &self.buf[self.pos..];
        if avail.is_empty() {
            return Err(self.not_a_trace("the file is empty"));
        }
        if avail.len() < 4 || avail[..4] != ZSTD_MAGIC {
            return Err(self.not_a_trace("it does not start with a zstd frame"));
        }
        let Some(len) = self.frame_len()? else {
            return Err(TraceError::BadHeader {
                path: self.path.clone(),
                reason: format!(
                    "the first frame is cut or corrupt ({} bytes in the file); nothing can be recovered",
                    self.file_len
                ),
            });
        };
        let frame = self.buf[self.pos..self.pos + len].to_vec();
        let data =
            decompress(&mut self.decomp, &frame, None).map_err(|e| TraceError::BadHeader {
                path: self.path.clone(),
                reason: format!("first frame: {e}"),
            })?;
        let hdr = RecordHeader::parse(&data)
            .filter(|h| h.size as usize <= data.len() && h.size as usize >= HDR_SIZE);
        let Some(hdr) = hdr else {
            return Err(
                self.not_a_trace("a zstd file, but not a Rewind segment (no header record)")
            );
        };
        if hdr.rtype != RecordType::SegmentHeader as u16 {
            return Err(self.not_a_trace(format!(
                "a zstd file whose first record is type {:#06x}, not a segment header",
                hdr.rtype
            )));
        }
        let rec = SegmentHeaderRecord::decode(&data[..hdr.size as usize])
            .map_err(|e| self.not_a_trace(format!("bad segment header: {e}")))?;
        if rec.magic != FORMAT_MAGIC {
            return Err(self.not_a_trace("segment header magic is wrong"));
        }
        if rec.major != FORMAT_MAJOR {
            return Err(TraceError::UnsupportedVersion {
                path: self.path.clone(),
                major: rec.major,
                minor: rec.minor,
                supported: FORMAT_MAJOR,
            });
        }
        if rec.reserved != 0 {
            return Err(TraceError::BadHeader {
                path: self.path.clone(),
                reason: format!("reserved field is {:#x}, must be zero", rec.reserved),
            });
        }
        self.meta = serde_json::from_slice(&rec.meta).map_err(|e| TraceError::BadHeader {
            path: self.path.clone(),
            reason: format!("metadata JSON: {e}"),
        })?;
        self.version = (rec.major, rec.minor);
        self.header_ts = hdr.ts;
        let mut prev = [0u8; 32];
        if let Some(p) = &self.meta.prev_sha256 {
            hex::decode_to_slice(p, &mut prev).map_err(|e| TraceError::BadHeader {
                path: self.path.clone(),
                reason: format!("previous segment hash {p:?}: {e}"),
            })?;
        }
        self.hasher.update(prev);
        self.hasher.update(&frame);
        self.frames = 1;
        self.records = 1;
        self.frame_off = self.offset();
        self.consume(len);
        self.frame = Arc::new(data);
        self.frame_pos = hdr.size as usize;
        Ok(())
    }

    /// The segment file.
    pub fn path(&self) -> &Path {
        &self.path
    }
    /// Header metadata.
    pub fn meta(&self) -> &SegmentMeta {
        &self.meta
    }
    /// Format version (major, minor).
    pub fn version(&self) -> (u16, u16) {
        self.version
    }
    /// Timestamp of the header record (segment open time, boot ns).
    pub fn header_ts(&self) -> u64 {
        self.header_ts
    }
    /// The footer, once read (at the end).
    pub fn footer(&self) -> Option<&SegmentFooter> {
        self.footer.as_ref()
    }
    /// Damage found so far.
    pub fn damage(&self) -> &[Damage] {
        &self.damage
    }
    /// Frames read so far.
    pub fn frames(&self) -> u64 {
        self.frames
    }
    /// Records read so far (header and footer included).
    pub fn records(&self) -> u64 {
        self.records
    }
    /// File size when opened.
    pub fn file_len(&self) -> u64 {
        self.file_len
    }

    /// For a segment without a footer, once read to its end: the SHA-256 its footer would
    /// hold if the file ended where it ends now (§8 of FORMAT.md). When it equals the next
    /// segment's `prev_sha256`, nothing but the footer frame is missing.
    pub fn unsealed_sha256(&self) -> Option<String> {
        self.footer_sha
            .is_none()
            .then(|| hex::encode(self.hasher.clone().finalize()))
    }

    /// The chain verdict; meaningful after the last record was read.
    pub fn seal(&self) -> SegmentSeal {
        match (&self.footer, &self.footer_sha) {
            (Some(f), Some(actual)) if *actual == f.sha256 => {
                match self.footer_end.map(|e| self.file_len.saturating_sub(e)) {
                    Some(n) if n > 0 => SegmentSeal::Appended { bytes: n },
                    _ => SegmentSeal::Intact,
                }
            }
            (Some(f), Some(actual)) => SegmentSeal::Mismatch {
                expected: f.sha256.clone(),
                actual: actual.clone(),
            },
            _ => SegmentSeal::Unsealed,
        }
    }

    fn offset(&self) -> u64 {
        self.buf_off + self.pos as u64
    }

    fn consume(&mut self, n: usize) {
        self.pos += n;
    }

    fn avail(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// Ensures `want` bytes are buffered unless the file ends first.
    fn fill(&mut self, want: usize) -> std::io::Result<()> {
        while self.avail() < want && !self.eof {
            if self.pos > 0 {
                self.buf.drain(..self.pos);
                self.buf_off += self.pos as u64;
                self.pos = 0;
            }
            let old = self.buf.len();
            let chunk = (want - self.avail()).max(READ_CHUNK);
            self.buf.resize(old + chunk, 0);
            match self.file.read(&mut self.buf[old..]) {
                Ok(0) => {
                    self.buf.truncate(old);
                    self.eof = true;
                }
                Ok(n) => self.buf.truncate(old + n),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => self.buf.truncate(old),
                Err(e) => {
                    self.buf.truncate(old);
                    return Err(e);
                }
            }
        }
        Ok(())
    }

    /// Length of the zstd frame at the read position; `None` when it is cut by the end of
    /// the file or corrupt.
    fn frame_len(&mut self) -> Result<Option<usize>, TraceError> {
        loop {
            match zstd::zstd_safe::find_frame_compressed_size(&self.buf[self.pos..]) {
                Ok(n) if n <= self.avail() => return Ok(Some(n)),
                Ok(_) => {}
                Err(code) => {
                    let short = zstd::zstd_safe::get_error_name(code).contains("Src size");
                    if !short || self.eof || self.avail() >= MAX_FRAME_COMPRESSED {
                        return Ok(None);
                    }
                }
            }
            let want = (self.avail() * 2).max(READ_CHUNK);
            self.fill(want).map_err(|e| TraceError::io(&self.path, e))?;
            if self.eof && self.avail() < want {
                // One more attempt with everything there is.
                return Ok(
                    zstd::zstd_safe::find_frame_compressed_size(&self.buf[self.pos..])
                        .ok()
                        .filter(|&n| n <= self.avail()),
                );
            }
        }
    }

    /// Makes `data` the current frame. Buffers of earlier frames are kept (a few) and
    /// reused by a later decompression once no record refers to them any more: that
    /// saves an allocation, and the page faults of fresh memory, per frame.
    fn set_frame(&mut self, data: Vec<u8>) {
        let old = std::mem::replace(&mut self.frame, Arc::new(data));
        if self.retired.len() < RETIRED_FRAMES {
            self.retired.push(old);
        }
    }

    /// A retired frame buffer no record refers to, if there is one.
    fn spare(&mut self) -> Option<Vec<u8>> {
        let i = self
            .retired
            .iter()
            .position(|a| Arc::strong_count(a) == 1)?;
        Arc::try_unwrap(self.retired.swap_remove(i)).ok()
    }

    fn note(&mut self, offset: u64, len: u64, what: String) {
        self.damage.push(Damage { offset, len, what });
    }

    /// Skips to the next zstd magic after the current position; returns bytes skipped.
    fn resync(&mut self) -> u64 {
        let start = self.offset();
        // Never stay on the current position: it is what failed.
        self.hash_consume(1.min(self.avail()));
        loop {
            if let Some(i) = self.buf[self.pos..]
                .windows(4)
                .position(|w| w == ZSTD_MAGIC)
            {
                self.hash_consume(i);
                break;
            }
            let keep = 3.min(self.avail());
            self.hash_consume(self.avail() - keep);
            if self.eof {
                self.hash_consume(self.avail());
                break;
            }
            if self.fill(READ_CHUNK).is_err() {
                self.eof = true;
            }
        }
        self.offset() - start
    }

    fn hash_consume(&mut self, n: usize) {
        if self.footer.is_none() {
            self.hasher.update(&self.buf[self.pos..self.pos + n]);
        }
        self.consume(n);
    }

    /// Loads the next intact frame; `false` at the end of the file.
    fn next_frame(&mut self) -> bool {
        loop {
            if let Err(e) = self.fill(READ_CHUNK) {
                let off = self.offset();
                self.note(
                    off,
                    self.file_len.saturating_sub(off),
                    format!("read error: {e}"),
                );
                return false;
            }
            let avail = self.avail();
            if avail == 0 {
                return false;
            }
            let off = self.offset();
            let magic = &self.buf[self.pos..self.pos + avail.min(4)];
            if avail < 4 && self.eof && ZSTD_MAGIC.starts_with(magic) {
                self.note(
                    off,
                    avail as u64,
                    format!(
                        "truncated: the last frame is cut after {avail} bytes; the file ends there"
                    ),
                );
                self.hash_consume(avail);
                return false;
            }
            if magic != ZSTD_MAGIC {
                let is_skippable =
                    avail >= 8 && magic[0] & 0xf0 == 0x50 && magic[1..4] == [0x2a, 0x4d, 0x18];
                if is_skippable {
                    let n = u32::from_le_bytes([
                        self.buf[self.pos + 4],
                        self.buf[self.pos + 5],
                        self.buf[self.pos + 6],
                        self.buf[self.pos + 7],
                    ]) as usize;
                    // Skip it in bounded chunks: its length field may claim gigabytes.
                    let mut left = 8 + n as u64;
                    while left > 0 {
                        if self.avail() == 0 && (self.eof || self.fill(READ_CHUNK).is_err()) {
                            break;
                        }
                        let take = left.min(self.avail() as u64) as usize;
                        self.hash_consume(take);
                        left -= take as u64;
                    }
                    if left > 0 {
                        self.note(
                            off,
                            8 + n as u64 - left,
                            "truncated skippable frame at the end of the file".into(),
                        );
                    }
                    continue;
                }
                let skipped = self.resync();
                let what = if self.eof && self.avail() == 0 && skipped == avail as u64 && avail < 4
                {
                    format!("{skipped} stray bytes at the end of the file")
                } else {
                    format!("{skipped} bytes that are not a zstd frame (skipped to the next frame)")
                };
                self.note(off, skipped, what);
                continue;
            }
            let len = match self.frame_len() {
                Ok(Some(n)) => n,
                Ok(None) if self.eof => {
                    let rest = self.avail() as u64;
                    // Distinguish a cut tail from a corrupt frame followed by more frames.
                    let has_more = self.buf[self.pos + 1..].windows(4).any(|w| w == ZSTD_MAGIC);
                    if !has_more {
                        self.note(
                            off,
                            rest,
                            format!("truncated: the last frame is cut after {rest} bytes; the file ends there"),
                        );
                        self.hash_consume(self.avail());
                        return false;
                    }
                    let skipped = self.resync();
                    self.note(
                        off,
                        skipped,
                        "corrupt frame header (skipped to the next frame)".into(),
                    );
                    continue;
                }
                Ok(None) => {
                    let skipped = self.resync();
                    self.note(
                        off,
                        skipped,
                        "corrupt frame header (skipped to the next frame)".into(),
                    );
                    continue;
                }
                Err(e) => {
                    self.note(
                        off,
                        self.file_len.saturating_sub(off),
                        format!("read error: {e}"),
                    );
                    return false;
                }
            };
            let spare = self.spare();
            let frame = &self.buf[self.pos..self.pos + len];
            match decompress(&mut self.decomp, frame, spare) {
                Ok(data) => {
                    let is_footer = RecordHeader::parse(&data)
                        .is_some_and(|h| h.rtype == RecordType::SegmentFooter as u16);
                    let first_footer = is_footer && self.footer.is_none();
                    if first_footer {
                        self.footer_sha = Some(hex::encode(self.hasher.clone().finalize()));
                    } else if self.footer.is_some() {
                        self.note(off, len as u64, "a frame after the segment footer".into());
                    }
                    self.hash_consume(len);
                    if first_footer {
                        self.footer_end = Some(self.offset());
                    }
                    self.frames += 1;
                    self.set_frame(data);
                    self.frame_pos = 0;
                    self.frame_off = off;
                    return true;
                }
                Err(e) => {
                    self.hash_consume(len);
                    self.note(
                        off,
                        len as u64,
                        format!("corrupt frame ({e}); its records are lost"),
                    );
                }
            }
        }
    }

    fn take_footer(&mut self, rec: &[u8]) {
        match JsonRecord::decode(rec)
            .map_err(|e| e.to_string())
            .and_then(|j| {
                serde_json::from_slice::<SegmentFooter>(&j.json).map_err(|e| e.to_string())
            }) {
            Ok(f) if self.footer.is_none() => self.footer = Some(f),
            Ok(_) => self.note(self.frame_off, 0, "a second segment footer".into()),
            Err(e) => self.note(self.frame_off, 0, format!("unreadable segment footer: {e}")),
        }
    }
}

impl Iterator for SegmentReader {
    type Item = RawRecord;

    fn next(&mut self) -> Option<RawRecord> {
        loop {
            if self.frame_pos < self.frame.len() {
                let rest = &self.frame[self.frame_pos..];
                let hdr = RecordHeader::parse(rest);
                let ok = hdr.filter(|h| {
                    let n = h.size as usize;
                    n >= HDR_SIZE && n <= rest.len() && n <= MAX_RECORD_SIZE
                });
                let Some(hdr) = ok else {
                    let what = match hdr {
                        Some(h) => format!(
                            "record at byte {} of the frame claims {} bytes, {} remain; rest of frame skipped",
                            self.frame_pos,
                            h.size,
                            rest.len()
                        ),
                        None => format!("{} stray bytes at the end of a frame", rest.len()),
                    };
                    self.note(self.frame_off, 0, what);
                    self.frame_pos = self.frame.len();
                    continue;
                };
                let start = self.frame_pos;
                self.frame_pos += hdr.size as usize;
                self.records += 1;
                if hdr.rtype == RecordType::SegmentFooter as u16 {
                    let rec = self.frame[start..start + hdr.size as usize].to_vec();
                    self.take_footer(&rec);
                    continue;
                }
                if hdr.rtype == RecordType::SegmentHeader as u16 {
                    self.note(
                        self.frame_off,
                        0,
                        "a second segment header inside the segment".into(),
                    );
                    continue;
                }
                return Some(RawRecord {
                    hdr,
                    frame: self.frame.clone(),
                    start,
                });
            }
            if !self.next_frame() {
                return None;
            }
        }
    }
}

/// Decompresses one frame, into `reuse` when given (its capacity is kept).
fn decompress(
    decomp: &mut zstd::bulk::Decompressor<'static>,
    frame: &[u8],
    reuse: Option<Vec<u8>>,
) -> Result<Vec<u8>, String> {
    let size = zstd::zstd_safe::get_frame_content_size(frame)
        .map_err(|_| "unreadable frame header".to_string())?;
    match size {
        Some(n) if n as usize <= MAX_FRAME_DECOMPRESSED => {
            let mut out = reuse.unwrap_or_default();
            out.clear();
            out.reserve(n as usize);
            decomp
                .decompress_to_buffer(frame, &mut out)
                .map_err(|e| e.to_string())?;
            Ok(out)
        }
        Some(n) => Err(format!(
            "frame claims {n} bytes, more than the {MAX_FRAME_DECOMPRESSED} allowed"
        )),
        None => {
            let dec = zstd::stream::read::Decoder::with_buffer(frame).map_err(|e| e.to_string())?;
            let mut out = Vec::new();
            dec.single_frame()
                .take(MAX_FRAME_DECOMPRESSED as u64 + 1)
                .read_to_end(&mut out)
                .map_err(|e| e.to_string())?;
            if out.len() > MAX_FRAME_DECOMPRESSED {
                return Err("frame decompresses to more than allowed".into());
            }
            Ok(out)
        }
    }
}
