//! Version schemes with their exact ordering: each module implements one ecosystem's rules as
//! its own tool does.

pub mod apk;
pub mod dpkg;
pub mod maven;
pub mod pep440;
pub mod rpm;
pub mod semver;

use std::cmp::Ordering;

use vantage_domain::Ecosystem;

/// Compares two versions under an ecosystem's rules; `None` when Vantage has no scheme for it
/// yet (RubyGems, NuGet, Packagist, generic).
pub fn compare(ecosystem: Ecosystem, a: &str, b: &str) -> Option<Ordering> {
    match ecosystem {
        Ecosystem::Deb => Some(dpkg::compare(a, b)),
        Ecosystem::Apk => Some(apk::compare(a, b)),
        Ecosystem::Rpm => Some(rpm::compare(a, b)),
        // Go module versions are SemVer with a `v` and an optional `+incompatible` (build
        // metadata, ignored); pseudo-versions are ordinary pre-releases.
        Ecosystem::Npm | Ecosystem::Cargo | Ecosystem::Golang => Some(semver::compare(a, b)),
        Ecosystem::Pypi => Some(pep440::compare(a, b)),
        Ecosystem::Maven => Some(maven::compare(a, b)),
        _ => None,
    }
}

/// Whether a version is valid in an ecosystem's scheme (schemes that order any string, such as
/// dpkg's and Maven's, accept everything).
pub fn parses(ecosystem: Ecosystem, v: &str) -> bool {
    match ecosystem {
        Ecosystem::Npm | Ecosystem::Cargo | Ecosystem::Golang => semver::parse(v).is_some(),
        Ecosystem::Pypi => pep440::parse(v).is_some(),
        _ => !v.trim().is_empty(),
    }
}

/// A total order for strings that no scheme parses: runs of digits compare as numbers, other
/// runs as text.
pub fn natural(a: &str, b: &str) -> Ordering {
    fn runs(s: &str) -> Vec<(bool, &str)> {
        let mut out = Vec::new();
        let mut start = 0;
        let bytes = s.as_bytes();
        for i in 1..=bytes.len() {
            if i == bytes.len() || bytes[i].is_ascii_digit() != bytes[start].is_ascii_digit() {
                out.push((bytes[start].is_ascii_digit(), &s[start..i]));
                start = i;
            }
        }
        out
    }
    let (x, y) = (runs(a), runs(b));
    for (p, q) in x.iter().zip(&y) {
        let o = match (p, q) {
            ((true, m), (true, n)) => {
                let (m, n) = (m.trim_start_matches('0'), n.trim_start_matches('0'));
                m.len().cmp(&n.len()).then_with(|| m.cmp(n))
            }
            ((_, m), (_, n)) => m.cmp(n),
        };
        if o != Ordering::Equal {
            return o;
        }
    }
    x.len().cmp(&y.len()).then_with(|| a.cmp(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn natural_order() {
        assert_eq!(natural("r10", "r9"), Ordering::Greater);
        assert_eq!(natural("abc", "abd"), Ordering::Less);
        assert_eq!(natural("", ""), Ordering::Equal);
        assert_eq!(natural("1a", "1"), Ordering::Greater);
    }
}
