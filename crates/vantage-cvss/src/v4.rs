//! CVSS v4.0 (FIRST specification, section 8): the macro-vector method. A vector falls in one of
//! 270 macro vectors (equivalence classes EQ1…EQ6) whose score the specification tabulates; the
//! score is then lowered by the vector's mean proportional distance to the class's highest
//! severity vectors. This follows the reference calculator step by step (same `f64` operations in
//! the same order, same `+1e-6` half-up final rounding), so its results are the reference's.

use crate::Nomenclature;
use crate::spec::{MAX_METRICS, Metric, Spec, Tenths, m};
use crate::v4_lookup::LOOKUP;

const X: &str = "X";

static METRICS: [Metric; 32] = [
    m("AV", "Attack Vector", &["N", "A", "L", "P"]),
    m("AC", "Attack Complexity", &["L", "H"]),
    m("AT", "Attack Requirements", &["N", "P"]),
    m("PR", "Privileges Required", &["N", "L", "H"]),
    m("UI", "User Interaction", &["N", "P", "A"]),
    m("VC", "Vulnerable System Confidentiality", &["H", "L", "N"]),
    m("VI", "Vulnerable System Integrity", &["H", "L", "N"]),
    m("VA", "Vulnerable System Availability", &["H", "L", "N"]),
    m("SC", "Subsequent System Confidentiality", &["H", "L", "N"]),
    m("SI", "Subsequent System Integrity", &["H", "L", "N"]),
    m("SA", "Subsequent System Availability", &["H", "L", "N"]),
    m("E", "Exploit Maturity", &[X, "A", "P", "U"]),
    m("CR", "Confidentiality Requirement", &[X, "H", "M", "L"]),
    m("IR", "Integrity Requirement", &[X, "H", "M", "L"]),
    m("AR", "Availability Requirement", &[X, "H", "M", "L"]),
    m("MAV", "Modified Attack Vector", &[X, "N", "A", "L", "P"]),
    m("MAC", "Modified Attack Complexity", &[X, "L", "H"]),
    m("MAT", "Modified Attack Requirements", &[X, "N", "P"]),
    m("MPR", "Modified Privileges Required", &[X, "N", "L", "H"]),
    m("MUI", "Modified User Interaction", &[X, "N", "P", "A"]),
    m(
        "MVC",
        "Modified Vulnerable System Confidentiality",
        &[X, "H", "L", "N"],
    ),
    m(
        "MVI",
        "Modified Vulnerable System Integrity",
        &[X, "H", "L", "N"],
    ),
    m(
        "MVA",
        "Modified Vulnerable System Availability",
        &[X, "H", "L", "N"],
    ),
    m(
        "MSC",
        "Modified Subsequent System Confidentiality",
        &[X, "H", "L", "N"],
    ),
    m(
        "MSI",
        "Modified Subsequent System Integrity",
        &[X, "S", "H", "L", "N"],
    ),
    m(
        "MSA",
        "Modified Subsequent System Availability",
        &[X, "S", "H", "L", "N"],
    ),
    m("S", "Safety", &[X, "N", "P"]),
    m("AU", "Automatable", &[X, "N", "Y"]),
    m("R", "Recovery", &[X, "A", "U", "I"]),
    m("V", "Value Density", &[X, "D", "C"]),
    m("RE", "Vulnerability Response Effort", &[X, "L", "M", "H"]),
    m(
        "U",
        "Provider Urgency",
        &[X, "Clear", "Green", "Amber", "Red"],
    ),
];

pub(crate) static SPEC: Spec = Spec {
    metrics: &METRICS,
    mandatory: 11,
    temporal: 11..12,
    environmental: 12..26,
    not_defined: X,
    lookup,
};

fn lookup(name: &str) -> Option<usize> {
    Some(match name {
        "AV" => 0,
        "AC" => 1,
        "AT" => 2,
        "PR" => 3,
        "UI" => 4,
        "VC" => 5,
        "VI" => 6,
        "VA" => 7,
        "SC" => 8,
        "SI" => 9,
        "SA" => 10,
        "E" => 11,
        "CR" => 12,
        "IR" => 13,
        "AR" => 14,
        "MAV" => 15,
        "MAC" => 16,
        "MAT" => 17,
        "MPR" => 18,
        "MUI" => 19,
        "MVC" => 20,
        "MVI" => 21,
        "MVA" => 22,
        "MSC" => 23,
        "MSI" => 24,
        "MSA" => 25,
        "S" => 26,
        "AU" => 27,
        "R" => 28,
        "V" => 29,
        "RE" => 30,
        "U" => 31,
        _ => return None,
    })
}

