//! The Sigma view of one replayed event: Sigma's field names (Sysmon for Linux's, as
//! SigmaHQ's Linux rules use them) mapped onto the facts Rewind's own rules see. The
//! mapping is documented in `analyzer/rules/README.md` (section "Sigma rules"); a test
//! checks that every name in [`FIELDS`] is listed there.
//!
//! Values are computed when the rule engine asks for a field, never up front, so an
//! event no rule looks at costs nothing but the category check.

use crate::detect::fact::{EvField, Fact, Field, ProcField, Val, Who};
use rewind_schema::EventKind;
use rsigma_eval::event::{Event, EventValue};
use serde_json::Value;
use std::borrow::Cow;

/// A Sigma log source category Rewind can evaluate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Category {
    /// `process_creation`: exec events.
    ProcessCreation,
    /// `file_event`: successful opens for writing or creating, and renames (target).
    FileEvent,
    /// `file_delete`: successful unlinks.
    FileDelete,
    /// `network_connection`: successful connects (`Initiated: 'true'`) and accepts
    /// (`Initiated: 'false'`) with an IP peer.
    NetworkConnection,
}

impl Category {
    /// Every category, in the order of [`Category::index`].
    pub const ALL: [Category; 4] = [
        Category::ProcessCreation,
        Category::FileEvent,
        Category::FileDelete,
        Category::NetworkConnection,
    ];

    /// Sigma's name.
    pub fn name(self) -> &'static str {
        match self {
            Category::ProcessCreation => "process_creation",
            Category::FileEvent => "file_event",
            Category::FileDelete => "file_delete",
            Category::NetworkConnection => "network_connection",
        }
    }

    /// From Sigma's name.
    pub fn parse(s: &str) -> Option<Category> {
        Category::ALL.into_iter().find(|c| c.name() == s)
    }

    /// Position in [`Category::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }

    /// The category an event belongs to, if any. Cheap: looks at the record only.
    pub fn of(kind: &EventKind) -> Option<Category> {
        use EventKind as K;
        match kind {
            K::Exec(_) => Some(Category::ProcessCreation),
            // O_WRONLY, O_RDWR or O_CREAT: a file written or created. Sysmon's FileCreate
            // fires on creation and overwrite; the recorder cannot tell whether O_CREAT
            // really created the file, and writing into an existing cron file or
            // authorized_keys is what the rules are after, so every write counts.
            K::Open(x) if x.ret >= 0 && (x.open_flags & 3 != 0 || x.open_flags & 0o100 != 0) => {
                Some(Category::FileEvent)
            }
            K::Rename(x) if x.ret >= 0 => Some(Category::FileEvent),
            // rmdir (AT_REMOVEDIR) removes a directory, not a file.
            K::Unlink(x) if x.ret >= 0 && x.flags & 0x200 == 0 => Some(Category::FileDelete),
            K::Connect(x) if (x.ret >= 0 || x.ret == -115) && x.sock.remote().is_some() => {
                Some(Category::NetworkConnection)
            }
            K::Accept(x) if x.ret >= 0 && x.sock.remote().is_some() => {
                Some(Category::NetworkConnection)
            }
            _ => None,
        }
    }
}

/// Where a Sigma field's value comes from.
#[derive(Debug, Clone, Copy)]
enum Src {
    /// A Rewind field as it is.
    F(Field),
    /// `root` for uid 0, else the uid as a number (the trace has uids, not names).
    User,
    /// The file a file event produced: the path opened, the rename's target.
    TargetFilename,
    /// A rename's source path.
    SourceFilename,
    /// Connect: `true`; accept: `false` (as text, the way Sysmon writes it).
    Initiated,
    /// The initiating side (connect: local; accept: remote).
    SourceIp,
    /// Its port.
    SourcePort,
    /// Its DNS name (accept only: the remote's name, when the trace resolved it).
    SourceHostname,
    /// Source is IPv6 (`true`/`false`).
    SourceIsIpv6,
    /// The accepting side (connect: remote; accept: local).
    DestinationIp,
    /// Its port.
    DestinationPort,
    /// Its DNS name (connect only: the name the trace resolved the remote from).
    DestinationHostname,
    /// Destination is IPv6.
    DestinationIsIpv6,
}

const PROC: u8 = 1 << Category::ProcessCreation as u8;
const FILE: u8 = 1 << Category::FileEvent as u8;
const DEL: u8 = 1 << Category::FileDelete as u8;
const NET: u8 = 1 << Category::NetworkConnection as u8;
const ALL: u8 = PROC | FILE | DEL | NET;

