//! Network services of assets, network scan runs, and the inventory lifecycle a scope's scans
//! drive: services closed (not deleted) when a scan no longer finds them open, assets
//! decommissioned after a scope's scans missed them a configured number of times.

use std::collections::HashMap;

use sqlx::FromRow;
use time::OffsetDateTime;
use vantage_domain::{
    AssetId, FindingId, HttpFacts, NewService, ScopeId, Service, ServiceId, TlsCertificate,
    Transport,
};

use crate::backend::{BeginWrite, Store, with_pool};
use crate::error::{Result, StoreError};
use crate::sql::{from_opt_ts, from_ts, id_list, parse, ts};

/// What recording a host's services changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServiceChanges {
    /// Stored id of each observed service, by port.
    pub ids: Vec<(u16, ServiceId)>,
    /// Services seen open for the first time, or again after being closed.
    pub opened: u64,
    /// Services that were open and are not any more.
    pub closed: u64,
}

/// One network scan or nmap import.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanRun {
    /// Stored id.
    pub id: i64,
    /// `network` or `nmap`.
    pub kind: String,
    /// The scope it ran for.
    pub scope_id: Option<ScopeId>,
    /// Targets as given.
    pub targets: String,
    /// Ports as given.
    pub ports: String,
    /// `running`, `done` or `failed`.
    pub status: String,
    /// Start.
    pub started_at: OffsetDateTime,
    /// End.
    pub finished_at: Option<OffsetDateTime>,
    /// Addresses scanned.
    pub hosts_scanned: i64,
    /// Addresses that answered.
    pub hosts_up: i64,
    /// Open ports found.
    pub open_ports: i64,
    /// Why it failed.
    pub error: Option<String>,
}

#[derive(FromRow)]
struct ServiceRow {
    id: i64,
    asset_id: i64,
    transport: String,
    port: i32,
    name: Option<String>,
    product: Option<String>,
    version: Option<String>,
    cpe: Option<String>,
    banner: Option<String>,
    tunnel: Option<String>,
    info: Option<String>,
    method: Option<String>,
    tls: Option<String>,
    http: Option<String>,
    first_seen: i64,
    last_seen: i64,
    closed_at: Option<i64>,
}

impl ServiceRow {
    fn into_service(self) -> Result<Service> {
        let tls: Option<TlsCertificate> = self
            .tls
            .as_deref()
            .map(serde_json::from_str)
            .transpose()
            .map_err(|e| StoreError::corrupt("service tls", e))?;
        let http: Option<HttpFacts> = self
            .http
            .as_deref()
            .map(serde_json::from_str)
            .transpose()
            .map_err(|e| StoreError::corrupt("service http", e))?;
        Ok(Service {
            id: ServiceId(self.id),
            asset_id: AssetId(self.asset_id),
            transport: parse(&self.transport, "service transport")?,
            port: u16::try_from(self.port).map_err(|e| StoreError::corrupt("service port", e))?,
            name: self.name,
            product: self.product,
            version: self.version,
            cpe: self.cpe,
            banner: self.banner,
            tunnel: self.tunnel,
            info: self.info,
            method: self.method,
            tls,
            http,
            first_seen: from_ts(self.first_seen, "service first_seen")?,
            last_seen: from_ts(self.last_seen, "service last_seen")?,
            closed_at: from_opt_ts(self.closed_at, "service closed_at")?,
        })
    }
}

const SERVICE_COLUMNS: &str = "id, asset_id, transport, port, name, product, version, cpe, banner, \
     tunnel, info, method, tls, http, first_seen, last_seen, closed_at";

#[derive(FromRow)]
struct RunRow {
    id: i64,
    kind: String,
    scope_id: Option<i64>,
    targets: String,
    ports: String,
    status: String,
    started_at: i64,
    finished_at: Option<i64>,
    hosts_scanned: i64,
    hosts_up: i64,
    open_ports: i64,
    error: Option<String>,
}

fn json<T: serde::Serialize>(v: &Option<T>) -> Option<String> {
    v.as_ref()
        .map(|v| serde_json::to_string(v).expect("service facts serialize"))
}

