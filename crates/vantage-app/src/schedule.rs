//! Continuous scanning: each scope's collectors queued at its frequency as durable jobs, and the
//! workers that run queued jobs.
//!
//! Everything lives in the `jobs` table, so nothing is lost when a process stops:
//! - **Schedule.** A scope's `next_run_at` is the next due time of its frequency (`hourly`,
//!   `daily`, `weekly` or cron). A tick takes every due scope with [`Store::take_scope_run`]:
//!   one transaction moves `next_run_at` past *now* (missed runs collapse into one catch-up)
//!   and queues the scope's collectors; on several servers only the one whose update matched
//!   queues them. A scope whose previous run is still queued or running is not queued again.
//! - **Workers.** Jobs are claimed with one statement (`FOR UPDATE SKIP LOCKED` on PostgreSQL)
//!   under a lease renewed by a heartbeat every third of it. A job whose lease expired — its
//!   process died or hung — is queued again by any server's next tick ([`Store::recover_expired_jobs`])
//!   and re-run while attempts remain; a worker that finds its lease lost stops without writing.
//!   Failures are retried with exponential backoff; `cancel` stops a job at its next heartbeat.
//!
//! [`Store::take_scope_run`]: vantage_store::Store::take_scope_run
//! [`Store::recover_expired_jobs`]: vantage_store::Store::recover_expired_jobs

use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use vantage_domain::{Collector, JobKind, MembershipRule, ScanFrequency, Scope};
use vantage_store::{ClaimedJob, Lease};

use crate::config::SchedulerConfig;
use crate::network::{NetworkScanRequest, PortSelection};
use crate::{App, AppError};

/// The job kinds the workers run.
pub const WORKER_KINDS: &[JobKind] = &[
    JobKind::NetworkScan,
    JobKind::Inventory,
    JobKind::ImageScan,
    JobKind::CloudInventory,
    JobKind::ExternalDiscovery,
    JobKind::Detection,
    JobKind::Prioritize,
];

/// The cron pattern a frequency stands for (`None`: manual). Hourly runs on the hour, daily at
/// 00:00 UTC, weekly on Monday at 00:00 UTC; a cron expression is read as UTC.
pub fn cron_of(freq: &ScanFrequency) -> Option<&str> {
    match freq {
        ScanFrequency::Manual => None,
        ScanFrequency::Hourly => Some("0 * * * *"),
        ScanFrequency::Daily => Some("0 0 * * *"),
        ScanFrequency::Weekly => Some("0 0 * * 1"),
        ScanFrequency::Cron(c) => Some(c),
    }
}

/// Checks a frequency: a cron expression must parse.
pub fn check_frequency(freq: &ScanFrequency) -> Result<(), AppError> {
    next_due(freq, OffsetDateTime::UNIX_EPOCH).map(|_| ())
}

/// The first due time of `freq` strictly after `after` (`None` for manual).
pub fn next_due(
    freq: &ScanFrequency,
    after: OffsetDateTime,
) -> Result<Option<OffsetDateTime>, AppError> {
    let Some(pattern) = cron_of(freq) else {
        return Ok(None);
    };
    let bad = |e: croner::errors::CronError| {
        AppError::Invalid(format!(
            "scan frequency `{pattern}` is not a valid cron expression: {e}"
        ))
    };
    let cron = croner::parser::CronParser::builder()
        .seconds(croner::parser::Seconds::Optional)
        .build()
        .parse(pattern)
        .map_err(bad)?;
    let start = chrono::DateTime::<chrono::Utc>::from_timestamp(after.unix_timestamp(), 0)
        .ok_or_else(|| AppError::Invalid(format!("time {after} is out of range")))?;
    let next = cron.find_next_occurrence(&start, false).map_err(bad)?;
    OffsetDateTime::from_unix_timestamp(next.timestamp())
        .map(Some)
        .map_err(|e| AppError::Invalid(format!("next run of `{pattern}`: {e}")))
}

