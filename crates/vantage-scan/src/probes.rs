//! The nmap-service-probes format, read at run time from an installed `nmap-common`
//! (`/usr/share/nmap/nmap-service-probes`) or a configured path — never shipped with Vantage (its
//! licence is not ours to redistribute).
//!
//! Supported: `Probe` (TCP; payload escapes, `no-payload`), `match` / `softmatch` with PCRE
//! patterns (`m|…|` with any delimiter, `i` and `s` flags — compiled by the real PCRE2, bytes
//! mode, as nmap does), version templates `p/ v/ i/ h/ o/ d/ cpe:/…/a` with `$1`, `$P(n)`,
//! `$SUBST(n,"a","b")` and `$I(n,">")`, and the `ports`, `sslports`, `rarity`, `fallback`,
//! `totalwaitms`, `tcpwrappedms` and `Exclude` directives. UDP probes are read and kept aside.

use std::path::Path;
use std::sync::OnceLock;
use std::time::Duration;

use pcre2::bytes::{Captures, Regex, RegexBuilder};
use serde::Serialize;

use crate::ScanError;

/// The default probe file of Debian's `nmap-common`.
pub const DEFAULT_PROBES: &str = "/usr/share/nmap/nmap-service-probes";

/// A version template: literal text with `$n` references.
#[derive(Debug, Clone, Default)]
pub struct Template(String);

/// One `match` or `softmatch` line.
#[derive(Debug)]
pub struct MatchRule {
    /// Service name (`ssh`, `http` …).
    pub service: String,
    /// A softmatch names the service only and lets later probes find the version.
    pub soft: bool,
    pattern: String,
    caseless: bool,
    dotall: bool,
    regex: OnceLock<Option<Regex>>,
    product: Option<Template>,
    version: Option<Template>,
    info: Option<Template>,
    hostname: Option<Template>,
    os: Option<Template>,
    device: Option<Template>,
    cpes: Vec<Template>,
    /// File line, for messages.
    pub line: usize,
}

/// One probe and its matches.
#[derive(Debug)]
pub struct Probe {
    /// Probe name (`NULL`, `GetRequest` …).
    pub name: String,
    /// TCP (true) or UDP.
    pub tcp: bool,
    /// Bytes sent after connecting (empty for NULL).
    pub payload: Vec<u8>,
    /// Ports this probe is meant for.
    pub ports: Vec<(u16, u16)>,
    /// Ports this probe is meant for inside TLS.
    pub ssl_ports: Vec<(u16, u16)>,
    /// 1 (always useful) to 9 (rarely).
    pub rarity: u8,
    /// Probes whose match lines also apply to this probe's responses.
    pub fallback: Vec<String>,
    /// How long to wait for the response.
    pub wait: Duration,
    /// A connection closed this fast with nothing said is "tcpwrapped".
    pub tcpwrapped: Duration,
    /// The match lines, in file order.
    pub matches: Vec<MatchRule>,
}

/// Every probe of a file, in file order.
#[derive(Debug)]
pub struct ProbeSet {
    /// The probes.
    pub probes: Vec<Probe>,
    /// Ports never fingerprinted (`Exclude`).
    pub exclude: Vec<(u16, u16)>,
    /// Where the file was read from.
    pub path: String,
}

/// What a match says about a service.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Identified {
    /// Service name.
    pub service: String,
    /// Product name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub product: Option<String>,
    /// Product version.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Extra information.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub info: Option<String>,
    /// Host name the service announced.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    /// Operating system the service announced.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub os: Option<String>,
    /// Device type.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
    /// CPE names (`cpe:/a:openbsd:openssh:9.2p1`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cpes: Vec<String>,
    /// Only the service is known (a softmatch).
    pub soft: bool,
    /// Which probe got the answer.
    pub probe: String,
}

fn in_ranges(ranges: &[(u16, u16)], port: u16) -> bool {
    ranges.iter().any(|(a, b)| *a <= port && port <= *b)
}

impl Probe {
    /// Whether the probe lists this port (`sslports` inside TLS).
    pub fn for_port(&self, port: u16, tls: bool) -> bool {
        in_ranges(if tls { &self.ssl_ports } else { &self.ports }, port)
    }

    /// Whether any match line names this service.
    pub fn can_identify(&self, service: &str) -> bool {
        self.matches.iter().any(|m| m.service == service)
    }
}

