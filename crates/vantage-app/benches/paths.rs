//! Attack-path analysis at scale: 10,000 assets in 20 scopes (two internet-facing, three
//! critical), 100,000 open services, 1,000,000 open findings over 20,000 vulnerabilities with a
//! realistic mix of CVSS attack vectors and privileges (40 % remote pre-auth, 15 % remote with
//! privileges, 35 % local, 5 % credential CWEs, 5 % physical), EPSS skewed low, 1 % in KEV.
//! Measures `paths::analyze` (graph, Dijkstra, dominators, verdicts). Goal: < 10 s.
//!
//! Then the stored side at scale, on SQLite and PostgreSQL (`VANTAGE_TEST_POSTGRES`): a seeded
//! fleet of 10,000 assets × 200 findings (2,000,000), the same scan result applied again to the
//! lifecycle (every finding seen again: new → open; the ones the scan misses fixed), goal < 30 s;
//! the daily metrics snapshot over it and, with `VANTAGE_BENCH_METRICS_FINDINGS`, over a larger
//! fleet (5,000,000 for the goal: < 30 s); and `attack_paths` end to end (read,
//! analyse, write verdicts). Sizes: `VANTAGE_BENCH_ASSETS`, `VANTAGE_BENCH_FINDINGS_PER_ASSET`.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::collections::{HashMap, HashSet};

use std::time::Instant;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use time::OffsetDateTime;
use vantage_app::seed::{SeedSpec, seed};
use vantage_app::{App, Config};
use vantage_domain::{ExposureClass, Scope, ScopeId};
use vantage_store::Backend;
use vantage_store::{PathFinding, PathInput, PathVuln};
use vantage_test_utils::TestDb;

const SERVICES_PER_ASSET: i64 = 10;
const SCOPES: i64 = 20;

/// The synthetic graph's size: the under `cargo bench`, a smoke under `cargo test`.
#[derive(Clone, Copy)]
struct Size {
    assets: i64,
    findings: usize,
    vulns: usize,
}

fn scope(id: i64) -> Scope {
    vantage_store::NewScope {
        exposure: match id {
            1 | 2 => ExposureClass::Internet,
            19 => ExposureClass::Isolated,
            _ => ExposureClass::Internal,
        },
        criticality: if (10..13).contains(&id) { 5 } else { 3 },
        ..vantage_store::NewScope::named(format!("s{id}"))
    }
    .to_scope(ScopeId(id))
}

fn input(size: &Size) -> (PathInput, Vec<Scope>, HashSet<i64>) {
    let (n_assets, n_findings, n_vulns) = (size.assets, size.findings, size.vulns);
    let mut rng = StdRng::seed_from_u64(7);
    let assets: Vec<(i64, String)> = (1..=n_assets).map(|i| (i, format!("srv-{i:05}"))).collect();
    let mut memberships = Vec::new();
    for a in 1..=n_assets {
        memberships.push((a, 1 + a % SCOPES));
        if rng.random_bool(0.1) {
            memberships.push((a, 1 + rng.random_range(0..SCOPES)));
        }
    }
    let ports = [22, 80, 443, 3306, 5432, 8080, 8443, 25, 53, 3389];
    let services: Vec<(i64, String, i32)> = (1..=n_assets)
        .flat_map(|a| {
            (0..SERVICES_PER_ASSET).map(move |i| (a, "tcp".to_string(), ports[i as usize]))
        })
        .collect();
    let mut vulns = HashMap::new();
    for v in 0..n_vulns {
        let r: f64 = rng.random();
        let (vector, cwes) = match r {
            x if x < 0.40 => ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", vec![]),
            x if x < 0.55 => ("CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H", vec![]),
            x if x < 0.90 => ("CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H", vec![]),
            x if x < 0.95 => (
                "CVSS:3.1/AV:L/AC:L/PR:H/UI:N/S:U/C:H/I:N/A:N",
                vec!["CWE-798".to_string()],
            ),
            _ => ("CVSS:3.1/AV:P/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", vec![]),
        };
        let u: f64 = rng.random();
        vulns.insert(
            format!("CVE-2031-{v:05}"),
            PathVuln {
                vectors: vec![("3.1".into(), vector.into(), true)],
                cwes,
                epss: Some(u.powi(6)),
                kev: rng.random_bool(0.01),
            },
        );
    }
    let findings: Vec<PathFinding> = (0..n_findings)
        .map(|i| {
            let asset = 1 + rng.random_range(0..n_assets);
            let v = (rng.random::<f64>().powi(3) * n_vulns as f64) as usize;
            let service = rng.random_bool(0.2);
            PathFinding {
                id: i as i64 + 1,
                asset_id: asset,
                vuln_id: format!("CVE-2031-{v:05}"),
                component_kind: if service { "service" } else { "package" }.into(),
                component: if service {
                    format!("tcp/{}", ports[rng.random_range(0..ports.len())])
                } else {
                    "pkg".into()
                },
            }
        })
        .collect();
    let scopes: Vec<Scope> = (1..=SCOPES).map(scope).collect();
    let critical = scopes
        .iter()
        .filter(|s| vantage_app::paths::is_critical(s))
        .map(|s| s.id.0)
        .collect();
    (
        PathInput {
            assets,
            memberships,
            services,
            exposures: vec![],
            internet_exposed: vec![],
            findings,
            vulns,
        },
        scopes,
        critical,
    )
}

fn env_u32(name: &str, default: u32) -> u32 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