/// The payload of a `network_scan` job: what the scheduler, external discovery and
/// `jobs run` queue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NetworkJob {
    /// Addresses, blocks and ranges.
    pub targets: Vec<String>,
    /// The scope whose ranges bound the scan.
    #[serde(default)]
    pub scope: Option<String>,
    /// nmap-style ports; the configured top 100 when absent.
    #[serde(default)]
    pub ports: Option<String>,
    /// Identify services.
    #[serde(default = "yes")]
    pub service_detection: bool,
    /// Who queued it.
    #[serde(default)]
    pub origin: Option<String>,
}

const fn yes() -> bool {
    true
}

/// The payload of an `inventory` job: the SSH targets of a scope.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SshJob {
    /// The scope.
    pub scope: String,
    /// Targets at once.
    #[serde(default)]
    pub concurrency: Option<usize>,
}

/// What one scheduler tick did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TickReport {
    /// Jobs whose lease had expired, queued again (or failed when out of attempts).
    pub recovered: Vec<i64>,
    /// Accepted risks that expired (open again).
    pub expired_acceptances: usize,
    /// (scope, jobs queued) for every scope run taken.
    pub scheduled: Vec<(String, Vec<i64>)>,
}

impl App {
    /// The jobs a scope's run consists of: one per collector, with its payload.
    pub fn scope_jobs(&self, scope: &Scope) -> Result<Vec<(JobKind, String)>, AppError> {
        let ranges: Vec<String> = scope
            .rules
            .iter()
            .filter_map(|r| match r {
                MembershipRule::IpRange(r) => Some(r.clone()),
                _ => None,
            })
            .collect();
        let domains: Vec<String> = scope
            .rules
            .iter()
            .filter_map(|r| match r {
                MembershipRule::Domain(d) => Some(d.clone()),
                _ => None,
            })
            .collect();
        let mut jobs = Vec::new();
        for c in &scope.collectors {
            let need = |what: &str| {
                AppError::Invalid(format!(
                    "scope `{}`: the {} collector needs {what}",
                    scope.name,
                    c.name()
                ))
            };
            match c {
                Collector::Network {
                    ports,
                    service_detection,
                } => {
                    if ranges.is_empty() {
                        return Err(need("IP ranges (--range)"));
                    }
                    jobs.push((
                        JobKind::NetworkScan,
                        json(&NetworkJob {
                            targets: ranges.clone(),
                            scope: Some(scope.name.clone()),
                            ports: ports.clone(),
                            service_detection: *service_detection,
                            origin: Some("schedule".into()),
                        }),
                    ));
                }
                Collector::Ssh { concurrency } => jobs.push((
                    JobKind::Inventory,
                    json(&SshJob {
                        scope: scope.name.clone(),
                        concurrency: *concurrency,
                    }),
                )),
                Collector::Images { references } => {
                    if references.is_empty() {
                        return Err(need("image references"));
                    }
                    for r in references {
                        jobs.push((
                            JobKind::ImageScan,
                            serde_json::json!({"reference": r, "source": "schedule"}).to_string(),
                        ));
                    }
                }
                Collector::Cloud { request } => {
                    let req: crate::cloud::CloudRequest = serde_json::from_value(request.clone())
                        .map_err(|e| {
                        AppError::Invalid(format!(
                            "scope `{}`: cloud collector request: {e}",
                            scope.name
                        ))
                    })?;
                    jobs.push((JobKind::CloudInventory, json(&req)));
                }
                Collector::External { options } => {
                    let mut v = if options.is_null() {
                        serde_json::json!({})
                    } else {
                        options.clone()
                    };
                    let obj = v
                        .as_object_mut()
                        .ok_or_else(|| need("options as an object"))?;
                    if !obj.contains_key("domains") {
                        if domains.is_empty() {
                            return Err(need("domains (--domain)"));
                        }
                        obj.insert("domains".into(), serde_json::json!(domains));
                    }
                    obj.entry("scope")
                        .or_insert_with(|| serde_json::json!(scope.name));
                    let req: crate::external::DomainRequest =
                        serde_json::from_value(v).map_err(|e| {
                            AppError::Invalid(format!(
                                "scope `{}`: external collector options: {e}",
                                scope.name
                            ))
                        })?;
                    jobs.push((JobKind::ExternalDiscovery, json(&req)));
                }
            }
        }
        Ok(jobs)
    }

