//! Software bills of materials in JSON: CycloneDX (1.2 – 1.6, nested components included) and
//! SPDX 2.x. Each component's Package URL decides its ecosystem, name and version; distribution
//! packages (`pkg:deb`, `pkg:rpm`, `pkg:apk`) keep their source package when the SBOM says it
//! (the `upstream` qualifier of Syft, the `SrcName` properties of Trivy), and the operating
//! system comes from an `operating-system` component or a `distro` qualifier.
//!
//! A component without a Package URL is counted and skipped; a Package URL that does not parse
//! is an error naming its JSON path and line.

use std::str::FromStr;

use packageurl::PackageUrl;
use serde_json::Value;
use vantage_domain::Ecosystem;

use super::{InstalledPackage, InventoryError, OsRelease};

/// What an SBOM holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sbom {
    /// `cyclonedx` or `spdx`.
    pub format: &'static str,
    /// The SBOM's subject (CycloneDX `metadata.component`, SPDX `name`), when it says.
    pub subject: Option<String>,
    /// Whether the subject is a container image (CycloneDX `metadata.component.type`).
    pub container: bool,
    /// The operating system it names.
    pub os: Option<OsRelease>,
    /// Packages with a usable Package URL.
    pub packages: Vec<InstalledPackage>,
    /// Components skipped: no Package URL, or a type Vantage does not judge.
    pub skipped: usize,
}

/// The 1-based line of the first occurrence of `needle` in `text` (0 when absent).
fn line_of(text: &str, needle: &str) -> usize {
    text.find(needle)
        .map_or(0, |at| text[..at].matches('\n').count() + 1)
}

fn ecosystem_of_purl(ty: &str) -> Option<Ecosystem> {
    Some(match ty {
        "deb" => Ecosystem::Deb,
        "rpm" => Ecosystem::Rpm,
        "apk" => Ecosystem::Apk,
        "npm" => Ecosystem::Npm,
        "pypi" => Ecosystem::Pypi,
        "cargo" => Ecosystem::Cargo,
        "maven" => Ecosystem::Maven,
        "golang" => Ecosystem::Golang,
        "gem" => Ecosystem::Gem,
        "nuget" => Ecosystem::Nuget,
        "composer" => Ecosystem::Composer,
        _ => return None,
    })
}

/// `debian-12`, `alpine-3.19.1`, `ubuntu-24.04`, `rhel-9.2` → an OS release.
fn os_of_distro_qualifier(q: &str) -> Option<OsRelease> {
    let (id, version) = q.rsplit_once('-')?;
    let id = match id {
        "redhat" => "rhel",
        other => other,
    };
    if !version.starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    OsRelease::parse(&format!("{id}:{version}")).ok()
}

/// A CycloneDX component's `properties` value by name.
fn property<'a>(component: &'a Value, name: &str) -> Option<&'a str> {
    component
        .get("properties")?
        .as_array()?
        .iter()
        .find(|p| p.get("name").and_then(Value::as_str) == Some(name))?
        .get("value")?
        .as_str()
}

/// The source package of a distribution package: Syft's `upstream` qualifier (`openssl`,
/// `glibc@2.36-9`, `openssl-3.0.7-24.el9.src.rpm`) or Trivy's `SrcName` / `SrcVersion`.
fn source_of(
    purl: &PackageUrl<'_>,
    component: Option<&Value>,
    ecosystem: Ecosystem,
    version: &str,
) -> (String, String) {
    if let Some(c) = component
        && let Some(name) = property(c, "aquasecurity:trivy:SrcName")
    {
        let mut v = property(c, "aquasecurity:trivy:SrcVersion")
            .unwrap_or(version)
            .to_string();
        if let Some(r) = property(c, "aquasecurity:trivy:SrcRelease") {
            v = format!("{v}-{r}");
        }
        if let Some(e) = property(c, "aquasecurity:trivy:SrcEpoch")
            && e != "0"
        {
            v = format!("{e}:{v}");
        }
        return (name.to_string(), v);
    }
    if let Some(up) = purl.qualifiers().get("upstream") {
        let up = up.as_ref();
        if ecosystem == Ecosystem::Rpm
            && let Some(nvr) = up.strip_suffix(".src.rpm")
            && let Some((nv, release)) = nvr.rsplit_once('-')
            && let Some((name, v)) = nv.rsplit_once('-')
        {
            return (name.to_string(), format!("{v}-{release}"));
        }
        if let Some((name, v)) = up.split_once('@') {
            return (name.to_string(), v.to_string());
        }
        if ecosystem != Ecosystem::Rpm {
            return (up.to_string(), version.to_string());
        }
    }
    (purl.name().to_string(), version.to_string())
}

