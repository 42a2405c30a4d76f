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
