//! Findings: bulk upsert from detection, filtered keyset-paginated lists.

use std::collections::HashMap;

use sqlx::{FromRow, QueryBuilder};
use vantage_domain::query::page_size;
use vantage_domain::{
    AssetId, Cursor, Evidence, Finding, FindingFilter, FindingId, NewFinding, PackageId, Page,
    Priority, ServiceId,
};

use crate::assets::{push_scope_filters, split_page};
use crate::backend::{BeginWrite, Pool, Store, with_pool};
use crate::error::{Result, StoreError};
use crate::priority::{PRIORITIZATION_COLUMNS, PrioritizationRow};
use crate::sql::{Arg, Sql, bind_args, from_opt_ts, from_ts, parse, ts};

/// Rows written per statement by [`Store::upsert_findings`] on SQLite (17 parameters a row stays
/// under SQLite's 32 766 parameter limit); PostgreSQL sends arrays and takes 10× more.
pub const BULK_BATCH_ROWS: usize = 1000;

const INSERT_COLUMNS: &str = "INSERT INTO findings (asset_id, vuln_id, component_kind, component, \
    package_id, service_id, installed_version, fixed_version, source, rule, priority, score, \
    first_detected, last_seen, status_changed_at, advisory, confidence, priority_since, status) ";

/// The statuses that count as live exposure, as an SQL list.
pub(crate) const OPEN_STATUSES: &str = "('new', 'open', 'reopened')";

/// A re-detected finding keeps its identity and first detection; a new one seen again by a later
/// scan is open; a fixed one comes back as reopened (a regression, counted). Triage decisions
/// (accepted risk, false positive) stay. Applied identically on both backends.
const ON_CONFLICT: &str = " ON CONFLICT (asset_id, vuln_id, component_kind, component) DO UPDATE SET \
    package_id = excluded.package_id, service_id = excluded.service_id, \
    installed_version = excluded.installed_version, fixed_version = excluded.fixed_version, \
    source = excluded.source, rule = excluded.rule, \
    advisory = excluded.advisory, confidence = excluded.confidence, \
    priority = COALESCE(excluded.priority, findings.priority), \
    score = COALESCE(excluded.score, findings.score), \
    last_seen = CASE WHEN findings.last_seen < excluded.last_seen THEN excluded.last_seen ELSE findings.last_seen END, \
    status = CASE WHEN findings.status = 'fixed' THEN 'reopened' \
        WHEN findings.status = 'new' AND excluded.last_seen > findings.last_seen THEN 'open' \
        ELSE findings.status END, \
    reopen_count = findings.reopen_count + CASE WHEN findings.status = 'fixed' THEN 1 ELSE 0 END, \
    fixed_at = CASE WHEN findings.status = 'fixed' THEN NULL ELSE findings.fixed_at END, \
    status_changed_at = CASE WHEN findings.status = 'fixed' THEN excluded.last_seen ELSE findings.status_changed_at END";

const FINDING_COLUMNS: &str = "f.id, f.asset_id, a.name AS asset_name, f.vuln_id, f.component_kind, \
    f.component, f.package_id, f.service_id, f.installed_version, f.fixed_version, f.source, f.rule, \
    f.status, f.priority, f.score, f.first_detected, f.last_seen, f.fixed_at, f.advisory, \
    f.confidence, f.reopen_count, v.published, f.accepted_until, f.triage_reason, f.triaged_by, \
    f.priority_since, f.p1_seconds, f.p2_seconds, f.p3_seconds, f.p4_seconds, f.attack_path, \
    (SELECT value FROM settings WHERE key = 'attack_paths.analysed_at') AS paths_analysed_at, ";

/// Findings with their asset, vulnerability and (when prioritized) their context.
const FINDING_FROM: &str = "findings f JOIN assets a ON a.id = f.asset_id \
    LEFT JOIN vulnerabilities v ON v.id = f.vuln_id \
    LEFT JOIN priority_contexts c ON c.id = f.context_id";

