//! `recorder keygen OUT`: a new ed25519 signing key for `recorder record --sign-key`.
//! The private key file holds the 32-byte seed as 64 hex digits (mode 0600, never
//! overwritten); the public key is printed on stdout, to be kept off the host and given
//! to `analyzer info --verify-key`.

use crate::cli::KeygenArgs;
use rewind_schema::sign;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::process::ExitCode;

/// Runs `recorder keygen`.
pub fn run(args: KeygenArgs) -> ExitCode {
    match keygen(&args) {
        Ok(pk) => {
            println!("{pk}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("recorder: error: {e:#}");
            ExitCode::from(1)
        }
    }
}

fn keygen(args: &KeygenArgs) -> anyhow::Result<String> {
    use anyhow::Context;
    let key = sign::generate_key().context("reading /dev/urandom")?;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&args.out)
        .with_context(|| {
            format!(
                "{} (an existing key is never overwritten)",
                args.out.display()
            )
        })?;
    f.write_all(sign::signing_key_text(&key).as_bytes())
        .and_then(|_| f.sync_all())
        .with_context(|| args.out.display().to_string())?;
    Ok(sign::key_hex(&key.verifying_key()))
}
