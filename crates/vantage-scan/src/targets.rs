//! Targets and the scope guard: addresses, CIDR blocks, ranges and host names as the command line
//! gives them, exclusions, and the check that refuses anything outside the allowed ranges or inside
//! the global deny list before a single packet is sent.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;

use crate::ScanError;

/// The most addresses one scan may cover (a /12 of IPv4): beyond it, split the scan.
pub const MAX_ADDRESSES: u128 = 1 << 20;

/// An inclusive range of addresses of one family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AddrRange {
    /// First address.
    pub start: IpAddr,
    /// Last address (inclusive).
    pub end: IpAddr,
}

fn num(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(a) => u32::from(a) as u128,
        IpAddr::V6(a) => u128::from(a),
    }
}

fn addr(v6: bool, n: u128) -> IpAddr {
    if v6 {
        IpAddr::V6(Ipv6Addr::from(n))
    } else {
        IpAddr::V4(Ipv4Addr::from(n as u32))
    }
}

impl AddrRange {
    /// One address.
    pub fn single(ip: IpAddr) -> Self {
        Self { start: ip, end: ip }
    }

    /// Parses `10.0.0.5`, `10.0.0.0/24`, `10.0.0.1-10.0.0.20`, `10.0.0.1-20` or `::1`.
    pub fn parse(s: &str) -> Result<Self, String> {
        let t = s.trim();
        if t.contains('/') {
            let net: IpNet = t
                .parse()
                .map_err(|_| format!("`{t}` is not a CIDR block (expected e.g. 10.0.0.0/24)"))?;
            return Ok(Self {
                start: net.network(),
                end: net.broadcast(),
            });
        }
        if let Ok(ip) = t.parse::<IpAddr>() {
            return Ok(Self::single(ip));
        }
        let Some((a, b)) = t.split_once('-') else {
            return Err(format!("`{t}` is not an address, CIDR block or range"));
        };
        let start: IpAddr = a
            .trim()
            .parse()
            .map_err(|_| format!("`{a}` in range `{t}` is not an IP address"))?;
        let b = b.trim();
        let end: IpAddr = match (start, b.parse::<IpAddr>()) {
            (_, Ok(end)) => end,
            // `10.0.0.1-20`: the last octet.
            (IpAddr::V4(s4), Err(_)) => {
                let last: u8 = b
                    .parse()
                    .map_err(|_| format!("`{b}` in range `{t}` is neither an address nor 0-255"))?;
                let o = s4.octets();
                IpAddr::V4(Ipv4Addr::new(o[0], o[1], o[2], last))
            }
            (IpAddr::V6(_), Err(_)) => {
                return Err(format!("`{b}` in range `{t}` is not an IPv6 address"));
            }
        };
        if start.is_ipv4() != end.is_ipv4() {
            return Err(format!("range `{t}` mixes IPv4 and IPv6"));
        }
        if num(end) < num(start) {
            return Err(format!("range `{t}` ends before it starts"));
        }
        Ok(Self { start, end })
    }

    /// Whether the address is inside.
    pub fn contains(&self, ip: IpAddr) -> bool {
        ip.is_ipv4() == self.start.is_ipv4()
            && num(self.start) <= num(ip)
            && num(ip) <= num(self.end)
    }

    /// Whether the whole other range is inside this one.
    pub fn covers(&self, other: &AddrRange) -> bool {
        self.contains(other.start) && self.contains(other.end)
    }

    /// Whether the two ranges share an address.
    pub fn overlaps(&self, other: &AddrRange) -> bool {
        self.start.is_ipv4() == other.start.is_ipv4()
            && num(self.start) <= num(other.end)
            && num(other.start) <= num(self.end)
    }

    /// How many addresses.
    pub fn len(&self) -> u128 {
        num(self.end) - num(self.start) + 1
    }

    /// Never empty; here for clippy's `len_without_is_empty`.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The addresses, lazily.
    pub fn iter(&self) -> impl Iterator<Item = IpAddr> + use<> {
        let v6 = self.start.is_ipv6();
        (num(self.start)..=num(self.end)).map(move |n| addr(v6, n))
    }
}

impl std::fmt::Display for AddrRange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.start == self.end {
            write!(f, "{}", self.start)
        } else {
            write!(f, "{}-{}", self.start, self.end)
        }
    }
}

/// One target as given: addresses, or a host name to resolve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// An address, CIDR block or range.
    Range(AddrRange),
    /// A host name.
    Name(String),
}

