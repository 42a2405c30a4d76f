//! Store errors: what went wrong, phrased so the operator can act on it.

/// An error from the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database URL is not one this build understands.
    #[error("unsupported database URL `{0}` (expected sqlite://PATH or postgres://USER@HOST/DB)")]
    UnsupportedUrl(String),
    /// The database could not be opened or reached.
    #[error("cannot connect to the database at {url}: {source}")]
    Connect {
        /// The URL with any password removed.
        url: String,
        /// The driver's error.
        #[source]
        source: sqlx::Error,
    },
    /// Migrations failed or the database is newer than this build.
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A query failed.
    #[error("database error: {0}")]
    Query(#[from] sqlx::Error),
    /// A referenced object does not exist.
    #[error("{what} `{key}` not found")]
    NotFound {
        /// What was looked up.
        what: &'static str,
        /// The key used.
        key: String,
    },
    /// A unique name or key is already taken.
    #[error("{what} `{key}` already exists")]
    Conflict {
        /// What was being created.
        what: &'static str,
        /// The key that clashed.
        key: String,
    },
    /// A stored value cannot be turned back into a domain value.
    #[error("stored {what} is invalid: {detail}")]
    Corrupt {
        /// Which column or field.
        what: &'static str,
        /// What is wrong with it.
        detail: String,
    },
    /// Input rejected before it reached the database.
    #[error("{0}")]
    Invalid(String),
}

/// Shorthand result type.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

impl StoreError {
    pub(crate) fn corrupt(what: &'static str, detail: impl std::fmt::Display) -> Self {
        StoreError::Corrupt {
            what,
            detail: detail.to_string(),
        }
    }

    /// Maps a unique-constraint violation to [`StoreError::Conflict`], anything else unchanged.
    pub(crate) fn conflict_on_unique(e: sqlx::Error, what: &'static str, key: &str) -> Self {
        match &e {
            sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict {
                what,
                key: key.to_string(),
            },
            _ => StoreError::Query(e),
        }
    }
}

/// Removes the password from a database URL so it can be shown and logged.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let Some((auth, host)) = rest.split_once('@') else {
        return url.to_string();
    };
    match auth.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::redact_url;

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            redact_url("postgres://u:secret@h/db"),
            "postgres://u:***@h/db"
        );
        assert_eq!(redact_url("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(redact_url("sqlite:///tmp/x.db"), "sqlite:///tmp/x.db");
    }
}
