//! CVSS v2.0 (FIRST, "A Complete Guide to the Common Vulnerability Scoring System Version 2.0",
//! section 3.2): base, temporal and environmental equations, in exact decimals.

use crate::Cvss;
use crate::dec::Dec;
use crate::spec::{Spec, Tenths, m};

const ND: &str = "ND";

pub(crate) static SPEC: Spec = Spec {
    metrics: &[
        m("AV", "Access Vector", &["L", "A", "N"]),
        m("AC", "Access Complexity", &["H", "M", "L"]),
        m("Au", "Authentication", &["M", "S", "N"]),
        m("C", "Confidentiality Impact", &["N", "P", "C"]),
        m("I", "Integrity Impact", &["N", "P", "C"]),
        m("A", "Availability Impact", &["N", "P", "C"]),
        m("E", "Exploitability", &["U", "POC", "F", "H", ND]),
        m("RL", "Remediation Level", &["OF", "TF", "W", "U", ND]),
        m("RC", "Report Confidence", &["UC", "UR", "C", ND]),
        m(
            "CDP",
            "Collateral Damage Potential",
            &["N", "L", "LM", "MH", "H", ND],
        ),
        m("TD", "Target Distribution", &["N", "L", "M", "H", ND]),
        m("CR", "Confidentiality Requirement", &["L", "M", "H", ND]),
        m("IR", "Integrity Requirement", &["L", "M", "H", ND]),
        m("AR", "Availability Requirement", &["L", "M", "H", ND]),
    ],
    mandatory: 6,
    temporal: 6..9,
    environmental: 9..14,
    not_defined: ND,
    lookup,
};

fn lookup(name: &str) -> Option<usize> {
    Some(match name {
        "AV" => 0,
        "AC" => 1,
        "Au" => 2,
        "C" => 3,
        "I" => 4,
        "A" => 5,
        "E" => 6,
        "RL" => 7,
        "RC" => 8,
        "CDP" => 9,
        "TD" => 10,
        "CR" => 11,
        "IR" => 12,
        "AR" => 13,
        _ => return None,
    })
}

// Weights per value index, in the table's value order; "not defined" last.
const AV: [Dec; 3] = [Dec::new(395, 3), Dec::new(646, 3), Dec::int(1)];
const AC: [Dec; 3] = [Dec::new(35, 2), Dec::new(61, 2), Dec::new(71, 2)];
const AU: [Dec; 3] = [Dec::new(45, 2), Dec::new(56, 2), Dec::new(704, 3)];
const IMPACT: [Dec; 3] = [Dec::int(0), Dec::new(275, 3), Dec::new(660, 3)];
const E: [Dec; 5] = [
    Dec::new(85, 2),
    Dec::new(90, 2),
    Dec::new(95, 2),
    Dec::int(1),
    Dec::int(1),
];
const RL: [Dec; 5] = [
    Dec::new(87, 2),
    Dec::new(90, 2),
    Dec::new(95, 2),
    Dec::int(1),
    Dec::int(1),
];
const RC: [Dec; 4] = [Dec::new(90, 2), Dec::new(95, 2), Dec::int(1), Dec::int(1)];
const CDP: [Dec; 6] = [
    Dec::int(0),
    Dec::new(1, 1),
    Dec::new(3, 1),
    Dec::new(4, 1),
    Dec::new(5, 1),
    Dec::int(0),
];
const TD: [Dec; 5] = [
    Dec::int(0),
    Dec::new(25, 2),
    Dec::new(75, 2),
    Dec::int(1),
    Dec::int(1),
];
const REQ: [Dec; 4] = [Dec::new(5, 1), Dec::int(1), Dec::new(151, 2), Dec::int(1)];

/// The weight of metric `index` from `table`; absent optional metrics weigh as "not defined"
/// (the last entry).
fn w<const N: usize>(v: &Cvss, index: usize, table: &[Dec; N]) -> Dec {
    match v.raw(index) {
        0 => table[N - 1],
        raw => table[usize::from(raw - 1)],
    }
}

fn clamp(tenths: i64) -> u8 {
    tenths.clamp(0, 100) as u8
}

/// `round_to_1_decimal(((0.6 × Impact) + (0.4 × Exploitability) − 1.5) × f(Impact))`.
fn base_equation(v: &Cvss, impact: Dec) -> i64 {
    let exploitability = Dec::int(20)
        .mul(w(v, 0, &AV))
        .mul(w(v, 1, &AC))
        .mul(w(v, 2, &AU));
    if !impact.is_positive() {
        return 0;
    }
    Dec::new(6, 1)
        .mul(impact)
        .add(Dec::new(4, 1).mul(exploitability))
        .sub(Dec::new(15, 1))
        .mul(Dec::new(1176, 3))
        .round_tenths()
}

/// `round_to_1_decimal(BaseScore × Exploitability × RemediationLevel × ReportConfidence)`.
fn temporal_equation(v: &Cvss, base_tenths: i64) -> i64 {
    Dec::new(base_tenths.into(), 1)
        .mul(w(v, 6, &E))
        .mul(w(v, 7, &RL))
        .mul(w(v, 8, &RC))
        .round_tenths()
}

pub(crate) fn scores(v: &Cvss) -> Tenths {
    let one = Dec::int(1);
    let impact_of = |i: usize, req: Option<usize>| {
        let weight = w(v, i, &IMPACT);
        one.sub(match req {
            Some(r) => weight.mul(w(v, r, &REQ)),
            None => weight,
        })
    };
    let impact = Dec::new(1041, 2).mul(
        one.sub(
            impact_of(3, None)
                .mul(impact_of(4, None))
                .mul(impact_of(5, None)),
        ),
    );
    let base = base_equation(v, impact).max(0);
    let temporal = v.has_temporal().then(|| temporal_equation(v, base).max(0));
    let environmental = v.has_environmental().then(|| {
        let adjusted_impact = Dec::int(10).min(
            Dec::new(1041, 2).mul(
                one.sub(
                    impact_of(3, Some(11))
                        .mul(impact_of(4, Some(12)))
                        .mul(impact_of(5, Some(13))),
                ),
            ),
        );
        let adjusted_temporal = temporal_equation(v, base_equation(v, adjusted_impact));
        let t = Dec::new(adjusted_temporal.into(), 1);
        t.add(Dec::int(10).sub(t).mul(w(v, 9, &CDP)))
            .mul(w(v, 10, &TD))
            .round_tenths()
            .max(0)
    });
    let (base, temporal, environmental) =
        (clamp(base), temporal.map(clamp), environmental.map(clamp));
    Tenths {
        base,
        temporal,
        environmental,
        score: environmental.or(temporal).unwrap_or(base),
    }
}
