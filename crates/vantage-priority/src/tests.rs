//! Table-driven decisions, explanations included.

use super::*;
use time::macros::date;
use vantage_domain::{CvssVersion, SsvcOutcome};

const TODAY: Date = date!(2026 - 11 - 27);

fn vector(source: &str, primary: bool, v: &str) -> CvssVector {
    let version = match &v[..8] {
        "CVSS:4.0" => CvssVersion::V40,
        "CVSS:3.1" => CvssVersion::V31,
        "CVSS:3.0" => CvssVersion::V30,
        _ => CvssVersion::V2,
    };
    CvssVector {
        source: source.into(),
        primary,
        version,
        vector: v.into(),
        base_score: None,
    }
}

const V31_CRIT: &str = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H";
const V40_CRIT: &str = "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N";
const V31_MEDIUM: &str = "CVSS:3.1/AV:L/AC:H/PR:L/UI:R/S:U/C:L/I:L/A:N";

fn scope(name: &str, exposure: ExposureClass, criticality: u8) -> ScopeContext {
    ScopeContext {
        name: name.into(),
        exposure,
        cia: CiaRequirements::default(),
        criticality,
        sla: SlaPolicy::default(),
        policy: "default".into(),
        model: PriorityModel::Cvss,
    }
}

fn kev_facts() -> Facts {
    Facts {
        vectors: vec![
            vector("nvd@nist.gov", true, V31_CRIT),
            vector("cna", false, V40_CRIT),
        ],
        epss: Some((0.94, 0.998, date!(2026 - 11 - 26))),
        kev: Some((date!(2024 - 05 - 02), true)),
        published: Some(date!(2024 - 04 - 20)),
        ..Default::default()
    }
}

#[test]
fn best_vector_prefers_v4_then_primary() {
    let s = Settings::default();
    let f = kev_facts();
    let (v, _) = best_vector(&f.vectors, &s).unwrap();
    assert_eq!(v.vector, V40_CRIT);
    let only_v3 = [
        vector("cna", false, V31_MEDIUM),
        vector("nvd@nist.gov", true, V31_CRIT),
    ];
    assert_eq!(best_vector(&only_v3, &s).unwrap().0.source, "nvd@nist.gov");
    let s = Settings {
        cvss_versions: vec!["3.1".into()],
        ..Settings::default()
    };
    assert_eq!(best_vector(&f.vectors, &s).unwrap().0.vector, V31_CRIT);
    let broken = [vector("x", true, "CVSS:3.1/AV:N")];
    assert!(best_vector(&broken, &Settings::default()).is_none());
}

#[test]
fn derived_vectors_carry_threat_requirements_and_exposure() {
    let high = CiaRequirements {
        confidentiality: Requirement::High,
        integrity: Requirement::Medium,
        availability: Requirement::Low,
    };
    let v4: Cvss = V40_CRIT.parse().unwrap();
    let d = derive_vector(&v4, &kev_facts(), Some(high), ExposureClass::Internet, true);
    assert_eq!(d.to_string(), format!("{V40_CRIT}/E:A/CR:H/IR:M/AR:L"));
    let d = derive_vector(
        &v4,
        &Facts::default(),
        Some(high),
        ExposureClass::LocalOnly,
        true,
    );
    assert_eq!(
        d.to_string(),
        format!("{V40_CRIT}/E:U/CR:H/IR:M/AR:L/MAV:L")
    );
    let poc = Facts {
        exploits: vec![("exploit-db".into(), "1".into())],
        ..Default::default()
    };
    let v3: Cvss = V31_CRIT.parse().unwrap();
    let d = derive_vector(
        &v3,
        &poc,
        Some(CiaRequirements::default()),
        ExposureClass::Isolated,
        true,
    );
    assert_eq!(
        d.to_string(),
        format!("{V31_CRIT}/E:F/CR:M/IR:M/AR:M/MAV:P")
    );
    let v2: Cvss = "AV:N/AC:L/Au:N/C:P/I:P/A:P".parse().unwrap();
    let d = derive_vector(&v2, &Facts::default(), None, ExposureClass::Isolated, true);
    assert_eq!(d.to_string(), "AV:N/AC:L/Au:N/C:P/I:P/A:P/E:U");
    let d = derive_vector(
        &v4,
        &Facts::default(),
        Some(high),
        ExposureClass::Isolated,
        false,
    );
    assert_eq!(d.get("MAV"), None);
}

