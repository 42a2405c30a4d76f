//! Alpine version ordering, as apk-tools' `apk_version_compare`: dot-separated numbers (leading
//! zeros significant), an optional letter, `_alpha` / `_beta` / `_pre` / `_rc` suffixes (before
//! the release) and `_cvs` / `_svn` / `_git` / `_hg` / `_p` (after), each with an optional
//! number, then `-rN`.

use std::cmp::Ordering;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Token {
    Invalid,
    DigitOrZero,
    Digit,
    Letter,
    Suffix,
    SuffixNo,
    RevisionNo,
    End,
}

struct Tokens<'a> {
    s: &'a [u8],
    kind: Token,
}

const PRE: [&[u8]; 4] = [b"alpha", b"beta", b"pre", b"rc"];
const POST: [&[u8]; 5] = [b"cvs", b"svn", b"git", b"hg", b"p"];

impl Tokens<'_> {
    /// apk-tools' `next_token`: the kind of the token that starts here.
    fn next_kind(&mut self) {
        let prev = self.kind;
        let mut n = Token::Invalid;
        match self.s.first() {
            None => n = Token::End,
            Some(c)
                if matches!(prev, Token::Digit | Token::DigitOrZero) && c.is_ascii_lowercase() =>
            {
                n = Token::Letter
            }
            Some(c) if prev == Token::Letter && c.is_ascii_digit() => n = Token::Digit,
            Some(c) if prev == Token::Suffix && c.is_ascii_digit() => n = Token::SuffixNo,
            Some(c) => {
                match c {
                    b'.' => n = Token::DigitOrZero,
                    b'_' => n = Token::Suffix,
                    b'-' if self.s.get(1) == Some(&b'r') => {
                        n = Token::RevisionNo;
                        self.s = &self.s[1..];
                    }
                    _ => {}
                }
                self.s = &self.s[1..];
            }
        }
        if n < prev
            && !((n == Token::DigitOrZero && prev == Token::Digit)
                || (n == Token::Suffix && prev == Token::SuffixNo)
                || (n == Token::Digit && prev == Token::Letter))
        {
            n = Token::Invalid;
        }
        self.kind = n;
    }

    /// apk-tools' `get_token`: the value of the current token, advancing past it.
    fn value(&mut self) -> i64 {
        if self.s.is_empty() {
            self.kind = Token::End;
            return 0;
        }
        let mut i = 0;
        let mut v: i64 = 0;
        let mut next = Token::Invalid;
        match self.kind {
            // Leading zeros of a component (`1.01`) sort it before any number without them:
            // apk-tools gives them the value −(number of zeros) and reads the digits that
            // follow (possibly none: 0) as a token of their own.
            Token::DigitOrZero if self.s[0] == b'0' => {
                while i < self.s.len() && self.s[i] == b'0' {
                    i += 1;
                }
                next = Token::Digit;
                v = -(i as i64);
            }
            Token::DigitOrZero | Token::Digit | Token::SuffixNo | Token::RevisionNo => {
                while i < self.s.len() && self.s[i].is_ascii_digit() {
                    v = v
                        .saturating_mul(10)
                        .saturating_add(i64::from(self.s[i] - b'0'));
                    i += 1;
                }
            }
            Token::Letter => {
                v = i64::from(self.s[0]);
                i = 1;
            }
            Token::Suffix => {
                if let Some(k) = PRE.iter().position(|p| self.s.starts_with(p)) {
                    i = PRE[k].len();
                    v = k as i64 - PRE.len() as i64;
                } else if let Some(k) = POST.iter().position(|p| self.s.starts_with(p)) {
                    i = POST[k].len();
                    v = k as i64;
                } else {
                    self.kind = Token::Invalid;
                    return -1;
                }
            }
            _ => {
                self.kind = Token::Invalid;
                return -1;
            }
        }
        self.s = &self.s[i..];
        if self.s.is_empty() && next != Token::Digit {
            self.kind = Token::End;
        } else if next != Token::Invalid {
            self.kind = next;
        } else {
            self.next_kind();
        }
        v
    }
}

