//! The recorder's signing key and its log: every segment footer is signed (format 1.1),
//! and the public key and each new chain head are printed (and appended to `--key-log`)
//! so that an operator can keep them off the host, out of an attacker's reach.
//!
//! Lines have one fixed, greppable form:
//! `rewind-key trace=<id> public_key=<hex> source=<file|fresh> head=none` at start, and
//! `rewind-seal trace=<id> seq=<n> sha256=<hex> public_key=<hex> reason=<why>` whenever a
//! segment is sealed (rotation and shutdown).

use anyhow::Context;
use rewind_schema::sign::{self, SigningKey};
use rewind_schema::writer::SegmentSummary;
use std::fs::File;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// The key to sign with: read from `--sign-key`, or a fresh one for this recording only.
/// Returns the key and whether it is fresh.
pub fn signing_key(file: Option<&Path>) -> anyhow::Result<(SigningKey, bool)> {
    match file {
        Some(p) => Ok((sign::read_signing_key(p).context("--sign-key")?, false)),
        None => Ok((
            sign::generate_key().context("generating a signing key from /dev/urandom")?,
            true,
        )),
    }
}

/// Where key and chain-head lines go: stderr, and the `--key-log` file when given.
#[derive(Debug)]
pub struct KeyLog {
    file: Option<(File, std::path::PathBuf)>,
    trace_id: String,
}

impl KeyLog {
    /// Opens the key log for appending (created 0600 when missing).
    pub fn open(path: Option<&Path>) -> anyhow::Result<Self> {
        let file = match path {
            Some(p) => Some((
                std::fs::OpenOptions::new()
                    .append(true)
                    .create(true)
                    .mode(0o600)
                    .open(p)
                    .with_context(|| format!("--key-log {}", p.display()))?,
                p.to_path_buf(),
            )),
            None => None,
        };
        Ok(KeyLog {
            file,
            trace_id: String::new(),
        })
    }

    fn line(&mut self, line: &str) {
        eprintln!("recorder: {line}");
        if let Some((f, p)) = self.file.as_mut() {
            // A key log that can no longer be written is worth a warning, not the recording.
            if let Err(e) = writeln!(f, "{line}").and_then(|_| f.sync_data()) {
                eprintln!("recorder: warning: key log {}: {e}", p.display());
            }
        }
    }

    /// The line printed when recording `trace_id` starts.
    pub fn start(&mut self, trace_id: &str, key: &SigningKey, fresh: bool) {
        self.trace_id = trace_id.to_string();
        let line = format!(
            "rewind-key trace={} public_key={} source={} head=none",
            self.trace_id,
            sign::key_hex(&key.verifying_key()),
            if fresh { "fresh" } else { "file" }
        );
        self.line(&line);
    }

    /// The line printed when a segment is sealed: the new head of the chain.
    pub fn sealed(&mut self, s: &SegmentSummary) {
        let line = format!(
            "rewind-seal trace={} seq={} sha256={} public_key={} reason={}",
            self.trace_id,
            s.footer.seq,
            s.footer.sha256,
            s.footer.public_key.as_deref().unwrap_or("none"),
            s.footer.reason
        );
        self.line(&line);
    }
}
