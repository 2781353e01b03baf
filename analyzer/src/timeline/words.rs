//! Events in words for a person under pressure: "read /etc/shadow", "connected to
//! 10.0.0.5:443 (api.internal)", "gained root via setuid", with the routine noise of every
//! process start (loader caches, locale files, library mappings, forks) marked so the
//! timeline can fold it away.

use crate::describe::errno_name;
use crate::model::net::tls_summary;
use crate::model::process::Origin;
use crate::model::proto::{self, HttpMsg, TlsHello};
use crate::model::{App, Model};
use crate::names;
use crate::replay::Step;
use crate::timefmt;
use rewind_schema::meta::ClockAnchor;
use rewind_schema::wire::{self, ByteString, Sock};
use rewind_schema::EventKind;

/// How much a line matters; drives colour and folding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Weight {
    /// Start-up noise every process makes; hidden unless `--all`.
    Routine,
    /// Ordinary activity.
    Normal,
    /// A program started.
    Exec,
    /// Network activity.
    Net,
    /// Something an investigator must see (privilege, loss, enforcement, weak crypto...).
    Alert,
}

/// One rendered event.
#[derive(Debug, Clone)]
pub struct Words {
    /// How much it matters.
    pub weight: Weight,
    /// The sentence.
    pub text: String,
}

fn w(weight: Weight, text: String) -> Option<Words> {
    Some(Words { weight, text })
}

fn p(b: &ByteString) -> String {
    b.display()
}

fn failed(ret: i32) -> String {
    format!(" failed: {}", errno_name(-ret))
}

/// Loader, locale and library files every dynamically linked program touches.
pub fn routine_path(path: &[u8]) -> bool {
    const EXACT: [&[u8]; 6] = [
        b"/etc/ld.so.cache",
        b"/etc/ld.so.preload",
        b"/etc/locale.alias",
        b"/usr/lib/locale/locale-archive",
        b"/etc/localtime",
        b"/dev/null",
    ];
    const PREFIX: [&[u8]; 7] = [
        b"/usr/lib/",
        b"/lib/",
        b"/lib64/",
        b"/usr/lib64/",
        b"/usr/share/locale/",
        b"/usr/lib/locale/",
        b"/usr/share/zoneinfo/",
    ];
    EXACT.contains(&path) || PREFIX.iter().any(|pre| path.starts_with(pre))
}

fn sock_remote(s: &Sock) -> String {
    match s.remote() {
        Some(r) => r.to_string(),
        None => format!("port {}", s.rport),
    }
}

fn open_words(o: &wire::Open) -> Option<Words> {
    let path = p(&o.path);
    let acc = o.open_flags & 3;
    let verb = match acc {
        0 => "read",
        1 => "wrote",
        _ => "opened read-write",
    };
    let mut extra = Vec::new();
    if o.open_flags & 0o100 != 0 {
        extra.push("create");
    }
    if o.open_flags & 0o1000 != 0 {
        extra.push("truncate");
    }
    if o.open_flags & 0o2000 != 0 {
        extra.push("append");
    }
    let extra = if extra.is_empty() {
        String::new()
    } else {
        format!(" ({})", extra.join(", "))
    };
    let weight = if routine_path(o.path.as_bytes()) {
        Weight::Routine
    } else {
        Weight::Normal
    };
    if o.ret < 0 {
        let verb = match acc {
            0 => "read",
            _ => "write",
        };
        return w(
            weight,
            format!("tried to {verb} {path}{extra}{}", failed(o.ret)),
        );
    }
    // O_DIRECTORY: a directory opened to list it (the mode field is the creation mode).
    let is_dir = o.open_flags & 0o200000 != 0;
    if is_dir && acc == 0 {
        return w(weight, format!("opened directory {path}"));
    }
    w(weight, format!("{verb} {path}{extra}"))
}

