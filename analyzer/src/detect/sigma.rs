//! Sigma rules for Linux, evaluated on the same facts as Rewind's rules.
//!
//! Parsing and matching are the `rsigma` crates' (`rsigma-parser` reads the YAML into
//! an AST, `rsigma-eval` compiles each rule once and matches events without
//! allocating); this module decides which rules Rewind can answer honestly, and maps
//! Sigma's field names onto the process model ([`event`]). A rule is evaluated only
//! when its log source (`product: linux` or none, with a category of
//! [`Category`]), every field it names and every modifier it uses can be; every
//! other rule is listed by [`SigmaRules::skipped`] with the reason, never dropped
//! silently.

pub mod event;

use super::fact::Fact;
use super::rule::{RuleMeta, Severity};
use super::ExternalRules;
use event::{Category, SigmaEvent};
use rewind_schema::event::RecordType;
use rsigma_eval::{compile_rule, evaluate_rule, CompiledRule};
use rsigma_parser::{Detection, DetectionItem, Modifier, SigmaRule, SigmaValue};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// A loaded set of Sigma rules.
#[derive(Debug, Default)]
pub struct SigmaRules {
    metas: Vec<RuleMeta>,
    rules: Vec<(Category, CompiledRule)>,
    /// Rule indexes per category ([`Category::index`]).
    by_cat: [Vec<usize>; 4],
    skipped: Vec<(String, String)>,
}

