//! Internet exposure: a port range a firewall rule opens to any source address. Every provider's
//! rule shape (EC2 `IpPermissions`, Azure NSG `securityRules`, GCP `firewalls`, Neutron
//! `security_group_rules`) is reduced to this one value.

use serde::Serialize;

/// A port range a rule opens to any address.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct Exposure {
    /// `tcp`, `udp`, `icmp` or `all`.
    pub protocol: String,
    /// First port (0 with `all` or ICMP).
    pub from_port: u16,
    /// Last port.
    pub to_port: u16,
    /// The source that makes it public (`0.0.0.0/0`, `::/0`, `Internet`, `*`).
    pub source: String,
    /// The rule that opens it (`sg-0abc (web)`, an NSG rule name, a firewall name).
    pub rule: String,
}

impl Exposure {
    /// `tcp/443`, `tcp/8000-8080`, `all`.
    pub fn ports(&self) -> String {
        match (self.protocol.as_str(), self.from_port, self.to_port) {
            ("all", 0, 65535) => "all".into(),
            ("all", a, b) if a == b => format!("any/{a}"),
            ("all", a, b) => format!("any/{a}-{b}"),
            ("icmp", _, _) => "icmp".into(),
            (p, a, b) if a == b => format!("{p}/{a}"),
            (p, a, b) => format!("{p}/{a}-{b}"),
        }
    }

    /// Whether this exposure opens `port` for `protocol`.
    pub fn covers(&self, protocol: &str, port: u16) -> bool {
        (self.protocol == "all" || self.protocol == protocol)
            && self.from_port <= port
            && port <= self.to_port
    }
}

/// Whether a rule's source means "any address".
pub fn is_any_source(source: &str) -> bool {
    matches!(
        source.trim().to_ascii_lowercase().as_str(),
        "0.0.0.0/0" | "::/0" | "*" | "internet" | "any" | "0.0.0.0" | "0::0/0"
    )
}

/// Normalises a protocol name or number (`6`, `TCP`, `-1`, `*`) to `tcp`/`udp`/`icmp`/`all`,
/// or `None` for protocols that have no ports worth reporting otherwise (kept by name).
pub fn protocol_name(p: &str) -> String {
    match p.trim().to_ascii_lowercase().as_str() {
        "-1" | "*" | "all" | "any" | "" => "all".into(),
        "6" | "tcp" => "tcp".into(),
        "17" | "udp" => "udp".into(),
        "1" | "icmp" | "58" | "icmpv6" | "ipv6-icmp" => "icmp".into(),
        other => other.to_string(),
    }
}

/// Parses a port range as providers write it: `22`, `8000-8080`, `*`/empty (all ports).
pub fn port_range(s: &str) -> Option<(u16, u16)> {
    let s = s.trim();
    if s.is_empty() || s == "*" {
        return Some((0, 65535));
    }
    match s.split_once('-') {
        Some((a, b)) => Some((a.trim().parse().ok()?, b.trim().parse().ok()?)),
        None => {
            let p = s.parse().ok()?;
            Some((p, p))
        }
    }
}

/// Builds an exposure (`all` is every protocol on the given ports; ICMP has no ports).
pub fn exposure(protocol: &str, from: u16, to: u16, source: &str, rule: &str) -> Exposure {
    let protocol = protocol_name(protocol);
    let (from_port, to_port) = match protocol.as_str() {
        "icmp" => (0, 0),
        _ => (from.min(to), from.max(to)),
    };
    Exposure {
        protocol,
        from_port,
        to_port,
        source: source.trim().to_string(),
        rule: rule.to_string(),
    }
}

/// Sorts and removes duplicates (one rule per (protocol, ports, source) is enough).
pub fn normalise(v: &mut Vec<Exposure>) {
    v.sort();
    v.dedup_by(|a, b| {
        a.protocol == b.protocol
            && a.from_port == b.from_port
            && a.to_port == b.to_port
            && a.source == b.source
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_ports_and_protocols() {
        assert!(is_any_source("0.0.0.0/0") && is_any_source("::/0") && is_any_source("Internet"));
        assert!(!is_any_source("10.0.0.0/8") && !is_any_source("0.0.0.0/1"));
        assert_eq!(port_range("8000-8080"), Some((8000, 8080)));
        assert_eq!(port_range("*"), Some((0, 65535)));
        assert_eq!(port_range("x"), None);
        assert_eq!(protocol_name("6"), "tcp");
        assert_eq!(protocol_name("-1"), "all");
        let e = exposure("-1", 0, 65535, "0.0.0.0/0", "sg-1");
        assert_eq!((e.ports(), e.covers("udp", 53)), ("all".into(), true));
        let e = exposure("tcp", 443, 443, "::/0", "sg-1");
        assert_eq!(e.ports(), "tcp/443");
        assert!(e.covers("tcp", 443) && !e.covers("udp", 443) && !e.covers("tcp", 80));
        assert_eq!(exposure("*", 3389, 3389, "*", "nsg/r").ports(), "any/3389");
    }
}
