//! Knowledge-base records as feeds deliver them: one [`VulnRecord`] per vulnerability per feed,
//! merged by the store into one view per CVE with every source kept.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::macros::name_enum;
use crate::vulnerability::{CvssVector, VulnId};

name_enum! {
    /// A knowledge source Vantage can import.
    pub enum FeedKind ("feed") {
        /// NVD CVE API 2.0 records.
        Nvd = "nvd",
        /// CVE JSON 5 records (cvelistV5 / CISA vulnrichment).
        Cve5 = "cve5",
        /// FIRST EPSS scores.
        Epss = "epss",
        /// CISA Known Exploited Vulnerabilities.
        Kev = "kev",
        /// CERT-FR alerts (ALE).
        CertFr = "certfr",
        /// Exploit-DB CVE ⇄ EDB-ID map.
        ExploitDb = "exploitdb",
        /// Exploit-DB's own index, `files_exploits.csv`.
        ExploitDbCsv = "exploitdb-csv",
        /// OSV advisories (GHSA, PyPI, Go, RustSec …).
        Osv = "osv",
        /// Alpine secdb (per release and repository).
        AlpineSecdb = "alpine-secdb",
        /// Debian security tracker DSA / DLA lists.
        DebianList = "debian-list",
        /// OVAL patch definitions (Red Hat, Rocky, AlmaLinux, Ubuntu).
        Oval = "oval",
        /// The Debian security tracker's JSON export.
        DebianTracker = "debian-tracker",
    }
}

/// CISA's SSVC decision points for a CVE (from the CISA ADP container).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SsvcDecision {
    /// Who decided (`CISA-ADP`).
    pub source: String,
    /// `none`, `poc` or `active`.
    pub exploitation: Option<String>,
    /// `yes` or `no`.
    pub automatable: Option<String>,
    /// `partial` or `total`.
    pub technical_impact: Option<String>,
    /// SSVC version.
    pub version: Option<String>,
    /// When the decision was recorded.
    #[serde(with = "time::serde::rfc3339::option")]
    pub decided_at: Option<OffsetDateTime>,
}

/// One CPE match of an NVD configuration, with its version range.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CpeMatch {
    /// Index of the configuration in the record (matches in one configuration combine).
    pub configuration: i32,
    /// CPE 2.3 formatted string.
    pub criteria: String,
    /// Whether matching products are vulnerable (false: a platform the vulnerable one runs on).
    pub vulnerable: bool,
    /// Range start, inclusive.
    pub version_start_including: Option<String>,
    /// Range start, exclusive.
    pub version_start_excluding: Option<String>,
    /// Range end, inclusive.
    pub version_end_including: Option<String>,
    /// Range end, exclusive.
    pub version_end_excluding: Option<String>,
}

impl CpeMatch {
    /// The (vendor, product) of the criterion, lower case.
    pub fn vendor_product(&self) -> Option<(String, String)> {
        let f = cpe23_fields(&self.criteria)?;
        Some((f[1].clone(), f[2].clone()))
    }
}

/// The eleven fields after `cpe:2.3:` of a CPE 2.3 formatted string (part, vendor, product,
/// version, update …), lower case, backslash escapes resolved; `None` when it is not one.
pub fn cpe23_fields(s: &str) -> Option<Vec<String>> {
    let rest = s.trim().to_ascii_lowercase();
    let rest = rest.strip_prefix("cpe:2.3:")?;
    let mut out = Vec::with_capacity(11);
    let mut cur = String::new();
    let mut chars = rest.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => cur.extend(chars.next()),
            ':' => out.push(std::mem::take(&mut cur)),
            c => cur.push(c),
        }
    }
    out.push(cur);
    (out.len() == 11 && !out[1].is_empty() && !out[2].is_empty()).then_some(out)
}

/// One event of an OSV version range, in OSV's own shape (`{"introduced": "1.0"}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum RangeEvent {
    /// First affected version (inclusive); `0` means from the beginning.
    Introduced(String),
    /// First fixed version (exclusive end).
    Fixed(String),
    /// Last affected version (inclusive end).
    LastAffected(String),
    /// Upper limit of the range (exclusive), for git ranges.
    Limit(String),
}

/// A version range of an affected package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct VersionRange {
    /// `SEMVER`, `ECOSYSTEM` or `GIT`.
    pub kind: String,
    /// Repository of a `GIT` range.
    pub repo: Option<String>,
    /// Events in order.
    pub events: Vec<RangeEvent>,
}

/// A package a vulnerability affects, with its ranges and explicit versions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AffectedPackage {
    /// OSV ecosystem (`PyPI`, `Go`, `crates.io`, `Debian:12` …).
    pub ecosystem: String,
    /// Package name in that ecosystem.
    pub name: String,
    /// Package URL.
    pub purl: Option<String>,
    /// Affected ranges.
    pub ranges: Vec<VersionRange>,
    /// Explicitly affected versions.
    pub versions: Vec<String>,
}

impl AffectedPackage {
    /// Every `fixed` version named by the ranges.
    pub fn fixed_versions(&self) -> impl Iterator<Item = &str> {
        self.ranges
            .iter()
            .flat_map(|r| &r.events)
            .filter_map(|e| match e {
                RangeEvent::Fixed(v) => Some(v.as_str()),
                _ => None,
            })
    }
}

