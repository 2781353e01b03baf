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

#[cfg(test)]
mod tests {
    use super::*;

    const EVIL: &str =
        "\"><script>alert(1)</script><img src=x onerror=alert(1)></style>]]>\u{1b}[31m";

    fn hostile() -> ReportData {
        let line = TimelineLine {
            time: EVIL.into(),
            process: EVIL.into(),
            text: EVIL.into(),
            ..Default::default()
        };
        ReportData {
            title: EVIL.into(),
            summary: Summary {
                inputs: vec![EVIL.into()],
                hosts: vec![HostRow {
                    hostname: EVIL.into(),
                    ..Default::default()
                }],
                loss_windows: vec![EVIL.into()],
                lost_records: 1,
                ..Default::default()
            },
            incidents: vec![IncidentView {
                id: 1,
                title: EVIL.into(),
                attack: vec![EVIL.into(), "T1059.004".into()],
                findings: vec![FindingView {
                    explanation: EVIL.into(),
                    attack: vec![EVIL.into()],
                    evidence: vec![line.clone()],
                    ..Default::default()
                }],
                timeline: vec![line],
                ..Default::default()
            }],
            tree: vec![TreeNode {
                label: EVIL.into(),
                chain: vec![EVIL.into()],
                exec_id: EVIL.into(),
                ..Default::default()
            }],
            files: Table {
                columns: vec![(EVIL.into(), false)],
                rows: vec![Row {
                    cells: vec![Cell::text(EVIL)],
                    incident: true,
                }],
                total: 1,
                note: Some(EVIL.into()),
            },
            ..Default::default()
        }
    }

    #[test]
    fn every_field_is_escaped() {
        let html = render(&hostile());
        assert_eq!(html.matches("<script").count(), 1, "only our script");
        assert!(!html.contains("<img"));
        assert!(!html.contains("onerror=alert(1)>"));
        assert_eq!(
            html.matches("</style>").count(),
            1,
            "only our stylesheet's end"
        );
        assert!(!html.contains('\u{1b}'));
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    }

    #[test]
    fn render_is_deterministic() {
        assert_eq!(render(&hostile()), render(&hostile()));
    }

    #[test]
    fn csp_hash_matches_the_script() {
        let html = render(&ReportData::default());
        assert!(html.contains(&script_hash()));
        assert!(html.contains("data-ready"));
    }
}
