//! Exact CVSS calculators: v2.0, v3.0, v3.1 and v4.0, with temporal / threat and environmental
//! metrics, and a parser that says exactly why a vector is refused.
//!
//! ```
//! use vantage_cvss::{Cvss, Nomenclature, Severity};
//!
//! let v: Cvss = "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N/E:U/MAV:L/CR:L"
//!     .parse()
//!     .unwrap();
//! assert_eq!(v.base_score(), 9.3);
//! assert_eq!(v.score(), 6.0);
//! assert_eq!(v.nomenclature(), Some(Nomenclature::Bte));
//! assert_eq!(v.severity(), Severity::Medium);
//! ```
//!
//! How the scores are computed, and why they match FIRST's reference calculators:
//! - v2.0 and v3.x are computed in exact decimal fixed point ([`dec`]), the way the
//!   specifications state the formulas; no binary floating point error can move a score across a
//!   rounding boundary. The one term that is not a short decimal (the `^15` / `^13` power of a
//!   changed scope) is computed in `f64` and rounded up with a 1e-10 tolerance.
//! - v4.0 follows the macro-vector interpolation of the FIRST specification and its reference
//!   implementation step by step, in `f64` in the same order of operations, so the results are
//!   identical to the reference calculator including its final `+1e-6` half-up rounding.
//!
//! A vector is one [`Cvss`] value whatever its version: the metrics are kept in a fixed-size array
//! indexed by the version's metric table, so parsing allocates nothing and a v4.0 score with
//! threat and environmental metrics is computed in well under a microsecond.
#![forbid(unsafe_code)]

mod dec;
mod spec;
mod v2;
mod v3;
mod v4;
mod v4_lookup;

use std::fmt;
use std::str::FromStr;

use spec::{MAX_METRICS, Spec};

/// The CVSS version of a vector.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Version {
    /// CVSS v2.0 (no prefix: `AV:N/AC:L/Au:N/C:P/I:P/A:P`).
    V2_0,
    /// CVSS v3.0 (`CVSS:3.0/…`).
    V3_0,
    /// CVSS v3.1 (`CVSS:3.1/…`).
    V3_1,
    /// CVSS v4.0 (`CVSS:4.0/…`).
    V4_0,
}

impl Version {
    /// All versions, oldest first.
    pub const ALL: &'static [Version] =
        &[Version::V2_0, Version::V3_0, Version::V3_1, Version::V4_0];

    /// `2.0`, `3.0`, `3.1` or `4.0`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Version::V2_0 => "2.0",
            Version::V3_0 => "3.0",
            Version::V3_1 => "3.1",
            Version::V4_0 => "4.0",
        }
    }

    fn spec(self) -> &'static Spec {
        match self {
            Version::V2_0 => &v2::SPEC,
            Version::V3_0 => &v3::SPEC_30,
            Version::V3_1 => &v3::SPEC_31,
            Version::V4_0 => &v4::SPEC,
        }
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Version {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Version::ALL
            .iter()
            .copied()
            .find(|v| v.as_str() == s || s.strip_prefix('v') == Some(v.as_str()))
            .ok_or_else(|| format!("unknown CVSS version {s:?}: expected 2.0, 3.0, 3.1 or 4.0"))
    }
}

/// The qualitative severity rating of a score (v3.x and v4.0: None / Low / Medium / High /
/// Critical; v2.0, as NVD rates it: Low / Medium / High).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Severity {
    /// 0.0 (v3.x and v4.0 only).
    None,
    /// 0.1–3.9 (0.0–3.9 in v2.0).
    Low,
    /// 4.0–6.9.
    Medium,
    /// 7.0–8.9 (7.0–10.0 in v2.0).
    High,
    /// 9.0–10.0 (v3.x and v4.0 only).
    Critical,
}

