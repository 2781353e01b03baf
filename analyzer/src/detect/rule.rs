//! Detection rules as data: YAML files with an id, title, severity, ATT&CK techniques,
//! a condition over [`Fact`]s (one event, or a sequence of events within a time window
//! related by process ancestry) and an explanation template. The format is documented
//! in `analyzer/rules/README.md`.
//!
//! Rules are compiled when loaded: field names resolve to [`Field`]s, regular
//! expressions and globs are built, durations parsed, so a bad rule is refused at load
//! time with its file and the reason, never half-evaluated.

use super::fact::{Fact, Field, Val};
use rewind_schema::event::RecordType;
use serde::Serialize;
use std::net::IpAddr;
use std::path::Path;
use yaml_serde::Value as Y;

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Context, not an alert.
    Info,
    /// Worth a look.
    Low,
    /// Suspicious.
    Medium,
    /// Likely malicious.
    High,
    /// An attack in progress.
    Critical,
}

impl Severity {
    /// Lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }

    /// Parses a name (Sigma's `informational` too).
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s.to_ascii_lowercase().as_str() {
            "info" | "informational" => Severity::Info,
            "low" => Severity::Low,
            "medium" => Severity::Medium,
            "high" => Severity::High,
            "critical" => Severity::Critical,
            _ => return None,
        })
    }
}

/// What every rule, built-in or Sigma, says about itself.
#[derive(Debug, Clone, Serialize)]
pub struct RuleMeta {
    /// Unique id (`RW-...` for Rewind's rules, the Sigma id for Sigma rules).
    pub id: String,
    /// One line.
    pub title: String,
    /// Severity of a finding.
    pub severity: Severity,
    /// MITRE ATT&CK technique ids (`T1059.004`).
    pub attack: Vec<String>,
    /// Why it matters.
    pub description: String,
    /// Where it came from: `built-in`, a file path.
    pub source: String,
}

/// A comparison.
#[derive(Debug, Clone)]
enum Op {
    Eq(Vec<Lit>),
    Contains(Vec<String>),
    StartsWith(Vec<String>),
    EndsWith(Vec<String>),
    Glob(Vec<glob::Pattern>),
    Re(regex::Regex),
    Cmp(std::cmp::Ordering, bool, i64),
    Cidr(Vec<(IpAddr, u8)>),
    Exists(bool),
}

#[derive(Debug, Clone, PartialEq)]
enum Lit {
    Str(String),
    Int(i64),
    Bool(bool),
}

/// A condition over one fact.
#[derive(Debug, Clone)]
pub enum Cond {
    /// Every one.
    All(Vec<Cond>),
    /// At least one.
    Any(Vec<Cond>),
    /// Not this.
    Not(Box<Cond>),
    /// A field compared.
    Match(Field, MatchOp),
}

/// A compiled comparison (opaque).
#[derive(Debug, Clone)]
pub struct MatchOp(Op);

/// One event pattern: record types and a condition.
#[derive(Debug, Clone)]
pub struct Pattern {
    /// Record types it applies to.
    pub types: Vec<RecordType>,
    /// The condition.
    pub cond: Cond,
}

/// How the events of a sequence must be related.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum By {
    /// The same process (pid lifetime, across its execs).
    Process,
    /// The first step's process or any of its descendants.
    Descendants,
    /// Anything on the host.
    Host,
}

/// A single-event rule, or a sequence.
#[derive(Debug, Clone)]
pub enum Body {
    /// One event.
    Single(Pattern),
    /// Steps in order within a window.
    Sequence {
        /// The steps.
        steps: Vec<Pattern>,
        /// Window from the first step, ns.
        within_ns: u64,
        /// Relation between steps.
        by: By,
    },
}

/// One piece of an explanation template.
#[derive(Debug, Clone)]
pub enum Piece {
    /// Literal text.
    Lit(String),
    /// A field of step N (0-based) or of the last step (`None`).
    Field(Option<usize>, Field),
    /// `name[pid]` of the acting process of step N or the last step.
    Proc(Option<usize>),
}