#[derive(FromRow)]
struct FindingRow {
    id: i64,
    asset_id: i64,
    asset_name: String,
    vuln_id: String,
    component_kind: String,
    component: String,
    package_id: Option<i64>,
    service_id: Option<i64>,
    installed_version: Option<String>,
    fixed_version: Option<String>,
    source: String,
    rule: String,
    status: String,
    priority: Option<i16>,
    score: Option<f64>,
    first_detected: i64,
    last_seen: i64,
    fixed_at: Option<i64>,
    advisory: Option<String>,
    confidence: String,
    reopen_count: i32,
    published: Option<i64>,
    accepted_until: Option<i64>,
    triage_reason: Option<String>,
    triaged_by: Option<String>,
    priority_since: Option<i64>,
    p1_seconds: i64,
    p2_seconds: i64,
    p3_seconds: i64,
    p4_seconds: i64,
    attack_path: Option<i16>,
    paths_analysed_at: Option<String>,
    #[sqlx(flatten)]
    prioritization: PrioritizationRow,
}

impl TryFrom<FindingRow> for Finding {
    type Error = StoreError;
    fn try_from(r: FindingRow) -> Result<Finding> {
        let priority = match r.priority {
            None => None,
            Some(p) => Some(
                Priority::from_rank(p).ok_or_else(|| StoreError::corrupt("finding priority", p))?,
            ),
        };
        let status: vantage_domain::FindingStatus = parse(&r.status, "finding status")?;
        // Durations run to the fix, or to now while the finding is not fixed.
        let end = r
            .fixed_at
            .unwrap_or_else(|| time::OffsetDateTime::now_utc().unix_timestamp());
        let mut in_priority = [r.p1_seconds, r.p2_seconds, r.p3_seconds, r.p4_seconds];
        if let (Some(p), Some(since)) = (priority, r.priority_since)
            && status.is_open()
        {
            in_priority[usize::from(p.rank().unsigned_abs()) - 1] += (end - since).max(0);
        }
        let lifecycle = vantage_domain::Lifecycle {
            reopen_count: u32::try_from(r.reopen_count).unwrap_or(0),
            published: from_opt_ts(r.published, "vulnerability published")?,
            exposure_seconds: (end - r.first_detected).max(0),
            exposure_since_publication_seconds: r.published.map(|p| (end - p).max(0)),
            seconds_in_priority: in_priority,
            accepted_until: from_opt_ts(r.accepted_until, "finding accepted_until")?,
            triage_reason: r.triage_reason,
            triaged_by: r.triaged_by,
            // On a path when the last analysis said so; on none when it ran after detection.
            on_attack_path: match (
                r.attack_path,
                r.paths_analysed_at.and_then(|t| t.parse::<i64>().ok()),
            ) {
                (Some(1), _) => Some(true),
                (_, Some(at)) if at >= r.first_detected => Some(false),
                _ => None,
            },
        };
        Ok(Finding {
            id: FindingId(r.id),
            asset_id: AssetId(r.asset_id),
            asset_name: r.asset_name,
            vuln_id: parse(&r.vuln_id, "finding vuln_id")?,
            status,
            priority,
            score: r.score,
            evidence: Evidence {
                component_kind: parse(&r.component_kind, "finding component_kind")?,
                component: r.component,
                package_id: r.package_id.map(PackageId),
                service_id: r.service_id.map(ServiceId),
                installed_version: r.installed_version,
                fixed_version: r.fixed_version,
                source: r.source,
                rule: r.rule,
                advisory: r.advisory,
                confidence: parse(&r.confidence, "finding confidence")?,
            },
            first_detected: from_ts(r.first_detected, "finding first_detected")?,
            last_seen: from_ts(r.last_seen, "finding last_seen")?,
            fixed_at: from_opt_ts(r.fixed_at, "finding fixed_at")?,
            prioritization: r.prioritization.decode()?,
            lifecycle,
        })
    }
}

