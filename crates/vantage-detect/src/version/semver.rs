//! Semantic Versioning 2.0.0 precedence (npm, crates.io, Go modules, OSV `SEMVER` ranges) and
//! the range syntaxes of npm (`>=1.2.0 <1.4.0 || ^2.0.0`, hyphen and x-ranges) and Cargo
//! (`>=1.2, <1.4`, a bare `1.2` meaning `^1.2`).
//!
//! Parsing is lenient the way the ecosystems are: a leading `v` or `=`, missing minor or patch
//! (`1.2` is `1.2.0`), and build metadata (ignored for precedence). A string that is not a
//! version at all orders by [`super::natural`] so that comparison stays total.

use std::cmp::Ordering;

/// One pre-release identifier: numeric ones sort before alphanumeric ones.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Ident {
    Num(u64),
    Alpha(String),
}

/// A parsed semantic version (build metadata dropped).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    /// Major.
    pub major: u64,
    /// Minor.
    pub minor: u64,
    /// Patch.
    pub patch: u64,
    pre: Vec<Ident>,
}

impl Version {
    /// Whether it has a pre-release part (`1.0.0-rc.1`).
    pub fn is_prerelease(&self) -> bool {
        !self.pre.is_empty()
    }

    fn triple(&self) -> (u64, u64, u64) {
        (self.major, self.minor, self.patch)
    }
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        self.triple().cmp(&other.triple()).then_with(|| {
            match (self.pre.is_empty(), other.pre.is_empty()) {
                (true, true) => Ordering::Equal,
                (true, false) => Ordering::Greater,
                (false, true) => Ordering::Less,
                (false, false) => self.pre.cmp(&other.pre),
            }
        })
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// A version with up to three numeric parts, some possibly wildcards (`1.x`, `1.2.*`, `1`).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Partial {
    parts: Vec<u64>,
    pre: Vec<Ident>,
}

fn parse_partial(s: &str) -> Option<Partial> {
    let s = s.trim();
    let s = s.strip_prefix('=').unwrap_or(s).trim_start();
    let s = s
        .strip_prefix('v')
        .or_else(|| s.strip_prefix('V'))
        .unwrap_or(s);
    let s = s.split_once('+').map_or(s, |(v, _build)| v);
    let (core, pre) = match s.split_once('-') {
        Some((c, p)) => (c, Some(p)),
        None => (s, None),
    };
    let mut parts = Vec::new();
    for (i, p) in core.split('.').enumerate() {
        if i >= 3 {
            return None;
        }
        if matches!(p, "x" | "X" | "*") {
            break;
        }
        if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        parts.push(p.parse().ok()?);
    }
    let pre = match pre {
        None => Vec::new(),
        Some(p) => {
            let mut out = Vec::new();
            for id in p.split('.') {
                if id.is_empty() || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
                    return None;
                }
                out.push(if id.bytes().all(|b| b.is_ascii_digit()) {
                    Ident::Num(id.parse().ok()?)
                } else {
                    Ident::Alpha(id.to_string())
                });
            }
            out
        }
    };
    Some(Partial { parts, pre })
}

/// Parses a version leniently (`v1.2`, `1.2.3-rc.1+build`); `None` when it is not one.
pub fn parse(s: &str) -> Option<Version> {
    let p = parse_partial(s)?;
    if p.parts.is_empty() {
        return None;
    }
    Some(Version {
        major: p.parts[0],
        minor: p.parts.get(1).copied().unwrap_or(0),
        patch: p.parts.get(2).copied().unwrap_or(0),
        pre: p.pre,
    })
}

/// Compares two versions by SemVer precedence; strings that are not versions order after
/// versions and among themselves naturally.
pub fn compare(a: &str, b: &str) -> Ordering {
    match (parse(a), parse(b)) {
        (Some(x), Some(y)) => x.cmp(&y),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => super::natural(a, b),
    }
}

