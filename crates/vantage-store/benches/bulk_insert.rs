//! Bulk insert of findings, on SQLite and PostgreSQL (criterion).
//!
//! Each iteration upserts 100,000 new findings (fresh keys, so they are real inserts into a
//! growing, fully indexed table) in one call of `Store::upsert_findings`. Goal: ≥ 100,000 rows/s
//! on SQLite, ≥ 50,000 rows/s on PostgreSQL. Run: `cargo bench -p vantage-store --bench bulk_insert`.
// A benchmark is a report: printing its figures is its purpose.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use vantage_domain::{AssetId, NewFinding, Priority};
use vantage_store::Backend;
use vantage_test_utils::{TestDb, host, package_finding, t0};

const ROWS: u64 = 100_000;
const ASSETS: usize = 500;

static NEXT: AtomicU64 = AtomicU64::new(0);

fn batch(assets: &[AssetId]) -> Vec<NewFinding> {
    let start = NEXT.fetch_add(ROWS, Ordering::Relaxed);
    (start..start + ROWS)
        .map(|n| {
            let asset = assets[(n % ASSETS as u64) as usize];
            let cve = format!("CVE-{}-{:07}", 2000 + (n / 9_000_000) % 27, n % 9_000_000);
            let mut f = package_finding(asset, &cve, "openssl", t0());
            f.priority = Some(Priority::P3);
            f.score = Some(6.5);
            f
        })
        .collect()
}

fn bench_backend(c: &mut Criterion, backend: Backend) {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let db = rt.block_on(TestDb::new(backend));
    let assets: Vec<AssetId> = rt.block_on(async {
        let mut ids = Vec::new();
        for i in 0..ASSETS {
            ids.push(
                db.store
                    .upsert_asset(&host(
                        &format!("b{i}"),
                        &format!("127.2.{}.{}", i / 250, i % 250),
                        t0(),
                    ))
                    .await
                    .unwrap(),
            );
        }
        ids
    });
    let mut group = c.benchmark_group("upsert_findings");
    group.throughput(Throughput::Elements(ROWS));
    group.sample_size(10);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(20));
    group.bench_function(backend.as_str(), |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let rows = batch(&assets);
                let started = Instant::now();
                let n = rt
                    .block_on(db.store.upsert_findings(&rows))
                    .expect("bulk upsert");
                total += started.elapsed();
                assert_eq!(n, ROWS);
            }
            total
        })
    });
    group.finish();
    let count = rt.block_on(db.store.count_findings()).unwrap();
    eprintln!(
        "{}: table holds {count} findings after the run",
        backend.as_str()
    );
    drop(db);
}

fn sqlite(c: &mut Criterion) {
    bench_backend(c, Backend::Sqlite);
}

fn postgres(c: &mut Criterion) {
    bench_backend(c, Backend::Postgres);
}

criterion_group!(benches, sqlite, postgres);
criterion_main!(benches);
