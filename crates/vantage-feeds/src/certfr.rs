//! CERT-FR alerts (ALE) with their CVEs: `[{"alert", "published_at", "cves": […], "title"?}]`.

use std::path::Path;

use serde::Deserialize;
use vantage_domain::{CertFrAlert, VulnId};

use crate::error::FeedError;
use crate::util::instant;

#[derive(Deserialize)]
struct Raw {
    alert: String,
    title: Option<String>,
    published_at: Option<String>,
    status: Option<String>,
    #[serde(default)]
    cves: Vec<String>,
}

/// Parses the alert list into one record per (alert, CVE).
pub fn parse_certfr(path: &Path) -> Result<Vec<CertFrAlert>, FeedError> {
    let raw: Vec<Raw> = crate::input::read_json(path)?;
    let mut out = Vec::new();
    for (i, a) in raw.into_iter().enumerate() {
        for c in &a.cves {
            let cve: VulnId = c.parse().map_err(|e: vantage_domain::ParseError| {
                FeedError::record(
                    path,
                    format!("alert[{i}] ({}), field cves", a.alert),
                    e.to_string(),
                )
            })?;
            out.push(CertFrAlert {
                id: a.alert.clone(),
                cve,
                title: a.title.clone().unwrap_or_default(),
                published: a.published_at.as_deref().and_then(instant),
                status: a.status.clone(),
            });
        }
    }
    Ok(out)
}