/// Which ecosystem's range syntax.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    /// npm / node-semver: space-separated comparators, `||`, hyphen ranges; a bare version is
    /// exact.
    Npm,
    /// Cargo: comma-separated comparators; a bare version is a caret requirement.
    Cargo,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Eq,
    Lt,
    Le,
    Gt,
    Ge,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Comparator {
    op: Op,
    version: Version,
}

impl Comparator {
    fn matches(&self, v: &Version) -> bool {
        let o = v.cmp(&self.version);
        match self.op {
            Op::Eq => o == Ordering::Equal,
            Op::Lt => o == Ordering::Less,
            Op::Le => o != Ordering::Greater,
            Op::Gt => o == Ordering::Greater,
            Op::Ge => o != Ordering::Less,
        }
    }
}

/// A version requirement: alternatives (`||`) of comparator sets, all of which must hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Range {
    sets: Vec<Vec<Comparator>>,
}

fn version_of(parts: &[u64], pre: Vec<Ident>) -> Version {
    Version {
        major: parts.first().copied().unwrap_or(0),
        minor: parts.get(1).copied().unwrap_or(0),
        patch: parts.get(2).copied().unwrap_or(0),
        pre,
    }
}

/// The first version past a partial's wildcard: `1.2` → `1.3.0-0`, `1` → `2.0.0-0`.
fn bump(parts: &[u64]) -> Version {
    let mut p = parts.to_vec();
    if let Some(last) = p.last_mut() {
        *last += 1;
    }
    version_of(&p, vec![Ident::Num(0)])
}

fn floor(p: &Partial) -> Version {
    version_of(&p.parts, p.pre.clone())
}

fn caret(p: &Partial) -> Vec<Comparator> {
    let lo = Comparator {
        op: Op::Ge,
        version: floor(p),
    };
    // The upper bound bumps the first non-zero part (or the last given one).
    let upper = match p.parts.as_slice() {
        [] => return vec![],
        [0] => bump(&[0]),
        [0, 0] => bump(&[0, 0]),
        [0, 0, z] => bump(&[0, 0, *z]),
        [0, y, ..] => bump(&[0, *y]),
        [x, ..] => bump(&[*x]),
    };
    vec![
        lo,
        Comparator {
            op: Op::Lt,
            version: upper,
        },
    ]
}

fn tilde(p: &Partial) -> Vec<Comparator> {
    let lo = Comparator {
        op: Op::Ge,
        version: floor(p),
    };
    let upper = match p.parts.as_slice() {
        [] => return vec![],
        [x] => bump(&[*x]),
        [x, y, ..] => bump(&[*x, *y]),
    };
    vec![
        lo,
        Comparator {
            op: Op::Lt,
            version: upper,
        },
    ]
}

/// An x-range or exact version: `1.2.x` → `>=1.2.0 <1.3.0-0`; `*` → anything.
fn exact(p: &Partial) -> Vec<Comparator> {
    if p.parts.len() == 3 {
        return vec![Comparator {
            op: Op::Eq,
            version: floor(p),
        }];
    }
    if p.parts.is_empty() {
        return vec![];
    }
    vec![
        Comparator {
            op: Op::Ge,
            version: floor(p),
        },
        Comparator {
            op: Op::Lt,
            version: bump(&p.parts),
        },
    ]
}

fn primitive(op: &str, p: &Partial) -> Vec<Comparator> {
    if p.parts.is_empty() {
        // `<*` matches nothing, `>=*` everything.
        return match op {
            "<" | ">" => vec![Comparator {
                op: Op::Lt,
                version: version_of(&[0, 0, 0], vec![Ident::Num(0)]),
            }],
            _ => vec![],
        };
    }
    let full = p.parts.len() == 3;
    let c = |op, version| Comparator { op, version };
    match op {
        ">=" => vec![c(Op::Ge, floor(p))],
        "<" => vec![c(Op::Lt, floor(p))],
        // `>1.2` is `>=1.3.0`; `<=1.2` is `<1.3.0-0`.
        ">" if full => vec![c(Op::Gt, floor(p))],
        ">" => vec![c(Op::Ge, bump(&p.parts))],
        "<=" if full => vec![c(Op::Le, floor(p))],
        "<=" => vec![c(Op::Lt, bump(&p.parts))],
        _ => exact(p),
    }
}

