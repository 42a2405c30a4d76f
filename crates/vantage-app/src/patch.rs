//! Patch plans: an asset's open findings turned into remediation units a team can act on —
//! "upgrade package X to version ≥ Y" (the smallest version that fixes every open finding of X,
//! from the distribution's data), "no fixed version: remove X or mitigate", "upgrade the OS: the
//! release is end-of-life" — each with the vulnerabilities it closes, how many are in KEV and
//! P1, and the commands for the asset's package manager. Exported as JSON/CSV/table, a shell
//! script or an Ansible playbook (`vantage patch plan`, `GET /api/v1/patch-plan`).

use std::cmp::Ordering;
use std::collections::{BTreeMap, HashSet};

use serde::Serialize;
use time::{Date, OffsetDateTime, macros::date};
use vantage_detect::version;
use vantage_domain::{
    AssetFilter, AssetId, ComponentKind, Ecosystem, Finding, FindingFilter, Priority, ScopeId,
    StatusFilter,
};

use crate::app::App;
use crate::error::AppError;

/// What a remediation unit asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum UnitKind {
    /// The release is end-of-life: no more security fixes for anything on it.
    UpgradeOs,
    /// Upgrade a package to a version that fixes its open findings.
    Upgrade,
    /// No fixed version is published: remove the package if it is not needed, else mitigate.
    Uninstall,
    /// A newer kernel is installed than the one running (or the system asks for a reboot):
    /// reboot to load it.
    Reboot,
}

impl UnitKind {
    /// The name used in keys and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            UnitKind::UpgradeOs => "upgrade_os",
            UnitKind::Upgrade => "upgrade",
            UnitKind::Uninstall => "uninstall",
            UnitKind::Reboot => "reboot",
        }
    }
}

/// One remediation unit of a patch plan.
#[derive(Debug, Clone, Serialize)]
pub struct RemediationUnit {
    /// The asset.
    pub asset: String,
    /// The asset's id.
    pub asset_id: AssetId,
    /// What to do.
    pub kind: UnitKind,
    /// The package the findings name (a source package on Debian and Alpine); the release for
    /// `upgrade_os`.
    pub package: String,
    /// The installed packages to act on (binary packages built from `package`).
    pub binaries: Vec<String>,
    /// The installed version.
    pub installed_version: Option<String>,
    /// The smallest version that fixes every open finding of the package (`upgrade`).
    pub target_version: Option<String>,
    /// The vulnerabilities the unit closes.
    pub vulnerabilities: Vec<String>,
    /// How many of them are in CISA's KEV catalog.
    pub kev: usize,
    /// How many of its findings are P1.
    pub p1: usize,
    /// The most urgent priority among its findings.
    pub priority: Option<Priority>,
    /// The advisories that published the fixes (DSA, USN, RHSA …).
    pub advisories: Vec<String>,
    /// The findings it closes.
    pub findings: Vec<i64>,
    /// Commands for the asset's package manager.
    pub commands: Vec<String>,
    /// Why, in words.
    pub reason: String,
}

/// A package manager commands are written for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PackageManager {
    /// Debian, Ubuntu: apt-get.
    Apt,
    /// Red Hat family: dnf.
    Dnf,
    /// Alpine: apk.
    Apk,
}

impl PackageManager {
    /// The package manager of an OS id (`debian`, `ubuntu`, `alpine`, `rhel` …).
    pub fn of_os(os: &str) -> Option<Self> {
        let id = os
            .split([':', ' '])
            .next()
            .unwrap_or("")
            .to_ascii_lowercase();
        match id.as_str() {
            "debian" | "ubuntu" | "raspbian" | "linuxmint" => Some(PackageManager::Apt),
            "rhel" | "redhat" | "rocky" | "almalinux" | "alma" | "centos" | "fedora" | "ol"
            | "amzn" => Some(PackageManager::Dnf),
            "alpine" => Some(PackageManager::Apk),
            _ => None,
        }
    }

    fn ecosystem(self) -> Ecosystem {
        match self {
            PackageManager::Apt => Ecosystem::Deb,
            PackageManager::Dnf => Ecosystem::Rpm,
            PackageManager::Apk => Ecosystem::Apk,
        }
    }

