//! Prioritization storage: results per vulnerability × asset profile (`priority_contexts`), their
//! history (`priority_changes`), and the knowledge the computation reads.
//!
//! A run ([`Store::prepare_priorities`] then [`Store::apply_priorities`]) is incremental: only
//! contexts whose result changed are written, and only their findings are touched.

use std::collections::BTreeMap;

use sqlx::FromRow;
use time::{Date, OffsetDateTime};
use vantage_domain::{
    CvssVector, FindingId, Prioritization, Priority, PriorityChange, PriorityResult, SsvcDecision,
};

use crate::backend::{BeginWrite, Pool, Store, with_pool};
use crate::error::{Result, StoreError};
use crate::sql::{from_opt_ts, from_ts, parse, ts};

/// A stored context, as a run compares it.
#[derive(Debug, Clone, PartialEq, FromRow)]
pub struct StoredContext {
    /// Row id.
    pub id: i64,
    /// Vulnerability.
    pub vuln_id: String,
    /// Asset profile: sorted scope ids joined by `,` (`''` for assets in no scope).
    pub profile: String,
    /// Digest of the stored result (0 for a context never computed).
    pub fingerprint: i64,
    /// Stored priority rank (meaningless while `fingerprint` is 0).
    pub priority: i16,
    /// Stored score.
    pub score: Option<f64>,
}

/// A context whose result changed.
#[derive(Debug, Clone, PartialEq)]
pub struct ChangedContext {
    /// Row id.
    pub id: i64,
    /// The new result.
    pub result: PriorityResult,
    /// A digest of the result: equal digests, nothing to write (never 0).
    pub fingerprint: i64,
    /// The previous priority and score; `None` for a context computed for the first time.
    pub old: Option<(Priority, Option<f64>)>,
}

impl ChangedContext {
    /// Whether the priority or the score moved (a history row, and its findings rewritten);
    /// otherwise only the explanation or the vectors changed.
    pub fn moved(&self) -> bool {
        self.old != Some((self.result.priority, self.result.score))
    }
}

/// What the knowledge base knows about the vulnerabilities that findings reference (and their
/// aliases), as flat rows keyed by vulnerability id.
#[derive(Debug, Default)]
pub struct PriorityKnowledge {
    /// (vuln, vector).
    pub vectors: Vec<(String, CvssVector)>,
    /// (cve, score, percentile, day) of the latest EPSS day of each CVE.
    pub epss: Vec<(String, f64, f64, Date)>,
    /// (cve, date added, known ransomware use).
    pub kev: Vec<(String, Date, bool)>,
    /// (cve, CERT-FR alert id) of alerts (ALE).
    pub certfr: Vec<(String, String)>,
    /// (cve, source, id) of public exploits.
    pub exploits: Vec<(String, String, String)>,
    /// (vuln, CISA's SSVC decision points).
    pub ssvc: Vec<(String, SsvcDecision)>,
    /// (vuln, publication).
    pub published: Vec<(String, OffsetDateTime)>,
    /// (context vuln, alias) in both directions: a GHSA's CVE, a CVE's DSA.
    pub aliases: Vec<(String, String)>,
}

/// What [`Store::apply_priorities`] wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct PriorityApplied {
    /// Contexts whose result changed (new ones included).
    pub contexts_changed: u64,
    /// Priority changes recorded in the history.
    pub priority_changes: u64,
    /// Findings whose priority or score was rewritten.
    pub findings_updated: u64,
    /// Findings attached to their context for the first time.
    pub findings_attached: u64,
}

/// The vulnerabilities a run needs: those of the contexts, and their aliases either way.
const IDS: &str = "WITH ids AS (SELECT vuln_id AS id FROM priority_contexts \
     UNION SELECT a.alias FROM vuln_aliases a JOIN priority_contexts c ON c.vuln_id = a.vuln_id \
     UNION SELECT a.vuln_id FROM vuln_aliases a JOIN priority_contexts c ON c.vuln_id = a.alias) ";

#[derive(FromRow)]
struct VectorRow {
    vuln_id: String,
    source: String,
    is_primary: bool,
    version: String,
    vector: String,
    base_score: Option<f64>,
}

#[derive(FromRow)]
struct SsvcRow {
    vuln_id: String,
    source: String,
    exploitation: Option<String>,
    automatable: Option<String>,
    technical_impact: Option<String>,
    version: Option<String>,
    decided_at: Option<i64>,
}

