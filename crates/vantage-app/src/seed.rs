//! Synthetic but realistically distributed data for benchmarks and demos (`vantage dev seed`).
//!
//! Distributions: an OS mix dominated by Debian/Ubuntu; four scopes of unequal size with some
//! assets in two; CVE popularity heavily skewed (a few CVEs affect most assets, a long tail
//! affects few), like real fleets; priorities skewed toward P3/P4; about 12 % of findings fixed by
//! a later scan. Asset addresses are synthetic identifiers in 127.0.0.0/8 and are never scanned.
//! The generator is deterministic for a given seed, and re-running it merges into the same assets
//! as a re-scan would: the findings it sees again go new → open, the ones fixed before stay fixed.
//! Later rounds ([`SeedSpec::round`]) no longer see a few findings each, which the lifecycle
//! closes as fixed. Assets are recorded a batch per transaction, findings in bulk.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use time::{Duration, OffsetDateTime};
use vantage_domain::{
    AssetKind, ComponentKind, Evidence, ExposureClass, Identifier, IdentifierKind, NewAsset,
    NewFinding, Priority, ScopeId, Tag, VulnId,
};
use vantage_store::{NewScope, Store};

use crate::error::AppError;

/// What to generate.
#[derive(Debug, Clone)]
pub struct SeedSpec {
    /// Number of assets.
    pub assets: u32,
    /// Average findings per asset.
    pub findings_per_asset: u32,
    /// RNG seed.
    pub seed: u64,
    /// Which scan of the same fleet this is: 0 writes the fleet as first scanned (about 12 % of
    /// its findings already fixed by a scan a week before); each later round re-scans it, seeing
    /// every still-present finding again (new → open) and no longer seeing about 1.7 % of them
    /// (fixed), as a real re-scan does. Round 0 over an existing fleet is an identical re-scan.
    pub round: u32,
}

/// What was generated.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct SeedReport {
    /// Assets written.
    pub assets: u64,
    /// Findings written.
    pub findings: u64,
    /// Findings then closed as fixed.
    pub fixed: u64,
    /// Scopes used.
    pub scopes: u64,
    /// Where the time went, in seconds (benchmarks report it).
    pub seconds: SeedSeconds,
}

/// Seconds spent in each phase of [`seed`].
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct SeedSeconds {
    /// Recording the assets (one sighting each).
    pub assets: f64,
    /// Writing the findings (insert or refresh: the lifecycle's new → open, reopened), summed
    /// over the concurrent writers.
    pub findings: f64,
    /// Closing the findings the scan did not see again, summed over the concurrent writers.
    pub fixed: f64,
    /// Scope memberships and planner statistics.
    pub rest: f64,
}

const OS_MIX: &[(&str, u32)] = &[
    ("debian:12", 35),
    ("debian:11", 10),
    ("ubuntu:22.04", 20),
    ("ubuntu:24.04", 10),
    ("rhel:9", 10),
    ("rocky:8", 5),
    ("alpine:3.19", 10),
];
const SCOPES: &[(&str, ExposureClass, u32)] = &[
    ("Production", ExposureClass::Internal, 40),
    ("DMZ", ExposureClass::Internet, 10),
    ("Corporate", ExposureClass::Internal, 30),
    ("Test", ExposureClass::Isolated, 20),
];
const PACKAGES: &[&str] = &[
    "openssl",
    "glibc",
    "openssh",
    "curl",
    "zlib",
    "bash",
    "sudo",
    "systemd",
    "nginx",
    "apache2",
    "python3",
    "perl",
    "busybox",
    "libxml2",
    "git",
    "vim",
    "tar",
    "xz-utils",
    "krb5",
    "gnutls28",
    "sqlite3",
    "libssh2",
    "expat",
    "pcre2",
    "linux",
    "libtiff",
    "imagemagick",
    "postgresql-15",
    "bind9",
    "samba",
    "openjdk-17",
    "nodejs",
    "php8.2",
    "ruby3.1",
    "libwebp",
    "gstreamer1.0",
];
const CVE_POOL: u32 = 25_000;