fn bad(range: &str, why: &str) -> String {
    format!("{range:?} is not a version range: {why}")
}

impl Range {
    /// Parses a requirement in an ecosystem's syntax.
    pub fn parse(range: &str, flavor: Flavor) -> Result<Range, String> {
        let mut sets = Vec::new();
        let alternatives: Vec<&str> = match flavor {
            Flavor::Npm => range.split("||").collect(),
            Flavor::Cargo => vec![range],
        };
        for alt in alternatives {
            let alt = alt.trim();
            let mut set = Vec::new();
            // Hyphen range: `1.2.3 - 2.3.4`.
            if flavor == Flavor::Npm
                && let Some((lo, hi)) = alt.split_once(" - ")
            {
                let lo = parse_partial(lo).ok_or_else(|| bad(range, "bad lower bound"))?;
                let hi = parse_partial(hi).ok_or_else(|| bad(range, "bad upper bound"))?;
                if !lo.parts.is_empty() {
                    set.push(Comparator {
                        op: Op::Ge,
                        version: floor(&lo),
                    });
                }
                set.extend(primitive("<=", &hi));
                sets.push(set);
                continue;
            }
            let tokens = tokens(alt, flavor).map_err(|e| bad(range, &e))?;
            for (op, v) in tokens {
                let p = parse_partial(&v).ok_or_else(|| bad(range, &format!("{v:?}")))?;
                set.extend(match op.as_str() {
                    "^" => caret(&p),
                    "~" | "~>" => tilde(&p),
                    "" if flavor == Flavor::Cargo => caret(&p),
                    "" | "=" => exact(&p),
                    op => primitive(op, &p),
                });
            }
            sets.push(set);
        }
        Ok(Range { sets })
    }

    /// Whether a version satisfies the requirement. A pre-release only matches a set that names
    /// a pre-release of the same `major.minor.patch` (npm's and Cargo's rule).
    pub fn matches(&self, version: &str) -> bool {
        let Some(v) = parse(version) else {
            return false;
        };
        self.sets.iter().any(|set| {
            set.iter().all(|c| c.matches(&v))
                && (!v.is_prerelease()
                    || set
                        .iter()
                        .any(|c| c.version.is_prerelease() && c.version.triple() == v.triple()))
        })
    }
}

