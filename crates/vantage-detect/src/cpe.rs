//! Network-identified products × NVD CPE configurations. A product seen on the network (nmap's
//! `cpe:/a:openbsd:openssh:8.9p1`, or a product and version from a banner) is matched to the
//! vulnerable CPE criteria of NVD records: an exact version (with its update, `8.9:p1`) or a
//! version range (`versionStartIncluding` … `versionEndExcluding`). Such findings carry low
//! confidence — a banner can lie and NVD does not know distribution backports — and are never
//! made for a product an installed distribution package provides (see [`covered_by_package`]).
//!
//! NVD's AND-configurations ("X running on Y") are read as their vulnerable criteria only; the
//! platform half is not checked, which the rule says.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use vantage_domain::{ComponentKind, Confidence, CpeMatch, Evidence, VulnId};

use crate::inventory::InstalledPackage;
use crate::matcher::Detection;
use crate::version::natural;

/// The parts of a CPE name matching needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cpe {
    /// `a` (application), `o` (operating system), `h` (hardware).
    pub part: String,
    /// Vendor (`openbsd`).
    pub vendor: String,
    /// Product (`openssh`).
    pub product: String,
    /// Version (`8.9`), `*` for any, `-` for not applicable.
    pub version: String,
    /// Update (`p1`), `*` or `-`.
    pub update: String,
}

impl Cpe {
    /// Parses a CPE 2.3 formatted string (`cpe:2.3:a:openbsd:openssh:8.9:p1:*:*:*:*:*:*`) or a
    /// CPE 2.2 URI (`cpe:/a:openbsd:openssh:8.9p1`, as nmap prints them).
    pub fn parse(s: &str) -> Result<Cpe, String> {
        let s = s.trim();
        let lower = s.to_ascii_lowercase();
        let fields: Vec<String> = if lower.starts_with("cpe:2.3:") {
            vantage_domain::cpe23_fields(&lower).ok_or_else(|| {
                format!("{s:?}: a CPE 2.3 name has 13 fields, vendor and product set")
            })?
        } else if let Some(rest) = lower.strip_prefix("cpe:/") {
            rest.split(':')
                .map(|p| percent_decode(p).map(|p| if p.is_empty() { "*".to_string() } else { p }))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| format!("{s:?}: bad percent-encoding"))?
        } else {
            return Err(format!("{s:?} is not a CPE name (cpe:2.3:… or cpe:/…)"));
        };
        let get = |i: usize| fields.get(i).cloned().unwrap_or_else(|| "*".into());
        let part = get(0);
        if !matches!(part.as_str(), "a" | "o" | "h") {
            return Err(format!("{s:?}: part must be a, o or h"));
        }
        if get(1).is_empty() || get(2).is_empty() || get(1) == "*" || get(2) == "*" {
            return Err(format!("{s:?}: vendor and product are required"));
        }
        Ok(Cpe {
            part,
            vendor: get(1),
            product: get(2),
            version: get(3),
            update: get(4),
        })
    }

    /// A product seen on the network, by vendor, product and the version string it gave.
    pub fn product(vendor: &str, product: &str, version: &str) -> Cpe {
        Cpe {
            part: "a".into(),
            vendor: vendor.to_ascii_lowercase(),
            product: product.to_ascii_lowercase(),
            version: version.to_ascii_lowercase(),
            update: "*".into(),
        }
    }

    /// The observed version split into (version, update): `8.9p1` → (`8.9`, `p1`) unless the
    /// name carries its update already.
    fn observed(&self) -> (String, String) {
        if !matches!(self.update.as_str(), "*" | "-" | "") {
            return (self.version.clone(), self.update.clone());
        }
        let v = self.version.as_str();
        let split = v
            .char_indices()
            .find(|(i, c)| {
                c.is_ascii_alphabetic() && v[..*i].ends_with(|p: char| p.is_ascii_digit())
            })
            .map(|(i, _)| i);
        match split {
            Some(i) => (
                v[..i].to_string(),
                v[i..].trim_start_matches(['-', '_', '.']).to_string(),
            ),
            None => (v.to_string(), String::new()),
        }
    }
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// An NVD record's CPE configurations, as detection needs them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CpeAdvisory {
    /// The CVE.
    pub vuln_id: VulnId,
    /// Its CPE matches (every configuration).
    pub matches: Vec<CpeMatch>,
}

/// Compares an observed version with a range bound: bounds that carry an update (`9.3p2`)
/// compare with the whole observed string, plain bounds (`9.8`) with its version part (NVD lists
/// `9.8:p1` under `versionEndIncluding 9.8`).
fn cmp_bound(version: &str, full: &str, bound: &str) -> Ordering {
    let bound = bound.to_ascii_lowercase();
    if bound.contains(|c: char| c.is_ascii_alphabetic()) {
        natural(full, &bound)
    } else {
        natural(version, &bound)
    }
}

