//! `inventory ssh` against the real OpenSSH server (Debian's openssh-server) started by each test
//! on its own loopback address, on SQLite and PostgreSQL: the packages equal `dpkg-query -W` on
//! this machine and the findings equal `inventory local`'s; key, RSA key and password logins, a
//! jump host, sudo; and the failures a real estate produces — a wrong key, a wrong password, a
//! changed host key (refused, alerted, nothing stored), a command that never ends, a server
//! that floods its output.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use vantage_app::hosts::SshRequest;
use vantage_app::{App, AppError, Config};
use vantage_domain::CredentialKind;
use vantage_scan::ScanError;
use vantage_scan::remote::{SshAuth, SshEndpoint, SshError, Sudo};
use vantage_test_utils::lab::{SSH_TEST_PASSWORD, SSH_TEST_USER, SshLab, loopback_net};
use vantage_test_utils::{both_backends, test_data};
use zeroize::Zeroizing;

fn key(lab: &SshLab, name: &str) -> SshAuth {
    SshAuth::Key {
        pem: Zeroizing::new(std::fs::read_to_string(lab.key(name)).unwrap()),
        passphrase: None,
    }
}

fn request(lab: &SshLab, user: &str, auth: SshAuth) -> SshRequest {
    SshRequest::new(SshEndpoint::parse(&lab.target(user)).unwrap(), auth)
}

fn dpkg_installed() -> BTreeSet<String> {
    let out = std::process::Command::new("dpkg-query")
        .args([
            "-W",
            "-f",
            "${db:Status-Abbrev}\t${Package}:${Architecture}\t${Version}\n",
        ])
        .output()
        .expect("dpkg-query");
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter(|l| l.starts_with("ii"))
        .map(|l| l.split('\t').skip(1).collect::<Vec<_>>().join(" "))
        .collect()
}

fn fingerprint(pub_file: &Path) -> String {
    let out = std::process::Command::new("ssh-keygen")
        .arg("-lf")
        .arg(pub_file)
        .output()
        .unwrap();
    String::from_utf8(out.stdout)
        .unwrap()
        .split_whitespace()
        .nth(1)
        .unwrap()
        .to_string()
}

fn ssh_error(e: AppError) -> SshError {
    match e {
        AppError::Scan(ScanError::Ssh(e)) => e,
        other => panic!("expected an SSH error, got {other}"),
    }
}

both_backends! {
    async fn an_ssh_inventory_lists_what_dpkg_lists_and_finds_what_local_finds(db) {
        let app = App::from_parts(Config::default(), db.store.clone());
        app.import_feed(&test_data("distro/debian-security-tracker/DSA-list.gz"), &Default::default()).await.unwrap();
        // This machine is patched; an advisory of our own makes sure there is something to find:
        // bash (installed everywhere) fixed in a version no one has yet.
        let feed = tempfile::tempdir().unwrap();
        let dsa = feed.path().join("DSA-list");
        std::fs::write(&dsa, "[27 Nov 2026] DSA-9999-1 bash - security update\n\t{CVE-2099-0001}\n\t[bookworm] - bash 99.0-1\n").unwrap();
        app.import_feed(&dsa, &Default::default()).await.unwrap();
        let net = loopback_net();
        let lab = SshLab::start(&format!("{net}1"), 2222);

        let r = app.inventory_ssh(request(&lab, "root", key(&lab, "client")), "test").await.unwrap();
        let got: BTreeSet<String> = r.packages.iter()
            .map(|p| format!("{}:{} {}", p.name, p.arch.clone().unwrap_or_default(), p.version))
            .collect();
        assert_eq!(got, dpkg_installed());
        assert_eq!((r.collector, r.package_source), ("ssh", "dpkg-query"));
        assert_eq!(r.inventory.os.as_deref(), Some("debian:12"));
        let running = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap();
        assert_eq!(r.kernel.as_deref(), Some(running.trim()));
        assert!(r.listening.iter().any(|l| l.port == 2222 && l.address == lab.addr.ip()), "{:?}", r.listening);
        assert!(r.uptime_secs.is_some());
        // The host key as ssh-keygen prints it, pinned on first contact.
        let fp = fingerprint(&lab.host_key().with_extension("pub"));
        assert_eq!(r.host_key.as_ref().unwrap().fingerprint, fp);
        assert_eq!(db.store.pinned_host_key(&lab.addr.ip().to_string(), 2222).await.unwrap().unwrap().fingerprint, fp);

        // The same machine read from / gives the same packages and findings (and the same asset:
        // the host name).
        let local = app.inventory_local(Path::new("/")).await.unwrap();
        assert_eq!(local.inventory.asset_id, r.inventory.asset_id);
        assert_eq!(local.packages.len(), r.packages.len());
        assert_eq!(local.inventory.findings, r.inventory.findings);
        assert!(r.inventory.findings > 0);
        let cves: Vec<String> = r.inventory.urgent.iter().map(|f| f.vuln_id.to_string()).collect();
        let all = db.store.list_findings(&vantage_domain::FindingFilter {
            asset: Some(vantage_domain::AssetId(r.inventory.asset_id)),
            limit: 1000,
            ..Default::default()
        }).await.unwrap();
        assert!(all.items.iter().any(|f| f.vuln_id.as_str() == "CVE-2099-0001" && f.evidence.component.starts_with("bash")), "{cves:?}");

        // An RSA key (rsa-sha2 signatures) and a password: the same host.
        let rsa = app.inventory_ssh(request(&lab, "root", key(&lab, "client_rsa")), "test").await.unwrap();
        assert_eq!((rsa.inventory.asset_id, rsa.inventory.fixed), (r.inventory.asset_id, 0));
        let pw = app.inventory_ssh(
            request(&lab, SSH_TEST_USER, SshAuth::Password(Zeroizing::new(SSH_TEST_PASSWORD.into()))),
            "test",
        ).await.unwrap();
        assert_eq!(pw.packages.len(), r.packages.len());
    }
}

