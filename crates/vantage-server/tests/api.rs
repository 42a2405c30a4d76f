//! The API suite: the real router driven in-process (`oneshot`), on SQLite and on PostgreSQL.

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use time::OffsetDateTime;
use tower::ServiceExt;
use vantage_app::{App, Config};
use vantage_domain::{Priority, Role};
use vantage_store::NewScope;
use vantage_test_utils::{TestDb, both_backends, host, package_finding, t0};

struct Api {
    router: Router,
    app: App,
    admin_token: String,
}

impl Api {
    async fn new(db: &TestDb) -> Api {
        let app = App::from_parts(Config::default(), db.store.clone());
        let admin = app
            .store
            .create_user(
                "root",
                &vantage_app::auth::hash_password("pw-root").unwrap(),
                Role::Admin,
                t0(),
            )
            .await
            .unwrap();
        let user = app.store.user_by_name("root").await.unwrap().unwrap().user;
        assert_eq!(user.id, admin);
        let admin_token = app
            .create_api_token(&user, "test", OffsetDateTime::now_utc(), None)
            .await
            .unwrap();
        Api {
            router: vantage_server::router(app.clone()),
            app,
            admin_token,
        }
    }

    async fn call(&self, req: Request<Body>) -> (StatusCode, Value, axum::http::HeaderMap) {
        let resp = self.router.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| panic!("not JSON: {}", String::from_utf8_lossy(&bytes)))
        };
        (status, body, headers)
    }

    async fn get_as(&self, uri: &str, token: &str) -> (StatusCode, Value) {
        let req = Request::get(uri)
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .body(Body::empty())
            .unwrap();
        let (s, b, _) = self.call(req).await;
        (s, b)
    }

    async fn get(&self, uri: &str) -> (StatusCode, Value) {
        self.get_as(uri, &self.admin_token.clone()).await
    }

    /// Two assets, one in scope `prod`, with 30 findings each.
    async fn seed(&self) -> (i64, i64) {
        let s = &self.app.store;
        let a = s
            .upsert_asset(&host("web", "127.0.0.50", t0()))
            .await
            .unwrap();
        let b = s
            .upsert_asset(&host("db", "127.0.0.51", t0()))
            .await
            .unwrap();
        let prod = s
            .create_scope(&NewScope::named("prod"), t0())
            .await
            .unwrap();
        s.add_scope_members(prod, &[a]).await.unwrap();
        let mut batch = Vec::new();
        for i in 0..60 {
            let mut f = package_finding(
                if i < 30 { a } else { b },
                &format!("CVE-2025-{:05}", i),
                "openssl",
                t0(),
            );
            f.priority = Some(if i % 3 == 0 {
                Priority::P1
            } else {
                Priority::P2
            });
            batch.push(f);
        }
        s.upsert_findings(&batch).await.unwrap();
        (a.0, b.0)
    }
}

fn error_code(body: &Value) -> &str {
    body["error"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("not an error body: {body}"))
}

