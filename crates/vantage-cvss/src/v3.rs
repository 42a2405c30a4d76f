//! CVSS v3.0 and v3.1 (FIRST specification documents, section 7 / appendix A): base, temporal
//! and environmental equations. Both versions "round up" the exact value; they differ in the
//! modified impact of a changed (modified) scope: v3.0 uses `3.25 × (ISC − 0.02)^15`, v3.1
//! `3.25 × (ISC × 0.9731 − 0.02)^13`. The Privileges Required weight follows the Scope (base) or
//! the Modified Scope (environmental).

use crate::Cvss;
use crate::dec::{Dec, ceil_tenths_f64};
use crate::spec::{Metric, Spec, Tenths, m};

const X: &str = "X";

static METRICS: [Metric; 22] = [
    m("AV", "Attack Vector", &["N", "A", "L", "P"]),
    m("AC", "Attack Complexity", &["L", "H"]),
    m("PR", "Privileges Required", &["N", "L", "H"]),
    m("UI", "User Interaction", &["N", "R"]),
    m("S", "Scope", &["U", "C"]),
    m("C", "Confidentiality", &["H", "L", "N"]),
    m("I", "Integrity", &["H", "L", "N"]),
    m("A", "Availability", &["H", "L", "N"]),
    m("E", "Exploit Code Maturity", &[X, "H", "F", "P", "U"]),
    m("RL", "Remediation Level", &[X, "U", "W", "T", "O"]),
    m("RC", "Report Confidence", &[X, "C", "R", "U"]),
    m("CR", "Confidentiality Requirement", &[X, "H", "M", "L"]),
    m("IR", "Integrity Requirement", &[X, "H", "M", "L"]),
    m("AR", "Availability Requirement", &[X, "H", "M", "L"]),
    m("MAV", "Modified Attack Vector", &[X, "N", "A", "L", "P"]),
    m("MAC", "Modified Attack Complexity", &[X, "L", "H"]),
    m("MPR", "Modified Privileges Required", &[X, "N", "L", "H"]),
    m("MUI", "Modified User Interaction", &[X, "N", "R"]),
    m("MS", "Modified Scope", &[X, "U", "C"]),
    m("MC", "Modified Confidentiality", &[X, "H", "L", "N"]),
    m("MI", "Modified Integrity", &[X, "H", "L", "N"]),
    m("MA", "Modified Availability", &[X, "H", "L", "N"]),
];

pub(crate) static SPEC_30: Spec = Spec {
    metrics: &METRICS,
    mandatory: 8,
    temporal: 8..11,
    environmental: 11..22,
    not_defined: X,
    lookup,
};

pub(crate) static SPEC_31: Spec = Spec {
    metrics: &METRICS,
    mandatory: 8,
    temporal: 8..11,
    environmental: 11..22,
    not_defined: X,
    lookup,
};

fn lookup(name: &str) -> Option<usize> {
    Some(match name {
        "AV" => 0,
        "AC" => 1,
        "PR" => 2,
        "UI" => 3,
        "S" => 4,
        "C" => 5,
        "I" => 6,
        "A" => 7,
        "E" => 8,
        "RL" => 9,
        "RC" => 10,
        "CR" => 11,
        "IR" => 12,
        "AR" => 13,
        "MAV" => 14,
        "MAC" => 15,
        "MPR" => 16,
        "MUI" => 17,
        "MS" => 18,
        "MC" => 19,
        "MI" => 20,
        "MA" => 21,
        _ => return None,
    })
}

/// Offset between a base metric and its modified form (`AV` → `MAV`, `S` → `MS` …).
const MODIFIED: usize = 14;

// Weights in base-value order (the modified metrics share them, shifted by their leading X).
const AV: [Dec; 4] = [
    Dec::new(85, 2),
    Dec::new(62, 2),
    Dec::new(55, 2),
    Dec::new(2, 1),
];
const AC: [Dec; 2] = [Dec::new(77, 2), Dec::new(44, 2)];
const PR_UNCHANGED: [Dec; 3] = [Dec::new(85, 2), Dec::new(62, 2), Dec::new(27, 2)];
const PR_CHANGED: [Dec; 3] = [Dec::new(85, 2), Dec::new(68, 2), Dec::new(5, 1)];
const UI: [Dec; 2] = [Dec::new(85, 2), Dec::new(62, 2)];
const CIA: [Dec; 3] = [Dec::new(56, 2), Dec::new(22, 2), Dec::int(0)];
// Temporal and requirement weights with X (= 1) first, in table order.
const E: [Dec; 5] = [
    Dec::int(1),
    Dec::int(1),
    Dec::new(97, 2),
    Dec::new(94, 2),
    Dec::new(91, 2),
];
const RL: [Dec; 5] = [
    Dec::int(1),
    Dec::int(1),
    Dec::new(97, 2),
    Dec::new(96, 2),
    Dec::new(95, 2),
];
const RC: [Dec; 4] = [Dec::int(1), Dec::int(1), Dec::new(96, 2), Dec::new(92, 2)];
const REQ: [Dec; 4] = [Dec::int(1), Dec::new(15, 1), Dec::int(1), Dec::new(5, 1)];

