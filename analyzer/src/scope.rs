//! Scoping, the same on every command that reads a trace (`timeline`, `detect`,
//! `incidents`, `tree`, `graph`, `stats`, `report`): a time window, processes (pids, a
//! process and its descendants, a container) and an incident's processes. One argument
//! struct ([`ScopeArgs`], flattened into each command's arguments) and one matcher
//! ([`Matcher`]) decide what is in scope; [`Scoped`] wraps any [`Sink`] so that it sees
//! only the events in scope.

use crate::model::process::ImageId;
use crate::model::Model;
use crate::replay::{Sink, Step};
use rewind_schema::RecordType;
use std::collections::{HashMap, HashSet};

/// A process selector: a pid (any image that had it) or an exec id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProcSel {
    /// Any image with this pid.
    Pid(u32),
    /// The image with this exec id (`tgid@start_ns`).
    ExecId(String),
}

impl std::str::FromStr for ProcSel {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        if let Ok(pid) = s.parse::<u32>() {
            return Ok(ProcSel::Pid(pid));
        }
        if s.contains('@') {
            return Ok(ProcSel::ExecId(s.to_string()));
        }
        Err(format!(
            "{s:?} is neither a pid nor an exec id (PID@START_NS, as printed by `analyzer tree`)"
        ))
    }
}

impl ProcSel {
    /// Does this image match (not its descendants)?
    pub fn matches(&self, model: &Model, id: ImageId) -> bool {
        let img = model.image(id);
        match self {
            ProcSel::Pid(p) => img.pid == *p,
            ProcSel::ExecId(e) => img.exec_id() == *e,
        }
    }
}

/// A time bound: absolute wall-clock ns, an offset from the first event, or a time of day
/// (UTC) on the day of the first event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeBound {
    /// ns since the Unix epoch.
    Wall(i128),
    /// ns after the first event.
    Offset(u64),
    /// ns since midnight UTC, on the day of the first event.
    TimeOfDay(u64),
}

const DAY_NS: i128 = 86_400_000_000_000;

/// `HH:MM[:SS[.fraction]]` as ns since midnight.
fn parse_time_of_day(s: &str) -> Option<u64> {
    let (hms, frac) = match s.split_once('.') {
        Some((a, b)) => (a, Some(b)),
        None => (s, None),
    };
    let parts: Vec<&str> = hms.split(':').collect();
    if !(2..=3).contains(&parts.len()) || frac.is_some() && parts.len() != 3 {
        return None;
    }
    let num = |p: &str, max: u64| -> Option<u64> {
        (p.len() == 2 && p.bytes().all(|b| b.is_ascii_digit()))
            .then(|| p.parse::<u64>().ok())
            .flatten()
            .filter(|v| *v < max)
    };
    let h = num(parts[0], 24)?;
    let m = num(parts[1], 60)?;
    let sec = match parts.get(2) {
        Some(p) => num(p, 60)?,
        None => 0,
    };
    let ns = match frac {
        Some(f) if !f.is_empty() && f.len() <= 9 && f.bytes().all(|b| b.is_ascii_digit()) => {
            f.parse::<u64>().ok()? * 10u64.pow(9 - f.len() as u32)
        }
        Some(_) => return None,
        None => 0,
    };
    Some(((h * 60 + m) * 60 + sec) * 1_000_000_000 + ns)
}

impl std::str::FromStr for TimeBound {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        if let Some(rel) = s.strip_prefix('+') {
            return crate::timefmt::parse_duration(rel)
                .map(TimeBound::Offset)
                .ok_or_else(|| {
                    format!("bad offset {s:?}: use +DURATION such as +90s, +1.5m, +250ms")
                });
        }
        if let Some(tod) = parse_time_of_day(s.trim()) {
            return Ok(TimeBound::TimeOfDay(tod));
        }
        crate::timefmt::parse_wall(s)
            .map(TimeBound::Wall)
            .ok_or_else(|| {
                format!(
                    "bad time {s:?}: use RFC 3339 (2026-11-25T18:05:03Z, 2026-11-25T18:05:03.5+01:00), \
a time of day on the trace's first day as the timeline prints it (18:04:46.255899, UTC) \
or an offset from the first event (+90s)"
                )
            })
    }
}

impl TimeBound {
    /// The instant, given the first event's.
    pub fn resolve(self, first_wall: i128) -> i128 {
        match self {
            TimeBound::Wall(w) => w,
            TimeBound::Offset(o) => first_wall + o as i128,
            TimeBound::TimeOfDay(t) => first_wall.div_euclid(DAY_NS) * DAY_NS + t as i128,
        }
    }
}