/// Whether one CPE criterion matches the observed product, and the rule in words.
fn criterion_matches(seen: &Cpe, m: &CpeMatch) -> Option<String> {
    let c = Cpe::parse(&m.criteria).ok()?;
    if c.part != seen.part || c.vendor != seen.vendor || c.product != seen.product {
        return None;
    }
    let (version, update) = seen.observed();
    let full = if update.is_empty() {
        version.clone()
    } else {
        format!("{version}{update}")
    };
    if version.is_empty() || version == "*" || version == "-" {
        return None;
    }
    if !matches!(c.version.as_str(), "*" | "-") {
        if natural(&version, &c.version) != Ordering::Equal {
            return None;
        }
        let update_ok = match c.update.as_str() {
            "*" => true,
            "-" => update.is_empty(),
            u => u == update,
        };
        return update_ok.then(|| format!("{} = {full}", m.criteria));
    }
    let mut bounds = Vec::new();
    if let Some(b) = &m.version_start_including {
        if cmp_bound(&version, &full, b) == Ordering::Less {
            return None;
        }
        bounds.push(format!(">= {b}"));
    }
    if let Some(b) = &m.version_start_excluding {
        if cmp_bound(&version, &full, b) != Ordering::Greater {
            return None;
        }
        bounds.push(format!("> {b}"));
    }
    if let Some(b) = &m.version_end_including {
        if cmp_bound(&version, &full, b) == Ordering::Greater {
            return None;
        }
        bounds.push(format!("<= {b}"));
    }
    if let Some(b) = &m.version_end_excluding {
        if cmp_bound(&version, &full, b) != Ordering::Less {
            return None;
        }
        bounds.push(format!("< {b}"));
    }
    Some(if bounds.is_empty() {
        format!("{} (every version) matches {full}", m.criteria)
    } else {
        format!("{} {} matches {full}", m.criteria, bounds.join(", "))
    })
}

/// Products whose NVD name differs from the distribution package that provides them.
const PACKAGE_NAMES: &[(&str, &[&str])] = &[
    ("http_server", &["apache2", "httpd"]),
    ("openssh", &["openssh", "openssh-server", "openssh-client"]),
    ("bind", &["bind9", "bind"]),
    ("mysql", &["mysql-server", "mysql", "mariadb-server"]),
    ("postgresql", &["postgresql"]),
    ("nginx", &["nginx"]),
    ("openssl", &["openssl"]),
    ("samba", &["samba"]),
    ("exim", &["exim4", "exim"]),
    ("postfix", &["postfix"]),
    ("dovecot", &["dovecot", "dovecot-core"]),
    ("vsftpd", &["vsftpd"]),
    ("proftpd", &["proftpd", "proftpd-basic"]),
];

/// Whether an installed distribution package provides the product (its name or source package
/// is the product's, or one the table above lists): then the distribution's data judges it and
/// NVD ranges must not.
pub fn covered_by_package(product: &Cpe, packages: &[InstalledPackage]) -> bool {
    let mut names: Vec<&str> = vec![product.product.as_str()];
    if let Some((_, more)) = PACKAGE_NAMES.iter().find(|(p, _)| *p == product.product) {
        names.extend(more.iter().copied());
    }
    packages.iter().any(|p| {
        matches!(
            p.ecosystem,
            vantage_domain::Ecosystem::Deb
                | vantage_domain::Ecosystem::Rpm
                | vantage_domain::Ecosystem::Apk
        ) && (names.contains(&p.name.as_str()) || names.contains(&p.source_name.as_str()))
    })
}

