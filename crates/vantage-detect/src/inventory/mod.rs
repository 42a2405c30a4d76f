//! Inventory parsers: what is installed on a machine, from the files its package managers keep.
//! Each parser reads bytes and returns [`Inventory`]; nothing here touches the store.

pub mod apk;
pub mod dpkg;
pub mod lockfile;
pub mod rpm;
pub mod sbom;

use vantage_domain::Ecosystem;

/// One installed package, as detection needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstalledPackage {
    /// Ecosystem (decides the version scheme and the data sources).
    pub ecosystem: Ecosystem,
    /// Binary package name.
    pub name: String,
    /// Installed version.
    pub version: String,
    /// Architecture, when known.
    pub arch: Option<String>,
    /// Source package (Debian `Source:`, Alpine origin, RPM source rpm name): what distribution
    /// security data is keyed by. Equal to `name` when the package is its own source.
    pub source_name: String,
    /// Source package version.
    pub source_version: String,
}

/// An operating system release: `debian:12`, `ubuntu:24.04`, `alpine:3.19`, `rhel:9`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OsRelease {
    /// Distribution id, lower-case (`/etc/os-release` `ID`).
    pub id: String,
    /// Release (`VERSION_ID`), for Alpine the branch (`3.19`, not `3.19.1`).
    pub version: String,
}

impl OsRelease {
    /// Parses `ID:VERSION` (`alpine:3.19`, `debian:12`).
    pub fn parse(s: &str) -> Result<OsRelease, InventoryError> {
        let (id, version) = s.trim().split_once(':').ok_or_else(|| InventoryError {
            line: 0,
            message: format!("--os {s:?}: expected DISTRO:RELEASE, e.g. debian:12, alpine:3.19"),
        })?;
        let id = id.trim().to_ascii_lowercase();
        let version = version.trim();
        if id.is_empty() || version.is_empty() {
            return Err(InventoryError {
                line: 0,
                message: format!(
                    "--os {s:?}: expected DISTRO:RELEASE, e.g. debian:12, alpine:3.19"
                ),
            });
        }
        Ok(OsRelease {
            version: normalize_release(&id, version),
            id,
        })
    }

    /// Reads `/etc/os-release` content (`ID=…`, `VERSION_ID=…`).
    pub fn from_os_release(text: &str) -> Option<OsRelease> {
        let field = |key: &str| {
            text.lines().find_map(|l| {
                let (k, v) = l.split_once('=')?;
                (k.trim() == key)
                    .then(|| v.trim().trim_matches(|c| c == '"' || c == '\'').to_string())
            })
        };
        let id = field("ID")?.to_ascii_lowercase();
        let version = field("VERSION_ID")?;
        Some(OsRelease {
            version: normalize_release(&id, &version),
            id,
        })
    }

    /// `alpine:3.19`.
    pub fn label(&self) -> String {
        format!("{}:{}", self.id, self.version)
    }
}

/// Alpine security data is per branch (`3.19`) while `VERSION_ID` is the point release
/// (`3.19.1`); Debian and the Red Hat family publish per major release (`12`, `9`) while
/// SBOMs often name the point release (`12.5`, `9.2`).
fn normalize_release(id: &str, version: &str) -> String {
    let version = version.trim_start_matches('v');
    if matches!(
        id,
        "debian" | "rhel" | "rocky" | "almalinux" | "alma" | "centos" | "ol"
    ) && let Some((major, _)) = version.split_once('.')
    {
        return major.to_string();
    }
    if id == "alpine" {
        let parts: Vec<&str> = version.split('.').collect();
        if parts.len() > 2 {
            return format!("{}.{}", parts[0], parts[1]);
        }
    }
    version.to_string()
}

/// A parsed inventory file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inventory {
    /// Which format it was.
    pub format: &'static str,
    /// Installed packages.
    pub packages: Vec<InstalledPackage>,
    /// The operating system the file names (SBOMs), if any.
    pub os: Option<OsRelease>,
    /// What the file describes (an SBOM's subject), if it says.
    pub subject: Option<String>,
    /// Whether that subject is a container image.
    pub container: bool,
    /// Entries skipped: SBOM components without a Package URL or of a type not judged.
    pub skipped: usize,
}