/// Expected result of a rule on a trace (`analyzer rules test`).
#[derive(Debug, Clone)]
pub struct RuleTest {
    /// Trace path, relative to the rules file's directory.
    pub trace: std::path::PathBuf,
    /// Findings expected (any number when absent).
    pub findings: Option<usize>,
    /// The processes (`name[pid]`) that must fire, and no others, when given.
    pub processes: Option<Vec<String>>,
    /// Rules (ids) that must raise nothing on the trace.
    pub silent: Vec<String>,
}

/// A compiled Rewind rule.
#[derive(Debug, Clone)]
pub struct Rule {
    /// Id, title, severity, ATT&CK, source.
    pub meta: RuleMeta,
    /// What it matches.
    pub body: Body,
    /// Explanation template.
    pub explain: Vec<Piece>,
    /// One finding per process (default) or one per rule.
    pub per_process: bool,
    /// Expected findings on traces.
    pub tests: Vec<RuleTest>,
}

type R<T> = Result<T, String>;

fn as_str(v: &Y, what: &str) -> R<String> {
    match v {
        Y::String(s) => Ok(s.clone()),
        Y::Number(n) => Ok(n.to_string()),
        Y::Bool(b) => Ok(b.to_string()),
        _ => Err(format!("{what} must be a string")),
    }
}

fn list(v: &Y) -> Vec<&Y> {
    match v {
        Y::Sequence(s) => s.iter().collect(),
        other => vec![other],
    }
}

fn lit(v: &Y) -> R<Lit> {
    Ok(match v {
        Y::Bool(b) => Lit::Bool(*b),
        Y::Number(n) => match n.as_i64() {
            Some(i) => Lit::Int(i),
            None => Lit::Str(n.to_string()),
        },
        Y::String(s) => Lit::Str(s.clone()),
        _ => return Err("a value must be a string, number or boolean".into()),
    })
}

fn parse_cidr(s: &str) -> R<(IpAddr, u8)> {
    let (a, n) = s.split_once('/').unwrap_or((s, ""));
    let ip: IpAddr = a.parse().map_err(|_| format!("bad CIDR {s:?}"))?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    let bits = if n.is_empty() {
        max
    } else {
        n.parse::<u8>()
            .ok()
            .filter(|b| *b <= max)
            .ok_or(format!("bad CIDR {s:?}"))?
    };
    Ok((ip, bits))
}

fn compile_match(key: &str, v: &Y) -> R<Cond> {
    let (name, op) = key.split_once('|').unwrap_or((key, "eq"));
    let field = Field::parse(name).ok_or_else(|| {
        format!("unknown field {name:?} (fields are listed in analyzer/rules/README.md)")
    })?;
    let strs = || -> R<Vec<String>> { list(v).into_iter().map(|x| as_str(x, key)).collect() };
    let op = match op {
        "eq" => Op::Eq(list(v).into_iter().map(lit).collect::<R<_>>()?),
        "contains" => Op::Contains(strs()?),
        "startswith" => Op::StartsWith(strs()?),
        "endswith" => Op::EndsWith(strs()?),
        "glob" => Op::Glob(
            strs()?
                .iter()
                .map(|p| glob::Pattern::new(p).map_err(|e| format!("bad glob {p:?}: {e}")))
                .collect::<R<_>>()?,
        ),
        "re" => {
            let pats = strs()?;
            let joined = pats
                .iter()
                .map(|p| format!("(?:{p})"))
                .collect::<Vec<_>>()
                .join("|");
            Op::Re(regex::Regex::new(&joined).map_err(|e| format!("bad regex in {key}: {e}"))?)
        }
        "gt" | "ge" | "lt" | "le" => {
            let n = match lit(v)? {
                Lit::Int(n) => n,
                _ => return Err(format!("{key} needs a number")),
            };
            use std::cmp::Ordering::*;
            let (ord, or_eq) = match op {
                "gt" => (Greater, false),
                "ge" => (Greater, true),
                "lt" => (Less, false),
                _ => (Less, true),
            };
            Op::Cmp(ord, or_eq, n)
        }
        "cidr" => Op::Cidr(strs()?.iter().map(|s| parse_cidr(s)).collect::<R<_>>()?),
        "exists" => match v {
            Y::Bool(b) => Op::Exists(*b),
            _ => return Err(format!("{key} needs true or false")),
        },
        other => {
            return Err(format!(
                "unknown operator {other:?} in {key:?} (eq, contains, startswith, endswith, glob, re, gt, ge, lt, le, cidr, exists)"
            ))
        }
    };
    Ok(Cond::Match(field, MatchOp(op)))
}