/// Keeps the last report of each (asset, vulnerability, component): one statement may not
/// update the same row twice.
fn dedupe(findings: &[NewFinding]) -> Vec<&NewFinding> {
    let mut index: HashMap<(i64, &str, &str, &str), usize> = HashMap::with_capacity(findings.len());
    let mut out: Vec<&NewFinding> = Vec::with_capacity(findings.len());
    for f in findings {
        let key = (
            f.asset_id.0,
            f.vuln_id.as_str(),
            f.evidence.component_kind.as_str(),
            f.evidence.component.as_str(),
        );
        match index.get(&key) {
            Some(&i) => out[i] = f,
            None => {
                index.insert(key, out.len());
                out.push(f);
            }
        }
    }
    out
}

impl Store {
    /// Inserts or refreshes findings in batches inside one transaction: all or nothing.
    /// Returns the number of rows written.
    pub async fn upsert_findings(&self, findings: &[NewFinding]) -> Result<u64> {
        let rows = dedupe(findings);
        match &self.pool {
            Pool::Sqlite(p) => {
                let mut tx = p.begin_write().await?;
                let mut n = 0;
                for chunk in rows.chunks(BULK_BATCH_ROWS) {
                    let mut qb = QueryBuilder::<sqlx::Sqlite>::new(INSERT_COLUMNS);
                    qb.push_values(chunk, |mut b, f| {
                        let e = &f.evidence;
                        let seen = ts(f.seen_at);
                        b.push_bind(f.asset_id.0)
                            .push_bind(f.vuln_id.as_str().to_string())
                            .push_bind(e.component_kind.as_str())
                            .push_bind(e.component.clone())
                            .push_bind(e.package_id.map(|x| x.0))
                            .push_bind(e.service_id.map(|x| x.0))
                            .push_bind(e.installed_version.clone())
                            .push_bind(e.fixed_version.clone())
                            .push_bind(e.source.clone())
                            .push_bind(e.rule.clone())
                            .push_bind(f.priority.map(Priority::rank))
                            .push_bind(f.score)
                            .push_bind(seen)
                            .push_bind(seen)
                            .push_bind(seen)
                            .push_bind(e.advisory.clone())
                            .push_bind(e.confidence.as_str())
                            .push_bind(seen)
                            .push_bind("new");
                    });
                    qb.push(ON_CONFLICT);
                    n += qb.build().execute(&mut *tx).await?.rows_affected();
                }
                tx.commit().await?;
                Ok(n)
            }
            Pool::Postgres(p) => {
                let mut tx = p.begin_write().await?;
                let mut n = 0;
                for chunk in rows.chunks(BULK_BATCH_ROWS * 10) {
                    n += pg_unnest_insert(chunk)
                        .execute(&mut *tx)
                        .await?
                        .rows_affected();
                }
                tx.commit().await?;
                Ok(n)
            }
        }
    }

    /// One finding.
    pub async fn finding(&self, id: FindingId) -> Result<Option<Finding>> {
        let sql = format!(
            "SELECT {FINDING_COLUMNS}{PRIORITIZATION_COLUMNS} FROM {FINDING_FROM} WHERE f.id = $1"
        );
        let row: Option<FindingRow> =
            with_pool!(self, |p| sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(id.0)
                .fetch_optional(p)
                .await?);
        row.map(Finding::try_from).transpose()
    }

