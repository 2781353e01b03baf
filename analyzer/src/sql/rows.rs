//! Event rows on their way into SQLite. The replay thread (decoding, the model, and turning
//! each event into column values) and SQLite's inserts are each a large part of an
//! ingest; run one after the other they add up, so the replay thread hands finished rows in
//! batches over a bounded channel to a thread that only binds and steps prepared
//! statements. The bound keeps memory flat; the thread holds the connection only while
//! rows flow, and the caller gets it back to write the model's rows.

use super::engine::{Cell, Insert};
use anyhow::Context;
use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{Connection, ToSql};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};

/// Rows per batch: large enough that the channel costs nothing per row, small enough
/// that the inserting thread starts early.
const BATCH_ROWS: usize = 4096;
/// Bytes of text per batch before it is sent early (long command lines, say).
const BATCH_BYTES: usize = 1 << 20;
/// Batches in flight: bounds memory when SQLite is the slower side.
const QUEUE: usize = 8;

const EVENT_COLS: &str =
    "id,ts_ns,time,recording,segment,cpu,type,pid,tid,process_id,related_id,conn_id";
const EXEC_COLS: &str = "event_id,process_id,prev_id,ts_ns,time,pid,ppid,exe,cmdline,cwd,uid,euid,gid,egid,exe_mode,setid_exe,from_memfd,exe_deleted,tty";
const FILE_COLS: &str = "event_id,process_id,ts_ns,time,pid,op,path,new_path,ret,ok,access,created,truncated,open_flags,mode,uid,gid,ino";
const DNS_COLS: &str =
    "event_id,process_id,conn_id,ts_ns,time,boot,txid,response,rcode,section,question,name,type,value";
const HTTP_COLS: &str = "event_id,process_id,conn_id,ts_ns,time,kind,inbound,method,path,host,status,reason,location,latency_ns";
const CRED_COLS: &str = "event_id,process_id,ts_ns,time,pid,kind,syscall,ret,ok,old_uid,new_uid,old_euid,new_euid,old_suid,new_suid,old_fsuid,new_fsuid,old_gid,new_gid,old_egid,new_egid,old_cap_eff,new_cap_eff,old_cap_prm,new_cap_prm,gained_root,caps_gained";
const NS_COLS: &str =
    "event_id,process_id,ts_ns,time,pid,op,ret,ok,flags,changed,source,target,fstype";

/// The tables written row by row during the replay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Table {
    /// `events`.
    Events,
    /// `execs`.
    Execs,
    /// `files`.
    Files,
    /// `dns`.
    Dns,
    /// `http`.
    Http,
    /// `privileges`.
    Privileges,
    /// `namespaces`.
    Namespaces,
}

impl Table {
    const ALL: [Table; 7] = [
        Table::Events,
        Table::Execs,
        Table::Files,
        Table::Dns,
        Table::Http,
        Table::Privileges,
        Table::Namespaces,
    ];

    fn name_and_columns(self) -> (&'static str, &'static str) {
        match self {
            Table::Events => ("events", EVENT_COLS),
            Table::Execs => ("execs", EXEC_COLS),
            Table::Files => ("files", FILE_COLS),
            Table::Dns => ("dns", DNS_COLS),
            Table::Http => ("http", HTTP_COLS),
            Table::Privileges => ("privileges", CRED_COLS),
            Table::Namespaces => ("namespaces", NS_COLS),
        }
    }

    fn insert_sql(self) -> String {
        let (name, cols) = self.name_and_columns();
        super::writer::insert(name, cols)
    }

    fn columns(self) -> usize {
        self.name_and_columns().1.split(',').count()
    }
}

/// Rows of several tables, their values one after the other, the bytes of their text
/// and blobs in one buffer (no allocation per value on either side).
#[derive(Debug, Default)]
struct Batch {
    rows: Vec<Table>,
    cells: Vec<Cell>,
    bytes: Vec<u8>,
}

/// What was sent to one column: enough to prove a foreign key without reading the
/// column back (see [`super::foreign_keys_hold_with`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ColumnRange {
    /// Lowest and highest integer (meaningful when `ints > 0`).
    pub lo: i64,
    /// Highest integer.
    pub hi: i64,
    /// Integer values.
    pub ints: u64,
    /// Values that are neither NULL nor integers.
    pub others: u64,
}

impl Default for ColumnRange {
    fn default() -> Self {
        ColumnRange {
            lo: i64::MAX,
            hi: i64::MIN,
            ints: 0,
            others: 0,
        }
    }
}

/// [`ColumnRange`]s of every column of the tables written row by row, by table and
/// column name.
pub type ColumnRanges = std::collections::HashMap<(String, String), ColumnRange>;

/// The replay side: collects rows and sends full batches.
#[derive(Debug)]
pub struct Batcher {
    batch: Batch,
    widths: [usize; Table::ALL.len()],
    /// Where each table's columns start in `ranges`.
    first_range: [usize; Table::ALL.len()],
    ranges: Vec<ColumnRange>,
    tx: Option<SyncSender<Batch>>,
    /// Emptied batches coming back, so their buffers (a few MB) are reused rather than
    /// grown from nothing and freed on the other thread every time.
    recycled: Receiver<Batch>,
}

