//! The credentials vault's rows. Secrets arrive sealed and leave sealed: this module never sees
//! a plaintext.

use time::OffsetDateTime;
use vantage_domain::{Credential, CredentialKind};

use crate::backend::{Store, with_pool};
use crate::error::{Result, StoreError};
use crate::sql::{from_ts, parse, ts};

type Row = (i64, String, String, String, i64, i64);

fn credential(r: Row) -> Result<Credential> {
    Ok(Credential {
        id: r.0,
        name: r.1,
        kind: parse(&r.2, "credential kind")?,
        username: r.3,
        created_at: from_ts(r.4, "credential created_at")?,
        updated_at: from_ts(r.5, "credential updated_at")?,
    })
}

impl Store {
    /// Stores a sealed credential under a new, unique name.
    pub async fn add_credential(
        &self,
        name: &str,
        kind: CredentialKind,
        username: &str,
        sealed: &str,
        now: OffsetDateTime,
    ) -> Result<i64> {
        let r: std::result::Result<i64, sqlx::Error> = with_pool!(self, |p| sqlx::query_scalar(
            "INSERT INTO credentials (name, kind, username, sealed, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $5) RETURNING id"
        )
        .bind(name)
        .bind(kind.as_str())
        .bind(username)
        .bind(sealed)
        .bind(ts(now))
        .fetch_one(p)
        .await);
        r.map_err(|e| StoreError::conflict_on_unique(e, "credential", name))
    }

    /// Every credential, by name, without secrets.
    pub async fn list_credentials(&self) -> Result<Vec<Credential>> {
        let rows: Vec<Row> = with_pool!(self, |p| {
            sqlx::query_as(
            "SELECT id, name, kind, username, created_at, updated_at FROM credentials ORDER BY name"
        )
        .fetch_all(p)
        .await?
        });
        rows.into_iter().map(credential).collect()
    }

    /// A credential and its sealed secret.
    pub async fn sealed_credential(&self, name: &str) -> Result<Option<(Credential, String)>> {
        let row: Option<(i64, String, String, String, i64, i64, String)> = with_pool!(self, |p| {
            sqlx::query_as(
                "SELECT id, name, kind, username, created_at, updated_at, sealed FROM credentials \
                 WHERE name = $1",
            )
            .bind(name)
            .fetch_optional(p)
            .await?
        });
        row.map(|r| Ok((credential((r.0, r.1, r.2, r.3, r.4, r.5))?, r.6)))
            .transpose()
    }

    /// Removes a credential; false when there was none of that name.
    pub async fn remove_credential(&self, name: &str) -> Result<bool> {
        let n = with_pool!(self, |p| sqlx::query(
            "DELETE FROM credentials WHERE name = $1"
        )
        .bind(name)
        .execute(p)
        .await?
        .rows_affected());
        Ok(n > 0)
    }
}
