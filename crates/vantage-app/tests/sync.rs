//! `feeds sync` against a local HTTP server on 127.0.0.1 serving the real files from
//! `shared/data` the way the official endpoints do (ETag, Last-Modified, Range), which fails a
//! transfer half-way once, answers 429 once, and serves NVD CVE API 2.0 pages; on SQLite and
//! PostgreSQL.

use std::collections::{HashMap, HashSet};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::Response;
use vantage_app::sync::{LogProgress, SyncOptions, SyncOutcome};
use vantage_app::{App, Config};
use vantage_test_utils::{TestDb, both_backends};

fn real(rel: &str) -> PathBuf {
    std::env::var("VANTAGE_TEST_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|_| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data"))
        .join(rel)
}

/// The file's bytes, gunzipped (the official endpoints serve KEV, the Debian lists and secdb
/// uncompressed).
fn gunzip(rel: &str) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(std::fs::File::open(real(rel)).unwrap())
        .read_to_end(&mut out)
        .unwrap();
    out
}

#[derive(Clone)]
struct Doc {
    body: Bytes,
    etag: String,
    last_modified: String,
}

/// One request as the server saw it.
#[derive(Debug, Clone)]
struct Seen {
    path: String,
    query: String,
    range: Option<String>,
    if_range: Option<String>,
    if_none_match: Option<String>,
    api_key: Option<String>,
    status: u16,
    at: Instant,
}

#[derive(Default)]
struct Server {
    docs: Mutex<HashMap<String, Doc>>,
    /// Paths whose next full transfer stops half-way.
    break_once: Mutex<HashSet<String>>,
    /// Paths whose next request gets 429.
    throttle_once: Mutex<HashSet<String>>,
    seen: Mutex<Vec<Seen>>,
    /// NVD records (`{"cve": …}`) and their lastModified.
    nvd: Vec<(String, serde_json::Value)>,
}

impl Server {
    fn put(&self, path: &str, body: Vec<u8>, version: u32) {
        self.docs.lock().unwrap().insert(
            path.to_string(),
            Doc {
                body: body.into(),
                etag: format!("\"{}-v{version}\"", path.len()),
                last_modified: format!(
                    "{}, 0{version} Nov 2026 10:00:00 GMT",
                    ["Sun", "Mon", "Tue"][version as usize - 1]
                ),
            },
        );
    }
    fn seen(&self, path: &str) -> Vec<Seen> {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .filter(|s| s.path == path)
            .cloned()
            .collect()
    }
}