impl Severity {
    /// `None`, `Low`, `Medium`, `High` or `Critical`, as the specifications write them.
    pub const fn as_str(self) -> &'static str {
        match self {
            Severity::None => "None",
            Severity::Low => "Low",
            Severity::Medium => "Medium",
            Severity::High => "High",
            Severity::Critical => "Critical",
        }
    }

    /// The rating of a score in tenths (0–100) for a version.
    fn of(version: Version, tenths: u8) -> Severity {
        match (version, tenths) {
            (Version::V2_0, 0..=39) => Severity::Low,
            (Version::V2_0, 40..=69) => Severity::Medium,
            (Version::V2_0, _) => Severity::High,
            (_, 0) => Severity::None,
            (_, 1..=39) => Severity::Low,
            (_, 40..=69) => Severity::Medium,
            (_, 70..=89) => Severity::High,
            _ => Severity::Critical,
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which CVSS v4.0 metric groups a score includes (specification section 1.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Nomenclature {
    /// Base metrics only.
    B,
    /// Base and Threat.
    Bt,
    /// Base and Environmental.
    Be,
    /// Base, Threat and Environmental.
    Bte,
}

impl Nomenclature {
    /// `CVSS-B`, `CVSS-BT`, `CVSS-BE` or `CVSS-BTE`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Nomenclature::B => "CVSS-B",
            Nomenclature::Bt => "CVSS-BT",
            Nomenclature::Be => "CVSS-BE",
            Nomenclature::Bte => "CVSS-BTE",
        }
    }
}

impl fmt::Display for Nomenclature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a vector was refused. The message names the field and metric at fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CvssError {
    /// The vector is the empty string.
    Empty,
    /// The vector ends with `/`.
    TrailingSlash,
    /// The `CVSS:x.y` prefix names no supported version.
    UnknownPrefix(String),
    /// The prefix is not written `CVSS:` in capitals.
    LowercasePrefix(String),
    /// A v3/v4 metric appears in a vector without a `CVSS:` prefix.
    MissingPrefix(String),
    /// Two `/` with nothing between them.
    EmptyField,
    /// A field that is not `METRIC:VALUE`.
    MalformedField(String),
    /// A metric the version does not define.
    UnknownMetric {
        /// The version the vector declared.
        version: Version,
        /// The unknown metric.
        metric: String,
        /// The correctly written metric, when only the letter case was wrong.
        did_you_mean: Option<&'static str>,
    },
    /// A value the metric does not allow.
    InvalidValue {
        /// The metric.
        metric: &'static str,
        /// Its full name.
        name: &'static str,
        /// The refused value.
        value: String,
        /// The allowed values.
        allowed: &'static [&'static str],
    },
    /// A metric given twice.
    DuplicateMetric(&'static str),
    /// Mandatory (base) metrics that are absent.
    MissingMetrics(Vec<&'static str>),
}

impl CvssError {
    /// The metric at fault, when the error is about one metric.
    pub fn metric(&self) -> Option<&str> {
        match self {
            CvssError::UnknownMetric { metric, .. } => Some(metric),
            CvssError::InvalidValue { metric, .. } | CvssError::DuplicateMetric(metric) => {
                Some(metric)
            }
            CvssError::MissingMetrics(m) => m.first().copied(),
            _ => None,
        }
    }
}

impl fmt::Display for CvssError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CvssError::Empty => f.write_str("empty vector"),
            CvssError::TrailingSlash => f.write_str("trailing \"/\" at the end of the vector"),
            CvssError::UnknownPrefix(p) => write!(
                f,
                "unsupported prefix {p:?}: expected CVSS:3.0, CVSS:3.1 or CVSS:4.0 \
                 (CVSS v2.0 vectors have no prefix)"
            ),
            CvssError::LowercasePrefix(p) => write!(
                f,
                "prefix {p:?} must be written in capitals: {:?}",
                p.to_ascii_uppercase()
            ),
            CvssError::MissingPrefix(m) => write!(
                f,
                "metric {m:?} is not a CVSS v2.0 metric, and only v2.0 vectors have no prefix: \
                 start a v3.x or v4.0 vector with CVSS:3.1/ or CVSS:4.0/"
            ),
            CvssError::EmptyField => f.write_str("empty field (two \"/\" in a row)"),
            CvssError::MalformedField(field) => {
                write!(f, "malformed field {field:?}: expected METRIC:VALUE")
            }
            CvssError::UnknownMetric {
                version,
                metric,
                did_you_mean,
            } => {
                write!(f, "unknown metric {metric:?} for CVSS v{version}")?;
                if let Some(right) = did_you_mean {
                    write!(f, " (metric names are case-sensitive: {right:?})")?;
                }
                Ok(())
            }
            CvssError::InvalidValue {
                metric,
                name,
                value,
                allowed,
            } => {
                write!(
                    f,
                    "invalid value {value:?} for metric {metric} ({name}): expected one of {}",
                    allowed.join(", ")
                )?;
                if allowed.iter().any(|a| a.eq_ignore_ascii_case(value)) {
                    f.write_str(" (values are case-sensitive)")?;
                }
                Ok(())
            }
            CvssError::DuplicateMetric(m) => write!(f, "duplicate metric {m}"),
            CvssError::MissingMetrics(m) => {
                let s = if m.len() == 1 { "" } else { "s" };
                write!(f, "missing mandatory metric{s} {}", m.join(", "))
            }
        }
    }
}

impl std::error::Error for CvssError {}

