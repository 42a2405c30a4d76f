//! Scopes: the groups (Production, DMZ, Test …) that decide what matters, how often it is
//! scanned, and who may see it.

use serde::{Deserialize, Serialize};

use crate::asset::{AssetKind, Tag};
use crate::error::ParseError;
use crate::finding::Priority;
use crate::ids::ScopeId;
use crate::macros::name_enum;
use crate::priority::PriorityModel;

name_enum! {
    /// How reachable the scope's assets are; decides how network attack vectors are weighed.
    pub enum ExposureClass ("exposure class") {
        /// Reachable from the internet.
        Internet = "internet",
        /// Reachable from the internal network.
        Internal = "internal",
        /// Reachable only from the machine itself.
        LocalOnly = "local_only",
        /// Not reachable over any network.
        Isolated = "isolated",
    }
}

name_enum! {
    /// A CVSS security requirement level.
    pub enum Requirement ("requirement") {
        /// Low.
        Low = "low",
        /// Medium (the CVSS default).
        Medium = "medium",
        /// High.
        High = "high",
    }
}

/// Confidentiality, Integrity and Availability requirements of a scope's assets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CiaRequirements {
    /// Confidentiality requirement.
    pub confidentiality: Requirement,
    /// Integrity requirement.
    pub integrity: Requirement,
    /// Availability requirement.
    pub availability: Requirement,
}

impl Default for CiaRequirements {
    fn default() -> Self {
        Self {
            confidentiality: Requirement::Medium,
            integrity: Requirement::Medium,
            availability: Requirement::Medium,
        }
    }
}

/// A rule that makes an asset a member of a scope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum MembershipRule {
    /// Assets with an IP address in this CIDR block or range.
    IpRange(String),
    /// Assets whose FQDN is this domain or below it.
    Domain(String),
    /// Cloud instances of this account (`aws:123456789012`, optionally `/region`).
    CloudAccount(String),
    /// Assets carrying this tag.
    Tag(Tag),
    /// Assets of this kind.
    Kind(AssetKind),
    /// One asset, by name.
    Asset(String),
}

/// How often a scope is scanned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(try_from = "String", into = "String")]
pub enum ScanFrequency {
    /// Only when asked.
    Manual,
    /// Every hour.
    Hourly,
    /// Every day.
    Daily,
    /// Every week.
    Weekly,
    /// A cron expression (five or six fields).
    Cron(String),
}

impl std::str::FromStr for ScanFrequency {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        Ok(match t.to_ascii_lowercase().as_str() {
            "manual" => ScanFrequency::Manual,
            "hourly" => ScanFrequency::Hourly,
            "daily" => ScanFrequency::Daily,
            "weekly" => ScanFrequency::Weekly,
            _ => {
                let fields = t.split_whitespace().count();
                if !(5..=6).contains(&fields) {
                    return Err(ParseError::invalid(
                        "scan frequency",
                        s,
                        "expected manual, hourly, daily, weekly or a cron expression of 5 or 6 fields",
                    ));
                }
                ScanFrequency::Cron(t.to_string())
            }
        })
    }
}

impl TryFrom<String> for ScanFrequency {
    type Error = ParseError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<ScanFrequency> for String {
    fn from(f: ScanFrequency) -> String {
        f.to_string()
    }
}

impl std::fmt::Display for ScanFrequency {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ScanFrequency::Manual => "manual",
            ScanFrequency::Hourly => "hourly",
            ScanFrequency::Daily => "daily",
            ScanFrequency::Weekly => "weekly",
            ScanFrequency::Cron(c) => c,
        })
    }
}

/// When a scope raises alerts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Thresholds {
    /// Alert on a new finding of this priority or higher.
    pub alert_on_priority: Option<Priority>,
    /// Alert when scan coverage falls below this fraction (0–1).
    pub min_coverage: Option<f64>,
}

/// Days allowed to remediate a finding, per priority.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SlaPolicy {
    /// Days for P1.
    pub p1_days: u32,
    /// Days for P2.
    pub p2_days: u32,
    /// Days for P3.
    pub p3_days: u32,
    /// Days for P4.
    pub p4_days: u32,
}

impl SlaPolicy {
    /// Days allowed for a priority.
    pub const fn days(&self, p: Priority) -> u32 {
        match p {
            Priority::P1 => self.p1_days,
            Priority::P2 => self.p2_days,
            Priority::P3 => self.p3_days,
            Priority::P4 => self.p4_days,
        }
    }
}

