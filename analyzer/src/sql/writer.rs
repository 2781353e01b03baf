//! The SQLite writer: a replay [`Sink`] that turns each event into rows, handed in batches
//! to an inserting thread ([`super::rows`]) so that decoding and the model run beside
//! SQLite, and the model's final state (processes, connections, TLS, listeners, losses),
//! written at the end when process rows are complete (the caller holds one transaction
//! around both). Foreign keys are checked once afterwards (see `super`).

use super::rows::{Batcher, Table};
use crate::model::net::{tls_summary, Conn};
use crate::model::process::{End, Image};
use crate::model::proto::{self, HttpMsg};
use crate::model::{App, Model};
use crate::names;
use crate::replay::{Sink, Step};
use crate::timefmt;
use rewind_schema::meta::ClockAnchor;
use rewind_schema::trace::TraceSet;
use rewind_schema::wire::{self, Namespaces};
use rewind_schema::EventKind;
use rusqlite::{params, Connection};

/// What the writer needs to know about one recording (from the trace set).
#[derive(Debug, Clone)]
pub struct RecordingInfo {
    /// Trace id.
    pub trace_id: String,
    /// Hostname.
    pub hostname: String,
    /// Kernel release.
    pub kernel: String,
    /// Clock anchor.
    pub anchor: ClockAnchor,
    /// Number of segments given.
    pub segments: usize,
}

impl RecordingInfo {
    /// One per recording of `set`, in recording order.
    pub fn of(set: &TraceSet) -> Vec<RecordingInfo> {
        set.recordings
            .iter()
            .map(|r| {
                let m = &set.segments[r.segments[0]].meta;
                RecordingInfo {
                    trace_id: m.trace_id.clone(),
                    hostname: m.host.hostname.clone(),
                    kernel: m.host.kernel_release.clone(),
                    anchor: r.anchor,
                    segments: r.segments.len(),
                }
            })
            .collect()
    }
}

/// Formats wall-clock instants, reusing the formatted second (events come in time
/// order, so most share the second of the one before; chrono per row would dominate).
#[derive(Debug, Default)]
pub(crate) struct WallText {
    sec: Option<i128>,
    prefix: String,
}

impl WallText {
    /// Same text as [`timefmt::wall`].
    pub(crate) fn fmt(&mut self, ns: i128) -> String {
        let sec = ns.div_euclid(1_000_000_000);
        let sub = ns.rem_euclid(1_000_000_000);
        if self.sec != Some(sec) {
            let full = timefmt::wall(sec * 1_000_000_000);
            match full.strip_suffix(".000000000Z") {
                Some(p) => {
                    self.prefix = p.to_string();
                    self.sec = Some(sec);
                }
                None => return timefmt::wall(ns),
            }
        }
        format!("{}.{sub:09}Z", self.prefix)
    }
}

/// Rows written, by table.
#[derive(Debug, Clone, Default)]
pub struct RowCounts {
    /// `events`.
    pub events: u64,
    /// Every other table together.
    pub other: u64,
}

impl RowCounts {
    /// All rows.
    pub fn total(&self) -> u64 {
        self.events + self.other
    }
}

/// The SQLite sink: rows of each event go to the inserting thread; the model's rows are
/// written by [`SqlWriter::write_model`] once that thread is done.
pub struct SqlWriter {
    recordings: Vec<RecordingInfo>,
    wall: WallText,
    next_event: i64,
    rows: RowCounts,
    out: Batcher,
}

impl std::fmt::Debug for SqlWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqlWriter")
            .field("rows", &self.rows)
            .finish_non_exhaustive()
    }
}

fn placeholders(n: usize) -> String {
    vec!["?"; n].join(",")
}

pub(crate) fn insert(table: &str, cols: &str) -> String {
    let n = cols.split(',').count();
    format!("INSERT INTO {table} ({cols}) VALUES ({})", placeholders(n))
}

/// `O_ACCMODE` and friends (x86_64 values).
const O_ACCMODE: u32 = 3;
const O_CREAT: u32 = 0o100;
const O_TRUNC: u32 = 0o1000;

impl SqlWriter {
    /// A writer whose event rows go to `out`.
    pub fn new(recordings: Vec<RecordingInfo>, out: Batcher) -> Self {
        SqlWriter {
            recordings,
            wall: WallText::default(),
            next_event: 0,
            rows: RowCounts::default(),
            out,
        }
    }

