//! Writing a [`ProcessGraph`] out: Graphviz DOT (every string escaped, so a hostile path
//! or argv cannot break out of its label) and JSON (`nodes` and `edges` arrays). Both
//! list nodes by id and edges by (source, target, kind), so output is byte-identical
//! run to run.

use super::{Edge, EdgeKind, Node, NodeKind, ProcessGraph};
use crate::timefmt;
use serde::Serialize;
use std::collections::HashMap;
use std::io::Write;

/// Longest label line before it is cut with an ellipsis: long command lines make
/// unreadable drawings (the JSON keeps them whole).
const LABEL_MAX: usize = 60;

/// A string as the body of a DOT double-quoted string: quotes and backslashes escaped,
/// control and bidi characters (`rewind_schema::text::is_unsafe`) shown as `\xNN` text.
/// Graphviz treats `\n`, `\l`, `\N`... inside quoted strings as escapes, so a single
/// backslash never reaches the output unescaped.
pub fn dot_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if rewind_schema::text::is_unsafe(c) => {
                // `\\x..` in DOT is a literal backslash followed by text.
                out.push_str(&format!("\\\\x{:02x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out
}

fn cut(s: &str) -> String {
    if s.chars().count() <= LABEL_MAX {
        return s.to_string();
    }
    let mut t: String = s.chars().take(LABEL_MAX - 1).collect();
    t.push('…');
    t
}

fn node_style(k: NodeKind) -> &'static str {
    match k {
        NodeKind::Process => "shape=box, style=\"rounded,filled\", fillcolor=\"#dbe9f6\"",
        NodeKind::Executable => "shape=component, style=filled, fillcolor=\"#eeeeee\"",
        NodeKind::File => "shape=note, style=filled, fillcolor=\"#fff4d6\"",
        NodeKind::Endpoint => "shape=ellipse, style=filled, fillcolor=\"#f9d9d9\"",
        NodeKind::DnsName => "shape=hexagon, style=filled, fillcolor=\"#dcf2dc\"",
    }
}

/// The label lines of a node (unescaped).
pub fn node_lines(n: &Node) -> Vec<String> {
    let mut v = vec![cut(&n.label)];
    if let Some(p) = &n.process {
        if !p.cmdline.is_empty() {
            v.push(cut(&p.cmdline));
        }
        let mut facts = vec![format!("uid {}", p.uid)];
        if p.euid != p.uid {
            facts.push(format!("euid {}", p.euid));
        }
        if let Some(c) = &p.container {
            facts.push(format!(
                "container {}",
                c.chars().take(12).collect::<String>()
            ));
        }
        v.push(facts.join(", "));
    }
    v
}

/// The label of an edge (unescaped): kind, then what it carries.
pub fn edge_label(e: &Edge) -> String {
    let mut s = match e.via {
        Some("fork") => "forked".to_string(),
        Some("exec") => "exec'd".to_string(),
        Some("spawn") => "spawned".to_string(),
        _ => e.kind.name().to_string(),
    };
    if !e.ops.is_empty() {
        s.push_str(&format!(
            " ({})",
            e.ops.iter().copied().collect::<Vec<_>>().join(",")
        ));
    }
    if !e.protos.is_empty() {
        s.push_str(&format!(
            " {}",
            e.protos.iter().copied().collect::<Vec<_>>().join(",")
        ));
    }
    if matches!(e.kind, EdgeKind::Connected | EdgeKind::Accepted)
        && (e.bytes_sent > 0 || e.bytes_received > 0)
    {
        s.push_str(&format!(
            ", sent {}, received {}",
            timefmt::bytes(e.bytes_sent),
            timefmt::bytes(e.bytes_received)
        ));
    }
    if e.count > 1 {
        s.push_str(&format!(" x{}", e.count));
    }
    if e.failed > 0 {
        s.push_str(&format!(", {} failed", e.failed));
    }
    s
}

/// Writes the graph as a Graphviz digraph.
pub fn write_dot(g: &ProcessGraph, out: &mut impl Write) -> std::io::Result<()> {
    writeln!(out, "digraph rewind {{")?;
    writeln!(out, "  graph [rankdir=LR, fontname=\"Helvetica\"];")?;
    writeln!(out, "  node [fontname=\"Helvetica\", fontsize=10];")?;
    writeln!(out, "  edge [fontname=\"Helvetica\", fontsize=9];")?;
    if g.lost_records > 0 {
        // Loss is data: a drawing from a lossy trace says so.
        writeln!(
            out,
            "  label=\"warning: the recorder lost {} records; edges may be missing\"; labelloc=t;",
            g.lost_records
        )?;
    }
    let nodes = g.sorted_nodes();
    let mut name = HashMap::with_capacity(nodes.len());
    for (i, &n) in nodes.iter().enumerate() {
        name.insert(n, i);
        let node = &g.graph[n];
        let label = node_lines(node)
            .iter()
            .map(|l| dot_escape(l))
            .collect::<Vec<_>>()
            .join("\\n");
        writeln!(
            out,
            "  n{i} [label=\"{label}\", tooltip=\"{}\", {}];",
            dot_escape(&node.id),
            node_style(node.kind)
        )?;
    }
    for (a, b, e) in g.sorted_edges() {
        let (Some(x), Some(y)) = (name.get(&a), name.get(&b)) else {
            continue;
        };
        let style = match e.kind {
            EdgeKind::Parent => "",
            EdgeKind::Exec => ", style=dashed",
            EdgeKind::Opened => ", color=\"#b08a2e\"",
            EdgeKind::Connected | EdgeKind::Accepted => ", color=\"#c0392b\", penwidth=1.5",
            EdgeKind::Resolved => ", color=\"#2e8b57\"",
        };
        writeln!(
            out,
            "  n{x} -> n{y} [label=\"{}\"{style}];",
            dot_escape(&edge_label(e))
        )?;
    }
    writeln!(out, "}}")
}

#[derive(Serialize)]
struct JsonNode<'a> {
    id: &'a str,
    kind: NodeKind,
    label: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    host: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    first_seen: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    process: Option<&'a super::ProcessInfo>,
}

