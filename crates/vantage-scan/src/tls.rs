//! TLS facts: a handshake that accepts any certificate and records the chain (a scanner must see
//! the bad certificates, not refuse them), the certificate's facts read with `x509-parser`, and a
//! raw ClientHello that asks for TLS 1.0 and 1.1 to learn whether the server still speaks them
//! (rustls itself never will).

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use ::time::OffsetDateTime;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, SignatureScheme};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use vantage_domain::TlsCertificate;
use x509_parser::prelude::*;

use crate::source::SourcePorts;

/// Accepts every certificate: the scanner records what is presented and judges it itself.
#[derive(Debug)]
struct AcceptAll(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for AcceptAll {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }

    fn verify_tls13_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

fn connector() -> TlsConnector {
    static CONFIG: OnceLock<Arc<ClientConfig>> = OnceLock::new();
    let config = CONFIG.get_or_init(|| {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let config = ClientConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
            .expect("aws-lc-rs supports TLS 1.2 and 1.3")
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAll(provider)))
            .with_no_client_auth();
        Arc::new(config)
    });
    TlsConnector::from(config.clone())
}

fn server_name(name: Option<&str>, ip: IpAddr) -> ServerName<'static> {
    name.and_then(|n| ServerName::try_from(n.to_string()).ok())
        .unwrap_or(ServerName::IpAddress(ip.into()))
}

/// Connects and completes a TLS handshake (any certificate accepted), within `timeout`.
pub async fn connect(
    addr: SocketAddr,
    name: Option<&str>,
    timeout: Duration,
    sources: &SourcePorts,
) -> std::io::Result<TlsStream<TcpStream>> {
    let fut = async {
        let tcp = sources.connect(addr, timeout).await?;
        connector().connect(server_name(name, addr.ip()), tcp).await
    };
    tokio::time::timeout(timeout, fut)
        .await
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "TLS handshake timed out"))?
}

/// Handshakes and reads the facts of the presented certificate; `name` is what the service was
/// reached by (a host name, or the address itself).
pub async fn grab(
    addr: SocketAddr,
    name: Option<&str>,
    timeout: Duration,
    sources: &SourcePorts,
) -> Result<TlsCertificate, String> {
    let stream = connect(addr, name, timeout, sources)
        .await
        .map_err(|e| format!("TLS handshake: {e}"))?;
    let (_, conn) = stream.get_ref();
    let chain = conn
        .peer_certificates()
        .and_then(|c| c.first())
        .ok_or("the server presented no certificate")?;
    let mut facts = certificate_facts(
        chain.as_ref(),
        name.unwrap_or(&addr.ip().to_string()),
        OffsetDateTime::now_utc(),
    )?;
    facts.protocol = match conn.protocol_version() {
        Some(rustls::ProtocolVersion::TLSv1_3) => "TLSv1.3".into(),
        Some(rustls::ProtocolVersion::TLSv1_2) => "TLSv1.2".into(),
        Some(v) => format!("{v:?}"),
        None => String::new(),
    };
    facts.cipher = conn
        .negotiated_cipher_suite()
        .map(|s| format!("{:?}", s.suite()))
        .unwrap_or_default();
    drop(stream);
    for (label, version) in [("TLSv1.0", 0x0301u16), ("TLSv1.1", 0x0302)] {
        if accepts_legacy(addr, name, version, timeout, sources).await {
            facts.legacy_protocols.push(label.into());
        }
    }
    Ok(facts)
}

