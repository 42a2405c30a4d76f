//! `vantage jobs …`, `vantage findings accept|false-positive|reopen`, `vantage scopes apply`:
//! the continuous loop from the command line.

use std::io::Write;
use std::sync::Arc;

use time::OffsetDateTime;
use vantage_app::{AppError, Config};
use vantage_domain::{FindingId, Job, JobKind, JobStatus, Triage};
use vantage_store::JobFilter;

use crate::cli::{FindingsCommand, Format, JobsCommand};
use crate::output::{Printer, Row, opt};

fn rfc3339(t: &OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

impl Row for Job {
    fn headers() -> &'static [&'static str] {
        &[
            "id",
            "kind",
            "scope",
            "status",
            "progress",
            "attempts",
            "origin",
            "created",
            "duration_s",
            "result",
        ]
    }
    fn cells(&self) -> Vec<String> {
        vec![
            self.id.to_string(),
            self.kind.to_string(),
            opt(&self.scope_id.map(|s| s.0)),
            self.status.to_string(),
            format!("{:.0}%", self.progress * 100.0),
            format!("{}/{}", self.attempts, self.max_attempts),
            self.origin.clone(),
            rfc3339(&self.created_at),
            opt(&self.duration_seconds),
            self.result
                .clone()
                .or(self.error.clone())
                .unwrap_or_default(),
        ]
    }
}

impl Row for vantage_domain::JobLogLine {
    fn headers() -> &'static [&'static str] {
        &["at", "level", "message"]
    }
    fn cells(&self) -> Vec<String> {
        vec![rfc3339(&self.at), self.level.clone(), self.message.clone()]
    }
}

impl Row for vantage_app::scopes::Applied {
    fn headers() -> &'static [&'static str] {
        &["name", "id", "action", "next_run_at", "collectors"]
    }
    fn cells(&self) -> Vec<String> {
        vec![
            self.name.clone(),
            self.id.to_string(),
            self.action.to_string(),
            self.next_run_at.as_ref().map(rfc3339).unwrap_or_default(),
            self.collectors.clone(),
        ]
    }
}

fn parse<T: std::str::FromStr>(v: Option<&str>) -> Result<Option<T>, AppError>
where
    T::Err: std::fmt::Display,
{
    v.map(|s| s.parse::<T>().map_err(|e| AppError::Invalid(e.to_string())))
        .transpose()
}

/// The id of a scope named on the command line.
async fn scope_id(app: &vantage_app::App, name: Option<&str>) -> Result<Option<i64>, AppError> {
    let Some(name) = name else { return Ok(None) };
    let scope = app.store.scope_by_name(name).await?.ok_or_else(|| {
        AppError::NotFound(format!(
            "scope `{name}` does not exist (see `vantage scopes list`)"
        ))
    })?;
    Ok(Some(scope.id.0))
}

/// `vantage jobs …`.
pub async fn jobs(config: Config, c: JobsCommand) -> anyhow::Result<()> {
    let app = Arc::new(super::open(config).await?);
    let r = run_jobs(&app, c).await;
    app.store.close().await;
    r
}