impl ProbeSet {
    /// Reads a probe file.
    pub fn load(path: &Path) -> Result<Self, ScanError> {
        let bytes = std::fs::read(path).map_err(|e| {
            ScanError::Probes(
                path.display().to_string(),
                format!("{e} (install nmap-common, or set scan.probes_file / --probes)"),
            )
        })?;
        Self::parse(
            &String::from_utf8_lossy(&bytes),
            &path.display().to_string(),
        )
    }

    /// Whether a port is excluded from fingerprinting.
    pub fn excluded(&self, port: u16) -> bool {
        in_ranges(&self.exclude, port)
    }

    /// A probe by name.
    pub fn probe(&self, name: &str) -> Option<&Probe> {
        self.probes.iter().find(|p| p.name == name)
    }

    /// Parses probe file text; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Self, ScanError> {
        let mut probes: Vec<Probe> = Vec::new();
        let mut exclude = Vec::new();
        for (i, raw) in text.lines().enumerate() {
            let n = i + 1;
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let err = |why: String| ScanError::Probes(format!("{origin}:{n}"), why);
            let (word, rest) = line.split_once(' ').unwrap_or((line, ""));
            let rest = rest.trim();
            if word == "Exclude" {
                for part in rest.split(',') {
                    let part = part.trim();
                    if part.starts_with("U:") || part.starts_with("S:") {
                        continue;
                    }
                    let part = part.strip_prefix("T:").unwrap_or(part);
                    exclude.push(port_range(part).map_err(err)?);
                }
                continue;
            }
            if word == "Probe" {
                probes.push(parse_probe(rest).map_err(err)?);
                continue;
            }
            let Some(probe) = probes.last_mut() else {
                return Err(err(format!("`{word}` before any Probe line")));
            };
            match word {
                "match" | "softmatch" => {
                    let mut m = parse_match(rest).map_err(err)?;
                    m.soft = word == "softmatch";
                    m.line = n;
                    probe.matches.push(m);
                }
                "ports" | "sslports" => {
                    let ranges = rest
                        .split(',')
                        .map(|p| port_range(p.trim()))
                        .collect::<Result<Vec<_>, _>>()
                        .map_err(err)?;
                    if word == "ports" {
                        probe.ports = ranges;
                    } else {
                        probe.ssl_ports = ranges;
                    }
                }
                "rarity" => {
                    probe.rarity = rest
                        .parse()
                        .ok()
                        .filter(|r| (1..=9).contains(r))
                        .ok_or_else(|| err(format!("rarity `{rest}` is not 1-9")))?;
                }
                "fallback" => {
                    probe.fallback = rest.split(',').map(|s| s.trim().to_string()).collect();
                }
                "totalwaitms" | "tcpwrappedms" => {
                    let ms: u64 = rest
                        .parse()
                        .map_err(|_| err(format!("`{rest}` is not milliseconds")))?;
                    if word == "totalwaitms" {
                        probe.wait = Duration::from_millis(ms);
                    } else {
                        probe.tcpwrapped = Duration::from_millis(ms);
                    }
                }
                other => return Err(err(format!("unknown directive `{other}`"))),
            }
        }
        if !probes.iter().any(|p| p.tcp && p.name == "NULL") {
            return Err(ScanError::Probes(
                origin.into(),
                "no TCP NULL probe: this is not an nmap-service-probes file".into(),
            ));
        }
        Ok(ProbeSet {
            probes,
            exclude,
            path: origin.into(),
        })
    }

    /// Matches a response against a probe's lines, then its fallbacks, then (TCP) the NULL
    /// probe's. The first hard match wins; otherwise the first softmatch. With `only`, only lines
    /// naming that service count (a softmatch already named it).
    pub fn identify(
        &self,
        probe: &Probe,
        response: &[u8],
        only: Option<&str>,
    ) -> Option<Identified> {
        if response.is_empty() {
            return None;
        }
        let mut chain: Vec<&Probe> = vec![probe];
        for f in &probe.fallback {
            if let Some(p) = self.probe(f) {
                chain.push(p);
            }
        }
        if probe.tcp
            && let Some(null) = self.probe("NULL")
            && !chain.iter().any(|p| p.name == "NULL")
        {
            chain.push(null);
        }
        let mut soft: Option<Identified> = None;
        for p in chain {
            for m in &p.matches {
                if only.is_some_and(|s| s != m.service) || (m.soft && soft.is_some()) {
                    continue;
                }
                let Some(re) = m.regex() else { continue };
                // A pathological pattern hitting PCRE's match limit counts as no match.
                let Ok(Some(caps)) = re.captures(response) else {
                    continue;
                };
                let found = m.fill(&caps, &probe.name);
                if !m.soft {
                    return Some(found);
                }
                soft = Some(found);
            }
        }
        soft
    }
}

