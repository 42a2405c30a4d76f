//! Background jobs as durable rows: started, logged, finished. The feed refresh of `serve` runs
//! as such a job, so its runs, outcome and log are visible after the fact.

use time::OffsetDateTime;
use vantage_domain::{JobKind, JobStatus};

use crate::backend::{Store, with_pool};
use crate::error::Result;

/// The last finished run of a kind of job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FinishedJob {
    /// Its id.
    pub id: i64,
    /// `done` or `failed`.
    pub status: String,
    /// When it finished (unix seconds).
    pub finished_at: i64,
}

impl Store {
    /// Records a job that starts running now; returns its id.
    pub async fn start_job(
        &self,
        kind: JobKind,
        payload: &str,
        worker: &str,
        now: OffsetDateTime,
    ) -> Result<i64> {
        const SQL: &str = "INSERT INTO jobs (kind, status, payload, attempts, run_after, locked_by, heartbeat_at, created_at, started_at) \
             VALUES ($1, 'running', $2, 1, $3, $4, $3, $3, $3) RETURNING id";
        let t = now.unix_timestamp();
        Ok(with_pool!(self, |p| sqlx::query_scalar(SQL)
            .bind(kind.as_str())
            .bind(payload)
            .bind(t)
            .bind(worker)
            .fetch_one(p)
            .await?))
    }

    /// Queues a job to run from `now`, unless one of the same kind and payload is already
    /// queued. Returns its id and whether it is new.
    pub async fn enqueue_job(
        &self,
        kind: JobKind,
        scope: Option<i64>,
        payload: &str,
        now: OffsetDateTime,
    ) -> Result<(i64, bool)> {
        const FIND: &str =
            "SELECT id FROM jobs WHERE kind = $1 AND payload = $2 AND status = 'queued' LIMIT 1";
        const INSERT: &str = "INSERT INTO jobs (kind, scope_id, status, payload, run_after, created_at) \
             VALUES ($1, $2, 'queued', $3, $4, $4) RETURNING id";
        let found: Option<i64> = with_pool!(self, |p| sqlx::query_scalar(FIND)
            .bind(kind.as_str())
            .bind(payload)
            .fetch_optional(p)
            .await?);
        if let Some(id) = found {
            return Ok((id, false));
        }
        let id = with_pool!(self, |p| sqlx::query_scalar(INSERT)
            .bind(kind.as_str())
            .bind(scope)
            .bind(payload)
            .bind(now.unix_timestamp())
            .fetch_one(p)
            .await?);
        Ok((id, true))
    }

    /// Claims the oldest due queued job of a kind for `worker` (marked running); returns its id
    /// and payload. Several workers never claim the same job (one statement; `SKIP LOCKED` on
    /// PostgreSQL).
    pub async fn claim_job(
        &self,
        kind: JobKind,
        worker: &str,
        now: OffsetDateTime,
    ) -> Result<Option<(i64, String)>> {
        let lock = match self.backend() {
            crate::Backend::Postgres => " FOR UPDATE SKIP LOCKED",
            crate::Backend::Sqlite => "",
        };
        let sql = format!(
            "UPDATE jobs SET status = 'running', attempts = attempts + 1, locked_by = $3, \
             heartbeat_at = $2, started_at = $2 WHERE id = (SELECT id FROM jobs \
             WHERE kind = $1 AND status = 'queued' AND run_after <= $2 ORDER BY run_after, id LIMIT 1{lock}) \
             RETURNING id, payload"
        );
        Ok(with_pool!(self, |p| sqlx::query_as(sqlx::AssertSqlSafe(
            sql.clone()
        ))
        .bind(kind.as_str())
        .bind(now.unix_timestamp())
        .bind(worker)
        .fetch_optional(p)
        .await?))
    }

    /// Queued jobs of a kind: (id, payload), oldest first.
    pub async fn queued_jobs(&self, kind: JobKind) -> Result<Vec<(i64, String)>> {
        const SQL: &str = "SELECT id, payload FROM jobs WHERE kind = $1 AND status = 'queued' ORDER BY run_after, id";
        Ok(with_pool!(self, |p| sqlx::query_as(SQL)
            .bind(kind.as_str())
            .fetch_all(p)
            .await?))
    }

