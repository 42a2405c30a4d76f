//! `vantage inventory import`: an inventory file becomes an asset, its packages and its
//! findings — judged by the distribution's own security data — then prioritized.

use std::path::Path;

use serde::Serialize;
use time::OffsetDateTime;
use vantage_detect::inventory::{self, InstalledPackage, OsRelease};
use vantage_detect::matcher::{distro_of, match_distro};
use vantage_domain::{
    AssetId, AssetKind, DistroFix, Finding, FindingFilter, Identifier, IdentifierKind, NewAsset,
    NewFinding, Priority, StatusFilter,
};
use vantage_store::NewPackage;

use crate::app::App;
use crate::error::AppError;
use crate::prioritize::PrioritizeReport;

/// What an inventory import did.
#[derive(Debug, Clone, Serialize)]
pub struct InventoryReport {
    /// The asset's id.
    pub asset_id: i64,
    /// The asset's name.
    pub asset: String,
    /// Its operating system (`alpine:3.19`).
    pub os: String,
    /// The file's format (`apk-installed`, `dpkg-status`).
    pub format: &'static str,
    /// Installed packages stored.
    pub packages: u64,
    /// Source packages judged.
    pub source_packages: u64,
    /// Vulnerabilities detected (open findings after this import).
    pub findings: u64,
    /// Findings of earlier imports no longer present (marked fixed).
    pub fixed: u64,
    /// False when no distribution data is stored for this release (nothing could be judged).
    pub distro_data: bool,
    /// The prioritization that followed.
    pub prioritization: PrioritizeReport,
    /// Open findings by priority, P1 to P4 (then unprioritized).
    pub by_priority: [u64; 5],
    /// The P1 and P2 findings.
    pub urgent: Vec<Finding>,
}

/// What a re-detection over the stored inventories did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RedetectReport {
    /// Assets judged again.
    pub assets: u64,
    /// Open package findings after the run.
    pub findings: u64,
    /// Findings this run created (new advisories on stored inventories).
    pub new: u64,
    /// Findings no longer present (marked fixed).
    pub fixed: u64,
    /// The prioritization that followed (not run when nothing was new or gone).
    pub prioritization: PrioritizeReport,
    /// Wall time, seconds.
    pub seconds: f64,
}

fn installed(p: &NewPackage) -> InstalledPackage {
    InstalledPackage {
        ecosystem: p.ecosystem,
        name: p.name.clone(),
        version: p.version.clone(),
        arch: (!p.arch.is_empty()).then(|| p.arch.clone()),
        source_name: p.source_name.clone().unwrap_or_else(|| p.name.clone()),
        source_version: p
            .source_version
            .clone()
            .unwrap_or_else(|| p.version.clone()),
    }
}

impl App {
    /// The distribution data about these packages for a release, and the number of source
    /// packages asked about.
    async fn fixes_for(
        &self,
        os: &OsRelease,
        packages: &[InstalledPackage],
    ) -> Result<(Vec<DistroFix>, u64), AppError> {
        let mut names: Vec<String> = packages
            .iter()
            .flat_map(|p| [p.source_name.clone(), p.name.clone()])
            .collect();
        names.sort();
        names.dedup();
        let sources = packages
            .iter()
            .map(|p| p.source_name.as_str())
            .collect::<std::collections::HashSet<_>>()
            .len() as u64;
        let fixes = self
            .store
            .distro_fixes_for(distro_of(os), &os.version, &names)
            .await?;
        Ok((fixes, sources))
    }

