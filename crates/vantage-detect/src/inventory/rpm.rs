//! RPM package lists: `rpm -qa` (`NAME-[EPOCH:]VERSION-RELEASE.ARCH` per line) and the
//! tab-separated query format Vantage's SSH collector uses
//! (`%{NAME}\t%{EPOCHNUM}:%{VERSION}-%{RELEASE}\t%{ARCH}\t%{SOURCERPM}`), with or without a
//! header line, or as separate columns `name epoch version release arch sourcerpm`.

use vantage_domain::Ecosystem;

use super::{InstalledPackage, InventoryError};
use crate::version::rpm;

/// The source package name of a source rpm file name (`openssl-3.0.7-27.el9.src.rpm` →
/// `openssl`).
fn source_name(srpm: &str) -> Option<String> {
    let base = srpm.trim().strip_suffix(".src.rpm")?;
    let (rest, _release) = base.rsplit_once('-')?;
    let (name, _version) = rest.rsplit_once('-')?;
    Some(name.to_string())
}

fn package(
    name: &str,
    evr: &str,
    arch: &str,
    srpm: Option<&str>,
    line: usize,
) -> Result<InstalledPackage, InventoryError> {
    if name.is_empty() {
        return Err(InventoryError {
            line,
            message: "package without a name".into(),
        });
    }
    rpm::validate(evr).map_err(|m| InventoryError {
        line,
        message: format!("package {name}: {m}"),
    })?;
    if !evr.contains('-') {
        return Err(InventoryError {
            line,
            message: format!("package {name}: {evr:?} has no release (VERSION-RELEASE)"),
        });
    }
    let evr = evr.strip_prefix("0:").unwrap_or(evr);
    Ok(InstalledPackage {
        ecosystem: Ecosystem::Rpm,
        name: name.to_string(),
        version: evr.to_string(),
        arch: (!arch.is_empty()).then(|| arch.to_string()),
        source_name: srpm
            .and_then(source_name)
            .unwrap_or_else(|| name.to_string()),
        source_version: evr.to_string(),
    })
}

/// Parses an `rpm -qa` listing.
pub fn parse_qa(text: &str) -> Result<Vec<InstalledPackage>, InventoryError> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        let line = line.trim();
        if line.is_empty() || line.starts_with("gpg-pubkey-") {
            continue;
        }
        let bad = || InventoryError {
            line: n,
            message: format!("expected NAME-VERSION-RELEASE.ARCH, got {line:?}"),
        };
        let (nvr, arch) = line.rsplit_once('.').ok_or_else(bad)?;
        let (nv, release) = nvr.rsplit_once('-').ok_or_else(bad)?;
        let (name, version) = nv.rsplit_once('-').ok_or_else(bad)?;
        out.push(package(
            name,
            &format!("{version}-{release}"),
            arch,
            None,
            n,
        )?);
    }
    Ok(out)
}

/// Parses the tab-separated forms.
pub fn parse_tsv(text: &str) -> Result<Vec<InstalledPackage>, InventoryError> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        if line.trim().is_empty() || line.starts_with("name\t") {
            continue;
        }
        let f: Vec<&str> = line.split('\t').map(str::trim).collect();
        match f.as_slice() {
            // name, epoch, version, release, arch, sourcerpm
            [name, epoch, version, release, arch, srpm] => {
                let evr = if epoch.is_empty() || *epoch == "(none)" || *epoch == "0" {
                    format!("{version}-{release}")
                } else {
                    format!("{epoch}:{version}-{release}")
                };
                out.push(package(name, &evr, arch, Some(srpm), n)?);
            }
            // name, epoch:version-release, arch, sourcerpm
            [name, evr, arch, srpm] => out.push(package(name, evr, arch, Some(srpm), n)?),
            _ => {
                return Err(InventoryError {
                    line: n,
                    message: format!(
                        "expected 4 tab-separated fields (name, epoch:version-release, arch, source rpm) or 6 (name, epoch, version, release, arch, source rpm), got {}",
                        f.len()
                    ),
                });
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rpm_qa_lines() {
        let p = parse_qa("NetworkManager-1:1.36.0-4.el9_0.x86_64\nacl-2.3.1-3.el9.x86_64\ngpg-pubkey-fd431d51-4ae0493b\n").unwrap();
        assert_eq!(p.len(), 2);
        assert_eq!(
            (
                p[0].name.as_str(),
                p[0].version.as_str(),
                p[0].arch.as_deref()
            ),
            ("NetworkManager", "1:1.36.0-4.el9_0", Some("x86_64"))
        );
        assert_eq!(
            (p[1].name.as_str(), p[1].version.as_str()),
            ("acl", "2.3.1-3.el9")
        );
        assert_eq!(parse_qa("garbage\n").unwrap_err().line, 1);
    }

    #[test]
    fn query_formats() {
        let p = parse_tsv("openssl-libs\t1:3.0.7-27.el9\tx86_64\topenssl-3.0.7-27.el9.src.rpm\n")
            .unwrap();
        assert_eq!(
            (p[0].source_name.as_str(), p[0].version.as_str()),
            ("openssl", "1:3.0.7-27.el9")
        );
        let p = parse_tsv("name\tepoch\tversion\trelease\tarch\tsourcerpm\naudit-libs\t0\t3.0.6\t1.cm2\tx86_64\taudit-3.0.6-1.cm2.src.rpm\n").unwrap();
        assert_eq!(
            (
                p[0].name.as_str(),
                p[0].version.as_str(),
                p[0].source_name.as_str()
            ),
            ("audit-libs", "3.0.6-1.cm2", "audit")
        );
        let e = parse_tsv("a\tb\n").unwrap_err();
        assert_eq!(e.line, 1);
        assert!(e.message.contains("expected 4 tab-separated fields"));
    }
}
