//! Signed segments from a real recording: `recorder keygen`, `--sign-key`, `--key-log`,
//! and the fresh per-recording key printed at start; every footer verifies under the
//! public key, and each sealed segment's chain head is logged.

mod common;
use common::*;
use rewind_schema::sign;
use rewind_schema::trace::{verify_chain_keyed, Severity, TraceSet};
use std::os::unix::fs::PermissionsExt;
use std::process::Command;

fn recorder() -> Command {
    Command::new(env!("CARGO_BIN_EXE_recorder"))
}

/// (problems, footers' (seq, sha256)) of the trace in `dir`, checked against `key`.
fn verify(dir: &std::path::Path, key: &str) -> (Vec<String>, Vec<(u64, String)>) {
    let key = sign::public_key_arg(key).expect("key");
    let set = TraceSet::open(&[dir]).expect("open");
    let mut m = set.records();
    m.by_ref().for_each(drop);
    let problems = verify_chain_keyed(&set, m.reports(), Some(&key))
        .into_iter()
        .filter(|f| f.severity == Severity::Problem)
        .map(|f| f.message)
        .collect();
    let mut heads: Vec<(u64, String)> = m
        .reports()
        .iter()
        .filter_map(|r| r.footer.as_ref().map(|f| (f.seq, f.sha256.clone())))
        .collect();
    heads.sort();
    (problems, heads)
}

#[test]
fn keygen_sign_key_and_key_log() {
    if !root_or_skip("keygen_sign_key_and_key_log") {
        return;
    }
    let keys = tempfile::tempdir().expect("tempdir");
    let keyfile = keys.path().join("recorder.key");
    let out = recorder()
        .arg("keygen")
        .arg(&keyfile)
        .output()
        .expect("keygen");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let pk = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert_eq!(pk.len(), 64, "{pk}");
    let mode = std::fs::metadata(&keyfile)
        .expect("key")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "the private key is 0600");
    let again = recorder()
        .arg("keygen")
        .arg(&keyfile)
        .output()
        .expect("keygen");
    assert_eq!(
        again.status.code(),
        Some(1),
        "an existing key is never overwritten"
    );

    let log = keys.path().join("heads.log");
    let keyarg = keyfile.display().to_string();
    let logarg = log.display().to_string();
    let r = record(
        &[
            "--sign-key",
            &keyarg,
            "--key-log",
            &logarg,
            "--rotate-time",
            "1s",
        ],
        &[
            "sh",
            "-c",
            "for i in 1 2 3; do cat /etc/hostname >/dev/null; sleep 1; done",
        ],
        None,
    );
    assert_eq!(r.code(), Some(0), "{}", r.stderr());
    let (problems, heads) = verify(r.dir.path(), &pk);
    assert_eq!(problems, Vec::<String>::new());
    assert!(heads.len() >= 2, "rotated every second: {heads:?}");

    // The log: the key at start, then every sealed segment's head, in order.
    let text = std::fs::read_to_string(&log).expect("key log");
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[0].starts_with("rewind-key trace=")
            && lines[0].contains(&format!("public_key={pk} source=file head=none")),
        "{text}"
    );
    let logged: Vec<(u64, String)> = lines[1..]
        .iter()
        .map(|l| {
            let field = |k: &str| {
                l.split(' ')
                    .find_map(|w| w.strip_prefix(k))
                    .unwrap_or_else(|| panic!("{k} in {l}"))
                    .to_string()
            };
            assert!(
                l.starts_with("rewind-seal ") && field("public_key=") == pk,
                "{l}"
            );
            (field("seq=").parse().expect("seq"), field("sha256="))
        })
        .collect();
    assert_eq!(logged, heads, "one logged head per sealed segment");
    assert_eq!(
        std::fs::metadata(&log).expect("log").permissions().mode() & 0o777,
        0o600
    );
    for l in &lines {
        assert!(r.stderr().contains(l), "stderr has {l}");
    }

    // A bad key file is refused before anything is recorded.
    let bad = keys.path().join("bad.key");
    std::fs::write(&bad, "nope").expect("write");
    let out_dir = tempfile::tempdir().expect("tempdir");
    let trace = out_dir.path().join("t.zst");
    let out = recorder()
        .args(["record", "-q", "-o"])
        .arg(&trace)
        .arg("--sign-key")
        .arg(&bad)
        .args(["--", "/bin/true"])
        .output()
        .expect("recorder");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--sign-key") && err.contains("bad.key") && err.contains("64 hex digits"),
        "{err}"
    );
    assert!(!trace.exists(), "nothing written");

    // Another key: every segment is named.
    let other = sign::key_hex(&sign::generate_key().expect("key").verifying_key());
    let (problems, _) = verify(r.dir.path(), &other);
    assert_eq!(problems.len(), heads.len(), "{problems:?}");
}

#[test]
fn fresh_key_is_printed_and_signs() {
    if !root_or_skip("fresh_key_is_printed_and_signs") {
        return;
    }
    let r = record(&[], &["/bin/true"], None);
    assert_eq!(r.code(), Some(0), "{}", r.stderr());
    let err = r.stderr();
    let line = err
        .lines()
        .find(|l| l.contains("rewind-key ") && l.contains("source=fresh"))
        .unwrap_or_else(|| panic!("no key line: {err}"));
    let pk = line
        .split(' ')
        .find_map(|w| w.strip_prefix("public_key="))
        .expect("public_key=");
    let (problems, heads) = verify(r.dir.path(), pk);
    assert_eq!(problems, Vec::<String>::new());
    assert_eq!(heads.len(), 1);
    assert!(
        err.contains(&format!("seq=1 sha256={}", heads[0].1)),
        "{err}"
    );
}