fn tls_words(model: &Model, step: &Step, h: &TlsHello) -> Option<Words> {
    let conn = step.at.conn.map(|c| model.conn(c));
    let to = conn.map(|c| c.remote_text()).unwrap_or_default();
    match h {
        TlsHello::Client {
            sni,
            max_version,
            ciphers,
            truncated,
        } => {
            let sni = sni
                .as_ref()
                .map(|s| format!(" for {}", ByteString::from(s.as_str()).display()))
                .unwrap_or_else(|| " without SNI".into());
            let cut = if *truncated { ", hello cut" } else { "" };
            w(
                Weight::Net,
                format!(
                    "TLS ClientHello to {to}{sni}: up to {}, {ciphers} cipher suites{cut}",
                    proto::tls_version_name(*max_version)
                ),
            )
        }
        TlsHello::Server {
            version, cipher, ..
        } => {
            let mut weak: Vec<String> = proto::cipher_weaknesses(*cipher)
                .into_iter()
                .map(String::from)
                .collect();
            if *version < 0x0303 {
                weak.insert(
                    0,
                    format!("{} is obsolete", proto::tls_version_name(*version)),
                );
            }
            let bits = proto::cipher_key_bits(*cipher)
                .map(|b| format!(", {b}-bit key"))
                .unwrap_or_default();
            let sni = conn
                .map(|c| tls_summary(c, c.peer.and_then(|p| model.try_conn(p))))
                .and_then(|s| s.sni)
                .map(|s| format!(" ({})", ByteString::from(s.as_str()).display()))
                .unwrap_or_default();
            let mut text = format!(
                "TLS negotiated {} with {}{bits} with {to}{sni}",
                proto::tls_version_name(*version),
                proto::cipher_name(*cipher)
            );
            let weight = if weak.is_empty() {
                Weight::Net
            } else {
                text.push_str(&format!(" - WEAK: {}", weak.join("; ")));
                Weight::Alert
            };
            w(weight, text)
        }
    }
}

fn http_words(step: &Step, model: &Model, msg: &HttpMsg, latency: Option<u64>) -> Option<Words> {
    let conn = step.at.conn.map(|c| model.conn(c));
    let to = conn.map(|c| c.remote_text()).unwrap_or_default();
    let esc = |s: &str| ByteString::from(s).display();
    match msg {
        HttpMsg::Request { method, path, host } => {
            let host = host
                .as_ref()
                .map(|h| format!(" (Host: {})", esc(h)))
                .unwrap_or_default();
            let dir = if step.inbound() { "from" } else { "to" };
            w(
                Weight::Net,
                format!("HTTP {} {}{host} {dir} {to}", esc(method), esc(path)),
            )
        }
        HttpMsg::Response {
            status,
            reason,
            location,
        } => {
            let loc = location
                .as_ref()
                .map(|l| format!(" -> {}", esc(l)))
                .unwrap_or_default();
            let lat = latency
                .map(|l| format!(" after {}", timefmt::duration(l)))
                .unwrap_or_default();
            let dir = if step.inbound() { "from" } else { "to" };
            w(
                Weight::Net,
                format!("HTTP {status} {}{loc} {dir} {to}{lat}", esc(reason)),
            )
        }
    }
}

impl Step<'_> {
    /// For snippets: the payload came in.
    pub fn inbound(&self) -> bool {
        match &self.ev.kind {
            EventKind::Snippet(s) | EventKind::Dns(s) => s.inbound(),
            _ => false,
        }
    }
}

/// Readable text of a payload: printable ASCII kept, newlines as `\n`, the rest as `.`.
pub fn payload_text(b: &[u8], max: usize) -> String {
    let mut s = String::new();
    for &c in b.iter().take(max) {
        match c {
            b'\n' => s.push_str("\\n"),
            b'\r' => s.push_str("\\r"),
            b'\t' => s.push_str("\\t"),
            0x20..=0x7e => s.push(c as char),
            _ => s.push('.'),
        }
    }
    if b.len() > max {
        s.push('…');
    }
    s
}

/// Characters of payload text a timeline line shows.
pub const PAYLOAD_TEXT_MAX: usize = 80;

/// A payload in words: `received "id\n" from 10.0.0.1:4444`. `data` holds the bytes (or
/// their start, when `bytes` is more); `pieces` above 1 says several snippets were joined
/// into this line (a burst, see `timeline::burst`), and adds the byte and piece counts.
pub fn payload_words(inbound: bool, data: &[u8], bytes: u64, peer: &str, pieces: u32) -> String {
    let (verb, dir) = if inbound {
        ("received", "from")
    } else {
        ("sent", "to")
    };
    let body = if mostly_text(data) {
        let mut t = payload_text(data, PAYLOAD_TEXT_MAX);
        if bytes > data.len() as u64 && !t.ends_with('…') {
            t.push('…');
        }
        format!("\"{t}\"")
    } else {
        format!("{bytes} bytes of binary data")
    };
    if pieces > 1 {
        format!("{verb} {body} {dir} {peer} ({bytes} B in {pieces} pieces)")
    } else {
        format!("{verb} {body} {dir} {peer}")
    }
}