fn h(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

async fn serve_file(State(s): State<Arc<Server>>, uri: Uri, headers: HeaderMap) -> Response {
    let path = uri.path().to_string();
    let mut seen = Seen {
        path: path.clone(),
        query: uri.query().unwrap_or_default().to_string(),
        range: h(&headers, "range"),
        if_range: h(&headers, "if-range"),
        if_none_match: h(&headers, "if-none-match"),
        api_key: h(&headers, "apikey"),
        status: 200,
        at: Instant::now(),
    };
    let response = respond(&s, &path, &headers);
    seen.status = response.status().as_u16();
    s.seen.lock().unwrap().push(seen);
    response
}

fn respond(s: &Server, path: &str, headers: &HeaderMap) -> Response {
    let b = Response::builder();
    if s.throttle_once.lock().unwrap().remove(path) {
        return b
            .status(StatusCode::TOO_MANY_REQUESTS)
            .header(header::RETRY_AFTER, "1")
            .body(Body::empty())
            .unwrap();
    }
    let Some(doc) = s.docs.lock().unwrap().get(path).cloned() else {
        return b.status(404).body(Body::empty()).unwrap();
    };
    let b = b
        .header(header::ETAG, &doc.etag)
        .header(header::LAST_MODIFIED, &doc.last_modified)
        .header(header::ACCEPT_RANGES, "bytes");
    if h(headers, "if-none-match").as_deref() == Some(doc.etag.as_str()) {
        return b.status(304).body(Body::empty()).unwrap();
    }
    let len = doc.body.len();
    if let Some(range) = h(headers, "range") {
        let start: usize = range
            .strip_prefix("bytes=")
            .and_then(|r| r.strip_suffix('-'))
            .and_then(|n| n.parse().ok())
            .expect("the client asks for an open-ended range");
        // If-Range: the range only if the document is still the same, else all of it.
        if h(headers, "if-range").as_deref() == Some(doc.etag.as_str()) && start < len {
            return b
                .status(206)
                .header(
                    header::CONTENT_RANGE,
                    format!("bytes {start}-{}/{len}", len - 1),
                )
                .body(Body::from(doc.body.slice(start..)))
                .unwrap();
        }
    }
    if s.break_once.lock().unwrap().remove(path) {
        // Content-Length promises everything; the connection dies after half.
        let half = doc.body.slice(..len / 2);
        let stream = futures_util::stream::iter(vec![
            Ok(half),
            Err(std::io::Error::other("connection reset by test server")),
        ]);
        return b
            .status(200)
            .header(header::CONTENT_LENGTH, len)
            .body(Body::from_stream(stream))
            .unwrap();
    }
    b.status(200).body(Body::from(doc.body)).unwrap()
}

/// NVD CVE API 2.0: `lastModStartDate`/`lastModEndDate` filter, `startIndex`, at most 1000
/// results per page (fewer than asked, as NVD may), `apiKey` header required.
async fn nvd_api(
    State(s): State<Arc<Server>>,
    uri: Uri,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let seen = |status| Seen {
        path: "/nvd".into(),
        query: uri.query().unwrap_or_default().to_string(),
        range: None,
        if_range: None,
        if_none_match: None,
        api_key: h(&headers, "apikey"),
        status,
        at: Instant::now(),
    };
    if h(&headers, "apikey").as_deref() != Some("test-key") {
        s.seen.lock().unwrap().push(seen(403));
        return Response::builder().status(403).body(Body::empty()).unwrap();
    }
    let parse = |k: &str| {
        q.get(k).map(|v| {
            time::OffsetDateTime::parse(v, &time::format_description::well_known::Iso8601::DEFAULT)
                .unwrap_or_else(|e| panic!("{k}={v}: {e}"))
        })
    };
    let (from, to) = (parse("lastModStartDate"), parse("lastModEndDate"));
    assert_eq!(from.is_some(), to.is_some(), "both dates or neither");
    let matching: Vec<&serde_json::Value> = s
        .nvd
        .iter()
        .filter(|(m, _)| {
            let m = time::PrimitiveDateTime::parse(
                m,
                &time::format_description::well_known::Iso8601::DEFAULT,
            )
            .unwrap()
            .assume_utc();
            from.is_none_or(|f| m >= f) && to.is_none_or(|t| m <= t)
        })
        .map(|(_, v)| v)
        .collect();
    let start: usize = q["startIndex"].parse().unwrap();
    let per: usize = q["resultsPerPage"].parse::<usize>().unwrap().min(1000);
    let page: Vec<_> = matching.iter().skip(start).take(per).collect();
    let body = serde_json::json!({
        "resultsPerPage": page.len(),
        "startIndex": start,
        "totalResults": matching.len(),
        "format": "NVD_CVE",
        "version": "2.0",
        "timestamp": "2026-11-27T10:00:00.000",
        "vulnerabilities": page,
    });
    s.seen.lock().unwrap().push(seen(200));
    Response::builder()
        .status(200)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(serde_json::to_vec(&body).unwrap()))
        .unwrap()
}

async fn start(server: Arc<Server>) -> String {
    let router = axum::Router::new()
        .route("/nvd", axum::routing::get(nvd_api))
        .fallback(serve_file)
        .with_state(server);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    format!("http://{addr}")
}