    /// Appends a line to a job's log.
    pub async fn job_log(&self, job: i64, level: &str, message: &str) -> Result<()> {
        const SQL: &str =
            "INSERT INTO job_logs (job_id, at, level, message) VALUES ($1, $2, $3, $4)";
        let t = OffsetDateTime::now_utc().unix_timestamp();
        with_pool!(self, |p| sqlx::query(SQL)
            .bind(job)
            .bind(t)
            .bind(level)
            .bind(message)
            .execute(p)
            .await
            .map(|_| ())?);
        Ok(())
    }

    /// Marks a job finished: `Done`, or `Failed` with its error.
    pub async fn finish_job(
        &self,
        job: i64,
        status: JobStatus,
        error: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<()> {
        const SQL: &str = "UPDATE jobs SET status = $2, error = $3, progress = 1, finished_at = $4, \
             locked_by = NULL WHERE id = $1";
        with_pool!(self, |p| sqlx::query(SQL)
            .bind(job)
            .bind(status.as_str())
            .bind(error)
            .bind(now.unix_timestamp())
            .execute(p)
            .await
            .map(|_| ())?);
        Ok(())
    }

    /// Jobs of a kind still marked running though started before `before` (their process
    /// stopped): marked failed, so they are not mistaken for a run in progress. Returns how many.
    pub async fn fail_abandoned_jobs(&self, kind: JobKind, before: OffsetDateTime) -> Result<u64> {
        const SQL: &str = "UPDATE jobs SET status = 'failed', error = 'interrupted: the process running it stopped', \
             finished_at = $3, locked_by = NULL WHERE kind = $1 AND status = 'running' AND started_at < $2";
        let now = OffsetDateTime::now_utc().unix_timestamp();
        Ok(with_pool!(self, |p| sqlx::query(SQL)
            .bind(kind.as_str())
            .bind(before.unix_timestamp())
            .bind(now)
            .execute(p)
            .await?
            .rows_affected()))
    }

    /// The most recent finished (done or failed) job of a kind.
    pub async fn last_finished_job(&self, kind: JobKind) -> Result<Option<FinishedJob>> {
        const SQL: &str = "SELECT id, status, finished_at FROM jobs \
             WHERE kind = $1 AND status IN ('done', 'failed') AND finished_at IS NOT NULL \
             ORDER BY finished_at DESC, id DESC LIMIT 1";
        let row: Option<(i64, String, i64)> = with_pool!(self, |p| sqlx::query_as(SQL)
            .bind(kind.as_str())
            .fetch_optional(p)
            .await?);
        Ok(row.map(|(id, status, finished_at)| FinishedJob {
            id,
            status,
            finished_at,
        }))
    }

    /// The log lines of a job, oldest first: (unix seconds, level, message).
    pub async fn job_logs(&self, job: i64) -> Result<Vec<(i64, String, String)>> {
        const SQL: &str = "SELECT at, level, message FROM job_logs WHERE job_id = $1 ORDER BY id";
        Ok(with_pool!(self, |p| sqlx::query_as(SQL)
            .bind(job)
            .fetch_all(p)
            .await?))
    }
}

/// A job a worker claimed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimedJob {
    /// Its id.
    pub id: i64,
    /// What it does.
    pub kind: JobKind,
    /// The scope it works for.
    pub scope_id: Option<i64>,
    /// Its payload.
    pub payload: String,
    /// This attempt's number (1 for the first).
    pub attempt: i32,
    /// Attempts allowed.
    pub max_attempts: i32,
}

/// What a lease renewal found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lease {
    /// Still ours: go on.
    Held,
    /// Still ours, and a user asked to cancel it.
    CancelRequested,
    /// No longer ours (its lease expired and it was given to another worker, or it was
    /// finished elsewhere): stop without writing anything.
    Lost,
}

/// Filters of a jobs list, newest first.
#[derive(Debug, Clone, Default)]
pub struct JobFilter {
    /// Only this kind.
    pub kind: Option<JobKind>,
    /// Only this status.
    pub status: Option<JobStatus>,
    /// Only jobs of this scope.
    pub scope: Option<i64>,
    /// Only jobs older than this id (keyset pagination).
    pub before: Option<i64>,
    /// At most this many.
    pub limit: u32,
}

