//! Every parser against the real public files in `shared/data` (`VANTAGE_TEST_DATA`), with
//! expectations taken from those files and their README.

use std::collections::HashSet;
use std::io::Write;
use std::path::PathBuf;

use vantage_domain::{CvssVersion, FeedKind};
use vantage_feeds::*;

fn data(rel: &str) -> PathBuf {
    let root = std::env::var("VANTAGE_TEST_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data"));
    let p = root.join(rel);
    assert!(
        p.exists(),
        "test data {} missing (set VANTAGE_TEST_DATA)",
        p.display()
    );
    p
}

#[test]
fn every_real_file_is_recognised() {
    for (rel, kind) in [
        (
            "kev/known_exploited_vulnerabilities-2026-07-23.json.gz",
            FeedKind::Kev,
        ),
        ("epss/epss_scores-2026-08-16.csv.gz", FeedKind::Epss),
        ("nvd/nvd-cve-api2.0-records.jsonl.gz", FeedKind::Nvd),
        ("cve/cisa-vulnrichment-cve5.jsonl.gz", FeedKind::Cve5),
        ("certfr/cert-fr-ale_with_cves.json", FeedKind::CertFr),
        (
            "exploits/pyexploitdb-cveToEdbid.json.gz",
            FeedKind::ExploitDb,
        ),
        (
            "exploits/pyexploitdb-edbidToCve.json.gz",
            FeedKind::ExploitDb,
        ),
    ] {
        assert_eq!(detect(&data(rel)).unwrap(), kind, "{rel}");
    }
    // Not OSV: the Node.js security WG's own format is not claimed.
    assert!(detect(&data("advisories/nodejs-security-wg-npm.jsonl.gz")).is_err());
    let err = detect(&data("nmap/nmap-services.gz"))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("nmap-services.gz") && err.contains("--source"),
        "{err}"
    );
}

#[test]
fn kev_catalogue() {
    let kev = parse_kev(&data(
        "kev/known_exploited_vulnerabilities-2026-07-23.json.gz",
    ))
    .unwrap();
    assert_eq!(
        (kev.entries.len(), kev.version.as_deref()),
        (1653, Some("2026.07.23"))
    );
    let e = kev
        .entries
        .iter()
        .find(|e| e.cve.as_str() == "CVE-2018-13379")
        .unwrap();
    assert_eq!(e.date_added.to_string(), "2021-11-03");
    assert_eq!(e.vendor, "Fortinet");
    assert!(kev.entries.iter().any(|e| e.known_ransomware));
}

#[test]
fn epss_file_without_header_line() {
    let r = EpssReader::open(&data("epss/epss_scores-2026-08-16.csv.gz"), None).unwrap();
    assert_eq!(r.file.date.to_string(), "2026-08-16");
    let mut n = 0;
    let mut found = None;
    for s in r {
        let s = s.unwrap();
        n += 1;
        if s.cve.as_str() == "CVE-2018-13379" {
            found = Some((s.score, s.percentile));
        }
    }
    assert_eq!(n, 360_142);
    assert_eq!(found, Some((0.99999, 0.99994)));
}

#[test]
fn nvd_records_with_primary_and_secondary_vectors() {
    let mut n = 0;
    let mut rec = None;
    for r in NvdReader::open(&data("nvd/nvd-cve-api2.0-records.jsonl.gz")).unwrap() {
        let r = r.unwrap();
        n += 1;
        if r.id.as_str() == "CVE-2018-13379" {
            rec = Some(r);
        }
    }
    assert_eq!(n, 49_511);
    let r = rec.unwrap();
    let v31: Vec<_> = r
        .cvss
        .iter()
        .filter(|v| v.version == CvssVersion::V31)
        .collect();
    assert_eq!(v31.len(), 2);
    let primary = v31.iter().find(|v| v.primary).unwrap();
    assert_eq!(
        (primary.source.as_str(), primary.vector.as_str()),
        (
            "nvd@nist.gov",
            "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"
        )
    );
    let secondary = v31.iter().find(|v| !v.primary).unwrap();
    assert_eq!(
        (secondary.source.as_str(), secondary.base_score),
        ("psirt@fortinet.com", Some(9.1))
    );
    assert_eq!(r.cwes, vec!["CWE-22"]);
    assert!(
        r.cpe_matches
            .iter()
            .any(|m| m.criteria.starts_with("cpe:2.3:o:fortinet:fortios")
                && m.version_end_excluding.as_deref() == Some("5.4.13"))
    );
    assert!(
        r.summary
            .unwrap()
            .starts_with("An Improper Limitation of a Pathname")
    );
}

