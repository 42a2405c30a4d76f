//! `vantage feeds sync`: download the feeds from their endpoints and import them.
//!
//! Each source is a list of files (KEV, EPSS, CERT-FR, Exploit-DB, Debian lists, Alpine secdb,
//! OSV archives) or, for NVD, the CVE API 2.0 read incrementally by `lastModStartDate`. Downloads
//! are conditional (`If-None-Match` / `If-Modified-Since` from the stored validators, so an
//! unchanged file costs one request), retried with exponential backoff on 429, 5xx and lost
//! connections (a `Retry-After` header wins), and resumable: the bytes received so far stay in
//! `FILE.part` and the next attempt asks for the rest with `Range` + `If-Range`. Files land in
//! `DATA_DIR/feeds/SOURCE/`, then go through the same import as `feeds import` (one transaction
//! per file). Validators and the NVD watermark are saved only after the import committed, so a
//! failed import is retried by the next sync instead of being skipped as "not modified".
//!
//! Sources download concurrently; imports run one at a time (one writer at a time suits SQLite
//! and keeps memory bounded).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use reqwest::header::{self, HeaderMap, HeaderValue};
use serde::Serialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tokio::io::AsyncWriteExt;
use vantage_domain::{FeedKind, ImportCounts};
use vantage_store::SyncState;

use crate::app::App;
use crate::config::FeedsConfig;
use crate::error::AppError;
use crate::feeds::ImportOptions;

/// Every source `feeds sync` knows, in the order they are reported.
pub const SOURCES: &[&str] = &[
    "kev",
    "epss",
    "nvd",
    "certfr",
    "exploitdb",
    "debian",
    "alpine",
    "osv",
];

/// NVD's largest page.
const NVD_PAGE: u32 = 2000;
/// NVD's longest `lastModStartDate`..`lastModEndDate` window.
const NVD_WINDOW: time::Duration = time::Duration::days(120);

/// Receives progress; the CLI draws bars, the server logs.
pub trait SyncProgress: Send + Sync {
    /// A transfer of `what` begins; `total` bytes if the server said.
    fn start(&self, source: &str, what: &str, total: Option<u64>);
    /// `bytes` more were received.
    fn advance(&self, source: &str, bytes: u64);
    /// Something worth telling (a retry, an import).
    fn note(&self, source: &str, message: &str);
    /// The source is finished.
    fn finish(&self, report: &SourceReport);
}

/// Progress written to the log (the server's background refresh).
#[derive(Debug, Default)]
pub struct LogProgress;

impl SyncProgress for LogProgress {
    fn start(&self, source: &str, what: &str, total: Option<u64>) {
        tracing::debug!(source, what, total, "download started");
    }
    fn advance(&self, _: &str, _: u64) {}
    fn note(&self, source: &str, message: &str) {
        tracing::info!(source, "{message}");
    }
    fn finish(&self, r: &SourceReport) {
        tracing::info!(
            source = %r.source,
            outcome = ?r.outcome,
            new = r.counts.new,
            changed = r.counts.changed,
            unchanged = r.counts.unchanged,
            bytes = r.bytes,
            error = r.error.as_deref().unwrap_or(""),
            "feed source synced"
        );
    }
}

/// How a source's sync ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SyncOutcome {
    /// New content was downloaded and imported.
    Updated,
    /// The server said nothing changed (or the content was already imported).
    Unchanged,
    /// A download or import failed; what was stored before is intact.
    Failed,
}

/// What syncing one source did.
#[derive(Debug, Clone, Serialize)]
pub struct SourceReport {
    /// The source (`kev`, `nvd` …).
    pub source: String,
    /// How it ended.
    pub outcome: SyncOutcome,
    /// Requests answered with content.
    pub downloaded: u32,
    /// Requests answered "304 Not Modified".
    pub not_modified: u32,
    /// Bytes received.
    pub bytes: u64,
    /// Records read, new, changed, unchanged.
    pub counts: ImportCounts,
    /// Why it failed.
    pub error: Option<String>,
    /// Wall time, milliseconds.
    pub elapsed_ms: u128,
}

/// One file of a source.
#[derive(Debug, Clone)]
struct Target {
    url: String,
    file: String,
    feed: FeedKind,
}

