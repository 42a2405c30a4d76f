//! Python versions as PEP 440 orders them (and as `packaging.version.Version` implements it):
//! `[N!]N(.N)*[{a|b|rc}N][.postN][.devN][+local]`, with the normalisations the PEP allows
//! (`alpha`, `c`, `pre`, `rev`, `r`, `-N` post-releases, separators, upper case, a leading `v`).
//!
//! Ordering: epoch, then the release with trailing zeros ignored, then dev-only releases before
//! pre-releases before the final release before post-releases; a local label sorts after the
//! same public version. Strings that are not PEP 440 versions order after every valid version
//! and among themselves naturally (modern `packaging` refuses them).

use std::cmp::Ordering;

/// A parsed PEP 440 version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    epoch: u64,
    release: Vec<u64>,
    /// (0 = a, 1 = b, 2 = rc, number).
    pre: Option<(u8, u64)>,
    post: Option<u64>,
    dev: Option<u64>,
    local: Vec<Local>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Local {
    Num(u64),
    Str(String),
}

impl Ord for Local {
    fn cmp(&self, other: &Self) -> Ordering {
        // Numeric segments sort after alphanumeric ones.
        match (self, other) {
            (Local::Num(a), Local::Num(b)) => a.cmp(b),
            (Local::Str(a), Local::Str(b)) => a.cmp(b),
            (Local::Num(_), Local::Str(_)) => Ordering::Greater,
            (Local::Str(_), Local::Num(_)) => Ordering::Less,
        }
    }
}

impl PartialOrd for Local {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// A number after an optional separator, as the PEP's implicit forms allow: returns the
/// number (0 when absent) and the rest.
fn number(s: &str) -> (Option<u64>, &str) {
    let t = s.strip_prefix(['.', '-', '_']).unwrap_or(s);
    let digits = t.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 {
        return (None, s);
    }
    (t[..digits].parse().ok(), &t[digits..])
}

fn strip_word<'a>(s: &'a str, words: &[&str]) -> Option<&'a str> {
    let t = s.strip_prefix(['.', '-', '_']).unwrap_or(s);
    words.iter().find_map(|w| t.strip_prefix(w))
}

/// Parses a version; `None` when it is not PEP 440.
pub fn parse(s: &str) -> Option<Version> {
    let s = s.trim().to_ascii_lowercase();
    let s = s.strip_prefix('v').unwrap_or(&s);
    let (public, local) = match s.split_once('+') {
        Some((p, l)) => (p, Some(l)),
        None => (s, None),
    };
    let (epoch, rest) = match public.split_once('!') {
        Some((e, r)) => (e.parse().ok()?, r),
        None => (0, public),
    };
    // Release: N(.N)*
    let mut release = Vec::new();
    let mut rest = rest;
    loop {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        release.push(rest[..digits].parse().ok()?);
        rest = &rest[digits..];
        match rest.strip_prefix('.') {
            Some(r) if r.starts_with(|c: char| c.is_ascii_digit()) => rest = r,
            _ => break,
        }
    }
    // Pre-release.
    let mut pre = None;
    // Longest words first: `alpha` before `a`, `preview` before `pre`, `rc` before `c`.
    let kinds: [(&[&str], u8); 3] = [
        (&["alpha", "a"], 0),
        (&["beta", "b"], 1),
        (&["rc", "c", "preview", "pre"], 2),
    ];
    'pre: for (words, k) in kinds {
        for w in words {
            if let Some(r) = strip_word(rest, &[w]) {
                let (n, r) = number(r);
                pre = Some((k, n.unwrap_or(0)));
                rest = r;
                break 'pre;
            }
        }
    }
    // Post-release: `.postN`, `-N`, `rev`, `r`.
    let mut post = None;
    if let Some(r) = strip_word(rest, &["post", "rev", "r"]) {
        let (n, r) = number(r);
        post = Some(n.unwrap_or(0));
        rest = r;
    } else if let Some(r) = rest.strip_prefix('-')
        && r.starts_with(|c: char| c.is_ascii_digit())
    {
        let (n, r) = number(r);
        post = n;
        rest = r;
    }
    // Development release.
    let mut dev = None;
    if let Some(r) = strip_word(rest, &["dev"]) {
        let (n, r) = number(r);
        dev = Some(n.unwrap_or(0));
        rest = r;
    }
    if !rest.is_empty() {
        return None;
    }
    let local = match local {
        None => Vec::new(),
        Some(l) => {
            let mut out = Vec::new();
            for part in l.split(['.', '-', '_']) {
                if part.is_empty() || !part.bytes().all(|b| b.is_ascii_alphanumeric()) {
                    return None;
                }
                out.push(if part.bytes().all(|b| b.is_ascii_digit()) {
                    Local::Num(part.parse().ok()?)
                } else {
                    Local::Str(part.to_string())
                });
            }
            out
        }
    };
    Some(Version {
        epoch,
        release,
        pre,
        post,
        dev,
        local,
    })
}