    /// A page of findings, ordered by asset then finding id, filtered and restricted to the
    /// caller's scopes.
    pub async fn list_findings(&self, f: &FindingFilter) -> Result<Page<Finding>> {
        let limit = page_size(Some(f.limit));
        let statuses: Vec<String> = f
            .status
            .statuses()
            .iter()
            .map(|s| format!("'{}'", s.as_str()))
            .collect();
        let mut q = Sql::new(&format!(
            "SELECT {FINDING_COLUMNS}{PRIORITIZATION_COLUMNS} FROM {FINDING_FROM} \
             WHERE f.status IN ({})",
            statuses.join(",")
        ));
        if let Some(asset) = f.asset {
            q.push(" AND f.asset_id = ").bind(Arg::I64(asset.0));
        }
        if let Some(p) = f.priority {
            q.push(" AND f.priority = ").bind(Arg::I64(p.rank().into()));
        }
        if let Some(v) = &f.vuln {
            q.push(" AND f.vuln_id = ")
                .bind(Arg::Text(v.as_str().into()));
        }
        push_scope_filters(&mut q, "f.asset_id", f.scope, f.visible_scopes.as_deref());
        if let Some(Cursor { after: (asset, id) }) = f.cursor {
            // Written so that `asset_id >= $n` bounds the index range on both backends.
            q.push(" AND f.asset_id >= ").bind(Arg::I64(asset));
            q.push(" AND (f.asset_id > ").bind(Arg::I64(asset));
            q.push(" OR f.id > ").bind(Arg::I64(id)).push(")");
        }
        q.push(&format!(" ORDER BY f.asset_id, f.id LIMIT {}", limit + 1));
        let rows: Vec<FindingRow> = with_pool!(self, |p| {
            bind_args!(sqlx::query_as(sqlx::AssertSqlSafe(q.text.clone())), &q.args)
                .fetch_all(p)
                .await?
        });
        let (rows, next) = split_page(rows, limit, |r| (r.asset_id, r.id));
        let items = rows
            .into_iter()
            .map(Finding::try_from)
            .collect::<Result<_>>()?;
        Ok(Page {
            items,
            next_cursor: next,
        })
    }

    /// Number of findings in every status.
    pub async fn count_findings(&self) -> Result<i64> {
        Ok(with_pool!(self, |p| sqlx::query_scalar(
            "SELECT COUNT(*) FROM findings"
        )
        .fetch_one(p)
        .await?))
    }
}

/// PostgreSQL bulk path: one statement per chunk, the columns sent as arrays.
fn pg_unnest_insert(
    chunk: &[&NewFinding],
) -> sqlx::query::Query<'static, sqlx::Postgres, sqlx::postgres::PgArguments> {
    let col =
        |f: &dyn Fn(&NewFinding) -> Option<String>| chunk.iter().map(|x| f(x)).collect::<Vec<_>>();
    let asset: Vec<i64> = chunk.iter().map(|f| f.asset_id.0).collect();
    let vuln = col(&|f| Some(f.vuln_id.as_str().to_string()));
    let kind = col(&|f| Some(f.evidence.component_kind.as_str().to_string()));
    let component = col(&|f| Some(f.evidence.component.clone()));
    let package: Vec<Option<i64>> = chunk
        .iter()
        .map(|f| f.evidence.package_id.map(|x| x.0))
        .collect();
    let service: Vec<Option<i64>> = chunk
        .iter()
        .map(|f| f.evidence.service_id.map(|x| x.0))
        .collect();
    let installed = col(&|f| f.evidence.installed_version.clone());
    let fixed = col(&|f| f.evidence.fixed_version.clone());
    let source = col(&|f| Some(f.evidence.source.clone()));
    let rule = col(&|f| Some(f.evidence.rule.clone()));
    let priority: Vec<Option<i16>> = chunk
        .iter()
        .map(|f| f.priority.map(Priority::rank))
        .collect();
    let score: Vec<Option<f64>> = chunk.iter().map(|f| f.score).collect();
    let seen: Vec<i64> = chunk.iter().map(|f| ts(f.seen_at)).collect();
    let advisory = col(&|f| f.evidence.advisory.clone());
    let confidence = col(&|f| Some(f.evidence.confidence.as_str().to_string()));
    let sql = format!(
        "{INSERT_COLUMNS} SELECT *, 'new' FROM UNNEST($1::bigint[], $2::text[], $3::text[], $4::text[], \
         $5::bigint[], $6::bigint[], $7::text[], $8::text[], $9::text[], $10::text[], $11::smallint[], \
         $12::float8[], $13::bigint[], $13::bigint[], $13::bigint[], $14::text[], $15::text[], $13::bigint[]) \
         {ON_CONFLICT}"
    );
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(asset)
        .bind(vuln)
        .bind(kind)
        .bind(component)
        .bind(package)
        .bind(service)
        .bind(installed)
        .bind(fixed)
        .bind(source)
        .bind(rule)
        .bind(priority)
        .bind(score)
        .bind(seen)
        .bind(advisory)
        .bind(confidence)
}