/// Compares two Alpine versions.
///
/// Follows apk-tools' tokenizer and comparison with two refinements that the reference
/// ordering (univers, and Alpine practice) needs: a component of only zeros at the very end
/// (`1.0`) still reads as the number 0 (so `1.0_rc1` < `1.0`), and `-r0` equals no revision.
pub fn compare(a: &str, b: &str) -> Ordering {
    let strip = |v: &str| {
        let v = v.trim();
        v.strip_suffix("-r0").unwrap_or(v).to_string()
    };
    let (a, b) = (strip(a), strip(b));
    let mut a = Tokens {
        s: a.as_bytes(),
        kind: Token::Digit,
    };
    let mut b = Tokens {
        s: b.as_bytes(),
        kind: Token::Digit,
    };
    let (mut av, mut bv) = (0, 0);
    while a.kind == b.kind && a.kind != Token::End && a.kind != Token::Invalid && av == bv {
        av = a.value();
        bv = b.value();
    }
    if av != bv {
        return av.cmp(&bv);
    }
    if a.kind == b.kind {
        return Ordering::Equal;
    }
    // Equal so far: the longer version is greater, unless what follows is a pre-release suffix.
    if a.kind == Token::Suffix {
        let mut t = Tokens {
            s: a.s,
            kind: Token::Suffix,
        };
        if t.value() < 0 {
            return Ordering::Less;
        }
    }
    if b.kind == Token::Suffix {
        let mut t = Tokens {
            s: b.s,
            kind: Token::Suffix,
        };
        if t.value() < 0 {
            return Ordering::Greater;
        }
    }
    // A later token kind means the version ended sooner there: smaller.
    b.kind.cmp(&a.kind)
}

/// Whether apk-tools would accept the version.
pub fn validate(v: &str) -> Result<(), String> {
    let mut t = Tokens {
        s: v.trim().as_bytes(),
        kind: Token::Digit,
    };
    if t.s.is_empty() || !t.s[0].is_ascii_digit() {
        return Err(format!("version {v:?} does not start with a digit"));
    }
    while t.kind != Token::End {
        t.value();
        if t.kind == Token::Invalid {
            return Err(format!("version {v:?} is not an apk version"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use Ordering::*;

    #[test]
    fn apk_tools_rules() {
        for (a, b, want) in [
            ("1.0", "1.0", Equal),
            ("1.0", "1.0-r1", Less),
            ("1.0-r1", "1.0-r2", Less),
            ("1.0-r10", "1.0-r9", Greater),
            ("1.0_alpha", "1.0", Less),
            ("1.0_alpha1", "1.0_alpha2", Less),
            ("1.0_alpha", "1.0_beta", Less),
            ("1.0_beta", "1.0_pre", Less),
            ("1.0_pre", "1.0_rc", Less),
            ("1.0_rc1", "1.0", Less),
            ("1.0", "1.0_p1", Less),
            ("1.0_p1", "1.0_p2", Less),
            ("1.0_cvs", "1.0_p", Less),
            ("1.0", "1.0a", Less),
            ("1.0a", "1.0b", Less),
            ("1.0", "1.0.1", Less),
            ("1.2", "1.10", Less),
            ("1.01", "1.1", Less),
            ("3.1.4-r5", "3.1.4-r10", Less),
            ("1.36.1-r15", "1.36.1-r19", Less),
            ("3.1.4-r5", "3.1.5-r0", Less),
            ("2.0", "1.99", Greater),
            ("1.0_rc1-r1", "1.0-r0", Less),
            ("20230101", "20230102", Less),
            ("1.0-r0", "1.0", Equal),
            ("10.0.0-r1", "10.02.0-r0", Less),
            // apk-tools: more leading zeros sort first.
            ("8.0.0056-r0", "8.0.0-r6", Less),
        ] {
            assert_eq!(compare(a, b), want, "{a} vs {b}");
            assert_eq!(compare(b, a), want.reverse(), "{b} vs {a}");
        }
    }

    #[test]
    fn syntax() {
        assert!(validate("1.36.1-r19").is_ok());
        assert!(validate("1.0_rc1-r2").is_ok());
        assert!(validate("abc").is_err());
        assert!(validate("1.0_bogus").is_err());
    }
}
