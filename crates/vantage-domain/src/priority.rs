//! The outcome of prioritization: a finding's contextual score, derived vector, priority, SSVC
//! decision and the sentence that explains them.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::finding::Priority;
use crate::macros::name_enum;

name_enum! {
    /// A decision of CISA's SSVC tree.
    pub enum SsvcOutcome ("SSVC decision") {
        /// No action now; remediate within standard update timelines.
        Track = "track",
        /// Track, watching closely for changes.
        TrackStar = "track*",
        /// Attention from supervisors; remediate sooner than standard timelines.
        Attend = "attend",
        /// Attention from leadership; remediate as soon as possible.
        Act = "act",
    }
}

impl SsvcOutcome {
    /// The priority an SSVC decision stands for: Act → P1, Attend → P2, Track* → P3, Track → P4.
    pub const fn priority(self) -> Priority {
        match self {
            SsvcOutcome::Act => Priority::P1,
            SsvcOutcome::Attend => Priority::P2,
            SsvcOutcome::TrackStar => Priority::P3,
            SsvcOutcome::Track => Priority::P4,
        }
    }

    /// As CISA writes it: `Track`, `Track*`, `Attend`, `Act`.
    pub const fn label(self) -> &'static str {
        match self {
            SsvcOutcome::Track => "Track",
            SsvcOutcome::TrackStar => "Track*",
            SsvcOutcome::Attend => "Attend",
            SsvcOutcome::Act => "Act",
        }
    }
}

name_enum! {
    /// How a scope decides priorities.
    pub enum PriorityModel ("priority model") {
        /// The scope's ordered priority-policy rules (CVSS-BTE, EPSS, KEV …).
        Cvss = "cvss",
        /// CISA's SSVC decision tree (Act → P1 … Track → P4).
        Ssvc = "ssvc",
        /// Both; the higher priority wins.
        Both = "both",
    }
}

/// What prioritization decided for a vulnerability in one context: the contextual score and
/// vectors, the priority and the rule, and the sentence that explains them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PriorityResult {
    /// The priority.
    pub priority: Priority,
    /// The contextual score: the derived vector's final score (CVSS-BTE for v4.0).
    pub score: Option<f64>,
    /// The base score of the source vector.
    pub base_score: Option<f64>,
    /// The vulnerability's vector the score starts from.
    pub source_vector: Option<String>,
    /// Who published that vector (`nvd@nist.gov`, a CNA …).
    pub vector_source: Option<String>,
    /// The source vector with the asset's context written into it (threat, requirements,
    /// modified attack vector), so a person can check the score.
    pub derived_vector: Option<String>,
    /// The SSVC decision, when the scope's model uses SSVC.
    pub ssvc: Option<SsvcOutcome>,
    /// The policy rule that decided (`policy/rule`, `policy/default`, or `ssvc`).
    pub rule: String,
    /// The facts and the rule, in one sentence.
    pub explanation: String,
    /// Days allowed by the scope's SLA for this priority.
    pub sla_days: u32,
}

/// Why a finding has its priority: the result stored per vulnerability and asset context
/// (shared by every finding of that vulnerability on assets in the same scopes), with the
/// finding's own due date.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Prioritization {
    /// The result.
    #[serde(flatten)]
    pub result: PriorityResult,
    /// When the finding is due: first detection + SLA days.
    #[serde(with = "time::serde::rfc3339::option")]
    pub due: Option<OffsetDateTime>,
    /// When the result last changed.
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

/// One entry of a finding's priority history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PriorityChange {
    /// When.
    #[serde(with = "time::serde::rfc3339")]
    pub changed_at: OffsetDateTime,
    /// Before (none for the first prioritization).
    pub old_priority: Option<Priority>,
    /// After.
    pub new_priority: Priority,
    /// Score before.
    pub old_score: Option<f64>,
    /// Score after.
    pub new_score: Option<f64>,
    /// The explanation from then on.
    pub explanation: String,
}
