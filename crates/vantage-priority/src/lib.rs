//! Prioritization: from what is known about a vulnerability ([`Facts`]) and where it sits (the
//! asset's [`Context`]: exposure, CIA requirements, criticality, its scopes' policies), compute
//!
//! 1. the **contextual CVSS score** — the vulnerability's best vector with the context written
//!    into it (threat → Exploit Maturity, CIA → CR/IR/AR, exposure → Modified Attack Vector),
//!    scored exactly (CVSS-BTE for v4.0); the derived vector is kept so a person can check it;
//! 2. the **SSVC** decision of CISA's tree;
//! 3. the **priority** P1…P4 from each scope's policy (ordered rules) and/or SSVC, the strictest
//!    scope winning;
//! 4. the **explanation**: the facts and the rule that decided, in one sentence.
//!
//! Everything here is pure: the store gathers the facts, the app runs this and stores the result.
#![forbid(unsafe_code)]

pub mod policy;
pub mod ssvc;

use std::collections::BTreeMap;
use std::fmt::Write;

use serde::{Deserialize, Serialize};
use time::Date;
use vantage_cvss::{Cvss, Version};
use vantage_domain::{
    CiaRequirements, CvssVector, ExposureClass, Priority, PriorityModel, PriorityResult,
    Requirement, SlaPolicy, SsvcDecision,
};

pub use policy::{Conditions, Policy, Rule, RuleInputs};
use ssvc::{Exploitation, MissionImpact, SsvcInputs, TechnicalImpact};

/// What the knowledge base says about one vulnerability (its CVE aliases merged in).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Facts {
    /// CVSS vectors from every source.
    pub vectors: Vec<CvssVector>,
    /// Latest EPSS probability, percentile and day.
    pub epss: Option<(f64, f64, Date)>,
    /// CISA KEV: date added and known ransomware use.
    pub kev: Option<(Date, bool)>,
    /// CERT-FR alert ids.
    pub certfr_alerts: Vec<String>,
    /// Public exploits (source and id, e.g. `exploit-db`, `12345`).
    pub exploits: Vec<(String, String)>,
    /// CISA's SSVC decision points (Vulnrichment).
    pub vulnrichment: Option<SsvcDecision>,
    /// Publication date.
    pub published: Option<Date>,
}

impl Facts {
    /// Exploited in the wild: KEV, a CERT-FR alert, or Vulnrichment `active`.
    pub fn exploited(&self) -> bool {
        self.kev.is_some()
            || !self.certfr_alerts.is_empty()
            || self.vulnrichment_says("exploitation", "active")
    }

    /// A public exploit or a proof of concept is known.
    pub fn public_exploit(&self) -> bool {
        !self.exploits.is_empty() || self.vulnrichment_says("exploitation", "poc")
    }

    fn vulnrichment_says(&self, point: &str, value: &str) -> bool {
        self.vulnrichment.as_ref().is_some_and(|d| {
            let v = match point {
                "exploitation" => &d.exploitation,
                "automatable" => &d.automatable,
                _ => &d.technical_impact,
            };
            v.as_deref().is_some_and(|v| v.eq_ignore_ascii_case(value))
        })
    }
}

/// One scope's say in the asset's context.
#[derive(Debug, Clone, PartialEq)]
pub struct ScopeContext {
    /// Scope name.
    pub name: String,
    /// Exposure.
    pub exposure: ExposureClass,
    /// CIA requirements.
    pub cia: CiaRequirements,
    /// Business criticality 1–5.
    pub criticality: u8,
    /// SLA.
    pub sla: SlaPolicy,
    /// Name of its priority policy.
    pub policy: String,
    /// Its model.
    pub model: PriorityModel,
}

/// Where the asset sits: the scopes it belongs to (none: the defaults apply).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Context {
    /// Scopes of the asset.
    pub scopes: Vec<ScopeContext>,
}

/// How prioritization is configured (`[priority]` in vantage.toml).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// Preference order of CVSS versions for the source vector.
    pub cvss_versions: Vec<String>,
    /// Prefer the primary source's vector (NVD, or the CNA when NVD has none) over secondary
    /// sources of the same version.
    pub prefer_primary: bool,
    /// Write the asset's exposure into the vector: a local-only asset's network/adjacent attack
    /// vector becomes local, an isolated asset's becomes physical.
    pub exposure_modifies_vector: bool,
    /// Policy and model of assets in no scope.
    pub default_policy: String,
    /// Model of assets in no scope.
    pub default_model: PriorityModel,
    /// Named policies. `default` is built in and may be overridden.
    pub policies: BTreeMap<String, Policy>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            cvss_versions: ["4.0", "3.1", "3.0", "2.0"].map(String::from).to_vec(),
            prefer_primary: true,
            exposure_modifies_vector: true,
            default_policy: "default".into(),
            default_model: PriorityModel::Cvss,
            policies: BTreeMap::new(),
        }
    }
}

