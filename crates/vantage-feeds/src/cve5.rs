//! CVE JSON 5.x records (cvelistV5, CISA vulnrichment), one per line: the CNA container's
//! description, CWEs, references and CVSS, and every ADP container's CVSS and SSVC decision.

use std::path::Path;

use serde::Deserialize;
use serde_json::Value;
use vantage_domain::{CvssVector, CvssVersion, FeedKind, SsvcDecision, VulnId, VulnRecord};

use crate::error::FeedError;
use crate::util::{check_vector, instant};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Record {
    data_type: Option<String>,
    cve_metadata: Metadata,
    containers: Containers,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Metadata {
    cve_id: String,
    state: Option<String>,
    date_published: Option<String>,
    date_updated: Option<String>,
    assigner_short_name: Option<String>,
}

#[derive(Deserialize)]
struct Containers {
    cna: Option<Container>,
    #[serde(default)]
    adp: Vec<Container>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct Container {
    #[serde(default)]
    descriptions: Vec<crate::nvd::LangValue>,
    #[serde(default)]
    metrics: Vec<Value>,
    #[serde(default)]
    problem_types: Vec<ProblemType>,
    #[serde(default)]
    references: Vec<Reference>,
    provider_metadata: Option<Provider>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Provider {
    short_name: Option<String>,
}

#[derive(Deserialize)]
struct ProblemType {
    #[serde(default)]
    descriptions: Vec<ProblemDescription>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ProblemDescription {
    cwe_id: Option<String>,
}

#[derive(Deserialize)]
struct Reference {
    url: String,
}

const METRIC_KEYS: &[(&str, CvssVersion)] = &[
    ("cvssV4_0", CvssVersion::V40),
    ("cvssV3_1", CvssVersion::V31),
    ("cvssV3_0", CvssVersion::V30),
    ("cvssV2_0", CvssVersion::V2),
];

/// CVSS vectors and the SSVC decision of one container's `metrics`.
fn metrics(
    c: &Container,
    source: &str,
    loc: &dyn Fn(&str) -> String,
    path: &Path,
) -> Result<(Vec<CvssVector>, Option<SsvcDecision>), FeedError> {
    let mut cvss = Vec::new();
    let mut ssvc = None;
    for m in &c.metrics {
        for (key, version) in METRIC_KEYS {
            let Some(v) = m.get(*key) else { continue };
            let vector = v
                .get("vectorString")
                .and_then(Value::as_str)
                .ok_or_else(|| {
                    FeedError::record(path, loc(&format!("metrics.{key}.vectorString")), "missing")
                })?;
            check_vector(*version, vector).map_err(|e| {
                FeedError::record(path, loc(&format!("metrics.{key}.vectorString")), e)
            })?;
            cvss.push(CvssVector {
                source: source.to_string(),
                primary: false,
                version: *version,
                vector: vector.to_string(),
                base_score: v.get("baseScore").and_then(Value::as_f64),
            });
        }
        let other = m.get("other");
        if other.and_then(|o| o.get("type")).and_then(Value::as_str) == Some("ssvc") {
            let content = other.and_then(|o| o.get("content"));
            let option = |name: &str| {
                content
                    .and_then(|c| c.get("options"))
                    .and_then(Value::as_array)
                    .and_then(|opts| opts.iter().find_map(|o| o.get(name)))
                    .and_then(Value::as_str)
                    .map(|s| s.to_ascii_lowercase())
            };
            ssvc = Some(SsvcDecision {
                source: source.to_string(),
                exploitation: option("Exploitation"),
                automatable: option("Automatable"),
                technical_impact: option("Technical Impact"),
                version: content
                    .and_then(|c| c.get("version"))
                    .and_then(Value::as_str)
                    .map(str::to_string),
                decided_at: content
                    .and_then(|c| c.get("timestamp"))
                    .and_then(Value::as_str)
                    .and_then(instant),
            });
        }
    }
    Ok((cvss, ssvc))
}

impl Record {
    fn into_record(
        self,
        hash: String,
        loc: &dyn Fn(&str) -> String,
        path: &Path,
    ) -> Result<VulnRecord, FeedError> {
        if self.data_type.as_deref().is_some_and(|t| t != "CVE_RECORD") {
            return Err(FeedError::record(
                path,
                loc("dataType"),
                "expected CVE_RECORD",
            ));
        }
        let m = self.cve_metadata;
        let id: VulnId = m.cve_id.parse().map_err(|e: vantage_domain::ParseError| {
            FeedError::record(path, loc("cveMetadata.cveId"), e.to_string())
        })?;
        let cna = self.containers.cna.unwrap_or_default();
        let cna_source = format!(
            "cna:{}",
            m.assigner_short_name.as_deref().unwrap_or("unknown")
        );
        let (mut cvss, mut ssvc) = metrics(&cna, &cna_source, loc, path)?;
        let mut cwes: Vec<String> = Vec::new();
        let mut references: Vec<String> = cna.references.iter().map(|r| r.url.clone()).collect();
        for c in std::iter::once(&cna).chain(self.containers.adp.iter()) {
            cwes.extend(
                c.problem_types
                    .iter()
                    .flat_map(|p| &p.descriptions)
                    .filter_map(|d| d.cwe_id.clone()),
            );
        }
        for adp in &self.containers.adp {
            let source = adp
                .provider_metadata
                .as_ref()
                .and_then(|p| p.short_name.clone())
                .unwrap_or_else(|| "ADP".into());
            let (v, s) = metrics(adp, &source, loc, path)?;
            cvss.extend(v);
            ssvc = ssvc.or(s);
            references.extend(adp.references.iter().map(|r| r.url.clone()));
        }
        cwes.sort();
        cwes.dedup();
        references.sort();
        references.dedup();
        Ok(VulnRecord {
            id,
            feed: FeedKind::Cve5,
            summary: crate::nvd::english(&cna.descriptions),
            status: m.state,
            published: m.date_published.as_deref().and_then(instant),
            modified: m.date_updated.as_deref().and_then(instant),
            cwes,
            references,
            aliases: Vec::new(),
            cvss,
            ssvc,
            cpe_matches: Vec::new(),
            affected: Vec::new(),
            content_hash: hash,
        })
    }
}

crate::input::json_lines_reader!(
    /// Streams CVE 5 records from JSON lines.
    Cve5Reader,
    Record,
    r#""cveId":""#
);
