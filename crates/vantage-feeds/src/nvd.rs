//! NVD CVE API 2.0 records: JSON lines of `{"cve": {…}}` (one element of the API's
//! `vulnerabilities` array each), or whole API pages / 2.0 yearly feed documents. A document is
//! deserialized as a stream on its own thread: each element of `vulnerabilities` is handed over
//! as soon as it is read, so a feed file of any size is read in bounded memory.

use std::path::Path;

use serde::Deserialize;
use vantage_domain::{CpeMatch, CvssVector, CvssVersion, FeedKind, VulnId, VulnRecord};

use crate::error::FeedError;
use crate::util::{check_vector, digest, instant};

#[derive(Deserialize)]
struct Line {
    cve: RawCve,
}

/// Receives the elements of a document's `vulnerabilities` array, one at a time.
type Elements = std::sync::mpsc::Receiver<Result<Line, FeedError>>;

/// Visits the top-level object of an API page or feed document, streaming `vulnerabilities`
/// and skipping every other key.
struct PageVisitor<'a>(&'a std::sync::mpsc::SyncSender<Result<Line, FeedError>>);

impl<'de> serde::de::Visitor<'de> for PageVisitor<'_> {
    type Value = ();
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("an NVD API page or feed document (an object with `vulnerabilities`)")
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<String>()? {
            if key == "vulnerabilities" {
                map.next_value_seed(ElementsSeed(self.0))?;
            } else {
                map.next_value::<serde::de::IgnoredAny>()?;
            }
        }
        Ok(())
    }
}

struct ElementsSeed<'a>(&'a std::sync::mpsc::SyncSender<Result<Line, FeedError>>);

impl<'de> serde::de::DeserializeSeed<'de> for ElementsSeed<'_> {
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> serde::de::Visitor<'de> for ElementsSeed<'_> {
    type Value = ();
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("an array of {\"cve\": …}")
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(line) = seq.next_element::<Line>()? {
            if self.0.send(Ok(line)).is_err() {
                // The reader was dropped: stop reading.
                return Err(serde::de::Error::custom("reader closed"));
            }
        }
        Ok(())
    }
}

