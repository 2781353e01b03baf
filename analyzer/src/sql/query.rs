//! Canned queries (`queries/*.sql`, compiled in) and running any query read-only, with
//! the result printed as an aligned table, JSON or CSV.

use rewind_schema::text::{csv_cell, escape, json_string};
use rusqlite::types::Value;
use rusqlite::Connection;
use std::io::Write;

/// One canned query: `queries/NAME.sql`, whose first line is `-- description`.
#[derive(Debug, Clone, Copy)]
pub struct Canned {
    /// File stem.
    pub name: &'static str,
    /// The SQL text, header comment included.
    pub sql: &'static str,
}

impl Canned {
    /// The one-line description from the header comment.
    pub fn description(&self) -> &'static str {
        self.sql
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("--"))
            .map(str::trim)
            .unwrap_or("")
    }

    /// Named parameters it takes (`:pid` -> `pid`), in order of first use.
    pub fn params(&self) -> Vec<String> {
        let re = regex::Regex::new(r"(?m)(?:^|[^:\w]):([A-Za-z_]\w*)");
        let mut out: Vec<String> = Vec::new();
        if let Ok(re) = re {
            for line in self
                .sql
                .lines()
                .filter(|l| !l.trim_start().starts_with("--"))
            {
                for c in re.captures_iter(line) {
                    let n = c[1].to_string();
                    if !out.contains(&n) {
                        out.push(n);
                    }
                }
            }
        }
        out
    }
}

macro_rules! canned {
    ($($name:literal),* $(,)?) => {
        /// Every canned query, by name.
        pub const CANNED: &[Canned] = &[
            $( Canned { name: $name, sql: include_str!(concat!("../../../queries/", $name, ".sql")) }, )*
        ];
    };
}

canned!(
    "cred_transitions",
    "exec_from_writable_dirs",
    "exec_shell_network",
    "exec_tree",
    "file_sensitive",
    "kernel_namespaces",
    "net_destinations",
    "net_dns_contacted",
    "net_http",
    "net_listeners",
    "net_tls_weak",
    "net_top_talkers",
    "loss_windows",
);

/// The canned query called `name`.
pub fn canned(name: &str) -> Option<&'static Canned> {
    CANNED.iter().find(|c| c.name == name)
}

/// A query result.
#[derive(Debug, Clone, Default)]
pub struct Table {
    /// Column names.
    pub columns: Vec<String>,
    /// Rows, each with one value per column.
    pub rows: Vec<Vec<Value>>,
}

/// Why a query could not run.
#[derive(Debug)]
#[non_exhaustive]
pub enum QueryError {
    /// SQLite refused the SQL (syntax, unknown table or column, ...).
    Sql(rusqlite::Error),
    /// The statement would change the database.
    Writes,
    /// More than one statement.
    Multiple,
    /// A named parameter without a `--param` value.
    MissingParam(String),
    /// A `--param` the query does not use.
    UnusedParam(String),
    /// A `?` parameter: only named ones can be given.
    Positional,
    /// A statement that changes the connection rather than the file (a pragma with a
    /// value, ATTACH, transaction control): pointless or a way around `query_only`.
    Refused(&'static str),
}

impl std::fmt::Display for QueryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            QueryError::Sql(e) => write!(f, "{e}"),
            QueryError::Writes => write!(
                f,
                "the statement would modify the database; queries are read-only"
            ),
            QueryError::Multiple => write!(f, "one statement at a time, please"),
            QueryError::MissingParam(p) => write!(f, "needs a value: --param {p}=VALUE"),
            QueryError::UnusedParam(p) => write!(f, "--param {p}: the query has no :{p}"),
            QueryError::Positional => {
                write!(f, "positional parameters (?) are not supported; use :name")
            }
            QueryError::Refused(why) => write!(f, "refused: {why}"),
        }
    }
}

impl std::error::Error for QueryError {}

impl From<rusqlite::Error> for QueryError {
    fn from(e: rusqlite::Error) -> Self {
        match e {
            rusqlite::Error::MultipleStatement => QueryError::Multiple,
            e => QueryError::Sql(e),
        }
    }
}

/// A `--param` value: an integer when it reads as one, else text.
fn param_value(v: &str) -> Value {
    v.parse::<i64>()
        .map(Value::Integer)
        .unwrap_or_else(|_| Value::Text(v.to_string()))
}