fn pick_weighted<T: Copy>(rng: &mut StdRng, items: &[(T, u32)]) -> T {
    let total: u32 = items.iter().map(|(_, w)| w).sum();
    let mut x = rng.random_range(0..total);
    for (item, w) in items {
        if x < *w {
            return *item;
        }
        x -= w;
    }
    items[items.len() - 1].0
}

/// A CVE id from a skewed popularity distribution: index = pool × u³.
fn pick_cve(rng: &mut StdRng) -> (u32, VulnId) {
    let u: f64 = rng.random();
    let i = ((CVE_POOL as f64) * u * u * u) as u32;
    (i, cve_id(i))
}

/// The id of the `i`-th CVE of the synthetic pool (index 0 is the most widespread).
fn cve_id(i: u32) -> VulnId {
    let year = 2014 + (i % 13);
    format!("CVE-{year}-{:05}", 1000 + i)
        .parse()
        .unwrap_or_else(|_| unreachable!("generated ids are valid"))
}

/// Writes knowledge-base files for the synthetic CVE pool that [`seed`] draws findings from, in
/// the real feed formats (so they go through the real importers): `nvd.jsonl` (one vector per
/// CVE: 70 % CVSS v3.1, 20 % v4.0, 10 % v2.0, with realistic metric mixes), a KEV catalogue
/// (about 1.5 % of the pool, a fifth of it ransomware), and `days` EPSS files, one per day from
/// `first_day`, skewed like the real distribution (most scores below 0.01) and drifting from
/// day to day (every score moves a little; about 3 % jump). Returns the files written, NVD
/// and KEV first, then the EPSS days in order.
pub fn write_knowledge_files(
    dir: &std::path::Path,
    first_day: time::Date,
    days: u32,
    seed_value: u64,
) -> std::io::Result<Vec<std::path::PathBuf>> {
    use std::io::Write;
    let mut rng = StdRng::seed_from_u64(seed_value ^ 0x6b6e_6f77);
    let pick =
        |rng: &mut StdRng, values: &[&'static str]| values[rng.random_range(0..values.len())];
    let mut files = Vec::new();

    let path = dir.join("nvd.jsonl");
    let mut nvd = std::io::BufWriter::new(std::fs::File::create(&path)?);
    for i in 0..CVE_POOL {
        let id = cve_id(i);
        let roll: f64 = rng.random();
        let (key, version, vector) = if roll < 0.7 {
            let v = format!(
                "CVSS:3.1/AV:{}/AC:{}/PR:{}/UI:{}/S:{}/C:{}/I:{}/A:{}",
                pick(&mut rng, &["N", "N", "N", "A", "L", "L", "P"]),
                pick(&mut rng, &["L", "L", "L", "H"]),
                pick(&mut rng, &["N", "N", "L", "H"]),
                pick(&mut rng, &["N", "N", "R"]),
                pick(&mut rng, &["U", "U", "U", "C"]),
                pick(&mut rng, &["H", "H", "L", "N"]),
                pick(&mut rng, &["H", "H", "L", "N"]),
                pick(&mut rng, &["H", "H", "L", "N"]),
            );
            ("cvssMetricV31", "3.1", v)
        } else if roll < 0.9 {
            let v = format!(
                "CVSS:4.0/AV:{}/AC:{}/AT:{}/PR:{}/UI:{}/VC:{}/VI:{}/VA:{}/SC:{}/SI:{}/SA:{}",
                pick(&mut rng, &["N", "N", "A", "L", "P"]),
                pick(&mut rng, &["L", "L", "H"]),
                pick(&mut rng, &["N", "N", "P"]),
                pick(&mut rng, &["N", "N", "L", "H"]),
                pick(&mut rng, &["N", "N", "P", "A"]),
                pick(&mut rng, &["H", "H", "L", "N"]),
                pick(&mut rng, &["H", "H", "L", "N"]),
                pick(&mut rng, &["H", "L", "N"]),
                pick(&mut rng, &["H", "L", "N", "N"]),
                pick(&mut rng, &["H", "L", "N", "N"]),
                pick(&mut rng, &["H", "L", "N", "N"]),
            );
            ("cvssMetricV40", "4.0", v)
        } else {
            let v = format!(
                "AV:{}/AC:{}/Au:{}/C:{}/I:{}/A:{}",
                pick(&mut rng, &["N", "N", "A", "L"]),
                pick(&mut rng, &["L", "M", "H"]),
                pick(&mut rng, &["N", "N", "S"]),
                pick(&mut rng, &["N", "P", "C"]),
                pick(&mut rng, &["N", "P", "C"]),
                pick(&mut rng, &["N", "P", "C"]),
            );
            ("cvssMetricV2", "2.0", v)
        };
        let year = 2014 + (i % 13);
        let record = serde_json::json!({"cve": {
            "id": id.as_str(),
            "published": format!("{year}-{:02}-{:02}T00:00:00.000", 1 + i % 12, 1 + i % 28),
            "lastModified": format!("{year}-12-31T00:00:00.000"),
            "vulnStatus": "Analyzed",
            "descriptions": [{"lang": "en", "value": "Synthetic vulnerability (vantage dev seed)."}],
            "metrics": {key: [{"source": "nvd@nist.gov", "type": "Primary",
                "cvssData": {"version": version, "vectorString": vector}}]},
        }});
        writeln!(nvd, "{record}")?;
    }
    nvd.flush()?;
    files.push(path);

    let in_kev: Vec<u32> = (0..CVE_POOL)
        .filter(|_| rng.random::<f64>() < 0.015)
        .collect();
    let kev: Vec<serde_json::Value> = in_kev
        .into_iter()
        .map(|i| {
            serde_json::json!({
                "cveID": cve_id(i).as_str(), "vendorProject": "Example", "product": "Synthetic",
                "vulnerabilityName": "Synthetic exploited vulnerability",
                "dateAdded": format!("{}-{:02}-{:02}", 2022 + i % 4, 1 + i % 12, 1 + i % 28),
                "shortDescription": "", "requiredAction": "Apply updates.", "dueDate": "",
                "knownRansomwareCampaignUse": if rng.random::<f64>() < 0.2 { "Known" } else { "Unknown" },
                "notes": ""})
        })
        .collect();
    let path = dir.join("kev.json");
    std::fs::write(
        &path,
        serde_json::json!({"catalogVersion": "synthetic", "count": kev.len(), "vulnerabilities": kev})
            .to_string(),
    )?;
    files.push(path);

    let mut scores: Vec<f64> = (0..CVE_POOL)
        .map(|_| rng.random::<f64>().powi(8).max(0.0004))
        .collect();
    for d in 0..days {
        let day = first_day + time::Duration::days(i64::from(d));
        if d > 0 {
            for s in scores.iter_mut() {
                let jump = rng.random::<f64>() < 0.03;
                let factor = if jump {
                    rng.random_range(0.2..10.0)
                } else {
                    rng.random_range(0.97..1.03)
                };
                *s = (*s * factor).clamp(0.0001, 0.9999);
            }
        }
        let mut order: Vec<usize> = (0..scores.len()).collect();
        order.sort_by(|a, b| scores[*a].total_cmp(&scores[*b]));
        let mut percentile = vec![0.0; scores.len()];
        for (rank, i) in order.into_iter().enumerate() {
            percentile[i] = (rank as f64 + 1.0) / scores.len() as f64;
        }
        let path = dir.join(format!("epss_scores-{day}.csv"));
        let mut out = std::io::BufWriter::new(std::fs::File::create(&path)?);
        writeln!(
            out,
            "#model_version:v2025.03.14,score_date:{day}T00:00:00+0000"
        )?;
        writeln!(out, "cve,epss,percentile")?;
        for (i, s) in scores.iter().enumerate() {
            writeln!(
                out,
                "{},{s:.5},{:.5}",
                cve_id(i as u32).as_str(),
                percentile[i]
            )?;
        }
        out.flush()?;
        files.push(path);
    }
    Ok(files)
}

fn pick_priority(rng: &mut StdRng) -> Priority {
    pick_weighted(
        rng,
        &[
            (Priority::P1, 3),
            (Priority::P2, 12),
            (Priority::P3, 45),
            (Priority::P4, 40),
        ],
    )
}

/// Synthetic loopback address of the n-th asset (never contacted).
fn address(n: u32) -> String {
    let n = n + 1;
    format!("127.{}.{}.{}", (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff)
}

/// What one batch's write did: findings written, findings fixed, seconds writing, seconds fixing.
type BatchWrite = Result<(u64, u64, f64, f64), vantage_store::StoreError>;

/// Writes one batch's findings and closes the ones its scan no longer saw, as one scan result.
async fn write_batch(
    store: &Store,
    findings: Vec<NewFinding>,
    assets: Vec<vantage_domain::AssetId>,
    scan_time: OffsetDateTime,
    now: OffsetDateTime,
) -> BatchWrite {
    let t = std::time::Instant::now();
    let written = store.upsert_findings(&findings).await?;
    let writing = t.elapsed().as_secs_f64();
    let t = std::time::Instant::now();
    let fixed = store
        .resolve_unseen_findings_of(&assets, scan_time, now)
        .await?;
    Ok((written, fixed, writing, t.elapsed().as_secs_f64()))
}

/// Adds a finished batch write to the report.
fn tally(
    report: &mut SeedReport,
    done: Result<BatchWrite, tokio::task::JoinError>,
) -> Result<(), AppError> {
    let (written, fixed, writing, fixing) =
        done.unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()))?;
    report.findings += written;
    report.fixed += fixed;
    report.seconds.findings += writing;
    report.seconds.fixed += fixing;
    Ok(())
}