/// Judges one product seen on a service (`component`: `tcp/22`) by NVD's CPE configurations.
pub fn match_cpe(component: &str, seen: &Cpe, advisories: &[CpeAdvisory]) -> Vec<Detection> {
    let mut out: BTreeMap<&str, Detection> = BTreeMap::new();
    for adv in advisories {
        for m in adv.matches.iter().filter(|m| m.vulnerable) {
            let Some(rule) = criterion_matches(seen, m) else {
                continue;
            };
            let platforms = adv
                .matches
                .iter()
                .filter(|o| o.configuration == m.configuration && !o.vulnerable)
                .count();
            let rule = if platforms > 0 {
                format!("{rule} (the configuration's {platforms} platform CPEs are not checked)")
            } else {
                rule
            };
            out.entry(adv.vuln_id.as_str())
                .or_insert_with(|| Detection {
                    vuln_id: adv.vuln_id.clone(),
                    evidence: Evidence {
                        component_kind: ComponentKind::Service,
                        component: component.to_string(),
                        package_id: None,
                        service_id: None,
                        installed_version: Some(seen.version.clone()),
                        fixed_version: m.version_end_excluding.clone(),
                        source: "nvd-cpe".into(),
                        rule,
                        advisory: None,
                        confidence: Confidence::Low,
                    },
                });
        }
    }
    out.into_values().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(criteria: &str, ranges: [Option<&str>; 4]) -> CpeMatch {
        CpeMatch {
            configuration: 0,
            criteria: criteria.into(),
            vulnerable: true,
            version_start_including: ranges[0].map(Into::into),
            version_start_excluding: ranges[1].map(Into::into),
            version_end_including: ranges[2].map(Into::into),
            version_end_excluding: ranges[3].map(Into::into),
        }
    }

    #[test]
    fn names_parse() {
        let c = Cpe::parse("cpe:/a:openbsd:openssh:8.9p1").unwrap();
        assert_eq!(
            (c.vendor.as_str(), c.product.as_str(), c.version.as_str()),
            ("openbsd", "openssh", "8.9p1")
        );
        assert_eq!(c.observed(), ("8.9".into(), "p1".into()));
        let c =
            Cpe::parse("cpe:2.3:a:microsoft:internet_explorer:8.0.6001:beta:*:*:*:*:*:*").unwrap();
        assert_eq!(c.update, "beta");
        let c = Cpe::parse(r"cpe:2.3:a:foo\:bar:baz:1.0:*:*:*:*:*:*:*").unwrap();
        assert_eq!(c.vendor, "foo:bar");
        assert!(Cpe::parse("cpe:2.3:a:x").is_err());
        assert!(Cpe::parse("openssh 8.9").is_err());
        assert!(Cpe::parse("cpe:/x:a:b").is_err());
    }

    #[test]
    fn exact_versions_updates_and_ranges() {
        let seen = Cpe::parse("cpe:/a:openbsd:openssh:8.9p1").unwrap();
        let n = [None; 4];
        assert!(
            criterion_matches(&seen, &m("cpe:2.3:a:openbsd:openssh:8.9:p1:*:*:*:*:*:*", n))
                .is_some()
        );
        assert!(
            criterion_matches(&seen, &m("cpe:2.3:a:openbsd:openssh:8.9:*:*:*:*:*:*:*", n))
                .is_some()
        );
        assert!(
            criterion_matches(&seen, &m("cpe:2.3:a:openbsd:openssh:8.9:-:*:*:*:*:*:*", n))
                .is_none()
        );
        assert!(
            criterion_matches(&seen, &m("cpe:2.3:a:openbsd:openssh:8.9:p2:*:*:*:*:*:*", n))
                .is_none()
        );
        assert!(
            criterion_matches(&seen, &m("cpe:2.3:a:openbsd:openssh:8.8:p1:*:*:*:*:*:*", n))
                .is_none()
        );
        let any = "cpe:2.3:a:openbsd:openssh:*:*:*:*:*:*:*:*";
        assert!(criterion_matches(&seen, &m(any, [None, None, None, Some("9.3")])).is_some());
        assert!(
            criterion_matches(&seen, &m(any, [None, None, None, Some("8.9")])).is_none(),
            "8.9p1 is not before 8.9"
        );
        assert!(
            criterion_matches(&seen, &m(any, [Some("6.9"), None, Some("9.8"), None])).is_some()
        );
        assert!(
            criterion_matches(&seen, &m(any, [None, None, Some("8.9"), None])).is_some(),
            "8.9p1 is within <= 8.9"
        );
        assert!(criterion_matches(&seen, &m(any, [None, None, None, Some("8.9p2")])).is_some());
        assert!(criterion_matches(&seen, &m(any, [None, None, None, Some("8.9p1")])).is_none());
        assert!(
            criterion_matches(&seen, &m(any, [Some("8.10"), None, None, None])).is_none(),
            "8.10 > 8.9"
        );
        assert!(
            criterion_matches(&seen, &m("cpe:2.3:a:other:openssh:*:*:*:*:*:*:*:*", n)).is_none()
        );
        let rule =
            criterion_matches(&seen, &m(any, [Some("7.4"), None, None, Some("10.0")])).unwrap();
        assert_eq!(
            rule,
            "cpe:2.3:a:openbsd:openssh:*:*:*:*:*:*:*:* >= 7.4, < 10.0 matches 8.9p1"
        );
    }

    #[test]
    fn distribution_packages_take_precedence() {
        let pkg = |name: &str, source: &str| InstalledPackage {
            ecosystem: vantage_domain::Ecosystem::Deb,
            name: name.into(),
            version: "1:8.9p1-3ubuntu0.10".into(),
            arch: None,
            source_name: source.into(),
            source_version: "1:8.9p1-3ubuntu0.10".into(),
        };
        let ssh = Cpe::parse("cpe:/a:openbsd:openssh:8.9p1").unwrap();
        assert!(covered_by_package(
            &ssh,
            &[pkg("openssh-server", "openssh")]
        ));
        let httpd = Cpe::parse("cpe:/a:apache:http_server:2.4.52").unwrap();
        assert!(covered_by_package(&httpd, &[pkg("apache2", "apache2")]));
        assert!(!covered_by_package(
            &httpd,
            &[pkg("openssh-server", "openssh")]
        ));
    }
}