impl Default for SlaPolicy {
    fn default() -> Self {
        Self {
            p1_days: 7,
            p2_days: 30,
            p3_days: 90,
            p4_days: 180,
        }
    }
}

/// A collector a scope's schedule runs, with its settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Collector {
    /// Network discovery and fingerprinting of the scope's IP ranges.
    Network {
        /// nmap-style port list; the configured top ports when absent.
        #[serde(default)]
        ports: Option<String>,
        /// Identify services (banner and probe matching).
        #[serde(default = "yes")]
        service_detection: bool,
    },
    /// Agentless SSH inventory of the scope's SSH targets (`scopes add-ssh-target`).
    Ssh {
        /// Targets inventoried at once.
        #[serde(default)]
        concurrency: Option<usize>,
    },
    /// Container images, by reference (registry pulls).
    Images {
        /// Image references (`registry/repo:tag` or `@sha256:…`).
        references: Vec<String>,
    },
    /// A cloud inventory: the same request `vantage discover aws|azure|gcp|openstack` records
    /// (`{"provider": "aws", "regions": […], …}`).
    Cloud {
        /// The discovery request.
        request: serde_json::Value,
    },
    /// External attack surface of the scope's domains (DNS, CT logs, RDAP).
    External {
        /// Discovery options (`vantage discover domain` settings); the scope's domain rules are
        /// the roots.
        #[serde(default)]
        options: serde_json::Value,
    },
}

const fn yes() -> bool {
    true
}

impl Collector {
    /// The collector's name: network, ssh, images, cloud or external.
    pub const fn name(&self) -> &'static str {
        match self {
            Collector::Network { .. } => "network",
            Collector::Ssh { .. } => "ssh",
            Collector::Images { .. } => "images",
            Collector::Cloud { .. } => "cloud",
            Collector::External { .. } => "external",
        }
    }
}

/// Who sees a scope and acts on it, besides administrators and users who see every scope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ScopeAccess {
    /// Users (login names) who see the scope.
    #[serde(default)]
    pub users: Vec<String>,
    /// Roles whose members see the scope.
    #[serde(default)]
    pub roles: Vec<crate::user::Role>,
}

/// A scope as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Scope {
    /// Stored id.
    pub id: ScopeId,
    /// Unique name.
    pub name: String,
    /// What the scope is for.
    pub description: String,
    /// Membership rules; an asset matching any rule is a member.
    pub rules: Vec<MembershipRule>,
    /// How reachable its assets are.
    pub exposure: ExposureClass,
    /// CIA requirements of its assets.
    pub cia: CiaRequirements,
    /// Business criticality, 1 (low) to 5 (vital).
    pub criticality: u8,
    /// Scan frequency.
    pub frequency: ScanFrequency,
    /// Alert thresholds.
    pub thresholds: Thresholds,
    /// Remediation deadlines.
    pub sla: SlaPolicy,
    /// Name of the priority policy (`[priority.policies.NAME]`; `default` is built in).
    pub priority_policy: String,
    /// Whether priorities come from the policy, from SSVC, or the higher of both.
    pub priority_model: PriorityModel,
    /// Consecutive network scans of the scope that must miss an asset before it is
    /// decommissioned (kept for history, out of the live inventory).
    pub decommission_after: u32,
    /// What the schedule runs at each due time.
    #[serde(default)]
    pub collectors: Vec<Collector>,
    /// Who sees the scope.
    #[serde(default)]
    pub access: ScopeAccess,
    /// When the schedule runs its collectors next (none: manual, or not yet planned).
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub next_run_at: Option<time::OffsetDateTime>,
    /// When the schedule last queued its collectors.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub last_run_at: Option<time::OffsetDateTime>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frequencies_parse() {
        assert_eq!(
            "Daily".parse::<ScanFrequency>().unwrap(),
            ScanFrequency::Daily
        );
        assert_eq!(
            "0 3 * * 1".parse::<ScanFrequency>().unwrap(),
            ScanFrequency::Cron("0 3 * * 1".into())
        );
        assert!("every day".parse::<ScanFrequency>().is_err());
    }

    #[test]
    fn membership_rules_serialize_tagged() {
        let r = MembershipRule::IpRange("127.0.0.0/8".into());
        assert_eq!(
            serde_json::to_string(&r).unwrap(),
            r#"{"kind":"ip_range","value":"127.0.0.0/8"}"#
        );
    }
}