impl Settings {
    /// The policy of a name: configured, else the built-in `default`.
    pub fn policy(&self, name: &str) -> Option<Policy> {
        match self.policies.get(name) {
            Some(p) => Some(p.clone()),
            None if name == "default" => Some(Policy::builtin_default()),
            None => None,
        }
    }

    /// Checks versions and policies.
    pub fn validate(&self) -> Result<(), String> {
        for v in &self.cvss_versions {
            v.parse::<Version>()
                .map_err(|e| format!("priority.cvss_versions: {e}"))?;
        }
        for (name, p) in &self.policies {
            p.validate(name)?;
        }
        if self.policy(&self.default_policy).is_none() {
            return Err(format!(
                "priority.default_policy = {:?} names no policy",
                self.default_policy
            ));
        }
        Ok(())
    }

    fn versions(&self) -> Vec<Version> {
        self.cvss_versions
            .iter()
            .filter_map(|v| v.parse().ok())
            .collect()
    }
}

/// The result for one vulnerability in one context (the domain's [`PriorityResult`]).
pub type Outcome = PriorityResult;

/// The vector scores start from: the first parseable vector in the configured version order,
/// primary source first (then by source name, for a stable choice).
pub fn best_vector<'a>(
    vectors: &'a [CvssVector],
    settings: &Settings,
) -> Option<(&'a CvssVector, Cvss)> {
    let order = settings.versions();
    let mut candidates: Vec<(usize, bool, &str, &CvssVector, Cvss)> = vectors
        .iter()
        .filter_map(|v| {
            let parsed = Cvss::parse(&v.vector).ok()?;
            let rank = order.iter().position(|o| *o == parsed.version())?;
            Some((
                rank,
                !(settings.prefer_primary && v.primary),
                v.source.as_str(),
                v,
                parsed,
            ))
        })
        .collect();
    candidates.sort_by(|a, b| (a.0, a.1, a.2).cmp(&(b.0, b.1, b.2)));
    candidates.into_iter().next().map(|(_, _, _, v, c)| (v, c))
}

/// The strictest requirements of the asset's scopes, and which scope imposed each.
struct Effective<'a> {
    exposure: (ExposureClass, Option<&'a str>),
    /// None for an asset in no scope: nothing is known, the vector's defaults stay.
    cia: Option<CiaRequirements>,
    criticality: (u8, Option<&'a str>),
    sla: SlaPolicy,
}

fn exposure_rank(e: ExposureClass) -> u8 {
    match e {
        ExposureClass::Internet => 3,
        ExposureClass::Internal => 2,
        ExposureClass::LocalOnly => 1,
        ExposureClass::Isolated => 0,
    }
}

fn effective(ctx: &Context) -> Effective<'_> {
    let mut e = Effective {
        exposure: (ExposureClass::Internal, None),
        cia: None,
        criticality: (3, None),
        sla: SlaPolicy::default(),
    };
    for (n, s) in ctx.scopes.iter().enumerate() {
        let name = Some(s.name.as_str());
        if n == 0 || exposure_rank(s.exposure) > exposure_rank(e.exposure.0) {
            e.exposure = (s.exposure, name);
        }
        let Some(cia) = e.cia.as_mut() else {
            e.cia = Some(s.cia);
            e.criticality = (s.criticality, name);
            e.sla = s.sla;
            continue;
        };
        cia.confidentiality = cia.confidentiality.max(s.cia.confidentiality);
        cia.integrity = cia.integrity.max(s.cia.integrity);
        cia.availability = cia.availability.max(s.cia.availability);
        if s.criticality > e.criticality.0 {
            e.criticality = (s.criticality, name);
        }
        e.sla = SlaPolicy {
            p1_days: e.sla.p1_days.min(s.sla.p1_days),
            p2_days: e.sla.p2_days.min(s.sla.p2_days),
            p3_days: e.sla.p3_days.min(s.sla.p3_days),
            p4_days: e.sla.p4_days.min(s.sla.p4_days),
        };
    }
    e
}

fn requirement_letter(r: Requirement) -> &'static str {
    match r {
        Requirement::Low => "L",
        Requirement::Medium => "M",
        Requirement::High => "H",
    }
}