/// Offset between a base metric and its modified form (`AV` → `MAV` …).
const MODIFIED: usize = 15;

/// The value letter of a slot.
fn letter(index: usize, raw: u8) -> u8 {
    METRICS[index].values[usize::from(raw - 1)].as_bytes()[0]
}

/// The effective metric values the equations read (the reference calculator's `m()`): a
/// modified metric replaces its base metric unless absent or X; E defaults to A (Attacked),
/// CR/IR/AR to H.
#[derive(Clone, Copy)]
struct Effective {
    av: u8,
    ac: u8,
    at: u8,
    pr: u8,
    ui: u8,
    vc: u8,
    vi: u8,
    va: u8,
    sc: u8,
    si: u8,
    sa: u8,
    e: u8,
    cr: u8,
    ir: u8,
    ar: u8,
}

impl Effective {
    fn of(metrics: &[u8; MAX_METRICS], threat_and_environment: bool) -> Effective {
        let get = |i: usize| {
            let modified = metrics[i + MODIFIED];
            if threat_and_environment && modified > 1 {
                letter(i + MODIFIED, modified)
            } else {
                letter(i, metrics[i])
            }
        };
        let optional = |i: usize, default: u8| {
            let raw = metrics[i];
            if threat_and_environment && raw > 1 {
                letter(i, raw)
            } else {
                default
            }
        };
        Effective {
            av: get(0),
            ac: get(1),
            at: get(2),
            pr: get(3),
            ui: get(4),
            vc: get(5),
            vi: get(6),
            va: get(7),
            sc: get(8),
            si: get(9),
            sa: get(10),
            e: optional(11, b'A'),
            cr: optional(12, b'H'),
            ir: optional(13, b'H'),
            ar: optional(14, b'H'),
        }
    }

    fn macro_vector(&self) -> [usize; 6] {
        let (av, pr, ui) = (self.av, self.pr, self.ui);
        let eq1 = if av == b'N' && pr == b'N' && ui == b'N' {
            0
        } else if (av == b'N' || pr == b'N' || ui == b'N') && av != b'P' {
            1
        } else {
            2
        };
        let eq2 = if self.ac == b'L' && self.at == b'N' {
            0
        } else {
            1
        };
        let eq3 = if self.vc == b'H' && self.vi == b'H' {
            0
        } else if self.vc == b'H' || self.vi == b'H' || self.va == b'H' {
            1
        } else {
            2
        };
        let eq4 = if self.si == b'S' || self.sa == b'S' {
            0
        } else if self.sc == b'H' || self.si == b'H' || self.sa == b'H' {
            1
        } else {
            2
        };
        let eq5 = match self.e {
            b'A' => 0,
            b'P' => 1,
            _ => 2,
        };
        let eq6 = if (self.cr == b'H' && self.vc == b'H')
            || (self.ir == b'H' && self.vi == b'H')
            || (self.ar == b'H' && self.va == b'H')
        {
            0
        } else {
            1
        };
        [eq1, eq2, eq3, eq4, eq5, eq6]
    }
}

/// The table score of a macro vector; NaN when it does not exist (an index out of range).
fn lookup_score(eq: [usize; 6]) -> f64 {
    const DIMS: [usize; 6] = [3, 2, 3, 3, 3, 2];
    let mut index = 0;
    for (value, dim) in eq.iter().zip(DIMS) {
        if *value >= dim {
            return f64::NAN;
        }
        index = index * dim + value;
    }
    LOOKUP[index]
}

