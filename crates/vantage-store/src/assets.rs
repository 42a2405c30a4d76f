//! Assets, their identifiers and tags.

use std::collections::HashMap;

use sqlx::FromRow;
use vantage_domain::query::page_size;
use vantage_domain::{
    Asset, AssetFilter, AssetId, Cursor, Identifier, IdentifierKind, NewAsset, Page, ScopeId, Tag,
};

use crate::backend::{BeginWrite, Store, with_pool};
use crate::error::{Result, StoreError};
use crate::sql::{Arg, Sql, bind_args, from_opt_ts, from_ts, id_list, parse, ts};

/// The body of [`Store::upsert_asset`] on an open write transaction `$tx` (either backend):
/// merges the sighting `$a` with the asset that shares a strong identifier (weak ones only when
/// none does), or creates it; evaluates to the asset id. A macro because the transaction's type
/// differs per backend inside `with_pool!`.
macro_rules! upsert_in_tx {
    ($tx:ident, $a:expr) => {{
        let a: &NewAsset = $a;
        let seen = ts(a.seen_at);
        let mut existing: Option<i64> = None;
        let (weak, strong): (Vec<&Identifier>, Vec<&Identifier>) =
            a.identifiers.iter().partition(|i| i.kind.is_weak());
        for ident in strong.into_iter().chain(weak) {
            if existing.is_some() && ident.kind.is_weak() {
                break;
            }
            let found: Option<i64> = sqlx::query_scalar(
                "SELECT asset_id FROM asset_identifiers WHERE kind = $1 AND value = $2",
            )
            .bind(ident.kind.as_str())
            .bind(&ident.value)
            .fetch_optional(&mut *$tx)
            .await?;
            existing = match (existing, found) {
                (Some(e), Some(f)) => Some(e.min(f)),
                (e, f) => e.or(f),
            };
        }
        let id: i64 = match existing {
            Some(id) => {
                sqlx::query(
                    "UPDATE assets SET \
                       last_seen = CASE WHEN last_seen < $2 THEN $2 ELSE last_seen END, \
                       os = COALESCE($3, os), missed_scans = 0, decommissioned_at = NULL \
                     WHERE id = $1",
                )
                .bind(id)
                .bind(seen)
                .bind(a.os.as_deref())
                .execute(&mut *$tx)
                .await?;
                id
            }
            None => {
                sqlx::query_scalar(
                    "INSERT INTO assets (kind, name, os, first_seen, last_seen) \
                     VALUES ($1, $2, $3, $4, $4) RETURNING id",
                )
                .bind(a.kind.as_str())
                .bind(&a.name)
                .bind(a.os.as_deref())
                .bind(seen)
                .fetch_one(&mut *$tx)
                .await?
            }
        };
        // One multi-row statement each for identifiers and tags: a cloud listing stores
        // thousands of assets in one transaction, and round trips dominate.
        if !a.identifiers.is_empty() {
            let rows: Vec<String> = (0..a.identifiers.len())
                .map(|i| format!("($1, ${}, ${})", 2 + 2 * i, 3 + 2 * i))
                .collect();
            let sql = format!(
                "INSERT INTO asset_identifiers (asset_id, kind, value) VALUES {} \
                 ON CONFLICT (kind, value) DO NOTHING",
                rows.join(", ")
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id);
            for ident in &a.identifiers {
                q = q.bind(ident.kind.as_str()).bind(&ident.value);
            }
            q.execute(&mut *$tx).await?;
        }
        if !a.tags.is_empty() {
            let rows: Vec<String> = (0..a.tags.len())
                .map(|i| format!("($1, ${}, ${})", 2 + 2 * i, 3 + 2 * i))
                .collect();
            let sql = format!(
                "INSERT INTO asset_tags (asset_id, key, value) VALUES {} ON CONFLICT DO NOTHING",
                rows.join(", ")
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id);
            for tag in &a.tags {
                q = q.bind(&tag.key).bind(&tag.value);
            }
            q.execute(&mut *$tx).await?;
        }
        id
    }};
}
pub(crate) use upsert_in_tx;

#[derive(FromRow)]
struct AssetRow {
    id: i64,
    kind: String,
    name: String,
    os: Option<String>,
    first_seen: i64,
    last_seen: i64,
    missed_scans: i32,
    decommissioned_at: Option<i64>,
}

const ASSET_COLUMNS: &str =
    "a.id, a.kind, a.name, a.os, a.first_seen, a.last_seen, a.missed_scans, a.decommissioned_at";

