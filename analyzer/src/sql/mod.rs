//! The SQLite model: the process model and every event as relational tables, so that
//! forensic questions can be asked in SQL (`analyzer ingest`, `analyzer query`).
//!
//! The schema is compiled in ([`SCHEMA`], documented in `queries/SCHEMA.md`); rows come
//! from the [`writer::SqlWriter`] replay sink, inserted by a second thread
//! ([`rows`]), inside one transaction. Indexes are built after the bulk load, and
//! foreign keys are checked once at the end ([`foreign_keys_hold_with`], else
//! `PRAGMA foreign_key_check`): enforcing them row by row would need the process rows
//! first, and those are only final at the end of the replay.

pub mod engine;
pub mod query;
pub mod rows;
pub mod writer;

use crate::exit::Outcome;
use crate::replay::{replay, ReplayOptions, Sink};
use anyhow::Context;
use rewind_schema::trace::TraceSet;
use rusqlite::{Connection, OpenFlags};
use std::path::Path;
use std::time::{Duration, Instant};
use writer::{RecordingInfo, SqlWriter};

/// Version of the schema below (`meta.schema_version`).
pub const SCHEMA_VERSION: u32 = 2;
/// The tables (DDL).
pub const SCHEMA: &str = include_str!("schema.sql");
/// The indexes, created after the bulk load.
pub const INDEXES: &str = include_str!("indexes.sql");

