//! Errors of the trace reader and writer, each naming the file and the problem.

use std::path::PathBuf;

/// A trace file could not be read or written at all. Damage inside a readable segment is
/// not an error: it is reported as [`crate::reader::Damage`] and reading goes on.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TraceError {
    /// An I/O failure on a file.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The file is not a Rewind trace segment.
    #[error("{}: not a Rewind trace: {reason}", path.display())]
    NotATrace {
        /// The file.
        path: PathBuf,
        /// What was found instead.
        reason: String,
    },
    /// A major format version this build cannot read.
    #[error(
        "{}: format version {major}.{minor} is not supported (this build reads {supported}.x)",
        path.display()
    )]
    UnsupportedVersion {
        /// The file.
        path: PathBuf,
        /// Major found.
        major: u16,
        /// Minor found.
        minor: u16,
        /// Major this build reads.
        supported: u16,
    },
    /// The segment header is damaged, so nothing in the file can be trusted.
    #[error("{}: segment header is damaged: {reason}", path.display())]
    BadHeader {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// No input files matched.
    #[error("{pattern}: no trace files found")]
    NoInput {
        /// The path, directory or glob given.
        pattern: String,
    },
    /// A record could not be encoded.
    #[error("{}: {source}", path.display())]
    Encode {
        /// The file being written.
        path: PathBuf,
        /// Why.
        #[source]
        source: crate::wire::EncodeError,
    },
    /// One file of a set could not be read; the others were (see
    /// [`crate::trace::TraceSet::unreadable`]). `message` names the file and the problem.
    #[error("{message}")]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// The original error, as text.
        message: String,
    },
    /// A record handed to the writer is malformed.
    #[error("{}: refusing malformed record: {reason}", path.display())]
    BadRecord {
        /// The file being written.
        path: PathBuf,
        /// Why.
        reason: String,
    },
}

impl TraceError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        TraceError::Io {
            path: path.into(),
            source,
        }
    }
}
