//! SQLite ingest benchmark: builds a synthetic trace with TraceBuilder and reports the
//! ingest rate (rows written per second, the median of several runs).
//!
//! `cargo run --release -p rewind-analyzer --example sql_ingest_bench -- [EVENTS] [RUNS]`
//! (default 2,000,000 events, 3 runs). The rate covers everything `analyzer ingest`
//! does: replay (decode, model), rows, indexes, the foreign key check and the commit.

use rewind_analyzer::replay::ReplayOptions;
use rewind_analyzer::sql;
use rewind_schema::builder::TraceBuilder;
use rewind_schema::trace::TraceSet;
use std::net::SocketAddr;
use std::time::Instant;

// The allocator of the `analyzer` binary, so the figure is the one `analyzer ingest` gets.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let events: u64 = args
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or(2_000_000);
    let runs: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(3);
    let dir = tempfile::tempdir()?;
    let trace = dir.path().join("big.zst");

    let t = Instant::now();
    let mut b = TraceBuilder::new(&trace).create()?;
    let mut ts = b.start_ns() + 1_000;
    let local: SocketAddr = "10.0.0.2:40000".parse()?;
    let mut n = 0u64;
    let mut pid = 1000u32;
    // Per process: fork, exec, 10 opens, connect, close, exit = 15 events.
    while n < events {
        pid += 1;
        let child = pid;
        b.fork(ts, 1, child)?;
        ts += 1_000;
        b.exec(ts, child, 1, "/usr/bin/worker", &["worker", "--job", "x"])?;
        for i in 0..10 {
            ts += 1_000;
            b.open(ts, child, &format!("/var/lib/app/data/{i}.json"), 0, 3)?;
        }
        let remote: SocketAddr =
            format!("10.1.{}.{}:443", (child >> 8) & 0xff, child & 0xff).parse()?;
        ts += 1_000;
        b.connect(ts, child, child as u64, local, remote, 0)?;
        ts += 1_000;
        b.close(ts, child, child as u64, local, remote, 1000, 5000, 1_000)?;
        ts += 1_000;
        b.exit(ts, child, 0)?;
        ts += 1_000;
        n += 15;
    }
    b.finish()?;
    eprintln!(
        "built {n} events ({} processes) in {:.1}s",
        pid - 1000,
        t.elapsed().as_secs_f64()
    );

    let set = TraceSet::open(&[&trace])?;
    // The replay alone (decode, order, model), for reference: what no sink can beat.
    let t = Instant::now();
    let (_, st) = rewind_analyzer::replay::replay(&set, &mut [], ReplayOptions::default())?;
    eprintln!(
        "replay alone: {} events in {:.2}s",
        st.events,
        t.elapsed().as_secs_f64()
    );
    let mut rates = Vec::new();
    let mut insert_rates = Vec::new();
    for run in 0..runs {
        let db = dir.path().join(format!("bench{run}.db"));
        let mut conn = sql::engine::connection(Some(&db))?;
        let s = sql::ingest(&mut conn, &set, ReplayOptions::default())?;
        drop(conn);
        let _ = std::fs::remove_file(&db);
        eprintln!(
            "run {}: {} events, {} rows in {:.2}s = {:.0} rows/s",
            run + 1,
            s.events,
            s.rows,
            s.elapsed.as_secs_f64(),
            s.rows_per_sec()
        );
        eprintln!("       {}", s.phases_text());
        rates.push(s.rows_per_sec());
        // Rows while the replay runs (every row is written in this phase; indexes, the
        // foreign key check and the commit follow it).
        if let Some((_, d)) = s.phases.first() {
            insert_rates.push(s.rows as f64 / d.as_secs_f64().max(1e-9));
        }
    }
    rates.sort_by(f64::total_cmp);
    insert_rates.sort_by(f64::total_cmp);
    println!(
        "sqlite ingest: median {:.0} rows/s over {runs} runs ({n} events); rows phase alone (replay + inserts, before indexes): median {:.0} rows/s",
        rates[rates.len() / 2],
        insert_rates.get(insert_rates.len() / 2).copied().unwrap_or(0.0)
    );
    Ok(())
}
