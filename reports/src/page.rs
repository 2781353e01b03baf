//! The page itself, as maud templates: every `(value)` interpolation is HTML-escaped by
//! maud; the only unescaped inserts are our own CSS and JS (compiled in) and the SVG
//! that plotters and [`crate::graph`] wrote with their own escaping.

use crate::charts;
use crate::data::*;
use crate::text::{attack_name, attack_url, shown};
use maud::{html, Markup, PreEscaped, DOCTYPE};

const CSS: &str = include_str!("../assets/report.css");
/// The page's one script (its hash goes into the Content-Security-Policy).
pub const JS: &str = include_str!("../assets/report.js");

fn sev(s: Severity) -> Markup {
    html! { span class={"sev " (s.name())} { (s.name()) } }
}

fn attack_list(ids: &[String]) -> Markup {
    html! {
        ul.attack {
            @for id in ids {
                li {
                    @match attack_url(id) {
                        Some(u) => a href=(u) rel="noreferrer noopener" { (shown(id)) },
                        None => (shown(id)),
                    }
                    @if let Some(n) = attack_name(id) { " " span.muted { (n) } }
                }
            }
        }
    }
}

fn attack_ids(ids: &[String]) -> Markup {
    html! {
        span.attack {
            @for (i, id) in ids.iter().enumerate() {
                @if i > 0 { ", " }
                @match attack_url(id) {
                    Some(u) => a href=(u) title=[attack_name(id)] rel="noreferrer noopener" { (shown(id)) },
                    None => (shown(id)),
                }
            }
        }
    }
}

fn line(l: &TimelineLine) -> Markup {
    let cls = format!(
        "{}{}{}",
        l.weight.class(),
        if l.evidence { " ev" } else { "" },
        if l.finding.is_some() { " finding" } else { "" }
    );
    html! {
        li class=(cls) {
            span.t { (shown(&l.time)) }
            @if let Some((s, id)) = &l.finding {
                (sev(*s)) " " span.p { (shown(id)) } span.x { (shown(&l.text)) }
            } @else {
                span.p { (shown(&l.process)) } span.x { (shown(&l.text)) }
            }
        }
    }
}

fn summary(d: &ReportData) -> Markup {
    let s = &d.summary;
    html! {
        section #summary {
            h2 { "Summary" }
            @if s.lost_records > 0 {
                p.warn { "The recorder lost " (s.lost_records) " records: every count, finding and timeline below may be incomplete. Loss windows: "
                    @for (i, w) in s.loss_windows.iter().enumerate() { @if i > 0 { "; " } (shown(w)) } }
            } @else {
                p.ok { "No loss reported: the recorder kept every event it saw." }
            }
            @for p in &s.problems { p.warn { (shown(p)) } }
            div.cards {
                div.card { div.n { (d.incidents.len()) } div.l { "incidents" } }
                @for (sv, n) in &s.findings_by_severity {
                    div.card { div.n { (n) } div.l { (sev(*sv)) " findings" } }
                }
                @for (label, n) in &s.counts { div.card { div.n { (n) } div.l { (shown(label)) } } }
            }
            table.kv {
                tr { th { "Window (UTC)" } td { (shown(&s.first)) " .. " (shown(&s.last)) " (" (shown(&s.duration)) ")" } }
                tr { th { "Integrity" } td { (shown(&s.integrity)) } }
                tr { th { "Inputs" } td { @for (i, f) in s.inputs.iter().enumerate() { @if i > 0 { ", " } code { (shown(f)) } } } }
            }
            h4 { "Recordings" }
            table {
                thead { tr { th { "host" } th { "kernel" } th { "boot id" } th { "recorder" } th { "what was recorded" } th.num { "segments" } } }
                tbody {
                    @for h in &s.hosts {
                        tr { td { (shown(&h.hostname)) } td { (shown(&h.kernel)) } td { code { (shown(&h.boot_id)) } }
                             td { (shown(&h.recorder)) } td { (shown(&h.mode)) } td.num { (h.segments) } }
                    }
                }
            }
        }
    }
}