// Severity levels of each metric value (specification section 8.2, reference `*_levels`).
fn level_av(v: u8) -> f64 {
    match v {
        b'N' => 0.0,
        b'A' => 0.1,
        b'L' => 0.2,
        _ => 0.3,
    }
}
fn level_pr(v: u8) -> f64 {
    match v {
        b'N' => 0.0,
        b'L' => 0.1,
        _ => 0.2,
    }
}
fn level_ui(v: u8) -> f64 {
    match v {
        b'N' => 0.0,
        b'P' => 0.1,
        _ => 0.2,
    }
}
fn level_ac(v: u8) -> f64 {
    if v == b'L' { 0.0 } else { 0.1 }
}
fn level_at(v: u8) -> f64 {
    if v == b'N' { 0.0 } else { 0.1 }
}
fn level_v(v: u8) -> f64 {
    match v {
        b'H' => 0.0,
        b'L' => 0.1,
        _ => 0.2,
    }
}
fn level_sc(v: u8) -> f64 {
    match v {
        b'H' => 0.1,
        b'L' => 0.2,
        _ => 0.3,
    }
}
fn level_s(v: u8) -> f64 {
    match v {
        b'S' => 0.0,
        b'H' => 0.1,
        b'L' => 0.2,
        _ => 0.3,
    }
}
fn level_req(v: u8) -> f64 {
    match v {
        b'H' => 0.0,
        b'M' => 0.1,
        _ => 0.2,
    }
}

/// The highest-severity vectors of each equivalence class (reference `MAX_COMPOSED`), as value
/// letters: EQ1 (AV, PR, UI), EQ2 (AC, AT), EQ3+EQ6 (VC, VI, VA, CR, IR, AR), EQ4 (SC, SI, SA).
const MAX_EQ1: [&[[u8; 3]]; 3] = [
    &[*b"NNN"],
    &[*b"ANN", *b"NLN", *b"NNP"],
    &[*b"PNN", *b"ALP"],
];
const MAX_EQ2: [&[[u8; 2]]; 2] = [&[*b"LN"], &[*b"HN", *b"LP"]];
const MAX_EQ3_EQ6: [[&[[u8; 6]]; 2]; 3] = [
    [&[*b"HHHHHH"], &[*b"HHLMMH", *b"HHHMMM"]],
    [
        &[*b"LHHHHH", *b"HLHHHH"],
        &[*b"LHLHMH", *b"LHHHMM", *b"HLHMHM", *b"HLLMHH", *b"LLHHHM"],
    ],
    [&[], &[*b"LLLHHH"]],
];
const MAX_EQ4: [[u8; 3]; 3] = [*b"HSS", *b"HHH", *b"LLL"];

/// Highest severity distance in each class, in steps of 0.1 (reference `MAX_SEVERITY`).
const MAX_SEVERITY_EQ1: [f64; 3] = [1.0, 4.0, 5.0];
const MAX_SEVERITY_EQ2: [f64; 2] = [1.0, 2.0];
const MAX_SEVERITY_EQ3_EQ6: [[f64; 2]; 3] = [[7.0, 6.0], [8.0, 8.0], [f64::NAN, 10.0]];
const MAX_SEVERITY_EQ4: [f64; 3] = [6.0, 5.0, 4.0];