    /// Ends the stream of event rows (idempotent).
    pub fn close_rows(&mut self) -> anyhow::Result<()> {
        self.out.close()
    }

    /// What was sent to each column of the tables written row by row.
    pub fn column_ranges(&self) -> super::rows::ColumnRanges {
        self.out.ranges()
    }

    /// Rows written so far.
    pub fn rows(&self) -> &RowCounts {
        &self.rows
    }

    /// Wall-clock text for a boot-time ns of `boot`, through its first recording's anchor.
    fn boot_time(&mut self, model: &Model, boot: u16, ts: u64) -> String {
        let anchor = model
            .recording_boot
            .iter()
            .position(|&b| b == boot)
            .and_then(|r| self.recordings.get(r))
            .map(|r| r.anchor)
            .unwrap_or_default();
        self.wall.fmt(anchor.wall(ts))
    }

    fn rec_time(&mut self, rec: u16, ts: u64) -> String {
        let anchor = self
            .recordings
            .get(rec as usize)
            .map(|r| r.anchor)
            .unwrap_or_default();
        self.wall.fmt(anchor.wall(ts))
    }

    fn write_event(&mut self, model: &Model, s: &Step) -> anyhow::Result<()> {
        self.next_event += 1;
        let id = self.next_event;
        let ev = s.ev;
        let time = self.wall.fmt(s.wall_ns);
        let img = s.at.image.map(|i| i.0);
        self.out.push(
            Table::Events,
            params![
                id,
                ev.ts as i64,
                time,
                s.recording,
                s.segment as i64,
                ev.cpu,
                ev.kind.record_type().name(),
                ev.pid,
                ev.tid,
                img,
                s.at.related.map(|i| i.0),
                s.at.conn.map(|c| c.0),
            ],
        )?;
        self.rows.events += 1;
        let Some(img) = img else { return Ok(()) };
        let ts = ev.ts as i64;
        use EventKind as K;
        match &ev.kind {
            K::Exec(e) => {
                self.out.push(
                    Table::Execs,
                    params![
                        id,
                        img,
                        s.at.related.map(|i| i.0),
                        ts,
                        time,
                        ev.pid,
                        e.ppid,
                        e.filename.display(),
                        model.image(crate::model::process::ImageId(img)).cmdline(),
                        e.cwd.display(),
                        e.uid,
                        e.euid,
                        e.gid,
                        e.egid,
                        e.exe_mode,
                        e.setid_binary(),
                        e.flags & wire::exec::EXEC_FROM_MEMFD != 0,
                        e.flags & wire::exec::EXEC_EXE_DELETED != 0,
                        e.tty,
                    ],
                )?;
            }
            K::Open(o) => {
                let access = match o.open_flags & O_ACCMODE {
                    0 => "read",
                    1 => "write",
                    _ => "read-write",
                };
                self.out.push(
                    Table::Files,
                    params![
                        id,
                        img,
                        ts,
                        time,
                        ev.pid,
                        "open",
                        o.path.display(),
                        None::<String>,
                        o.ret,
                        o.ret >= 0,
                        access,
                        o.open_flags & O_CREAT != 0,
                        o.open_flags & O_TRUNC != 0,
                        o.open_flags,
                        o.mode,
                        None::<u32>,
                        None::<u32>,
                        o.ino as i64,
                    ],
                )?;
            }
            K::Unlink(u) => self.file_change(
                id, img, ts, &time, ev.pid, "unlink", &u.path, None, u.ret, None,
            )?,
            K::Rename(r) => self.file_change(
                id,
                img,
                ts,
                &time,
                ev.pid,
                "rename",
                &r.old,
                Some(&r.new),
                r.ret,
                None,
            )?,
            K::Chmod(c) => self.file_change(
                id,
                img,
                ts,
                &time,
                ev.pid,
                "chmod",
                &c.path,
                None,
                c.ret,
                Some((Some(c.mode), None, None)),
            )?,
            K::Chown(c) => {
                let id_or_null = |v: u32| (v != u32::MAX).then_some(v);
                self.file_change(
                    id,
                    img,
                    ts,
                    &time,
                    ev.pid,
                    "chown",
                    &c.path,
                    None,
                    c.ret,
                    Some((None, id_or_null(c.uid), id_or_null(c.gid))),
                )?
            }
            K::Cred(c) => {
                self.out.push(
                    Table::Privileges,
                    params![
                        id,
                        img,
                        ts,
                        time,
                        ev.pid,
                        "cred",
                        names::cred_syscall(c.syscall),
                        c.ret,
                        c.ret == 0,
                        c.old.uid,
                        c.new.uid,
                        c.old.euid,
                        c.new.euid,
                        c.old.suid,
                        c.new.suid,
                        c.old.fsuid,
                        c.new.fsuid,
                        c.old.gid,
                        c.new.gid,
                        c.old.egid,
                        c.new.egid,
                        None::<i64>,
                        None::<i64>,
                        None::<i64>,
                        None::<i64>,
                        c.gained_root(),
                        None::<String>,
                    ],
                )?;
            }
            K::Capset(c) => {
                let gained = c.new_eff & !c.old_eff;
                self.out.push(
                    Table::Privileges,
                    params![
                        id,
                        img,
                        ts,
                        time,
                        ev.pid,
                        "capset",
                        "capset",
                        c.ret,
                        c.ret == 0,
                        None::<u32>,
                        None::<u32>,
                        None::<u32>,
                        None::<u32>,
                        None::<u32>,
                        None::<u32>,
                        None::<u32>,
                        None::<u32>,
                        None::<u32>,
                        None::<u32>,
                        None::<u32>,
                        None::<u32>,
                        c.old_eff as i64,
                        c.new_eff as i64,
                        c.old_prm as i64,
                        c.new_prm as i64,
                        false,
                        (c.ret == 0 && gained != 0).then(|| names::caps(gained)),
                    ],
                )?;
            }
            K::Namespace(n) => {
                let op = match n.op {
                    wire::kernel::NS_UNSHARE => "unshare",
                    wire::kernel::NS_SETNS => "setns",
                    wire::kernel::NS_CLONE => "clone",
                    _ => "namespace",
                };
                let changed = ns_changed(&n.old, &n.new);
                self.out.push(
                    Table::Namespaces,
                    params![
                        id,
                        img,
                        ts,
                        time,
                        ev.pid,
                        op,
                        n.ret,
                        n.ret == 0,
                        names::ns_flags(n.flags),
                        (!changed.is_empty()).then_some(changed),
                        None::<String>,
                        None::<String>,
                        None::<String>,
                    ],
                )?;
            }
            K::Mount(m) => {
                self.out.push(
                    Table::Namespaces,
                    params![
                        id,
                        img,
                        ts,
                        time,
                        ev.pid,
                        "mount",
                        m.ret,
                        m.ret == 0,
                        format!("{:#x}", m.flags),
                        None::<String>,
                        m.source.display(),
                        m.target.display(),
                        m.fstype.display(),
                    ],
                )?;
            }
            K::Umount(u) => {
                self.out.push(
                    Table::Namespaces,
                    params![
                        id,
                        img,
                        ts,
                        time,
                        ev.pid,
                        "umount",
                        u.ret,
                        u.ret == 0,
                        format!("{:#x}", u.flags),
                        None::<String>,
                        None::<String>,
                        u.target.display(),
                        None::<String>,
                    ],
                )?;
            }
            K::Dns(_) => {
                if let Some(App::Dns(m)) = &s.at.app {
                    let boot = model
                        .recording_boot
                        .get(s.recording as usize)
                        .copied()
                        .unwrap_or(0);
                    let conn = s.at.conn.map(|c| c.0);
                    let question = m.questions.first().map(|q| q.0.clone());
                    let mut row =
                        |section: &str, name: &str, ty: Option<&str>, value: Option<String>| {
                            self.rows.other += 1;
                            self.out.push(
                                Table::Dns,
                                params![
                                    id, img, conn, ts, time, boot, m.id, m.response, m.rcode,
                                    section, question, name, ty, value
                                ],
                            )
                        };
                    for (name, ty) in &m.questions {
                        row("question", name, Some(ty), None)?;
                    }
                    for (name, ip) in &m.addrs {
                        let ty = if ip.is_ipv4() { "A" } else { "AAAA" };
                        row("answer", name, Some(ty), Some(ip.to_string()))?;
                    }
                    for (alias, canon) in &m.cnames {
                        row("cname", alias, Some("CNAME"), Some(canon.clone()))?;
                    }
                }
                return Ok(());
            }
            K::Snippet(sn) => {
                if let Some(App::Http { msg, latency_ns }) = &s.at.app {
                    let conn = s.at.conn.map(|c| c.0);
                    let (kind, method, path, host, status, reason, location) = match msg {
                        HttpMsg::Request { method, path, host } => (
                            "request",
                            Some(method),
                            Some(path),
                            host.as_ref(),
                            None,
                            None,
                            None,
                        ),
                        HttpMsg::Response {
                            status,
                            reason,
                            location,
                        } => (
                            "response",
                            None,
                            None,
                            None,
                            Some(*status),
                            Some(reason),
                            location.as_ref(),
                        ),
                    };
                    self.out.push(
                        Table::Http,
                        params![
                            id,
                            img,
                            conn,
                            ts,
                            time,
                            kind,
                            sn.inbound(),
                            method,
                            path,
                            host,
                            status,
                            reason,
                            location,
                            latency_ns.map(|l| l as i64),
                        ],
                    )?;
                } else {
                    return Ok(());
                }
            }
            _ => return Ok(()),
        }
        self.rows.other += 1;
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn file_change(
        &mut self,
        id: i64,
        img: u32,
        ts: i64,
        time: &str,
        pid: u32,
        op: &str,
        path: &wire::ByteString,
        new_path: Option<&wire::ByteString>,
        ret: i32,
        attrs: Option<(Option<u32>, Option<u32>, Option<u32>)>,
    ) -> anyhow::Result<()> {
        let (mode, uid, gid) = attrs.unwrap_or((None, None, None));
        self.out.push(
            Table::Files,
            params![
                id,
                img,
                ts,
                time,
                pid,
                op,
                path.display(),
                new_path.map(|p| p.display()),
                ret,
                ret >= 0,
                None::<String>,
                None::<bool>,
                None::<bool>,
                None::<u32>,
                mode,
                uid,
                gid,
                None::<i64>,
            ],
        )?;
        Ok(())
    }

    /// Writes everything that is final only at the end of the replay.
    /// Writes everything that is final only at the end of the replay, on `c` (after the
    /// inserting thread is done with it).
    pub fn write_model(&mut self, c: &Connection, model: &Model) -> rusqlite::Result<()> {
        let mut n = 0u64;
        {
            let mut st = c.prepare(&insert("boots", "id,boot_id,hostname"))?;
            for (i, b) in model.boots.iter().enumerate() {
                st.execute(params![i as i64, b.boot_id, b.hostname])?;
                n += 1;
            }
            let mut st = c.prepare(&insert(
                "recordings",
                "id,trace_id,boot,hostname,kernel,anchor_boot_ns,anchor_wall_ns,segments",
            ))?;
            for (i, r) in self.recordings.iter().enumerate() {
                let boot = model.recording_boot.get(i).copied().unwrap_or(0);
                st.execute(params![
                    i as i64,
                    r.trace_id,
                    boot,
                    r.hostname,
                    r.kernel,
                    r.anchor.boot_ns as i64,
                    r.anchor.wall_ns as i64,
                    r.segments as i64
                ])?;
                n += 1;
            }
        }
        n += self.write_processes(c, model)?;
        n += self.write_connections(c, model)?;
        {
            let mut st = c.prepare(&insert(
                "listeners",
                "id,process_id,ts_ns,time,proto,local_addr,port,ret,ok",
            ))?;
            for (i, l) in model.listeners.iter().enumerate() {
                let boot = model.image(l.image).boot;
                let time = self.boot_time(model, boot, l.ts);
                st.execute(params![
                    i as i64,
                    l.image.0,
                    l.ts as i64,
                    time,
                    l.proto,
                    l.local.map(|a| a.ip().to_string()),
                    l.port,
                    l.ret,
                    l.ret == 0
                ])?;
                n += 1;
            }
            let mut st = c.prepare(&insert(
                "losses",
                "id,recording,cpu,count,start_ns,start_time,end_ns,end_time",
            ))?;
            for (i, l) in model.losses.iter().enumerate() {
                let a = self.rec_time(l.recording, l.start_ns);
                let b = self.rec_time(l.recording, l.end_ns);
                st.execute(params![
                    i as i64,
                    l.recording,
                    l.cpu,
                    l.count as i64,
                    l.start_ns as i64,
                    a,
                    l.end_ns as i64,
                    b
                ])?;
                n += 1;
            }
        }
        self.rows.other += n;
        Ok(())
    }

    fn write_processes(&mut self, c: &Connection, model: &Model) -> rusqlite::Result<u64> {
        const COLS: &str = "id,exec_id,boot,pid,ppid,parent_id,origin,name,exe,cmdline,argv,argv_truncated,comm,cwd,uid,euid,gid,egid,auid,cap_eff,cap_prm,tty,cgroup,container_runtime,container_id,ns_mnt,ns_pid,ns_net,ns_uts,ns_ipc,ns_user,ns_cgroup,ns_time,non_host_ns,exe_mode,setid_exe,from_memfd,exe_deleted,start_ns,start_time,proc_start_ns,end_ns,end_time,end_how,exit_code,exit_signal,core_dumped,next_id,events,files,conns,children";
        let mut st = c.prepare(&insert("processes", COLS))?;
        for img in &model.images {
            let start_time = self.boot_time(model, img.boot, img.start_ns);
            let end_time = img.end_ns.map(|e| self.boot_time(model, img.boot, e));
            let (end_how, core, next) = match img.end {
                Some(End::Exit { core, .. }) => (Some("exit"), Some(core), None),
                Some(End::Exec { next }) => (Some("exec"), None, Some(next.0)),
                None => (None, None, None),
            };
            st.execute(rusqlite::params_from_iter(process_row(
                model, img, start_time, end_time, end_how, core, next,
            )))?;
        }
        Ok(model.images.len() as u64)
    }

    fn write_connections(&mut self, conn: &Connection, model: &Model) -> rusqlite::Result<u64> {
        const COLS: &str = "id,process_id,recording,cookie,direction,proto,local_addr,local_port,remote_addr,remote_port,remote_name,unix_path,start_ns,start_time,end_ns,end_time,ret,failed,outcome,handshake_ns,bytes_sent,bytes_received,datagrams,peer_id";
        let mut st = conn.prepare(&insert("connections", COLS))?;
        let mut tls = conn.prepare(&insert(
            "tls",
            "conn_id,sni,offered_version,offered_version_name,version,version_name,cipher,cipher_name,key_bits,weaknesses,weak",
        ))?;
        let mut n = 0;
        for c in &model.conns {
            let start = self.rec_time(c.recording, c.start_ns);
            let end = c.end_ns.map(|e| self.rec_time(c.recording, e));
            st.execute(params![
                c.id.0,
                c.image.0,
                c.recording,
                format!("{:016x}", c.cookie),
                c.dir.name(),
                c.proto,
                c.local.map(|a| a.ip().to_string()),
                c.local.map(|a| a.port()),
                c.remote.map(|a| a.ip().to_string()),
                c.remote.map(|a| a.port()),
                c.remote_name,
                c.unix_path.as_ref().map(|p| p.display()),
                c.start_ns as i64,
                start,
                c.end_ns.map(|e| e as i64),
                end,
                c.ret,
                c.failed(),
                c.outcome().text(),
                c.settled.map(|s| s.after_ns as i64).filter(|&n| n > 0),
                c.bytes_sent as i64,
                c.bytes_received as i64,
                c.datagrams as i64,
                c.peer.map(|p| p.0),
            ])?;
            n += 1;
            if let Some(row) = tls_row(model, c) {
                tls.execute(rusqlite::params_from_iter(row))?;
                n += 1;
            }
        }
        Ok(n)
    }
}

/// Namespace names whose inode changed (both known).
fn ns_changed(a: &Namespaces, b: &Namespaces) -> String {
    names::ns_pairs(a, b)
        .iter()
        .filter(|(_, x, y)| *y != 0 && x != y)
        .map(|(n, _, _)| *n)
        .collect::<Vec<_>>()
        .join(",")
}

type Value = rusqlite::types::Value;

fn int(v: impl Into<i64>) -> Value {
    Value::Integer(v.into())
}

fn text(s: impl Into<String>) -> Value {
    Value::Text(s.into())
}

fn opt<T: Into<Value>>(v: Option<T>) -> Value {
    v.map(Into::into).unwrap_or(Value::Null)
}

fn process_row(
    model: &Model,
    img: &Image,
    start_time: String,
    end_time: Option<String>,
    end_how: Option<&str>,
    core: Option<bool>,
    next: Option<u32>,
) -> Vec<Value> {
    let argv: Vec<String> = img.argv.iter().map(|a| a.display()).collect();
    let cr = &img.creds;
    let ns = &img.ns;
    vec![
        int(img.id.0),
        text(img.exec_id()),
        int(img.boot),
        int(img.pid),
        int(img.ppid),
        opt(img.parent.map(|p| i64::from(p.0))),
        text(img.origin.name()),
        text(img.name()),
        text(img.exe.display()),
        text(img.cmdline()),
        text(serde_json::to_string(&argv).unwrap_or_else(|_| "[]".into())),
        int(img.argv_truncated),
        text(img.comm.display()),
        text(img.cwd.display()),
        int(cr.uid),
        int(cr.euid),
        int(cr.gid),
        int(cr.egid),
        opt((cr.auid != u32::MAX).then_some(i64::from(cr.auid))),
        int(cr.cap_eff as i64),
        int(cr.cap_prm as i64),
        int(img.tty),
        text(img.cgroup.display()),
        opt(img.container.as_ref().map(|c| c.runtime.clone())),
        opt(img.container.as_ref().map(|c| c.id.clone())),
        int(ns.mnt),
        int(ns.pid),
        int(ns.net),
        int(ns.uts),
        int(ns.ipc),
        int(ns.user),
        int(ns.cgroup),
        int(ns.time),
        text(model.non_host_namespaces(img).join(",")),
        int(img.exe_mode),
        int(img.exe_mode & 0o6000 != 0),
        int(img.from_memfd),
        int(img.exe_deleted),
        int(img.start_ns as i64),
        text(start_time),
        int(img.proc_start as i64),
        opt(img.end_ns.map(|e| e as i64)),
        opt(end_time),
        opt(end_how.map(str::to_string)),
        opt(img.exit_code().map(i64::from)),
        opt(img.exit_signal().map(i64::from)),
        opt(core.map(i64::from)),
        opt(next.map(i64::from)),
        int(img.counts.events as i64),
        int(img.counts.files as i64),
        int(img.counts.conns as i64),
        int(img.counts.children),
    ]
}

fn tls_row(model: &Model, c: &Conn) -> Option<Vec<Value>> {
    let s = tls_summary(c, c.peer.map(|p| model.conn(p)));
    if s.is_empty() {
        return None;
    }
    let weak: Vec<&str> = s
        .cipher
        .map(proto::cipher_weaknesses)
        .unwrap_or_default()
        .into_iter()
        .chain(
            s.version
                .filter(|&v| v < 0x0303)
                .map(|_| "protocol older than TLS 1.2"),
        )
        .collect();
    Some(vec![
        int(c.id.0),
        opt(s.sni),
        opt(s.offered_version.map(i64::from)),
        opt(s.offered_version.map(proto::tls_version_name)),
        opt(s.version.map(i64::from)),
        opt(s.version.map(proto::tls_version_name)),
        opt(s.cipher.map(i64::from)),
        opt(s.cipher.map(proto::cipher_name)),
        opt(s.cipher.and_then(proto::cipher_key_bits).map(i64::from)),
        opt((!weak.is_empty()).then(|| weak.join("; "))),
        int(!weak.is_empty()),
    ])
}

impl Sink for SqlWriter {
    fn step(&mut self, model: &Model, step: &Step) -> anyhow::Result<()> {
        self.write_event(model, step)
    }

    fn finish(&mut self, _model: &Model) -> anyhow::Result<()> {
        self.out.close()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wall_text_matches_timefmt() {
        let mut w = WallText::default();
        for ns in [
            1_768_467_600_000_000_001i128,
            1_768_467_600_999_999_999,
            1_768_467_601_000_000_000,
            1_768_467_600_500_000_000,
            -1,
        ] {
            assert_eq!(w.fmt(ns), timefmt::wall(ns), "{ns}");
        }
    }
}