impl AssetRow {
    fn into_asset(self, extra: &mut Extras) -> Result<Asset> {
        Ok(Asset {
            id: AssetId(self.id),
            kind: parse(&self.kind, "asset kind")?,
            identifiers: extra.identifiers.remove(&self.id).unwrap_or_default(),
            tags: extra.tags.remove(&self.id).unwrap_or_default(),
            scopes: extra.scopes.remove(&self.id).unwrap_or_default(),
            first_seen: from_ts(self.first_seen, "asset first_seen")?,
            last_seen: from_ts(self.last_seen, "asset last_seen")?,
            decommissioned_at: from_opt_ts(self.decommissioned_at, "asset decommissioned_at")?,
            missed_scans: self.missed_scans,
            name: self.name,
            os: self.os,
        })
    }
}

/// Identifiers, tags and scopes of a page of assets, loaded in three set queries.
#[derive(Default)]
struct Extras {
    identifiers: HashMap<i64, Vec<Identifier>>,
    tags: HashMap<i64, Vec<Tag>>,
    scopes: HashMap<i64, Vec<ScopeId>>,
}

impl Store {
    /// Records a sighting of an asset. An existing asset that shares any identifier is updated
    /// (last seen, OS, back to live if it was decommissioned) and gains the new identifiers and
    /// tags; otherwise a new asset is created. Returns the asset's id.
    pub async fn upsert_asset(&self, a: &NewAsset) -> Result<AssetId> {
        if a.identifiers.is_empty() {
            return Err(StoreError::Invalid(format!(
                "asset `{}` has no identifier",
                a.name
            )));
        }
        let id: i64 = with_pool!(self, |p| {
            let mut tx = p.begin_write().await?;
            let id = upsert_in_tx!(tx, a);
            tx.commit().await?;
            id
        });
        Ok(AssetId(id))
    }

