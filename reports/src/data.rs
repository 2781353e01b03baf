//! The report's input: plain data, filled in by the analyzer (which knows traces, the
//! process model and detections) and drawn by [`crate::render`] (which knows HTML). Every
//! string here may come from a hostile trace; the renderer escapes all of them.

/// Everything one report shows.
#[derive(Debug, Clone, Default)]
pub struct ReportData {
    /// Page title (the trace names).
    pub title: String,
    /// Host, time window, counts, loss.
    pub summary: Summary,
    /// Incidents, most important story first as the analyzer numbered them.
    pub incidents: Vec<IncidentView>,
    /// The process forest.
    pub tree: Vec<TreeNode>,
    /// Set when the tree was cut (how many processes are not shown, and which are kept).
    pub tree_note: Option<String>,
    /// The process-network graph, already reduced to what is worth drawing.
    pub graph: GraphData,
    /// Chart series.
    pub charts: Charts,
    /// File activity.
    pub files: Table,
    /// Network activity.
    pub network: Table,
}

/// One recording's host.
#[derive(Debug, Clone, Default)]
pub struct HostRow {
    /// Host name.
    pub hostname: String,
    /// Kernel release.
    pub kernel: String,
    /// Boot id.
    pub boot_id: String,
    /// Recorder version.
    pub recorder: String,
    /// What was recorded (system mode, a command, pids).
    pub mode: String,
    /// Segments of this recording.
    pub segments: usize,
}

/// The first section: what was recorded and how much of it is trustworthy.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    /// Input files, as given.
    pub inputs: Vec<String>,
    /// Recordings.
    pub hosts: Vec<HostRow>,
    /// First event (RFC 3339 UTC).
    pub first: String,
    /// Last event.
    pub last: String,
    /// Span in words.
    pub duration: String,
    /// Labelled counts (`events`, `processes`, ...), in display order.
    pub counts: Vec<(String, u64)>,
    /// Findings per severity, most severe first.
    pub findings_by_severity: Vec<(Severity, u64)>,
    /// Records the recorder lost.
    pub lost_records: u64,
    /// Loss windows in words.
    pub loss_windows: Vec<String>,
    /// Damage and verification problems found while reading.
    pub problems: Vec<String>,
    /// Chain verification in words (`verified`, or what failed).
    pub integrity: String,
}

/// Severity of a finding or incident.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum Severity {
    /// Informational.
    #[default]
    Info,
    /// Low.
    Low,
    /// Medium.
    Medium,
    /// High.
    High,
    /// Critical.
    Critical,
}

impl Severity {
    /// Lower-case name (also the CSS class).
    pub fn name(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

/// How much a timeline line matters (drives its colour).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Weight {
    /// Ordinary activity.
    #[default]
    Normal,
    /// A program started.
    Exec,
    /// Network activity.
    Net,
    /// Privilege, loss, weak crypto, enforcement.
    Alert,
}

impl Weight {
    /// CSS class.
    pub fn class(self) -> &'static str {
        match self {
            Weight::Normal => "w-normal",
            Weight::Exec => "w-exec",
            Weight::Net => "w-net",
            Weight::Alert => "w-alert",
        }
    }
}

/// One event in words.
#[derive(Debug, Clone, Default)]
pub struct TimelineLine {
    /// Time (RFC 3339 UTC).
    pub time: String,
    /// Acting process, `name[pid]`.
    pub process: String,
    /// What it did.
    pub text: String,
    /// Weight.
    pub weight: Weight,
    /// This event is evidence of a finding.
    pub evidence: bool,
    /// Set on a line that is a finding itself (rule id), placed after its last evidence.
    pub finding: Option<(Severity, String)>,
}

/// A finding inside an incident.
#[derive(Debug, Clone, Default)]
pub struct FindingView {
    /// First match.
    pub time: String,
    /// Severity.
    pub severity: Severity,
    /// Rule id.
    pub rule_id: String,
    /// Rule title.
    pub title: String,
    /// ATT&CK ids.
    pub attack: Vec<String>,
    /// The rule's explanation, filled in.
    pub explanation: String,
    /// Matches for this process.
    pub count: u64,
    /// Acting process.
    pub process: String,
    /// The events it rests on.
    pub evidence: Vec<TimelineLine>,
}