both_backends! {
    async fn a_changed_host_key_is_refused_alerted_and_stores_nothing(db) {
        let app = App::from_parts(Config::default(), db.store.clone());
        let net = loopback_net();
        let lab = SshLab::start(&format!("{net}1"), 2222);
        let ip = lab.addr.ip().to_string();
        // The key pinned earlier belonged to another machine.
        let old = "SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU";
        db.store.pin_host_key(&ip, 2222, "ssh-ed25519", old, time::OffsetDateTime::now_utc()).await.unwrap();
        let assets_before = db.store.count_live_assets().await.unwrap();
        let e = ssh_error(app.inventory_ssh(request(&lab, "root", key(&lab, "client")), "test").await.unwrap_err());
        let fp = fingerprint(&lab.host_key().with_extension("pub"));
        match &e {
            SshError::HostKeyChanged { expected, presented, .. } => {
                assert_eq!((expected.as_str(), presented.as_str()), (old, fp.as_str()));
            }
            other => panic!("{other}"),
        }
        assert!(e.to_string().contains("HOST KEY CHANGED"), "{e}");
        assert_eq!(db.store.count_live_assets().await.unwrap(), assets_before);
        let alerts = db.store.alerts(10).await.unwrap();
        assert_eq!(alerts.len(), 1);
        assert_eq!((alerts[0].kind.as_str(), alerts[0].severity.as_str()), ("ssh_host_key_changed", "high"));
        assert!(alerts[0].message.contains(&fp) && alerts[0].message.contains(old), "{}", alerts[0].message);
        // The pin is kept until someone forgets it; then the new key is pinned.
        assert_eq!(db.store.pinned_host_key(&ip, 2222).await.unwrap().unwrap().fingerprint, old);
        let endpoint = SshEndpoint::parse(&lab.target("root")).unwrap();
        app.forget_host_key(&endpoint, "test").await.unwrap();
        app.collect_ssh_only(request(&lab, "root", key(&lab, "client")), "test").await.unwrap();
        assert_eq!(db.store.pinned_host_key(&ip, 2222).await.unwrap().unwrap().fingerprint, fp);
    }
}

both_backends! {
    async fn scope_targets_log_in_with_vault_credentials_through_a_jump_host(db) {
        let dir = tempfile::tempdir().unwrap();
        let config = Config { data_dir: dir.path().to_path_buf(), ..Default::default() };
        let app = Arc::new(App::from_parts(config, db.store.clone()));
        let net = loopback_net();
        let bastion = SshLab::start(&format!("{net}1"), 2222);
        let inner = SshLab::start(&format!("{net}2"), 2200);
        let pem = std::fs::read(inner.key("client")).unwrap();
        app.add_credential("inner-root", CredentialKind::SshKey, "root", &pem, "test").await.unwrap();
        let pem = std::fs::read(bastion.key("client")).unwrap();
        app.add_credential("bastion-root", CredentialKind::SshKey, "root", &pem, "test").await.unwrap();
        app.add_credential("lab-user", CredentialKind::Password, SSH_TEST_USER, SSH_TEST_PASSWORD.as_bytes(), "test").await.unwrap();
        app.create_scope(&vantage_store::NewScope::named("lab"), "test").await.unwrap();
        let inner_ep = SshEndpoint::parse(&inner.target("root")).unwrap();
        let bastion_ep = SshEndpoint::parse(&bastion.target("root")).unwrap();
        app.add_ssh_target("lab", &inner_ep, "inner-root", Some((&bastion_ep, "bastion-root")), "nopasswd", "test").await.unwrap();
        let user_ep = SshEndpoint::parse(&bastion.target(SSH_TEST_USER)).unwrap();
        app.add_ssh_target("lab", &user_ep, "lab-user", None, "password", "test").await.unwrap();
        // Unknown credentials and a second identical target are refused.
        assert!(app.add_ssh_target("lab", &inner_ep, "nope", None, "no", "test").await.is_err());
        assert!(app.add_ssh_target("lab", &inner_ep, "inner-root", None, "no", "test").await.is_err());

        let results = app.inventory_scope_ssh("lab", 4, "test").await.unwrap();
        assert_eq!(results.len(), 2);
        for (target, r) in &results {
            let r = r.as_ref().unwrap_or_else(|e| panic!("{target}: {e}"));
            assert!(!r.packages.is_empty());
            // sudo ss -p sees the sshd processes (the lab ports are listed either way).
            assert!(r.listening.iter().any(|l| l.port == 2200 || l.port == 2222));
        }
        // Both hops' keys are pinned.
        for lab in [&bastion, &inner] {
            let fp = fingerprint(&lab.host_key().with_extension("pub"));
            let pinned = db.store.pinned_host_key(&lab.addr.ip().to_string(), lab.addr.port()).await.unwrap().unwrap();
            assert_eq!(pinned.fingerprint, fp);
        }
    }
}

