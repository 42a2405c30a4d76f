//! The continuous loop on SQLite and PostgreSQL with an injected clock: the finding lifecycle
//! over simulated days (new → open → fixed → reopened, exposure time, accepted risk and its
//! expiry, false positive, SLA breach), the scheduler (due runs, catch-up once after downtime,
//! no second run while one is in progress, lease expiry, retries, cancellation), scopes from a
//! TOML document, and attack paths on a hand-built network with known answers.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use time::{Duration, OffsetDateTime, macros::datetime};
use vantage_app::feeds::ImportOptions;
use vantage_app::{App, Config};
use vantage_domain::{
    AssetId, AssetKind, ComponentKind, Evidence, ExposureClass, Finding, FindingFilter,
    FindingStatus, Identifier, IdentifierKind, JobKind, JobStatus, NewAsset, NewFinding,
    StatusFilter, Triage,
};
use vantage_store::{NewScope, PathFinding, PathInput, PathVuln};
use vantage_test_utils::both_backends;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/priority")
        .join(name)
}

const DAY0: OffsetDateTime = datetime!(2030-03-02 08:00 UTC);

fn day(n: i64) -> OffsetDateTime {
    DAY0 + Duration::days(n)
}

async fn asset(app: &App, name: &str) -> AssetId {
    app.store
        .upsert_asset(&NewAsset {
            kind: AssetKind::Host,
            name: name.into(),
            os: Some("debian:12".into()),
            identifiers: vec![Identifier::new(IdentifierKind::Hostname, name)],
            tags: vec![],
            seen_at: DAY0,
        })
        .await
        .unwrap()
}

fn seen(asset: AssetId, cve: &str, at: OffsetDateTime) -> NewFinding {
    NewFinding {
        asset_id: asset,
        vuln_id: cve.parse().unwrap(),
        evidence: Evidence {
            component_kind: ComponentKind::Package,
            component: "gateway".into(),
            package_id: None,
            service_id: None,
            installed_version: Some("1.0".into()),
            fixed_version: Some("1.1".into()),
            source: "test".into(),
            rule: "installed 1.0 < fixed 1.1".into(),
            advisory: None,
            confidence: Default::default(),
        },
        priority: None,
        score: None,
        seen_at: at,
    }
}

/// A scan of `asset` at `at` that sees exactly `cves`: upserted, the rest fixed.
async fn scan(app: &App, asset: AssetId, cves: &[&str], at: OffsetDateTime) {
    let batch: Vec<NewFinding> = cves.iter().map(|c| seen(asset, c, at)).collect();
    app.store.upsert_findings(&batch).await.unwrap();
    app.store
        .resolve_unseen_findings(asset, at, at)
        .await
        .unwrap();
}

async fn finding(app: &App, cve: &str) -> Finding {
    let f = FindingFilter {
        status: StatusFilter::All,
        limit: 1000,
        ..Default::default()
    };
    app.store
        .list_findings(&f)
        .await
        .unwrap()
        .items
        .into_iter()
        .find(|f| f.vuln_id.as_str() == cve)
        .unwrap()
}

/// Findings by status over the whole store (a page is enough for the small fleets here).
async fn by_status(app: &App) -> std::collections::BTreeMap<FindingStatus, usize> {
    let mut counts = std::collections::BTreeMap::new();
    let mut cursor = None;
    loop {
        let page = app
            .store
            .list_findings(&FindingFilter {
                status: StatusFilter::All,
                limit: 1000,
                cursor,
                ..Default::default()
            })
            .await
            .unwrap();
        for f in &page.items {
            *counts.entry(f.status).or_insert(0) += 1;
        }
        match page.next_cursor {
            Some(next) => cursor = Some(vantage_domain::Cursor::decode(&next).unwrap()),
            None => return counts,
        }
    }
}