    /// Commands that upgrade `binaries` (to the repository's newest version, which is at least
    /// `target` once the fix is published), then show the installed versions.
    fn upgrade(self, binaries: &[String]) -> Vec<String> {
        let list = binaries.join(" ");
        match self {
            PackageManager::Apt => vec![
                "apt-get update".into(),
                format!("apt-get install -y --only-upgrade {list}"),
                format!("dpkg-query -W {list}"),
            ],
            PackageManager::Dnf => vec![format!("dnf upgrade -y {list}"), format!("rpm -q {list}")],
            PackageManager::Apk => vec![
                "apk update".into(),
                format!("apk upgrade {list}"),
                format!("apk info -v {list}"),
            ],
        }
    }

    fn remove(self, binaries: &[String]) -> Vec<String> {
        let list = binaries.join(" ");
        vec![match self {
            PackageManager::Apt => format!("apt-get remove -y {list}"),
            PackageManager::Dnf => format!("dnf remove -y {list}"),
            PackageManager::Apk => format!("apk del {list}"),
        }]
    }
}

/// End of free security support of major OS releases, as their vendors publish it (Debian: end
/// of LTS; Ubuntu: end of standard support, Ubuntu Pro/ESM extends it; Alpine: end of main
/// repository support; RHEL and Rocky: end of maintenance support). Facts only; checked
/// 2026-11-28 against the vendors' life-cycle pages.
pub const END_OF_LIFE: &[(&str, &str, Date)] = &[
    ("debian", "8", date!(2020 - 06 - 30)),
    ("debian", "9", date!(2022 - 06 - 30)),
    ("debian", "10", date!(2024 - 06 - 30)),
    ("debian", "11", date!(2026 - 08 - 31)),
    ("debian", "12", date!(2028 - 06 - 30)),
    ("debian", "13", date!(2030 - 06 - 30)),
    ("ubuntu", "16.04", date!(2021 - 04 - 30)),
    ("ubuntu", "18.04", date!(2023 - 05 - 31)),
    ("ubuntu", "20.04", date!(2025 - 05 - 31)),
    ("ubuntu", "22.04", date!(2027 - 06 - 30)),
    ("ubuntu", "24.04", date!(2029 - 06 - 30)),
    ("alpine", "3.15", date!(2023 - 11 - 01)),
    ("alpine", "3.16", date!(2024 - 05 - 23)),
    ("alpine", "3.17", date!(2024 - 11 - 22)),
    ("alpine", "3.18", date!(2025 - 05 - 09)),
    ("alpine", "3.19", date!(2025 - 11 - 01)),
    ("alpine", "3.20", date!(2026 - 04 - 01)),
    ("alpine", "3.21", date!(2026 - 11 - 01)),
    ("alpine", "3.22", date!(2027 - 05 - 01)),
    ("rhel", "7", date!(2024 - 06 - 30)),
    ("rhel", "8", date!(2029 - 05 - 31)),
    ("rhel", "9", date!(2032 - 05 - 31)),
    ("centos", "7", date!(2024 - 06 - 30)),
    ("centos", "8", date!(2021 - 12 - 31)),
    ("rocky", "8", date!(2029 - 05 - 31)),
    ("rocky", "9", date!(2032 - 05 - 31)),
];

/// The end-of-life date of an OS (`debian:11`, `alpine:3.19.1`, `rhel:9.3`), when the table
/// knows its release.
pub fn end_of_life(os: &str) -> Option<Date> {
    let (id, version) = os.split_once(':')?;
    let id = id.trim().to_ascii_lowercase();
    let version = version.trim();
    END_OF_LIFE
        .iter()
        .filter(|(d, r, _)| *d == id && (version == *r || version.starts_with(&format!("{r}."))))
        // `3.19` before `3` style prefixes: the longest release wins.
        .max_by_key(|(_, r, _)| r.len())
        .map(|(_, _, d)| *d)
}