/// One component's package, from its Package URL.
fn package(
    text: &str,
    path: &str,
    purl_text: &str,
    component: Option<&Value>,
    os: &mut Option<OsRelease>,
) -> Result<Option<InstalledPackage>, InventoryError> {
    let purl = PackageUrl::from_str(purl_text).map_err(|e| InventoryError {
        line: line_of(text, purl_text),
        message: format!("{path}: invalid Package URL {purl_text:?}: {e}"),
    })?;
    let Some(ecosystem) = ecosystem_of_purl(purl.ty()) else {
        return Ok(None);
    };
    let Some(version) = purl.version().filter(|v| !v.is_empty()) else {
        return Err(InventoryError {
            line: line_of(text, purl_text),
            message: format!("{path}: Package URL {purl_text:?} has no version"),
        });
    };
    let q = purl.qualifiers();
    let mut version = version.to_string();
    if ecosystem == Ecosystem::Rpm
        && let Some(epoch) = q.get("epoch")
        && epoch != "0"
    {
        version = format!("{epoch}:{version}");
    }
    let name = match (ecosystem, purl.namespace()) {
        (Ecosystem::Maven, Some(group)) => format!("{group}:{}", purl.name()),
        (Ecosystem::Golang | Ecosystem::Composer, Some(ns)) => format!("{ns}/{}", purl.name()),
        (Ecosystem::Npm, Some(scope)) => format!("{scope}/{}", purl.name()),
        _ => purl.name().to_string(),
    };
    if matches!(ecosystem, Ecosystem::Deb | Ecosystem::Rpm | Ecosystem::Apk)
        && os.is_none()
        && let Some(d) = q.get("distro")
    {
        *os = os_of_distro_qualifier(d);
    }
    let (source_name, source_version) =
        if matches!(ecosystem, Ecosystem::Deb | Ecosystem::Rpm | Ecosystem::Apk) {
            source_of(&purl, component, ecosystem, &version)
        } else {
            (name.clone(), version.clone())
        };
    Ok(Some(InstalledPackage {
        ecosystem,
        name,
        version,
        arch: q.get("arch").map(|a| a.to_string()),
        source_name,
        source_version,
    }))
}

fn cyclonedx_components(
    text: &str,
    list: &[Value],
    path: &str,
    sbom: &mut Sbom,
) -> Result<(), InventoryError> {
    for (i, c) in list.iter().enumerate() {
        let here = format!("{path}[{i}]");
        if c.get("type").and_then(Value::as_str) == Some("operating-system") {
            let name = c.get("name").and_then(Value::as_str).unwrap_or_default();
            let version = c.get("version").and_then(Value::as_str).unwrap_or_default();
            if sbom.os.is_none() && !name.is_empty() && !version.is_empty() {
                sbom.os = OsRelease::parse(&format!("{name}:{version}")).ok();
            }
        } else {
            match c.get("purl") {
                Some(Value::String(p)) => {
                    match package(text, &format!("{here}.purl"), p, Some(c), &mut sbom.os)? {
                        Some(pkg) => sbom.packages.push(pkg),
                        None => sbom.skipped += 1,
                    }
                }
                Some(other) if !other.is_null() => {
                    return Err(InventoryError {
                        line: 0,
                        message: format!("{here}.purl: expected a string, found {other}"),
                    });
                }
                _ => sbom.skipped += 1,
            }
        }
        if let Some(nested) = c.get("components").and_then(Value::as_array) {
            cyclonedx_components(text, nested, &format!("{here}.components"), sbom)?;
        }
    }
    Ok(())
}

