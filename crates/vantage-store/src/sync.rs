//! What `vantage feeds sync` remembers per URL: validators for conditional requests and the
//! incremental watermark.

use time::OffsetDateTime;

use crate::backend::{Store, with_pool};
use crate::error::Result;

/// The stored state of one synced URL.
#[derive(Debug, Clone, Default, PartialEq, Eq, sqlx::FromRow)]
pub struct SyncState {
    /// The URL (or, for paged APIs, the API base URL).
    pub url: String,
    /// The source it belongs to (`kev`, `nvd` …).
    pub source: String,
    /// The last `ETag` the server sent.
    pub etag: Option<String>,
    /// The last `Last-Modified` the server sent.
    pub last_modified: Option<String>,
    /// For incremental APIs: the instant up to which records are committed (RFC 3339).
    pub watermark: Option<String>,
    /// When the URL was last checked (unix seconds).
    pub checked_at: i64,
    /// When its content last changed (unix seconds).
    pub changed_at: Option<i64>,
}

impl Store {
    /// The state of one URL, if it was ever synced.
    pub async fn sync_state(&self, url: &str) -> Result<Option<SyncState>> {
        const SQL: &str = "SELECT url, source, etag, last_modified, watermark, checked_at, changed_at \
             FROM feed_sync WHERE url = $1";
        Ok(with_pool!(self, |p| sqlx::query_as(SQL)
            .bind(url)
            .fetch_optional(p)
            .await?))
    }

    /// Records the outcome of checking a URL. `changed` says whether new content was applied
    /// (then `changed_at` moves to now as well).
    pub async fn save_sync_state(&self, state: &SyncState, changed: bool) -> Result<()> {
        const SQL: &str = "INSERT INTO feed_sync (url, source, etag, last_modified, watermark, checked_at, changed_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (url) DO UPDATE SET source = excluded.source, etag = excluded.etag, \
             last_modified = excluded.last_modified, watermark = excluded.watermark, \
             checked_at = excluded.checked_at, \
             changed_at = COALESCE(excluded.changed_at, feed_sync.changed_at)";
        let now = OffsetDateTime::now_utc().unix_timestamp();
        with_pool!(self, |p| sqlx::query(SQL)
            .bind(&state.url)
            .bind(&state.source)
            .bind(&state.etag)
            .bind(&state.last_modified)
            .bind(&state.watermark)
            .bind(now)
            .bind(changed.then_some(now))
            .execute(p)
            .await
            .map(|_| ())?);
        Ok(())
    }
}