impl Batcher {
    /// Adds one row of `table` (values in the table's column order).
    pub fn push(&mut self, table: Table, params: &[&dyn ToSql]) -> anyhow::Result<()> {
        anyhow::ensure!(
            params.len() == self.widths[table as usize],
            "internal error: {} values for a row of {table:?}",
            params.len()
        );
        let b = &mut self.batch;
        let ranges = &mut self.ranges[self.first_range[table as usize]..];
        for (p, range) in params.iter().zip(ranges) {
            let out = p.to_sql()?;
            let v = match &out {
                ToSqlOutput::Borrowed(v) => *v,
                ToSqlOutput::Owned(v) => ValueRef::from(v),
                other => anyhow::bail!("internal error: unsupported SQL value {other:?}"),
            };
            if let ValueRef::Integer(i) = v {
                range.lo = range.lo.min(i);
                range.hi = range.hi.max(i);
                range.ints += 1;
            } else if v != ValueRef::Null {
                range.others += 1;
            }
            let cell = match v {
                ValueRef::Null => Cell::Null,
                ValueRef::Integer(i) => Cell::Int(i),
                ValueRef::Real(f) => Cell::Real(f),
                ValueRef::Text(t) => {
                    let (at, len) = append(&mut b.bytes, t)?;
                    Cell::Text(at, len)
                }
                ValueRef::Blob(t) => {
                    let (at, len) = append(&mut b.bytes, t)?;
                    Cell::Blob(at, len)
                }
            };
            b.cells.push(cell);
        }
        b.rows.push(table);
        if b.rows.len() >= BATCH_ROWS || b.bytes.len() >= BATCH_BYTES {
            self.send()?;
        }
        Ok(())
    }

    fn send(&mut self) -> anyhow::Result<()> {
        let next = self.recycled.try_recv().unwrap_or_else(|_| Batch {
            rows: Vec::with_capacity(BATCH_ROWS),
            cells: Vec::with_capacity(BATCH_ROWS * 16),
            bytes: Vec::with_capacity(BATCH_BYTES),
        });
        let batch = std::mem::replace(&mut self.batch, next);
        let tx = self
            .tx
            .as_ref()
            .context("internal error: rows after the end of the replay")?;
        // The receiver is gone only when the inserting thread failed; its error is the
        // one reported (see `run`).
        tx.send(batch)
            .map_err(|_| anyhow::anyhow!("the SQLite inserting thread stopped"))
    }

    /// What was sent to each column so far.
    pub fn ranges(&self) -> ColumnRanges {
        let mut out = ColumnRanges::new();
        for t in Table::ALL {
            let (name, cols) = t.name_and_columns();
            let first = self.first_range[t as usize];
            for (i, col) in cols.split(',').enumerate() {
                out.insert((name.to_string(), col.to_string()), self.ranges[first + i]);
            }
        }
        out
    }

    /// Sends what is left and ends the stream.
    pub fn close(&mut self) -> anyhow::Result<()> {
        let sent = if self.batch.rows.is_empty() {
            Ok(())
        } else {
            self.send()
        };
        // Dropping the sender is what lets the inserting thread finish.
        self.tx = None;
        sent
    }
}

/// Runs `produce` with a [`Batcher`] whose rows are inserted into `conn` by another
/// thread; returns what `produce` returned. An insert error (a full disk, say) is
/// reported in preference to the replay's error it causes.
pub fn run<T>(
    conn: &mut Connection,
    produce: impl FnOnce(Batcher) -> anyhow::Result<T>,
) -> anyhow::Result<T> {
    let (tx, rx) = sync_channel::<Batch>(QUEUE);
    let (back_tx, back_rx) = sync_channel::<Batch>(QUEUE + 2);
    let mut widths = [0; Table::ALL.len()];
    let mut first_range = [0; Table::ALL.len()];
    let mut columns = 0;
    for t in Table::ALL {
        widths[t as usize] = t.columns();
        first_range[t as usize] = columns;
        columns += widths[t as usize];
    }
    let batcher = Batcher {
        batch: Batch::default(),
        widths,
        first_range,
        ranges: vec![ColumnRange::default(); columns],
        tx: Some(tx),
        recycled: back_rx,
    };
    std::thread::scope(|scope| {
        // The connection moves to the thread (it is `Send`, not `Sync`) for as long as
        // rows flow; the caller has it back when this returns.
        let inserter = std::thread::Builder::new()
            .name("sqlite-insert".into())
            .spawn_scoped(scope, move || insert_all(conn, rx, back_tx, widths))
            .context("starting the SQLite inserting thread")?;
        let produced = produce(batcher);
        let inserted = inserter
            .join()
            .map_err(|_| anyhow::anyhow!("the SQLite inserting thread panicked"))?;
        inserted?;
        produced
    })
}

/// Rows per multi-row `INSERT` (`VALUES (...), (...), ...`): one statement run per this
/// many rows instead of per row, which saves SQLite's per-statement work (starting the
/// program, opening the table cursor, resetting).
const ROWS_PER_INSERT: usize = 32;

