//! Writes a large synthetic workload trace for benchmarks (see `rewind_tests::workload`):
//! `make-bench-trace OUT.zst EVENTS [EVENTS_PER_SEGMENT]`.

use std::path::Path;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(out), Some(events)) = (args.first(), args.get(1).and_then(|n| n.parse().ok())) else {
        eprintln!("usage: make-bench-trace OUT.zst EVENTS [EVENTS_PER_SEGMENT]");
        return ExitCode::from(2);
    };
    let per_segment = args
        .get(2)
        .and_then(|n| n.parse().ok())
        .unwrap_or(1_000_000);
    match rewind_tests::workload::write(Path::new(out), events, per_segment) {
        Ok(files) => {
            for f in files {
                println!("{}", f.display());
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("make-bench-trace: {e}");
            ExitCode::FAILURE
        }
    }
}
