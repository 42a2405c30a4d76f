//! Daily metric snapshots for dashboards (`metric_snapshots`: day × scope × metric × dimension),
//! computed in SQL over the whole findings table in one transaction; scope 0 is every asset.
//!
//! Metrics: `open_findings` (dim: p1…p4, none), `mttr_days` (mean detection → fix of the
//! findings fixed in the 30 days before, dim: priority), `sla_compliance` (share of open findings
//! not past due and of findings fixed in the 30 days before within their due date, dim: all),
//! `scan_coverage` (share of live assets seen within their scope's scan period, dim: all),
//! `assets_live`, `assets_added`, `assets_decommissioned` (that day, dim: all).

use time::OffsetDateTime;

use crate::backend::{BeginWrite, Store, with_pool};
use crate::error::Result;
use crate::findings::OPEN_STATUSES;

/// One stored metric value.
#[derive(Debug, Clone, PartialEq, serde::Serialize, sqlx::FromRow)]
pub struct MetricRow {
    /// The day (YYYY-MM-DD, UTC).
    pub day: String,
    /// The scope (0: every asset).
    pub scope_id: i64,
    /// The metric.
    pub metric: String,
    /// Its dimension (a priority, or `all`).
    pub dim: String,
    /// Its value.
    pub value: f64,
}

impl Store {
    /// Computes the snapshot of `day` as of `now` and replaces any stored one; `periods` are
    /// the scan periods (seconds) of scopes with a schedule, for coverage. Returns the rows
    /// written.
    pub async fn snapshot_metrics(
        &self,
        day: time::Date,
        now: OffsetDateTime,
        periods: &[(i64, i64)],
    ) -> Result<u64> {
        let d = day.to_string();
        let start = day.midnight().assume_utc().unix_timestamp();
        let end = start + 86_400;
        let now = now.unix_timestamp();
        let open = OPEN_STATUSES;
        let prio =
            "CASE WHEN f.priority IS NULL THEN 'none' ELSE 'p' || CAST(f.priority AS TEXT) END";
        // Each statement reads findings once, for every scope and for all assets (scope 0).
        let by_scope = |select: &str, from_where: &str, group: &str| {
            let (from, cond) = from_where
                .split_once(" WHERE ")
                .unwrap_or((from_where, "TRUE"));
            format!(
                "INSERT INTO metric_snapshots (day, scope_id, metric, dim, value) \
                 SELECT $1, s.scope_id, {select} FROM {from} \
                 JOIN asset_scopes s ON s.asset_id = f.asset_id WHERE {cond} GROUP BY s.scope_id{group}"
            )
        };
        let overall = |select: &str, from_where: &str, group: &str| {
            let group = group.trim_start_matches(", ");
            // An aggregate over no row is no value, not NULL.
            let group = if group.is_empty() {
                " HAVING COUNT(*) > 0".to_string()
            } else {
                format!(" GROUP BY {group}")
            };
            format!(
                "INSERT INTO metric_snapshots (day, scope_id, metric, dim, value) \
                 SELECT $1, 0, {select} FROM {from_where}{group}"
            )
        };
        let mut statements: Vec<String> = Vec::new();
        let open_sel = format!("'open_findings', {prio}, COUNT(*)");
        let open_from = format!("findings f WHERE f.status IN {open}");
        statements.push(by_scope(&open_sel, &open_from, &format!(", {prio}")));
        statements.push(overall(&open_sel, &open_from, &format!(", {prio}")));
        let mttr_sel =
            format!("'mttr_days', {prio}, AVG((f.fixed_at - f.first_detected) / 86400.0)");
        let mttr_from =
            "findings f WHERE f.status = 'fixed' AND f.fixed_at >= CAST($2 AS BIGINT) - 2592000 \
                         AND f.fixed_at < $3"
                .to_string();
        statements.push(by_scope(&mttr_sel, &mttr_from, &format!(", {prio}")));
        statements.push(overall(&mttr_sel, &mttr_from, &format!(", {prio}")));
        let sla_sel =
            "'sla_compliance', 'all', AVG(CASE WHEN (f.status = 'fixed' AND f.fixed_at <= \
                       f.first_detected + c.sla_days * 86400) OR (f.status <> 'fixed' AND \
                       $4 <= f.first_detected + c.sla_days * 86400) THEN 1.0 ELSE 0.0 END)"
                .to_string();
        let sla_from = format!(
            "findings f JOIN priority_contexts c ON c.id = f.context_id WHERE \
             (f.status IN {open} OR (f.status = 'fixed' AND f.fixed_at >= CAST($2 AS BIGINT) - 2592000 AND f.fixed_at < $3))"
        );
        statements.push(by_scope(&sla_sel, &sla_from, ""));
        statements.push(overall(&sla_sel, &sla_from, ""));
        // Assets: live, added and decommissioned that day.
        for (metric, cond) in [
            ("assets_live", "a.decommissioned_at IS NULL".to_string()),
            (
                "assets_added",
                "a.first_seen >= $2 AND a.first_seen < $3".to_string(),
            ),
            (
                "assets_decommissioned",
                "a.decommissioned_at >= $2 AND a.decommissioned_at < $3".to_string(),
            ),
        ] {
            statements.push(format!(
                "INSERT INTO metric_snapshots (day, scope_id, metric, dim, value) \
                 SELECT $1, s.scope_id, '{metric}', 'all', COUNT(*) FROM assets a \
                 JOIN asset_scopes s ON s.asset_id = a.id WHERE {cond} GROUP BY s.scope_id"
            ));
            statements.push(format!(
                "INSERT INTO metric_snapshots (day, scope_id, metric, dim, value) \
                 SELECT $1, 0, '{metric}', 'all', COUNT(*) FROM assets a WHERE {cond}"
            ));
        }
        let mut written = 0;
        with_pool!(self, |p| {
            let mut tx = p.begin_write().await?;
            sqlx::query("DELETE FROM metric_snapshots WHERE day = $1")
                .bind(&d)
                .execute(&mut *tx)
                .await?;
            for sql in &statements {
                // Unused parameters are fine for both engines only when bound in order.
                let q = sqlx::query(sqlx::AssertSqlSafe(
                    sql.trim().trim_end_matches(';').to_string(),
                ))
                .bind(&d);
                let q = if sql.contains("$4") {
                    q.bind(start).bind(end).bind(now)
                } else if sql.contains("$3") {
                    q.bind(start).bind(end)
                } else {
                    q
                };
                written += q.execute(&mut *tx).await?.rows_affected();
            }
            for (scope, period) in periods {
                written += sqlx::query(
                    "INSERT INTO metric_snapshots (day, scope_id, metric, dim, value) \
                     SELECT $1, $2, 'scan_coverage', 'all', \
                     COALESCE(AVG(CASE WHEN a.last_seen >= $3 THEN 1.0 ELSE 0.0 END), 0) \
                     FROM assets a JOIN asset_scopes s ON s.asset_id = a.id \
                     WHERE s.scope_id = $2 AND a.decommissioned_at IS NULL",
                )
                .bind(&d)
                .bind(*scope)
                .bind(now - *period)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            }
            tx.commit().await?;
        });
        Ok(written)
    }

