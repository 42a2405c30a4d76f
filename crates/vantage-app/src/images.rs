//! Container image inventory: `vantage scan image REF|FILE` reads a `docker save` archive, an
//! OCI layout (directory or tar) or pulls from a registry, then the image becomes an asset
//! (known by its configuration digest: the same image read from a file or a registry is one
//! asset) with its packages judged like any inventory. `vantage discover kubernetes` lists the
//! images pods run and queues them here.

use std::path::Path;

use serde::Serialize;
use vantage_detect::inventory::{self, OsRelease};
use vantage_domain::{Identifier, IdentifierKind};
use vantage_scan::host::PackageSource;
use vantage_scan::image::{
    ImageFacts, ImageLimits, Platform, RegistryOptions, pull_image, read_image_path,
    rpmdb_sqlite_packages,
};

use crate::app::App;
use crate::error::AppError;
use crate::hosts::PackageEntry;
use crate::inventory::InventoryReport;

/// What `vantage scan image` found.
#[derive(Debug, Clone, Serialize)]
pub struct ImageInventoryReport {
    /// The image as read.
    pub image: ImageFacts,
    /// Where its packages came from (`dpkg-status`, `apk-installed`, `rpm-sqlite`).
    pub package_source: &'static str,
    /// Every installed package.
    pub packages: Vec<PackageEntry>,
    /// Detection's report.
    pub inventory: InventoryReport,
}

/// How to read an image.
#[derive(Debug, Clone, Default)]
pub struct ImageRequest {
    /// Which platform of a multi-platform image (this machine's by default).
    pub platform: Option<Platform>,
    /// Registry credentials and plain-HTTP registries.
    pub registry: RegistryOptions,
    /// Bounds against hostile archives.
    pub limits: ImageLimits,
    /// The release (`debian:12`) when the image has no os-release file.
    pub os: Option<String>,
}

impl App {
    /// Reads an image — a path (archive or layout) when one exists, else a registry reference —
    /// stores it as an asset with its packages, and judges them.
    pub async fn scan_image(
        &self,
        source: &str,
        req: &ImageRequest,
    ) -> Result<ImageInventoryReport, AppError> {
        let started = std::time::Instant::now();
        // Flags first: a wrong --os is said before anything is read.
        let os_flag = req
            .os
            .as_deref()
            .map(crate::inventory::os_release_of)
            .transpose()?;
        let platform = req.platform.clone().unwrap_or_else(Platform::host);
        let path = Path::new(source);
        let facts = if path.exists() {
            let (path, limits) = (path.to_path_buf(), req.limits);
            tokio::task::spawn_blocking(move || read_image_path(&path, &platform, &limits))
                .await
                .map_err(|e| AppError::Invalid(format!("{source}: {e}")))?
        } else if source.contains('/') && (source.starts_with('.') || source.starts_with('/')) {
            return Err(AppError::Invalid(format!(
                "{source}: no such file or directory"
            )));
        } else {
            pull_image(source, &platform, &req.registry, &req.limits).await
        }
        .map_err(vantage_scan::ScanError::from)?;
        self.inventory_image(facts, os_flag, started).await
    }

    async fn inventory_image(
        &self,
        mut facts: ImageFacts,
        os_flag: Option<OsRelease>,
        started: std::time::Instant,
    ) -> Result<ImageInventoryReport, AppError> {
        let origin = facts.source.clone();
        let (format, packages) = match &facts.packages {
            PackageSource::RpmSqlite(db) => {
                let text = rpmdb_sqlite_packages(db)
                    .await
                    .map_err(|e| AppError::Invalid(format!("{origin}: {e}")))?;
                let parsed = inventory::rpm::parse_tsv(&text)
                    .map_err(|e| AppError::Invalid(format!("rpm-sqlite of {origin}: {e}")))?;
                ("rpm-sqlite", parsed)
            }
            PackageSource::None => ("none", vec![]),
            other => crate::hosts::parse_packages(other, &origin)?,
        };
        if format == "none" {
            facts.warnings.push(
                "no package database in the image (dpkg status, apk installed database or rpmdb.sqlite): a distroless or scratch image, or an unsupported one"
                    .into(),
            );
        }
        let os = facts
            .os_release
            .as_deref()
            .and_then(OsRelease::from_os_release);
        let entries: Vec<PackageEntry> = packages.iter().map(PackageEntry::from).collect();
        let short = facts
            .config_digest
            .get(..19)
            .unwrap_or(&facts.config_digest)
            .to_string();
        let name = match facts.repo_tags.first() {
            Some(tag) => format!("{tag} ({short})"),
            None => format!("{} ({short})", facts.source),
        };
        let inv = inventory::Inventory {
            format,
            packages,
            os,
            subject: None,
            container: true,
            skipped: 0,
        };
        let ids = vec![Identifier::new(
            IdentifierKind::ImageDigest,
            &facts.config_digest,
        )];
        let origin = if format == "none" {
            origin
        } else {
            format!("{format} of {origin}")
        };
        let report = self
            .import_parsed(name, os_flag, inv, &origin, ids, started)
            .await?;
        Ok(ImageInventoryReport {
            image: facts,
            package_source: format,
            packages: entries,
            inventory: report,
        })
    }
}
