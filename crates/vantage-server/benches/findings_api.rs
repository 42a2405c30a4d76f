//! Latency of `GET /api/v1/findings` pages over a large findings table, on SQLite and PostgreSQL.
//!
//! Seeds ~1,000,000 findings (10,000 assets × ~100, `vantage_app::seed` distributions), starts the
//! real server on a loopback port, and times 100-row pages filtered by scope and status — first
//! pages of every scope, pages deep into each scope through keyset cursors, and scope + priority
//! filters — as a client sees them (HTTP over 127.0.0.1, JSON decoded). Prints p50/p95/p99 per
//! backend against the goal (p95 < 50 ms). Run: `cargo bench -p vantage-server --bench findings_api`.
//! `VANTAGE_BENCH_ASSETS` (default 10000) and `VANTAGE_BENCH_FINDINGS_PER_ASSET` (default 100)
//! scale it.
// A benchmark is a report: printing its figures is its purpose.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::time::{Duration, Instant};

use time::OffsetDateTime;
use vantage_app::seed::{SeedSpec, seed};
use vantage_app::{App, Config};
use vantage_domain::Role;
use vantage_store::Backend;
use vantage_test_utils::TestDb;

const GOAL_P95_MS: f64 = 50.0;

fn env_u32(name: &str, default: u32) -> u32 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

struct Report {
    backend: &'static str,
    findings: i64,
    seed_secs: f64,
    requests: usize,
    p50: f64,
    p95: f64,
    p99: f64,
    max: f64,
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
            if done % 2000 < 200 {
                eprint!("\r{}: seeding {done}/{total} assets", backend.as_str());
            }
        },
    )
    .await
    .expect("seed");
    let seed_secs = started.elapsed().as_secs_f64();
    let findings = db.store.count_findings().await.unwrap();
    eprintln!(
        "\r{}: seeded {findings} findings in {seed_secs:.1} s",
        backend.as_str()
    );

    let app = App::from_parts(Config::default(), db.store.clone());
    let hash = vantage_app::auth::hash_password("bench").unwrap();
    app.store
        .create_user("bench", &hash, Role::Admin, OffsetDateTime::now_utc())
        .await
        .unwrap();
    let user = app.store.user_by_name("bench").await.unwrap().unwrap().user;
    let token = app
        .create_api_token(&user, "bench", OffsetDateTime::now_utc(), None)
        .await
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(vantage_server::serve(app, listener, async {
        let _ = stop_rx.await;
    }));

    let client = reqwest::Client::new();
    let base = format!("http://{addr}/api/v1/findings");
    let get = |query: String| {
        let client = client.clone();
        let url = format!("{base}?{query}");
        let token = token.clone();
        async move {
            let t = Instant::now();
            let resp = client
                .get(&url)
                .bearer_auth(&token)
                .send()
                .await
                .expect("request");
            assert!(resp.status().is_success(), "{url}: {}", resp.status());
            let body: serde_json::Value = resp.json().await.expect("json");
            (t.elapsed(), body)
        }
    };
    // Warm-up: one pass over each scope.
    let scopes = ["Production", "DMZ", "Corporate", "Test"];
    for s in scopes {
        get(format!("scope={s}&status=open&limit=100")).await;
    }
    let mut samples: Vec<Duration> = Vec::new();
    for round in 0..5 {
        for s in scopes {
            // First page, then 19 pages deeper through cursors.
            let mut query = format!("scope={s}&status=open&limit=100");
            for _ in 0..20 {
                let (d, body) = get(query.clone()).await;
                samples.push(d);
                let items = body["items"].as_array().map_or(0, Vec::len);
                assert!(items > 0, "an empty page for scope {s}");
                // The full-size run has 20+ pages per scope; the test-mode smoke may have fewer.
                let Some(cursor) = body["next_cursor"].as_str() else {
                    break;
                };
                assert_eq!(items, 100, "a page before the last is full");
                query = format!("scope={s}&status=open&limit=100&cursor={cursor}");
            }
            for p in ["p1", "p2"] {
                let (d, _) = get(format!("scope={s}&status=open&priority={p}&limit=100")).await;
                samples.push(d);
            }
            // A page from the middle of the table (keyset: as fast as the first).
            let cursor =
                vantage_domain::Cursor::after(i64::from(assets / 2 + round * 97), 0).encode();
            let (d, _) = get(format!("scope={s}&status=open&limit=100&cursor={cursor}")).await;
            samples.push(d);
        }
    }
    let _ = stop_tx.send(());
    let _ = server.await;
    let mut ms: Vec<f64> = samples.iter().map(|d| d.as_secs_f64() * 1000.0).collect();
    ms.sort_by(|a, b| a.partial_cmp(b).unwrap());
    Report {
        backend: backend.as_str(),
        findings,
        seed_secs,
        requests: ms.len(),
        p50: percentile(&ms, 0.50),
        p95: percentile(&ms, 0.95),
        p99: percentile(&ms, 0.99),
        max: *ms.last().unwrap(),
    }
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` passes nothing: run a tiny smoke.
    let is_bench = std::env::args().any(|a| a == "--bench");
    let (assets, per_asset) = if is_bench {
        (
            env_u32("VANTAGE_BENCH_ASSETS", 10_000),
            env_u32("VANTAGE_BENCH_FINDINGS_PER_ASSET", 100),
        )
    } else {
        (400, 20)
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    let reports: Vec<Report> = [Backend::Sqlite, Backend::Postgres]
        .into_iter()
        .map(|b| rt.block_on(run(b, assets, per_asset)))
        .collect();
    println!(
        "\nGET /api/v1/findings (100 rows, filtered by scope and status), client-side latency over loopback"
    );
    println!(
        "{:<9} {:>10} {:>9} {:>8} {:>8} {:>8} {:>8} {:>8}  goal p95 < {GOAL_P95_MS} ms",
        "backend", "findings", "seed s", "reqs", "p50 ms", "p95 ms", "p99 ms", "max ms"
    );
    for r in &reports {
        println!(
            "{:<9} {:>10} {:>9.1} {:>8} {:>8.2} {:>8.2} {:>8.2} {:>8.2}  {}",
            r.backend,
            r.findings,
            r.seed_secs,
            r.requests,
            r.p50,
            r.p95,
            r.p99,
            r.max,
            if r.p95 < GOAL_P95_MS { "met" } else { "MISSED" }
        );
    }
}
