//! Alpine's installed database (`/lib/apk/db/installed`): one record per package, `K:value`
//! lines (`P` name, `V` version, `A` arch, `o` origin = source package), records separated by
//! blank lines.

use vantage_domain::Ecosystem;

use super::{InstalledPackage, InventoryError};
use crate::version::apk;

/// Parses the database; every record must have a name and a valid version.
pub fn parse_installed(text: &str) -> Result<Vec<InstalledPackage>, InventoryError> {
    let mut out = Vec::new();
    for block in super::blocks(text) {
        let mut record: Vec<(usize, char, &str)> = Vec::with_capacity(block.len());
        for (n, line) in block {
            let mut chars = line.chars();
            match (chars.next(), chars.next()) {
                (Some(k), Some(':')) => record.push((n, k, &line[k.len_utf8() + 1..])),
                _ => {
                    return Err(InventoryError {
                        line: n,
                        message: format!("expected KEY:VALUE, got {line:?}"),
                    });
                }
            }
        }
        out.push(package(&record)?);
    }
    Ok(out)
}

fn package(record: &[(usize, char, &str)]) -> Result<InstalledPackage, InventoryError> {
    let start = record[0].0;
    let get = |k: char| record.iter().find(|r| r.1 == k).map(|r| (r.0, r.2.trim()));
    let (_, name) = get('P').ok_or_else(|| InventoryError {
        line: start,
        message: "package record without a name (P:)".into(),
    })?;
    let (vline, version) = get('V').ok_or_else(|| InventoryError {
        line: start,
        message: format!("package {name} has no version (V:)"),
    })?;
    apk::validate(version).map_err(|m| InventoryError {
        line: vline,
        message: format!("package {name}: {m}"),
    })?;
    let origin = get('o')
        .map(|o| o.1)
        .filter(|o| !o.is_empty())
        .unwrap_or(name);
    Ok(InstalledPackage {
        ecosystem: Ecosystem::Apk,
        name: name.to_string(),
        version: version.to_string(),
        arch: get('A').map(|a| a.1.to_string()),
        source_name: origin.to_string(),
        source_version: version.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records() {
        let db = "C:Q1abc=\nP:busybox-binsh\nV:1.36.1-r15\nA:x86_64\no:busybox\n\nP:musl\nV:1.2.4_git20230717-r4\nA:x86_64\no:musl\n";
        let p = parse_installed(db).unwrap();
        assert_eq!(p.len(), 2);
        assert_eq!(
            (
                p[0].name.as_str(),
                p[0].source_name.as_str(),
                p[0].version.as_str()
            ),
            ("busybox-binsh", "busybox", "1.36.1-r15")
        );
        assert_eq!(p[1].source_name, "musl");
    }

    #[test]
    fn bad_records_name_the_line() {
        let e = parse_installed("P:a\nV:1.0\n\nP:b\n").unwrap_err();
        assert_eq!(
            (e.line, e.message.as_str()),
            (4, "package b has no version (V:)")
        );
        let e = parse_installed("P:a\nV:one\n").unwrap_err();
        assert_eq!(e.line, 2);
        let e = parse_installed("P:a\ngarbage\n").unwrap_err();
        assert_eq!(e.line, 2);
    }
}
