//! What attack-path analysis reads (live assets, scope memberships, open services, cloud
//! exposures, open findings with their vulnerability's vector, CWEs, EPSS and KEV status) and
//! the verdict it writes back on each open finding (`attack_path`: on a path or not).

use std::collections::HashMap;

use crate::backend::{BeginWrite, Store, with_pool};
use crate::error::Result;
use crate::findings::OPEN_STATUSES;

/// One open finding as the analysis sees it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PathFinding {
    /// Finding id.
    pub id: i64,
    /// Its asset.
    pub asset_id: i64,
    /// Vulnerability.
    pub vuln_id: String,
    /// package, service, os or config.
    pub component_kind: String,
    /// `tcp/443` for a service.
    pub component: String,
}

/// Facts about a vulnerability that decide how an attacker can use it.
#[derive(Debug, Clone, Default)]
pub struct PathVuln {
    /// CVSS vectors (version, vector, primary).
    pub vectors: Vec<(String, String, bool)>,
    /// CWE ids (`CWE-798`).
    pub cwes: Vec<String>,
    /// Latest EPSS probability.
    pub epss: Option<f64>,
    /// In CISA KEV.
    pub kev: bool,
}

/// Everything the analysis reads, in one consistent read.
#[derive(Debug, Clone, Default)]
pub struct PathInput {
    /// Live assets: (id, name).
    pub assets: Vec<(i64, String)>,
    /// Scope memberships: (asset, scope).
    pub memberships: Vec<(i64, i64)>,
    /// Open services: (asset, transport, port).
    pub services: Vec<(i64, String, i32)>,
    /// Cloud firewall openings to any address: (asset, protocol, from, to).
    pub exposures: Vec<(i64, String, i32, i32)>,
    /// Cloud resources the provider reports internet-exposed.
    pub internet_exposed: Vec<i64>,
    /// Open findings.
    pub findings: Vec<PathFinding>,
    /// Their vulnerabilities.
    pub vulns: HashMap<String, PathVuln>,
}

impl Store {
    /// Reads the attack-path input.
    pub async fn path_input(&self) -> Result<PathInput> {
        let mut input = PathInput::default();
        let open = OPEN_STATUSES;
        with_pool!(self, |p| {
            input.assets = sqlx::query_as(
                "SELECT id, name FROM assets WHERE decommissioned_at IS NULL ORDER BY id",
            )
            .fetch_all(p)
            .await?;
            input.memberships = sqlx::query_as("SELECT asset_id, scope_id FROM asset_scopes")
                .fetch_all(p)
                .await?;
            input.services = sqlx::query_as(
                "SELECT asset_id, transport, port FROM services WHERE closed_at IS NULL",
            )
            .fetch_all(p)
            .await?;
            input.exposures = sqlx::query_as(
                "SELECT asset_id, protocol, from_port, to_port FROM cloud_exposures",
            )
            .fetch_all(p)
            .await?;
            input.internet_exposed =
                sqlx::query_scalar("SELECT asset_id FROM cloud_resources WHERE internet_exposed")
                    .fetch_all(p)
                    .await?;
            input.findings = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT id, asset_id, vuln_id, component_kind, component FROM findings \
                 WHERE status IN {open}"
            )))
            .fetch_all(p)
            .await?;
            let open_vulns =
                format!("SELECT DISTINCT vuln_id FROM findings WHERE status IN {open}");
            let vectors: Vec<(String, String, String, bool)> =
                sqlx::query_as(sqlx::AssertSqlSafe(format!(
                    "SELECT vuln_id, version, vector, is_primary FROM cvss_vectors \
                     WHERE vuln_id IN ({open_vulns})"
                )))
                .fetch_all(p)
                .await?;
            for (v, version, vector, primary) in vectors {
                input
                    .vulns
                    .entry(v)
                    .or_default()
                    .vectors
                    .push((version, vector, primary));
            }
            let cwes: Vec<(String, String)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT id, cwes FROM vulnerabilities WHERE id IN ({open_vulns})"
            )))
            .fetch_all(p)
            .await?;
            for (v, list) in cwes {
                input.vulns.entry(v).or_default().cwes =
                    serde_json::from_str(&list).unwrap_or_default();
            }
            let epss: Vec<(String, f64)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT cve, score FROM epss_scores WHERE day = (SELECT MAX(day) FROM epss_scores) \
                 AND cve IN ({open_vulns})"
            )))
            .fetch_all(p)
            .await?;
            for (v, s) in epss {
                input.vulns.entry(v).or_default().epss = Some(s);
            }
            let kev: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                "SELECT cve FROM kev_entries WHERE cve IN ({open_vulns})"
            )))
            .fetch_all(p)
            .await?;
            for v in kev {
                input.vulns.entry(v).or_default().kev = true;
            }
        });
        Ok(input)
    }

    /// Records the analysis's verdict in one transaction: the findings in `on_path` are on a
    /// known attack path; every other finding detected before `at` is on none (only the
    /// on-path set is written, so a run costs what is on a path, not the whole table).
    pub async fn set_attack_path_verdicts(
        &self,
        on_path: &[i64],
        at: time::OffsetDateTime,
    ) -> Result<()> {
        with_pool!(self, |p| {
            let mut tx = p.begin_write().await?;
            sqlx::query("UPDATE findings SET attack_path = NULL WHERE attack_path = 1")
                .execute(&mut *tx)
                .await?;
            sqlx::query(
                "INSERT INTO settings (key, value) VALUES ('attack_paths.analysed_at', $1) \
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            )
            .bind(at.unix_timestamp().to_string())
            .execute(&mut *tx)
            .await?;
            for chunk in on_path.chunks(5000) {
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "UPDATE findings SET attack_path = 1 WHERE id IN ({})",
                    crate::sql::id_list(chunk.iter().copied())
                )))
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }
}

/// The facts scope rules look at, for every live asset, in four reads.
#[derive(Debug, Clone, Default)]
pub struct MemberRows {
    /// (id, kind, name).
    pub assets: Vec<(i64, String, String)>,
    /// (asset, kind, value) of `ip`, `fqdn` and `hostname` identifiers.
    pub identifiers: Vec<(i64, String, String)>,
    /// (asset, key, value).
    pub tags: Vec<(i64, String, String)>,
    /// (asset, provider, account, region).
    pub cloud: Vec<(i64, String, String, String)>,
}

impl Store {
    /// Reads [`MemberRows`] for every live asset (re-evaluating scope rules over the inventory).
    pub async fn member_rows(&self) -> Result<MemberRows> {
        let mut m = MemberRows::default();
        with_pool!(self, |p| {
            m.assets = sqlx::query_as(
                "SELECT id, kind, name FROM assets WHERE decommissioned_at IS NULL ORDER BY id",
            )
            .fetch_all(p)
            .await?;
            m.identifiers = sqlx::query_as(
                "SELECT asset_id, kind, value FROM asset_identifiers \
                 WHERE kind IN ('ip', 'fqdn', 'hostname')",
            )
            .fetch_all(p)
            .await?;
            m.tags = sqlx::query_as("SELECT asset_id, key, value FROM asset_tags")
                .fetch_all(p)
                .await?;
            m.cloud =
                sqlx::query_as("SELECT asset_id, provider, account, region FROM cloud_resources")
                    .fetch_all(p)
                    .await?;
        });
        Ok(m)
    }
}
