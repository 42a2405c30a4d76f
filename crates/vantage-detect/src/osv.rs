//! Language packages × OSV advisories: range evaluation as the OSV schema specifies it and the
//! matcher that turns it into findings with evidence (confidence medium: an upstream range,
//! not the packager's own verdict).
//!
//! A range's events are sorted by version and walked: `introduced` (inclusive, `0` = from the
//! start) opens the affected interval, `fixed` (exclusive) and `last_affected` (inclusive)
//! close it; `limit` caps the range. `SEMVER` ranges use SemVer precedence, `ECOSYSTEM` ranges
//! the ecosystem's own scheme (PEP 440, Maven …), `GIT` ranges name commits and are skipped.
//! The `versions` list matches exactly.

use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap};

use vantage_domain::{
    AffectedPackage, ComponentKind, Confidence, Ecosystem, Evidence, RangeEvent, VulnId,
};

use crate::inventory::InstalledPackage;
use crate::matcher::Detection;
use crate::version;

/// An OSV record as detection needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Advisory {
    /// The record's id (`GHSA-…`, `PYSEC-…`, `GO-…`, `RUSTSEC-…`).
    pub id: VulnId,
    /// Its aliases; a CVE among them names the finding.
    pub aliases: Vec<VulnId>,
    /// Withdrawn records match nothing.
    pub withdrawn: bool,
    /// Affected packages with their ranges.
    pub affected: Vec<AffectedPackage>,
}

/// Why a version is affected: the rule in words and the version that fixes it, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// `introduced 2.0.0 <= installed 2.3.1 < fixed 2.4.2 (ECOSYSTEM range)`.
    pub rule: String,
    /// The `fixed` event closing the interval the version is in.
    pub fixed: Option<String>,
}

fn event_rank(e: &RangeEvent) -> u8 {
    match e {
        RangeEvent::Introduced(_) => 0,
        RangeEvent::LastAffected(_) => 1,
        RangeEvent::Fixed(_) => 2,
        RangeEvent::Limit(_) => 3,
    }
}

fn event_version(e: &RangeEvent) -> &str {
    match e {
        RangeEvent::Introduced(v)
        | RangeEvent::Fixed(v)
        | RangeEvent::LastAffected(v)
        | RangeEvent::Limit(v) => v,
    }
}

/// Whether `installed` falls in one range, and why. `cmp` orders versions of the range's kind.
fn in_range(
    installed: &str,
    kind: &str,
    events: &[RangeEvent],
    cmp: &dyn Fn(&str, &str) -> Ordering,
) -> Option<Verdict> {
    let mut sorted: Vec<&RangeEvent> = events.iter().collect();
    sorted.sort_by(|a, b| {
        let (va, vb) = (event_version(a), event_version(b));
        let by_version = match (va, vb) {
            ("0", "0") => Ordering::Equal,
            ("0", _) if matches!(a, RangeEvent::Introduced(_)) => Ordering::Less,
            (_, "0") if matches!(b, RangeEvent::Introduced(_)) => Ordering::Greater,
            _ => cmp(va, vb),
        };
        by_version.then_with(|| event_rank(a).cmp(&event_rank(b)))
    });
    let mut vulnerable = false;
    let mut opened: Option<&str> = None;
    let mut closed_by: Option<&RangeEvent> = None;
    for e in &sorted {
        match e {
            RangeEvent::Introduced(v) => {
                if v == "0" || cmp(installed, v) != Ordering::Less {
                    vulnerable = true;
                    opened = Some(v);
                    closed_by = None;
                }
            }
            RangeEvent::Fixed(v) => {
                if cmp(installed, v) != Ordering::Less {
                    vulnerable = false;
                } else if vulnerable && closed_by.is_none() {
                    closed_by = Some(e);
                }
            }
            RangeEvent::LastAffected(v) => {
                if cmp(installed, v) == Ordering::Greater {
                    vulnerable = false;
                } else if vulnerable && closed_by.is_none() {
                    closed_by = Some(e);
                }
            }
            RangeEvent::Limit(_) => {}
        }
    }
    // Limits cap the range: the version must be below one of them (`*` is no limit).
    let limits: Vec<&str> = events
        .iter()
        .filter_map(|e| match e {
            RangeEvent::Limit(v) if v != "*" => Some(v.as_str()),
            _ => None,
        })
        .collect();
    if !limits.is_empty() && !limits.iter().any(|l| cmp(installed, l) == Ordering::Less) {
        return None;
    }
    if !vulnerable {
        return None;
    }
    let from = match opened {
        Some("0") | None => String::new(),
        Some(v) => format!("introduced {v} <= "),
    };
    let (to, fixed) = match closed_by {
        Some(RangeEvent::Fixed(v)) => (format!(" < fixed {v}"), Some(v.clone())),
        Some(RangeEvent::LastAffected(v)) => (format!(" <= last affected {v}"), None),
        _ => (" (no fixed version)".to_string(), None),
    };
    Some(Verdict {
        rule: format!("{from}installed {installed}{to} ({kind} range)"),
        fixed,
    })
}

