//! The process-network graph as SVG. The layered layout (ranks, crossing reduction,
//! Brandes-Koepf placement) is the `layout-rs` crate's; the drawing is ours, through a
//! [`RenderBackend`] that writes escaped SVG, so labels from the trace never reach the
//! page unescaped (layout-rs's own SVG writer does not escape attribute values).

use crate::data::{GraphData, NodeKind};
use crate::text::clip;
use layout::core::base::Orientation;
use layout::core::color::Color;
use layout::core::format::{ClipHandle, RenderBackend};
use layout::core::geometry::{Point, Position};
use layout::core::style::StyleAttr;
use layout::std_shapes::render::get_shape_size;
use layout::std_shapes::shapes::{Arrow, Element, ShapeKind};
use layout::topo::layout::VisualGraph;
use std::fmt::Write;

/// Space kept around each box by the layout.
const HALO: f64 = 14.0;

/// Longest label drawn in a box (the full one is in the node's tooltip).
const LABEL_MAX: usize = 40;

/// XML-escapes text for SVG content and attribute values.
fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '&' => o.push_str("&amp;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c if c.is_control() => {}
            c => o.push(c),
        }
    }
    o
}

/// Collects the laid-out shapes: node boxes (recognised by the node index the elements
/// carry as properties) and edge paths.
struct Collect {
    nodes: Vec<(usize, Point, Point)>,
    edges: Vec<(usize, String)>,
    min: Point,
    max: Point,
}

impl Collect {
    fn grow(&mut self, p: Point) {
        self.min = Point::new(self.min.x.min(p.x), self.min.y.min(p.y));
        self.max = Point::new(self.max.x.max(p.x), self.max.y.max(p.y));
    }
}

fn index_of(props: &Option<String>, prefix: char) -> Option<usize> {
    props.as_deref()?.strip_prefix(prefix)?.parse().ok()
}

impl RenderBackend for Collect {
    fn draw_rect(
        &mut self,
        xy: Point,
        size: Point,
        _look: &StyleAttr,
        properties: Option<String>,
        _clip: Option<ClipHandle>,
    ) {
        if let Some(i) = index_of(&properties, 'n') {
            self.grow(xy);
            self.grow(xy.add(size));
            self.nodes.push((i, xy, size));
        }
    }

    fn draw_line(&mut self, _: Point, _: Point, _: &StyleAttr, _: Option<String>) {}

    fn draw_circle(&mut self, _: Point, _: Point, _: &StyleAttr, _: Option<String>) {}

    fn draw_text(&mut self, _: Point, _: &str, _: &StyleAttr) {}

    fn draw_arrow(
        &mut self,
        path: &[(Point, Point)],
        _dashed: bool,
        _head: (bool, bool),
        _look: &StyleAttr,
        properties: Option<String>,
        _text: &str,
    ) {
        let Some(i) = index_of(&properties, 'e') else {
            return;
        };
        if path.len() < 2 {
            return;
        }
        for p in path {
            self.grow(p.0);
            self.grow(p.1);
        }
        let mut d = format!(
            "M {:.1} {:.1} C {:.1} {:.1}, {:.1} {:.1}, {:.1} {:.1}",
            path[0].0.x,
            path[0].0.y,
            path[0].1.x,
            path[0].1.y,
            path[1].0.x,
            path[1].0.y,
            path[1].1.x,
            path[1].1.y
        );
        for p in path.iter().skip(2) {
            let _ = write!(d, " S {:.1} {:.1}, {:.1} {:.1}", p.0.x, p.0.y, p.1.x, p.1.y);
        }
        self.edges.push((i, d));
    }

    fn create_clip(&mut self, _: Point, _: Point, _: usize) -> ClipHandle {
        0
    }
}

/// A box label: control characters escaped, cut to [`LABEL_MAX`] with an ellipsis.
fn short(s: &str) -> String {
    let c = clip(s, usize::MAX);
    if c.chars().count() <= LABEL_MAX {
        return c;
    }
    let mut o: String = c.chars().take(LABEL_MAX - 1).collect();
    o.push('\u{2026}');
    o
}

fn edge_class(label: &str) -> &'static str {
    let l = label.split_whitespace().next().unwrap_or("");
    match l {
        "fork" | "exec" | "spawn" | "parent" => "e-proc",
        "connected" | "accepted" | "tcp" | "udp" | "unix" => "e-net",
        "resolved" => "e-dns",
        "ran" => "e-exe",
        _ => "e-file",
    }
}

/// Lays out and draws the graph; `None` when it has no node.
pub fn svg(g: &GraphData) -> Option<String> {
    if g.nodes.is_empty() {
        return None;
    }
    let mut vg = VisualGraph::new(Orientation::LeftToRight);
    let mut handles = Vec::with_capacity(g.nodes.len());
    let labels: Vec<String> = g.nodes.iter().map(|n| short(&n.label)).collect();
    for (i, label) in labels.iter().enumerate() {
        // The layout only needs the size of the text; what is drawn is escaped below.
        let shape = ShapeKind::new_box(label);
        let look = StyleAttr::new(Color::fast("black"), 1, None, 4, 13);
        let size = get_shape_size(Orientation::TopToBottom, &shape, 13, false);
        let mut el = Element::create_with_properties(
            shape,
            look,
            Orientation::TopToBottom,
            size,
            format!("n{i}"),
        );
        // layout-rs keeps a 60 px halo around every box; a third of it keeps the
        // drawing compact and still readable.
        el.pos = Position::new(Point::zero(), size, Point::zero(), Point::splat(HALO));
        handles.push(vg.add_node(el));
    }
    for (i, e) in g.edges.iter().enumerate() {
        let (Some(&a), Some(&b)) = (handles.get(e.from), handles.get(e.to)) else {
            continue;
        };
        if e.from == e.to {
            continue;
        }
        vg.add_edge(Arrow::simple_with_properties("", format!("e{i}")), a, b);
    }
    let mut c = Collect {
        nodes: Vec::new(),
        edges: Vec::new(),
        min: Point::new(f64::MAX, f64::MAX),
        max: Point::new(f64::MIN, f64::MIN),
    };
    // layout-rs asserts its invariants; a graph it cannot place must not take the
    // report down with it: fall back to a plain grid.
    let laid = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        vg.do_it(false, false, false, &mut c);
        c
    }));
    let c = match laid {
        Ok(c) if c.nodes.len() == g.nodes.len() => c,
        _ => grid(g, &labels),
    };
    Some(draw(g, &labels, c))
}