async fn run_jobs(app: &Arc<vantage_app::App>, c: JobsCommand) -> anyhow::Result<()> {
    match c {
        JobsCommand::List {
            kind,
            status,
            scope,
            limit,
            format,
        } => {
            let scope = scope_id(app, scope.as_deref()).await?;
            let jobs = app
                .store
                .list_jobs(&JobFilter {
                    kind: parse::<JobKind>(kind.as_deref())?,
                    status: parse::<JobStatus>(status.as_deref())?,
                    scope,
                    before: None,
                    limit,
                })
                .await?;
            let mut p = Printer::new::<Job>(format.format, std::io::stdout().lock());
            for j in &jobs {
                p.row(j)?;
            }
            p.finish()?;
        }
        JobsCommand::Show { id, format } => {
            let job = app
                .store
                .job(id)
                .await?
                .ok_or_else(|| AppError::NotFound(format!("job {id} does not exist")))?;
            let logs = app.store.job_log_lines(id).await?;
            let mut out = std::io::stdout().lock();
            match format.format {
                Format::Json => {
                    let v = serde_json::json!({"job": job, "log": logs});
                    writeln!(out, "{}", serde_json::to_string_pretty(&v)?)?;
                }
                f => {
                    let mut p = Printer::new::<Job>(f, &mut out);
                    p.row(&job)?;
                    p.finish()?;
                    writeln!(out, "payload: {}", job.payload)?;
                    let mut p = Printer::new::<vantage_domain::JobLogLine>(f, &mut out);
                    for l in &logs {
                        p.row(l)?;
                    }
                    p.finish()?;
                }
            }
        }
        JobsCommand::Run { scope, job, wait } => {
            let ids = match (scope, job) {
                (Some(s), _) => app.run_scope_now(&s, "cli").await?,
                (None, Some(j)) => vec![app.rerun_job(j, "cli").await?],
                (None, None) => unreachable!("clap requires --scope or --job"),
            };
            let mut out = std::io::stdout().lock();
            for id in &ids {
                writeln!(out, "queued job {id}")?;
            }
            drop(out);
            if wait {
                let worker = format!("cli:{}", std::process::id());
                let cfg = app.config.scheduler.clone();
                // Claims only these jobs' kinds, oldest first: ours were queued last, so
                // earlier queued work of those kinds runs first.
                while let Some(job) = app
                    .store
                    .claim_next_job(
                        vantage_app::schedule::WORKER_KINDS,
                        &worker,
                        OffsetDateTime::now_utc(),
                        cfg.lease_secs as i64,
                    )
                    .await?
                {
                    let id = job.id;
                    app.run_claimed(job, &worker, &cfg).await;
                    let j = app.store.job(id).await?;
                    if let Some(j) = j {
                        writeln!(
                            std::io::stdout().lock(),
                            "job {id} {}: {}",
                            j.status,
                            j.result.or(j.error).unwrap_or_default()
                        )?;
                    }
                    let mine = futures_all_done(app, &ids).await?;
                    if mine {
                        break;
                    }
                }
                let mut failed = 0;
                for id in &ids {
                    if let Some(j) = app.store.job(*id).await?
                        && j.status != JobStatus::Done
                    {
                        failed += 1;
                    }
                }
                if failed > 0 {
                    return Err(
                        AppError::Invalid(format!("{failed} job(s) did not complete")).into(),
                    );
                }
            }
        }
        JobsCommand::Cancel { id } => {
            let status = app
                .store
                .cancel_job(id, OffsetDateTime::now_utc())
                .await?
                .ok_or_else(|| AppError::NotFound(format!("job {id} does not exist")))?;
            app.store
                .record_audit(
                    OffsetDateTime::now_utc(),
                    "cli",
                    "job.cancel",
                    ("job", &id.to_string()),
                    &format!("status {status}"),
                )
                .await?;
            let msg = match status {
                JobStatus::Cancelled => format!("job {id} cancelled"),
                JobStatus::Running => {
                    format!("job {id} is running: it stops at its next heartbeat")
                }
                s => format!("job {id} is already {s}: nothing to cancel"),
            };
            writeln!(std::io::stdout(), "{msg}")?;
        }
    }
    Ok(())
}