#[test]
fn cve5_records_carry_the_cisa_adp_ssvc_decision() {
    let mut n = 0;
    let mut active = 0;
    let mut rec = None;
    for r in Cve5Reader::open(&data("cve/cisa-vulnrichment-cve5.jsonl.gz")).unwrap() {
        let r = r.unwrap();
        n += 1;
        if r.ssvc.as_ref().and_then(|s| s.exploitation.as_deref()) == Some("active") {
            active += 1;
        }
        if r.id.as_str() == "CVE-2018-13379" {
            rec = Some(r);
        }
    }
    // 194 records write `active`, 20 more `Active`: case is normalised.
    assert_eq!((n, active), (44_130, 214));
    let s = rec.unwrap().ssvc.unwrap();
    assert_eq!(
        (
            s.source.as_str(),
            s.exploitation.as_deref(),
            s.automatable.as_deref(),
            s.technical_impact.as_deref()
        ),
        ("CISA-ADP", Some("active"), Some("yes"), Some("partial"))
    );
}

#[test]
fn certfr_alerts_and_exploitdb_map() {
    let alerts = parse_certfr(&data("certfr/cert-fr-ale_with_cves.json")).unwrap();
    let ids: HashSet<_> = alerts.iter().map(|a| a.id.as_str()).collect();
    let cves: HashSet<_> = alerts.iter().map(|a| a.cve.as_str()).collect();
    assert_eq!((ids.len(), cves.len()), (261, 486));
    assert!(
        alerts
            .iter()
            .any(|a| a.id == "CERTFR-2020-ALE-025" && a.cve.as_str() == "CVE-2018-13379")
    );
    let map = parse_exploitdb(&data("exploits/pyexploitdb-cveToEdbid.json.gz")).unwrap();
    let x = &map.exploits;
    let cves: HashSet<_> = x.iter().map(|e| e.cve.as_str()).collect();
    // 24,294 keys; a few are malformed (`CVE-/2019-1863`): 22 links skipped and reported.
    assert_eq!(
        (cves.len(), x.len(), map.skipped.len()),
        (24_270, 29_559, 22)
    );
    assert!(
        map.skipped.iter().any(|s| s.contains("CVE-/2019-1863")),
        "{:?}",
        map.skipped
    );
    let mine: Vec<_> = x
        .iter()
        .filter(|e| e.cve.as_str() == "CVE-2018-13379")
        .map(|e| e.source_id.as_str())
        .collect();
    assert_eq!(mine, ["47287", "47288"]);
}

#[test]
fn truncated_and_malformed_files_name_the_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let gz = dir.path().join("bad.jsonl.gz");
    let mut enc = flate2_free_gzip(&gz);
    enc.write_all(b"{\"cve\": {\"id\": \"CVE-2099-0001\", \"broken")
        .unwrap();
    drop(enc);
    let err = NvdReader::open(&gz)
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("bad.jsonl.gz") && err.contains("line 1"),
        "{err}"
    );
    let bad = dir.path().join("nvd.jsonl");
    std::fs::write(&bad, "{\"cve\":{\"id\":\"CVE-2020-0001\",\"metrics\":{\"cvssMetricV31\":[{\"source\":\"x\",\"cvssData\":{\"version\":\"3.1\",\"vectorString\":\"CVSS:2.0/AV:N\"}}]}}}\n").unwrap();
    let err = NvdReader::open(&bad)
        .unwrap()
        .next()
        .unwrap()
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("line 1, field cve.metrics.cvssData.vectorString"),
        "{err}"
    );
}