fn mostly_text(b: &[u8]) -> bool {
    let printable = b
        .iter()
        .filter(|&&c| (0x20..0x7f).contains(&c) || c == b'\n' || c == b'\r' || c == b'\t')
        .count();
    !b.is_empty() && printable * 10 >= b.len() * 8
}

/// The event in words.
pub fn words(model: &Model, step: &Step, anchor: &ClockAnchor) -> Option<Words> {
    use EventKind as K;
    let ev = step.ev;
    let img = step.at.image.map(|i| model.image(i));
    match &ev.kind {
        K::Exec(x) => {
            let img = img?;
            let mut text = format!("exec {}", p(&x.filename));
            let cmd = img.cmdline();
            if !cmd.is_empty() {
                text.push_str(&format!(": {cmd}"));
            }
            let mut notes = Vec::new();
            let mut weight = Weight::Exec;
            // The parent process: the nearest ancestor that is another process (earlier
            // images of the same pid are this process's own exec chain).
            if let Some(parent) = model.ancestry(img.id).find(|a| a.pid != img.pid) {
                notes.push(format!("parent {}", parent.label()));
            }
            notes.push(format!("uid {}", x.uid));
            if x.euid != x.uid {
                notes.push(format!("euid {}", x.euid));
            }
            if x.setid_binary() {
                notes.push(format!("set-id binary (mode {:o})", x.exe_mode & 0o7777));
                weight = Weight::Alert;
            }
            if img.from_memfd {
                notes.push("from memfd (fileless)".into());
                weight = Weight::Alert;
            }
            if img.exe_deleted {
                notes.push("executable deleted".into());
                weight = Weight::Alert;
            }
            if let Some(c) = &img.container {
                notes.push(format!("container {}", c.short_id()));
            }
            if !x.cwd.is_empty() {
                notes.push(format!("cwd {}", p(&x.cwd)));
            }
            text.push_str(&format!("  ({})", notes.join(", ")));
            w(weight, text)
        }
        K::Fork(f) => w(Weight::Routine, format!("forked child {}", f.child_pid)),
        K::Exit(x) => {
            let img = img?;
            // A process only seen acting has no known start: its first sighting is not
            // its start, so no duration, and the line says why.
            let unknown = img.origin == Origin::Unknown;
            let pre = if unknown { "(start not recorded) " } else { "" };
            let dur = img
                .end_ns
                .filter(|_| !unknown)
                .map(|e| {
                    format!(
                        " after {}",
                        timefmt::duration(e.saturating_sub(img.start_ns))
                    )
                })
                .unwrap_or_default();
            match (x.code(), x.signal()) {
                (Some(c), _) => w(Weight::Normal, format!("{pre}exited {c}{dur}")),
                (_, Some(sig)) => w(
                    Weight::Alert,
                    format!(
                        "{pre}killed by {}{}{dur}",
                        names::signal(sig as u32),
                        if x.core_dumped() {
                            " (core dumped)"
                        } else {
                            ""
                        }
                    ),
                ),
                _ => w(
                    Weight::Normal,
                    format!("{pre}exited (status {:#x}){dur}", x.status),
                ),
            }
        }
        K::Open(o) => open_words(o),
        K::Unlink(u) if u.ret < 0 => w(
            Weight::Normal,
            format!("tried to delete {}{}", p(&u.path), failed(u.ret)),
        ),
        K::Unlink(u) => w(Weight::Normal, format!("deleted {}", p(&u.path))),
        K::Rename(r) => w(
            Weight::Normal,
            format!(
                "renamed {} to {}{}",
                p(&r.old),
                p(&r.new),
                if r.ret < 0 {
                    failed(r.ret)
                } else {
                    String::new()
                }
            ),
        ),
        K::Chmod(c) => {
            let setid = c.sets_setid();
            let text = format!(
                "chmod {:o} {}{}{}",
                c.mode & 0o7777,
                p(&c.path),
                if setid { " (sets setuid/setgid)" } else { "" },
                if c.ret < 0 {
                    failed(c.ret)
                } else {
                    String::new()
                }
            );
            w(if setid { Weight::Alert } else { Weight::Normal }, text)
        }
        K::Chown(c) => w(
            Weight::Normal,
            format!(
                "chown {}:{} {}{}",
                c.uid as i32,
                c.gid as i32,
                p(&c.path),
                if c.ret < 0 {
                    failed(c.ret)
                } else {
                    String::new()
                }
            ),
        ),
        K::Connect(c) => {
            let conn = step.at.conn.map(|id| model.conn(id));
            let to = conn
                .map(|c| c.remote_text())
                .unwrap_or_else(|| sock_remote(&c.sock));
            let proto = c.sock.proto();
            if c.ret < 0 && c.ret != -115 {
                let weight = if proto == "unix" {
                    Weight::Routine
                } else {
                    Weight::Net
                };
                return w(
                    weight,
                    format!("connect to {to} ({proto}){}", failed(c.ret)),
                );
            }
            if c.ret == -115 {
                // EINPROGRESS: the outcome comes later, as a conn_result.
                return w(Weight::Net, format!("connecting to {to} ({proto})"));
            }
            w(Weight::Net, format!("connected to {to} ({proto})"))
        }
        K::ConnResult(r) => {
            let conn = step.at.conn.map(|id| model.conn(id));
            let to = conn
                .map(|c| c.remote_text())
                .unwrap_or_else(|| sock_remote(&r.sock));
            let after = if r.duration_ns > 0 {
                format!(" after {}", timefmt::duration(r.duration_ns))
            } else {
                String::new()
            };
            let outcome = crate::model::net::Outcome::settled(r.established(), r.err);
            // A connect that returned 0 or an error already said how it went.
            let said = conn.is_none_or(|c| c.ret != -115);
            let weight = if said { Weight::Routine } else { Weight::Net };
            match outcome {
                crate::model::net::Outcome::Connected => {
                    w(weight, format!("connected to {to} (tcp){after}"))
                }
                o => w(
                    weight,
                    format!("connection to {to} (tcp) {}{after}", o.text()),
                ),
            }
        }
        K::Accept(a) => {
            let from = sock_remote(&a.sock);
            w(
                Weight::Net,
                format!(
                    "accepted {} connection from {from} on port {}",
                    a.sock.proto(),
                    a.sock.lport
                ),
            )
        }
        K::Listen(l) => {
            let on = l
                .sock
                .local()
                .map(|a| a.to_string())
                .unwrap_or_else(|| format!("port {}", l.sock.lport));
            w(Weight::Net, format!("listening on {} {on}", l.sock.proto()))
        }
        K::Bind(b) if !b.path.is_empty() => {
            w(Weight::Normal, format!("bound unix socket {}", p(&b.path)))
        }
        K::Bind(b) => w(
            Weight::Routine,
            format!(
                "bound {} {}",
                b.sock.proto(),
                b.sock
                    .local()
                    .map(|a| a.to_string())
                    .unwrap_or_else(|| b.sock.lport.to_string())
            ),
        ),
        K::SockClose(c) => {
            let conn = step.at.conn.map(|id| model.conn(id));
            let to = conn
                .map(|c| c.remote_text())
                .unwrap_or_else(|| sock_remote(&c.sock));
            w(
                Weight::Net,
                format!(
                    "closed {} connection with {to}: sent {}, received {}{}",
                    c.sock.proto(),
                    timefmt::bytes(c.bytes_sent),
                    timefmt::bytes(c.bytes_received),
                    if c.duration_ns > 0 {
                        format!(", open {}", timefmt::duration(c.duration_ns))
                    } else {
                        String::new()
                    }
                ),
            )
        }
        K::UdpSend(u) => w(
            Weight::Routine,
            format!("sent {} B UDP to {}", u.len, sock_remote(&u.sock)),
        ),
        K::UdpRecv(u) => w(
            Weight::Routine,
            format!("received {} B UDP from {}", u.len, sock_remote(&u.sock)),
        ),
        K::Dns(s) => match &step.at.app {
            Some(App::Dns(m)) if !m.response => w(
                Weight::Net,
                format!(
                    "DNS query {} via {}",
                    m.questions
                        .iter()
                        .map(|(n, t)| format!("{} {t}", ByteString::from(n.as_str()).display()))
                        .collect::<Vec<_>>()
                        .join(", "),
                    sock_remote(&s.sock)
                ),
            ),
            Some(App::Dns(m)) => {
                let q = m
                    .questions
                    .first()
                    .map(|(n, _)| ByteString::from(n.as_str()).display())
                    .unwrap_or_default();
                let mut ans: Vec<String> = m.addrs.iter().map(|(_, ip)| ip.to_string()).collect();
                ans.extend(
                    m.cnames
                        .iter()
                        .map(|(_, c)| format!("CNAME {}", ByteString::from(c.as_str()).display())),
                );
                let ans = if ans.is_empty() {
                    m.rcode.clone()
                } else {
                    ans.join(", ")
                };
                w(Weight::Net, format!("DNS answer {q} -> {ans}"))
            }
            _ => w(
                Weight::Net,
                format!(
                    "DNS datagram ({} B, unparsable) {} {}",
                    s.data.0.len(),
                    if s.inbound() { "from" } else { "to" },
                    sock_remote(&s.sock)
                ),
            ),
        },
        K::Snippet(s) => match &step.at.app {
            Some(App::Tls(h)) => tls_words(model, step, h),
            Some(App::Http { msg, latency_ns }) => http_words(step, model, msg, *latency_ns),
            _ => {
                let conn = step.at.conn.map(|id| model.conn(id));
                let peer = conn
                    .map(|c| c.remote_text())
                    .unwrap_or_else(|| sock_remote(&s.sock));
                w(
                    Weight::Net,
                    payload_words(s.inbound(), &s.data.0, s.data.0.len() as u64, &peer, 1),
                )
            }
        },
        K::Cred(c) => {
            let call = names::cred_syscall(c.syscall);
            if c.ret < 0 {
                return w(Weight::Normal, format!("{call}{}", failed(c.ret)));
            }
            let mut changes = Vec::new();
            for (name, a, b) in [
                ("uid", c.old.uid, c.new.uid),
                ("euid", c.old.euid, c.new.euid),
                ("gid", c.old.gid, c.new.gid),
                ("egid", c.old.egid, c.new.egid),
            ] {
                if a != b {
                    changes.push(format!("{name} {a}->{b}"));
                }
            }
            if changes.is_empty() {
                return w(Weight::Routine, format!("{call}: no change"));
            }
            if c.gained_root() {
                w(
                    Weight::Alert,
                    format!("GAINED ROOT via {call}: {}", changes.join(", ")),
                )
            } else {
                w(Weight::Normal, format!("{call}: {}", changes.join(", ")))
            }
        }
        K::Capset(c) => {
            let gained = c.new_eff & !c.old_eff;
            if c.ret < 0 {
                return w(Weight::Normal, format!("capset{}", failed(c.ret)));
            }
            // Root raising its own effective set is routine; anyone else gaining
            // capabilities is not.
            let root = img.is_some_and(|i| i.creds.euid == 0 && i.creds.uid == 0);
            if gained != 0 {
                w(
                    if root { Weight::Normal } else { Weight::Alert },
                    format!("gained capabilities {}", names::caps(gained)),
                )
            } else {
                w(
                    Weight::Normal,
                    format!(
                        "dropped capabilities {}",
                        names::caps(c.old_eff & !c.new_eff)
                    ),
                )
            }
        }
        K::Namespace(n) => {
            let op = match n.op {
                wire::kernel::NS_UNSHARE => "unshare",
                wire::kernel::NS_SETNS => "setns",
                _ => "clone into new",
            };
            let text = format!(
                "{op} namespaces {}{}",
                names::ns_flags(n.flags),
                if n.ret < 0 {
                    failed(n.ret)
                } else {
                    String::new()
                }
            );
            w(Weight::Alert, text)
        }
        K::Mount(m) => w(
            Weight::Alert,
            format!(
                "mounted {} on {} ({}){}",
                p(&m.source),
                p(&m.target),
                p(&m.fstype),
                if m.ret < 0 {
                    failed(m.ret)
                } else {
                    String::new()
                }
            ),
        ),
        K::Umount(u) => w(
            Weight::Normal,
            format!(
                "unmounted {}{}",
                p(&u.target),
                if u.ret < 0 {
                    failed(u.ret)
                } else {
                    String::new()
                }
            ),
        ),
        K::Ptrace(t) => w(
            Weight::Alert,
            format!(
                "ptrace {} pid {}{}",
                names::ptrace_request(t.request),
                t.target,
                if t.ret < 0 {
                    failed(t.ret)
                } else {
                    String::new()
                }
            ),
        ),
        K::ModuleLoad(m) => w(
            Weight::Alert,
            format!(
                "loaded kernel module {}{}",
                p(&m.name),
                if m.ret < 0 {
                    failed(m.ret)
                } else {
                    String::new()
                }
            ),
        ),
        K::BpfLoad(b) => w(
            Weight::Alert,
            format!(
                "loaded BPF program {:?} ({}, {} instructions){}",
                b.prog_name.display(),
                names::bpf_prog_type(b.prog_type),
                b.insn_cnt,
                if b.ret < 0 {
                    failed(b.ret)
                } else {
                    String::new()
                }
            ),
        ),
        K::Memfd(m) => w(
            Weight::Alert,
            format!(
                "created in-memory file (memfd) {:?}{}",
                p(&m.name),
                if m.ret < 0 {
                    failed(m.ret)
                } else {
                    String::new()
                }
            ),
        ),
        K::Signal(s) => {
            let target = model
                .current_image(s.target)
                .map(|i| model.image(i).label())
                .unwrap_or_else(|| s.target.to_string());
            let weight = if matches!(s.sig, 9 | 19) {
                Weight::Alert
            } else {
                Weight::Normal
            };
            w(
                weight,
                format!(
                    "sent {} to {target}{}",
                    names::signal(s.sig),
                    if s.ret < 0 {
                        failed(s.ret)
                    } else {
                        String::new()
                    }
                ),
            )
        }
        K::MmapExec(m) => {
            let weight = if routine_path(m.path.as_bytes()) {
                Weight::Routine
            } else {
                Weight::Alert
            };
            w(weight, format!("mapped executable {}", p(&m.path)))
        }
        K::Enforce(e) => w(Weight::Alert, enforce_words(model, step, e)),
        K::ProcessSnapshot(s) => {
            let img = img?;
            let weight = Weight::Routine;
            let parent = img
                .parent
                .map(|pp| format!(", parent {}", model.image(pp).label()))
                .unwrap_or_default();
            w(
                weight,
                format!(
                    "was running when the recording began: {}: {}  (uid {}{parent})",
                    p(&s.exe),
                    img.cmdline(),
                    s.uid
                ),
            )
        }
        K::Loss(l) => w(
            Weight::Alert,
            format!(
                "LOST {} records on cpu {} between {} and {}: events in this window are missing",
                l.count,
                l.loss_cpu,
                timefmt::wall(anchor.wall(l.window_start)),
                timefmt::wall(anchor.wall(l.window_end))
            ),
        ),
    }
}