    /// Whether a snapshot of `day` exists.
    pub async fn has_metrics(&self, day: time::Date) -> Result<bool> {
        let n: i64 = with_pool!(self, |p| {
            sqlx::query_scalar(
            "SELECT COUNT(*) FROM metric_snapshots WHERE day = $1 AND scope_id = 0 AND metric = 'assets_live'"
        )
        .bind(day.to_string())
        .fetch_one(p)
        .await?
        });
        Ok(n > 0)
    }

    /// Stored metric rows between two days (inclusive), optionally of one scope and metric.
    pub async fn metrics(
        &self,
        from: time::Date,
        to: time::Date,
        scope: Option<i64>,
        metric: Option<&str>,
    ) -> Result<Vec<MetricRow>> {
        let rows: Vec<MetricRow> = with_pool!(self, |p| sqlx::query_as(
            "SELECT day, scope_id, metric, dim, value FROM metric_snapshots \
             WHERE day >= $1 AND day <= $2 AND ($3 IS NULL OR scope_id = $3) \
             AND ($4 IS NULL OR metric = $4) ORDER BY day, scope_id, metric, dim"
        )
        .bind(from.to_string())
        .bind(to.to_string())
        .bind(scope)
        .bind(metric)
        .fetch_all(p)
        .await?);
        Ok(rows)
    }
}