/// A gzip stream cut short: write the gzip header and a deflate stream that never ends.
fn flate2_free_gzip(path: &std::path::Path) -> std::fs::File {
    let mut f = std::fs::File::create(path).unwrap();
    // gzip magic, deflate, no flags, mtime 0, xfl 0, OS unix; then a stored block header that
    // announces more bytes than follow.
    f.write_all(&[
        0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 0x00, 0xff, 0x00, 0x00, 0xff,
    ])
    .unwrap();
    f
}

#[test]
fn osv_advisories_of_three_ecosystems() {
    // (file, records, records with a CVE alias, affected packages, range kinds) computed
    // independently with Python's json module.
    for (rel, records, with_cve, affected, kinds) in [
        (
            "advisories/rustsec-osv.jsonl.gz",
            1206,
            521,
            1206,
            vec!["SEMVER"],
        ),
        (
            "advisories/golang-vulndb-osv.jsonl.gz",
            4291,
            3894,
            6125,
            vec!["SEMVER"],
        ),
        (
            "advisories/pypa-advisory-osv.jsonl.gz",
            2661,
            2648,
            2661,
            vec!["ECOSYSTEM", "GIT"],
        ),
    ] {
        let mut n = 0;
        let mut cve = 0;
        let mut aff = 0;
        let mut seen = std::collections::BTreeSet::new();
        for r in OsvReader::open(&data(rel)).unwrap() {
            let r = r.unwrap();
            n += 1;
            cve += usize::from(r.aliases.iter().any(|a| a.is_cve()));
            aff += r.affected.len();
            for a in &r.affected {
                seen.extend(a.ranges.iter().map(|x| x.kind.clone()));
            }
        }
        assert_eq!((n, cve, aff), (records, with_cve, affected), "{rel}");
        assert_eq!(seen.into_iter().collect::<Vec<_>>(), kinds, "{rel}");
    }
    let r = OsvReader::open(&data("advisories/pypa-advisory-osv.jsonl.gz"))
        .unwrap()
        .map(Result::unwrap)
        .find(|r| r.id.as_str() == "PYSEC-2021-427")
        .unwrap();
    assert!(r.aliases.iter().any(|a| a.as_str() == "CVE-2021-29063"));
    let a = &r.affected[0];
    assert_eq!((a.ecosystem.as_str(), a.name.as_str()), ("PyPI", "mpmath"));
    assert!(a.fixed_versions().any(|v| v == "1.3.0"));
}

#[test]
fn distro_security_data() {
    // Expectations computed independently with Python from the same files.
    let a = parse_alpine_secdb(&data("distro/alpine-secdb/v3.19-main.json.gz")).unwrap();
    let never = a
        .fixes
        .iter()
        .filter(|f| f.status == "not_affected")
        .count();
    assert_eq!(
        (a.collection.as_str(), a.fixes.len(), never),
        ("v3.19/main", 2845, 48)
    );
    let bb = a
        .fixes
        .iter()
        .find(|f| f.package == "busybox" && f.vuln_id.as_str() == "CVE-2023-42363")
        .unwrap();
    assert_eq!(
        (bb.release.as_str(), bb.fixed_version.as_deref()),
        ("3.19", Some("1.36.1-r17"))
    );
    let dsa = parse_debian_list(&data("distro/debian-security-tracker/DSA-list.gz")).unwrap();
    let fixed = dsa
        .fixes
        .iter()
        .filter(|f| f.fixed_version.is_some())
        .count();
    assert_eq!(
        (dsa.collection.as_str(), dsa.fixes.len(), fixed),
        ("DSA", 23_318, 23_220)
    );
    let sudo = dsa
        .fixes
        .iter()
        .find(|f| f.vuln_id.as_str() == "CVE-2021-3156")
        .unwrap();
    assert_eq!(
        (
            sudo.release.as_str(),
            sudo.package.as_str(),
            sudo.fixed_version.as_deref()
        ),
        ("10", "sudo", Some("1.8.27-1+deb10u3"))
    );
    let dla = parse_debian_list(&data("distro/debian-security-tracker/DLA-list.gz")).unwrap();
    assert_eq!((dla.collection.as_str(), dla.fixes.len()), ("DLA", 11_002));
}

