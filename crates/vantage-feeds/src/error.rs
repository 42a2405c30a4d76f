//! Feed errors: which file, which record, which field, and what was wrong.

use std::path::PathBuf;

/// An error reading a feed file.
#[derive(Debug, thiserror::Error)]
pub enum FeedError {
    /// The file could not be read (missing, truncated gzip …).
    #[error("{path}: {what}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Where in the file (`line 12`, `header`).
        what: String,
        /// The cause.
        source: std::io::Error,
    },
    /// A record is malformed.
    #[error("{path}: {location}: {message}")]
    Record {
        /// The file.
        path: PathBuf,
        /// Line or record, and field when known.
        location: String,
        /// What is wrong.
        message: String,
    },
    /// The file is not a feed this build understands.
    #[error("{path}: {message}")]
    Format {
        /// The file.
        path: PathBuf,
        /// Why.
        message: String,
    },
}

impl FeedError {
    pub(crate) fn record(
        path: &std::path::Path,
        location: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        FeedError::Record {
            path: path.to_path_buf(),
            location: location.into(),
            message: message.into(),
        }
    }
}