/// Reads a DER certificate's facts and judges it against the name and the time.
pub fn certificate_facts(
    der: &[u8],
    name: &str,
    now: OffsetDateTime,
) -> Result<TlsCertificate, String> {
    let (_, cert) =
        X509Certificate::from_der(der).map_err(|e| format!("unreadable certificate: {e}"))?;
    let mut sans = Vec::new();
    if let Ok(Some(ext)) = cert.subject_alternative_name() {
        for g in &ext.value.general_names {
            match g {
                GeneralName::DNSName(d) => sans.push(d.to_string()),
                GeneralName::IPAddress(b) => {
                    if let Ok(a) = <[u8; 4]>::try_from(*b) {
                        sans.push(IpAddr::from(a).to_string());
                    } else if let Ok(a) = <[u8; 16]>::try_from(*b) {
                        sans.push(IpAddr::from(a).to_string());
                    }
                }
                _ => {}
            }
        }
    }
    let validity = cert.validity();
    let ts = |t: &ASN1Time| OffsetDateTime::from_unix_timestamp(t.timestamp()).ok();
    let not_before = ts(&validity.not_before);
    let not_after = ts(&validity.not_after);
    let spki = cert.public_key();
    let (key_type, key_bits) = match spki.parsed() {
        Ok(x509_parser::public_key::PublicKey::RSA(k)) => ("RSA", k.key_size()),
        Ok(x509_parser::public_key::PublicKey::EC(k)) => ("EC", k.key_size()),
        Ok(x509_parser::public_key::PublicKey::DSA(k)) => ("DSA", k.len() * 8),
        _ => {
            let oid = spki.algorithm.algorithm.to_id_string();
            match oid.as_str() {
                "1.3.101.112" => ("Ed25519", 256),
                "1.3.101.113" => ("Ed448", 456),
                _ => ("unknown", 0),
            }
        }
    };
    let sig_oid = &cert.signature_algorithm.algorithm;
    let signature_algorithm = x509_parser::objects::oid2sn(sig_oid, oid_registry())
        .map(str::to_string)
        .unwrap_or_else(|_| sig_oid.to_id_string());
    let lower = signature_algorithm.to_ascii_lowercase();
    let weak_signature = lower.contains("md5") || lower.contains("md2") || lower.contains("sha1");
    let weak_key = match key_type {
        "RSA" | "DSA" => key_bits < 2048,
        "EC" => key_bits < 224,
        _ => false,
    };
    let subject = cert.subject().to_string();
    let issuer = cert.issuer().to_string();
    let cn: Vec<String> = cert
        .subject()
        .iter_common_name()
        .filter_map(|c| c.as_str().ok().map(str::to_string))
        .collect();
    let names: &[String] = if sans.is_empty() { &cn } else { &sans };
    let hostname_mismatch = !names.iter().any(|n| name_matches(n, name));
    // Self-issued: the issuer is the subject, and the authority key id (when present) is the
    // certificate's own key id.
    let key_id = |oid| {
        cert.extensions()
            .iter()
            .find(|e| e.oid == oid)
            .map(|e| match e.parsed_extension() {
                ParsedExtension::SubjectKeyIdentifier(k) => k.0.to_vec(),
                ParsedExtension::AuthorityKeyIdentifier(a) => a
                    .key_identifier
                    .as_ref()
                    .map(|k| k.0.to_vec())
                    .unwrap_or_default(),
                _ => Vec::new(),
            })
    };
    let (ski, aki) = (
        key_id(x509_parser::oid_registry::OID_X509_EXT_SUBJECT_KEY_IDENTIFIER),
        key_id(x509_parser::oid_registry::OID_X509_EXT_AUTHORITY_KEY_IDENTIFIER),
    );
    let self_signed = subject == issuer
        && match (ski, aki) {
            (Some(s), Some(a)) if !a.is_empty() => s == a,
            _ => true,
        };
    Ok(TlsCertificate {
        expired: not_after.is_some_and(|t| t < now),
        not_yet_valid: not_before.is_some_and(|t| t > now),
        subject,
        issuer,
        subject_alt_names: sans,
        not_before,
        not_after,
        sha256: hex(&Sha256::digest(der)),
        self_signed,
        key_type: key_type.into(),
        key_bits: key_bits as u32,
        signature_algorithm,
        hostname_mismatch,
        weak_key,
        weak_signature,
        ..Default::default()
    })
}

