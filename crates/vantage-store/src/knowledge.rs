//! The knowledge base: per-feed vulnerability records, CVSS vectors, SSVC decisions, EPSS
//! history, KEV, CERT-FR and exploits; written through an [`ImportTx`] (one transaction per
//! imported file: a failed import leaves the previous data intact) and read back merged.

use std::collections::HashMap;

use sqlx::{FromRow, QueryBuilder};
use time::{Date, OffsetDateTime};
use vantage_domain::{
    CertFrAlert, CpeMatch, CvssVector, DistroFix, EpssScore, Exploit, FeedCvss, FeedKind,
    FeedRecord, ImportCounts, KevEntry, SsvcDecision, VulnFilter, VulnId, VulnRecord, VulnSummary,
    VulnerabilityView,
};

use crate::backend::{BeginWrite, Pool, Store, with_pool};
use crate::error::{Result, StoreError};
use crate::sql::{from_opt_ts, parse, placeholders, ts};

/// Rows per multi-row statement in the knowledge tables (at most 8 columns: 8,000 parameters).
const BATCH: usize = 1000;

enum Tx {
    Sqlite(sqlx::Transaction<'static, sqlx::Sqlite>),
    Postgres(sqlx::Transaction<'static, sqlx::Postgres>),
}

/// An import in progress: everything written through it becomes visible at [`ImportTx::commit`],
/// or not at all (dropping it rolls back).
pub struct ImportTx {
    tx: Tx,
    now: OffsetDateTime,
}

/// Runs the same expression on whichever transaction the import holds (`$c` is the connection).
macro_rules! with_tx {
    ($self:expr, |$c:ident| $body:expr) => {
        match &mut $self.tx {
            Tx::Sqlite(t) => {
                let $c = &mut **t;
                $body
            }
            Tx::Postgres(t) => {
                let $c = &mut **t;
                $body
            }
        }
    };
}

/// A completed import, as recorded in `feed_imports`.
#[derive(Debug, Clone)]
pub struct ImportLog {
    /// Which feed.
    pub feed: FeedKind,
    /// The file imported.
    pub path: String,
    /// SHA-256 of the file's bytes.
    pub file_sha256: String,
    /// The data's own date (EPSS score date, KEV catalogue version …).
    pub data_date: Option<String>,
    /// When the import started.
    pub started_at: OffsetDateTime,
    /// What it did.
    pub counts: ImportCounts,
}

fn json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "[]".into())
}

impl Store {
    /// Starts an import transaction.
    pub async fn begin_import(&self, now: OffsetDateTime) -> Result<ImportTx> {
        let tx = match &self.pool {
            Pool::Sqlite(p) => Tx::Sqlite(p.begin_write().await?),
            Pool::Postgres(p) => Tx::Postgres(p.begin_write().await?),
        };
        Ok(ImportTx { tx, now })
    }

    /// The stored digest of every record of a feed, by vulnerability id, so a parser can skip
    /// unchanged records without parsing them.
    pub async fn vuln_digests(&self, feed: FeedKind) -> Result<HashMap<String, String>> {
        const SQL: &str = "SELECT vuln_id, content_hash FROM vuln_records WHERE feed = $1";
        let rows: Vec<(String, String)> = with_pool!(self, |p| sqlx::query_as(SQL)
            .bind(feed.as_str())
            .fetch_all(p)
            .await?);
        Ok(rows.into_iter().collect())
    }

    /// Whether a file with this digest was already imported completely for this feed.
    pub async fn imported_before(&self, feed: FeedKind, file_sha256: &str) -> Result<bool> {
        const SQL: &str = "SELECT COUNT(*) FROM feed_imports WHERE feed = $1 AND file_sha256 = $2";
        let n: i64 = with_pool!(self, |p| sqlx::query_scalar(SQL)
            .bind(feed.as_str())
            .bind(file_sha256)
            .fetch_one(p)
            .await?);
        Ok(n > 0)
    }
}

impl ImportTx {
    /// Applies vulnerability records of one feed. A record identical to the stored one is
    /// skipped; one older than the stored one is skipped too (a newer record is never replaced
    /// by an older one); anything else replaces this feed's facts about that vulnerability.
    pub async fn vuln_records(&mut self, records: &[VulnRecord]) -> Result<ImportCounts> {
        let mut counts = ImportCounts::default();
        for chunk in records.chunks(BATCH) {
            counts += self.vuln_chunk(chunk).await?;
        }
        Ok(counts)
    }