/// Writes the context into a vector: exploit maturity, the security requirements (when the
/// asset's scopes state them) and (when `modify_attack_vector` and the version has it) the
/// modified attack vector.
pub fn derive_vector(
    source: &Cvss,
    facts: &Facts,
    cia: Option<CiaRequirements>,
    exposure: ExposureClass,
    modify_attack_vector: bool,
) -> Cvss {
    let mut v = *source;
    let exploited = facts.exploited();
    let functional = !facts.exploits.is_empty();
    let poc = facts.public_exploit();
    let e = match (v.version(), exploited, functional, poc) {
        (Version::V4_0, true, _, _) => "A",
        (Version::V4_0, _, _, true) => "P",
        (Version::V4_0, ..) => "U",
        (_, true, _, _) => "H",
        (_, _, true, _) => "F",
        (Version::V2_0, _, _, true) => "POC",
        (_, _, _, true) => "P",
        _ => "U",
    };
    // The values are valid for every version by construction.
    let _ = v.set("E", e);
    if let Some(cia) = cia {
        let _ = v.set("CR", requirement_letter(cia.confidentiality));
        let _ = v.set("IR", requirement_letter(cia.integrity));
        let _ = v.set("AR", requirement_letter(cia.availability));
    }
    if modify_attack_vector && v.version() != Version::V2_0 {
        let av = v
            .get("MAV")
            .filter(|m| *m != "X")
            .or(v.get("AV"))
            .unwrap_or("N");
        let modified = match exposure {
            ExposureClass::LocalOnly if matches!(av, "N" | "A") => Some("L"),
            ExposureClass::Isolated if av != "P" => Some("P"),
            _ => None,
        };
        if let Some(m) = modified {
            let _ = v.set("MAV", m);
        }
    }
    v
}

/// SSVC inputs: Vulnrichment's decision points where CISA gave them, else derived from the
/// vector; exposure "small" (local-only, isolated) makes exploitation not automatable against
/// the asset; mission & well-being impact is the higher of what the criticality says (1–2 low,
/// 3 medium, 4–5 high) and what the scopes' CIA requirements say (all low → low, any high →
/// high, else medium; nothing when the asset is in no scope).
pub fn ssvc_inputs(
    facts: &Facts,
    vector: Option<&Cvss>,
    exposure: ExposureClass,
    criticality: u8,
    cia: Option<CiaRequirements>,
) -> SsvcInputs {
    let exploitation = if facts.exploited() {
        Exploitation::Active
    } else if facts.public_exploit() {
        Exploitation::Poc
    } else {
        Exploitation::None
    };
    let from_vector_automatable = vector.is_some_and(|v| {
        let is = |m: &str, val: &str| v.get(m) == Some(val);
        match v.version() {
            Version::V2_0 => is("AV", "N") && is("AC", "L") && is("Au", "N"),
            Version::V4_0 => {
                is("AV", "N") && is("AC", "L") && is("AT", "N") && is("PR", "N") && is("UI", "N")
            }
            _ => is("AV", "N") && is("AC", "L") && is("PR", "N") && is("UI", "N"),
        }
    });
    let automatable = match facts
        .vulnrichment
        .as_ref()
        .and_then(|d| d.automatable.as_deref())
    {
        Some(a) => a.eq_ignore_ascii_case("yes"),
        None => from_vector_automatable,
    } && !matches!(exposure, ExposureClass::LocalOnly | ExposureClass::Isolated);
    let total_from_vector = vector.is_some_and(|v| {
        let (c, i, high) = match v.version() {
            Version::V2_0 => ("C", "I", "C"),
            Version::V4_0 => ("VC", "VI", "H"),
            _ => ("C", "I", "H"),
        };
        v.get(c) == Some(high) && v.get(i) == Some(high)
    });
    let technical_impact = match facts
        .vulnrichment
        .as_ref()
        .and_then(|d| d.technical_impact.as_deref())
    {
        Some(t) if t.eq_ignore_ascii_case("total") => TechnicalImpact::Total,
        Some(_) => TechnicalImpact::Partial,
        None if total_from_vector => TechnicalImpact::Total,
        None => TechnicalImpact::Partial,
    };
    let by_criticality = match criticality {
        0..=2 => MissionImpact::Low,
        3 => MissionImpact::Medium,
        _ => MissionImpact::High,
    };
    let by_cia = cia.map(|c| {
        let levels = [c.confidentiality, c.integrity, c.availability];
        if levels.contains(&Requirement::High) {
            MissionImpact::High
        } else if levels.iter().all(|l| *l == Requirement::Low) {
            MissionImpact::Low
        } else {
            MissionImpact::Medium
        }
    });
    let mission = by_cia.map_or(by_criticality, |c| c.max(by_criticality));
    SsvcInputs {
        exploitation,
        automatable,
        technical_impact,
        mission,
    }
}

