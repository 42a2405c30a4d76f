//! Detection over many stored inventories (issue 5: 1,000 hosts × ~2,000 packages < 10 s,
//! < 2 GB; one host < 50 ms).
//!
//! Per backend: imports the real Ubuntu 24.04 USN OVAL (`$VANTAGE_TEST_DATA`), stores
//! `VANTAGE_BENCH_HOSTS` (default 1,000) inventories of ~2,000 packages each — the 711 packages of
//! vuls' real Ubuntu 24.04 host plus packages the OVAL data names, 90 % at their fixed version and
//! 10 % older — then times `App::redetect` (every host judged, findings written, then
//! prioritized) twice: first (findings created) and again (steady state), and one host's
//! `vantage inventory import` on its own. Peak memory is the process's VmHWM.
//! Run: `cargo bench -p vantage-app --bench detect`; `cargo test --benches` runs a tiny smoke.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::time::Instant;

use time::OffsetDateTime;
use vantage_app::feeds::ImportOptions;
use vantage_app::{App, Config};
use vantage_domain::{
    AssetKind, DistroFix, Ecosystem, FeedKind, Identifier, IdentifierKind, NewAsset,
};
use vantage_store::{Backend, ImportLog, NewPackage};
use vantage_test_utils::{TestDb, test_data, vuls_inventory};

fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

/// vuls' Ubuntu 24.04 host: (name, version, source, source version).
fn base_packages() -> Vec<(String, String, String, String)> {
    vuls_inventory("packages/vuls-integration/ubuntu_2404.packages.json.gz")
        .into_iter()
        .map(|p| (p.name, p.version, p.source, p.source_version))
        .collect()
}

struct Report {
    backend: &'static str,
    hosts: u32,
    package_rows: u64,
    load_secs: f64,
    first_secs: f64,
    first_findings: u64,
    again_secs: f64,
    new_advisory_secs: f64,
    new_advisory_findings: u64,
    one_host_ms: f64,
    peak_mib: f64,
}

