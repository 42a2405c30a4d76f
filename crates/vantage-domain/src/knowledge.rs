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
