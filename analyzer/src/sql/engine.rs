//! SQLite below rusqlite, where an ingest spends its time: the library's process-wide
//! settings, and the prepared statements the inserting thread drives.
//!
//! Settings ([`connection`]): SQLite's allocations go to mimalloc (the Rust side's
//! allocator) instead of glibc's malloc, and SQLite keeps no memory statistics, whose
//! global lock it would otherwise take on every allocation. Both can only be set before
//! SQLite's first use in the process, and `sqlite3_config` must not run while another
//! thread starts SQLite: so every connection of the analyzer, and of its tests, is opened
//! here, after the settings (once per process).
//!
//! Statements ([`Insert`]): text is bound where it lies in the batch (`SQLITE_STATIC`)
//! rather than copied into a fresh allocation per value as rusqlite's binding does
//! (`SQLITE_TRANSIENT`), and values are bound without going through `rusqlite::Value`.

// The one module of the analyzer with unsafe code: calls into SQLite's C API, each with
// its SAFETY reasoning.
#![allow(unsafe_code)]

use anyhow::Context;
use rusqlite::{ffi, Connection, OpenFlags};
use std::ffi::{c_int, c_void, CStr, CString};
use std::marker::PhantomData;
use std::path::Path;
use std::sync::Once;

unsafe extern "C" fn mem_malloc(n: c_int) -> *mut c_void {
    libmimalloc_sys::mi_malloc(n.max(0) as usize)
}

unsafe extern "C" fn mem_free(p: *mut c_void) {
    libmimalloc_sys::mi_free(p)
}

unsafe extern "C" fn mem_realloc(p: *mut c_void, n: c_int) -> *mut c_void {
    libmimalloc_sys::mi_realloc(p, n.max(0) as usize)
}

unsafe extern "C" fn mem_size(p: *mut c_void) -> c_int {
    c_int::try_from(libmimalloc_sys::mi_usable_size(p)).unwrap_or(c_int::MAX)
}

unsafe extern "C" fn mem_roundup(n: c_int) -> c_int {
    c_int::try_from(libmimalloc_sys::mi_good_size(n.max(0) as usize)).unwrap_or(n)
}

unsafe extern "C" fn mem_init(_: *mut c_void) -> c_int {
    ffi::SQLITE_OK
}

unsafe extern "C" fn mem_shutdown(_: *mut c_void) {}

/// Applies the process-wide settings once, before SQLite initializes. If something
/// else initialized SQLite first, `sqlite3_config` refuses (`SQLITE_MISUSE`) and SQLite
/// keeps its defaults: slower, equally correct.
fn configure() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let mem = ffi::sqlite3_mem_methods {
            xMalloc: Some(mem_malloc),
            xFree: Some(mem_free),
            xRealloc: Some(mem_realloc),
            xSize: Some(mem_size),
            xRoundup: Some(mem_roundup),
            xInit: Some(mem_init),
            xShutdown: Some(mem_shutdown),
            pAppData: std::ptr::null_mut(),
        };
        // SAFETY: sqlite3_config is called before any other SQLite function of this
        // process (or refused); SQLite copies `mem`, whose functions follow the
        // sqlite3_mem_methods contract (mimalloc aligns to 16 bytes; sizes are usable
        // sizes of live allocations).
        unsafe {
            ffi::sqlite3_config(ffi::SQLITE_CONFIG_MEMSTATUS, 0 as c_int);
            ffi::sqlite3_config(
                ffi::SQLITE_CONFIG_MALLOC,
                &mem as *const ffi::sqlite3_mem_methods,
            );
        }
    });
}

/// Opens (creating it when missing) the database at `path`, or an in-memory one, after
/// the settings above.
pub fn connection(path: Option<&Path>) -> rusqlite::Result<Connection> {
    configure();
    match path {
        Some(p) => Connection::open(p),
        None => Connection::open_in_memory(),
    }
}

/// Opens `path` with `flags`, after the settings above.
pub fn connection_with_flags(path: &Path, flags: OpenFlags) -> rusqlite::Result<Connection> {
    configure();
    Connection::open_with_flags(path, flags)
}

