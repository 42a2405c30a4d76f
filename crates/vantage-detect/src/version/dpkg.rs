//! Debian version ordering, as `dpkg --compare-versions` (dpkg's `verrevcmp`): `[epoch:]upstream[-revision]`;
//! non-digit runs compare character by character with letters before other characters and `~`
//! before everything (even the end), digit runs compare numerically (any length).

use std::cmp::Ordering;

/// Weight of a character in a non-digit run.
fn order(c: Option<u8>) -> i32 {
    match c {
        None => 0,
        Some(c) if c.is_ascii_digit() => 0,
        Some(c) if c.is_ascii_alphabetic() => i32::from(c),
        Some(b'~') => -1,
        Some(c) => i32::from(c) + 256,
    }
}

/// dpkg's `verrevcmp` over one part (upstream or revision).
fn verrevcmp(a: &[u8], b: &[u8]) -> Ordering {
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        while (i < a.len() && !a[i].is_ascii_digit()) || (j < b.len() && !b[j].is_ascii_digit()) {
            let (ac, bc) = (order(a.get(i).copied()), order(b.get(j).copied()));
            if ac != bc {
                return ac.cmp(&bc);
            }
            i += 1;
            j += 1;
        }
        while i < a.len() && a[i] == b'0' {
            i += 1;
        }
        while j < b.len() && b[j] == b'0' {
            j += 1;
        }
        let mut first_diff = Ordering::Equal;
        while i < a.len() && a[i].is_ascii_digit() && j < b.len() && b[j].is_ascii_digit() {
            if first_diff == Ordering::Equal {
                first_diff = a[i].cmp(&b[j]);
            }
            i += 1;
            j += 1;
        }
        if i < a.len() && a[i].is_ascii_digit() {
            return Ordering::Greater;
        }
        if j < b.len() && b[j].is_ascii_digit() {
            return Ordering::Less;
        }
        if first_diff != Ordering::Equal {
            return first_diff;
        }
    }
    Ordering::Equal
}

/// A version split into epoch, upstream version and revision.
fn split(v: &str) -> (u64, &str, &str) {
    let v = v.trim();
    let (epoch, rest) = match v.split_once(':') {
        Some((e, r)) if !e.is_empty() && e.bytes().all(|b| b.is_ascii_digit()) => {
            (e.parse().unwrap_or(u64::MAX), r)
        }
        _ => (0, v),
    };
    match rest.rsplit_once('-') {
        Some((upstream, revision)) => (epoch, upstream, revision),
        None => (epoch, rest, ""),
    }
}

/// Compares two Debian versions.
pub fn compare(a: &str, b: &str) -> Ordering {
    let (ea, ua, ra) = split(a);
    let (eb, ub, rb) = split(b);
    ea.cmp(&eb)
        .then_with(|| verrevcmp(ua.as_bytes(), ub.as_bytes()))
        .then_with(|| verrevcmp(ra.as_bytes(), rb.as_bytes()))
}

/// Checks the syntax dpkg accepts: an optional numeric epoch, an upstream version that starts
/// with a digit, and characters from `[A-Za-z0-9.+~:-]` (revision: `[A-Za-z0-9.+~]`).
pub fn validate(v: &str) -> Result<(), String> {
    let (_, upstream, revision) = split(v);
    if v.trim().is_empty() {
        return Err("empty version".into());
    }
    if !upstream.bytes().next().is_some_and(|b| b.is_ascii_digit()) {
        return Err(format!("version {v:?} does not start with a digit"));
    }
    let bad = |s: &str, extra: &[u8]| {
        s.bytes()
            .find(|b| !(b.is_ascii_alphanumeric() || b".+~".contains(b) || extra.contains(b)))
    };
    if let Some(c) = bad(upstream, b"-:").or(bad(revision, b"")) {
        return Err(format!("version {v:?} contains {:?}", c as char));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use Ordering::*;

    #[test]
    fn debian_policy_examples() {
        for (a, b, want) in [
            ("1.0", "1.0", Equal),
            ("1.0~rc1", "1.0", Less),
            ("1.0~~", "1.0~", Less),
            ("1.0~", "1.0", Less),
            ("1.0", "1.0a", Less),
            ("1.0a", "1.0+", Less),
            ("1:0.1", "2.0", Greater),
            ("1.0-1", "1.0-2", Less),
            ("1.0-1", "1.0", Greater),
            ("1.0", "1.0-0", Equal),
            ("1.1.1n-0+deb11u3", "1.1.1n-0+deb11u4", Less),
            ("2.36-9+deb12u4", "2.36-9+deb12u10", Less),
            ("1.2.3", "1.2.10", Less),
            ("1.002", "1.2", Equal),
            ("123456789012345678901", "123456789012345678902", Less),
            ("0:1.0", "1.0", Equal),
            ("1.0-1ubuntu0.1", "1.0-1", Greater),
            ("7.88.1-10+deb12u5", "7.88.1-10+deb12u12", Less),
        ] {
            assert_eq!(compare(a, b), want, "{a} vs {b}");
            assert_eq!(compare(b, a), want.reverse(), "{b} vs {a}");
        }
    }

    #[test]
    fn syntax() {
        assert!(validate("1:2.3-4ubuntu1~22.04").is_ok());
        assert!(validate("abc").is_err());
        assert!(validate("1.0 beta").is_err());
        assert!(validate("").is_err());
    }
}
