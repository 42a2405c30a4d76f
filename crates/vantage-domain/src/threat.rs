//! Threat facts about vulnerabilities, each a separate record with its source and date, so that
//! history is kept (EPSS changes daily) and every priority decision can cite its evidence.

use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime};

use crate::vulnerability::VulnId;

/// One FIRST EPSS score of a CVE on a given day.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EpssScore {
    /// The CVE.
    pub cve: VulnId,
    /// The day the score applies to.
    pub date: Date,
    /// Probability of exploitation activity in the next 30 days (0–1).
    pub score: f64,
    /// Percentile of the score among all scored CVEs (0–1).
    pub percentile: f64,
    /// EPSS model version (`v2025.03.14`).
    pub model_version: Option<String>,
}

/// A CISA Known Exploited Vulnerabilities catalogue entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct KevEntry {
    /// The CVE.
    pub cve: VulnId,
    /// Vendor / project.
    pub vendor: String,
    /// Product.
    pub product: String,
    /// Name CISA gives the vulnerability.
    pub name: String,
    /// Date added to the catalogue.
    pub date_added: Date,
    /// Remediation due date for US federal agencies.
    pub due_date: Option<Date>,
    /// Required action.
    pub required_action: String,
    /// Whether the vulnerability is known to be used in ransomware campaigns.
    pub known_ransomware: bool,
    /// Notes.
    pub notes: Option<String>,
}

/// A CERT-FR alert (ALE) that mentions a CVE.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CertFrAlert {
    /// Alert id (`CERTFR-2020-ALE-025`).
    pub id: String,
    /// The CVE it mentions.
    pub cve: VulnId,
    /// Title.
    pub title: String,
    /// Publication date.
    #[serde(with = "time::serde::rfc3339::option")]
    pub published: Option<OffsetDateTime>,
    /// Status (open, closed …).
    pub status: Option<String>,
}

/// A public exploit for a CVE.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Exploit {
    /// The CVE.
    pub cve: VulnId,
    /// Where it is published (`exploit-db`, `metasploit`, `github` …).
    pub source: String,
    /// Id in that source (`47287`).
    pub source_id: String,
    /// URL when known.
    pub url: Option<String>,
    /// Title of the exploit, when the source gives one.
    pub title: Option<String>,
    /// `remote`, `local`, `webapps`, `dos` …
    pub kind: Option<String>,
    /// Target platform (`linux`, `windows`, `hardware` …).
    pub platform: Option<String>,
    /// Publication date.
    pub published: Option<Date>,
    /// Whether the source verified that it works.
    pub verified: Option<bool>,
}
