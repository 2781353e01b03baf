//! Exit codes, and turning a command's result into one.
//!
//! 0 success; 1 error (nothing useful could be done); 2 usage (clap); 3 partial: the
//! input is damaged or fails verification, and the output covers what was readable;
//! 4 blocked: `analyzer policy test` found something the policy would have blocked.
//! A closed pipe (`analyzer dump x | head`) is not an error.

use std::process::ExitCode;

/// Success.
pub const OK: u8 = 0;
/// Error: unreadable input, not a trace, unsupported version, no input.
pub const ERROR: u8 = 1;
/// Partial: damage or a failed verification was found and reported.
pub const PARTIAL: u8 = 3;
/// `analyzer policy test`: the policy would have killed, stopped or denied something.
pub const BLOCKED: u8 = 4;

/// How a command ended when it did not fail outright.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Everything read and verified.
    Clean,
    /// Damage or verification problems were reported on stderr.
    Partial,
    /// A policy would have blocked something (takes precedence over partial: what was
    /// readable already shows it).
    Blocked,
}

/// Prints the error (if any) and maps the result to an exit code.
pub fn finish(res: anyhow::Result<Outcome>) -> ExitCode {
    match res {
        Ok(Outcome::Clean) => ExitCode::from(OK),
        Ok(Outcome::Partial) => ExitCode::from(PARTIAL),
        Ok(Outcome::Blocked) => ExitCode::from(BLOCKED),
        Err(e) if is_broken_pipe(&e) => ExitCode::from(OK),
        Err(e) => {
            eprintln!("analyzer: error: {}", message(&e));
            ExitCode::from(ERROR)
        }
    }
}

/// The message of `e` with its causes, each said once, escaped
/// ([`rewind_schema::text::error_message`]).
pub fn message(e: &anyhow::Error) -> String {
    rewind_schema::text::error_message(e.as_ref())
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        let io = c.downcast_ref::<std::io::Error>().map(std::io::Error::kind);
        // serde_json and csv wrap the writer's error in their own types.
        let json = c
            .downcast_ref::<serde_json::Error>()
            .and_then(serde_json::Error::io_error_kind);
        let csv = c.downcast_ref::<csv::Error>().and_then(|e| match e.kind() {
            csv::ErrorKind::Io(io) => Some(io.kind()),
            _ => None,
        });
        [io, json, csv].contains(&Some(std::io::ErrorKind::BrokenPipe))
    })
}
