//! Rewind's integration tests: one binary, modules by topic.

mod chain;
mod damage;
mod fixtures;
mod recorded;
mod roundtrip;
mod streaming;
mod tamper;
mod util;
