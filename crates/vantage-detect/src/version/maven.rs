//! Maven versions as Maven's own `ComparableVersion` (3.8) orders them: the string, lower-cased,
//! is split into numbers and qualifiers at `.`, `-` and digit/letter transitions (a `-` or a
//! transition opens a sub-list); trailing "null" items (`0`, `""`, `ga`, `final`, `release`,
//! empty lists) are dropped; qualifiers order `alpha < beta < milestone < rc = cr < snapshot <
//! "" = ga = final = release < sp`, unknown qualifiers after those, alphabetically; `a1`, `b1`,
//! `m1` are `alpha-1`, `beta-1`, `milestone-1`. The conformance test checks it against
//! `org.apache.maven.artifact.versioning.ComparableVersion` itself.

use std::cmp::Ordering;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Item {
    /// A number, leading zeros stripped (compared by length, then digits: any size).
    Int(String),
    /// A qualifier, aliases resolved.
    Str(String),
    List(Vec<Item>),
}

const QUALIFIERS: [&str; 7] = ["alpha", "beta", "milestone", "rc", "snapshot", "", "sp"];

/// The sortable form of a qualifier: its index among the known ones, or `7-name`.
fn comparable(s: &str) -> String {
    match QUALIFIERS.iter().position(|q| *q == s) {
        Some(i) => i.to_string(),
        None => format!("{}-{s}", QUALIFIERS.len()),
    }
}

/// The index of the release qualifier `""`.
const RELEASE: &str = "5";

impl Item {
    fn is_null(&self) -> bool {
        match self {
            Item::Int(n) => n.is_empty(),
            Item::Str(s) => comparable(s) == RELEASE,
            Item::List(l) => l.is_empty(),
        }
    }
}

fn int(digits: &str) -> Item {
    Item::Int(digits.trim_start_matches('0').to_string())
}

fn string(buf: &str, followed_by_digit: bool) -> Item {
    let s = match buf {
        "a" if followed_by_digit => "alpha",
        "b" if followed_by_digit => "beta",
        "m" if followed_by_digit => "milestone",
        "ga" | "final" | "release" => "",
        "cr" => "rc",
        other => other,
    };
    Item::Str(s.to_string())
}

fn item(is_digit: bool, buf: &str) -> Item {
    if is_digit {
        int(buf)
    } else {
        string(buf, false)
    }
}

/// Drops trailing null items, walking back over non-empty sub-lists.
fn normalize(list: &mut Vec<Item>) {
    let mut i = list.len();
    while i > 0 {
        i -= 1;
        if list[i].is_null() {
            list.remove(i);
        } else if !matches!(list[i], Item::List(_)) {
            break;
        }
    }
}

/// The list at `depth`: each level's current list is the last item of its parent.
fn current(root: &mut Vec<Item>, depth: usize) -> &mut Vec<Item> {
    let mut l = root;
    for _ in 0..depth {
        l = match l.last_mut() {
            Some(Item::List(inner)) => inner,
            _ => unreachable!("a sub-list is the last item of its parent until it is closed"),
        };
    }
    l
}

/// Normalises every open list, deepest first (as Maven pops its stack).
fn normalize_all(list: &mut Vec<Item>, depth: usize) {
    if depth > 0
        && let Some(Item::List(inner)) = list.last_mut()
    {
        normalize_all(inner, depth - 1);
    }
    normalize(list);
}

