//! The audit trail: append-only records of who did what.

use sqlx::FromRow;
use time::OffsetDateTime;
use vantage_domain::AuditEvent;

use crate::backend::{Store, with_pool};
use crate::error::Result;
use crate::sql::{from_ts, ts};

#[derive(FromRow)]
struct AuditRow {
    id: i64,
    at: i64,
    actor: String,
    action: String,
    target_kind: String,
    target_id: String,
    detail: String,
}

impl Store {
    /// Appends an audit event; `detail` must never contain a secret.
    pub async fn record_audit(
        &self,
        at: OffsetDateTime,
        actor: &str,
        action: &str,
        target: (&str, &str),
        detail: &str,
    ) -> Result<()> {
        const SQL: &str = "INSERT INTO audit_events (at, actor, action, target_kind, target_id, detail) \
                           VALUES ($1, $2, $3, $4, $5, $6)";
        with_pool!(self, |p| sqlx::query(SQL)
            .bind(ts(at))
            .bind(actor)
            .bind(action)
            .bind(target.0)
            .bind(target.1)
            .bind(detail)
            .execute(p)
            .await?
            .rows_affected());
        Ok(())
    }

    /// The most recent audit events, newest first.
    pub async fn recent_audit(&self, limit: u32) -> Result<Vec<AuditEvent>> {
        const SQL: &str = "SELECT id, at, actor, action, target_kind, target_id, detail \
                           FROM audit_events ORDER BY id DESC LIMIT $1";
        let rows: Vec<AuditRow> = with_pool!(self, |p| sqlx::query_as(SQL)
            .bind(i64::from(limit))
            .fetch_all(p)
            .await?);
        rows.into_iter()
            .map(|r| {
                Ok(AuditEvent {
                    id: r.id,
                    at: from_ts(r.at, "audit at")?,
                    actor: r.actor,
                    action: r.action,
                    target_kind: r.target_kind,
                    target_id: r.target_id,
                    detail: r.detail,
                })
            })
            .collect()
    }
}
