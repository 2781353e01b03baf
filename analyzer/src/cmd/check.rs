//! `analyzer check`: regression of analyzer outputs on a fixture. Computes the outputs
//! (timeline, tree, canned query results) and compares each, byte for byte, with the committed file of the
//! same name in the expectations directory, printing a unified diff of any difference.
//! `--bless` writes the current outputs as the new expectations.

use crate::exit::Outcome;
use crate::replay::{ReplayOptions, Sink};
use crate::timeline::{Filter, Format, Timeline};
use anyhow::Context;
use rewind_schema::fsutil;
use rewind_schema::text::{escape, Escaped};
use std::io::Write;
use std::path::PathBuf;

/// Arguments of `analyzer check`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The fixture's trace segments.
    #[command(flatten)]
    pub input: super::Inputs,
    /// Directory of expected outputs (`timeline.txt`, `tree.txt`, `query-NAME.txt`, ...).
    #[arg(long, value_name = "DIR")]
    pub expect: PathBuf,
    /// Write the current outputs as the expectations instead of comparing.
    #[arg(long)]
    pub bless: bool,
    /// Example policies: `policy-NAME.txt` is what `analyzer policy test` says for each
    /// `NAME.yaml` here. Default: `policies/` two levels above `--expect`
    /// (fixtures/policies for fixtures/expected/NAME); skipped when it does not exist.
    #[arg(long, value_name = "DIR")]
    pub policies: Option<PathBuf>,
    /// Compare (or bless) only these outputs, comma-separated or repeated: file names
    /// without `.txt` (`detect`, `incidents`, `timeline`, `timeline-ancestry`, `tree`,
    /// `query-NAME`, `policy-NAME`), or `query` / `policy` for all of that kind. A fixture
    /// of your own can carry expectations of findings only: `--only detect,incidents`.
    #[arg(long, value_name = "OUTPUT", value_delimiter = ',')]
    pub only: Vec<String>,
}

/// Which outputs `--only` selects.
#[derive(Debug, Clone, Default)]
pub struct Only(Vec<String>);

impl Only {
    /// Every output (no `--only`).
    pub fn all() -> Self {
        Only(Vec::new())
    }

    /// Is the output `name` (a file name) selected?
    pub fn wants(&self, name: &str) -> bool {
        let stem = name.strip_suffix(".txt").unwrap_or(name);
        self.0.is_empty()
            || self.0.iter().any(|o| {
                o == stem
                    || (o == "query" && stem.starts_with("query-"))
                    || (o == "policy" && stem.starts_with("policy-"))
            })
    }

    /// Refuses names that select nothing among `names`.
    fn validate(&self, names: &[String]) -> anyhow::Result<()> {
        for o in &self.0 {
            let one = Only(vec![o.clone()]);
            if !names.iter().any(|n| one.wants(n)) {
                let stems: Vec<&str> = names
                    .iter()
                    .map(|n| n.strip_suffix(".txt").unwrap_or(n))
                    .collect();
                anyhow::bail!(
                    "--only {}: no such output; the outputs are {}",
                    escape(o),
                    escape(&stems.join(", "))
                );
            }
        }
        Ok(())
    }
}

/// The tree, written once the model is complete.
struct TreeText {
    anchors: Vec<rewind_schema::meta::ClockAnchor>,
    text: Vec<u8>,
}

impl Sink for TreeText {
    fn step(&mut self, _: &crate::model::Model, _: &crate::replay::Step) -> anyhow::Result<()> {
        Ok(())
    }
    fn finish(&mut self, model: &crate::model::Model) -> anyhow::Result<()> {
        let forest = super::tree::forest(model, &self.anchors);
        let all: Vec<_> = forest.iter().collect();
        super::tree::write_text(&mut self.text, &all, true)?;
        Ok(())
    }
}