/// Whether every job of `ids` has ended.
async fn futures_all_done(app: &vantage_app::App, ids: &[i64]) -> Result<bool, AppError> {
    for id in ids {
        if let Some(j) = app.store.job(*id).await?
            && matches!(j.status, JobStatus::Queued | JobStatus::Running)
        {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Reads `--until`: a date (the end of that day, UTC) or an RFC 3339 time.
fn until(s: &str) -> Result<OffsetDateTime, AppError> {
    use time::format_description::well_known::Rfc3339;
    if let Ok(t) = OffsetDateTime::parse(s, &Rfc3339) {
        return Ok(t);
    }
    let fmt = time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(s.trim(), &fmt)
        .map(|d| d.with_hms(23, 59, 59).expect("valid time").assume_utc())
        .map_err(|_| {
            AppError::Invalid(format!(
                "--until `{s}`: expected a date (2027-03-31) or an RFC 3339 time"
            ))
        })
}

/// `vantage findings accept|false-positive|reopen`.
pub async fn triage(config: Config, c: FindingsCommand) -> anyhow::Result<()> {
    let (id, t) = match c {
        FindingsCommand::Accept {
            id,
            until: u,
            reason,
        } => (
            id,
            Triage::AcceptedRisk {
                until: until(&u)?,
                justification: reason,
            },
        ),
        FindingsCommand::FalsePositive { id, reason } => (id, Triage::FalsePositive { reason }),
        FindingsCommand::Reopen { id, reason } => (id, Triage::Reopen { reason }),
        _ => unreachable!("only triage commands come here"),
    };
    let app = super::open(config).await?;
    let actor = format!("cli:{}", whoami());
    let r = app
        .triage_finding(FindingId(id), &t, &actor, OffsetDateTime::now_utc())
        .await;
    app.store.close().await;
    let before = r?;
    let after = match t {
        Triage::AcceptedRisk { .. } => "accepted_risk",
        Triage::FalsePositive { .. } => "false_positive",
        Triage::Reopen { .. } => "open",
    };
    writeln!(std::io::stdout(), "finding {id}: {before} -> {after}")?;
    Ok(())
}

/// The local login name, for the audit trail of CLI actions.
fn whoami() -> String {
    std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| "unknown".into())
}

/// `vantage scopes apply FILE`.
pub async fn apply_scopes(
    config: Config,
    file: &std::path::Path,
    format: Format,
) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| AppError::Invalid(format!("cannot read {}: {e}", file.display())))?;
    let doc = vantage_app::scopes::parse_scopes(&text, &file.display().to_string())?;
    let app = super::open(config).await?;
    let r = app.apply_scopes(&doc, &format!("cli:{}", whoami())).await;
    app.store.close().await;
    let applied = r?;
    let mut p = Printer::new::<vantage_app::scopes::Applied>(format, std::io::stdout().lock());
    for a in &applied {
        p.row(a)?;
    }
    p.finish()?;
    Ok(())
}

/// `vantage paths`.
pub async fn paths(config: Config, a: crate::cli::PathsArgs) -> anyhow::Result<()> {
    let app = super::open(config).await?;
    let r = app.attack_paths(a.to.as_deref()).await;
    app.store.close().await;
    let analysis = r?;
    if a.choke_points {
        let mut p = Printer::new::<vantage_app::paths::ChokePoint>(
            a.format.format,
            std::io::stdout().lock(),
        );
        for c in analysis.choke_points.iter().take(a.limit) {
            p.row(c)?;
        }
        p.finish()?;
    } else {
        let mut p = Printer::new::<vantage_app::paths::AttackPath>(
            a.format.format,
            std::io::stdout().lock(),
        );
        for path in analysis.paths.iter().take(a.limit) {
            p.row(path)?;
        }
        p.finish()?;
    }
    Ok(())
}

pub async fn patch_plan(config: Config, a: crate::cli::PatchPlanArgs) -> anyhow::Result<()> {
    use vantage_app::patch::{PlanTarget, RemediationUnit, ansible_playbook, shell_script};
    let app = super::open(config).await?;
    let target = match (a.asset, a.scope) {
        (Some(asset), _) => PlanTarget::Asset(asset),
        (None, Some(scope)) => PlanTarget::Scope(scope),
        (None, None) => anyhow::bail!("give --asset or --scope"),
    };
    let r = app
        .patch_plan(&target, None, time::OffsetDateTime::now_utc())
        .await;
    app.store.close().await;
    let units = r?;
    let mut out = std::io::stdout().lock();
    match a.export {
        Some(crate::cli::PatchExport::Shell) => out.write_all(shell_script(&units).as_bytes())?,
        Some(crate::cli::PatchExport::Ansible) => {
            out.write_all(ansible_playbook(&units).as_bytes())?
        }
        Some(crate::cli::PatchExport::Satellite) => {
            out.write_all(vantage_app::patch::satellite_script(&units).as_bytes())?
        }
        Some(crate::cli::PatchExport::Wsus) => {
            out.write_all(vantage_app::patch::wsus_csv(&units).as_bytes())?
        }
        None => {
            let mut p = Printer::new::<RemediationUnit>(a.format.format, out);
            for u in &units {
                p.row(u)?;
            }
            p.finish()?;
        }
    }
    Ok(())
}

