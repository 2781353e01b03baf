//! The committed synthetic fixtures are exactly what their generators write today: the
//! format and the builder are deterministic, and nobody edited a fixture by hand.

use std::path::Path;

#[test]
fn synthetic_fixtures_are_reproducible() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/synthetic");
    let dir = tempfile::tempdir().expect("tempdir");
    for (name, make) in rewind_tests::synthetic::ALL {
        let out = dir.path().join(name);
        std::fs::create_dir_all(out.parent().expect("parent")).expect("mkdir");
        let files = make(&out).expect("generate");
        // The fixture's directory under fixtures/synthetic/ (some live in their own).
        let sub = Path::new(name).parent().unwrap_or(Path::new(""));
        for f in files {
            let fname = f.file_name().expect("name");
            let committed = root.join(sub).join(fname);
            let want = std::fs::read(&committed).unwrap_or_else(|e| {
                panic!("{}: {e}; regenerate with `cargo run -p rewind-tests --bin make-synthetic-fixtures`", committed.display())
            });
            let got = std::fs::read(&f).expect("read");
            assert!(
                want == got,
                "{} differs from what the generator writes now; if the change is intended, regenerate with `cargo run -p rewind-tests --bin make-synthetic-fixtures`",
                committed.display()
            );
        }
    }
}