/// Compiles a condition mapping (entries are AND'ed; `any`, `all`, `not` nest).
fn compile_cond(v: &Y, types: Option<&mut Vec<RecordType>>) -> R<Cond> {
    let Y::Mapping(m) = v else {
        return Err("a condition must be a mapping of field: value".into());
    };
    let mut out = Vec::new();
    let mut types = types;
    for (k, val) in m {
        let key = as_str(k, "a key")?;
        match key.as_str() {
            "event" => {
                let Some(t) = types.as_deref_mut() else {
                    return Err("`event` belongs at the top of a match or step".into());
                };
                for name in list(val) {
                    let n = as_str(name, "event")?;
                    let found: Vec<RecordType> =
                        match crate::timeline::parse_types(std::slice::from_ref(&n)) {
                            Ok(v) if !v.is_empty() => v,
                            _ => return Err(format!("unknown event type {n:?}")),
                        };
                    t.extend(found);
                }
            }
            "any" | "all" => {
                let subs = list(val)
                    .into_iter()
                    .map(|c| compile_cond(c, None))
                    .collect::<R<Vec<_>>>()?;
                out.push(if key == "any" {
                    Cond::Any(subs)
                } else {
                    Cond::All(subs)
                });
            }
            "not" => {
                let subs = list(val)
                    .into_iter()
                    .map(|c| compile_cond(c, None))
                    .collect::<R<Vec<_>>>()?;
                out.push(Cond::Not(Box::new(Cond::All(subs))));
            }
            _ => out.push(compile_match(&key, val)?),
        }
    }
    Ok(Cond::All(out))
}

fn compile_pattern(v: &Y) -> R<Pattern> {
    let mut types = Vec::new();
    let cond = compile_cond(v, Some(&mut types))?;
    if types.is_empty() {
        return Err("a match or step must say which `event` types it applies to".into());
    }
    types.sort();
    types.dedup();
    Ok(Pattern { types, cond })
}

fn compile_template(t: &str, steps: usize) -> R<Vec<Piece>> {
    let mut out = Vec::new();
    let mut rest = t;
    while let Some(i) = rest.find('{') {
        if i > 0 {
            out.push(Piece::Lit(rest[..i].to_string()));
        }
        let end = rest[i..]
            .find('}')
            .ok_or_else(|| format!("unclosed {{ in explain: {t:?}"))?;
        let name = &rest[i + 1..i + end];
        let (step, fname) = match name.split_once('.') {
            Some((s, f))
                if s.len() > 1 && s.starts_with('s') && s[1..].parse::<usize>().is_ok() =>
            {
                let n: usize = s[1..].parse().unwrap_or(0);
                if n == 0 || n > steps {
                    return Err(format!("explain names step {n}, the rule has {steps}"));
                }
                (Some(n - 1), f)
            }
            _ => (None, name),
        };
        if fname == "proc" {
            out.push(Piece::Proc(step));
        } else {
            let f = Field::parse(fname)
                .ok_or_else(|| format!("explain names unknown field {fname:?}"))?;
            out.push(Piece::Field(step, f));
        }
        rest = &rest[i + end + 1..];
    }
    if !rest.is_empty() {
        out.push(Piece::Lit(rest.to_string()));
    }
    Ok(out)
}

