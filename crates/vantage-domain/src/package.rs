//! Software packages installed on an asset.

use serde::{Deserialize, Serialize};

use crate::ids::{AssetId, PackageId};
use crate::macros::name_enum;

name_enum! {
    /// A packaging ecosystem, which decides the version ordering and the data sources that judge
    /// the package.
    pub enum Ecosystem ("ecosystem") {
        /// Debian and derivatives (dpkg).
        Deb = "deb",
        /// Red Hat family (rpm).
        Rpm = "rpm",
        /// Alpine (apk).
        Apk = "apk",
        /// npm.
        Npm = "npm",
        /// PyPI.
        Pypi = "pypi",
        /// crates.io.
        Cargo = "cargo",
        /// Maven.
        Maven = "maven",
        /// Go modules.
        Golang = "golang",
        /// RubyGems.
        Gem = "gem",
        /// NuGet.
        Nuget = "nuget",
        /// Packagist.
        Composer = "composer",
        /// Anything else (a generic version string).
        Generic = "generic",
    }
}

impl Ecosystem {
    /// The OSV ecosystem name (`PyPI`, `Go`, `crates.io` …) of the ecosystems OSV advisories
    /// judge; distribution packages are judged by their distribution's data instead.
    pub fn osv_name(self) -> Option<&'static str> {
        Some(match self {
            Ecosystem::Npm => "npm",
            Ecosystem::Pypi => "PyPI",
            Ecosystem::Cargo => "crates.io",
            Ecosystem::Maven => "Maven",
            Ecosystem::Golang => "Go",
            Ecosystem::Gem => "RubyGems",
            Ecosystem::Nuget => "NuGet",
            Ecosystem::Composer => "Packagist",
            Ecosystem::Deb | Ecosystem::Rpm | Ecosystem::Apk | Ecosystem::Generic => return None,
        })
    }

    /// The ecosystem an OSV ecosystem name stands for.
    pub fn from_osv(name: &str) -> Option<Ecosystem> {
        [
            Ecosystem::Npm,
            Ecosystem::Pypi,
            Ecosystem::Cargo,
            Ecosystem::Maven,
            Ecosystem::Golang,
            Ecosystem::Gem,
            Ecosystem::Nuget,
            Ecosystem::Composer,
        ]
        .into_iter()
        .find(|e| e.osv_name() == Some(name))
    }

    /// A package name as the ecosystem compares names: PEP 503 for PyPI, lower case for NuGet
    /// and Packagist, as written elsewhere (npm names are lower case; Go module paths and Maven
    /// coordinates are case-sensitive).
    pub fn package_key(self, name: &str) -> String {
        match self {
            Ecosystem::Pypi => pep503(name),
            Ecosystem::Nuget | Ecosystem::Composer => name.trim().to_ascii_lowercase(),
            _ => name.trim().to_string(),
        }
    }
}

/// PEP 503 name normalisation: lower case, runs of `-`, `_`, `.` become one `-`.
pub fn pep503(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut sep = false;
    for c in name.trim().chars() {
        if matches!(c, '-' | '_' | '.') {
            sep = true;
        } else {
            if sep && !out.is_empty() {
                out.push('-');
            }
            sep = false;
            out.push(c.to_ascii_lowercase());
        }
    }
    out
}

/// An installed package. Distro packages carry their source package, which is what distro
/// security data is keyed by.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Package {
    /// Stored id.
    pub id: PackageId,
    /// The asset it is installed on.
    pub asset_id: AssetId,
    /// Packaging ecosystem.
    pub ecosystem: Ecosystem,
    /// Binary package name.
    pub name: String,
    /// Installed version, in the ecosystem's own syntax.
    pub version: String,
    /// Source package name (distro packages).
    pub source_name: Option<String>,
    /// Source package version (distro packages).
    pub source_version: Option<String>,
    /// Architecture.
    pub arch: Option<String>,
    /// Package URL.
    pub purl: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn osv_names_and_package_keys() {
        assert_eq!(pep503("Typing_Extensions"), "typing-extensions");
        assert_eq!(pep503("zope.interface"), "zope-interface");
        assert_eq!(pep503("a--_b"), "a-b");
        assert_eq!(Ecosystem::from_osv("crates.io"), Some(Ecosystem::Cargo));
        assert_eq!(Ecosystem::from_osv("Debian:12"), None);
        assert_eq!(Ecosystem::Golang.osv_name(), Some("Go"));
        assert_eq!(Ecosystem::Deb.osv_name(), None);
        assert_eq!(
            Ecosystem::Nuget.package_key("Newtonsoft.Json"),
            "newtonsoft.json"
        );
        assert_eq!(
            Ecosystem::Golang.package_key("github.com/BurntSushi/toml"),
            "github.com/BurntSushi/toml"
        );
    }
}