/// RFC 6125 matching: case-insensitive, a leading `*.` covers exactly one label.
fn name_matches(pattern: &str, name: &str) -> bool {
    let (p, n) = (pattern.to_ascii_lowercase(), name.to_ascii_lowercase());
    let n = n.trim_end_matches('.');
    if let Some(rest) = p.strip_prefix("*.") {
        return n
            .split_once('.')
            .is_some_and(|(label, tail)| !label.is_empty() && tail == rest);
    }
    if let (Ok(a), Ok(b)) = (p.parse::<IpAddr>(), n.parse::<IpAddr>()) {
        return a == b;
    }
    p.trim_end_matches('.') == n
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Whether the server completes a ServerHello for a ClientHello capped at `version`
/// (0x0301 = TLS 1.0, 0x0302 = TLS 1.1) with the usual legacy cipher suites.
pub async fn accepts_legacy(
    addr: SocketAddr,
    name: Option<&str>,
    version: u16,
    timeout: Duration,
    sources: &SourcePorts,
) -> bool {
    let hello = legacy_client_hello(name, version);
    let fut = async {
        let mut s = sources.connect(addr, timeout).await.ok()?;
        s.write_all(&hello).await.ok()?;
        let mut head = [0u8; 11];
        s.read_exact(&mut head).await.ok()?;
        // A handshake record whose first message is a ServerHello at exactly that version.
        let server_version = u16::from_be_bytes([head[9], head[10]]);
        Some(head[0] == 0x16 && head[5] == 0x02 && server_version == version)
    };
    tokio::time::timeout(timeout, fut)
        .await
        .ok()
        .flatten()
        .unwrap_or(false)
}

fn legacy_client_hello(name: Option<&str>, version: u16) -> Vec<u8> {
    // ECDHE/RSA with AES-CBC-SHA and 3DES: what TLS 1.0/1.1 servers negotiate.
    let suites: [u16; 8] = [
        0xc014, 0xc013, 0xc00a, 0xc009, 0x0035, 0x002f, 0x000a, 0x00ff,
    ];
    let mut ext = Vec::new();
    if let Some(n) = name.filter(|n| n.parse::<IpAddr>().is_err()) {
        let n = n.as_bytes();
        let mut sni = Vec::new();
        sni.extend_from_slice(&((n.len() + 3) as u16).to_be_bytes());
        sni.push(0);
        sni.extend_from_slice(&(n.len() as u16).to_be_bytes());
        sni.extend_from_slice(n);
        ext.extend_from_slice(&0u16.to_be_bytes());
        ext.extend_from_slice(&(sni.len() as u16).to_be_bytes());
        ext.extend_from_slice(&sni);
    }
    // supported_groups (secp256r1, secp384r1) and ec_point_formats (uncompressed).
    ext.extend_from_slice(&[0x00, 0x0a, 0x00, 0x06, 0x00, 0x04, 0x00, 0x17, 0x00, 0x18]);
    ext.extend_from_slice(&[0x00, 0x0b, 0x00, 0x02, 0x01, 0x00]);
    let mut body = Vec::new();
    body.extend_from_slice(&version.to_be_bytes());
    let random: [u8; 32] = Sha256::digest(format!("{:?}", std::time::SystemTime::now())).into();
    body.extend_from_slice(&random);
    body.push(0); // no session id
    body.extend_from_slice(&((suites.len() * 2) as u16).to_be_bytes());
    for s in suites {
        body.extend_from_slice(&s.to_be_bytes());
    }
    body.extend_from_slice(&[1, 0]); // null compression only
    body.extend_from_slice(&(ext.len() as u16).to_be_bytes());
    body.extend_from_slice(&ext);
    let mut hs = vec![0x01];
    hs.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
    hs.extend_from_slice(&body);
    let mut rec = vec![0x16, 0x03, 0x01];
    rec.extend_from_slice(&(hs.len() as u16).to_be_bytes());
    rec.extend_from_slice(&hs);
    rec
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_like_rfc6125() {
        assert!(name_matches("*.example.com", "www.example.com"));
        assert!(!name_matches("*.example.com", "a.b.example.com"));
        assert!(!name_matches("*.example.com", "example.com"));
        assert!(name_matches("Example.COM", "example.com."));
        assert!(name_matches("::1", "0:0::1"));
    }

    #[test]
    fn facts_of_generated_certificates() {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(vec!["lab.test".to_string()]).unwrap();
        params.not_after = rcgen::date_time_ymd(2020, 1, 1);
        params.not_before = rcgen::date_time_ymd(2019, 1, 1);
        let cert = params.self_signed(&key).unwrap();
        let now = OffsetDateTime::now_utc();
        let f = certificate_facts(cert.der(), "lab.test", now).unwrap();
        assert!(f.expired && f.self_signed && !f.hostname_mismatch && !f.weak_key);
        assert_eq!(f.key_type, "EC");
        assert_eq!(f.key_bits, 256);
        assert_eq!(f.subject_alt_names, vec!["lab.test"]);
        assert!(
            f.signature_algorithm.contains("ecdsa"),
            "{}",
            f.signature_algorithm
        );
        let other = certificate_facts(cert.der(), "other.test", now).unwrap();
        assert!(other.hostname_mismatch);
        assert_eq!(f.sha256.len(), 64);
    }
}
