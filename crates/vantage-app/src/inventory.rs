//! `vantage inventory import` / `vantage scan sbom`: an inventory file becomes an asset, its
//! packages and its findings — distribution packages judged by the distribution's own security
//! data, language packages by OSV advisories — then prioritized.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use serde::Serialize;
use time::OffsetDateTime;
use vantage_detect::cpe::{Cpe, CpeAdvisory, covered_by_package, match_cpe};
use vantage_detect::inventory::{self, InstalledPackage, OsRelease};
use vantage_detect::matcher::{Detection, distro_of, match_distro};
use vantage_detect::osv::{Advisory, match_osv};
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
    /// Its operating system (`alpine:3.19`), when known (an SBOM of language packages may
    /// name none).
    pub os: Option<String>,
    /// The file's format (`apk-installed`, `dpkg-status`, `cyclonedx`, `spdx`).
    pub format: &'static str,
    /// Installed packages stored.
    pub packages: u64,
    /// Distribution source packages judged.
    pub source_packages: u64,
    /// Language packages (npm, PyPI, crates.io, Maven, Go …) judged by OSV advisories.
    pub language_packages: u64,
    /// OSV advisories about those packages that were consulted.
    pub advisories: u64,
    /// False when the file holds language packages and no OSV advisory is stored at all.
    pub osv_data: bool,
    /// SBOM components skipped (no Package URL, or a type Vantage does not judge).
    pub skipped: u64,
    /// Vulnerabilities detected (open findings after this import).
    pub findings: u64,
    /// Findings of earlier imports no longer present (marked fixed).
    pub fixed: u64,
    /// False when the file holds distribution packages and no distribution data is stored for
    /// this release (they could not be judged).
    pub distro_data: bool,
    /// The prioritization that followed.
    pub prioritization: PrioritizeReport,
    /// Open findings by priority, P1 to P4 (then unprioritized).
    pub by_priority: [u64; 5],
    /// The P1 and P2 findings.
    pub urgent: Vec<Finding>,
    /// Wall time of the whole import, milliseconds.
    pub elapsed_ms: f64,
    /// Of which matching the packages against the knowledge, milliseconds.
    pub match_ms: f64,
}

/// What a re-detection over the stored inventories did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RedetectReport {
    /// Assets judged again.
    pub assets: u64,
    /// Package findings detected among what was judged (every package of every host for a full
    /// re-detection; the changed packages for an incremental one).
    pub findings: u64,
    /// Findings this run created (new advisories on stored inventories).
    pub new: u64,
    /// Findings no longer present (marked fixed).
    pub fixed: u64,
    /// The prioritization that followed (not run when nothing was new or gone).
    pub prioritization: PrioritizeReport,
    /// Wall time, seconds.
    pub seconds: f64,
    /// Of which matching packages against the knowledge (the rest is reading inventories and
    /// findings, writing findings, and prioritizing).
    pub match_seconds: f64,
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

/// `--os`: `DISTRO:RELEASE`, or the path of the host's `/etc/os-release` (copied beside the
/// inventory), read for its `ID` and `VERSION_ID`.
pub(crate) fn os_release_of(flag: &str) -> Result<OsRelease, AppError> {
    let path = Path::new(flag);
    if !flag.contains(':') && path.is_file() {
        let text = std::fs::read_to_string(path)
            .map_err(|e| AppError::Invalid(format!("--os {flag}: {e}")))?;
        return OsRelease::from_os_release(&text).ok_or_else(|| {
            AppError::Invalid(format!(
                "--os {flag}: not an os-release file (no ID= and VERSION_ID= lines)"
            ))
        });
    }
    OsRelease::parse(flag).map_err(|e| AppError::Invalid(e.message))
}

/// A host's open package findings: (finding, vulnerability, component).
type OpenKeys = HashMap<AssetId, Vec<(vantage_domain::FindingId, String, String)>>;

/// Hosts judged per batch by a full re-detection: their packages and open findings are read
/// in one query each.
const REDETECT_BATCH: usize = 50;

/// Distribution packages (judged by the distribution's data) and language packages (judged by
/// OSV advisories).
fn split(packages: &[InstalledPackage]) -> (Vec<InstalledPackage>, Vec<InstalledPackage>) {
    packages
        .iter()
        .filter(|p| p.ecosystem != vantage_domain::Ecosystem::Generic)
        .cloned()
        .partition(|p| p.ecosystem.osv_name().is_none())
}

