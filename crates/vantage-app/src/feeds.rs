//! Importing feed files into the knowledge base, and reading it back.
//!
//! One file is one transaction: a file that fails half-way (truncated, malformed) leaves the
//! knowledge base exactly as it was. A file already imported (same SHA-256) is recognised and
//! skipped. The parser runs on its own thread and hands batches to the writer through a bounded
//! channel, so parsing and writing overlap and memory stays bounded.

use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::Serialize;
use time::{Date, OffsetDateTime};
use vantage_domain::{FeedKind, ImportCounts, VulnId, VulnRecord, VulnerabilityView};
use vantage_feeds::{Cve5Reader, EpssReader, FeedError, NvdReader, OsvReader};
use vantage_store::{ImportLog, ImportTx};

use crate::app::App;
use crate::error::AppError;

/// Records per batch handed from the parser to the writer.
const BATCH: usize = 1000;

/// What importing one file did.
#[derive(Debug, Clone, Serialize)]
pub struct ImportReport {
    /// The file.
    pub path: PathBuf,
    /// Its feed.
    pub feed: FeedKind,
    /// Whether the same file had been imported before (nothing was done).
    pub already_imported: bool,
    /// The data's own date or version.
    pub data_date: Option<String>,
    /// Records read and what happened to them.
    pub counts: ImportCounts,
    /// Records skipped as individually malformed, described.
    pub skipped: Vec<String>,
    /// Wall time, milliseconds.
    pub elapsed_ms: u128,
}

/// Options of an import.
#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    /// Force the feed instead of detecting it.
    pub source: Option<FeedKind>,
    /// Score date of an EPSS file that does not say it.
    pub epss_date: Option<Date>,
    /// Import even when the same file was imported before.
    pub force: bool,
}

/// Runs a parser on its own thread; batches arrive through the returned channel.
fn spawn_batches<T: Send + 'static>(
    make: impl FnOnce() -> Result<Box<dyn Iterator<Item = Result<T, FeedError>> + Send>, FeedError>
    + Send
    + 'static,
) -> tokio::sync::mpsc::Receiver<Result<Vec<T>, FeedError>> {
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    std::thread::spawn(move || {
        let iter = match make() {
            Ok(i) => i,
            Err(e) => {
                let _ = tx.blocking_send(Err(e));
                return;
            }
        };
        let mut batch = Vec::with_capacity(BATCH);
        for item in iter {
            match item {
                Ok(v) => batch.push(v),
                Err(e) => {
                    let _ = tx.blocking_send(Err(e));
                    return;
                }
            }
            if batch.len() == BATCH
                && tx
                    .blocking_send(Ok(std::mem::replace(&mut batch, Vec::with_capacity(BATCH))))
                    .is_err()
            {
                return;
            }
        }
        if !batch.is_empty() {
            let _ = tx.blocking_send(Ok(batch));
        }
    });
    rx
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, FeedError> + Send + 'static,
) -> Result<T, AppError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| AppError::Invalid(format!("parser thread failed: {e}")))?
        .map_err(AppError::from)
}

async fn write_vulns(
    tx: &mut ImportTx,
    mut rx: tokio::sync::mpsc::Receiver<Result<Vec<VulnRecord>, FeedError>>,
) -> Result<ImportCounts, AppError> {
    let mut counts = ImportCounts::default();
    while let Some(batch) = rx.recv().await {
        counts += tx.vuln_records(&batch?).await?;
    }
    Ok(counts)
}