async fn stored(backend: Backend, assets: u32, per_asset: u32, metrics_findings: u32) {
    let label = match backend {
        Backend::Sqlite => "SQLite",
        Backend::Postgres => "PostgreSQL",
    };
    let db = TestDb::new(backend).await;
    let app = App::from_parts(Config::default(), db.store.clone());
    let mut spec = SeedSpec {
        assets,
        findings_per_asset: per_asset,
        seed: 1,
        round: 0,
    };
    // The scans are a day apart.
    let day0 = OffsetDateTime::now_utc() - time::Duration::days(3);
    let t = Instant::now();
    let first = seed(&db.store, &spec, day0, |_, _| {}).await.unwrap();
    println!(
        "{label}: first scan of {} assets: {} findings written, {} fixed, in {:.1} s ({:?})",
        first.assets,
        first.findings,
        first.fixed,
        t.elapsed().as_secs_f64(),
        first.seconds
    );
    spec.round = 1;
    let t = Instant::now();
    let again = seed(&db.store, &spec, day0 + time::Duration::days(1), |_, _| {})
        .await
        .unwrap();
    let lifecycle = t.elapsed().as_secs_f64();
    let total = db.store.count_findings().await.unwrap();
    println!(
        "{label}: the next scan applied to the lifecycle ({total} findings: {} seen again, new → open; {} no longer seen, fixed): {lifecycle:.1} s (goal < 30 s; {:?})",
        again.findings, again.fixed, again.seconds
    );
    assert!(again.fixed > 0 && again.findings > again.fixed);
    // Steady state: the findings seen again are open already, only last_seen moves.
    spec.round = 2;
    let t = Instant::now();
    let third = seed(&db.store, &spec, day0 + time::Duration::days(2), |_, _| {})
        .await
        .unwrap();
    println!(
        "{label}: the scan after (steady state: {} seen again, already open; {} fixed): {:.1} s ({:?})",
        third.findings,
        third.fixed,
        t.elapsed().as_secs_f64(),
        third.seconds
    );
    let t = Instant::now();
    let rows = app
        .snapshot_metrics(OffsetDateTime::now_utc())
        .await
        .unwrap();
    println!(
        "{label}: daily metrics snapshot over {total} findings: {rows} values in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    let t = Instant::now();
    let a = app.attack_paths(None).await.unwrap();
    println!(
        "{label}: attack paths end to end over {total} findings (read, analyse, write verdicts; \
         seeded CVEs carry no CVSS vector, so the graph is small: {:?}): {:.1} s",
        a.graph_size,
        t.elapsed().as_secs_f64()
    );
    drop(db);
    if metrics_findings > 0 {
        let db = TestDb::new(backend).await;
        let app = App::from_parts(Config::default(), db.store.clone());
        let spec = SeedSpec {
            assets,
            findings_per_asset: metrics_findings / assets.max(1),
            seed: 2,
            round: 0,
        };
        seed(&db.store, &spec, OffsetDateTime::now_utc(), |_, _| {})
            .await
            .unwrap();
        let total = db.store.count_findings().await.unwrap();
        let t = Instant::now();
        let rows = app
            .snapshot_metrics(OffsetDateTime::now_utc())
            .await
            .unwrap();
        println!(
            "{label}: daily metrics snapshot over {total} findings: {rows} values in {:.1} s (goal < 30 s)",
            t.elapsed().as_secs_f64()
        );
    }
}

fn main() {
    // `cargo test --benches` runs a smoke of the same code on a small fleet.
    let is_bench = std::env::args().any(|a| a == "--bench");
    let size = if is_bench {
        Size {
            assets: 10_000,
            findings: 1_000_000,
            vulns: 20_000,
        }
    } else {
        Size {
            assets: 200,
            findings: 5_000,
            vulns: 500,
        }
    };
    let (input, scopes, critical) = input(&size);
    let mut times = Vec::new();
    let mut a = None;
    for _ in 0..3 {
        let t = Instant::now();
        a = Some(vantage_app::paths::analyze(&input, &scopes, &critical));
        times.push(t.elapsed().as_secs_f64());
    }
    let a = a.unwrap();
    times.sort_by(f64::total_cmp);
    println!(
        "attack paths over {} assets / {} services / {} findings: median {:.2} s of 3 (goal < 10 s); \
         graph {:?} (nodes, edges), {} targets, {} entry points, {} paths, {} choke points, {} findings on a path, {} on none",
        input.assets.len(),
        input.services.len(),
        input.findings.len(),
        times[1],
        a.graph_size,
        a.targets,
        a.entry_points,
        a.paths.len(),
        a.choke_points.len(),
        a.findings_on_path,
        a.findings_off_path
    );
    drop(input);
    let (assets, per_asset, metrics) = if is_bench {
        (
            env_u32("VANTAGE_BENCH_ASSETS", 10_000),
            env_u32("VANTAGE_BENCH_FINDINGS_PER_ASSET", 200),
            env_u32("VANTAGE_BENCH_METRICS_FINDINGS", 0),
        )
    } else {
        (100, 10, 2_000)
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let only = std::env::var("VANTAGE_BENCH_BACKENDS").unwrap_or_default();
    if !only.contains("postgres") || only.contains("sqlite") {
        rt.block_on(stored(Backend::Sqlite, assets, per_asset, metrics));
    }
    let postgres = std::env::var("VANTAGE_TEST_POSTGRES").is_ok();
    if postgres && (!only.contains("sqlite") || only.contains("postgres")) {
        rt.block_on(stored(Backend::Postgres, assets, per_asset, metrics));
    }
}
