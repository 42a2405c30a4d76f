//! Importing feeds into the knowledge base, on SQLite and PostgreSQL: merge, history,
//! unchanged and older records, already-imported files, and failed imports that change nothing.

use std::path::{Path, PathBuf};

use vantage_app::feeds::ImportOptions;
use vantage_app::{App, Config};
use vantage_domain::{CvssVersion, FeedKind};
use vantage_test_utils::{TestDb, both_backends};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn real(rel: &str) -> PathBuf {
    std::env::var("VANTAGE_TEST_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|_| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data"))
        .join(rel)
}

fn app(db: &TestDb) -> App {
    App::from_parts(Config::default(), db.store.clone())
}

both_backends! {
    async fn feeds_merge_into_one_view_per_cve(db) {
        let app = app(&db);
        let o = ImportOptions::default();
        let r = app.import_feed(&fixture("nvd-two.jsonl"), &o).await.unwrap();
        assert_eq!((r.feed, r.counts.records, r.counts.new), (FeedKind::Nvd, 2, 2));
        app.import_feed(&fixture("cve5-one.jsonl"), &o).await.unwrap();
        app.import_feed(&fixture("epss-a.csv"), &o).await.unwrap();
        app.import_feed(&fixture("epss_scores-2030-03-02.csv"), &o).await.unwrap();
        let v = app.vulnerability("cve-2030-0001").await.unwrap();
        assert_eq!(v.summary.as_deref(), Some("First version."), "NVD's description is preferred");
        let sources: Vec<(&str, FeedKind, bool)> = v.cvss.iter().map(|c| (c.cvss.source.as_str(), c.feed, c.cvss.primary)).collect();
        assert!(sources.contains(&("nvd@nist.gov", FeedKind::Nvd, true)), "{sources:?}");
        assert!(sources.contains(&("cna:acme", FeedKind::Cve5, false)), "{sources:?}");
        let s = &v.ssvc[0];
        assert_eq!((s.exploitation.as_deref(), s.automatable.as_deref(), s.technical_impact.as_deref()), (Some("poc"), Some("no"), Some("total")));
        let e = v.epss.as_ref().unwrap();
        assert_eq!((e.date.to_string(), e.score), ("2030-03-02".to_string(), 0.25));
        assert_eq!(v.epss_history.len(), 2, "one value per day is kept");
        assert_eq!(e.model_version, None);
        assert_eq!(v.epss_history[1].model_version.as_deref(), Some("v2025.03.14"));
        assert_eq!(v.records.len(), 2);

        use vantage_domain::VulnFilter;
        let app = &app;
        let search = |f: VulnFilter| async move { app.search_vulnerabilities(VulnFilter { limit: 10, ..f }, None).await.unwrap().items };
        let hit = search(VulnFilter { epss_min: Some(0.25), ..Default::default() }).await;
        assert_eq!((hit.len(), hit[0].epss), (1, Some(0.25)), "the latest EPSS score counts");
        assert!(search(VulnFilter { epss_min: Some(0.26), ..Default::default() }).await.is_empty());
        let page = app.search_vulnerabilities(VulnFilter { limit: 1, ..Default::default() }, None).await.unwrap();
        assert_eq!(page.items[0].id.as_str(), "CVE-2030-0001");
        let next = app.search_vulnerabilities(VulnFilter { limit: 1, ..Default::default() }, page.next_cursor.as_deref()).await.unwrap();
        assert_eq!((next.items[0].id.as_str(), next.next_cursor), ("CVE-2030-0002", None));
        assert!(app.search_vulnerabilities(VulnFilter::default(), Some("not a cursor")).await.is_err());
    }

    async fn newer_records_replace_older_ones_never_the_reverse(db) {
        let app = app(&db);
        let o = ImportOptions::default();
        app.import_feed(&fixture("nvd-two.jsonl"), &o).await.unwrap();
        let r = app.import_feed(&fixture("nvd-newer.jsonl"), &o).await.unwrap();
        assert_eq!((r.counts.changed, r.counts.new), (1, 0));
        let v = app.vulnerability("CVE-2030-0001").await.unwrap();
        let nvd = v.records.iter().find(|r| r.feed == FeedKind::Nvd).unwrap();
        assert_eq!(nvd.status.as_deref(), Some("Modified"));
        assert_eq!(v.cvss.iter().map(|c| c.cvss.version).collect::<Vec<_>>(), [CvssVersion::V40], "the feed's old vectors are replaced");
        let r = app.import_feed(&fixture("nvd-older.jsonl"), &o).await.unwrap();
        assert_eq!((r.counts.unchanged, r.counts.changed), (1, 0));
        let v = app.vulnerability("CVE-2030-0001").await.unwrap();
        assert_eq!(v.records[0].status.as_deref(), Some("Modified"), "an older record is not applied");
        // Same file again: recognised, nothing done; forced: every record unchanged.
        let again = app.import_feed(&fixture("nvd-two.jsonl"), &o).await.unwrap();
        assert!(again.already_imported);
        let forced = app.import_feed(&fixture("nvd-two.jsonl"), &ImportOptions { force: true, ..o }).await.unwrap();
        assert_eq!((forced.counts.unchanged, forced.counts.changed), (2, 0), "{:?}", forced.counts);
    }

    async fn a_failed_import_changes_nothing(db) {
        let app = app(&db);
        let o = ImportOptions::default();
        app.import_feed(&fixture("nvd-two.jsonl"), &o).await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        // 1,500 good records (more than one batch is written) and then a broken line.
        let bad = dir.path().join("nvd.jsonl");
        let mut text = String::new();
        for i in 0..1500 {
            text.push_str(&format!("{{\"cve\":{{\"id\":\"CVE-2031-{:05}\",\"lastModified\":\"2031-01-01T00:00:00\",\"descriptions\":[{{\"lang\":\"en\",\"value\":\"x\"}}]}}}}\n", i));
        }
        text.push_str("{\"cve\":{\"id\":\"CVE-2031-99999\",\"descr\n");
        std::fs::write(&bad, text).unwrap();
        let err = app.import_feed(&bad, &o).await.unwrap_err().to_string();
        assert!(err.contains("nvd.jsonl") && err.contains("line 1501"), "{err}");
        assert!(app.vulnerability("CVE-2031-00001").await.is_err(), "no record of the failed file is visible");
        assert!(app.vulnerability("CVE-2030-0001").await.is_ok(), "earlier data intact");
        // A file that is not a feed.
        let other = dir.path().join("notes.txt");
        std::fs::write(&other, "hello\n").unwrap();
        assert!(app.import_feed(&other, &o).await.unwrap_err().to_string().contains("--source"));
    }

    async fn osv_records_join_their_cve_through_aliases(db) {
        let app = app(&db);
        let o = ImportOptions::default();
        let r = app.import_feed(&real("advisories/pypa-advisory-osv.jsonl.gz"), &o).await.unwrap();
        assert_eq!((r.feed, r.counts.new), (FeedKind::Osv, 2661));
        let v = app.vulnerability("CVE-2021-29063").await.unwrap();
        assert!(v.aliases.iter().any(|a| a == "PYSEC-2021-427"), "{:?}", v.aliases);
        let rec = v.records.iter().find(|r| r.id.as_str() == "PYSEC-2021-427").unwrap();
        let a = &rec.affected[0];
        assert_eq!((a.ecosystem.as_str(), a.name.as_str()), ("PyPI", "mpmath"));
        assert!(a.fixed_versions().any(|f| f == "1.3.0"));
        // The OSV id itself is an entry too.
        assert_eq!(app.vulnerability("PYSEC-2021-427").await.unwrap().records.len(), 1);
        let again = app.import_feed(&real("advisories/pypa-advisory-osv.jsonl.gz"), &ImportOptions { force: true, ..o }).await.unwrap();
        assert_eq!((again.counts.unchanged, again.counts.changed, again.counts.new), (2661, 0, 0));
    }

    async fn distro_collections_replace_only_themselves(db) {
        let app = app(&db);
        let o = ImportOptions::default();
        let main = app.import_feed(&real("distro/alpine-secdb/v3.19-main.json.gz"), &o).await.unwrap();
        assert_eq!((main.feed, main.counts.records), (FeedKind::AlpineSecdb, 2845));
        app.import_feed(&real("distro/alpine-secdb/v3.19-community.json.gz"), &o).await.unwrap();
        app.import_feed(&real("distro/debian-security-tracker/DSA-list.gz"), &o).await.unwrap();
        // Importing main again (forced) keeps community's rows.
        app.import_feed(&real("distro/alpine-secdb/v3.19-main.json.gz"), &ImportOptions { force: true, ..o }).await.unwrap();
        let v = app.vulnerability("CVE-2023-42363").await.unwrap();
        let f = v.distro_fixes.iter().find(|d| d.distro == "alpine" && d.package == "busybox").unwrap();
        assert_eq!((f.release.as_str(), f.fixed_version.as_deref()), ("3.19", Some("1.36.1-r17")));
        let v = app.vulnerability("CVE-2021-3156").await.unwrap();
        assert!(v.distro_fixes.iter().any(|d| d.distro == "debian" && d.release == "10" && d.fixed_version.as_deref() == Some("1.8.27-1+deb10u3")));
        // OVAL: Ubuntu's USN and Red Hat's RHSA fixes, by binary package.
        let ubuntu = app.import_feed(&real("distro/ubuntu-oval/com.ubuntu.noble.usn.oval.xml.gz"), &o).await.unwrap();
        assert_eq!((ubuntu.feed, ubuntu.counts.new, ubuntu.data_date.as_deref()), (FeedKind::Oval, 5950, Some("oval:ubuntu:24.04")));
        app.import_feed(&real("distro/redhat-oval/com.redhat.rhsa-RHEL9.xml.gz"), &o).await.unwrap();
        let v = app.vulnerability("CVE-2024-40725").await.unwrap();
        let f = v.distro_fixes.iter().find(|d| d.distro == "ubuntu" && d.package == "apache2-bin").unwrap();
        assert_eq!((f.fixed_version.as_deref(), f.advisory.as_deref()), (Some("0:2.4.58-1ubuntu8.4"), Some("USN-6902-1")));
        assert!(v.aliases.iter().any(|a| a == "USN-6902-1"), "{:?}", v.aliases);
        let v = app.vulnerability("CVE-2022-1271").await.unwrap();
        assert!(v.distro_fixes.iter().any(|d| d.distro == "rhel" && d.release == "9" && d.package == "gzip" && d.advisory.as_deref() == Some("RHSA-2022:4582")));
    }

    async fn real_kev_certfr_and_exploitdb(db) {
        let app = app(&db);
        let o = ImportOptions::default();
        let kev = app.import_feed(&real("kev/known_exploited_vulnerabilities-2026-07-23.json.gz"), &o).await.unwrap();
        assert_eq!((kev.counts.records, kev.data_date.as_deref()), (1653, Some("2026.07.23")));
        let old = app.import_feed(&real("kev/known_exploited_vulnerabilities-2025-08-25.json.gz"), &o).await.unwrap();
        assert_eq!((old.counts.records, old.counts.new, old.counts.unchanged), (1404, 0, 1404), "an older catalogue is not applied");
        assert!(old.skipped[0].contains("older than the stored 2026.07.23"), "{:?}", old.skipped);
        let k = app.vulnerability("CVE-2026-16232").await.unwrap().kev;
        assert!(k.is_some(), "the 2026 catalogue is still in place");
        app.import_feed(&real("certfr/cert-fr-ale_with_cves.json"), &o).await.unwrap();
        let x = app.import_feed(&real("exploits/pyexploitdb-cveToEdbid.json.gz"), &o).await.unwrap();
        assert_eq!((x.counts.records, x.skipped.len()), (29_559, 22));
        let v = app.vulnerability("CVE-2018-13379").await.unwrap();
        let k = v.kev.unwrap();
        assert_eq!((k.date_added.to_string(), k.due_date.map(|d| d.to_string())), ("2021-11-03".into(), Some("2022-05-03".into())));
        assert_eq!(v.certfr[0].id, "CERTFR-2020-ALE-025");
        assert_eq!(v.exploits.iter().map(|e| e.source_id.as_str()).collect::<Vec<_>>(), ["47287", "47288"]);
        // Exploit-DB's CSV enriches the links; a later map import keeps the details.
        let csv = Path::new(env!("CARGO_MANIFEST_DIR")).join("../vantage-feeds/tests/fixtures/files_exploits.csv");
        app.import_feed(&csv, &o).await.unwrap();
        app.import_feed(&real("exploits/pyexploitdb-cveToEdbid.json.gz"), &ImportOptions { force: true, ..o.clone() }).await.unwrap();
        let v = app.vulnerability("CVE-2018-13379").await.unwrap();
        let e = &v.exploits[0];
        assert_eq!((e.source_id.as_str(), e.kind.as_deref(), e.verified), ("47287", Some("webapps"), Some(true)));
        assert_eq!(v.exploits.len(), 2);
        assert!(app.vulnerability("CVE-1999-99999").await.is_err());
    }
}