/// Value index (0-based, base-value order) of base metric `i`.
fn base_value(v: &Cvss, i: usize) -> usize {
    usize::from(v.raw(i) - 1)
}

/// Value index of the modified form of base metric `i`, falling back to the base value when the
/// modified metric is absent or X.
fn modified_value(v: &Cvss, i: usize) -> usize {
    match v.raw(i + MODIFIED) {
        0 | 1 => base_value(v, i),
        raw => usize::from(raw - 2),
    }
}

/// Weight of an optional metric (absent = X, the first entry).
fn opt<const N: usize>(v: &Cvss, i: usize, table: &[Dec; N]) -> Dec {
    table[usize::from(v.raw(i).max(1) - 1)]
}

const CHANGED: usize = 1;

/// Impact sub score. `isc_base` ≤ 1 is exact; the changed-scope power term is not a short
/// decimal and is the one place computed in `f64`.
enum Impact {
    Exact(Dec),
    Float(f64),
}

impl Impact {
    fn is_positive(&self) -> bool {
        match self {
            Impact::Exact(d) => d.is_positive(),
            Impact::Float(f) => *f > 0.0,
        }
    }
}

fn impact(isc_base: Dec, changed: bool, modified_31: bool) -> Impact {
    if !changed {
        return Impact::Exact(Dec::new(642, 2).mul(isc_base));
    }
    let b = isc_base.to_f64();
    let power = if modified_31 {
        (b * 0.9731 - 0.02).powi(13)
    } else {
        (b - 0.02).powi(15)
    };
    Impact::Float(7.52 * (b - 0.029) - 3.25 * power)
}

/// `Roundup(Minimum[(Impact + Exploitability), 10])`, × 1.08 inside when the scope changed.
fn combine(impact: Impact, exploitability: Dec, changed: bool) -> i64 {
    match impact {
        Impact::Exact(isc) => {
            let mut sum = isc.add(exploitability);
            if changed {
                sum = Dec::new(108, 2).mul(sum);
            }
            sum.min(Dec::int(10)).ceil_tenths()
        }
        Impact::Float(isc) => {
            let mut sum = isc + exploitability.to_f64();
            if changed {
                sum *= 1.08;
            }
            ceil_tenths_f64(sum.min(10.0))
        }
    }
}

fn temporal_equation(v: &Cvss, tenths: i64) -> i64 {
    Dec::new(tenths.into(), 1)
        .mul(opt(v, 8, &E))
        .mul(opt(v, 9, &RL))
        .mul(opt(v, 10, &RC))
        .ceil_tenths()
}

/// `8.22 × AttackVector × AttackComplexity × PrivilegesRequired × UserInteraction`, with the
/// values `value(i)` gives for metrics 0–3 (base or modified) and the PR weights of the
/// (modified) scope.
fn exploitability(value: impl Fn(usize) -> usize, scope_changed: bool) -> Dec {
    let pr = if scope_changed {
        &PR_CHANGED
    } else {
        &PR_UNCHANGED
    };
    Dec::new(822, 2)
        .mul(AV[value(0)])
        .mul(AC[value(1)])
        .mul(pr[value(2)])
        .mul(UI[value(3)])
}

pub(crate) fn scores(v: &Cvss) -> Tenths {
    let v31 = v.version() == crate::Version::V3_1;
    let one = Dec::int(1);

    // Base.
    let scope_changed = base_value(v, 4) == CHANGED;
    let isc_base = one.sub(
        one.sub(CIA[base_value(v, 5)])
            .mul(one.sub(CIA[base_value(v, 6)]))
            .mul(one.sub(CIA[base_value(v, 7)])),
    );
    let esc = exploitability(|i| base_value(v, i), scope_changed);
    let isc = impact(isc_base, scope_changed, false);
    let base = if isc.is_positive() {
        combine(isc, esc, scope_changed)
    } else {
        0
    };

    let temporal = v.has_temporal().then(|| temporal_equation(v, base));

    let environmental = v.has_environmental().then(|| {
        let modified_changed = modified_value(v, 4) == CHANGED;
        let requirement =
            |cia: usize, req: usize| one.sub(CIA[modified_value(v, cia)].mul(opt(v, req, &REQ)));
        let misc_base = one
            .sub(
                requirement(5, 11)
                    .mul(requirement(6, 12))
                    .mul(requirement(7, 13)),
            )
            .min(Dec::new(915, 3));
        let mesc = exploitability(|i| modified_value(v, i), modified_changed);
        let misc = impact(misc_base, modified_changed, v31);
        if misc.is_positive() {
            temporal_equation(v, combine(misc, mesc, modified_changed))
        } else {
            0
        }
    });

    let clamp = |t: i64| t.clamp(0, 100) as u8;
    let (base, temporal, environmental) =
        (clamp(base), temporal.map(clamp), environmental.map(clamp));
    Tenths {
        base,
        temporal,
        environmental,
        score: environmental.or(temporal).unwrap_or(base),
    }
}