const fn p(f: ProcField) -> Src {
    Src::F(Field::Proc(Who::Process, f))
}

const fn pp(f: ProcField) -> Src {
    Src::F(Field::Proc(Who::Parent, f))
}

/// Sigma field name, the categories it exists in, where its value comes from.
const MAP: &[(&str, u8, Src)] = &[
    ("Image", ALL, p(ProcField::Exe)),
    ("CommandLine", ALL, p(ProcField::Cmdline)),
    ("CurrentDirectory", ALL, p(ProcField::Cwd)),
    ("ProcessId", ALL, p(ProcField::Pid)),
    ("ProcessGuid", ALL, p(ProcField::ExecId)),
    ("User", ALL, Src::User),
    ("LogonId", ALL, p(ProcField::Auid)),
    ("ParentImage", ALL, pp(ProcField::Exe)),
    ("ParentCommandLine", ALL, pp(ProcField::Cmdline)),
    ("ParentProcessId", ALL, pp(ProcField::Pid)),
    ("ParentProcessGuid", ALL, pp(ProcField::ExecId)),
    ("TargetFilename", FILE | DEL, Src::TargetFilename),
    ("SourceFilename", FILE, Src::SourceFilename),
    ("Initiated", NET, Src::Initiated),
    ("Protocol", NET, Src::F(Field::Ev(EvField::NetProto))),
    ("SourceIp", NET, Src::SourceIp),
    ("SourcePort", NET, Src::SourcePort),
    ("SourceHostname", NET, Src::SourceHostname),
    ("SourceIsIpv6", NET, Src::SourceIsIpv6),
    ("DestinationIp", NET, Src::DestinationIp),
    ("DestinationPort", NET, Src::DestinationPort),
    ("DestinationHostname", NET, Src::DestinationHostname),
    ("DestinationIsIpv6", NET, Src::DestinationIsIpv6),
];

/// Every mapped Sigma field name (for documentation checks).
pub const FIELDS: &[&str] = &[
    "Image",
    "CommandLine",
    "CurrentDirectory",
    "ProcessId",
    "ProcessGuid",
    "User",
    "LogonId",
    "ParentImage",
    "ParentCommandLine",
    "ParentProcessId",
    "ParentProcessGuid",
    "TargetFilename",
    "SourceFilename",
    "Initiated",
    "Protocol",
    "SourceIp",
    "SourcePort",
    "SourceHostname",
    "SourceIsIpv6",
    "DestinationIp",
    "DestinationPort",
    "DestinationHostname",
    "DestinationIsIpv6",
];

fn lookup(name: &str, cat: Category) -> Option<Src> {
    MAP.iter()
        .find(|(n, cats, _)| *n == name && cats & (1 << cat as u8) != 0)
        .map(|(_, _, s)| *s)
}

/// Whether `name` is a field of `cat`.
pub fn is_mapped(name: &str, cat: Category) -> bool {
    lookup(name, cat).is_some()
}

/// One event as a Sigma event of `cat`.
#[derive(Debug, Clone, Copy)]
pub struct SigmaEvent<'f, 'a> {
    /// The event.
    pub fact: &'f Fact<'a>,
    /// Its category.
    pub cat: Category,
}

fn ev(v: Val<'_>) -> EventValue<'static> {
    match v {
        Val::Str(s) => EventValue::Str(Cow::Owned(s.into_owned())),
        Val::Int(n) => EventValue::Int(n),
        Val::Bool(b) => EventValue::Str(Cow::Borrowed(if b { "true" } else { "false" })),
        Val::List(l) => EventValue::Array(l.into_iter().map(ev).collect()),
    }
}

fn text(s: impl Into<String>) -> EventValue<'static> {
    EventValue::Str(Cow::Owned(s.into()))
}

fn flag(b: bool) -> EventValue<'static> {
    EventValue::Str(Cow::Borrowed(if b { "true" } else { "false" }))
}

impl SigmaEvent<'_, '_> {
    fn initiated(&self) -> Option<bool> {
        match self.fact.step.ev.kind {
            EventKind::Connect(_) => Some(true),
            EventKind::Accept(_) => Some(false),
            _ => None,
        }
    }