/// Compiles one rule from its YAML document.
pub fn compile(doc: &Y, source: &str) -> R<Rule> {
    let Y::Mapping(m) = doc else {
        return Err("a rule must be a mapping".into());
    };
    let get = |k: &str| m.get(k);
    let id = as_str(get("id").ok_or("missing `id`")?, "id")?;
    let ctx = |e: String| format!("rule {id}: {e}");
    let title = as_str(
        get("title").ok_or_else(|| ctx("missing `title`".into()))?,
        "title",
    )?;
    let sev = as_str(
        get("severity").ok_or_else(|| ctx("missing `severity`".into()))?,
        "severity",
    )?;
    let severity = Severity::parse(&sev).ok_or_else(|| {
        ctx(format!(
            "unknown severity {sev:?} (info, low, medium, high, critical)"
        ))
    })?;
    let attack = match get("attack") {
        Some(v) => list(v)
            .into_iter()
            .map(|x| as_str(x, "attack"))
            .collect::<R<Vec<_>>>()
            .map_err(ctx)?,
        None => Vec::new(),
    };
    for t in &attack {
        let ok = t.len() >= 5
            && t.starts_with('T')
            && t[1..]
                .split('.')
                .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
        if !ok {
            return Err(ctx(format!(
                "{t:?} is not an ATT&CK technique id (T1059, T1059.004)"
            )));
        }
    }
    let description = match get("description") {
        Some(v) => as_str(v, "description").map_err(ctx)?,
        None => String::new(),
    };
    let body = match (get("match"), get("sequence")) {
        (Some(p), None) => Body::Single(compile_pattern(p).map_err(ctx)?),
        (None, Some(Y::Mapping(sq))) => {
            let steps = match sq.get("steps") {
                Some(Y::Sequence(v)) if v.len() >= 2 => v
                    .iter()
                    .map(compile_pattern)
                    .collect::<R<Vec<_>>>()
                    .map_err(ctx)?,
                _ => return Err(ctx("a sequence needs `steps`, a list of two or more".into())),
            };
            let within = as_str(
                sq.get("within")
                    .ok_or_else(|| ctx("a sequence needs `within`".into()))?,
                "within",
            )?;
            let within_ns = crate::timefmt::parse_duration(&within)
                .ok_or_else(|| ctx(format!("bad duration {within:?}")))?;
            let by = match sq
                .get("by")
                .map(|v| as_str(v, "by"))
                .transpose()?
                .as_deref()
            {
                None | Some("process") => By::Process,
                Some("descendants") => By::Descendants,
                Some("host") => By::Host,
                Some(o) => {
                    return Err(ctx(format!(
                        "unknown `by` {o:?} (process, descendants, host)"
                    )))
                }
            };
            Body::Sequence {
                steps,
                within_ns,
                by,
            }
        }
        _ => return Err(ctx("needs exactly one of `match` or `sequence`".into())),
    };
    let nsteps = match &body {
        Body::Single(_) => 1,
        Body::Sequence { steps, .. } => steps.len(),
    };
    let explain = match get("explain") {
        Some(v) => compile_template(&as_str(v, "explain")?, nsteps).map_err(ctx)?,
        None => vec![Piece::Lit(title.clone())],
    };
    let per_process = match get("once_per").map(|v| as_str(v, "once_per")).transpose()? {
        None => true,
        Some(s) if s == "process" => true,
        Some(s) if s == "rule" => false,
        Some(o) => return Err(ctx(format!("unknown once_per {o:?} (process, rule)"))),
    };
    let mut tests = Vec::new();
    if let Some(Y::Sequence(ts)) = get("tests") {
        for t in ts {
            let Y::Mapping(tm) = t else {
                return Err(ctx("tests entries are mappings".into()));
            };
            let trace = as_str(
                tm.get("trace")
                    .ok_or_else(|| ctx("test without trace".into()))?,
                "trace",
            )?;
            for k in tm.keys() {
                let k = as_str(k, "a test key")?;
                if !["trace", "findings", "processes", "silent"].contains(&k.as_str()) {
                    return Err(ctx(format!(
                        "unknown test key {k:?} (trace, findings, processes, silent)"
                    )));
                }
            }
            let findings = match tm.get("findings") {
                None => None,
                Some(v) => Some(
                    v.as_u64()
                        .ok_or_else(|| ctx("test `findings:` is a number".into()))?
                        as usize,
                ),
            };
            let strings = |key: &str| -> R<Option<Vec<String>>> {
                match tm.get(key) {
                    None => Ok(None),
                    Some(Y::Sequence(vs)) => vs
                        .iter()
                        .map(|v| as_str(v, key))
                        .collect::<R<Vec<String>>>()
                        .map(Some),
                    Some(_) => Err(ctx(format!("test `{key}:` is a list"))),
                }
            };
            let processes = strings("processes")?;
            let silent = strings("silent")?.unwrap_or_default();
            if findings.is_none() && processes.is_none() && silent.is_empty() {
                return Err(ctx(
                    "a test needs `findings: N`, `processes: [NAME[PID], ...]` or `silent: [RULE-ID, ...]`"
                        .into(),
                ));
            }
            tests.push(RuleTest {
                trace: trace.into(),
                findings,
                processes,
                silent,
            });
        }
    }
    for k in m.keys() {
        let k = as_str(k, "a key")?;
        const KNOWN: [&str; 10] = [
            "id",
            "title",
            "severity",
            "attack",
            "description",
            "match",
            "sequence",
            "explain",
            "once_per",
            "tests",
        ];
        if !KNOWN.contains(&k.as_str()) {
            return Err(ctx(format!("unknown key {k:?}")));
        }
    }
    Ok(Rule {
        meta: RuleMeta {
            id,
            title,
            severity,
            attack,
            description,
            source: source.to_string(),
        },
        body,
        explain,
        per_process,
        tests,
    })
}