impl Store {
    /// First half of a run: records each asset's profile (the sorted ids of its scopes),
    /// detaches the findings of assets whose profile changed, and creates the missing
    /// (vulnerability, profile) contexts of unattached findings (to be computed). Returns the
    /// number of assets whose profile changed.
    pub async fn prepare_priorities(&self, now: OffsetDateTime) -> Result<u64> {
        let memberships: Vec<(i64, i64)> = with_pool!(self, |p| sqlx::query_as(
            "SELECT asset_id, scope_id FROM asset_scopes ORDER BY asset_id, scope_id"
        )
        .fetch_all(p)
        .await?);
        let mut profiles: BTreeMap<i64, String> = BTreeMap::new();
        for (asset, scope) in memberships {
            let p = profiles.entry(asset).or_default();
            if !p.is_empty() {
                p.push(',');
            }
            p.push_str(&scope.to_string());
        }
        let stored: Vec<(i64, Option<String>)> = with_pool!(self, |p| sqlx::query_as(
            "SELECT id, priority_profile FROM assets"
        )
        .fetch_all(p)
        .await?);
        let changed: Vec<(i64, String)> = stored
            .into_iter()
            .filter_map(|(id, old)| {
                let new = profiles.remove(&id).unwrap_or_default();
                (old.as_deref() != Some(new.as_str())).then_some((id, new))
            })
            .collect();
        const NEW_CONTEXTS: &str = "INSERT INTO priority_contexts (vuln_id, profile, priority, rule, \
             explanation, sla_days, fingerprint, updated_at) \
             SELECT DISTINCT f.vuln_id, a.priority_profile, 4, '', '', 0, 0, $1 \
             FROM findings f JOIN assets a ON a.id = f.asset_id WHERE f.context_id IS NULL \
             ON CONFLICT (vuln_id, profile) DO NOTHING";
        let now = ts(now);
        match &self.pool {
            Pool::Sqlite(p) => {
                let mut tx = p.begin_write().await?;
                for (id, profile) in &changed {
                    sqlx::query("UPDATE assets SET priority_profile = $1 WHERE id = $2")
                        .bind(profile)
                        .bind(id)
                        .execute(&mut *tx)
                        .await?;
                    sqlx::query(
                        "UPDATE findings SET context_id = NULL WHERE asset_id = $1 AND context_id IS NOT NULL",
                    )
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                }
                sqlx::query(NEW_CONTEXTS)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
            }
            Pool::Postgres(p) => {
                let mut tx = p.begin_write().await?;
                for chunk in changed.chunks(50_000) {
                    let ids: Vec<i64> = chunk.iter().map(|c| c.0).collect();
                    let names: Vec<String> = chunk.iter().map(|c| c.1.clone()).collect();
                    sqlx::query(
                        "UPDATE assets a SET priority_profile = u.p \
                         FROM UNNEST($1::bigint[], $2::text[]) AS u(id, p) WHERE a.id = u.id",
                    )
                    .bind(&ids)
                    .bind(&names)
                    .execute(&mut *tx)
                    .await?;
                    sqlx::query(
                        "UPDATE findings SET context_id = NULL \
                         WHERE asset_id = ANY($1) AND context_id IS NOT NULL",
                    )
                    .bind(&ids)
                    .execute(&mut *tx)
                    .await?;
                }
                let created = sqlx::query(NEW_CONTEXTS)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                tx.commit().await?;
                // Many new contexts (a first run): fresh planner statistics for what follows.
                if created > 10_000 {
                    sqlx::query("ANALYZE priority_contexts").execute(p).await?;
                }
            }
        }
        Ok(changed.len() as u64)
    }

    /// Every context, to be recomputed.
    pub async fn priority_contexts(&self) -> Result<Vec<StoredContext>> {
        Ok(with_pool!(self, |p| {
            sqlx::query_as(
            "SELECT id, vuln_id, profile, fingerprint, priority, score FROM priority_contexts ORDER BY id"
        )
        .fetch_all(p)
        .await?
        }))
    }