/// One value of a row waiting in a batch; text and blobs are ranges of the batch's bytes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Cell {
    /// NULL.
    Null,
    /// INTEGER.
    Int(i64),
    /// REAL.
    Real(f64),
    /// TEXT (valid UTF-8): start and length in the batch's bytes.
    Text(u32, u32),
    /// BLOB: start and length in the batch's bytes.
    Blob(u32, u32),
}

/// The error SQLite reports for `rc` on `db`, as rusqlite reports it.
fn error(db: *mut ffi::sqlite3, rc: c_int) -> anyhow::Error {
    // SAFETY: db is a live connection handle; sqlite3_errmsg returns a NUL-terminated
    // string owned by SQLite, copied at once.
    let msg = unsafe { CStr::from_ptr(ffi::sqlite3_errmsg(db)) }
        .to_string_lossy()
        .into_owned();
    rusqlite::Error::SqliteFailure(ffi::Error::new(rc), Some(msg)).into()
}

/// A prepared `INSERT` on a connection borrowed for its whole life.
#[derive(Debug)]
pub struct Insert<'c> {
    db: *mut ffi::sqlite3,
    st: *mut ffi::sqlite3_stmt,
    params: usize,
    _conn: PhantomData<&'c Connection>,
}

impl<'c> Insert<'c> {
    /// Prepares `sql` (a statement returning no rows) on `conn`.
    pub fn prepare(conn: &'c Connection, sql: &str) -> anyhow::Result<Insert<'c>> {
        let text = CString::new(sql).context("internal error: NUL in SQL")?;
        // SAFETY: the handle stays valid while `conn` is borrowed, which outlives `Insert`.
        let db = unsafe { conn.handle() };
        let mut st = std::ptr::null_mut();
        // SAFETY: db is live; text is NUL-terminated; st receives the statement or NULL.
        let rc = unsafe {
            ffi::sqlite3_prepare_v3(
                db,
                text.as_ptr(),
                -1,
                ffi::SQLITE_PREPARE_PERSISTENT as _,
                &mut st,
                std::ptr::null_mut(),
            )
        };
        if rc != ffi::SQLITE_OK {
            return Err(error(db, rc)).with_context(|| format!("preparing {sql}"));
        }
        anyhow::ensure!(!st.is_null(), "internal error: empty statement {sql}");
        // SAFETY: st is a valid statement.
        let params = unsafe { ffi::sqlite3_bind_parameter_count(st) } as usize;
        Ok(Insert {
            db,
            st,
            params,
            _conn: PhantomData,
        })
    }

    /// Binds `cells` (one per parameter, in order; text and blobs are ranges of `bytes`),
    /// runs the statement and resets it.
    ///
    /// Text and blobs are bound without copying: SQLite reads them while the statement
    /// runs, within this call. The statement keeps those pointers afterwards, but never
    /// reads them again: every call binds every parameter before running.
    pub fn run<'a>(
        &mut self,
        cells: impl IntoIterator<Item = &'a Cell>,
        bytes: &[u8],
    ) -> anyhow::Result<()> {
        let mut bound = 0;
        for cell in cells {
            anyhow::ensure!(
                bound < self.params,
                "internal error: more values than the {} parameters",
                self.params
            );
            bound += 1;
            let i = bound as c_int;
            // SAFETY: st is valid and i within 1..=params; the text and blob pointers are
            // in-bounds ranges of `bytes` (checked by `range`), which outlives the step below.
            let rc = unsafe {
                match *cell {
                    Cell::Null => ffi::sqlite3_bind_null(self.st, i),
                    Cell::Int(v) => ffi::sqlite3_bind_int64(self.st, i, v),
                    Cell::Real(v) => ffi::sqlite3_bind_double(self.st, i, v),
                    Cell::Text(at, len) => {
                        let s = range(bytes, at, len)?;
                        ffi::sqlite3_bind_text64(
                            self.st,
                            i,
                            s.as_ptr().cast(),
                            s.len() as u64,
                            ffi::SQLITE_STATIC(),
                            ffi::SQLITE_UTF8 as u8,
                        )
                    }
                    Cell::Blob(at, len) => {
                        let s = range(bytes, at, len)?;
                        ffi::sqlite3_bind_blob64(
                            self.st,
                            i,
                            s.as_ptr().cast(),
                            s.len() as u64,
                            ffi::SQLITE_STATIC(),
                        )
                    }
                }
            };
            if rc != ffi::SQLITE_OK {
                return Err(error(self.db, rc));
            }
        }
        anyhow::ensure!(
            bound == self.params,
            "internal error: {bound} values for {} parameters",
            self.params
        );
        // SAFETY: st is valid with every parameter bound.
        let rc = unsafe { ffi::sqlite3_step(self.st) };
        // SAFETY: as above; reset after every step, successful or not.
        let reset = unsafe { ffi::sqlite3_reset(self.st) };
        match rc {
            ffi::SQLITE_DONE => Ok(()),
            ffi::SQLITE_ROW => anyhow::bail!("internal error: an INSERT returned rows"),
            _ => Err(error(
                self.db,
                if reset != ffi::SQLITE_OK { reset } else { rc },
            )),
        }
    }
}