impl Store {
    /// Sets a finding's status (a person's triage, or a scan's verdict). Marking it fixed records
    /// the fix time; any other status clears it.
    pub async fn set_finding_status(
        &self,
        id: FindingId,
        status: vantage_domain::FindingStatus,
        now: time::OffsetDateTime,
    ) -> Result<()> {
        const SQL: &str = "UPDATE findings SET status = $2, status_changed_at = $3, \
             fixed_at = CASE WHEN $2 = 'fixed' THEN $3 ELSE NULL END WHERE id = $1";
        let n = with_pool!(self, |p| {
            sqlx::query(SQL)
                .bind(id.0)
                .bind(status.as_str())
                .bind(ts(now))
                .execute(p)
                .await?
                .rows_affected()
        });
        if n == 0 {
            return Err(StoreError::NotFound {
                what: "finding",
                key: id.to_string(),
            });
        }
        Ok(())
    }
}

impl Store {
    /// Records a person's triage decision on a finding in one transaction and returns the
    /// status it had before. Accepting a risk sets its expiry and justification; a false
    /// positive its reason; `Reopen` puts an accepted or false-positive finding back to open.
    pub async fn triage_finding(
        &self,
        id: FindingId,
        triage: &vantage_domain::Triage,
        by: &str,
        now: time::OffsetDateTime,
    ) -> Result<vantage_domain::FindingStatus> {
        use vantage_domain::Triage;
        let (status, reason, until) = match triage {
            Triage::AcceptedRisk {
                until,
                justification,
            } => ("accepted_risk", justification.as_str(), Some(ts(*until))),
            Triage::FalsePositive { reason } => ("false_positive", reason.as_str(), None),
            Triage::Reopen { reason } => ("open", reason.as_str(), None),
        };
        const READ: &str = "SELECT status FROM findings WHERE id = $1";
        const WRITE: &str = "UPDATE findings SET status = $2, triage_reason = $3, triaged_by = $4, \
             accepted_until = $5, status_changed_at = $6, fixed_at = NULL WHERE id = $1";
        let old: Option<String> = with_pool!(self, |p| {
            let mut tx = p.begin_write().await?;
            let old: Option<String> = sqlx::query_scalar(READ)
                .bind(id.0)
                .fetch_optional(&mut *tx)
                .await?;
            if old.is_some() {
                sqlx::query(WRITE)
                    .bind(id.0)
                    .bind(status)
                    .bind(reason)
                    .bind(by)
                    .bind(until)
                    .bind(ts(now))
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            old
        });
        let old = old.ok_or_else(|| StoreError::NotFound {
            what: "finding",
            key: id.to_string(),
        })?;
        parse(&old, "finding status")
    }

    /// Open findings past their due date at `now` (first detection + the SLA days of their
    /// priority in their scopes' policy), oldest id first.
    pub async fn overdue_findings(&self, now: time::OffsetDateTime) -> Result<Vec<FindingId>> {
        const SQL: &str = "SELECT f.id FROM findings f JOIN priority_contexts c ON c.id = f.context_id \
             WHERE f.status IN ('new', 'open', 'reopened') \
             AND f.first_detected + c.sla_days * 86400 < $1 ORDER BY f.id";
        let ids: Vec<i64> = with_pool!(self, |p| sqlx::query_scalar(SQL)
            .bind(ts(now))
            .fetch_all(p)
            .await?);
        Ok(ids.into_iter().map(FindingId).collect())
    }

    /// Findings of these assets reopened at exactly `at` (the scan time that saw them again):
    /// (finding, asset, vulnerability, component).
    pub async fn reopened_at(
        &self,
        assets: &[AssetId],
        at: time::OffsetDateTime,
    ) -> Result<Vec<(FindingId, AssetId, String, String)>> {
        let mut out = Vec::new();
        for chunk in assets.chunks(500) {
            let sql = format!(
                "SELECT id, asset_id, vuln_id, component FROM findings WHERE status = 'reopened' \
                 AND status_changed_at = $1 AND asset_id IN ({})",
                crate::sql::id_list(chunk.iter().map(|a| a.0))
            );
            let rows: Vec<(i64, i64, String, String)> = with_pool!(self, |p| {
                sqlx::query_as(sqlx::AssertSqlSafe(sql))
                    .bind(ts(at))
                    .fetch_all(p)
                    .await?
            });
            out.extend(
                rows.into_iter()
                    .map(|(id, a, v, c)| (FindingId(id), AssetId(a), v, c)),
            );
        }
        Ok(out)
    }

    /// Accepted risks whose acceptance ended at or before `now` become open again; returns
    /// their ids (for the audit trail).
    pub async fn expire_accepted_risks(&self, now: time::OffsetDateTime) -> Result<Vec<FindingId>> {
        const SQL: &str = "UPDATE findings SET status = 'open', status_changed_at = $1, \
             triaged_by = NULL WHERE status = 'accepted_risk' AND accepted_until <= $1 RETURNING id";
        let ids: Vec<i64> = with_pool!(self, |p| sqlx::query_scalar(SQL)
            .bind(ts(now))
            .fetch_all(p)
            .await?);
        Ok(ids.into_iter().map(FindingId).collect())
    }
}

impl Store {
    /// Open package findings, on every asset, of these components: (asset, finding,
    /// vulnerability, component). One pass over the table in SQL, for the same reason as
    /// [`Store::packages_named`].
    pub async fn open_package_findings_on(
        &self,
        components: &[String],
    ) -> Result<Vec<(AssetId, FindingId, String, String)>> {
        let mut out = Vec::new();
        for chunk in components.chunks(500) {
            let sql = format!(
                "SELECT asset_id, id, vuln_id, component FROM findings WHERE component IN ({}) \
                 AND component_kind = 'package' AND status IN {OPEN_STATUSES}",
                crate::sql::placeholders(chunk.len(), 1)
            );
            let rows: Vec<(i64, i64, String, String)> = with_pool!(self, |p| {
                let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()));
                for c in chunk {
                    q = q.bind(c);
                }
                q.fetch_all(p).await?
            });
            out.extend(
                rows.into_iter()
                    .map(|(a, id, v, c)| (AssetId(a), FindingId(id), v, c)),
            );
        }
        Ok(out)
    }

    /// The open package findings of these assets as (finding, vulnerability, component),
    /// aggregated in SQL to one row per asset (see [`Store::packages_by_asset`]).
    pub async fn open_package_keys_by_asset(
        &self,
        assets: &[AssetId],
    ) -> Result<std::collections::HashMap<AssetId, Vec<(FindingId, String, String)>>> {
        let mut out = std::collections::HashMap::new();
        let rows = self
            .packed_by_asset(
                "findings",
                &["id", "vuln_id", "component"],
                " AND component_kind = 'package' AND status IN ('new', 'open', 'reopened')",
                assets,
            )
            .await?;
        for (asset, packed) in rows {
            let mut list = Vec::new();
            for rec in packed.split('\u{1e}') {
                let mut f = rec.splitn(3, '\u{1f}');
                let (Some(id), Some(vuln), Some(component)) = (f.next(), f.next(), f.next()) else {
                    return Err(crate::error::StoreError::corrupt("findings", rec));
                };
                let id = id
                    .parse()
                    .map_err(|_| crate::error::StoreError::corrupt("finding id", id))?;
                list.push((FindingId(id), vuln.to_string(), component.to_string()));
            }
            out.insert(AssetId(asset), list);
        }
        Ok(out)
    }

    /// An asset's open findings counted by priority: P1 … P4, then not yet prioritized.
    pub async fn open_priority_counts(&self, asset: AssetId) -> Result<[u64; 5]> {
        let rows: Vec<(Option<i16>, i64)> = with_pool!(self, |p| sqlx::query_as(
            "SELECT priority, COUNT(*) FROM findings WHERE asset_id = $1 \
             AND status IN ('new', 'open', 'reopened') GROUP BY priority"
        )
        .bind(asset.0)
        .fetch_all(p)
        .await?);
        let mut out = [0u64; 5];
        for (priority, n) in rows {
            let slot = match priority {
                Some(r @ 1..=4) => usize::from(r as u8) - 1,
                _ => 4,
            };
            out[slot] += n as u64;
        }
        Ok(out)
    }

    /// Marks these findings fixed (those still open or reopened) at `now`; returns how many.
    pub async fn fix_findings(&self, ids: &[FindingId], now: time::OffsetDateTime) -> Result<u64> {
        let mut n = 0;
        for chunk in ids.chunks(500) {
            let sql = format!(
                "UPDATE findings SET status = 'fixed', fixed_at = $1, status_changed_at = $1 \
                 WHERE status IN {OPEN_STATUSES} AND id IN ({})",
                crate::sql::id_list(chunk.iter().map(|i| i.0))
            );
            n += with_pool!(self, |p| sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(ts(now))
                .execute(p)
                .await?
                .rows_affected());
        }
        Ok(n)
    }
}