/// The SQL after leading whitespace and comments.
fn skip_comments(mut s: &str) -> &str {
    loop {
        s = s.trim_start();
        if let Some(rest) = s.strip_prefix("--") {
            s = rest.split_once('\n').map(|(_, r)| r).unwrap_or("");
        } else if let Some(rest) = s.strip_prefix("/*") {
            s = rest.split_once("*/").map(|(_, r)| r).unwrap_or("");
        } else {
            return s;
        }
    }
}

/// Statements SQLite counts as read-only (they write no file) that still change the
/// connection: `PRAGMA query_only = 0` and other pragma assignments, ATTACH/DETACH, and
/// transaction control. Only one statement runs per query, but they are refused anyway.
fn refused(sql: &str) -> Option<&'static str> {
    let s = skip_comments(sql);
    let word: String = s
        .chars()
        .take_while(|c| c.is_ascii_alphabetic())
        .collect::<String>()
        .to_ascii_uppercase();
    match word.as_str() {
        "PRAGMA" if s.contains(['=', '(']) => Some(
            "PRAGMA with a value changes the connection; read pragmas with their table \
             functions, e.g. SELECT * FROM pragma_table_info('processes')",
        ),
        "ATTACH" | "DETACH" => Some("ATTACH and DETACH are not available in queries"),
        "BEGIN" | "COMMIT" | "END" | "ROLLBACK" | "SAVEPOINT" | "RELEASE" => {
            Some("transaction control is not available in queries")
        }
        _ => None,
    }
}

/// Runs one statement that must not write, with named parameters.
pub fn run(conn: &Connection, sql: &str, params: &[(String, String)]) -> Result<Table, QueryError> {
    let mut st = conn.prepare(sql)?;
    if let Some(why) = refused(sql) {
        return Err(QueryError::Refused(why));
    }
    // sqlite3_stmt_readonly: false for INSERT/UPDATE/DELETE/DDL and for pragmas that
    // set something (`PRAGMA query_only=0`); the connection is query_only as well.
    if !st.readonly() {
        return Err(QueryError::Writes);
    }
    let mut used = vec![false; params.len()];
    for i in 1..=st.parameter_count() {
        let name = st.parameter_name(i).ok_or(QueryError::Positional)?;
        let bare = name.trim_start_matches([':', '@', '$']);
        let Some(j) = params.iter().position(|(k, _)| k == bare) else {
            return Err(QueryError::MissingParam(bare.to_string()));
        };
        used[j] = true;
        st.raw_bind_parameter(i, param_value(&params[j].1))?;
    }
    if let Some(j) = used.iter().position(|u| !u) {
        return Err(QueryError::UnusedParam(params[j].0.clone()));
    }
    let columns: Vec<String> = st.column_names().iter().map(|s| s.to_string()).collect();
    let n = columns.len();
    let mut rows = Vec::new();
    let mut q = st.raw_query();
    while let Some(r) = q.next()? {
        let mut row = Vec::with_capacity(n);
        for i in 0..n {
            row.push(r.get::<_, Value>(i)?);
        }
        rows.push(row);
    }
    Ok(Table { columns, rows })
}

/// How to print a table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Aligned columns with a header.
    Text,
    /// One JSON array of objects, one object per line.
    Json,
    /// CSV with a header row.
    Csv,
}

fn cell(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::Integer(i) => i.to_string(),
        Value::Real(f) => f.to_string(),
        Value::Text(s) => s.clone(),
        Value::Blob(b) => {
            let mut s = String::with_capacity(3 + 2 * b.len());
            s.push_str("x'");
            for x in b {
                s.push_str(&format!("{x:02x}"));
            }
            s.push('\'');
            s
        }
    }
}

fn json(v: &Value) -> serde_json::Value {
    match v {
        Value::Null => serde_json::Value::Null,
        Value::Integer(i) => (*i).into(),
        Value::Real(f) => serde_json::Number::from_f64(*f)
            .map(serde_json::Value::Number)
            .unwrap_or(serde_json::Value::Null),
        Value::Text(s) => s.clone().into(),
        Value::Blob(_) => cell(v).into(),
    }
}

