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