fn incidents(d: &ReportData) -> Markup {
    html! {
        section #incidents {
            h2 { "Incidents (" (d.incidents.len()) ")" }
            @if d.incidents.is_empty() { p.muted { "No rule fired: no incident." } }
            @for inc in &d.incidents {
                article id={"incident-" (inc.id)} class={"incident " (inc.severity.name())} {
                    h3 { "Incident " (inc.id) " " (sev(inc.severity)) " " (shown(&inc.title)) }
                    table.kv {
                        tr { th { "When (UTC)" } td { (shown(&inc.start)) " .. " (shown(&inc.end)) " (" (shown(&inc.duration)) ")" } }
                        tr { th { "Story root" } td { (shown(&inc.root)) } }
                        tr { th { "Entry" } td { (shown(&inc.entry)) } }
                        tr { th { "Processes" } td { (inc.processes) } }
                        tr { th { "ATT&CK" } td { (attack_list(&inc.attack)) } }
                    }
                    @if inc.summary_only {
                        p.note { "Details (findings, evidence, timeline) are in this report for the most important incidents only. This one's: "
                            code { "analyzer incidents TRACE..." } " and " code { "analyzer timeline --incident " (inc.id) " TRACE..." }
                            ", or a report with a higher " code { "--max-incidents" } "." }
                    } @else {
                    h4 { "Findings" }
                    @if inc.findings_total > inc.findings.len() {
                        p.note { "Showing the " (inc.findings.len()) " most severe of " (inc.findings_total) " findings ("
                            code { "analyzer detect" } " lists them all; " code { "--max-findings" } " raises the cap)." }
                    }
                    table {
                        thead { tr { th { "first seen" } th { "severity" } th { "rule" } th { "process" } th { "what happened" } th { "ATT&CK" } } }
                        tbody {
                            @for f in &inc.findings {
                                tr {
                                    td.nowrap { (shown(&f.time)) }
                                    td { (sev(f.severity)) }
                                    td { code { (shown(&f.rule_id)) } br; (shown(&f.title)) }
                                    td.nowrap { (shown(&f.process)) }
                                    td {
                                        (shown(&f.explanation))
                                        @if f.count > 1 { " (" (f.count) " times)" }
                                        @if !f.evidence.is_empty() {
                                            details { summary { "evidence (" (f.evidence.len()) " events)" }
                                                ol.timeline { @for l in &f.evidence { (line(l)) } } }
                                        }
                                    }
                                    td.nowrap { (attack_ids(&f.attack)) }
                                }
                            }
                        }
                    }
                    details open[inc.timeline.len() <= 400] {
                        summary { "Timeline of its processes (" (inc.timeline.len()) " lines)" }
                        @if inc.timeline_total > inc.timeline_told {
                            p.note { "Capped: these lines tell the first " (inc.timeline_told) " of " (inc.timeline_total)
                                " events of this incident's processes (findings and their evidence are always kept; a payload burst is one line). The whole story: "
                                code { "analyzer timeline --incident " (inc.id) " TRACE..." } }
                        }
                        ol.timeline { @for l in &inc.timeline { (line(l)) } }
                    }
                    }
                }
            }
        }
    }
}

fn subtree_has_incident(n: &TreeNode) -> bool {
    !n.incidents.is_empty() || n.children.iter().any(subtree_has_incident)
}

fn tree_node(n: &TreeNode, depth: usize) -> Markup {
    let own = html! {
        span.name { (shown(&n.label)) } " "
        span.chain { @for (i, c) in n.chain.iter().enumerate() { @if i > 0 { "  \u{21d2}  " } (shown(c)) } }
        @if !n.facts.is_empty() { " " span.facts { "(" @for (i, f) in n.facts.iter().enumerate() { @if i > 0 { ", " } (shown(f)) } ")" } }
        @if !n.incidents.is_empty() {
            " " span.incmark { "incident " @for (i, id) in n.incidents.iter().enumerate() { @if i > 0 { ", " } a href={"#incident-" (id)} { (id) } } }
        }
    };
    html! {
        li data-exec=(shown(&n.exec_id)) {
            @if n.children.is_empty() {
                span.leaf { (own) }
            } @else {
                details open[depth < 2 || subtree_has_incident(n)] {
                    summary { (own) " " span.muted { "[" (n.children.len()) "]" } }
                    ul { @for c in &n.children { (tree_node(c, depth + 1)) } }
                }
            }
        }
    }
}

fn tree(d: &ReportData) -> Markup {
    html! {
        section #tree {
            h2 { "Process tree" }
            p.muted { "One entry per process (pid lifetime): its exec chain, then duration, exit and activity. Branches with an incident are open." }
            @if let Some(n) = &d.tree_note { p.note { (shown(n)) } }
            div.controls.js-only {
                input #tree-search type="search" placeholder="search processes, command lines, exec ids";
                button #tree-expand type="button" { "expand all" }
                button #tree-collapse type="button" { "collapse all" }
                span #tree-info .muted {}
            }
            ul #proc-tree .tree { @for n in &d.tree { (tree_node(n, 0)) } }
        }
    }
}

