//! Rows on their way into SQLite. The replay thread turns each event into owned values
//! and sends them in batches to a second thread that owns the connection's statements
//! and only binds and inserts, so decoding, the model and SQLite run at the same time
//! (SQLite is most of an ingest's time; the replay alone is a fifth of it).

use rusqlite::types::{ToSqlOutput, Value};
use rusqlite::{Connection, Statement, ToSql};
use std::sync::mpsc::{Receiver, SyncSender};

/// A table rows are written to: an index into [`TABLES`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Table(u8);

/// Every table rows are inserted into, with its columns in the order values come.
pub(crate) const TABLES: [(&str, &str); 14] = [
    ("events", "id,ts_ns,time,recording,segment,cpu,type,pid,tid,process_id,related_id,conn_id"),
    ("execs", "event_id,process_id,prev_id,ts_ns,time,pid,ppid,exe,cmdline,cwd,uid,euid,gid,egid,exe_mode,setid_exe,from_memfd,exe_deleted,tty"),
    ("files", "event_id,process_id,ts_ns,time,pid,op,path,new_path,ret,ok,access,created,truncated,open_flags,mode,uid,gid,ino"),
    ("dns", "event_id,process_id,conn_id,ts_ns,time,boot,txid,response,rcode,section,question,name,type,value"),
    ("http", "event_id,process_id,conn_id,ts_ns,time,kind,inbound,method,path,host,status,reason,location,latency_ns"),
    ("privileges", "event_id,process_id,ts_ns,time,pid,kind,syscall,ret,ok,old_uid,new_uid,old_euid,new_euid,old_suid,new_suid,old_fsuid,new_fsuid,old_gid,new_gid,old_egid,new_egid,old_cap_eff,new_cap_eff,old_cap_prm,new_cap_prm,gained_root,caps_gained"),
    ("namespaces", "event_id,process_id,ts_ns,time,pid,op,ret,ok,flags,changed,source,target,fstype"),
    ("boots", "id,boot_id,hostname"),
    ("recordings", "id,trace_id,boot,hostname,kernel,anchor_boot_ns,anchor_wall_ns,segments"),
    ("processes", "id,exec_id,boot,pid,ppid,parent_id,origin,name,exe,cmdline,argv,argv_truncated,comm,cwd,uid,euid,gid,egid,auid,cap_eff,cap_prm,tty,cgroup,container_runtime,container_id,ns_mnt,ns_pid,ns_net,ns_uts,ns_ipc,ns_user,ns_cgroup,ns_time,non_host_ns,exe_mode,setid_exe,from_memfd,exe_deleted,start_ns,start_time,proc_start_ns,end_ns,end_time,end_how,exit_code,exit_signal,core_dumped,next_id,events,files,conns,children"),
    ("connections", "id,process_id,recording,cookie,direction,proto,local_addr,local_port,remote_addr,remote_port,remote_name,unix_path,start_ns,start_time,end_ns,end_time,ret,failed,bytes_sent,bytes_received,datagrams,peer_id"),
    ("tls", "conn_id,sni,offered_version,offered_version_name,version,version_name,cipher,cipher_name,key_bits,weaknesses,weak"),
    ("listeners", "id,process_id,ts_ns,time,proto,local_addr,port,ret,ok"),
    ("losses", "id,recording,cpu,count,start_ns,start_time,end_ns,end_time"),
];

/// `events`.
pub(crate) const EVENTS: Table = Table(0);
/// `execs`.
pub(crate) const EXECS: Table = Table(1);
/// `files`.
pub(crate) const FILES: Table = Table(2);
/// `dns`.
pub(crate) const DNS: Table = Table(3);
/// `http`.
pub(crate) const HTTP: Table = Table(4);
/// `privileges`.
pub(crate) const PRIVILEGES: Table = Table(5);
/// `namespaces`.
pub(crate) const NAMESPACES: Table = Table(6);
/// `boots`.
pub(crate) const BOOTS: Table = Table(7);
/// `recordings`.
pub(crate) const RECORDINGS: Table = Table(8);
/// `processes`.
pub(crate) const PROCESSES: Table = Table(9);
/// `connections`.
pub(crate) const CONNECTIONS: Table = Table(10);
/// `tls`.
pub(crate) const TLS: Table = Table(11);
/// `listeners`.
pub(crate) const LISTENERS: Table = Table(12);
/// `losses`.
pub(crate) const LOSSES: Table = Table(13);

