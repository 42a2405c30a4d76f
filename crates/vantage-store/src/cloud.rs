//! Cloud resources: a listing's assets stored in one transaction, each tied to its provider
//! resource (`cloud_resources`) with its internet exposure (`cloud_exposures`); the resources a
//! completely listed (account, region) no longer holds are decommissioned.

use time::OffsetDateTime;
use vantage_domain::{AssetId, Identifier, IdentifierKind, NewAsset};

use crate::assets::upsert_in_tx;
use crate::backend::{BeginWrite, Store, with_pool};
use crate::error::Result;
use crate::sql::{from_ts, ts};

/// One exposure: a port range a rule opens to any address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredExposure {
    /// `tcp`, `udp`, `icmp`, `all`.
    pub protocol: String,
    /// First port.
    pub from_port: u16,
    /// Last port.
    pub to_port: u16,
    /// The any-address source.
    pub source: String,
    /// The rule.
    pub rule: String,
}

/// A listed resource to store.
#[derive(Debug, Clone)]
pub struct CloudRecord {
    /// The asset sighting (identifiers: the provider id, public addresses, DNS names).
    pub asset: NewAsset,
    /// Provider (`aws` …).
    pub provider: String,
    /// Account.
    pub account: String,
    /// Region.
    pub region: String,
    /// `instance`, `load_balancer`, `address`.
    pub kind: String,
    /// The provider's id.
    pub resource_id: String,
    /// Provider state.
    pub state: String,
    /// The resource no longer exists (terminated): stored, then decommissioned.
    pub gone: bool,
    /// Reachable from the internet.
    pub internet_exposed: bool,
    /// Open ports.
    pub exposures: Vec<StoredExposure>,
}

/// What storing a listing changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CloudStored {
    /// The asset of each record, in order.
    pub assets: Vec<AssetId>,
    /// Assets created by this listing.
    pub created: u64,
    /// Assets decommissioned: gone resources, and resources of a completely listed region that
    /// the listing no longer holds.
    pub decommissioned: u64,
}

/// A stored cloud resource, for reports.
#[derive(Debug, Clone, PartialEq)]
pub struct CloudResourceRow {
    /// The asset.
    pub asset_id: AssetId,
    /// Provider.
    pub provider: String,
    /// Account.
    pub account: String,
    /// Region.
    pub region: String,
    /// Resource kind.
    pub kind: String,
    /// Provider id.
    pub resource_id: String,
    /// State.
    pub state: String,
    /// Reachable from the internet.
    pub internet_exposed: bool,
    /// Last listed.
    pub last_listed: OffsetDateTime,
    /// Open ports.
    pub exposures: Vec<StoredExposure>,
}