/// What is in scope.
#[derive(Debug, Clone, Default)]
pub struct Scope {
    /// Not before.
    pub since: Option<TimeBound>,
    /// Not after.
    pub until: Option<TimeBound>,
    /// Only these pids.
    pub pids: Vec<u32>,
    /// Only this process and its descendants.
    pub tree: Option<ProcSel>,
    /// Only processes in containers whose id starts with this (`host` for none).
    pub container: Option<String>,
    /// Only this incident (its number, as `analyzer incidents` prints it).
    pub incident: Option<usize>,
    /// Only these images (the incident's, once resolved).
    pub images: Option<HashSet<ImageId>>,
}

impl Scope {
    /// Everything is in scope.
    pub fn is_everything(&self) -> bool {
        self.since.is_none()
            && self.until.is_none()
            && !self.selects_processes()
            && self.incident.is_none()
    }

    /// Some process condition is set (events of no process are then out of scope).
    pub fn selects_processes(&self) -> bool {
        !self.pids.is_empty()
            || self.tree.is_some()
            || self.container.is_some()
            || self.images.is_some()
    }
}

/// Scoping options, shared by every command that reads a trace.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ScopeArgs {
    /// Only at or after this time: RFC 3339, a time of day as the timeline prints it
    /// (18:04:46.255899, UTC, on the trace's first day), or +DURATION after the first event.
    #[arg(long, value_name = "TIME")]
    pub since: Option<TimeBound>,
    /// Only at or before this time (same forms as --since).
    #[arg(long, value_name = "TIME")]
    pub until: Option<TimeBound>,
    /// Only these processes (repeatable).
    #[arg(long, value_name = "PID")]
    pub pid: Vec<u32>,
    /// Only this process and its descendants: a pid or an exec id (PID@START_NS).
    #[arg(long, value_name = "PID|EXEC_ID")]
    pub process_tree: Option<ProcSel>,
    /// Only processes in this container (id prefix), or `host` for none.
    #[arg(long, value_name = "ID")]
    pub container: Option<String>,
    /// Only the processes of this incident (numbered by `analyzer incidents`).
    #[arg(long, value_name = "N")]
    pub incident: Option<usize>,
}

impl ScopeArgs {
    /// The scope, before the incident (if any) is resolved: see [`resolve_incident`].
    pub fn scope(&self) -> Scope {
        Scope {
            since: self.since,
            until: self.until,
            pids: self.pid.clone(),
            tree: self.process_tree.clone(),
            container: self.container.clone(),
            incident: self.incident,
            images: None,
        }
    }
}

/// The scope `args` name over `set`: with `--incident N`, detection runs first (with
/// `rules`, so the numbers are those `analyzer incidents` prints with the same rules).
pub fn resolve(
    args: &ScopeArgs,
    set: &rewind_schema::trace::TraceSet,
    rules: &crate::cmd::detect::RuleArgs,
    progress: bool,
) -> anyhow::Result<Scope> {
    let mut scope = args.scope();
    if scope.incident.is_some() {
        let d = crate::cmd::detect::detect(set, rules, progress)?;
        resolve_incident(&mut scope, &d.incidents)?;
    }
    Ok(scope)
}

/// Sets `scope.images` to incident `scope.incident`'s processes, from `incidents`.
pub fn resolve_incident(
    scope: &mut Scope,
    incidents: &[crate::detect::incident::Incident],
) -> anyhow::Result<()> {
    let Some(n) = scope.incident else {
        return Ok(());
    };
    let Some(inc) = incidents.iter().find(|i| i.id == n) else {
        anyhow::bail!(
            "there is no incident {n}: these traces have {} (see `analyzer incidents`)",
            incidents.len()
        );
    };
    scope.images = Some(inc.images.iter().copied().collect());
    Ok(())
}

/// A scope being applied to a replay (or to a finished model): remembers the first
/// event's time (for offsets and times of day), which images are in the process
/// selection, and which images had an event in scope.
#[derive(Debug, Clone, Default)]
pub struct Matcher {
    /// The scope.
    pub scope: Scope,
    first_wall: Option<i128>,
    in_tree: HashMap<ImageId, bool>,
    /// Images with at least one event in scope.
    pub seen: HashSet<ImageId>,
}

impl Matcher {
    /// A matcher for `scope`.
    pub fn new(scope: Scope) -> Self {
        Matcher {
            scope,
            ..Default::default()
        }
    }

    /// Records the first event's time (the first call wins).
    pub fn first(&mut self, wall_ns: i128) {
        if self.first_wall.is_none() {
            self.first_wall = Some(wall_ns);
        }
    }

    /// The window, resolved: (not before, not after).
    pub fn window(&self) -> (Option<i128>, Option<i128>) {
        let first = self.first_wall.unwrap_or(0);
        (
            self.scope.since.map(|b| b.resolve(first)),
            self.scope.until.map(|b| b.resolve(first)),
        )
    }

