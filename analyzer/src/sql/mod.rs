//! The SQLite model: the process model and every event as relational tables, so that
//! forensic questions can be asked in SQL (`analyzer ingest`, `analyzer query`).
//!
//! The schema is compiled in ([`SCHEMA`], documented in `queries/SCHEMA.md`); rows come
//! from the [`writer::SqlWriter`] replay sink inside one transaction. Indexes are built
//! after the bulk load, and foreign keys are checked once with `PRAGMA foreign_key_check`
//! (enforcing them row by row would need the process rows first, and those are only
//! final at the end of the replay).

pub mod query;
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
pub const SCHEMA_VERSION: u32 = 1;
/// The tables (DDL).
pub const SCHEMA: &str = include_str!("schema.sql");
/// The indexes, created after the bulk load.
pub const INDEXES: &str = include_str!("indexes.sql");

/// What an ingest did.
#[derive(Debug, Clone)]
pub struct IngestStats {
    /// Events replayed.
    pub events: u64,
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
}

/// Replays `set` into `conn` (an empty database): schema, rows, indexes, a foreign key
/// check that must come back empty, one commit.
pub fn ingest(
    conn: &Connection,
    set: &TraceSet,
    opts: ReplayOptions,
) -> anyhow::Result<IngestStats> {
    ingest_with(conn, set, opts, &mut [])
}

/// [`ingest`], feeding `others` from the same replay (so a caller that also wants a
/// timeline or the finished model does not replay twice).
pub fn ingest_with(
    conn: &Connection,
    set: &TraceSet,
    opts: ReplayOptions,
    others: &mut [&mut dyn Sink],
) -> anyhow::Result<IngestStats> {
    let t0 = Instant::now();
    // The file is written under a temporary name and renamed when complete, so a crash
    // leaves no half database behind: no journal needed.
    conn.execute_batch(
        "PRAGMA page_size=65536; PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; PRAGMA locking_mode=EXCLUSIVE;
         PRAGMA temp_store=MEMORY; PRAGMA cache_size=-262144; PRAGMA foreign_keys=OFF;
         PRAGMA threads=2;",
    )?;
    conn.execute_batch("BEGIN")?;
    conn.execute_batch(SCHEMA).context("creating the schema")?;
    let (events, rows, outcome) = {
        let mut w = SqlWriter::new(conn, RecordingInfo::of(set))?;
        let stats = {
            let mut sinks: Vec<&mut (dyn Sink + '_)> = vec![&mut w];
            for s in others.iter_mut() {
                sinks.push(&mut **s);
            }
            replay(set, &mut sinks, opts)?.1
        };
        (
            stats.events,
            w.rows().total(),
            stats.outcome.unwrap_or(Outcome::Clean),
        )
    };
    let meta: [(&str, String); 4] = [
        ("schema_version", SCHEMA_VERSION.to_string()),
        ("analyzer_version", env!("CARGO_PKG_VERSION").to_string()),
        ("events", events.to_string()),
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
    let bad = foreign_key_problems(conn)?;
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
        rows: rows + 4,
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

/// True when the file starts with the SQLite header.
pub fn is_sqlite_file(path: &Path) -> bool {
    use std::io::Read;
    let mut head = [0u8; 16];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut head))
        .is_ok()
        && &head == b"SQLite format 3\0"
}

/// Opens a database file read-only: the file is opened with `SQLITE_OPEN_READ_ONLY` and
/// the connection is `query_only` (statements are also checked one by one, see
/// [`query::run`]).
pub fn open_read_only(path: &Path) -> anyhow::Result<Connection> {
    let conn = Connection::open_with_flags(
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
