//! Mobilization end to end, on SQLite and PostgreSQL: tickets flow from findings to a Jira that
//! checks every call (vantage-test-utils' contract fakes) — once per remediation unit, updated
//! when the priority changes, closed with a comment when the re-scan verifies the fix, retried
//! on 429/500, dead-lettered on 401 with no secret in sight; alert rules fire to Slack within
//! their hourly limit (the rest as one digest); e-mail goes through a real SMTP server (aiosmtpd)
//! with STARTTLS and AUTH; and a remediation run upgrades a real package with real apt and dpkg
//! over a real sshd (in a test root, so this machine is untouched) and the re-scan marks the
//! findings fixed.

use std::path::Path;
use std::process::Command;

use serde_json::json;
use time::OffsetDateTime;
use vantage_app::alerting::NewAlertRule;
use vantage_app::patch::PlanTarget;
use vantage_app::tickets::{Grouping, NewIntegration};
use vantage_app::{App, Config};
use vantage_connectors::{Kind, Secrets};
use vantage_domain::{CredentialKind, Priority, Role};
use vantage_scan::remote::SshEndpoint;
use vantage_test_utils::itsm::{Fault, Flavor, Vendor};
use vantage_test_utils::lab::{SshLab, loopback_net};
use vantage_test_utils::{both_backends, python};
use zeroize::Zeroizing;

fn config(dir: &Path) -> Config {
    Config {
        data_dir: dir.to_path_buf(),
        ..Default::default()
    }
}

fn secrets(pairs: &[(&str, &str)]) -> Secrets {
    let mut s = Secrets::default();
    for (k, v) in pairs {
        s.0.insert(k.to_string(), Zeroizing::new(v.to_string()));
    }
    s
}

/// A Debian 12 host in `root` with `n` packages `demo-N` at `version`, and a DSA list in `feed`
/// where each package is fixed in 1.1-1 by `m` CVEs of its own.
fn estate(root: &Path, n: usize, version: &str) {
    std::fs::create_dir_all(root.join("etc")).unwrap();
    std::fs::create_dir_all(root.join("var/lib/dpkg")).unwrap();
    std::fs::write(root.join("etc/hostname"), "web-01\n").unwrap();
    std::fs::write(
        root.join("etc/os-release"),
        "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\nVERSION_CODENAME=bookworm\nID=debian\n",
    )
    .unwrap();
    let mut status = String::new();
    for i in 0..n {
        status.push_str(&format!(
            "Package: demo-{i}\nStatus: install ok installed\nArchitecture: amd64\nVersion: {version}\nDescription: test\n\n"
        ));
    }
    std::fs::write(root.join("var/lib/dpkg/status"), status).unwrap();
}

fn dsa(feed: &Path, n: usize, m: usize) -> std::path::PathBuf {
    let mut t = String::new();
    for i in 0..n {
        let cves: Vec<String> = (0..m)
            .map(|j| format!("CVE-2099-{}", 10000 + i * m + j))
            .collect();
        t.push_str(&format!(
            "[27 Nov 2026] DSA-{}-1 demo-{i} - security update\n\t{{{}}}\n\t[bookworm] - demo-{i} 1.1-1\n",
            9000 + i,
            cves.join(" ")
        ));
    }
    let p = feed.join("DSA-list");
    std::fs::write(&p, t).unwrap();
    p
}

fn kev(feed: &Path, cves: &[String], added: &str) -> std::path::PathBuf {
    let p = feed.join("known_exploited_vulnerabilities.json");
    std::fs::write(
        &p,
        json!({
            "title": "CISA Catalog of Known Exploited Vulnerabilities",
            "catalogVersion": "2026.11.28", "dateReleased": "2026-11-28T12:00:00.0000Z", "count": cves.len(),
            "vulnerabilities": cves.iter().map(|cve| json!({
                "cveID": cve, "vendorProject": "Demo", "product": "demo",
                "vulnerabilityName": "Demo remote code execution", "dateAdded": added,
                "shortDescription": "A test entry.", "requiredAction": "Apply updates.",
                "dueDate": "2026-12-19", "knownRansomwareCampaignUse": "Unknown", "notes": ""
            })).collect::<Vec<_>>()
        })
        .to_string(),
    )
    .unwrap();
    p
}

