//! Regenerates `fixtures/synthetic/*.zst` (and their rotated segments) from
//! `rewind_tests::synthetic`. Run from the repository root:
//! `cargo run -p rewind-tests --bin make-synthetic-fixtures`.

use std::path::Path;
use std::process::ExitCode;

fn main() -> ExitCode {
    let dir = Path::new("fixtures/synthetic");
    if let Err(e) = std::fs::create_dir_all(dir) {
        eprintln!("make-synthetic-fixtures: {}: {e}", dir.display());
        return ExitCode::FAILURE;
    }
    for (name, make) in rewind_tests::synthetic::ALL {
        let base = dir.join(name);
        // Remove the old segments first: the writer never overwrites a trace.
        let stem = name.trim_end_matches(".zst");
        if let Ok(rd) = std::fs::read_dir(dir) {
            for e in rd.flatten() {
                let f = e.file_name().to_string_lossy().into_owned();
                if f == *name || (f.starts_with(&format!("{stem}.")) && f.ends_with(".zst")) {
                    let _ = std::fs::remove_file(e.path());
                }
            }
        }
        match make(&base) {
            Ok(files) => {
                for f in files {
                    println!("wrote {}", f.display());
                }
            }
            Err(e) => {
                eprintln!("make-synthetic-fixtures: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    ExitCode::SUCCESS
}
