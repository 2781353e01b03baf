//! Facts: what a rule can ask about one event. A rule names fields (`process.name`,
//! `parent.cmdline`, `file.path`, `net.remote_port`, ...); they are resolved once, at
//! load time, into [`Field`] values, and looked up against the event and the process
//! model as it stands when the event is replayed (so `parent` is the parent at that
//! moment, and credentials are those the process had then).
//!
//! The catalogue of fields is documented in `analyzer/rules/README.md`; a test checks
//! that every field listed there resolves.

use crate::model::net::{tls_summary, Conn};
use crate::model::process::Image;
use crate::model::proto::{self, HttpMsg};
use crate::model::{App, Model};
use crate::names;
use crate::replay::Step;
use rewind_schema::wire::{self, ByteString};
use rewind_schema::EventKind;
use std::borrow::Cow;
use std::net::IpAddr;

/// A value a field has for one event.
#[derive(Debug, Clone, PartialEq)]
pub enum Val<'a> {
    /// Text (paths, names, command lines; byte strings shown lossily).
    Str(Cow<'a, str>),
    /// A number.
    Int(i64),
    /// A flag.
    Bool(bool),
    /// Several values (argv, ancestors' names, DNS answers): a matcher matches if any does.
    List(Vec<Val<'a>>),
}

impl Val<'_> {
    /// As text, for explanations (lists joined by `, `).
    pub fn render(&self) -> String {
        match self {
            Val::Str(s) => s.to_string(),
            Val::Int(n) => n.to_string(),
            Val::Bool(b) => b.to_string(),
            Val::List(v) => v.iter().map(Val::render).collect::<Vec<_>>().join(", "),
        }
    }
}

impl Field {
    /// A value of this field as text for people, with its unit where the number alone
    /// would mislead: `dns.entropy` is matched in hundredths of a bit per character
    /// (`|ge: 380`) and printed as `3.80 bits/char`.
    pub fn render(self, v: &Val) -> String {
        match (self, v) {
            (Field::Ev(EvField::DnsEntropy), Val::Int(n)) => {
                let n = n.unsigned_abs();
                format!("{}.{:02} bits/char", n / 100, n % 100)
            }
            _ => v.render(),
        }
    }
}

fn s(b: &ByteString) -> Val<'static> {
    Val::Str(Cow::Owned(b.display()))
}

fn st(x: impl Into<String>) -> Val<'static> {
    Val::Str(Cow::Owned(x.into()))
}

/// Whose process fields: the acting process, its parent process, or any ancestor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Who {
    /// The acting image.
    Process,
    /// The parent process (nearest ancestor image of another pid).
    Parent,
    /// Every ancestor process (a list).
    Ancestors,
}

macro_rules! field_enum {
    ($(#[$m:meta])* $name:ident { $( $variant:ident = $text:literal, )* }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        #[allow(missing_docs)]
        pub enum $name { $( $variant, )* }
        impl $name {
            /// Every variant with its name.
            pub const ALL: &'static [($name, &'static str)] = &[ $( ($name::$variant, $text), )* ];
            fn parse(s: &str) -> Option<Self> {
                Self::ALL.iter().find(|(_, n)| *n == s).map(|(v, _)| *v)
            }
        }
    };
}

field_enum!(
    /// Fields of a process image (`process.X`, `parent.X`, `ancestors.X`).
    ProcField {
        Name = "name",
        Exe = "exe",
        Cmdline = "cmdline",
        Args = "args",
        Comm = "comm",
        Cwd = "cwd",
        Pid = "pid",
        Uid = "uid",
        Euid = "euid",
        Gid = "gid",
        Auid = "auid",
        User = "user",
        Tty = "tty",
        CapEff = "cap_eff",
        Container = "container",
        InContainer = "in_container",
        NonHostNs = "non_host_ns",
        FromMemfd = "from_memfd",
        ExeDeleted = "exe_deleted",
        SetidExe = "setid_exe",
        Origin = "origin",
        ExecId = "exec_id",
    }
);