/// The score in tenths of the vector, with (`threat_and_environment`) or without its threat and
/// environmental metrics.
fn score(metrics: &[u8; MAX_METRICS], threat_and_environment: bool) -> u8 {
    let m = Effective::of(metrics, threat_and_environment);
    if [m.vc, m.vi, m.va, m.sc, m.si, m.sa]
        .iter()
        .all(|v| *v == b'N')
    {
        return 0;
    }
    let eq = m.macro_vector();
    let value = lookup_score(eq);
    let [eq1, eq2, eq3, eq4, _, eq6] = eq;

    let with = |i: usize, delta: usize| {
        let mut next = eq;
        next[i] += delta;
        next
    };
    let score_eq1_next = lookup_score(with(0, 1));
    let score_eq2_next = lookup_score(with(1, 1));
    let score_eq3eq6_next = match (eq3, eq6) {
        (1, 1) | (0, 1) => lookup_score(with(2, 1)),
        (1, 0) => lookup_score(with(5, 1)),
        (0, 0) => {
            let left = lookup_score(with(5, 1));
            let right = lookup_score(with(2, 1));
            // Python's max(left, right): the first unless the second is greater.
            if right > left { right } else { left }
        }
        _ => {
            let mut next = with(2, 1);
            next[5] += 1;
            lookup_score(next)
        }
    };
    let score_eq4_next = lookup_score(with(3, 1));
    let score_eq5_next = lookup_score(with(4, 1));

    // Distances to the first max vector the vector does not exceed in any metric (or the last).
    let mut distances = [0.0f64; 14];
    'search: for e1 in MAX_EQ1[eq1] {
        for e2 in MAX_EQ2[eq2] {
            for e36 in MAX_EQ3_EQ6[eq3][eq6] {
                let e4 = &MAX_EQ4[eq4];
                distances = [
                    level_av(m.av) - level_av(e1[0]),
                    level_pr(m.pr) - level_pr(e1[1]),
                    level_ui(m.ui) - level_ui(e1[2]),
                    level_ac(m.ac) - level_ac(e2[0]),
                    level_at(m.at) - level_at(e2[1]),
                    level_v(m.vc) - level_v(e36[0]),
                    level_v(m.vi) - level_v(e36[1]),
                    level_v(m.va) - level_v(e36[2]),
                    level_sc(m.sc) - level_sc(e4[0]),
                    level_s(m.si) - level_s(e4[1]),
                    level_s(m.sa) - level_s(e4[2]),
                    level_req(m.cr) - level_req(e36[3]),
                    level_req(m.ir) - level_req(e36[4]),
                    level_req(m.ar) - level_req(e36[5]),
                ];
                if distances.iter().all(|d| *d >= 0.0) {
                    break 'search;
                }
            }
        }
    }
    let [
        d_av,
        d_pr,
        d_ui,
        d_ac,
        d_at,
        d_vc,
        d_vi,
        d_va,
        d_sc,
        d_si,
        d_sa,
        d_cr,
        d_ir,
        d_ar,
    ] = distances;
    let current_eq1 = d_av + d_pr + d_ui;
    let current_eq2 = d_ac + d_at;
    let current_eq3eq6 = d_vc + d_vi + d_va + d_cr + d_ir + d_ar;
    let current_eq4 = d_sc + d_si + d_sa;

    let step = 0.1;
    let max_eq1 = MAX_SEVERITY_EQ1[eq1] * step;
    let max_eq2 = MAX_SEVERITY_EQ2[eq2] * step;
    let max_eq3eq6 = MAX_SEVERITY_EQ3_EQ6[eq3][eq6] * step;
    let max_eq4 = MAX_SEVERITY_EQ4[eq4] * step;

    let mut n_lower = 0u32;
    let mut normalized = [0.0f64; 5];
    let parts = [
        (value - score_eq1_next, current_eq1, max_eq1),
        (value - score_eq2_next, current_eq2, max_eq2),
        (value - score_eq3eq6_next, current_eq3eq6, max_eq3eq6),
        (value - score_eq4_next, current_eq4, max_eq4),
    ];
    for (slot, (available, current, max)) in normalized.iter_mut().zip(parts) {
        if available >= 0.0 {
            n_lower += 1;
            *slot = available * (current / max);
        }
    }
    // EQ5 has no severity distance inside a class: it counts, and adds 0.
    let available_eq5 = value - score_eq5_next;
    if available_eq5 >= 0.0 {
        n_lower += 1;
        normalized[4] = available_eq5 * 0.0;
    }
    let mean = if n_lower == 0 {
        0.0
    } else {
        (normalized[0] + normalized[1] + normalized[2] + normalized[3] + normalized[4])
            / f64::from(n_lower)
    };
    let value = (value - mean).clamp(0.0, 10.0);
    // Round half up to one decimal, after adding the reference's epsilon of 1e-6.
    ((value + 1e-6) * 10.0 + 0.5).floor() as u8
}

pub(crate) fn scores(metrics: &[u8; MAX_METRICS]) -> Tenths {
    let base = score(metrics, false);
    let full = match nomenclature(metrics) {
        Nomenclature::B => base,
        _ => score(metrics, true),
    };
    Tenths {
        base,
        temporal: None,
        environmental: None,
        score: full,
    }
}

pub(crate) fn nomenclature(metrics: &[u8; MAX_METRICS]) -> Nomenclature {
    let defined = |range: std::ops::Range<usize>| range.into_iter().any(|i| metrics[i] > 1);
    match (
        defined(SPEC.temporal.clone()),
        defined(SPEC.environmental.clone()),
    ) {
        (false, false) => Nomenclature::B,
        (true, false) => Nomenclature::Bt,
        (false, true) => Nomenclature::Be,
        (true, true) => Nomenclature::Bte,
    }
}