/// The open package findings of one asset grouped into units.
pub fn plan_units(
    asset: (&str, AssetId),
    os: Option<&str>,
    findings: &[Finding],
    packages: &[vantage_store::NewPackage],
    kev: &HashSet<String>,
    today: Date,
) -> Vec<RemediationUnit> {
    let manager = os.and_then(PackageManager::of_os);
    let mut by_package: BTreeMap<&str, Vec<&Finding>> = BTreeMap::new();
    for f in findings
        .iter()
        .filter(|f| f.status.is_open() && f.evidence.component_kind == ComponentKind::Package)
    {
        by_package
            .entry(f.evidence.component.as_str())
            .or_default()
            .push(f);
    }
    let mut units = Vec::new();
    for (package, group) in by_package {
        // The installed packages built from it (Debian and Alpine findings name the source).
        let built: Vec<&vantage_store::NewPackage> = packages
            .iter()
            .filter(|p| p.source_name.as_deref() == Some(package) || p.name == package)
            .collect();
        let ecosystem = built
            .first()
            .map(|p| p.ecosystem)
            .or(manager.map(PackageManager::ecosystem))
            .unwrap_or(Ecosystem::Generic);
        let mut binaries: Vec<String> = built.iter().map(|p| p.name.clone()).collect();
        binaries.sort();
        binaries.dedup();
        if binaries.is_empty() {
            binaries.push(package.to_string());
        }
        let os_packages = manager.filter(|m| m.ecosystem() == ecosystem);
        let (fixable, unfixed): (Vec<&Finding>, Vec<&Finding>) = group
            .into_iter()
            .partition(|f| f.evidence.fixed_version.is_some());
        if !fixable.is_empty() {
            // The smallest version that fixes all: the highest of the first fixed versions.
            let mut target: Option<&str> = None;
            for f in &fixable {
                let v = f.evidence.fixed_version.as_deref().expect("partitioned");
                target = match target {
                    Some(t) if version::compare(ecosystem, v, t) != Some(Ordering::Greater) => {
                        Some(t)
                    }
                    _ => Some(v),
                };
            }
            let target = target.map(str::to_string);
            let installed = fixable[0].evidence.installed_version.clone();
            let commands = match os_packages {
                Some(m) => m.upgrade(&binaries),
                None => vec![format!(
                    "upgrade {package} to {} or later ({ecosystem} package)",
                    target.as_deref().unwrap_or("a fixed version")
                )],
            };
            let reason = format!(
                "{} {} fixed in {}; installed {}",
                package,
                plural(fixable.len(), "vulnerability", "vulnerabilities"),
                target.as_deref().unwrap_or("?"),
                installed.as_deref().unwrap_or("?")
            );
            units.push(unit(
                asset,
                UnitKind::Upgrade,
                package,
                binaries.clone(),
                installed,
                target,
                &fixable,
                kev,
                commands,
                reason,
            ));
        }
        if !unfixed.is_empty() {
            let installed = unfixed[0].evidence.installed_version.clone();
            let commands = match os_packages {
                Some(m) => m.remove(&binaries),
                None => vec![format!("remove {package} if it is not needed")],
            };
            let reason = format!(
                "no fixed version of {package} is published for {}: remove it if it is not \
                 needed, otherwise mitigate and watch for the fix",
                plural(unfixed.len(), "vulnerability", "vulnerabilities")
            );
            units.push(unit(
                asset,
                UnitKind::Uninstall,
                package,
                binaries,
                installed,
                None,
                &unfixed,
                kev,
                commands,
                reason,
            ));
        }
    }
    if let Some(os) = os
        && let Some(eol) = end_of_life(os)
        && eol < today
    {
        let open: Vec<&Finding> = findings.iter().filter(|f| f.status.is_open()).collect();
        units.push(unit(
            asset,
            UnitKind::UpgradeOs,
            os,
            Vec::new(),
            None,
            None,
            &open,
            kev,
            vec![format!(
                "plan an upgrade of {os} to a supported release (no security fixes since {eol})"
            )],
            format!("{os} reached its end of life on {eol}: no more security fixes"),
        ));
    }
    units.sort_by(|a, b| {
        rank(a.priority)
            .cmp(&rank(b.priority))
            .then(b.kev.cmp(&a.kev))
            .then(b.vulnerabilities.len().cmp(&a.vulnerabilities.len()))
            .then(a.kind.cmp(&b.kind))
            .then(a.package.cmp(&b.package))
    });
    units
}

fn rank(p: Option<Priority>) -> i16 {
    p.map_or(i16::MAX, Priority::rank)
}

