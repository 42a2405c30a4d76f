//! Inventory import end to end on real data, on SQLite and PostgreSQL: a real Alpine 3.19
//! host inventory (vuls' integration fixture) against the real Alpine secdb gives exactly the
//! vulnerabilities the distribution data names, with evidence; an upgrade closes findings; a
//! corrupt file changes nothing. SBOMs: language packages against the real OSV advisories give
//! exactly what an independent evaluation of the OSV ranges (tests/osv_reference.py, with
//! `packaging` and python-semver) gives; an Alpine image SBOM gives the apk result.

use std::collections::BTreeSet;
use std::path::PathBuf;

use vantage_app::feeds::ImportOptions;
use vantage_app::{App, AppError, Config};
use vantage_domain::{FindingFilter, StatusFilter};
use vantage_test_utils::{both_backends, open_vuln_ids, test_data, vuls_inventory};

fn real(rel: &str) -> PathBuf {
    test_data(rel)
}

/// An apk installed database built from vuls' Alpine 3.19 inventory (binary → origin kept).
fn alpine_installed(upgrade_busybox: bool) -> String {
    let mut out = String::new();
    for p in vuls_inventory("packages/vuls-integration/alpine_319.packages.json.gz") {
        let version = if upgrade_busybox && p.source == "busybox" {
            "1.36.1-r20"
        } else {
            p.version.as_str()
        };
        out.push_str(&format!(
            "C:Q1AAAAAAAAAAAAAAAAAAAAAAAAAAAA=\nP:{}\nV:{version}\nA:x86_64\no:{}\n\n",
            p.name, p.source
        ));
    }
    out
}

/// A dpkg status file built from vuls' Ubuntu 24.04 inventory (binary → source kept).
fn ubuntu_status() -> String {
    let mut out = String::new();
    for p in vuls_inventory("packages/vuls-integration/ubuntu_2404.packages.json.gz") {
        out.push_str(&format!(
            "Package: {}\nStatus: install ok installed\nVersion: {}\nSource: {} ({})\n\n",
            p.name, p.version, p.source, p.source_version
        ));
    }
    out
}

