//! Distribution security data: Alpine secdb JSON, the Debian security tracker's DSA / DLA
//! lists and its JSON export. All say, per release and source package, which version fixed which CVE — the only
//! trustworthy verdict for distro packages, which carry backported fixes.

use std::io::BufRead;
use std::path::Path;

use serde::Deserialize;
use std::collections::BTreeMap;
use vantage_domain::{DistroFix, VulnId};

use crate::error::FeedError;

/// A parsed distribution file: the collection it covers and its verdicts.
#[derive(Debug, Clone)]
pub struct DistroFile {
    /// What the file covers (`v3.19/main`, `DSA`, `DLA`); replaced whole on import.
    pub collection: String,
    /// The verdicts.
    pub fixes: Vec<DistroFix>,
}

#[derive(Deserialize)]
struct Secdb {
    distroversion: String,
    reponame: String,
    #[serde(default)]
    packages: Vec<SecdbPackage>,
}

#[derive(Deserialize)]
struct SecdbPackage {
    pkg: SecdbPkg,
}

#[derive(Deserialize)]
struct SecdbPkg {
    name: String,
    #[serde(default)]
    secfixes: BTreeMap<String, Option<Vec<String>>>,
}

/// Ids in a secfixes entry: `CVE-2019-14855`, `CVE-2021-1 CVE-2021-2`, `XSA-123`; words such as
/// `(partially)` are annotations, not ids.
fn ids_in(entry: &str) -> impl Iterator<Item = VulnId> + '_ {
    entry
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter(|t| t.contains('-') && t.bytes().any(|b| b.is_ascii_digit()))
        .filter_map(|t| t.trim_matches(|c: char| c == '(' || c == ')').parse().ok())
}

/// Parses an Alpine secdb file (`{distroversion, reponame, packages: [{pkg: {name, secfixes}}]}`).
/// A fix version of `0` means the release was never affected.
pub fn parse_alpine_secdb(path: &Path) -> Result<DistroFile, FeedError> {
    let db: Secdb = crate::input::read_json(path)?;
    let release = db.distroversion.trim_start_matches('v').to_string();
    let collection = format!("{}/{}", db.distroversion, db.reponame);
    let mut fixes = Vec::new();
    for p in db.packages {
        for (version, entries) in p.pkg.secfixes {
            for entry in entries.unwrap_or_default() {
                for vuln_id in ids_in(&entry) {
                    let never = version.trim() == "0";
                    fixes.push(DistroFix {
                        distro: "alpine".into(),
                        release: release.clone(),
                        collection: collection.clone(),
                        package: p.pkg.name.clone(),
                        vuln_id,
                        status: if never { "not_affected" } else { "fixed" }.into(),
                        fixed_version: (!never).then(|| version.clone()),
                        advisory: None,
                    });
                }
            }
        }
    }
    Ok(DistroFile { collection, fixes })
}

/// Debian release numbers by codename.
fn debian_release(codename: &str) -> String {
    match codename {
        "forky" => "14",
        "trixie" => "13",
        "bookworm" => "12",
        "bullseye" => "11",
        "buster" => "10",
        "stretch" => "9",
        "jessie" => "8",
        "wheezy" => "7",
        "squeeze" => "6",
        "lenny" => "5",
        "etch" => "4",
        "sarge" => "3.1",
        "woody" => "3.0",
        other => other,
    }
    .to_string()
}