field_enum!(
    /// Fields of the event itself and of what it touched.
    EvField {
        Type = "event.type",
        Ok = "event.ok",
        FilePath = "file.path",
        FileName = "file.name",
        FileDir = "file.dir",
        FileOp = "file.op",
        FileNewPath = "file.new_path",
        FileMode = "file.mode",
        FileSetid = "file.setid",
        NetProto = "net.proto",
        NetDirection = "net.direction",
        NetRemoteIp = "net.remote_ip",
        NetRemotePort = "net.remote_port",
        NetLocalIp = "net.local_ip",
        NetLocalPort = "net.local_port",
        NetRemoteName = "net.remote_name",
        NetRemoteLoopback = "net.remote_loopback",
        NetRemotePrivate = "net.remote_private",
        NetUnixPath = "net.unix_path",
        NetBytesSent = "net.bytes_sent",
        NetBytesReceived = "net.bytes_received",
        NetInherited = "net.inherited",
        NetPayload = "net.payload",
        DnsQuery = "dns.query",
        DnsAnswers = "dns.answers",
        DnsResponse = "dns.response",
        DnsLabelLen = "dns.label_len",
        DnsEntropy = "dns.entropy",
        TlsVersion = "tls.version",
        TlsCipher = "tls.cipher",
        TlsKeyBits = "tls.key_bits",
        TlsWeaknesses = "tls.weaknesses",
        TlsSni = "tls.sni",
        HttpMethod = "http.method",
        HttpPath = "http.path",
        HttpHost = "http.host",
        HttpStatus = "http.status",
        CredOldUid = "cred.old_uid",
        CredNewUid = "cred.new_uid",
        CredOldEuid = "cred.old_euid",
        CredNewEuid = "cred.new_euid",
        CredSyscall = "cred.syscall",
        CapGained = "cap.gained",
        NsOp = "ns.op",
        NsFlags = "ns.flags",
        NsIntoHost = "ns.into_host",
        MountSource = "mount.source",
        MountTarget = "mount.target",
        MountFstype = "mount.fstype",
        PtraceRequest = "ptrace.request",
        TargetPid = "target.pid",
        TargetName = "target.name",
        SignalName = "signal.name",
        BpfProgType = "bpf.prog_type",
        BpfProgName = "bpf.prog_name",
        ModuleName = "module.name",
        MemfdName = "memfd.name",
        MapPath = "map.path",
        EnforceAction = "enforce.action",
        EnforceDetail = "enforce.detail",
    }
);

/// A field a rule can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// A process field of someone.
    Proc(Who, ProcField),
    /// An event field.
    Ev(EvField),
}

impl Field {
    /// Resolves a field name; `None` for names this version does not know.
    pub fn parse(name: &str) -> Option<Field> {
        if let Some(f) = EvField::parse(name) {
            return Some(Field::Ev(f));
        }
        let (who, rest) = name.split_once('.')?;
        let who = match who {
            "process" => Who::Process,
            "parent" => Who::Parent,
            "ancestors" => Who::Ancestors,
            _ => return None,
        };
        ProcField::parse(rest).map(|f| Field::Proc(who, f))
    }

    /// Every field name (for documentation checks and error messages).
    pub fn names() -> Vec<String> {
        let mut v: Vec<String> = Vec::new();
        for who in ["process", "parent", "ancestors"] {
            for (_, n) in ProcField::ALL {
                v.push(format!("{who}.{n}"));
            }
        }
        v.extend(EvField::ALL.iter().map(|(_, n)| n.to_string()));
        v
    }
}

/// One event with its context, as rules see it.
#[derive(Debug, Clone, Copy)]
pub struct Fact<'a> {
    /// The model after the event was applied.
    pub model: &'a Model,
    /// The event.
    pub step: &'a Step<'a>,
}

