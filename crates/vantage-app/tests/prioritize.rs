//! Prioritization over stored findings, on SQLite and PostgreSQL: contextual scores, derived
//! vectors, explanations, the incremental re-run after a new EPSS day, history, and assets
//! changing scopes.

use std::path::{Path, PathBuf};

use time::OffsetDateTime;
use vantage_app::feeds::ImportOptions;
use vantage_app::{App, Config};
use vantage_domain::{
    AssetId, AssetKind, ComponentKind, Evidence, ExposureClass, Finding, FindingFilter, Identifier,
    IdentifierKind, NewAsset, NewFinding, Priority, PriorityModel, StatusFilter,
};
use vantage_store::NewScope;
use vantage_test_utils::both_backends;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/priority")
        .join(name)
}

async fn asset(app: &App, name: &str) -> AssetId {
    app.store
        .upsert_asset(&NewAsset {
            kind: AssetKind::Host,
            name: name.into(),
            os: Some("debian:12".into()),
            identifiers: vec![Identifier::new(IdentifierKind::Hostname, name)],
            tags: vec![],
            seen_at: OffsetDateTime::now_utc(),
        })
        .await
        .unwrap()
}

fn finding(asset: AssetId, cve: &str) -> NewFinding {
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
        seen_at: OffsetDateTime::now_utc(),
    }
}

async fn findings(app: &App) -> Vec<Finding> {
    let f = FindingFilter {
        status: StatusFilter::All,
        limit: 1000,
        ..Default::default()
    };
    let mut all = app.store.list_findings(&f).await.unwrap().items;
    all.sort_by_key(|f| (f.asset_name.clone(), f.vuln_id.as_str().to_string()));
    all
}

fn summary(all: &[Finding]) -> Vec<(String, String, Option<Priority>, String)> {
    all.iter()
        .map(|f| {
            (
                f.asset_name.clone(),
                f.vuln_id.as_str().to_string(),
                f.priority,
                f.prioritization
                    .as_ref()
                    .map(|p| p.result.explanation.clone())
                    .unwrap_or_default(),
            )
        })
        .collect()
}