/// "BLOCKED: connect to 10.0.0.5:443 denied by rule no-egress-from-web"; in monitor mode,
/// for an exempt process or a rate-limited rule "WOULD BLOCK: ..." / "EXEMPT: ...".
pub fn enforce_words(model: &Model, step: &Step, e: &wire::Enforce) -> String {
    use rewind_schema::wire::enforce as en;
    use rewind_schema::RecordType as T;
    let rule = match model.policy_rule(step.recording, e.rule) {
        Some(r) => ByteString::from(r.id.as_str()).display(),
        None => format!("#{}", e.rule),
    };
    let detail = e.detail_text();
    let what = match T::from_u16(e.trigger) {
        Some(T::Connect) => format!("connect to {detail}"),
        Some(T::UdpSend) => format!("UDP send to {detail}"),
        Some(T::Open) => format!("open of {detail}"),
        Some(T::Exec) => format!("exec of {detail}"),
        Some(T::Unlink) => format!("delete of {detail}"),
        Some(T::Rename) => format!("rename of {detail}"),
        Some(T::Chmod) => format!("chmod of {detail}"),
        Some(t) => format!("{} {detail}", t.name()),
        None => detail,
    };
    let (done, would) = match e.action {
        en::ACTION_KILL => ("process killed", "process would be killed"),
        en::ACTION_STOP => ("process stopped", "process would be stopped"),
        en::ACTION_DENY => ("denied", "would be denied"),
        en::ACTION_AUDIT => return format!("AUDIT: {what} matched rule {rule}"),
        _ => ("blocked", "would be blocked"),
    };
    let sep = if e.action == en::ACTION_DENY { "" } else { "," };
    if e.flags & en::ENFORCE_EXEMPT != 0 {
        format!("EXEMPT: {what}{sep} {would} by rule {rule}, but the process is exempt (pid 1, kernel thread or the recorder)")
    } else if e.flags & en::ENFORCE_RATE_LIMITED != 0 {
        format!("WOULD BLOCK: {what}{sep} {would} by rule {rule} (rule over its kill rate limit, switched to monitor)")
    } else if e.flags & en::ENFORCE_MONITOR != 0 {
        format!("WOULD BLOCK: {what}{sep} {would} by rule {rule} (monitor mode)")
    } else {
        format!("BLOCKED: {what}{sep} {done} by rule {rule}")
    }
}