both_backends! {
    async fn seeded_rescans_follow_the_lifecycle(db) {
        use vantage_app::seed::{SeedSpec, seed};
        let app = App::from_parts(Config::default(), db.store.clone());
        let mut spec = SeedSpec { assets: 40, findings_per_asset: 30, seed: 3, round: 0 };
        let first = seed(&app.store, &spec, day(0), |_, _| {}).await.unwrap();
        let counts = by_status(&app).await;
        assert_eq!(counts.get(&FindingStatus::Fixed).copied().unwrap_or(0) as u64, first.fixed);
        assert!(first.fixed > 0);
        let new = counts[&FindingStatus::New];
        // The same round again is an identical re-scan: every new finding is open now, the
        // ones fixed before stay fixed (nothing reopened), nothing else is fixed.
        let again = seed(&app.store, &spec, day(1), |_, _| {}).await.unwrap();
        assert_eq!(again.fixed, 0);
        let counts = by_status(&app).await;
        assert_eq!(counts.get(&FindingStatus::Open), Some(&new));
        assert_eq!(counts.get(&FindingStatus::New), None);
        assert_eq!(counts.get(&FindingStatus::Reopened), None);
        assert_eq!(counts[&FindingStatus::Fixed] as u64, first.fixed);
        // The next round no longer sees a few: those are fixed on its day, the rest stay open.
        spec.round = 1;
        let next = seed(&app.store, &spec, day(2), |_, _| {}).await.unwrap();
        assert!(next.fixed > 0 && next.fixed < next.findings / 10, "{next:?}");
        let counts = by_status(&app).await;
        assert_eq!(counts[&FindingStatus::Open] as u64, next.findings);
        assert_eq!(counts[&FindingStatus::Fixed] as u64, first.fixed + next.fixed);
        assert_eq!(counts.get(&FindingStatus::Reopened), None);
    }

    async fn the_lifecycle_over_simulated_days(db) {
        let app = App::from_parts(Config::default(), db.store.clone());
        let o = ImportOptions::default();
        for f in ["nvd.jsonl", "kev.json", "epss_scores-2030-03-01.csv"] {
            app.import_feed(&fixture(f), &o).await.unwrap();
        }
        let dmz = app.store.create_scope(&NewScope {
            exposure: ExposureClass::Internet,
            criticality: 4,
            ..NewScope::named("DMZ")
        }, DAY0).await.unwrap();
        let web = asset(&app, "web").await;
        app.store.add_scope_members(dmz, &[web]).await.unwrap();

        // Day 0: first detection.
        scan(&app, web, &["CVE-2030-0101", "CVE-2030-0103"], day(0)).await;
        let a = finding(&app, "CVE-2030-0101").await;
        assert_eq!(a.status, FindingStatus::New);
        // Prioritized on day 0 (P1: KEV and internet-exposed).
        app.prioritize_at(day(0)).await.unwrap();
        // Day 1: seen again by a later scan: open.
        scan(&app, web, &["CVE-2030-0101", "CVE-2030-0103"], day(1)).await;
        assert_eq!(finding(&app, "CVE-2030-0101").await.status, FindingStatus::Open);
        // Day 2: 0103 is gone: fixed, dated, with its exposure time.
        scan(&app, web, &["CVE-2030-0101"], day(2)).await;
        let b = finding(&app, "CVE-2030-0103").await;
        assert_eq!((b.status, b.fixed_at), (FindingStatus::Fixed, Some(day(2))));
        assert_eq!(b.lifecycle.exposure_seconds, 2 * 86_400);
        let published = b.lifecycle.published.expect("the NVD record has a publication date");
        assert_eq!(
            b.lifecycle.exposure_since_publication_seconds,
            Some((day(2) - published).whole_seconds())
        );
        // Day 3: back again: a regression, counted.
        scan(&app, web, &["CVE-2030-0101", "CVE-2030-0103"], day(3)).await;
        let b = finding(&app, "CVE-2030-0103").await;
        assert_eq!((b.status, b.fixed_at, b.lifecycle.reopen_count), (FindingStatus::Reopened, None, 1));
        // The regression raises one alert (the scan of day 3 saw it again).
        assert_eq!(app.alert_regressions(&[web], day(3)).await.unwrap(), 1);
        assert_eq!(app.alert_regressions(&[web], day(4)).await.unwrap(), 0);
        let alerts = app.store.alerts(10).await.unwrap();
        assert_eq!(alerts[0].kind, "finding_reopened");
        assert!(alerts[0].message.contains("CVE-2030-0103"), "{}", alerts[0].message);
        // A later scan that still sees it keeps it reopened (it is open exposure).
        scan(&app, web, &["CVE-2030-0101", "CVE-2030-0103"], day(4)).await;
        assert_eq!(finding(&app, "CVE-2030-0103").await.status, FindingStatus::Reopened);

        // The day's metrics: open by priority, SLA compliance, coverage, assets.
        let rows = app.store.snapshot_metrics(day(4).date(), day(4), &[(dmz.0, 86_400)]).await.unwrap();
        assert!(rows > 0);
        let m = app.store.metrics(day(4).date(), day(4).date(), None, None).await.unwrap();
        let get = |scope: i64, metric: &str, dim: &str| {
            m.iter().find(|r| r.scope_id == scope && r.metric == metric && r.dim == dim).map(|r| r.value)
        };
        assert_eq!(get(0, "open_findings", "p1"), Some(1.0), "{m:?}");
        assert_eq!(get(0, "open_findings", "p4"), Some(1.0), "{m:?}");
        assert_eq!(get(dmz.0, "open_findings", "p1"), Some(1.0), "{m:?}");
        assert_eq!(get(0, "sla_compliance", "all"), Some(1.0), "{m:?}");
        assert_eq!(get(0, "assets_live", "all"), Some(1.0), "{m:?}");
        assert_eq!(get(0, "assets_added", "all"), Some(0.0), "{m:?}");
        // The asset was last seen (as an asset) on day 0: not covered by a daily scope on day 4.
        assert_eq!(get(dmz.0, "scan_coverage", "all"), Some(0.0), "{m:?}");
        assert!(app.store.has_metrics(day(4).date()).await.unwrap());
        // Past due on day 8: compliance drops to 1/2; re-taking a day replaces it.
        app.store.snapshot_metrics(day(8).date(), day(8), &[]).await.unwrap();
        let m8 = app.store.metrics(day(8).date(), day(8).date(), Some(0), Some("sla_compliance")).await.unwrap();
        assert_eq!(m8.iter().map(|r| r.value).collect::<Vec<_>>(), [0.5]);
        app.store.snapshot_metrics(day(8).date(), day(8), &[]).await.unwrap();
        assert_eq!(app.store.metrics(day(8).date(), day(8).date(), Some(0), Some("sla_compliance")).await.unwrap().len(), 1);

        // SLA: 0101 is P1 (7 days) since day 0: breached from day 7 on.
        let a = finding(&app, "CVE-2030-0101").await;
        assert_eq!(a.priority, Some(vantage_domain::Priority::P1));
        assert!(app.store.overdue_findings(day(6)).await.unwrap().is_empty());
        assert_eq!(app.store.overdue_findings(day(8)).await.unwrap(), vec![a.id]);

        // Time in priority: the DMZ stops being internet-facing on day 5; 0101 leaves P1 after
        // exactly five days in it.
        app.store.save_scope(&NewScope {
            exposure: ExposureClass::Isolated,
            criticality: 4,
            ..NewScope::named("DMZ")
        }, true, day(5)).await.unwrap();
        app.prioritize_at(day(5)).await.unwrap();
        let moved = finding(&app, "CVE-2030-0101").await;
        assert_ne!(moved.priority, Some(vantage_domain::Priority::P1), "{moved:?}");
        assert_eq!(moved.lifecycle.seconds_in_priority[0], 5 * 86_400, "{:?}", moved.lifecycle);
        app.store.save_scope(&NewScope {
            exposure: ExposureClass::Internet,
            criticality: 4,
            ..NewScope::named("DMZ")
        }, true, day(5)).await.unwrap();
        app.prioritize_at(day(5)).await.unwrap();
        assert_eq!(finding(&app, "CVE-2030-0101").await.priority, Some(vantage_domain::Priority::P1));

        // Accepted risk until day 10, audited; a scan does not undo it; it expires on day 10.
        let before = app.triage_finding(a.id, &Triage::AcceptedRisk {
            until: day(10),
            justification: "WAF rule blocks the vector".into(),
        }, "user:alice", day(5)).await.unwrap();
        assert_eq!(before, FindingStatus::Open);
        scan(&app, web, &["CVE-2030-0101", "CVE-2030-0103"], day(6)).await;
        let acc = finding(&app, "CVE-2030-0101").await;
        assert_eq!(acc.status, FindingStatus::AcceptedRisk);
        assert_eq!(acc.lifecycle.accepted_until, Some(day(10)));
        assert_eq!(acc.lifecycle.triage_reason.as_deref(), Some("WAF rule blocks the vector"));
        assert_eq!(acc.lifecycle.triaged_by.as_deref(), Some("user:alice"));
        // Accepted findings are not overdue.
        assert!(app.store.overdue_findings(day(8)).await.unwrap().is_empty());
        assert_eq!(app.expire_acceptances(day(9)).await.unwrap(), 0);
        assert_eq!(app.expire_acceptances(day(10)).await.unwrap(), 1);
        assert_eq!(finding(&app, "CVE-2030-0101").await.status, FindingStatus::Open);

        // False positive needs a reason; audited with before and after.
        let b = finding(&app, "CVE-2030-0103").await;
        let err = app.triage_finding(b.id, &Triage::FalsePositive { reason: " ".into() }, "user:alice", day(11)).await.unwrap_err();
        assert!(err.to_string().contains("reason"), "{err}");
        app.triage_finding(b.id, &Triage::FalsePositive { reason: "backported fix".into() }, "user:alice", day(11)).await.unwrap();
        assert_eq!(finding(&app, "CVE-2030-0103").await.status, FindingStatus::FalsePositive);
        let audit = app.store.recent_audit(10).await.unwrap();
        let actions: Vec<(&str, &str)> = audit.iter().map(|e| (e.action.as_str(), e.actor.as_str())).collect();
        assert_eq!(&actions[..3], &[
            ("finding.false_positive", "user:alice"),
            ("finding.acceptance_expired", "system"),
            ("finding.accept_risk", "user:alice"),
        ]);
        assert!(audit[0].detail.contains("status reopened -> false_positive; reason: backported fix"), "{}", audit[0].detail);
        assert!(audit[2].detail.contains("until 2030-03-12T08:00:00Z"), "{}", audit[2].detail);
        // An unknown finding is a clear error.
        let err = app.triage_finding(vantage_domain::FindingId(999_999), &Triage::Reopen { reason: String::new() }, "u", day(12)).await.unwrap_err();
        assert!(err.to_string().contains("999999"), "{err}");
    }

    async fn the_scheduler_queues_due_runs_once_and_recovers_jobs(db) {
        let mut config = Config::default();
        config.scheduler.max_attempts = 2;
        config.scheduler.retry_base_secs = 30;
        let app = Arc::new(App::from_parts(config, db.store.clone()));
        // An asset stored before the scopes exist joins by rule when they are applied.
        let early = app.store.upsert_asset(&NewAsset {
            kind: AssetKind::Host,
            name: "early".into(),
            os: None,
            identifiers: vec![Identifier::new(IdentifierKind::Ip, "127.0.0.1")],
            tags: vec![],
            seen_at: DAY0,
        }).await.unwrap();
        let doc = vantage_app::scopes::parse_scopes(r#"
            [[scope]]
            name = "lab"
            ranges = ["127.0.0.1"]
            frequency = "hourly"
            criticality = 5
            collectors = [{ kind = "network", ports = "1", service_detection = false }]

            [[scope]]
            name = "quiet"
            ranges = ["127.0.0.2"]
            frequency = "manual"
            collectors = [{ kind = "network" }]
        "#, "scopes.toml").unwrap();
        let applied = app.apply_scopes(&doc, "test").await.unwrap();
        assert_eq!(applied.iter().map(|a| (a.name.as_str(), a.action)).collect::<Vec<_>>(), [("lab", "created"), ("quiet", "created")]);
        let lab_id = app.store.scope_by_name("lab").await.unwrap().unwrap().id;
        let members = app.store.list_assets(&vantage_domain::AssetFilter { scope: Some(lab_id), limit: 10, ..Default::default() }).await.unwrap().items;
        assert_eq!(members.iter().map(|a| a.id).collect::<Vec<_>>(), [early]);
        // Applying again updates; a bad document changes nothing and names the scope and field.
        assert_eq!(app.apply_scopes(&doc, "test").await.unwrap()[0].action, "updated");
        let bad = vantage_app::scopes::parse_scopes(r#"
            [[scope]]
            name = "lab"
            frequency = "61 * * * *"
        "#, "bad.toml").unwrap();
        let err = app.apply_scopes(&bad, "test").await.unwrap_err().to_string();
        assert!(err.contains("scope `lab`") && err.contains("frequency"), "{err}");
        let err = vantage_app::scopes::parse_scopes("[[scope]]\nname = \"x\"\nfrequncy = \"daily\"\n", "typo.toml").unwrap_err().to_string();
        assert!(err.contains("typo.toml") && err.contains("frequncy"), "{err}");
        assert_eq!(app.store.scope_by_name("lab").await.unwrap().unwrap().frequency.to_string(), "hourly");

        let t0 = datetime!(2026-03-02 08:10 UTC);
        // Never planned: due at once; only the hourly scope.
        let r = app.scheduler_tick(t0).await.unwrap();
        assert_eq!(r.scheduled.len(), 1);
        assert_eq!(r.scheduled[0].0, "lab");
        assert_eq!(r.scheduled[0].1.len(), 1);
        let first = r.scheduled[0].1[0];
        let lab = app.store.scope_by_name("lab").await.unwrap().unwrap();
        assert_eq!(lab.next_run_at, Some(datetime!(2026-03-02 09:00 UTC)));
        // Not due again before 09:00.
        assert!(app.scheduler_tick(t0 + Duration::minutes(20)).await.unwrap().scheduled.is_empty());
        // The server was down until 13:30: the missed runs collapse into one, and since the
        // first run is still queued, none is added (the schedule moves on).
        let r = app.scheduler_tick(datetime!(2026-03-02 13:30 UTC)).await.unwrap();
        assert_eq!(r.scheduled, vec![("lab".to_string(), vec![])]);
        let lab = app.store.scope_by_name("lab").await.unwrap().unwrap();
        assert_eq!(lab.next_run_at, Some(datetime!(2026-03-02 14:00 UTC)));
        // A worker claims and runs it: done, with its log.
        let now = OffsetDateTime::now_utc();
        let job = app.store.claim_next_job(vantage_app::schedule::WORKER_KINDS, "w1", now, 60).await.unwrap().unwrap();
        assert_eq!((job.id, job.kind, job.attempt), (first, JobKind::NetworkScan, 1));
        assert!(app.store.claim_next_job(vantage_app::schedule::WORKER_KINDS, "w2", now, 60).await.unwrap().is_none(),
            "a claimed job is nobody else's");
        app.run_claimed(job, "w1", &app.config.scheduler).await;
        let j = app.store.job(first).await.unwrap().unwrap();
        assert_eq!(j.status, JobStatus::Done, "{j:?}");
        assert!(j.result.as_deref().unwrap().contains("network scan run"), "{j:?}");
        let log = app.store.job_logs(first).await.unwrap();
        assert!(log[0].2.starts_with("started by w1 (attempt 1/2)"), "{log:?}");
        assert!(log.last().unwrap().2.starts_with("done: network scan run"), "{log:?}");
        // The next due time queues exactly one new run.
        let r = app.scheduler_tick(datetime!(2026-03-02 14:00 UTC)).await.unwrap();
        assert_eq!(r.scheduled.len(), 1);
        assert_eq!(r.scheduled[0].1.len(), 1);
        let second = r.scheduled[0].1[0];

        // A worker that dies: its lease expires, any tick queues the job again, and the dead
        // worker's late report is refused.
        let now = OffsetDateTime::now_utc();
        let job = app.store.claim_next_job(vantage_app::schedule::WORKER_KINDS, "dead", now, 5).await.unwrap().unwrap();
        assert_eq!(job.id, second);
        let r = app.scheduler_tick(now + Duration::seconds(10)).await.unwrap();
        assert_eq!(r.recovered, vec![second]);
        assert_eq!(app.store.end_job(second, "dead", Ok("late"), false, 0, now).await.unwrap(), None);
        let again = app.store.claim_next_job(vantage_app::schedule::WORKER_KINDS, "w1", now + Duration::seconds(11), 60).await.unwrap().unwrap();
        assert_eq!((again.id, again.attempt), (second, 2));
        app.run_claimed(again, "w1", &app.config.scheduler).await;
        let j = app.store.job(second).await.unwrap().unwrap();
        assert_eq!((j.status, j.attempts), (JobStatus::Done, 2));
        let log: Vec<String> = app.store.job_logs(second).await.unwrap().into_iter().map(|l| l.2).collect();
        assert_eq!(log.iter().filter(|l| l.starts_with("done:")).count(), 1, "{log:?}");
        assert!(log.iter().any(|l| l.contains("lease expired")), "{log:?}");

        // Retries with backoff, then failure: a job whose targets leave its scope is refused.
        let bad = app.store.queue_job(JobKind::NetworkScan, Some(lab.id.0),
            r#"{"targets":["127.0.0.9"],"scope":"lab","ports":"1"}"#, "test", 2, now).await.unwrap();
        let job = app.store.claim_next_job(vantage_app::schedule::WORKER_KINDS, "w1", now, 60).await.unwrap().unwrap();
        app.run_claimed(job, "w1", &app.config.scheduler).await;
        let j = app.store.job(bad).await.unwrap().unwrap();
        assert_eq!(j.status, JobStatus::Queued, "{j:?}");
        assert!(j.run_after >= OffsetDateTime::now_utc() + Duration::seconds(25), "retried after the backoff: {j:?}");
        assert!(j.error.as_deref().unwrap().contains("127.0.0.9"), "{j:?}");
        let job = app.store.claim_next_job(vantage_app::schedule::WORKER_KINDS, "w1", j.run_after, 60).await.unwrap().unwrap();
        app.run_claimed(job, "w1", &app.config.scheduler).await;
        let j = app.store.job(bad).await.unwrap().unwrap();
        assert_eq!((j.status, j.attempts), (JobStatus::Failed, 2), "{j:?}");

        // Cancel: a queued job at once.
        let ids = app.run_scope_now("quiet", "user:alice").await.unwrap();
        assert_eq!(app.store.cancel_job(ids[0], now).await.unwrap(), Some(JobStatus::Cancelled));
        assert!(app.store.claim_next_job(vantage_app::schedule::WORKER_KINDS, "w1", now + Duration::hours(2), 60).await.unwrap().is_none());
        assert_eq!(app.store.cancel_job(987_654, now).await.unwrap(), None);
        // Jobs list filters.
        let all = app.store.list_jobs(&vantage_store::JobFilter { scope: Some(lab.id.0), limit: 10, ..Default::default() }).await.unwrap();
        assert_eq!(all.len(), 3);
        assert_eq!(all[0].id.0, bad);
    }
}

/// A vulnerability with one CVSS vector and the given EPSS / KEV facts.
fn vuln(vector: &str, epss: f64, kev: bool, cwes: &[&str]) -> PathVuln {
    PathVuln {
        vectors: vec![("3.1".into(), vector.into(), true)],
        cwes: cwes.iter().map(|c| c.to_string()).collect(),
        epss: Some(epss),
        kev,
    }
}

fn pf(id: i64, asset: i64, vuln: &str, kind: &str, component: &str) -> PathFinding {
    PathFinding {
        id,
        asset_id: asset,
        vuln_id: vuln.into(),
        component_kind: kind.into(),
        component: component.into(),
    }
}

fn test_scope(
    id: i64,
    name: &str,
    exposure: ExposureClass,
    criticality: u8,
) -> vantage_domain::Scope {
    NewScope {
        exposure,
        criticality,
        ..NewScope::named(name)
    }
    .to_scope(vantage_domain::ScopeId(id))
}

/// A DMZ web server (1) with a remote pre-auth flaw and a local escalation; an internal app
/// server (2) reachable from the DMZ's zone? No: the DMZ scope is internet-facing, the app
/// server sits in "Core" (internal, criticality 5) with the web server also a member of Core
/// (dual-homed). The database (3) is in Core with a remote flaw needing low privileges; a
/// workstation (4) in an isolated scope has a critical flaw but no path.
#[test]
fn attack_paths_on_a_hand_built_network() {
    let remote = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H";
    let remote_auth = "CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H";
    let local = "CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H";
    let input = PathInput {
        assets: vec![
            (1, "web".into()),
            (2, "app".into()),
            (3, "db".into()),
            (4, "ws".into()),
        ],
        memberships: vec![(1, 10), (1, 20), (2, 20), (3, 20), (4, 30)],
        services: vec![
            (1, "tcp".into(), 443),
            (2, "tcp".into(), 8080),
            (3, "tcp".into(), 5432),
            (4, "tcp".into(), 3389),
        ],
        exposures: vec![],
        internet_exposed: vec![],
        findings: vec![
            pf(101, 1, "CVE-A", "service", "tcp/443"), // web: remote pre-auth, KEV
            pf(102, 1, "CVE-B", "package", "kernel"),  // web: local escalation
            pf(103, 1, "CVE-C", "package", "openssl"), // web: remote pre-auth, low EPSS (alternative entry)
            pf(201, 2, "CVE-D", "service", "tcp/8080"), // app: remote with low privileges
            pf(301, 3, "CVE-E", "service", "tcp/5432"), // db: remote pre-auth
            pf(302, 3, "CVE-F", "package", "libfoo"),  // db: local
            pf(401, 4, "CVE-A", "service", "tcp/3389"), // ws: isolated: no path
            pf(402, 1, "CVE-G", "package", "docs"),    // web: physical: unusable
        ],
        vulns: [
            ("CVE-A", vuln(remote, 0.5, true, &[])),
            ("CVE-B", vuln(local, 0.2, false, &[])),
            ("CVE-C", vuln(remote, 0.02, false, &[])),
            ("CVE-D", vuln(remote_auth, 0.3, false, &[])),
            ("CVE-E", vuln(remote, 0.1, false, &[])),
            ("CVE-F", vuln(local, 0.05, false, &[])),
            (
                "CVE-G",
                vuln(
                    "CVSS:3.1/AV:P/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
                    0.9,
                    false,
                    &[],
                ),
            ),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect(),
    };
    let scopes = vec![
        test_scope(10, "DMZ", ExposureClass::Internet, 3),
        test_scope(20, "Core", ExposureClass::Internal, 5),
        test_scope(30, "Lab", ExposureClass::Isolated, 5),
    ];
    let critical: HashSet<i64> = scopes
        .iter()
        .filter(|s| vantage_app::paths::is_critical(s))
        .map(|s| s.id.0)
        .collect();
    assert_eq!(critical, HashSet::from([20, 30]));
    let a = vantage_app::paths::analyze(&input, &scopes, &critical);
    assert_eq!(a.targets, 4, "web, app, db (Core) and ws (Lab)");
    assert_eq!(
        a.entry_points, 2,
        "CVE-A and CVE-C on the internet-facing web server"
    );
    let by_target: std::collections::HashMap<&str, &vantage_app::paths::AttackPath> =
        a.paths.iter().map(|p| (p.target.as_str(), p)).collect();
    assert!(
        !by_target.contains_key("ws"),
        "the isolated workstation has no path"
    );
    // Web: the KEV entry alone (user 0.9 × 0.7 = 0.63) beats going on to admin through the
    // local escalation (0.9 × 0.2 × 1.0 = 0.18).
    let web = by_target["web"];
    assert_eq!(web.access, "user");
    assert!((web.likelihood - 0.9).abs() < 1e-9, "{web:?}");
    assert!((web.score - 0.63).abs() < 1e-9, "{web:?}");
    assert_eq!(
        web.steps.iter().map(|s| s.finding_id).collect::<Vec<_>>(),
        [101]
    );
    // DB: through the web server's foothold into Core, then CVE-E (0.1): user 0.09 × 0.7 vs
    // admin via CVE-F 0.0045: user wins.
    let db = by_target["db"];
    assert_eq!(
        db.steps.iter().map(|s| s.finding_id).collect::<Vec<_>>(),
        [101, 301]
    );
    assert_eq!(db.access, "user");
    assert!((db.likelihood - 0.09).abs() < 1e-9, "{db:?}");
    // App: web foothold, then the authenticated remote flaw.
    assert_eq!(
        by_target["app"]
            .steps
            .iter()
            .map(|s| s.finding_id)
            .collect::<Vec<_>>(),
        [101, 201]
    );
    // Ranked by score.
    assert!(a.paths.windows(2).all(|w| w[0].score >= w[1].score));
    assert_eq!(a.paths[0].rank, 1);
    // Choke points: the only way into the app server (CVE-D) and into the database (CVE-E)
    // each cut one target; CVE-A cuts none (CVE-C is a second way in) but is on every best path.
    let cuts: Vec<(i64, usize, usize)> = a
        .choke_points
        .iter()
        .map(|c| (c.finding_id, c.targets_cut, c.paths_through))
        .collect();
    assert_eq!(cuts, [(201, 1, 1), (301, 1, 1), (101, 0, 3)]);
    // Without the alternative entry, CVE-A cuts web, app and db off.
    let mut single = input.clone();
    single.findings.retain(|f| f.id != 103);
    let b = vantage_app::paths::analyze(&single, &scopes, &critical);
    assert_eq!(
        (b.choke_points[0].finding_id, b.choke_points[0].targets_cut),
        (101, 3)
    );
    let db_only = b.choke_points.iter().find(|c| c.finding_id == 301).unwrap();
    assert_eq!(db_only.targets_cut, 1, "CVE-E cuts the database off");
    // On a path: 101, 102, 103, 201, 301, 302; not: 401 (isolated), 402 (physical).
    assert_eq!(a.on_path_ids, vec![101, 102, 103, 201, 301, 302]);
    assert_eq!((a.findings_on_path, a.findings_off_path), (6, 2));
    // Cloud firewall rules that do not open 443 close the entry.
    let mut fw = input.clone();
    fw.exposures = vec![(1, "tcp".into(), 22, 22)];
    fw.findings.retain(|f| f.id != 103);
    let c = vantage_app::paths::analyze(&fw, &scopes, &critical);
    assert!(c.paths.is_empty(), "{:?}", c.paths);
    // Credentials stolen on an admin-owned web server open every Core member with a service.
    let mut creds = single.clone();
    creds
        .findings
        .push(pf(103, 1, "CVE-H", "package", "config-file"));
    creds
        .vulns
        .insert("CVE-H".into(), vuln(local, 0.0, false, &["CWE-798"]));
    creds
        .findings
        .retain(|f| f.id != 201 && f.id != 301 && f.id != 302);
    let d = vantage_app::paths::analyze(&creds, &scopes, &critical);
    let app_path = d.paths.iter().find(|p| p.target == "app").unwrap();
    assert_eq!(
        app_path.steps.iter().map(|s| s.action).collect::<Vec<_>>(),
        ["exploit", "escalate", "steal-credentials"]
    );
}
