//! Rewind's event model and trace file format.
//!
//! A trace is one or more segment files; each is a sequence of independent zstd frames
//! holding length-prefixed, typed records: a header, a snapshot of live processes, raw
//! kernel records exactly as the BPF programs emitted them, loss markers, and a footer
//! with counts and a SHA-256 chained to the previous segment. The byte format is specified
//! in `schema/FORMAT.md`.
//!
//! Everything here builds with the Rust toolchain alone: reading traces never needs clang
//! or libbpf.
#![deny(missing_docs)]

pub mod builder;
pub mod container;
pub mod error;
pub mod event;
pub mod fsutil;
pub mod meta;
pub mod policy;
pub mod proctable;
pub mod reader;
pub mod sign;
pub mod snapshot;
pub mod text;
pub mod trace;
pub mod wire;
pub mod writer;

pub use error::TraceError;
pub use event::{Event, EventKind, RecordType};
pub use reader::{Damage, RawRecord, SegmentReader};
pub use trace::{MergedRecord, TraceSet};