struct Case {
    name: &'static str,
    facts: Facts,
    scopes: Vec<ScopeContext>,
    priority: Priority,
    rule: &'static str,
    explanation: &'static str,
}

#[test]
fn default_policy_decisions_and_explanations() {
    let dmz = scope("DMZ", ExposureClass::Internet, 3);
    let lab = scope("Lab", ExposureClass::Isolated, 2);
    let cases = [
        Case {
            name: "KEV on an internet-exposed asset",
            facts: kev_facts(),
            scopes: vec![dmz.clone()],
            priority: Priority::P1,
            rule: "default/exploited-exposed",
            explanation: "in CISA KEV since 2024-05-02 (ransomware), EPSS 0.94 (99.8th pct), internet-exposed, CVSS-BTE 9.0 (base 9.3) → P1 by rule exploited-exposed, due in 7 days",
        },
        Case {
            name: "KEV on an isolated asset: exploited but not reachable",
            facts: kev_facts(),
            scopes: vec![lab.clone()],
            priority: Priority::P2,
            rule: "default/exploited",
            explanation: "in CISA KEV since 2024-05-02 (ransomware), EPSS 0.94 (99.8th pct), isolated, criticality 2, CVSS-BTE 5.4 (base 9.3) → P2 by rule exploited, due in 30 days",
        },
        Case {
            name: "critical, nothing known about exploitation",
            facts: Facts {
                vectors: vec![vector("nvd@nist.gov", true, V31_CRIT)],
                ..Default::default()
            },
            scopes: vec![],
            priority: Priority::P2,
            rule: "default/critical",
            explanation: "internal, CVSSv3.1 9.0 ≥ 9.0 (base 9.8) → P2 by rule critical, due in 30 days",
        },
        Case {
            name: "medium with a likely EPSS",
            facts: Facts {
                vectors: vec![vector("nvd@nist.gov", true, V31_MEDIUM)],
                epss: Some((0.004, 0.93, date!(2026 - 11 - 26))),
                ..Default::default()
            },
            scopes: vec![],
            priority: Priority::P3,
            rule: "default/likely-exploited",
            explanation: "EPSS < 0.01 (93.0th pct ≥ 90th), internal, CVSSv3.1 3.1 (base 3.3) → P3 by rule likely-exploited, due in 90 days",
        },
        Case {
            name: "no vector, no threat",
            facts: Facts::default(),
            scopes: vec![],
            priority: Priority::P4,
            rule: "default/default",
            explanation: "internal, no CVSS vector → P4 (no rule matched), due in 180 days",
        },
        Case {
            name: "two scopes: the strictest exposure and criticality, and which scope imposed them",
            facts: Facts {
                vectors: vec![vector("nvd@nist.gov", true, V31_CRIT)],
                exploits: vec![("exploit-db".into(), "51234".into())],
                ..Default::default()
            },
            scopes: vec![lab.clone(), scope("Payments", ExposureClass::Internet, 5)],
            priority: Priority::P2,
            rule: "default/public-exploit-high",
            explanation: "public exploit (exploit-db 51234), internet-exposed (scope Payments), criticality 5 (scope Payments), CVSSv3.1 9.6 ≥ 7.0 (base 9.8) → P2 by rule public-exploit-high, due in 30 days",
        },
    ];
    let s = Settings::default();
    for c in cases {
        let o = prioritize(&c.facts, &Context { scopes: c.scopes }, &s, TODAY);
        assert_eq!(
            (o.priority, o.rule.as_str()),
            (c.priority, c.rule),
            "{}: {}",
            c.name,
            o.explanation
        );
        assert_eq!(o.explanation, c.explanation, "{}", c.name);
    }
}