/// Parses a Debian security tracker `DSA/list` or `DLA/list` (lines after an entry's header
/// start with a tab):
///
/// ```text
/// [29 Mar 2023] DSA-5380-1 xorg-server - security update
///     {CVE-2023-1393}
///     [bullseye] - xorg-server 2:1.20.11-1+deb11u6
/// ```
///
/// An entry without CVEs (a regression update) says nothing about vulnerabilities and is
/// passed over. A release line's version may be `<not-affected>`, `<unfixed>`, `<end-of-life>`
/// or `<removed>`.
pub fn parse_debian_list(path: &Path) -> Result<DistroFile, FeedError> {
    let input = crate::input::open(path)?;
    let mut fixes = Vec::new();
    let mut collection: Option<String> = None;
    let mut advisory = String::new();
    let mut cves: Vec<VulnId> = Vec::new();
    for (i, line) in input.lines().enumerate() {
        let n = i + 1;
        let line = line.map_err(|source| FeedError::Io {
            path: path.to_path_buf(),
            what: format!("line {n}"),
            source,
        })?;
        if line.trim().is_empty() {
            continue;
        }
        if line.starts_with('[') {
            // `[29 Mar 2023] DSA-5380-1 xorg-server - security update`
            let rest = line.split_once("] ").map(|(_, r)| r).ok_or_else(|| {
                FeedError::record(
                    path,
                    format!("line {n}"),
                    "expected `[DD Mon YYYY] ID package - text`",
                )
            })?;
            advisory = rest
                .split_whitespace()
                .next()
                .unwrap_or_default()
                .to_string();
            let kind = advisory.split('-').next().unwrap_or_default();
            if !matches!(kind, "DSA" | "DLA" | "DTSA") {
                return Err(FeedError::record(
                    path,
                    format!("line {n}"),
                    format!("`{advisory}` is not a DSA/DLA id"),
                ));
            }
            collection.get_or_insert_with(|| kind.to_string());
            cves.clear();
        } else if let Some(list) = line.trim().strip_prefix('{') {
            let list = list.trim_end_matches('}');
            cves = list
                .split_whitespace()
                .filter_map(|t| t.parse().ok())
                .collect();
        } else if let Some(rest) = line.trim().strip_prefix('[') {
            // `[bullseye] - xorg-server 2:1.20.11-1+deb11u6`
            let (codename, rest) = rest.split_once(']').ok_or_else(|| {
                FeedError::record(
                    path,
                    format!("line {n}"),
                    "expected `[release] - package version`",
                )
            })?;
            let mut parts = rest.trim_start_matches([' ', '-']).split_whitespace();
            let (Some(package), Some(version)) = (parts.next(), parts.next()) else {
                return Err(FeedError::record(
                    path,
                    format!("line {n}"),
                    "expected `[release] - package version`",
                ));
            };
            let (status, fixed) = match version {
                "<not-affected>" => ("not_affected", None),
                "<unfixed>" => ("unfixed", None),
                "<end-of-life>" => ("end_of_life", None),
                "<removed>" => ("removed", None),
                "<postponed>" => ("postponed", None),
                "<ignored>" => ("ignored", None),
                v if v.starts_with('<') => ("other", None),
                v => ("fixed", Some(v.to_string())),
            };
            for cve in &cves {
                fixes.push(DistroFix {
                    distro: "debian".into(),
                    release: debian_release(codename.trim()),
                    collection: String::new(),
                    package: package.to_string(),
                    vuln_id: cve.clone(),
                    status: status.into(),
                    fixed_version: fixed.clone(),
                    advisory: Some(advisory.clone()),
                });
            }
        }
        // NOTE: lines and anything else are commentary.
    }
    let collection = collection.ok_or_else(|| FeedError::Format {
        path: path.to_path_buf(),
        message: "no DSA/DLA entry found".into(),
    })?;
    for f in &mut fixes {
        f.collection.clone_from(&collection);
    }
    Ok(DistroFile { collection, fixes })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secfix_entries_yield_their_ids() {
        let ids: Vec<String> = ids_in("CVE-2019-14855 (partially) CVE-2020-1,XSA-123")
            .map(|v| v.to_string())
            .collect();
        // `CVE-2020-1` is not a valid CVE id (four digits at least): not an id.
        assert_eq!(ids, ["CVE-2019-14855", "XSA-123"]);
    }

    #[test]
    fn debian_entries() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("list");
        std::fs::write(&p, "[29 Mar 2023] DSA-5380-1 xorg-server - security update\n\t{CVE-2023-1393 CVE-2023-0001}\n\t[bullseye] - xorg-server 2:1.20.11-1+deb11u6\n\t[buster] - xorg-server <not-affected> (vulnerable code not present)\n[17 Mar 2023] DSA-5356-2 sox - regression update\n\t[bullseye] - sox 14.4.2\n").unwrap();
        let f = parse_debian_list(&p).unwrap();
        assert_eq!(f.collection, "DSA");
        assert_eq!(
            f.fixes.len(),
            4,
            "two CVEs × two releases; the regression update has no CVE"
        );
        let x = &f.fixes[0];
        assert_eq!(
            (
                x.release.as_str(),
                x.package.as_str(),
                x.fixed_version.as_deref(),
                x.advisory.as_deref()
            ),
            (
                "11",
                "xorg-server",
                Some("2:1.20.11-1+deb11u6"),
                Some("DSA-5380-1")
            )
        );
        assert_eq!(f.fixes[3].status, "not_affected");
        std::fs::write(&p, "[29 Mar 2023] XYZ-1 foo - bar\n").unwrap();
        assert!(
            parse_debian_list(&p)
                .unwrap_err()
                .to_string()
                .contains("line 1")
        );
    }
}