/// A grid of boxes with straight edges, when the layered layout fails.
fn grid(g: &GraphData, labels: &[String]) -> Collect {
    let cols = (g.nodes.len() as f64).sqrt().ceil().max(1.0) as usize;
    let (w, h) = (300.0, 40.0);
    let mut c = Collect {
        nodes: Vec::new(),
        edges: Vec::new(),
        min: Point::new(0.0, 0.0),
        max: Point::new(0.0, 0.0),
    };
    let mut centre = Vec::new();
    for (i, _) in labels.iter().enumerate() {
        let xy = Point::new(
            (i % cols) as f64 * (w + 40.0),
            (i / cols) as f64 * (h + 40.0),
        );
        c.grow(xy);
        c.grow(xy.add(Point::new(w, h)));
        c.nodes.push((i, xy, Point::new(w, h)));
        centre.push(xy.add(Point::new(w / 2.0, h / 2.0)));
    }
    for (i, e) in g.edges.iter().enumerate() {
        if let (Some(a), Some(b)) = (centre.get(e.from), centre.get(e.to)) {
            c.edges.push((
                i,
                format!("M {:.1} {:.1} L {:.1} {:.1}", a.x, a.y, b.x, b.y),
            ));
        }
    }
    c
}

fn draw(g: &GraphData, labels: &[String], mut c: Collect) -> String {
    let pad = 10.0;
    let (x0, y0) = (c.min.x - pad, c.min.y - pad);
    let (w, h) = (c.max.x - c.min.x + 2.0 * pad, c.max.y - c.min.y + 2.0 * pad);
    c.nodes.sort_by_key(|n| n.0);
    c.edges.sort_by_key(|e| e.0);
    let mut s = String::new();
    let _ = write!(
        s,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"graph\" width=\"{w:.0}\" height=\"{h:.0}\" \
viewBox=\"{x0:.1} {y0:.1} {w:.1} {h:.1}\" role=\"img\" aria-label=\"process-network graph\">\
<defs><marker id=\"arrowhead\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"7\" \
markerHeight=\"7\" orient=\"auto-start-reverse\"><path d=\"M 0 0 L 10 5 L 0 10 z\"/></marker></defs>"
    );
    for (i, d) in &c.edges {
        let Some(e) = g.edges.get(*i) else { continue };
        let _ = write!(
            s,
            "<path class=\"edge {}\" d=\"{}\" marker-end=\"url(#arrowhead)\"><title>{}</title></path>",
            edge_class(&e.label),
            esc(d),
            esc(&clip(&e.label, 200))
        );
    }
    for (i, xy, size) in &c.nodes {
        let Some(n) = g.nodes.get(*i) else { continue };
        let cls = format!(
            "node k-{}{}",
            n.kind.name(),
            if n.incident { " incident" } else { "" }
        );
        let rx = if n.kind == NodeKind::Process { 4 } else { 12 };
        let _ = write!(
            s,
            "<g class=\"{}\"><title>{}: {}</title><rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" \
height=\"{:.1}\" rx=\"{rx}\"/><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" \
dominant-baseline=\"central\">{}</text></g>",
            esc(&cls),
            n.kind.name(),
            esc(&clip(&n.label, 400)),
            xy.x,
            xy.y,
            size.x,
            size.y,
            xy.x + size.x / 2.0,
            xy.y + size.y / 2.0,
            esc(&labels[*i])
        );
    }
    s.push_str("</svg>");
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{GraphEdge, GraphNode};

    fn node(kind: NodeKind, label: &str) -> GraphNode {
        GraphNode {
            kind,
            label: label.into(),
            incident: false,
        }
    }

    #[test]
    fn lays_out_and_escapes() {
        let g = GraphData {
            nodes: vec![
                node(NodeKind::Process, "bash[1]"),
                node(NodeKind::File, "\"><script>alert(1)</script>"),
                node(NodeKind::Endpoint, "10.0.0.1:443"),
            ],
            edges: vec![
                GraphEdge {
                    from: 0,
                    to: 1,
                    label: "read <b>".into(),
                },
                GraphEdge {
                    from: 0,
                    to: 2,
                    label: "connected".into(),
                },
            ],
            note: None,
        };
        let s = svg(&g).expect("svg");
        assert!(!s.contains("<script"), "{s}");
        assert!(!s.contains("<b>"));
        assert_eq!(s.matches("<rect").count(), 3);
        assert_eq!(s.matches("class=\"edge").count(), 2);
        // Deterministic.
        assert_eq!(s, svg(&g).expect("svg"));
    }

    #[test]
    fn empty_graph_draws_nothing() {
        assert!(svg(&GraphData::default()).is_none());
    }
}
