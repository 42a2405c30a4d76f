//! The application handle: configuration plus an open, migrated store.

use std::path::Path;
use std::time::Duration;

use serde::Serialize;
use vantage_store::{Backend, ConnectOptions, Store};

use crate::config::Config;
use crate::error::AppError;

/// Configuration and store, shared by the CLI commands and the server.
#[derive(Debug, Clone)]
pub struct App {
    /// The effective configuration.
    pub config: Config,
    /// The database.
    pub store: Store,
    /// Held while prioritization runs: the server's start-up run, its post-refresh runs and
    /// runs after a policy change never overlap (they would write the same history twice).
    pub(crate) prioritizing: std::sync::Arc<tokio::sync::Mutex<()>>,
}

/// What `/healthz` reports.
#[derive(Debug, Clone, Serialize)]
pub struct Health {
    /// `ok` when the database answers.
    pub status: &'static str,
    /// `sqlite` or `postgres`.
    pub database: &'static str,
    /// Newest applied migration.
    pub schema_version: i64,
    /// Build version.
    pub version: &'static str,
}

impl App {
    /// Prepares the data directory, opens the database and applies pending migrations.
    pub async fn open(config: Config) -> Result<App, AppError> {
        let url = config.database_url();
        // SQLite lives in the data directory; with PostgreSQL nothing is written locally yet.
        if url.starts_with("sqlite:") {
            ensure_writable_dir(&config.data_dir)?;
        }
        let opts = ConnectOptions {
            max_connections: config.database.max_connections.max(1),
            acquire_timeout: Duration::from_secs(10),
        };
        let store = Store::connect(&url, &opts).await?;
        store.migrate().await?;
        Ok(App::from_parts(config, store))
    }

    /// Wraps an already open and migrated store (tests, embedding).
    pub fn from_parts(config: Config, store: Store) -> App {
        App {
            config,
            store,
            prioritizing: Default::default(),
        }
    }

    /// Checks the database.
    pub async fn health(&self) -> Result<Health, AppError> {
        self.store.ping().await?;
        Ok(Health {
            status: "ok",
            database: match self.store.backend() {
                Backend::Sqlite => "sqlite",
                Backend::Postgres => "postgres",
            },
            schema_version: self.store.schema_version().await?,
            version: env!("CARGO_PKG_VERSION"),
        })
    }
}

/// Creates the directory if needed and proves it is writable (a probe file, removed at once),
/// so a read-only directory fails with its name before anything else is attempted.
fn ensure_writable_dir(dir: &Path) -> Result<(), AppError> {
    let err = |source| AppError::DataDir {
        path: dir.to_path_buf(),
        source,
    };
    std::fs::create_dir_all(dir).map_err(err)?;
    let probe = dir.join(format!(".vantage-write-probe-{}", std::process::id()));
    std::fs::write(&probe, b"").map_err(err)?;
    std::fs::remove_file(&probe).map_err(err)?;
    Ok(())
}