/// The result of one conditional download.
enum Fetched {
    NotModified,
    Downloaded {
        path: PathBuf,
        etag: Option<String>,
        last_modified: Option<String>,
    },
}

/// A failed request: whether it is worth retrying, and how long the server asked us to wait.
struct Failure {
    message: String,
    retry: bool,
    retry_after: Option<Duration>,
}

impl Failure {
    fn fatal(message: impl Into<String>) -> Self {
        Failure {
            message: message.into(),
            retry: false,
            retry_after: None,
        }
    }
    fn transient(message: impl Into<String>, retry_after: Option<Duration>) -> Self {
        Failure {
            message: message.into(),
            retry: true,
            retry_after,
        }
    }
}

/// Options of a sync run.
#[derive(Debug, Clone, Default)]
pub struct SyncOptions {
    /// Sources to sync; empty means the configured list.
    pub sources: Vec<String>,
    /// Ignore stored validators and the NVD watermark: download and import everything again.
    pub force: bool,
}

/// Checks source names against [`SOURCES`].
pub fn check_sources(names: &[String]) -> Result<(), AppError> {
    for n in names {
        if !SOURCES.contains(&n.as_str()) {
            return Err(AppError::Invalid(format!(
                "unknown feed source `{n}`; known sources: {}",
                SOURCES.join(", ")
            )));
        }
    }
    Ok(())
}

struct Syncer {
    app: App,
    cfg: FeedsConfig,
    client: reqwest::Client,
    root: PathBuf,
    force: bool,
    progress: Arc<dyn SyncProgress>,
    import_lock: tokio::sync::Mutex<()>,
}