/// Rows per batch: large enough that the channel costs nothing per row, small enough
/// that the database thread starts early and memory stays small.
const BATCH_ROWS: usize = 4096;

/// Rows in flight: values of every row, and each row's table and value count.
#[derive(Debug, Default)]
pub(crate) struct Batch {
    vals: Vec<Value>,
    rows: Vec<(Table, u16)>,
}

/// The replay side: collects rows and sends them to [`insert_all`] in batches.
#[derive(Debug)]
pub(crate) struct RowSender {
    batch: Batch,
    tx: Option<SyncSender<Batch>>,
}

fn owned(v: ToSqlOutput<'_>) -> Value {
    match v {
        ToSqlOutput::Borrowed(r) => r.into(),
        ToSqlOutput::Owned(v) => v,
        // Only zeroblob and arrays come here, which no row of ours holds.
        _ => Value::Null,
    }
}

impl RowSender {
    /// Sends batches into `tx`.
    pub(crate) fn new(tx: SyncSender<Batch>) -> Self {
        RowSender {
            batch: Batch::default(),
            tx: Some(tx),
        }
    }

    /// One row of `t`, values in [`TABLES`] column order.
    pub(crate) fn row(&mut self, t: Table, vals: &[&dyn ToSql]) -> anyhow::Result<()> {
        for v in vals {
            self.batch.vals.push(owned(v.to_sql()?));
        }
        self.batch.rows.push((t, vals.len() as u16));
        self.maybe_flush()
    }

    /// One row of `t` from owned values.
    pub(crate) fn row_values(&mut self, t: Table, vals: Vec<Value>) -> anyhow::Result<()> {
        self.batch.rows.push((t, vals.len() as u16));
        self.batch.vals.extend(vals);
        self.maybe_flush()
    }

    fn maybe_flush(&mut self) -> anyhow::Result<()> {
        if self.batch.rows.len() >= BATCH_ROWS {
            self.flush()?;
        }
        Ok(())
    }

    /// Sends what is collected.
    pub(crate) fn flush(&mut self) -> anyhow::Result<()> {
        if self.batch.rows.is_empty() {
            return Ok(());
        }
        let b = Batch {
            vals: Vec::with_capacity(self.batch.vals.len()),
            rows: Vec::with_capacity(BATCH_ROWS),
        };
        let full = std::mem::replace(&mut self.batch, b);
        let sent = self.tx.as_ref().is_some_and(|tx| tx.send(full).is_ok());
        if !sent {
            // The database thread stopped; its error says why.
            anyhow::bail!("the database writer stopped");
        }
        Ok(())
    }

    /// Sends the rest and closes the channel, so [`insert_all`] returns.
    pub(crate) fn close(&mut self) -> anyhow::Result<()> {
        let r = self.flush();
        self.tx = None;
        r
    }
}

/// The database side: inserts every row received until the sender is dropped. Returns
/// the rows inserted.
pub(crate) fn insert_all(conn: &Connection, rx: Receiver<Batch>) -> rusqlite::Result<u64> {
    let mut stmts: Vec<Statement<'_>> = TABLES
        .iter()
        .map(|(t, c)| conn.prepare(&super::writer::insert(t, c)))
        .collect::<rusqlite::Result<_>>()?;
    let mut n = 0u64;
    for b in rx {
        let mut vals = b.vals.iter();
        for &(t, count) in &b.rows {
            let st = &mut stmts[t.0 as usize];
            for i in 1..=count as usize {
                let v = vals.next().unwrap_or(&Value::Null);
                st.raw_bind_parameter(i, v)?;
            }
            st.raw_execute()?;
            n += 1;
        }
    }
    Ok(n)
}