fn parse(version: &str) -> Vec<Item> {
    let buf = version.to_lowercase();
    let mut root: Vec<Item> = Vec::new();
    let mut depth = 0usize;
    let mut start = 0usize;
    let mut is_digit = false;
    for (i, c) in buf.char_indices() {
        if c == '.' || c == '-' {
            let it = if i == start {
                Item::Int(String::new())
            } else {
                item(is_digit, &buf[start..i])
            };
            current(&mut root, depth).push(it);
            start = i + 1;
            if c == '-' {
                current(&mut root, depth).push(Item::List(Vec::new()));
                depth += 1;
            }
        } else if c.is_ascii_digit() {
            if !is_digit && i > start {
                let it = string(&buf[start..i], true);
                let l = current(&mut root, depth);
                l.push(it);
                l.push(Item::List(Vec::new()));
                depth += 1;
                start = i;
            }
            is_digit = true;
        } else {
            if is_digit && i > start {
                let it = int(&buf[start..i]);
                let l = current(&mut root, depth);
                l.push(it);
                l.push(Item::List(Vec::new()));
                depth += 1;
                start = i;
            }
            is_digit = false;
        }
    }
    if buf.len() > start {
        let it = item(is_digit, &buf[start..]);
        current(&mut root, depth).push(it);
    }
    normalize_all(&mut root, depth);
    root
}

fn cmp_int(n: &str, other: Option<&Item>) -> Ordering {
    match other {
        Some(Item::Int(m)) => n.len().cmp(&m.len()).then_with(|| n.cmp(m)),
        Some(Item::Str(_) | Item::List(_)) => Ordering::Greater,
        None if n.is_empty() => Ordering::Equal,
        None => Ordering::Greater,
    }
}

fn cmp_str(s: &str, other: Option<&Item>) -> Ordering {
    match other {
        None => comparable(s).as_str().cmp(RELEASE),
        Some(Item::Int(_) | Item::List(_)) => Ordering::Less,
        Some(Item::Str(o)) => comparable(s).cmp(&comparable(o)),
    }
}

fn cmp_list(l: &[Item], other: Option<&Item>) -> Ordering {
    match other {
        None => l
            .iter()
            .map(|i| cmp_item(i, None))
            .find(|o| *o != Ordering::Equal)
            .unwrap_or(Ordering::Equal),
        Some(Item::Int(_)) => Ordering::Less,
        Some(Item::Str(_)) => Ordering::Greater,
        Some(Item::List(o)) => {
            for i in 0..l.len().max(o.len()) {
                let r = match (l.get(i), o.get(i)) {
                    (None, None) => Ordering::Equal,
                    (None, Some(right)) => cmp_item(right, None).reverse(),
                    (Some(left), right) => cmp_item(left, right),
                };
                if r != Ordering::Equal {
                    return r;
                }
            }
            Ordering::Equal
        }
    }
}

fn cmp_item(this: &Item, other: Option<&Item>) -> Ordering {
    match this {
        Item::Int(n) => cmp_int(n, other),
        Item::Str(s) => cmp_str(s, other),
        Item::List(l) => cmp_list(l, other),
    }
}

/// Compares two Maven versions.
pub fn compare(a: &str, b: &str) -> Ordering {
    let (a, b) = (parse(a), parse(b));
    cmp_list(&a, Some(&Item::List(b)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use Ordering::*;

    #[test]
    fn maven_qualifier_order() {
        // From Maven's ComparableVersionTest.
        let chain = [
            "1-alpha2snapshot",
            "1-alpha2",
            "1-alpha-123",
            "1-beta-2",
            "1-beta123",
            "1-m2",
            "1-m11",
            "1-rc",
            "1-cr2",
            "1-rc123",
            "1-SNAPSHOT",
            "1",
            "1-sp",
            "1-sp2",
            "1-sp123",
            "1-abc",
            "1-def",
            "1-pom-1",
            "1-1-snapshot",
            "1-1",
            "1-2",
            "1-123",
        ];
        for w in chain.windows(2) {
            assert_eq!(compare(w[0], w[1]), Less, "{} < {}", w[0], w[1]);
        }
        assert_eq!(compare("1", "1.0.0"), Equal);
        assert_eq!(compare("1-ga", "1"), Equal);
        assert_eq!(compare("1.final", "1"), Equal);
        assert_eq!(compare("1cr", "1rc"), Equal);
        assert_eq!(compare("1a1", "1-alpha-1"), Equal);
        assert_eq!(compare("2.0.1", "2.0.0.1"), Greater);
        assert_eq!(compare("1.10", "1.9"), Greater);
        assert_eq!(compare("2.17.1", "2.15.0"), Greater);
    }
}
