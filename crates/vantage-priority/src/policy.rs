//! Priority policies: ordered rules over the facts of a finding; the first rule whose every
//! condition holds gives the priority, else the policy's default.

use serde::{Deserialize, Serialize};
use vantage_domain::{ExposureClass, Priority, SsvcOutcome};

/// An ordered list of rules and a default priority.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// Rules, tried in order; the first match decides.
    #[serde(default)]
    pub rules: Vec<Rule>,
    /// Priority when no rule matches.
    #[serde(default = "default_priority")]
    pub default: Priority,
    /// Whether the asset's exposure is written into the vector as a Modified Attack Vector
    /// (local-only → MAV:L, isolated → MAV:P) for the scopes using this policy; unset: the
    /// global `priority.exposure_modifies_vector`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub modify_attack_vector: Option<bool>,
}

fn default_priority() -> Priority {
    Priority::P4
}

/// One rule: a name, a priority, and conditions that must all hold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// Short name, shown in explanations (`exploited-exposed`).
    pub name: String,
    /// Priority given when the rule matches.
    pub priority: Priority,
    /// Conditions; an empty set always matches.
    #[serde(default)]
    pub when: Conditions,
}

/// Conditions of a rule. Every condition given must hold.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Conditions {
    /// In CISA KEV (or not).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kev: Option<bool>,
    /// Known use in ransomware campaigns (KEV).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ransomware: Option<bool>,
    /// Subject of a CERT-FR alert (ALE: exploitation in the wild).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certfr_ale: Option<bool>,
    /// Exploited in the wild: KEV, CERT-FR alert, or CISA's SSVC `active`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exploited: Option<bool>,
    /// A public exploit exists (Exploit-DB) or a proof of concept (CISA's SSVC `poc`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_exploit: Option<bool>,
    /// Contextual CVSS score at least this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cvss_min: Option<f64>,
    /// EPSS probability at least this (0–1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epss_min: Option<f64>,
    /// EPSS percentile at least this (0–1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epss_percentile_min: Option<f64>,
    /// The asset's exposure is one of these.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exposure: Option<Vec<ExposureClass>>,
    /// The asset's business criticality at least this (1–5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub criticality_min: Option<u8>,
    /// The vulnerability was published at least this many days ago.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub age_days_min: Option<u32>,
    /// The vulnerability was published at most this many days ago.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub age_days_max: Option<u32>,
    /// The SSVC decision is one of these.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssvc: Option<Vec<SsvcOutcome>>,
}

/// The facts a rule is evaluated against.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RuleInputs {
    /// In KEV.
    pub kev: bool,
    /// KEV says ransomware.
    pub ransomware: bool,
    /// CERT-FR alert.
    pub certfr_ale: bool,
    /// Exploited in the wild.
    pub exploited: bool,
    /// Public exploit or PoC.
    pub public_exploit: bool,
    /// Contextual CVSS score.
    pub cvss: Option<f64>,
    /// EPSS probability.
    pub epss: Option<f64>,
    /// EPSS percentile.
    pub epss_percentile: Option<f64>,
    /// Exposure.
    pub exposure: ExposureClass,
    /// Criticality.
    pub criticality: u8,
    /// Days since publication.
    pub age_days: Option<u32>,
    /// SSVC decision.
    pub ssvc: Option<SsvcOutcome>,
}

impl Conditions {
    /// Whether every condition holds.
    pub fn hold(&self, i: &RuleInputs) -> bool {
        let flag = |want: Option<bool>, have: bool| want.is_none_or(|w| w == have);
        let min = |want: Option<f64>, have: Option<f64>| {
            want.is_none_or(|w| have.is_some_and(|h| h >= w))
        };
        flag(self.kev, i.kev)
            && flag(self.ransomware, i.ransomware)
            && flag(self.certfr_ale, i.certfr_ale)
            && flag(self.exploited, i.exploited)
            && flag(self.public_exploit, i.public_exploit)
            && min(self.cvss_min, i.cvss)
            && min(self.epss_min, i.epss)
            && min(self.epss_percentile_min, i.epss_percentile)
            && self
                .exposure
                .as_ref()
                .is_none_or(|e| e.contains(&i.exposure))
            && self.criticality_min.is_none_or(|c| i.criticality >= c)
            && self
                .age_days_min
                .is_none_or(|d| i.age_days.is_some_and(|a| a >= d))
            && self
                .age_days_max
                .is_none_or(|d| i.age_days.is_some_and(|a| a <= d))
            && self
                .ssvc
                .as_ref()
                .is_none_or(|s| i.ssvc.is_some_and(|o| s.contains(&o)))
    }
}

