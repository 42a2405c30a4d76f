//! Installed packages of an asset, and the distribution data detection reads for them.

use vantage_domain::{AffectedPackage, AssetId, CpeMatch, DistroFix, Ecosystem, VulnId};

use crate::backend::{BeginWrite, Pool, Store, with_pool};
use crate::error::Result;
use crate::sql::parse;

/// A package to store for an asset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPackage {
    /// Ecosystem.
    pub ecosystem: Ecosystem,
    /// Binary package name.
    pub name: String,
    /// Installed version.
    pub version: String,
    /// Source package.
    pub source_name: Option<String>,
    /// Source version.
    pub source_version: Option<String>,
    /// Architecture (`''` when unknown).
    pub arch: String,
}

const FIX_COLUMNS: &str =
    "distro, release, collection, package, vuln_id, status, fixed_version, advisory";

/// A `distro_fixes` row as read (every reader maps it to [`DistroFix`]).
#[derive(sqlx::FromRow)]
pub(crate) struct FixRow {
    distro: String,
    release: String,
    collection: String,
    package: String,
    vuln_id: String,
    status: String,
    fixed_version: Option<String>,
    pub(crate) advisory: Option<String>,
}

impl TryFrom<FixRow> for DistroFix {
    type Error = crate::error::StoreError;
    fn try_from(r: FixRow) -> Result<DistroFix> {
        Ok(DistroFix {
            distro: r.distro,
            release: r.release,
            collection: r.collection,
            package: r.package,
            vuln_id: parse(&r.vuln_id, "distro_fixes vuln_id")?,
            status: r.status,
            fixed_version: r.fixed_version,
            advisory: r.advisory,
        })
    }
}

/// An OSV record about language packages, as detection reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OsvAdvisory {
    /// The record's id.
    pub id: VulnId,
    /// `withdrawn` when the advisory was withdrawn.
    pub status: Option<String>,
    /// Affected packages with their ranges.
    pub affected: Vec<AffectedPackage>,
    /// Its aliases (CVE ids among them).
    pub aliases: Vec<VulnId>,
}

/// Lower case, `_` and `.` as `-` (see [`Store::packages_named`]).
fn fold(name: &str) -> String {
    name.to_lowercase().replace(['_', '.'], "-")
}

impl Store {
    /// For each of these assets, its rows of `table` (matching `filter`, an SQL condition
    /// starting with ` AND`) packed in SQL into one string: the `fields` joined by U+001F, the
    /// rows by U+001E (`group_concat` / `string_agg`). Reading millions of rows, one string per
    /// asset crossing the driver instead of thousands of rows is what makes it fast.
    pub(crate) async fn packed_by_asset(
        &self,
        table: &str,
        fields: &[&str],
        filter: &str,
        assets: &[AssetId],
    ) -> Result<Vec<(i64, String)>> {
        let (unit, record, agg) = match self.backend() {
            crate::Backend::Sqlite => ("char(31)", "char(30)", "group_concat"),
            crate::Backend::Postgres => ("chr(31)", "chr(30)", "string_agg"),
        };
        let packed = fields
            .iter()
            .map(|f| format!("CAST({f} AS TEXT)"))
            .collect::<Vec<_>>()
            .join(&format!(" || {unit} || "));
        let mut out = Vec::new();
        for chunk in assets.chunks(200) {
            let sql = format!(
                "SELECT asset_id, {agg}({packed}, {record}) FROM {table} \
                 WHERE asset_id IN ({}){filter} GROUP BY asset_id",
                crate::sql::id_list(chunk.iter().map(|a| a.0))
            );
            let rows: Vec<(i64, String)> =
                with_pool!(self, |p| sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
                    .fetch_all(p)
                    .await?);
            out.extend(rows);
        }
        Ok(out)
    }