/// A distribution's verdict on one vulnerability in one of its source packages and releases:
/// judged by the distribution's own data, which knows about backported fixes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DistroFix {
    /// `alpine`, `debian` …
    pub distro: String,
    /// Release (`3.19`, `12`); a codename when its number is not known.
    pub release: String,
    /// What the source file covers (`v3.19/main`, `DSA`, `DLA`); a re-import replaces it whole.
    pub collection: String,
    /// Source package (Alpine origin, Debian source package).
    pub package: String,
    /// The vulnerability.
    pub vuln_id: VulnId,
    /// `fixed`, `not_affected`, `unfixed`, `end_of_life`, `removed` …
    pub status: String,
    /// First fixed version in that release, when fixed.
    pub fixed_version: Option<String>,
    /// Advisory (`DSA-5380-1`), when the data names one.
    pub advisory: Option<String>,
}

/// What one feed says about one vulnerability.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VulnRecord {
    /// The vulnerability.
    pub id: VulnId,
    /// The feed it came from.
    pub feed: FeedKind,
    /// English description.
    pub summary: Option<String>,
    /// Record status (`Analyzed`, `PUBLISHED`, `Rejected` …).
    pub status: Option<String>,
    /// Publication date.
    pub published: Option<OffsetDateTime>,
    /// Last modification date; a record older than the stored one is not applied.
    pub modified: Option<OffsetDateTime>,
    /// CWE ids.
    pub cwes: Vec<String>,
    /// Reference URLs.
    pub references: Vec<String>,
    /// Other ids (GHSA …).
    pub aliases: Vec<VulnId>,
    /// CVSS vectors with their scorer.
    pub cvss: Vec<CvssVector>,
    /// SSVC decision, when the record carries one.
    pub ssvc: Option<SsvcDecision>,
    /// CPE configurations.
    pub cpe_matches: Vec<CpeMatch>,
    /// Affected packages and their ranges (OSV).
    pub affected: Vec<AffectedPackage>,
    /// Digest of the source record, to skip unchanged records on re-import.
    pub content_hash: String,
}

/// A CVSS vector together with the feed that delivered it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FeedCvss {
    /// The feed (`nvd`, `cve5`).
    pub feed: FeedKind,
    /// The vector and its scorer.
    #[serde(flatten)]
    pub cvss: CvssVector,
}

/// What one feed says, as shown in the encyclopedia.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FeedRecord {
    /// The record's own id (a GHSA or OSV id for OSV records reached through an alias).
    pub id: VulnId,
    /// The feed.
    pub feed: FeedKind,
    /// Description.
    pub summary: Option<String>,
    /// Record status.
    pub status: Option<String>,
    /// Publication date.
    #[serde(with = "time::serde::rfc3339::option")]
    pub published: Option<OffsetDateTime>,
    /// Last modification.
    #[serde(with = "time::serde::rfc3339::option")]
    pub modified: Option<OffsetDateTime>,
    /// CWE ids.
    pub cwes: Vec<String>,
    /// Reference URLs.
    pub references: Vec<String>,
    /// CPE configurations.
    pub cpe_matches: Vec<CpeMatch>,
    /// Affected packages, ranges and fixed versions.
    pub affected: Vec<AffectedPackage>,
}

/// Everything known about one vulnerability, merged from every feed, each fact with its source.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct VulnerabilityView {
    /// The id.
    pub id: VulnId,
    /// Preferred description (NVD, else the CNA's).
    pub summary: Option<String>,
    /// Other ids, from every feed.
    pub aliases: Vec<String>,
    /// Every CVSS vector with its scorer and feed.
    pub cvss: Vec<FeedCvss>,
    /// SSVC decisions.
    pub ssvc: Vec<SsvcDecision>,
    /// Latest EPSS score.
    pub epss: Option<crate::threat::EpssScore>,
    /// EPSS history, newest first.
    pub epss_history: Vec<crate::threat::EpssScore>,
    /// KEV entry.
    pub kev: Option<crate::threat::KevEntry>,
    /// CERT-FR alerts.
    pub certfr: Vec<crate::threat::CertFrAlert>,
    /// Public exploits.
    pub exploits: Vec<crate::threat::Exploit>,
    /// Distribution verdicts (fixed versions per release, not-affected, unfixed).
    pub distro_fixes: Vec<DistroFix>,
    /// Per-feed records.
    pub records: Vec<FeedRecord>,
    /// Open findings of this vulnerability in the inventory.
    pub open_findings: i64,
}

/// What an import did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportCounts {
    /// Records read.
    pub records: u64,
    /// Records not known before.
    pub new: u64,
    /// Records that replaced an older version.
    pub changed: u64,
    /// Records identical to (or older than) what was stored.
    pub unchanged: u64,
}

impl std::ops::AddAssign for ImportCounts {
    fn add_assign(&mut self, o: Self) {
        self.records += o.records;
        self.new += o.new;
        self.changed += o.changed;
        self.unchanged += o.unchanged;
    }
}

/// One row of the vulnerability search.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct VulnSummary {
    /// The id.
    pub id: VulnId,
    /// Preferred description.
    pub summary: Option<String>,
    /// Publication date.
    #[serde(with = "time::serde::rfc3339::option")]
    pub published: Option<OffsetDateTime>,
    /// Whether CISA lists it as known exploited.
    pub kev: bool,
    /// Latest EPSS score.
    pub epss: Option<f64>,
}

/// Filters of the vulnerability search; every field narrows it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct VulnFilter {
    /// Id prefix (`CVE-2024-`) or words of the description (case-insensitive).
    pub text: Option<String>,
    /// Only CVEs in the KEV catalogue.
    pub kev_only: bool,
    /// Only CVEs whose latest EPSS score is at least this.
    pub epss_min: Option<f64>,
    /// Published on or after.
    pub published_from: Option<OffsetDateTime>,
    /// Published before.
    pub published_to: Option<OffsetDateTime>,
    /// Page size.
    pub limit: u32,
    /// Id of the last row of the previous page.
    pub after: Option<VulnId>,
}
