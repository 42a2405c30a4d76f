//! Assets: the things an organisation owns, and the identifiers that recognise them.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::ids::{AssetId, ScopeId};
use crate::macros::name_enum;

name_enum! {
    /// What kind of thing an asset is.
    pub enum AssetKind ("asset kind") {
        /// A physical or virtual machine with an operating system.
        Host = "host",
        /// A container image (by digest).
        ContainerImage = "container_image",
        /// An instance known through a cloud provider's API.
        CloudInstance = "cloud_instance",
        /// A cloud load balancer (its public names and addresses).
        LoadBalancer = "load_balancer",
        /// A DNS domain or subdomain.
        Domain = "domain",
        /// A bare IP address with no further knowledge about it.
        IpAddress = "ip_address",
        /// A web application (a base URL).
        WebApplication = "web_application",
    }
}

name_enum! {
    /// The kind of an identifier, which decides how two sightings are recognised as one asset.
    pub enum IdentifierKind ("identifier kind") {
        /// An IPv4 or IPv6 address.
        Ip = "ip",
        /// A short host name as the host reports it.
        Hostname = "hostname",
        /// A fully qualified domain name.
        Fqdn = "fqdn",
        /// A cloud provider's instance id, e.g. `aws:123456789012:i-0abc`.
        CloudId = "cloud_id",
        /// A container image digest, e.g. `sha256:…`.
        ImageDigest = "image_digest",
        /// The SHA-256 fingerprint of an SSH host key.
        SshHostKey = "ssh_host_key",
        /// A network interface hardware address.
        Mac = "mac",
        /// A base URL of a web application.
        Url = "url",
        /// The SHA-256 fingerprint of a TLS certificate a service presented. Weak: consulted
        /// only when no other identifier recognises the asset (a certificate may be shared).
        TlsCertificate = "tls_certificate",
    }
}

/// One way of recognising an asset. Identifiers are unique across assets: the same IP address seen
/// by two collectors belongs to one asset.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Identifier {
    /// What the value is.
    pub kind: IdentifierKind,
    /// The value, normalised (lower-case host names, canonical IP text).
    pub value: String,
}

impl IdentifierKind {
    /// Whether the identifier may be shared by distinct assets (a wildcard certificate, a host
    /// key baked into a cloned image): such identifiers recognise an asset only when no other
    /// identifier does.
    pub fn is_weak(self) -> bool {
        matches!(
            self,
            IdentifierKind::TlsCertificate | IdentifierKind::SshHostKey
        )
    }
}

impl Identifier {
    /// Builds an identifier, normalising the value for its kind.
    pub fn new(kind: IdentifierKind, value: impl AsRef<str>) -> Self {
        let value = value.as_ref().trim();
        let value = match kind {
            IdentifierKind::Hostname | IdentifierKind::Fqdn | IdentifierKind::Mac => {
                value.trim_end_matches('.').to_ascii_lowercase()
            }
            IdentifierKind::Ip => value
                .parse::<std::net::IpAddr>()
                .map(|ip| ip.to_string())
                .unwrap_or_else(|_| value.to_string()),
            _ => value.to_string(),
        };
        Self { kind, value }
    }
}

/// A `key=value` label attached to an asset (`env=prod`, `owner=payments`). A tag with an empty
/// value is a plain label.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Tag {
    /// The tag's key.
    pub key: String,
    /// The tag's value; may be empty.
    pub value: String,
}

impl std::str::FromStr for Tag {
    type Err = crate::ParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (key, value) = s.split_once('=').unwrap_or((s, ""));
        let key = key.trim();
        if key.is_empty() {
            return Err(crate::ParseError::invalid("tag", s, "the key is empty"));
        }
        Ok(Tag {
            key: key.to_string(),
            value: value.trim().to_string(),
        })
    }
}

impl std::fmt::Display for Tag {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.value.is_empty() {
            f.write_str(&self.key)
        } else {
            write!(f, "{}={}", self.key, self.value)
        }
    }
}

/// An asset as stored: the lifecycle dates say when it was first and last seen, and when it was
/// taken out of the live inventory (kept for history).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Asset {
    /// Stored id.
    pub id: AssetId,
    /// What kind of asset this is.
    pub kind: AssetKind,
    /// Display name (host name, image reference, domain …).
    pub name: String,
    /// Operating system as `id:version` (`debian:12`, `alpine:3.19`) when known.
    pub os: Option<String>,
    /// Every identifier that recognises the asset.
    pub identifiers: Vec<Identifier>,
    /// Labels.
    pub tags: Vec<Tag>,
    /// Scopes the asset belongs to.
    pub scopes: Vec<ScopeId>,
    /// First time any collector saw it.
    #[serde(with = "time::serde::rfc3339")]
    pub first_seen: OffsetDateTime,
    /// Last time any collector saw it.
    #[serde(with = "time::serde::rfc3339")]
    pub last_seen: OffsetDateTime,
    /// Consecutive scans of its scope that missed it.
    pub missed_scans: i32,
    /// When it was marked decommissioned; `None` while it is live.
    #[serde(with = "time::serde::rfc3339::option")]
    pub decommissioned_at: Option<OffsetDateTime>,
}

impl Asset {
    /// Whether the asset is part of the live inventory.
    pub fn is_live(&self) -> bool {
        self.decommissioned_at.is_none()
    }
}

/// An observation of an asset, as a collector reports it: the store merges it with any asset
/// that shares an identifier.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewAsset {
    /// What kind of asset this is.
    pub kind: AssetKind,
    /// Display name.
    pub name: String,
    /// Operating system when known.
    pub os: Option<String>,
    /// Identifiers seen; at least one is needed to merge sightings.
    pub identifiers: Vec<Identifier>,
    /// Labels.
    pub tags: Vec<Tag>,
    /// When it was seen.
    #[serde(with = "time::serde::rfc3339")]
    pub seen_at: OffsetDateTime,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_normalised() {
        assert_eq!(
            Identifier::new(IdentifierKind::Fqdn, "WWW.Example.TEST.").value,
            "www.example.test"
        );
        assert_eq!(Identifier::new(IdentifierKind::Ip, " ::0001 ").value, "::1");
        assert_eq!(
            Identifier::new(IdentifierKind::ImageDigest, "sha256:AB").value,
            "sha256:AB"
        );
    }

    #[test]
    fn tags_parse_with_and_without_value() {
        let t: Tag = "env = prod".parse().unwrap();
        assert_eq!((t.key.as_str(), t.value.as_str()), ("env", "prod"));
        assert_eq!("pci".parse::<Tag>().unwrap().to_string(), "pci");
        assert!("=x".parse::<Tag>().is_err());
    }

    #[test]
    fn kinds_round_trip_and_reject_unknown_names() {
        for k in AssetKind::ALL {
            assert_eq!(k.as_str().parse::<AssetKind>().unwrap(), *k);
        }
        let err = "server".parse::<AssetKind>().unwrap_err().to_string();
        assert!(
            err.contains("unknown asset kind `server`") && err.contains("container_image"),
            "{err}"
        );
    }
}
