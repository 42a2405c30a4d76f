//! Recognising a feed file from its first bytes (after decompression), whatever its name.

use std::io::Read;
use std::path::Path;

use vantage_domain::FeedKind;

use crate::error::FeedError;

/// Whether the first line (read whole, up to 16 MiB) is an OSV record: `id`, `modified` and
/// `affected[].package.ecosystem`.
fn first_line_is_osv(path: &Path) -> bool {
    use std::io::BufRead;
    let Ok(input) = crate::input::open(path) else {
        return false;
    };
    let mut first = String::new();
    if input.take(16 << 20).read_line(&mut first).is_err() {
        return false;
    }
    let Ok(v) = serde_json::from_str::<serde_json::Value>(&first) else {
        return false;
    };
    v.get("id").is_some_and(serde_json::Value::is_string)
        && v.get("modified").is_some()
        && v.get("affected")
            .and_then(|a| a.get(0))
            .and_then(|a| a.get("package"))
            .and_then(|p| p.get("ecosystem"))
            .is_some()
}

/// `{"<EDB-ID>":["CVE-…` — the reverse Exploit-DB map (an array right after a numeric key).
fn edb_keyed(compact: &str) -> bool {
    let Some(rest) = compact.strip_prefix("{\"") else {
        return false;
    };
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    digits > 0 && rest[digits..].starts_with("\":[")
}

/// Which feed a file holds.
pub fn detect(path: &Path) -> Result<FeedKind, FeedError> {
    let mut head = Vec::with_capacity(8192);
    crate::input::open(path)?
        .take(8192)
        .read_to_end(&mut head)
        .map_err(|source| FeedError::Io {
            path: path.to_path_buf(),
            what: "start of file".into(),
            source,
        })?;
    let text = String::from_utf8_lossy(&head);
    let t = text.trim_start();
    let compact: String = t.chars().filter(|c| !c.is_whitespace()).take(400).collect();
    let epss_comment = t.starts_with('#')
        && (t.lines().next().unwrap_or("").contains("model_version")
            || t.lines().next().unwrap_or("").contains("score_date"));
    let kind = if t.starts_with("<?xml") || t.starts_with('<') {
        t.contains("<oval_definitions").then_some(FeedKind::Oval)
    } else if epss_comment || t.to_ascii_lowercase().starts_with("cve,epss") {
        Some(FeedKind::Epss)
    } else if t.starts_with('[') && compact.contains("\"alert\":") {
        Some(FeedKind::CertFr)
    } else if compact.contains("\"distroversion\"") && compact.contains("\"reponame\"")
        || compact.starts_with("{\"apkurl\"")
    {
        Some(FeedKind::AlpineSecdb)
    } else if t.starts_with('[') && (t.contains("] DSA-") || t.contains("] DLA-")) {
        Some(FeedKind::DebianList)
    } else if compact.starts_with("{\"") && {
        // Descriptions come first and can be long: look through the whole head.
        let head: String = t.chars().filter(|c| !c.is_whitespace()).collect();
        head.contains("\"releases\":{") && head.contains("\"repositories\":{")
    } {
        Some(FeedKind::DebianTracker)
    } else if compact.contains("\"catalogVersion\"") {
        Some(FeedKind::Kev)
    } else if compact.contains("\"dataType\":\"CVE_RECORD\"") || compact.contains("\"cveMetadata\"")
    {
        Some(FeedKind::Cve5)
    } else if compact.starts_with("{\"cve\":{")
        || (compact.contains("\"vulnerabilities\":[{\"cve\"")
            || compact.contains("\"format\":\"NVD_CVE\""))
    {
        Some(FeedKind::Nvd)
    } else if compact.starts_with("{\"") && first_line_is_osv(path) {
        Some(FeedKind::Osv)
    } else if t.starts_with("id,file,description") {
        Some(FeedKind::ExploitDbCsv)
    } else if compact.starts_with("{\"CVE-")
        || compact.starts_with("{\"cve-")
        || edb_keyed(&compact)
    {
        Some(FeedKind::ExploitDb)
    } else {
        None
    };
    kind.ok_or_else(|| FeedError::Format {
        path: path.to_path_buf(),
        message: "not a feed this build recognises (NVD 2.0, CVE 5, OSV, Alpine secdb, Debian DSA/DLA list or tracker JSON, OVAL, EPSS, KEV, CERT-FR ALE, Exploit-DB); pass --source to force one".into(),
    })
}