impl<'a> Fact<'a> {
    /// The acting image.
    pub fn image(&self) -> Option<&'a Image> {
        self.step
            .at
            .image
            .and_then(|i| self.model.images.get(i.idx()))
    }

    /// The connection the event belongs to.
    pub fn conn(&self) -> Option<&'a Conn> {
        self.step.at.conn.and_then(|c| self.model.try_conn(c))
    }

    /// The value of a field, `None` when it does not apply to this event.
    pub fn get(&self, f: Field) -> Option<Val<'a>> {
        match f {
            Field::Proc(who, pf) => {
                let img = self.image()?;
                match who {
                    Who::Process => proc_field(self.model, img, pf),
                    Who::Parent => {
                        let parent = self.model.process_ancestry(img.id).nth(1)?;
                        proc_field(self.model, parent, pf)
                    }
                    Who::Ancestors => Some(Val::List(
                        self.model
                            .process_ancestry(img.id)
                            .skip(1)
                            .filter_map(|a| proc_field(self.model, a, pf))
                            .collect(),
                    )),
                }
            }
            Field::Ev(ef) => self.ev_field(ef),
        }
    }

    fn ev_field(&self, f: EvField) -> Option<Val<'a>> {
        use EvField as F;
        use EventKind as K;
        let kind = &self.step.ev.kind;
        match f {
            F::Type => Some(Val::Str(Cow::Borrowed(kind.record_type().name()))),
            F::Ok => ret_of(kind).map(|r| Val::Bool(r >= 0 || r == -115)),
            F::FilePath => match kind {
                K::Open(x) => Some(s(&x.path)),
                K::Unlink(x) => Some(s(&x.path)),
                K::Rename(x) => Some(s(&x.old)),
                K::Chmod(x) => Some(s(&x.path)),
                K::Chown(x) => Some(s(&x.path)),
                K::Exec(x) => Some(s(&x.filename)),
                _ => None,
            },
            F::FileName | F::FileDir => {
                let Val::Str(p) = self.ev_field(F::FilePath)? else {
                    return None;
                };
                let (dir, name) = match p.rfind('/') {
                    Some(i) => (&p[..i.max(1)], &p[i + 1..]),
                    None => ("", &p[..]),
                };
                Some(st(if f == F::FileName { name } else { dir }))
            }
            F::FileOp => file_ops(kind).map(|ops| {
                Val::List(
                    ops.into_iter()
                        .map(|o| Val::Str(Cow::Borrowed(o)))
                        .collect(),
                )
            }),
            F::FileNewPath => match kind {
                K::Rename(x) => Some(s(&x.new)),
                _ => None,
            },
            F::FileMode => match kind {
                K::Chmod(x) => Some(st(format!("{:o}", x.mode & 0o7777))),
                K::Open(x) => Some(st(format!("{:o}", x.mode & 0o7777))),
                _ => None,
            },
            F::FileSetid => match kind {
                K::Chmod(x) => Some(Val::Bool(x.sets_setid())),
                _ => None,
            },
            F::NetProto => self.conn().map(|c| Val::Str(Cow::Borrowed(c.proto))),
            F::NetDirection => self.conn().map(|c| Val::Str(Cow::Borrowed(c.dir.name()))),
            F::NetRemoteIp => self.remote().map(|a| st(a.0.to_string())),
            F::NetRemotePort => self.remote().map(|a| Val::Int(a.1 as i64)),
            F::NetLocalIp => self.local().map(|a| st(a.0.to_string())),
            F::NetLocalPort => self.local().map(|a| Val::Int(a.1 as i64)),
            F::NetRemoteName => self
                .conn()
                .and_then(|c| c.remote_name.clone())
                .map(|n| Val::Str(Cow::Owned(n))),
            F::NetRemoteLoopback => self.remote().map(|a| Val::Bool(a.0.is_loopback())),
            F::NetRemotePrivate => self.remote().map(|a| Val::Bool(private(a.0))),
            F::NetUnixPath => self.conn().and_then(|c| c.unix_path.as_ref()).map(s),
            F::NetBytesSent => self.conn().map(|c| Val::Int(c.bytes_sent as i64)),
            F::NetBytesReceived => self.conn().map(|c| Val::Int(c.bytes_received as i64)),
            F::NetInherited => {
                // The acting process uses a socket another process opened: a shell
                // whose stdio is a socket, a child handed a connection.
                let c = self.conn()?;
                let img = self.image()?;
                // An exec keeps the pid but not the image: `exec bash -i >& /dev/tcp/..`
                // connects in one image and talks in the next.
                Some(Val::Bool(c.image != img.id))
            }
            F::NetPayload => match kind {
                K::Snippet(x) | K::Dns(x) => {
                    Some(st(crate::timeline::words::payload_text(&x.data.0, 256)))
                }
                _ => None,
            },
            F::DnsLabelLen | F::DnsEntropy => {
                let Some(App::Dns(m)) = &self.step.at.app else {
                    return None;
                };
                let label = m
                    .questions
                    .iter()
                    .flat_map(|q| q.0.split('.'))
                    .max_by_key(|l| (l.len(), *l))?;
                Some(Val::Int(if f == F::DnsLabelLen {
                    label.len() as i64
                } else {
                    (entropy(label.as_bytes()) * 100.0).round() as i64
                }))
            }
            F::DnsQuery | F::DnsAnswers | F::DnsResponse => {
                let Some(App::Dns(m)) = &self.step.at.app else {
                    return None;
                };
                Some(match f {
                    F::DnsQuery => Val::List(m.questions.iter().map(|q| st(q.0.clone())).collect()),
                    F::DnsAnswers => {
                        Val::List(m.addrs.iter().map(|a| st(a.1.to_string())).collect())
                    }
                    _ => Val::Bool(m.response),
                })
            }
            F::TlsVersion | F::TlsCipher | F::TlsKeyBits | F::TlsWeaknesses | F::TlsSni => {
                let c = self.conn()?;
                let peer = c.peer.and_then(|p| self.model.try_conn(p));
                let t = tls_summary(c, peer);
                match f {
                    F::TlsVersion => t.version.map(|v| st(proto::tls_version_name(v))),
                    F::TlsCipher => t.cipher.map(|v| st(proto::cipher_name(v))),
                    F::TlsKeyBits => t
                        .cipher
                        .and_then(proto::cipher_key_bits)
                        .map(|b| Val::Int(b as i64)),
                    F::TlsWeaknesses => {
                        let mut w: Vec<Val> = Vec::new();
                        if let Some(v) = t.version {
                            if v < 0x0303 {
                                w.push(st(format!("{} is deprecated", proto::tls_version_name(v))));
                            }
                        }
                        if let Some(c) = t.cipher {
                            w.extend(proto::cipher_weaknesses(c).into_iter().map(st));
                        }
                        (t.version.is_some() || t.cipher.is_some()).then_some(Val::List(w))
                    }
                    _ => t.sni.map(st),
                }
            }
            F::HttpMethod | F::HttpPath | F::HttpHost | F::HttpStatus => {
                let Some(App::Http { msg, .. }) = &self.step.at.app else {
                    return None;
                };
                match (f, msg) {
                    (F::HttpMethod, HttpMsg::Request { method, .. }) => Some(st(method.clone())),
                    (F::HttpPath, HttpMsg::Request { path, .. }) => Some(st(path.clone())),
                    (F::HttpHost, HttpMsg::Request { host, .. }) => host.clone().map(st),
                    (F::HttpStatus, HttpMsg::Response { status, .. }) => {
                        Some(Val::Int(*status as i64))
                    }
                    _ => None,
                }
            }
            F::CredOldUid | F::CredNewUid | F::CredOldEuid | F::CredNewEuid | F::CredSyscall => {
                let K::Cred(x) = kind else { return None };
                Some(match f {
                    F::CredOldUid => Val::Int(x.old.uid as i64),
                    F::CredNewUid => Val::Int(x.new.uid as i64),
                    F::CredOldEuid => Val::Int(x.old.euid as i64),
                    F::CredNewEuid => Val::Int(x.new.euid as i64),
                    _ => st(names::cred_syscall(x.syscall)),
                })
            }
            F::CapGained => match kind {
                K::Capset(x) if x.ret == 0 => Some(cap_list(x.new_eff & !x.old_eff)),
                _ => None,
            },
            F::NsOp | F::NsFlags | F::NsIntoHost => {
                let K::Namespace(x) = kind else { return None };
                Some(match f {
                    F::NsOp => Val::Str(Cow::Borrowed(match x.op {
                        wire::kernel::NS_UNSHARE => "unshare",
                        wire::kernel::NS_SETNS => "setns",
                        wire::kernel::NS_CLONE => "clone",
                        _ => "other",
                    })),
                    F::NsFlags => Val::List(
                        names::ns_flags(x.flags)
                            .split(',')
                            .filter(|n| !n.is_empty() && !n.starts_with("0x"))
                            .map(|n| st(n.to_ascii_lowercase()))
                            .collect(),
                    ),
                    _ => {
                        // setns from a non-host namespace back into one of the host's.
                        let img = self.image()?;
                        let init = self.model.boots.get(img.boot as usize)?.init_ns?;
                        let pairs_old = names::ns_pairs(&x.old, &init);
                        let pairs_new = names::ns_pairs(&x.new, &init);
                        Val::Bool(
                            pairs_old
                                .iter()
                                .zip(pairs_new.iter())
                                .any(|((_, o, i), (_, n, _))| {
                                    *o != 0 && *n != 0 && o != i && n == i
                                }),
                        )
                    }
                })
            }
            F::MountSource | F::MountTarget | F::MountFstype => match kind {
                K::Mount(x) => Some(s(match f {
                    F::MountSource => &x.source,
                    F::MountTarget => &x.target,
                    _ => &x.fstype,
                })),
                K::Umount(x) if f == F::MountTarget => Some(s(&x.target)),
                _ => None,
            },
            F::PtraceRequest => match kind {
                K::Ptrace(x) => Some(st(names::ptrace_request(x.request))),
                _ => None,
            },
            F::TargetPid | F::TargetName => {
                let pid = match kind {
                    K::Ptrace(x) => x.target,
                    K::Signal(x) => x.target,
                    _ => return None,
                };
                if f == F::TargetPid {
                    return Some(Val::Int(pid as i64));
                }
                let boot = self.image().map(|i| i.boot).unwrap_or(0);
                self.model
                    .current_image_in(boot, pid)
                    .map(|i| st(self.model.image(i).name()))
            }
            F::SignalName => match kind {
                K::Signal(x) => Some(st(names::signal(x.sig))),
                _ => None,
            },
            F::BpfProgType | F::BpfProgName => match kind {
                K::BpfLoad(x) if f == F::BpfProgType => Some(st(names::bpf_prog_type(x.prog_type))),
                K::BpfLoad(x) => Some(st(x.prog_name.display())),
                _ => None,
            },
            F::ModuleName => match kind {
                K::ModuleLoad(x) => Some(s(&x.name)),
                _ => None,
            },
            F::MemfdName => match kind {
                K::Memfd(x) => Some(s(&x.name)),
                _ => None,
            },
            F::MapPath => match kind {
                K::MmapExec(x) => Some(s(&x.path)),
                _ => None,
            },
            F::EnforceAction | F::EnforceDetail => match kind {
                K::Enforce(x) if f == F::EnforceAction => Some(st(x.action_name())),
                K::Enforce(x) => Some(st(x.detail_text())),
                _ => None,
            },
        }
    }

    fn remote(&self) -> Option<(IpAddr, u16)> {
        self.conn()
            .and_then(|c| c.remote)
            .or_else(|| sock_of(&self.step.ev.kind).and_then(|s| s.remote()))
            .map(|a| (a.ip(), a.port()))
    }

    fn local(&self) -> Option<(IpAddr, u16)> {
        self.conn()
            .and_then(|c| c.local)
            .or_else(|| sock_of(&self.step.ev.kind).and_then(|s| s.local()))
            .map(|a| (a.ip(), a.port()))
    }
}

