//! Network discovery against a real lab on loopback addresses of the test's own (OpenSSH,
//! Python's HTTP server, OpenSSL TLS servers with a weak and an expired certificate, PostgreSQL,
//! a plain SMTP banner, binary garbage, a megabyte banner, a service that stalls), on SQLite and
//! PostgreSQL: exact open ports, products and versions, TLS facts and findings; the same product
//! names as the real `nmap -sV`; nmap's XML imported; refusals before any connection; services
//! closed when they go away; and (in a network namespace of the test's own) assets
//! decommissioned after missed scans and back when seen.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::process::Command;
use std::sync::Arc;

use vantage_app::network::{NetworkScanReport, NetworkScanRequest, PortSelection};
use vantage_app::{App, AppError, Config};
use vantage_scan::{Progress, ScanError};
use vantage_test_utils::lab::{self, Netns, RawService};
use vantage_test_utils::{both_backends, test_data};

fn config() -> Config {
    let mut c = Config::default();
    // A lab answers at once: short waits keep the stalling service from slowing the test.
    c.scan.probe_wait_ms = 1_500;
    c.scan.port_budget_secs = 8;
    c.scan.initial_timeout_ms = 300;
    c
}

fn request(targets: &[&str], ports: &str, scope: Option<&str>) -> NetworkScanRequest {
    NetworkScanRequest {
        targets: targets.iter().map(|t| t.to_string()).collect(),
        exclude: vec![],
        ports: PortSelection::Spec(ports.into()),
        scope: scope.map(str::to_string),
        discovery: true,
        service_detection: true,
        rate: None,
        concurrency: None,
    }
}

async fn scan(app: &App, req: &NetworkScanRequest) -> NetworkScanReport {
    let plan = app.plan_network_scan(req).await.unwrap();
    app.run_network_scan(plan, Arc::new(Progress::default()))
        .await
        .unwrap()
}

/// The real NVD records about OpenSSH.
async fn import_openssh_cves(app: &App) {
    let dir = tempfile::tempdir().unwrap();
    let subset = dir.path().join("nvd.jsonl");
    let mut text = String::new();
    std::io::Read::read_to_string(
        &mut flate2::read::GzDecoder::new(
            std::fs::File::open(test_data("nvd/nvd-cve-api2.0-records.jsonl.gz")).unwrap(),
        ),
        &mut text,
    )
    .unwrap();
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| l.contains(":openbsd:openssh:"))
        .collect();
    std::fs::write(&subset, lines.join("\n")).unwrap();
    app.import_feed(&subset, &Default::default()).await.unwrap();
}

fn expired_cert(dir: &std::path::Path) -> lab::CertFiles {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(vec!["old.lab.test".to_string()]).unwrap();
    params.not_before = rcgen::date_time_ymd(2019, 1, 1);
    params.not_after = rcgen::date_time_ymd(2021, 1, 1);
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "old.lab.test");
    let cert = params.self_signed(&key).unwrap();
    let files = lab::CertFiles {
        cert: dir.join("old.crt"),
        key: dir.join("old.key"),
    };
    std::fs::write(&files.cert, cert.pem()).unwrap();
    std::fs::write(&files.key, key.serialize_pem()).unwrap();
    files
}

fn port<'a>(r: &'a NetworkScanReport, ip: &str, port: u16) -> &'a vantage_scan::ServiceReport {
    r.hosts
        .iter()
        .find(|h| h.host.ip.to_string() == ip)
        .and_then(|h| h.host.ports.iter().find(|p| p.port == port))
        .and_then(|p| p.service.as_ref())
        .unwrap_or_else(|| panic!("no service on {ip}:{port}"))
}

const LAB_PORTS: &str = "1,2222,5432,8443,10025,10097-10099,18080,18443,18444";