impl Row for vantage_app::patch::RemediationUnit {
    fn headers() -> &'static [&'static str] {
        &[
            "asset",
            "action",
            "package",
            "installed",
            "target",
            "closes",
            "kev",
            "p1",
            "priority",
            "commands",
        ]
    }
    fn cells(&self) -> Vec<String> {
        vec![
            self.asset.clone(),
            serde_json::to_value(self.kind)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default(),
            self.package.clone(),
            opt(&self.installed_version),
            opt(&self.target_version),
            self.vulnerabilities.len().to_string(),
            self.kev.to_string(),
            self.p1.to_string(),
            self.priority.map(|p| p.to_string()).unwrap_or_default(),
            self.commands.join(" && "),
        ]
    }
}

impl Row for vantage_app::paths::AttackPath {
    fn headers() -> &'static [&'static str] {
        &[
            "rank",
            "target",
            "scope",
            "access",
            "likelihood",
            "impact",
            "score",
            "steps",
        ]
    }
    fn cells(&self) -> Vec<String> {
        vec![
            self.rank.to_string(),
            self.target.clone(),
            self.target_scopes.join(","),
            self.access.clone(),
            format!("{:.3}", self.likelihood),
            format!("{:.2}", self.impact),
            format!("{:.3}", self.score),
            self.steps
                .iter()
                .map(|s| format!("{} {} on {}", s.action, s.vuln_id, s.asset))
                .collect::<Vec<_>>()
                .join(" → "),
        ]
    }
}

impl Row for vantage_app::paths::ChokePoint {
    fn headers() -> &'static [&'static str] {
        &[
            "finding",
            "vulnerability",
            "asset",
            "targets_cut",
            "paths_through",
        ]
    }
    fn cells(&self) -> Vec<String> {
        vec![
            self.finding_id.to_string(),
            self.vuln_id.clone(),
            self.asset.clone(),
            self.targets_cut.to_string(),
            self.paths_through.to_string(),
        ]
    }
}

impl Row for vantage_store::MetricRow {
    fn headers() -> &'static [&'static str] {
        &["day", "scope", "metric", "dim", "value"]
    }
    fn cells(&self) -> Vec<String> {
        vec![
            self.day.clone(),
            self.scope_id.to_string(),
            self.metric.clone(),
            self.dim.clone(),
            format!("{:.3}", self.value),
        ]
    }
}

/// `vantage metrics …`.
pub async fn metrics(config: Config, c: crate::cli::MetricsCommand) -> anyhow::Result<()> {
    let app = super::open(config).await?;
    let r = run_metrics(&app, c).await;
    app.store.close().await;
    r
}

async fn run_metrics(app: &vantage_app::App, c: crate::cli::MetricsCommand) -> anyhow::Result<()> {
    let now = OffsetDateTime::now_utc();
    match c {
        crate::cli::MetricsCommand::Snapshot => {
            let started = std::time::Instant::now();
            let rows = app.snapshot_metrics(now).await?;
            writeln!(
                std::io::stdout(),
                "snapshot of {}: {rows} values in {:.1} s",
                now.date(),
                started.elapsed().as_secs_f64()
            )?;
        }
        crate::cli::MetricsCommand::Show {
            days,
            scope,
            metric,
            format,
        } => {
            let scope = scope_id(app, scope.as_deref()).await?;
            let from = now.date() - time::Duration::days(i64::from(days));
            let rows = app
                .store
                .metrics(from, now.date(), scope, metric.as_deref())
                .await?;
            let mut p =
                Printer::new::<vantage_store::MetricRow>(format.format, std::io::stdout().lock());
            for r in &rows {
                p.row(r)?;
            }
            p.finish()?;
        }
    }
    Ok(())
}