/// Every `*.yml` / `*.yaml` under `dir`, sorted, so load order (and so rule order and
/// the skipped list) is the same run to run.
fn rule_files(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let rd = std::fs::read_dir(&d)
            .map_err(|e| anyhow::anyhow!("cannot read directory {}: {e}", d.display()))?;
        for entry in rd {
            let path = entry
                .map_err(|e| anyhow::anyhow!("cannot read directory {}: {e}", d.display()))?
                .path();
            if path.is_dir() {
                stack.push(path);
            } else if matches!(
                path.extension().and_then(|e| e.to_str()),
                Some("yml" | "yaml")
            ) {
                out.push(path);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// `attack.t1059.004` -> `T1059.004`; other tags (tactics, groups, cars) are not ids.
fn attack_id(tag: &str) -> Option<String> {
    let t = tag.strip_prefix("attack.")?;
    let id = t.strip_prefix('t').or_else(|| t.strip_prefix('T'))?;
    let (main, sub) = match id.split_once('.') {
        Some((m, s)) => (m, Some(s)),
        None => (id, None),
    };
    let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(main, 4) || !sub.is_none_or(|s| digits(s, 3)) {
        return None;
    }
    Some(format!("T{}", id.to_ascii_uppercase()))
}

/// Why `rule` cannot be evaluated, or its category.
fn check(rule: &SigmaRule) -> Result<Category, String> {
    let ls = &rule.logsource;
    if let Some(p) = &ls.product {
        if !p.eq_ignore_ascii_case("linux") {
            return Err(format!(
                "log source product {p:?}: only Linux rules are evaluated"
            ));
        }
    }
    if let Some(s) = &ls.service {
        return Err(format!(
            "log source service {s:?}: Rewind records kernel events, not {s} logs \
             (only the categories process_creation, file_event, file_delete and \
             network_connection are mapped)"
        ));
    }
    let Some(c) = &ls.category else {
        return Err("log source has no category (process_creation, file_event, \
                    file_delete or network_connection are mapped)"
            .into());
    };
    let Some(cat) = Category::parse(c) else {
        return Err(format!(
            "log source category {c:?} has no mapping (process_creation, file_event, \
             file_delete and network_connection do)"
        ));
    };
    if let Some(tf) = &rule.detection.timeframe {
        return Err(format!(
            "timeframe {tf:?}: aggregations over time are not evaluated"
        ));
    }
    let mut names: Vec<&str> = rule.detection.named.keys().map(String::as_str).collect();
    names.sort_unstable();
    for name in names {
        check_detection(&rule.detection.named[name], cat)?;
    }
    Ok(cat)
}

fn check_detection(d: &Detection, cat: Category) -> Result<(), String> {
    match d {
        Detection::AllOf(items) => items.iter().try_for_each(|i| check_item(i, cat)),
        Detection::AnyOf(ds) | Detection::And(ds) => {
            ds.iter().try_for_each(|d| check_detection(d, cat))
        }
        Detection::Keywords(_) => Ok(()),
        Detection::ArrayMatch { field, .. } => Err(format!(
            "field {field:?}: array matching has no mapping (no Sigma field of {} is an \
             array of objects)",
            cat.name()
        )),
        Detection::Conditional { named, .. } => {
            named.values().try_for_each(|d| check_detection(d, cat))
        }
    }
}

fn unmapped(name: &str, cat: Category) -> String {
    format!(
        "field {name:?} has no mapping for {} (see the Sigma field table in \
         analyzer/rules/README.md)",
        cat.name()
    )
}

fn check_item(i: &DetectionItem, cat: Category) -> Result<(), String> {
    if let Some(name) = &i.field.name {
        if !event::is_mapped(name, cat) {
            return Err(unmapped(name, cat));
        }
    }
    for m in &i.field.modifiers {
        match m {
            Modifier::Expand => {
                return Err("modifier expand: placeholders need a processing pipeline, \
                            and none is configured"
                    .into())
            }
            Modifier::Minute
            | Modifier::Hour
            | Modifier::Day
            | Modifier::Week
            | Modifier::Month
            | Modifier::Year => {
                return Err(format!(
                    "modifier {m:?}: no timestamp field is mapped for matching"
                ))
            }
            Modifier::FieldRef => {
                for v in &i.values {
                    if let SigmaValue::String(s) = v {
                        let r = s.as_plain().unwrap_or_default();
                        if !event::is_mapped(&r, cat) {
                            return Err(unmapped(&r, cat));
                        }
                    }
                }
            }
            _ => {}
        }
    }
    Ok(())
}

impl SigmaRules {
    /// Loads every rule under `dir` (recursively, `*.yml` and `*.yaml`).
    ///
    /// Errors only when the directory cannot be read. A file that cannot be read or
    /// parsed, a document that is not a valid rule, and a rule that cannot be
    /// evaluated are all listed by [`SigmaRules::skipped`] with the file and the
    /// reason, and the other rules still run: one bad rule in a downloaded rule set
    /// should not hide what the rest find.
    pub fn load_dir(dir: &Path) -> anyhow::Result<Self> {
        let mut set = SigmaRules::default();
        let mut ids: HashMap<String, String> = HashMap::new();
        for path in rule_files(dir)? {
            let shown = path.display().to_string();
            let text = match std::fs::read_to_string(&path) {
                Ok(t) => t,
                Err(e) => {
                    set.skipped.push((shown, format!("cannot read: {e}")));
                    continue;
                }
            };
            set.load_text(&text, &shown, &mut ids);
        }
        Ok(set)
    }

    /// Loads the rules of one file's text; `source` names it in metas and skips.
    pub fn load_str(text: &str, source: &str) -> Self {
        let mut set = SigmaRules::default();
        set.load_text(text, source, &mut HashMap::new());
        set
    }

    fn load_text(&mut self, text: &str, source: &str, ids: &mut HashMap<String, String>) {
        let coll = match rsigma_parser::parse_sigma_yaml(text) {
            Ok(c) => c,
            Err(e) => {
                self.skipped
                    .push((source.to_string(), format!("not a Sigma file: {e}")));
                return;
            }
        };
        for e in &coll.errors {
            self.skipped
                .push((source.to_string(), format!("not a valid Sigma rule: {e}")));
        }
        for c in &coll.correlations {
            self.skipped.push((
                format!("{source} ({})", c.title),
                format!(
                    "correlation rule ({:?}): correlations are not evaluated, only \
                     detection rules",
                    c.correlation_type
                ),
            ));
        }
        for f in &coll.filters {
            self.skipped.push((
                format!("{source} ({})", f.title),
                "filter rule: Sigma filters are not applied".into(),
            ));
        }
        for (n, rule) in coll.rules.iter().enumerate() {
            let shown = format!("{source} ({})", rule.title);
            let cat = match check(rule) {
                Ok(c) => c,
                Err(why) => {
                    self.skipped.push((shown, why));
                    continue;
                }
            };
            let compiled = match compile_rule(rule) {
                Ok(c) => c,
                Err(e) => {
                    self.skipped
                        .push((shown, format!("the Sigma engine cannot compile it: {e}")));
                    continue;
                }
            };
            let id = rule.id.clone().unwrap_or_else(|| {
                let stem = Path::new(source)
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_default();
                format!("sigma:{stem}#{}", n + 1)
            });
            if let Some(first) = ids.get(&id) {
                self.skipped
                    .push((shown, format!("rule id {id} is also defined by {first}")));
                continue;
            }
            ids.insert(id.clone(), source.to_string());
            let severity = match rule.level.as_ref() {
                Some(l) => Severity::parse(l.as_str()).unwrap_or(Severity::Medium),
                None => Severity::Medium,
            };
            let mut attack: Vec<String> = rule.tags.iter().filter_map(|t| attack_id(t)).collect();
            attack.dedup();
            self.by_cat[cat.index()].push(self.rules.len());
            self.metas.push(RuleMeta {
                id,
                title: rule.title.clone(),
                severity,
                attack,
                description: rule.description.clone().unwrap_or_default().trim().into(),
                source: source.to_string(),
            });
            self.rules.push((cat, compiled));
        }
    }

    /// Rules that cannot be evaluated: (file and rule title, reason).
    pub fn skipped(&self) -> &[(String, String)] {
        &self.skipped
    }

    /// How many rules are evaluated.
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    /// No rule is evaluated.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The log source category of rule `idx`.
    pub fn category(&self, idx: usize) -> Option<Category> {
        self.rules.get(idx).map(|r| r.0)
    }
}

impl ExternalRules for SigmaRules {
    fn metas(&self) -> &[RuleMeta] {
        &self.metas
    }

    fn wants(&self, t: RecordType) -> bool {
        let has = |c: Category| !self.by_cat[c.index()].is_empty();
        match t {
            RecordType::Exec => has(Category::ProcessCreation),
            RecordType::Open | RecordType::Rename => has(Category::FileEvent),
            RecordType::Unlink => has(Category::FileDelete),
            RecordType::Connect | RecordType::Accept => has(Category::NetworkConnection),
            _ => false,
        }
    }

    fn eval(&mut self, fact: &Fact, hits: &mut Vec<usize>) {
        let Some(cat) = Category::of(&fact.step.ev.kind) else {
            return;
        };
        let ev = SigmaEvent { fact, cat };
        for &i in &self.by_cat[cat.index()] {
            if evaluate_rule(&self.rules[i].1, &ev).is_some() {
                hits.push(i);
            }
        }
    }

    fn explain(&self, idx: usize, fact: &Fact) -> String {
        // The title is on the finding already: say what the event was.
        match Category::of(&fact.step.ev.kind) {
            Some(cat) => SigmaEvent { fact, cat }.summary(),
            None => self.metas[idx].title.clone(),
        }
    }
}