both_backends! {
    /// Attack paths on the lab: an internet-facing edge host and a core host, both running the
    /// lab's real OpenSSH 9.2p1 (CVE-2023-38408 and others from the real NVD records, found by
    /// the scan). The core database is reached through the edge's foothold; the edge's SSH
    /// findings are the way in.
    async fn attack_paths_through_a_scanned_lab(db) {
        let net = lab::loopback_net();
        let (edge_ip, core_ip) = (format!("{net}21"), format!("{net}22"));
        let _edge = lab::sshd(&edge_ip, 2222);
        let _core = lab::sshd(&core_ip, 2222);
        let app = App::from_parts(config(), db.store.clone());
        import_openssh_cves(&app).await;
        let doc = vantage_app::scopes::parse_scopes(&format!(r#"
            [[scope]]
            name = "edge"
            ranges = ["{edge_ip}"]
            exposure = "internet"
            criticality = 2

            [[scope]]
            name = "core"
            ranges = ["{edge_ip}", "{core_ip}"]
            exposure = "internal"
            criticality = 5
        "#), "lab.toml").unwrap();
        app.apply_scopes(&doc, "test").await.unwrap();
        scan(&app, &request(&[&edge_ip], "2222", Some("edge"))).await;
        scan(&app, &request(&[&edge_ip, &core_ip], "2222", Some("core"))).await;
        app.prioritize().await.unwrap();

        let a = app.attack_paths(None).await.unwrap();
        let to_core = a.paths.iter().find(|p| p.target == core_ip).unwrap_or_else(|| panic!("no path to the core host: {:?}", a.paths));
        assert_eq!(to_core.target_scopes, ["core"]);
        assert_eq!(to_core.steps.len(), 2, "{to_core:?}");
        assert_eq!(to_core.steps[0].asset, edge_ip, "in through the internet-facing edge: {to_core:?}");
        assert_eq!(to_core.steps[1].asset, core_ip, "{to_core:?}");
        assert!(to_core.steps.iter().all(|s| s.vuln_id.starts_with("CVE-") && s.action == "exploit"), "{to_core:?}");
        assert!(a.entry_points > 0);
        // The edge host is in the critical scope too: reached in one step.
        let to_edge = a.paths.iter().find(|p| p.target == edge_ip).unwrap();
        assert_eq!(to_edge.steps.len(), 1);
        // Only `core` restricted: the same best path.
        let only = app.attack_paths(Some("core")).await.unwrap();
        assert_eq!(only.paths.len(), 2);
        // The findings on the core host are on a path.
        let core = app.store.list_findings(&vantage_domain::FindingFilter { limit: 500, ..Default::default() }).await.unwrap();
        let agent = core.items.iter().find(|f| f.asset_name == core_ip && f.vuln_id.as_str() == "CVE-2023-38408").unwrap();
        assert_eq!(agent.lifecycle.on_attack_path, Some(true), "{agent:?}");
        // Take the edge off the internet: no way in, every finding on no known path.
        let mut edge_doc = doc.clone();
        edge_doc.scopes.truncate(1);
        edge_doc.scopes[0].exposure = vantage_domain::ExposureClass::Internal;
        app.apply_scopes(&edge_doc, "test").await.unwrap();
        let none = app.attack_paths(None).await.unwrap();
        assert!(none.paths.is_empty(), "{:?}", none.paths);
        assert_eq!(none.findings_on_path, 0);
    }

    async fn a_real_lab_is_found_identified_stored_and_kept_alive(db) {
        let net = lab::loopback_net();
        let ip = format!("{net}10");
        let certs = tempfile::tempdir().unwrap();
        let weak = lab::openssl_cert(certs.path(), "weak.lab.test", 1024, "sha1");
        let old = expired_cert(certs.path());
        let sshd = lab::sshd(&ip, 2222);
        let http = lab::http_server(&ip, 18080, "Vantage lab");
        let _weak_tls = lab::tls_server(&ip, 18443, &weak, true);
        let _old_tls = lab::tls_server(&ip, 18444, &old, false);
        let at = |p: u16| SocketAddr::new(ip.parse().unwrap(), p);
        let _smtp = RawService::start(at(10025), Some(b"220 mail.lab.test ESMTP Postfix (Debian/GNU)\r\n".to_vec()));
        let _stall = RawService::start(at(10097), None);
        // A usual TLS port whose server never answers the handshake.
        let _tls_stall = RawService::start(at(8443), None);
        let _huge = RawService::start(at(10098), Some(vec![b'A'; 5 * 1024 * 1024]));
        let garbage: Vec<u8> = (0..4096u32).map(|i| (i.wrapping_mul(2654435761) >> 24) as u8).collect();
        let _garbage = RawService::start(at(10099), Some(garbage));

        let app = App::from_parts(config(), db.store.clone());
        import_openssh_cves(&app).await;
        app.create_scope(
            &vantage_store::NewScope {
                rules: vec![
                    vantage_domain::MembershipRule::IpRange(format!("{ip}/32")),
                    vantage_domain::MembershipRule::IpRange("127.0.0.1".into()),
                ],
                ..vantage_store::NewScope::named("lab")
            },
            "test",
        )
        .await
        .unwrap();

        // Refused before any connection: outside the scope, an unknown scope, the deny list.
        let outside = format!("{net}11");
        let watcher = RawService::start(SocketAddr::new(outside.parse().unwrap(), 2222), Some(b"x".to_vec()));
        let e = app.plan_network_scan(&request(&[&outside], "2222", Some("lab"))).await.unwrap_err();
        assert!(matches!(e, AppError::Scan(ScanError::OutOfScope(_))), "{e}");
        assert!(e.to_string().contains("outside scope `lab`"), "{e}");
        assert!(e.is_bad_input());
        let e = app.plan_network_scan(&request(&[&ip], "2222", Some("nope"))).await.unwrap_err();
        assert!(matches!(e, AppError::NotFound(_)), "{e}");
        let mut denying = config();
        denying.scan.deny.push(format!("{net}0/24"));
        let strict = App::from_parts(denying, db.store.clone());
        let e = strict.plan_network_scan(&request(&[&ip], "2222", None)).await.unwrap_err();
        assert!(e.to_string().contains("deny"), "{e}");
        for bad in [("10.0.0.300", "22"), ("127.0.0.1", "22,,80"), ("127.0.0.1", "U:53")] {
            let e = app.plan_network_scan(&request(&[bad.0], bad.1, None)).await.unwrap_err();
            assert!(e.is_bad_input(), "{e}");
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
        assert_eq!(watcher.accepted.load(std::sync::atomic::Ordering::Relaxed), 0, "a refused scan connected");

        let r = scan(&app, &request(&[&ip, "127.0.0.1"], LAB_PORTS, Some("lab"))).await;
        let open = |host: &str| -> Vec<u16> {
            r.hosts.iter().find(|h| h.host.ip.to_string() == host).map(|h| h.host.ports.iter().map(|p| p.port).collect()).unwrap_or_default()
        };
        assert_eq!(open(&ip), vec![2222, 8443, 10025, 10097, 10098, 10099, 18080, 18443, 18444]);
        assert_eq!(open("127.0.0.1"), vec![5432]);

        let ssh = port(&r, &ip, 2222);
        assert_eq!((ssh.name.as_deref(), ssh.product.as_deref()), (Some("ssh"), Some("OpenSSH")));
        let version = ssh.version.clone().unwrap();
        assert!(version.starts_with("9.2p1 Debian"), "{version}");
        assert!(ssh.cpes.contains(&"cpe:/a:openbsd:openssh:9.2p1".to_string()), "{:?}", ssh.cpes);
        // The host key, as ssh-keygen fingerprints the server's own key file.
        let keygen = Command::new("ssh-keygen").arg("-lf").arg(sshd.dir.path().join("hostkey.pub")).output().unwrap();
        let expected = String::from_utf8(keygen.stdout).unwrap().split_whitespace().nth(1).unwrap().to_string();
        let key = ssh.ssh_host_key.clone().unwrap();
        assert_eq!((key.algorithm.as_str(), key.fingerprint.as_str()), ("ssh-ed25519", expected.as_str()));
        let web = port(&r, &ip, 18080);
        assert_eq!((web.name.as_deref(), web.product.as_deref()), (Some("http"), Some("SimpleHTTPServer")));
        assert_eq!(web.http.as_ref().unwrap().title.as_deref(), Some("Vantage lab"));
        assert_eq!(web.http.as_ref().unwrap().status, 200);
        let smtp = port(&r, &ip, 10025);
        assert_eq!(smtp.product.as_deref(), Some("Postfix smtpd"));
        assert_eq!(smtp.hostname.as_deref(), Some("mail.lab.test"));
        let pg = port(&r, "127.0.0.1", 5432);
        assert_eq!(pg.name.as_deref(), Some("postgresql"));
        // Bad input is bounded and recorded, never fatal.
        for p in [8443, 10097, 10098, 10099] {
            let s = port(&r, &ip, p);
            assert!(s.banner.as_ref().is_none_or(|b| b.len() < 600), "{p}: {:?}", s.banner);
        }
        let stalled = port(&r, &ip, 8443);
        assert!(stalled.tls.is_none(), "{stalled:?}");
        assert!(stalled.notes.iter().any(|n| n.contains("TLS handshake")), "{:?}", stalled.notes);
        assert!(port(&r, &ip, 10097).notes.iter().any(|n| n.contains("budget")), "{:?}", port(&r, &ip, 10097).notes);

        let weak_tls = port(&r, &ip, 18443);
        assert_eq!(weak_tls.tunnel.as_deref(), Some("ssl"));
        assert_eq!(weak_tls.name.as_deref(), Some("http"));
        let t = weak_tls.tls.as_ref().unwrap();
        assert_eq!((t.key_type.as_str(), t.key_bits), ("RSA", 1024));
        assert!(t.weak_key && t.weak_signature && t.self_signed && t.hostname_mismatch && !t.expired);
        assert_eq!(t.subject_alt_names, vec!["weak.lab.test"]);
        assert!(t.signature_algorithm.to_lowercase().contains("sha1"), "{}", t.signature_algorithm);
        assert!(t.legacy_protocols.contains(&"TLSv1.0".to_string()), "{:?}", t.legacy_protocols);
        let old_tls = port(&r, &ip, 18444).tls.clone().unwrap();
        assert!(old_tls.expired && old_tls.legacy_protocols.is_empty() && !old_tls.weak_key);
        assert_eq!(old_tls.not_after.unwrap().year(), 2021);
        assert_eq!(old_tls.protocol, "TLSv1.3");

        let lab_host = r.hosts.iter().find(|h| h.host.ip.to_string() == ip).unwrap();
        let findings: BTreeSet<String> = lab_host.findings.iter().map(|f| format!("{} {}", f.component, f.vuln_id)).collect();
        for want in [
            "tcp/18443/tls VANTAGE-TLS-WEAK-KEY",
            "tcp/18443/tls VANTAGE-TLS-WEAK-SIGNATURE",
            "tcp/18443/tls VANTAGE-TLS-LEGACY-PROTOCOL",
            "tcp/18443/tls VANTAGE-TLS-SELF-SIGNED",
            "tcp/18443/tls VANTAGE-TLS-HOSTNAME-MISMATCH",
            "tcp/18444/tls VANTAGE-TLS-EXPIRED",
            "tcp/2222 CVE-2023-38408",
        ] {
            assert!(findings.contains(want), "{want} not in {findings:?}");
        }
        assert!(!findings.contains("tcp/18444/tls VANTAGE-TLS-WEAK-KEY"));
        let check = app.vulnerability("VANTAGE-TLS-EXPIRED").await.unwrap();
        assert!(check.summary.unwrap().contains("past its end of validity"));

        // Stored: the asset by its address and certificates, in the scope, with its services.
        let asset = vantage_domain::AssetId(lab_host.asset_id);
        let stored = app.store.asset(asset).await.unwrap().unwrap();
        assert!(stored.identifiers.iter().any(|i| i.kind == vantage_domain::IdentifierKind::Ip && i.value == ip));
        assert_eq!(stored.identifiers.iter().filter(|i| i.kind == vantage_domain::IdentifierKind::TlsCertificate).count(), 2);
        assert!(stored.identifiers.iter().any(|i| i.kind == vantage_domain::IdentifierKind::SshHostKey && i.value == key.fingerprint));
        assert_eq!(stored.scopes.len(), 1);
        let services = app.store.services_of(asset, false).await.unwrap();
        assert_eq!(services.len(), 9);
        let s = services.iter().find(|s| s.port == 2222).unwrap();
        assert_eq!(s.product.as_deref(), Some("OpenSSH"));
        assert_eq!(s.cpe.as_deref(), Some("cpe:/a:openbsd:openssh:9.2p1"));
        let cve = app.store.list_findings(&vantage_domain::FindingFilter { asset: Some(asset), limit: 500, ..Default::default() }).await.unwrap();
        let agent = cve.items.iter().find(|f| f.vuln_id.as_str() == "CVE-2023-38408").unwrap();
        assert_eq!(agent.evidence.confidence, vantage_domain::Confidence::Low);
        assert_eq!(agent.evidence.service_id, Some(s.id));
        assert!(agent.priority.is_some(), "network findings are prioritized");

        // The same product names as the real nmap -sV, for every service nmap identifies.
        let xml = tempfile::NamedTempFile::new().unwrap();
        // (Not the garbage, huge and stalling ports: nmap spends minutes on those.)
        let out = Command::new("nmap")
            .args(["-sV", "-Pn", "-n", "-p", "2222,5432,10025,18080,18443,18444", "-oX"])
            .arg(xml.path())
            .args([ip.as_str(), "127.0.0.1"])
            .output()
            .expect("nmap (Debian package) is installed");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let nmap = vantage_scan::nmap_xml::parse(&std::fs::read_to_string(xml.path()).unwrap(), "nmap.xml").unwrap();
        let mut compared = 0;
        for h in &nmap.hosts {
            for p in &h.ports {
                let Some(product) = p.service.as_ref().and_then(|s| s.product.clone()) else { continue };
                let ours = port(&r, &h.ip.to_string(), p.port);
                assert_eq!(ours.product.as_deref(), Some(product.as_str()), "{}:{}", h.ip, p.port);
                compared += 1;
            }
        }
        assert!(compared >= 4, "nmap identified only {compared} products");
        // nmap's XML imported: the same hosts and open ports, stored the same way.
        let imported = app.import_nmap(xml.path(), Some("lab")).await.unwrap();
        let ports_of = |r: &NetworkScanReport| -> BTreeSet<String> {
            r.hosts.iter().flat_map(|h| h.host.ports.iter().map(move |p| format!("{}:{}", h.host.ip, p.port))).collect()
        };
        let identifiable = |r: &NetworkScanReport| -> BTreeSet<String> {
            ports_of(r).into_iter().filter(|p| ![":8443", ":10097", ":10098", ":10099"].iter().any(|x| p.ends_with(x))).collect()
        };
        assert_eq!(ports_of(&imported), identifiable(&r));
        let s = app.store.services_of(asset, false).await.unwrap();
        assert_eq!(s.iter().find(|s| s.port == 2222).unwrap().method.as_deref(), Some("probed"));
        assert_eq!(app.store.scan_runs(10).await.unwrap().len(), 2);

        // The web server goes away: its service is closed, not deleted; the others stay open.
        drop(http);
        let again = scan(&app, &request(&[&ip], LAB_PORTS, Some("lab"))).await;
        assert_eq!(again.services_closed, 1);
        let all = app.store.services_of(asset, true).await.unwrap();
        let web = all.iter().find(|s| s.port == 18080).unwrap();
        assert!(web.closed_at.is_some());
        assert_eq!(app.store.services_of(asset, false).await.unwrap().len(), 8);
    }

    async fn assets_missed_by_a_scopes_scans_are_decommissioned_and_return_when_seen(db) {
        let mut ns = Netns::new();
        ns.serve(2200, "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n");
        let app = App::from_parts(config(), db.store.clone());
        app.create_scope(
            &vantage_store::NewScope {
                rules: vec![vantage_domain::MembershipRule::IpRange(ns.ns_ip.clone())],
                decommission_after: 2,
                ..vantage_store::NewScope::named("far")
            },
            "test",
        )
        .await
        .unwrap();
        let req = request(&[&ns.ns_ip], "2200", Some("far"));
        let first = scan(&app, &req).await;
        assert_eq!(first.open_ports, 1);
        let asset = vantage_domain::AssetId(first.hosts[0].asset_id);
        ns.silence();
        let missed = scan(&app, &req).await;
        assert_eq!((missed.hosts_up, missed.assets_missed, missed.assets_decommissioned), (0, 1, 0));
        assert!(app.store.asset(asset).await.unwrap().unwrap().is_live());
        let gone = scan(&app, &req).await;
        assert_eq!((gone.assets_missed, gone.assets_decommissioned), (1, 1));
        let a = app.store.asset(asset).await.unwrap().unwrap();
        assert!(!a.is_live() && a.missed_scans == 2);
        ns.unsilence();
        let back = scan(&app, &req).await;
        assert_eq!(back.hosts[0].asset_id, asset.0);
        let a = app.store.asset(asset).await.unwrap().unwrap();
        assert!(a.is_live() && a.missed_scans == 0);
    }
}
