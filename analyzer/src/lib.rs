//! Rewind's analyzer: replays traces (any set of segments) into answers.
#![deny(missing_docs)]

pub mod analytics;
pub mod cmd;
pub mod describe;
pub mod detect;
pub mod exit;
pub mod graph;
pub mod model;
pub mod names;
pub mod policy;
pub mod replay;
pub mod scope;
pub mod sql;
pub mod timefmt;
pub mod timeline;