fn sock_of(kind: &EventKind) -> Option<&wire::Sock> {
    use EventKind as K;
    match kind {
        K::Connect(x) => Some(&x.sock),
        K::Accept(x) => Some(&x.sock),
        K::Listen(x) => Some(&x.sock),
        K::Bind(x) => Some(&x.sock),
        K::SockClose(x) => Some(&x.sock),
        K::ConnResult(x) => Some(&x.sock),
        K::UdpSend(x) | K::UdpRecv(x) => Some(&x.sock),
        K::Snippet(x) | K::Dns(x) => Some(&x.sock),
        _ => None,
    }
}

/// Shannon entropy in bits per byte.
fn entropy(b: &[u8]) -> f64 {
    if b.is_empty() {
        return 0.0;
    }
    let mut counts = [0u32; 256];
    for &c in b {
        counts[c.to_ascii_lowercase() as usize] += 1;
    }
    let n = b.len() as f64;
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = c as f64 / n;
            -p * p.log2()
        })
        .sum()
}

/// RFC 1918, unique local, link local: "internal" addresses.
fn private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v) => v.is_private() || v.is_link_local() || v.is_loopback(),
        IpAddr::V6(v) => {
            v.is_loopback()
                || (v.segments()[0] & 0xfe00) == 0xfc00
                || (v.segments()[0] & 0xffc0) == 0xfe80
        }
    }
}