/// An inventory file that cannot be read: the line (1-based; 0 when not about a line) and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{message}", if *.line > 0 { format!("line {line}: ") } else { String::new() })]
pub struct InventoryError {
    /// Line number.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

/// The blank-line separated blocks of a file (dpkg paragraphs, apk records), each as its
/// lines with their 1-based numbers.
pub(crate) fn blocks(text: &str) -> Vec<Vec<(usize, &str)>> {
    let mut out = Vec::new();
    let mut block = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            if !block.is_empty() {
                out.push(std::mem::take(&mut block));
            }
        } else {
            block.push((i + 1, line));
        }
    }
    if !block.is_empty() {
        out.push(block);
    }
    out
}

impl Inventory {
    fn of(format: &'static str, packages: Vec<InstalledPackage>) -> Inventory {
        Inventory {
            format,
            packages,
            os: None,
            subject: None,
            container: false,
            skipped: 0,
        }
    }
}

/// Recognises the format from the file name (language lockfiles: `Cargo.lock`,
/// `package-lock.json`, `requirements.txt` …) or else from the content, and parses it.
pub fn parse_named(file_name: &str, text: &str) -> Result<Inventory, InventoryError> {
    match lockfile::format_of(file_name) {
        Some(format) => {
            let (packages, skipped) = lockfile::parse(format, text)?;
            Ok(Inventory {
                skipped,
                ..Inventory::of(format, packages)
            })
        }
        None => parse(text),
    }
}

/// Recognises the format from the content and parses it.
pub fn parse(text: &str) -> Result<Inventory, InventoryError> {
    if text.trim_start().starts_with('{') {
        return match sbom::parse(text)? {
            Some(s) => Ok(Inventory {
                format: s.format,
                packages: s.packages,
                os: s.os,
                subject: s.subject,
                container: s.container,
                skipped: s.skipped,
            }),
            None => Err(InventoryError {
                line: 1,
                message: "a JSON document that is neither a CycloneDX nor an SPDX 2 SBOM".into(),
            }),
        };
    }
    let first = text
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or_default();
    let looks_apk =
        first.len() > 1 && first.as_bytes()[1] == b':' && first.as_bytes()[0].is_ascii_alphabetic();
    if first.starts_with("Package:") {
        Ok(Inventory::of("dpkg-status", dpkg::parse_status(text)?))
    } else if looks_apk {
        Ok(Inventory::of("apk-installed", apk::parse_installed(text)?))
    } else if first.split('\t').count() == 5 {
        Ok(Inventory::of("dpkg-query", dpkg::parse_query(text)?))
    } else if first.contains('\t') {
        Ok(Inventory::of("rpm-query", rpm::parse_tsv(text)?))
    } else if first.trim().rsplit_once('.').is_some_and(|(nvr, arch)| {
        nvr.matches('-').count() >= 2
            && !arch.is_empty()
            && arch.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
    }) {
        Ok(Inventory::of("rpm-qa", rpm::parse_qa(text)?))
    } else {
        Err(InventoryError {
            line: 1,
            message: "unrecognised inventory: expected a dpkg status file (/var/lib/dpkg/status) \
                      or dpkg-query -W output, \
                      an apk installed database (/lib/apk/db/installed), an rpm list \
                      (rpm -qa, or its tab-separated query format) or a CycloneDX / SPDX \
                      JSON SBOM"
                .into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn os_releases() {
        assert_eq!(
            OsRelease::parse("Alpine:v3.19").unwrap().label(),
            "alpine:3.19"
        );
        assert_eq!(OsRelease::parse("debian:12").unwrap().label(), "debian:12");
        assert!(OsRelease::parse("debian").is_err());
        let text = "NAME=\"Alpine Linux\"\nID=alpine\nVERSION_ID=3.19.1\n";
        assert_eq!(
            OsRelease::from_os_release(text).unwrap().label(),
            "alpine:3.19"
        );
        let text = "ID=ubuntu\nVERSION_ID=\"24.04\"\n";
        assert_eq!(
            OsRelease::from_os_release(text).unwrap().label(),
            "ubuntu:24.04"
        );
    }

    #[test]
    fn unknown_formats_are_refused() {
        assert!(
            parse("hello world\n")
                .unwrap_err()
                .message
                .contains("unrecognised")
        );
    }
}
