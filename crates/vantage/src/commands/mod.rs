//! One module per group of subcommands, plus the small commands.

pub mod accounts;
pub mod continuous;
pub mod cvss;
pub mod discover;
pub mod external;
pub mod inventory;
pub mod knowledge;
pub mod lists;
pub mod mobilize;
pub mod network;
pub mod serve;

use std::io::Write;

use anyhow::Context;
use time::OffsetDateTime;
use tracing_subscriber::EnvFilter;
use vantage_app::seed::{SeedSpec, seed};
use vantage_app::{App, Config, Loaded, LogFormat};

use crate::cli::{ConfigCommand, ConfigFormat, DevCommand};

/// A usage error found after parsing (exit code 2).
#[derive(Debug)]
pub struct UsageError(pub String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// A CI gate that failed (`--fail-on`): exit code 3.
#[derive(Debug)]
pub struct GateFailed(pub String);

impl std::fmt::Display for GateFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for GateFailed {}

/// Logs go to standard error, so standard output stays clean for data.
pub fn init_logging(level: &str, format: LogFormat) {
    let filter = EnvFilter::try_new(level).unwrap_or_else(|_| EnvFilter::new("info"));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi);
    match format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
}

/// Opens the application, with the database named in the error.
pub async fn open(config: Config) -> anyhow::Result<App> {
    Ok(App::open(config).await?)
}

/// `vantage migrate`.
pub async fn migrate(config: Config) -> anyhow::Result<()> {
    let url = vantage_store::redact_url(&config.database_url());
    let app = open(config).await?;
    let version = app
        .store
        .schema_version()
        .await
        .context("reading the schema version")?;
    writeln!(
        std::io::stdout(),
        "database {url} is at schema version {version}"
    )?;
    app.store.close().await;
    Ok(())
}

/// `vantage config show`.
pub fn config_show(config: &Config, loaded: &Loaded, c: ConfigCommand) -> anyhow::Result<()> {
    let ConfigCommand::Show { format } = c;
    let mut out = std::io::stdout().lock();
    match format {
        ConfigFormat::Toml => {
            match &loaded.file {
                Some(f) => writeln!(
                    out,
                    "# from {} (then VANTAGE_* variables and flags)",
                    f.display()
                )?,
                None => writeln!(
                    out,
                    "# no configuration file; defaults, VANTAGE_* variables and flags"
                )?,
            }
            writeln!(
                out,
                "# database in effect: {}",
                vantage_store::redact_url(&config.database_url())
            )?;
            write!(out, "{}", config.to_toml())?;
        }
        ConfigFormat::Json => {
            serde_json::to_writer_pretty(&mut out, &config.redacted())?;
            writeln!(out)?;
        }
    }
    Ok(())
}

/// `vantage dev seed` and `vantage dev openapi`.
pub async fn dev(config: Config, c: DevCommand) -> anyhow::Result<()> {
    let (assets, findings_per_asset, rng_seed) = match c {
        DevCommand::Seed {
            assets,
            findings_per_asset,
            seed,
        } => (assets, findings_per_asset, seed),
        DevCommand::Openapi => {
            let mut out = std::io::stdout().lock();
            serde_json::to_writer_pretty(&mut out, &vantage_server::openapi())?;
            writeln!(out)?;
            return Ok(());
        }
    };
    let app = open(config).await?;
    let started = std::time::Instant::now();
    let spec = SeedSpec {
        assets,
        findings_per_asset,
        seed: rng_seed,
        round: 0,
    };
    let mut err = std::io::stderr();
    let report = seed(
        &app.store,
        &spec,
        OffsetDateTime::now_utc(),
        |done, total| {
            let _ = write!(err, "\rseeding: {done}/{total} assets");
        },
    )
    .await?;
    let _ = writeln!(err);
    writeln!(
        std::io::stdout(),
        "seeded {} assets, {} findings ({} then fixed), {} scopes in {:.1} s",
        report.assets,
        report.findings,
        report.fixed,
        report.scopes,
        started.elapsed().as_secs_f64()
    )?;
    app.store.close().await;
    Ok(())
}