/// Parses a rules file: one or more YAML documents (`---`), each a rule.
pub fn parse_file(text: &str, source: &str) -> R<Vec<Rule>> {
    use serde::Deserialize;
    let mut out = Vec::new();
    for doc in yaml_serde::Deserializer::from_str(text) {
        let v = Y::deserialize(doc).map_err(|e| format!("{source}: {e}"))?;
        if v.is_null() {
            continue;
        }
        out.push(compile(&v, source).map_err(|e| format!("{source}: {e}"))?);
    }
    Ok(out)
}

/// Loads every `*.yml`/`*.yaml` file under `dir` (sorted), refusing duplicate ids.
pub fn load_dir(dir: &Path) -> Result<Vec<Rule>, String> {
    let mut files = Vec::new();
    collect(dir, &mut files).map_err(|e| format!("{}: {e}", dir.display()))?;
    files.sort();
    let mut out = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(&f).map_err(|e| format!("{}: {e}", f.display()))?;
        out.extend(parse_file(&text, &f.display().to_string())?);
    }
    Ok(out)
}

fn collect(dir: &Path, out: &mut Vec<std::path::PathBuf>) -> std::io::Result<()> {
    for e in std::fs::read_dir(dir)? {
        let p = e?.path();
        if p.is_dir() {
            collect(&p, out)?;
        } else if matches!(p.extension().and_then(|x| x.to_str()), Some("yml" | "yaml")) {
            out.push(p);
        }
    }
    Ok(())
}

/// The built-in rules (`analyzer/rules/*.yml`, compiled in).
pub fn builtin() -> R<Vec<Rule>> {
    let mut out = Vec::new();
    for (name, text) in BUILTIN {
        out.extend(parse_file(text, &format!("built-in:{name}"))?);
    }
    Ok(out)
}

/// Built-in rule files, by name.
pub const BUILTIN: &[(&str, &str)] = &[
    ("process.yml", include_str!("../../rules/process.yml")),
    ("file.yml", include_str!("../../rules/file.yml")),
    ("network.yml", include_str!("../../rules/network.yml")),
    ("privilege.yml", include_str!("../../rules/privilege.yml")),
    ("kernel.yml", include_str!("../../rules/kernel.yml")),
];