    /// Judges an asset's packages: writes what the distribution data says is vulnerable and
    /// marks fixed the asset's package findings that are no longer. A scan (`seen`) refreshes
    /// every finding it saw; a re-detection over stored packages writes only new findings.
    /// Returns (detected, written, fixed).
    async fn judge(
        &self,
        asset: AssetId,
        os: &OsRelease,
        packages: &[InstalledPackage],
        fixes: &[DistroFix],
        now: OffsetDateTime,
        seen: bool,
    ) -> Result<(u64, u64, u64), AppError> {
        let findings: Vec<NewFinding> = match_distro(os, packages, fixes)
            .into_iter()
            .map(|d| NewFinding {
                asset_id: asset,
                vuln_id: d.vuln_id,
                evidence: d.evidence,
                priority: None,
                score: None,
                seen_at: now,
            })
            .collect();
        let open = self.store.open_package_findings(asset).await?;
        let stored: std::collections::HashSet<(&str, &str)> = open
            .iter()
            .map(|(_, v, c)| (v.as_str(), c.as_str()))
            .collect();
        let detected: std::collections::HashSet<(&str, &str)> = findings
            .iter()
            .map(|f| (f.vuln_id.as_str(), f.evidence.component.as_str()))
            .collect();
        let to_write: Vec<NewFinding> = if seen {
            findings.clone()
        } else {
            findings
                .iter()
                .filter(|f| !stored.contains(&(f.vuln_id.as_str(), f.evidence.component.as_str())))
                .cloned()
                .collect()
        };
        self.store.upsert_findings(&to_write).await?;
        let gone: Vec<vantage_domain::FindingId> = open
            .iter()
            .filter(|(_, v, c)| !detected.contains(&(v.as_str(), c.as_str())))
            .map(|(id, _, _)| *id)
            .collect();
        let fixed = self.store.fix_findings(&gone, now).await?;
        Ok((findings.len() as u64, to_write.len() as u64, fixed))
    }

    /// Judges every stored inventory again with the current distribution data — after a feed
    /// import, a new advisory becomes findings on existing hosts without re-scanning them (and
    /// a withdrawn one is closed) — then prioritizes.
    pub async fn redetect(&self) -> Result<RedetectReport, AppError> {
        let started = std::time::Instant::now();
        let now = OffsetDateTime::now_utc();
        let mut report = RedetectReport::default();
        // A release's data is read once for all its hosts.
        let mut releases: std::collections::HashMap<String, Vec<DistroFix>> = Default::default();
        for (asset, os) in self.store.inventoried_assets().await? {
            let Ok(os) = OsRelease::parse(&os) else {
                continue;
            };
            if let std::collections::hash_map::Entry::Vacant(e) = releases.entry(os.label()) {
                e.insert(
                    self.store
                        .distro_fixes_for_release(distro_of(&os), &os.version)
                        .await?,
                );
            }
            let packages: Vec<InstalledPackage> = self
                .store
                .packages_of(asset)
                .await?
                .iter()
                .map(installed)
                .collect();
            let fixes = &releases[&os.label()];
            let (detected, written, fixed) =
                self.judge(asset, &os, &packages, fixes, now, false).await?;
            report.assets += 1;
            report.findings += detected;
            report.new += written;
            report.fixed += fixed;
        }
        // Nothing new and nothing gone: the priorities are what they were.
        if report.new > 0 || report.fixed > 0 {
            report.prioritization = self.run_prioritize_job("detection").await?;
        }
        report.seconds = started.elapsed().as_secs_f64();
        Ok(report)
    }

    /// [`App::redetect`] as a durable `detection` job.
    pub async fn run_redetect_job(&self, worker: &str) -> Result<RedetectReport, AppError> {
        let job = self
            .store
            .start_job(
                vantage_domain::JobKind::Detection,
                "{}",
                worker,
                OffsetDateTime::now_utc(),
            )
            .await?;
        let result = self.redetect().await;
        let (status, error) = match &result {
            Ok(r) => {
                let line = format!(
                    "{} assets, {} findings, {} fixed, {:.1} s",
                    r.assets, r.findings, r.fixed, r.seconds
                );
                self.store.job_log(job, "info", &line).await?;
                (vantage_domain::JobStatus::Done, None)
            }
            Err(e) => (vantage_domain::JobStatus::Failed, Some(e.to_string())),
        };
        self.store
            .finish_job(job, status, error.as_deref(), OffsetDateTime::now_utc())
            .await?;
        result
    }

