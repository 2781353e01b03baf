//! Payload bursts. An interactive shell over a socket reads and writes a byte at a time,
//! and the recorder keeps one snippet per call: the timeline printed `received "i"`,
//! `received "d"`, ... one line per keystroke (issue 14.4). The timeline joins a
//! direction's consecutive pieces of one connection into one line per burst, with its
//! byte count; `dump` and `timeline --json` keep every piece.
//!
//! A burst is a run of timeline lines with nothing printed between them: plain payload
//! snippets (not parsed as TLS, HTTP or DNS) of one process on one connection, in one
//! direction, each within [`BURST_GAP_NS`] of the previous. It ends at any other printed
//! line (of any process: joining across them would reorder the story), a direction
//! change, a gap, or a piece the kernel cut (its bytes are not contiguous with the next).
//! The rule only looks at what the timeline prints, in replay order, so it is
//! deterministic.

use super::words::payload_words;
use crate::model::net::ConnId;
use crate::model::process::ImageId;
use crate::model::Model;
use crate::replay::Step;
use rewind_schema::EventKind;

/// A pause this long (or longer) between two pieces ends a burst.
pub const BURST_GAP_NS: i128 = 200_000_000;

/// Bytes of a burst kept for its text (the line shows fewer; one more says it was cut).
const KEEP: usize = super::words::PAYLOAD_TEXT_MAX + 1;

/// One piece a burst can be made of.
#[derive(Debug, Clone, Copy)]
pub struct Piece<'a> {
    conn: ConnId,
    image: ImageId,
    inbound: bool,
    wall_ns: i128,
    len: u64,
    data: &'a [u8],
}

impl<'a> Piece<'a> {
    /// The step as a piece: a plain payload snippet of a known process and connection,
    /// captured whole.
    pub fn of(step: &Step<'a>) -> Option<Piece<'a>> {
        let EventKind::Snippet(s) = &step.ev.kind else {
            return None;
        };
        if step.at.app.is_some() || s.data.0.len() != s.total_len as usize {
            return None;
        }
        Some(Piece {
            conn: step.at.conn?,
            image: step.at.image?,
            inbound: s.inbound(),
            wall_ns: step.wall_ns,
            len: u64::from(s.total_len),
            data: &s.data.0,
        })
    }
}

/// Pieces joined so far; printed as one line at the time of the first.
#[derive(Debug, Clone)]
pub struct Burst {
    conn: ConnId,
    image: ImageId,
    inbound: bool,
    last_ns: i128,
    bytes: u64,
    pieces: u32,
    data: Vec<u8>,
    peer: String,
}

impl Burst {
    /// A burst starting with `p` (its peer named now: a streaming replay may free the
    /// connection before the burst is printed).
    pub fn start(p: &Piece, model: &Model) -> Burst {
        Burst {
            conn: p.conn,
            image: p.image,
            inbound: p.inbound,
            last_ns: p.wall_ns,
            bytes: p.len,
            pieces: 1,
            data: p.data[..p.data.len().min(KEEP)].to_vec(),
            peer: model.conn(p.conn).remote_text(),
        }
    }

    /// Whether `p` continues this burst.
    pub fn joins(&self, p: &Piece) -> bool {
        p.conn == self.conn
            && p.image == self.image
            && p.inbound == self.inbound
            && p.wall_ns.saturating_sub(self.last_ns) < BURST_GAP_NS
    }

    /// Adds `p` (which [`Burst::joins`]).
    pub fn push(&mut self, p: &Piece) {
        self.last_ns = p.wall_ns;
        self.bytes = self.bytes.saturating_add(p.len);
        self.pieces = self.pieces.saturating_add(1);
        let room = KEEP.saturating_sub(self.data.len());
        self.data
            .extend_from_slice(&p.data[..p.data.len().min(room)]);
    }

    /// Pieces in it.
    pub fn pieces(&self) -> u32 {
        self.pieces
    }

    /// The line's words: as a single snippet's when it is one piece, otherwise the
    /// joined text (capped) with the byte and piece counts.
    pub fn text(&self) -> String {
        payload_words(
            self.inbound,
            &self.data,
            self.bytes,
            &self.peer,
            self.pieces,
        )
    }
}