impl Target {
    /// Parses one target; anything that is not an address, block or range must be a valid host
    /// name.
    pub fn parse(s: &str) -> Result<Self, ScanError> {
        let t = s.trim();
        if t.is_empty() {
            return Err(ScanError::Target(s.into(), "the target is empty".into()));
        }
        let looks_numeric = t.contains('/')
            || t.contains(':')
            || t.parse::<IpAddr>().is_ok()
            || t.bytes()
                .all(|b| b.is_ascii_digit() || b == b'.' || b == b'-');
        if looks_numeric {
            return AddrRange::parse(t)
                .map(Target::Range)
                .map_err(|why| ScanError::Target(s.into(), why));
        }
        let name = t.trim_end_matches('.');
        let valid = name.len() <= 253
            && name.split('.').all(|l| {
                !l.is_empty()
                    && l.len() <= 63
                    && !l.starts_with('-')
                    && !l.ends_with('-')
                    && l.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            });
        if !valid {
            return Err(ScanError::Target(
                s.into(),
                "not an IP address, CIDR block, range or host name".into(),
            ));
        }
        Ok(Target::Name(name.to_ascii_lowercase()))
    }
}

/// Targets resolved to address ranges, with the names they came from and the exclusions applied
/// lazily while iterating.
#[derive(Debug, Clone, Default)]
pub struct TargetSet {
    /// Ranges to scan: sorted, disjoint.
    pub ranges: Vec<AddrRange>,
    /// Host names by the address they resolved to.
    pub names: Vec<(IpAddr, String)>,
    /// Addresses never to touch.
    pub exclude: Vec<AddrRange>,
}

impl TargetSet {
    /// Resolves the targets (host names through the system resolver) and applies exclusions.
    /// A name that does not resolve is an error naming it.
    pub async fn resolve(targets: &[Target], exclude: &[AddrRange]) -> Result<Self, ScanError> {
        let mut set = TargetSet {
            exclude: exclude.to_vec(),
            ..Default::default()
        };
        for t in targets {
            match t {
                Target::Range(r) => set.ranges.push(*r),
                Target::Name(n) => {
                    let addrs = tokio::net::lookup_host((n.as_str(), 0))
                        .await
                        .map_err(|e| ScanError::Resolve(n.clone(), e.to_string()))?;
                    let mut ips: Vec<IpAddr> = addrs.map(|a| a.ip()).collect();
                    ips.sort();
                    ips.dedup();
                    if ips.is_empty() {
                        return Err(ScanError::Resolve(n.clone(), "no address".into()));
                    }
                    for ip in ips {
                        set.ranges.push(AddrRange::single(ip));
                        set.names.push((ip, n.clone()));
                    }
                }
            }
        }
        set.normalize();
        let total: u128 = set.ranges.iter().map(AddrRange::len).sum();
        if total > MAX_ADDRESSES {
            return Err(ScanError::Target(
                set.ranges
                    .iter()
                    .map(|r| r.to_string())
                    .collect::<Vec<_>>()
                    .join(" "),
                format!(
                    "{total} addresses is more than one scan covers ({MAX_ADDRESSES}); split it"
                ),
            ));
        }
        Ok(set)
    }

    /// How many addresses will be scanned (exclusions counted out).
    pub fn count(&self) -> u64 {
        self.addresses().count() as u64
    }

    /// Every address to scan, each once (the ranges are disjoint), lazily.
    pub fn addresses(&self) -> impl Iterator<Item = IpAddr> + '_ {
        self.ranges
            .iter()
            .flat_map(|r| r.iter())
            .filter(move |ip| !self.exclude.iter().any(|x| x.contains(*ip)))
    }

    /// Sorts the ranges and merges those that overlap or touch, so no address is scanned twice.
    fn normalize(&mut self) {
        self.ranges
            .sort_by_key(|r| (r.start.is_ipv6(), num(r.start), num(r.end)));
        let mut merged: Vec<AddrRange> = Vec::with_capacity(self.ranges.len());
        for r in self.ranges.drain(..) {
            match merged.last_mut() {
                Some(m)
                    if m.start.is_ipv6() == r.start.is_ipv6()
                        && num(r.start) <= num(m.end).saturating_add(1) =>
                {
                    if num(r.end) > num(m.end) {
                        m.end = r.end;
                    }
                }
                _ => merged.push(r),
            }
        }
        self.ranges = merged;
    }

    /// The host name an address was given as, if any.
    pub fn name_of(&self, ip: IpAddr) -> Option<&str> {
        self.names
            .iter()
            .find(|(a, _)| *a == ip)
            .map(|(_, n)| n.as_str())
    }
}

/// Where scanning is allowed: a scope's ranges (or, without a scope, exactly the targets given)
/// minus a global deny list.
#[derive(Debug, Clone, Default)]
pub struct ScopeGuard {
    /// The scope's name, for messages.
    pub scope: Option<String>,
    /// Ranges the scope allows; `None` means the targets themselves are the allowance.
    pub allowed: Option<Vec<AddrRange>>,
    /// Ranges no scan may touch.
    pub deny: Vec<AddrRange>,
}

