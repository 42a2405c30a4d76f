//! Findings: a vulnerability on an asset, with the evidence that proves it and its lifecycle.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::ids::{AssetId, FindingId, PackageId, ServiceId};
use crate::macros::name_enum;
use crate::priority::Prioritization;
use crate::vulnerability::VulnId;

name_enum! {
    /// Where a finding stands in its lifecycle.
    pub enum FindingStatus ("finding status") {
        /// Detected by the latest scan for the first time.
        New = "new",
        /// Detected and not fixed, confirmed by a later scan.
        Open = "open",
        /// A later scan no longer saw it.
        Fixed = "fixed",
        /// Seen again after it had been fixed (a regression).
        Reopened = "reopened",
        /// Known and accepted by a person, with a reason.
        AcceptedRisk = "accepted_risk",
        /// Judged not to apply by a person, with a reason.
        FalsePositive = "false_positive",
    }
}

impl FindingStatus {
    /// Whether the finding still counts as exposure (new, open or reopened).
    pub const fn is_open(self) -> bool {
        matches!(
            self,
            FindingStatus::New | FindingStatus::Open | FindingStatus::Reopened
        )
    }
}

name_enum! {
    /// The action queue a finding is in: P1 is fix now, P4 is fix when convenient.
    pub enum Priority ("priority") {
        /// Act now.
        P1 = "p1",
        /// Act soon.
        P2 = "p2",
        /// Scheduled.
        P3 = "p3",
        /// When convenient.
        P4 = "p4",
    }
}

impl Priority {
    /// 1 for P1 … 4 for P4; the stored and sorted form.
    pub const fn rank(self) -> i16 {
        match self {
            Priority::P1 => 1,
            Priority::P2 => 2,
            Priority::P3 => 3,
            Priority::P4 => 4,
        }
    }

    /// The priority of a stored rank.
    pub const fn from_rank(rank: i16) -> Option<Priority> {
        match rank {
            1 => Some(Priority::P1),
            2 => Some(Priority::P2),
            3 => Some(Priority::P3),
            4 => Some(Priority::P4),
            _ => None,
        }
    }
}

name_enum! {
    /// What part of an asset a finding is about.
    pub enum ComponentKind ("component kind") {
        /// An installed package.
        Package = "package",
        /// A network service.
        Service = "service",
        /// The operating system itself (kernel, end-of-life release).
        Os = "os",
        /// A configuration weakness.
        Config = "config",
    }
}

name_enum! {
    /// How sure detection is of a finding.
    #[derive(Default)]
    pub enum Confidence ("confidence") {
        /// The distribution's own security data for the installed package (backports known).
        #[default]
        High = "high",
        /// A version range of an upstream advisory (OSV) for a language package.
        Medium = "medium",
        /// A product and version identified over the network, matched to NVD CPE ranges.
        Low = "low",
    }
}

/// Why Vantage believes the finding: which component, which versions, which data source and
/// which rule matched. A finding without evidence is not a finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Evidence {
    /// Kind of component.
    pub component_kind: ComponentKind,
    /// The component: package name, `tcp/443`, `kernel` …; part of the finding's identity.
    pub component: String,
    /// The package, when the component is a package.
    pub package_id: Option<PackageId>,
    /// The service, when the component is a service.
    pub service_id: Option<ServiceId>,
    /// Installed version.
    pub installed_version: Option<String>,
    /// First fixed version, when the data knows one.
    pub fixed_version: Option<String>,
    /// Data source that matched (`debian-security-tracker`, `alpine-secdb`, `osv`, `nvd-cpe` …).
    pub source: String,
    /// The rule that matched, in words (`installed 1.1.1n-0+deb11u3 < fixed 1.1.1n-0+deb11u4`).
    pub rule: String,
    /// The advisory that published the fix (`DSA-5678-1`, `USN-7162-1`, `RHSA-2023:0946`).
    #[serde(default)]
    pub advisory: Option<String>,
    /// How sure detection is.
    #[serde(default)]
    pub confidence: Confidence,
}