async fn drain(app: &App) -> vantage_app::tickets::DeliveryReport {
    let mut total = vantage_app::tickets::DeliveryReport::default();
    for _ in 0..20 {
        // Two hours ahead: backed-off retries are due (the backoff itself is real).
        let r = app
            .deliver(OffsetDateTime::now_utc() + time::Duration::hours(2))
            .await
            .unwrap();
        if r == Default::default() {
            break;
        }
        total += r;
    }
    total
}

both_backends! {
    async fn tickets_are_opened_once_updated_and_closed_when_the_fix_is_verified(db) {
        let dir = tempfile::tempdir().unwrap();
        let app = App::from_parts(config(dir.path()), db.store.clone());
        let (host, feed) = (dir.path().join("host"), dir.path().join("feed"));
        std::fs::create_dir_all(&feed).unwrap();
        estate(&host, 3, "1.0-1");
        app.import_feed(&dsa(&feed, 3, 2), &Default::default()).await.unwrap();
        let r = app.inventory_local(&host).await.unwrap();
        assert_eq!(r.inventory.findings, 6);

        let auth = "Bearer jira-pat-s3cret";
        let jira = Vendor::start(Flavor::Jira { version: 2, auth: auth.into() });
        app.add_integration(NewIntegration {
            name: "jira".into(),
            kind: Kind::Jira,
            settings: json!({"url": jira.url(), "project": "SEC", "api_version": 2}),
            secrets: secrets(&[("token", "jira-pat-s3cret")]),
            grouping: Grouping::Unit,
            scope: None,
            min_priority: Priority::P4,
            rate_per_minute: 6000,
        }, "admin").await.unwrap();
        // Nothing secret is listed.
        let listed = serde_json::to_string(&app.integrations().await.unwrap()).unwrap();
        assert!(!listed.contains("jira-pat-s3cret") && listed.contains("\"token\""), "{listed}");
        assert!(app.test_integration("jira").await.unwrap().contains("authenticated"));

        // One ticket per remediation unit (one package: two CVEs), through a 429 and a 500.
        let c = app.sync_tickets("jira", OffsetDateTime::now_utc()).await.unwrap();
        assert_eq!((c.created, c.updated, c.closed), (3, 0, 0));
        jira.inject([Fault::Status(429, Some(0), "slow down".into()), Fault::Status(500, None, "oops".into())]);
        let d = drain(&app).await;
        assert_eq!(d.delivered, 3, "{d:?}");
        assert!(d.retried >= 2, "{d:?}");
        jira.with(|s| {
            assert_eq!(s.tickets.len(), 3);
            let t = s.tickets.values().find(|t| t["summary"].as_str().unwrap().contains("demo-0")).unwrap();
            let text = t["description"].as_str().unwrap();
            assert!(text.contains("CVE-2099-10000") && text.contains("CVE-2099-10001"), "{text}");
            assert!(text.contains("apt-get install -y --only-upgrade demo-0"), "{text}");
        });
        // A re-run changes nothing and duplicates nothing.
        let again = app.sync_tickets("jira", OffsetDateTime::now_utc()).await.unwrap();
        assert_eq!((again.created, again.updated, again.closed), (0, 0, 0));
        assert_eq!(drain(&app).await.delivered, 0);

        // demo-0's CVE enters KEV: its priority rises, its ticket is updated and commented.
        app.import_feed(&kev(&feed, &["CVE-2099-10000".to_string()], &OffsetDateTime::now_utc().date().to_string()), &Default::default()).await.unwrap();
        app.prioritize().await.unwrap();
        let up = app.sync_tickets("jira", OffsetDateTime::now_utc()).await.unwrap();
        assert_eq!((up.created, up.updated), (0, 1), "{up:?}");
        drain(&app).await;
        jira.with(|s| assert!(s.comments.iter().any(|(_, c)| c.contains("Priority changed")), "{:?}", s.comments));

        // demo-0 is upgraded; the re-scan marks its findings fixed; the ticket is closed with the
        // verification, the two others stay open.
        let mut status = std::fs::read_to_string(host.join("var/lib/dpkg/status")).unwrap();
        status = status.replacen("Package: demo-0\nStatus: install ok installed\nArchitecture: amd64\nVersion: 1.0-1", "Package: demo-0\nStatus: install ok installed\nArchitecture: amd64\nVersion: 1.1-1", 1);
        std::fs::write(host.join("var/lib/dpkg/status"), status).unwrap();
        app.inventory_local(&host).await.unwrap();
        let done = app.sync_tickets("jira", OffsetDateTime::now_utc()).await.unwrap();
        assert_eq!(done.closed, 1);
        drain(&app).await;
        jira.with(|s| {
            let closed: Vec<_> = s.tickets.values().filter(|t| t["status"] == "Done").collect();
            assert_eq!(closed.len(), 1);
            assert!(closed[0]["summary"].as_str().unwrap().contains("demo-0"));
            assert!(s.comments.iter().any(|(_, c)| c.starts_with("Fixed: verified by Vantage")), "{:?}", s.comments);
        });
        jira.assert_clean();

        // A connector with a wrong token: the call is dead-lettered at once (401 will not heal),
        // the error is kept without the token, and the working connector is not held up.
        let bad = Vendor::start(Flavor::Jira { version: 3, auth: "Bearer right".into() });
        app.add_integration(NewIntegration {
            name: "jira-bad".into(),
            kind: Kind::Jira,
            settings: json!({"url": bad.url(), "project": "OPS"}),
            secrets: secrets(&[("token", "wrong-token-Q9")]),
            grouping: Grouping::Asset,
            scope: None,
            min_priority: Priority::P4,
            rate_per_minute: 600,
        }, "admin").await.unwrap();
        assert_eq!(app.sync_tickets("jira-bad", OffsetDateTime::now_utc()).await.unwrap().created, 1);
        let d = drain(&app).await;
        assert_eq!(d.dead, 1);
        let dead = app.deliveries("dead", 10).await.unwrap();
        assert_eq!(dead.len(), 1);
        let err = dead[0].last_error.clone().unwrap();
        assert!(err.contains("401") && !err.contains("wrong-token-Q9"), "{err}");
        assert_eq!(app.retry_dead(&[], "admin").await.unwrap(), 1);
        assert_eq!(app.deliveries("queued", 10).await.unwrap().len(), 1);
    }

    async fn a_pending_reboot_is_a_unit_of_the_plan(db) {
        let dir = tempfile::tempdir().unwrap();
        let app = App::from_parts(config(dir.path()), db.store.clone());
        let host = dir.path().join("host");
        estate(&host, 1, "1.0-1");
        let r = app.inventory_local(&host).await.unwrap();
        let plan = app.patch_plan(&PlanTarget::Asset(r.asset.clone()), None, OffsetDateTime::now_utc()).await.unwrap();
        assert!(plan.is_empty(), "{plan:?}");
        std::fs::create_dir_all(host.join("var/run")).unwrap();
        std::fs::write(host.join("var/run/reboot-required"), "*** System restart required ***\n").unwrap();
        app.inventory_local(&host).await.unwrap();
        let plan = app.patch_plan(&PlanTarget::Asset(r.asset.clone()), None, OffsetDateTime::now_utc()).await.unwrap();
        assert_eq!(plan.len(), 1, "{plan:?}");
        assert_eq!(plan[0].kind, vantage_app::patch::UnitKind::Reboot);
        assert!(plan[0].reason.contains("asks for one"), "{}", plan[0].reason);
        assert!(plan[0].commands[0].starts_with("shutdown -r"));
        // Rebooted: the flag is gone, so is the unit.
        std::fs::remove_file(host.join("var/run/reboot-required")).unwrap();
        app.inventory_local(&host).await.unwrap();
        assert!(app.patch_plan(&PlanTarget::Asset(r.asset), None, OffsetDateTime::now_utc()).await.unwrap().is_empty());
    }

    async fn alert_rules_fire_within_their_limits_and_digest_the_rest(db) {
        let dir = tempfile::tempdir().unwrap();
        let app = App::from_parts(config(dir.path()), db.store.clone());
        let (host, feed) = (dir.path().join("host"), dir.path().join("feed"));
        std::fs::create_dir_all(&feed).unwrap();
        let slack = Vendor::start(Flavor::Slack);
        let hook = Vendor::start(Flavor::Webhook { key: "whk".into() });
        app.add_integration(NewIntegration {
            name: "slack".into(), kind: Kind::Slack, settings: json!({}),
            secrets: secrets(&[("url", &slack.url())]), grouping: Grouping::Unit, scope: None,
            min_priority: Priority::P4, rate_per_minute: 600,
        }, "admin").await.unwrap();
        app.add_integration(NewIntegration {
            name: "hook".into(), kind: Kind::Webhook, settings: json!({"url": hook.url()}),
            secrets: secrets(&[("hmac_key", "whk")]), grouping: Grouping::Unit, scope: None,
            min_priority: Priority::P4, rate_per_minute: 600,
        }, "admin").await.unwrap();
        // A ticketing connector cannot take alerts; unknown kinds are refused.
        let e = app.add_alert_rule(NewAlertRule { name: "x".into(), scope: None, kinds: vec!["newp1".into()], integrations: vec!["slack".into()], digest_minutes: 0, max_per_hour: 0 }, "admin").await.unwrap_err();
        assert!(e.to_string().contains("unknown alert kind `newp1`"), "{e}");
        app.add_alert_rule(NewAlertRule {
            name: "kev-to-slack".into(), scope: None, kinds: vec!["kev_new".into(), "new_p1".into()],
            integrations: vec!["slack".into(), "hook".into()], digest_minutes: 0, max_per_hour: 2,
        }, "admin").await.unwrap();

        // The first evaluation sets the starting point: an existing estate does not flood.
        assert_eq!(app.evaluate_alerts(OffsetDateTime::now_utc()).await.unwrap(), Default::default());
        estate(&host, 5, "1.0-1");
        app.import_feed(&dsa(&feed, 5, 1), &Default::default()).await.unwrap();
        app.inventory_local(&host).await.unwrap();
        // Five findings whose CVEs all enter KEV today.
        let cves: Vec<String> = (0..5).map(|i| format!("CVE-2099-{}", 10000 + i)).collect();
        app.import_feed(&kev(&feed, &cves, &OffsetDateTime::now_utc().date().to_string()), &Default::default()).await.unwrap();
        app.prioritize().await.unwrap();
        let later = OffsetDateTime::now_utc() + time::Duration::seconds(1);
        let e = app.evaluate_alerts(later).await.unwrap();
        assert_eq!(e.kev_new, 5, "{e:?}");
        let raised = e.kev_new + e.new_p1;
        // Raised once: a second evaluation raises nothing new.
        let again = app.evaluate_alerts(later + time::Duration::seconds(1)).await.unwrap();
        assert_eq!(again.kev_new, 0);
        // Two messages an hour at most: one alert, then one digest of the rest.
        let now = OffsetDateTime::now_utc();
        assert_eq!(app.dispatch_alerts(now).await.unwrap(), 2);
        assert_eq!(app.dispatch_alerts(now).await.unwrap(), 0, "nothing left, nothing resent");
        drain(&app).await;
        slack.with(|s| {
            assert_eq!(s.messages.len() as u64, raised.min(2));
            if raised > 2 {
                let digest = s.messages[1]["text"].as_str().unwrap();
                assert!(digest.contains(&format!("{} alerts", raised - 1)), "{digest}");
            }
        });
        hook.with(|s| assert_eq!(s.messages.len() as u64, raised.min(2)));
        slack.assert_clean();
        hook.assert_clean();

        // A year later every finding is past its SLA (P2 30 days, P4 180): one breach alert
        // each, once; a Debian 10 host (end of life 2024-06-30) raises an end-of-life alert.
        let old = dir.path().join("old");
        estate(&old, 1, "1.0-1");
        std::fs::write(old.join("etc/hostname"), "legacy-01\n").unwrap();
        std::fs::write(old.join("etc/os-release"), "NAME=\"Debian GNU/Linux\"\nVERSION_ID=\"10\"\nVERSION_CODENAME=buster\nID=debian\n").unwrap();
        app.inventory_local(&old).await.unwrap();
        let year = later + time::Duration::days(365);
        let e = app.evaluate_alerts(year).await.unwrap();
        assert_eq!(e.sla_breached, 5, "{e:?}");
        assert_eq!(e.eol_os, 1, "{e:?}");
        let again = app.evaluate_alerts(year + time::Duration::seconds(1)).await.unwrap();
        assert_eq!((again.sla_breached, again.eol_os), (0, 0), "raised once");
        let alerts = db.store.alerts(100).await.unwrap();
        let eol = alerts.iter().find(|a| a.kind == "eol_os").unwrap();
        assert!(eol.message.contains("legacy-01") && eol.message.contains("end of life since 2024-06-30"), "{}", eol.message);
    }

    async fn a_remediation_run_upgrades_a_real_package_and_the_rescan_marks_it_fixed(db) {
        let dir = tempfile::tempdir().unwrap();
        let app = App::from_parts(config(dir.path()), db.store.clone());
        let root = dir.path().join("root");
        let env = apt_test_root(dir.path(), &root);
        let feed = dir.path().join("DSA-list");
        std::fs::write(&feed, "[27 Nov 2026] DSA-9998-1 vantage-demo - security update\n\t{CVE-2099-20001 CVE-2099-20002}\n\t[bookworm] - vantage-demo 1.2-1\n").unwrap();
        app.import_feed(&feed, &Default::default()).await.unwrap();

        // A real sshd whose sessions see the test root as dpkg's and apt's (SetEnv).
        let net = loopback_net();
        let lab = SshLab::start_with(&format!("{net}1"), 2222, &format!("SetEnv {env}\n"));
        let pem = std::fs::read(lab.key("client")).unwrap();
        app.add_credential("lab-root", CredentialKind::SshKey, "root", &pem, "admin").await.unwrap();
        app.create_scope(&vantage_store::NewScope::named("lab"), "admin").await.unwrap();
        let endpoint = SshEndpoint::parse(&lab.target("root")).unwrap();
        let target = app.add_ssh_target("lab", &endpoint, "lab-root", None, "no", "admin").await.unwrap();
        let inv = app.inventory_ssh(app.ssh_request_for(&target).await.unwrap(), "admin").await.unwrap();
        assert_eq!(inv.packages.len(), 1, "{:?}", inv.packages);
        assert_eq!(inv.inventory.findings, 2);
        let asset = inv.asset.clone();

        let plan = app.patch_plan(&PlanTarget::Asset(asset.clone()), None, OffsetDateTime::now_utc()).await.unwrap();
        assert_eq!(plan.len(), 1);
        assert_eq!(plan[0].target_version.as_deref(), Some("1.2-1"));

        // Dry run first: apt's simulation lists the upgrade.
        let run = app.plan_remediation(&asset, &[], "analyst").await.unwrap();
        assert_eq!(run.status, "ready", "{}", run.dry_run);
        assert!(run.dry_run.contains("Inst vantage-demo [1.0-1] (1.2-1"), "{}", run.dry_run);
        assert_eq!(dpkg_version(&env), "1.0-1", "a dry run changes nothing");
        // Approval needs an admin; execution an admin or operator, and only once approved.
        assert!(app.approve_remediation(run.id, "ana", Role::Analyst).await.is_err());
        assert!(app.execute_remediation(run.id, "op", Role::Operator, OffsetDateTime::now_utc()).await.is_err());
        app.approve_remediation(run.id, "alice", Role::Admin).await.unwrap();
        // A maintenance window that is not now refuses; without it, it runs.
        let now = OffsetDateTime::now_utc();
        let h = (now.hour() + 12) % 24;
        app.set_maintenance_window("lab", Some(&format!("daily {h:02}:00-{:02}:00", (h + 1) % 24)), "admin").await.unwrap();
        let e = app.execute_remediation(run.id, "op", Role::Operator, now).await.unwrap_err();
        assert!(e.to_string().contains("maintenance window"), "{e}");
        app.set_maintenance_window("lab", None, "admin").await.unwrap();
        let done = app.execute_remediation(run.id, "op", Role::Operator, OffsetDateTime::now_utc()).await.unwrap();
        assert_eq!(done.status, "succeeded", "{:#?}", done);
        assert_eq!(dpkg_version(&env), "1.2-1", "the package was really upgraded");
        assert!(done.log.iter().all(|l| l.status == Some(0)));
        assert_eq!(done.result.as_ref().unwrap()["fixed"].as_array().unwrap().len(), 2);
        let open = vantage_test_utils::open_vuln_ids(&db.store, inv.inventory.asset_id).await;
        assert!(open.is_empty(), "{open:?}");
        // Executed once: a second execution is refused.
        assert!(app.execute_remediation(run.id, "op", Role::Operator, OffsetDateTime::now_utc()).await.is_err());
    }
}