fn ret_of(kind: &EventKind) -> Option<i32> {
    use EventKind as K;
    Some(match kind {
        K::Open(x) => x.ret,
        K::Unlink(x) => x.ret,
        K::Rename(x) => x.ret,
        K::Chmod(x) => x.ret,
        K::Chown(x) => x.ret,
        K::Connect(x) => x.ret,
        K::ConnResult(x) => -x.err,
        K::Accept(x) => x.ret,
        K::Listen(x) => x.ret,
        K::Bind(x) => x.ret,
        K::UdpSend(x) | K::UdpRecv(x) => x.ret,
        K::Cred(x) => x.ret,
        K::Capset(x) => x.ret,
        K::Namespace(x) => x.ret,
        K::Mount(x) => x.ret,
        K::Umount(x) => x.ret,
        K::Ptrace(x) => x.ret,
        K::ModuleLoad(x) => x.ret,
        K::BpfLoad(x) => x.ret,
        K::Memfd(x) => x.ret,
        K::Signal(x) => x.ret,
        _ => return None,
    })
}

/// What a file event did: `read`, `write`, `create`, `truncate`, `append`, `directory`,
/// `unlink`, `rename`, `chmod`, `chown`.
fn file_ops(kind: &EventKind) -> Option<Vec<&'static str>> {
    use EventKind as K;
    Some(match kind {
        K::Open(x) => {
            let f = x.open_flags;
            let mut v = Vec::new();
            match f & 3 {
                0 => v.push("read"),
                1 => v.push("write"),
                _ => v.extend(["read", "write"]),
            }
            if f & 0o100 != 0 {
                v.push("create");
            }
            if f & 0o1000 != 0 {
                v.push("truncate");
            }
            if f & 0o2000 != 0 {
                v.push("append");
            }
            if f & 0o200000 != 0 {
                v.push("directory");
            }
            v
        }
        K::Unlink(_) => vec!["unlink"],
        K::Rename(_) => vec!["rename"],
        K::Chmod(_) => vec!["chmod"],
        K::Chown(_) => vec!["chown"],
        _ => return None,
    })
}