    /// The knowledge about every vulnerability of a context (and its aliases).
    pub async fn priority_knowledge(&self) -> Result<PriorityKnowledge> {
        let mut k = PriorityKnowledge::default();
        let vectors: Vec<VectorRow> =
            with_pool!(self, |p| sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "{IDS}SELECT DISTINCT vuln_id, source, is_primary, version, vector, base_score \
                 FROM cvss_vectors WHERE vuln_id IN (SELECT id FROM ids)"
            )))
            .fetch_all(p)
            .await?);
        for v in vectors {
            let version = parse(&v.version, "cvss_vectors version")?;
            k.vectors.push((
                v.vuln_id,
                CvssVector {
                    source: v.source,
                    primary: v.is_primary,
                    version,
                    vector: v.vector,
                    base_score: v.base_score,
                },
            ));
        }
        k.epss = with_pool!(self, |p| sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "{IDS}SELECT e.cve, e.score, e.percentile, e.day FROM epss_scores e \
             WHERE e.cve IN (SELECT id FROM ids) \
             AND e.day = (SELECT max(day) FROM epss_scores l WHERE l.cve = e.cve)"
        )))
        .fetch_all(p)
        .await?);
        k.kev = with_pool!(self, |p| sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "{IDS}SELECT cve, date_added, known_ransomware FROM kev_entries \
             WHERE cve IN (SELECT id FROM ids)"
        )))
        .fetch_all(p)
        .await?);
        k.certfr = with_pool!(self, |p| sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "{IDS}SELECT cve, id FROM certfr_alerts WHERE cve IN (SELECT id FROM ids) \
             AND id LIKE '%-ALE-%' ORDER BY id"
        )))
        .fetch_all(p)
        .await?);
        k.exploits = with_pool!(self, |p| {
            sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "{IDS}SELECT cve, source, source_id FROM exploits WHERE cve IN (SELECT id FROM ids) \
             ORDER BY cve, source, source_id"
        )))
        .fetch_all(p)
        .await?
        });
        let ssvc: Vec<SsvcRow> = with_pool!(self, |p| {
            sqlx::query_as(sqlx::AssertSqlSafe(
            format!(
                "{IDS}SELECT vuln_id, source, exploitation, automatable, technical_impact, version, \
                 decided_at FROM ssvc_decisions WHERE vuln_id IN (SELECT id FROM ids)"
            )
        ))
        .fetch_all(p)
        .await?
        });
        for r in ssvc {
            k.ssvc.push((
                r.vuln_id,
                SsvcDecision {
                    source: r.source,
                    exploitation: r.exploitation,
                    automatable: r.automatable,
                    technical_impact: r.technical_impact,
                    version: r.version,
                    decided_at: from_opt_ts(r.decided_at, "ssvc decided_at")?,
                },
            ));
        }
        let published: Vec<(String, i64)> =
            with_pool!(self, |p| sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "{IDS}SELECT id, published FROM vulnerabilities \
                 WHERE id IN (SELECT id FROM ids) AND published IS NOT NULL"
            )))
            .fetch_all(p)
            .await?);
        for (id, t) in published {
            k.published
                .push((id, from_ts(t, "vulnerability published")?));
        }
        k.aliases = with_pool!(self, |p| sqlx::query_as(
            "SELECT DISTINCT c.vuln_id, a.alias FROM vuln_aliases a \
             JOIN priority_contexts c ON c.vuln_id = a.vuln_id \
             UNION SELECT DISTINCT c.vuln_id, a.vuln_id FROM vuln_aliases a \
             JOIN priority_contexts c ON c.vuln_id = a.alias"
        )
        .fetch_all(p)
        .await?);
        Ok(k)
    }

    /// Second half of a run, in one transaction: writes the changed contexts; for those whose
    /// priority or score moved, records a history row and rewrites their findings' priority and
    /// score (only those findings are touched); then attaches unattached findings to their
    /// context.
    pub async fn apply_priorities(
        &self,
        changed: &[ChangedContext],
        now: OffsetDateTime,
    ) -> Result<PriorityApplied> {
        let now = ts(now);
        let moved: Vec<&ChangedContext> = changed.iter().filter(|c| c.moved()).collect();
        let mut applied = PriorityApplied {
            contexts_changed: changed.len() as u64,
            priority_changes: moved.len() as u64,
            ..Default::default()
        };
        const HISTORY: &str = "INSERT INTO priority_changes (context_id, changed_at, old_priority, \
             new_priority, old_score, new_score, explanation) VALUES ($1, $2, $3, $4, $5, $6, $7)";
        const UPDATE: &str = "UPDATE priority_contexts SET priority = $2, score = $3, \
             base_score = $4, source_vector = $5, vector_source = $6, derived_vector = $7, \
             ssvc = $8, rule = $9, explanation = $10, sla_days = $11, fingerprint = $12, \
             updated_at = $13 WHERE id = $1";
        // One statement per asset profile (a handful): the join is then findings ⋈ contexts on
        // the vulnerability alone. A single statement joining assets and contexts on the
        // profile let PostgreSQL pair every asset with every context of its profile first.
        let attach = format!(
            "UPDATE findings SET context_id = c.id, priority = c.priority, \
             score = c.score, {} FROM priority_contexts c \
             WHERE findings.context_id IS NULL \
             AND findings.asset_id IN (SELECT id FROM assets WHERE priority_profile = $1) \
             AND c.profile = $1 AND c.vuln_id = findings.vuln_id",
            priority_clock("findings", "c.priority", "$2")
        );
        let attach = attach.as_str();
        let profiles: Vec<String> = with_pool!(self, |p| sqlx::query_scalar(
            "SELECT DISTINCT priority_profile FROM assets WHERE priority_profile IS NOT NULL"
        )
        .fetch_all(p)
        .await?);
        match &self.pool {
            Pool::Sqlite(p) => {
                let mut tx = p.begin_write().await?;
                for c in changed {
                    let r = &c.result;
                    sqlx::query(UPDATE)
                        .bind(c.id)
                        .bind(r.priority.rank())
                        .bind(r.score)
                        .bind(r.base_score)
                        .bind(&r.source_vector)
                        .bind(&r.vector_source)
                        .bind(&r.derived_vector)
                        .bind(r.ssvc.map(|s| s.as_str()))
                        .bind(&r.rule)
                        .bind(&r.explanation)
                        .bind(i64::from(r.sla_days))
                        .bind(c.fingerprint)
                        .bind(now)
                        .execute(&mut *tx)
                        .await?;
                }
                for c in &moved {
                    sqlx::query(HISTORY)
                        .bind(c.id)
                        .bind(now)
                        .bind(c.old.map(|o| o.0.rank()))
                        .bind(c.result.priority.rank())
                        .bind(c.old.and_then(|o| o.1))
                        .bind(c.result.score)
                        .bind(&c.result.explanation)
                        .execute(&mut *tx)
                        .await?;
                    if c.old.is_some() {
                        let sql = format!(
                            "UPDATE findings SET priority = $1, score = $2, {} WHERE context_id = $3",
                            priority_clock("findings", "$1", "$4")
                        );
                        applied.findings_updated += sqlx::query(sqlx::AssertSqlSafe(sql))
                            .bind(c.result.priority.rank())
                            .bind(c.result.score)
                            .bind(c.id)
                            .bind(now)
                            .execute(&mut *tx)
                            .await?
                            .rows_affected();
                    }
                }
                for profile in &profiles {
                    applied.findings_attached += sqlx::query(sqlx::AssertSqlSafe(attach))
                        .bind(profile)
                        .bind(now)
                        .execute(&mut *tx)
                        .await?
                        .rows_affected();
                }
                tx.commit().await?;
            }
            Pool::Postgres(p) => {
                // Column arrays, 10,000 rows per statement: a round trip per row would dominate
                // a run that touches hundreds of thousands of contexts.
                let mut tx = p.begin_write().await?;
                for chunk in changed.chunks(10_000) {
                    let col = |f: &dyn Fn(&PriorityResult) -> Option<String>| {
                        chunk.iter().map(|c| f(&c.result)).collect::<Vec<_>>()
                    };
                    sqlx::query(
                        "UPDATE priority_contexts c SET priority = u.priority, score = u.score, \
                         base_score = u.base_score, source_vector = u.source_vector, \
                         vector_source = u.vector_source, derived_vector = u.derived_vector, \
                         ssvc = u.ssvc, rule = u.rule, explanation = u.explanation, \
                         sla_days = u.sla_days, fingerprint = u.fingerprint, updated_at = $1 \
                         FROM UNNEST($2::bigint[], $3::smallint[], $4::float8[], $5::float8[], \
                         $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::text[], \
                         $12::int[], $13::bigint[]) AS u(id, priority, score, base_score, \
                         source_vector, vector_source, derived_vector, ssvc, rule, explanation, \
                         sla_days, fingerprint) WHERE c.id = u.id",
                    )
                    .bind(now)
                    .bind(chunk.iter().map(|c| c.id).collect::<Vec<i64>>())
                    .bind(
                        chunk
                            .iter()
                            .map(|c| c.result.priority.rank())
                            .collect::<Vec<i16>>(),
                    )
                    .bind(
                        chunk
                            .iter()
                            .map(|c| c.result.score)
                            .collect::<Vec<Option<f64>>>(),
                    )
                    .bind(
                        chunk
                            .iter()
                            .map(|c| c.result.base_score)
                            .collect::<Vec<Option<f64>>>(),
                    )
                    .bind(col(&|r| r.source_vector.clone()))
                    .bind(col(&|r| r.vector_source.clone()))
                    .bind(col(&|r| r.derived_vector.clone()))
                    .bind(col(&|r| r.ssvc.map(|s| s.as_str().to_string())))
                    .bind(col(&|r| Some(r.rule.clone())))
                    .bind(col(&|r| Some(r.explanation.clone())))
                    .bind(
                        chunk
                            .iter()
                            .map(|c| c.result.sla_days as i32)
                            .collect::<Vec<i32>>(),
                    )
                    .bind(chunk.iter().map(|c| c.fingerprint).collect::<Vec<i64>>())
                    .execute(&mut *tx)
                    .await?;
                }
                for chunk in moved.chunks(10_000) {
                    let ids: Vec<i64> = chunk.iter().map(|c| c.id).collect();
                    let priority: Vec<i16> =
                        chunk.iter().map(|c| c.result.priority.rank()).collect();
                    let score: Vec<Option<f64>> = chunk.iter().map(|c| c.result.score).collect();
                    sqlx::query(
                        "INSERT INTO priority_changes (context_id, changed_at, old_priority, \
                         new_priority, old_score, new_score, explanation) \
                         SELECT u.id, $1, u.old_priority, u.priority, u.old_score, u.score, \
                         u.explanation FROM UNNEST($2::bigint[], $3::smallint[], $4::smallint[], \
                         $5::float8[], $6::float8[], $7::text[]) \
                         AS u(id, old_priority, priority, old_score, score, explanation)",
                    )
                    .bind(now)
                    .bind(&ids)
                    .bind(
                        chunk
                            .iter()
                            .map(|c| c.old.map(|o| o.0.rank()))
                            .collect::<Vec<Option<i16>>>(),
                    )
                    .bind(&priority)
                    .bind(
                        chunk
                            .iter()
                            .map(|c| c.old.and_then(|o| o.1))
                            .collect::<Vec<Option<f64>>>(),
                    )
                    .bind(&score)
                    .bind(
                        chunk
                            .iter()
                            .map(|c| c.result.explanation.clone())
                            .collect::<Vec<String>>(),
                    )
                    .execute(&mut *tx)
                    .await?;
                    let sql = format!(
                        "UPDATE findings f SET priority = u.priority, score = u.score, {} \
                         FROM UNNEST($1::bigint[], $2::smallint[], $3::float8[]) \
                         AS u(id, priority, score) WHERE f.context_id = u.id",
                        priority_clock("f", "u.priority", "$4")
                    );
                    applied.findings_updated += sqlx::query(sqlx::AssertSqlSafe(sql))
                        .bind(&ids)
                        .bind(&priority)
                        .bind(&score)
                        .bind(now)
                        .execute(&mut *tx)
                        .await?
                        .rows_affected();
                }
                if !profiles.is_empty() {
                    // Fresh statistics first: after a bulk detection the planner believed the
                    // tables nearly empty (measured: over 10 minutes for 3.25 M new findings).
                    sqlx::query("ANALYZE findings, priority_contexts")
                        .execute(&mut *tx)
                        .await?;
                }
                // Driven by the unattached findings (the partial index `findings_unprioritized`,
                // or one scan): joining from the contexts instead made PostgreSQL fetch every
                // finding of every vulnerability through `findings_vuln` and filter — 54 s for
                // 1,000 new findings among 2.5 M, where this takes milliseconds.
                let attach_pg = format!(
                    "WITH todo AS MATERIALIZED (SELECT f.id, f.vuln_id \
                     FROM findings f WHERE f.context_id IS NULL \
                     AND f.asset_id IN (SELECT id FROM assets WHERE priority_profile = $1)) \
                     UPDATE findings SET context_id = c.id, priority = c.priority, score = c.score, {} \
                     FROM todo JOIN priority_contexts c ON c.profile = $1 AND c.vuln_id = todo.vuln_id \
                     WHERE findings.id = todo.id",
                    priority_clock("findings", "c.priority", "$2")
                );
                for profile in &profiles {
                    applied.findings_attached +=
                        sqlx::query(sqlx::AssertSqlSafe(attach_pg.clone()))
                            .bind(profile)
                            .bind(now)
                            .execute(&mut *tx)
                            .await?
                            .rows_affected();
                }
                tx.commit().await?;
                // A bulk attach leaves as many dead row versions as findings it attached, all
                // still in the `context_id IS NULL` index: the next small run would walk them
                // (measured: 4.4 s for 300 new findings after 760,000 were attached). Cleared now
                // rather than at autovacuum's next pass.
                if applied.findings_attached + applied.findings_updated > 100_000 {
                    sqlx::query("VACUUM (ANALYZE) findings").execute(p).await?;
                }
            }
        }
        Ok(applied)
    }

    /// Priority policies edited through the API: (name, TOML text), by name.
    pub async fn priority_policies(&self) -> Result<Vec<(String, String)>> {
        Ok(with_pool!(self, |p| sqlx::query_as(
            "SELECT name, body FROM priority_policies ORDER BY name"
        )
        .fetch_all(p)
        .await?))
    }

    /// Creates or replaces a policy (its TOML text, validated by the caller).
    pub async fn put_priority_policy(
        &self,
        name: &str,
        body: &str,
        now: OffsetDateTime,
    ) -> Result<()> {
        with_pool!(self, |p| {
            sqlx::query(
            "INSERT INTO priority_policies (name, body, updated_at) VALUES ($1, $2, $3) \
             ON CONFLICT (name) DO UPDATE SET body = excluded.body, updated_at = excluded.updated_at"
        )
        .bind(name)
        .bind(body)
        .bind(ts(now))
        .execute(p)
        .await?
        .rows_affected()
        });
        Ok(())
    }

    /// Removes a policy edited through the API; false when there was none of that name.
    pub async fn delete_priority_policy(&self, name: &str) -> Result<bool> {
        let n = with_pool!(self, |p| sqlx::query(
            "DELETE FROM priority_policies WHERE name = $1"
        )
        .bind(name)
        .execute(p)
        .await?
        .rows_affected());
        Ok(n > 0)
    }

    /// Scopes whose priority policy is `name`.
    pub async fn scopes_using_policy(&self, name: &str) -> Result<Vec<String>> {
        Ok(with_pool!(self, |p| sqlx::query_scalar(
            "SELECT name FROM scopes WHERE priority_policy = $1 ORDER BY name"
        )
        .bind(name)
        .fetch_all(p)
        .await?))
    }

    /// Findings with no context yet (new since the last run, or their asset changed scopes).
    pub async fn unprioritized_findings(&self) -> Result<i64> {
        Ok(with_pool!(self, |p| sqlx::query_scalar(
            "SELECT COUNT(*) FROM findings WHERE context_id IS NULL"
        )
        .fetch_one(p)
        .await?))
    }

    /// The prioritization of a finding, with its due date.
    pub async fn prioritization(&self, finding: FindingId) -> Result<Option<Prioritization>> {
        let sql = format!(
            "SELECT {PRIORITIZATION_COLUMNS} FROM findings f \
             JOIN priority_contexts c ON c.id = f.context_id WHERE f.id = $1"
        );
        let row: Option<PrioritizationRow> =
            with_pool!(self, |p| sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(finding.0)
                .fetch_optional(p)
                .await?);
        Ok(row.map(PrioritizationRow::decode).transpose()?.flatten())
    }

    /// A finding's priority history, oldest first.
    pub async fn priority_history(&self, finding: FindingId) -> Result<Vec<PriorityChange>> {
        let rows: Vec<HistoryRow> = with_pool!(self, |p| {
            sqlx::query_as(
                "SELECT h.changed_at, h.old_priority, h.new_priority, h.old_score, h.new_score, \
                 h.explanation FROM findings f JOIN priority_changes h ON h.context_id = f.context_id \
                 WHERE f.id = $1 ORDER BY h.changed_at, h.id"
            )
            .bind(finding.0)
            .fetch_all(p)
            .await?
        });
        rows.into_iter()
            .map(|(at, old, new, old_score, new_score, explanation)| {
                Ok(PriorityChange {
                    changed_at: from_ts(at, "priority change time")?,
                    old_priority: old.map(rank).transpose()?,
                    new_priority: rank(new)?,
                    old_score,
                    new_score,
                    explanation,
                })
            })
            .collect()
    }
}