impl Store {
    /// Closes the findings of an asset that a scan did not see again: every open or reopened
    /// finding whose `last_seen` is before `scan_started_at` becomes fixed at `now`. Returns how
    /// many were closed.
    pub async fn resolve_unseen_findings(
        &self,
        asset: AssetId,
        scan_started_at: time::OffsetDateTime,
        now: time::OffsetDateTime,
    ) -> Result<u64> {
        const SQL: &str = "UPDATE findings SET status = 'fixed', fixed_at = $3, status_changed_at = $3 \
             WHERE asset_id = $1 AND status IN ('new', 'open', 'reopened') AND last_seen < $2";
        Ok(with_pool!(self, |p| {
            sqlx::query(SQL)
                .bind(asset.0)
                .bind(ts(scan_started_at))
                .bind(ts(now))
                .execute(p)
                .await?
                .rows_affected()
        }))
    }
}

impl Store {
    /// [`Store::resolve_unseen_findings`] for many assets scanned at the same time: one
    /// statement per 500 assets (one round trip and one commit instead of one per asset).
    pub async fn resolve_unseen_findings_of(
        &self,
        assets: &[AssetId],
        scan_started_at: time::OffsetDateTime,
        now: time::OffsetDateTime,
    ) -> Result<u64> {
        let mut n = 0;
        for chunk in assets.chunks(500) {
            let sql = format!(
                "UPDATE findings SET status = 'fixed', fixed_at = $2, status_changed_at = $2 \
                 WHERE asset_id IN ({}) AND status IN ('new', 'open', 'reopened') AND last_seen < $1",
                crate::sql::id_list(chunk.iter().map(|a| a.0))
            );
            n += with_pool!(self, |p| sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(ts(scan_started_at))
                .bind(ts(now))
                .execute(p)
                .await?
                .rows_affected());
        }
        Ok(n)
    }
}

impl Store {
    /// The vulnerabilities among `ids` that are in CISA's KEV catalog.
    pub async fn kev_among(&self, ids: &[String]) -> Result<std::collections::HashSet<String>> {
        let mut out = std::collections::HashSet::new();
        for chunk in ids.chunks(500) {
            let mut q = Sql::new("SELECT cve FROM kev_entries WHERE cve IN (");
            for (i, id) in chunk.iter().enumerate() {
                if i > 0 {
                    q.push(", ");
                }
                q.bind(Arg::Text(id.clone()));
            }
            q.push(")");
            let rows: Vec<String> = with_pool!(self, |p| {
                bind_args!(
                    sqlx::query_scalar(sqlx::AssertSqlSafe(q.text.clone())),
                    &q.args
                )
                .fetch_all(p)
                .await?
            });
            out.extend(rows);
        }
        Ok(out)
    }
}