/// `policy-NAME.txt` for every `NAME.yaml` in `dir`: the policy evaluated over the
/// fixture, as `analyzer policy test` prints it.
pub fn policy_outputs(
    input: &super::Inputs,
    dir: &std::path::Path,
) -> anyhow::Result<Vec<(String, Vec<u8>)>> {
    let mut files: Vec<PathBuf> = match std::fs::read_dir(dir) {
        Ok(rd) => rd
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
            .collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).with_context(|| format!("reading {}", dir.display())),
    };
    files.sort();
    let set = input.open()?;
    let mut outs = Vec::new();
    for f in files {
        let policy = rewind_schema::policy::Policy::load(&f)?;
        let (report, _) = crate::policy::evaluate(&policy, &set, false)?;
        let mut text = Vec::new();
        crate::policy::report::write_text(&mut text, &report)?;
        let stem = f.file_stem().map(|s| s.to_string_lossy().into_owned());
        outs.push((format!("policy-{}.txt", stem.unwrap_or_default()), text));
    }
    Ok(outs)
}

/// The names of the outputs computed from one replay (the rest: detect, incidents,
/// policy-NAME).
fn replay_outputs() -> Vec<String> {
    let mut names: Vec<String> = ["timeline.txt", "timeline-ancestry.txt", "tree.txt"]
        .map(String::from)
        .into();
    for q in crate::sql::query::CANNED {
        if q.params().is_empty() {
            names.push(format!("query-{}.txt", q.name));
        }
    }
    names
}

/// Every output `check` compares, by file name, of those `only` selects.
pub fn outputs(input: &super::Inputs, only: &Only) -> anyhow::Result<Vec<(String, Vec<u8>)>> {
    let set = input.open()?;
    let mut outs = Vec::new();
    if replay_outputs().iter().any(|n| only.wants(n)) {
        outs = replayed(&set)?;
    }
    outs.retain(|(n, _)| only.wants(n));
    if only.wants("detect.txt") || only.wants("incidents.txt") {
        // Detections with the built-in rules: every finding and incident, so a rule
        // that starts or stops firing on a fixture shows up as a diff.
        let rules = super::detect::RuleArgs {
            rules: None,
            no_builtin: false,
            exceptions: None,
            sigma: None,
            min_severity: crate::detect::rule::Severity::Info,
            window: 3_600_000_000_000,
        };
        let d = super::detect::detect(&set, &rules, false)?;
        if only.wants("detect.txt") {
            let mut text = Vec::new();
            super::detect::write_findings(&mut text, &d)?;
            outs.push(("detect.txt".into(), text));
        }
        if only.wants("incidents.txt") {
            let mut text = Vec::new();
            super::incidents::write_incidents(&mut text, &d)?;
            outs.push(("incidents.txt".into(), text));
        }
    }
    Ok(outs)
}

/// The timelines, the tree and the canned queries, from one replay.
fn replayed(set: &rewind_schema::trace::TraceSet) -> anyhow::Result<Vec<(String, Vec<u8>)>> {
    let anchors: Vec<_> = set.recordings.iter().map(|r| r.anchor).collect();
    let mut story = Timeline::new(
        Vec::new(),
        Format::Text { color: false },
        Filter::default(),
        anchors.clone(),
    );
    story.preamble(&super::timeline::preamble(set))?;
    let mut ancestry = Timeline::new(
        Vec::new(),
        Format::Text { color: false },
        Filter {
            ancestry: true,
            types: crate::timeline::parse_types(&["process".into(), "network".into()])
                .map_err(anyhow::Error::msg)?,
            ..Filter::default()
        },
        anchors.clone(),
    );
    let mut tree = TreeText {
        anchors,
        text: Vec::new(),
    };
    // One replay feeds the timelines, the tree and the SQLite model the canned queries
    // run on.
    let mut conn = crate::sql::engine::connection(None)?;
    let sinks: &mut [&mut dyn Sink] = &mut [&mut story, &mut ancestry, &mut tree];
    crate::sql::ingest_with(&mut conn, set, ReplayOptions::default(), sinks)?;
    conn.execute_batch("PRAGMA query_only=1")?;
    let mut outs = vec![
        ("timeline.txt".into(), story.into_inner()),
        ("timeline-ancestry.txt".into(), ancestry.into_inner()),
        ("tree.txt".into(), tree.text),
    ];
    for q in crate::sql::query::CANNED {
        if !q.params().is_empty() {
            continue;
        }
        let table = crate::sql::query::run(&conn, q.sql, &[])
            .map_err(|e| anyhow::anyhow!("canned query {}: {e}", q.name))?;
        let mut text = Vec::new();
        crate::sql::query::print(&table, crate::sql::query::Format::Text, &mut text)?;
        outs.push((format!("query-{}.txt", q.name), text));
    }
    Ok(outs)
}