/// Generates the data, reporting progress as (assets done, assets total).
pub async fn seed(
    store: &Store,
    spec: &SeedSpec,
    now: OffsetDateTime,
    mut progress: impl FnMut(u64, u64),
) -> Result<SeedReport, AppError> {
    let mut rng = StdRng::seed_from_u64(spec.seed);
    let mut scope_ids: Vec<(ScopeId, u32)> = Vec::new();
    for (name, exposure, weight) in SCOPES {
        let id = match store.scope_by_name(name).await? {
            Some(s) => s.id,
            None => {
                let mut s = NewScope::named(*name);
                s.exposure = *exposure;
                s.description = format!("{name} (generated by vantage dev seed)");
                store.create_scope(&s, now).await?
            }
        };
        scope_ids.push((id, *weight));
    }
    let mut report = SeedReport {
        scopes: scope_ids.len() as u64,
        ..Default::default()
    };
    let scan_time = now - Duration::hours(1);
    let previous_scan = now - Duration::days(8);
    // A batch of assets is generated, then recorded in one transaction, then its findings.
    let mut batch: Vec<NewAsset> = Vec::new();
    // Per finding: the index of its asset in the batch, whether only a first scan reports it
    // (fixed a week ago), the finding.
    let mut pending: Vec<(usize, bool, NewFinding)> = Vec::new();
    let mut batch_members: Vec<(usize, usize)> = Vec::new();
    let mut members: Vec<Vec<vantage_domain::AssetId>> = vec![Vec::new(); scope_ids.len()];
    // Writes left running while the next batch is generated: two on PostgreSQL (two server
    // processes); none on SQLite, whose one writer would only make the next batch's asset
    // transaction wait (and keep its WAL from being checkpointed).
    let in_flight = match store.backend() {
        vantage_store::Backend::Postgres => 2,
        vantage_store::Backend::Sqlite => 0,
    };
    let mut writes = std::collections::VecDeque::new();
    for n in 0..spec.assets {
        let os = pick_weighted(&mut rng, OS_MIX);
        let kind = pick_weighted(
            &mut rng,
            &[
                (AssetKind::Host, 85),
                (AssetKind::ContainerImage, 10),
                (AssetKind::CloudInstance, 5),
            ],
        );
        let name = format!(
            "{}-{n:06}",
            if kind == AssetKind::ContainerImage {
                "img"
            } else {
                "srv"
            }
        );
        let index = batch.len();
        batch.push(NewAsset {
            kind,
            name: name.clone(),
            os: Some(os.to_string()),
            identifiers: vec![
                Identifier::new(IdentifierKind::Ip, address(n)),
                Identifier::new(IdentifierKind::Hostname, &name),
            ],
            tags: vec![Tag {
                key: "seed".into(),
                value: spec.seed.to_string(),
            }],
            seen_at: scan_time,
        });
        let scope = rng.random_range(0..scope_ids.len());
        let weighted = pick_weighted(
            &mut rng,
            &scope_ids
                .iter()
                .enumerate()
                .map(|(i, (_, w))| (i, *w))
                .collect::<Vec<_>>(),
        );
        batch_members.push((weighted, index));
        if rng.random_bool(0.1) && scope != weighted {
            batch_members.push((scope, index));
        }
        let count = rng.random_range(spec.findings_per_asset / 2..=spec.findings_per_asset * 3 / 2);
        // A CVE drawn twice for one asset is one finding (the same package).
        let mut drawn = std::collections::HashSet::new();
        for _ in 0..count {
            let (i, cve) = pick_cve(&mut rng);
            let package = PACKAGES[i as usize % PACKAGES.len()];
            let fixed_before = rng.random_bool(0.12);
            // 5 % of the findings go away in one of the next three re-scans.
            let gone_in_round = if rng.random_bool(0.05) {
                rng.random_range(1..=3)
            } else {
                u32::MAX
            };
            let finding = NewFinding {
                asset_id: vantage_domain::AssetId(0),
                vuln_id: cve,
                evidence: Evidence {
                    component_kind: ComponentKind::Package,
                    component: package.to_string(),
                    package_id: None,
                    service_id: None,
                    installed_version: Some(format!("1.{}.{}-1", i % 7, i % 13)),
                    fixed_version: Some(format!("1.{}.{}-2", i % 7, i % 13)),
                    source: "seed".into(),
                    rule: "synthetic finding (vantage dev seed)".into(),
                    advisory: None,
                    confidence: Default::default(),
                },
                priority: Some(pick_priority(&mut rng)),
                score: Some(f64::from(rng.random_range(10..100u32)) / 10.0),
                seen_at: if fixed_before {
                    previous_scan
                } else {
                    scan_time
                },
            };
            if drawn.insert(i) && spec.round < gone_in_round {
                pending.push((index, fixed_before, finding));
            }
        }
        if pending.len() >= 20_000 || n + 1 == spec.assets {
            let t = std::time::Instant::now();
            let ids = store.upsert_assets(&batch).await?;
            report.seconds.assets += t.elapsed().as_secs_f64();
            report.assets += ids.len() as u64;
            for (scope, index) in batch_members.drain(..) {
                members[scope].push(ids[index].0);
            }
            // A finding fixed before this fleet's first scan is only reported by that scan
            // (round 0 creating the asset): a re-scan not seeing it again leaves it fixed.
            let findings: Vec<NewFinding> = pending
                .drain(..)
                .filter(|(index, fixed_before, _)| {
                    !fixed_before || (spec.round == 0 && ids[*index].1)
                })
                .map(|(index, _, mut f)| {
                    f.asset_id = ids[index].0;
                    f
                })
                .collect();
            let assets: Vec<vantage_domain::AssetId> = ids.iter().map(|(id, _)| *id).collect();
            batch.clear();
            // Each batch is its own transaction, as a scan's results are.
            let store = store.clone();
            writes.push_back(tokio::spawn(async move {
                write_batch(&store, findings, assets, scan_time, now).await
            }));
            while writes.len() > in_flight {
                let done = writes.pop_front().expect("a write is in flight");
                tally(&mut report, done.await)?;
            }
            progress(u64::from(n + 1), u64::from(spec.assets));
        }
    }
    while let Some(done) = writes.pop_front() {
        tally(&mut report, done.await)?;
    }
    progress(u64::from(spec.assets), u64::from(spec.assets));
    let t = std::time::Instant::now();
    for ((scope, _), ids) in scope_ids.iter().zip(&members) {
        store.add_scope_members(*scope, ids).await?;
    }
    store.refresh_statistics().await?;
    report.seconds.rest = t.elapsed().as_secs_f64();
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cve_popularity_is_skewed() {
        let mut rng = StdRng::seed_from_u64(1);
        let hits = (0..10_000)
            .filter(|_| pick_cve(&mut rng).0 < CVE_POOL / 10)
            .count();
        // u³ < 0.1 ⇔ u < 0.464: the top 10 % of the pool gets ~46 % of the findings.
        assert!((4_200..5_000).contains(&hits), "{hits}");
    }

    #[test]
    fn addresses_stay_in_loopback() {
        assert_eq!(address(0), "127.0.0.1");
        assert_eq!(address(70_000), "127.1.17.113");
        assert!(address(16_000_000).starts_with("127."));
    }
}
