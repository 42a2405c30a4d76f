//! Small shared helpers: digests, dates, CVSS version checks.

use sha2::{Digest, Sha256};
use time::format_description::well_known::{Iso8601, Rfc3339};
use time::{Date, OffsetDateTime, PrimitiveDateTime};
use vantage_domain::CvssVersion;

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A short digest of a raw record, to recognise unchanged records on re-import.
pub(crate) fn digest(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes)[..16])
}

/// The string value of the first `"key":"value"` in a JSON line, found without parsing it (to
/// recognise a record's id cheaply). `key` includes the quotes, colon and opening quote.
pub(crate) fn quick_field<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    let start = text.find(key)? + key.len();
    let len = text[start..].find('"')?;
    Some(&text[start..start + len])
}

/// Parses the instants feeds write: RFC 3339, ISO 8601 without offset (UTC assumed, as NVD
/// writes them), or a bare date (midnight UTC).
pub(crate) fn instant(s: &str) -> Option<OffsetDateTime> {
    let s = s.trim();
    if let Ok(t) = OffsetDateTime::parse(s, &Rfc3339) {
        return Some(t);
    }
    if let Ok(t) = PrimitiveDateTime::parse(s, &Iso8601::DEFAULT) {
        return Some(t.assume_utc());
    }
    date(s).map(|d| d.midnight().assume_utc())
}

/// Parses `YYYY-MM-DD` (ignoring anything after the date).
pub(crate) fn date(s: &str) -> Option<Date> {
    let s = s.trim();
    let d = s.get(..10)?;
    let fmt = time::macros::format_description!("[year]-[month]-[day]");
    Date::parse(d, &fmt).ok()
}

/// Checks that a vector string belongs to the version it is declared with; the message names
/// what was expected.
pub(crate) fn check_vector(version: CvssVersion, vector: &str) -> Result<(), String> {
    let ok = match version {
        CvssVersion::V2 => vector.starts_with("AV:") || vector.starts_with("(AV:"),
        CvssVersion::V30 => vector.starts_with("CVSS:3.0/"),
        CvssVersion::V31 => vector.starts_with("CVSS:3.1/"),
        CvssVersion::V40 => vector.starts_with("CVSS:4.0/"),
    };
    if ok && vector.len() < 200 && vector.is_ascii() {
        Ok(())
    } else {
        Err(format!(
            "CVSS {version} vector `{vector}` is not a CVSS {version} vector"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants_in_every_feed_style() {
        assert_eq!(
            instant("2019-06-04T21:29:00.233").unwrap().unix_timestamp(),
            1_559_683_740
        );
        assert_eq!(instant("2024-10-23T13:32:26.844Z").unwrap().year(), 2024);
        assert_eq!(
            instant("2025-03-31T00:00:00.000000")
                .unwrap()
                .unix_timestamp(),
            1_743_379_200
        );
        assert_eq!(
            instant("2021-11-03").unwrap().unix_timestamp(),
            1_635_897_600
        );
        assert!(instant("yesterday").is_none());
    }

    #[test]
    fn vectors_must_match_their_version() {
        assert!(
            check_vector(
                CvssVersion::V31,
                "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"
            )
            .is_ok()
        );
        assert!(check_vector(CvssVersion::V2, "AV:N/AC:L/Au:N/C:P/I:N/A:N").is_ok());
        assert!(check_vector(CvssVersion::V31, "CVSS:3.0/AV:N").is_err());
    }
}