/// Writes `t` to `out`.
pub fn print(t: &Table, format: Format, out: &mut impl Write) -> anyhow::Result<()> {
    match format {
        Format::Text => print_text(t, out)?,
        Format::Json => {
            writeln!(out, "[")?;
            for (i, row) in t.rows.iter().enumerate() {
                let fields: Vec<String> = t
                    .columns
                    .iter()
                    .zip(row)
                    .map(|(c, v)| format!("{}:{}", json_string(c.as_str()), json_string(&json(v))))
                    .collect();
                let sep = if i + 1 < t.rows.len() { "," } else { "" };
                writeln!(out, "{{{}}}{sep}", fields.join(","))?;
            }
            writeln!(out, "]")?;
        }
        Format::Csv => {
            let mut w = csv::Writer::from_writer(&mut *out);
            w.write_record(t.columns.iter().map(|c| csv_cell(c).into_owned()))?;
            for row in &t.rows {
                // Text goes through the CSV rule (escaped, never a formula); numbers
                // and blobs are ours to format (a negative number stays a number).
                w.write_record(row.iter().map(|v| match v {
                    Value::Text(s) => csv_cell(s).into_owned(),
                    _ => cell(v),
                }))?;
            }
            w.flush()?;
        }
    }
    Ok(())
}

/// Cells hold the trace's strings: escaped for the terminal (this also keeps the
/// alignment).
fn printable(s: String) -> String {
    match escape(&s) {
        std::borrow::Cow::Borrowed(_) => s,
        std::borrow::Cow::Owned(e) => e,
    }
}

fn print_text(t: &Table, out: &mut impl Write) -> std::io::Result<()> {
    let cells: Vec<Vec<String>> = t
        .rows
        .iter()
        .map(|r| r.iter().map(|v| printable(cell(v))).collect())
        .collect();
    let numeric: Vec<bool> = (0..t.columns.len())
        .map(|i| {
            t.rows
                .iter()
                .all(|r| matches!(r[i], Value::Integer(_) | Value::Real(_) | Value::Null))
        })
        .collect();
    let columns: Vec<String> = t.columns.iter().map(|c| printable(c.clone())).collect();
    let mut width: Vec<usize> = columns.iter().map(|c| c.chars().count()).collect();
    for r in &cells {
        for (i, c) in r.iter().enumerate() {
            width[i] = width[i].max(c.chars().count());
        }
    }
    let line = |vals: &[String], out: &mut dyn Write| -> std::io::Result<()> {
        let mut s = String::new();
        for (i, v) in vals.iter().enumerate() {
            let pad = width[i].saturating_sub(v.chars().count());
            let last = i + 1 == vals.len();
            if i > 0 {
                s.push_str("  ");
            }
            if numeric[i] {
                s.extend(std::iter::repeat_n(' ', pad));
                s.push_str(v);
            } else {
                s.push_str(v);
                if !last {
                    s.extend(std::iter::repeat_n(' ', pad));
                }
            }
        }
        writeln!(out, "{}", s.trim_end())
    };
    line(&columns, out)?;
    let rule: Vec<String> = width.iter().map(|w| "-".repeat(*w)).collect();
    line(&rule, out)?;
    for r in &cells {
        line(r, out)?;
    }
    writeln!(
        out,
        "({} row{})",
        t.rows.len(),
        if t.rows.len() == 1 { "" } else { "s" }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_query_file_is_compiled_in_with_a_description() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../queries");
        let mut files: Vec<String> = std::fs::read_dir(&dir)
            .expect("queries/")
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let n = e.file_name().to_string_lossy().into_owned();
                n.strip_suffix(".sql").map(str::to_string)
            })
            .collect();
        files.sort();
        let mut names: Vec<String> = CANNED.iter().map(|c| c.name.to_string()).collect();
        names.sort();
        assert_eq!(files, names, "queries/*.sql and CANNED differ");
        for c in CANNED {
            assert!(
                c.sql.starts_with("-- ") && !c.description().is_empty(),
                "{}: first line must be `-- description`",
                c.name
            );
            assert!(
                c.sql.to_ascii_uppercase().contains("ORDER BY"),
                "{}: needs ORDER BY",
                c.name
            );
        }
        let readme = std::fs::read_to_string(dir.join("README.md")).expect("README");
        for c in CANNED {
            assert!(
                readme.contains(c.name),
                "queries/README.md lacks {}",
                c.name
            );
        }
    }

    #[test]
    fn connection_changes_are_spotted() {
        assert!(refused("PRAGMA query_only=0").is_some());
        assert!(refused(" -- x\n /* y */ pragma query_only(0)").is_some());
        assert!(refused("attach 'x' as y").is_some());
        assert!(refused("PRAGMA foreign_key_check").is_none());
        assert!(refused("SELECT * FROM pragma_table_info('x')").is_none());
    }

    #[test]
    fn params_found() {
        let c = Canned {
            name: "x",
            sql: "-- x\nSELECT 1 WHERE a = :pid AND b = ':no' AND c = :pid AND d = CAST(x AS TEXT)::int",
        };
        assert_eq!(c.params()[0], "pid");
    }
}
