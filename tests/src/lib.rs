//! Helpers shared by the integration tests and by the fixture generator: the synthetic
//! scenarios behind `fixtures/synthetic/`.
#![deny(missing_docs)]

pub mod synthetic;