#[test]
fn exploitdb_csv_index() {
    let p =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/files_exploits.csv");
    assert_eq!(detect(&p).unwrap(), FeedKind::ExploitDbCsv);
    let rows = parse_exploitdb_csv(&p).unwrap();
    assert_eq!(rows.len(), 2, "the exploit without a CVE is not linked");
    let e = &rows[0];
    assert_eq!(
        (
            e.source_id.as_str(),
            e.kind.as_deref(),
            e.platform.as_deref(),
            e.verified
        ),
        ("47287", Some("webapps"), Some("hardware"), Some(true))
    );
    assert_eq!(
        e.published.map(|d| d.to_string()).as_deref(),
        Some("2019-08-17")
    );
    assert!(e.title.as_deref().unwrap().starts_with("FortiOS"));
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("files_exploits.csv");
    std::fs::write(&bad, "id,file,description,date_published,author,type,platform,port,date_added,date_updated,verified,codes\nx1,a,b,2019-08-17,c,d,e,,,,1,CVE-2018-13379\n").unwrap();
    let err = parse_exploitdb_csv(&bad).unwrap_err().to_string();
    assert!(err.contains("line 2, field id"), "{err}");
}

/// OSV publishes each ecosystem as `all.zip`, one pretty-printed JSON file per advisory: the
/// archive reads like the JSON-lines file it was built from, and is recognised as OSV.
#[test]
fn osv_zip_archive_reads_like_json_lines() {
    use std::io::BufRead;
    let src = data("advisories/rustsec-osv.jsonl.gz");
    let dir = tempfile::tempdir().unwrap();
    let zip_path = dir.path().join("all.zip");
    let mut w = zip::ZipWriter::new(std::fs::File::create(&zip_path).unwrap());
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    let input = std::io::BufReader::new(flate2::read::GzDecoder::new(
        std::fs::File::open(&src).unwrap(),
    ));
    let mut expected = Vec::new();
    for line in input.lines().take(300) {
        let v: serde_json::Value = serde_json::from_str(&line.unwrap()).unwrap();
        let id = v["id"].as_str().unwrap().to_string();
        w.start_file(format!("{id}.json"), opts).unwrap();
        // Pretty-printed, with a multi-line string escaped inside as OSV files have.
        w.write_all(serde_json::to_string_pretty(&v).unwrap().as_bytes())
            .unwrap();
        expected.push(id);
    }
    w.add_directory("nested/", opts).unwrap();
    w.finish().unwrap();

    assert_eq!(detect(&zip_path).unwrap(), FeedKind::Osv);
    let from_zip: Vec<_> = OsvReader::open(&zip_path)
        .unwrap()
        .map(|r| r.unwrap())
        .collect();
    let from_lines: Vec<_> = OsvReader::open(&src)
        .unwrap()
        .take(300)
        .map(|r| r.unwrap())
        .collect();
    assert_eq!(
        from_zip
            .iter()
            .map(|r| r.id.to_string())
            .collect::<Vec<_>>(),
        expected
    );
    for (a, b) in from_zip.iter().zip(&from_lines) {
        assert_eq!(
            (&a.id, &a.aliases, &a.affected, &a.summary),
            (&b.id, &b.aliases, &b.affected, &b.summary)
        );
    }

    // A damaged archive is an error naming the file.
    let bad = dir.path().join("bad.zip");
    let mut bytes = std::fs::read(&zip_path).unwrap();
    bytes.truncate(bytes.len() / 2);
    std::fs::write(&bad, bytes).unwrap();
    let err = OsvReader::open(&bad).err().unwrap().to_string();
    assert!(err.contains("bad.zip"), "{err}");
}

