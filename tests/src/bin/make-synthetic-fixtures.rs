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
        let parent = base.parent().unwrap_or(dir).to_path_buf();
        if let Err(e) = std::fs::create_dir_all(&parent) {
            eprintln!("make-synthetic-fixtures: {}: {e}", parent.display());
            return ExitCode::FAILURE;
        }
        // Remove the old segments first: the writer never overwrites a trace.
        let file = base
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default();
        let stem = file.trim_end_matches(".zst");
        if let Ok(rd) = std::fs::read_dir(&parent) {
            for e in rd.flatten() {
                let f = e.file_name().to_string_lossy().into_owned();
                if f == file || (f.starts_with(&format!("{stem}.")) && f.ends_with(".zst")) {
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