    /// One scheduler pass at `now`: re-queues jobs whose lease expired, reopens expired risk
    /// acceptances, and queues the collectors of every due scope.
    pub async fn scheduler_tick(&self, now: OffsetDateTime) -> Result<TickReport, AppError> {
        let mut report = TickReport {
            recovered: self.store.recover_expired_jobs(now).await?,
            ..Default::default()
        };
        for id in &report.recovered {
            tracing::warn!(job = id, "job lease expired: queued again");
            self.store
                .job_log(
                    *id,
                    "warn",
                    "the worker running it stopped (lease expired): queued to run again",
                )
                .await?;
        }
        report.expired_acceptances = self.expire_acceptances(now).await?;
        // The day's metric snapshot, once a day (any server; a second one only rewrites it).
        if !self.store.has_metrics(now.date()).await? {
            let rows = self.snapshot_metrics(now).await?;
            tracing::info!(day = %now.date(), rows, "daily metrics snapshot");
        }
        for scope in self.store.scopes_due(now).await? {
            let Some(next) = next_due(&scope.frequency, now)? else {
                continue;
            };
            let busy = self.store.active_scope_jobs(scope.id.0).await? > 0;
            let jobs = if busy {
                tracing::info!(scope = %scope.name, "previous run still in progress: this run is skipped");
                Vec::new()
            } else {
                match self.scope_jobs(&scope) {
                    Ok(j) => j,
                    Err(e) => {
                        tracing::warn!(scope = %scope.name, error = %e, "scope collectors are misconfigured");
                        Vec::new()
                    }
                }
            };
            if let Some(ids) = self
                .store
                .take_scope_run(
                    scope.id,
                    scope.next_run_at,
                    next,
                    &jobs,
                    self.config.scheduler.max_attempts,
                    now,
                )
                .await?
            {
                if !ids.is_empty() {
                    tracing::info!(scope = %scope.name, jobs = ids.len(), next = %next, "scope run queued");
                }
                report.scheduled.push((scope.name.clone(), ids));
            }
        }
        Ok(report)
    }

    /// Computes and stores the metric snapshot of `now`'s day (see `vantage_store::metrics`);
    /// returns the rows written.
    pub async fn snapshot_metrics(&self, now: OffsetDateTime) -> Result<u64, AppError> {
        let mut periods = Vec::new();
        for s in self.store.list_scopes().await? {
            if let Some(first) = next_due(&s.frequency, now)?
                && let Some(second) = next_due(&s.frequency, first)?
            {
                periods.push((s.id.0, (second - first).whole_seconds()));
            }
        }
        Ok(self
            .store
            .snapshot_metrics(now.date(), now, &periods)
            .await?)
    }

    /// Queues a scope's collectors now (`jobs run --scope`), outside its schedule.
    pub async fn run_scope_now(&self, name: &str, origin: &str) -> Result<Vec<i64>, AppError> {
        let scope = self.scope_named(name).await?;
        let jobs = self.scope_jobs(&scope)?;
        if jobs.is_empty() {
            return Err(AppError::Invalid(format!(
                "scope `{name}` has no collectors (see `vantage scopes apply --help`)"
            )));
        }
        let now = OffsetDateTime::now_utc();
        let mut ids = Vec::new();
        for (kind, payload) in jobs {
            ids.push(
                self.store
                    .queue_job(
                        kind,
                        Some(scope.id.0),
                        &payload,
                        origin,
                        self.config.scheduler.max_attempts,
                        now,
                    )
                    .await?,
            );
        }
        Ok(ids)
    }