/// OVAL of Red Hat, Rocky and Ubuntu: (package, CVE) fixes resolved through tests, objects,
/// states and variables. Expected figures computed independently with Python's ElementTree.
#[test]
fn oval_definitions_of_three_distributions() {
    for (rel, distro, release, rows, cves, esm, (pkg, cve, fixed, advisory)) in [
        (
            "distro/redhat-oval/com.redhat.rhsa-RHEL9.xml.gz",
            "rhel",
            "9",
            7178,
            560,
            0,
            (
                "aspnetcore-runtime-6.0",
                "CVE-2022-1650",
                "0:6.0.7-1.el9_0",
                "RHBA-2022:5749",
            ),
        ),
        (
            "distro/rocky-oval/org.rockylinux.rlsa-9.xml.gz",
            "rocky",
            "9",
            7884,
            422,
            0,
            ("gzip", "CVE-2022-1271", "0:1.10-9.el9_0", "RLSA-2022:4582"),
        ),
        (
            "distro/ubuntu-oval/com.ubuntu.noble.usn.oval.xml.gz",
            "ubuntu",
            "24.04",
            5950,
            503,
            1096,
            (
                "apache2",
                "CVE-2024-40725",
                "0:2.4.58-1ubuntu8.4",
                "USN-6902-1",
            ),
        ),
    ] {
        let path = data(rel);
        assert_eq!(detect(&path).unwrap(), FeedKind::Oval, "{rel}");
        let file = parse_oval(&path).unwrap();
        assert_eq!(file.collection, format!("oval:{distro}:{release}"));
        let mut first = std::collections::HashMap::new();
        for f in &file.fixes {
            assert_eq!((f.distro.as_str(), f.release.as_str()), (distro, release));
            first
                .entry((f.package.clone(), f.vuln_id.to_string()))
                .or_insert(f);
        }
        let distinct: HashSet<&str> = first.values().map(|f| f.vuln_id.as_str()).collect();
        let esm_rows = first.values().filter(|f| f.status == "fixed_esm").count();
        assert_eq!(
            (first.len(), distinct.len(), esm_rows),
            (rows, cves, esm),
            "{rel}"
        );
        let f = first[&(pkg.to_string(), cve.to_string())];
        assert_eq!(
            (
                f.fixed_version.as_deref(),
                f.advisory.as_deref(),
                f.status.as_str()
            ),
            (Some(fixed), Some(advisory), "fixed"),
            "{rel}"
        );
    }
}

#[test]
fn malformed_oval_names_the_file_and_position() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("broken.xml");
    std::fs::write(
        &bad,
        "<?xml version=\"1.0\"?>\n<oval_definitions><definitions><definition id=\"x\"></definitions>",
    )
    .unwrap();
    let err = parse_oval(&bad).unwrap_err().to_string();
    assert!(
        err.contains("broken.xml") && err.contains("malformed XML"),
        "{err}"
    );
    let other = dir.path().join("other.xml");
    std::fs::write(&other, "<?xml version=\"1.0\"?>\n<oval_definitions><generator><product_name>Acme</product_name></generator></oval_definitions>").unwrap();
    let err = parse_oval(&other).unwrap_err().to_string();
    assert!(err.contains("unknown distribution"), "{err}");
}