/// Splits a comparator set into (operator, version) pairs; operators may be separated from
/// their version by blanks (`>= 1.2`).
fn tokens(set: &str, flavor: Flavor) -> Result<Vec<(String, String)>, String> {
    let words: Vec<&str> = match flavor {
        Flavor::Npm => set.split_whitespace().collect(),
        Flavor::Cargo => set.split(',').map(str::trim).collect(),
    };
    let mut out = Vec::new();
    let mut pending: Option<String> = None;
    for w in words {
        if w.is_empty() {
            if flavor == Flavor::Cargo {
                return Err("empty comparator".into());
            }
            continue;
        }
        let op_len = w
            .bytes()
            .take_while(|b| matches!(b, b'<' | b'>' | b'=' | b'^' | b'~'))
            .count();
        let (op, rest) = w.split_at(op_len);
        let rest = rest.trim();
        if let Some(p) = pending.take() {
            if !op.is_empty() {
                return Err(format!("operator {p:?} without a version"));
            }
            out.push((p, rest.to_string()));
        } else if rest.is_empty() {
            pending = Some(op.to_string());
        } else {
            out.push((op.to_string(), rest.to_string()));
        }
    }
    if let Some(p) = pending {
        return Err(format!("operator {p:?} without a version"));
    }
    for (op, _) in &out {
        if !matches!(
            op.as_str(),
            "" | "=" | "<" | "<=" | ">" | ">=" | "^" | "~" | "~>"
        ) {
            return Err(format!("unknown operator {op:?}"));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use Ordering::*;

    #[test]
    fn precedence_follows_semver_2() {
        // The chain from semver.org §11.
        let chain = [
            "1.0.0-alpha",
            "1.0.0-alpha.1",
            "1.0.0-alpha.beta",
            "1.0.0-beta",
            "1.0.0-beta.2",
            "1.0.0-beta.11",
            "1.0.0-rc.1",
            "1.0.0",
            "2.0.0",
            "2.1.0",
            "2.1.1",
        ];
        for w in chain.windows(2) {
            assert_eq!(compare(w[0], w[1]), Less, "{} < {}", w[0], w[1]);
            assert_eq!(compare(w[1], w[0]), Greater);
        }
        assert_eq!(compare("1.0.0+build.1", "1.0.0+build.2"), Equal);
        assert_eq!(compare("v1.2", "1.2.0"), Equal);
        assert_eq!(compare("1.10.0", "1.9.0"), Greater);
        assert_eq!(
            compare(
                "0.0.0-20210101000000-abcdef123456",
                "0.0.0-20220101000000-abcdef123456"
            ),
            Less
        );
    }

    #[test]
    fn npm_ranges() {
        let r = |s| Range::parse(s, Flavor::Npm).unwrap();
        // node-semver's own examples.
        assert!(r("<=1.5.1").matches("1.5.1"));
        assert!(!r("<=1.5.1").matches("1.5.2"));
        assert!(r(">=1.2.7 <1.3.0").matches("1.2.8"));
        assert!(!r(">=1.2.7 <1.3.0").matches("1.3.0"));
        assert!(r("1.2.7 || >=1.2.9 <2.0.0").matches("1.4.6"));
        assert!(!r("1.2.7 || >=1.2.9 <2.0.0").matches("1.2.8"));
        assert!(r("1.2.3 - 2.3.4").matches("2.3.4"));
        assert!(r("1.2.3 - 2.3").matches("2.3.9"));
        assert!(!r("1.2.3 - 2.3").matches("2.4.0"));
        assert!(r("1.x").matches("1.9.9"));
        assert!(!r("1.x").matches("2.0.0"));
        assert!(r("*").matches("0.0.1"));
        assert!(r("~1.2.3").matches("1.2.9"));
        assert!(!r("~1.2.3").matches("1.3.0"));
        assert!(r("~1").matches("1.9.0"));
        assert!(r("^1.2.3").matches("1.9.0"));
        assert!(!r("^1.2.3").matches("2.0.0"));
        assert!(r("^0.2.3").matches("0.2.9"));
        assert!(!r("^0.2.3").matches("0.3.0"));
        assert!(!r("^0.0.3").matches("0.0.4"));
        assert!(r(">= 2.0.0").matches("2.1.0"));
        assert!(
            !r("<2.0.0").matches("2.0.0-rc.1"),
            "pre-release outside its tuple"
        );
        assert!(r(">1.2.3-alpha.3").matches("1.2.3-alpha.7"));
        assert!(!r(">1.2.3-alpha.3").matches("3.4.5-alpha.9"));
        assert!(r(">1.2").matches("1.3.0"));
        assert!(!r(">1.2").matches("1.2.9"));
        assert!(r("<=1.2").matches("1.2.9"));
        assert!(Range::parse(">= ", Flavor::Npm).is_err());
        assert!(Range::parse("1.2.3.4", Flavor::Npm).is_err());
        assert!(Range::parse("!1.2", Flavor::Npm).is_err());
    }

    #[test]
    fn cargo_ranges() {
        let r = |s| Range::parse(s, Flavor::Cargo).unwrap();
        assert!(r("1.2").matches("1.9.0"), "a bare version is a caret");
        assert!(!r("1.2").matches("2.0.0"));
        assert!(r(">=0.4.0, <0.4.7").matches("0.4.6"));
        assert!(!r(">=0.4.0, <0.4.7").matches("0.4.7"));
        assert!(r("=1.0.5").matches("1.0.5"));
        assert!(r("~1.2").matches("1.2.7"));
        assert!(Range::parse(">=1.0,,<2", Flavor::Cargo).is_err());
    }
}