fn nvd_records(n: usize) -> Vec<(String, serde_json::Value)> {
    use std::io::BufRead;
    let f = flate2::read::MultiGzDecoder::new(
        std::fs::File::open(real("nvd/nvd-cve-api2.0-records.jsonl.gz")).unwrap(),
    );
    std::io::BufReader::new(f)
        .lines()
        .take(n)
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(&l.unwrap()).unwrap();
            let m = v["cve"]["lastModified"].as_str().unwrap().to_string();
            (m, v)
        })
        .collect()
}

fn config(db: &TestDb, base: &str, data_dir: &Path) -> Config {
    let mut c = Config {
        data_dir: data_dir.to_path_buf(),
        ..Default::default()
    };
    c.database.url = db.url.clone();
    let f = &mut c.feeds;
    f.retries = 3;
    f.backoff_ms = 50;
    f.nvd_api_key = "test-key".into();
    f.nvd_request_interval_ms = 1;
    let e = &mut f.endpoints;
    e.kev = format!("{base}/kev.json");
    e.epss = format!("{base}/epss.csv.gz");
    e.nvd = format!("{base}/nvd");
    e.debian_dsa = format!("{base}/DSA/list");
    e.debian_dla = format!("{base}/DLA/list");
    e.debian_tracker = format!("{base}/tracker/data/json");
    e.alpine = format!("{base}/secdb");
    e.alpine_branches = vec!["v3.19".into()];
    f.sources = ["kev", "epss", "nvd", "debian", "alpine"]
        .map(String::from)
        .to_vec();
    c
}