    async fn vuln_chunk(&mut self, chunk: &[VulnRecord]) -> Result<ImportCounts> {
        let Some(feed) = chunk.first().map(|r| r.feed) else {
            return Ok(ImportCounts::default());
        };
        let sql = format!(
            "SELECT vuln_id, content_hash, modified FROM vuln_records WHERE feed = $1 AND vuln_id IN ({})",
            placeholders(chunk.len(), 2)
        );
        let existing: Vec<(String, String, Option<i64>)> = with_tx!(self, |c| {
            let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(feed.as_str());
            for r in chunk {
                q = q.bind(r.id.as_str());
            }
            q.fetch_all(c).await?
        });
        let known: HashMap<&str, (&str, Option<i64>)> = existing
            .iter()
            .map(|(id, h, m)| (id.as_str(), (h.as_str(), *m)))
            .collect();
        let mut counts = ImportCounts {
            records: chunk.len() as u64,
            ..Default::default()
        };
        let mut apply: Vec<&VulnRecord> = Vec::new();
        for r in chunk {
            match known.get(r.id.as_str()) {
                None => {
                    counts.new += 1;
                    apply.push(r);
                }
                Some((hash, _)) if *hash == r.content_hash => counts.unchanged += 1,
                Some((_, Some(stored))) if r.modified.is_some_and(|m| ts(m) < *stored) => {
                    counts.unchanged += 1
                }
                Some(_) => {
                    counts.changed += 1;
                    apply.push(r);
                }
            }
        }
        if !apply.is_empty() {
            self.replace_vulns(feed, &apply).await?;
        }
        Ok(counts)
    }

