//! The `vantage` binary: parses the command line, loads the configuration, and runs one command.
//! The only crate with clap and anyhow; everything else is in the library crates.
#![forbid(unsafe_code)]

mod cli;
mod commands;
mod output;

use std::process::ExitCode;

use clap::Parser;
use vantage_app::{AppError, Config, Overrides};

use crate::cli::{Cli, Command};

/// Exit code for failures.
const EXIT_FAILURE: u8 = 1;
/// Exit code for bad usage or input (clap uses it too).
const EXIT_USAGE: u8 = 2;
/// Exit code of a failed CI gate (`--fail-on`).
const EXIT_GATE: u8 = 3;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return fail(&anyhow::anyhow!("cannot start the async runtime: {e}")),
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&e),
    }
}

/// Prints the error as one line (with its causes) and picks the exit code.
fn fail(e: &anyhow::Error) -> ExitCode {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "error: {e:#}");
    let usage = e.chain().any(|c| {
        c.downcast_ref::<AppError>()
            .is_some_and(AppError::is_bad_input)
    }) || e.downcast_ref::<commands::UsageError>().is_some();
    if e.downcast_ref::<commands::GateFailed>().is_some() {
        return ExitCode::from(EXIT_GATE);
    }
    ExitCode::from(if usage { EXIT_USAGE } else { EXIT_FAILURE })
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    // Scoring vectors needs no configuration, database or logging.
    let cli = match cli.command {
        Command::Cvss(a) => return commands::cvss::run(a),
        command => Cli { command, ..cli },
    };
    let listen = match &cli.command {
        Command::Serve(a) => a.listen,
        _ => None,
    };
    let overrides = Overrides {
        data_dir: cli.global.data_dir.clone(),
        database: cli.global.database.clone(),
        listen,
        log_level: cli.global.log_level.clone(),
    };
    let vars: Vec<(String, String)> = std::env::vars().collect();
    let (config, loaded) =
        Config::load(cli.global.config.as_deref(), &vars, &overrides).map_err(AppError::from)?;
    // Commands other than `serve` log warnings only, unless a level was asked for explicitly.
    let explicit_level = cli.global.log_level.is_some()
        || vars.iter().any(|(k, _)| k == vantage_app::env::LOG_LEVEL);
    let level = match (&cli.command, explicit_level) {
        (Command::Serve(_), _) | (_, true) => config.log.level.clone(),
        _ => "warn".to_string(),
    };
    commands::init_logging(&level, config.log.format);
    for w in &loaded.warnings {
        tracing::warn!("{w}");
    }
    match cli.command {
        Command::Serve(_) => commands::serve::run(config).await,
        Command::Migrate => commands::migrate(config).await,
        Command::Assets(c) => commands::lists::assets(config, c).await,
        Command::Findings(c) => commands::lists::findings(config, c).await,
        Command::Scopes(c) => commands::lists::scopes(config, c).await,
        Command::Feeds(c) => commands::knowledge::feeds(config, c).await,
        Command::Cve(a) => commands::knowledge::cve(config, a).await,
        Command::Cvss(_) => unreachable!("handled before the configuration is loaded"),
        Command::Inventory(c) => commands::inventory::run(config, c).await,
        Command::Scan(c) => commands::inventory::scan(config, c).await,
        Command::Import(c) => commands::network::import(config, c).await,
        Command::Users(c) => commands::accounts::users(config, c).await,
        Command::Jobs(c) => commands::continuous::jobs(config, c).await,
        Command::Metrics(c) => commands::continuous::metrics(config, c).await,
        Command::Paths(a) => commands::continuous::paths(config, a).await,
        Command::Patch(cli::PatchCommand::Plan(a)) => {
            commands::continuous::patch_plan(config, a).await
        }
        Command::Credentials(c) => commands::accounts::credentials(config, c).await,
        Command::Discover(c) => commands::discover::run(config, c).await,
        Command::Alerts(a) => commands::mobilize::alerts(config, a).await,
        Command::Integrations(c) => commands::mobilize::integrations(config, c).await,
        Command::Remediate(c) => commands::mobilize::remediate(config, c).await,
        Command::Tokens(c) => commands::accounts::tokens(config, c).await,
        Command::Config(c) => commands::config_show(&config, &loaded, c),
        Command::Dev(c) => commands::dev(config, c).await,
    }
}
