//! Charts drawn by plotters into SVG strings (its SVG backend escapes every text and
//! attribute it writes; labels from the trace are also cut short here). No font files:
//! plotters measures text with its built-in estimate and the browser draws it.

use crate::data::{Charts, Severity};
use crate::text::clip;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

const FAMILY_COLORS: [(&str, RGBColor); 7] = [
    ("process", RGBColor(0x1f, 0x77, 0xb4)),
    ("file", RGBColor(0x2c, 0xa0, 0x2c)),
    ("network", RGBColor(0xff, 0x7f, 0x0e)),
    ("privilege", RGBColor(0xd6, 0x27, 0x28)),
    ("kernel", RGBColor(0x94, 0x67, 0xbd)),
    ("loss", RGBColor(0x00, 0x00, 0x00)),
    ("other", RGBColor(0x7f, 0x7f, 0x7f)),
];

fn family_color(name: &str) -> RGBColor {
    FAMILY_COLORS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, c)| *c)
        .unwrap_or(RGBColor(0x7f, 0x7f, 0x7f))
}

fn severity_color(s: Severity) -> RGBColor {
    match s {
        Severity::Critical => RGBColor(0xb0, 0x00, 0x20),
        Severity::High => RGBColor(0xe0, 0x40, 0x20),
        Severity::Medium => RGBColor(0xe0, 0xa0, 0x00),
        Severity::Low => RGBColor(0x40, 0x80, 0xc0),
        Severity::Info => RGBColor(0x80, 0x80, 0x80),
    }
}

/// `HH:MM:SS` (UTC) of a wall-clock instant, with milliseconds when `fine`.
fn clock(wall_ns: i128, fine: bool) -> String {
    let s = wall_ns.div_euclid(1_000_000_000).rem_euclid(86_400);
    let hms = format!("{:02}:{:02}:{:02}", s / 3600, (s / 60) % 60, s % 60);
    if fine {
        format!("{hms}.{:03}", wall_ns.rem_euclid(1_000_000_000) / 1_000_000)
    } else {
        hms
    }
}

fn err<E: std::fmt::Debug>(e: E) -> String {
    format!("{e:?}")
}

/// Events over time, one line per family, findings as vertical marks.
pub fn activity(c: &Charts) -> Result<String, String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (1000, 320)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let max_x = c
            .activity
            .iter()
            .flat_map(|(_, s)| s.iter().map(|p| p.0))
            .chain(c.findings.iter().map(|m| m.at_s))
            .fold(0f64, f64::max)
            + c.bucket_s.max(1e-9);
        let max_y = c
            .activity
            .iter()
            .flat_map(|(_, s)| s.iter().map(|p| p.1))
            .max()
            .unwrap_or(1)
            .max(1) as f64
            * 1.1;
        let start = c.start_wall_ns;
        // Sub-second labels when the whole chart spans less than a minute.
        let fine = max_x < 60.0;
        let mut chart = ChartBuilder::on(&root)
            .margin(12)
            .x_label_area_size(32)
            .y_label_area_size(56)
            .build_cartesian_2d(0f64..max_x, 0f64..max_y)
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_labels(8)
            .y_labels(6)
            .x_label_formatter(&|x| clock(start + (*x * 1e9) as i128, fine))
            .y_label_formatter(&|y| format!("{y:.0}"))
            .x_desc("time (UTC)")
            .y_desc(format!("events per {}", bucket_words(c.bucket_s)))
            .light_line_style(RGBColor(0xee, 0xee, 0xee))
            .draw()
            .map_err(err)?;
        for m in &c.findings {
            let col = severity_color(m.severity);
            chart
                .draw_series(std::iter::once(PathElement::new(
                    vec![(m.at_s, 0.0), (m.at_s, max_y)],
                    col.stroke_width(2),
                )))
                .map_err(err)?;
        }
        for (name, series) in &c.activity {
            let col = family_color(name);
            chart
                .draw_series(LineSeries::new(
                    series.iter().map(|&(x, y)| (x, y as f64)),
                    col.stroke_width(2),
                ))
                .map_err(err)?
                .label(clip(name, 20))
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], col));
        }
        if !c.findings.is_empty() {
            let col = severity_color(Severity::Critical);
            chart
                .draw_series(std::iter::once(PathElement::new(
                    vec![(0.0, 0.0), (0.0, 0.0)],
                    col.stroke_width(2),
                )))
                .map_err(err)?
                .label("finding")
                .legend(move |(x, y)| PathElement::new(vec![(x + 8, y - 6), (x + 8, y + 6)], col));
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.85))
            .border_style(RGBColor(0xcc, 0xcc, 0xcc))
            .draw()
            .map_err(err)?;
        root.present().map_err(err)?;
    }
    Ok(svg)
}

