//! Port specifications in nmap's style (`22,80,443`, `1-1024`, `-`, `T:1-100`), and the
//! `--top-ports N` list read from an installed `nmap-services` frequency table.

use std::path::Path;

use crate::ScanError;

/// Where Debian's `nmap-common` installs its data files.
pub const NMAP_DATA_DIR: &str = "/usr/share/nmap";

/// Parses a TCP port list. `U:` (UDP) parts are refused: UDP scanning is not built yet.
pub fn parse_ports(spec: &str) -> Result<Vec<u16>, ScanError> {
    let bad = |why: String| ScanError::Ports(spec.to_string(), why);
    let mut out = Vec::new();
    let mut udp = false;
    for part in spec.split(',') {
        let mut p = part.trim();
        if p.is_empty() {
            return Err(bad("an empty item (two commas in a row?)".into()));
        }
        if let Some(rest) = p.strip_prefix("T:").or_else(|| p.strip_prefix("t:")) {
            udp = false;
            p = rest;
        } else if p.starts_with("U:") || p.starts_with("u:") {
            udp = true;
            p = &p[2..];
        } else if p.starts_with("S:") || p.starts_with("s:") {
            return Err(bad("SCTP ports are not supported".into()));
        }
        if udp {
            return Err(bad(format!(
                "`{part}`: UDP scanning is not supported yet; scan TCP ports only"
            )));
        }
        let num = |x: &str, default: u16| -> Result<u16, ScanError> {
            let x = x.trim();
            if x.is_empty() {
                return Ok(default);
            }
            match x.parse::<u32>() {
                Ok(n) if n <= 65_535 => Ok(n as u16),
                _ => Err(bad(format!("`{x}` is not a port number (0-65535)"))),
            }
        };
        let (lo, hi) = match p.split_once('-') {
            Some((a, b)) => (num(a, 1)?, num(b, 65_535)?),
            None => {
                let n = num(p, 0)?;
                if p.is_empty() {
                    return Err(bad("an empty item".into()));
                }
                (n, n)
            }
        };
        if hi < lo {
            return Err(bad(format!("range `{p}` ends before it starts")));
        }
        if lo == 0 && hi == 0 {
            return Err(bad("port 0 cannot be scanned".into()));
        }
        out.extend(lo.max(1)..=hi);
    }
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

/// The `n` most frequently open TCP ports according to an `nmap-services` file (port, frequency).
pub fn top_ports(n: usize, services_file: &Path) -> Result<Vec<u16>, ScanError> {
    let text = std::fs::read_to_string(services_file).map_err(|e| {
        ScanError::Ports(
            format!("--top-ports {n}"),
            format!(
                "cannot read {}: {e} (install nmap-common or give --nmap-data)",
                services_file.display()
            ),
        )
    })?;
    let mut ranked: Vec<(f64, u16)> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut fields = line.split_whitespace();
        let (_name, portproto, freq) = (fields.next(), fields.next(), fields.next());
        let (Some(pp), Some(freq)) = (portproto, freq) else {
            return Err(ScanError::Ports(
                format!("{}:{}", services_file.display(), i + 1),
                "expected `name port/proto frequency`".into(),
            ));
        };
        let Some(port) = pp.strip_suffix("/tcp") else {
            continue;
        };
        let (Ok(port), Ok(freq)) = (port.parse::<u16>(), freq.parse::<f64>()) else {
            return Err(ScanError::Ports(
                format!("{}:{}", services_file.display(), i + 1),
                format!("unreadable port or frequency in `{line}`"),
            ));
        };
        ranked.push((freq, port));
    }
    ranked.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    let mut ports: Vec<u16> = ranked.into_iter().take(n).map(|(_, p)| p).collect();
    ports.sort_unstable();
    ports.dedup();
    Ok(ports)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nmap_style_specs() {
        assert_eq!(parse_ports("22,80,443").unwrap(), vec![22, 80, 443]);
        assert_eq!(parse_ports("1-3,2,T:5").unwrap(), vec![1, 2, 3, 5]);
        assert_eq!(parse_ports("-").unwrap().len(), 65_535);
        assert_eq!(parse_ports("65530-").unwrap().len(), 6);
        assert_eq!(parse_ports("-3").unwrap(), vec![1, 2, 3]);
        for bad in ["", "22,,80", "70000", "80-22", "http", "U:53", "0"] {
            assert!(parse_ports(bad).is_err(), "{bad}");
        }
        assert!(parse_ports("U:53").unwrap_err().to_string().contains("UDP"));
    }

    #[test]
    fn top_ports_by_frequency() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("nmap-services");
        std::fs::write(
            &f,
            "# comment\nhttp\t80/tcp\t0.484143\nssh\t22/tcp\t0.182286\n\
             domain\t53/udp\t0.213496\nftp\t21/tcp\t0.197667\n",
        )
        .unwrap();
        assert_eq!(top_ports(2, &f).unwrap(), vec![21, 80]);
        std::fs::write(&f, "http 80/tcp abc\n").unwrap();
        assert!(top_ports(2, &f).unwrap_err().to_string().contains(":1"));
    }
}
