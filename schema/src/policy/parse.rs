//! From YAML to the typed model, refusing what is invalid with its line and column.
//!
//! Two passes. serde (with `deny_unknown_fields`) turns the text into raw structs; its
//! errors (syntax, unknown key, wrong type) already carry a position. Semantic checks
//! (bad CIDR, selector that cannot apply to the rule's operations, duplicate id, ...) run
//! on the raw structs and name the offending node by its path (`rules[3].match.dest`);
//! only when one fails is the text walked again, with a serde seed that stops at that
//! node, to learn its position from the error yaml_serde attaches to it (yaml_serde has
//! no public span API).

use super::*;
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;

/// A scalar kept as text, whatever YAML typed it as (`443` and `"8000-8999"` alike).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Text(String);

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Text;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string or a number")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Text, E> {
                Ok(Text(v.to_string()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Text, E> {
                Ok(Text(v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Text, E> {
                Ok(Text(v.to_string()))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Text, E> {
                Ok(Text(v.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

/// One value or a list of them (`on: open` or `on: [open, exec]`).
#[derive(Debug, Clone, PartialEq, Eq)]
struct OneOrMany(Vec<Text>);

impl<'de> Deserialize<'de> for OneOrMany {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = OneOrMany;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an operation or a list of operations")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<OneOrMany, E> {
                Ok(OneOrMany(vec![Text(v.to_string())]))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut s: A) -> Result<OneOrMany, A::Error> {
                let mut v = Vec::new();
                while let Some(t) = s.next_element::<Text>()? {
                    v.push(t);
                }
                Ok(OneOrMany(v))
            }
        }
        d.deserialize_any(V)
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    version: Text,
    #[serde(default)]
    name: String,
    mode: Option<Text>,
    kill_rate_limit: Option<u32>,
    rules: Vec<RawRule>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    id: Text,
    #[serde(default)]
    name: String,
    on: OneOrMany,
    action: Text,
    #[serde(rename = "match")]
    matcher: Option<RawSel>,
    unless: Option<RawSel>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStr {
    #[serde(default)]
    exact: Vec<String>,
    #[serde(default)]
    prefix: Vec<String>,
    #[serde(default)]
    suffix: Vec<String>,
    #[serde(default)]
    glob: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawArgs {
    #[serde(default)]
    contains: Vec<String>,
    #[serde(default)]
    prefix: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDest {
    #[serde(default)]
    cidr: Vec<Text>,
    #[serde(default)]
    ports: Vec<Text>,
    protocol: Option<Text>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSel {
    path: Option<RawStr>,
    binary: Option<RawStr>,
    parent: Option<RawStr>,
    ancestor: Option<RawStr>,
    args: Option<RawArgs>,
    uid: Option<Vec<u32>>,
    euid: Option<Vec<u32>>,
    privileged: Option<bool>,
    caps: Option<Vec<Text>>,
    container: Option<Text>,
    cgroup: Option<RawStr>,
    namespaces: Option<Text>,
    dest: Option<RawDest>,
}

/// One step of a path into the document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Step {
    /// A key of a mapping (as a last step: the key itself).
    Key(&'static str),
    /// An element of a sequence.
    Index(usize),
    /// As a last step after a key: that key's value rather than the key.
    Value,
}

/// A semantic error: where (path into the document) and what.
struct Bad {
    at: Vec<Step>,
    message: String,
}

type Check<T> = Result<T, Bad>;

fn bad<T>(at: &[Step], message: impl Into<String>) -> Check<T> {
    Err(Bad {
        at: at.to_vec(),
        message: message.into(),
    })
}

fn with(at: &[Step], s: Step) -> Vec<Step> {
    let mut v = at.to_vec();
    v.push(s);
    v
}

pub(super) fn parse(bytes: &[u8], file: &str) -> Result<Policy, PolicyError> {
    let invalid = |line: usize, column: usize, message: String| PolicyError::Invalid {
        file: file.to_string(),
        line,
        column,
        message,
    };
    let text = std::str::from_utf8(bytes).map_err(|e| {
        // Position of the first invalid byte, for the message.
        let upto = &bytes[..e.valid_up_to()];
        let line = upto.iter().filter(|&&b| b == b'\n').count() + 1;
        let col = upto.iter().rev().take_while(|&&b| b != b'\n').count() + 1;
        invalid(line, col, "the file is not valid UTF-8".into())
    })?;
    if text.trim().is_empty() {
        return Err(invalid(1, 1, "the policy is empty".into()));
    }
    let raw: RawPolicy = yaml_serde::from_str(text).map_err(|e| {
        let (line, col) = e
            .location()
            .map(|l| (l.line(), l.column()))
            .unwrap_or((0, 0));
        invalid(line, col, yaml_message(&e))
    })?;
    let mut p = build(raw).map_err(|b| {
        let (line, col) = locate(text, &b.at).unwrap_or((0, 0));
        invalid(line, col, b.message)
    })?;
    rule_lines(text, &mut p);
    Ok(p)
}

/// yaml_serde's message without its trailing " at line N column M" (we print our own).
fn yaml_message(e: &yaml_serde::Error) -> String {
    let s = e.to_string();
    match s.rfind(" at line ") {
        Some(i) if e.location().is_some() => s[..i].to_string(),
        _ => s,
    }
}

fn build(raw: RawPolicy) -> Check<Policy> {
    if raw.version.0 != "1" {
        return bad(
            &[Step::Key("version"), Step::Value],
            format!(
                "unsupported policy version {:?}: this build reads version 1",
                raw.version.0
            ),
        );
    }
    let mode = match raw.mode.as_ref().map(|m| m.0.as_str()) {
        None | Some("enforce") => Mode::Enforce,
        Some("monitor") => Mode::Monitor,
        Some(m) => {
            return bad(
                &[Step::Key("mode"), Step::Value],
                format!("unknown mode {m:?}: expected enforce or monitor"),
            )
        }
    };
    let kill_rate_limit = raw.kill_rate_limit.unwrap_or(DEFAULT_KILL_RATE_LIMIT);
    if kill_rate_limit == 0 {
        return bad(
            &[Step::Key("kill_rate_limit"), Step::Value],
            "kill_rate_limit must be at least 1 (kills or stops per second per rule)",
        );
    }
    if raw.rules.is_empty() {
        return bad(&[Step::Key("rules")], "the policy has no rules");
    }
    if raw.rules.len() > MAX_RULES {
        return bad(
            &[Step::Key("rules"), Step::Index(MAX_RULES)],
            format!("too many rules: {} (at most {MAX_RULES})", raw.rules.len()),
        );
    }
    let mut rules: Vec<Rule> = Vec::with_capacity(raw.rules.len());
    for (i, r) in raw.rules.into_iter().enumerate() {
        let at = [Step::Key("rules"), Step::Index(i)];
        let rule = build_rule(i, r, &at)?;
        if let Some(prev) = rules.iter().find(|p| p.id == rule.id) {
            return bad(
                &with(&at, Step::Key("id")),
                format!(
                    "duplicate rule id {:?} (rule {} has it already)",
                    rule.id,
                    prev.index + 1
                ),
            );
        }
        rules.push(rule);
    }
    Ok(Policy {
        version: 1,
        name: raw.name,
        mode,
        kill_rate_limit,
        rules,
        sha256: [0; 32],
    })
}

fn valid_id(id: &str) -> bool {
    (1..=63).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

fn build_rule(i: usize, r: RawRule, at: &[Step]) -> Check<Rule> {
    if !valid_id(&r.id.0) {
        return bad(
            &[at, &[Step::Key("id"), Step::Value]].concat(),
            format!(
                "invalid rule id {:?}: 1 to 63 characters of A-Z a-z 0-9 _ . -",
                r.id.0
            ),
        );
    }
    let on_at = with(at, Step::Key("on"));
    if r.on.0.is_empty() {
        return bad(&on_at, "`on` lists no operation");
    }
    let mut on = Vec::new();
    for (j, t) in r.on.0.iter().enumerate() {
        let Some(op) = Op::parse(&t.0) else {
            let at = if r.on.0.len() == 1 {
                with(&on_at, Step::Value)
            } else {
                with(&on_at, Step::Index(j))
            };
            return bad(
                &at,
                format!(
                    "unknown operation {:?}: expected one of open, exec, unlink, rename, chmod, connect, send",
                    t.0
                ),
            );
        };
        if !on.contains(&op) {
            on.push(op);
        }
    }
    let Some(action) = Action::parse(&r.action.0) else {
        return bad(
            &[at, &[Step::Key("action"), Step::Value]].concat(),
            format!(
                "unknown action {:?}: expected kill, stop, deny or audit",
                r.action.0
            ),
        );
    };
    let matcher = match r.matcher {
        Some(m) => build_sel(m, &on, &with(at, Step::Key("match")))?,
        None => Selectors::default(),
    };
    let unless = match r.unless {
        Some(u) => Some(build_sel(u, &on, &with(at, Step::Key("unless")))?),
        None => None,
    };
    Ok(Rule {
        index: i as u32,
        id: r.id.0,
        name: r.name,
        on,
        action,
        matcher,
        unless,
        line: 0,
    })
}

/// A selector that applies only to some operations: refused when a listed operation
/// has nothing for it to look at (`dest` on `open`, `path` on `connect`).
fn only_for(at: &[Step], key: &'static str, on: &[Op], file: bool) -> Check<()> {
    if let Some(op) = on.iter().find(|o| o.is_file() != file) {
        let what = if file {
            "a file path: it applies to open, exec, unlink, rename and chmod"
        } else {
            "a network destination: it applies to connect and send"
        };
        return bad(
            &with(at, Step::Key(key)),
            format!(
                "`{key}` is not valid for `{}`: `{key}` selects {what}",
                op.name()
            ),
        );
    }
    Ok(())
}

fn build_sel(s: RawSel, on: &[Op], at: &[Step]) -> Check<Selectors> {
    let mut out = Selectors::default();
    if let Some(p) = s.path {
        only_for(at, "path", on, true)?;
        out.path = Some(build_str(p, &with(at, Step::Key("path")), true)?);
    }
    for (key, raw, slot) in [
        ("binary", s.binary, &mut out.binary),
        ("parent", s.parent, &mut out.parent),
        ("ancestor", s.ancestor, &mut out.ancestor),
        ("cgroup", s.cgroup, &mut out.cgroup),
    ] {
        if let Some(r) = raw {
            *slot = Some(build_str(r, &with(at, Step::Key(key)), false)?);
        }
    }
    if let Some(a) = s.args {
        let aat = with(at, Step::Key("args"));
        if a.contains.is_empty() && a.prefix.is_empty() {
            return bad(&aat, "`args` lists nothing: give `contains` or `prefix`");
        }
        for (key, list) in [("contains", &a.contains), ("prefix", &a.prefix)] {
            check_list(&with(&aat, Step::Key(key)), list, false)?;
        }
        out.args = Some(ArgsMatch {
            contains: a.contains,
            prefix: a.prefix,
        });
    }
    for (key, raw, slot) in [
        ("uid", s.uid, &mut out.uid),
        ("euid", s.euid, &mut out.euid),
    ] {
        if let Some(v) = raw {
            let kat = with(at, Step::Key(key));
            if v.is_empty() {
                return bad(&kat, format!("`{key}` lists no id"));
            }
            if v.len() > MAX_LIST {
                return bad(
                    &with(&kat, Step::Index(MAX_LIST)),
                    format!("`{key}` lists {} ids (at most {MAX_LIST})", v.len()),
                );
            }
            *slot = Some(v);
        }
    }
    out.privileged = s.privileged;
    if let Some(caps) = s.caps {
        let cat = with(at, Step::Key("caps"));
        if caps.is_empty() {
            return bad(&cat, "`caps` lists no capability");
        }
        let mut mask = 0u64;
        for (j, c) in caps.iter().enumerate() {
            let name = c.0.to_ascii_uppercase();
            let name = if name.starts_with("CAP_") {
                name
            } else {
                format!("CAP_{name}")
            };
            match CAP_NAMES.iter().position(|n| *n == name) {
                Some(bit) => mask |= 1 << bit,
                None => {
                    return bad(
                        &with(&cat, Step::Index(j)),
                        format!("unknown capability {:?}", c.0),
                    )
                }
            }
        }
        out.caps = Some(mask);
    }
    if let Some(c) = s.container {
        out.container = Some(match c.0.as_str() {
            "any" => ContainerSel::Any,
            "host" => ContainerSel::Host,
            id if !id.is_empty()
                && id.len() <= 64
                && id.bytes().all(|b| b.is_ascii_hexdigit()) =>
            {
                ContainerSel::Id(id.to_ascii_lowercase())
            }
            other => {
                return bad(
                    &[at, &[Step::Key("container"), Step::Value]].concat(),
                    format!(
                        "invalid container {other:?}: expected any, host or a container id (hex, up to 64 digits)"
                    ),
                )
            }
        });
    }
    if let Some(n) = s.namespaces {
        out.namespaces = Some(match n.0.as_str() {
            "host" => NsSel::Host,
            "not-host" => NsSel::NotHost,
            other => {
                return bad(
                    &[at, &[Step::Key("namespaces"), Step::Value]].concat(),
                    format!("invalid namespaces {other:?}: expected host or not-host"),
                )
            }
        });
    }
    if let Some(d) = s.dest {
        only_for(at, "dest", on, false)?;
        out.dest = Some(build_dest(d, on, &with(at, Step::Key("dest")))?);
    }
    if out == Selectors::default() {
        return bad(
            at,
            "no selector given (leave the key out to match everything)",
        );
    }
    Ok(out)
}

fn check_list(at: &[Step], list: &[String], path_like: bool) -> Check<()> {
    if list.len() > MAX_LIST {
        return bad(
            &with(at, Step::Index(MAX_LIST)),
            format!("{} strings (at most {MAX_LIST})", list.len()),
        );
    }
    for (j, s) in list.iter().enumerate() {
        if s.is_empty() {
            return bad(&with(at, Step::Index(j)), "empty string");
        }
        if path_like && s.len() > MAX_PATH {
            return bad(
                &with(at, Step::Index(j)),
                format!("{} bytes long (at most {MAX_PATH})", s.len()),
            );
        }
    }
    Ok(())
}

fn build_str(r: RawStr, at: &[Step], is_path: bool) -> Check<StrMatch> {
    if !is_path && !r.glob.is_empty() {
        return bad(
            &with(at, Step::Key("glob")),
            "`glob` is valid only for `path`",
        );
    }
    let m = StrMatch {
        exact: r.exact,
        prefix: r.prefix,
        suffix: r.suffix,
        glob: r.glob,
    };
    if m.is_empty() {
        let key = match at.last() {
            Some(Step::Key(k)) => k,
            _ => "selector",
        };
        return bad(
            at,
            format!("`{key}` lists nothing: give exact, prefix, suffix (or glob for path)"),
        );
    }
    for (key, list) in [
        ("exact", &m.exact),
        ("prefix", &m.prefix),
        ("suffix", &m.suffix),
        ("glob", &m.glob),
    ] {
        check_list(&with(at, Step::Key(key)), list, true)?;
    }
    for (j, g) in m.glob.iter().enumerate() {
        if !g.starts_with('/') || g.contains("**") {
            return bad(
                &with(&with(at, Step::Key("glob")), Step::Index(j)),
                format!("invalid glob {g:?}: an absolute path where `*` matches within one component (no `**`)"),
            );
        }
    }
    Ok(m)
}

fn build_dest(d: RawDest, on: &[Op], at: &[Step]) -> Check<DestSel> {
    let mut cidr = Vec::new();
    for (j, c) in d.cidr.iter().enumerate() {
        cidr.push(Cidr::parse(&c.0).or_else(|e| {
            bad(
                &with(&with(at, Step::Key("cidr")), Step::Index(j)),
                format!("bad CIDR: {e}"),
            )
        })?);
    }
    let mut ports = Vec::new();
    for (j, p) in d.ports.iter().enumerate() {
        let pat = with(&with(at, Step::Key("ports")), Step::Index(j));
        let num = |s: &str| s.trim().parse::<u16>().ok().filter(|&n| n > 0);
        let range = match p.0.split_once('-') {
            None => num(&p.0).map(|n| (n, n)),
            Some((a, b)) => match (num(a), num(b)) {
                (Some(a), Some(b)) if a <= b => Some((a, b)),
                _ => None,
            },
        };
        match range {
            Some(r) => ports.push(r),
            None => {
                return bad(
                    &pat,
                    format!(
                        "bad port range {:?}: a port 1-65535 or \"LOW-HIGH\" with LOW <= HIGH",
                        p.0
                    ),
                )
            }
        }
    }
    for (key, n) in [("cidr", cidr.len()), ("ports", ports.len())] {
        if n > MAX_LIST {
            return bad(
                &with(&with(at, Step::Key(key)), Step::Index(MAX_LIST)),
                format!("`{key}` lists {n} entries (at most {MAX_LIST})"),
            );
        }
    }
    let protocol = match d.protocol.as_ref().map(|p| p.0.as_str()) {
        None | Some("any") => Proto::Any,
        Some("tcp") => Proto::Tcp,
        Some("udp") => Proto::Udp,
        Some(p) => {
            return bad(
                &[at, &[Step::Key("protocol"), Step::Value]].concat(),
                format!("unknown protocol {p:?}: expected tcp, udp or any"),
            )
        }
    };
    if protocol == Proto::Tcp && on.contains(&Op::Send) {
        return bad(
            &[at, &[Step::Key("protocol"), Step::Value]].concat(),
            "`protocol: tcp` never matches `send` (send is a UDP datagram)",
        );
    }
    if cidr.is_empty() && ports.is_empty() && d.protocol.is_none() {
        return bad(at, "`dest` lists nothing: give cidr, ports or protocol");
    }
    Ok(DestSel {
        cidr,
        ports,
        protocol,
    })
}

/// Marker message of the error the locating seed raises at its target.
const HERE: &str = "\u{1}rewind-policy-locate\u{1}";

/// Line and column (1-based) of the node at `path`: for a final `Key`, the key itself;
/// for a final `Index`, the element.
pub(super) fn locate(text: &str, path: &[Step]) -> Option<(usize, usize)> {
    let de = yaml_serde::Deserializer::from_str(text);
    match Find(path).deserialize(de) {
        Err(e) if e.to_string().contains(HERE) => e.location().map(|l| (l.line(), l.column())),
        _ => None,
    }
}

/// Walks to `path` and fails there, so the error carries the node's position.
struct Find<'p>(&'p [Step]);

impl<'de> DeserializeSeed<'de> for Find<'_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        if self.0.is_empty() || self.0 == [Step::Value] {
            // Consuming the node first would move the mark past it: fail at its start.
            return d.deserialize_any(Fail);
        }
        d.deserialize_any(self)
    }
}

/// A visitor that fails on whatever it is given.
struct Fail;

impl<'de> Visitor<'de> for Fail {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(HERE)
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        Err(E::custom(HERE))
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        Err(E::custom(HERE))
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        Err(E::custom(HERE))
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        Err(E::custom(HERE))
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        Err(E::custom(HERE))
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Err(E::custom(HERE))
    }
    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        Err(E::custom(HERE))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, _: A) -> Result<(), A::Error> {
        Err(de::Error::custom(HERE))
    }
    fn visit_map<A: MapAccess<'de>>(self, _: A) -> Result<(), A::Error> {
        Err(de::Error::custom(HERE))
    }
}

/// Deserializes a map key; fails at it when it is the target and the last step.
struct KeySeed<'k> {
    want: &'k str,
    last: bool,
}

impl<'de> DeserializeSeed<'de> for KeySeed<'_> {
    type Value = bool;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for KeySeed<'_> {
    type Value = bool;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a key")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<bool, E> {
        if v == self.want && self.last {
            return Err(E::custom(HERE));
        }
        Ok(v == self.want)
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_unit<E: de::Error>(self) -> Result<bool, E> {
        Ok(false)
    }
}

impl<'de> Visitor<'de> for Find<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a mapping or a sequence")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<(), A::Error> {
        let Step::Key(want) = &self.0[0] else {
            while m.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
            return Ok(());
        };
        let last = self.0.len() == 1;
        while let Some(hit) = m.next_key_seed(KeySeed { want, last })? {
            if hit {
                return m.next_value_seed(Find(&self.0[1..]));
            }
            m.next_value::<IgnoredAny>()?;
        }
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut s: A) -> Result<(), A::Error> {
        let Step::Index(want) = self.0[0] else {
            while s.next_element::<IgnoredAny>()?.is_some() {}
            return Ok(());
        };
        let mut i = 0;
        loop {
            if i == want {
                s.next_element_seed(Find(&self.0[1..]))?;
                return Ok(());
            }
            if s.next_element::<IgnoredAny>()?.is_none() {
                return Ok(());
            }
            i += 1;
        }
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }
}

/// Fills each rule's `line` (for messages and `explain`).
fn rule_lines(text: &str, p: &mut Policy) {
    for r in &mut p.rules {
        let at = [Step::Key("rules"), Step::Index(r.index as usize)];
        r.line = locate(text, &at).map(|(l, _)| l as u32).unwrap_or(0);
    }
}