fn bucket_words(s: f64) -> String {
    if s >= 3600.0 && (s / 3600.0).fract() == 0.0 {
        format!("{} h", s / 3600.0)
    } else if s >= 60.0 && (s / 60.0).fract() == 0.0 {
        format!("{} min", s / 60.0)
    } else if s >= 1.0 {
        format!("{s} s")
    } else {
        format!("{} ms", (s * 1000.0).round())
    }
}

/// A horizontal bar chart of labelled values, largest first, `unit` formatting values.
pub fn bars(
    items: &[(String, u64)],
    color: RGBColor,
    unit: fn(u64) -> String,
) -> Result<String, String> {
    let n = items.len().max(1);
    let row = 24i32;
    let height = (n as i32 * row + 24) as u32;
    let width = 1000u32;
    let label_w = 360i32;
    let max = items.iter().map(|i| i.1).max().unwrap_or(1).max(1) as f64;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (width, height)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let font = ("sans-serif", 13).into_font();
        let left = TextStyle::from(font.clone())
            .color(&BLACK)
            .pos(Pos::new(HPos::Right, VPos::Center));
        let right = TextStyle::from(font)
            .color(&RGBColor(0x33, 0x33, 0x33))
            .pos(Pos::new(HPos::Left, VPos::Center));
        let bar_max = (width as i32 - label_w - 140) as f64;
        for (i, (label, v)) in items.iter().enumerate() {
            let y = 12 + i as i32 * row;
            let w = ((*v as f64 / max) * bar_max).round().max(1.0) as i32;
            root.draw(&Rectangle::new(
                [(label_w, y + 3), (label_w + w, y + row - 3)],
                color.filled(),
            ))
            .map_err(err)?;
            root.draw(&Text::new(
                clip(label, 48),
                (label_w - 8, y + row / 2),
                left.clone(),
            ))
            .map_err(err)?;
            root.draw(&Text::new(
                unit(*v),
                (label_w + w + 6, y + row / 2),
                right.clone(),
            ))
            .map_err(err)?;
        }
        root.present().map_err(err)?;
    }
    Ok(svg)
}

/// Bar colours of the two bar charts.
pub const DEST_COLOR: RGBColor = RGBColor(0xff, 0x7f, 0x0e);
/// Exec bar colour.
pub const EXEC_COLOR: RGBColor = RGBColor(0x1f, 0x77, 0xb4);

/// Bytes in words (`48.2 KB`).
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KB", "MB", "GB", "TB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1000.0 && u + 1 < UNITS.len() {
        v /= 1000.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

/// A count in words.
pub fn count(n: u64) -> String {
    format!("{n}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Marker;

    #[test]
    fn charts_escape_labels_and_draw_without_fonts() {
        let c = Charts {
            start_wall_ns: 1_700_000_000_000_000_000,
            bucket_s: 10.0,
            activity: vec![("process".into(), vec![(0.0, 3), (10.0, 5)])],
            findings: vec![Marker {
                at_s: 5.0,
                severity: Severity::High,
                label: "<x>".into(),
            }],
            ..Default::default()
        };
        let svg = activity(&c).expect("chart");
        assert!(svg.starts_with("<svg"), "{svg}");
        assert!(svg.contains("<text"));
        let b = bars(
            &[("<script>alert(1)</script>".into(), 10)],
            DEST_COLOR,
            bytes,
        )
        .expect("bars");
        assert!(!b.contains("<script>"), "{b}");
        assert!(b.contains("&lt;script&gt;"));
    }

    #[test]
    fn byte_words() {
        assert_eq!(bytes(999), "999 B");
        assert_eq!(bytes(48_213), "48.2 KB");
    }
}
