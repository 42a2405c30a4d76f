//! CISA's SSVC decision tree (CISA Coordinator table, SSVC `cisa:CO` 2.0.3): Exploitation ×
//! Automatable × Technical Impact × Mission & Well-being → Track / Track* / Attend / Act.

use serde::Serialize;
use vantage_domain::SsvcOutcome;

/// State of exploitation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Exploitation {
    /// No evidence of exploitation and no public proof of concept.
    None,
    /// A public proof of concept or exploit exists.
    Poc,
    /// Exploited in the wild.
    Active,
}

/// Technical impact on the vulnerable component.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TechnicalImpact {
    /// Limited control or disclosure.
    Partial,
    /// Total control of the component or disclosure of all its information.
    Total,
}

/// Mission and well-being impact of the affected asset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MissionImpact {
    /// Low.
    Low,
    /// Medium.
    Medium,
    /// High.
    High,
}

/// The four decision points.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct SsvcInputs {
    /// Exploitation.
    pub exploitation: Exploitation,
    /// Whether steps 1–4 of the kill chain can be automated against this asset.
    pub automatable: bool,
    /// Technical impact.
    pub technical_impact: TechnicalImpact,
    /// Mission & well-being.
    pub mission: MissionImpact,
}

/// The decision of the CISA table.
pub fn decide(i: SsvcInputs) -> SsvcOutcome {
    use SsvcOutcome::{Act as AC, Attend as AT, Track as T, TrackStar as TS};
    // [exploitation][automatable][technical impact][mission: low, medium, high]
    const TABLE: [[[[SsvcOutcome; 3]; 2]; 2]; 3] = [
        [[[T, T, T], [T, T, TS]], [[T, T, AT], [T, T, AT]]],
        [[[T, T, TS], [T, TS, AT]], [[T, T, AT], [T, TS, AT]]],
        [[[T, T, AT], [T, AT, AC]], [[AT, AT, AC], [AT, AC, AC]]],
    ];
    let e = match i.exploitation {
        Exploitation::None => 0,
        Exploitation::Poc => 1,
        Exploitation::Active => 2,
    };
    let ti = match i.technical_impact {
        TechnicalImpact::Partial => 0,
        TechnicalImpact::Total => 1,
    };
    let m = match i.mission {
        MissionImpact::Low => 0,
        MissionImpact::Medium => 1,
        MissionImpact::High => 2,
    };
    TABLE[e][usize::from(i.automatable)][ti][m]
}

#[cfg(test)]
mod tests {
    use super::*;
    use Exploitation::*;
    use MissionImpact::*;
    use SsvcOutcome::*;
    use TechnicalImpact::*;

    /// The 36 rows of CISA's table, in its order (E, A, TI, MWI → decision).
    #[test]
    fn every_row_of_the_cisa_table() {
        let rows = [
            (None, false, Partial, [Track, Track, Track]),
            (None, false, Total, [Track, Track, TrackStar]),
            (None, true, Partial, [Track, Track, Attend]),
            (None, true, Total, [Track, Track, Attend]),
            (Poc, false, Partial, [Track, Track, TrackStar]),
            (Poc, false, Total, [Track, TrackStar, Attend]),
            (Poc, true, Partial, [Track, Track, Attend]),
            (Poc, true, Total, [Track, TrackStar, Attend]),
            (Active, false, Partial, [Track, Track, Attend]),
            (Active, false, Total, [Track, Attend, Act]),
            (Active, true, Partial, [Attend, Attend, Act]),
            (Active, true, Total, [Attend, Act, Act]),
        ];
        for (exploitation, automatable, technical_impact, outcomes) in rows {
            for (mission, want) in [Low, Medium, High].into_iter().zip(outcomes) {
                let i = SsvcInputs {
                    exploitation,
                    automatable,
                    technical_impact,
                    mission,
                };
                assert_eq!(decide(i), want, "{i:?}");
            }
        }
    }
}