/// What an ingest did.
#[derive(Debug, Clone)]
pub struct IngestStats {
    /// Events replayed (kernel records: `RecordType::is_event`).
    pub events: u64,
    /// Records replayed: the events, process snapshots and loss markers (the rows of
    /// `events`).
    pub records: u64,
    /// Rows written, every table.
    pub rows: u64,
    /// Wall time of the whole ingest (replay, rows, indexes, checks, commit).
    pub elapsed: Duration,
    /// Clean or partial (damaged input; warnings already printed).
    pub outcome: Outcome,
    /// Where the time went: replay and rows, indexes, foreign key check, commit.
    pub phases: Vec<(&'static str, Duration)>,
}

impl IngestStats {
    /// Rows per second.
    pub fn rows_per_sec(&self) -> f64 {
        self.rows as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// `rows 2.53s, indexes 2.29s, ...`: where the time went.
    pub fn phases_text(&self) -> String {
        self.phases
            .iter()
            .map(|(n, d)| format!("{n} {:.2}s", d.as_secs_f64()))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Replays `set` into `conn` (an empty database): schema, rows, indexes, a foreign key
/// check that must come back empty, one commit.
pub fn ingest(
    conn: &mut Connection,
    set: &TraceSet,
    opts: ReplayOptions,
) -> anyhow::Result<IngestStats> {
    ingest_with(conn, set, opts, &mut [])
}

/// [`ingest`], feeding `others` from the same replay (so a caller that also wants a
/// timeline or the finished model does not replay twice).
pub fn ingest_with(
    conn: &mut Connection,
    set: &TraceSet,
    opts: ReplayOptions,
    others: &mut [&mut dyn Sink],
) -> anyhow::Result<IngestStats> {
    let t0 = Instant::now();
    // The file is written under a temporary name and renamed when complete, so a crash
    // leaves no half database behind: no journal needed.
    //
    // Index building is SQLite's sorter: with temporary files it sorts runs of
    // `cache_size` bytes (cache-sized, on a second thread with `threads`) and merges
    // them; with `temp_store=MEMORY` it would sort every row of a table in one linked
    // list, which misses the CPU cache at every step (5 M events: 5.7-6.8 s instead of 1.8-2.6 s
    // for `events(process_id)`). A larger page cache bought nothing measurable (pages
    // beyond it go to the OS's file cache) and cost about 200 MB at 1 M events.
    conn.execute_batch(
        "PRAGMA page_size=65536; PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; PRAGMA locking_mode=EXCLUSIVE;
         PRAGMA temp_store=FILE; PRAGMA cache_size=-16384; PRAGMA foreign_keys=OFF;
         PRAGMA threads=2;",
    )?;
    conn.execute_batch("BEGIN")?;
    conn.execute_batch(SCHEMA).context("creating the schema")?;
    let (mut w, replayed) = rows::run(conn, |batcher| {
        let mut w = SqlWriter::new(RecordingInfo::of(set), batcher);
        let replayed = {
            let mut sinks: Vec<&mut (dyn Sink + '_)> = vec![&mut w];
            for s in others.iter_mut() {
                sinks.push(&mut **s);
            }
            replay(set, &mut sinks, opts)
        };
        // Normally done by the sink's `finish`; again here in case the replay stopped
        // early, so that the inserting thread ends either way.
        let closed = w.close_rows();
        Ok((w, replayed.and_then(|r| closed.map(|_| r))))
    })?;
    let (model, stats) = replayed?;
    w.write_model(conn, &model)?;
    let known = w.column_ranges();
    let (events, records, rows, outcome) = (
        stats.events,
        stats.records,
        w.rows().total(),
        stats.outcome.unwrap_or(Outcome::Clean),
    );
    let meta: [(&str, String); 5] = [
        ("schema_version", SCHEMA_VERSION.to_string()),
        ("analyzer_version", env!("CARGO_PKG_VERSION").to_string()),
        ("events", events.to_string()),
        ("records", records.to_string()),
        ("partial", (outcome == Outcome::Partial).to_string()),
    ];
    for (k, v) in meta {
        conn.execute("INSERT INTO meta (key, value) VALUES (?1, ?2)", (k, v))?;
    }
    let mut phases = vec![("rows", t0.elapsed())];
    let mut lap = Instant::now();
    let mut phase = |name: &'static str| {
        phases.push((name, lap.elapsed()));
        lap = Instant::now();
    };
    conn.execute_batch(INDEXES).context("creating indexes")?;
    phase("indexes");
    let bad = if foreign_keys_hold_with(conn, &known)? {
        Vec::new()
    } else {
        foreign_key_problems(conn)?
    };
    phase("foreign keys");
    if !bad.is_empty() {
        anyhow::bail!(
            "internal error: {} rows break foreign keys, first: {}",
            bad.len(),
            bad[0]
        );
    }
    conn.execute_batch("COMMIT")?;
    phase("commit");
    Ok(IngestStats {
        events,
        records,
        rows: rows + 5,
        elapsed: t0.elapsed(),
        outcome,
        phases,
    })
}

/// `PRAGMA foreign_key_check`, each problem as `table rowid -> parent`.
pub fn foreign_key_problems(conn: &Connection) -> rusqlite::Result<Vec<String>> {
    let mut st = conn.prepare("PRAGMA foreign_key_check")?;
    let rows = st.query_map([], |r| {
        Ok(format!(
            "{} row {} -> {}",
            r.get::<_, String>(0)?,
            r.get::<_, Option<i64>>(1)?.unwrap_or(-1),
            r.get::<_, String>(2)?
        ))
    })?;
    rows.collect()
}

/// Every foreign key of the schema points at an `INTEGER PRIMARY KEY` (rowid) of its parent
/// table. When each parent's keys are dense (`count = max - min + 1`), a child value is a
/// valid reference exactly when it is an integer within the parent's `min..=max`: one scan
/// per child table with no lookups, instead of `PRAGMA foreign_key_check`'s index lookup
/// per reference (a tenth of an ingest). `false` means "not shown": the full check
/// decides (and names the rows).
pub fn foreign_keys_hold_by_range(conn: &Connection) -> rusqlite::Result<bool> {
    foreign_keys_hold_with(conn, &rows::ColumnRanges::new())
}

/// [`foreign_keys_hold_by_range`], taking the values of the columns in `known` from there
/// instead of scanning them: an ingest knows what it sent to the tables written row by
/// row (the bulk of the rows), so only the model's tables are read back.
pub fn foreign_keys_hold_with(
    conn: &Connection,
    known: &rows::ColumnRanges,
) -> rusqlite::Result<bool> {
    let tables: Vec<String> = {
        let mut st =
            conn.prepare("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name")?;
        let names = st.query_map([], |r| r.get(0))?;
        names.collect::<rusqlite::Result<_>>()?
    };
    // Parent table -> (its rowid column, lowest and highest id).
    let mut parents: std::collections::HashMap<String, (String, i64, i64)> = Default::default();
    for child in &tables {
        // (parent table, child column, parent column)
        let fks: Vec<(String, String, Option<String>)> = {
            let mut st = conn
                .prepare("SELECT \"table\", \"from\", \"to\" FROM pragma_foreign_key_list(?1)")?;
            let rows = st.query_map([child], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
            rows.collect::<rusqlite::Result<_>>()?
        };
        let mut conds = Vec::new();
        for (parent, col, to) in fks {
            if !parents.contains_key(&parent) {
                let Some(key) = tables
                    .contains(&parent)
                    .then(|| rowid_column(conn, &parent))
                    .transpose()?
                    .flatten()
                else {
                    return Ok(false);
                };
                let q = format!(
                    "SELECT count(*), coalesce(min(rowid), 1), coalesce(max(rowid), 0) FROM \"{parent}\""
                );
                let (n, lo, hi): (i64, i64, i64) =
                    conn.query_row(&q, [], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
                if n != 0 && hi - lo + 1 != n {
                    return Ok(false);
                }
                parents.insert(parent.clone(), (key, lo, hi));
            }
            let (key, lo, hi) = &parents[&parent];
            if to.as_ref().is_some_and(|c| c != key) {
                return Ok(false);
            }
            if let Some(r) = known.get(&(child.clone(), col.clone())) {
                if r.others > 0 || (r.ints > 0 && (r.lo < *lo || r.hi > *hi)) {
                    return Ok(false);
                }
                continue;
            }
            conds.push(format!(
                "(\"{col}\" IS NOT NULL AND (typeof(\"{col}\") <> 'integer' OR \"{col}\" NOT BETWEEN {lo} AND {hi}))"
            ));
        }
        if conds.is_empty() {
            continue;
        }
        let q = format!(
            "SELECT EXISTS (SELECT 1 FROM \"{child}\" WHERE {})",
            conds.join(" OR ")
        );
        if conn.query_row(&q, [], |r| r.get::<_, bool>(0))? {
            return Ok(false);
        }
    }
    Ok(true)
}

/// The column of `table` that is its `INTEGER PRIMARY KEY`, i.e. the rowid, if it has one.
fn rowid_column(conn: &Connection, table: &str) -> rusqlite::Result<Option<String>> {
    let mut st = conn.prepare("SELECT name, type, pk FROM pragma_table_info(?1) WHERE pk > 0")?;
    let pks: Vec<(String, String, i64)> = st
        .query_map([table], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<rusqlite::Result<_>>()?;
    // Exactly one key column: a composite primary key is not the rowid.
    Ok(match pks.as_slice() {
        [(name, ty, 1)] if ty.eq_ignore_ascii_case("INTEGER") => Some(name.clone()),
        _ => None,
    })
}

/// True when the file starts with the SQLite header.
pub fn is_sqlite_file(path: &Path) -> bool {
    use std::io::Read;
    let mut head = [0u8; 16];
    // Only a regular file: opening a FIFO would wait for a writer (the trace reader then
    // refuses it with a message).
    std::fs::metadata(path).is_ok_and(|m| m.is_file())
        && std::fs::File::open(path)
            .and_then(|mut f| f.read_exact(&mut head))
            .is_ok()
        && &head == b"SQLite format 3\0"
}

/// Opens a database file read-only: the file is opened with `SQLITE_OPEN_READ_ONLY` and
/// the connection is `query_only` (statements are also checked one by one, see
/// [`query::run`]).
pub fn open_read_only(path: &Path) -> anyhow::Result<Connection> {
    let conn = engine::connection_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .with_context(|| format!("{}: cannot open database", path.display()))?;
    conn.execute_batch("PRAGMA query_only=1")?;
    // Reading the schema now turns "not a database" into an error naming the file.
    conn.query_row("SELECT count(*) FROM sqlite_schema", [], |r| {
        r.get::<_, i64>(0)
    })
    .with_context(|| format!("{}: not a readable SQLite database", path.display()))?;
    Ok(conn)
}