impl Cond {
    /// Does the fact satisfy it?
    pub fn eval(&self, f: &Fact) -> bool {
        match self {
            Cond::All(v) => v.iter().all(|c| c.eval(f)),
            Cond::Any(v) => v.iter().any(|c| c.eval(f)),
            Cond::Not(c) => !c.eval(f),
            Cond::Match(field, MatchOp(op)) => {
                let val = f.get(*field);
                if let Op::Exists(want) = op {
                    let present = match &val {
                        None => false,
                        Some(Val::List(v)) => !v.is_empty(),
                        Some(Val::Str(s)) => !s.is_empty(),
                        Some(_) => true,
                    };
                    return present == *want;
                }
                match val {
                    Some(v) => matches(&v, op),
                    None => false,
                }
            }
        }
    }
}

fn matches(v: &Val, op: &Op) -> bool {
    if let Val::List(items) = v {
        return items.iter().any(|i| matches(i, op));
    }
    let text = || match v {
        Val::Str(s) => s.to_string(),
        other => other.render(),
    };
    match op {
        Op::Eq(lits) => lits.iter().any(|l| match (l, v) {
            (Lit::Str(a), Val::Str(b)) => a == b,
            (Lit::Int(a), Val::Int(b)) => a == b,
            (Lit::Bool(a), Val::Bool(b)) => a == b,
            (Lit::Str(a), Val::Int(b)) => a.parse::<i64>().ok() == Some(*b),
            (Lit::Int(a), Val::Str(b)) => b.parse::<i64>().ok() == Some(*a),
            _ => false,
        }),
        Op::Contains(p) => {
            let t = text();
            p.iter().any(|x| t.contains(x.as_str()))
        }
        Op::StartsWith(p) => {
            let t = text();
            p.iter().any(|x| t.starts_with(x.as_str()))
        }
        Op::EndsWith(p) => {
            let t = text();
            p.iter().any(|x| t.ends_with(x.as_str()))
        }
        Op::Glob(p) => {
            let t = text();
            p.iter().any(|x| x.matches(&t))
        }
        Op::Re(r) => r.is_match(&text()),
        Op::Cmp(ord, or_eq, n) => {
            let x = match v {
                Val::Int(x) => *x,
                Val::Str(s) => match s.parse::<i64>() {
                    Ok(x) => x,
                    Err(_) => return false,
                },
                _ => return false,
            };
            let c = x.cmp(n);
            c == *ord || (*or_eq && c == std::cmp::Ordering::Equal)
        }
        Op::Cidr(nets) => {
            let Ok(ip) = text().parse::<IpAddr>() else {
                return false;
            };
            nets.iter().any(|(net, bits)| in_cidr(ip, *net, *bits))
        }
        Op::Exists(_) => true,
    }
}

fn in_cidr(ip: IpAddr, net: IpAddr, bits: u8) -> bool {
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(b)) => {
            let mask = if bits == 0 {
                0
            } else {
                u32::MAX << (32 - bits as u32)
            };
            u32::from(a) & mask == u32::from(b) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(b)) => {
            let mask = if bits == 0 {
                0
            } else {
                u128::MAX << (128 - bits as u32)
            };
            u128::from(a) & mask == u128::from(b) & mask
        }
        _ => false,
    }
}

/// Fills the pieces of an explanation that refer to step `step` (the last step also
/// fills those without a step number); earlier steps' events are gone by the time a
/// sequence completes, so each step renders its part when it matches.
pub fn render_step(
    pieces: &[Piece],
    step: usize,
    last: bool,
    fact: &Fact,
    out: &mut [Option<String>],
) {
    for (p, slot) in pieces.iter().zip(out.iter_mut()) {
        let (s, text) = match p {
            Piece::Lit(_) => continue,
            Piece::Field(s, f) => (*s, fact.get(*f).map(|v| f.render(&v))),
            Piece::Proc(s) => (*s, fact.image().map(|i| i.label())),
        };
        if s == Some(step) || (s.is_none() && last) {
            *slot = Some(text.unwrap_or_else(|| "?".into()));
        }
    }
}

/// Joins an explanation from its literal pieces and the rendered ones.
pub fn join(pieces: &[Piece], rendered: &[Option<String>]) -> String {
    let mut out = String::new();
    for (p, r) in pieces.iter().zip(rendered) {
        match p {
            Piece::Lit(s) => out.push_str(s),
            _ => out.push_str(r.as_deref().unwrap_or("?")),
        }
    }
    out
}