    fn get(&self, f: EvField) -> Option<Val<'_>> {
        self.fact.get(Field::Ev(f))
    }

    /// The endpoint fields of the source (`true`) or destination side.
    fn side(&self, source: bool, port: bool) -> Option<EventValue<'static>> {
        let init = self.initiated()?;
        // Source is the initiator: ourselves on a connect, the peer on an accept.
        let local = source == init;
        let f = match (local, port) {
            (true, false) => EvField::NetLocalIp,
            (true, true) => EvField::NetLocalPort,
            (false, false) => EvField::NetRemoteIp,
            (false, true) => EvField::NetRemotePort,
        };
        self.get(f).map(ev)
    }

    fn value(&self, src: Src) -> Option<EventValue<'static>> {
        match src {
            Src::F(f) => self.fact.get(f).map(ev),
            Src::User => {
                let img = self.fact.image()?;
                let uid = img.creds.uid;
                Some(if uid == 0 {
                    EventValue::Str(Cow::Borrowed("root"))
                } else {
                    text(uid.to_string())
                })
            }
            Src::TargetFilename => match &self.fact.step.ev.kind {
                EventKind::Open(x) => Some(text(x.path.display())),
                EventKind::Rename(x) => Some(text(x.new.display())),
                EventKind::Unlink(x) => Some(text(x.path.display())),
                _ => None,
            },
            Src::SourceFilename => match &self.fact.step.ev.kind {
                EventKind::Rename(x) => Some(text(x.old.display())),
                _ => None,
            },
            Src::Initiated => self.initiated().map(flag),
            Src::SourceIp => self.side(true, false),
            Src::SourcePort => self.side(true, true),
            Src::DestinationIp => self.side(false, false),
            Src::DestinationPort => self.side(false, true),
            Src::SourceHostname | Src::DestinationHostname => {
                let init = self.initiated()?;
                // The trace names the remote side only.
                let remote_is_source = !init;
                if remote_is_source != matches!(src, Src::SourceHostname) {
                    return None;
                }
                self.get(EvField::NetRemoteName).map(ev)
            }
            Src::SourceIsIpv6 | Src::DestinationIsIpv6 => {
                let v = self.side(matches!(src, Src::SourceIsIpv6), false)?;
                let EventValue::Str(s) = v else { return None };
                Some(flag(s.contains(':')))
            }
        }
    }

    fn fields(&self) -> impl Iterator<Item = (&'static str, EventValue<'static>)> + '_ {
        MAP.iter()
            .filter(|(_, cats, _)| cats & (1 << self.cat as u8) != 0)
            .filter_map(|(n, _, s)| self.value(*s).map(|v| (*n, v)))
    }

    /// A line of words for explanations.
    pub fn summary(&self) -> String {
        let s = |n: &str| {
            self.get_field(n)
                .and_then(|v| v.as_str().map(|s| s.into_owned()))
                .unwrap_or_default()
        };
        match self.cat {
            Category::ProcessCreation => format!(
                "{} ran `{}` (parent {}, user {})",
                s("Image"),
                s("CommandLine"),
                s("ParentImage"),
                s("User")
            ),
            Category::FileEvent => format!("{} wrote {}", s("Image"), s("TargetFilename")),
            Category::FileDelete => format!("{} deleted {}", s("Image"), s("TargetFilename")),
            Category::NetworkConnection => format!(
                "{} {} {}:{} -> {}:{}",
                s("Image"),
                if s("Initiated") == "true" {
                    "connected"
                } else {
                    "accepted"
                },
                s("SourceIp"),
                s("SourcePort"),
                s("DestinationIp"),
                s("DestinationPort")
            ),
        }
    }
}

fn strings(v: &EventValue<'_>, out: &mut dyn FnMut(&str)) {
    match v {
        EventValue::Str(s) => out(s),
        EventValue::Array(a) => a.iter().for_each(|x| strings(x, out)),
        _ => {}
    }
}

impl Event for SigmaEvent<'_, '_> {
    fn get_field(&self, path: &str) -> Option<EventValue<'_>> {
        self.value(lookup(path, self.cat)?)
    }

    fn any_string_value(&self, pred: &dyn Fn(&str) -> bool) -> bool {
        let mut hit = false;
        for (_, v) in self.fields() {
            strings(&v, &mut |s| hit = hit || pred(s));
            if hit {
                return true;
            }
        }
        false
    }

    fn all_string_values(&self) -> Vec<Cow<'_, str>> {
        let mut out = Vec::new();
        for (_, v) in self.fields() {
            strings(&v, &mut |s| out.push(Cow::Owned(s.to_string())));
        }
        out
    }

    fn to_json(&self) -> Value {
        Value::Object(
            self.fields()
                .map(|(n, v)| (n.to_string(), v.to_json()))
                .collect(),
        )
    }

    fn top_level_keys(&self) -> Option<Vec<Cow<'_, str>>> {
        Some(self.fields().map(|(n, _)| Cow::Borrowed(n)).collect())
    }
}
