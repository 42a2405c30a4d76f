//! Network services exposed by assets, with their fingerprint and TLS certificate facts.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::ids::{AssetId, ServiceId};
use crate::macros::name_enum;

name_enum! {
    /// Transport protocol of a service.
    #[derive(Default)]
    pub enum Transport ("transport") {
        /// TCP.
        #[default]
        Tcp = "tcp",
        /// UDP.
        Udp = "udp",
    }
}

/// Facts read from a TLS certificate presented by a service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TlsCertificate {
    /// Subject distinguished name.
    pub subject: String,
    /// Issuer distinguished name.
    pub issuer: String,
    /// Subject alternative names (DNS names and IPs).
    pub subject_alt_names: Vec<String>,
    /// Start of validity.
    #[serde(with = "time::serde::rfc3339::option")]
    pub not_before: Option<OffsetDateTime>,
    /// End of validity.
    #[serde(with = "time::serde::rfc3339::option")]
    pub not_after: Option<OffsetDateTime>,
    /// SHA-256 fingerprint of the DER certificate, lower-case hex.
    pub sha256: String,
    /// Whether the certificate is self-signed.
    pub self_signed: bool,
    /// Public key algorithm (`RSA`, `EC`, `Ed25519` …).
    #[serde(default)]
    pub key_type: String,
    /// Public key size in bits (RSA modulus, EC field), 0 when unknown.
    #[serde(default)]
    pub key_bits: u32,
    /// Signature algorithm (`sha256WithRSAEncryption`, `ecdsa-with-SHA256` …).
    #[serde(default)]
    pub signature_algorithm: String,
    /// Negotiated protocol version (`TLSv1.3`).
    #[serde(default)]
    pub protocol: String,
    /// Negotiated cipher suite.
    #[serde(default)]
    pub cipher: String,
    /// Legacy protocol versions the server still accepts (`TLSv1.0`, `TLSv1.1`).
    #[serde(default)]
    pub legacy_protocols: Vec<String>,
    /// Past its end of validity at the time of the scan.
    #[serde(default)]
    pub expired: bool,
    /// Before its start of validity at the time of the scan.
    #[serde(default)]
    pub not_yet_valid: bool,
    /// The name the service was reached by is not among the certificate's names.
    #[serde(default)]
    pub hostname_mismatch: bool,
    /// RSA/DSA key under 2048 bits or EC key under 224 bits.
    #[serde(default)]
    pub weak_key: bool,
    /// Signed with MD5 or SHA-1.
    #[serde(default)]
    pub weak_signature: bool,
}

/// What `GET /` answered on a web service.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HttpFacts {
    /// Status code.
    pub status: u16,
    /// `Server` header.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<String>,
    /// `<title>` of the page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// `Location` of a redirect.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redirect: Option<String>,
}

/// A listening service on an asset.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Service {
    /// Stored id.
    pub id: ServiceId,
    /// The asset that exposes it.
    pub asset_id: AssetId,
    /// TCP or UDP.
    pub transport: Transport,
    /// Port number.
    pub port: u16,
    /// Service name (`ssh`, `http` …) when identified.
    pub name: Option<String>,
    /// Product (`OpenSSH`) when identified.
    pub product: Option<String>,
    /// Product version when identified.
    pub version: Option<String>,
    /// CPE 2.3 name of the product when known.
    pub cpe: Option<String>,
    /// Raw banner, capped.
    pub banner: Option<String>,
    /// `ssl` when the service runs inside TLS.
    pub tunnel: Option<String>,
    /// Extra information the fingerprint gave (`protocol 2.0`).
    pub info: Option<String>,
    /// How it was identified: `probed`, `soft`, `table`, `tcpwrapped`, or nmap's method.
    pub method: Option<String>,
    /// TLS certificate facts when the service speaks TLS.
    pub tls: Option<TlsCertificate>,
    /// `GET /` facts of a web service.
    pub http: Option<HttpFacts>,
    /// First time seen open.
    #[serde(with = "time::serde::rfc3339")]
    pub first_seen: OffsetDateTime,
    /// Last time seen open.
    #[serde(with = "time::serde::rfc3339")]
    pub last_seen: OffsetDateTime,
    /// When a scan of its port last found it no longer open; `None` while it is open.
    #[serde(with = "time::serde::rfc3339::option")]
    pub closed_at: Option<OffsetDateTime>,
}

/// A service as a scan saw it, to record.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NewService {
    /// TCP or UDP.
    pub transport: Transport,
    /// Port number.
    pub port: u16,
    /// Service name.
    pub name: Option<String>,
    /// Product.
    pub product: Option<String>,
    /// Version.
    pub version: Option<String>,
    /// First CPE name of the product.
    pub cpe: Option<String>,
    /// Banner, printable and capped.
    pub banner: Option<String>,
    /// `ssl` when inside TLS.
    pub tunnel: Option<String>,
    /// Extra information.
    pub info: Option<String>,
    /// How it was identified.
    pub method: Option<String>,
    /// TLS facts.
    pub tls: Option<TlsCertificate>,
    /// HTTP facts.
    pub http: Option<HttpFacts>,
}
