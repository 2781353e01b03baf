//! The attack story in the terminal: a [`Sink`] that prints one line per event, in
//! words, filtered, as text (coloured on a terminal), JSON lines or CSV.

pub mod burst;
pub mod words;

use crate::model::process::ImageId;
use crate::model::Model;
use crate::replay::{Sink, Step};
use crate::scope::{Matcher, Scope};
use crate::timefmt;
use burst::{Burst, Piece};
use rewind_schema::meta::ClockAnchor;
use rewind_schema::text::{csv_cell, escape};
use rewind_schema::RecordType;
use std::io::Write;
use words::{Weight, Words};

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Text for people; `color` adds ANSI colours.
    Text {
        /// Colour output.
        color: bool,
    },
    /// One JSON object per line.
    Json,
    /// CSV with a header row.
    Csv,
}

pub use crate::scope::{ProcSel, TimeBound};

/// Event classes for `--type`: record type names, or these families.
pub const FAMILIES: [(&str, &[&str]); 7] = [
    ("process", &["exec", "fork", "exit", "process_snapshot"]),
    ("file", &["open", "unlink", "rename", "chmod", "chown"]),
    (
        "network",
        &[
            "connect",
            "accept",
            "listen",
            "bind",
            "sock_close",
            "conn_result",
            "udp_send",
            "udp_recv",
            "snippet",
            "dns",
        ],
    ),
    ("privilege", &["cred", "capset"]),
    (
        "kernel",
        &[
            "namespace",
            "mount",
            "umount",
            "ptrace",
            "module_load",
            "bpf_load",
            "memfd",
            "signal",
            "mmap_exec",
        ],
    ),
    ("enforcement", &["enforce"]),
    ("loss", &["loss"]),
];