impl Store {
    /// Stores a listing in one transaction: each record's asset (merged by identifier like any
    /// sighting), its resource row and its exposures (replaced); then, for each (provider,
    /// account, region) in `complete` — listed without error; region `*` is the whole account —
    /// decommissions the resources that this listing did not include. Regions that failed keep their assets as they were.
    pub async fn record_cloud_listing(
        &self,
        records: &[CloudRecord],
        complete: &[(String, String, String)],
        now: OffsetDateTime,
    ) -> Result<CloudStored> {
        let listed = ts(now);
        let mut out = CloudStored::default();
        with_pool!(self, |p| {
            let mut tx = p.begin_write().await?;
            let before: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(id), 0) FROM assets")
                .fetch_one(&mut *tx)
                .await?;
            for r in records {
                // A resource that is gone and already retired stays retired: its sighting
                // must not bring the asset back to life for a moment.
                let retired: Option<i64> = match (
                    r.gone,
                    r.asset
                        .identifiers
                        .iter()
                        .find(|i| i.kind == IdentifierKind::CloudId),
                ) {
                    (true, Some(ident)) => {
                        sqlx::query_scalar(
                            "SELECT a.id FROM asset_identifiers i JOIN assets a ON a.id = i.asset_id \
                             WHERE i.kind = $1 AND i.value = $2 AND a.decommissioned_at IS NOT NULL",
                        )
                        .bind(ident.kind.as_str())
                        .bind(&ident.value)
                        .fetch_optional(&mut *tx)
                        .await?
                    }
                    _ => None,
                };
                if let Some(id) = retired {
                    sqlx::query(
                        "UPDATE cloud_resources SET state = $2, last_listed = $3 WHERE asset_id = $1",
                    )
                    .bind(id)
                    .bind(&r.state)
                    .bind(listed)
                    .execute(&mut *tx)
                    .await?;
                    out.assets.push(AssetId(id));
                    continue;
                }
                let id = upsert_in_tx!(tx, &r.asset);
                if id > before && !out.assets.contains(&AssetId(id)) {
                    out.created += 1;
                }
                out.assets.push(AssetId(id));
                sqlx::query(
                    "INSERT INTO cloud_resources (asset_id, provider, account, region, kind, \
                       resource_id, state, internet_exposed, last_listed) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
                     ON CONFLICT (asset_id) DO UPDATE SET provider = excluded.provider, \
                       account = excluded.account, region = excluded.region, kind = excluded.kind, \
                       resource_id = excluded.resource_id, state = excluded.state, \
                       internet_exposed = excluded.internet_exposed, \
                       last_listed = excluded.last_listed",
                )
                .bind(id)
                .bind(&r.provider)
                .bind(&r.account)
                .bind(&r.region)
                .bind(&r.kind)
                .bind(&r.resource_id)
                .bind(&r.state)
                .bind(r.internet_exposed)
                .bind(listed)
                .execute(&mut *tx)
                .await?;
                sqlx::query("DELETE FROM cloud_exposures WHERE asset_id = $1")
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                if !r.exposures.is_empty() {
                    let rows: Vec<String> = (0..r.exposures.len())
                        .map(|i| {
                            let b = 2 + 5 * i;
                            format!("($1, ${b}, ${}, ${}, ${}, ${})", b + 1, b + 2, b + 3, b + 4)
                        })
                        .collect();
                    let sql = format!(
                        "INSERT INTO cloud_exposures (asset_id, protocol, from_port, to_port, \
                           source, rule) VALUES {}",
                        rows.join(", ")
                    );
                    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id);
                    for e in &r.exposures {
                        q = q
                            .bind(&e.protocol)
                            .bind(i32::from(e.from_port))
                            .bind(i32::from(e.to_port))
                            .bind(&e.source)
                            .bind(&e.rule);
                    }
                    q.execute(&mut *tx).await?;
                }
                if r.gone {
                    out.decommissioned += sqlx::query(
                        "UPDATE assets SET decommissioned_at = $2 \
                         WHERE id = $1 AND decommissioned_at IS NULL",
                    )
                    .bind(id)
                    .bind(listed)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                }
            }
            for (provider, account, region) in complete {
                out.decommissioned += sqlx::query(
                    "UPDATE assets SET decommissioned_at = $4 \
                     WHERE decommissioned_at IS NULL AND id IN (\
                       SELECT asset_id FROM cloud_resources \
                       WHERE provider = $1 AND account = $2 \
                         AND (region = $3 OR $3 = '*') AND last_listed < $4)",
                )
                .bind(provider)
                .bind(account)
                .bind(region)
                .bind(listed)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            }
            tx.commit().await?;
        });
        Ok(out)
    }

    /// The cloud resource behind an asset, with its exposures.
    pub async fn cloud_resource(&self, asset: AssetId) -> Result<Option<CloudResourceRow>> {
        type Row = (String, String, String, String, String, String, bool, i64);
        let row: Option<Row> = with_pool!(self, |p| {
            sqlx::query_as(
                "SELECT provider, account, region, kind, resource_id, state, internet_exposed, \
                   last_listed FROM cloud_resources WHERE asset_id = $1",
            )
            .bind(asset.0)
            .fetch_optional(p)
            .await?
        });
        let Some((provider, account, region, kind, resource_id, state, exposed, last)) = row else {
            return Ok(None);
        };
        let exposures: Vec<(String, i32, i32, String, String)> = with_pool!(self, |p| {
            sqlx::query_as(
                "SELECT protocol, from_port, to_port, source, rule FROM cloud_exposures \
                 WHERE asset_id = $1 ORDER BY protocol, from_port, to_port, source",
            )
            .bind(asset.0)
            .fetch_all(p)
            .await?
        });
        Ok(Some(CloudResourceRow {
            asset_id: asset,
            provider,
            account,
            region,
            kind,
            resource_id,
            state,
            internet_exposed: exposed,
            last_listed: from_ts(last, "cloud_resources last_listed")?,
            exposures: exposures
                .into_iter()
                .map(|(protocol, f, t, source, rule)| StoredExposure {
                    protocol,
                    from_port: f.clamp(0, 65535) as u16,
                    to_port: t.clamp(0, 65535) as u16,
                    source,
                    rule,
                })
                .collect(),
        }))
    }

    /// Asset ids holding an identifier, for membership and merge checks.
    pub async fn asset_by_identifier(&self, ident: &Identifier) -> Result<Option<AssetId>> {
        let id: Option<i64> = with_pool!(self, |p| {
            sqlx::query_scalar(
                "SELECT asset_id FROM asset_identifiers WHERE kind = $1 AND value = $2",
            )
            .bind(ident.kind.as_str())
            .bind(&ident.value)
            .fetch_optional(p)
            .await?
        });
        Ok(id.map(AssetId))
    }

    /// The next entry to read from a CT log, when it was followed before.
    pub async fn ct_log_position(&self, log_url: &str) -> Result<Option<u64>> {
        let p: Option<i64> = with_pool!(self, |p| {
            sqlx::query_scalar("SELECT position FROM ct_log_positions WHERE log_url = $1")
                .bind(log_url)
                .fetch_optional(p)
                .await?
        });
        Ok(p.map(|p| p.max(0) as u64))
    }

    /// Records the next entry to read from a CT log.
    pub async fn set_ct_log_position(
        &self,
        log_url: &str,
        position: u64,
        now: OffsetDateTime,
    ) -> Result<()> {
        with_pool!(self, |p| {
            sqlx::query(
                "INSERT INTO ct_log_positions (log_url, position, updated_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (log_url) DO UPDATE SET position = excluded.position, \
                   updated_at = excluded.updated_at",
            )
            .bind(log_url)
            .bind(position as i64)
            .bind(ts(now))
            .execute(p)
            .await?;
        });
        Ok(())
    }
}