#[derive(Deserialize)]
struct TrackerIssue {
    #[serde(default)]
    releases: BTreeMap<String, TrackerRelease>,
}

#[derive(Deserialize)]
struct TrackerRelease {
    status: String,
    #[serde(default)]
    fixed_version: Option<String>,
    #[serde(default)]
    nodsa_reason: Option<String>,
    #[serde(default)]
    nodsa: Option<String>,
}

/// Parses the Debian security tracker's JSON export
/// (`https://security-tracker.debian.org/tracker/data/json`):
/// `{source package: {CVE: {releases: {codename: {status, fixed_version, urgency, nodsa…}}}}}`.
///
/// Statuses: `resolved` with a version → `fixed`; `resolved` with version `0` → `not_affected`
/// (the release never had the vulnerable code); `open` → `unfixed`, or the tracker's no-DSA
/// verdict (`no_dsa`, `ignored`, `postponed`) when it gave one; `undetermined` stays so. The
/// tracker's temporary ids (`TEMP-…`, issues without a CVE yet) cannot be matched to anything
/// and are not imported.
pub fn parse_debian_tracker(path: &Path) -> Result<DistroFile, FeedError> {
    let doc: BTreeMap<String, BTreeMap<String, TrackerIssue>> = crate::input::read_json(path)?;
    let mut fixes = Vec::new();
    for (package, issues) in doc {
        for (id, issue) in issues {
            if id.starts_with("TEMP-") {
                continue;
            }
            let vuln_id: VulnId = id.parse().map_err(|e| {
                FeedError::record(
                    path,
                    format!("package {package}, issue {id}"),
                    format!("{e}"),
                )
            })?;
            for (codename, r) in issue.releases {
                let fixed = r.fixed_version.filter(|v| !v.is_empty());
                let (status, fixed_version) = match (r.status.as_str(), fixed) {
                    ("resolved", Some(v)) if v == "0" => ("not_affected".to_string(), None),
                    ("resolved", Some(v)) => ("fixed".to_string(), Some(v)),
                    ("resolved", None) => ("fixed".to_string(), None),
                    ("open", _) => (
                        match r.nodsa_reason.as_deref() {
                            Some("postponed") => "postponed".to_string(),
                            Some("ignored") => "ignored".to_string(),
                            _ if r.nodsa.is_some() => "no_dsa".to_string(),
                            _ => "unfixed".to_string(),
                        },
                        None,
                    ),
                    (other, v) => (other.to_string(), v),
                };
                fixes.push(DistroFix {
                    distro: "debian".into(),
                    release: debian_release(&codename),
                    collection: "tracker".into(),
                    package: package.clone(),
                    vuln_id: vuln_id.clone(),
                    status,
                    fixed_version,
                    advisory: None,
                });
            }
        }
    }
    Ok(DistroFile {
        collection: "tracker".into(),
        fixes,
    })
}
