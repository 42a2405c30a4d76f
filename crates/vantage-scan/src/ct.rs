//! Certificate Transparency: names from crt.sh's JSON interface and from RFC 6962 log entries
//! (`get-sth`, `get-entries`). A log entry's `leaf_input` is a `MerkleTreeLeaf` (version,
//! leaf type, timestamp, entry type, then an X.509 certificate or a precertificate's
//! `TBSCertificate` after the issuer key hash); its names are the subject common names and the
//! DNS subject alternative names. Pure parsing: fetching is the caller's.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use x509_parser::prelude::*;

/// One certificate seen in CT.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CtCertificate {
    /// Where it was seen (`crt.sh id 123`, `LOG_URL entry 42`).
    pub source: String,
    /// Every DNS name it holds (lower case, `*.` kept for wildcards).
    pub names: Vec<String>,
    /// Issuer.
    pub issuer: String,
    /// Not after (RFC 3339 or crt.sh's text).
    pub not_after: String,
    /// SHA-256 of the certificate (or TBS) bytes, or crt.sh's id.
    pub fingerprint: String,
    /// A precertificate (RFC 6962 precert_entry).
    pub precertificate: bool,
}

/// A crt.sh JSON row.
#[derive(Debug, Deserialize)]
struct CrtShRow {
    id: Option<i64>,
    #[serde(default)]
    issuer_name: String,
    #[serde(default)]
    common_name: String,
    #[serde(default)]
    name_value: String,
    #[serde(default)]
    not_after: String,
}

/// Parses crt.sh's `output=json` answer (an array; `name_value` holds names separated by
/// newlines).
pub fn parse_crtsh(body: &[u8]) -> Result<Vec<CtCertificate>, String> {
    let rows: Vec<CrtShRow> =
        serde_json::from_slice(body).map_err(|e| format!("crt.sh answer: {e}"))?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let mut names: Vec<String> = r
                .name_value
                .lines()
                .chain(std::iter::once(r.common_name.as_str()))
                .map(|n| n.trim().trim_end_matches('.').to_ascii_lowercase())
                .filter(|n| !n.is_empty() && !n.contains(' ') && !n.contains('@'))
                .collect();
            names.sort();
            names.dedup();
            let id = r.id.map(|i| i.to_string()).unwrap_or_default();
            CtCertificate {
                source: format!("crt.sh id {id}"),
                names,
                issuer: r.issuer_name,
                not_after: r.not_after,
                fingerprint: format!("crt.sh:{id}"),
                precertificate: false,
            }
        })
        .collect())
}

/// A log's signed tree head: its size.
pub fn parse_sth(body: &[u8]) -> Result<u64, String> {
    let v: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| format!("get-sth answer: {e}"))?;
    v["tree_size"]
        .as_u64()
        .ok_or_else(|| "get-sth answer: no tree_size".to_string())
}