/// The scores of a vector.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scores {
    /// The base score (CVSS-B in v4.0).
    pub base: f64,
    /// The temporal score, when the vector has temporal metrics (v2.0 and v3.x).
    pub temporal: Option<f64>,
    /// The environmental score, when the vector has environmental metrics (v2.0 and v3.x).
    pub environmental: Option<f64>,
    /// The final score: after every temporal / threat / environmental metric in the vector.
    pub score: f64,
}

/// A parsed CVSS vector of any version.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Cvss {
    version: Version,
    /// Per metric of the version's table: 0 when absent, else 1 + the index of its value.
    metrics: [u8; MAX_METRICS],
}

impl Cvss {
    /// Parses a vector: `AV:N/AC:L/Au:N/C:P/I:P/A:P` (v2.0) or `CVSS:3.1/…` / `CVSS:4.0/…`.
    ///
    /// Metrics may come in any order; each at most once; every base metric is required; names
    /// and values are case-sensitive; `X` / `ND` (not defined) is accepted for optional metrics.
    pub fn parse(vector: &str) -> Result<Cvss, CvssError> {
        if vector.is_empty() {
            return Err(CvssError::Empty);
        }
        if vector.ends_with('/') {
            return Err(CvssError::TrailingSlash);
        }
        let (version, body) = split_prefix(vector)?;
        let spec = version.spec();
        let mut metrics = [0u8; MAX_METRICS];
        for field in body.split('/') {
            if field.is_empty() {
                return Err(CvssError::EmptyField);
            }
            let Some((name, value)) = field.split_once(':') else {
                return Err(CvssError::MalformedField(field.to_string()));
            };
            if value.contains(':') {
                return Err(CvssError::MalformedField(field.to_string()));
            }
            let Some(index) = (spec.lookup)(name) else {
                return Err(unknown_metric(version, name));
            };
            let metric = &spec.metrics[index];
            let Some(value_index) = metric.values.iter().position(|v| *v == value) else {
                return Err(CvssError::InvalidValue {
                    metric: metric.abbr,
                    name: metric.name,
                    value: value.to_string(),
                    allowed: metric.values,
                });
            };
            if metrics[index] != 0 {
                return Err(CvssError::DuplicateMetric(metric.abbr));
            }
            metrics[index] = value_index as u8 + 1;
        }
        let missing: Vec<&'static str> = spec.metrics[..spec.mandatory]
            .iter()
            .zip(&metrics)
            .filter(|(_, v)| **v == 0)
            .map(|(m, _)| m.abbr)
            .collect();
        if !missing.is_empty() {
            return Err(CvssError::MissingMetrics(missing));
        }
        Ok(Cvss { version, metrics })
    }

    /// The vector's version.
    pub fn version(&self) -> Version {
        self.version
    }