/// A finding as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Finding {
    /// Stored id.
    pub id: FindingId,
    /// The affected asset.
    pub asset_id: AssetId,
    /// The affected asset's display name, read with the finding.
    pub asset_name: String,
    /// The vulnerability.
    pub vuln_id: VulnId,
    /// Lifecycle status.
    pub status: FindingStatus,
    /// Priority queue, once prioritised.
    pub priority: Option<Priority>,
    /// Contextual score (0–10), once prioritised.
    pub score: Option<f64>,
    /// Why the finding exists.
    pub evidence: Evidence,
    /// First detection.
    #[serde(with = "time::serde::rfc3339")]
    pub first_detected: OffsetDateTime,
    /// Last scan that still saw it.
    #[serde(with = "time::serde::rfc3339")]
    pub last_seen: OffsetDateTime,
    /// When a scan verified the fix.
    #[serde(with = "time::serde::rfc3339::option")]
    pub fixed_at: Option<OffsetDateTime>,
    /// Why it has its priority: contextual score, derived vector, rule, explanation, due date.
    pub prioritization: Option<Prioritization>,
    /// Dates and durations of its lifecycle across scans.
    pub lifecycle: Lifecycle,
}

/// A finding's lifecycle facts: how often it came back, how long it was exposed, how long it
/// spent in each priority, the triage decision and the attack-path verdict.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Lifecycle {
    /// Times a scan saw it again after it had been fixed (regressions).
    pub reopen_count: u32,
    /// When the vulnerability was published, when the knowledge base knows.
    #[serde(with = "time::serde::rfc3339::option")]
    pub published: Option<OffsetDateTime>,
    /// Seconds from first detection to the fix (to now while it is not fixed).
    pub exposure_seconds: i64,
    /// Seconds from publication to the fix (to now while it is not fixed), when published is known.
    pub exposure_since_publication_seconds: Option<i64>,
    /// Seconds spent in each priority, P1 … P4 (the current one counted up to now).
    pub seconds_in_priority: [i64; 4],
    /// Until when an accepted risk holds; the finding is open again afterwards.
    #[serde(with = "time::serde::rfc3339::option")]
    pub accepted_until: Option<OffsetDateTime>,
    /// The justification of an accepted risk or the reason for a false positive.
    pub triage_reason: Option<String>,
    /// Who made the triage decision.
    pub triaged_by: Option<String>,
    /// `Some(false)`: attack-path analysis found no known path from the internet through it to
    /// an asset of a critical scope; `Some(true)`: it is on one; `None`: not analysed.
    pub on_attack_path: Option<bool>,
}

/// A person's triage decision on a finding.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "decision", rename_all = "snake_case")]
pub enum Triage {
    /// The risk is known and accepted until a date, for a reason.
    AcceptedRisk {
        /// When the acceptance expires (the finding is open again).
        #[serde(with = "time::serde::rfc3339")]
        until: OffsetDateTime,
        /// Why the risk is acceptable.
        justification: String,
    },
    /// The finding does not apply.
    FalsePositive {
        /// Why it does not apply.
        reason: String,
    },
    /// Undo a triage decision: the finding is open again.
    Reopen {
        /// Why.
        #[serde(default)]
        reason: String,
    },
}

/// A finding as detection reports it, before it is stored (and merged with an existing one on
/// the same asset, vulnerability and component).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewFinding {
    /// The affected asset.
    pub asset_id: AssetId,
    /// The vulnerability.
    pub vuln_id: VulnId,
    /// Why the finding exists.
    pub evidence: Evidence,
    /// Priority, when already known.
    pub priority: Option<Priority>,
    /// Contextual score, when already known.
    pub score: Option<f64>,
    /// When detection saw it.
    #[serde(with = "time::serde::rfc3339")]
    pub seen_at: OffsetDateTime,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_statuses() {
        let open: Vec<_> = FindingStatus::ALL.iter().filter(|s| s.is_open()).collect();
        assert_eq!(
            open,
            [
                &FindingStatus::New,
                &FindingStatus::Open,
                &FindingStatus::Reopened
            ]
        );
    }

    #[test]
    fn priority_ranks_round_trip() {
        for p in Priority::ALL {
            assert_eq!(Priority::from_rank(p.rank()), Some(*p));
        }
        assert_eq!(Priority::from_rank(0), None);
        assert_eq!("P2".parse::<Priority>().unwrap(), Priority::P2);
    }
}
