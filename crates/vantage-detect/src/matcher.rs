//! Matchers: installed packages × the distribution's own security data → findings with
//! evidence. Distribution packages are judged by the distribution (which knows its backports),
//! by source package and release.

use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap};

use vantage_domain::{ComponentKind, Confidence, DistroFix, Evidence, VulnId};

use crate::inventory::{InstalledPackage, OsRelease};
use crate::version;

/// A vulnerability found on the inventory, with why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Detection {
    /// The vulnerability.
    pub vuln_id: VulnId,
    /// Source package, versions, data source and rule.
    pub evidence: Evidence,
}

/// The distribution name distribution data is stored under for an OS id.
pub fn distro_of(os: &OsRelease) -> &str {
    match os.id.as_str() {
        "rhel" | "redhat" => "rhel",
        other => other,
    }
}

/// The data source a fix row comes from, as evidence names it.
fn source_of(f: &DistroFix) -> String {
    match (f.distro.as_str(), f.collection.as_str()) {
        ("alpine", c) => format!("alpine-secdb {c}"),
        ("debian", "tracker") => "debian-security-tracker".into(),
        ("debian", c) if !c.is_empty() => format!("debian-security-tracker {c}"),
        (d, c) if !c.is_empty() => format!("{d} {c}"),
        (d, _) => d.to_string(),
    }
}

/// Statuses that leave the package vulnerable with no fixed version to install.
fn open_status(s: &str) -> bool {
    !s.starts_with("fixed") && !matches!(s, "not_affected" | "removed")
}

/// OVAL definitions (Ubuntu USN, Red Hat RHSA, Rocky RLSA) name *binary* packages and their
/// versions; the Alpine secdb and the Debian tracker name source packages.
fn by_binary(f: &DistroFix) -> bool {
    f.collection.starts_with("oval:")
}

/// An OVAL EVR `0:1.2-3` with a zero epoch is the dpkg version `1.2-3`.
fn strip_zero_epoch(v: &str) -> &str {
    v.strip_prefix("0:").unwrap_or(v)
}

