//! Rewind's recorder: loads the eBPF programs, drains the ring buffer on tokio and writes
//! segmented, tamper-evident traces with the `rewind-schema` writer.
#![deny(missing_docs)]

pub mod cli;
pub mod gate;
pub mod keygen;
pub mod keylog;
pub mod policy;
pub mod policy_check;
pub mod procfs;
pub mod record;
mod status;