/// The inserting thread: for each table a prepared multi-row statement and a one-row
/// statement for the rest of a batch. Rows of different tables are independent (foreign
/// keys are checked at the end), so each batch is inserted table by table.
fn insert_all(
    conn: &mut Connection,
    rx: Receiver<Batch>,
    back: SyncSender<Batch>,
    widths: [usize; Table::ALL.len()],
) -> anyhow::Result<()> {
    let conn = &*conn;
    let mut one: Vec<Insert> = Vec::with_capacity(Table::ALL.len());
    let mut many: Vec<Insert> = Vec::with_capacity(Table::ALL.len());
    for t in Table::ALL {
        let sql = t.insert_sql();
        let (head, row) = sql
            .split_once(" VALUES ")
            .context("internal error: insert without VALUES")?;
        let multi = format!("{head} VALUES {}", vec![row; ROWS_PER_INSERT].join(","));
        one.push(Insert::prepare(conn, &sql).with_context(|| format!("insert into {t:?}"))?);
        many.push(Insert::prepare(conn, &multi).with_context(|| format!("insert into {t:?}"))?);
    }
    // Where each row's values start, by table.
    let mut starts: [Vec<usize>; Table::ALL.len()] = Default::default();
    for batch in rx {
        for v in starts.iter_mut() {
            v.clear();
        }
        let mut at = 0;
        for &t in &batch.rows {
            starts[t as usize].push(at);
            at += widths[t as usize];
        }
        anyhow::ensure!(
            at == batch.cells.len(),
            "internal error: a row batch holds {} values for {at} columns",
            batch.cells.len()
        );
        for t in Table::ALL {
            let w = widths[t as usize];
            let rows_of = &starts[t as usize];
            let mut chunks = rows_of.chunks_exact(ROWS_PER_INSERT);
            for chunk in chunks.by_ref() {
                let cells = chunk
                    .iter()
                    .flat_map(|&start| &batch.cells[start..start + w]);
                many[t as usize].run(cells, &batch.bytes)?;
            }
            for &start in chunks.remainder() {
                one[t as usize].run(&batch.cells[start..start + w], &batch.bytes)?;
            }
        }
        let mut batch = batch;
        batch.rows.clear();
        batch.cells.clear();
        batch.bytes.clear();
        // Full when the replay side has enough spares: then this one is simply freed.
        let _ = back.try_send(batch);
    }
    Ok(())
}

/// Appends `t` to a batch's bytes: its start and length there.
fn append(bytes: &mut Vec<u8>, t: &[u8]) -> anyhow::Result<(u32, u32)> {
    let at = u32::try_from(bytes.len()).context("internal error: a row batch over 4 GiB")?;
    let len = u32::try_from(t.len()).context("a value over 4 GiB")?;
    bytes.extend_from_slice(t);
    Ok((at, len))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rusqlite::params;

    #[test]
    fn column_ranges_are_what_the_database_holds() -> anyhow::Result<()> {
        let mut conn = super::super::engine::connection(None)?;
        conn.execute_batch("PRAGMA foreign_keys=OFF")?;
        conn.execute_batch(super::super::SCHEMA)?;
        let ranges = run(&mut conn, |mut b| {
            for id in 1..=5000i64 {
                let process = (id % 7 != 0).then_some(id % 300 + 2);
                b.push(
                    Table::Events,
                    params![
                        id,
                        id * 10,
                        "2026-12-02T00:00:00.000000000Z",
                        0,
                        0,
                        1,
                        "open",
                        100,
                        100,
                        process,
                        None::<i64>,
                        (id == 17).then_some("not a number"),
                    ],
                )?;
            }
            let ranges = b.ranges();
            b.close()?;
            Ok(ranges)
        })?;
        let mut checked = 0;
        for ((table, col), r) in &ranges {
            let q = format!(
                "SELECT coalesce(min(\"{col}\") FILTER (WHERE typeof(\"{col}\") = 'integer'), {}),
                        coalesce(max(\"{col}\") FILTER (WHERE typeof(\"{col}\") = 'integer'), {}),
                        count(*) FILTER (WHERE typeof(\"{col}\") = 'integer'),
                        count(*) FILTER (WHERE typeof(\"{col}\") NOT IN ('integer', 'null'))
                 FROM \"{table}\"",
                i64::MAX,
                i64::MIN
            );
            let db: ColumnRange = conn.query_row(&q, [], |row| {
                Ok(ColumnRange {
                    lo: row.get(0)?,
                    hi: row.get(1)?,
                    ints: row.get(2)?,
                    others: row.get(3)?,
                })
            })?;
            assert_eq!(*r, db, "{table}.{col}");
            checked += 1;
        }
        assert_eq!(
            ranges[&("events".into(), "process_id".into())].ints,
            5000 - 714
        );
        assert_eq!(ranges[&("events".into(), "conn_id".into())].others, 1);
        assert!(checked > 100, "{checked} columns");
        Ok(())
    }
}