#[derive(sqlx::FromRow)]
struct JobRow {
    id: i64,
    kind: String,
    scope_id: Option<i64>,
    status: String,
    payload: String,
    progress: f64,
    attempts: i32,
    max_attempts: i32,
    error: Option<String>,
    run_after: i64,
    locked_by: Option<String>,
    created_at: i64,
    started_at: Option<i64>,
    finished_at: Option<i64>,
    cancel_requested: bool,
    result: Option<String>,
    origin: String,
}

const JOB_COLUMNS: &str = "id, kind, scope_id, status, payload, progress, attempts, max_attempts, \
    error, run_after, locked_by, created_at, started_at, finished_at, cancel_requested, result, origin";

impl TryFrom<JobRow> for vantage_domain::Job {
    type Error = crate::error::StoreError;
    fn try_from(r: JobRow) -> Result<vantage_domain::Job> {
        use crate::sql::{from_opt_ts, from_ts, parse};
        let end = r
            .finished_at
            .unwrap_or_else(|| OffsetDateTime::now_utc().unix_timestamp());
        Ok(vantage_domain::Job {
            id: vantage_domain::JobId(r.id),
            kind: parse(&r.kind, "job kind")?,
            scope_id: r.scope_id.map(vantage_domain::ScopeId),
            status: parse(&r.status, "job status")?,
            progress: r.progress,
            attempts: r.attempts,
            error: r.error,
            created_at: from_ts(r.created_at, "job created_at")?,
            started_at: from_opt_ts(r.started_at, "job started_at")?,
            finished_at: from_opt_ts(r.finished_at, "job finished_at")?,
            run_after: from_ts(r.run_after, "job run_after")?,
            max_attempts: r.max_attempts,
            origin: r.origin,
            worker: r.locked_by,
            cancel_requested: r.cancel_requested,
            payload: r.payload,
            result: r.result,
            duration_seconds: r.started_at.map(|s| (end - s).max(0)),
        })
    }
}

impl Store {
    /// Queues a job from a person or another job (`origin`), with its own attempt budget.
    pub async fn queue_job(
        &self,
        kind: JobKind,
        scope: Option<i64>,
        payload: &str,
        origin: &str,
        max_attempts: i32,
        now: OffsetDateTime,
    ) -> Result<i64> {
        const SQL: &str = "INSERT INTO jobs (kind, scope_id, status, payload, run_after, created_at, origin, max_attempts) \
             VALUES ($1, $2, 'queued', $3, $4, $4, $5, $6) RETURNING id";
        Ok(with_pool!(self, |p| sqlx::query_scalar(SQL)
            .bind(kind.as_str())
            .bind(scope)
            .bind(payload)
            .bind(now.unix_timestamp())
            .bind(origin)
            .bind(max_attempts.max(1))
            .fetch_one(p)
            .await?))
    }

    /// Claims the oldest due queued job of these kinds for `worker` with a lease of `lease`
    /// seconds: one statement (`FOR UPDATE SKIP LOCKED` on PostgreSQL), so two workers — in one
    /// process or in several servers on one database — never claim the same job.
    pub async fn claim_next_job(
        &self,
        kinds: &[JobKind],
        worker: &str,
        now: OffsetDateTime,
        lease: i64,
    ) -> Result<Option<ClaimedJob>> {
        if kinds.is_empty() {
            return Ok(None);
        }
        let lock = match self.backend() {
            crate::Backend::Postgres => " FOR UPDATE SKIP LOCKED",
            crate::Backend::Sqlite => "",
        };
        let names: Vec<String> = kinds.iter().map(|k| format!("'{}'", k.as_str())).collect();
        let sql = format!(
            "UPDATE jobs SET status = 'running', attempts = attempts + 1, locked_by = $2, \
             heartbeat_at = $1, lease_until = $3, started_at = $1, finished_at = NULL \
             WHERE id = (SELECT id FROM jobs WHERE status = 'queued' AND run_after <= $1 \
             AND NOT cancel_requested AND kind IN ({}) ORDER BY run_after, id LIMIT 1{lock}) \
             RETURNING id, kind, scope_id, payload, attempts, max_attempts",
            names.join(",")
        );
        let t = now.unix_timestamp();
        let row: Option<(i64, String, Option<i64>, String, i32, i32)> =
            with_pool!(self, |p| sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
                .bind(t)
                .bind(worker)
                .bind(t + lease)
                .fetch_optional(p)
                .await?);
        row.map(|(id, kind, scope_id, payload, attempt, max_attempts)| {
            Ok(ClaimedJob {
                id,
                kind: crate::sql::parse(&kind, "job kind")?,
                scope_id,
                payload,
                attempt,
                max_attempts,
            })
        })
        .transpose()
    }

