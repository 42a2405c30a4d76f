//! OSV advisories (any ecosystem: GHSA, PyPI, Go, crates.io, npm, distro ecosystems …), one
//! JSON document per line. A record keeps its own id; its CVE aliases link it to the CVE's
//! entry, so the encyclopedia shows it with the NVD and CVE 5 records of that CVE.

use std::path::Path;

use serde::Deserialize;
use vantage_domain::{
    AffectedPackage, CvssVector, CvssVersion, FeedKind, RangeEvent, VersionRange, VulnId,
    VulnRecord,
};

use crate::error::FeedError;
use crate::util::{check_vector, instant};

#[derive(Deserialize)]
struct Raw {
    id: String,
    modified: Option<String>,
    published: Option<String>,
    withdrawn: Option<String>,
    summary: Option<String>,
    details: Option<String>,
    #[serde(default)]
    aliases: Vec<String>,
    #[serde(default)]
    severity: Vec<Severity>,
    #[serde(default)]
    affected: Vec<RawAffected>,
    #[serde(default)]
    references: Vec<Reference>,
    #[serde(default)]
    database_specific: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct Severity {
    #[serde(rename = "type")]
    kind: String,
    score: String,
}

#[derive(Deserialize)]
struct Reference {
    url: String,
}

#[derive(Deserialize)]
struct RawAffected {
    package: Option<RawPackage>,
    #[serde(default)]
    ranges: Vec<RawRange>,
    #[serde(default)]
    versions: Vec<String>,
}

#[derive(Deserialize)]
struct RawPackage {
    ecosystem: String,
    name: String,
    purl: Option<String>,
}

#[derive(Deserialize)]
struct RawRange {
    #[serde(rename = "type")]
    kind: String,
    repo: Option<String>,
    #[serde(default)]
    events: Vec<RangeEvent>,
}

fn version_of(vector: &str) -> Option<CvssVersion> {
    if vector.starts_with("CVSS:4.0/") {
        Some(CvssVersion::V40)
    } else if vector.starts_with("CVSS:3.1/") {
        Some(CvssVersion::V31)
    } else if vector.starts_with("CVSS:3.0/") {
        Some(CvssVersion::V30)
    } else if vector.starts_with("AV:") || vector.starts_with("(AV:") {
        Some(CvssVersion::V2)
    } else {
        None
    }
}

impl Raw {
    fn into_record(
        self,
        hash: String,
        loc: &dyn Fn(&str) -> String,
        path: &Path,
    ) -> Result<VulnRecord, FeedError> {
        let bad = |f: &str, m: String| FeedError::record(path, loc(f), m);
        let id: VulnId = self
            .id
            .parse()
            .map_err(|e: vantage_domain::ParseError| bad("id", e.to_string()))?;
        let source = format!(
            "osv:{}",
            id.as_str()
                .split('-')
                .next()
                .unwrap_or("osv")
                .to_ascii_lowercase()
        );
        let mut cvss = Vec::new();
        for s in &self.severity {
            if !s.kind.starts_with("CVSS_") {
                continue; // Ubuntu's priority words and other scales are not CVSS vectors.
            }
            let version = version_of(&s.score).ok_or_else(|| {
                bad(
                    "severity.score",
                    format!("`{}` is not a CVSS vector", s.score),
                )
            })?;
            check_vector(version, &s.score).map_err(|e| bad("severity.score", e))?;
            cvss.push(CvssVector {
                source: source.clone(),
                primary: false,
                version,
                vector: s.score.clone(),
                base_score: None,
            });
        }
        let mut aliases = Vec::new();
        for a in &self.aliases {
            // A malformed alias is dropped, not fatal: it only links records together.
            if let Ok(v) = a.parse::<VulnId>() {
                aliases.push(v);
            }
        }
        let mut affected = Vec::new();
        for (i, a) in self.affected.into_iter().enumerate() {
            let Some(p) = a.package else {
                return Err(bad(&format!("affected[{i}].package"), "missing".into()));
            };
            affected.push(AffectedPackage {
                ecosystem: p.ecosystem,
                name: p.name,
                purl: p.purl,
                ranges: a
                    .ranges
                    .into_iter()
                    .map(|r| VersionRange {
                        kind: r.kind,
                        repo: r.repo,
                        events: r.events,
                    })
                    .collect(),
                versions: a.versions,
            });
        }
        let cwes = self
            .database_specific
            .as_ref()
            .and_then(|d| d.get("cwe_ids"))
            .and_then(serde_json::Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|c| c.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        Ok(VulnRecord {
            id,
            feed: FeedKind::Osv,
            summary: self.summary.or(self.details).map(|s| s.trim().to_string()),
            status: Some(
                if self.withdrawn.is_some() {
                    "withdrawn"
                } else {
                    "published"
                }
                .to_string(),
            ),
            published: self.published.as_deref().and_then(instant),
            modified: self.modified.as_deref().and_then(instant),
            cwes,
            references: self.references.into_iter().map(|r| r.url).collect(),
            aliases,
            cvss,
            ssvc: None,
            cpe_matches: Vec::new(),
            affected,
            content_hash: hash,
        })
    }
}

crate::input::json_lines_reader!(
    /// Streams OSV records from JSON lines.
    OsvReader,
    Raw,
    r#""id":""#
);
