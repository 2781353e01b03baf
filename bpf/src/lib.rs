//! Rewind's kernel side: the eBPF programs (`bpf/src/*.bpf.c`) and `include/rewind.h`, the
//! single definition of every record layout. The layout test (`tests/layout.rs`) compiles
//! the header with the system C compiler and proves that `rewind-schema` decodes the same
//! sizes and offsets.
#![deny(missing_docs)]

/// Absolute path of the record header, for build scripts and tests.
pub const HEADER_PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/include/rewind.h");
