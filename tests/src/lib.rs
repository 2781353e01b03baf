//! Helpers shared by the integration tests and by the fixture generator: the synthetic
//! scenarios behind `fixtures/synthetic/`, and the large workload benchmarks replay.
#![deny(missing_docs)]

pub mod synthetic;
pub mod workload;