/// Judges each installed source package by the fixes the distribution published for the
/// release. Fixed in X: vulnerable while the installed source version is older than X. An open
/// status (unfixed, no-DSA, postponed …): reported with that status. Not affected: nothing.
/// When several collections speak about the same package and vulnerability (the Debian tracker
/// and a DSA), the tracker's verdict wins, else the lowest fixed version.
pub fn match_distro(
    os: &OsRelease,
    packages: &[InstalledPackage],
    fixes: &[DistroFix],
) -> Vec<Detection> {
    // One entry per source package: its version and the binaries that come from it.
    let mut sources: BTreeMap<&str, (&InstalledPackage, Vec<&str>)> = BTreeMap::new();
    for p in packages {
        sources
            .entry(p.source_name.as_str())
            .or_insert_with(|| (p, Vec::new()))
            .1
            .push(p.name.as_str());
    }
    let binaries: HashMap<&str, &InstalledPackage> =
        packages.iter().map(|p| (p.name.as_str(), p)).collect();
    // The installed package a fix row speaks about, and the version to compare with.
    let subject = |f: &DistroFix| -> Option<(&InstalledPackage, &str)> {
        if by_binary(f) {
            binaries
                .get(f.package.as_str())
                .map(|p| (*p, p.version.as_str()))
        } else {
            sources
                .get(f.package.as_str())
                .map(|(p, _)| (*p, p.source_version.as_str()))
        }
    };
    let mut verdicts: HashMap<(&str, &str), &DistroFix> = HashMap::new();
    for f in fixes
        .iter()
        .filter(|f| f.distro == distro_of(os) && f.release == os.version)
    {
        let Some((p, _)) = subject(f) else { continue };
        let key = (f.package.as_str(), f.vuln_id.as_str());
        let replace = match verdicts.get(&key) {
            None => true,
            Some(old) if old.collection == "tracker" => false,
            Some(_) if f.collection == "tracker" => true,
            Some(old) => match (&old.fixed_version, &f.fixed_version) {
                (Some(a), Some(b)) => version::compare(p.ecosystem, b, a) == Some(Ordering::Less),
                (None, Some(_)) => true,
                _ => false,
            },
        };
        if replace {
            verdicts.insert(key, f);
        }
    }
    let mut out: Vec<Detection> = verdicts
        .into_values()
        .filter_map(|f| {
            let (p, installed) = subject(f)?;
            let (component, via) = if by_binary(f) {
                (p.name.clone(), String::new())
            } else {
                let bins = sources
                    .get(f.package.as_str())
                    .map(|s| s.1.clone())
                    .unwrap_or_default();
                let via = if bins.len() == 1 && bins[0] == p.source_name {
                    String::new()
                } else {
                    format!(" (binary packages: {})", bins.join(", "))
                };
                (p.source_name.clone(), via)
            };
            let fixed = f.fixed_version.as_deref().map(strip_zero_epoch);
            let rule = match (f.status.as_str(), fixed) {
                (status, Some(fixed)) if status.starts_with("fixed") => {
                    if version::compare(p.ecosystem, installed, fixed)? != Ordering::Less {
                        return None;
                    }
                    let esm = if status == "fixed_esm" {
                        " (fix in Ubuntu Pro / ESM)"
                    } else {
                        ""
                    };
                    format!("installed {installed} < fixed {fixed}{esm}")
                }
                (status, _) if open_status(status) => {
                    format!(
                        "{} {} status: {status} (no fixed version yet)",
                        os.id, os.version
                    )
                }
                _ => return None,
            };
            Some(Detection {
                vuln_id: f.vuln_id.clone(),
                evidence: Evidence {
                    component_kind: ComponentKind::Package,
                    component,
                    package_id: None,
                    service_id: None,
                    installed_version: Some(installed.to_string()),
                    fixed_version: fixed.map(str::to_string),
                    source: source_of(f),
                    rule: format!("{rule}{via}"),
                    advisory: f.advisory.clone(),
                    confidence: Confidence::High,
                },
            })
        })
        .collect();
    out.sort_by(|a, b| {
        (a.evidence.component.as_str(), a.vuln_id.as_str())
            .cmp(&(b.evidence.component.as_str(), b.vuln_id.as_str()))
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use vantage_domain::Ecosystem;

    fn apk(name: &str, origin: &str, version: &str) -> InstalledPackage {
        InstalledPackage {
            ecosystem: Ecosystem::Apk,
            name: name.into(),
            version: version.into(),
            arch: None,
            source_name: origin.into(),
            source_version: version.into(),
        }
    }

    fn fix(
        distro: &str,
        release: &str,
        collection: &str,
        package: &str,
        cve: &str,
        status: &str,
        fixed: Option<&str>,
    ) -> DistroFix {
        DistroFix {
            distro: distro.into(),
            release: release.into(),
            collection: collection.into(),
            package: package.into(),
            vuln_id: cve.parse().unwrap(),
            status: status.into(),
            fixed_version: fixed.map(String::from),
            advisory: None,
        }
    }

    #[test]
    fn alpine_by_origin_and_branch() {
        let os = OsRelease::parse("alpine:3.19").unwrap();
        let installed = [
            apk("busybox", "busybox", "1.36.1-r15"),
            apk("busybox-binsh", "busybox", "1.36.1-r15"),
            apk("musl", "musl", "1.2.4_git20230717-r4"),
        ];
        let fixes = [
            fix(
                "alpine",
                "3.19",
                "v3.19/main",
                "busybox",
                "CVE-2023-42363",
                "fixed",
                Some("1.36.1-r17"),
            ),
            fix(
                "alpine",
                "3.19",
                "v3.19/main",
                "busybox",
                "CVE-2022-28391",
                "fixed",
                Some("1.35.0-r7"),
            ),
            fix(
                "alpine",
                "3.19",
                "v3.19/main",
                "musl",
                "CVE-2025-26519",
                "fixed",
                Some("1.2.4_git20230717-r5"),
            ),
            fix(
                "alpine",
                "3.18",
                "v3.18/main",
                "busybox",
                "CVE-2099-0001",
                "fixed",
                Some("9.9-r0"),
            ),
            fix(
                "alpine",
                "3.19",
                "v3.19/main",
                "busybox",
                "CVE-2020-0001",
                "not_affected",
                None,
            ),
        ];
        let found = match_distro(&os, &installed, &fixes);
        let ids: Vec<(&str, &str)> = found
            .iter()
            .map(|d| (d.evidence.component.as_str(), d.vuln_id.as_str()))
            .collect();
        assert_eq!(
            ids,
            [("busybox", "CVE-2023-42363"), ("musl", "CVE-2025-26519")]
        );
        assert_eq!(
            found[0].evidence.rule,
            "installed 1.36.1-r15 < fixed 1.36.1-r17 (binary packages: busybox, busybox-binsh)"
        );
        assert_eq!(found[0].evidence.source, "alpine-secdb v3.19/main");
    }

    #[test]
    fn oval_rows_name_binary_packages() {
        let os = OsRelease::parse("ubuntu:24.04").unwrap();
        let p = InstalledPackage {
            ecosystem: Ecosystem::Deb,
            name: "libcurl4t64".into(),
            version: "8.5.0-2ubuntu10.1".into(),
            arch: None,
            source_name: "curl".into(),
            source_version: "8.5.0-2ubuntu10.1".into(),
        };
        let c = "oval:ubuntu:24.04";
        let fixes = [
            fix(
                "ubuntu",
                "24.04",
                c,
                "libcurl4t64",
                "CVE-2024-2004",
                "fixed",
                Some("0:8.5.0-2ubuntu10.1"),
            ),
            fix(
                "ubuntu",
                "24.04",
                c,
                "libcurl4t64",
                "CVE-2024-6197",
                "fixed_esm",
                Some("0:8.5.0-2ubuntu10.2"),
            ),
            fix(
                "ubuntu",
                "24.04",
                c,
                "curl",
                "CVE-2024-9681",
                "fixed",
                Some("0:8.5.0-2ubuntu10.5"),
            ),
        ];
        let found = match_distro(&os, &[p], &fixes);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].evidence.component, "libcurl4t64");
        assert_eq!(
            found[0].evidence.rule,
            "installed 8.5.0-2ubuntu10.1 < fixed 8.5.0-2ubuntu10.2 (fix in Ubuntu Pro / ESM)"
        );
    }

    #[test]
    fn debian_backports_and_open_issues() {
        let os = OsRelease::parse("debian:12").unwrap();
        let p = InstalledPackage {
            ecosystem: Ecosystem::Deb,
            name: "libssl3".into(),
            version: "3.0.15-1~deb12u1".into(),
            arch: None,
            source_name: "openssl".into(),
            source_version: "3.0.15-1~deb12u1".into(),
        };
        let fixes = [
            // A backported fix: upstream 3.0.15 is "older" than 3.0.16 for NVD, but Debian
            // fixed it in 3.0.15-1~deb12u1, which is installed.
            fix(
                "debian",
                "12",
                "tracker",
                "openssl",
                "CVE-2024-9143",
                "fixed",
                Some("3.0.15-1~deb12u1"),
            ),
            fix(
                "debian",
                "12",
                "tracker",
                "openssl",
                "CVE-2024-13176",
                "fixed",
                Some("3.0.16-1~deb12u1"),
            ),
            fix(
                "debian",
                "12",
                "tracker",
                "openssl",
                "CVE-2010-0928",
                "ignored",
                None,
            ),
            fix(
                "debian",
                "12",
                "DSA",
                "openssl",
                "CVE-2024-13176",
                "fixed",
                Some("3.0.15-1~deb12u2"),
            ),
        ];
        let found = match_distro(&os, &[p], &fixes);
        let got: Vec<(&str, &str)> = found
            .iter()
            .map(|d| (d.vuln_id.as_str(), d.evidence.rule.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                (
                    "CVE-2010-0928",
                    "debian 12 status: ignored (no fixed version yet) (binary packages: libssl3)"
                ),
                (
                    "CVE-2024-13176",
                    "installed 3.0.15-1~deb12u1 < fixed 3.0.16-1~deb12u1 (binary packages: libssl3)"
                ),
            ],
            "the tracker's verdict wins over the DSA list"
        );
    }
}