impl Store {
    /// Records what a scan saw of one asset's `transport` ports: the observed services are
    /// inserted or refreshed (and reopened if they had been closed); services that were open on a
    /// port the scan covered (`scanned`, sorted) and were not observed are closed. All in one
    /// transaction.
    pub async fn record_services(
        &self,
        asset: AssetId,
        transport: Transport,
        observed: &[NewService],
        scanned: &[u16],
        now: OffsetDateTime,
    ) -> Result<ServiceChanges> {
        let now = ts(now);
        let mut changes = ServiceChanges::default();
        with_pool!(self, |p| {
            let mut tx = p.begin_write().await?;
            let open: Vec<(i64, i32)> = sqlx::query_as(
                "SELECT id, port FROM services WHERE asset_id = $1 AND transport = $2 \
                 AND closed_at IS NULL",
            )
            .bind(asset.0)
            .bind(transport.as_str())
            .fetch_all(&mut *tx)
            .await?;
            let open_ports: HashMap<i32, i64> = open.iter().map(|(id, p)| (*p, *id)).collect();
            for s in observed.iter().filter(|s| s.transport == transport) {
                let id: i64 = sqlx::query_scalar(
                    "INSERT INTO services (asset_id, transport, port, name, product, version, cpe, \
                       banner, tunnel, info, method, tls, http, first_seen, last_seen) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $14) \
                     ON CONFLICT (asset_id, transport, port) DO UPDATE SET name = excluded.name, \
                       product = excluded.product, version = excluded.version, cpe = excluded.cpe, \
                       banner = excluded.banner, tunnel = excluded.tunnel, info = excluded.info, \
                       method = excluded.method, tls = excluded.tls, http = excluded.http, \
                       last_seen = excluded.last_seen, closed_at = NULL \
                     RETURNING id",
                )
                .bind(asset.0)
                .bind(transport.as_str())
                .bind(i32::from(s.port))
                .bind(&s.name)
                .bind(&s.product)
                .bind(&s.version)
                .bind(&s.cpe)
                .bind(&s.banner)
                .bind(&s.tunnel)
                .bind(&s.info)
                .bind(&s.method)
                .bind(json(&s.tls))
                .bind(json(&s.http))
                .bind(now)
                .fetch_one(&mut *tx)
                .await?;
                if !open_ports.contains_key(&i32::from(s.port)) {
                    changes.opened += 1;
                }
                changes.ids.push((s.port, ServiceId(id)));
            }
            let gone: Vec<i64> = open
                .iter()
                .filter(|(_, port)| {
                    let port = *port as u16;
                    scanned.binary_search(&port).is_ok()
                        && !observed
                            .iter()
                            .any(|s| s.transport == transport && s.port == port)
                })
                .map(|(id, _)| *id)
                .collect();
            if !gone.is_empty() {
                let sql = format!(
                    "UPDATE services SET closed_at = $1 WHERE id IN ({})",
                    id_list(gone.iter().copied())
                );
                changes.closed = sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(now)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
            }
            tx.commit().await?;
        });
        Ok(changes)
    }

    /// An asset's services by transport and port; closed ones too when asked.
    pub async fn services_of(&self, asset: AssetId, include_closed: bool) -> Result<Vec<Service>> {
        let sql = format!(
            "SELECT {SERVICE_COLUMNS} FROM services WHERE asset_id = $1 {} ORDER BY transport, port",
            if include_closed {
                ""
            } else {
                "AND closed_at IS NULL"
            }
        );
        let rows: Vec<ServiceRow> = with_pool!(self, |p| sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(asset.0)
            .fetch_all(p)
            .await?);
        rows.into_iter().map(ServiceRow::into_service).collect()
    }

    /// The open findings about an asset's services and their configuration: (finding,
    /// vulnerability, component).
    pub async fn open_network_findings(
        &self,
        asset: AssetId,
    ) -> Result<Vec<(FindingId, String, String)>> {
        let rows: Vec<(i64, String, String)> = with_pool!(self, |p| sqlx::query_as(
            "SELECT id, vuln_id, component FROM findings WHERE asset_id = $1 \
             AND component_kind IN ('service', 'config') AND status IN ('new', 'open', 'reopened')"
        )
        .bind(asset.0)
        .fetch_all(p)
        .await?);
        Ok(rows
            .into_iter()
            .map(|(id, v, c)| (FindingId(id), v, c))
            .collect())
    }

    /// Describes built-in checks (`VANTAGE-TLS-EXPIRED` …) in the knowledge base the first time
    /// one is found, so that they read like any vulnerability: (id, summary, CWEs).
    pub async fn describe_checks(&self, checks: &[(&str, &str, &[&str])]) -> Result<()> {
        for (id, summary, cwes) in checks {
            let cwes = serde_json::to_string(cwes).expect("strings serialize");
            with_pool!(self, |p| {
                sqlx::query(
                "INSERT INTO vulnerabilities (id, summary, cwes, updated_at) VALUES ($1, $2, $3, 0) \
                 ON CONFLICT (id) DO NOTHING"
            )
            .bind(id)
            .bind(summary)
            .bind(&cwes)
            .execute(p)
            .await
            .map(|_| ())?
            });
        }
        Ok(())
    }