/// The base64 entries of a `get-entries` answer: (leaf_input, extra_data).
pub fn parse_entries(body: &[u8]) -> Result<Vec<(String, String)>, String> {
    let v: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| format!("get-entries answer: {e}"))?;
    let entries = v["entries"]
        .as_array()
        .ok_or_else(|| "get-entries answer: no entries array".to_string())?;
    Ok(entries
        .iter()
        .map(|e| {
            (
                e["leaf_input"].as_str().unwrap_or("").to_string(),
                e["extra_data"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect())
}

fn u24(b: &[u8]) -> usize {
    (usize::from(b[0]) << 16) | (usize::from(b[1]) << 8) | usize::from(b[2])
}

/// Parses one log entry's `leaf_input` (base64). An unreadable entry is an error naming what is
/// wrong; the caller skips and counts it.
pub fn parse_leaf(source: &str, leaf_input_b64: &str) -> Result<CtCertificate, String> {
    use base64::Engine;
    let leaf = base64::engine::general_purpose::STANDARD
        .decode(leaf_input_b64.trim())
        .map_err(|e| format!("leaf_input is not base64: {e}"))?;
    if leaf.len() < 12 {
        return Err("leaf_input shorter than a MerkleTreeLeaf header".into());
    }
    if leaf[0] != 0 || leaf[1] != 0 {
        return Err(format!(
            "unknown MerkleTreeLeaf version {} / leaf type {}",
            leaf[0], leaf[1]
        ));
    }
    let entry_type = u16::from_be_bytes([leaf[10], leaf[11]]);
    let rest = &leaf[12..];
    let (der, precert) = match entry_type {
        0 => {
            if rest.len() < 3 {
                return Err("x509_entry without a length".into());
            }
            let n = u24(rest);
            (rest.get(3..3 + n).ok_or("x509_entry truncated")?, false)
        }
        1 => {
            if rest.len() < 35 {
                return Err("precert_entry without issuer key hash and length".into());
            }
            let n = u24(&rest[32..]);
            (rest.get(35..35 + n).ok_or("precert_entry truncated")?, true)
        }
        t => return Err(format!("unknown LogEntryType {t}")),
    };
    let fingerprint = hex(&Sha256::digest(der));
    let tbs = if precert {
        TbsCertificate::from_der(der)
            .map_err(|e| format!("unreadable precertificate TBSCertificate: {e}"))?
            .1
    } else {
        X509Certificate::from_der(der)
            .map_err(|e| format!("unreadable certificate: {e}"))?
            .1
            .tbs_certificate
    };
    let mut names: Vec<String> = tbs
        .subject()
        .iter_common_name()
        .filter_map(|c| c.as_str().ok())
        .map(str::to_string)
        .collect();
    if let Ok(Some(ext)) = tbs.subject_alternative_name() {
        for g in &ext.value.general_names {
            if let GeneralName::DNSName(d) = g {
                names.push(d.to_string());
            }
        }
    }
    let mut names: Vec<String> = names
        .into_iter()
        .map(|n| n.trim().trim_end_matches('.').to_ascii_lowercase())
        .filter(|n| !n.is_empty() && !n.contains(' '))
        .collect();
    names.sort();
    names.dedup();
    let not_after =
        ::time::OffsetDateTime::from_unix_timestamp(tbs.validity().not_after.timestamp())
            .ok()
            .and_then(|t| {
                t.format(&::time::format_description::well_known::Rfc3339)
                    .ok()
            })
            .unwrap_or_default();
    Ok(CtCertificate {
        source: source.to_string(),
        names,
        issuer: tbs.issuer().to_string(),
        not_after,
        fingerprint,
        precertificate: precert,
    })
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Whether `name` is `domain` or under it (a `*.` wildcard counts for its base).
pub fn under(name: &str, domain: &str) -> bool {
    let n = name.strip_prefix("*.").unwrap_or(name);
    n == domain || n.strip_suffix(domain).is_some_and(|p| p.ends_with('.'))
}

/// The registrable domain of a name: the last two labels, or three under a known two-label
/// public suffix (`co.uk`, `com.au` …). An approximation of the Public Suffix List that covers
/// the common cases; used to group related domains, never to decide scope.
pub fn registrable(name: &str) -> String {
    const TWO_LABEL: &[&str] = &[
        "co.uk", "org.uk", "ac.uk", "gov.uk", "ltd.uk", "plc.uk", "me.uk", "com.au", "net.au",
        "org.au", "edu.au", "gov.au", "co.nz", "org.nz", "co.jp", "ne.jp", "or.jp", "com.br",
        "com.cn", "net.cn", "org.cn", "com.mx", "co.in", "co.za", "com.tr", "com.sg", "co.kr",
        "gouv.fr", "com.ar", "com.tw", "co.il", "com.hk",
    ];
    let n = name
        .strip_prefix("*.")
        .unwrap_or(name)
        .trim_end_matches('.');
    let labels: Vec<&str> = n.split('.').collect();
    if labels.len() <= 2 {
        return n.to_string();
    }
    let last2 = labels[labels.len() - 2..].join(".");
    if TWO_LABEL.contains(&last2.as_str()) {
        labels[labels.len() - 3..].join(".")
    } else {
        last2
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crtsh_rows_split_names_and_drop_emails() {
        let body = br#"[{"issuer_ca_id":1,"issuer_name":"C=US, O=Let's Encrypt, CN=R3","common_name":"www.example.test",
          "name_value":"www.example.test\nexample.test\n*.api.example.test","id":42,"entry_timestamp":"2026-01-01T00:00:00",
          "not_before":"2026-01-01T00:00:00","not_after":"2026-04-01T00:00:00","serial_number":"01"},
          {"id":43,"issuer_name":"x","common_name":"admin@example.test","name_value":"admin@example.test","not_after":""}]"#;
        let certs = parse_crtsh(body).unwrap();
        assert_eq!(
            certs[0].names,
            ["*.api.example.test", "example.test", "www.example.test"]
        );
        assert!(certs[1].names.is_empty());
        assert!(parse_crtsh(b"<html>502</html>").is_err());
    }

    #[test]
    fn leaves_that_are_not_merkle_tree_leaves_are_refused_with_a_reason() {
        use base64::Engine;
        let b = |v: &[u8]| base64::engine::general_purpose::STANDARD.encode(v);
        assert!(parse_leaf("x", "!!").unwrap_err().contains("base64"));
        assert!(
            parse_leaf("x", &b(&[0; 5]))
                .unwrap_err()
                .contains("shorter")
        );
        let mut leaf = vec![0u8; 12];
        leaf[11] = 7;
        assert!(
            parse_leaf("x", &b(&leaf))
                .unwrap_err()
                .contains("LogEntryType 7")
        );
        let mut leaf = vec![0u8; 12];
        leaf.extend_from_slice(&[0, 0, 10, 1, 2, 3]);
        assert!(
            parse_leaf("x", &b(&leaf))
                .unwrap_err()
                .contains("truncated")
        );
        let mut leaf = vec![0u8; 12];
        leaf.extend_from_slice(&[0, 0, 3, 1, 2, 3]);
        assert!(
            parse_leaf("x", &b(&leaf))
                .unwrap_err()
                .contains("unreadable")
        );
    }

    #[test]
    fn names_under_a_domain_and_registrable_domains() {
        assert!(under("a.b.example.test", "example.test"));
        assert!(under("*.example.test", "example.test"));
        assert!(!under("badexample.test", "example.test"));
        assert_eq!(registrable("www.shop.example.co.uk"), "example.co.uk");
        assert_eq!(registrable("*.api.example.test"), "example.test");
        assert_eq!(registrable("example.test"), "example.test");
    }
}