    /// Queues a job again with the same kind, scope and payload as `job` (`jobs run --job`).
    pub async fn rerun_job(&self, job: i64, origin: &str) -> Result<i64, AppError> {
        let j = self
            .store
            .job(job)
            .await?
            .ok_or_else(|| AppError::NotFound(format!("job {job} does not exist")))?;
        if !WORKER_KINDS.contains(&j.kind) {
            return Err(AppError::Invalid(format!(
                "a {} job is run by its own command, not by the workers",
                j.kind
            )));
        }
        Ok(self
            .store
            .queue_job(
                j.kind,
                j.scope_id.map(|s| s.0),
                &j.payload,
                origin,
                self.config.scheduler.max_attempts,
                OffsetDateTime::now_utc(),
            )
            .await?)
    }

    async fn scope_named(&self, name: &str) -> Result<Scope, AppError> {
        self.store.scope_by_name(name).await?.ok_or_else(|| {
            AppError::NotFound(format!(
                "scope `{name}` does not exist (see `vantage scopes list`)"
            ))
        })
    }

    /// Runs one claimed job to its end; `progress` (per mille) is reported at each heartbeat.
    pub async fn execute_job(
        self: &Arc<Self>,
        job: &ClaimedJob,
        progress: Arc<AtomicU64>,
    ) -> Result<String, AppError> {
        let actor = format!("job:{}", job.id);
        let bad = |e: serde_json::Error| {
            AppError::Invalid(format!("{} job {} payload: {e}", job.kind, job.id))
        };
        match job.kind {
            JobKind::NetworkScan => {
                let p: NetworkJob = serde_json::from_str(&job.payload).map_err(bad)?;
                let req = NetworkScanRequest {
                    targets: p.targets,
                    exclude: Vec::new(),
                    ports: p
                        .ports
                        .map(PortSelection::Spec)
                        .unwrap_or(PortSelection::Top(100)),
                    scope: p.scope,
                    discovery: true,
                    service_detection: p.service_detection,
                    rate: None,
                    concurrency: None,
                };
                let plan = self.plan_network_scan(&req).await?;
                let scan_progress = Arc::new(vantage_scan::Progress::default());
                let watcher = {
                    let (sp, progress) = (scan_progress.clone(), progress.clone());
                    tokio::spawn(async move {
                        loop {
                            let total = vantage_scan::Progress::get(&sp.ports_total).max(1);
                            let done = vantage_scan::Progress::get(&sp.ports_done);
                            progress.store(done * 1000 / total, Ordering::Relaxed);
                            tokio::time::sleep(Duration::from_millis(500)).await;
                        }
                    })
                };
                let r = self.run_network_scan(plan, scan_progress).await;
                watcher.abort();
                let r = r?;
                Ok(format!(
                    "network scan run {}: {} hosts scanned, {} up, {} open ports, {} findings, {} fixed",
                    r.run_id,
                    r.hosts_scanned,
                    r.hosts_up,
                    r.open_ports,
                    r.findings,
                    r.findings_fixed
                ))
            }
            JobKind::Inventory => {
                let p: SshJob = serde_json::from_str(&job.payload).map_err(bad)?;
                let results = self
                    .inventory_scope_ssh(&p.scope, p.concurrency.unwrap_or(4), &actor)
                    .await?;
                let failed: Vec<String> = results
                    .iter()
                    .filter_map(|(t, r)| r.as_ref().err().map(|e| format!("{t}: {e}")))
                    .collect();
                if !results.is_empty() && failed.len() == results.len() {
                    return Err(AppError::Invalid(format!(
                        "every SSH target failed: {}",
                        failed.join("; ")
                    )));
                }
                Ok(format!(
                    "SSH inventory of scope {}: {} targets, {} failed{}",
                    p.scope,
                    results.len(),
                    failed.len(),
                    if failed.is_empty() {
                        String::new()
                    } else {
                        format!(" ({})", failed.join("; "))
                    }
                ))
            }
            JobKind::ImageScan => {
                let v: serde_json::Value = serde_json::from_str(&job.payload).map_err(bad)?;
                let reference = v["reference"].as_str().unwrap_or_default();
                if reference.is_empty() {
                    return Err(AppError::Invalid(format!(
                        "image_scan job {}: no image reference",
                        job.id
                    )));
                }
                let r = self
                    .scan_image(reference, &crate::images::ImageRequest::default())
                    .await?;
                Ok(format!("image {reference}: {} packages", r.packages.len()))
            }
            JobKind::CloudInventory | JobKind::ExternalDiscovery => {
                self.run_discovery_payload(job.kind, &job.payload, &actor)
                    .await
            }
            JobKind::Detection => {
                let r = self.redetect().await?;
                Ok(format!("{r:?}"))
            }
            JobKind::Prioritize => {
                let r = self.prioritize().await?;
                Ok(format!("{r:?}"))
            }
            other => Err(AppError::Invalid(format!(
                "a {other} job is not run by the workers"
            ))),
        }
    }