impl MatchRule {
    /// The compiled pattern (compiled on first use; a pattern PCRE2 refuses never matches).
    fn regex(&self) -> Option<&Regex> {
        self.regex
            .get_or_init(|| {
                RegexBuilder::new()
                    .caseless(self.caseless)
                    .dotall(self.dotall)
                    .jit_if_available(true)
                    .build(&self.pattern)
                    .map_err(|e| {
                        tracing::debug!(line = self.line, error = %e, "probe pattern not compiled")
                    })
                    .ok()
            })
            .as_ref()
    }

    /// Compiles the pattern now; `Err` says why PCRE2 refused it.
    pub fn compile(&self) -> Result<(), String> {
        RegexBuilder::new()
            .caseless(self.caseless)
            .dotall(self.dotall)
            .build(&self.pattern)
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    fn fill(&self, caps: &Captures<'_>, probe: &str) -> Identified {
        let f = |t: &Option<Template>| {
            t.as_ref()
                .map(|t| t.expand(caps))
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
        };
        Identified {
            service: self.service.clone(),
            product: f(&self.product),
            version: f(&self.version),
            info: f(&self.info),
            hostname: f(&self.hostname),
            os: f(&self.os),
            device: f(&self.device),
            cpes: self
                .cpes
                .iter()
                .map(|t| format!("cpe:/{}", t.expand(caps).trim()))
                .collect(),
            soft: self.soft,
            probe: probe.to_string(),
        }
    }
}

impl Template {
    /// Substitutes `$1`…`$9`, `$P(n)`, `$SUBST(n,"from","to")` and `$I(n,">"|"<")`.
    pub fn expand(&self, caps: &Captures<'_>) -> String {
        let group = |n: usize| caps.get(n).map(|m| m.as_bytes()).unwrap_or_default();
        let s = self.0.as_bytes();
        let mut out: Vec<u8> = Vec::with_capacity(s.len());
        let mut i = 0;
        while i < s.len() {
            if s[i] != b'$' {
                out.push(s[i]);
                i += 1;
                continue;
            }
            let rest = &self.0[i + 1..];
            if let Some(d) = rest.bytes().next().filter(u8::is_ascii_digit) {
                out.extend_from_slice(group((d - b'0') as usize));
                i += 2;
                continue;
            }
            let call = ["P(", "SUBST(", "I("]
                .iter()
                .find(|name| rest.starts_with(*name))
                .and_then(|name| {
                    let close = rest.find(')')?;
                    Some((*name, &rest[name.len()..close], close))
                });
            let Some((name, args, close)) = call else {
                out.push(b'$');
                i += 1;
                continue;
            };
            let args: Vec<&str> = args.split(',').map(str::trim).collect();
            let n: usize = args.first().and_then(|a| a.parse().ok()).unwrap_or(0);
            let g = group(n);
            let unquote = |a: Option<&&str>| a.map(|s| s.trim_matches('"').to_string());
            match name {
                "P(" => out.extend(g.iter().filter(|b| (0x20..0x7f).contains(*b))),
                "SUBST(" => {
                    let (from, to) = (unquote(args.get(1)), unquote(args.get(2)));
                    let text = String::from_utf8_lossy(g);
                    match (from, to) {
                        (Some(f), Some(t)) if !f.is_empty() => {
                            out.extend_from_slice(text.replace(&f, &t).as_bytes())
                        }
                        _ => out.extend_from_slice(g),
                    }
                }
                _ => {
                    let big = unquote(args.get(1)).as_deref() != Some("<");
                    let mut v: u64 = 0;
                    let bytes: Vec<u8> = if big {
                        g.to_vec()
                    } else {
                        g.iter().rev().copied().collect()
                    };
                    for b in bytes.iter().take(8) {
                        v = (v << 8) | *b as u64;
                    }
                    out.extend_from_slice(v.to_string().as_bytes());
                }
            }
            i += 1 + close + 1;
        }
        // Printable text only: a banner's bytes must not reach terminals or reports raw.
        String::from_utf8_lossy(&out)
            .chars()
            .filter(|c| !c.is_control())
            .collect()
    }
}

fn port_range(s: &str) -> Result<(u16, u16), String> {
    let p = |x: &str| {
        x.trim()
            .parse::<u16>()
            .map_err(|_| format!("`{x}` is not a port"))
    };
    match s.split_once('-') {
        Some((a, b)) => Ok((p(a)?, p(b)?)),
        None => {
            let n = p(s)?;
            Ok((n, n))
        }
    }
}

/// Reads `X<delim>text<delim>` at the start of `s`, returning the text and what follows.
fn delimited(s: &str) -> Result<(&str, &str), String> {
    let mut chars = s.char_indices();
    let Some((_, d)) = chars.next() else {
        return Err("missing delimiter".into());
    };
    let body = &s[d.len_utf8()..];
    let end = body
        .find(d)
        .ok_or_else(|| format!("no closing `{d}` in `{s}`"))?;
    Ok((&body[..end], &body[end + d.len_utf8()..]))
}

/// Decodes a probe string's C-style escapes.
fn unescape(s: &str) -> Result<Vec<u8>, String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'\\' {
            out.push(b[i]);
            i += 1;
            continue;
        }
        let c = *b.get(i + 1).ok_or("a trailing backslash")?;
        i += 2;
        out.push(match c {
            b'n' => b'\n',
            b'r' => b'\r',
            b't' => b'\t',
            b'0' => 0,
            b'a' => 7,
            b'b' => 8,
            b'f' => 12,
            b'v' => 11,
            b'x' => {
                let hex = s.get(i..i + 2).ok_or("a short \\x escape")?;
                i += 2;
                u8::from_str_radix(hex, 16).map_err(|_| format!("bad escape \\x{hex}"))?
            }
            other => other,
        });
    }
    Ok(out)
}