    /// The value given for a metric (`Some("X")` when given as not defined), or `None`.
    pub fn get(&self, metric: &str) -> Option<&'static str> {
        let spec = self.version.spec();
        let index = (spec.lookup)(metric)?;
        spec.value(index, self.metrics[index])
    }

    /// Sets a metric (replacing any value it had); used to derive a contextual vector.
    pub fn set(&mut self, metric: &str, value: &str) -> Result<(), CvssError> {
        let spec = self.version.spec();
        let index = (spec.lookup)(metric).ok_or_else(|| unknown_metric(self.version, metric))?;
        let m = &spec.metrics[index];
        let position =
            m.values
                .iter()
                .position(|v| *v == value)
                .ok_or_else(|| CvssError::InvalidValue {
                    metric: m.abbr,
                    name: m.name,
                    value: value.to_string(),
                    allowed: m.values,
                })?;
        self.metrics[index] = position as u8 + 1;
        Ok(())
    }

    /// Removes an optional metric; base metrics cannot be removed (returns false).
    pub fn remove(&mut self, metric: &str) -> bool {
        let spec = self.version.spec();
        match (spec.lookup)(metric) {
            Some(index) if index >= spec.mandatory => {
                self.metrics[index] = 0;
                true
            }
            _ => false,
        }
    }

    /// Every score of the vector.
    pub fn scores(&self) -> Scores {
        let tenths = self.score_tenths();
        let f = |t: u8| f64::from(t) / 10.0;
        Scores {
            base: f(tenths.base),
            temporal: tenths.temporal.map(f),
            environmental: tenths.environmental.map(f),
            score: f(tenths.score),
        }
    }

    /// The base score (CVSS-B for v4.0).
    pub fn base_score(&self) -> f64 {
        self.scores().base
    }

    /// The final score, after every temporal / threat / environmental metric in the vector.
    pub fn score(&self) -> f64 {
        self.scores().score
    }

    /// The severity rating of the final score.
    pub fn severity(&self) -> Severity {
        Severity::of(self.version, self.score_tenths().score)
    }

    /// The severity rating of the base score.
    pub fn base_severity(&self) -> Severity {
        Severity::of(self.version, self.score_tenths().base)
    }

    /// For v4.0, which metric groups the score includes; `None` for earlier versions, which have
    /// no such nomenclature.
    pub fn nomenclature(&self) -> Option<Nomenclature> {
        (self.version == Version::V4_0).then(|| v4::nomenclature(&self.metrics))
    }

    /// Whether any temporal (v2/v3) or threat (v4) metric is defined.
    pub fn has_temporal(&self) -> bool {
        self.defined_in(self.version.spec().temporal.clone())
    }

    /// Whether any environmental metric is defined.
    pub fn has_environmental(&self) -> bool {
        self.defined_in(self.version.spec().environmental.clone())
    }

    fn defined_in(&self, range: std::ops::Range<usize>) -> bool {
        let spec = self.version.spec();
        range
            .into_iter()
            .any(|i| self.metrics[i] != 0 && !spec.is_not_defined(i, self.metrics[i]))
    }

    /// The vector's base metrics only (what the base score is computed from; v4.0 keeps its
    /// supplemental metrics, which do not change scores).
    pub fn base_vector(&self) -> Cvss {
        let spec = self.version.spec();
        let mut out = *self;
        for i in spec.temporal.clone().chain(spec.environmental.clone()) {
            out.metrics[i] = 0;
        }
        out
    }

    fn score_tenths(&self) -> spec::Tenths {
        match self.version {
            Version::V2_0 => v2::scores(self),
            Version::V3_0 | Version::V3_1 => v3::scores(self),
            Version::V4_0 => v4::scores(&self.metrics),
        }
    }

    /// The value index (0 = absent) of metric `index`.
    pub(crate) fn raw(&self, index: usize) -> u8 {
        self.metrics[index]
    }
}

fn split_prefix(vector: &str) -> Result<(Version, &str), CvssError> {
    let head = vector.split('/').next().unwrap_or_default();
    if head.len() >= 5 && head[..5].eq_ignore_ascii_case("CVSS:") {
        if !head.starts_with("CVSS:") {
            return Err(CvssError::LowercasePrefix(head.to_string()));
        }
        let version = match head {
            "CVSS:2.0" => Version::V2_0,
            "CVSS:3.0" => Version::V3_0,
            "CVSS:3.1" => Version::V3_1,
            "CVSS:4.0" => Version::V4_0,
            _ => return Err(CvssError::UnknownPrefix(head.to_string())),
        };
        let body = vector.get(head.len() + 1..).unwrap_or_default();
        if body.is_empty() {
            return Err(CvssError::MissingMetrics(
                version.spec().metrics[..version.spec().mandatory]
                    .iter()
                    .map(|m| m.abbr)
                    .collect(),
            ));
        }
        return Ok((version, body));
    }
    Ok((Version::V2_0, vector))
}

fn unknown_metric(version: Version, name: &str) -> CvssError {
    let spec = version.spec();
    if version == Version::V2_0
        && (v3::SPEC_31.lookup)(name)
            .or((v4::SPEC.lookup)(name))
            .is_some()
    {
        return CvssError::MissingPrefix(name.to_string());
    }
    let did_you_mean = spec
        .metrics
        .iter()
        .find(|m| m.abbr.eq_ignore_ascii_case(name))
        .map(|m| m.abbr);
    CvssError::UnknownMetric {
        version,
        metric: name.to_string(),
        did_you_mean,
    }
}

impl FromStr for Cvss {
    type Err = CvssError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Cvss::parse(s)
    }
}

/// The canonical form: the version's prefix, then every defined metric in the specification's
/// order (not-defined `X` / `ND` values are left out).
impl fmt::Display for Cvss {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let spec = self.version.spec();
        let mut first = true;
        if self.version != Version::V2_0 {
            write!(f, "CVSS:{}", self.version)?;
            first = false;
        }
        for (i, m) in spec.metrics.iter().enumerate() {
            let raw = self.metrics[i];
            if raw == 0 || spec.is_not_defined(i, raw) {
                continue;
            }
            if !first {
                f.write_str("/")?;
            }
            first = false;
            write!(f, "{}:{}", m.abbr, m.values[usize::from(raw - 1)])?;
        }
        Ok(())
    }
}

impl fmt::Debug for Cvss {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Cvss({self})")
    }
}

#[cfg(test)]
mod tests;