#[test]
fn debian_tracker_json() {
    let path = data("distro/debian-security-tracker/tracker-json-excerpt.json");
    assert_eq!(detect(&path).unwrap(), FeedKind::DebianTracker);
    let file = parse_debian_tracker(&path).unwrap();
    let rows: Vec<(String, &str, &str, Option<&str>)> = file
        .fixes
        .iter()
        .map(|f| {
            (
                format!("{} {}", f.package, f.vuln_id),
                f.release.as_str(),
                f.status.as_str(),
                f.fixed_version.as_deref(),
            )
        })
        .collect();
    // The TEMP- issue is not imported; "fixed_version": "0" means never affected.
    assert_eq!(
        rows,
        [
            (
                "389-ds-base CVE-2012-0833".to_string(),
                "11",
                "not_affected",
                None
            ),
            (
                "389-ds-base CVE-2012-0833".to_string(),
                "sid",
                "not_affected",
                None
            ),
            (
                "389-ds-base CVE-2016-5405".to_string(),
                "11",
                "fixed",
                Some("1.3.5.15-1")
            ),
            (
                "389-ds-base CVE-2016-5405".to_string(),
                "sid",
                "fixed",
                Some("1.3.5.15-1")
            ),
            (
                "389-ds-base CVE-2016-5416".to_string(),
                "11",
                "ignored",
                None
            ),
            (
                "389-ds-base CVE-2016-5416".to_string(),
                "sid",
                "unfixed",
                None
            ),
        ]
    );
}

/// A 2.0 feed document (the yearly files, or an API page) is streamed element by element and
/// gives the same records as the JSON-lines form of the same data.
#[test]
fn nvd_feed_document_streams_like_json_lines() {
    use std::io::BufRead;
    let src = data("nvd/nvd-cve-api2.0-records.jsonl.gz");
    let lines: Vec<serde_json::Value> = std::io::BufReader::new(flate2::read::GzDecoder::new(
        std::fs::File::open(&src).unwrap(),
    ))
    .lines()
    .take(3000)
    .map(|l| serde_json::from_str(&l.unwrap()).unwrap())
    .collect();
    let doc = serde_json::json!({
        "resultsPerPage": lines.len(),
        "startIndex": 0,
        "totalResults": lines.len(),
        "format": "NVD_CVE",
        "version": "2.0",
        "timestamp": "2026-08-17T00:00:00.000",
        "vulnerabilities": lines,
    });
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nvdcve-2.0-2024.json");
    let text = serde_json::to_string_pretty(&doc).unwrap();
    std::fs::write(&path, &text).unwrap();
    assert_eq!(detect(&path).unwrap(), FeedKind::Nvd);
    let from_doc: Vec<_> = NvdReader::open(&path)
        .unwrap()
        .map(|r| r.unwrap())
        .collect();
    let from_lines: Vec<_> = NvdReader::open(&src)
        .unwrap()
        .take(3000)
        .map(|r| r.unwrap())
        .collect();
    assert_eq!(from_doc.len(), 3000);
    for (a, b) in from_doc.iter().zip(&from_lines) {
        assert_eq!(
            (&a.id, &a.cvss, &a.cpe_matches, &a.modified),
            (&b.id, &b.cvss, &b.cpe_matches, &b.modified)
        );
    }

    // Cut in the middle: the records before the cut, then an error naming file, line and column.
    let cut = dir.path().join("cut.json");
    std::fs::write(&cut, &text[..text.len() / 2]).unwrap();
    let results: Vec<_> = NvdReader::open(&cut).unwrap().collect();
    let err = results.last().unwrap().as_ref().unwrap_err().to_string();
    assert!(
        err.contains("cut.json: line ") && err.contains("column"),
        "{err}"
    );
    assert!(results.len() > 1000 && results[..results.len() - 1].iter().all(Result::is_ok));
    // Dropping a reader half-way stops its document thread (no hang, no panic).
    let mut r = NvdReader::open(&path).unwrap();
    assert!(r.next().unwrap().is_ok());
    drop(r);
}