impl ScopeGuard {
    /// Refuses the whole target set if any address is outside the allowance or inside the deny
    /// list (after exclusions): nothing is sent unless everything is allowed.
    pub fn check(&self, set: &TargetSet) -> Result<(), ScanError> {
        let scope = self.scope.as_deref().unwrap_or("the command line");
        for r in &set.ranges {
            // Exclusions shrink what is scanned; check what remains, range by range.
            let fully_excluded = set.exclude.iter().any(|x| x.covers(r));
            if fully_excluded {
                continue;
            }
            if let Some(d) = self.deny.iter().find(|d| d.overlaps(r)) {
                let excluded = set.exclude.iter().any(|x| x.covers(d) || x.covers(r));
                if !excluded {
                    return Err(ScanError::OutOfScope(format!(
                        "target {r} touches {d}, which the global deny list (scan.deny) forbids"
                    )));
                }
            }
            if let Some(allowed) = &self.allowed {
                let inside = allowed.iter().any(|a| a.covers(r))
                    || r.len() <= 65_536
                        && r.iter()
                            .filter(|ip| !set.exclude.iter().any(|x| x.contains(*ip)))
                            .all(|ip| allowed.iter().any(|a| a.contains(ip)));
                if !inside {
                    let list = allowed
                        .iter()
                        .map(|a| a.to_string())
                        .collect::<Vec<_>>()
                        .join(", ");
                    let list = if list.is_empty() {
                        "no IP range at all".to_string()
                    } else {
                        list
                    };
                    let name = set
                        .names
                        .iter()
                        .find(|(ip, _)| r.contains(*ip))
                        .map(|(_, n)| format!(" ({n})"))
                        .unwrap_or_default();
                    return Err(ScanError::OutOfScope(format!(
                        "target {r}{name} is outside scope `{scope}`, which allows {list}"
                    )));
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(s: &str) -> AddrRange {
        AddrRange::parse(s).unwrap()
    }

    #[test]
    fn parses_addresses_blocks_and_ranges() {
        assert_eq!(r("10.0.0.0/30").len(), 4);
        assert_eq!(r("10.0.0.1-20").len(), 20);
        assert_eq!(r("10.0.0.250-10.0.1.5").len(), 12);
        assert_eq!(r("::1").len(), 1);
        assert_eq!(r("fe80::/126").len(), 4);
        assert!(AddrRange::parse("10.0.0.5-10.0.0.1").is_err());
        assert!(AddrRange::parse("10.0.0.1-::5").is_err());
        assert!(AddrRange::parse("10.0.0.0/33").is_err());
        assert!(AddrRange::parse("10.0.0.1-300").is_err());
        assert!(Target::parse("exa mple.com").is_err());
        assert!(Target::parse("-bad.example").is_err());
        assert!(Target::parse("999.1.1.1").is_err());
        assert_eq!(
            Target::parse("Host.Example.").unwrap(),
            Target::Name("host.example".into())
        );
    }

    #[tokio::test]
    async fn exclusions_and_scope() {
        let set = TargetSet::resolve(
            &[Target::parse("127.0.0.0/29").unwrap()],
            &[r("127.0.0.0"), r("127.0.0.7")],
        )
        .await
        .unwrap();
        assert_eq!(set.count(), 6);
        // Overlapping targets are scanned once.
        let twice = TargetSet::resolve(
            &[
                Target::parse("127.0.0.1-5").unwrap(),
                Target::parse("127.0.0.4-9").unwrap(),
                Target::parse("127.0.0.10").unwrap(),
            ],
            &[],
        )
        .await
        .unwrap();
        assert_eq!((twice.count(), twice.ranges.len()), (10, 1));
        let guard = ScopeGuard {
            scope: Some("lab".into()),
            allowed: Some(vec![r("127.0.0.1-6")]),
            deny: vec![],
        };
        guard.check(&set).unwrap();
        let narrow = ScopeGuard {
            allowed: Some(vec![r("127.0.0.1-5")]),
            ..guard.clone()
        };
        let e = narrow.check(&set).unwrap_err().to_string();
        assert!(e.contains("outside scope `lab`"), "{e}");
        let deny = ScopeGuard {
            scope: None,
            allowed: None,
            deny: vec![r("127.0.0.3")],
        };
        assert!(deny.check(&set).unwrap_err().to_string().contains("deny"));
        // Names resolve through /etc/hosts here: no test query leaves the machine.
        let named = TargetSet::resolve(&[Target::parse("localhost").unwrap()], &[])
            .await
            .unwrap();
        assert!(named.name_of("127.0.0.1".parse().unwrap()) == Some("localhost"));
    }
}