/// Builds vantage-demo 1.0-1 and 1.2-1 with dpkg-deb, a local apt repository with them, and a
/// test root where 1.0-1 is installed by dpkg; returns the environment (`DPKG_ROOT=…
/// DPKG_ADMINDIR=… APT_CONFIG=…`) that points dpkg and apt at it.
fn apt_test_root(dir: &Path, root: &Path) -> String {
    let repo = dir.join("repo");
    std::fs::create_dir_all(&repo).unwrap();
    for v in ["1.0-1", "1.2-1"] {
        let d = dir.join(format!("pkg-{v}"));
        std::fs::create_dir_all(d.join("DEBIAN")).unwrap();
        std::fs::create_dir_all(d.join("usr/share/vantage-demo")).unwrap();
        std::fs::write(d.join("DEBIAN/control"), format!("Package: vantage-demo\nVersion: {v}\nArchitecture: all\nMaintainer: Vantage tests <tests@localhost>\nDescription: remediation test package\n")).unwrap();
        std::fs::write(d.join("usr/share/vantage-demo/version"), v).unwrap();
        run(Command::new("dpkg-deb")
            .args(["-Zgzip", "--build"])
            .arg(&d)
            .arg(repo.join(format!("vantage-demo_{v}_all.deb"))));
    }
    let packages = Command::new("dpkg-scanpackages")
        .args(["-m", "."])
        .current_dir(&repo)
        .output()
        .unwrap();
    assert!(packages.status.success());
    std::fs::write(repo.join("Packages"), packages.stdout).unwrap();
    for d in [
        "var/lib/dpkg/updates",
        "var/lib/dpkg/info",
        "var/lib/dpkg/triggers",
        "var/lib/apt/lists/partial",
        "var/cache/apt/archives/partial",
        "etc/apt/apt.conf.d",
        "etc/apt/preferences.d",
        "etc/apt/sources.list.d",
        "var/log/apt",
    ] {
        std::fs::create_dir_all(root.join(d)).unwrap();
    }
    std::fs::write(root.join("var/lib/dpkg/status"), "").unwrap();
    std::fs::write(root.join("var/lib/dpkg/available"), "").unwrap();
    let r = root.display();
    std::fs::write(root.join("etc/apt/apt.conf"), format!(
        "Dir \"{r}/\";\nDir::State::status \"{r}/var/lib/dpkg/status\";\nDir::Etc::SourceList \"{r}/etc/apt/sources.list\";\n\
         Dir::Etc::SourceParts \"{r}/etc/apt/sources.list.d\";\nDir::Etc::main \"{r}/etc/apt/apt.conf\";\nDir::Etc::Parts \"{r}/etc/apt/apt.conf.d\";\n\
         DPkg::Options {{ \"--root={r}\"; \"--admindir={r}/var/lib/dpkg\"; \"--force-script-chrootless\"; }};\nAPT::Sandbox::User \"root\";\n"
    )).unwrap();
    std::fs::write(
        root.join("etc/apt/sources.list"),
        format!("deb [trusted=yes] file:{} ./\n", repo.display()),
    )
    .unwrap();
    let env =
        format!("DPKG_ROOT={r} DPKG_ADMINDIR={r}/var/lib/dpkg APT_CONFIG={r}/etc/apt/apt.conf");
    let with_env = |c: &mut Command| {
        for kv in env.split(' ') {
            let (k, v) = kv.split_once('=').unwrap();
            c.env(k, v);
        }
    };
    let mut c = Command::new("dpkg");
    c.arg("-i").arg(repo.join("vantage-demo_1.0-1_all.deb"));
    with_env(&mut c);
    run(&mut c);
    let mut c = Command::new("apt-get");
    c.args(["update", "-qq"]);
    with_env(&mut c);
    run(&mut c);
    env
}