/// Deserializes a page or feed document on its own thread; elements arrive through a bounded
/// channel, an error (with its line and column) as the last item.
fn stream_document(
    path: &Path,
    input: Box<dyn std::io::Read + Send>,
) -> Result<Elements, FeedError> {
    let (tx, rx) = std::sync::mpsc::sync_channel(256);
    let shown = path.to_path_buf();
    let path = path.to_path_buf();
    std::thread::Builder::new()
        .name("nvd-document".into())
        .spawn(move || {
            use serde::Deserializer as _;
            let mut de = serde_json::Deserializer::from_reader(input);
            let result = de.deserialize_map(PageVisitor(&tx)).and_then(|()| de.end());
            if let Err(e) = result {
                let _ = tx.send(Err(FeedError::record(
                    &path,
                    format!("line {}, column {}", e.line(), e.column()),
                    e.to_string(),
                )));
            }
        })
        .map_err(|source| FeedError::Io {
            path: shown,
            what: "cannot start the document reader".into(),
            source,
        })?;
    Ok(rx)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RawCve {
    id: String,
    published: Option<String>,
    last_modified: Option<String>,
    vuln_status: Option<String>,
    #[serde(default)]
    descriptions: Vec<LangValue>,
    #[serde(default)]
    references: Vec<RawRef>,
    #[serde(default)]
    metrics: RawMetrics,
    #[serde(default)]
    weaknesses: Vec<RawWeakness>,
    #[serde(default)]
    configurations: Vec<RawConfig>,
}

#[derive(Deserialize)]
pub(crate) struct LangValue {
    lang: String,
    value: String,
}

#[derive(Deserialize)]
struct RawRef {
    url: String,
}

#[derive(Deserialize, Default)]
struct RawMetrics {
    #[serde(default, rename = "cvssMetricV40")]
    v40: Vec<RawMetric>,
    #[serde(default, rename = "cvssMetricV31")]
    v31: Vec<RawMetric>,
    #[serde(default, rename = "cvssMetricV30")]
    v30: Vec<RawMetric>,
    #[serde(default, rename = "cvssMetricV2")]
    v2: Vec<RawMetric>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawMetric {
    source: String,
    #[serde(rename = "type")]
    kind: Option<String>,
    cvss_data: RawCvssData,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawCvssData {
    version: String,
    vector_string: String,
    base_score: Option<f64>,
}

#[derive(Deserialize)]
struct RawWeakness {
    #[serde(default)]
    description: Vec<LangValue>,
}

#[derive(Deserialize)]
struct RawConfig {
    #[serde(default)]
    nodes: Vec<RawNode>,
}

#[derive(Deserialize)]
struct RawNode {
    #[serde(default, rename = "cpeMatch")]
    cpe_match: Vec<RawCpeMatch>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawCpeMatch {
    vulnerable: bool,
    criteria: String,
    version_start_including: Option<String>,
    version_start_excluding: Option<String>,
    version_end_including: Option<String>,
    version_end_excluding: Option<String>,
}

/// English text of a list of translations.
pub(crate) fn english(list: &[LangValue]) -> Option<String> {
    list.iter()
        .find(|d| d.lang.starts_with("en"))
        .or(list.first())
        .map(|d| d.value.trim().to_string())
}

impl RawCve {
    fn into_record(
        self,
        hash: String,
        loc: &dyn Fn(&str) -> String,
        path: &Path,
    ) -> Result<VulnRecord, FeedError> {
        let id: VulnId = self.id.parse().map_err(|e: vantage_domain::ParseError| {
            FeedError::record(path, loc("cve.id"), e.to_string())
        })?;
        let metrics = [
            &self.metrics.v40,
            &self.metrics.v31,
            &self.metrics.v30,
            &self.metrics.v2,
        ];
        let mut cvss = Vec::new();
        for m in metrics.into_iter().flatten() {
            let field = || loc("cve.metrics.cvssData.version");
            let version: CvssVersion =
                m.cvss_data
                    .version
                    .parse()
                    .map_err(|e: vantage_domain::ParseError| {
                        FeedError::record(path, field(), e.to_string())
                    })?;
            check_vector(version, &m.cvss_data.vector_string).map_err(|e| {
                FeedError::record(path, loc("cve.metrics.cvssData.vectorString"), e)
            })?;
            cvss.push(CvssVector {
                source: m.source.clone(),
                primary: m.kind.as_deref() == Some("Primary"),
                version,
                vector: m.cvss_data.vector_string.clone(),
                base_score: m.cvss_data.base_score,
            });
        }
        let mut cwes: Vec<String> = self
            .weaknesses
            .iter()
            .flat_map(|w| w.description.iter())
            .map(|d| d.value.clone())
            .filter(|v| v.starts_with("CWE-"))
            .collect();
        cwes.sort();
        cwes.dedup();
        let cpe_matches = self
            .configurations
            .into_iter()
            .enumerate()
            .flat_map(|(i, c)| {
                c.nodes
                    .into_iter()
                    .flat_map(|n| n.cpe_match)
                    .map(move |m| (i, m))
            })
            .map(|(i, m)| CpeMatch {
                configuration: i32::try_from(i).unwrap_or(i32::MAX),
                criteria: m.criteria,
                vulnerable: m.vulnerable,
                version_start_including: m.version_start_including,
                version_start_excluding: m.version_start_excluding,
                version_end_including: m.version_end_including,
                version_end_excluding: m.version_end_excluding,
            })
            .collect();
        Ok(VulnRecord {
            id,
            feed: FeedKind::Nvd,
            summary: english(&self.descriptions),
            status: self.vuln_status,
            published: self.published.as_deref().and_then(instant),
            modified: self.last_modified.as_deref().and_then(instant),
            cwes,
            references: self.references.into_iter().map(|r| r.url).collect(),
            aliases: Vec::new(),
            cvss,
            ssvc: None,
            cpe_matches,
            affected: Vec::new(),
            content_hash: hash,
        })
    }
}

/// Streams NVD records from JSON lines or from one API page / feed document.
pub struct NvdReader {
    lines: crate::input::Lines,
    page: Option<Elements>,
}

impl NvdReader {
    /// Reads `path` (plain or gzip).
    pub fn open(path: &Path) -> Result<Self, FeedError> {
        let mut lines = crate::input::Lines::open(path, r#""id":""#)?;
        // JSON lines start with `{"cve"`; anything else is a page or feed document, streamed
        // from the first byte (a minified yearly file is one line of hundreds of MB).
        let head: Vec<u8> = lines
            .peek()?
            .iter()
            .filter(|b| !b.is_ascii_whitespace())
            .take(6)
            .copied()
            .collect();
        let page = if head.is_empty() || head.starts_with(b"{\"cve\"") {
            None
        } else {
            Some(stream_document(path, lines.take_rest())?)
        };
        Ok(NvdReader { lines, page })
    }

    /// Skips, without parsing them, lines whose digest equals the one stored for their id
    /// (`known`: id → digest), counting them in `skipped`.
    pub fn skip_known(
        mut self,
        known: std::collections::HashMap<String, String>,
        skipped: std::sync::Arc<std::sync::atomic::AtomicU64>,
    ) -> Self {
        self.lines.skip_known(known, skipped);
        self
    }

    fn next_record(&mut self) -> Result<Option<VulnRecord>, FeedError> {
        if let Some(page) = &mut self.page {
            let Ok(line) = page.recv() else {
                return Ok(None);
            };
            let line = line?;
            let id = line.cve.id.clone();
            // Records of a page are identified by their modification date.
            let hash = digest(
                format!("{id}|{}", line.cve.last_modified.as_deref().unwrap_or("")).as_bytes(),
            );
            let loc = move |f: &str| format!("record {id}, field {f}");
            return line.cve.into_record(hash, &loc, &self.lines.path).map(Some);
        }
        let Some(line) = self.lines.next_line()? else {
            return Ok(None);
        };
        let parsed: Line =
            serde_json::from_str(&line.text).map_err(|e| self.lines.json_error(line.no, &e))?;
        let no = line.no;
        let loc = move |f: &str| format!("line {no}, field {f}");
        parsed
            .cve
            .into_record(line.digest, &loc, &self.lines.path)
            .map(Some)
    }
}

impl Iterator for NvdReader {
    type Item = Result<VulnRecord, FeedError>;
    fn next(&mut self) -> Option<Self::Item> {
        self.next_record().transpose()
    }
}
