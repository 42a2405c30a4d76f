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
        /// Detected and not fixed.
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
    /// Whether the finding still counts as exposure (open or reopened).
    pub const fn is_open(self) -> bool {
        matches!(self, FindingStatus::Open | FindingStatus::Reopened)
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
        assert_eq!(open, [&FindingStatus::Open, &FindingStatus::Reopened]);
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