/// Whether an installed version of a package is affected according to one OSV `affected`
/// entry, and why. `None` when it is not (or when the ecosystem has no version scheme and only
/// ranges are given).
pub fn affects(
    ecosystem: Ecosystem,
    affected: &AffectedPackage,
    installed: &str,
) -> Option<Verdict> {
    let eco_cmp = |a: &str, b: &str| version::compare(ecosystem, a, b);
    for r in &affected.ranges {
        // A range whose versions the scheme cannot read (a commit hash in an ECOSYSTEM range)
        // cannot be judged, nor can an installed version it cannot read.
        let scheme = match r.kind.as_str() {
            "SEMVER" => Ecosystem::Npm,
            _ => ecosystem,
        };
        let readable = |v: &str| version::parses(scheme, v);
        if !readable(installed)
            || r.events.iter().any(|e| {
                let v = event_version(e);
                v != "0" && v != "*" && !readable(v)
            })
        {
            continue;
        }
        let verdict = match r.kind.as_str() {
            "SEMVER" => in_range(installed, "SEMVER", &r.events, &version::semver::compare),
            "ECOSYSTEM" if eco_cmp("0", "0").is_some() => {
                in_range(installed, "ECOSYSTEM", &r.events, &|a, b| {
                    eco_cmp(a, b).unwrap_or(Ordering::Equal)
                })
            }
            _ => None,
        };
        if verdict.is_some() {
            return verdict;
        }
    }
    let listed = affected
        .versions
        .iter()
        .any(|v| match eco_cmp(v, installed) {
            Some(o) => o == Ordering::Equal,
            None => v == installed,
        });
    listed.then(|| Verdict {
        rule: format!("installed {installed} is listed as affected"),
        fixed: affected
            .fixed_versions()
            .filter(|f| eco_cmp(installed, f).is_none_or(|o| o == Ordering::Less))
            .min_by(|a, b| eco_cmp(a, b).unwrap_or(Ordering::Equal))
            .map(str::to_string),
    })
}

/// The finding identity of a language package: `pypi/django`, `npm/@babel/core`.
pub fn component(p: &InstalledPackage) -> String {
    format!("{}/{}", p.ecosystem.as_str(), p.name)
}

