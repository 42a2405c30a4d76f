//! Re-prioritization after an EPSS refresh (issue 4: 5,000,000 findings in < 60 s on SQLite and
//! on PostgreSQL).
//!
//! Per backend: seeds `VANTAGE_BENCH_ASSETS` (default 50,000) assets × `VANTAGE_BENCH_FINDINGS_PER_ASSET`
//! (default 106: about 5,040,000) findings with `vantage dev seed` distributions, imports synthetic knowledge for
//! the seed's 25,000-CVE pool through the real importers (NVD records with v2/v3.1/v4.0
//! vectors, a KEV catalogue, an EPSS day), prioritizes everything once, then imports the next
//! EPSS day (every score drifts, ~3 % jump) and times the incremental re-prioritization.
//! Run: `cargo bench -p vantage-app --bench prioritize`. `cargo test --benches` runs a tiny smoke.

#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::time::Instant;

use time::OffsetDateTime;
use time::macros::date;
use vantage_app::feeds::ImportOptions;
use vantage_app::prioritize::PrioritizeReport;
use vantage_app::seed::{SeedSpec, seed, write_knowledge_files};
use vantage_app::{App, Config};
use vantage_store::Backend;
use vantage_test_utils::TestDb;

const GOAL_SECS: f64 = 60.0;

fn env_u32(name: &str, default: u32) -> u32 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

struct Report {
    backend: &'static str,
    findings: i64,
    seed_secs: f64,
    full: PrioritizeReport,
    epss_import_secs: f64,
    incremental: PrioritizeReport,
}

async fn run(backend: Backend, assets: u32, per_asset: u32) -> Report {
    let db = TestDb::new(backend).await;
    let started = Instant::now();
    let spec = SeedSpec {
        assets,
        findings_per_asset: per_asset,
        seed: 42,
        round: 0,
    };
    seed(
        &db.store,
        &spec,
        OffsetDateTime::now_utc(),
        |done, total| {
            if done % 5000 < 200 {
                eprint!("\r{}: seeding {done}/{total} assets", backend.as_str());
            }
        },
    )
    .await
    .expect("seed");
    db.store.refresh_statistics().await.expect("analyze");
    let seed_secs = started.elapsed().as_secs_f64();
    let findings = db.store.count_findings().await.unwrap();
    eprintln!(
        "\r{}: seeded {findings} findings in {seed_secs:.1} s",
        backend.as_str()
    );

    let app = App::from_parts(Config::default(), db.store.clone());
    let dir = tempfile::tempdir().unwrap();
    let files = write_knowledge_files(dir.path(), date!(2026 - 11 - 20), 2, 42).unwrap();
    let o = ImportOptions::default();
    for f in &files[..3] {
        app.import_feed(f, &o).await.expect("import");
    }
    let full = app.prioritize().await.expect("prioritize");
    eprintln!(
        "{}: first prioritization {:.1} s ({full:?})",
        backend.as_str(),
        full.seconds
    );
    db.store.refresh_statistics().await.expect("analyze");

    let t = Instant::now();
    app.import_feed(&files[3], &o)
        .await
        .expect("import EPSS day 2");
    let epss_import_secs = t.elapsed().as_secs_f64();
    let incremental = app.prioritize().await.expect("re-prioritize");
    eprintln!(
        "{}: after the EPSS refresh {:.1} s ({incremental:?})",
        backend.as_str(),
        incremental.seconds
    );
    Report {
        backend: backend.as_str(),
        findings,
        seed_secs,
        full,
        epss_import_secs,
        incremental,
    }
}

fn main() {
    let is_bench = std::env::args().any(|a| a == "--bench");
    let (assets, per_asset) = if is_bench {
        (
            env_u32("VANTAGE_BENCH_ASSETS", 50_000),
            env_u32("VANTAGE_BENCH_FINDINGS_PER_ASSET", 106),
        )
    } else {
        (300, 10)
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    let reports: Vec<Report> = [Backend::Sqlite, Backend::Postgres]
        .into_iter()
        .map(|b| rt.block_on(run(b, assets, per_asset)))
        .collect();
    println!("\nPrioritization: first run, then re-prioritization after a new EPSS day");
    println!(
        "{:<9} {:>10} {:>7} {:>9} {:>8} {:>9} {:>9} {:>10} {:>10}  goal: re-run < {GOAL_SECS} s",
        "backend",
        "findings",
        "seed s",
        "contexts",
        "first s",
        "EPSS imp",
        "re-run s",
        "ctx chg",
        "findings"
    );
    for r in &reports {
        println!(
            "{:<9} {:>10} {:>7.1} {:>9} {:>8.1} {:>9.1} {:>9.1} {:>10} {:>10}  {}",
            r.backend,
            r.findings,
            r.seed_secs,
            r.full.contexts,
            r.full.seconds,
            r.epss_import_secs,
            r.incremental.seconds,
            r.incremental.contexts_changed,
            r.incremental.findings_updated,
            if r.incremental.seconds < GOAL_SECS {
                "met"
            } else {
                "MISSED"
            }
        );
    }
}