impl App {
    /// Imports one feed file.
    pub async fn import_feed(
        &self,
        path: &Path,
        opts: &ImportOptions,
    ) -> Result<ImportReport, AppError> {
        let started = Instant::now();
        let started_at = OffsetDateTime::now_utc();
        let feed = match opts.source {
            Some(f) => f,
            None => {
                let p = path.to_path_buf();
                blocking(move || vantage_feeds::detect(&p)).await?
            }
        };
        let p = path.to_path_buf();
        let sha = blocking(move || vantage_feeds::sha256_file(&p)).await?;
        let mut report = ImportReport {
            path: path.to_path_buf(),
            feed,
            already_imported: false,
            data_date: None,
            counts: ImportCounts::default(),
            skipped: Vec::new(),
            elapsed_ms: 0,
        };
        if !opts.force && self.store.imported_before(feed, &sha).await? {
            report.already_imported = true;
            report.elapsed_ms = started.elapsed().as_millis();
            return Ok(report);
        }
        let mut tx = self.store.begin_import(started_at).await?;
        let p = path.to_path_buf();
        match feed {
            FeedKind::Nvd | FeedKind::Cve5 | FeedKind::Osv => {
                // Lines whose digest matches the stored record are skipped before parsing.
                let known = self.store.vuln_digests(feed).await?;
                let skipped = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
                let counter = skipped.clone();
                let rx = spawn_batches(move || {
                    Ok(match feed {
                        FeedKind::Nvd => {
                            Box::new(NvdReader::open(&p)?.skip_known(known, counter)) as Box<_>
                        }
                        FeedKind::Osv => {
                            Box::new(OsvReader::open(&p)?.skip_known(known, counter)) as Box<_>
                        }
                        _ => Box::new(Cve5Reader::open(&p)?.skip_known(known, counter)) as Box<_>,
                    })
                });
                report.counts = write_vulns(&mut tx, rx).await?;
                let unchanged = skipped.load(std::sync::atomic::Ordering::Relaxed);
                report.counts.records += unchanged;
                report.counts.unchanged += unchanged;
            }
            FeedKind::Epss => {
                let date = opts.epss_date;
                // Opening reads the header (and the score date); the rows stream on the parser thread.
                let reader = blocking(move || EpssReader::open(&p, date)).await?;
                report.data_date = Some(reader.file.date.to_string());
                let mut rx = spawn_batches(move || Ok(Box::new(reader) as Box<_>));
                while let Some(batch) = rx.recv().await {
                    let batch = batch?;
                    report.counts.records += batch.len() as u64;
                    report.counts.new += tx.epss(&batch).await?;
                }
            }
            FeedKind::Kev => {
                let kev = blocking(move || vantage_feeds::parse_kev(&p)).await?;
                report.data_date = kev.version.clone();
                report.counts.records = kev.entries.len() as u64;
                // Catalogue versions are dates (`2026.07.23`): an older catalogue never replaces
                // a newer one, whatever the order the files are imported in.
                let stored = tx.kev_version().await?;
                match (&kev.version, &stored) {
                    (Some(new), Some(old)) if new < old => {
                        report.counts.unchanged = report.counts.records;
                        report.skipped.push(format!(
                            "catalogue {new} is older than the stored {old}: not applied"
                        ));
                    }
                    _ => {
                        report.counts.new =
                            tx.kev_catalog(kev.version.as_deref(), &kev.entries).await?
                    }
                }
            }
            FeedKind::CertFr => {
                let alerts = blocking(move || vantage_feeds::parse_certfr(&p)).await?;
                report.counts.records = alerts.len() as u64;
                report.counts.new = tx.certfr(&alerts).await?;
            }
            FeedKind::AlpineSecdb
            | FeedKind::DebianList
            | FeedKind::DebianTracker
            | FeedKind::Oval => {
                let file = blocking(move || match feed {
                    FeedKind::AlpineSecdb => vantage_feeds::parse_alpine_secdb(&p),
                    FeedKind::Oval => vantage_feeds::parse_oval(&p),
                    FeedKind::DebianTracker => vantage_feeds::parse_debian_tracker(&p),
                    _ => vantage_feeds::parse_debian_list(&p),
                })
                .await?;
                report.data_date = Some(file.collection.clone());
                report.counts.records = file.fixes.len() as u64;
                let (written, _queued) = tx
                    .replace_distro_collection(feed, &file.collection, &file.fixes)
                    .await?;
                report.counts.new = written;
                report.counts.unchanged = report.counts.records - report.counts.new;
            }
            FeedKind::ExploitDbCsv => {
                let rows = blocking(move || vantage_feeds::parse_exploitdb_csv(&p)).await?;
                report.counts.records = rows.len() as u64;
                report.counts.new = tx
                    .exploits(vantage_feeds::EXPLOITDB_SOURCE, &rows, false)
                    .await?;
            }
            FeedKind::ExploitDb => {
                let map = blocking(move || vantage_feeds::parse_exploitdb(&p)).await?;
                report.counts.records = map.exploits.len() as u64;
                report.counts.new = tx
                    .exploits(vantage_feeds::EXPLOITDB_SOURCE, &map.exploits, true)
                    .await?;
                report.skipped = map.skipped;
            }
        }
        if !report.skipped.is_empty() {
            let first: Vec<&str> = report.skipped.iter().take(3).map(String::as_str).collect();
            tracing::warn!(
                file = %path.display(),
                skipped = report.skipped.len(),
                "{} malformed entries skipped (listed in --format json), e.g. {}",
                report.skipped.len(),
                first.join("; ")
            );
        }
        let log = ImportLog {
            feed,
            path: path.display().to_string(),
            file_sha256: sha,
            data_date: report.data_date.clone(),
            started_at,
            counts: report.counts,
        };
        tx.commit(&log).await?;
        report.elapsed_ms = started.elapsed().as_millis();
        tracing::info!(feed = %feed, file = %path.display(), records = report.counts.records, duration_ms = report.elapsed_ms as u64, "feed imported");
        Ok(report)
    }

    /// Searches the knowledge base. `cursor` is the `next_cursor` of the previous page.
    pub async fn search_vulnerabilities(
        &self,
        mut filter: vantage_domain::VulnFilter,
        cursor: Option<&str>,
    ) -> Result<vantage_domain::Page<vantage_domain::VulnSummary>, AppError> {
        if let Some(c) = cursor.filter(|c| !c.is_empty()) {
            filter.after = Some(c.parse().map_err(|_| {
                AppError::Invalid(format!("`{c}` is not a cursor returned by this server"))
            })?);
        }
        if filter.epss_min.is_some_and(|e| !(0.0..=1.0).contains(&e)) {
            return Err(AppError::Invalid("epss_min must be between 0 and 1".into()));
        }
        Ok(self.store.list_vulnerabilities(&filter).await?)
    }

    /// The encyclopedia entry of a vulnerability.
    pub async fn vulnerability(&self, id: &str) -> Result<VulnerabilityView, AppError> {
        let id: VulnId = id
            .parse()
            .map_err(|e: vantage_domain::ParseError| AppError::Invalid(e.to_string()))?;
        self.store.vulnerability(&id).await?.ok_or_else(|| {
            AppError::NotFound(format!(
                "nothing is known about {id} (import feeds with `vantage feeds import`)"
            ))
        })
    }
}