#[tokio::test]
async fn bad_credentials_slow_commands_and_floods_fail_clearly_and_quickly() {
    let db = vantage_test_utils::TestDb::sqlite().await;
    let app = App::from_parts(Config::default(), db.store.clone());
    let net = loopback_net();
    let lab = SshLab::start(&format!("{net}1"), 2222);

    // A key the server does not know.
    let e = ssh_error(
        app.inventory_ssh(request(&lab, "root", key(&lab, "wrong")), "test")
            .await
            .unwrap_err(),
    );
    assert!(matches!(e, SshError::Auth(..)), "{e}");
    assert!(
        e.to_string()
            .contains("authentication refused for user `root`"),
        "{e}"
    );
    // A wrong password.
    let bad = SshAuth::Password(Zeroizing::new("not-the-password".into()));
    let e = ssh_error(
        app.inventory_ssh(request(&lab, SSH_TEST_USER, bad), "test")
            .await
            .unwrap_err(),
    );
    assert!(matches!(e, SshError::Auth(..)), "{e}");
    // Not a key at all.
    let junk = SshAuth::Key {
        pem: Zeroizing::new("not a key".into()),
        passphrase: None,
    };
    let e = ssh_error(
        app.inventory_ssh(request(&lab, "root", junk), "test")
            .await
            .unwrap_err(),
    );
    assert!(matches!(e, SshError::Key(_)), "{e}");

    // A command that never ends: stopped at the time limit.
    let mut slow = request(&lab, "root", key(&lab, "slow"));
    slow.command_timeout = Duration::from_secs(2);
    let t = std::time::Instant::now();
    let e = ssh_error(app.inventory_ssh(slow, "test").await.unwrap_err());
    assert!(matches!(e, SshError::Timeout(..)), "{e}");
    assert!(t.elapsed() < Duration::from_secs(10), "{:?}", t.elapsed());

    // A server that floods: reading stops at the cap.
    let mut flood = request(&lab, "root", key(&lab, "hostile"));
    flood.max_output = 1024 * 1024;
    let e = ssh_error(app.inventory_ssh(flood, "test").await.unwrap_err());
    assert!(matches!(e, SshError::OutputTooLarge(..)), "{e}");
    assert!(e.to_string().contains("more than 1048576 bytes"), "{e}");

    // sudo without a password where the account needs one: said plainly.
    let mut sudo = request(
        &lab,
        SSH_TEST_USER,
        SshAuth::Password(Zeroizing::new(SSH_TEST_PASSWORD.into())),
    );
    sudo.sudo = Sudo::NoPassword;
    let e = ssh_error(app.inventory_ssh(sudo, "test").await.unwrap_err());
    assert!(e.to_string().contains("sudo refused"), "{e}");

    // Nothing listens: a connection error naming the target, quickly.
    let mut closed = request(&lab, "root", key(&lab, "client"));
    closed.endpoint.port = 1;
    let e = ssh_error(app.inventory_ssh(closed, "test").await.unwrap_err());
    assert!(
        matches!(e, SshError::Connect(..)) && e.to_string().contains(":1"),
        "{e}"
    );
    // No asset was made by any of these.
    assert_eq!(db.store.count_live_assets().await.unwrap(), 0);
}

#[tokio::test]
async fn a_host_with_only_sha1_key_exchange_needs_the_legacy_switch() {
    let db = vantage_test_utils::TestDb::sqlite().await;
    let app = App::from_parts(Config::default(), db.store.clone());
    let net = loopback_net();
    // What a CentOS 6-era server offers: SHA-1 key exchange and MACs only.
    let lab = SshLab::start_with(
        &format!("{net}1"),
        2222,
        "KexAlgorithms diffie-hellman-group14-sha1,diffie-hellman-group-exchange-sha1\nMACs hmac-sha1\nCiphers aes128-ctr,aes256-ctr\n",
    );
    let e = ssh_error(
        app.collect_ssh_only(request(&lab, "root", key(&lab, "client")), "test")
            .await
            .unwrap_err(),
    );
    assert!(matches!(e, SshError::Connect(..)), "{e}");
    let mut legacy = request(&lab, "root", key(&lab, "client"));
    legacy.legacy_algorithms = true;
    let c = app.collect_ssh_only(legacy, "test").await.unwrap();
    assert!(c.package_count > 0);
}
