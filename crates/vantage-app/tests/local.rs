//! `inventory local` on this machine, on SQLite and PostgreSQL: exactly the packages
//! `dpkg-query` lists as installed, the same findings as importing the same status file, and
//! the host facts (kernel, listening sockets) read from /proc.

use std::collections::BTreeSet;
use std::path::Path;

use vantage_app::{App, Config};
use vantage_test_utils::{both_backends, open_vuln_ids, test_data, vuls_inventory};

both_backends! {
    async fn the_local_machine_is_inventoried_like_its_status_file(db) {
        let app = App::from_parts(Config::default(), db.store.clone());
        app.import_feed(&test_data("distro/debian-security-tracker/DSA-list.gz"), &Default::default()).await.unwrap();
        let r = app.inventory_local(Path::new("/")).await.unwrap();
        // Exactly what dpkg says is installed.
        let out = std::process::Command::new("dpkg-query")
            .args(["-W", "-f", "${db:Status-Abbrev}\t${Package}:${Architecture}\t${Version}\n"])
            .output()
            .expect("dpkg-query");
        let want: BTreeSet<String> = String::from_utf8(out.stdout).unwrap().lines()
            .filter(|l| l.starts_with("ii"))
            .map(|l| l.split('\t').skip(1).collect::<Vec<_>>().join(" "))
            .collect();
        let got: BTreeSet<String> = r.packages.iter()
            .map(|p| format!("{}:{} {}", p.name, p.arch.clone().unwrap_or_default(), p.version))
            .collect();
        assert_eq!(got, want);
        assert_eq!(r.package_source, "dpkg-status");
        assert_eq!(r.inventory.os.as_deref(), Some("debian:12"));
        // Host facts from /proc.
        let running = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap();
        assert_eq!(r.kernel.as_deref(), Some(running.trim()));
        assert!(r.listening.iter().any(|l| l.protocol == "tcp" && l.port == 5432), "{:?}", r.listening);
        // The same findings as importing the status file by hand.
        let by_hand = app.import_inventory("by-hand", None, Path::new("/var/lib/dpkg/status")).await;
        let by_hand = match by_hand {
            Ok(r) => r,
            // A status file alone does not say its release: tell it, as a user would.
            Err(_) => app.import_inventory("by-hand", Some("debian:12"), Path::new("/var/lib/dpkg/status")).await.unwrap(),
        };
        assert_eq!(open_vuln_ids(&app.store, r.inventory.asset_id).await, open_vuln_ids(&app.store, by_hand.asset_id).await);
        assert_eq!(r.inventory.findings, by_hand.findings);
        // Run again: the same asset, nothing new.
        let again = app.inventory_local(Path::new("/")).await.unwrap();
        assert_eq!(again.inventory.asset_id, r.inventory.asset_id);
        assert_eq!(again.inventory.fixed, 0);
    }
}

both_backends! {
    async fn a_mounted_alpine_root_gets_the_findings_its_installed_database_gets(db) {
        let app = App::from_parts(Config::default(), db.store.clone());
        app.import_feed(&test_data("distro/alpine-secdb/v3.19-main.json.gz"), &Default::default()).await.unwrap();
        // An Alpine 3.19 file system: os-release and the installed database of vuls' real host.
        let root = tempfile::tempdir().unwrap();
        let put = |rel: &str, text: &str| {
            let p = root.path().join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        };
        let mut installed = String::new();
        for p in vuls_inventory("packages/vuls-integration/alpine_319.packages.json.gz") {
            installed.push_str(&format!("C:Q1AAAAAAAAAAAAAAAAAAAAAAAAAAAA=\nP:{}\nV:{}\nA:x86_64\no:{}\n\n", p.name, p.version, p.source));
        }
        put("etc/hostname", "alpine-box\n");
        put("etc/os-release", "NAME=\"Alpine Linux\"\nID=alpine\nVERSION_ID=3.19.1\n");
        put("lib/apk/db/installed", &installed);
        let r = app.inventory_local(root.path()).await.unwrap();
        assert_eq!((r.asset.as_str(), r.package_source), ("alpine-box", "apk-installed"));
        assert_eq!(r.inventory.os.as_deref(), Some("alpine:3.19"));
        let by_hand = app.import_inventory("by-hand", Some("alpine:3.19"), &root.path().join("lib/apk/db/installed")).await.unwrap();
        let local = open_vuln_ids(&app.store, r.inventory.asset_id).await;
        assert!(local.len() >= 10, "{local:?}");
        assert_eq!(local, open_vuln_ids(&app.store, by_hand.asset_id).await);
    }
}

#[tokio::test]
async fn a_root_without_a_package_database_is_refused() {
    let db = vantage_test_utils::TestDb::sqlite().await;
    let app = App::from_parts(Config::default(), db.store.clone());
    let dir = tempfile::tempdir().unwrap();
    let e = app.inventory_local(dir.path()).await.unwrap_err();
    assert!(
        e.is_bad_input() && e.to_string().contains("no package database"),
        "{e}"
    );
}
