//! `vantage serve`: the API server, with first-start administrator creation and graceful
//! shutdown on Ctrl-C / SIGTERM.

use std::io::Write;

use anyhow::Context;
use time::OffsetDateTime;
use vantage_app::Config;
use vantage_app::auth::FIRST_ADMIN;

/// Runs the server until a shutdown signal.
pub async fn run(config: Config) -> anyhow::Result<()> {
    let listen = config.server.listen;
    let refresh = vantage_app::sync::refresh_period(&config.feeds.refresh)?;
    let refresh_delay = std::time::Duration::from_secs(config.feeds.refresh_delay_secs);
    let db = vantage_store::redact_url(&config.database_url());
    let app = super::open(config).await?;
    if let Some(password) = app.ensure_first_admin(OffsetDateTime::now_utc()).await? {
        let mut out = std::io::stdout().lock();
        writeln!(out, "First start: created the administrator account.")?;
        writeln!(out, "  username: {FIRST_ADMIN}")?;
        writeln!(out, "  password: {password}")?;
        writeln!(
            out,
            "The password is shown only this once. Lost it? `vantage users reset-password {FIRST_ADMIN}`."
        )?;
        writeln!(
            out,
            "API token: POST /api/v1/auth/token with {{\"username\",\"password\"}}, or `vantage tokens create`."
        )?;
        out.flush()?;
    }
    // Fresh statistics for the query planner; in the background so start-up is not delayed.
    let stats_store = app.store.clone();
    tokio::spawn(async move {
        if let Err(e) = stats_store.refresh_statistics().await {
            tracing::warn!(error = %e, "refreshing planner statistics failed");
        }
    });
    // Findings that arrived while the server was down are prioritized at start, in the
    // background, as a `prioritize` job.
    let prioritizer = app.clone();
    tokio::spawn(async move {
        let worker = format!("serve:{}", std::process::id());
        if let Err(e) = prioritizer.run_prioritize_job(&worker).await {
            tracing::warn!(error = %e, "prioritization at start-up failed");
        }
    });
    // The feeds refresh in the background as `feed_sync` jobs (stopped with the server).
    let refresher = refresh.map(|period| {
        tracing::info!(
            period_hours = period.as_secs() / 3600,
            "feed refresh scheduled (feeds.refresh)"
        );
        tokio::spawn(app.clone().feed_refresh_loop(period, refresh_delay))
    });
    // Scopes' schedules and the job workers (durable jobs: a restart resumes them).
    let scheduler = if app.config.scheduler.enabled {
        let worker = format!(
            "serve:{}:{}",
            std::fs::read_to_string("/proc/sys/kernel/hostname")
                .map(|h| h.trim().to_string())
                .unwrap_or_else(|_| "localhost".into()),
            std::process::id()
        );
        // Alerts, ticket syncs and the connectors' delivery queue.
        tokio::spawn(std::sync::Arc::new(app.clone()).mobilization_loop());
        Some(tokio::spawn(
            std::sync::Arc::new(app.clone()).scheduler_loop(worker),
        ))
    } else {
        tracing::info!("scheduler disabled (scheduler.enabled = false)");
        None
    };
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    let addr = listener.local_addr()?;
    writeln!(
        std::io::stdout(),
        "Vantage {} listening on http://{addr} (database: {db})",
        env!("CARGO_PKG_VERSION")
    )?;
    tracing::info!(%addr, database = %db, "server started");
    let store = app.store.clone();
    vantage_server::serve(app, listener, shutdown_signal())
        .await
        .context("server error")?;
    tracing::info!("shutting down");
    if let Some(s) = scheduler {
        // Jobs in progress keep their lease until it expires; the next start (or another
        // server) runs them again.
        s.abort();
    }
    if let Some(r) = refresher {
        // An import in progress is rolled back; the next start picks the refresh up again.
        r.abort();
    }
    store.close().await;
    Ok(())
}

/// Completes on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}