async fn run(backend: Backend, hosts: u32) -> Report {
    let db = TestDb::new(backend).await;
    let app = App::from_parts(Config::default(), db.store.clone());
    app.import_feed(
        &test_data("distro/ubuntu-oval/com.ubuntu.noble.usn.oval.xml.gz"),
        &ImportOptions::default(),
    )
    .await
    .unwrap();
    let base = base_packages();
    let names: std::collections::HashSet<&str> = base.iter().map(|p| p.0.as_str()).collect();
    let mut extra: Vec<(String, String)> = Vec::new();
    // In a fixed order: both backends build the same fleet.
    let mut fixes = db
        .store
        .distro_fixes_for_release("ubuntu", "24.04")
        .await
        .unwrap();
    fixes.sort_by(|a, b| {
        (a.package.as_str(), a.vuln_id.as_str()).cmp(&(b.package.as_str(), b.vuln_id.as_str()))
    });
    for f in fixes {
        if let Some(v) = f.fixed_version
            && !names.contains(f.package.as_str())
            && !extra.iter().any(|(n, _)| *n == f.package)
        {
            extra.push((f.package, v.trim_start_matches("0:").to_string()));
        }
        if base.len() + extra.len() >= 2000 {
            break;
        }
    }
    let mut rng: u64 = 0x9e37_79b9_7f4a_7c15;
    let started = Instant::now();
    let mut rows = 0;
    for h in 0..hosts {
        let name = format!("host-{h:05}");
        let asset = db
            .store
            .upsert_asset(&NewAsset {
                kind: AssetKind::Host,
                name: name.clone(),
                os: Some("ubuntu:24.04".into()),
                identifiers: vec![Identifier::new(IdentifierKind::Hostname, &name)],
                tags: vec![],
                seen_at: OffsetDateTime::now_utc(),
            })
            .await
            .unwrap();
        let mut packages: Vec<NewPackage> = base
            .iter()
            .map(|(n, v, s, sv)| NewPackage {
                ecosystem: Ecosystem::Deb,
                name: n.clone(),
                version: v.clone(),
                source_name: Some(s.clone()),
                source_version: Some(sv.clone()),
                arch: "amd64".into(),
            })
            .collect();
        for (n, fixed) in &extra {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            let version = if rng % 10 < 9 {
                fixed.clone()
            } else {
                "0.1-1".to_string()
            };
            packages.push(NewPackage {
                ecosystem: Ecosystem::Deb,
                name: n.clone(),
                version: version.clone(),
                source_name: Some(n.clone()),
                source_version: Some(version),
                arch: "amd64".into(),
            });
        }
        rows += db.store.replace_packages(asset, &packages).await.unwrap();
    }
    let load_secs = started.elapsed().as_secs_f64();
    eprintln!(
        "{}: {hosts} hosts, {rows} package rows stored in {load_secs:.1} s",
        backend.as_str()
    );
    let first = app.redetect().await.unwrap();
    eprintln!(
        "{}: first detection {:.1} s ({} findings; matching {:.1} s, prioritization {:.1} s)",
        backend.as_str(),
        first.seconds,
        first.findings,
        first.match_seconds,
        first.prioritization.seconds
    );
    let again = app.redetect().await.unwrap();
    eprintln!(
        "{}: again {:.1} s (matching {:.1} s)",
        backend.as_str(),
        again.seconds,
        again.match_seconds
    );

    // A new advisory against a package every host has: queued by the import of its collection,
    // judged by the incremental detection job on the hosts that hold the package only.
    let mut tx = db
        .store
        .begin_import(OffsetDateTime::now_utc())
        .await
        .unwrap();
    let advisory = DistroFix {
        distro: "ubuntu".into(),
        release: "24.04".into(),
        collection: "oval:bench-new-advisory".into(),
        package: base[0].0.clone(),
        vuln_id: "CVE-2099-0001".parse().unwrap(),
        status: "fixed".into(),
        fixed_version: Some("99:1.0-1".into()),
        advisory: Some("USN-9999-1".into()),
    };
    tx.replace_distro_collection(FeedKind::Oval, "oval:bench-new-advisory", &[advisory])
        .await
        .unwrap();
    tx.commit(&ImportLog {
        feed: FeedKind::Oval,
        path: "bench".into(),
        file_sha256: "bench".into(),
        data_date: None,
        started_at: OffsetDateTime::now_utc(),
        counts: Default::default(),
    })
    .await
    .unwrap();
    let t = Instant::now();
    let incremental = app.redetect_changes().await.unwrap();
    let new_advisory_secs = t.elapsed().as_secs_f64();
    eprintln!(
        "{}: new advisory: {} new findings on {} hosts in {:.2} s ({:.2} s of it prioritization)",
        backend.as_str(),
        incremental.new,
        incremental.assets,
        new_advisory_secs,
        incremental.prioritization.seconds
    );

    // One host on its own, end to end (file → asset, packages, findings, prioritization).
    let one = TestDb::new(backend).await;
    let one_app = App::from_parts(Config::default(), one.store.clone());
    one_app
        .import_feed(
            &test_data("distro/ubuntu-oval/com.ubuntu.noble.usn.oval.xml.gz"),
            &ImportOptions::default(),
        )
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("status");
    let mut text = String::new();
    for (n, v, s, sv) in &base {
        text.push_str(&format!(
            "Package: {n}\nStatus: install ok installed\nVersion: {v}\nSource: {s} ({sv})\n\n"
        ));
    }
    for (n, fixed) in &extra {
        text.push_str(&format!(
            "Package: {n}\nStatus: install ok installed\nVersion: {fixed}\n\n"
        ));
    }
    std::fs::write(&file, text).unwrap();
    let t = Instant::now();
    let solo = one_app
        .import_inventory("solo", Some("ubuntu:24.04"), &file)
        .await
        .unwrap();
    let one_host_ms = t.elapsed().as_secs_f64() * 1000.0;
    eprintln!(
        "{}: one host {one_host_ms:.0} ms ({} findings; matching {:.1} ms, prioritization {:.0} ms)",
        backend.as_str(),
        solo.findings,
        solo.match_ms,
        solo.prioritization.seconds * 1000.0
    );
    Report {
        backend: backend.as_str(),
        hosts,
        package_rows: rows,
        load_secs,
        first_secs: first.seconds,
        first_findings: first.findings,
        again_secs: again.seconds,
        new_advisory_secs,
        new_advisory_findings: incremental.new,
        one_host_ms,
        peak_mib: peak_rss_mib(),
    }
}

fn main() {
    let is_bench = std::env::args().any(|a| a == "--bench");
    let hosts = if is_bench {
        std::env::var("VANTAGE_BENCH_HOSTS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(1000)
    } else {
        3
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    // `VANTAGE_BENCH_BACKENDS=sqlite` (or `postgres`) runs one backend only.
    let only = std::env::var("VANTAGE_BENCH_BACKENDS").unwrap_or_default();
    let reports: Vec<Report> = [Backend::Sqlite, Backend::Postgres]
        .into_iter()
        .filter(|b| only.is_empty() || only.contains(b.as_str()))
        .map(|b| rt.block_on(run(b, hosts)))
        .collect();
    println!("\nDetection: every stored inventory judged against the Ubuntu 24.04 USN OVAL");
    println!(
        "{:<9} {:>6} {:>10} {:>7} {:>9} {:>10} {:>8} {:>12} {:>10} {:>9}  goals: all hosts < 10 s, new advisory < 1 s, one host < 50 ms, < 2 GB",
        "backend",
        "hosts",
        "packages",
        "load s",
        "detect s",
        "findings",
        "again s",
        "advisory s",
        "1 host ms",
        "peak MiB"
    );
    for r in &reports {
        println!(
            "{:<9} {:>6} {:>10} {:>7.1} {:>9.1} {:>10} {:>8.1} {:>12} {:>10.1} {:>9.0}",
            r.backend,
            r.hosts,
            r.package_rows,
            r.load_secs,
            r.first_secs,
            r.first_findings,
            r.again_secs,
            format!("{:.2} ({})", r.new_advisory_secs, r.new_advisory_findings),
            r.one_host_ms,
            r.peak_mib
        );
    }
}
