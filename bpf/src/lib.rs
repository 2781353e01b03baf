//! Rewind's kernel side: the eBPF programs (`src/*.bpf.c`, one object built by
//! `build.rs`) and `include/rewind.h`, the single definition of every record layout.
//! This crate loads and attaches the programs with libbpf-rs and hands the recorder the
//! ring buffer, the loss counters and the follow map.
#![deny(missing_docs)]

pub mod enforce;
mod loader;
mod probe;

pub use loader::{
    check_path_prefixes, check_privileges, class, enable_stats, prepare_system, restore_stats,
    Config, Hook, LoadError, Loaded, ProgStats, MAX_PATH_PREFIXES, PATH_PREFIX_LEN,
};
pub use probe::{probe_kinds, KindProbe, ProgKind};

/// Absolute path of the record header, for build scripts and tests.
pub const HEADER_PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/include/rewind.h");

#[allow(
    missing_docs,
    clippy::all,
    clippy::unwrap_used,
    unsafe_code,
    dead_code,
    unused_imports,
    missing_debug_implementations
)]
mod skel {
    include!(concat!(env!("OUT_DIR"), "/rewind.skel.rs"));
}

#[allow(
    missing_docs,
    clippy::all,
    clippy::unwrap_used,
    unsafe_code,
    dead_code,
    unused_imports,
    missing_debug_implementations
)]
mod probe_skel {
    include!(concat!(env!("OUT_DIR"), "/probe.skel.rs"));
}

#[allow(
    missing_docs,
    clippy::all,
    clippy::unwrap_used,
    unsafe_code,
    dead_code,
    unused_imports,
    missing_debug_implementations
)]
mod enforce_skel {
    include!(concat!(env!("OUT_DIR"), "/enforce.skel.rs"));
}