/// Expands `--type` values (names or families, comma-separated) into record types.
pub fn parse_types(values: &[String]) -> Result<Vec<RecordType>, String> {
    let mut out = Vec::new();
    for v in values.iter().flat_map(|v| v.split(',')) {
        let v = v.trim();
        if v.is_empty() {
            continue;
        }
        if let Some((_, members)) = FAMILIES.iter().find(|(f, _)| *f == v) {
            for m in *members {
                out.extend(RecordType::ALL.iter().filter(|t| t.name() == *m));
            }
        } else if let Some(t) = RecordType::ALL.iter().find(|t| t.name() == v) {
            out.push(*t);
        } else {
            let fams: Vec<&str> = FAMILIES.iter().map(|(f, _)| *f).collect();
            return Err(format!(
                "unknown event type {v:?}; use a family ({}) or a record type ({})",
                fams.join(", "),
                RecordType::ALL
                    .iter()
                    .filter(|t| (**t as u16) < 0xf000 || **t == RecordType::Loss)
                    .map(|t| t.name())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
    }
    Ok(out)
}

/// What to show.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Time window and processes (shared with every command: [`crate::scope`]).
    pub scope: Scope,
    /// Only these record types (empty: all).
    pub types: Vec<RecordType>,
    /// Only lines matching.
    pub grep: Option<regex::Regex>,
    /// Also routine start-up noise.
    pub all: bool,
    /// Show each process's ancestry.
    pub ancestry: bool,
}

/// Counts of what the timeline printed and folded.
#[derive(Debug, Clone, Default)]
pub struct Shown {
    /// Lines printed.
    pub lines: u64,
    /// Routine events folded away.
    pub routine: u64,
    /// Payload pieces joined into the line of their burst (not counted in `lines`).
    pub joined: u64,
}

/// What a printed line says about its event, taken when the event is seen (a burst is
/// printed later, when a streaming replay may have freed its process).
#[derive(Debug, Clone)]
struct Line {
    wall_ns: i128,
    rtype: RecordType,
    pid: u32,
    /// The process as the text format shows it (with ancestry when asked).
    who: String,
    /// CSV only: exec id, process, ancestry.
    csv: Option<[String; 3]>,
}

/// The timeline printer.
#[derive(Debug)]
pub struct Timeline<W: Write> {
    out: W,
    format: Format,
    filter: Filter,
    anchors: Vec<ClockAnchor>,
    matcher: Matcher,
    day: Option<String>,
    /// The payload burst being joined, and its line.
    pending: Option<(Burst, Line)>,
    csv_header: bool,
    /// What was shown.
    pub shown: Shown,
}

const DIM: &str = "\x1b[2m";
const BOLD: &str = "\x1b[1m";
const RED: &str = "\x1b[1;31m";
const CYAN: &str = "\x1b[1;36m";
const YELLOW: &str = "\x1b[33m";
const RESET: &str = "\x1b[0m";

impl<W: Write> Timeline<W> {
    /// A printer writing to `out`. `anchors` are the recordings' clock anchors.
    pub fn new(out: W, format: Format, filter: Filter, anchors: Vec<ClockAnchor>) -> Self {
        Timeline {
            out,
            format,
            matcher: Matcher::new(filter.scope.clone()),
            filter,
            anchors,
            day: None,
            pending: None,
            csv_header: false,
            shown: Shown::default(),
        }
    }

    /// The writer back.
    pub fn into_inner(self) -> W {
        self.out
    }

    /// Writes a line of text before the events (text format only).
    pub fn preamble(&mut self, text: &str) -> std::io::Result<()> {
        if matches!(self.format, Format::Text { .. }) {
            // It names the host, kernel and recorded command: the trace's strings.
            writeln!(self.out, "{}", escape(text))?;
        }
        Ok(())
    }

    fn passes(&mut self, model: &Model, step: &Step) -> bool {
        let rtype = step.ev.kind.record_type();
        if !self.filter.types.is_empty() && !self.filter.types.contains(&rtype) {
            return false;
        }
        self.matcher.event(model, step)
    }

    fn process_label(&self, model: &Model, id: Option<ImageId>) -> String {
        let Some(id) = id else {
            return "-".into();
        };
        if self.filter.ancestry {
            model
                .process_ancestry(id)
                .map(|i| i.label())
                .collect::<Vec<_>>()
                .join(" < ")
        } else {
            model.image(id).label()
        }
    }

    fn line(&self, model: &Model, step: &Step) -> Line {
        let csv = (self.format == Format::Csv).then(|| {
            let img = step.at.image.map(|i| model.image(i));
            let anc = img
                .map(|i| {
                    model
                        .process_ancestry(i.id)
                        .skip(1)
                        .map(|a| a.label())
                        .collect::<Vec<_>>()
                        .join(" < ")
                })
                .unwrap_or_default();
            [
                img.map(|i| i.exec_id()).unwrap_or_default(),
                img.map(|i| i.label()).unwrap_or_default(),
                anc,
            ]
        });
        Line {
            wall_ns: step.wall_ns,
            rtype: step.ev.kind.record_type(),
            pid: step.ev.pid,
            who: self.process_label(model, step.at.image),
            csv,
        }
    }

    fn write_line(&mut self, line: &Line, wd: &Words) -> anyhow::Result<()> {
        match self.format {
            Format::Text { color } => self.write_text(line, wd, color),
            Format::Csv => self.write_csv(line, wd),
            // JSON lines are written from the step, piece by piece.
            Format::Json => Ok(()),
        }
    }

    /// Prints the pending burst, if any (and if it passes `--grep`).
    fn flush(&mut self) -> anyhow::Result<()> {
        let Some((b, line)) = self.pending.take() else {
            return Ok(());
        };
        let wd = Words {
            weight: Weight::Net,
            text: b.text(),
        };
        if let Some(re) = &self.filter.grep {
            if !re.is_match(&wd.text) && !re.is_match(&line.who) {
                return Ok(());
            }
        }
        self.write_line(&line, &wd)?;
        self.shown.lines += 1;
        self.shown.joined += u64::from(b.pieces().saturating_sub(1));
        Ok(())
    }

    fn write_text(&mut self, line: &Line, wd: &Words, color: bool) -> anyhow::Result<()> {
        let t = timefmt::wall(line.wall_ns);
        // `YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ`; a clock anchor from a hostile or broken trace
        // can put an instant outside what a date shows (`@NNNns`): print it whole.
        let (day, clock) = match t.as_bytes().get(10) {
            Some(b'T') => t.split_at(10),
            _ => ("(no date)", t.as_str()),
        };
        let clock = clock.trim_start_matches('T').trim_end_matches('Z');
        // Microseconds are plenty for a person.
        let clock = &clock[..clock.len().min(15)];
        if self.day.as_deref() != Some(day) {
            writeln!(self.out, "-- {day} (UTC) --")?;
            self.day = Some(day.to_string());
        }
        let who = &line.who;
        let (c_on, c_off) = if color {
            match wd.weight {
                Weight::Routine => (DIM, RESET),
                Weight::Normal => ("", ""),
                Weight::Exec => (CYAN, RESET),
                Weight::Net => (YELLOW, RESET),
                Weight::Alert => (RED, RESET),
            }
        } else {
            ("", "")
        };
        let mark = if wd.weight == Weight::Alert { "!" } else { " " };
        // The words escape what they take from the trace; escaped again here, at the
        // terminal, so that no wording path can let a raw control through.
        let (who, text) = (escape(who), escape(&wd.text));
        if color {
            writeln!(
                self.out,
                "{DIM}{clock}{RESET} {mark} {BOLD}{who:<20}{RESET} {c_on}{text}{c_off}"
            )?;
        } else {
            writeln!(self.out, "{clock} {mark} {who:<20} {text}")?;
        }
        Ok(())
    }

    fn write_json(&mut self, model: &Model, step: &Step, wd: &Words) -> anyhow::Result<()> {
        let img = step.at.image.map(|i| model.image(i));
        let mut v = serde_json::json!({
            "time": timefmt::wall(step.wall_ns),
            "ts": step.ev.ts,
            "type": step.ev.kind.record_type().name(),
            "weight": weight_name(wd.weight),
            "pid": step.ev.pid,
            "tid": step.ev.tid,
            "text": wd.text,
        });
        if let Some(o) = v.as_object_mut() {
            if let Some(img) = img {
                o.insert("exec_id".into(), img.exec_id().into());
                o.insert("process".into(), img.label().into());
                o.insert("exe".into(), img.exe.display().into());
                let anc: Vec<String> = model.ancestry(img.id).skip(1).map(|i| i.label()).collect();
                o.insert("ancestry".into(), anc.into());
                if let Some(c) = &img.container {
                    o.insert("container".into(), c.id.clone().into());
                }
            }
            if let Some(app) = &step.at.app {
                o.insert("app".into(), serde_json::to_value(app)?);
            }
            o.insert("event".into(), serde_json::to_value(&step.ev.kind)?);
        }
        rewind_schema::text::write_json(&mut self.out, &v)?;
        writeln!(self.out)?;
        Ok(())
    }

    fn write_csv(&mut self, line: &Line, wd: &Words) -> anyhow::Result<()> {
        let mut w = csv::Writer::from_writer(Vec::new());
        if !self.csv_header {
            w.write_record([
                "time", "type", "weight", "pid", "exec_id", "process", "ancestry", "text",
            ])?;
            self.csv_header = true;
        }
        let [exec_id, label, anc] = line.csv.as_ref().map_or(["", "", ""], |[a, b, c]| {
            [a.as_str(), b.as_str(), c.as_str()]
        });
        // Trace strings through the CSV rule: escaped, and never a spreadsheet formula.
        w.write_record([
            timefmt::wall(line.wall_ns).as_str(),
            line.rtype.name(),
            weight_name(wd.weight),
            line.pid.to_string().as_str(),
            exec_id,
            csv_cell(label).as_ref(),
            csv_cell(anc).as_ref(),
            csv_cell(&wd.text).as_ref(),
        ])?;
        let buf = w.into_inner().map_err(|e| anyhow::anyhow!("csv: {e}"))?;
        self.out.write_all(&buf)?;
        Ok(())
    }
}

fn weight_name(w: Weight) -> &'static str {
    match w {
        Weight::Routine => "routine",
        Weight::Normal => "normal",
        Weight::Exec => "exec",
        Weight::Net => "network",
        Weight::Alert => "alert",
    }
}

impl<W: Write> Sink for Timeline<W> {
    fn step(&mut self, model: &Model, step: &Step) -> anyhow::Result<()> {
        self.matcher.first(step.wall_ns);
        if !self.passes(model, step) {
            return Ok(());
        }
        let anchor = self
            .anchors
            .get(step.recording as usize)
            .copied()
            .unwrap_or_default();
        let Some(wd) = words::words(model, step, &anchor) else {
            return Ok(());
        };
        if wd.weight == Weight::Routine && !self.filter.all {
            self.shown.routine += 1;
            return Ok(());
        }
        // Text and CSV join a burst's payload pieces into one line; JSON keeps each.
        if self.format != Format::Json {
            if let Some(p) = Piece::of(step) {
                match &mut self.pending {
                    Some((b, _)) if b.joins(&p) => b.push(&p),
                    _ => {
                        self.flush()?;
                        let b = Burst::start(&p, model);
                        self.pending = Some((b, self.line(model, step)));
                    }
                }
                return Ok(());
            }
        }
        if let Some(re) = &self.filter.grep {
            let who = self.process_label(model, step.at.image);
            if !re.is_match(&wd.text) && !re.is_match(&who) {
                return Ok(());
            }
        }
        if self.format == Format::Json {
            self.write_json(model, step, &wd)?;
        } else {
            self.flush()?;
            let line = self.line(model, step);
            self.write_line(&line, &wd)?;
        }
        self.shown.lines += 1;
        Ok(())
    }

    fn finish(&mut self, model: &Model) -> anyhow::Result<()> {
        self.flush()?;
        if !matches!(self.format, Format::Text { .. }) {
            return Ok(());
        }
        let lost: u64 = model.losses.iter().map(|l| l.count).sum();
        let loss = if lost == 0 {
            "no loss reported".to_string()
        } else {
            format!(
                "{lost} records LOST in {} windows: the story may have gaps",
                model.losses.len()
            )
        };
        let folded = if self.shown.routine > 0 && !self.filter.all {
            format!(
                "; {} routine events folded (loader and locale files, library mappings, forks, \
failed unix connects, snapshot entries: --all shows them)",
                self.shown.routine
            )
        } else {
            String::new()
        };
        let joined = if self.shown.joined > 0 {
            format!(
                " ({} payload pieces joined into the lines of their bursts: dump or --json shows each)",
                self.shown.joined
            )
        } else {
            String::new()
        };
        writeln!(
            self.out,
            "-- {} events shown{joined}{folded}; {loss} --",
            self.shown.lines + self.shown.joined
        )?;
        Ok(())
    }
}
