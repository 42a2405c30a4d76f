//! The store suite: every test runs on SQLite and on PostgreSQL (`<name>::sqlite`,
//! `<name>::postgres`), each on its own fresh database.

use time::Duration;
use vantage_domain::{
    AssetFilter, AssetKind, Cursor, FindingFilter, FindingStatus, Identifier, IdentifierKind,
    Priority, Role, ScopeId, StatusFilter, Tag,
};
use vantage_store::{LATEST_MIGRATION, NewScope, StoreError};
use vantage_test_utils::{both_backends, host, package_finding, t0};

both_backends! {
    async fn migrations_are_applied_once_and_are_idempotent(db) {
        assert_eq!(db.store.schema_version().await.unwrap(), LATEST_MIGRATION);
        db.store.migrate().await.unwrap();
        db.store.migrate().await.unwrap();
        assert_eq!(db.store.schema_version().await.unwrap(), LATEST_MIGRATION);
        db.store.ping().await.unwrap();
        db.store.refresh_statistics().await.unwrap();
    }

    async fn settings_round_trip(db) {
        assert_eq!(db.store.setting("instance").await.unwrap(), None);
        db.store.set_setting("instance", "a").await.unwrap();
        db.store.set_setting("instance", "b").await.unwrap();
        assert_eq!(db.store.setting("instance").await.unwrap().as_deref(), Some("b"));
    }

    async fn sightings_sharing_an_identifier_are_one_asset(db) {
        let s = &db.store;
        let a = s.upsert_asset(&host("web1", "127.0.0.10", t0())).await.unwrap();
        let mut again = host("web1", "127.0.0.10", t0() + Duration::hours(1));
        again.identifiers.push(Identifier::new(IdentifierKind::Fqdn, "Web1.Example.TEST"));
        again.tags.push(Tag { key: "env".into(), value: "prod".into() });
        let b = s.upsert_asset(&again).await.unwrap();
        assert_eq!(a, b);
        let asset = s.asset(a).await.unwrap().unwrap();
        assert_eq!(asset.first_seen, t0());
        assert_eq!(asset.last_seen, t0() + Duration::hours(1));
        assert!(asset.identifiers.contains(&Identifier::new(IdentifierKind::Fqdn, "web1.example.test")));
        assert_eq!(asset.tags, vec![Tag { key: "env".into(), value: "prod".into() }]);
        // An older sighting never moves last_seen back.
        s.upsert_asset(&host("web1", "127.0.0.10", t0())).await.unwrap();
        assert_eq!(s.asset(a).await.unwrap().unwrap().last_seen, t0() + Duration::hours(1));
        let other = s.upsert_asset(&host("web2", "127.0.0.11", t0())).await.unwrap();
        assert_ne!(a, other);
    }

    async fn an_asset_without_identifiers_is_refused(db) {
        let mut a = host("x", "127.0.0.1", t0());
        a.identifiers.clear();
        assert!(matches!(db.store.upsert_asset(&a).await, Err(StoreError::Invalid(_))));
        assert_eq!(db.store.count_live_assets().await.unwrap(), 0);
    }

    async fn assets_resolve_by_id_name_and_identifier(db) {
        let s = &db.store;
        let a = s.upsert_asset(&host("db1", "127.0.0.20", t0())).await.unwrap();
        assert_eq!(s.resolve_asset(&a.0.to_string()).await.unwrap(), vec![a]);
        assert_eq!(s.resolve_asset("db1").await.unwrap(), vec![a]);
        assert_eq!(s.resolve_asset("127.0.0.20").await.unwrap(), vec![a]);
        assert_eq!(s.resolve_asset("DB1").await.unwrap(), vec![a]);
        assert!(s.resolve_asset("nope").await.unwrap().is_empty());
    }

    async fn asset_lists_paginate_and_filter(db) {
        let s = &db.store;
        let mut ids = Vec::new();
        for i in 0..250 {
            ids.push(s.upsert_asset(&host(&format!("h{i:03}"), &format!("127.0.1.{}", i), t0())).await.unwrap());
        }
        let scope = s.create_scope(&NewScope::named("dmz"), t0()).await.unwrap();
        s.add_scope_members(scope, &ids[..30]).await.unwrap();

        let mut seen = Vec::new();
        let mut f = AssetFilter { limit: 100, ..Default::default() };
        loop {
            let page = s.list_assets(&f).await.unwrap();
            seen.extend(page.items.iter().map(|a| a.id));
            match page.next_cursor {
                Some(c) => f.cursor = Some(Cursor::decode(&c).unwrap()),
                None => break,
            }
        }
        assert_eq!(seen, ids, "every asset exactly once, in id order");

        let dmz = s.list_assets(&AssetFilter { scope: Some(scope), limit: 1000, ..Default::default() }).await.unwrap();
        assert_eq!(dmz.items.len(), 30);
        assert!(dmz.items.iter().all(|a| a.scopes == vec![scope]));
        let search = s.list_assets(&AssetFilter { search: Some("H24".into()), limit: 1000, ..Default::default() }).await.unwrap();
        assert_eq!(search.items.len(), 10, "h240..h249");
        let none = s.list_assets(&AssetFilter { visible_scopes: Some(vec![]), limit: 10, ..Default::default() }).await.unwrap();
        assert!(none.items.is_empty(), "a user with no scope sees nothing");
        let images = s.list_assets(&AssetFilter { kind: Some(AssetKind::ContainerImage), limit: 10, ..Default::default() }).await.unwrap();
        assert!(images.items.is_empty());
    }

    async fn scopes_have_unique_names_and_validated_fields(db) {
        let s = &db.store;
        let id = s.create_scope(&NewScope::named("Production"), t0()).await.unwrap();
        assert!(matches!(s.create_scope(&NewScope::named("Production"), t0()).await, Err(StoreError::Conflict { .. })));
        let mut bad = NewScope::named("bad");
        bad.criticality = 9;
        assert!(matches!(s.create_scope(&bad, t0()).await, Err(StoreError::Invalid(_))));
        let got = s.scope_by_name("Production").await.unwrap().unwrap();
        assert_eq!(got.id, id);
        assert_eq!(got.sla.p1_days, 7);
        assert_eq!(s.scope(id).await.unwrap().unwrap().name, "Production");
        assert_eq!(s.list_scopes().await.unwrap().len(), 1);
    }

    async fn findings_bulk_upsert_is_idempotent_and_keeps_first_detection(db) {
        let s = &db.store;
        let a = s.upsert_asset(&host("h", "127.0.0.30", t0())).await.unwrap();
        let batch: Vec<_> = (0..2500).map(|i| package_finding(a, &format!("CVE-2024-{:05}", i), "openssl", t0())).collect();
        assert_eq!(s.upsert_findings(&batch).await.unwrap(), 2500);
        assert_eq!(s.count_findings().await.unwrap(), 2500);
        let later: Vec<_> = batch.iter().cloned().map(|mut f| { f.seen_at = t0() + Duration::days(1); f }).collect();
        s.upsert_findings(&later).await.unwrap();
        assert_eq!(s.count_findings().await.unwrap(), 2500);
        let page = s.list_findings(&FindingFilter { limit: 1, ..Default::default() }).await.unwrap();
        let f = &page.items[0];
        assert_eq!(f.first_detected, t0());
        assert_eq!(f.last_seen, t0() + Duration::days(1));
        assert_eq!(f.asset_name, "h");
        assert_eq!(f.evidence.fixed_version.as_deref(), Some("1.0-2"));
    }

    async fn duplicates_inside_one_batch_are_merged(db) {
        let s = &db.store;
        let a = s.upsert_asset(&host("h", "127.0.0.31", t0())).await.unwrap();
        let mut second = package_finding(a, "CVE-2024-0001", "zlib", t0());
        second.evidence.fixed_version = Some("9".into());
        let batch = vec![package_finding(a, "CVE-2024-0001", "zlib", t0()), second];
        assert_eq!(s.upsert_findings(&batch).await.unwrap(), 1);
        let page = s.list_findings(&FindingFilter { limit: 10, ..Default::default() }).await.unwrap();
        assert_eq!(page.items[0].evidence.fixed_version.as_deref(), Some("9"), "the last report wins");
    }

    async fn a_failing_batch_writes_nothing(db) {
        let s = &db.store;
        let a = s.upsert_asset(&host("h", "127.0.0.32", t0())).await.unwrap();
        let mut batch: Vec<_> = (0..1500).map(|i| package_finding(a, &format!("CVE-2023-{:05}", i), "p", t0())).collect();
        // The last row points at an asset that does not exist: the foreign key fails.
        batch.push(package_finding(vantage_domain::AssetId(a.0 + 1000), "CVE-2023-99999", "p", t0()));
        assert!(s.upsert_findings(&batch).await.is_err());
        assert_eq!(s.count_findings().await.unwrap(), 0, "no half-applied batch");
    }

    async fn a_fixed_finding_seen_again_is_reopened(db) {
        let s = &db.store;
        let a = s.upsert_asset(&host("h", "127.0.0.33", t0())).await.unwrap();
        s.upsert_findings(&[package_finding(a, "CVE-2024-3094", "xz-utils", t0())]).await.unwrap();
        let id = s.list_findings(&FindingFilter { limit: 1, ..Default::default() }).await.unwrap().items[0].id;
        s.set_finding_status(id, FindingStatus::Fixed, t0() + Duration::days(1)).await.unwrap();
        let fixed = s.finding(id).await.unwrap().unwrap();
        assert_eq!((fixed.status, fixed.fixed_at), (FindingStatus::Fixed, Some(t0() + Duration::days(1))));
        assert!(s.list_findings(&FindingFilter { limit: 10, ..Default::default() }).await.unwrap().items.is_empty(),
            "fixed findings are not in the default (open) list");
        s.upsert_findings(&[package_finding(a, "CVE-2024-3094", "xz-utils", t0() + Duration::days(2))]).await.unwrap();
        let again = s.finding(id).await.unwrap().unwrap();
        assert_eq!((again.status, again.fixed_at), (FindingStatus::Reopened, None));
        assert!(matches!(
            s.set_finding_status(vantage_domain::FindingId(id.0 + 99), FindingStatus::Fixed, t0()).await,
            Err(StoreError::NotFound { .. })
        ));
    }

    async fn finding_lists_filter_and_paginate(db) {
        let s = &db.store;
        let a = s.upsert_asset(&host("a", "127.0.0.40", t0())).await.unwrap();
        let b = s.upsert_asset(&host("b", "127.0.0.41", t0())).await.unwrap();
        let prod = s.create_scope(&NewScope::named("prod"), t0()).await.unwrap();
        s.add_scope_members(prod, &[a]).await.unwrap();
        let mut batch = Vec::new();
        for i in 0..120 {
            let mut f = package_finding(if i % 2 == 0 { a } else { b }, &format!("CVE-2022-{:05}", i), "pkg", t0());
            f.priority = Some(if i % 4 == 0 { Priority::P1 } else { Priority::P3 });
            f.score = Some(7.5);
            batch.push(f);
        }
        s.upsert_findings(&batch).await.unwrap();
        let list = |f: FindingFilter| async move { s.list_findings(&FindingFilter { limit: 1000, ..f }).await.unwrap().items };

        assert_eq!(list(FindingFilter { asset: Some(a), ..Default::default() }).await.len(), 60);
        assert_eq!(list(FindingFilter { scope: Some(prod), ..Default::default() }).await.len(), 60);
        assert_eq!(list(FindingFilter { priority: Some(Priority::P1), ..Default::default() }).await.len(), 30);
        let one = list(FindingFilter { vuln: Some("CVE-2022-00007".parse().unwrap()), ..Default::default() }).await;
        assert_eq!((one.len(), one[0].asset_id, one[0].priority), (1, b, Some(Priority::P3)));
        assert_eq!(list(FindingFilter { visible_scopes: Some(vec![prod]), ..Default::default() }).await.len(), 60);
        assert_eq!(list(FindingFilter { visible_scopes: Some(vec![ScopeId(prod.0 + 1)]), ..Default::default() }).await.len(), 0);

        let first = one[0].id;
        s.set_finding_status(first, FindingStatus::FalsePositive, t0()).await.unwrap();
        assert_eq!(list(FindingFilter::default()).await.len(), 119);
        assert_eq!(list(FindingFilter { status: StatusFilter::All, ..Default::default() }).await.len(), 120);
        assert_eq!(list(FindingFilter { status: StatusFilter::Only(FindingStatus::FalsePositive), ..Default::default() }).await.len(), 1);

        // Keyset pagination visits every row once.
        let mut f = FindingFilter { limit: 50, status: StatusFilter::All, ..Default::default() };
        let mut n = 0;
        let mut pages = 0;
        loop {
            let page = s.list_findings(&f).await.unwrap();
            n += page.items.len();
            pages += 1;
            match page.next_cursor { Some(c) => f.cursor = Some(Cursor::decode(&c).unwrap()), None => break }
        }
        assert_eq!((n, pages), (120, 3));
    }

    async fn users_and_tokens(db) {
        let s = &db.store;
        let u = s.create_user("alice", "$argon2id$fake", Role::Analyst, t0()).await.unwrap();
        assert!(matches!(s.create_user("alice", "x", Role::Viewer, t0()).await, Err(StoreError::Conflict { .. })));
        assert_eq!(s.count_users().await.unwrap(), 1);
        let got = s.user_by_name("alice").await.unwrap().unwrap();
        assert_eq!((got.user.id, got.user.role, got.password_hash.as_str()), (u, Role::Analyst, "$argon2id$fake"));
        s.set_password_hash(u, "$argon2id$new").await.unwrap();
        assert_eq!(s.user_by_name("alice").await.unwrap().unwrap().password_hash, "$argon2id$new");

        s.create_api_token(u, "ci", "hash-1", t0(), None).await.unwrap();
        s.create_api_token(u, "old", "hash-2", t0(), Some(t0() + Duration::hours(1))).await.unwrap();
        let owner = s.token_owner("hash-1", t0()).await.unwrap().unwrap();
        assert_eq!((owner.user.username.as_str(), owner.token.name.as_str()), ("alice", "ci"));
        assert_eq!(owner.visible_scopes, None);
        assert!(s.token_owner("hash-2", t0()).await.unwrap().is_some());
        assert!(s.token_owner("hash-2", t0() + Duration::hours(2)).await.unwrap().is_none(), "expired");
        assert!(s.token_owner("nope", t0()).await.unwrap().is_none());

        let scope = s.create_scope(&NewScope::named("test"), t0()).await.unwrap();
        s.restrict_user_scopes(u, &[scope]).await.unwrap();
        assert_eq!(s.token_owner("hash-1", t0()).await.unwrap().unwrap().visible_scopes, Some(vec![scope]));
    }

    async fn audit_events_are_kept_newest_first(db) {
        let s = &db.store;
        s.record_audit(t0(), "system", "user.create", ("user", "1"), "first admin").await.unwrap();
        s.record_audit(t0(), "user:admin", "token.create", ("token", "1"), "").await.unwrap();
        let ev = s.recent_audit(10).await.unwrap();
        assert_eq!(ev.iter().map(|e| e.action.as_str()).collect::<Vec<_>>(), ["token.create", "user.create"]);
    }
}

#[tokio::test]
async fn a_bad_url_is_refused_with_a_clear_error() {
    let opts = vantage_store::ConnectOptions {
        acquire_timeout: std::time::Duration::from_secs(2),
        ..Default::default()
    };
    let err = vantage_store::Store::connect("mysql://x", &opts)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("unsupported database URL"), "{err}");
    let err = vantage_store::Store::connect("postgres://u:pw@127.0.0.1:1/db", &opts)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("cannot connect") && !err.contains("pw@"),
        "{err}"
    );
}