fn parse_probe(rest: &str) -> Result<Probe, String> {
    let mut it = rest.splitn(3, ' ');
    let proto = it.next().unwrap_or_default();
    let name = it.next().ok_or("a Probe line without a name")?;
    let payload = it
        .next()
        .ok_or("a Probe line without a probe string")?
        .trim();
    let tcp = match proto {
        "TCP" => true,
        "UDP" => false,
        other => return Err(format!("unknown protocol `{other}`")),
    };
    let q = payload
        .strip_prefix('q')
        .ok_or_else(|| format!("probe string `{payload}` does not start with q"))?;
    let (body, _flags) = delimited(q)?;
    Ok(Probe {
        name: name.to_string(),
        tcp,
        payload: unescape(body)?,
        ports: Vec::new(),
        ssl_ports: Vec::new(),
        rarity: 1,
        fallback: Vec::new(),
        wait: Duration::from_millis(5_000),
        tcpwrapped: Duration::from_millis(2_000),
        matches: Vec::new(),
    })
}

fn parse_match(rest: &str) -> Result<MatchRule, String> {
    let (service, pattern) = rest
        .split_once(' ')
        .ok_or("a match line without a pattern")?;
    let pattern = pattern.trim_start();
    let m = pattern
        .strip_prefix('m')
        .ok_or_else(|| format!("pattern `{pattern}` does not start with m"))?;
    let (regex, mut tail) = delimited(m)?;
    let mut caseless = false;
    let mut dotall = false;
    while let Some(c) = tail.chars().next() {
        match c {
            'i' => caseless = true,
            's' => dotall = true,
            _ => break,
        }
        tail = &tail[1..];
    }
    let mut rule = MatchRule {
        service: service.to_string(),
        soft: false,
        pattern: regex.to_string(),
        caseless,
        dotall,
        regex: OnceLock::new(),
        product: None,
        version: None,
        info: None,
        hostname: None,
        os: None,
        device: None,
        cpes: Vec::new(),
        line: 0,
    };
    let mut tail = tail.trim_start();
    while !tail.is_empty() {
        let (field, after) = if let Some(r) = tail.strip_prefix("cpe:") {
            ("cpe", r)
        } else {
            let f = &tail[..1];
            (f, &tail[1..])
        };
        let (text, after) = delimited(after)?;
        let t = Some(Template(text.to_string()));
        match field {
            "p" => rule.product = t,
            "v" => rule.version = t,
            "i" => rule.info = t,
            "h" => rule.hostname = t,
            "o" => rule.os = t,
            "d" => rule.device = t,
            "cpe" => rule.cpes.push(Template(text.to_string())),
            other => return Err(format!("unknown version field `{other}`")),
        }
        // `cpe:/…/a`: the trailing flag only says it is an application.
        let after = after.strip_prefix('a').unwrap_or(after);
        tail = after.trim_start();
    }
    Ok(rule)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = r#"
# a tiny probe file in nmap's format
Exclude T:9100-9107
Probe TCP NULL q||
totalwaitms 6000
tcpwrappedms 3000
match ssh m|^SSH-([\d.]+)-OpenSSH_([\w._-]+)[ -]{1,2}Debian-(\S*)\r?\n| p/OpenSSH/ v/$2 Debian $3/ i/protocol $1/ o/Linux/ cpe:/a:openbsd:openssh:$2/ cpe:/o:debian:debian_linux/a
match ftp m/^220 ([-.\w]+) FTP server \(Version (\S+)\)/i p/BSD ftpd/ v/$SUBST(2,"_",".")/ h/$1/
softmatch smtp m|^220 [^\r\n]*SMTP|
match bin m|^\x01\x02(..)$|s p/Binary/ v/$I(1,">")/ i/$P(1)/
Probe TCP GetRequest q|GET / HTTP/1.0\r\n\r\n|
rarity 1
ports 80,8000-8010
sslports 443
fallback NULL
match http m|^HTTP/1\.[01] \d\d\d .*\r\nServer: nginx/([\d.]+)\r\n|s p/nginx/ v/$1/ cpe:/a:igor_sysoev:nginx:$1/
"#;

    #[test]
    fn parses_and_identifies() {
        let set = ProbeSet::parse(SAMPLE, "sample").unwrap();
        assert!(set.excluded(9101) && !set.excluded(9108));
        let null = set.probe("NULL").unwrap();
        assert_eq!(null.wait, Duration::from_millis(6000));
        let id = set
            .identify(null, b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n", None)
            .unwrap();
        assert_eq!(id.product.as_deref(), Some("OpenSSH"));
        assert_eq!(id.version.as_deref(), Some("9.2p1 Debian 2+deb12u3"));
        assert_eq!(id.info.as_deref(), Some("protocol 2.0"));
        assert_eq!(
            id.cpes,
            vec!["cpe:/a:openbsd:openssh:9.2p1", "cpe:/o:debian:debian_linux"]
        );
        let ftp = set
            .identify(
                null,
                b"220 host.example FTP SERVER (Version 6_00LS) ready",
                None,
            )
            .unwrap();
        assert_eq!(ftp.version.as_deref(), Some("6.00LS"));
        assert_eq!(ftp.hostname.as_deref(), Some("host.example"));
        let smtp = set
            .identify(null, b"220 mx ESMTP Postfix\r\n", None)
            .unwrap();
        assert!(smtp.soft && smtp.service == "smtp");
        let bin = set.identify(null, b"\x01\x02\x01\x00", None).unwrap();
        assert_eq!(bin.version.as_deref(), Some("256"));
        let get = set.probe("GetRequest").unwrap();
        assert!(get.for_port(8005, false) && get.for_port(443, true) && !get.for_port(443, false));
        let http = set
            .identify(
                get,
                b"HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\n\r\n",
                None,
            )
            .unwrap();
        assert_eq!(http.version.as_deref(), Some("1.22.1"));
        assert_eq!(http.probe, "GetRequest");
        // The NULL probe's lines are the implicit fallback of every TCP probe.
        let via_null = set.identify(get, b"SSH-2.0-OpenSSH_8.4p1 Debian-5\r\n", None);
        assert_eq!(via_null.unwrap().service, "ssh");
        assert!(set.identify(get, b"SSH-2.0-x", Some("http")).is_none());
    }

    #[test]
    fn bad_files_name_the_line() {
        for (text, want) in [
            ("match x m|a|\n", ":1"),
            ("Probe TCP NULL q||\nrarity 12\n", ":2"),
            ("Probe TCP NULL q||\nmatch x m|unclosed\n", ":2"),
            ("Probe TCP NULL q||\nmatch x m|a| z/what/\n", ":2"),
            ("Probe TCP X q|a|\n", "NULL"),
        ] {
            let e = ProbeSet::parse(text, "f").unwrap_err().to_string();
            assert!(e.contains(want), "{text:?}: {e}");
        }
    }

    /// Every pattern of the installed nmap file compiles with PCRE2, when nmap is installed.
    #[test]
    fn installed_file_parses() {
        let path = Path::new(DEFAULT_PROBES);
        if !path.exists() {
            return;
        }
        let set = ProbeSet::load(path).unwrap();
        let total: usize = set.probes.iter().map(|p| p.matches.len()).sum();
        assert!(total > 10_000, "{total}");
        let failed: Vec<String> = set
            .probes
            .iter()
            .flat_map(|p| p.matches.iter())
            .filter_map(|m| m.compile().err().map(|e| format!("line {}: {e}", m.line)))
            .collect();
        assert!(failed.is_empty(), "{failed:?}");
    }
}