/// An incident with its story.
#[derive(Debug, Clone, Default)]
pub struct IncidentView {
    /// 1-based number.
    pub id: usize,
    /// Highest severity.
    pub severity: Severity,
    /// Title.
    pub title: String,
    /// First finding.
    pub start: String,
    /// Last finding.
    pub end: String,
    /// Span in words.
    pub duration: String,
    /// Story root.
    pub root: String,
    /// Where it came in.
    pub entry: String,
    /// ATT&CK technique ids, sorted.
    pub attack: Vec<String>,
    /// Process images involved.
    pub processes: usize,
    /// Its findings shown, most severe first (all of them unless capped).
    pub findings: Vec<FindingView>,
    /// Findings in all (more than `findings.len()` when capped).
    pub findings_total: usize,
    /// Only the heading and facts: the report details a capped number of incidents.
    pub summary_only: bool,
    /// Every event of its processes in words, in time order, up to a cap.
    pub timeline: Vec<TimelineLine>,
    /// Events of its processes in all (more than `timeline_told` when capped).
    pub timeline_total: u64,
    /// Events the timeline's lines tell: a payload burst's line tells each of its pieces.
    pub timeline_told: u64,
}

/// One process (pid lifetime) of the tree.
#[derive(Debug, Clone, Default)]
pub struct TreeNode {
    /// `name[pid]`.
    pub label: String,
    /// Exec chain: command lines in exec order.
    pub chain: Vec<String>,
    /// Facts: duration, exit, counts, container.
    pub facts: Vec<String>,
    /// Exec id of the first image.
    pub exec_id: String,
    /// Incidents this process is part of.
    pub incidents: Vec<usize>,
    /// Processes it forked.
    pub children: Vec<TreeNode>,
}

/// Kind of a graph node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NodeKind {
    /// A process image.
    #[default]
    Process,
    /// An executable.
    Executable,
    /// A file.
    File,
    /// A network endpoint.
    Endpoint,
    /// A DNS name.
    Dns,
}

impl NodeKind {
    /// Lower-case name (CSS class, legend).
    pub fn name(self) -> &'static str {
        match self {
            NodeKind::Process => "process",
            NodeKind::Executable => "executable",
            NodeKind::File => "file",
            NodeKind::Endpoint => "endpoint",
            NodeKind::Dns => "dns",
        }
    }
}

/// A node to draw.
#[derive(Debug, Clone, Default)]
pub struct GraphNode {
    /// Kind.
    pub kind: NodeKind,
    /// Label.
    pub label: String,
    /// Part of an incident.
    pub incident: bool,
}

/// An edge to draw (indexes into [`GraphData::nodes`]).
#[derive(Debug, Clone, Default)]
pub struct GraphEdge {
    /// Source.
    pub from: usize,
    /// Target.
    pub to: usize,
    /// Short label (`fork`, `read`, `tcp 48 KB`).
    pub label: String,
}

/// The graph to draw.
#[derive(Debug, Clone, Default)]
pub struct GraphData {
    /// Nodes.
    pub nodes: Vec<GraphNode>,
    /// Edges.
    pub edges: Vec<GraphEdge>,
    /// What was left out, when anything was.
    pub note: Option<String>,
}

/// A point in time on the activity chart with what happened there.
#[derive(Debug, Clone, Default)]
pub struct Marker {
    /// Seconds since the first event.
    pub at_s: f64,
    /// Severity.
    pub severity: Severity,
    /// Rule id.
    pub label: String,
}

/// Chart series.
#[derive(Debug, Clone, Default)]
pub struct Charts {
    /// Wall-clock ns of the first event (x origin of the activity chart).
    pub start_wall_ns: i128,
    /// Bucket width in seconds.
    pub bucket_s: f64,
    /// Events per bucket, by family name, each series as (seconds since start, count).
    pub activity: Vec<(String, Vec<(f64, u64)>)>,
    /// Findings on the time axis.
    pub findings: Vec<Marker>,
    /// Bytes by destination, most first.
    pub destinations: Vec<(String, u64)>,
    /// Execs by program, most first.
    pub execs: Vec<(String, u64)>,
}

/// A sortable, filterable table.
#[derive(Debug, Clone, Default)]
pub struct Table {
    /// Column headings; `true` marks numeric columns (sorted by number).
    pub columns: Vec<(String, bool)>,
    /// Rows of cells.
    pub rows: Vec<Row>,
    /// Rows there were before the cap.
    pub total: u64,
    /// Why rows are missing, when the table was capped.
    pub note: Option<String>,
}

/// A table row.
#[derive(Debug, Clone, Default)]
pub struct Row {
    /// Cells, one per column.
    pub cells: Vec<Cell>,
    /// The row concerns a process of an incident.
    pub incident: bool,
}

/// A table cell.
#[derive(Debug, Clone, Default)]
pub struct Cell {
    /// What is shown.
    pub text: String,
    /// Sort key for numeric columns.
    pub num: Option<f64>,
}

impl Cell {
    /// A text cell.
    pub fn text(s: impl Into<String>) -> Cell {
        Cell {
            text: s.into(),
            num: None,
        }
    }

    /// A number shown as `text`, sorted by `n`.
    pub fn num(text: impl Into<String>, n: f64) -> Cell {
        Cell {
            text: text.into(),
            num: Some(n),
        }
    }
}
