//! Findings → tickets through the connector queue, on SQLite and PostgreSQL
//! (`VANTAGE_TEST_POSTGRES`): a host with 10,000 open findings (100 packages × 100 CVEs, read by
//! `inventory local` from a test root and a DSA list), a Jira connector with one ticket per
//! finding against the local Jira contract fake (every call checked), and the queue drained at
//! the configured rate. Reports the sync time, the delivery time, the throughput against the
//! configured rate, and checks: every finding has exactly one ticket, a second sync queues
//! nothing, no contract violation. Goal: throughput limited only by the configured rate.
//! Sizes: `VANTAGE_BENCH_TICKETS` (findings, default 10,000; a smoke under `cargo test`),
//! rates: `VANTAGE_BENCH_RATES` (calls per minute, comma-separated; default 60000,600000).
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::collections::HashSet;
use std::path::Path;
use std::time::Instant;

use serde_json::json;
use time::OffsetDateTime;
use vantage_app::tickets::{Grouping, NewIntegration};
use vantage_app::{App, Config};
use vantage_connectors::{Kind, Secrets};
use vantage_domain::Priority;
use vantage_store::Backend;
use vantage_test_utils::TestDb;
use vantage_test_utils::itsm::{Flavor, Vendor};
use zeroize::Zeroizing;

fn estate(root: &Path, feed: &Path, packages: usize, cves: usize) {
    std::fs::create_dir_all(root.join("etc")).unwrap();
    std::fs::create_dir_all(root.join("var/lib/dpkg")).unwrap();
    std::fs::write(root.join("etc/hostname"), "bench-01\n").unwrap();
    std::fs::write(
        root.join("etc/os-release"),
        "NAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\nVERSION_CODENAME=bookworm\nID=debian\n",
    )
    .unwrap();
    let mut status = String::new();
    let mut dsa = String::new();
    for i in 0..packages {
        status.push_str(&format!(
            "Package: pkg-{i}\nStatus: install ok installed\nArchitecture: amd64\nVersion: 1.0-1\nDescription: bench\n\n"
        ));
        let ids: Vec<String> = (0..cves)
            .map(|j| format!("CVE-2098-{}", 100_000 + i * cves + j))
            .collect();
        dsa.push_str(&format!(
            "[27 Nov 2026] DSA-{}-1 pkg-{i} - security update\n\t{{{}}}\n\t[bookworm] - pkg-{i} 1.1-1\n",
            7000 + i,
            ids.join(" ")
        ));
    }
    std::fs::write(root.join("var/lib/dpkg/status"), status).unwrap();
    std::fs::write(feed, dsa).unwrap();
}

async fn run(backend: Backend, findings: usize, rates: &[u32]) {
    let db = TestDb::new(backend).await;
    let dir = tempfile::tempdir().unwrap();
    let app = App::from_parts(
        Config {
            data_dir: dir.path().to_path_buf(),
            ..Default::default()
        },
        db.store.clone(),
    );
    let per = (findings as f64).sqrt().ceil() as usize;
    let (root, feed) = (dir.path().join("host"), dir.path().join("DSA-list"));
    estate(&root, &feed, per, findings.div_ceil(per));
    app.import_feed(&feed, &Default::default()).await.unwrap();
    let inv = app.inventory_local(&root).await.unwrap();
    let n = inv.inventory.findings;
    for (k, &rate) in rates.iter().enumerate() {
        let jira = Vendor::start(Flavor::Jira {
            version: 3,
            auth: "Bearer bench-token".into(),
        });
        let name = format!("jira-{k}");
        let mut secrets = Secrets::default();
        secrets
            .0
            .insert("token".into(), Zeroizing::new("bench-token".into()));
        app.add_integration(
            NewIntegration {
                name: name.clone(),
                kind: Kind::Jira,
                settings: json!({"url": jira.url(), "project": "SEC"}),
                secrets,
                grouping: Grouping::Finding,
                scope: None,
                min_priority: Priority::P4,
                rate_per_minute: rate,
            },
            "bench",
        )
        .await
        .unwrap();
        let t = Instant::now();
        let c = app
            .sync_tickets(&name, OffsetDateTime::now_utc())
            .await
            .unwrap();
        let sync = t.elapsed();
        assert_eq!(c.created, n, "one ticket per finding queued");
        let t = Instant::now();
        let mut delivered = 0;
        while delivered < n {
            let r = app.deliver(OffsetDateTime::now_utc()).await.unwrap();
            assert_eq!((r.dead, r.retried), (0, 0), "{r:?}");
            delivered += r.delivered;
            if r.delivered == 0 {
                break;
            }
        }
        let took = t.elapsed();
        let labels: HashSet<String> = jira.with(|s| {
            assert_eq!(s.tickets.len() as u64, n);
            s.tickets
                .values()
                .map(|t| t["labels"][1].as_str().unwrap().to_string())
                .collect()
        });
        assert_eq!(labels.len() as u64, n, "no duplicate ticket");
        jira.assert_clean();
        let again = app
            .sync_tickets(&name, OffsetDateTime::now_utc())
            .await
            .unwrap();
        assert_eq!(
            (again.created, again.updated),
            (0, 0),
            "a re-sync duplicates nothing"
        );
        let per_s = delivered as f64 / took.as_secs_f64();
        println!(
            "{backend:?}: {n} findings → {delivered} tickets at {rate}/min: sync {:.2} s, delivery {:.2} s = {per_s:.0}/s ({:.0} % of the configured {:.0}/s)",
            sync.as_secs_f64(),
            took.as_secs_f64(),
            100.0 * per_s / (f64::from(rate) / 60.0),
            f64::from(rate) / 60.0
        );
    }
}

fn main() {
    let is_bench = std::env::args().any(|a| a == "--bench");
    let findings: usize = std::env::var("VANTAGE_BENCH_TICKETS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if is_bench { 10_000 } else { 100 });
    let rates: Vec<u32> = std::env::var("VANTAGE_BENCH_RATES")
        .ok()
        .map(|v| v.split(',').filter_map(|r| r.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![60_000, 600_000]);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        run(Backend::Sqlite, findings, &rates).await;
        if std::env::var("VANTAGE_TEST_POSTGRES").is_ok() || is_bench {
            run(Backend::Postgres, findings, &rates).await;
        }
    });
}