both_backends! {
    async fn sync_resumes_backs_off_and_then_asks_only_for_changes(db) {
        let server = Arc::new(Server { nvd: nvd_records(2500), ..Default::default() });
        server.put("/kev.json", gunzip("kev/known_exploited_vulnerabilities-2025-08-25.json.gz"), 1);
        server.put("/epss.csv.gz", std::fs::read(real("epss/epss_scores-2025-08-31.csv.gz")).unwrap(), 1);
        server.put("/DSA/list", gunzip("distro/debian-security-tracker/DSA-list.gz"), 1);
        server.put("/DLA/list", gunzip("distro/debian-security-tracker/DLA-list.gz"), 1);
        server.put("/tracker/data/json", std::fs::read(real("distro/debian-security-tracker/tracker-json-excerpt.json")).unwrap(), 1);
        server.put("/secdb/v3.19/main.json", gunzip("distro/alpine-secdb/v3.19-main.json.gz"), 1);
        server.put("/secdb/v3.19/community.json", gunzip("distro/alpine-secdb/v3.19-community.json.gz"), 1);
        server.break_once.lock().unwrap().insert("/kev.json".into());
        server.throttle_once.lock().unwrap().insert("/epss.csv.gz".into());
        let base = start(server.clone()).await;
        let data = tempfile::tempdir().unwrap();
        let app = App::from_parts(config(&db, &base, data.path()), db.store.clone());
        let progress = Arc::new(LogProgress);

        // First sync: everything downloaded and imported despite the faults.
        let reports = app.sync_feeds(&SyncOptions::default(), progress.clone()).await.unwrap();
        let by = |rs: &[vantage_app::sync::SourceReport], s: &str| rs.iter().find(|r| r.source == s).unwrap().clone();
        for r in &reports {
            assert_eq!(r.outcome, SyncOutcome::Updated, "{r:?}");
        }
        assert_eq!(reports.iter().map(|r| r.source.as_str()).collect::<Vec<_>>(), ["kev", "epss", "nvd", "debian", "alpine"]);
        assert_eq!(by(&reports, "kev").counts.records, 1404);
        assert_eq!(by(&reports, "epss").counts.records, 291_657);
        assert_eq!(by(&reports, "nvd").counts.new, 2500);
        assert_eq!(by(&reports, "nvd").downloaded, 3, "1000 + 1000 + 500 records");
        assert_eq!(by(&reports, "debian").downloaded, 3);
        assert_eq!(by(&reports, "alpine").downloaded, 2);

        // The KEV transfer broke half-way; the retry asked for the rest only.
        let kev = server.seen("/kev.json");
        let kev_len = gunzip("kev/known_exploited_vulnerabilities-2025-08-25.json.gz").len();
        assert_eq!(kev.iter().map(|s| s.status).collect::<Vec<_>>(), [200, 206], "{kev:?}");
        assert_eq!(kev[1].range.as_deref(), Some(format!("bytes={}-", kev_len / 2).as_str()));
        assert_eq!(kev[1].if_range.as_deref(), Some("\"9-v1\""));
        assert_eq!(by(&reports, "kev").bytes, kev_len as u64);
        // EPSS got 429 with Retry-After: 1; the retry waited that long.
        let epss = server.seen("/epss.csv.gz");
        assert_eq!(epss.iter().map(|s| s.status).collect::<Vec<_>>(), [429, 200]);
        assert!(epss[1].at - epss[0].at >= Duration::from_millis(950), "{:?}", epss[1].at - epss[0].at);
        // NVD: no date window the first time, the API key sent, pages walked by startIndex.
        let nvd = server.seen("/nvd");
        assert!(nvd.iter().all(|s| s.api_key.as_deref() == Some("test-key") && !s.query.contains("lastModStartDate")));
        assert!(nvd[2].query.contains("startIndex=2000"), "{:?}", nvd[2]);
        let v = app.vulnerability("CVE-2018-13379").await.unwrap();
        assert!(v.kev.is_some() && v.epss.is_some());
        assert!(!data.path().join("feeds/kev/known_exploited_vulnerabilities.json.part").exists());

        // Second sync: conditional requests, nothing changed, nothing imported.
        let again = app.sync_feeds(&SyncOptions::default(), progress.clone()).await.unwrap();
        for r in &again {
            assert_eq!((r.outcome, r.counts.new + r.counts.changed), (SyncOutcome::Unchanged, 0), "{r:?}");
        }
        assert_eq!(by(&again, "debian").not_modified, 3);
        assert_eq!(server.seen("/kev.json").last().unwrap().if_none_match.as_deref(), Some("\"9-v1\""));
        assert_eq!(server.seen("/kev.json").last().unwrap().status, 304);
        // NVD asks only for what changed since the first sync: an ISO date window, no records.
        let last = server.seen("/nvd").last().unwrap().clone();
        assert!(last.query.contains("lastModStartDate=20") && last.query.contains("lastModEndDate=20"), "{last:?}");
        assert_eq!(by(&again, "nvd").counts.records, 0);

        // A newer catalogue replaces the old one; a broken EPSS file fails alone and leaves the
        // stored scores intact, and is fetched again next time (its ETag was not kept).
        server.put("/kev.json", gunzip("kev/known_exploited_vulnerabilities-2026-07-23.json.gz"), 2);
        let good_epss = std::fs::read(real("epss/epss_scores-2025-08-31.csv.gz")).unwrap();
        server.put("/epss.csv.gz", good_epss[..good_epss.len() / 3].to_vec(), 2);
        let third = sync(&app, &["kev", "epss"]).await.unwrap();
        assert_eq!(by(&third, "kev").outcome, SyncOutcome::Updated);
        assert_eq!(by(&third, "kev").counts.records, 1653);
        let failed = by(&third, "epss");
        assert_eq!(failed.outcome, SyncOutcome::Failed);
        let err = failed.error.unwrap();
        assert!(err.contains("import failed, stored data unchanged") && err.contains("epss_scores-current.csv.gz"), "{err}");
        let v = app.vulnerability("CVE-2018-13379").await.unwrap();
        assert_eq!(v.epss_history.len(), 1);
        server.put("/epss.csv.gz", good_epss, 3);
        let fourth = sync(&app, &["epss"]).await.unwrap();
        assert_eq!(fourth[0].downloaded, 1, "{:?}", fourth[0]);
        assert_eq!(server.seen("/epss.csv.gz").last().unwrap().if_none_match.as_deref(), Some("\"12-v1\""), "the validator of the last good import");
    }
}