#[derive(Serialize)]
struct JsonEdge<'a> {
    source: &'a str,
    target: &'a str,
    kind: EdgeKind,
    count: u64,
    #[serde(skip_serializing_if = "is_zero")]
    failed: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    first_seen: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    via: Option<&'static str>,
    #[serde(skip_serializing_if = "std::collections::BTreeSet::is_empty")]
    ops: &'a std::collections::BTreeSet<&'static str>,
    #[serde(skip_serializing_if = "std::collections::BTreeSet::is_empty")]
    protos: &'a std::collections::BTreeSet<&'static str>,
    #[serde(skip_serializing_if = "is_zero")]
    bytes_sent: u64,
    #[serde(skip_serializing_if = "is_zero")]
    bytes_received: u64,
    #[serde(skip_serializing_if = "std::collections::BTreeSet::is_empty")]
    peers: &'a std::collections::BTreeSet<String>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// Writes the graph as one JSON document: `{"lost_records": N, "nodes": [...], "edges":
/// [...]}`; edges name their ends by node id.
pub fn write_json(g: &ProcessGraph, out: &mut impl Write) -> anyhow::Result<()> {
    let nodes: Vec<JsonNode> = g
        .sorted_nodes()
        .into_iter()
        .map(|n| {
            let n = &g.graph[n];
            JsonNode {
                id: &n.id,
                kind: n.kind,
                label: &n.label,
                host: &n.host,
                first_seen: n.first_ns.map(timefmt::wall),
                process: n.process.as_ref(),
            }
        })
        .collect();
    let edges: Vec<JsonEdge> = g
        .sorted_edges()
        .into_iter()
        .map(|(a, b, e)| JsonEdge {
            source: &g.graph[a].id,
            target: &g.graph[b].id,
            kind: e.kind,
            count: e.count,
            failed: e.failed,
            first_seen: e.first_ns.map(timefmt::wall),
            via: e.via,
            ops: &e.ops,
            protos: &e.protos,
            bytes_sent: e.bytes_sent,
            bytes_received: e.bytes_received,
            peers: &e.peers,
        })
        .collect();
    #[derive(Serialize)]
    struct Doc<'a> {
        lost_records: u64,
        nodes: Vec<JsonNode<'a>>,
        edges: Vec<JsonEdge<'a>>,
    }
    let doc = Doc {
        lost_records: g.lost_records,
        nodes,
        edges,
    };
    rewind_schema::text::write_json_pretty(&mut *out, &doc)?;
    writeln!(out)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_closes_no_string() {
        let hostile = "/tmp/\"];\nevil -> x [label=\"\\";
        let e = dot_escape(hostile);
        // No unescaped quote: every '"' is preceded by an odd run of backslashes.
        let b = e.as_bytes();
        for (i, &c) in b.iter().enumerate() {
            if c == b'"' {
                let run = b[..i].iter().rev().take_while(|&&x| x == b'\\').count();
                assert_eq!(run % 2, 1, "unescaped quote in {e}");
            }
        }
        assert!(!e.contains('\n'));
        assert!(!e.ends_with("\\\\\\"));
    }
}
