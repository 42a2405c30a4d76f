//! The CISA Known Exploited Vulnerabilities catalogue (JSON).

use std::path::Path;

use serde::Deserialize;
use vantage_domain::{KevEntry, VulnId};

use crate::error::FeedError;
use crate::util::date;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Raw {
    catalog_version: Option<String>,
    vulnerabilities: Vec<RawEntry>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawEntry {
    #[serde(rename = "cveID")]
    cve_id: String,
    vendor_project: String,
    product: String,
    vulnerability_name: String,
    date_added: String,
    due_date: Option<String>,
    required_action: String,
    known_ransomware_campaign_use: Option<String>,
    notes: Option<String>,
}

/// A parsed catalogue.
#[derive(Debug, Clone)]
pub struct KevCatalog {
    /// `catalogVersion` (e.g. `2026.07.23`).
    pub version: Option<String>,
    /// The entries.
    pub entries: Vec<KevEntry>,
}

/// Parses a whole KEV catalogue (about 1 MB: read at once).
pub fn parse_kev(path: &Path) -> Result<KevCatalog, FeedError> {
    let raw: Raw = crate::input::read_json(path)?;
    let mut entries = Vec::with_capacity(raw.vulnerabilities.len());
    for (i, e) in raw.vulnerabilities.into_iter().enumerate() {
        let at = |f: &str| format!("vulnerabilities[{i}] ({}), field {f}", e.cve_id);
        let cve: VulnId = e.cve_id.parse().map_err(|x: vantage_domain::ParseError| {
            FeedError::record(path, at("cveID"), x.to_string())
        })?;
        let date_added = date(&e.date_added).ok_or_else(|| {
            FeedError::record(
                path,
                at("dateAdded"),
                format!("`{}` is not a date", e.date_added),
            )
        })?;
        let due_date = match e.due_date.as_deref().filter(|d| !d.is_empty()) {
            Some(d) => Some(date(d).ok_or_else(|| {
                FeedError::record(path, at("dueDate"), format!("`{d}` is not a date"))
            })?),
            None => None,
        };
        entries.push(KevEntry {
            cve,
            vendor: e.vendor_project,
            product: e.product,
            name: e.vulnerability_name,
            date_added,
            due_date,
            required_action: e.required_action,
            known_ransomware: e
                .known_ransomware_campaign_use
                .as_deref()
                .is_some_and(|k| k.eq_ignore_ascii_case("known")),
            notes: e.notes.filter(|n| !n.is_empty()),
        });
    }
    Ok(KevCatalog {
        version: raw.catalog_version,
        entries,
    })
}