    /// Renews a running job's lease (the heartbeat) and records its progress.
    pub async fn renew_job_lease(
        &self,
        job: i64,
        worker: &str,
        progress: f64,
        now: OffsetDateTime,
        lease: i64,
    ) -> Result<Lease> {
        const SQL: &str = "UPDATE jobs SET heartbeat_at = $3, lease_until = $4, progress = $5 \
             WHERE id = $1 AND locked_by = $2 AND status = 'running' RETURNING cancel_requested";
        let t = now.unix_timestamp();
        let row: Option<bool> = with_pool!(self, |p| sqlx::query_scalar(SQL)
            .bind(job)
            .bind(worker)
            .bind(t)
            .bind(t + lease)
            .bind(progress.clamp(0.0, 1.0))
            .fetch_optional(p)
            .await?);
        Ok(match row {
            None => Lease::Lost,
            Some(true) => Lease::CancelRequested,
            Some(false) => Lease::Held,
        })
    }

    /// Ends a claimed job for `worker`: `Done` with its summary, `Cancelled`, or a failure —
    /// queued again after `retry_after` seconds while attempts remain, `Failed` otherwise.
    /// Returns the status written, or `None` when the job was no longer this worker's.
    pub async fn end_job(
        &self,
        job: i64,
        worker: &str,
        outcome: std::result::Result<&str, &str>,
        cancelled: bool,
        retry_after: i64,
        now: OffsetDateTime,
    ) -> Result<Option<JobStatus>> {
        const SQL: &str = "UPDATE jobs SET \
             status = CASE WHEN $3 = 'done' THEN 'done' WHEN $3 = 'cancelled' THEN 'cancelled' \
                 WHEN attempts < max_attempts THEN 'queued' ELSE 'failed' END, \
             result = CASE WHEN $3 = 'done' THEN $4 ELSE result END, \
             error = CASE WHEN $3 = 'done' THEN NULL ELSE $4 END, \
             progress = CASE WHEN $3 = 'done' THEN 1 ELSE progress END, \
             run_after = CASE WHEN $3 = 'failed' AND attempts < max_attempts THEN $5 + $6 ELSE run_after END, \
             finished_at = CASE WHEN $3 = 'failed' AND attempts < max_attempts THEN NULL ELSE $5 END, \
             locked_by = NULL, lease_until = NULL \
             WHERE id = $1 AND locked_by = $2 AND status = 'running' RETURNING status";
        let (verdict, text) = match (cancelled, outcome) {
            (true, _) => ("cancelled", "cancelled by a user"),
            (false, Ok(summary)) => ("done", summary),
            (false, Err(error)) => ("failed", error),
        };
        let status: Option<String> = with_pool!(self, |p| sqlx::query_scalar(SQL)
            .bind(job)
            .bind(worker)
            .bind(verdict)
            .bind(text)
            .bind(now.unix_timestamp())
            .bind(retry_after)
            .fetch_optional(p)
            .await?);
        status
            .map(|s| crate::sql::parse(&s, "job status"))
            .transpose()
    }

