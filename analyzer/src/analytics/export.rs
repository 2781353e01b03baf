//! `analyzer export --parquet DIR`: the tables as Parquet, partitioned Hive-style by host
//! and day (`DIR/<table>/host=<host>/day=<YYYY-MM-DD>/part-0.parquet`), which Spark,
//! Trino and DuckDB read as partitioned tables (`read_parquet('DIR/events/**/*.parquet',
//! hive_partitioning = true)`). The partition columns live in the path, not in the files.

use super::Tables;
use anyhow::Context;
use polars::prelude::*;
use rewind_schema::fsutil;
use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

/// The tables an export writes, in this order.
pub const TABLES: [&str; 6] = [
    "events",
    "processes",
    "connections",
    "files",
    "dns",
    "losses",
];

/// What one table's export wrote.
#[derive(Debug, Clone)]
pub struct TableSummary {
    /// Table name.
    pub table: &'static str,
    /// Rows written (all partitions).
    pub rows: usize,
    /// Files written.
    pub files: Vec<PathBuf>,
}

/// A partition value as a path component: letters, digits, `-`, `_` and inner `.` kept,
/// everything else percent-encoded, so a hostile hostname cannot climb out of the
/// directory or add a level. Empty values get Hive's default-partition name.
pub fn partition_value(v: &str) -> String {
    if v.is_empty() {
        return "__HIVE_DEFAULT_PARTITION__".into();
    }
    let mut out = String::with_capacity(v.len());
    for (i, b) in v.bytes().enumerate() {
        let keep = b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || (b == b'.' && i > 0);
        if keep {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Refuses a directory that exists and has anything in it, unless `force`; with `force`,
/// removes only the table directories an export writes (never anything else in `dir`).
pub fn prepare_dir(dir: &Path, force: bool) -> anyhow::Result<()> {
    if dir.exists() {
        let meta = fs::metadata(dir).with_context(|| format!("{}", dir.display()))?;
        if !meta.is_dir() {
            anyhow::bail!("{} exists and is not a directory", dir.display());
        }
        let non_empty = fs::read_dir(dir)
            .with_context(|| format!("reading {}", dir.display()))?
            .next()
            .is_some();
        if non_empty && !force {
            anyhow::bail!(
                "{} is not empty; choose an empty or new directory, or pass --force to replace \
the tables in it ({})",
                dir.display(),
                TABLES.join(", ")
            );
        }
        if force {
            for t in TABLES {
                let p = dir.join(t);
                if p.exists() {
                    fs::remove_dir_all(&p).with_context(|| format!("removing {}", p.display()))?;
                }
            }
        }
    }
    fsutil::create_private_dir_all(dir).with_context(|| format!("creating {}", dir.display()))
}

fn str_values(df: &DataFrame, name: &str) -> PolarsResult<Vec<String>> {
    Ok(df
        .column(name)?
        .str()?
        .iter()
        .map(|v| v.unwrap_or("").to_string())
        .collect())
}

/// Writes one table under `dir/<name>/`, one file per (host, day), partitions in sorted
/// order; rows keep the table's order (time order for events).
pub fn write_table(dir: &Path, name: &'static str, df: &DataFrame) -> anyhow::Result<TableSummary> {
    let base = dir.join(name);
    fsutil::create_private_dir_all(&base)
        .with_context(|| format!("creating {}", base.display()))?;
    let hosts = str_values(df, "host")?;
    let days = str_values(df, "day")?;
    let keys: BTreeSet<(&str, &str)> = hosts
        .iter()
        .zip(&days)
        .map(|(h, d)| (h.as_str(), d.as_str()))
        .collect();
    let mut files = Vec::new();
    for (host, day) in keys {
        let mask: BooleanChunked = hosts
            .iter()
            .zip(&days)
            .map(|(h, d)| h == host && d == day)
            .collect();
        let mut part = df.filter(&mask)?.drop_many(["host", "day"]);
        let pdir = base
            .join(format!("host={}", partition_value(host)))
            .join(format!("day={}", partition_value(day)));
        fsutil::create_private_dir_all(&pdir)
            .with_context(|| format!("creating {}", pdir.display()))?;
        let path = pdir.join("part-0.parquet");
        let tmp = pdir.join(".part-0.parquet.tmp");
        let f = fsutil::create_private(&tmp, fsutil::Existing::Truncate)
            .with_context(|| format!("creating {}", tmp.display()))?;
        ParquetWriter::new(f)
            .finish(&mut part)
            .map_err(anyhow::Error::from)
            .with_context(|| format!("writing {}", tmp.display()))?;
        fs::rename(&tmp, &path).with_context(|| format!("renaming to {}", path.display()))?;
        files.push(path);
    }
    Ok(TableSummary {
        table: name,
        rows: df.height(),
        files,
    })
}

/// Writes every table.
pub fn write_all(dir: &Path, t: &Tables) -> anyhow::Result<Vec<TableSummary>> {
    let frames = [
        &t.events,
        &t.processes,
        &t.connections,
        &t.files,
        &t.dns,
        &t.losses,
    ];
    TABLES
        .iter()
        .zip(frames)
        .map(|(name, df)| write_table(dir, name, df))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::partition_value;

    #[test]
    fn hostile_partition_values_stay_one_component() {
        assert_eq!(partition_value("web-01.example"), "web-01.example");
        assert_eq!(partition_value(".."), "%2E.");
        assert_eq!(partition_value("a/../b"), "a%2F..%2Fb");
        assert_eq!(partition_value("x=y"), "x%3Dy");
        assert_eq!(partition_value(""), "__HIVE_DEFAULT_PARTITION__");
    }
}