#[test]
fn the_strictest_scope_decides_and_is_named() {
    let mut strict = scope("PCI", ExposureClass::Internal, 3);
    strict.policy = "pci".into();
    let s = Settings {
        policies: [(
            "pci".to_string(),
            Policy {
                rules: vec![Rule {
                    name: "any-high".into(),
                    priority: Priority::P1,
                    when: Conditions {
                        cvss_min: Some(7.0),
                        ..Default::default()
                    },
                }],
                default: Priority::P3,
                modify_attack_vector: None,
            },
        )]
        .into(),
        ..Settings::default()
    };
    let facts = Facts {
        vectors: vec![vector("nvd@nist.gov", true, V31_CRIT)],
        ..Default::default()
    };
    let ctx = Context {
        scopes: vec![scope("Office", ExposureClass::Internal, 3), strict],
    };
    let o = prioritize(&facts, &ctx, &s, TODAY);
    assert_eq!(
        (o.priority, o.rule.as_str()),
        (Priority::P1, "pci/any-high")
    );
    assert_eq!(
        o.explanation,
        "internal, CVSSv3.1 9.0 ≥ 7.0 (base 9.8) → P1 by rule any-high of scope PCI, due in 7 days"
    );
}

#[test]
fn ssvc_model_and_both() {
    let mut s = scope("Payments", ExposureClass::Internet, 5);
    s.model = PriorityModel::Ssvc;
    let facts = kev_facts();
    let o = prioritize(
        &facts,
        &Context {
            scopes: vec![s.clone()],
        },
        &Settings::default(),
        TODAY,
    );
    assert_eq!(
        (o.priority, o.ssvc, o.rule.as_str()),
        (Priority::P1, Some(SsvcOutcome::Act), "ssvc")
    );
    assert!(
        o.explanation
            .ends_with("SSVC Act → P1 by SSVC, due in 7 days"),
        "{}",
        o.explanation
    );

    // Low criticality, partial impact, not automatable: SSVC says Track; with "both" the policy
    // can still raise it.
    let mut low = scope("Kiosk", ExposureClass::LocalOnly, 1);
    low.model = PriorityModel::Both;
    let facts = Facts {
        vectors: vec![vector("nvd@nist.gov", true, V31_MEDIUM)],
        ..Default::default()
    };
    let o = prioritize(
        &facts,
        &Context { scopes: vec![low] },
        &Settings::default(),
        TODAY,
    );
    assert_eq!(
        (o.priority, o.ssvc),
        (Priority::P4, Some(SsvcOutcome::Track))
    );
}

#[test]
fn ssvc_inputs_from_vulnrichment_then_vector() {
    let v: Cvss = V31_CRIT.parse().unwrap();
    let i = ssvc_inputs(
        &Facts::default(),
        Some(&v),
        ExposureClass::Internet,
        4,
        None,
    );
    assert_eq!(
        (i.automatable, i.technical_impact, i.mission),
        (true, TechnicalImpact::Total, MissionImpact::High)
    );
    let i = ssvc_inputs(
        &Facts::default(),
        Some(&v),
        ExposureClass::Isolated,
        3,
        None,
    );
    assert!(!i.automatable, "not automatable against an isolated asset");
    let cisa = Facts {
        vulnrichment: Some(SsvcDecision {
            source: "CISA-ADP".into(),
            exploitation: Some("poc".into()),
            automatable: Some("no".into()),
            technical_impact: Some("partial".into()),
            version: Some("2.0.3".into()),
            decided_at: None,
        }),
        ..Default::default()
    };
    let i = ssvc_inputs(&cisa, Some(&v), ExposureClass::Internet, 1, None);
    assert_eq!(
        (i.exploitation, i.automatable, i.technical_impact, i.mission),
        (
            Exploitation::Poc,
            false,
            TechnicalImpact::Partial,
            MissionImpact::Low
        )
    ); // The scopes' CIA requirements raise mission impact: a high requirement makes it high even
    // at criticality 1; all-low requirements leave the criticality's verdict.
    let high = CiaRequirements {
        integrity: Requirement::High,
        ..CiaRequirements::default()
    };
    let i = ssvc_inputs(&cisa, Some(&v), ExposureClass::Internet, 1, Some(high));
    assert_eq!(i.mission, MissionImpact::High);
    let low = CiaRequirements {
        confidentiality: Requirement::Low,
        integrity: Requirement::Low,
        availability: Requirement::Low,
    };
    let i = ssvc_inputs(&cisa, Some(&v), ExposureClass::Internet, 1, Some(low));
    assert_eq!(i.mission, MissionImpact::Low);
    let i = ssvc_inputs(&cisa, Some(&v), ExposureClass::Internet, 4, Some(low));
    assert_eq!(i.mission, MissionImpact::High);
}

