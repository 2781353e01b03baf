//! Feeds arbitrary bytes to `SegmentReader` as a segment file: opening, reading every
//! record, decoding each, and the seal/damage verdicts must never panic or hang.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rewind_schema::reader::SegmentReader;
use std::path::PathBuf;
use std::sync::OnceLock;

/// One file per fuzzing process, rewritten for every input.
fn input_path() -> &'static PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        std::env::temp_dir().join(format!("rewind-fuzz-segment-{}.zst", std::process::id()))
    })
}

fuzz_target!(|data: &[u8]| {
    let path = input_path();
    std::fs::write(path, data).expect("write fuzz input to the temp file");
    let Ok(mut reader) = SegmentReader::open(path) else {
        return;
    };
    let _ = (reader.meta(), reader.version(), reader.header_ts(), reader.file_len());
    for rec in reader.by_ref() {
        let _ = rec.record_type();
        let _ = rec.decode();
    }
    let _ = reader.seal();
    let _ = reader.damage();
    let _ = (reader.footer(), reader.frames(), reader.records());
});