    /// The scheduler and job workers of `serve`: ticks every `tick_secs` (and whenever a job
    /// ends), runs up to `concurrency` jobs at once. Runs until the task is aborted; a job in
    /// progress then keeps its lease until it expires and another tick re-runs it.
    pub async fn scheduler_loop(self: Arc<Self>, worker: String) {
        let cfg = self.config.scheduler.clone();
        let sem = Arc::new(tokio::sync::Semaphore::new(cfg.concurrency.max(1)));
        let wake = Arc::new(tokio::sync::Notify::new());
        tracing::info!(%worker, concurrency = cfg.concurrency, "scheduler started");
        loop {
            if let Err(e) = self.scheduler_tick(OffsetDateTime::now_utc()).await {
                tracing::warn!(error = %e, "scheduler tick failed");
            }
            // Claim while there is room.
            loop {
                let Ok(permit) = sem.clone().try_acquire_owned() else {
                    break;
                };
                let claimed = self
                    .store
                    .claim_next_job(
                        WORKER_KINDS,
                        &worker,
                        OffsetDateTime::now_utc(),
                        cfg.lease_secs as i64,
                    )
                    .await;
                match claimed {
                    Ok(Some(job)) => {
                        let (app, worker, wake, cfg) =
                            (self.clone(), worker.clone(), wake.clone(), cfg.clone());
                        tokio::spawn(async move {
                            app.run_claimed(job, &worker, &cfg).await;
                            drop(permit);
                            wake.notify_one();
                        });
                    }
                    Ok(None) => break,
                    Err(e) => {
                        tracing::warn!(error = %e, "claiming a job failed");
                        break;
                    }
                }
            }
            tokio::select! {
                () = tokio::time::sleep(Duration::from_secs(cfg.tick_secs.max(1))) => {}
                () = wake.notified() => {}
            }
        }
    }