    async fn replace_vulns(&mut self, feed: FeedKind, recs: &[&VulnRecord]) -> Result<()> {
        let now = ts(self.now);
        let ids = placeholders(recs.len(), 2);
        // The language packages these records named before: re-detection judges them again.
        let sql = format!(
            "INSERT INTO detection_changes (kind, scope, name) SELECT DISTINCT 'osv', ecosystem, name \
             FROM osv_packages WHERE feed = $1 AND vuln_id IN ({ids}) ON CONFLICT DO NOTHING"
        );
        with_tx!(self, |c| {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(feed.as_str());
            for r in recs {
                q = q.bind(r.id.as_str());
            }
            q.execute(c).await?;
        });
        for table in [
            "vuln_aliases",
            "cvss_vectors",
            "ssvc_decisions",
            "osv_packages",
        ] {
            let sql = format!("DELETE FROM {table} WHERE feed = $1 AND vuln_id IN ({ids})");
            with_tx!(self, |c| {
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(feed.as_str());
                for r in recs {
                    q = q.bind(r.id.as_str());
                }
                q.execute(c).await?;
            });
        }
        with_tx!(self, |c| {
            let mut qb = QueryBuilder::new(
                "INSERT INTO vuln_records (vuln_id, feed, summary, status, published, modified, cwes, refs, \
                 cpe_matches, affected, content_hash, imported_at) ",
            );
            qb.push_values(recs, |mut b, r| {
                b.push_bind(r.id.as_str().to_string())
                    .push_bind(feed.as_str())
                    .push_bind(r.summary.clone())
                    .push_bind(r.status.clone())
                    .push_bind(r.published.map(ts))
                    .push_bind(r.modified.map(ts))
                    .push_bind(json(&r.cwes))
                    .push_bind(json(&r.references))
                    .push_bind(json(&r.cpe_matches))
                    .push_bind(json(&r.affected))
                    .push_bind(r.content_hash.clone())
                    .push_bind(now);
            });
            qb.push(
                " ON CONFLICT (vuln_id, feed) DO UPDATE SET summary = excluded.summary, status = excluded.status, \
                 published = excluded.published, modified = excluded.modified, cwes = excluded.cwes, \
                 refs = excluded.refs, cpe_matches = excluded.cpe_matches, affected = excluded.affected, \
                 content_hash = excluded.content_hash, imported_at = excluded.imported_at",
            );
            qb.build().execute(c).await?;
        });
        // The merged row: NVD's description wins, another feed's fills a gap.
        with_tx!(self, |c| {
            let mut qb = QueryBuilder::new(
                "INSERT INTO vulnerabilities (id, summary, cwes, published, modified, updated_at) ",
            );
            qb.push_values(recs, |mut b, r| {
                b.push_bind(r.id.as_str().to_string())
                    .push_bind(r.summary.clone())
                    .push_bind(json(&r.cwes))
                    .push_bind(r.published.map(ts))
                    .push_bind(r.modified.map(ts))
                    .push_bind(now);
            });
            qb.push(" ON CONFLICT (id) DO UPDATE SET summary = CASE WHEN vulnerabilities.summary IS NULL OR ")
                .push_bind(feed == FeedKind::Nvd)
                .push(
                    " THEN COALESCE(excluded.summary, vulnerabilities.summary) ELSE vulnerabilities.summary END, \
                     published = COALESCE(vulnerabilities.published, excluded.published), \
                     modified = CASE WHEN vulnerabilities.modified IS NULL OR excluded.modified > vulnerabilities.modified \
                       THEN excluded.modified ELSE vulnerabilities.modified END, \
                     updated_at = excluded.updated_at",
                );
            qb.build().execute(c).await?;
        });
        let vectors: Vec<(&VulnRecord, &CvssVector)> = recs
            .iter()
            .flat_map(|r| r.cvss.iter().map(move |v| (*r, v)))
            .collect();
        for chunk in vectors.chunks(BATCH) {
            with_tx!(self, |c| {
                let mut qb = QueryBuilder::new(
                    "INSERT INTO cvss_vectors (vuln_id, feed, source, is_primary, version, vector, base_score) ",
                );
                qb.push_values(chunk, |mut b, (r, v)| {
                    b.push_bind(r.id.as_str().to_string())
                        .push_bind(feed.as_str())
                        .push_bind(v.source.clone())
                        .push_bind(v.primary)
                        .push_bind(v.version.as_str())
                        .push_bind(v.vector.clone())
                        .push_bind(v.base_score);
                });
                // A scorer may publish the same version twice in one record: keep the last.
                qb.push(
                    " ON CONFLICT (vuln_id, feed, source, version) DO UPDATE SET vector = excluded.vector, \
                     base_score = excluded.base_score, is_primary = excluded.is_primary",
                );
                qb.build().execute(c).await?;
            });
        }
        let aliases: Vec<(&VulnRecord, &VulnId)> = recs
            .iter()
            .flat_map(|r| r.aliases.iter().map(move |a| (*r, a)))
            .collect();
        for chunk in aliases.chunks(BATCH) {
            with_tx!(self, |c| {
                let mut qb = QueryBuilder::new("INSERT INTO vuln_aliases (vuln_id, feed, alias) ");
                qb.push_values(chunk, |mut b, (r, a)| {
                    b.push_bind(r.id.as_str().to_string())
                        .push_bind(feed.as_str())
                        .push_bind(a.as_str().to_string());
                });
                qb.push(" ON CONFLICT DO NOTHING");
                qb.build().execute(c).await?;
            });
        }
        // The language packages each record names, for detection's lookup.
        let mut named: Vec<(&VulnRecord, &'static str, String)> = recs
            .iter()
            .flat_map(|r| {
                r.affected.iter().filter_map(move |a| {
                    let eco = vantage_domain::Ecosystem::from_osv(&a.ecosystem)?;
                    Some((*r, eco.osv_name()?, eco.package_key(&a.name)))
                })
            })
            .collect();
        named.sort_by(|a, b| (a.0.id.as_str(), a.1, &a.2).cmp(&(b.0.id.as_str(), b.1, &b.2)));
        named.dedup_by(|a, b| a.0.id == b.0.id && a.1 == b.1 && a.2 == b.2);
        for chunk in named.chunks(BATCH) {
            with_tx!(self, |c| {
                let mut qb =
                    QueryBuilder::new("INSERT INTO osv_packages (ecosystem, name, vuln_id, feed) ");
                qb.push_values(chunk, |mut b, (r, eco, name)| {
                    b.push_bind(*eco)
                        .push_bind(name.clone())
                        .push_bind(r.id.as_str().to_string())
                        .push_bind(feed.as_str());
                });
                qb.push(" ON CONFLICT DO NOTHING");
                qb.build().execute(c).await?;
            });
            // …and the ones they name now.
            with_tx!(self, |c| {
                let mut qb =
                    QueryBuilder::new("INSERT INTO detection_changes (kind, scope, name) ");
                qb.push_values(chunk, |mut b, (_, eco, name)| {
                    b.push_bind("osv").push_bind(*eco).push_bind(name.clone());
                });
                qb.push(" ON CONFLICT DO NOTHING");
                qb.build().execute(c).await?;
            });
        }
        // The products each record's vulnerable CPE criteria name, for detection's lookup.
        let mut products: Vec<(&VulnRecord, String, String)> = recs
            .iter()
            .flat_map(|r| {
                r.cpe_matches
                    .iter()
                    .filter(|m| m.vulnerable)
                    .filter_map(move |m| m.vendor_product().map(|(v, p)| (*r, v, p)))
            })
            .collect();
        products.sort_by(|a, b| (a.0.id.as_str(), &a.1, &a.2).cmp(&(b.0.id.as_str(), &b.1, &b.2)));
        products.dedup_by(|a, b| a.0.id == b.0.id && a.1 == b.1 && a.2 == b.2);
        for chunk in products.chunks(BATCH) {
            with_tx!(self, |c| {
                let mut qb =
                    QueryBuilder::new("INSERT INTO cpe_products (vendor, product, vuln_id, feed) ");
                qb.push_values(chunk, |mut b, (r, vendor, product)| {
                    b.push_bind(vendor.clone())
                        .push_bind(product.clone())
                        .push_bind(r.id.as_str().to_string())
                        .push_bind(feed.as_str());
                });
                qb.push(" ON CONFLICT DO NOTHING");
                qb.build().execute(c).await?;
            });
        }
        let ssvc: Vec<(&VulnRecord, &SsvcDecision)> = recs
            .iter()
            .filter_map(|r| r.ssvc.as_ref().map(|s| (*r, s)))
            .collect();
        for chunk in ssvc.chunks(BATCH) {
            with_tx!(self, |c| {
                let mut qb = QueryBuilder::new(
                    "INSERT INTO ssvc_decisions (vuln_id, feed, source, exploitation, automatable, \
                     technical_impact, version, decided_at) ",
                );
                qb.push_values(chunk, |mut b, (r, s)| {
                    b.push_bind(r.id.as_str().to_string())
                        .push_bind(feed.as_str())
                        .push_bind(s.source.clone())
                        .push_bind(s.exploitation.clone())
                        .push_bind(s.automatable.clone())
                        .push_bind(s.technical_impact.clone())
                        .push_bind(s.version.clone())
                        .push_bind(s.decided_at.map(ts));
                });
                qb.build().execute(c).await?;
            });
        }
        Ok(())
    }

    /// Stores one day of EPSS scores (history is kept: one row per CVE per day).
    pub async fn epss(&mut self, scores: &[EpssScore]) -> Result<u64> {
        let mut n = 0;
        for chunk in scores.chunks(BATCH) {
            n += with_tx!(self, |c| {
                let mut qb = QueryBuilder::new(
                    "INSERT INTO epss_scores (cve, day, score, percentile, model_version) ",
                );
                qb.push_values(chunk, |mut b, s| {
                    b.push_bind(s.cve.as_str().to_string())
                        .push_bind(s.date)
                        .push_bind(s.score)
                        .push_bind(s.percentile)
                        .push_bind(s.model_version.clone());
                });
                qb.push(
                    " ON CONFLICT (cve, day) DO UPDATE SET score = excluded.score, \
                     percentile = excluded.percentile, model_version = excluded.model_version",
                );
                qb.build().execute(c).await?.rows_affected()
            });
        }
        Ok(n)
    }

    /// The stored KEV catalogue version (`2026.07.23`), if any.
    pub async fn kev_version(&mut self) -> Result<Option<String>> {
        const SQL: &str = "SELECT value FROM settings WHERE key = 'kev.catalog_version'";
        Ok(with_tx!(self, |c| sqlx::query_scalar(SQL)
            .fetch_optional(c)
            .await?))
    }

    /// Replaces the KEV catalogue with a complete one of the given version.
    pub async fn kev_catalog(
        &mut self,
        version: Option<&str>,
        entries: &[KevEntry],
    ) -> Result<u64> {
        if let Some(v) = version {
            const SQL: &str = "INSERT INTO settings (key, value) VALUES ('kev.catalog_version', $1) \
                               ON CONFLICT (key) DO UPDATE SET value = excluded.value";
            with_tx!(self, |c| sqlx::query(SQL)
                .bind(v)
                .execute(c)
                .await?
                .rows_affected());
        }
        self.kev(entries).await
    }

    /// Replaces the KEV catalogue with a complete one.
    pub async fn kev(&mut self, entries: &[KevEntry]) -> Result<u64> {
        with_tx!(self, |c| sqlx::query("DELETE FROM kev_entries")
            .execute(c)
            .await?
            .rows_affected());
        let mut n = 0;
        for chunk in entries.chunks(BATCH) {
            n += with_tx!(self, |c| {
                let mut qb = QueryBuilder::new(
                    "INSERT INTO kev_entries (cve, vendor, product, name, date_added, due_date, \
                     required_action, known_ransomware, notes) ",
                );
                qb.push_values(chunk, |mut b, e| {
                    b.push_bind(e.cve.as_str().to_string())
                        .push_bind(e.vendor.clone())
                        .push_bind(e.product.clone())
                        .push_bind(e.name.clone())
                        .push_bind(e.date_added)
                        .push_bind(e.due_date)
                        .push_bind(e.required_action.clone())
                        .push_bind(e.known_ransomware)
                        .push_bind(e.notes.clone());
                });
                qb.push(" ON CONFLICT (cve) DO NOTHING");
                qb.build().execute(c).await?.rows_affected()
            });
        }
        Ok(n)
    }

    /// Replaces the CERT-FR alerts with a complete list.
    pub async fn certfr(&mut self, alerts: &[CertFrAlert]) -> Result<u64> {
        with_tx!(self, |c| sqlx::query("DELETE FROM certfr_alerts")
            .execute(c)
            .await?
            .rows_affected());
        let mut n = 0;
        for chunk in alerts.chunks(BATCH) {
            n += with_tx!(self, |c| {
                let mut qb = QueryBuilder::new(
                    "INSERT INTO certfr_alerts (id, cve, title, published, status) ",
                );
                qb.push_values(chunk, |mut b, a| {
                    b.push_bind(a.id.clone())
                        .push_bind(a.cve.as_str().to_string())
                        .push_bind(a.title.clone())
                        .push_bind(a.published.map(ts))
                        .push_bind(a.status.clone());
                });
                qb.push(" ON CONFLICT (id, cve) DO NOTHING");
                qb.build().execute(c).await?.rows_affected()
            });
        }
        Ok(n)
    }

    /// Writes exploits of one source. With `complete_map`, the source's bare links (rows
    /// without details, as CVE maps give them) are replaced by these; detailed rows (from
    /// Exploit-DB's own CSV) are kept and only enriched, so importing a map never loses them.
    pub async fn exploits(
        &mut self,
        source: &str,
        exploits: &[Exploit],
        complete_map: bool,
    ) -> Result<u64> {
        if complete_map {
            const SQL: &str = "DELETE FROM exploits WHERE source = $1 AND title IS NULL";
            with_tx!(self, |c| sqlx::query(SQL)
                .bind(source)
                .execute(c)
                .await?
                .rows_affected());
        }
        let mut n = 0;
        for chunk in exploits.chunks(BATCH) {
            n += with_tx!(self, |c| {
                let mut qb = QueryBuilder::new(
                    "INSERT INTO exploits (cve, source, source_id, url, title, kind, platform, published, verified) ",
                );
                qb.push_values(chunk, |mut b, e| {
                    b.push_bind(e.cve.as_str().to_string())
                        .push_bind(e.source.clone())
                        .push_bind(e.source_id.clone())
                        .push_bind(e.url.clone())
                        .push_bind(e.title.clone())
                        .push_bind(e.kind.clone())
                        .push_bind(e.platform.clone())
                        .push_bind(e.published)
                        .push_bind(e.verified);
                });
                qb.push(
                    " ON CONFLICT (cve, source, source_id) DO UPDATE SET \
                     url = COALESCE(excluded.url, exploits.url), title = COALESCE(excluded.title, exploits.title), \
                     kind = COALESCE(excluded.kind, exploits.kind), platform = COALESCE(excluded.platform, exploits.platform), \
                     published = COALESCE(excluded.published, exploits.published), \
                     verified = COALESCE(excluded.verified, exploits.verified)",
                );
                qb.build().execute(c).await?.rows_affected()
            });
        }
        Ok(n)
    }

    /// Replaces one collection of distribution data (`v3.19/main`, `DSA`, an OVAL file) with a
    /// complete file's verdicts, and queues for re-detection every (release, package) whose
    /// verdicts changed — added, removed or different — so that detection judges only those.
    /// The new rows are written beside the old ones first and compared set-wise in SQL. When a
    /// file names the same (release, package, CVE) twice, the first occurrence is kept (the
    /// Debian lists are newest first). Returns (rows written, packages queued).
    pub async fn replace_distro_collection(
        &mut self,
        feed: FeedKind,
        collection: &str,
        fixes: &[DistroFix],
    ) -> Result<(u64, u64)> {
        let staging = format!("\u{1}staging:{collection}");
        let mut written = 0;
        for chunk in fixes.chunks(BATCH) {
            written += with_tx!(self, |c| {
                let mut qb = QueryBuilder::new(
                    "INSERT INTO distro_fixes (feed, collection, distro, release, package, vuln_id, status, \
                     fixed_version, advisory) ",
                );
                qb.push_values(chunk, |mut b, f| {
                    b.push_bind(feed.as_str())
                        .push_bind(staging.clone())
                        .push_bind(f.distro.clone())
                        .push_bind(f.release.clone())
                        .push_bind(f.package.clone())
                        .push_bind(f.vuln_id.as_str().to_string())
                        .push_bind(f.status.clone())
                        .push_bind(f.fixed_version.clone())
                        .push_bind(f.advisory.clone());
                });
                qb.push(" ON CONFLICT DO NOTHING");
                qb.build().execute(c).await?.rows_affected()
            });
        }
        const COLS: &str = "distro, release, package, vuln_id, status, fixed_version, advisory";
        let side = |a: &str, b: &str| {
            format!(
                "SELECT distro, release, package FROM (SELECT {COLS} FROM distro_fixes \
                 WHERE feed = $1 AND collection = {a} EXCEPT SELECT {COLS} FROM distro_fixes \
                 WHERE feed = $1 AND collection = {b}) d"
            )
        };
        let diff = format!(
            "INSERT INTO detection_changes (kind, scope, name) \
             SELECT DISTINCT 'distro', distro || ':' || release, package FROM ({} UNION {}) changed \
             WHERE true ON CONFLICT DO NOTHING",
            side("$2", "$3"),
            side("$3", "$2")
        );
        let queued = with_tx!(self, |c| sqlx::query(sqlx::AssertSqlSafe(diff))
            .bind(feed.as_str())
            .bind(collection)
            .bind(&staging)
            .execute(c)
            .await?
            .rows_affected());
        with_tx!(self, |c| {
            sqlx::query("DELETE FROM distro_fixes WHERE feed = $1 AND collection = $2")
                .bind(feed.as_str())
                .bind(collection)
                .execute(&mut *c)
                .await?;
            sqlx::query(
                "UPDATE distro_fixes SET collection = $2 WHERE feed = $1 AND collection = $3",
            )
            .bind(feed.as_str())
            .bind(collection)
            .bind(&staging)
            .execute(&mut *c)
            .await?;
        });
        Ok((written, queued))
    }

    /// Records the import and commits everything written through this transaction.
    pub async fn commit(mut self, log: &ImportLog) -> Result<()> {
        const SQL: &str = "INSERT INTO feed_imports (feed, path, file_sha256, data_date, started_at, \
             finished_at, records, new_records, changed, unchanged) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)";
        let c = log.counts;
        let as_i64 = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        let finished = ts(OffsetDateTime::now_utc());
        with_tx!(self, |conn| sqlx::query(SQL)
            .bind(log.feed.as_str())
            .bind(&log.path)
            .bind(&log.file_sha256)
            .bind(log.data_date.as_deref())
            .bind(ts(log.started_at))
            .bind(finished)
            .bind(as_i64(c.records))
            .bind(as_i64(c.new))
            .bind(as_i64(c.changed))
            .bind(as_i64(c.unchanged))
            .execute(conn)
            .await?
            .rows_affected());
        match self.tx {
            Tx::Sqlite(t) => t.commit().await?,
            Tx::Postgres(t) => t.commit().await?,
        }
        Ok(())
    }
}

#[derive(FromRow)]
struct RecordRow {
    vuln_id: String,
    feed: String,
    summary: Option<String>,
    status: Option<String>,
    published: Option<i64>,
    modified: Option<i64>,
    cwes: String,
    refs: String,
    cpe_matches: String,
    affected: String,
}

#[derive(FromRow)]
struct ExploitRow {
    source: String,
    source_id: String,
    url: Option<String>,
    title: Option<String>,
    kind: Option<String>,
    platform: Option<String>,
    published: Option<Date>,
    verified: Option<bool>,
}

#[derive(FromRow)]
struct SummaryRow {
    id: String,
    summary: Option<String>,
    published: Option<i64>,
    kev: bool,
    epss: Option<f64>,
}

#[derive(FromRow)]
struct CvssRow {
    feed: String,
    source: String,
    is_primary: bool,
    version: String,
    vector: String,
    base_score: Option<f64>,
}

#[derive(FromRow)]
struct SsvcRow {
    source: String,
    exploitation: Option<String>,
    automatable: Option<String>,
    technical_impact: Option<String>,
    version: Option<String>,
    decided_at: Option<i64>,
}

#[derive(FromRow)]
struct KevRow {
    vendor: String,
    product: String,
    name: String,
    date_added: Date,
    due_date: Option<Date>,
    required_action: String,
    known_ransomware: bool,
    notes: Option<String>,
}

pub(crate) fn from_json<T: serde::de::DeserializeOwned>(s: &str, what: &'static str) -> Result<T> {
    serde_json::from_str(s).map_err(|e| StoreError::corrupt(what, e))
}

impl Store {
    /// Everything known about one vulnerability, or `None` when no feed mentions it.
    pub async fn vulnerability(&self, id: &VulnId) -> Result<Option<VulnerabilityView>> {
        let key = id.as_str();
        // The CVE's own records, and records of other ids (GHSA, OSV) that name it as an alias.
        let mut ids: Vec<String> = with_pool!(self, |p| sqlx::query_scalar(
            "SELECT DISTINCT vuln_id FROM vuln_aliases WHERE alias = $1 ORDER BY vuln_id"
        )
        .bind(key)
        .fetch_all(p)
        .await?);
        ids.retain(|i| i != key);
        ids.insert(0, key.to_string());
        let list = placeholders(ids.len(), 1);
        let records: Vec<RecordRow> = with_pool!(self, |p| {
            let mut q = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT vuln_id, feed, summary, status, published, modified, cwes, refs, cpe_matches, affected \
                 FROM vuln_records WHERE vuln_id IN ({list}) ORDER BY feed, vuln_id"
            )));
            for i in &ids {
                q = q.bind(i.as_str());
            }
            q.fetch_all(p).await?
        });
        let cvss: Vec<CvssRow> = with_pool!(self, |p| {
            let mut q = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT feed, source, is_primary, version, vector, base_score FROM cvss_vectors \
                 WHERE vuln_id IN ({list}) ORDER BY feed, is_primary DESC, version DESC, source"
            )));
            for i in &ids {
                q = q.bind(i.as_str());
            }
            q.fetch_all(p).await?
        });
        let ssvc: Vec<SsvcRow> = with_pool!(self, |p| sqlx::query_as(
            "SELECT source, exploitation, automatable, technical_impact, version, decided_at \
             FROM ssvc_decisions WHERE vuln_id = $1 ORDER BY feed"
        )
        .bind(key)
        .fetch_all(p)
        .await?);
        let mut aliases: Vec<String> = with_pool!(self, |p| sqlx::query_scalar(
            "SELECT DISTINCT alias FROM vuln_aliases WHERE vuln_id = $1 ORDER BY alias"
        )
        .bind(key)
        .fetch_all(p)
        .await?);
        aliases.extend(ids.iter().skip(1).cloned());
        aliases.sort();
        aliases.dedup();
        let epss: Vec<(Date, f64, f64, Option<String>)> = with_pool!(self, |p| {
            sqlx::query_as(
            "SELECT day, score, percentile, model_version FROM epss_scores WHERE cve = $1 ORDER BY day DESC"
        )
        .bind(key)
        .fetch_all(p)
        .await?
        });
        let kev: Option<KevRow> = with_pool!(self, |p| {
            sqlx::query_as(
            "SELECT vendor, product, name, date_added, due_date, required_action, known_ransomware, notes \
             FROM kev_entries WHERE cve = $1"
        )
        .bind(key)
        .fetch_optional(p)
        .await?
        });
        let certfr: Vec<(String, String, Option<i64>, Option<String>)> =
            with_pool!(self, |p| sqlx::query_as(
                "SELECT id, title, published, status FROM certfr_alerts WHERE cve = $1 ORDER BY id"
            )
            .bind(key)
            .fetch_all(p)
            .await?);
        let exploits: Vec<ExploitRow> = with_pool!(self, |p| {
            sqlx::query_as(
            "SELECT source, source_id, url, title, kind, platform, published, verified FROM exploits \
             WHERE cve = $1 ORDER BY source, source_id"
        )
        .bind(key)
        .fetch_all(p)
        .await?
        });
        let distro: Vec<crate::inventory::FixRow> = with_pool!(self, |p| {
            let mut q = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT distro, release, collection, package, vuln_id, status, fixed_version, advisory \
                 FROM distro_fixes WHERE vuln_id IN ({list}) ORDER BY distro, release, package, collection"
            )));
            for i in &ids {
                q = q.bind(i.as_str());
            }
            q.fetch_all(p).await?
        });
        // Distribution advisories (DSA, DLA, USN, RHSA, RLSA …) are names of this CVE too.
        aliases.extend(distro.iter().filter_map(|d| d.advisory.clone()));
        aliases.sort();
        aliases.dedup();
        let summary: Option<Option<String>> = with_pool!(self, |p| sqlx::query_scalar(
            "SELECT summary FROM vulnerabilities WHERE id = $1"
        )
        .bind(key)
        .fetch_optional(p)
        .await?);
        let open_findings: i64 = with_pool!(self, |p| {
            sqlx::query_scalar(
            "SELECT COUNT(*) FROM findings WHERE vuln_id = $1 AND status IN ('new', 'open', 'reopened')"
        )
        .bind(key)
        .fetch_one(p)
        .await?
        });
        // A built-in check (`VANTAGE-TLS-…`) has its description only.
        if records.is_empty()
            && epss.is_empty()
            && kev.is_none()
            && certfr.is_empty()
            && exploits.is_empty()
            && distro.is_empty()
            && summary.is_none()
        {
            return Ok(None);
        }
        let epss_history: Vec<EpssScore> = epss
            .into_iter()
            .map(|(date, score, percentile, model_version)| EpssScore {
                cve: id.clone(),
                date,
                score,
                percentile,
                model_version,
            })
            .collect();
        Ok(Some(VulnerabilityView {
            id: id.clone(),
            summary: summary.flatten(),
            aliases,
            cvss: cvss
                .into_iter()
                .map(|r| {
                    Ok(FeedCvss {
                        feed: parse(&r.feed, "cvss feed")?,
                        cvss: CvssVector {
                            source: r.source,
                            primary: r.is_primary,
                            version: parse(&r.version, "cvss version")?,
                            vector: r.vector,
                            base_score: r.base_score,
                        },
                    })
                })
                .collect::<Result<_>>()?,
            ssvc: ssvc
                .into_iter()
                .map(|r| {
                    Ok(SsvcDecision {
                        source: r.source,
                        exploitation: r.exploitation,
                        automatable: r.automatable,
                        technical_impact: r.technical_impact,
                        version: r.version,
                        decided_at: from_opt_ts(r.decided_at, "ssvc decided_at")?,
                    })
                })
                .collect::<Result<_>>()?,
            epss: epss_history.first().cloned(),
            epss_history,
            kev: kev.map(|k| KevEntry {
                cve: id.clone(),
                vendor: k.vendor,
                product: k.product,
                name: k.name,
                date_added: k.date_added,
                due_date: k.due_date,
                required_action: k.required_action,
                known_ransomware: k.known_ransomware,
                notes: k.notes,
            }),
            certfr: certfr
                .into_iter()
                .map(|(aid, title, published, status)| {
                    Ok(CertFrAlert {
                        id: aid,
                        cve: id.clone(),
                        title,
                        published: from_opt_ts(published, "certfr published")?,
                        status,
                    })
                })
                .collect::<Result<_>>()?,
            exploits: exploits
                .into_iter()
                .map(|e| Exploit {
                    cve: id.clone(),
                    source: e.source,
                    source_id: e.source_id,
                    url: e.url,
                    title: e.title,
                    kind: e.kind,
                    platform: e.platform,
                    published: e.published,
                    verified: e.verified,
                })
                .collect(),
            records: records
                .into_iter()
                .map(|r| {
                    Ok(FeedRecord {
                        id: parse(&r.vuln_id, "record vuln_id")?,
                        feed: parse(&r.feed, "record feed")?,
                        summary: r.summary,
                        status: r.status,
                        published: from_opt_ts(r.published, "record published")?,
                        modified: from_opt_ts(r.modified, "record modified")?,
                        cwes: from_json(&r.cwes, "record cwes")?,
                        references: from_json(&r.refs, "record refs")?,
                        cpe_matches: from_json::<Vec<CpeMatch>>(
                            &r.cpe_matches,
                            "record cpe_matches",
                        )?,
                        affected: from_json(&r.affected, "record affected")?,
                    })
                })
                .collect::<Result<_>>()?,
            distro_fixes: distro
                .into_iter()
                .map(DistroFix::try_from)
                .collect::<Result<_>>()?,
            open_findings,
        }))
    }

    /// Searches the merged vulnerabilities, ordered by id, keyset-paginated.
    pub async fn list_vulnerabilities(
        &self,
        f: &VulnFilter,
    ) -> Result<vantage_domain::Page<VulnSummary>> {
        use crate::sql::{Arg, Sql, bind_args};
        let limit = vantage_domain::query::page_size(Some(f.limit));
        let mut q = Sql::new(
            "SELECT v.id, v.summary, v.published, \
               EXISTS (SELECT 1 FROM kev_entries k WHERE k.cve = v.id) AS kev, \
               (SELECT e.score FROM epss_scores e WHERE e.cve = v.id ORDER BY e.day DESC LIMIT 1) AS epss \
             FROM vulnerabilities v WHERE 1 = 1",
        );
        if let Some(t) = f.text.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
            let t = t.to_lowercase().replace(['%', '_'], "");
            q.push(" AND (LOWER(v.id) LIKE ")
                .bind(Arg::Text(format!("{t}%")));
            q.push(" OR LOWER(v.summary) LIKE ")
                .bind(Arg::Text(format!("%{t}%")))
                .push(")");
        }
        if f.kev_only {
            q.push(" AND EXISTS (SELECT 1 FROM kev_entries k WHERE k.cve = v.id)");
        }
        if let Some(min) = f.epss_min {
            // Scores are stored with nine decimals: compare in millionths, as integers, on both backends.
            let micros = (min.clamp(0.0, 1.0) * 1_000_000.0).round() as i64;
            q.push(" AND (SELECT CAST(ROUND(e.score * 1000000) AS BIGINT) FROM epss_scores e WHERE e.cve = v.id \
                     ORDER BY e.day DESC LIMIT 1) >= ").bind(Arg::I64(micros));
        }
        if let Some(from) = f.published_from {
            q.push(" AND v.published >= ").bind(Arg::I64(ts(from)));
        }
        if let Some(to) = f.published_to {
            q.push(" AND v.published < ").bind(Arg::I64(ts(to)));
        }
        if let Some(after) = &f.after {
            q.push(" AND v.id > ")
                .bind(Arg::Text(after.as_str().to_string()));
        }
        q.push(&format!(" ORDER BY v.id LIMIT {}", limit + 1));
        let mut rows: Vec<SummaryRow> = with_pool!(self, |p| {
            bind_args!(sqlx::query_as(sqlx::AssertSqlSafe(q.text.clone())), &q.args)
                .fetch_all(p)
                .await?
        });
        let next = if rows.len() > limit as usize {
            rows.truncate(limit as usize);
            rows.last().map(|r| r.id.clone())
        } else {
            None
        };
        let items = rows
            .into_iter()
            .map(|r| {
                Ok(VulnSummary {
                    id: parse(&r.id, "vulnerability id")?,
                    summary: r.summary,
                    published: from_opt_ts(r.published, "published")?,
                    kev: r.kev,
                    epss: r.epss,
                })
            })
            .collect::<Result<_>>()?;
        Ok(vantage_domain::Page {
            items,
            next_cursor: next,
        })
    }

    /// Per feed: the last completed import, and the number of imports.
    pub async fn feed_status(&self) -> Result<Vec<(String, String, Option<String>, i64, i64)>> {
        const SQL: &str = "SELECT f.feed, f.path, f.data_date, f.finished_at, f.records FROM feed_imports f \
             WHERE f.id = (SELECT MAX(id) FROM feed_imports g WHERE g.feed = f.feed) ORDER BY f.feed";
        Ok(with_pool!(self, |p| sqlx::query_as(SQL)
            .fetch_all(p)
            .await?))
    }
}
