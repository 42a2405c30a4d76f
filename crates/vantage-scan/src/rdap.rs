//! RDAP (RFC 9083) answers for domains and IP networks: registrar, registrant organisation,
//! registration / expiration / last-changed dates, name servers, status; for a network its
//! range, name, country and holder. Pure parsing of the JSON; fetching is the caller's.

use serde::Serialize;
use serde_json::Value;

/// What RDAP says about a domain or network.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Registration {
    /// The object (domain name or network handle).
    pub handle: String,
    /// `domain` or `ip network`.
    pub object: String,
    /// Registrar's name.
    pub registrar: Option<String>,
    /// Registrant organisation (or name when no organisation is given).
    pub registrant: Option<String>,
    /// Registration date.
    pub registered: Option<String>,
    /// Expiration date.
    pub expires: Option<String>,
    /// Last changed.
    pub last_changed: Option<String>,
    /// Name servers (lower case).
    pub nameservers: Vec<String>,
    /// Status values.
    pub status: Vec<String>,
    /// For a network: first and last address.
    pub range: Option<(String, String)>,
    /// For a network: its name.
    pub name: Option<String>,
    /// For a network: its country.
    pub country: Option<String>,
}

/// A vCard property's text (`fn`, `org`).
fn vcard(entity: &Value, prop: &str) -> Option<String> {
    entity["vcardArray"][1]
        .as_array()?
        .iter()
        .find(|p| p[0].as_str() == Some(prop))
        .and_then(|p| match &p[3] {
            Value::String(s) => Some(s.clone()),
            Value::Array(a) => a.first().and_then(Value::as_str).map(str::to_string),
            _ => None,
        })
        .filter(|s| !s.trim().is_empty())
}

fn entities_with_role<'a>(v: &'a Value, role: &'a str) -> impl Iterator<Item = &'a Value> + 'a {
    v["entities"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(move |e| {
            e["roles"]
                .as_array()
                .is_some_and(|r| r.iter().any(|x| x.as_str() == Some(role)))
        })
}

/// Parses an RDAP domain or ip network object.
pub fn parse(body: &[u8]) -> Result<Registration, String> {
    let v: Value = serde_json::from_slice(body).map_err(|e| format!("RDAP answer: {e}"))?;
    let class = v["objectClassName"]
        .as_str()
        .ok_or("RDAP answer: no objectClassName")?;
    let mut r = Registration {
        object: class.to_string(),
        ..Registration::default()
    };
    match class {
        "domain" => {
            r.handle = v["ldhName"]
                .as_str()
                .or(v["unicodeName"].as_str())
                .unwrap_or("")
                .to_ascii_lowercase();
        }
        "ip network" | "autnum" => {
            r.handle = v["handle"].as_str().unwrap_or("").to_string();
            r.name = v["name"].as_str().map(str::to_string);
            r.country = v["country"].as_str().map(str::to_string);
            if let (Some(a), Some(b)) = (v["startAddress"].as_str(), v["endAddress"].as_str()) {
                r.range = Some((a.to_string(), b.to_string()));
            }
        }
        other => return Err(format!("RDAP answer: unexpected objectClassName `{other}`")),
    }
    r.registrar = entities_with_role(&v, "registrar")
        .find_map(|e| vcard(e, "fn"))
        .or_else(|| entities_with_role(&v, "registrar").find_map(|e| vcard(e, "org")));
    r.registrant = entities_with_role(&v, "registrant")
        .find_map(|e| vcard(e, "org").or_else(|| vcard(e, "fn")))
        .filter(|s| !s.to_ascii_lowercase().contains("redacted"));
    for e in v["events"].as_array().into_iter().flatten() {
        let date = e["eventDate"].as_str().map(str::to_string);
        match e["eventAction"].as_str() {
            Some("registration") => r.registered = date,
            Some("expiration") => r.expires = date,
            Some("last changed") => r.last_changed = date,
            _ => {}
        }
    }
    r.nameservers = v["nameservers"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|n| n["ldhName"].as_str())
        .map(|n| n.trim_end_matches('.').to_ascii_lowercase())
        .collect();
    r.nameservers.sort();
    r.status = v["status"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_string)
        .collect();
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_domain_answer_in_rfc_9083_shape() {
        let body = br#"{"objectClassName":"domain","ldhName":"EXAMPLE.TEST","status":["active"],
          "events":[{"eventAction":"registration","eventDate":"2001-05-02T00:00:00Z"},
                    {"eventAction":"expiration","eventDate":"2027-05-02T00:00:00Z"}],
          "nameservers":[{"objectClassName":"nameserver","ldhName":"NS2.EXAMPLE.TEST"},{"objectClassName":"nameserver","ldhName":"ns1.example.test."}],
          "entities":[{"objectClassName":"entity","roles":["registrar"],"vcardArray":["vcard",[["version",{},"text","4.0"],["fn",{},"text","Test Registrar SAS"]]]},
                      {"objectClassName":"entity","roles":["registrant"],"vcardArray":["vcard",[["version",{},"text","4.0"],["fn",{},"text","Jane"],["org",{},"text","Example Org"]]]}]}"#;
        let r = parse(body).unwrap();
        assert_eq!(r.handle, "example.test");
        assert_eq!(r.registrar.as_deref(), Some("Test Registrar SAS"));
        assert_eq!(r.registrant.as_deref(), Some("Example Org"));
        assert_eq!(r.expires.as_deref(), Some("2027-05-02T00:00:00Z"));
        assert_eq!(r.nameservers, ["ns1.example.test", "ns2.example.test"]);
        assert!(parse(br#"{"errorCode":404}"#).is_err());
    }
}