fn plural(n: usize, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

#[allow(clippy::too_many_arguments)]
fn unit(
    (asset, asset_id): (&str, AssetId),
    kind: UnitKind,
    package: &str,
    binaries: Vec<String>,
    installed_version: Option<String>,
    target_version: Option<String>,
    findings: &[&Finding],
    kev: &HashSet<String>,
    commands: Vec<String>,
    reason: String,
) -> RemediationUnit {
    let mut vulnerabilities: Vec<String> = findings
        .iter()
        .map(|f| f.vuln_id.as_str().to_string())
        .collect();
    vulnerabilities.sort();
    vulnerabilities.dedup();
    let mut advisories: Vec<String> = findings
        .iter()
        .filter_map(|f| f.evidence.advisory.clone())
        .collect();
    advisories.sort();
    advisories.dedup();
    RemediationUnit {
        asset: asset.to_string(),
        asset_id,
        kind,
        package: package.to_string(),
        binaries,
        installed_version,
        target_version,
        kev: vulnerabilities.iter().filter(|v| kev.contains(*v)).count(),
        p1: findings
            .iter()
            .filter(|f| f.priority == Some(Priority::P1))
            .count(),
        priority: findings
            .iter()
            .filter_map(|f| f.priority)
            .min_by_key(|p| p.rank()),
        advisories,
        findings: findings.iter().map(|f| f.id.0).collect(),
        vulnerabilities,
        commands,
        reason,
    }
}

/// The reboot unit of a host whose last inventory saw a newer kernel installed than the one
/// running, or the distribution's reboot flag.
pub fn reboot_unit(
    asset: (&str, AssetId),
    f: &vantage_store::HostFactsRow,
) -> Option<RemediationUnit> {
    if !f.newer_kernel_installed && !f.reboot_required {
        return None;
    }
    let reason = match (&f.kernel, &f.newest_kernel, f.newer_kernel_installed) {
        (Some(running), Some(newest), true) => {
            format!("reboot to load the installed kernel {newest} (running {running})")
        }
        _ => "reboot: the system asks for one (/var/run/reboot-required)".to_string(),
    };
    Some(RemediationUnit {
        asset: asset.0.to_string(),
        asset_id: asset.1,
        kind: UnitKind::Reboot,
        package: "kernel".into(),
        binaries: Vec::new(),
        installed_version: f.kernel.clone(),
        target_version: f.newest_kernel.clone().filter(|_| f.newer_kernel_installed),
        vulnerabilities: Vec::new(),
        kev: 0,
        p1: 0,
        priority: None,
        advisories: Vec::new(),
        findings: Vec::new(),
        commands: vec!["shutdown -r +5 'Vantage: reboot to load the installed kernel'".into()],
        reason,
    })
}

/// Which assets a plan covers.
#[derive(Debug, Clone)]
pub enum PlanTarget {
    /// One asset (id, name or identifier).
    Asset(String),
    /// Every live asset of a scope.
    Scope(String),
}

impl App {
    /// The patch plan of an asset or of every asset of a scope; `visible` restricts it to the
    /// caller's scopes (`None`: all).
    pub async fn patch_plan(
        &self,
        target: &PlanTarget,
        visible: Option<Vec<ScopeId>>,
        now: OffsetDateTime,
    ) -> Result<Vec<RemediationUnit>, AppError> {
        let assets: Vec<AssetId> = match target {
            PlanTarget::Asset(reference) => vec![self.resolve_asset(reference).await?],
            PlanTarget::Scope(reference) => {
                let scope = self.resolve_scope(reference).await?;
                let mut ids = Vec::new();
                let mut cursor = None;
                loop {
                    let page = self
                        .store
                        .list_assets(&AssetFilter {
                            scope: Some(scope),
                            visible_scopes: visible.clone(),
                            limit: vantage_domain::query::MAX_PAGE_SIZE,
                            cursor,
                            ..Default::default()
                        })
                        .await?;
                    ids.extend(page.items.iter().map(|a| a.id));
                    match page.next_cursor {
                        Some(c) => cursor = crate::queries::decode_cursor(Some(&c))?,
                        None => break,
                    }
                }
                ids
            }
        };
        let mut units = Vec::new();
        for id in assets {
            units.extend(self.asset_plan(id, visible.clone(), now).await?);
        }
        Ok(units)
    }

    async fn asset_plan(
        &self,
        id: AssetId,
        visible: Option<Vec<ScopeId>>,
        now: OffsetDateTime,
    ) -> Result<Vec<RemediationUnit>, AppError> {
        let asset = match self.store.asset(id).await? {
            // A restricted caller sees the plans of its scopes' assets only.
            Some(a)
                if visible
                    .as_ref()
                    .is_none_or(|v| a.scopes.iter().any(|s| v.contains(s))) =>
            {
                a
            }
            _ => return Err(AppError::NotFound(format!("no asset with id {id}"))),
        };
        let findings = self
            .all_findings(FindingFilter {
                asset: Some(id),
                status: StatusFilter::Open,
                visible_scopes: visible,
                ..Default::default()
            })
            .await?;
        let packages = self.store.packages_of(id).await?;
        let mut vulns: Vec<String> = findings
            .iter()
            .map(|f| f.vuln_id.as_str().to_string())
            .collect();
        vulns.sort();
        vulns.dedup();
        let kev = self.store.kev_among(&vulns).await?;
        let mut units = plan_units(
            (&asset.name, id),
            asset.os.as_deref(),
            &findings,
            &packages,
            &kev,
            now.date(),
        );
        if let Some(f) = self.store.host_facts(id.0).await?
            && let Some(u) = reboot_unit((&asset.name, id), &f)
        {
            units.push(u);
        }
        Ok(units)
    }
}

/// Whether an advisory id is a Red Hat-family erratum Satellite can apply (RHSA/RHBA/RHEA, and
/// the rebuilds' ALSA/RLSA/ELSA ids that Satellite and Foreman import the same way).
fn is_erratum(id: &str) -> bool {
    ["RHSA-", "RHBA-", "RHEA-", "ALSA-", "RLSA-", "ELSA-"]
        .iter()
        .any(|p| id.starts_with(p))
}

/// Whether an advisory id is a Microsoft KB article.
fn is_kb(id: &str) -> bool {
    id.strip_prefix("KB")
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// Hand-off to Red Hat Satellite: one `hammer job-invocation create` per asset applying the
/// errata that fix its units (remote execution's "Install errata" feature). Units whose fix
/// has no erratum id in the data are listed as comments, not dropped.
pub fn satellite_script(units: &[RemediationUnit]) -> String {
    let mut out = String::from(
        "#!/bin/sh\n# Vantage patch plan for Red Hat Satellite: apply the errata that fix the open findings.\n# Review, then run where hammer is configured.\nset -eu\n",
    );
    let mut by_asset: BTreeMap<&str, (Vec<&str>, Vec<&RemediationUnit>)> = BTreeMap::new();
    for u in units {
        let e = by_asset.entry(u.asset.as_str()).or_default();
        let errata: Vec<&str> = u
            .advisories
            .iter()
            .map(String::as_str)
            .filter(|a| is_erratum(a))
            .collect();
        if errata.is_empty() {
            e.1.push(u);
        }
        e.0.extend(errata);
    }
    for (asset, (mut errata, missing)) in by_asset {
        errata.sort();
        errata.dedup();
        out.push_str(&format!("\n# {asset}\n"));
        if !errata.is_empty() {
            out.push_str(&format!(
                "hammer job-invocation create --feature katello_errata_install --inputs errata={} --search-query {}\n",
                errata.join(","),
                crate::hosts::shell_quote(&format!("name = {asset}"))
            ));
        }
        for u in missing {
            out.push_str(&format!(
                "# no erratum known for: {} (closes {})\n",
                u.reason,
                u.vulnerabilities.join(", ")
            ));
        }
    }
    out
}

/// Hand-off to WSUS: the KB articles to approve, as CSV (asset, kb, closes). Units whose fix
/// has no KB article in the data are listed with an empty kb.
pub fn wsus_csv(units: &[RemediationUnit]) -> String {
    let mut out = String::from("asset,kb,closes\n");
    for u in units {
        let kbs: Vec<&str> = u
            .advisories
            .iter()
            .map(String::as_str)
            .filter(|a| is_kb(a))
            .collect();
        let closes = u.vulnerabilities.join(" ");
        if kbs.is_empty() {
            out.push_str(&format!("{},,{closes}\n", u.asset));
        }
        for kb in kbs {
            out.push_str(&format!("{},{kb},{closes}\n", u.asset));
        }
    }
    out
}

/// The plan as a POSIX shell script: one block per unit, commented with what it closes. Meant
/// to be read before it is run; it stops at the first failing command.
pub fn shell_script(units: &[RemediationUnit]) -> String {
    let mut out = String::from(
        "#!/bin/sh\n# Patch plan generated by Vantage. Review before running; run as root.\nset -eu\n",
    );
    let mut current = "";
    for u in units {
        if u.asset != current {
            out.push_str(&format!("\n# ===== {} =====\n", u.asset));
            current = &u.asset;
        }
        out.push_str(&format!(
            "\n# {} {}: {} ({} KEV, {} P1)\n# closes {}\n",
            u.kind.as_str(),
            u.package,
            u.reason,
            u.kev,
            u.p1,
            u.vulnerabilities.join(" ")
        ));
        for c in &u.commands {
            if u.kind == UnitKind::UpgradeOs {
                out.push_str(&format!("# {c}\n"));
            } else {
                out.push_str(&format!("{c}\n"));
            }
        }
    }
    out
}

/// The plan as an Ansible playbook: one play per asset (its name is the inventory host), the
/// upgrades through the generic `ansible.builtin.package` module (`state: latest`), the
/// removals as `state: absent`. End-of-life notices become `debug` tasks.
pub fn ansible_playbook(units: &[RemediationUnit]) -> String {
    let mut out = String::from("---\n# Patch plan generated by Vantage. Review before running.\n");
    let mut assets: Vec<&str> = units.iter().map(|u| u.asset.as_str()).collect();
    assets.dedup();
    for asset in assets {
        out.push_str(&format!(
            "- name: Patch plan for {asset}\n  hosts: {}\n  become: true\n  tasks:\n",
            yaml_str(asset)
        ));
        for u in units.iter().filter(|u| u.asset == asset) {
            let name = format!("{} {} ({})", u.kind.as_str(), u.package, u.reason);
            match u.kind {
                UnitKind::Upgrade | UnitKind::Uninstall => {
                    out.push_str(&format!(
                        "    - name: {}\n      ansible.builtin.package:\n        name:\n",
                        yaml_str(&name)
                    ));
                    for b in &u.binaries {
                        out.push_str(&format!("          - {}\n", yaml_str(b)));
                    }
                    out.push_str(&format!(
                        "        state: {}\n",
                        if u.kind == UnitKind::Upgrade {
                            "latest"
                        } else {
                            "absent"
                        }
                    ));
                }
                UnitKind::Reboot => {
                    out.push_str(&format!(
                        "    - name: {}\n      ansible.builtin.reboot:\n        msg: {}\n",
                        yaml_str(&name),
                        yaml_str("Vantage: reboot to load the installed kernel")
                    ));
                }
                UnitKind::UpgradeOs => {
                    out.push_str(&format!(
                        "    - name: {}\n      ansible.builtin.debug:\n        msg: {}\n",
                        yaml_str(&name),
                        yaml_str(&u.reason)
                    ));
                }
            }
        }
    }
    out
}

/// A YAML double-quoted scalar (JSON string syntax is valid YAML).
fn yaml_str(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn end_of_life_matches_the_release_and_its_point_releases() {
        assert_eq!(end_of_life("debian:11"), Some(date!(2026 - 08 - 31)));
        assert_eq!(end_of_life("alpine:3.19.1"), Some(date!(2025 - 11 - 01)));
        assert_eq!(end_of_life("rhel:9.3"), Some(date!(2032 - 05 - 31)));
        assert_eq!(end_of_life("alpine:3.1"), None);
        assert_eq!(end_of_life("plan9:4"), None);
        assert_eq!(end_of_life("debian"), None);
    }

    #[test]
    fn package_managers_by_os() {
        assert_eq!(
            PackageManager::of_os("ubuntu:22.04"),
            Some(PackageManager::Apt)
        );
        assert_eq!(PackageManager::of_os("rocky:9"), Some(PackageManager::Dnf));
        assert_eq!(
            PackageManager::of_os("alpine:3.19"),
            Some(PackageManager::Apk)
        );
        assert_eq!(PackageManager::of_os("windows:11"), None);
    }

    #[test]
    fn a_newer_installed_kernel_asks_for_a_reboot() {
        let f = vantage_store::HostFactsRow {
            kernel: Some("6.1.0-25-amd64".into()),
            newest_kernel: Some("6.1.0-28-amd64".into()),
            newer_kernel_installed: true,
            reboot_required: false,
        };
        let u = reboot_unit(("web-01", AssetId(1)), &f).unwrap();
        assert_eq!(u.kind, UnitKind::Reboot);
        assert_eq!(
            u.reason,
            "reboot to load the installed kernel 6.1.0-28-amd64 (running 6.1.0-25-amd64)"
        );
        assert_eq!(u.target_version.as_deref(), Some("6.1.0-28-amd64"));
        let none = vantage_store::HostFactsRow {
            newer_kernel_installed: false,
            ..f
        };
        assert!(reboot_unit(("web-01", AssetId(1)), &none).is_none());
    }

    #[test]
    fn errata_and_kb_ids_are_recognised() {
        assert!(is_erratum("RHSA-2024:3339") && is_erratum("ALSA-2024:1234"));
        assert!(!is_erratum("DSA-5678-1") && !is_erratum("USN-6000-1"));
        assert!(is_kb("KB5034441") && !is_kb("KB") && !is_kb("KBX1"));
    }

    #[test]
    fn yaml_strings_are_quoted() {
        assert_eq!(yaml_str("a: b"), "\"a: b\"");
        assert_eq!(yaml_str("x\"y"), "\"x\\\"y\"");
    }
}
