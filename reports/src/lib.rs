//! Rewind's HTML report: one self-contained page (CSS, JavaScript, charts and the graph
//! inline; no network fetch, allowed or possible: a Content-Security-Policy forbids every
//! load) drawn from plain [`ReportData`]. This crate knows nothing of traces; the analyzer
//! fills the data in (`analyzer report`).
//!
//! Every string in [`ReportData`] may be hostile. maud escapes each interpolation, the
//! charts and the graph escape their SVG text, and [`text::clip`] makes control
//! characters visible and cuts huge values, so a trace cannot inject markup or break the
//! page.
#![deny(missing_docs)]

pub mod charts;
pub mod data;
pub mod graph;
mod page;
pub mod text;

pub use data::*;

use base64::Engine;
use sha2::{Digest, Sha256};

/// The page's script source for the Content-Security-Policy: the SHA-256 of the one
/// inline script, so no other script (injected or not) would run.
pub fn script_hash() -> String {
    let digest = Sha256::digest(page::JS.as_bytes());
    format!(
        "'sha256-{}'",
        base64::engine::general_purpose::STANDARD.encode(digest)
    )
}

/// The report as one HTML document. Deterministic: the same data gives the same bytes.
pub fn render(d: &ReportData) -> String {
    page::page(d, &script_hash(), env!("CARGO_PKG_VERSION")).into_string()
}