/// One host's detections: distribution packages by its release's data, language packages by
/// OSV advisories.
fn detect_host(
    os: Option<&OsRelease>,
    packages: &[InstalledPackage],
    releases: &HashMap<String, Vec<DistroFix>>,
    advisories: &[Advisory],
) -> Vec<Detection> {
    let (distro, language) = split(packages);
    let mut detections = Vec::new();
    if let Some(os) = os
        && !distro.is_empty()
        && let Some(fixes) = releases.get(&os.label())
    {
        detections.extend(match_distro(os, &distro, fixes));
    }
    if !language.is_empty() {
        detections.extend(match_osv(&language, advisories));
    }
    detections
}

/// Matches many hosts on every core (matching is pure CPU work over shared, read-only data).
fn match_hosts(
    work: &[(AssetId, Option<OsRelease>, Vec<InstalledPackage>)],
    releases: &HashMap<String, Vec<DistroFix>>,
    advisories: &[Advisory],
) -> Vec<(AssetId, Vec<Detection>, Option<HashSet<String>>)> {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, work.len().max(1));
    let per_thread = work.len().div_ceil(threads).max(1);
    std::thread::scope(|s| {
        let handles: Vec<_> = work
            .chunks(per_thread)
            .map(|part| {
                s.spawn(move || {
                    part.iter()
                        .map(|(asset, os, packages)| {
                            (
                                *asset,
                                detect_host(os.as_ref(), packages, releases, advisories),
                                None,
                            )
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("a matching thread panicked"))
            .collect()
    })
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

    /// The OSV advisories about these language packages.
    async fn advisories_for(
        &self,
        packages: &[InstalledPackage],
    ) -> Result<Vec<Advisory>, AppError> {
        let mut keys: Vec<(&str, String)> = packages
            .iter()
            .filter_map(|p| Some((p.ecosystem.osv_name()?, p.ecosystem.package_key(&p.name))))
            .collect();
        keys.sort();
        keys.dedup();
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        Ok(self
            .store
            .osv_advisories_for(&keys)
            .await?
            .into_iter()
            .map(|a| Advisory {
                withdrawn: a.status.as_deref() == Some("withdrawn"),
                id: a.id,
                aliases: a.aliases,
                affected: a.affected,
            })
            .collect())
    }

    /// Judges products seen on the network — (component such as `tcp/22`, its CPE) — by NVD's
    /// CPE configurations (confidence low). A product that an installed distribution package
    /// of the asset provides is left to the distribution's data and not judged here; those are
    /// returned as the second list. Discovery stores the result as service findings.
    pub async fn detect_network_products(
        &self,
        asset: Option<AssetId>,
        products: &[(String, Cpe)],
    ) -> Result<(Vec<Detection>, Vec<String>), AppError> {
        let packages: Vec<InstalledPackage> = match asset {
            Some(a) => self
                .store
                .packages_of(a)
                .await?
                .iter()
                .map(installed)
                .collect(),
            None => Vec::new(),
        };
        type Seen<'a> = Vec<&'a (String, Cpe)>;
        let (covered, judged): (Seen, Seen) = products
            .iter()
            .partition(|(_, cpe)| covered_by_package(cpe, &packages));
        let mut keys: Vec<(String, String)> = judged
            .iter()
            .map(|(_, c)| (c.vendor.clone(), c.product.clone()))
            .collect();
        keys.sort();
        keys.dedup();
        let advisories: Vec<CpeAdvisory> = if keys.is_empty() {
            Vec::new()
        } else {
            self.store
                .cpe_advisories_for(&keys)
                .await?
                .into_iter()
                .map(|(vuln_id, matches)| CpeAdvisory { vuln_id, matches })
                .collect()
        };
        let detections = judged
            .iter()
            .flat_map(|(component, cpe)| match_cpe(component, cpe, &advisories))
            .collect();
        Ok((
            detections,
            covered.into_iter().map(|(c, _)| c.clone()).collect(),
        ))
    }

    /// Writes many assets' detections at once. Each asset's judgement may cover only some
    /// components (`Some`: the packages a knowledge change named): its open findings outside
    /// them are left alone. Only findings not already open are written (with `refresh`, a scan: all
    /// of them, so that each records when it was last seen); open ones no longer
    /// detected are marked fixed. Returns (detected, written, fixed).
    async fn judge_batch(
        &self,
        judged: Vec<(AssetId, Vec<Detection>, Option<HashSet<String>>)>,
        now: OffsetDateTime,
        prefetched: Option<OpenKeys>,
        refresh: bool,
    ) -> Result<(u64, u64, u64), AppError> {
        if judged.is_empty() {
            return Ok((0, 0, 0));
        }
        let assets: Vec<AssetId> = judged.iter().map(|(a, _, _)| *a).collect();
        let restricted: Option<Vec<String>> = judged
            .iter()
            .map(|(_, _, c)| c.as_ref())
            .collect::<Option<Vec<_>>>()
            .map(|sets| {
                let mut all: Vec<String> = sets.into_iter().flatten().cloned().collect();
                all.sort();
                all.dedup();
                all
            });
        // Restricted to components: read by component (index) for every host, kept for these.
        let open = match &restricted {
            Some(components) => {
                let judged_assets: HashSet<AssetId> = assets.iter().copied().collect();
                let mut open = self.store.open_package_findings_on(components).await?;
                open.retain(|(a, _, _, _)| judged_assets.contains(a));
                open
            }
            None => Vec::new(),
        };
        // Unrestricted (a full re-detection): every open finding of these hosts, one
        // aggregated row per host.
        let mut open_by_asset: OpenKeys = match (restricted.is_none(), prefetched) {
            (true, Some(open)) => open,
            (true, None) => self.store.open_package_keys_by_asset(&assets).await?,
            (false, _) => HashMap::new(),
        };
        for (asset, id, v, c) in open {
            open_by_asset.entry(asset).or_default().push((id, v, c));
        }
        let (mut detected, mut to_write, mut gone) = (0u64, Vec::new(), Vec::new());
        for (asset, detections, components) in judged {
            let open = open_by_asset.remove(&asset).unwrap_or_default();
            let in_scope = |c: &str| components.as_ref().is_none_or(|set| set.contains(c));
            let stored: HashSet<(&str, &str)> = open
                .iter()
                .filter(|(_, _, c)| in_scope(c))
                .map(|(_, v, c)| (v.as_str(), c.as_str()))
                .collect();
            let seen: HashSet<(&str, &str)> = detections
                .iter()
                .map(|d| (d.vuln_id.as_str(), d.evidence.component.as_str()))
                .collect();
            gone.extend(
                open.iter()
                    .filter(|(_, v, c)| in_scope(c) && !seen.contains(&(v.as_str(), c.as_str())))
                    .map(|(id, _, _)| *id),
            );
            drop(seen);
            detected += detections.len() as u64;
            for d in detections {
                if refresh || !stored.contains(&(d.vuln_id.as_str(), d.evidence.component.as_str()))
                {
                    to_write.push(finding_of(asset, d, now));
                }
            }
        }
        self.store.upsert_findings(&to_write).await?;
        let fixed = self.store.fix_findings(&gone, now).await?;
        if refresh {
            self.alert_regressions(&assets, now).await?;
        }
        Ok((detected, to_write.len() as u64, fixed))
    }

    /// Judges every stored inventory again with the current knowledge, a batch of hosts at a
    /// time (their packages and open findings read in one query each), then prioritizes when
    /// something was new or gone. [`App::redetect_changes`] is the incremental form.
    pub async fn redetect(&self) -> Result<RedetectReport, AppError> {
        let started = std::time::Instant::now();
        let now = OffsetDateTime::now_utc();
        let mut report = RedetectReport::default();
        // Whatever was queued is covered by judging everything.
        let queued = self.store.detection_changes().await?;
        // A release's data is read once for all its hosts.
        let mut releases: HashMap<String, Vec<DistroFix>> = Default::default();
        let inventoried = self.store.inventoried_assets().await?;
        // A batch's packages and open findings are read side by side (two connections), and the
        // next batch is read while this one is matched and judged.
        let read = |batch: &[(AssetId, Option<String>)]| {
            let store = self.store.clone();
            let ids: Vec<AssetId> = batch.iter().map(|(a, _)| *a).collect();
            tokio::spawn(async move {
                tokio::try_join!(
                    store.packages_by_asset(&ids),
                    store.open_package_keys_by_asset(&ids)
                )
            })
        };
        let batches: Vec<&[(AssetId, Option<String>)]> =
            inventoried.chunks(REDETECT_BATCH).collect();
        let mut next = batches.first().map(|b| read(b));
        for (i, &batch) in batches.iter().enumerate() {
            let (packed, open) = next
                .take()
                .expect("a read is pending for every batch")
                .await
                .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()))?;
            next = batches.get(i + 1).map(|b| read(b));
            let mut packages: HashMap<AssetId, Vec<InstalledPackage>> = packed
                .into_iter()
                .map(|(a, list)| (a, list.iter().map(installed).collect()))
                .collect();
            // The batch's language packages are looked up at once.
            let all_language: Vec<InstalledPackage> = packages
                .values()
                .flatten()
                .filter(|p| p.ecosystem.osv_name().is_some())
                .cloned()
                .collect();
            let advisories = self.advisories_for(&all_language).await?;
            // The releases of this batch, read once for the whole run.
            let mut work = Vec::with_capacity(batch.len());
            for (asset, os) in batch {
                let os = os.as_deref().and_then(|o| OsRelease::parse(o).ok());
                if let Some(os) = &os
                    && let std::collections::hash_map::Entry::Vacant(e) = releases.entry(os.label())
                {
                    e.insert(
                        self.store
                            .distro_fixes_for_release(distro_of(os), &os.version)
                            .await?,
                    );
                }
                work.push((*asset, os, packages.remove(asset).unwrap_or_default()));
            }
            let matching = std::time::Instant::now();
            let judged = match_hosts(&work, &releases, &advisories);
            report.match_seconds += matching.elapsed().as_secs_f64();
            let (detected, written, fixed) =
                self.judge_batch(judged, now, Some(open), false).await?;
            report.assets += batch.len() as u64;
            report.findings += detected;
            report.new += written;
            report.fixed += fixed;
        }
        self.store.forget_detection_changes(&queued).await?;
        // Nothing new and nothing gone: the priorities are what they were.
        if report.new > 0 || report.fixed > 0 {
            report.prioritization = self.run_prioritize_job("detection").await?;
        }
        report.seconds = started.elapsed().as_secs_f64();
        Ok(report)
    }

    /// Judges again only what the knowledge base changed since the last detection: the
    /// packages of each changed (release, package) and (OSV ecosystem, package) on the hosts
    /// that hold them — a new advisory becomes findings on stored inventories without
    /// re-scanning hosts, a withdrawn one closes them, and the cost follows the change, not the
    /// fleet. Then prioritizes when something was new or gone.
    pub async fn redetect_changes(&self) -> Result<RedetectReport, AppError> {
        let started = std::time::Instant::now();
        let now = OffsetDateTime::now_utc();
        let mut report = RedetectReport::default();
        let queued = self.store.detection_changes().await?;
        if queued.is_empty() {
            report.seconds = started.elapsed().as_secs_f64();
            return Ok(report);
        }
        let mut distro_changes: HashMap<&str, Vec<String>> = HashMap::new();
        let mut osv_changes: HashMap<&str, HashSet<&str>> = HashMap::new();
        for (kind, scope, name) in &queued {
            match kind.as_str() {
                "distro" => distro_changes.entry(scope).or_default().push(name.clone()),
                "osv" => {
                    osv_changes.entry(scope).or_default().insert(name);
                }
                _ => {}
            }
        }
        let inventoried = self.store.inventoried_assets().await?;
        let oses: Vec<(AssetId, Option<OsRelease>)> = inventoried
            .iter()
            .map(|(a, os)| (*a, os.as_deref().and_then(|o| OsRelease::parse(o).ok())))
            .collect();
        // asset → (detections, components judged)
        let mut judged: HashMap<AssetId, (Vec<Detection>, HashSet<String>)> = HashMap::new();
        for (scope, names) in &distro_changes {
            let Some((distro, release)) = scope.split_once(':') else {
                continue;
            };
            let hosts: HashMap<AssetId, &OsRelease> = oses
                .iter()
                .filter_map(|(a, os)| {
                    let os = os.as_ref()?;
                    (distro_of(os) == distro && os.version == release).then_some((*a, os))
                })
                .collect();
            if hosts.is_empty() {
                continue;
            }
            let mut packages: HashMap<AssetId, Vec<InstalledPackage>> = HashMap::new();
            for (asset, p) in self.store.packages_named(names, false).await? {
                let p = installed(&p);
                if hosts.contains_key(&asset) && p.ecosystem.osv_name().is_none() {
                    packages.entry(asset).or_default().push(p);
                }
            }
            if packages.is_empty() {
                continue;
            }
            let fixes = self.store.distro_fixes_for(distro, release, names).await?;
            for (asset, pkgs) in packages {
                let entry = judged.entry(asset).or_default();
                entry.0.extend(match_distro(hosts[&asset], &pkgs, &fixes));
                entry.1.extend(
                    pkgs.iter()
                        .flat_map(|p| [p.name.clone(), p.source_name.clone()]),
                );
            }
        }
        if !osv_changes.is_empty() && !oses.is_empty() {
            let names: Vec<String> = {
                let mut n: Vec<String> = osv_changes
                    .values()
                    .flatten()
                    .map(|s| s.to_string())
                    .collect();
                n.sort();
                n.dedup();
                n
            };
            let live: HashSet<AssetId> = oses.iter().map(|(a, _)| *a).collect();
            let mut packages: HashMap<AssetId, Vec<InstalledPackage>> = HashMap::new();
            for (asset, p) in self.store.packages_named(&names, true).await? {
                let p = installed(&p);
                if let Some(eco) = p.ecosystem.osv_name()
                    && live.contains(&asset)
                    && osv_changes
                        .get(eco)
                        .is_some_and(|n| n.contains(p.ecosystem.package_key(&p.name).as_str()))
                {
                    packages.entry(asset).or_default().push(p);
                }
            }
            let all: Vec<InstalledPackage> = packages.values().flatten().cloned().collect();
            let advisories = self.advisories_for(&all).await?;
            for (asset, pkgs) in packages {
                let entry = judged.entry(asset).or_default();
                entry.0.extend(match_osv(&pkgs, &advisories));
                entry
                    .1
                    .extend(pkgs.iter().map(vantage_detect::osv::component));
            }
        }
        report.assets = judged.len() as u64;
        let (detected, written, fixed) = self
            .judge_batch(
                judged
                    .into_iter()
                    .map(|(a, (d, c))| (a, d, Some(c)))
                    .collect(),
                now,
                None,
                false,
            )
            .await?;
        report.findings = detected;
        report.new = written;
        report.fixed = fixed;
        self.store.forget_detection_changes(&queued).await?;
        if report.new > 0 || report.fixed > 0 {
            report.prioritization = self.run_prioritize_job("detection").await?;
        }
        report.seconds = started.elapsed().as_secs_f64();
        Ok(report)
    }

    /// [`App::redetect_changes`] (or, `all`, [`App::redetect`]) as a durable `detection` job.
    pub async fn run_redetect_job(
        &self,
        worker: &str,
        all: bool,
    ) -> Result<RedetectReport, AppError> {
        let job = self
            .store
            .start_job(
                vantage_domain::JobKind::Detection,
                if all { r#"{"all":true}"# } else { "{}" },
                worker,
                OffsetDateTime::now_utc(),
            )
            .await?;
        let result = if all {
            self.redetect().await
        } else {
            self.redetect_changes().await
        };
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

    /// An asset's open findings of one priority.
    async fn open_findings(
        &self,
        asset: vantage_domain::AssetId,
        priority: Priority,
    ) -> Result<Vec<Finding>, AppError> {
        self.all_findings(FindingFilter {
            asset: Some(asset),
            priority: Some(priority),
            status: StatusFilter::Open,
            ..Default::default()
        })
        .await
    }

    /// Imports an inventory file for an asset (created or updated by name): stores its
    /// packages, detects vulnerabilities with the distribution's data for `os` (or the release
    /// the file names) and with OSV advisories for language packages, closes findings no
    /// longer present, and prioritizes. A file that does not parse changes nothing; the error
    /// names the line.
    pub async fn import_inventory(
        &self,
        asset_name: &str,
        os: Option<&str>,
        path: &Path,
    ) -> Result<InventoryReport, AppError> {
        if asset_name.trim().is_empty() {
            return Err(AppError::Invalid("--asset needs a name".into()));
        }
        self.import_inventory_file(Some(asset_name), os, path).await
    }

    /// [`App::import_inventory`] where the asset name may come from the file: an SBOM's subject
    /// (`metadata.component` of CycloneDX, `name` of SPDX), else the file name.
    pub async fn import_inventory_file(
        &self,
        asset_name: Option<&str>,
        os: Option<&str>,
        path: &Path,
    ) -> Result<InventoryReport, AppError> {
        let started = std::time::Instant::now();
        // Flags first: a wrong --os is said before the file is read.
        let os_flag = os.map(os_release_of).transpose()?;
        let text = std::fs::read_to_string(path)
            .map_err(|e| AppError::Invalid(format!("cannot read {}: {e}", path.display())))?;
        let file_name = path
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default();
        let inv = inventory::parse_named(&file_name, &text)
            .map_err(|e| AppError::Invalid(format!("{}: {e}", path.display())))?;
        let asset_name = match asset_name.map(str::trim).filter(|n| !n.is_empty()) {
            Some(n) => n.to_string(),
            None => inv
                .subject
                .clone()
                .filter(|s| !s.trim().is_empty())
                .or_else(|| path.file_name().map(|f| f.to_string_lossy().into_owned()))
                .ok_or_else(|| AppError::Invalid("--asset needs a name".into()))?,
        };
        self.import_parsed(
            asset_name,
            os_flag,
            inv,
            &path.display().to_string(),
            vec![],
            started,
        )
        .await
    }

    /// Stores and judges a parsed inventory of `asset_name` (`origin` names it in messages).
    pub(crate) async fn import_parsed(
        &self,
        asset_name: String,
        os_flag: Option<OsRelease>,
        inv: inventory::Inventory,
        origin: &str,
        extra_ids: Vec<Identifier>,
        started: std::time::Instant,
    ) -> Result<InventoryReport, AppError> {
        let (distro, language) = split(&inv.packages);
        let os = match (os_flag, inv.os.clone()) {
            (Some(o), _) | (None, Some(o)) => Some(o),
            (None, None) if distro.is_empty() => None,
            (None, None) => {
                return Err(AppError::Invalid(format!(
                    "{}: a {} file does not say which release it comes from: pass --os (e.g. {})",
                    origin,
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
                kind: if inv.container {
                    AssetKind::ContainerImage
                } else {
                    AssetKind::Host
                },
                name: asset_name.clone(),
                os: os.as_ref().map(OsRelease::label),
                // An image is known by its digest alone (a tag moves); a host also by its name.
                identifiers: if inv.container && !extra_ids.is_empty() {
                    extra_ids
                } else {
                    std::iter::once(Identifier::new(IdentifierKind::Hostname, &asset_name))
                        .chain(extra_ids)
                        .collect()
                },
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

        let mut detections = Vec::new();
        let mut distro_data = true;
        let mut sources = 0;
        let mut match_ms = 0.0;
        if let Some(os) = &os
            && !distro.is_empty()
        {
            distro_data = self
                .store
                .has_distro_data(distro_of(os), &os.version)
                .await?;
            let (fixes, n) = self.fixes_for(os, &distro).await?;
            sources = n;
            let t = std::time::Instant::now();
            detections.extend(match_distro(os, &distro, &fixes));
            match_ms += t.elapsed().as_secs_f64() * 1000.0;
        }
        let advisories = self.advisories_for(&language).await?;
        let osv_data =
            language.is_empty() || !advisories.is_empty() || self.store.has_osv_data().await?;
        let t = std::time::Instant::now();
        detections.extend(match_osv(&language, &advisories));
        match_ms += t.elapsed().as_secs_f64() * 1000.0;
        let (_, _, fixed) = self
            .judge_batch(vec![(asset, detections, None)], now, None, true)
            .await?;
        let prioritization = self.run_prioritize_job("inventory").await?;

        let by_priority = self.store.open_priority_counts(asset).await?;
        let mut urgent = self.open_findings(asset, Priority::P1).await?;
        urgent.extend(self.open_findings(asset, Priority::P2).await?);
        urgent.sort_by(|a, b| {
            (a.priority, b.score, a.vuln_id.as_str())
                .partial_cmp(&(b.priority, a.score, b.vuln_id.as_str()))
                .unwrap_or(std::cmp::Ordering::Equal)
        });
        Ok(InventoryReport {
            asset_id: asset.0,
            asset: asset_name,
            os: os.as_ref().map(OsRelease::label),
            format: inv.format,
            packages: stored,
            source_packages: sources,
            language_packages: language.len() as u64,
            advisories: advisories.len() as u64,
            osv_data,
            skipped: inv.skipped as u64,
            findings: by_priority.iter().sum(),
            fixed,
            distro_data,
            prioritization,
            by_priority,
            urgent,
            elapsed_ms: started.elapsed().as_secs_f64() * 1000.0,
            match_ms,
        })
    }
}

/// The finding to store for a detection on an asset, seen at `now` (prioritized later).
pub(crate) fn finding_of(asset_id: AssetId, d: Detection, now: OffsetDateTime) -> NewFinding {
    NewFinding {
        asset_id,
        vuln_id: d.vuln_id,
        evidence: d.evidence,
        priority: None,
        score: None,
        seen_at: now,
    }
}