fn epss_text(score: f64) -> String {
    if score >= 0.01 {
        format!("EPSS {score:.2}")
    } else {
        "EPSS < 0.01".to_string()
    }
}

fn exposure_text(e: ExposureClass) -> &'static str {
    match e {
        ExposureClass::Internet => "internet-exposed",
        ExposureClass::Internal => "internal",
        ExposureClass::LocalOnly => "local-only",
        ExposureClass::Isolated => "isolated",
    }
}

/// A candidate decision: priority, `policy/rule`, the rule's conditions, the deciding scope, and
/// whether SSVC decided.
type Decision<'a> = (Priority, String, Option<Conditions>, Option<&'a str>, bool);

/// Prioritizes one vulnerability in one context. `today` dates the vulnerability's age.
pub fn prioritize(facts: &Facts, ctx: &Context, settings: &Settings, today: Date) -> Outcome {
    let eff = effective(ctx);
    let (exposure, exposure_scope) = eff.exposure;
    let (criticality, criticality_scope) = eff.criticality;
    let best = best_vector(&facts.vectors, settings);
    // The policy of the scope that imposed the exposure decides whether it modifies the vector.
    let exposure_policy = match exposure_scope {
        Some(name) => ctx
            .scopes
            .iter()
            .find(|s| s.name == name)
            .map(|s| s.policy.as_str()),
        None => Some(settings.default_policy.as_str()),
    };
    let modify_av = exposure_policy
        .and_then(|p| settings.policy(p))
        .and_then(|p| p.modify_attack_vector)
        .unwrap_or(settings.exposure_modifies_vector);
    let derived = best
        .as_ref()
        .map(|(_, c)| derive_vector(c, facts, eff.cia, exposure, modify_av));
    let score = derived.as_ref().map(Cvss::score);
    let ssvc_in = ssvc_inputs(
        facts,
        best.as_ref().map(|(_, c)| c),
        exposure,
        criticality,
        eff.cia,
    );
    let ssvc = ssvc::decide(ssvc_in);
    let inputs = RuleInputs {
        kev: facts.kev.is_some(),
        ransomware: facts.kev.is_some_and(|k| k.1),
        certfr_ale: !facts.certfr_alerts.is_empty(),
        exploited: facts.exploited(),
        public_exploit: facts.public_exploit(),
        cvss: score,
        epss: facts.epss.map(|e| e.0),
        epss_percentile: facts.epss.map(|e| e.1),
        exposure,
        criticality,
        age_days: facts
            .published
            .map(|p| (today - p).whole_days().max(0) as u32),
        ssvc: Some(ssvc),
    };

    // Each scope decides with its policy and model; the highest priority wins (first on ties).
    let default_scope = ScopeContext {
        name: String::new(),
        exposure,
        cia: eff.cia.unwrap_or_default(),
        criticality,
        sla: eff.sla,
        policy: settings.default_policy.clone(),
        model: settings.default_model,
    };
    let deciders: Vec<&ScopeContext> = if ctx.scopes.is_empty() {
        vec![&default_scope]
    } else {
        ctx.scopes.iter().collect()
    };
    let mut decision: Option<Decision<'_>> = None;
    let mut used_ssvc = false;
    for s in deciders {
        let scope_name = (!s.name.is_empty()).then_some(s.name.as_str());
        let mut candidates = Vec::new();
        if s.model != PriorityModel::Ssvc {
            let policy = settings
                .policy(&s.policy)
                .unwrap_or_else(Policy::builtin_default);
            match policy.evaluate(&inputs) {
                Some(r) => candidates.push((
                    r.priority,
                    format!("{}/{}", s.policy, r.name),
                    Some(r.when.clone()),
                    false,
                )),
                None => {
                    candidates.push((policy.default, format!("{}/default", s.policy), None, false))
                }
            }
        }
        if s.model != PriorityModel::Cvss {
            used_ssvc = true;
            candidates.push((ssvc.priority(), "ssvc".to_string(), None, true));
        }
        for (p, rule, when, is_ssvc) in candidates {
            if decision.as_ref().is_none_or(|d| p < d.0) {
                decision = Some((p, rule, when, scope_name, is_ssvc));
            }
        }
    }
    let (priority, rule, when, decided_by, by_ssvc) =
        decision.unwrap_or((Priority::P4, "default".into(), None, None, false));
    let sla_days = eff.sla.days(priority);

    // The sentence: facts (annotated with the thresholds the rule tested), then the decision.
    let when = when.unwrap_or_default();
    let mut facts_text: Vec<String> = Vec::new();
    if let Some((added, ransomware)) = facts.kev {
        facts_text.push(format!(
            "in CISA KEV since {added}{}",
            if ransomware { " (ransomware)" } else { "" }
        ));
    }
    if let Some(first) = facts.certfr_alerts.first() {
        facts_text.push(format!("CERT-FR alert {first}"));
    } else if !facts.exploited() && facts.vulnrichment_says("exploitation", "active") {
        facts_text.push("exploited per CISA".into());
    }
    match facts.exploits.as_slice() {
        [] if facts.vulnrichment_says("exploitation", "poc") => {
            facts_text.push("public PoC per CISA".into())
        }
        [] => {}
        [(source, id)] => facts_text.push(format!("public exploit ({source} {id})")),
        many => facts_text.push(format!("{} public exploits", many.len())),
    }
    if let Some((score, pct, _)) = facts.epss {
        let mut t = epss_text(score);
        if let Some(min) = when.epss_min {
            let _ = write!(t, " ≥ {min}");
        }
        let _ = write!(t, " ({:.1}th pct", pct * 100.0);
        if let Some(min) = when.epss_percentile_min {
            let _ = write!(t, " ≥ {:.0}th", min * 100.0);
        }
        t.push(')');
        facts_text.push(t);
    }
    let mut exposure_fact = exposure_text(exposure).to_string();
    let differ =
        |f: &dyn Fn(&ScopeContext) -> u8| ctx.scopes.windows(2).any(|w| f(&w[0]) != f(&w[1]));
    if let Some(s) = exposure_scope.filter(|_| differ(&|s| exposure_rank(s.exposure))) {
        let _ = write!(exposure_fact, " (scope {s})");
    }
    facts_text.push(exposure_fact);
    if criticality != 3 {
        let mut c = format!("criticality {criticality}");
        if let Some(s) = criticality_scope.filter(|_| differ(&|s| s.criticality)) {
            let _ = write!(c, " (scope {s})");
        }
        facts_text.push(c);
    }
    match (&derived, score) {
        (Some(d), Some(s)) => {
            let label = match d.nomenclature() {
                Some(n) => n.as_str().to_string(),
                None => format!("CVSSv{}", d.version()),
            };
            let mut t = format!("{label} {s:.1}");
            if let Some(min) = when.cvss_min {
                let _ = write!(t, " ≥ {min:.1}");
            }
            if let Some((_, src)) = &best {
                let base = src.base_score();
                if (base - s).abs() > f64::EPSILON {
                    let _ = write!(t, " (base {base:.1})");
                }
            }
            facts_text.push(t);
        }
        _ => facts_text.push("no CVSS vector".into()),
    }
    if used_ssvc {
        facts_text.push(format!("SSVC {}", ssvc.label()));
    }
    let mut explanation = facts_text.join(", ");
    let _ = write!(explanation, " → {}", priority.as_str().to_ascii_uppercase());
    if by_ssvc {
        explanation.push_str(" by SSVC");
    } else if rule.ends_with("/default") {
        explanation.push_str(" (no rule matched)");
    } else {
        let _ = write!(
            explanation,
            " by rule {}",
            rule.rsplit('/').next().unwrap_or(&rule)
        );
    }
    let policies_differ = ctx
        .scopes
        .windows(2)
        .any(|w| (&w[0].policy, w[0].model) != (&w[1].policy, w[1].model));
    if let Some(s) = decided_by.filter(|_| policies_differ) {
        let _ = write!(explanation, " of scope {s}");
    }
    let _ = write!(explanation, ", due in {sla_days} days");

    PriorityResult {
        priority,
        score,
        base_score: best.as_ref().map(|(_, c)| c.base_score()),
        source_vector: best.as_ref().map(|(v, _)| v.vector.clone()),
        vector_source: best.as_ref().map(|(v, _)| v.source.clone()),
        derived_vector: derived.map(|d| d.to_string()),
        ssvc: used_ssvc.then_some(ssvc),
        rule,
        explanation,
        sla_days,
    }
}

#[cfg(test)]
mod tests;