fn range(bytes: &[u8], at: u32, len: u32) -> anyhow::Result<&[u8]> {
    bytes
        .get(at as usize..at as usize + len as usize)
        .context("internal error: a value outside its batch")
}

impl Drop for Insert<'_> {
    fn drop(&mut self) {
        // SAFETY: st is a valid statement, finalized once.
        unsafe {
            ffi::sqlite3_finalize(self.st);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(bytes: &mut Vec<u8>, s: &[u8]) -> (u32, u32) {
        let at = bytes.len() as u32;
        bytes.extend_from_slice(s);
        (at, s.len() as u32)
    }

    #[test]
    fn values_arrive_as_bound_and_text_is_read_in_place() -> anyhow::Result<()> {
        let conn = connection(None)?;
        conn.execute_batch("CREATE TABLE t (a, b, c, d, e)")?;
        let mut bytes = Vec::new();
        let (ta, tl) = text(&mut bytes, "héllo".as_bytes());
        let (ba, bl) = text(&mut bytes, &[0, 1, 2]);
        {
            let mut ins = Insert::prepare(&conn, "INSERT INTO t VALUES (?,?,?,?,?)")?;
            let row = [
                Cell::Null,
                Cell::Int(-7),
                Cell::Real(2.5),
                Cell::Text(ta, tl),
                Cell::Blob(ba, bl),
            ];
            ins.run(&row, &bytes)?;
            // The same statement again with other values: nothing of the first row stays.
            bytes.clear();
            let (ta, tl) = text(&mut bytes, b"x");
            ins.run(
                &[
                    Cell::Int(1),
                    Cell::Null,
                    Cell::Null,
                    Cell::Text(ta, tl),
                    Cell::Null,
                ],
                &bytes,
            )?;
            assert!(ins.run(&row[..4], &bytes).is_err(), "too few values");
            let outside = [
                Cell::Null,
                Cell::Null,
                Cell::Null,
                Cell::Text(0, 9),
                Cell::Null,
            ];
            assert!(ins.run(&outside, &bytes).is_err(), "text past the batch");
        }
        let rows: Vec<String> = conn
            .prepare("SELECT quote(a)||' '||quote(b)||' '||quote(c)||' '||quote(d)||' '||quote(e) FROM t ORDER BY rowid")?
            .query_map([], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        assert_eq!(
            rows,
            ["NULL -7 2.5 'héllo' X'000102'", "1 NULL NULL 'x' NULL"]
        );
        Ok(())
    }

    #[test]
    fn sqlite_errors_come_back_with_sqlites_message() -> anyhow::Result<()> {
        let conn = connection(None)?;
        conn.execute_batch("CREATE TABLE t (a INTEGER PRIMARY KEY)")?;
        let mut ins = Insert::prepare(&conn, "INSERT INTO t VALUES (?)")?;
        ins.run(&[Cell::Int(1)], &[])?;
        let e = ins.run(&[Cell::Int(1)], &[]).expect_err("duplicate key");
        assert!(
            format!("{e:#}").contains("UNIQUE constraint failed: t.a"),
            "{e:#}"
        );
        // The statement is usable after the error.
        ins.run(&[Cell::Int(2)], &[])?;
        let e = Insert::prepare(&conn, "INSERT INTO nowhere VALUES (?)").expect_err("no table");
        assert!(format!("{e:#}").contains("no such table: nowhere"), "{e:#}");
        Ok(())
    }
}