fn dpkg_version(env: &str) -> String {
    let mut c = Command::new("dpkg-query");
    c.args(["-W", "-f", "${Version}", "vantage-demo"]);
    for kv in env.split(' ') {
        let (k, v) = kv.split_once('=').unwrap();
        c.env(k, v);
    }
    String::from_utf8(c.output().unwrap().stdout).unwrap()
}

fn run(c: &mut Command) {
    let o = c.output().unwrap();
    assert!(
        o.status.success(),
        "{c:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// A CA and a certificate for 127.0.0.1 signed by it (PEM), made with rcgen.
fn ca_and_leaf(dir: &Path) -> (std::path::PathBuf, std::path::PathBuf, std::path::PathBuf) {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(rcgen::DnType::CommonName, "Vantage test CA");
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let issuer = rcgen::Issuer::new(ca, ca_key);
    let key = rcgen::KeyPair::generate().unwrap();
    let leaf = rcgen::CertificateParams::new(vec!["127.0.0.1".to_string()]).unwrap();
    let cert = leaf.signed_by(&key, &issuer).unwrap();
    let (ca_path, cert_path, key_path) = (
        dir.join("ca.pem"),
        dir.join("smtp.pem"),
        dir.join("smtp.key"),
    );
    std::fs::write(&ca_path, ca_cert.pem()).unwrap();
    std::fs::write(&cert_path, cert.pem()).unwrap();
    std::fs::write(&key_path, key.serialize_pem()).unwrap();
    (ca_path, cert_path, key_path)
}

#[tokio::test]
async fn email_goes_through_a_real_smtp_server_with_starttls_and_auth() {
    use std::io::BufRead;
    let dir = tempfile::tempdir().unwrap();
    let (ca, cert, key) = ca_and_leaf(dir.path());
    let out = dir.path().join("mail");
    std::fs::create_dir_all(&out).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/smtp_server.py");
    let mut child = Command::new(python())
        .arg(&script)
        .args([&cert, &key, &out])
        .args(["vantage", "smtp-pass-s3cret"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python with aiosmtpd (VANTAGE_PYTHON)");
    struct Kill(std::process::Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            self.0.kill().ok();
            self.0.wait().ok();
        }
    }
    let stdout = child.stdout.take().unwrap();
    let _guard = Kill(child);
    let mut line = String::new();
    std::io::BufReader::new(stdout)
        .read_line(&mut line)
        .unwrap();
    let port: u16 = line
        .trim()
        .strip_prefix("ready ")
        .expect("smtp server ready")
        .parse()
        .unwrap();
    let make = |password: &str| {
        vantage_connectors::Connector::new(
            Kind::Email,
            &json!({"host": "127.0.0.1", "port": port, "user": "vantage", "from": "Vantage <vantage@example.com>", "to": ["secops@example.com", "oncall@example.com"], "ca_file": ca.to_str().unwrap()}),
            &secrets(&[("password", password)]),
            std::time::Duration::from_secs(10),
        )
        .unwrap()
    };
    let c = make("smtp-pass-s3cret");
    let limit = std::time::Duration::from_secs(30);
    assert!(tokio::time::timeout(limit, c.test()).await.unwrap().is_ok());
    let notice = vantage_connectors::Notice {
        event: "alert.kev_new".into(),
        title: "Newly in CISA KEV: CVE-2024-3094".into(),
        lines: vec!["xz-utils on web-01: upgrade to 5.6.1+really5.4.5-1.".into()],
        severity: "critical".into(),
        facts: vec![("Asset".into(), "web-01".into())],
    };
    tokio::time::timeout(limit, c.notify(&notice))
        .await
        .unwrap()
        .unwrap();
    let mail = std::fs::read_to_string(out.join("1.eml")).unwrap();
    assert!(
        mail.contains("Subject: [Vantage] Newly in CISA KEV: CVE-2024-3094"),
        "{mail}"
    );
    assert!(mail.contains("xz-utils on web-01"), "{mail}");
    let env: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("1.json")).unwrap()).unwrap();
    assert_eq!(env["tls"], true, "delivered over STARTTLS");
    assert_eq!(env["auth"], true);
    assert_eq!(
        env["to"],
        json!(["secops@example.com", "oncall@example.com"])
    );
    // A wrong password is refused for good, and not echoed.
    let e = tokio::time::timeout(limit, make("nope-pass").notify(&notice))
        .await
        .unwrap()
        .unwrap_err();
    assert!(
        !e.is_retryable() && !e.to_string().contains("nope-pass"),
        "{e}"
    );
    // A relay whose certificate is not trusted is refused (no CA given: system roots only).
    let untrusted = vantage_connectors::Connector::new(
        Kind::Email,
        &json!({"host": "127.0.0.1", "port": port, "from": "vantage@example.com", "to": ["secops@example.com"]}),
        &Secrets::default(),
        std::time::Duration::from_secs(10),
    )
    .unwrap();
    assert!(
        tokio::time::timeout(limit, untrusted.notify(&notice))
            .await
            .unwrap()
            .is_err()
    );
}
