//! CERT-FR alerts (ALE) with their CVEs: `[{"alert", "published_at", "cves": […], "title"?}]`.

use std::io::Read;
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
    let mut text = String::new();
    crate::input::open(path)?
        .read_to_string(&mut text)
        .map_err(|source| FeedError::Io {
            path: path.to_path_buf(),
            what: "document".into(),
            source,
        })?;
    let raw: Vec<Raw> = serde_json::from_str(&text).map_err(|e| {
        FeedError::record(
            path,
            format!("line {}, column {}", e.line(), e.column()),
            e.to_string(),
        )
    })?;
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