impl Policy {
    /// The first matching rule, or `None` (the default applies).
    pub fn evaluate(&self, i: &RuleInputs) -> Option<&Rule> {
        self.rules.iter().find(|r| r.when.hold(i))
    }

    /// Checks names and ranges; returns every problem found.
    pub fn validate(&self, name: &str) -> Result<(), String> {
        let mut problems = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for (n, r) in self.rules.iter().enumerate() {
            let at = format!("policy {name:?} rule {} ({:?})", n + 1, r.name);
            if r.name.trim().is_empty() {
                problems.push(format!("policy {name:?} rule {}: empty name", n + 1));
            }
            if !seen.insert(r.name.as_str()) {
                problems.push(format!("{at}: duplicate rule name"));
            }
            let w = &r.when;
            for (field, v) in [
                ("cvss_min", w.cvss_min.map(|v| (v, 10.0))),
                ("epss_min", w.epss_min.map(|v| (v, 1.0))),
                (
                    "epss_percentile_min",
                    w.epss_percentile_min.map(|v| (v, 1.0)),
                ),
            ] {
                if let Some((v, max)) = v
                    && !(0.0..=max).contains(&v)
                {
                    problems.push(format!("{at}: {field} = {v} is outside 0–{max}"));
                }
            }
            if let Some(c) = w.criticality_min
                && !(1..=5).contains(&c)
            {
                problems.push(format!("{at}: criticality_min = {c} is outside 1–5"));
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems.join("; "))
        }
    }

    /// The policy Vantage ships as `default` (documented in docs/PRIORITIZATION.md).
    pub fn builtin_default() -> Policy {
        let rule = |name: &str, priority, when| Rule {
            name: name.into(),
            priority,
            when,
        };
        Policy {
            rules: vec![
                rule(
                    "exploited-exposed",
                    Priority::P1,
                    Conditions {
                        exploited: Some(true),
                        exposure: Some(vec![ExposureClass::Internet]),
                        ..Default::default()
                    },
                ),
                rule(
                    "exploited-critical",
                    Priority::P1,
                    Conditions {
                        exploited: Some(true),
                        cvss_min: Some(9.0),
                        ..Default::default()
                    },
                ),
                rule(
                    "ransomware",
                    Priority::P1,
                    Conditions {
                        ransomware: Some(true),
                        cvss_min: Some(7.0),
                        ..Default::default()
                    },
                ),
                rule(
                    "exploited",
                    Priority::P2,
                    Conditions {
                        exploited: Some(true),
                        ..Default::default()
                    },
                ),
                rule(
                    "likely-exploited-exposed",
                    Priority::P2,
                    Conditions {
                        epss_min: Some(0.1),
                        cvss_min: Some(7.0),
                        exposure: Some(vec![ExposureClass::Internet]),
                        ..Default::default()
                    },
                ),
                rule(
                    "public-exploit-high",
                    Priority::P2,
                    Conditions {
                        public_exploit: Some(true),
                        cvss_min: Some(7.0),
                        ..Default::default()
                    },
                ),
                rule(
                    "critical",
                    Priority::P2,
                    Conditions {
                        cvss_min: Some(9.0),
                        ..Default::default()
                    },
                ),
                rule(
                    "likely-exploited",
                    Priority::P3,
                    Conditions {
                        epss_percentile_min: Some(0.9),
                        ..Default::default()
                    },
                ),
                rule(
                    "high",
                    Priority::P3,
                    Conditions {
                        cvss_min: Some(7.0),
                        ..Default::default()
                    },
                ),
            ],
            default: Priority::P4,
            modify_attack_vector: None,
        }
    }
}