    /// Runs a claimed job under its lease: heartbeats, cancellation, the outcome and retries.
    pub async fn run_claimed(
        self: &Arc<Self>,
        job: ClaimedJob,
        worker: &str,
        cfg: &SchedulerConfig,
    ) {
        let store = &self.store;
        let log = |level: &'static str, msg: String| {
            let store = store.clone();
            async move {
                if let Err(e) = store.job_log(job.id, level, &msg).await {
                    tracing::warn!(job = job.id, error = %e, "writing the job log failed");
                }
            }
        };
        log(
            "info",
            format!(
                "started by {worker} (attempt {}/{})",
                job.attempt, job.max_attempts
            ),
        )
        .await;
        tracing::info!(job = job.id, kind = %job.kind, attempt = job.attempt, "job started");
        let progress = Arc::new(AtomicU64::new(0));
        let mut run = {
            let (app, job, progress) = (self.clone(), job.clone(), progress.clone());
            tokio::spawn(async move { app.execute_job(&job, progress).await })
        };
        let beat = Duration::from_secs((cfg.lease_secs / 3).max(1));
        let (outcome, cancelled) = loop {
            tokio::select! {
                r = &mut run => {
                    let r = r.unwrap_or_else(|e| Err(AppError::Invalid(format!("the job panicked: {e}"))));
                    break (r.map_err(|e| e.to_string()), false);
                }
                () = tokio::time::sleep(beat) => {
                    let p = progress.load(Ordering::Relaxed) as f64 / 1000.0;
                    match store.renew_job_lease(job.id, worker, p, OffsetDateTime::now_utc(), cfg.lease_secs as i64).await {
                        Ok(Lease::Held) => {}
                        Ok(Lease::CancelRequested) => {
                            run.abort();
                            break (Err("cancelled by a user".to_string()), true);
                        }
                        Ok(Lease::Lost) => {
                            run.abort();
                            tracing::warn!(job = job.id, "lease lost: another worker runs this job; stopping");
                            return;
                        }
                        Err(e) => tracing::warn!(job = job.id, error = %e, "heartbeat failed"),
                    }
                }
            }
        };
        let retry_after = cfg
            .retry_base_secs
            .saturating_mul(1 << (job.attempt.clamp(1, 10) - 1)) as i64;
        let text = match &outcome {
            Ok(s) => s.as_str(),
            Err(e) => e.as_str(),
        };
        let ended = store
            .end_job(
                job.id,
                worker,
                outcome.as_deref().map_err(|e| e.as_str()),
                cancelled,
                retry_after,
                OffsetDateTime::now_utc(),
            )
            .await;
        match ended {
            Ok(Some(status)) => {
                let (level, line) = match status {
                    vantage_domain::JobStatus::Done => ("info", format!("done: {text}")),
                    vantage_domain::JobStatus::Queued => (
                        "warn",
                        format!("failed: {text}; retried in {retry_after} s"),
                    ),
                    vantage_domain::JobStatus::Cancelled => ("warn", "cancelled".to_string()),
                    _ => ("error", format!("failed: {text}")),
                };
                log(level, line).await;
                tracing::info!(job = job.id, %status, "job ended");
            }
            Ok(None) => tracing::warn!(job = job.id, "job was no longer ours when it ended"),
            Err(e) => tracing::warn!(job = job.id, error = %e, "recording the job's end failed"),
        }
    }
}

/// Serialises a job payload: plain data, for which serialisation cannot fail.
fn json<T: Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "{}".into())
}

/// Parses a frequency as people write it, with cron checked.
pub fn parse_frequency(s: &str) -> Result<ScanFrequency, AppError> {
    let f = ScanFrequency::from_str(s).map_err(|e| AppError::Invalid(e.to_string()))?;
    check_frequency(&f)?;
    Ok(f)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn frequencies_fall_due_at_their_times() {
        let t = datetime!(2026-11-27 13:25:10 UTC);
        let next = |f: &str| next_due(&parse_frequency(f).unwrap(), t).unwrap();
        assert_eq!(next("hourly"), Some(datetime!(2026-11-27 14:00 UTC)));
        assert_eq!(next("daily"), Some(datetime!(2026-11-28 00:00 UTC)));
        // 2026-11-27 is a Friday: the next Monday is the 30th.
        assert_eq!(next("weekly"), Some(datetime!(2026-11-30 00:00 UTC)));
        assert_eq!(next("*/15 * * * *"), Some(datetime!(2026-11-27 13:30 UTC)));
        assert_eq!(next("30 2 * * 1-5"), Some(datetime!(2026-11-30 02:30 UTC)));
        assert_eq!(
            next("*/20 * * * * *"),
            Some(datetime!(2026-11-27 13:25:20 UTC))
        );
        assert_eq!(next("manual"), None);
        let err = parse_frequency("61 * * * *").unwrap_err().to_string();
        assert!(err.contains("61 * * * *"), "{err}");
    }
}
