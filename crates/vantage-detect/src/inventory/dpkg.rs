//! The dpkg status file (`/var/lib/dpkg/status`): deb822 paragraphs; only packages whose
//! `Status` is `install ok installed` are installed. `Source: name (version)` names the source
//! package (and its version when it differs from the binary's).

use vantage_domain::Ecosystem;

use super::{InstalledPackage, InventoryError};
use crate::version::dpkg;

/// Parses a status file.
pub fn parse_status(text: &str) -> Result<Vec<InstalledPackage>, InventoryError> {
    let mut out = Vec::new();
    for block in super::blocks(text) {
        let mut fields: Vec<(usize, &str, &str)> = Vec::with_capacity(block.len());
        for (n, line) in block {
            if line.starts_with(' ') || line.starts_with('\t') {
                continue; // a continuation line (Description, Conffiles …)
            }
            let (k, v) = line.split_once(':').ok_or_else(|| InventoryError {
                line: n,
                message: format!("expected Field: value, got {line:?}"),
            })?;
            fields.push((n, k.trim(), v.trim()));
        }
        if fields.is_empty() {
            continue;
        }
        if let Some(p) = paragraph(&fields)? {
            out.push(p);
        }
    }
    Ok(out)
}

/// Parses `dpkg-query -W -f='${Package}\t${Version}\t${Architecture}\t${source:Package}\t${source:Version}\n'`
/// output (what Vantage's SSH collector runs): one installed package per line.
pub fn parse_query(text: &str) -> Result<Vec<InstalledPackage>, InventoryError> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        if line.trim().is_empty() {
            continue;
        }
        let f: Vec<&str> = line.split('\t').map(str::trim).collect();
        let [name, version, arch, source, source_version] = f.as_slice() else {
            return Err(InventoryError {
                line: n,
                message: format!(
                    "expected 5 tab-separated fields (package, version, architecture, source, source version), got {}",
                    f.len()
                ),
            });
        };
        if name.is_empty() {
            return Err(InventoryError {
                line: n,
                message: "empty package name".into(),
            });
        }
        dpkg::validate(version).map_err(|m| InventoryError {
            line: n,
            message: format!("package {name}: {m}"),
        })?;
        out.push(InstalledPackage {
            ecosystem: Ecosystem::Deb,
            name: name.to_string(),
            version: version.to_string(),
            arch: (!arch.is_empty()).then(|| arch.to_string()),
            source_name: if source.is_empty() {
                name.to_string()
            } else {
                source.to_string()
            },
            source_version: if source_version.is_empty() {
                version.to_string()
            } else {
                source_version.to_string()
            },
        });
    }
    Ok(out)
}

fn paragraph(fields: &[(usize, &str, &str)]) -> Result<Option<InstalledPackage>, InventoryError> {
    let start = fields[0].0;
    let get = |k: &str| {
        fields
            .iter()
            .find(|f| f.1.eq_ignore_ascii_case(k))
            .map(|f| (f.0, f.2))
    };
    let (_, name) = get("Package").ok_or_else(|| InventoryError {
        line: start,
        message: "paragraph without a Package field".into(),
    })?;
    let installed =
        get("Status").is_some_and(|s| s.1.split_whitespace().last() == Some("installed"));
    if !installed {
        return Ok(None);
    }
    let (vline, version) = get("Version").ok_or_else(|| InventoryError {
        line: start,
        message: format!("package {name} has no Version"),
    })?;
    dpkg::validate(version).map_err(|m| InventoryError {
        line: vline,
        message: format!("package {name}: {m}"),
    })?;
    let (source_name, source_version) = match get("Source") {
        Some((_, s)) => match s.split_once('(') {
            Some((n, v)) => (
                n.trim().to_string(),
                v.trim_end_matches(')').trim().to_string(),
            ),
            None => (s.trim().to_string(), version.to_string()),
        },
        None => (name.to_string(), version.to_string()),
    };
    Ok(Some(InstalledPackage {
        ecosystem: Ecosystem::Deb,
        name: name.to_string(),
        version: version.to_string(),
        arch: get("Architecture").map(|a| a.1.to_string()),
        source_name,
        source_version,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn installed_packages_with_their_source() {
        let status = "Package: libssl3\nStatus: install ok installed\nArchitecture: amd64\nSource: openssl\nVersion: 3.0.11-1~deb12u2\nDescription: x\n more\n\nPackage: gone\nStatus: deinstall ok config-files\nVersion: 1.0\n\nPackage: libc6\nStatus: install ok installed\nSource: glibc (2.36-9+deb12u4)\nVersion: 2.36-9+deb12u4\n";
        let p = parse_status(status).unwrap();
        assert_eq!(p.len(), 2);
        assert_eq!(
            (p[0].source_name.as_str(), p[0].source_version.as_str()),
            ("openssl", "3.0.11-1~deb12u2")
        );
        assert_eq!(
            (p[1].source_name.as_str(), p[1].source_version.as_str()),
            ("glibc", "2.36-9+deb12u4")
        );
    }

    #[test]
    fn dpkg_query_lines() {
        let p = parse_query("libssl3\t3.0.15-1~deb12u1\tamd64\topenssl\t3.0.15-1~deb12u1\nbash\t5.2.15-2+b7\tamd64\tbash\t5.2.15-2\n").unwrap();
        assert_eq!(
            (p[0].source_name.as_str(), p[1].source_version.as_str()),
            ("openssl", "5.2.15-2")
        );
        assert_eq!(parse_query("a\t1.0\n").unwrap_err().line, 1);
        assert!(
            parse_query("a\tx\tamd64\ta\tx\n")
                .unwrap_err()
                .message
                .contains("package a")
        );
    }

    #[test]
    fn corrupt_paragraphs_name_the_line() {
        let e =
            parse_status("Package: a\nStatus: install ok installed\nVersion: x y\n").unwrap_err();
        assert_eq!(e.line, 3);
        let e = parse_status("Package: a\nnot a field\n").unwrap_err();
        assert_eq!(e.line, 2);
    }
}
