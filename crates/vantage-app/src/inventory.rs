//! `vantage inventory import`: an inventory file becomes an asset, its packages and its
//! findings — judged by the distribution's own security data — then prioritized.

use std::path::Path;

use serde::Serialize;
use time::OffsetDateTime;
use vantage_detect::inventory::{self, OsRelease};
use vantage_detect::matcher::{distro_of, match_distro};
use vantage_domain::{
    AssetKind, Finding, FindingFilter, Identifier, IdentifierKind, NewAsset, NewFinding, Priority,
    StatusFilter,
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

impl App {
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

        let mut sources: Vec<String> = inv.packages.iter().map(|p| p.source_name.clone()).collect();
        sources.sort();
        sources.dedup();
        let distro = distro_of(&os);
        let distro_data = self.store.has_distro_data(distro, &os.version).await?;
        let fixes = self
            .store
            .distro_fixes_for(distro, &os.version, &sources)
            .await?;
        let detections = match_distro(&os, &inv.packages, &fixes);
        let findings: Vec<NewFinding> = detections
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
        self.store.upsert_findings(&findings).await?;
        // Package findings of this asset that this inventory no longer shows are fixed.
        let detected: std::collections::HashSet<(&str, &str)> = findings
            .iter()
            .map(|f| (f.vuln_id.as_str(), f.evidence.component.as_str()))
            .collect();
        let gone: Vec<vantage_domain::FindingId> = self
            .open_findings(asset)
            .await?
            .into_iter()
            .filter(|f| {
                f.evidence.component_kind == vantage_domain::ComponentKind::Package
                    && !detected.contains(&(f.vuln_id.as_str(), f.evidence.component.as_str()))
            })
            .map(|f| f.id)
            .collect();
        let fixed = self.store.fix_findings(&gone, now).await?;
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
            source_packages: sources.len() as u64,
            findings: open.len() as u64,
            fixed,
            distro_data,
            prioritization,
            by_priority,
            urgent,
        })
    }
}