both_backends! {
    async fn a_new_advisory_finds_existing_hosts_without_rescanning(db) {
        let app = App::from_parts(Config::default(), db.store.clone());
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("installed");
        std::fs::write(&file, alpine_installed(false)).unwrap();
        // Inventoried before any Alpine data is known: nothing can be judged yet.
        let r = app.import_inventory("early", Some("alpine:3.19"), &file).await.unwrap();
        assert_eq!((r.distro_data, r.findings), (false, 0));
        app.import_feed(&real("distro/alpine-secdb/v3.19-main.json.gz"), &ImportOptions::default()).await.unwrap();
        let d = app.run_redetect_job("test", false).await.unwrap();
        assert_eq!((d.assets, d.findings, d.fixed), (1, 13, 0), "{d:?}");
        assert_eq!(open_vuln_ids(&app.store, r.asset_id).await.len(), 13);
        assert!(d.prioritization.findings_attached >= 13);
        assert_eq!(d.new, 13);
        // Nothing new: the same findings, nothing written, no prioritization needed.
        let d = app.redetect().await.unwrap();
        assert_eq!((d.findings, d.new, d.fixed, d.prioritization.contexts), (13, 0, 0, 0));
    }

    async fn a_rhel_host_is_judged_by_the_rhsa_oval(db) {
        let app = App::from_parts(Config::default(), db.store.clone());
        app.import_feed(&real("distro/redhat-oval/com.redhat.rhsa-RHEL9.xml.gz"), &ImportOptions::default()).await.unwrap();
        // vuls' RHEL 9.0 host, as `rpm -qa` lists it.
        let r = app.import_inventory("rhel90", Some("rhel:9"), &real("packages/vuls-integration/rhel_90.rpm-qa.txt")).await.unwrap();
        assert_eq!((r.format, r.packages), ("rpm-qa", 495));
        let f = FindingFilter { asset: Some(vantage_domain::AssetId(r.asset_id)), limit: 1000, ..Default::default() };
        let items = app.store.list_findings(&f).await.unwrap().items;
        let curl: BTreeSet<&str> = items.iter().filter(|f| f.evidence.component == "curl").map(|f| f.vuln_id.as_str()).collect();
        // curl 7.76.1-14.el9 predates every RHSA fix for it in the data.
        assert_eq!(curl.len(), 9, "{curl:?}");
        let e = &items.iter().find(|f| f.vuln_id.as_str() == "CVE-2022-32221").unwrap().evidence;
        assert_eq!(e.rule, "installed 7.76.1-14.el9 < fixed 7.76.1-19.el9_1.1");
        assert_eq!((e.advisory.as_deref(), e.confidence), (Some("RHSA-2023:0333"), vantage_domain::Confidence::High));

        // An openssl already patched by RHSA-2022:7288 (epoch 1): only the later RHSA-2023:0946
        // fixes are missing.
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("rpm-qa");
        std::fs::write(&file, "openssl-1:3.0.1-43.el9_0.x86_64\nopenssl-libs-1:3.0.1-43.el9_0.x86_64\n").unwrap();
        let r = app.import_inventory("patched", Some("rhel:9"), &file).await.unwrap();
        let f = FindingFilter { asset: Some(vantage_domain::AssetId(r.asset_id)), limit: 1000, ..Default::default() };
        let openssl: BTreeSet<String> = app.store.list_findings(&f).await.unwrap().items.into_iter()
            .filter(|f| f.evidence.component == "openssl").map(|f| f.vuln_id.as_str().to_string()).collect();
        let want: BTreeSet<String> = "CVE-2022-4203 CVE-2022-4304 CVE-2022-4450 CVE-2023-0215 CVE-2023-0216 CVE-2023-0217 CVE-2023-0286 CVE-2023-0401"
            .split_whitespace().map(String::from).collect();
        assert_eq!(openssl, want);
    }

    async fn an_ubuntu_host_is_judged_by_the_usn_oval_with_backports(db) {
        let app = App::from_parts(Config::default(), db.store.clone());
        app.import_feed(&real("distro/ubuntu-oval/com.ubuntu.noble.usn.oval.xml.gz"), &ImportOptions::default()).await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("status");
        std::fs::write(&file, ubuntu_status()).unwrap();
        let r = app.import_inventory("noble", Some("ubuntu:24.04"), &file).await.unwrap();
        assert_eq!((r.format, r.distro_data), ("dpkg-status", true));
        // curl 8.5.0-2ubuntu10.1 is installed. Ubuntu fixed CVE-2024-2004 and CVE-2024-2398
        // in exactly that version (a backport: upstream 8.5.0 is in NVD's affected range); the
        // four later fixes are missing.
        let f = FindingFilter { asset: Some(vantage_domain::AssetId(r.asset_id)), limit: 1000, ..Default::default() };
        let items = app.store.list_findings(&f).await.unwrap().items;
        let curl: BTreeSet<&str> = items.iter().filter(|f| f.evidence.component == "curl").map(|f| f.vuln_id.as_str()).collect();
        assert_eq!(curl, BTreeSet::from(["CVE-2024-11053", "CVE-2024-7264", "CVE-2024-8096", "CVE-2024-9681"]));
        let e = &items.iter().find(|f| f.vuln_id.as_str() == "CVE-2024-11053" && f.evidence.component == "curl").unwrap().evidence;
        assert_eq!(e.rule, "installed 8.5.0-2ubuntu10.1 < fixed 8.5.0-2ubuntu10.6");
        assert_eq!(e.advisory.as_deref(), Some("USN-7162-1"));
        assert_eq!(e.fixed_version.as_deref(), Some("8.5.0-2ubuntu10.6"));
        assert!(e.source.starts_with("ubuntu oval:ubuntu:24.04"), "{}", e.source);
        assert!(r.findings > 20, "{}", r.findings);
    }


    async fn an_alpine_host_is_judged_by_the_alpine_secdb(db) {
        let app = App::from_parts(Config::default(), db.store.clone());
        for f in ["v3.19-main", "v3.19-community"] {
            app.import_feed(&real(&format!("distro/alpine-secdb/{f}.json.gz")), &ImportOptions::default()).await.unwrap();
        }
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("installed");
        std::fs::write(&file, alpine_installed(false)).unwrap();

        let r = app.import_inventory("alpine319", Some("alpine:3.19"), &file).await.unwrap();
        assert_eq!((r.format, r.os.as_deref(), r.distro_data, r.fixed), ("apk-installed", Some("alpine:3.19"), true, 0));
        // The independent reference (apk ordering via univers, binary → origin): 13 CVEs in
        // busybox and openssl.
        let want: BTreeSet<String> = "CVE-2023-42363 CVE-2023-42364 CVE-2023-42365 CVE-2023-42366 \
            CVE-2023-6129 CVE-2023-6237 CVE-2024-0727 CVE-2024-2511 CVE-2024-4603 CVE-2024-4741 \
            CVE-2024-5535 CVE-2024-6119 CVE-2024-9143".split_whitespace().map(String::from).collect();
        assert_eq!(open_vuln_ids(&app.store, r.asset_id).await, want);
        assert_eq!(r.findings, 13);
        assert!(r.prioritization.findings_attached >= 13, "{:?}", r.prioritization);

        let f = FindingFilter { asset: Some(vantage_domain::AssetId(r.asset_id)), vuln: Some("CVE-2023-42363".parse().unwrap()), limit: 10, ..Default::default() };
        let busybox = &app.store.list_findings(&f).await.unwrap().items[0];
        let e = &busybox.evidence;
        assert_eq!((e.component.as_str(), e.source.as_str()), ("busybox", "alpine-secdb v3.19/main"));
        assert!(e.rule.starts_with("installed 1.36.1-r15 < fixed 1.36.1-r"), "{}", e.rule);
        assert!(e.rule.contains("binary packages: busybox"), "{}", e.rule);
        assert!(busybox.prioritization.is_some());

        // busybox upgraded: its four findings are fixed, openssl's stay.
        std::fs::write(&file, alpine_installed(true)).unwrap();
        let r2 = app.import_inventory("alpine319", Some("alpine:3.19"), &file).await.unwrap();
        assert_eq!((r2.asset_id, r2.fixed, r2.findings), (r.asset_id, 4, 9));
        let f = FindingFilter { asset: Some(vantage_domain::AssetId(r.asset_id)), status: StatusFilter::All, limit: 1000, ..Default::default() };
        assert_eq!(app.store.list_findings(&f).await.unwrap().items.len(), 13, "fixed findings are kept, as fixed");

        // A corrupt file: a clear error naming the line, and nothing changes for the asset.
        let packages = app.store.count_packages(vantage_domain::AssetId(r.asset_id)).await.unwrap();
        std::fs::write(&file, "P:busybox\nV:1.36.1-r20\n\nP:openssl\nV:not-a-version\n").unwrap();
        let e = app.import_inventory("alpine319", Some("alpine:3.19"), &file).await.unwrap_err();
        assert!(matches!(e, AppError::Invalid(_)));
        assert!(e.to_string().contains("line 5: package openssl"), "{e}");
        assert_eq!(app.store.count_packages(vantage_domain::AssetId(r.asset_id)).await.unwrap(), packages);
        assert_eq!(open_vuln_ids(&app.store, r.asset_id).await.len(), 9);

        // --os may be the host's os-release file.
        std::fs::write(&file, alpine_installed(false)).unwrap();
        let os_release = file.with_file_name("os-release");
        std::fs::write(&os_release, "NAME=\"Alpine Linux\"\nID=alpine\nVERSION_ID=3.19.1\n").unwrap();
        let r3 = app.import_inventory("alpine319", Some(os_release.to_str().unwrap()), &file).await.unwrap();
        assert_eq!((r3.os.as_deref(), r3.findings), (Some("alpine:3.19"), 13));
        std::fs::write(&os_release, "hello\n").unwrap();
        let e = app.import_inventory("alpine319", Some(os_release.to_str().unwrap()), &file).await.unwrap_err();
        assert!(e.to_string().contains("not an os-release file"), "{e}");

        // Without --os, an apk database says which flag to pass.
        std::fs::write(&file, alpine_installed(false)).unwrap();
        let e = app.import_inventory("x", None, &file).await.unwrap_err();
        assert!(e.to_string().contains("pass --os (e.g. alpine:3.19)"), "{e}");
    }

    async fn an_sbom_of_language_packages_is_judged_by_osv(db) {
        let app = App::from_parts(Config::default(), db.store.clone());
        for f in ["pypa-advisory-osv", "golang-vulndb-osv", "rustsec-osv"] {
            app.import_feed(&real(&format!("advisories/{f}.jsonl.gz")), &ImportOptions::default()).await.unwrap();
        }
        let bom = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/shop.cdx.json");
        let r = app.import_inventory_file(None, None, &bom).await.unwrap();
        assert_eq!((r.asset.as_str(), r.format, r.os.as_deref()), ("shop-backend", "cyclonedx", None));
        assert_eq!((r.packages, r.language_packages, r.skipped, r.osv_data), (18, 18, 1, true));

        // The independent reference.
        let out = std::process::Command::new(vantage_test_utils::python())
            .arg(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/osv_reference.py"))
            .arg(test_data(""))
            .arg(&bom)
            .output()
            .expect("VANTAGE_PYTHON with packaging and semver (pip install univers)");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let want: BTreeSet<String> = String::from_utf8(out.stdout).unwrap().lines().map(String::from).collect();
        assert!(want.len() > 100, "{} reference findings", want.len());
        let f = FindingFilter { asset: Some(vantage_domain::AssetId(r.asset_id)), limit: 1000, ..Default::default() };
        let findings = app.store.list_findings(&f).await.unwrap().items;
        let got: BTreeSet<String> = findings.iter().map(|f| format!("{} {}", f.evidence.component, f.vuln_id)).collect();
        assert_eq!(got.difference(&want).collect::<Vec<_>>(), Vec::<&String>::new(), "false positives");
        assert_eq!(want.difference(&got).collect::<Vec<_>>(), Vec::<&String>::new(), "missed");
        assert_eq!(r.findings as usize, want.len());

        // Chosen cases, by hand from the advisories: requests' Proxy-Authorization leak
        // (GHSA-j8r2-6x86-q33q / PYSEC-2023-74) fixed in 2.31.0; tokio's named pipes
        // (RUSTSEC-2023-0001) fixed in 1.18.4 on the 1.18 branch.
        let requests = findings.iter().find(|f| f.vuln_id.as_str() == "CVE-2023-32681").unwrap();
        let e = &requests.evidence;
        assert_eq!((e.component.as_str(), e.installed_version.as_deref(), e.fixed_version.as_deref()), ("pypi/requests", Some("2.25.0"), Some("2.31.0")));
        assert_eq!(e.confidence, vantage_domain::Confidence::Medium);
        assert!(matches!(e.advisory.as_deref(), Some("GHSA-j8r2-6x86-q33q" | "PYSEC-2023-74")), "{:?}", e.advisory);
                assert_eq!(e.rule, "PyPI: introduced 2.3.0 <= installed 2.25.0 < fixed 2.31.0 (ECOSYSTEM range)");
        let tokio = findings.iter().find(|f| f.vuln_id.as_str() == "CVE-2023-22466").unwrap();
        assert_eq!(tokio.evidence.fixed_version.as_deref(), Some("1.18.4"));
        assert_eq!(tokio.evidence.advisory.as_deref(), Some("RUSTSEC-2023-0001"));

        // An invalid Package URL: the error names the path and line; nothing is stored.
        let dir = tempfile::tempdir().unwrap();
        let bad = dir.path().join("bad.json");
        let text = std::fs::read_to_string(&bom).unwrap().replace("pkg:pypi/pyyaml@5.3", "pkg:/pyyaml@5.3");
        std::fs::write(&bad, text).unwrap();
        let packages = app.store.count_packages(vantage_domain::AssetId(r.asset_id)).await.unwrap();
        let e = app.import_inventory_file(None, None, &bad).await.unwrap_err();
        assert!(matches!(e, AppError::Invalid(_)));
        assert!(e.to_string().contains("line 11: components[2].purl: invalid Package URL \"pkg:/pyyaml@5.3\""), "{e}");
        assert_eq!(app.store.count_packages(vantage_domain::AssetId(r.asset_id)).await.unwrap(), packages);
        assert_eq!(open_vuln_ids(&app.store, r.asset_id).await.len(), want.len());

        // Re-detection over the stored packages finds the same, writes nothing new.
        let again = app.redetect().await.unwrap();
        assert_eq!((again.assets, again.new, again.fixed), (1, 0, 0));
    }

    async fn an_alpine_image_sbom_is_judged_by_the_secdb(db) {
        let app = App::from_parts(Config::default(), db.store.clone());
        for f in ["v3.19-main", "v3.19-community"] {
            app.import_feed(&real(&format!("distro/alpine-secdb/{f}.json.gz")), &ImportOptions::default()).await.unwrap();
        }
        // Syft-style: the origin in the `upstream` qualifier, the release in `distro`.
        let components: Vec<serde_json::Value> = vuls_inventory("packages/vuls-integration/alpine_319.packages.json.gz")
            .into_iter()
            .map(|p| serde_json::json!({
                "type": "library", "name": p.name, "version": p.version,
                "purl": format!("pkg:apk/alpine/{}@{}?arch=x86_64&upstream={}&distro=3.19.1", p.name, p.version, p.source),
            }))
            .collect();
        let bom = serde_json::json!({
            "bomFormat": "CycloneDX", "specVersion": "1.6",
            "metadata": {"component": {"type": "container", "name": "alpine:3.19.1"}},
            "components": [{"type": "operating-system", "name": "alpine", "version": "3.19.1"}],
        });
        let mut bom = bom;
        bom["components"].as_array_mut().unwrap().extend(components);
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("alpine.cdx.json");
        std::fs::write(&file, serde_json::to_string_pretty(&bom).unwrap()).unwrap();
        let r = app.import_inventory_file(None, None, &file).await.unwrap();
        assert_eq!((r.asset.as_str(), r.os.as_deref(), r.distro_data), ("alpine:3.19.1", Some("alpine:3.19"), true));
        let want: BTreeSet<String> = "CVE-2023-42363 CVE-2023-42364 CVE-2023-42365 CVE-2023-42366 \
            CVE-2023-6129 CVE-2023-6237 CVE-2024-0727 CVE-2024-2511 CVE-2024-4603 CVE-2024-4741 \
            CVE-2024-5535 CVE-2024-6119 CVE-2024-9143".split_whitespace().map(String::from).collect();
        assert_eq!(open_vuln_ids(&app.store, r.asset_id).await, want);
        let asset = app.store.asset(vantage_domain::AssetId(r.asset_id)).await.unwrap().unwrap();
        assert_eq!(asset.kind, vantage_domain::AssetKind::ContainerImage);
    }

    async fn network_products_are_judged_by_nvd_cpe_ranges_unless_a_package_provides_them(db) {
        let app = App::from_parts(Config::default(), db.store.clone());
        // The NVD records about the three products, from the real NVD file.
        let dir = tempfile::tempdir().unwrap();
        let subset = dir.path().join("nvd.jsonl");
        let mut text = String::new();
        std::io::Read::read_to_string(
            &mut flate2::read::GzDecoder::new(std::fs::File::open(real("nvd/nvd-cve-api2.0-records.jsonl.gz")).unwrap()),
            &mut text,
        )
        .unwrap();
        let lines: Vec<&str> = text
            .lines()
            .filter(|l| [":openbsd:openssh:", ":apache:http_server:", ":nginx:nginx:"].iter().any(|n| l.contains(n)))
            .collect();
        assert!(lines.len() > 250, "{} records", lines.len());
        std::fs::write(&subset, lines.join("\n")).unwrap();
        app.import_feed(&subset, &ImportOptions::default()).await.unwrap();

        use vantage_detect::cpe::Cpe;
        let seen = [
            ("tcp/22", "cpe:/a:openbsd:openssh:8.9p1", "openbsd openssh 8.9p1"),
            ("tcp/443", "cpe:/a:apache:http_server:2.4.49", "apache http_server 2.4.49"),
            ("tcp/80", "cpe:/a:nginx:nginx:1.18.0", "nginx nginx 1.18.0"),
        ];
        let products: Vec<(String, Cpe)> = seen.iter().map(|(c, cpe, _)| (c.to_string(), Cpe::parse(cpe).unwrap())).collect();
        let (found, covered) = app.detect_network_products(None, &products).await.unwrap();
        assert!(covered.is_empty());
        let got: BTreeSet<String> = found.iter().map(|d| format!("{} {}", d.evidence.component, d.vuln_id)).collect();
        // The independent reference, product by product.
        let mut want = BTreeSet::new();
        for (component, _, args) in seen {
            let out = std::process::Command::new(vantage_test_utils::python())
                .arg(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/cpe_reference.py"))
                .arg(test_data(""))
                .args(args.split(' '))
                .output()
                .expect("VANTAGE_PYTHON");
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
            want.extend(String::from_utf8(out.stdout).unwrap().lines().map(|cve| format!("{component} {cve}")));
        }
        assert!(want.len() > 60, "{} reference findings", want.len());
        assert_eq!(got, want);
        // regreSSHion's neighbour CVE-2023-38408 (ssh-agent): every version before 9.3.
        let agent = found.iter().find(|d| d.vuln_id.as_str() == "CVE-2023-38408").unwrap();
        assert_eq!(agent.evidence.confidence, vantage_domain::Confidence::Low);
        assert_eq!(agent.evidence.source, "nvd-cpe");
        assert_eq!(agent.evidence.rule, "cpe:2.3:a:openbsd:openssh:*:*:*:*:*:*:*:* < 9.3 matches 8.9p1");
        assert!(!got.contains("tcp/22 CVE-2021-36368"), "8.9p1 is not before 8.9");

        // On a host whose openssh comes from Ubuntu, Ubuntu's data judges it: NVD ranges do not.
        let status = dir.path().join("status");
        std::fs::write(&status, "Package: openssh-server\nStatus: install ok installed\nVersion: 1:8.9p1-3ubuntu0.10\nSource: openssh\n").unwrap();
        let r = app.import_inventory("jammy", Some("ubuntu:22.04"), &status).await.unwrap();
        let (found, covered) = app
            .detect_network_products(Some(vantage_domain::AssetId(r.asset_id)), &products[..1])
            .await
            .unwrap();
        assert!(found.is_empty(), "{found:?}");
        assert_eq!(covered, ["tcp/22"]);
    }

    async fn a_changed_advisory_is_judged_on_the_hosts_that_hold_its_package_only(db) {
        let app = App::from_parts(Config::default(), db.store.clone());
        let secdb = |edit: &dyn Fn(&mut serde_json::Value)| {
            let mut text = String::new();
            std::io::Read::read_to_string(
                &mut flate2::read::GzDecoder::new(std::fs::File::open(real("distro/alpine-secdb/v3.19-main.json.gz")).unwrap()),
                &mut text,
            )
            .unwrap();
            let mut doc: serde_json::Value = serde_json::from_str(&text).unwrap();
            edit(&mut doc);
            doc
        };
        let dir = tempfile::tempdir().unwrap();
        let feed = dir.path().join("v3.19-main.json");
        std::fs::write(&feed, secdb(&|_| {}).to_string()).unwrap();
        app.import_feed(&feed, &ImportOptions::default()).await.unwrap();
        // Nothing is inventoried yet: the queued changes are handled (and dropped) at no cost.
        let r = app.redetect_changes().await.unwrap();
        assert_eq!((r.assets, r.new), (0, 0));
        assert!(app.store.detection_changes().await.unwrap().is_empty());

        let file = dir.path().join("installed");
        std::fs::write(&file, alpine_installed(false)).unwrap();
        let host = app.import_inventory("alpine319", Some("alpine:3.19"), &file).await.unwrap();
        let before = open_vuln_ids(&app.store, host.asset_id).await;
        assert_eq!(before.len(), 13);
        // A second host without openssl or busybox.
        std::fs::write(&file, "P:musl\nV:1.2.4_git20230717-r4\no:musl\n").unwrap();
        let other = app.import_inventory("tiny", Some("alpine:3.19"), &file).await.unwrap();

        // The same file again: nothing changed, nothing is judged.
        app.import_feed(&feed, &ImportOptions { force: true, ..Default::default() }).await.unwrap();
        assert!(app.store.detection_changes().await.unwrap().is_empty());
        let r = app.redetect_changes().await.unwrap();
        assert_eq!((r.assets, r.new, r.fixed), (0, 0, 0));

        // The next secdb: a new openssl advisory, and busybox's CVE-2023-42363 withdrawn.
        std::fs::write(
            &feed,
            secdb(&|doc| {
                for p in doc["packages"].as_array_mut().unwrap() {
                    let name = p["pkg"]["name"].as_str().unwrap().to_string();
                    let fixes = p["pkg"]["secfixes"].as_object_mut().unwrap();
                    if name == "openssl" {
                        fixes.insert("3.1.99-r0".into(), serde_json::json!(["CVE-2099-0001"]));
                    }
                    if name == "busybox" {
                        for cves in fixes.values_mut() {
                            cves.as_array_mut().unwrap().retain(|c| c != "CVE-2023-42363");
                        }
                    }
                }
            })
            .to_string(),
        )
        .unwrap();
        app.import_feed(&feed, &ImportOptions::default()).await.unwrap();
        let queued: Vec<String> = app.store.detection_changes().await.unwrap().into_iter().map(|(k, s, n)| format!("{k} {s} {n}")).collect();
        assert_eq!(queued, ["distro alpine:3.19 busybox", "distro alpine:3.19 openssl"]);
        let r = app.redetect_changes().await.unwrap();
        assert_eq!((r.assets, r.new, r.fixed), (1, 1, 1), "{r:?}");
        let mut want = before.clone();
        want.remove("CVE-2023-42363");
        want.insert("CVE-2099-0001".into());
        assert_eq!(open_vuln_ids(&app.store, host.asset_id).await, want);
        assert!(open_vuln_ids(&app.store, other.asset_id).await.is_empty());
        let f = FindingFilter { asset: Some(vantage_domain::AssetId(host.asset_id)), vuln: Some("CVE-2099-0001".parse().unwrap()), limit: 10, ..Default::default() };
        let new = &app.store.list_findings(&f).await.unwrap().items[0];
        assert_eq!(new.evidence.fixed_version.as_deref(), Some("3.1.99-r0"));
        assert!(new.prioritization.is_some(), "prioritized after detection");
        assert!(app.store.detection_changes().await.unwrap().is_empty());
        // A full re-detection agrees with the incremental one.
        let all = app.redetect().await.unwrap();
        assert_eq!((all.assets, all.new, all.fixed), (2, 0, 0));
    }

    async fn a_new_osv_advisory_reaches_stored_sboms(db) {
        let app = App::from_parts(Config::default(), db.store.clone());
        app.import_feed(&real("advisories/rustsec-osv.jsonl.gz"), &ImportOptions::default()).await.unwrap();
        let bom = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/shop.cdx.json");
        let r = app.import_inventory_file(None, None, &bom).await.unwrap();
        let before = open_vuln_ids(&app.store, r.asset_id).await;
        // A Python service's pins, its names as written (`Typing_Extensions`).
        let dir = tempfile::tempdir().unwrap();
        let pins = dir.path().join("requirements.txt");
        std::fs::write(&pins, "Typing_Extensions==4.0.0\n").unwrap();
        let api = app.import_inventory("api", None, &pins).await.unwrap();
        assert_eq!((api.format, api.language_packages, api.findings), ("requirements", 1, 0));
        app.redetect_changes().await.unwrap();
        let feed = dir.path().join("new.jsonl");
        std::fs::write(
            &feed,
            concat!(
                r#"{"id":"RUSTSEC-2099-0001","modified":"2099-01-01T00:00:00Z","published":"2099-01-01T00:00:00Z","aliases":["CVE-2099-1111"],"summary":"test advisory","affected":[{"package":{"ecosystem":"crates.io","name":"tokio"},"ranges":[{"type":"SEMVER","events":[{"introduced":"1.0.0"},{"fixed":"1.19.0"}]}]}]}"#,
                "\n",
                r#"{"id":"PYSEC-2099-0002","modified":"2099-01-01T00:00:00Z","published":"2099-01-01T00:00:00Z","aliases":[],"summary":"test advisory","affected":[{"package":{"ecosystem":"PyPI","name":"typing-extensions"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"4.1.0"}]}]}]}"#,
            ),
        )
        .unwrap();
        app.import_feed(&feed, &ImportOptions::default()).await.unwrap();
        let queued: Vec<String> = app.store.detection_changes().await.unwrap().into_iter().map(|(k, s, n)| format!("{k} {s} {n}")).collect();
        assert_eq!(queued, ["osv PyPI typing-extensions", "osv crates.io tokio"]);
        let d = app.redetect_changes().await.unwrap();
        assert_eq!((d.assets, d.new, d.fixed), (2, 2, 0), "{d:?}");
        let mut want = before;
        want.insert("CVE-2099-1111".into());
        assert_eq!(open_vuln_ids(&app.store, r.asset_id).await, want);
        assert_eq!(open_vuln_ids(&app.store, api.asset_id).await, BTreeSet::from(["PYSEC-2099-0002".to_string()]));
    }
}