/// changed_at, old priority, new priority, old score, new score, explanation.
type HistoryRow = (i64, Option<i16>, i16, Option<f64>, Option<f64>, String);

/// SET clauses for a change of `t`'s priority (`t`: the findings table's name or alias) to
/// `new` at `now` (SQL expressions): the time spent in the old priority, up to the fix when the
/// finding is fixed, is added to that priority's counter, and the new one starts counting.
fn priority_clock(t: &str, new: &str, now: &str) -> String {
    let end = format!(
        "CASE WHEN {t}.fixed_at IS NOT NULL AND {t}.fixed_at < {now} THEN {t}.fixed_at ELSE {now} END"
    );
    let mut s = String::new();
    for p in 1..=4 {
        s += &format!(
            "p{p}_seconds = {t}.p{p}_seconds + CASE WHEN {t}.priority = {p} AND {new} <> {p} \
             THEN {end} - COALESCE({t}.priority_since, {t}.first_detected) ELSE 0 END, "
        );
    }
    s += &format!(
        "priority_since = CASE WHEN COALESCE({t}.priority, 0) <> {new} THEN {now} ELSE {t}.priority_since END"
    );
    s
}

fn rank(r: i16) -> Result<Priority> {
    Priority::from_rank(r).ok_or_else(|| StoreError::corrupt("priority", r))
}