    /// Records the start of a scan run; returns its id.
    pub async fn start_scan_run(
        &self,
        kind: &str,
        scope: Option<ScopeId>,
        targets: &str,
        ports: &str,
        now: OffsetDateTime,
    ) -> Result<i64> {
        Ok(with_pool!(self, |p| sqlx::query_scalar(
            "INSERT INTO scan_runs (kind, scope_id, targets, ports, status, started_at) \
             VALUES ($1, $2, $3, $4, 'running', $5) RETURNING id"
        )
        .bind(kind)
        .bind(scope.map(|s| s.0))
        .bind(targets)
        .bind(ports)
        .bind(ts(now))
        .fetch_one(p)
        .await?))
    }

    /// Records the end of a scan run: `done` with its counts, or `failed` with the error.
    pub async fn finish_scan_run(
        &self,
        id: i64,
        counts: (i64, i64, i64),
        error: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<()> {
        with_pool!(self, |p| {
            sqlx::query(
            "UPDATE scan_runs SET status = $2, finished_at = $3, hosts_scanned = $4, hosts_up = $5, \
             open_ports = $6, error = $7 WHERE id = $1"
        )
        .bind(id)
        .bind(if error.is_some() { "failed" } else { "done" })
        .bind(ts(now))
        .bind(counts.0)
        .bind(counts.1)
        .bind(counts.2)
        .bind(error)
        .execute(p)
        .await
        .map(|_| ())?
        });
        Ok(())
    }

    /// The latest scan runs, newest first.
    pub async fn scan_runs(&self, limit: i64) -> Result<Vec<ScanRun>> {
        let rows: Vec<RunRow> = with_pool!(self, |p| sqlx::query_as(
            "SELECT id, kind, scope_id, targets, ports, status, started_at, finished_at, \
             hosts_scanned, hosts_up, open_ports, error FROM scan_runs ORDER BY id DESC LIMIT $1"
        )
        .bind(limit)
        .fetch_all(p)
        .await?);
        rows.into_iter()
            .map(|r| {
                Ok(ScanRun {
                    id: r.id,
                    kind: r.kind,
                    scope_id: r.scope_id.map(ScopeId),
                    targets: r.targets,
                    ports: r.ports,
                    status: r.status,
                    started_at: from_ts(r.started_at, "scan run started_at")?,
                    finished_at: from_opt_ts(r.finished_at, "scan run finished_at")?,
                    hosts_scanned: r.hosts_scanned,
                    hosts_up: r.hosts_up,
                    open_ports: r.open_ports,
                    error: r.error,
                })
            })
            .collect()
    }

    /// The live members of a scope with their IP addresses: (asset, address).
    pub async fn scope_member_addresses(&self, scope: ScopeId) -> Result<Vec<(AssetId, String)>> {
        let rows: Vec<(i64, String)> = with_pool!(self, |p| sqlx::query_as(
            "SELECT a.id, i.value FROM asset_scopes s \
             JOIN assets a ON a.id = s.asset_id \
             JOIN asset_identifiers i ON i.asset_id = a.id AND i.kind = 'ip' \
             WHERE s.scope_id = $1 AND a.decommissioned_at IS NULL"
        )
        .bind(scope.0)
        .fetch_all(p)
        .await?);
        Ok(rows.into_iter().map(|(a, ip)| (AssetId(a), ip)).collect())
    }

    /// Counts one more missed scan for these assets and decommissions those that reach
    /// `threshold` consecutive misses. Returns (missed, decommissioned).
    pub async fn record_missed_scan(
        &self,
        assets: &[AssetId],
        threshold: u32,
        now: OffsetDateTime,
    ) -> Result<(u64, u64)> {
        if assets.is_empty() {
            return Ok((0, 0));
        }
        let ids = id_list(assets.iter().map(|a| a.0));
        let missed = format!(
            "UPDATE assets SET missed_scans = missed_scans + 1 \
             WHERE decommissioned_at IS NULL AND id IN ({ids})"
        );
        let retire = format!(
            "UPDATE assets SET decommissioned_at = $1 WHERE decommissioned_at IS NULL \
             AND missed_scans >= $2 AND id IN ({ids})"
        );
        Ok(with_pool!(self, |p| {
            let mut tx = p.begin_write().await?;
            let m = sqlx::query(sqlx::AssertSqlSafe(missed))
                .execute(&mut *tx)
                .await?
                .rows_affected();
            let d = sqlx::query(sqlx::AssertSqlSafe(retire))
                .bind(ts(now))
                .bind(threshold as i32)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            tx.commit().await?;
            (m, d)
        }))
    }
}