    /// [`Store::upsert_asset`] for many sightings in one transaction (all or nothing): one
    /// commit instead of one per asset. Returns each asset's id, in the order given, and whether
    /// this call created it.
    pub async fn upsert_assets(&self, assets: &[NewAsset]) -> Result<Vec<(AssetId, bool)>> {
        if let Some(a) = assets.iter().find(|a| a.identifiers.is_empty()) {
            return Err(StoreError::Invalid(format!(
                "asset `{}` has no identifier",
                a.name
            )));
        }
        let (before, ids): (i64, Vec<i64>) = with_pool!(self, |p| {
            let mut tx = p.begin_write().await?;
            let before: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(id), 0) FROM assets")
                .fetch_one(&mut *tx)
                .await?;
            let mut ids = Vec::with_capacity(assets.len());
            for a in assets {
                ids.push(upsert_in_tx!(tx, a));
            }
            tx.commit().await?;
            (before, ids)
        });
        Ok(ids
            .into_iter()
            .map(|id| (AssetId(id), id > before))
            .collect())
    }

    /// One asset with its identifiers, tags and scopes.
    pub async fn asset(&self, id: AssetId) -> Result<Option<Asset>> {
        let sql = format!("SELECT {ASSET_COLUMNS} FROM assets a WHERE a.id = $1");
        let row: Option<AssetRow> = with_pool!(self, |p| sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(id.0)
            .fetch_optional(p)
            .await?);
        let Some(row) = row else { return Ok(None) };
        let mut extras = self.asset_extras(&[row.id]).await?;
        row.into_asset(&mut extras).map(Some)
    }

    /// Ids of the assets a user-supplied reference names: a numeric id, an exact name, or an
    /// identifier value (IP, host name, digest …). Several ids mean the reference is ambiguous.
    pub async fn resolve_asset(&self, reference: &str) -> Result<Vec<AssetId>> {
        let r = reference.trim();
        if let Ok(n) = r.parse::<i64>() {
            let found: Option<i64> = with_pool!(self, |p| {
                sqlx::query_scalar("SELECT id FROM assets WHERE id = $1")
                    .bind(n)
                    .fetch_optional(p)
                    .await?
            });
            if let Some(id) = found {
                return Ok(vec![AssetId(id)]);
            }
        }
        const SQL: &str = "SELECT id FROM assets WHERE name = $1 \
                           UNION SELECT asset_id FROM asset_identifiers WHERE value = $1 OR value = $2 \
                           ORDER BY 1";
        let lower = r.to_ascii_lowercase();
        let ids: Vec<i64> = with_pool!(self, |p| {
            sqlx::query_scalar(SQL)
                .bind(r)
                .bind(&lower)
                .fetch_all(p)
                .await?
        });
        Ok(ids.into_iter().map(AssetId).collect())
    }

    /// A page of assets, ordered by id.
    pub async fn list_assets(&self, f: &AssetFilter) -> Result<Page<Asset>> {
        let limit = page_size(Some(f.limit));
        let mut q = Sql::new(&format!("SELECT {ASSET_COLUMNS} FROM assets a WHERE 1 = 1"));
        if let Some(kind) = f.kind {
            q.push(" AND a.kind = ")
                .bind(Arg::Text(kind.as_str().into()));
        }
        if !f.include_decommissioned {
            q.push(" AND a.decommissioned_at IS NULL");
        }
        if let Some(search) = &f.search {
            let pattern = format!("%{}%", search.to_lowercase().replace(['%', '_'], ""));
            q.push(" AND LOWER(a.name) LIKE ").bind(Arg::Text(pattern));
        }
        push_scope_filters(&mut q, "a.id", f.scope, f.visible_scopes.as_deref());
        if let Some(c) = f.cursor {
            q.push(" AND a.id > ").bind(Arg::I64(c.after.1));
        }
        q.push(&format!(" ORDER BY a.id LIMIT {}", limit + 1));
        let rows: Vec<AssetRow> = with_pool!(self, |p| {
            bind_args!(sqlx::query_as(sqlx::AssertSqlSafe(q.text.clone())), &q.args)
                .fetch_all(p)
                .await?
        });
        let (rows, next) = split_page(rows, limit, |r| (0, r.id));
        let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
        let mut extras = self.asset_extras(&ids).await?;
        let items = rows
            .into_iter()
            .map(|r| r.into_asset(&mut extras))
            .collect::<Result<_>>()?;
        Ok(Page {
            items,
            next_cursor: next,
        })
    }

    /// Number of live assets.
    pub async fn count_live_assets(&self) -> Result<i64> {
        const SQL: &str = "SELECT COUNT(*) FROM assets WHERE decommissioned_at IS NULL";
        Ok(with_pool!(self, |p| sqlx::query_scalar(SQL)
            .fetch_one(p)
            .await?))
    }

    async fn asset_extras(&self, ids: &[i64]) -> Result<Extras> {
        let mut extras = Extras::default();
        if ids.is_empty() {
            return Ok(extras);
        }
        let list = id_list(ids.iter().copied());
        let idents: Vec<(i64, String, String)> = with_pool!(self, |p| {
            sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT asset_id, kind, value FROM asset_identifiers WHERE asset_id IN ({list}) \
                 ORDER BY asset_id, kind, value"
            )))
            .fetch_all(p)
            .await?
        });
        for (id, kind, value) in idents {
            let kind: IdentifierKind = parse(&kind, "identifier kind")?;
            extras
                .identifiers
                .entry(id)
                .or_default()
                .push(Identifier { kind, value });
        }
        let tags: Vec<(i64, String, String)> = with_pool!(self, |p| {
            sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT asset_id, key, value FROM asset_tags WHERE asset_id IN ({list}) \
                 ORDER BY asset_id, key, value"
            )))
            .fetch_all(p)
            .await?
        });
        for (id, key, value) in tags {
            extras.tags.entry(id).or_default().push(Tag { key, value });
        }
        let scopes: Vec<(i64, i64)> = with_pool!(self, |p| {
            sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT asset_id, scope_id FROM asset_scopes WHERE asset_id IN ({list}) \
                 ORDER BY asset_id, scope_id"
            )))
            .fetch_all(p)
            .await?
        });
        for (id, scope) in scopes {
            extras.scopes.entry(id).or_default().push(ScopeId(scope));
        }
        Ok(extras)
    }
}

/// Adds the scope filter and the caller's scope restriction on an asset id column. Both are
/// `IN (asset ids of the scope)`: the planners iterate that small sorted set and probe the
/// (asset_id, …) indexes, which keeps a page's cost independent of the table's size.
pub(crate) fn push_scope_filters(
    q: &mut Sql,
    column: &str,
    scope: Option<ScopeId>,
    visible: Option<&[ScopeId]>,
) {
    if let Some(scope) = scope {
        q.push(&format!(
            " AND {column} IN (SELECT asset_id FROM asset_scopes WHERE scope_id = "
        ))
        .bind(Arg::I64(scope.0))
        .push(")");
    }
    if let Some(visible) = visible {
        let list = if visible.is_empty() {
            "NULL".into()
        } else {
            id_list(visible.iter().map(|s| s.0))
        };
        q.push(&format!(
            " AND {column} IN (SELECT asset_id FROM asset_scopes WHERE scope_id IN ({list}))"
        ));
    }
}

/// Cuts the extra row fetched to detect a next page, and builds that page's cursor from the
/// last row's sort key.
pub(crate) fn split_page<R>(
    mut rows: Vec<R>,
    limit: u32,
    key: impl Fn(&R) -> (i64, i64),
) -> (Vec<R>, Option<String>) {
    if rows.len() > limit as usize {
        rows.truncate(limit as usize);
        let next = rows.last().map(|r| {
            let (group, id) = key(r);
            Cursor::after(group, id).encode()
        });
        (rows, next)
    } else {
        (rows, None)
    }
}