    /// Every open finding of an asset.
    async fn open_findings(
        &self,
        asset: vantage_domain::AssetId,
    ) -> Result<Vec<Finding>, AppError> {
        let mut open = Vec::new();
        let mut cursor = None;
        loop {
            let page = self
                .store
                .list_findings(&FindingFilter {
                    asset: Some(asset),
                    status: StatusFilter::Open,
                    limit: 1000,
                    cursor: cursor.take(),
                    ..Default::default()
                })
                .await?;
            open.extend(page.items);
            match page.next_cursor {
                Some(c) => {
                    cursor = Some(
                        vantage_domain::Cursor::decode(&c)
                            .map_err(|e| AppError::Invalid(e.to_string()))?,
                    )
                }
                None => return Ok(open),
            }
        }
    }

    /// Imports an inventory file for an asset (created or updated by name): stores its
    /// packages, detects vulnerabilities with the distribution's data for `os` (or the release
    /// the file names), closes findings no longer present, and prioritizes. A file that does
    /// not parse changes nothing; the error names the line.
    pub async fn import_inventory(
        &self,
        asset_name: &str,
        os: Option<&str>,
        path: &Path,
    ) -> Result<InventoryReport, AppError> {
        let asset_name = asset_name.trim();
        if asset_name.is_empty() {
            return Err(AppError::Invalid("--asset needs a name".into()));
        }
        // Flags first: a wrong --os is said before the file is read.
        let os_flag = os
            .map(OsRelease::parse)
            .transpose()
            .map_err(|e| AppError::Invalid(e.message))?;
        let text = std::fs::read_to_string(path)
            .map_err(|e| AppError::Invalid(format!("cannot read {}: {e}", path.display())))?;
        let inv = inventory::parse(&text)
            .map_err(|e| AppError::Invalid(format!("{}: {e}", path.display())))?;
        let os = match os_flag {
            Some(o) => o,
            None => {
                return Err(AppError::Invalid(format!(
                    "{}: a {} file does not say which release it comes from: pass --os (e.g. {})",
                    path.display(),
                    inv.format,
                    if inv.format == "apk-installed" {
                        "alpine:3.19"
                    } else {
                        "debian:12"
                    }
                )));
            }
        };
        let now = OffsetDateTime::now_utc();
        let asset = self
            .store
            .upsert_asset(&NewAsset {
                kind: AssetKind::Host,
                name: asset_name.to_string(),
                os: Some(os.label()),
                identifiers: vec![Identifier::new(IdentifierKind::Hostname, asset_name)],
                tags: vec![],
                seen_at: now,
            })
            .await?;
        let packages: Vec<NewPackage> = inv
            .packages
            .iter()
            .map(|p| NewPackage {
                ecosystem: p.ecosystem,
                name: p.name.clone(),
                version: p.version.clone(),
                source_name: Some(p.source_name.clone()),
                source_version: Some(p.source_version.clone()),
                arch: p.arch.clone().unwrap_or_default(),
            })
            .collect();
        let stored = self.store.replace_packages(asset, &packages).await?;

        let distro_data = self
            .store
            .has_distro_data(distro_of(&os), &os.version)
            .await?;
        let fixes = self.fixes_for(&os, &inv.packages).await?;
        let sources = fixes.1;
        let (_, _, fixed) = self
            .judge(asset, &os, &inv.packages, &fixes.0, now, true)
            .await?;
        let prioritization = self.run_prioritize_job("inventory").await?;

        let open = self.open_findings(asset).await?;
        let mut by_priority = [0u64; 5];
        for f in &open {
            by_priority[f.priority.map_or(4, |p| usize::from(p.rank() as u8) - 1)] += 1;
        }
        let mut urgent: Vec<Finding> = open
            .iter()
            .filter(|f| matches!(f.priority, Some(Priority::P1 | Priority::P2)))
            .cloned()
            .collect();
        urgent.sort_by(|a, b| {
            (a.priority, b.score, a.vuln_id.as_str())
                .partial_cmp(&(b.priority, a.score, b.vuln_id.as_str()))
                .unwrap_or(std::cmp::Ordering::Equal)
        });
        Ok(InventoryReport {
            asset_id: asset.0,
            asset: asset_name.to_string(),
            os: os.label(),
            format: inv.format,
            packages: stored,
            source_packages: sources,
            findings: open.len() as u64,
            fixed,
            distro_data,
            prioritization,
            by_priority,
            urgent,
        })
    }
}