/// Columns of a joined `priority_contexts c` and `findings f` that make a [`Prioritization`].
pub(crate) const PRIORITIZATION_COLUMNS: &str = "c.priority AS p_priority, c.score AS p_score, \
    c.base_score AS p_base_score, c.source_vector AS p_source_vector, \
    c.vector_source AS p_vector_source, c.derived_vector AS p_derived_vector, c.ssvc AS p_ssvc, \
    c.rule AS p_rule, c.explanation AS p_explanation, c.sla_days AS p_sla_days, \
    c.updated_at AS p_updated_at, f.first_detected AS p_first_detected";

/// The prioritization columns of a row; all NULL when the finding has no context yet.
#[derive(FromRow)]
pub(crate) struct PrioritizationRow {
    p_priority: Option<i16>,
    p_score: Option<f64>,
    p_base_score: Option<f64>,
    p_source_vector: Option<String>,
    p_vector_source: Option<String>,
    p_derived_vector: Option<String>,
    p_ssvc: Option<String>,
    p_rule: Option<String>,
    p_explanation: Option<String>,
    p_sla_days: Option<i32>,
    p_updated_at: Option<i64>,
    p_first_detected: i64,
}

impl PrioritizationRow {
    /// The prioritization, or `None` when the finding has not been prioritized.
    pub(crate) fn decode(self) -> Result<Option<Prioritization>> {
        let (Some(priority), Some(sla_days), Some(updated_at)) =
            (self.p_priority, self.p_sla_days, self.p_updated_at)
        else {
            return Ok(None);
        };
        let sla_days = u32::try_from(sla_days).map_err(|e| StoreError::corrupt("sla_days", e))?;
        let first = from_ts(self.p_first_detected, "finding first_detected")?;
        Ok(Some(Prioritization {
            result: PriorityResult {
                priority: rank(priority)?,
                score: self.p_score,
                base_score: self.p_base_score,
                source_vector: self.p_source_vector,
                vector_source: self.p_vector_source,
                derived_vector: self.p_derived_vector,
                ssvc: self
                    .p_ssvc
                    .as_deref()
                    .map(|s| parse(s, "ssvc"))
                    .transpose()?,
                rule: self.p_rule.unwrap_or_default(),
                explanation: self.p_explanation.unwrap_or_default(),
                sla_days,
            },
            due: Some(first + time::Duration::days(i64::from(sla_days))),
            updated_at: from_ts(updated_at, "priority updated_at")?,
        }))
    }
}