#[test]
fn policies_from_toml_with_clear_errors() {
    let text = r#"
        cvss_versions = ["3.1", "4.0"]
        [policies.strict]
        default = "p3"
        [[policies.strict.rules]]
        name = "kev"
        priority = "p1"
        when = { kev = true }
        [[policies.strict.rules]]
        name = "old-and-likely"
        priority = "p2"
        when = { epss_min = 0.2, age_days_min = 30, exposure = ["internet", "internal"] }
    "#;
    let s: Settings = toml::from_str(text).unwrap();
    s.validate().unwrap();
    let strict = s.policy("strict").unwrap();
    assert_eq!(strict.default, Priority::P3);
    assert_eq!(strict.rules[1].when.exposure.as_ref().unwrap().len(), 2);
    assert!(
        s.policy("default").is_some(),
        "the built-in default stays available"
    );

    let typo = "[policies.x]\n[[policies.x.rules]]\nname = \"a\"\npriority = \"p1\"\nwhen = { kevv = true }\n";
    let e = toml::from_str::<Settings>(typo).unwrap_err().to_string();
    assert!(e.contains("kevv"), "{e}");
    let bad = "[policies.x]\n[[policies.x.rules]]\nname = \"a\"\npriority = \"p1\"\nwhen = { epss_min = 3.0 }\n";
    let e = toml::from_str::<Settings>(bad)
        .unwrap()
        .validate()
        .unwrap_err();
    assert!(e.contains("epss_min = 3 is outside 0–1"), "{e}");
    let e = Settings {
        default_policy: "nope".into(),
        ..Settings::default()
    }
    .validate()
    .unwrap_err();
    assert!(e.contains("names no policy"), "{e}");
    let e = Settings {
        cvss_versions: vec!["5.0".into()],
        ..Settings::default()
    }
    .validate()
    .unwrap_err();
    assert!(e.contains("5.0"), "{e}");
}

#[test]
fn age_and_ssvc_conditions() {
    let rule = |when| Policy {
        rules: vec![Rule {
            name: "r".into(),
            priority: Priority::P1,
            when,
        }],
        default: Priority::P4,
        modify_attack_vector: None,
    };
    let s = Settings {
        policies: [(
            "old".to_string(),
            rule(Conditions {
                age_days_min: Some(365),
                ..Default::default()
            }),
        )]
        .into(),
        default_policy: "old".into(),
        ..Settings::default()
    };
    let mut facts = Facts {
        published: Some(date!(2020 - 01 - 01)),
        ..Default::default()
    };
    assert_eq!(
        prioritize(&facts, &Context::default(), &s, TODAY).priority,
        Priority::P1
    );
    facts.published = Some(date!(2026 - 11 - 01));
    assert_eq!(
        prioritize(&facts, &Context::default(), &s, TODAY).priority,
        Priority::P4
    );
    facts.published = None;
    assert_eq!(
        prioritize(&facts, &Context::default(), &s, TODAY).priority,
        Priority::P4
    );
}

#[test]
fn a_policy_can_keep_the_attack_vector() {
    let keep = Policy {
        modify_attack_vector: Some(false),
        ..Policy::builtin_default()
    };
    let s = Settings {
        policies: [("keep".to_string(), keep)].into(),
        ..Settings::default()
    };
    let mut lab = scope("Lab", ExposureClass::Isolated, 3);
    let facts = Facts {
        vectors: vec![vector("nvd@nist.gov", true, V31_CRIT)],
        ..Default::default()
    };
    let o = prioritize(
        &facts,
        &Context {
            scopes: vec![lab.clone()],
        },
        &s,
        TODAY,
    );
    assert!(o.derived_vector.unwrap().ends_with("/MAV:P"));
    lab.policy = "keep".into();
    let o = prioritize(&facts, &Context { scopes: vec![lab] }, &s, TODAY);
    assert!(!o.derived_vector.unwrap().contains("MAV"));
}