    /// Running jobs whose lease expired (the process running them died or hung): queued again
    /// to re-run while attempts remain, failed otherwise. Returns their ids. Jobs started
    /// outside the worker pool (no lease) are left alone.
    pub async fn recover_expired_jobs(&self, now: OffsetDateTime) -> Result<Vec<i64>> {
        const SQL: &str = "UPDATE jobs SET \
             status = CASE WHEN attempts < max_attempts THEN 'queued' ELSE 'failed' END, \
             error = 'interrupted: the worker running it stopped (' || COALESCE(locked_by, '?') || ')', \
             finished_at = CASE WHEN attempts < max_attempts THEN NULL ELSE $1 END, \
             run_after = $1, locked_by = NULL, lease_until = NULL \
             WHERE status = 'running' AND lease_until IS NOT NULL AND lease_until < $1 RETURNING id";
        Ok(with_pool!(self, |p| sqlx::query_scalar(SQL)
            .bind(now.unix_timestamp())
            .fetch_all(p)
            .await?))
    }

    /// Cancels a job: a queued one at once, a running one at its worker's next heartbeat.
    /// Returns its status afterwards, or `None` when no such job exists.
    pub async fn cancel_job(&self, job: i64, now: OffsetDateTime) -> Result<Option<JobStatus>> {
        const QUEUED: &str = "UPDATE jobs SET status = 'cancelled', cancel_requested = TRUE, \
             finished_at = $2, error = 'cancelled by a user' WHERE id = $1 AND status = 'queued'";
        const RUNNING: &str =
            "UPDATE jobs SET cancel_requested = TRUE WHERE id = $1 AND status = 'running'";
        const READ: &str = "SELECT status FROM jobs WHERE id = $1";
        let status: Option<String> = with_pool!(self, |p| {
            sqlx::query(QUEUED)
                .bind(job)
                .bind(now.unix_timestamp())
                .execute(p)
                .await?;
            sqlx::query(RUNNING).bind(job).execute(p).await?;
            sqlx::query_scalar(READ).bind(job).fetch_optional(p).await?
        });
        status
            .map(|s| crate::sql::parse(&s, "job status"))
            .transpose()
    }

    /// One job.
    pub async fn job(&self, id: i64) -> Result<Option<vantage_domain::Job>> {
        let sql = format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = $1");
        let row: Option<JobRow> = with_pool!(self, |p| sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(p)
            .await?);
        row.map(vantage_domain::Job::try_from).transpose()
    }

    /// A job's log as domain values, oldest first.
    pub async fn job_log_lines(&self, job: i64) -> Result<Vec<vantage_domain::JobLogLine>> {
        self.job_logs(job)
            .await?
            .into_iter()
            .map(|(at, level, message)| {
                Ok(vantage_domain::JobLogLine {
                    at: crate::sql::from_ts(at, "job log at")?,
                    level,
                    message,
                })
            })
            .collect()
    }

    /// Jobs, newest first, filtered.
    pub async fn list_jobs(&self, f: &JobFilter) -> Result<Vec<vantage_domain::Job>> {
        use crate::sql::{Arg, Sql, bind_args};
        let mut q = Sql::new(&format!("SELECT {JOB_COLUMNS} FROM jobs WHERE 1 = 1"));
        if let Some(k) = f.kind {
            q.push(" AND kind = ").bind(Arg::Text(k.as_str().into()));
        }
        if let Some(s) = f.status {
            q.push(" AND status = ").bind(Arg::Text(s.as_str().into()));
        }
        if let Some(s) = f.scope {
            q.push(" AND scope_id = ").bind(Arg::I64(s));
        }
        if let Some(b) = f.before {
            q.push(" AND id < ").bind(Arg::I64(b));
        }
        q.push(&format!(
            " ORDER BY id DESC LIMIT {}",
            f.limit.clamp(1, 1000)
        ));
        let rows: Vec<JobRow> = with_pool!(self, |p| {
            bind_args!(sqlx::query_as(sqlx::AssertSqlSafe(q.text.clone())), &q.args)
                .fetch_all(p)
                .await?
        });
        rows.into_iter()
            .map(vantage_domain::Job::try_from)
            .collect()
    }

    /// Jobs running or queued for a scope (the scheduler does not queue a scope's run while its
    /// previous one is still in progress).
    pub async fn active_scope_jobs(&self, scope: i64) -> Result<i64> {
        Ok(with_pool!(self, |p| sqlx::query_scalar(
            "SELECT COUNT(*) FROM jobs WHERE scope_id = $1 AND status IN ('queued', 'running')"
        )
        .bind(scope)
        .fetch_one(p)
        .await?))
    }
}