    /// Is the span `[from, to]` (wall ns) at least partly inside the window?
    pub fn overlaps(&self, from: i128, to: i128) -> bool {
        let (since, until) = self.window();
        since.is_none_or(|s| to.max(from) >= s) && until.is_none_or(|u| from <= u)
    }

    fn tree_member(&mut self, model: &Model, id: ImageId) -> bool {
        let Some(sel) = self.scope.tree.clone() else {
            return true;
        };
        let mut path = Vec::new();
        let mut verdict = false;
        for img in model.ancestry(id) {
            if let Some(&v) = self.in_tree.get(&img.id) {
                verdict = v;
                break;
            }
            path.push(img.id);
            if sel.matches(model, img.id) {
                verdict = true;
                break;
            }
        }
        for p in path {
            self.in_tree.insert(p, verdict);
        }
        verdict
    }

    /// Is this image in the process selection (pids, tree, container, incident)?
    pub fn image(&mut self, model: &Model, id: ImageId) -> bool {
        let s = &self.scope;
        if let Some(set) = &s.images {
            if !set.contains(&id) {
                return false;
            }
        }
        let Some(img) = model.images.get(id.idx()) else {
            return false;
        };
        if !s.pids.is_empty() && !s.pids.contains(&img.pid) {
            return false;
        }
        if let Some(c) = &s.container {
            let ok = match &img.container {
                Some(k) => k.id.starts_with(c.as_str()),
                None => c == "host",
            };
            if !ok {
                return false;
            }
        }
        self.tree_member(model, id)
    }

    /// Something of image `id` (or of no process) at `[from, to]`: in scope?
    pub fn thing(&mut self, model: &Model, id: Option<ImageId>, from: i128, to: i128) -> bool {
        if !self.overlaps(from, to) {
            return false;
        }
        match id {
            Some(id) => self.image(model, id),
            None => !self.scope.selects_processes(),
        }
    }

    /// Is this replayed event in scope? (Call [`Matcher::first`] with every event
    /// before, so that relative times resolve.) Loss passes every process condition:
    /// it concerns everyone.
    pub fn event(&mut self, model: &Model, step: &Step) -> bool {
        if !self.overlaps(step.wall_ns, step.wall_ns) {
            return false;
        }
        if step.ev.kind.record_type() == RecordType::Loss {
            return true;
        }
        let ok = match step.at.image {
            Some(id) => self.image(model, id),
            None => !self.scope.selects_processes(),
        };
        if ok {
            if let Some(id) = step.at.image {
                self.seen.insert(id);
            }
        }
        ok
    }
}

/// A sink that does nothing: wrapped in [`Scoped`], it only finds which images had an
/// event in scope.
#[derive(Debug, Default)]
pub struct Ignore;

impl Sink for Ignore {
    fn step(&mut self, _: &Model, _: &Step) -> anyhow::Result<()> {
        Ok(())
    }
}

/// A sink that passes only the events in scope to `inner` (and `finish` always).
pub struct Scoped<'a> {
    /// The matcher (its `seen` images after the replay).
    pub matcher: Matcher,
    inner: &'a mut dyn Sink,
}

impl std::fmt::Debug for Scoped<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scoped")
            .field("matcher", &self.matcher)
            .finish_non_exhaustive()
    }
}

impl<'a> Scoped<'a> {
    /// `inner`, seeing only what `scope` selects.
    pub fn new(scope: Scope, inner: &'a mut dyn Sink) -> Self {
        Scoped {
            matcher: Matcher::new(scope),
            inner,
        }
    }
}

impl Sink for Scoped<'_> {
    fn step(&mut self, model: &Model, step: &Step) -> anyhow::Result<()> {
        self.matcher.first(step.wall_ns);
        if self.matcher.event(model, step) {
            self.inner.step(model, step)?;
        }
        Ok(())
    }

    fn finish(&mut self, model: &Model) -> anyhow::Result<()> {
        self.inner.finish(model)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_of_day_parse_and_resolve_on_the_first_day() {
        let t: TimeBound = "18:04:46.255899".parse().expect("time of day");
        assert_eq!(
            t,
            TimeBound::TimeOfDay(((18 * 60 + 4) * 60 + 46) * 1_000_000_000 + 255_899_000)
        );
        let first = crate::timefmt::parse_wall("2026-11-25T18:04:33.1Z").expect("wall");
        let want = crate::timefmt::parse_wall("2026-11-25T18:04:46.255899Z").expect("wall");
        assert_eq!(t.resolve(first), want);
        assert!("18:04".parse::<TimeBound>().is_ok());
        for bad in [
            "24:00:00",
            "18:4:46",
            "18:04:46.",
            "18:04.5",
            "18:04:46.1234567890",
        ] {
            assert!(bad.parse::<TimeBound>().is_err(), "{bad}");
        }
        assert_eq!(
            "+90s".parse::<TimeBound>(),
            Ok(TimeBound::Offset(90_000_000_000))
        );
    }
}