    /// Replaces an asset's installed packages with `packages`, in one transaction (multi-row
    /// statements on SQLite, column arrays on PostgreSQL). Returns how many were stored.
    pub async fn replace_packages(&self, asset: AssetId, packages: &[NewPackage]) -> Result<u64> {
        const COLUMNS: &str = "INSERT INTO packages (asset_id, ecosystem, name, version, source_name, \
             source_version, arch) ";
        const CONFLICT: &str = " ON CONFLICT (asset_id, ecosystem, name, arch) DO UPDATE SET \
             version = excluded.version, source_name = excluded.source_name, \
             source_version = excluded.source_version";
        // One statement may not touch a row twice: the last report of a (name, arch) wins.
        let mut seen = std::collections::HashMap::new();
        let mut rows: Vec<&NewPackage> = Vec::with_capacity(packages.len());
        for p in packages {
            match seen.get(&(p.ecosystem, p.name.as_str(), p.arch.as_str())) {
                Some(&i) => rows[i] = p,
                None => {
                    seen.insert((p.ecosystem, p.name.as_str(), p.arch.as_str()), rows.len());
                    rows.push(p);
                }
            }
        }
        let mut n = 0;
        match &self.pool {
            Pool::Sqlite(p) => {
                let mut tx = p.begin_write().await?;
                sqlx::query("DELETE FROM packages WHERE asset_id = $1")
                    .bind(asset.0)
                    .execute(&mut *tx)
                    .await?;
                for chunk in rows.chunks(1000) {
                    let mut qb = sqlx::QueryBuilder::<sqlx::Sqlite>::new(COLUMNS);
                    qb.push_values(chunk, |mut b, p| {
                        b.push_bind(asset.0)
                            .push_bind(p.ecosystem.as_str())
                            .push_bind(p.name.clone())
                            .push_bind(p.version.clone())
                            .push_bind(p.source_name.clone())
                            .push_bind(p.source_version.clone())
                            .push_bind(p.arch.clone());
                    });
                    qb.push(CONFLICT);
                    n += qb.build().execute(&mut *tx).await?.rows_affected();
                }
                tx.commit().await?;
            }
            Pool::Postgres(p) => {
                let mut tx = p.begin_write().await?;
                sqlx::query("DELETE FROM packages WHERE asset_id = $1")
                    .bind(asset.0)
                    .execute(&mut *tx)
                    .await?;
                for chunk in rows.chunks(10_000) {
                    let col = |f: &dyn Fn(&NewPackage) -> Option<String>| {
                        chunk.iter().map(|p| f(p)).collect::<Vec<_>>()
                    };
                    let sql = format!(
                        "{COLUMNS} SELECT $1, * FROM UNNEST($2::text[], $3::text[], $4::text[], \
                         $5::text[], $6::text[], $7::text[]) {CONFLICT}"
                    );
                    n += sqlx::query(sqlx::AssertSqlSafe(sql))
                        .bind(asset.0)
                        .bind(col(&|p| Some(p.ecosystem.as_str().to_string())))
                        .bind(col(&|p| Some(p.name.clone())))
                        .bind(col(&|p| Some(p.version.clone())))
                        .bind(col(&|p| p.source_name.clone()))
                        .bind(col(&|p| p.source_version.clone()))
                        .bind(col(&|p| Some(p.arch.clone())))
                        .execute(&mut *tx)
                        .await?
                        .rows_affected();
                }
                tx.commit().await?;
            }
        }
        Ok(n)
    }

    /// Everything a distribution says about one release (for judging many hosts of it at once).
    pub async fn distro_fixes_for_release(
        &self,
        distro: &str,
        release: &str,
    ) -> Result<Vec<DistroFix>> {
        let sql =
            format!("SELECT {FIX_COLUMNS} FROM distro_fixes WHERE distro = $1 AND release = $2");
        let rows: Vec<FixRow> = with_pool!(self, |p| sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(distro)
            .bind(release)
            .fetch_all(p)
            .await?);
        rows.into_iter().map(DistroFix::try_from).collect()
    }