impl App {
    /// Downloads and imports the sources; one report per source, failures included (a failed
    /// source does not stop the others).
    pub async fn sync_feeds(
        &self,
        opts: &SyncOptions,
        progress: Arc<dyn SyncProgress>,
    ) -> Result<Vec<SourceReport>, AppError> {
        let cfg = self.config.feeds.clone();
        let mut sources = if opts.sources.is_empty() {
            cfg.sources.clone()
        } else {
            opts.sources.clone()
        };
        check_sources(&sources)?;
        sources.sort_by_key(|s| SOURCES.iter().position(|k| k == s));
        sources.dedup();
        let client = reqwest::Client::builder()
            .user_agent(concat!("vantage/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(cfg.timeout_secs.max(1)))
            .read_timeout(Duration::from_secs(cfg.timeout_secs.max(1)))
            .build()
            .map_err(|e| AppError::Invalid(format!("cannot build the HTTP client: {e}")))?;
        let syncer = Arc::new(Syncer {
            app: self.clone(),
            root: self.config.data_dir.join("feeds"),
            cfg,
            client,
            force: opts.force,
            progress,
            import_lock: tokio::sync::Mutex::new(()),
        });
        let mut tasks = tokio::task::JoinSet::new();
        for (i, source) in sources.into_iter().enumerate() {
            let s = syncer.clone();
            tasks.spawn(async move { (i, s.source(&source).await) });
        }
        let mut reports = Vec::new();
        while let Some(done) = tasks.join_next().await {
            let (i, report) =
                done.map_err(|e| AppError::Invalid(format!("sync task failed: {e}")))?;
            syncer.progress.finish(&report);
            reports.push((i, report));
        }
        reports.sort_by_key(|(i, _)| *i);
        Ok(reports.into_iter().map(|(_, r)| r).collect())
    }
}

impl Syncer {
    async fn source(&self, source: &str) -> SourceReport {
        let started = Instant::now();
        let mut report = SourceReport {
            source: source.to_string(),
            outcome: SyncOutcome::Unchanged,
            downloaded: 0,
            not_modified: 0,
            bytes: 0,
            counts: ImportCounts::default(),
            error: None,
            elapsed_ms: 0,
        };
        let result = if source == "nvd" {
            self.nvd(&mut report).await
        } else {
            self.files(source, &mut report).await
        };
        if let Err(e) = result {
            report.outcome = SyncOutcome::Failed;
            report.error = Some(e);
        } else if report.counts.new + report.counts.changed > 0 {
            report.outcome = SyncOutcome::Updated;
        }
        report.elapsed_ms = started.elapsed().as_millis();
        report
    }

    fn targets(&self, source: &str) -> Vec<Target> {
        let e = &self.cfg.endpoints;
        let one = |url: &str, file: &str, feed| {
            vec![Target {
                url: url.to_string(),
                file: file.to_string(),
                feed,
            }]
        };
        let base = |b: &str| b.trim_end_matches('/').to_string();
        match source {
            "kev" => one(
                &e.kev,
                "known_exploited_vulnerabilities.json",
                FeedKind::Kev,
            ),
            "epss" => one(&e.epss, "epss_scores-current.csv.gz", FeedKind::Epss),
            "certfr" => one(&e.certfr, "cert-fr-ale_with_cves.json", FeedKind::CertFr),
            "exploitdb" => one(&e.exploitdb, "files_exploits.csv", FeedKind::ExploitDbCsv),
            "debian" => vec![
                Target {
                    url: e.debian_dsa.clone(),
                    file: "DSA-list".into(),
                    feed: FeedKind::DebianList,
                },
                Target {
                    url: e.debian_dla.clone(),
                    file: "DLA-list".into(),
                    feed: FeedKind::DebianList,
                },
                Target {
                    url: e.debian_tracker.clone(),
                    file: "tracker.json".into(),
                    feed: FeedKind::DebianTracker,
                },
            ],
            "alpine" => e
                .alpine_branches
                .iter()
                .flat_map(|b| {
                    ["main", "community"].map(|repo| Target {
                        url: format!("{}/{b}/{repo}.json", base(&e.alpine)),
                        file: format!("{b}-{repo}.json"),
                        feed: FeedKind::AlpineSecdb,
                    })
                })
                .collect(),
            "osv" => e
                .osv_ecosystems
                .iter()
                .map(|eco| Target {
                    url: format!("{}/{eco}/all.zip", base(&e.osv)),
                    file: format!("{}.zip", eco.replace(['/', ' ', ':'], "_")),
                    feed: FeedKind::Osv,
                })
                .collect(),
            _ => Vec::new(),
        }
    }

    /// A file source: each target downloaded conditionally, then imported.
    async fn files(&self, source: &str, report: &mut SourceReport) -> Result<(), String> {
        let dir = self.root.join(source);
        tokio::fs::create_dir_all(&dir)
            .await
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let mut errors = Vec::new();
        for t in self.targets(source) {
            if let Err(e) = self.file(source, &dir, &t, report).await {
                errors.push(format!("{}: {e}", t.url));
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors.join("; "))
        }
    }

    async fn file(
        &self,
        source: &str,
        dir: &Path,
        t: &Target,
        report: &mut SourceReport,
    ) -> Result<(), String> {
        let state = if self.force {
            None
        } else {
            self.app
                .store
                .sync_state(&t.url)
                .await
                .map_err(|e| e.to_string())?
        };
        let dest = dir.join(&t.file);
        let fetched = self
            .download(source, &t.url, &dest, state.as_ref(), report)
            .await?;
        let mut new_state = state.clone().unwrap_or_default();
        new_state.url = t.url.clone();
        new_state.source = source.to_string();
        let changed = match fetched {
            Fetched::NotModified => {
                report.not_modified += 1;
                false
            }
            Fetched::Downloaded {
                path,
                etag,
                last_modified,
            } => {
                report.downloaded += 1;
                // An EPSS file without its `#…score_date` line is dated by the server.
                let date = http_date(last_modified.as_deref())
                    .unwrap_or_else(|| OffsetDateTime::now_utc().date());
                let imported = self
                    .import(source, &path, t.feed, self.force, Some(date))
                    .await?;
                report.counts += imported.counts;
                new_state.etag = etag;
                new_state.last_modified = last_modified;
                !imported.already_imported
            }
        };
        self.app
            .store
            .save_sync_state(&new_state, changed)
            .await
            .map_err(|e| e.to_string())
    }

    async fn import(
        &self,
        source: &str,
        path: &Path,
        feed: FeedKind,
        force: bool,
        epss_date: Option<time::Date>,
    ) -> Result<crate::feeds::ImportReport, String> {
        let _one_writer = self.import_lock.lock().await;
        self.progress
            .note(source, &format!("importing {}", file_name(path)));
        let opts = ImportOptions {
            source: Some(feed),
            force,
            epss_date,
        };
        self.app
            .import_feed(path, &opts)
            .await
            .map_err(|e| format!("import failed, stored data unchanged: {e}"))
    }

    /// NVD CVE API 2.0, incremental from the stored watermark in windows of at most 120 days
    /// (the API's limit); the watermark moves after each window's pages are committed.
    async fn nvd(&self, report: &mut SourceReport) -> Result<(), String> {
        let base = self.cfg.endpoints.nvd.clone();
        let dir = self.root.join("nvd");
        tokio::fs::create_dir_all(&dir)
            .await
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let state = self
            .app
            .store
            .sync_state(&base)
            .await
            .map_err(|e| e.to_string())?;
        let now = OffsetDateTime::now_utc()
            .replace_nanosecond(0)
            .unwrap_or(OffsetDateTime::now_utc());
        let since = match state.as_ref().and_then(|s| s.watermark.as_deref()) {
            Some(w) if !self.force => Some(
                OffsetDateTime::parse(w, &Rfc3339)
                    .map_err(|e| format!("stored NVD watermark `{w}` is not a date: {e}"))?,
            ),
            _ => None,
        };
        let mut windows = Vec::new();
        match since {
            None => windows.push(None),
            // At least one window, even when the last sync was a moment ago.
            Some(mut from) => loop {
                let to = (from + NVD_WINDOW).min(now).max(from);
                windows.push(Some((from, to)));
                from = to;
                if from >= now {
                    break;
                }
            },
        }
        let interval = Duration::from_millis(match self.cfg.nvd_request_interval_ms {
            0 if self.cfg.nvd_api_key.is_empty() => 6000,
            0 => 600,
            ms => ms,
        });
        let mut last_request: Option<Instant> = None;
        let mut page_no = 0u32;
        for window in windows {
            let mut start_index = 0u64;
            loop {
                let mut url = reqwest::Url::parse(&base)
                    .map_err(|e| format!("NVD endpoint `{base}` is not a URL: {e}"))?;
                {
                    let mut q = url.query_pairs_mut();
                    if let Some((from, to)) = window {
                        q.append_pair("lastModStartDate", &nvd_date(from));
                        q.append_pair("lastModEndDate", &nvd_date(to));
                    }
                    q.append_pair("startIndex", &start_index.to_string());
                    q.append_pair("resultsPerPage", &NVD_PAGE.to_string());
                }
                if let Some(t) = last_request {
                    tokio::time::sleep(interval.saturating_sub(t.elapsed())).await;
                }
                last_request = Some(Instant::now());
                page_no += 1;
                let dest = dir.join(format!("page-{page_no:05}.json"));
                let _ = tokio::fs::remove_file(format!("{}.part", dest.display())).await;
                let Fetched::Downloaded { path, .. } = self
                    .download("nvd", url.as_str(), &dest, None, report)
                    .await?
                else {
                    return Err("NVD answered 304 to an unconditional request".into());
                };
                report.downloaded += 1;
                let (total, per_page) = nvd_page_counts(&path).await?;
                if total > 0 {
                    self.progress.note(
                        "nvd",
                        &format!(
                            "page {page_no}: records {}–{} of {total}",
                            start_index + 1,
                            (start_index + per_page).min(total)
                        ),
                    );
                }
                if per_page > 0 {
                    let imported = self.import("nvd", &path, FeedKind::Nvd, true, None).await?;
                    report.counts += imported.counts;
                }
                let _ = tokio::fs::remove_file(&path).await;
                start_index += per_page;
                if per_page == 0 || start_index >= total {
                    break;
                }
            }
            // Every page of the window is committed: the next sync starts from its end.
            let to = window.map_or(now, |(_, to)| to);
            let saved = SyncState {
                url: base.clone(),
                source: "nvd".into(),
                watermark: Some(to.format(&Rfc3339).map_err(|e| e.to_string())?),
                ..Default::default()
            };
            self.app
                .store
                .save_sync_state(&saved, report.counts.new + report.counts.changed > 0)
                .await
                .map_err(|e| e.to_string())?;
        }
        Ok(())
    }

    /// One download with retries; resumes a `.part` file left by an earlier attempt or run.
    async fn download(
        &self,
        source: &str,
        url: &str,
        dest: &Path,
        state: Option<&SyncState>,
        report: &mut SourceReport,
    ) -> Result<Fetched, String> {
        let part = PathBuf::from(format!("{}.part", dest.display()));
        let validator_file = PathBuf::from(format!("{}.part.validator", dest.display()));
        let mut attempt = 0u32;
        loop {
            match self
                .attempt(source, url, dest, &part, &validator_file, state, report)
                .await
            {
                Ok(f) => return Ok(f),
                Err(f) if f.retry && attempt < self.cfg.retries => {
                    attempt += 1;
                    let backoff = Duration::from_millis(
                        self.cfg
                            .backoff_ms
                            .saturating_mul(1u64 << (attempt - 1).min(16)),
                    );
                    let wait = f
                        .retry_after
                        .unwrap_or(backoff)
                        .min(Duration::from_secs(self.cfg.max_backoff_secs));
                    self.progress.note(
                        source,
                        &format!(
                            "{}; retry {attempt}/{} in {:.1} s",
                            f.message,
                            self.cfg.retries,
                            wait.as_secs_f64()
                        ),
                    );
                    tokio::time::sleep(wait).await;
                }
                Err(f) => {
                    return Err(if f.retry {
                        format!("{} (gave up after {} retries)", f.message, attempt)
                    } else {
                        f.message
                    });
                }
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    async fn attempt(
        &self,
        source: &str,
        url: &str,
        dest: &Path,
        part: &Path,
        validator_file: &Path,
        state: Option<&SyncState>,
        report: &mut SourceReport,
    ) -> Result<Fetched, Failure> {
        let io = |what: &str, p: &Path, e: std::io::Error| {
            Failure::fatal(format!("{what} {}: {e}", p.display()))
        };
        let have = tokio::fs::metadata(part)
            .await
            .map(|m| m.len())
            .unwrap_or(0);
        let validator = tokio::fs::read_to_string(validator_file).await.ok();
        let mut headers = HeaderMap::new();
        let resuming = have > 0 && validator.is_some();
        if let (true, Some(v)) = (resuming, &validator) {
            headers.insert(header::RANGE, hv(&format!("bytes={have}-"))?);
            headers.insert(header::IF_RANGE, hv(v.trim())?);
        } else if let Some(s) = state.filter(|_| dest.exists()) {
            if let Some(e) = &s.etag {
                headers.insert(header::IF_NONE_MATCH, hv(e)?);
            }
            if let Some(m) = &s.last_modified {
                headers.insert(header::IF_MODIFIED_SINCE, hv(m)?);
            }
        }
        let mut req = self.client.get(url).headers(headers);
        if source == "nvd" && !self.cfg.nvd_api_key.is_empty() {
            req = req.header("apiKey", self.cfg.nvd_api_key.as_str());
        }
        let mut resp = req.send().await.map_err(|e| {
            Failure::transient(format!("request failed: {}", error_chain(&e)), None)
        })?;
        let status = resp.status();
        if status == StatusCode::NOT_MODIFIED {
            return Ok(Fetched::NotModified);
        }
        if status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error() {
            let retry_after = resp
                .headers()
                .get(header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(Duration::from_secs);
            return Err(Failure::transient(format!("HTTP {status}"), retry_after));
        }
        if !(status == StatusCode::OK || status == StatusCode::PARTIAL_CONTENT) {
            return Err(Failure::fatal(format!("HTTP {status}")));
        }
        let etag = header_str(resp.headers(), header::ETAG);
        let last_modified = header_str(resp.headers(), header::LAST_MODIFIED);
        let append = status == StatusCode::PARTIAL_CONTENT
            && content_range_start(resp.headers()) == Some(have)
            && resuming;
        if status == StatusCode::PARTIAL_CONTENT && !append {
            // A range we did not ask for: start again from scratch.
            let _ = tokio::fs::remove_file(part).await;
            let _ = tokio::fs::remove_file(validator_file).await;
            return Err(Failure::transient("unexpected partial content", None));
        }
        let mut out = if append {
            tokio::fs::OpenOptions::new()
                .append(true)
                .open(part)
                .await
                .map_err(|e| io("cannot open", part, e))?
        } else {
            // New content: remember what identifies it so an interrupted transfer can resume.
            // Only a strong ETag may be used with If-Range; otherwise Last-Modified.
            let v = etag
                .clone()
                .filter(|e| !e.starts_with("W/"))
                .or_else(|| last_modified.clone());
            match v {
                Some(v) => tokio::fs::write(validator_file, v).await,
                None => tokio::fs::remove_file(validator_file).await.or(Ok(())),
            }
            .map_err(|e| io("cannot write", validator_file, e))?;
            tokio::fs::File::create(part)
                .await
                .map_err(|e| io("cannot create", part, e))?
        };
        let start = if append { have } else { 0 };
        let total = resp.content_length().map(|n| n + start);
        self.progress.start(source, &file_name(dest), total);
        if start > 0 {
            self.progress.note(
                source,
                &format!("resuming {} at byte {start}", file_name(dest)),
            );
            self.progress.advance(source, start);
        }
        loop {
            match resp.chunk().await {
                Ok(Some(bytes)) => {
                    out.write_all(&bytes)
                        .await
                        .map_err(|e| io("cannot write", part, e))?;
                    report.bytes += bytes.len() as u64;
                    self.progress.advance(source, bytes.len() as u64);
                }
                Ok(None) => break,
                Err(e) => {
                    let _ = out.flush().await;
                    return Err(Failure::transient(
                        format!("transfer interrupted: {}", error_chain(&e)),
                        None,
                    ));
                }
            }
        }
        out.flush().await.map_err(|e| io("cannot write", part, e))?;
        out.sync_all()
            .await
            .map_err(|e| io("cannot write", part, e))?;
        drop(out);
        tokio::fs::rename(part, dest)
            .await
            .map_err(|e| io("cannot rename", part, e))?;
        let _ = tokio::fs::remove_file(validator_file).await;
        Ok(Fetched::Downloaded {
            path: dest.to_path_buf(),
            etag,
            last_modified,
        })
    }
}

fn hv(v: &str) -> Result<HeaderValue, Failure> {
    HeaderValue::from_str(v).map_err(|_| Failure::fatal(format!("invalid header value `{v}`")))
}

fn header_str(h: &HeaderMap, name: header::HeaderName) -> Option<String> {
    h.get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// The first byte of `Content-Range: bytes START-END/TOTAL`.
fn content_range_start(h: &HeaderMap) -> Option<u64> {
    header_str(h, header::CONTENT_RANGE)?
        .strip_prefix("bytes ")?
        .split('-')
        .next()?
        .trim()
        .parse()
        .ok()
}

/// An error with its causes (reqwest's own message alone rarely says why).
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// NVD's date format: `2024-01-31T12:00:00.000+00:00`.
fn nvd_date(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.000+00:00",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// The date of an HTTP date header (`Sun, 01 Nov 2026 10:00:00 GMT`).
fn http_date(v: Option<&str>) -> Option<time::Date> {
    OffsetDateTime::parse(v?, &time::format_description::well_known::Rfc2822)
        .ok()
        .map(|t| t.to_offset(time::UtcOffset::UTC).date())
}

/// `totalResults` and `resultsPerPage` of a downloaded API page.
async fn nvd_page_counts(path: &Path) -> Result<(u64, u64), String> {
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Head {
        total_results: u64,
        results_per_page: u64,
    }
    let p = path.to_path_buf();
    tokio::task::spawn_blocking(move || {
        let f = std::fs::File::open(&p).map_err(|e| format!("{}: {e}", p.display()))?;
        let h: Head = serde_json::from_reader(std::io::BufReader::new(f)).map_err(|e| {
            format!(
                "{}: not an NVD API page (totalResults, resultsPerPage): {e}",
                p.display()
            )
        })?;
        Ok((h.total_results, h.results_per_page))
    })
    .await
    .map_err(|e| e.to_string())?
}

/// Progress of a refresh job: each note becomes a line of the job's log (and of the server
/// log), written in order by one writer task.
struct JobProgress {
    job: i64,
    lines: tokio::sync::mpsc::UnboundedSender<(&'static str, String)>,
}

impl SyncProgress for JobProgress {
    fn start(&self, _: &str, _: &str, _: Option<u64>) {}
    fn advance(&self, _: &str, _: u64) {}
    fn note(&self, source: &str, message: &str) {
        tracing::info!(source, job = self.job, "{message}");
        let _ = self.lines.send(("info", format!("{source}: {message}")));
    }
    fn finish(&self, r: &SourceReport) {
        LogProgress.finish(r);
        let line = match &r.error {
            Some(e) => format!("{}: failed: {e}", r.source),
            None => format!(
                "{}: {:?}: {} new, {} changed, {} unchanged ({} downloaded, {} not modified)",
                r.source,
                r.outcome,
                r.counts.new,
                r.counts.changed,
                r.counts.unchanged,
                r.downloaded,
                r.not_modified
            ),
        };
        let level = if r.error.is_some() { "error" } else { "info" };
        let _ = self.lines.send((level, line));
    }
}

impl App {
    /// Runs one feed refresh as a durable `feed_sync` job: the job row says when it ran and how
    /// it ended, its log says what each source did. Returns the job id and the reports.
    pub async fn run_feed_refresh(&self) -> Result<(i64, Vec<SourceReport>), AppError> {
        let worker = format!("serve:{}", std::process::id());
        let job = self
            .store
            .start_job(
                vantage_domain::JobKind::FeedSync,
                "{}",
                &worker,
                OffsetDateTime::now_utc(),
            )
            .await?;
        let (lines, mut rx) = tokio::sync::mpsc::unbounded_channel::<(&'static str, String)>();
        let store = self.store.clone();
        let writer = tokio::spawn(async move {
            while let Some((level, line)) = rx.recv().await {
                if let Err(e) = store.job_log(job, level, &line).await {
                    tracing::warn!(job, error = %e, "cannot write the job log");
                }
            }
        });
        let result = self
            .sync_feeds(
                &SyncOptions::default(),
                Arc::new(JobProgress { job, lines }),
            )
            .await;
        // Every sender is gone once the sync returned: the writer drains and stops.
        let _ = writer.await;
        let (status, error) = match &result {
            Ok(reports) => {
                let failed: Vec<String> = reports
                    .iter()
                    .filter_map(|r| r.error.as_ref().map(|e| format!("{}: {e}", r.source)))
                    .collect();
                if failed.is_empty() {
                    (vantage_domain::JobStatus::Done, None)
                } else {
                    (vantage_domain::JobStatus::Failed, Some(failed.join("; ")))
                }
            }
            Err(e) => (vantage_domain::JobStatus::Failed, Some(e.to_string())),
        };
        self.store
            .finish_job(job, status, error.as_deref(), OffsetDateTime::now_utc())
            .await?;
        result.map(|r| (job, r))
    }

    /// The feed refresh of `vantage serve`: runs [`App::run_feed_refresh`] every `period`,
    /// counted from the last finished run (stored, so restarts do not re-run it early), never
    /// sooner than `delay` after start-up (a restart loop must not hammer the providers), and
    /// after a failed run again within the hour. Runs until the task is dropped.
    pub async fn feed_refresh_loop(self, period: Duration, delay: Duration) {
        let started = OffsetDateTime::now_utc();
        // A run marked running but older than a day belongs to a process that stopped.
        match self
            .store
            .fail_abandoned_jobs(
                vantage_domain::JobKind::FeedSync,
                started - time::Duration::days(1),
            )
            .await
        {
            Ok(0) => {}
            Ok(n) => tracing::warn!(
                jobs = n,
                "feed refresh runs interrupted earlier marked failed"
            ),
            Err(e) => tracing::warn!(error = %e, "cannot check for interrupted feed refresh runs"),
        }
        loop {
            let last = match self
                .store
                .last_finished_job(vantage_domain::JobKind::FeedSync)
                .await
            {
                Ok(l) => l,
                Err(e) => {
                    tracing::warn!(error = %e, "feed refresh: cannot read the last run; retrying in 5 minutes");
                    tokio::time::sleep(Duration::from_secs(300)).await;
                    continue;
                }
            };
            let due = next_refresh(
                last.as_ref().map(|j| (j.finished_at, j.status == "failed")),
                period,
                started,
                delay,
            );
            let wait = (due - OffsetDateTime::now_utc()).max(time::Duration::ZERO);
            tracing::info!(at = %due, "next feed refresh");
            tokio::time::sleep(wait.try_into().unwrap_or(Duration::ZERO)).await;
            match self.run_feed_refresh().await {
                Ok((job, reports)) => tracing::info!(
                    job,
                    failed = reports.iter().filter(|r| r.error.is_some()).count(),
                    "feed refresh finished"
                ),
                Err(e) => tracing::warn!(error = %e, "feed refresh failed"),
            }
            // New knowledge: inventories judged again (new advisories become findings), then
            // re-score what it changed (an EPSS day, a KEV entry).
            let worker = format!("serve:{}", std::process::id());
            match self.run_redetect_job(&worker, false).await {
                Ok(r) => tracing::info!(
                    assets = r.assets,
                    findings = r.findings,
                    fixed = r.fixed,
                    "detection finished"
                ),
                Err(e) => tracing::warn!(error = %e, "detection failed"),
            }
            match self.run_prioritize_job(&worker).await {
                Ok(r) => tracing::info!(
                    contexts_changed = r.contexts_changed,
                    findings_updated = r.findings_updated,
                    findings_attached = r.findings_attached,
                    "prioritization finished"
                ),
                Err(e) => tracing::warn!(error = %e, "prioritization failed"),
            }
        }
    }
}

/// When the next refresh is due: `period` after the last run (at most an hour after a failed
/// one), and not before `delay` after start-up.
pub fn next_refresh(
    last: Option<(i64, bool)>,
    period: Duration,
    started: OffsetDateTime,
    delay: Duration,
) -> OffsetDateTime {
    let earliest = started + delay;
    let Some((finished, failed)) = last else {
        return earliest;
    };
    let wait = if failed {
        period.min(Duration::from_secs(3600))
    } else {
        period
    };
    let due = OffsetDateTime::from_unix_timestamp(finished).unwrap_or(started) + wait;
    due.max(earliest)
}

/// When the next refresh is due, from the `feeds.refresh` setting: `None` when off.
pub fn refresh_period(setting: &str) -> Result<Option<Duration>, AppError> {
    let hours = match setting.trim().to_ascii_lowercase().as_str() {
        "off" | "never" | "" => return Ok(None),
        "hourly" => 1,
        "daily" => 24,
        "weekly" => 24 * 7,
        n => n.parse::<u64>().ok().filter(|h| *h > 0).ok_or_else(|| {
            AppError::Invalid(format!(
                "feeds.refresh `{setting}`: expected hourly, daily, weekly, off, or a number of hours"
            ))
        })?,
    };
    Ok(Some(Duration::from_secs(hours * 3600)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nvd_dates_and_content_ranges() {
        let t = OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap();
        assert_eq!(nvd_date(t), "2023-11-14T22:13:20.000+00:00");
        let mut h = HeaderMap::new();
        h.insert(
            header::CONTENT_RANGE,
            HeaderValue::from_static("bytes 500-999/1000"),
        );
        assert_eq!(content_range_start(&h), Some(500));
        assert_eq!(
            http_date(Some("Sun, 01 Nov 2026 10:00:00 GMT")).map(|d| d.to_string()),
            Some("2026-11-01".into())
        );
        assert_eq!(http_date(Some("yesterday")), None);
    }

    #[test]
    fn refresh_settings() {
        assert_eq!(refresh_period("off").unwrap(), None);
        assert_eq!(
            refresh_period("daily").unwrap(),
            Some(Duration::from_secs(86400))
        );
        assert_eq!(
            refresh_period("6").unwrap(),
            Some(Duration::from_secs(6 * 3600))
        );
        assert!(refresh_period("sometimes").is_err());
        let start = OffsetDateTime::from_unix_timestamp(1_000_000).unwrap();
        let day = Duration::from_secs(86400);
        let delay = Duration::from_secs(600);
        assert_eq!(next_refresh(None, day, start, delay), start + delay);
        // Ran an hour ago: due in 23 hours.
        assert_eq!(
            next_refresh(Some((1_000_000 - 3600, false)), day, start, delay),
            start + Duration::from_secs(23 * 3600)
        );
        // Failed an hour ago: due now, but not before the start-up delay.
        assert_eq!(
            next_refresh(Some((1_000_000 - 3600, true)), day, start, delay),
            start + delay
        );
        // Ran long ago: catch up once, after the delay.
        assert_eq!(
            next_refresh(Some((1_000, false)), day, start, delay),
            start + delay
        );
        assert!(check_sources(&["kev".into(), "nvd".into()]).is_ok());
        assert!(
            check_sources(&["kevv".into()])
                .unwrap_err()
                .to_string()
                .contains("known sources: kev")
        );
    }
}
