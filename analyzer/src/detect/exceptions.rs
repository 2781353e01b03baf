//! Exceptions (an allowlist): findings an operator has reviewed and wants to stop seeing.
//! A YAML file is a list of entries; an entry names a rule id (or `*`) and any of binary
//! (exact path, or a prefix when it ends in `*`), parent binary (likewise), file path
//! prefix, uid and container id prefix. A match is dropped when every condition of one
//! entry holds for the event that produced it (with the process model as it stood then).

use super::fact::{Fact, Field, Val};
use serde::Deserialize;
use std::path::Path;

/// One entry as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Spec {
    rule: String,
    binary: Option<String>,
    parent: Option<String>,
    path: Option<String>,
    uid: Option<u32>,
    container: Option<String>,
    /// Why it is allowed (for people; not matched).
    #[allow(dead_code)]
    reason: Option<String>,
}

/// A path, exact or (ending in `*`) a prefix.
#[derive(Debug, Clone)]
enum Pat {
    Exact(String),
    Prefix(String),
}

impl Pat {
    fn new(s: String) -> Pat {
        match s.strip_suffix('*') {
            Some(p) => Pat::Prefix(p.to_string()),
            None => Pat::Exact(s),
        }
    }

    fn matches(&self, v: &str) -> bool {
        match self {
            Pat::Exact(s) => v == s,
            Pat::Prefix(p) => v.starts_with(p.as_str()),
        }
    }
}

/// One compiled entry.
#[derive(Debug, Clone)]
struct Entry {
    rule: Option<String>,
    binary: Option<Pat>,
    parent: Option<Pat>,
    path: Option<String>,
    uid: Option<u32>,
    container: Option<String>,
}

/// The exceptions of one file.
#[derive(Debug, Clone, Default)]
pub struct Exceptions {
    entries: Vec<Entry>,
    path_field: Option<Field>,
}

/// The line (1-based) of the `n`th top-level list item of `text`.
fn item_line(text: &str, n: usize) -> usize {
    text.lines()
        .enumerate()
        .filter(|(_, l)| l.starts_with('-') && !l.starts_with("---"))
        .nth(n)
        .map(|(i, _)| i + 1)
        .unwrap_or(1)
}

impl Exceptions {
    /// Reads and checks an exceptions file; errors name the file, the line and the problem.
    pub fn load(path: &Path) -> Result<Exceptions, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        Self::parse(&text, &path.display().to_string())
    }

    /// Parses the text of an exceptions file called `source`.
    pub fn parse(text: &str, source: &str) -> Result<Exceptions, String> {
        let specs: Option<Vec<Spec>> =
            yaml_serde::from_str(text).map_err(|e| format!("{source}: {e}"))?;
        let mut entries = Vec::new();
        for (n, s) in specs.unwrap_or_default().into_iter().enumerate() {
            let at = |why: &str| format!("{source}: line {}: {why}", item_line(text, n));
            let rule = s.rule.trim().to_string();
            if rule.is_empty() {
                return Err(at("`rule` is empty (a rule id, or \"*\" for any rule)"));
            }
            let empty = |v: &Option<String>| v.as_deref().is_some_and(|x| x.trim().is_empty());
            if empty(&s.binary) || empty(&s.parent) || empty(&s.path) || empty(&s.container) {
                return Err(at(
                    "an empty value would match everything; leave the key out",
                ));
            }
            let any = rule == "*";
            if any
                && s.binary.is_none()
                && s.parent.is_none()
                && s.path.is_none()
                && s.uid.is_none()
                && s.container.is_none()
            {
                return Err(at(
                    "rule \"*\" with no binary, parent, path, uid or container would drop every finding",
                ));
            }
            entries.push(Entry {
                rule: (!any).then_some(rule),
                binary: s.binary.map(Pat::new),
                parent: s.parent.map(Pat::new),
                path: s.path,
                uid: s.uid,
                container: s.container,
            });
        }
        Ok(Exceptions {
            entries,
            path_field: Field::parse("file.path"),
        })
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// No entries?
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Does an entry drop a match of rule `rule_id` on this event?
    pub fn drops(&self, rule_id: &str, fact: &Fact) -> bool {
        self.entries
            .iter()
            .any(|e| self.entry_drops(e, rule_id, fact))
    }

    fn entry_drops(&self, e: &Entry, rule_id: &str, fact: &Fact) -> bool {
        if e.rule.as_deref().is_some_and(|r| r != rule_id) {
            return false;
        }
        let img = fact.image();
        if let Some(p) = &e.binary {
            if !img.is_some_and(|i| p.matches(&String::from_utf8_lossy(i.exe.as_bytes()))) {
                return false;
            }
        }
        if let Some(p) = &e.parent {
            let parent = img.and_then(|i| fact.model.process_ancestry(i.id).nth(1));
            if !parent.is_some_and(|i| p.matches(&String::from_utf8_lossy(i.exe.as_bytes()))) {
                return false;
            }
        }
        if let Some(uid) = e.uid {
            if img.is_none_or(|i| i.creds.uid != uid) {
                return false;
            }
        }
        if let Some(c) = &e.container {
            let id = img
                .and_then(|i| i.container.as_ref())
                .map(|c| c.id.as_str());
            if !id.is_some_and(|id| id.starts_with(c.as_str())) {
                return false;
            }
        }
        if let Some(prefix) = &e.path {
            let v = self.path_field.and_then(|f| fact.get(f));
            let hit = match &v {
                Some(Val::Str(s)) => s.starts_with(prefix.as_str()),
                Some(Val::List(l)) => l
                    .iter()
                    .any(|x| matches!(x, Val::Str(s) if s.starts_with(prefix.as_str()))),
                _ => false,
            };
            if !hit {
                return false;
            }
        }
        true
    }
}
