//! Userspace records written by the recorder itself: the segment header, process
//! snapshots, loss markers and the segment footer. Same framing as kernel records.

use super::{layout, DecodeError, EncodeError, FieldInfo, Fixed, Layout, LayoutInfo, HDR_SIZE};

/// The eight magic bytes at the start of every segment header record.
pub const FORMAT_MAGIC: [u8; 8] = *b"REWIND\0\0";

layout! {
    /// Records the kernel could not hand over (ring buffer full), per CPU, with the
    /// window in which they were lost (`struct rw_loss`).
    Loss = "rw_loss" {
        /// Records dropped in the window.
        count: u64,
        /// Window start (boot-time ns).
        window_start: u64,
        /// Window end (boot-time ns).
        window_end: u64,
        /// CPU whose reservations failed.
        loss_cpu: u32,
    }
}

/// The fixed part of the segment header record (`struct rw_segment_header`), followed
/// by `meta_len` bytes of JSON metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentHeaderRecord {
    /// Must be [`FORMAT_MAGIC`].
    pub magic: [u8; 8],
    /// Format major version: a reader refuses majors it does not know.
    pub major: u16,
    /// Format minor version: additions a older reader may ignore.
    pub minor: u16,
    /// Reserved, must be zero.
    pub reserved: u32,
    /// JSON metadata (`SegmentMeta`).
    pub meta: Vec<u8>,
}

impl Layout for SegmentHeaderRecord {
    const C_NAME: &'static str = "rw_segment_header";
    const FIXED_SIZE: usize = 48;

    fn decode(rec: &[u8]) -> Result<Self, DecodeError> {
        if rec.len() < Self::FIXED_SIZE {
            return Err(DecodeError::Short {
                layout: Self::C_NAME,
                need: Self::FIXED_SIZE,
                have: rec.len(),
            });
        }
        let mut magic = [0u8; 8];
        magic.copy_from_slice(&rec[24..32]);
        let len = u32::read(&rec[40..]) as usize;
        let meta = tail(Self::C_NAME, "meta", rec, Self::FIXED_SIZE, len)?;
        Ok(SegmentHeaderRecord {
            magic,
            major: u16::read(&rec[32..]),
            minor: u16::read(&rec[34..]),
            reserved: u32::read(&rec[36..]),
            meta: meta.to_vec(),
        })
    }

    fn encode_body(&self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        out.extend_from_slice(&self.magic);
        self.major.write(out);
        self.minor.write(out);
        self.reserved.write(out);
        (self.meta.len() as u32).write(out);
        0u32.write(out);
        out.extend_from_slice(&self.meta);
        Ok(())
    }

    fn layout() -> LayoutInfo {
        let f = |name, offset, size| FieldInfo { name, offset, size };
        LayoutInfo {
            c_name: Self::C_NAME,
            size: Self::FIXED_SIZE,
            fields: vec![
                f("hdr", 0, HDR_SIZE),
                f("magic", 24, 8),
                f("major", 32, 2),
                f("minor", 34, 2),
                f("reserved", 36, 4),
                f("meta_len", 40, 4),
            ],
        }
    }
}

/// A record whose body is JSON (`struct rw_json`): process snapshots and the footer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonRecord {
    /// The JSON bytes.
    pub json: Vec<u8>,
}

impl Layout for JsonRecord {
    const C_NAME: &'static str = "rw_json";
    const FIXED_SIZE: usize = 32;

    fn decode(rec: &[u8]) -> Result<Self, DecodeError> {
        if rec.len() < Self::FIXED_SIZE {
            return Err(DecodeError::Short {
                layout: Self::C_NAME,
                need: Self::FIXED_SIZE,
                have: rec.len(),
            });
        }
        let len = u32::read(&rec[24..]) as usize;
        let json = tail(Self::C_NAME, "json", rec, Self::FIXED_SIZE, len)?;
        Ok(JsonRecord {
            json: json.to_vec(),
        })
    }

    fn encode_body(&self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        (self.json.len() as u32).write(out);
        0u32.write(out);
        out.extend_from_slice(&self.json);
        Ok(())
    }

    fn layout() -> LayoutInfo {
        let f = |name, offset, size| FieldInfo { name, offset, size };
        LayoutInfo {
            c_name: Self::C_NAME,
            size: Self::FIXED_SIZE,
            fields: vec![f("hdr", 0, HDR_SIZE), f("json_len", 24, 4)],
        }
    }
}

fn tail<'a>(
    layout: &'static str,
    field: &'static str,
    rec: &'a [u8],
    offset: usize,
    len: usize,
) -> Result<&'a [u8], DecodeError> {
    rec.get(offset..offset.saturating_add(len))
        .ok_or(DecodeError::TailOverflow {
            layout,
            field,
            len,
            offset,
            size: rec.len(),
        })
}