    /// The packages stored for an asset.
    pub async fn packages_of(&self, asset: AssetId) -> Result<Vec<NewPackage>> {
        type Row = (
            String,
            String,
            String,
            Option<String>,
            Option<String>,
            String,
        );
        let rows: Vec<Row> = with_pool!(self, |p| sqlx::query_as(
            "SELECT ecosystem, name, version, source_name, source_version, arch FROM packages \
             WHERE asset_id = $1 ORDER BY name, arch"
        )
        .bind(asset.0)
        .fetch_all(p)
        .await?);
        rows.into_iter()
            .map(
                |(ecosystem, name, version, source_name, source_version, arch)| {
                    Ok(NewPackage {
                        ecosystem: parse(&ecosystem, "package ecosystem")?,
                        name,
                        version,
                        source_name,
                        source_version,
                        arch,
                    })
                },
            )
            .collect()
    }

    /// The packages, on every asset, whose binary or source name is among `names` (what a
    /// knowledge change touched): (asset, package). One pass over the table in SQL (0.2 s for
    /// 2 M rows on SQLite): indexes leading with the name would cost every inventory import
    /// ten times more writes (measured: 2 M rows loaded host by host in 75 s instead of 6.5 s).
    ///
    /// `folded`: compare names folded (lower case, `_` and `.` as `-`) on both sides, a superset
    /// of every ecosystem's name equivalence (PEP 503 …) that the caller narrows down.
    pub async fn packages_named(
        &self,
        names: &[String],
        folded: bool,
    ) -> Result<Vec<(AssetId, NewPackage)>> {
        type Row = (
            i64,
            String,
            String,
            String,
            Option<String>,
            Option<String>,
            String,
        );
        let mut out = Vec::new();
        for chunk in names.chunks(400) {
            let list = crate::sql::placeholders(chunk.len(), 1);
            let sql = if folded {
                format!(
                    "SELECT asset_id, ecosystem, name, version, source_name, source_version, arch \
                     FROM packages WHERE lower(replace(replace(name, '_', '-'), '.', '-')) IN ({list})"
                )
            } else {
                format!(
                    "SELECT asset_id, ecosystem, name, version, source_name, source_version, arch \
                     FROM packages WHERE name IN ({list}) OR source_name IN ({list})"
                )
            };
            let rows: Vec<Row> = with_pool!(self, |p| {
                let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()));
                for n in chunk {
                    q = q.bind(if folded { fold(n) } else { n.clone() });
                }
                q.fetch_all(p).await?
            });
            for (asset, ecosystem, name, version, source_name, source_version, arch) in rows {
                out.push((
                    AssetId(asset),
                    NewPackage {
                        ecosystem: parse(&ecosystem, "package ecosystem")?,
                        name,
                        version,
                        source_name,
                        source_version,
                        arch,
                    },
                ));
            }
        }
        Ok(out)
    }

    /// Every package of these assets, aggregated in SQL to one row per asset (a full
    /// re-detection reads millions of package rows: one string per host crosses the driver
    /// instead of two thousand rows).
    pub async fn packages_by_asset(
        &self,
        assets: &[AssetId],
    ) -> Result<std::collections::HashMap<AssetId, Vec<NewPackage>>> {
        let mut out = std::collections::HashMap::new();
        let fields = [
            "ecosystem",
            "name",
            "version",
            "COALESCE(source_name, '')",
            "COALESCE(source_version, '')",
            "arch",
        ];
        let rows = self
            .packed_by_asset("packages", &fields, "", assets)
            .await?;
        for (asset, packed) in rows {
            let mut list = Vec::new();
            for rec in packed.split('\u{1e}') {
                let f: Vec<&str> = rec.split('\u{1f}').collect();
                let [ecosystem, name, version, source_name, source_version, arch] = f[..] else {
                    return Err(crate::error::StoreError::corrupt(
                        "packages",
                        format!("asset {asset}: a name or version holds a control character"),
                    ));
                };
                let opt = |s: &str| (!s.is_empty()).then(|| s.to_string());
                list.push(NewPackage {
                    ecosystem: parse(ecosystem, "package ecosystem")?,
                    name: name.to_string(),
                    version: version.to_string(),
                    source_name: opt(source_name),
                    source_version: opt(source_version),
                    arch: arch.to_string(),
                });
            }
            out.insert(AssetId(asset), list);
        }
        Ok(out)
    }

    /// The queued knowledge changes: (kind, scope, name) — `distro`, `ubuntu:24.04`, `openssl`
    /// or `osv`, `PyPI`, `django`.
    pub async fn detection_changes(&self) -> Result<Vec<(String, String, String)>> {
        Ok(with_pool!(self, |p| sqlx::query_as(
            "SELECT kind, scope, name FROM detection_changes ORDER BY kind, scope, name"
        )
        .fetch_all(p)
        .await?))
    }

    /// Removes handled knowledge changes (changes queued meanwhile stay).
    pub async fn forget_detection_changes(
        &self,
        handled: &[(String, String, String)],
    ) -> Result<()> {
        for chunk in handled.chunks(300) {
            let tuples = crate::sql::tuples(chunk.len(), 3);
            let sql =
                format!("DELETE FROM detection_changes WHERE (kind, scope, name) IN ({tuples})");
            with_pool!(self, |p| {
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.clone()));
                for (k, s, n) in chunk {
                    q = q.bind(k).bind(s).bind(n);
                }
                q.execute(p).await?;
            });
        }
        Ok(())
    }

    /// Live assets that have stored packages: (id, `distro:release` when known).
    pub async fn inventoried_assets(&self) -> Result<Vec<(AssetId, Option<String>)>> {
        let rows: Vec<(i64, Option<String>)> = with_pool!(self, |p| {
            sqlx::query_as(
                "SELECT a.id, a.os FROM assets a WHERE a.decommissioned_at IS NULL \
             AND EXISTS (SELECT 1 FROM packages p WHERE p.asset_id = a.id) ORDER BY a.id",
            )
            .fetch_all(p)
            .await?
        });
        Ok(rows.into_iter().map(|(id, os)| (AssetId(id), os)).collect())
    }

    /// Number of packages stored for an asset.
    pub async fn count_packages(&self, asset: AssetId) -> Result<i64> {
        Ok(with_pool!(self, |p| sqlx::query_scalar(
            "SELECT COUNT(*) FROM packages WHERE asset_id = $1"
        )
        .bind(asset.0)
        .fetch_one(p)
        .await?))
    }

    /// What a distribution says about these packages in one release (every collection:
    /// Alpine `v3.19/main` and `/community`, the Debian tracker, DSA and DLA lists, OVAL).
    pub async fn distro_fixes_for(
        &self,
        distro: &str,
        release: &str,
        packages: &[String],
    ) -> Result<Vec<DistroFix>> {
        let mut out = Vec::new();
        for chunk in packages.chunks(500) {
            let sql = format!(
                "SELECT {FIX_COLUMNS} FROM distro_fixes \
                 WHERE distro = $1 AND release = $2 AND package IN ({})",
                crate::sql::placeholders(chunk.len(), 3)
            );
            let rows: Vec<FixRow> = with_pool!(self, |p| {
                let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
                    .bind(distro)
                    .bind(release);
                for name in chunk {
                    q = q.bind(name);
                }
                q.fetch_all(p).await?
            });
            for r in rows {
                out.push(DistroFix::try_from(r)?);
            }
        }
        Ok(out)
    }

    /// The OSV records naming any of these packages, given as (OSV ecosystem, name key as
    /// [`Ecosystem::package_key`] makes it).
    pub async fn osv_advisories_for(
        &self,
        packages: &[(&str, String)],
    ) -> Result<Vec<OsvAdvisory>> {
        let mut seen = std::collections::HashSet::new();
        let mut out: Vec<OsvAdvisory> = Vec::new();
        for chunk in packages.chunks(400) {
            let pairs = crate::sql::tuples(chunk.len(), 2);
            let sql = format!(
                "SELECT DISTINCT r.vuln_id, r.status, r.affected FROM osv_packages p \
                 JOIN vuln_records r ON r.vuln_id = p.vuln_id AND r.feed = p.feed \
                 WHERE (p.ecosystem, p.name) IN ({})",
                pairs
            );
            let rows: Vec<(String, Option<String>, String)> = with_pool!(self, |p| {
                let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()));
                for (eco, name) in chunk {
                    q = q.bind(*eco).bind(name);
                }
                q.fetch_all(p).await?
            });
            for (id, status, affected) in rows {
                if !seen.insert(id.clone()) {
                    continue;
                }
                out.push(OsvAdvisory {
                    id: parse(&id, "vuln_records vuln_id")?,
                    status,
                    affected: crate::knowledge::from_json(&affected, "vuln_records affected")?,
                    aliases: Vec::new(),
                });
            }
        }
        let index: std::collections::HashMap<String, usize> = out
            .iter()
            .enumerate()
            .map(|(i, a)| (a.id.as_str().to_string(), i))
            .collect();
        let ids: Vec<String> = index.keys().cloned().collect();
        for chunk in ids.chunks(500) {
            let sql = format!(
                "SELECT vuln_id, alias FROM vuln_aliases WHERE vuln_id IN ({})",
                crate::sql::placeholders(chunk.len(), 1)
            );
            let rows: Vec<(String, String)> = with_pool!(self, |p| {
                let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()));
                for id in chunk {
                    q = q.bind(id);
                }
                q.fetch_all(p).await?
            });
            for (id, alias) in rows {
                if let Some(&i) = index.get(&id)
                    && let Ok(a) = alias.parse::<VulnId>()
                    && !out[i].aliases.contains(&a)
                {
                    out[i].aliases.push(a);
                }
            }
        }
        Ok(out)
    }

    /// The NVD CPE configurations of the records naming any of these (vendor, product) pairs,
    /// one entry per vulnerability (criteria of several feeds merged).
    pub async fn cpe_advisories_for(
        &self,
        products: &[(String, String)],
    ) -> Result<Vec<(VulnId, Vec<CpeMatch>)>> {
        let mut merged: std::collections::BTreeMap<String, Vec<CpeMatch>> = Default::default();
        for chunk in products.chunks(400) {
            let pairs = crate::sql::tuples(chunk.len(), 2);
            let sql = format!(
                "SELECT DISTINCT r.vuln_id, r.feed, r.cpe_matches FROM cpe_products p \
                 JOIN vuln_records r ON r.vuln_id = p.vuln_id AND r.feed = p.feed \
                 WHERE (p.vendor, p.product) IN ({})",
                pairs
            );
            let rows: Vec<(String, String, String)> = with_pool!(self, |p| {
                let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()));
                for (vendor, product) in chunk {
                    q = q.bind(vendor).bind(product);
                }
                q.fetch_all(p).await?
            });
            for (id, _feed, matches) in rows {
                let matches: Vec<CpeMatch> =
                    crate::knowledge::from_json(&matches, "vuln_records cpe_matches")?;
                let entry = merged.entry(id).or_default();
                for m in matches {
                    if !entry.contains(&m) {
                        entry.push(m);
                    }
                }
            }
        }
        merged
            .into_iter()
            .map(|(id, m)| Ok((parse(&id, "vuln_records vuln_id")?, m)))
            .collect()
    }

    /// Whether any OSV advisory about a language ecosystem is stored.
    pub async fn has_osv_data(&self) -> Result<bool> {
        let n: i64 = with_pool!(self, |p| {
            sqlx::query_scalar("SELECT COUNT(*) FROM (SELECT 1 FROM osv_packages LIMIT 1) t")
                .fetch_one(p)
                .await?
        });
        Ok(n > 0)
    }

    /// Whether any distribution data is stored for a distribution release (so an empty result
    /// can be told apart from missing data).
    pub async fn has_distro_data(&self, distro: &str, release: &str) -> Result<bool> {
        let n: i64 = with_pool!(self, |p| {
            sqlx::query_scalar(
            "SELECT COUNT(*) FROM (SELECT 1 FROM distro_fixes WHERE distro = $1 AND release = $2 LIMIT 1) t"
        )
        .bind(distro)
        .bind(release)
        .fetch_one(p)
        .await?
        });
        Ok(n > 0)
    }
}