/// Parses a CycloneDX or SPDX JSON document; `Ok(None)` when the JSON is neither.
pub fn parse(text: &str) -> Result<Option<Sbom>, InventoryError> {
    let doc: Value = serde_json::from_str(text).map_err(|e| InventoryError {
        line: e.line(),
        message: format!("invalid JSON: {e}"),
    })?;
    if doc.get("bomFormat").and_then(Value::as_str) == Some("CycloneDX") {
        let mut sbom = Sbom {
            format: "cyclonedx",
            subject: doc
                .pointer("/metadata/component/name")
                .and_then(Value::as_str)
                .map(str::to_string),
            container: doc
                .pointer("/metadata/component/type")
                .and_then(Value::as_str)
                == Some("container"),
            os: None,
            packages: Vec::new(),
            skipped: 0,
        };
        let components = match doc.get("components") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(a)) => a.clone(),
            Some(other) => {
                return Err(InventoryError {
                    line: 0,
                    message: format!("components: expected an array, found {other}"),
                });
            }
        };
        cyclonedx_components(text, &components, "components", &mut sbom)?;
        return Ok(Some(sbom));
    }
    if doc
        .get("spdxVersion")
        .and_then(Value::as_str)
        .is_some_and(|v| v.starts_with("SPDX-2"))
    {
        let mut sbom = Sbom {
            format: "spdx",
            subject: doc.get("name").and_then(Value::as_str).map(str::to_string),
            container: false,
            os: None,
            packages: Vec::new(),
            skipped: 0,
        };
        let packages = doc
            .get("packages")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        for (i, p) in packages.iter().enumerate() {
            if p.get("primaryPackagePurpose").and_then(Value::as_str) == Some("OPERATING-SYSTEM") {
                let name = p.get("name").and_then(Value::as_str).unwrap_or_default();
                let version = p
                    .get("versionInfo")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                if sbom.os.is_none() && !name.is_empty() && !version.is_empty() {
                    sbom.os = OsRelease::parse(&format!("{name}:{version}")).ok();
                }
                continue;
            }
            let refs = p
                .get("externalRefs")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            let purl = refs.iter().enumerate().find_map(|(j, r)| {
                (r.get("referenceType").and_then(Value::as_str) == Some("purl"))
                    .then(|| (j, r.get("referenceLocator").and_then(Value::as_str)))
            });
            match purl {
                Some((j, Some(locator))) => {
                    let path = format!("packages[{i}].externalRefs[{j}].referenceLocator");
                    match package(text, &path, locator, None, &mut sbom.os)? {
                        Some(pkg) => sbom.packages.push(pkg),
                        None => sbom.skipped += 1,
                    }
                }
                Some((j, None)) => {
                    return Err(InventoryError {
                        line: 0,
                        message: format!(
                            "packages[{i}].externalRefs[{j}].referenceLocator: missing"
                        ),
                    });
                }
                None => sbom.skipped += 1,
            }
        }
        return Ok(Some(sbom));
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cyclonedx_with_nested_and_distro_components() {
        let text = r#"{
  "bomFormat": "CycloneDX", "specVersion": "1.5",
  "metadata": {"component": {"type": "container", "name": "shop:1.4"}},
  "components": [
    {"type": "operating-system", "name": "debian", "version": "12.5"},
    {"type": "library", "name": "libssl3", "version": "3.0.11-1~deb12u2",
     "purl": "pkg:deb/debian/libssl3@3.0.11-1~deb12u2?arch=amd64&distro=debian-12.5",
     "properties": [{"name": "aquasecurity:trivy:SrcName", "value": "openssl"},
                    {"name": "aquasecurity:trivy:SrcVersion", "value": "3.0.11"},
                    {"name": "aquasecurity:trivy:SrcRelease", "value": "1~deb12u2"}]},
    {"type": "library", "name": "django", "version": "4.1.8", "purl": "pkg:pypi/django@4.1.8",
     "components": [{"type": "library", "name": "core", "purl": "pkg:npm/%40babel/core@7.20.0"}]},
    {"type": "library", "name": "log4j-core",
     "purl": "pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1"},
    {"type": "library", "name": "x", "purl": "pkg:golang/golang.org/x/net@v0.7.0"},
    {"type": "file", "name": "README"},
    {"type": "library", "name": "thing", "purl": "pkg:swift/github.com/x/thing@1.0.0"}
  ]
}"#;
        let s = parse(text).unwrap().unwrap();
        assert_eq!(s.format, "cyclonedx");
        assert_eq!(s.subject.as_deref(), Some("shop:1.4"));
        assert!(s.container);
        assert_eq!(s.os.as_ref().unwrap().label(), "debian:12");
        let got: Vec<(Ecosystem, &str, &str, &str, &str)> = s
            .packages
            .iter()
            .map(|p| {
                (
                    p.ecosystem,
                    p.name.as_str(),
                    p.version.as_str(),
                    p.source_name.as_str(),
                    p.source_version.as_str(),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                (
                    Ecosystem::Deb,
                    "libssl3",
                    "3.0.11-1~deb12u2",
                    "openssl",
                    "3.0.11-1~deb12u2"
                ),
                (Ecosystem::Pypi, "django", "4.1.8", "django", "4.1.8"),
                (
                    Ecosystem::Npm,
                    "@babel/core",
                    "7.20.0",
                    "@babel/core",
                    "7.20.0"
                ),
                (
                    Ecosystem::Maven,
                    "org.apache.logging.log4j:log4j-core",
                    "2.14.1",
                    "org.apache.logging.log4j:log4j-core",
                    "2.14.1"
                ),
                (
                    Ecosystem::Golang,
                    "golang.org/x/net",
                    "v0.7.0",
                    "golang.org/x/net",
                    "v0.7.0"
                ),
            ]
        );
        assert_eq!(s.skipped, 2);
    }

    #[test]
    fn spdx_with_syft_upstream_qualifiers() {
        let text = r#"{
  "spdxVersion": "SPDX-2.3", "name": "registry.example/app",
  "packages": [
    {"name": "openssl-libs", "versionInfo": "1:3.0.7-24.el9",
     "externalRefs": [{"referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl",
       "referenceLocator": "pkg:rpm/redhat/openssl-libs@3.0.7-24.el9?arch=x86_64&epoch=1&upstream=openssl-3.0.7-24.el9.src.rpm&distro=rhel-9.2"}]},
    {"name": "requests", "externalRefs": [{"referenceType": "purl",
       "referenceLocator": "pkg:pypi/requests@2.28.1"}]},
    {"name": "no-purl"}
  ]
}"#;
        let s = parse(text).unwrap().unwrap();
        assert_eq!(s.format, "spdx");
        assert_eq!(s.os.as_ref().unwrap().label(), "rhel:9");
        assert_eq!(s.packages[0].version, "1:3.0.7-24.el9");
        assert_eq!(s.packages[0].source_name, "openssl");
        assert_eq!(s.packages[0].source_version, "3.0.7-24.el9");
        assert_eq!(s.packages[1].name, "requests");
        assert_eq!(s.skipped, 1);
    }

    #[test]
    fn invalid_purls_name_the_path_and_line() {
        let text = "{\"bomFormat\": \"CycloneDX\",\n \"components\": [\n  {\"purl\": \"pkg:pypi/requests@2.28.1\"},\n  {\"purl\": \"npm/left-pad@1.0.0\"}\n]}";
        let e = parse(text).unwrap_err();
        assert_eq!(e.line, 4);
        assert!(
            e.message
                .starts_with("components[1].purl: invalid Package URL"),
            "{e}"
        );
        let e = parse(
            "{\"bomFormat\": \"CycloneDX\", \"components\": [{\"purl\": \"pkg:pypi/requests\"}]}",
        )
        .unwrap_err();
        assert!(e.message.contains("has no version"), "{e}");
        let e = parse("{\"bomFormat\": \"CycloneDX\",\n\"components\": [}").unwrap_err();
        assert_eq!(e.line, 2);
        assert!(parse("{\"hello\": 1}").unwrap().is_none());
    }
}