/// Runs the command.
pub fn run(args: &Args) -> anyhow::Result<Outcome> {
    let only = Only(args.only.clone());
    let policies = match &args.policies {
        Some(d) => d.clone(),
        None => args.expect.join("../../policies"),
    };
    let mut names = replay_outputs();
    names.extend(["detect.txt".to_string(), "incidents.txt".to_string()]);
    // Each policy is a replay of its own: evaluated only when wanted.
    let policy_outs = if only.0.is_empty() || only.0.iter().any(|o| o.starts_with("policy")) {
        policy_outputs(&args.input, &policies)?
    } else {
        Vec::new()
    };
    names.extend(policy_outs.iter().map(|(n, _)| n.clone()));
    only.validate(&names)?;
    let mut outs = outputs(&args.input, &only)?;
    outs.extend(policy_outs.into_iter().filter(|(n, _)| only.wants(n)));
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if args.bless {
        fsutil::create_private_dir_all(&args.expect)
            .with_context(|| format!("creating {}", args.expect.display()))?;
        for (name, bytes) in &outs {
            let path = args.expect.join(name);
            fsutil::create_private(&path, fsutil::Existing::Truncate)
                .and_then(|mut f| f.write_all(bytes))
                .with_context(|| format!("writing {}", path.display()))?;
            writeln!(out, "blessed {}", Escaped(path.display()))?;
        }
        return Ok(Outcome::Clean);
    }
    let (mut bad, mut missing) = (Vec::new(), Vec::new());
    for (name, actual) in &outs {
        let path = args.expect.join(name);
        let expected = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) => {
                writeln!(
                    out,
                    "MISSING {}: {} (run with --bless to create it)",
                    Escaped(path.display()),
                    Escaped(e)
                )?;
                missing.push(name.clone());
                continue;
            }
        };
        if &expected == actual {
            writeln!(out, "ok      {}", Escaped(path.display()))?;
            continue;
        }
        bad.push(name.clone());
        writeln!(out, "DIFFERS {}", Escaped(path.display()))?;
        let e = String::from_utf8_lossy(&expected);
        let a = String::from_utf8_lossy(actual);
        let diff = similar::TextDiff::from_lines(e.as_ref(), a.as_ref());
        let text = diff
            .unified_diff()
            .context_radius(2)
            .header(&format!("expected {}", path.display()), "actual")
            .to_string();
        // An expectation file may hold anything: each diff line escaped, on its own line.
        for line in text.split_inclusive('\n') {
            let body = line.strip_suffix('\n').unwrap_or(line);
            writeln!(out, "{}", escape(body))?;
        }
    }
    let mut problems = Vec::new();
    if !missing.is_empty() {
        problems.push(format!(
            "{} of {} expectations MISSING (create them with --bless): {}",
            missing.len(),
            outs.len(),
            missing.join(", ")
        ));
    }
    if !bad.is_empty() {
        problems.push(format!(
            "{} of {} outputs differ: {}",
            bad.len(),
            outs.len(),
            bad.join(", ")
        ));
    }
    if problems.is_empty() {
        Ok(Outcome::Clean)
    } else {
        anyhow::bail!("{}: {}", args.expect.display(), problems.join("; "))
    }
}