/// The ordering key of a public version: epoch, release, pre, post, dev; absent parts are
/// ranked explicitly (the `-inf` / `+inf` of `packaging`).
type Key = (u64, Vec<u64>, (i8, u8, u64), (i8, u64), (i8, u64));

fn key(v: &Version) -> Key {
    let mut release = v.release.clone();
    while release.len() > 1 && release.last() == Some(&0) {
        release.pop();
    }
    // Dev-only releases (1.0.dev1) sort before pre-releases (1.0a1).
    let pre = match (v.pre, v.post, v.dev) {
        (None, None, Some(_)) => (-1, 0, 0),
        (None, _, _) => (1, 0, 0),
        (Some((k, n)), _, _) => (0, k, n),
    };
    let post = v.post.map_or((-1, 0), |n| (0, n));
    let dev = v.dev.map_or((1, 0), |n| (0, n));
    (v.epoch, release, pre, post, dev)
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        key(self).cmp(&key(other)).then_with(|| {
            // No local label sorts before any local label.
            match (self.local.is_empty(), other.local.is_empty()) {
                (true, true) => Ordering::Equal,
                (true, false) => Ordering::Less,
                (false, true) => Ordering::Greater,
                (false, false) => self.local.cmp(&other.local),
            }
        })
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Compares two Python versions.
pub fn compare(a: &str, b: &str) -> Ordering {
    match (parse(a), parse(b)) {
        (Some(x), Some(y)) => x.cmp(&y),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => super::natural(a, b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Ordering::*;

    #[test]
    fn the_peps_example_order() {
        // PEP 440's "Summary of permitted suffixes and relative ordering".
        let chain = [
            "1.dev0",
            "1.0.dev456",
            "1.0a1",
            "1.0a2.dev456",
            "1.0a12.dev456",
            "1.0a12",
            "1.0b1.dev456",
            "1.0b2",
            "1.0b2.post345.dev456",
            "1.0b2.post345",
            "1.0rc1.dev456",
            "1.0rc1",
            "1.0",
            "1.0+abc.5",
            "1.0+abc.7",
            "1.0+5",
            "1.0.post456.dev34",
            "1.0.post456",
            "1.0.15",
            "1.1.dev1",
        ];
        for w in chain.windows(2) {
            assert_eq!(compare(w[0], w[1]), Less, "{} < {}", w[0], w[1]);
        }
        assert_eq!(compare("1.0", "1.0.0"), Equal);
        assert_eq!(compare("1.0-1", "1.0.post1"), Equal);
        assert_eq!(compare("1.0ALPHA1", "1.0a1"), Equal);
        assert_eq!(compare("1.0c1", "1.0rc1"), Equal);
        assert_eq!(compare("v1.0", "1.0"), Equal);
        assert_eq!(compare("1!1.0", "2.0"), Greater);
        assert!(parse("1.0-foo").is_none());
        assert!(parse("not a version").is_none());
        assert_eq!(compare("not a version", "99"), Greater);
    }
}