both_backends! {
    async fn healthz_reports_the_database(db) {
        let api = Api::new(&db).await;
        let (s, b, _) = api.call(Request::get("/healthz").body(Body::empty()).unwrap()).await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(b["status"], "ok");
        assert_eq!(b["database"], db.store.backend().as_str());
        assert_eq!(b["schema_version"], vantage_store::LATEST_MIGRATION);
    }

    async fn healthz_answers_503_when_the_database_is_gone(db) {
        let api = Api::new(&db).await;
        db.store.close().await;
        let (s, b, _) = api.call(Request::get("/healthz").body(Body::empty()).unwrap()).await;
        assert_eq!((s, error_code(&b)), (StatusCode::SERVICE_UNAVAILABLE, "unavailable"));
    }

    async fn the_api_requires_a_valid_token(db) {
        let api = Api::new(&db).await;
        let (s, b, h) = api.call(Request::get("/api/v1/findings").body(Body::empty()).unwrap()).await;
        assert_eq!((s, error_code(&b)), (StatusCode::UNAUTHORIZED, "unauthorized"));
        assert_eq!(h.get(header::WWW_AUTHENTICATE).unwrap(), "Bearer");
        let (s, _) = api.get_as("/api/v1/findings", "vtg_not-a-token").await;
        assert_eq!(s, StatusCode::UNAUTHORIZED);
        let (s, _) = api.get("/api/v1/findings").await;
        assert_eq!(s, StatusCode::OK);
    }

    async fn login_issues_tokens_for_good_credentials_only(db) {
        let api = Api::new(&db).await;
        let login = |body: Value| Request::post("/api/v1/auth/token").header(header::CONTENT_TYPE, "application/json").body(Body::from(body.to_string())).unwrap();
        let (s, b, _) = api.call(login(json!({"username": "root", "password": "wrong"}))).await;
        assert_eq!((s, error_code(&b)), (StatusCode::UNAUTHORIZED, "unauthorized"));
        let (s, b, _) = api.call(login(json!({"username": "nobody", "password": "pw-root"}))).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "{b}");
        let (s, b, _) = api.call(login(json!({"username": "root"}))).await;
        assert_eq!((s, error_code(&b)), (StatusCode::BAD_REQUEST, "bad_request"));
        assert!(b["error"]["message"].as_str().unwrap().contains("password"), "{b}");
        let (s, b, _) = api.call(login(json!({"username": "root", "password": "pw-root", "expires_in_days": 999}))).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{b}");
        let (s, b, _) = api.call(login(json!({"username": "root", "password": "pw-root", "name": "ci"}))).await;
        assert_eq!(s, StatusCode::OK, "{b}");
        let token = b["token"].as_str().unwrap();
        assert!(token.starts_with("vtg_"));
        assert_eq!(api.get_as("/api/v1/assets", token).await.0, StatusCode::OK);
    }

    async fn findings_are_filtered_and_paginated(db) {
        let api = Api::new(&db).await;
        let (a, _) = api.seed().await;
        let (s, b) = api.get("/api/v1/findings?scope=prod&status=open&limit=100").await;
        assert_eq!(s, StatusCode::OK, "{b}");
        assert_eq!(b["items"].as_array().unwrap().len(), 30);
        assert!(b["items"].as_array().unwrap().iter().all(|f| f["asset_id"] == a && f["asset_name"] == "web"));
        let (_, b) = api.get("/api/v1/findings?priority=p1").await;
        assert_eq!(b["items"].as_array().unwrap().len(), 20);
        let (_, b) = api.get("/api/v1/findings?cve=cve-2025-00031&asset=db").await;
        assert_eq!(b["items"][0]["vuln_id"], "CVE-2025-00031");
        assert_eq!(b["items"][0]["evidence"]["rule"], "installed 1.0-1 < fixed 1.0-2");

        let mut uri = "/api/v1/findings?limit=25".to_string();
        let mut seen = Vec::new();
        loop {
            let (s, b) = api.get(&uri).await;
            assert_eq!(s, StatusCode::OK, "{b}");
            seen.extend(b["items"].as_array().unwrap().iter().map(|f| f["id"].as_i64().unwrap()));
            match b["next_cursor"].as_str() {
                Some(c) => uri = format!("/api/v1/findings?limit=25&cursor={c}"),
                None => break,
            }
        }
        let mut sorted = seen.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!((seen.len(), sorted.len()), (60, 60), "each finding once");

        let id = seen[0];
        let (s, b) = api.get(&format!("/api/v1/findings/{id}")).await;
        assert_eq!((s, b["id"].as_i64()), (StatusCode::OK, Some(id)));
        assert!(b["prioritization"].is_null(), "not prioritized yet: {b}");

        // Prioritized: the finding carries why, and its history has the first decision.
        api.app.prioritize().await.unwrap();
        let (_, b) = api.get(&format!("/api/v1/findings/{id}")).await;
        let p = &b["prioritization"];
        assert_eq!(p["explanation"], "internal, no CVSS vector → P4 (no rule matched), due in 180 days", "{b}");
        assert_eq!(p["sla_days"], 180);
        let (s, h) = api.get(&format!("/api/v1/findings/{id}/history")).await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!((h[0]["old_priority"].is_null(), h[0]["new_priority"].as_str()), (true, Some("p4")), "{h}");
        assert_eq!(api.get("/api/v1/findings/999999/history").await.0, StatusCode::NOT_FOUND);
    }

    async fn bad_filters_get_json_errors(db) {
        let api = Api::new(&db).await;
        api.seed().await;
        for (uri, status, needle) in [
            ("/api/v1/findings?priority=p9", StatusCode::BAD_REQUEST, "unknown priority"),
            ("/api/v1/findings?status=closed", StatusCode::BAD_REQUEST, "status"),
            ("/api/v1/findings?cve=CVE-99", StatusCode::BAD_REQUEST, "CVE"),
            ("/api/v1/findings?limit=abc", StatusCode::BAD_REQUEST, "limit"),
            ("/api/v1/findings?cursor=zzz", StatusCode::BAD_REQUEST, "cursor"),
            ("/api/v1/findings?scope=nope", StatusCode::NOT_FOUND, "no scope named `nope`"),
            ("/api/v1/findings?asset=nope", StatusCode::NOT_FOUND, "no asset"),
            ("/api/v1/assets?kind=server", StatusCode::BAD_REQUEST, "unknown asset kind"),
            ("/api/v1/findings/999999", StatusCode::NOT_FOUND, "not found"),
            ("/api/v1/assets/abc", StatusCode::BAD_REQUEST, ""),
            ("/api/v1/nothing", StatusCode::NOT_FOUND, "no such route"),
        ] {
            let (s, b) = api.get(uri).await;
            assert_eq!(s, status, "{uri}: {b}");
            if !needle.is_empty() {
                assert!(b["error"]["message"].as_str().unwrap_or_default().contains(needle), "{uri}: {b}");
            }
        }
    }

    async fn the_encyclopedia_entry_is_served(db) {
        let api = Api::new(&db).await;
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("nvd.jsonl");
        std::fs::write(&f, "{\"cve\":{\"id\":\"CVE-2030-0009\",\"published\":\"2030-01-01T00:00:00\",\"lastModified\":\"2030-01-01T00:00:00\",\"descriptions\":[{\"lang\":\"en\",\"value\":\"Demo.\"}],\"metrics\":{\"cvssMetricV31\":[{\"source\":\"nvd@nist.gov\",\"type\":\"Primary\",\"cvssData\":{\"version\":\"3.1\",\"vectorString\":\"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H\",\"baseScore\":9.8}}]}}}\n").unwrap();
        api.app.import_feed(&f, &Default::default()).await.unwrap();
        let (s, b) = api.get("/api/v1/vulnerabilities/cve-2030-0009").await;
        assert_eq!(s, StatusCode::OK, "{b}");
        assert_eq!((b["id"].as_str(), b["cvss"][0]["source"].as_str(), b["cvss"][0]["feed"].as_str()), (Some("CVE-2030-0009"), Some("nvd@nist.gov"), Some("nvd")));
        assert_eq!(api.get("/api/v1/vulnerabilities/CVE-2030-0010").await.0, StatusCode::NOT_FOUND);
        let (s, b) = api.get("/api/v1/vulnerabilities?q=cve-2030&published_to=2031-01-01").await;
        assert_eq!((s, b["items"].as_array().map(Vec::len)), (StatusCode::OK, Some(1)), "{b}");
        assert_eq!((b["items"][0]["kev"].as_bool(), b["items"][0]["epss"].is_null()), (Some(false), true));
        let (_, b) = api.get("/api/v1/vulnerabilities?q=demo").await;
        assert_eq!(b["items"][0]["id"], "CVE-2030-0009", "text search in the description");
        for q in ["kev=true", "epss_min=0.5", "published_from=2031-01-01"] {
            let (_, b) = api.get(&format!("/api/v1/vulnerabilities?{q}")).await;
            assert_eq!(b["items"].as_array().map(Vec::len), Some(0), "{q}: {b}");
        }
        assert_eq!(api.get("/api/v1/vulnerabilities?epss_min=2").await.0, StatusCode::BAD_REQUEST);
        assert_eq!(api.get("/api/v1/vulnerabilities?published_from=yesterday").await.0, StatusCode::BAD_REQUEST);
        assert_eq!(api.get("/api/v1/vulnerabilities/nonsense").await.0, StatusCode::BAD_REQUEST);
    }

    async fn scope_restricted_users_see_only_their_scopes(db) {
        let api = Api::new(&db).await;
        let (a, b) = api.seed().await;
        let s = &api.app.store;
        let uid = s.create_user("auditor", "x", Role::Viewer, t0()).await.unwrap();
        let prod = s.scope_by_name("prod").await.unwrap().unwrap().id;
        s.restrict_user_scopes(uid, &[prod]).await.unwrap();
        let user = s.user_by_name("auditor").await.unwrap().unwrap().user;
        let token = api.app.create_api_token(&user, "t", OffsetDateTime::now_utc(), None).await.unwrap();

        let (_, body) = api.get_as("/api/v1/findings?limit=1000", &token).await;
        let items = body["items"].as_array().unwrap();
        assert_eq!(items.len(), 30);
        assert!(items.iter().all(|f| f["asset_id"] == a));
        let (_, body) = api.get_as("/api/v1/assets", &token).await;
        assert_eq!(body["items"].as_array().unwrap().len(), 1);
        assert_eq!(api.get_as(&format!("/api/v1/assets/{b}"), &token).await.0, StatusCode::NOT_FOUND);
        assert_eq!(api.get_as(&format!("/api/v1/assets/{a}"), &token).await.0, StatusCode::OK);
        // An asset's services: open ones, closed ones on request; hidden assets stay hidden.
        let svc = |port: u16| vantage_domain::NewService { port, name: Some("ssh".into()), product: Some("OpenSSH".into()), ..Default::default() };
        let asset = vantage_domain::AssetId(a);
        s.record_services(asset, vantage_domain::Transport::Tcp, &[svc(22), svc(2222)], &[22, 2222], t0()).await.unwrap();
        let changes = s.record_services(asset, vantage_domain::Transport::Tcp, &[svc(22)], &[22, 2222], t0()).await.unwrap();
        assert_eq!((changes.opened, changes.closed), (0, 1));
        let (st, open) = api.get_as(&format!("/api/v1/assets/{a}/services"), &token).await;
        assert_eq!(st, StatusCode::OK, "{open}");
        assert_eq!(open.as_array().unwrap().len(), 1);
        assert_eq!((open[0]["port"].as_i64(), open[0]["product"].as_str()), (Some(22), Some("OpenSSH")));
        let (_, all) = api.get_as(&format!("/api/v1/assets/{a}/services?include_closed=true"), &token).await;
        assert!(all[1]["closed_at"].is_string(), "{all}");
        assert_eq!(api.get_as(&format!("/api/v1/assets/{b}/services"), &token).await.0, StatusCode::NOT_FOUND);
        let (_, all) = api.get("/api/v1/findings?asset=db").await;
        let hidden = all["items"][0]["id"].as_i64().unwrap();
        assert_eq!(api.get_as(&format!("/api/v1/findings/{hidden}"), &token).await.0, StatusCode::NOT_FOUND);
        let (_, scopes) = api.get_as("/api/v1/scopes", &token).await;
        assert_eq!(scopes.as_array().unwrap().len(), 1);
    }

    async fn every_response_carries_the_security_headers(db) {
        let api = Api::new(&db).await;
        let bare = |uri: &str| Request::get(uri).body(Body::empty()).unwrap();
        let authed = |uri: &str| Request::get(uri).header(header::AUTHORIZATION, format!("Bearer {}", api.admin_token)).body(Body::empty()).unwrap();
        let bad_body = Request::post("/api/v1/auth/token").header(header::CONTENT_TYPE, "application/json").body(Body::from("{not json")).unwrap();
        for (what, req, status) in [
            ("health", bare("/healthz"), StatusCode::OK),
            ("no credentials", bare("/api/v1/findings"), StatusCode::UNAUTHORIZED),
            ("list", authed("/api/v1/findings"), StatusCode::OK),
            ("not found", authed("/api/v1/assets/999999"), StatusCode::NOT_FOUND),
            ("no route", authed("/nowhere"), StatusCode::NOT_FOUND),
            ("bad input", authed("/api/v1/findings?priority=p9"), StatusCode::BAD_REQUEST),
            ("malformed body", bad_body, StatusCode::BAD_REQUEST),
        ] {
            let resp = api.router.clone().oneshot(req).await.unwrap();
            assert_eq!(resp.status(), status, "{what}");
            let h = resp.headers();
            let csp = h.get(header::CONTENT_SECURITY_POLICY).and_then(|v| v.to_str().ok()).unwrap_or_default();
            assert!(csp.contains("frame-ancestors 'none'") && csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"), "{what}: {csp}");
            assert_eq!(h.get(header::X_CONTENT_TYPE_OPTIONS).unwrap(), "nosniff", "{what}");
            assert_eq!(h.get(header::X_FRAME_OPTIONS).unwrap(), "DENY", "{what}");
            assert_eq!(h.get(header::REFERRER_POLICY).unwrap(), "no-referrer", "{what}");
        }
    }

    async fn mobilization_endpoints_filter_by_scope_and_role(db) {
        let api = Api::new(&db).await;
        let (a, b) = api.seed().await;
        let s = &api.app.store;
        let uid = s.create_user("auditor", "x", Role::Viewer, t0()).await.unwrap();
        let prod = s.scope_by_name("prod").await.unwrap().unwrap().id;
        s.restrict_user_scopes(uid, &[prod]).await.unwrap();
        let user = s.user_by_name("auditor").await.unwrap().unwrap().user;
        let token = api.app.create_api_token(&user, "t", OffsetDateTime::now_utc(), None).await.unwrap();
        for uri in ["/api/v1/patch-plan?asset=web", "/api/v1/remediations", "/api/v1/integrations", "/api/v1/alerts", "/api/v1/deliveries/dead"] {
            let req = Request::get(uri).body(Body::empty()).unwrap();
            assert_eq!(api.call(req).await.0, StatusCode::UNAUTHORIZED, "{uri}");
        }
        // The admin sees both assets' plans; the auditor only prod's.
        let (st, plan) = api.get("/api/v1/patch-plan?asset=web").await;
        assert_eq!(st, StatusCode::OK, "{plan}");
        assert_eq!(plan[0]["asset_id"], a, "{plan}");
        assert_eq!(api.get_as("/api/v1/patch-plan?asset=web", &token).await.0, StatusCode::OK);
        assert_eq!(api.get_as("/api/v1/patch-plan?asset=db", &token).await.0, StatusCode::NOT_FOUND);
        assert_eq!(api.get(&format!("/api/v1/patch-plan?asset={b}")).await.0, StatusCode::OK);
        assert_eq!(api.get("/api/v1/patch-plan").await.0, StatusCode::BAD_REQUEST);
        assert_eq!(api.get("/api/v1/patch-plan?asset=web&colour=red").await.0, StatusCode::BAD_REQUEST);
        // Roles: a viewer cannot plan a run, list connectors or read dead letters.
        let post = Request::post("/api/v1/remediations")
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(json!({"asset": "web"}).to_string()))
            .unwrap();
        assert_eq!(api.call(post).await.0, StatusCode::FORBIDDEN);
        assert_eq!(api.get_as("/api/v1/integrations", &token).await.0, StatusCode::FORBIDDEN);
        assert_eq!(api.get_as("/api/v1/deliveries/dead", &token).await.0, StatusCode::FORBIDDEN);
        assert_eq!(api.get("/api/v1/integrations").await, (StatusCode::OK, json!([])));
        // Alerts: only those about visible assets.
        let raise = |asset: i64, subject: &'static str| vantage_store::NewAlert { kind: "eol_os", severity: "high", asset: Some(vantage_domain::AssetId(asset)), subject, message: "end of life" };
        s.raise_alert(&raise(a, "web"), t0()).await.unwrap();
        s.raise_alert(&raise(b, "db"), t0()).await.unwrap();
        assert_eq!(api.get("/api/v1/alerts").await.1.as_array().unwrap().len(), 2);
        let (_, mine) = api.get_as("/api/v1/alerts", &token).await;
        assert_eq!(mine.as_array().unwrap().len(), 1);
        assert_eq!(mine[0]["subject"], "web");
        // Planning a run on an asset never inventoried over SSH says why.
        let post = Request::post("/api/v1/remediations")
            .header(header::AUTHORIZATION, format!("Bearer {}", api.admin_token))
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(json!({"asset": "web"}).to_string()))
            .unwrap();
        let (st, body, _) = api.call(post).await;
        assert_eq!(st, StatusCode::BAD_REQUEST, "{body}");
    }

    async fn triage_jobs_paths_and_scope_documents_over_http(db) {
        let api = Api::new(&db).await;
        let (a, _b) = api.seed().await;
        let send = |method: &str, uri: &str, token: &str, body: Value| {
            Request::builder()
                .method(method)
                .uri(uri)
                .header(header::AUTHORIZATION, format!("Bearer {token}"))
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(body.to_string()))
                .unwrap()
        };
        let admin = api.admin_token.clone();
        // A scope document: created, then a wrong one refused with the field named.
        let doc = json!({"name": "lab", "ranges": ["127.0.0.1"], "frequency": "daily", "criticality": 5,
            "collectors": [{"kind": "network", "ports": "1", "service_detection": false}],
            "access": {"roles": ["viewer"]}});
        let (st, body, _) = api.call(send("PUT", "/api/v1/scopes/lab", &admin, doc.clone())).await;
        assert_eq!(st, StatusCode::OK, "{body}");
        assert_eq!(body["action"], "created");
        let (st, body, _) = api.call(send("PUT", "/api/v1/scopes/lab", &admin, json!({"name": "lab", "frequency": "every day"}))).await;
        assert_eq!(st, StatusCode::BAD_REQUEST, "{body}");
        assert!(body["error"]["message"].as_str().unwrap().contains("frequency"), "{body}");
        let (st, _, _) = api.call(send("PUT", "/api/v1/scopes/other", &admin, doc.clone())).await;
        assert_eq!(st, StatusCode::BAD_REQUEST);

        // Triage: accepted risk, audited; a viewer may not.
        let (_, page) = api.get(&format!("/api/v1/findings?asset={a}&limit=1")).await;
        let fid = page["items"][0]["id"].as_i64().unwrap();
        let (st, body, _) = api.call(send("POST", &format!("/api/v1/findings/{fid}/triage"), &admin,
            json!({"decision": "accepted_risk", "until": "2099-01-01T00:00:00Z", "justification": "isolated VLAN"}))).await;
        assert_eq!(st, StatusCode::OK, "{body}");
        assert_eq!(body["before"], "new");
        assert_eq!(body["finding"]["status"], "accepted_risk");
        assert_eq!(body["finding"]["lifecycle"]["triage_reason"], "isolated VLAN");
        let (st, body, _) = api.call(send("POST", &format!("/api/v1/findings/{fid}/triage"), &admin,
            json!({"decision": "false_positive"}))).await;
        assert_eq!(st, StatusCode::BAD_REQUEST, "{body}");
        let s = &api.app.store;
        let uid = s.create_user("viewer1", "x", Role::Viewer, t0()).await.unwrap();
        let user = s.user_by_name("viewer1").await.unwrap().unwrap().user;
        s.restrict_user_scopes(uid, &[]).await.unwrap();
        let viewer = api.app.create_api_token(&user, "t", OffsetDateTime::now_utc(), None).await.unwrap();
        // The viewer sees `lab` through its role (scope access), nothing else.
        let (_, scopes) = api.get_as("/api/v1/scopes", &viewer).await;
        assert_eq!(scopes.as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap()).collect::<Vec<_>>(), ["lab"]);
        let (st, _, _) = api.call(send("POST", &format!("/api/v1/findings/{fid}/triage"), &viewer,
            json!({"decision": "reopen"}))).await;
        assert_eq!(st, StatusCode::NOT_FOUND, "the finding is in prod, which the viewer does not see");

        // Jobs: queue the scope's collectors, see them, cancel; a viewer may not queue.
        let (st, ids, _) = api.call(send("POST", "/api/v1/jobs", &admin, json!({"scope": "lab"}))).await;
        assert_eq!(st, StatusCode::OK, "{ids}");
        let id = ids[0].as_i64().unwrap();
        let (st, detail) = api.get(&format!("/api/v1/jobs/{id}")).await;
        assert_eq!(st, StatusCode::OK);
        assert_eq!((detail["job"]["status"].as_str(), detail["job"]["kind"].as_str()), (Some("queued"), Some("network_scan")));
        assert_eq!(detail["job"]["origin"], "user:root");
        let (_, list) = api.get_as("/api/v1/jobs", &viewer).await;
        assert_eq!(list.as_array().unwrap().len(), 1, "the viewer sees the lab's job: {list}");
        let (st, _, _) = api.call(send("POST", "/api/v1/jobs", &viewer, json!({"scope": "lab"}))).await;
        assert_eq!(st, StatusCode::FORBIDDEN);
        let (st, _, _) = api.call(send("POST", "/api/v1/jobs", &admin, json!({}))).await;
        assert_eq!(st, StatusCode::BAD_REQUEST);
        let (st, job, _) = api.call(send("POST", &format!("/api/v1/jobs/{id}/cancel"), &admin, json!({}))).await;
        assert_eq!(st, StatusCode::OK, "{job}");
        assert_eq!(job["status"], "cancelled");

        // Attack paths: the analysis answers; a restricted caller must name a visible scope.
        let (st, paths) = api.get("/api/v1/paths").await;
        assert_eq!(st, StatusCode::OK, "{paths}");
        assert!(paths["paths"].is_array() && paths["choke_points"].is_array(), "{paths}");
        // Every finding was analysed: none is on a path (their CVEs have no CVSS vector here).
        let (_, f) = api.get(&format!("/api/v1/findings/{fid}")).await;
        assert_eq!(f["lifecycle"]["on_attack_path"], false, "{f}");
        assert_eq!(api.get_as("/api/v1/paths", &viewer).await.0, StatusCode::BAD_REQUEST);
        assert_eq!(api.get_as("/api/v1/paths?to=prod", &viewer).await.0, StatusCode::NOT_FOUND);
        assert_eq!(api.get_as("/api/v1/paths?to=lab", &viewer).await.0, StatusCode::OK);

        // Metrics: today's snapshot; the viewer sees the lab's rows only.
        api.app.snapshot_metrics(OffsetDateTime::now_utc()).await.unwrap();
        let (st, all) = api.get("/api/v1/metrics?metric=open_findings").await;
        assert_eq!(st, StatusCode::OK, "{all}");
        assert!(all.as_array().unwrap().iter().any(|r| r["scope_id"] == 0 && r["dim"] == "p1"), "{all}");
        let (_, mine) = api.get_as("/api/v1/metrics", &viewer).await;
        assert!(mine.as_array().unwrap().iter().all(|r| r["scope_id"] != 0), "{mine}");
        assert_eq!(api.get("/api/v1/metrics?from=yesterday").await.0, StatusCode::BAD_REQUEST);
    }

    async fn priority_policies_are_read_by_all_and_edited_by_analysts(db) {
        let api = Api::new(&db).await;
        let send = |method: &str, uri: &str, token: &str, body: &str| {
            Request::builder()
                .method(method)
                .uri(uri)
                .header(header::AUTHORIZATION, format!("Bearer {token}"))
                .header(header::CONTENT_TYPE, "application/toml")
                .body(Body::from(body.to_string()))
                .unwrap()
        };
        let (status, list) = api.get("/api/v1/priority/policies").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(list[0]["name"], "default");
        assert_eq!(list[0]["origin"], "builtin");
        assert_eq!(list[0]["rules"], 9);

        let s = &api.app.store;
        s.create_user("viewer", "x", Role::Viewer, t0()).await.unwrap();
        let viewer = s.user_by_name("viewer").await.unwrap().unwrap().user;
        let viewer_token = api.app.create_api_token(&viewer, "t", OffsetDateTime::now_utc(), None).await.unwrap();
        let body = "default = \"p3\"\n[[rules]]\nname = \"kev\"\npriority = \"p1\"\nwhen = { kev = true }\n";
        let (status, err, _) = api.call(send("PUT", "/api/v1/priority/policies/pci", &viewer_token, body)).await;
        assert_eq!((status, error_code(&err)), (StatusCode::FORBIDDEN, "forbidden"));
        assert_eq!(api.get_as("/api/v1/priority/policies", &viewer_token).await.0, StatusCode::OK);

        let token = api.admin_token.clone();
        let (status, stored, _) = api.call(send("PUT", "/api/v1/priority/policies/pci", &token, body)).await;
        assert_eq!(status, StatusCode::OK, "{stored}");
        assert_eq!((stored["origin"].as_str(), stored["rules"].as_u64()), (Some("api"), Some(1)));
        let (_, list) = api.get("/api/v1/priority/policies").await;
        let names: Vec<&str> = list.as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["default", "pci"]);
        assert!(api.app.priority_settings().await.unwrap().policy("pci").is_some());

        // A typo or an out-of-range value is refused with the reason, and changes nothing.
        let typo = "[[rules]]\nname = \"x\"\npriority = \"p1\"\nwhen = { kevv = true }\n";
        let (status, err, _) = api.call(send("PUT", "/api/v1/priority/policies/pci", &token, typo)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(err["error"]["message"].as_str().unwrap().contains("kevv"), "{err}");
        let range = "[[rules]]\nname = \"x\"\npriority = \"p1\"\nwhen = { epss_min = 2.0 }\n";
        let (status, err, _) = api.call(send("PUT", "/api/v1/priority/policies/pci", &token, range)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(err["error"]["message"].as_str().unwrap().contains("epss_min = 2 is outside 0–1"), "{err}");
        let (status, _, _) = api.call(send("PUT", "/api/v1/priority/policies/Bad%20Name", &token, body)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        let (_, list) = api.get("/api/v1/priority/policies").await;
        assert_eq!(list[1]["rules"], 1, "the refused bodies changed nothing");

        let (status, _, _) = api.call(send("DELETE", "/api/v1/priority/policies/pci", &token, "")).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        let (status, _, _) = api.call(send("DELETE", "/api/v1/priority/policies/pci", &token, "")).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let audit = s.recent_audit(10).await.unwrap();
        assert!(audit.iter().any(|e| e.action == "priority_policy.put" && e.actor == "root"));
    }
}

#[test]
fn the_openapi_document_describes_every_route() {
    let doc = serde_json::to_value(vantage_server::openapi()).unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let paths = doc["paths"].as_object().unwrap();
    for p in [
        "/healthz",
        "/api/v1/auth/token",
        "/api/v1/assets",
        "/api/v1/assets/{id}",
        "/api/v1/assets/{id}/services",
        "/api/v1/findings",
        "/api/v1/findings/{id}",
        "/api/v1/scopes",
        "/api/v1/priority/policies",
        "/api/v1/priority/policies/{name}",
        "/api/v1/findings/{id}/history",
        "/api/v1/patch-plan",
        "/api/v1/remediations",
        "/api/v1/remediations/{id}/approve",
        "/api/v1/remediations/{id}/run",
        "/api/v1/integrations",
        "/api/v1/alerts",
        "/api/v1/deliveries/dead",
    ] {
        assert!(paths.contains_key(p), "missing {p}");
    }
    let params: Vec<&str> = doc["paths"]["/api/v1/findings"]["get"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        params,
        [
            "scope", "asset", "priority", "status", "cve", "limit", "cursor"
        ]
    );
    assert!(doc["components"]["schemas"]["Finding"].is_object());
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
}