/// Judges language packages by OSV advisories. A finding is named by the advisory's CVE alias
/// when it has one (so that EPSS, KEV and every other source about that CVE apply), else by the
/// advisory id; two advisories for the same CVE and package make one finding.
pub fn match_osv(packages: &[InstalledPackage], advisories: &[Advisory]) -> Vec<Detection> {
    // (ecosystem, key) → installed packages of that name.
    let mut by_name: HashMap<(&str, String), Vec<&InstalledPackage>> = HashMap::new();
    for p in packages {
        if let Some(eco) = p.ecosystem.osv_name() {
            by_name
                .entry((eco, p.ecosystem.package_key(&p.name)))
                .or_default()
                .push(p);
        }
    }
    let mut out: BTreeMap<(String, String), Detection> = BTreeMap::new();
    let mut ordered: Vec<&Advisory> = advisories.iter().filter(|a| !a.withdrawn).collect();
    ordered.sort_by(|a, b| a.id.as_str().cmp(b.id.as_str()));
    for adv in ordered {
        let vuln_id = adv
            .aliases
            .iter()
            .filter(|a| a.as_str().starts_with("CVE-"))
            .min_by(|a, b| a.as_str().cmp(b.as_str()))
            .unwrap_or(&adv.id)
            .clone();
        for aff in &adv.affected {
            let Some(eco) = Ecosystem::from_osv(&aff.ecosystem) else {
                continue;
            };
            let Some(installed) = by_name.get(&(
                eco.osv_name().unwrap_or_default(),
                eco.package_key(&aff.name),
            )) else {
                continue;
            };
            for p in installed {
                let Some(verdict) = affects(eco, aff, &p.version) else {
                    continue;
                };
                let component = component(p);
                let key = (component.clone(), vuln_id.as_str().to_string());
                // One finding per CVE and package; an advisory that knows the fix wins.
                if out
                    .get(&key)
                    .is_some_and(|d| d.evidence.fixed_version.is_some() || verdict.fixed.is_none())
                {
                    continue;
                }
                let source = format!(
                    "osv:{}",
                    adv.id
                        .as_str()
                        .split('-')
                        .next()
                        .unwrap_or("osv")
                        .to_ascii_lowercase()
                );
                out.insert(
                    key,
                    Detection {
                        vuln_id: vuln_id.clone(),
                        evidence: Evidence {
                            component_kind: ComponentKind::Package,
                            component,
                            package_id: None,
                            service_id: None,
                            installed_version: Some(p.version.clone()),
                            fixed_version: verdict.fixed,
                            source,
                            rule: format!("{}: {}", aff.ecosystem, verdict.rule),
                            advisory: Some(adv.id.as_str().to_string()),
                            confidence: Confidence::Medium,
                        },
                    },
                );
            }
        }
    }
    out.into_values().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use vantage_domain::VersionRange;

    fn range(kind: &str, events: &[(&str, &str)]) -> VersionRange {
        VersionRange {
            kind: kind.into(),
            repo: None,
            events: events
                .iter()
                .map(|(k, v)| match *k {
                    "introduced" => RangeEvent::Introduced((*v).into()),
                    "fixed" => RangeEvent::Fixed((*v).into()),
                    "last_affected" => RangeEvent::LastAffected((*v).into()),
                    _ => RangeEvent::Limit((*v).into()),
                })
                .collect(),
        }
    }

    fn affected(
        eco: &str,
        name: &str,
        ranges: Vec<VersionRange>,
        versions: &[&str],
    ) -> AffectedPackage {
        AffectedPackage {
            ecosystem: eco.into(),
            name: name.into(),
            purl: None,
            ranges,
            versions: versions.iter().map(|v| (*v).into()).collect(),
        }
    }

    fn pkg(e: Ecosystem, name: &str, version: &str) -> InstalledPackage {
        InstalledPackage {
            ecosystem: e,
            name: name.into(),
            version: version.into(),
            arch: None,
            source_name: name.into(),
            source_version: version.into(),
        }
    }

    #[test]
    fn range_events_follow_the_osv_schema() {
        let a = affected(
            "PyPI",
            "django",
            vec![range(
                "ECOSYSTEM",
                &[
                    ("introduced", "0"),
                    ("fixed", "3.2.19"),
                    ("introduced", "4.0"),
                    ("fixed", "4.1.9"),
                    ("introduced", "4.2a1"),
                    ("last_affected", "4.2.1"),
                ],
            )],
            &[],
        );
        let at = |v: &str| affects(Ecosystem::Pypi, &a, v);
        assert_eq!(at("3.2.18").unwrap().fixed.as_deref(), Some("3.2.19"));
        assert!(at("3.2.19").is_none(), "fixed is exclusive");
        assert!(at("3.2.20").is_none());
        assert!(at("4.0").is_some(), "introduced is inclusive");
        assert!(
            at("4.0rc1").is_none(),
            "a pre-release of 4.0 comes before it"
        );
        assert_eq!(
            at("4.1.8").unwrap().rule,
            "introduced 4.0 <= installed 4.1.8 < fixed 4.1.9 (ECOSYSTEM range)"
        );
        assert!(at("4.2.1").is_some(), "last_affected is inclusive");
        assert_eq!(at("4.2.1").unwrap().fixed, None);
        assert!(at("4.2.2").is_none());
        // Events out of order are sorted first.
        let b = affected(
            "Go",
            "example.com/m",
            vec![range(
                "SEMVER",
                &[("fixed", "1.5.0"), ("introduced", "1.2.0")],
            )],
            &[],
        );
        assert!(affects(Ecosystem::Golang, &b, "1.3.0").is_some());
        assert!(affects(Ecosystem::Golang, &b, "1.1.0").is_none());
        // A limit caps the range.
        let c = affected(
            "crates.io",
            "x",
            vec![range("SEMVER", &[("introduced", "0"), ("limit", "2.0.0")])],
            &[],
        );
        assert!(affects(Ecosystem::Cargo, &c, "1.9.9").is_some());
        assert!(affects(Ecosystem::Cargo, &c, "2.0.0").is_none());
        // GIT ranges are skipped; explicit versions match exactly.
        let d = affected(
            "PyPI",
            "x",
            vec![range("GIT", &[("introduced", "0"), ("fixed", "abc123")])],
            &["1.0", "1.1"],
        );
        assert!(
            affects(Ecosystem::Pypi, &d, "1.0.0").is_some(),
            "1.0.0 == 1.0"
        );
        assert!(affects(Ecosystem::Pypi, &d, "1.2").is_none());
        // Maven's own ordering: 2.15.0 < 2.17.1 (log4j-style ranges).
        let e = affected(
            "Maven",
            "org.apache.logging.log4j:log4j-core",
            vec![range(
                "ECOSYSTEM",
                &[("introduced", "2.0-beta9"), ("fixed", "2.15.0")],
            )],
            &[],
        );
        assert!(affects(Ecosystem::Maven, &e, "2.14.1").is_some());
        assert!(affects(Ecosystem::Maven, &e, "2.0-alpha1").is_none());
        assert!(affects(Ecosystem::Maven, &e, "2.17.1").is_none());
    }

    #[test]
    fn advisories_become_findings_named_by_their_cve() {
        let adv = |id: &str, aliases: &[&str], aff: AffectedPackage| Advisory {
            id: id.parse().unwrap(),
            aliases: aliases.iter().map(|a| a.parse().unwrap()).collect(),
            withdrawn: false,
            affected: vec![aff],
        };
        let r = || range("ECOSYSTEM", &[("introduced", "0"), ("fixed", "2.31.0")]);
        let advisories = vec![
            adv(
                "GHSA-j8r2-6x86-q33q",
                &["CVE-2023-32681", "PYSEC-2023-74"],
                affected("PyPI", "requests", vec![r()], &[]),
            ),
            adv(
                "PYSEC-2023-74",
                &["CVE-2023-32681", "GHSA-j8r2-6x86-q33q"],
                affected("PyPI", "requests", vec![r()], &[]),
            ),
            adv(
                "GHSA-xxxx-xxxx-xxxx",
                &[],
                affected("PyPI", "Typing_Extensions", vec![r()], &[]),
            ),
            Advisory {
                withdrawn: true,
                ..adv(
                    "GHSA-yyyy-yyyy-yyyy",
                    &[],
                    affected("PyPI", "requests", vec![r()], &[]),
                )
            },
        ];
        let found = match_osv(
            &[
                pkg(Ecosystem::Pypi, "requests", "2.28.1"),
                pkg(Ecosystem::Pypi, "typing-extensions", "2.0"),
                pkg(Ecosystem::Npm, "requests", "1.0.0"),
            ],
            &advisories,
        );
        let got: Vec<(&str, &str)> = found
            .iter()
            .map(|d| (d.evidence.component.as_str(), d.vuln_id.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("pypi/requests", "CVE-2023-32681"),
                ("pypi/typing-extensions", "GHSA-xxxx-xxxx-xxxx")
            ]
        );
        let e = &found[0].evidence;
        assert_eq!(e.advisory.as_deref(), Some("GHSA-j8r2-6x86-q33q"));
        assert_eq!(e.fixed_version.as_deref(), Some("2.31.0"));
        assert_eq!(e.confidence, Confidence::Medium);
        assert_eq!(e.source, "osv:ghsa");
        assert_eq!(
            e.rule,
            "PyPI: installed 2.28.1 < fixed 2.31.0 (ECOSYSTEM range)"
        );
    }
}
