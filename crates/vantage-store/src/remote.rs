//! Agentless inventory's rows: SSH host keys pinned on first contact, alerts raised by
//! collectors (a changed host key …), and the SSH targets of a scope.

use serde::Serialize;
use time::OffsetDateTime;
use vantage_domain::{AssetId, ScopeId};

use crate::backend::{Store, with_pool};
use crate::error::{Result, StoreError};
use crate::sql::{from_opt_ts, from_ts, ts};

/// A pinned host key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PinnedKey {
    /// Key algorithm.
    pub algorithm: String,
    /// `SHA256:…`.
    pub fingerprint: String,
    /// First seen (unix seconds).
    pub first_seen: i64,
    /// Last seen (unix seconds).
    pub last_seen: i64,
}

/// An alert to raise.
#[derive(Debug, Clone)]
pub struct NewAlert<'a> {
    /// `ssh_host_key_changed` …
    pub kind: &'a str,
    /// `critical`, `high`, `medium`, `low`, `info`.
    pub severity: &'a str,
    /// The asset concerned, when known.
    pub asset: Option<AssetId>,
    /// What it is about (`root@10.0.0.5:22`).
    pub subject: &'a str,
    /// The message.
    pub message: &'a str,
}

/// A raised alert.
#[derive(Debug, Clone, Serialize)]
pub struct Alert {
    /// Id.
    pub id: i64,
    /// When.
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// Kind.
    pub kind: String,
    /// Severity.
    pub severity: String,
    /// Asset id.
    pub asset_id: Option<i64>,
    /// Subject.
    pub subject: String,
    /// Message.
    pub message: String,
    /// When acknowledged.
    #[serde(with = "time::serde::rfc3339::option")]
    pub acknowledged_at: Option<OffsetDateTime>,
}

/// An SSH target of a scope: the endpoint and the vault credential names (never a secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SshTarget {
    /// Id.
    pub id: i64,
    /// The scope.
    pub scope_id: i64,
    /// `user@host:port`.
    pub endpoint: String,
    /// Vault credential to log in with.
    pub credential: String,
    /// Jump host `user@host:port`.
    pub jump: Option<String>,
    /// Vault credential of the jump host.
    pub jump_credential: Option<String>,
    /// `no`, `nopasswd` or `password`.
    pub sudo: String,
}

type AlertRow = (
    i64,
    i64,
    String,
    String,
    Option<i64>,
    String,
    String,
    Option<i64>,
);
type TargetRow = (
    i64,
    i64,
    String,
    String,
    Option<String>,
    Option<String>,
    String,
);

impl Store {
    /// The key pinned for `host:port`.
    pub async fn pinned_host_key(&self, host: &str, port: u16) -> Result<Option<PinnedKey>> {
        const SQL: &str = "SELECT algorithm, fingerprint, first_seen, last_seen FROM ssh_host_keys \
             WHERE host = $1 AND port = $2";
        let row: Option<(String, String, i64, i64)> = with_pool!(self, |p| sqlx::query_as(SQL)
            .bind(host)
            .bind(i32::from(port))
            .fetch_optional(p)
            .await?);
        Ok(row.map(
            |(algorithm, fingerprint, first_seen, last_seen)| PinnedKey {
                algorithm,
                fingerprint,
                first_seen,
                last_seen,
            },
        ))
    }

    /// Pins `fingerprint` for `host:port` on first contact, or marks the pinned key seen. A
    /// different key is never overwritten here: it returns [`StoreError::Conflict`].
    pub async fn pin_host_key(
        &self,
        host: &str,
        port: u16,
        algorithm: &str,
        fingerprint: &str,
        now: OffsetDateTime,
    ) -> Result<()> {
        const INSERT: &str = "INSERT INTO ssh_host_keys (host, port, algorithm, fingerprint, first_seen, last_seen) \
             VALUES ($1, $2, $3, $4, $5, $5) ON CONFLICT (host, port) DO NOTHING";
        const TOUCH: &str = "UPDATE ssh_host_keys SET last_seen = $4 \
             WHERE host = $1 AND port = $2 AND fingerprint = $3";
        with_pool!(self, |p| sqlx::query(INSERT)
            .bind(host)
            .bind(i32::from(port))
            .bind(algorithm)
            .bind(fingerprint)
            .bind(ts(now))
            .execute(p)
            .await
            .map(|_| ())?);
        let touched = with_pool!(self, |p| sqlx::query(TOUCH)
            .bind(host)
            .bind(i32::from(port))
            .bind(fingerprint)
            .bind(ts(now))
            .execute(p)
            .await?
            .rows_affected());
        if touched == 0 {
            return Err(StoreError::Conflict {
                what: "pinned host key",
                key: format!("{host}:{port}"),
            });
        }
        Ok(())
    }

    /// Forgets the key pinned for `host:port` (the next contact pins the new one).
    pub async fn forget_host_key(&self, host: &str, port: u16) -> Result<bool> {
        Ok(with_pool!(self, |p| sqlx::query(
            "DELETE FROM ssh_host_keys WHERE host = $1 AND port = $2"
        )
        .bind(host)
        .bind(i32::from(port))
        .execute(p)
        .await?
        .rows_affected())
            > 0)
    }

