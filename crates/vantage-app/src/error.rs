//! Use-case errors, classified so the binary can pick an exit code and the server a status.

use std::path::PathBuf;

use vantage_store::StoreError;

use crate::config::ConfigError;

/// An error from a use case.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The configuration is unusable.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The data directory cannot be created or written.
    #[error("data directory {path} is not usable: {source}")]
    DataDir {
        /// The directory.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A reference (scope, asset, user) names nothing.
    #[error("{0}")]
    NotFound(String),
    /// Input is invalid.
    #[error("{0}")]
    Invalid(String),
    /// Credentials were wrong (deliberately vague).
    #[error("invalid credentials")]
    BadCredentials,
    /// A feed file is unreadable or malformed (the message names file, record and field).
    #[error(transparent)]
    Feed(#[from] vantage_feeds::FeedError),
    /// A scan request, probe file or nmap file is unusable (the message says which and why).
    #[error(transparent)]
    Scan(#[from] vantage_scan::ScanError),
    /// A remote system (an API server, a registry) failed or refused.
    #[error("{0}")]
    Unavailable(String),
    /// A password could not be hashed or checked.
    #[error("password hashing failed: {0}")]
    Crypto(String),
}

impl AppError {
    /// Whether the error is the caller's input (exit code 2, HTTP 4xx) rather than a failure.
    pub fn is_bad_input(&self) -> bool {
        if let AppError::Scan(e) = self {
            return !e.is_remote_failure();
        }
        matches!(
            self,
            AppError::Config(_)
                | AppError::NotFound(_)
                | AppError::Invalid(_)
                | AppError::BadCredentials
                | AppError::Feed(_)
                | AppError::Store(
                    StoreError::Invalid(_)
                        | StoreError::UnsupportedUrl(_)
                        | StoreError::NotFound { .. }
                        | StoreError::Conflict { .. }
                )
        )
    }
}