both_backends! {
    async fn findings_are_prioritized_incrementally_with_explanations(db) {
        let app = App::from_parts(Config::default(), db.store.clone());
        let o = ImportOptions::default();
        for f in ["nvd.jsonl", "kev.json", "epss_scores-2030-03-01.csv"] {
            app.import_feed(&fixture(f), &o).await.unwrap();
        }
        let now = OffsetDateTime::now_utc();
        let dmz = app.store.create_scope(&NewScope {
            exposure: ExposureClass::Internet,
            criticality: 4,
            ..NewScope::named("DMZ")
        }, now).await.unwrap();
        let lab = app.store.create_scope(&NewScope {
            exposure: ExposureClass::Isolated,
            criticality: 5,
            priority_model: PriorityModel::Ssvc,
            ..NewScope::named("Lab")
        }, now).await.unwrap();
        let web = asset(&app, "web").await;
        let lab1 = asset(&app, "lab1").await;
        let loose = asset(&app, "loose").await;
        app.store.add_scope_members(dmz, &[web]).await.unwrap();
        app.store.add_scope_members(lab, &[lab1]).await.unwrap();
        app.store.upsert_findings(&[
            finding(web, "CVE-2030-0101"),
            finding(web, "CVE-2030-0103"),
            finding(lab1, "CVE-2030-0101"),
            finding(loose, "CVE-2030-0102"),
            finding(loose, "CVE-2030-0103"),
        ]).await.unwrap();

        let r = app.run_prioritize_job("test").await.unwrap();
        assert_eq!((r.contexts, r.contexts_changed, r.findings_attached), (5, 5, 5), "{r:?}");
        assert_eq!(r.priority_changes, 5);
        assert!(r.job.is_some());
        let all = findings(&app).await;
        assert_eq!(summary(&all), vec![
            // SSVC: exploited (KEV), not automatable against an isolated asset, total technical
            // impact, high mission impact (criticality 5): CISA's table says Act.
            ("lab1".into(), "CVE-2030-0101".into(), Some(Priority::P1),
             "in CISA KEV since 2030-02-10 (ransomware), EPSS 0.94 (99.8th pct), isolated, criticality 5, CVSSv3.1 6.8 (base 9.8), SSVC Act → P1 by SSVC, due in 7 days".into()),
            // No scope: no requirements are written, so the v4.0 score is CVSS-BT.
            ("loose".into(), "CVE-2030-0102".into(), Some(Priority::P3),
             "EPSS 0.02 (80.0th pct), internal, CVSS-BT 8.1 ≥ 7.0 (base 9.3) → P3 by rule high, due in 90 days".into()),
            ("loose".into(), "CVE-2030-0103".into(), Some(Priority::P4),
             "EPSS < 0.01 (20.0th pct), internal, CVSSv3.1 5.1 (base 5.5) → P4 (no rule matched), due in 180 days".into()),
            ("web".into(), "CVE-2030-0101".into(), Some(Priority::P1),
             "in CISA KEV since 2030-02-10 (ransomware), EPSS 0.94 (99.8th pct), internet-exposed, criticality 4, CVSSv3.1 9.8 → P1 by rule exploited-exposed, due in 7 days".into()),
            ("web".into(), "CVE-2030-0103".into(), Some(Priority::P4),
             "EPSS < 0.01 (20.0th pct), internet-exposed, criticality 4, CVSSv3.1 5.1 (base 5.5) → P4 (no rule matched), due in 180 days".into()),
        ]);
        // The derived vector is stored beside the source vector, and the score is its score.
        let web0101 = all.iter().find(|f| f.asset_name == "web" && f.vuln_id.as_str() == "CVE-2030-0101").unwrap();
        let p = web0101.prioritization.as_ref().unwrap();
        assert_eq!(p.result.source_vector.as_deref(), Some("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"));
        assert_eq!(p.result.derived_vector.as_deref(), Some("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/E:H/CR:M/IR:M/AR:M"));
        assert_eq!((web0101.score, p.result.score, p.result.sla_days), (Some(9.8), Some(9.8), 7));
        assert_eq!(p.due, Some(web0101.first_detected + time::Duration::days(7)));
        let loose0102 = all.iter().find(|f| f.vuln_id.as_str() == "CVE-2030-0102").unwrap();
        assert_eq!(
            loose0102.prioritization.as_ref().unwrap().result.derived_vector.as_deref(),
            Some("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N/E:U"),
            "v4.0 preferred over v3.1; no scope: no requirements written"
        );

        // Nothing changed: nothing is written.
        let r = app.prioritize().await.unwrap();
        assert_eq!((r.contexts_changed, r.findings_updated, r.findings_attached, r.priority_changes), (0, 0, 0, 0), "{r:?}");

        // A new EPSS day: CVE-2030-0103 becomes likely; CVE-2030-0101 moves by 0.0001 (same
        // explanation, nothing to rewrite).
        app.import_feed(&fixture("epss_scores-2030-03-02.csv"), &o).await.unwrap();
        let r = app.prioritize().await.unwrap();
        assert_eq!((r.contexts_changed, r.priority_changes, r.findings_updated), (2, 2, 2), "{r:?}");
        let all = findings(&app).await;
        let web0103 = all.iter().find(|f| f.asset_name == "web" && f.vuln_id.as_str() == "CVE-2030-0103").unwrap();
        assert_eq!(web0103.priority, Some(Priority::P3));
        assert_eq!(
            web0103.prioritization.as_ref().unwrap().result.explanation,
            "EPSS 0.50 (99.5th pct ≥ 90th), internet-exposed, criticality 4, CVSSv3.1 5.1 (base 5.5) → P3 by rule likely-exploited, due in 90 days"
        );
        let history = app.store.priority_history(web0103.id).await.unwrap();
        let moves: Vec<(Option<Priority>, Priority)> = history.iter().map(|h| (h.old_priority, h.new_priority)).collect();
        assert_eq!(moves, vec![(None, Priority::P4), (Some(Priority::P4), Priority::P3)]);

        // The loose asset joins the DMZ: its findings are re-attached to DMZ contexts.
        app.store.add_scope_members(dmz, &[loose]).await.unwrap();
        let r = app.prioritize().await.unwrap();
        assert_eq!((r.assets_reprofiled, r.findings_attached), (1, 2), "{r:?}");
        let all = findings(&app).await;
        let loose0102 = all.iter().find(|f| f.vuln_id.as_str() == "CVE-2030-0102").unwrap();
        assert!(loose0102.prioritization.as_ref().unwrap().result.explanation.contains("internet-exposed"));
        assert_eq!(app.store.unprioritized_findings().await.unwrap(), 0);
    }
}
