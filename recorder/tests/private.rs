//! A trace holds argv, payloads and credentials: its segments are created 0600 whatever
//! the umask (issue 14, point 9). (The command's gate directory, 0700, lives only until
//! the command is released; `rewind_schema::fsutil`'s tests cover the mode it gets.)

mod common;
use common::*;
use std::os::unix::fs::PermissionsExt;
use std::process::Command;

fn mode(p: &std::path::Path) -> u32 {
    std::fs::metadata(p).expect("metadata").permissions().mode() & 0o7777
}

#[test]
fn segments_are_private_whatever_the_umask() {
    if !root_or_skip("segments_are_private_whatever_the_umask") {
        return;
    }
    for umask in ["000", "022"] {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        let trace = d.join("t.zst");
        let out = Command::new("sh")
            .arg("-c")
            .arg(format!("umask {umask} && exec \"$0\" \"$@\""))
            .arg(env!("CARGO_BIN_EXE_recorder"))
            .args(["record", "-q", "-o"])
            .arg(&trace)
            .args(["--", "/bin/true"])
            .output()
            .expect("run recorder");
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut segments = 0;
        for e in std::fs::read_dir(d).expect("read_dir") {
            let p = e.expect("entry").path();
            if p.extension().is_some_and(|x| x == "zst") {
                segments += 1;
                assert_eq!(mode(&p), 0o600, "umask {umask}: {}", p.display());
            }
        }
        assert!(segments >= 1);
    }
}