fn graph(d: &ReportData) -> Markup {
    let g = &d.graph;
    html! {
        section #graph {
            h2 { "Process-network graph" }
            @if let Some(n) = &g.note { p.note { (shown(n)) } }
            p.legend {
                span { i style="background:#e3efff" {} "process" }
                span { i style="background:#eef0f2" {} "executable" }
                span { i style="background:#e8f6e8" {} "file" }
                span { i style="background:#fff0e0" {} "endpoint" }
                span { i style="background:#f3e8fb" {} "DNS name" }
                span { i style="border:3px solid #b00020" {} "in an incident" }
                span.muted { "hover a box or an arrow for details" }
            }
            div.controls.js-only { button #graph-fit type="button" { "fit to width / actual size" } }
            @match crate::graph::svg(g) {
                Some(svg) => div.graph-wrap { (PreEscaped(svg)) },
                None => p.muted { "Nothing to draw." },
            }
        }
    }
}

fn chart(title: &str, r: Result<String, String>) -> Markup {
    html! {
        div.chart {
            h4 { (title) }
            @match r {
                Ok(svg) => (PreEscaped(svg)),
                Err(e) => p.warn { "chart unavailable: " (shown(&e)) },
            }
        }
    }
}

fn charts(d: &ReportData) -> Markup {
    let c = &d.charts;
    html! {
        section #charts {
            h2 { "Activity" }
            (chart("Events over time by family (vertical lines: findings, coloured by severity)", charts::activity(c)))
            @if c.destinations.is_empty() { h4 { "Top destinations by bytes" } p.muted { "No outbound traffic." } }
            @else { (chart("Top destinations by bytes (sent + received)", charts::bars(&c.destinations, charts::DEST_COLOR, charts::bytes))) }
            @if c.execs.is_empty() { h4 { "Exec frequency" } p.muted { "No exec recorded." } }
            @else { (chart("Exec frequency by program", charts::bars(&c.execs, charts::EXEC_COLOR, charts::count))) }
        }
    }
}

fn table(id: &str, title: &str, t: &Table) -> Markup {
    html! {
        section id=(id) {
            h2 { (title) " (" (t.total) ")" }
            @if let Some(n) = &t.note { p.note { (shown(n)) } }
            @if t.rows.is_empty() { p.muted { "None recorded." } } @else {
                div.controls.js-only {
                    input type="search" data-filter-for={(id) "-table"} placeholder="filter rows";
                    span.muted data-count-for={(id) "-table"} {}
                    span.muted { "click a heading to sort; red edge: a process of an incident" }
                }
                div.tablewrap {
                    table.sortable id={(id) "-table"} {
                        thead { tr { @for (c, num) in &t.columns { th class=[num.then_some("num")] { (shown(c)) } } } }
                        tbody {
                            @for (i, r) in t.rows.iter().enumerate() {
                                tr class=[r.incident.then_some("inc")] data-i=(i) {
                                    @for c in &r.cells {
                                        @match c.num {
                                            Some(n) => td.num data-n=(n) { (shown(&c.text)) },
                                            None => td { (shown(&c.text)) },
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The whole page. `csp_script` is the CSP source that allows the page's script.
pub fn page(d: &ReportData, csp_script: &str, version: &str) -> Markup {
    let csp = format!(
        "default-src 'none'; style-src 'unsafe-inline'; script-src {csp_script}; img-src data:; base-uri 'none'; form-action 'none'"
    );
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta http-equiv="Content-Security-Policy" content=(csp);
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="referrer" content="no-referrer";
                title { "Rewind report: " (shown(&d.title)) }
                style { (PreEscaped(CSS)) }
            }
            body data-ready="0" data-errors="" {
                header {
                    h1 { "Rewind forensic report" }
                    div.sub { (shown(&d.title)) " \u{2014} " (shown(&d.summary.first)) " .. " (shown(&d.summary.last)) " UTC" }
                    nav {
                        a href="#summary" { "Summary" }
                        a href="#incidents" { "Incidents (" (d.incidents.len()) ")" }
                        a href="#tree" { "Process tree" }
                        a href="#graph" { "Graph" }
                        a href="#charts" { "Activity" }
                        a href="#files" { "Files" }
                        a href="#network" { "Network" }
                    }
                }
                main {
                    (summary(d))
                    (incidents(d))
                    (tree(d))
                    (graph(d))
                    (charts(d))
                    (table("files", "File activity", &d.files))
                    (table("network", "Network activity", &d.network))
                }
                footer { "Written by Rewind " (version) " from the trace alone: no network access, every value from the trace escaped." }
                script { (PreEscaped(JS)) }
            }
        }
    }
}