/// Syncs the named sources with log progress.
async fn sync(
    app: &App,
    sources: &[&str],
) -> Result<Vec<vantage_app::sync::SourceReport>, vantage_app::AppError> {
    let opts = SyncOptions {
        sources: sources.iter().map(|s| s.to_string()).collect(),
        force: false,
    };
    app.sync_feeds(&opts, Arc::new(LogProgress)).await
}

#[tokio::test]
async fn a_server_that_keeps_failing_is_given_up_with_a_clear_error() {
    let db = TestDb::sqlite().await;
    let server = Arc::new(Server::default());
    let base = start(server.clone()).await;
    let data = tempfile::tempdir().unwrap();
    let mut c = config(&db, &base, data.path());
    c.feeds.retries = 2;
    let app = App::from_parts(c, db.store.clone());
    // Not found is not retried; the error names the URL and the status.
    let err = sync(&app, &["kev"]).await.unwrap()[0]
        .error
        .clone()
        .unwrap();
    assert!(err.contains("/kev.json") && err.contains("404"), "{err}");
    assert_eq!(server.seen("/kev.json").len(), 1);
    // Unknown sources are refused before any request.
    assert!(sync(&app, &["nope"]).await.unwrap_err().is_bad_input());
    // The connection refused is retried, then reported.
    let mut c = config(&db, "http://127.0.0.1:9", data.path());
    c.feeds.retries = 1;
    let app = App::from_parts(c, db.store.clone());
    let err = sync(&app, &["kev"]).await.unwrap()[0]
        .error
        .clone()
        .unwrap();
    assert!(err.contains("gave up after 1 retries"), "{err}");
}

both_backends! {
    async fn the_server_refresh_runs_as_a_logged_job(db) {
        let server = Arc::new(Server::default());
        server.put("/kev.json", gunzip("kev/known_exploited_vulnerabilities-2026-07-23.json.gz"), 1);
        let base = start(server.clone()).await;
        let data = tempfile::tempdir().unwrap();
        let mut c = config(&db, &base, data.path());
        c.feeds.sources = vec!["kev".into()];
        let app = App::from_parts(c.clone(), db.store.clone());
        let (job, reports) = app.run_feed_refresh().await.unwrap();
        assert_eq!(reports[0].counts.records, 1653);
        let last = db.store.last_finished_job(vantage_domain::JobKind::FeedSync).await.unwrap().unwrap();
        assert_eq!((last.id, last.status.as_str()), (job, "done"));
        let log = db.store.job_logs(job).await.unwrap();
        assert!(log.iter().any(|(_, _, m)| m.starts_with("kev: importing")), "{log:?}");
        assert!(log.last().unwrap().2.contains("1653 new"), "{log:?}");

        // A source that fails makes the run failed, with the reason stored.
        c.feeds.sources = vec!["kev".into(), "epss".into()];
        let app = App::from_parts(c, db.store.clone());
        let (job, _) = app.run_feed_refresh().await.unwrap();
        let last = db.store.last_finished_job(vantage_domain::JobKind::FeedSync).await.unwrap().unwrap();
        assert_eq!((last.id, last.status.as_str()), (job, "failed"));
        let log = db.store.job_logs(job).await.unwrap();
        assert!(log.iter().any(|(_, level, m)| level == "error" && m.contains("epss: failed") && m.contains("404")), "{log:?}");
        assert!(log.iter().any(|(_, _, m)| m.contains("kev: Unchanged")), "{log:?}");
    }
}