    /// Raises an alert; returns its id.
    pub async fn raise_alert(&self, a: &NewAlert<'_>, now: OffsetDateTime) -> Result<i64> {
        const SQL: &str = "INSERT INTO alerts (at, kind, severity, asset_id, subject, message) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id";
        Ok(with_pool!(self, |p| sqlx::query_scalar(SQL)
            .bind(ts(now))
            .bind(a.kind)
            .bind(a.severity)
            .bind(a.asset.map(|a| a.0))
            .bind(a.subject)
            .bind(a.message)
            .fetch_one(p)
            .await?))
    }

    /// The most recent alerts, newest first.
    pub async fn alerts(&self, limit: u32) -> Result<Vec<Alert>> {
        const SQL: &str = "SELECT id, at, kind, severity, asset_id, subject, message, acknowledged_at \
             FROM alerts ORDER BY at DESC, id DESC LIMIT $1";
        let rows: Vec<AlertRow> = with_pool!(self, |p| sqlx::query_as(SQL)
            .bind(i64::from(limit))
            .fetch_all(p)
            .await?);
        alert_rows(rows)
    }

    /// Alerts by id, in id order.
    pub async fn alerts_by_id(&self, ids: &[i64]) -> Result<Vec<Alert>> {
        let mut rows: Vec<AlertRow> = Vec::new();
        for chunk in ids.chunks(500) {
            let sql = format!(
                "SELECT id, at, kind, severity, asset_id, subject, message, acknowledged_at \
                 FROM alerts WHERE id IN ({}) ORDER BY id",
                crate::sql::id_list(chunk.iter().copied())
            );
            let part: Vec<AlertRow> =
                with_pool!(self, |p| sqlx::query_as(sqlx::AssertSqlSafe(sql))
                    .fetch_all(p)
                    .await?);
            rows.extend(part);
        }
        alert_rows(rows)
    }

    /// Adds an SSH target to a scope.
    pub async fn add_ssh_target(&self, t: &SshTarget, now: OffsetDateTime) -> Result<i64> {
        let r: std::result::Result<i64, sqlx::Error> = with_pool!(self, |p| {
            sqlx::query_scalar(
            "INSERT INTO ssh_targets (scope_id, endpoint, credential, jump, jump_credential, sudo, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id"
        )
        .bind(t.scope_id)
        .bind(&t.endpoint)
        .bind(&t.credential)
        .bind(&t.jump)
        .bind(&t.jump_credential)
        .bind(&t.sudo)
        .bind(ts(now))
        .fetch_one(p)
        .await
        });
        r.map_err(|e| StoreError::conflict_on_unique(e, "SSH target", &t.endpoint))
    }

    /// Every SSH target.
    pub async fn ssh_targets_all(&self) -> Result<Vec<SshTarget>> {
        const SQL: &str = "SELECT id, scope_id, endpoint, credential, jump, jump_credential, sudo \
             FROM ssh_targets ORDER BY id";
        let rows: Vec<TargetRow> = with_pool!(self, |p| sqlx::query_as(SQL).fetch_all(p).await?);
        Ok(rows.into_iter().map(target_of_row).collect())
    }

    /// The SSH targets of a scope.
    pub async fn ssh_targets(&self, scope: ScopeId) -> Result<Vec<SshTarget>> {
        const SQL: &str = "SELECT id, scope_id, endpoint, credential, jump, jump_credential, sudo \
             FROM ssh_targets WHERE scope_id = $1 ORDER BY endpoint";
        let rows: Vec<TargetRow> = with_pool!(self, |p| sqlx::query_as(SQL)
            .bind(scope.0)
            .fetch_all(p)
            .await?);
        Ok(rows.into_iter().map(target_of_row).collect())
    }

    /// Removes an SSH target from a scope.
    pub async fn remove_ssh_target(&self, scope: ScopeId, endpoint: &str) -> Result<bool> {
        Ok(with_pool!(self, |p| sqlx::query(
            "DELETE FROM ssh_targets WHERE scope_id = $1 AND endpoint = $2"
        )
        .bind(scope.0)
        .bind(endpoint)
        .execute(p)
        .await?
        .rows_affected())
            > 0)
    }
}

fn alert_rows(rows: Vec<AlertRow>) -> Result<Vec<Alert>> {
    rows.into_iter()
        .map(|r| {
            Ok(Alert {
                id: r.0,
                at: from_ts(r.1, "alert at")?,
                kind: r.2,
                severity: r.3,
                asset_id: r.4,
                subject: r.5,
                message: r.6,
                acknowledged_at: from_opt_ts(r.7, "alert acknowledged_at")?,
            })
        })
        .collect()
}

fn target_of_row(r: TargetRow) -> SshTarget {
    SshTarget {
        id: r.0,
        scope_id: r.1,
        endpoint: r.2,
        credential: r.3,
        jump: r.4,
        jump_credential: r.5,
        sudo: r.6,
    }
}