fn cap_list(mask: u64) -> Val<'static> {
    Val::List(
        names::caps(mask)
            .split(',')
            .map(str::trim)
            .filter(|n| !n.is_empty() && *n != "none")
            .map(|n| st(n.to_ascii_lowercase()))
            .collect(),
    )
}

/// A process field of one image.
pub fn proc_field<'a>(model: &'a Model, img: &'a Image, f: ProcField) -> Option<Val<'a>> {
    use ProcField as P;
    Some(match f {
        P::Name => st(img.name()),
        P::Exe => s(&img.exe),
        P::Cmdline => st(img.cmdline()),
        P::Args => Val::List(img.argv.iter().map(s).collect()),
        P::Comm => s(&img.comm),
        P::Cwd => s(&img.cwd),
        P::Pid => Val::Int(img.pid as i64),
        P::Uid => Val::Int(img.creds.uid as i64),
        P::Euid => Val::Int(img.creds.euid as i64),
        P::Gid => Val::Int(img.creds.gid as i64),
        P::Auid => Val::Int(img.creds.auid as i64),
        P::User => st(if img.creds.euid == 0 { "root" } else { "user" }),
        P::Tty => Val::Bool(img.tty != 0),
        P::CapEff => cap_list(img.creds.cap_eff),
        P::Container => st(img
            .container
            .as_ref()
            .map(|c| c.id.clone())
            .unwrap_or_default()),
        P::InContainer => Val::Bool(img.container.is_some()),
        P::NonHostNs => Val::List(
            model
                .non_host_namespaces(img)
                .into_iter()
                .map(|n| Val::Str(Cow::Borrowed(n)))
                .collect(),
        ),
        P::FromMemfd => Val::Bool(img.from_memfd),
        P::ExeDeleted => Val::Bool(img.exe_deleted),
        P::SetidExe => Val::Bool(img.exe_mode & 0o6000 != 0),
        P::Origin => Val::Str(Cow::Borrowed(img.origin.name())),
        P::ExecId => st(img.exec_id()),
    })
}
