//! `vantage feeds …` and `vantage cve`.

use std::io::Write;
use std::path::PathBuf;

use serde::Serialize;
use vantage_app::feeds::{ImportOptions, ImportReport};
use vantage_app::sync::{SourceReport, SyncOptions, SyncOutcome, SyncProgress};
use vantage_app::{AppError, Config};
use vantage_domain::{FeedKind, VulnerabilityView};

use crate::cli::{CveArgs, FeedsCommand, Format};
use crate::output::{Printer, Row, opt};

/// Files under the given paths, directories read recursively in name order.
fn collect_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, AppError> {
    let mut out = Vec::new();
    for p in paths {
        let meta =
            std::fs::metadata(p).map_err(|e| AppError::Invalid(format!("{}: {e}", p.display())))?;
        if meta.is_dir() {
            let mut entries: Vec<PathBuf> = std::fs::read_dir(p)
                .map_err(|e| AppError::Invalid(format!("{}: {e}", p.display())))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .collect();
            entries.sort();
            out.extend(collect_files(&entries)?);
        } else {
            out.push(p.clone());
        }
    }
    Ok(out)
}

impl Row for ImportReport {
    fn headers() -> &'static [&'static str] {
        &[
            "feed",
            "file",
            "data_date",
            "records",
            "new",
            "changed",
            "unchanged",
            "skipped",
            "ms",
        ]
    }
    fn cells(&self) -> Vec<String> {
        let c = self.counts;
        if self.already_imported {
            return vec![
                self.feed.to_string(),
                self.path.display().to_string(),
                String::new(),
                "already imported".into(),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
                self.elapsed_ms.to_string(),
            ];
        }
        vec![
            self.feed.to_string(),
            self.path.display().to_string(),
            opt(&self.data_date),
            c.records.to_string(),
            c.new.to_string(),
            c.changed.to_string(),
            c.unchanged.to_string(),
            self.skipped.len().to_string(),
            self.elapsed_ms.to_string(),
        ]
    }
}

impl Row for SourceReport {
    fn headers() -> &'static [&'static str] {
        &[
            "source",
            "outcome",
            "downloaded",
            "not_modified",
            "bytes",
            "records",
            "new",
            "changed",
            "unchanged",
            "seconds",
            "error",
        ]
    }
    fn cells(&self) -> Vec<String> {
        let c = self.counts;
        vec![
            self.source.clone(),
            match self.outcome {
                SyncOutcome::Updated => "updated",
                SyncOutcome::Unchanged => "unchanged",
                SyncOutcome::Failed => "FAILED",
            }
            .into(),
            self.downloaded.to_string(),
            self.not_modified.to_string(),
            self.bytes.to_string(),
            c.records.to_string(),
            c.new.to_string(),
            c.changed.to_string(),
            c.unchanged.to_string(),
            format!("{:.1}", self.elapsed_ms as f64 / 1000.0),
            opt(&self.error),
        ]
    }
}

/// One progress bar per source on standard error; nothing is drawn when it is not a terminal.
struct Bars {
    multi: indicatif::MultiProgress,
    bars: std::sync::Mutex<std::collections::HashMap<String, indicatif::ProgressBar>>,
}

impl Bars {
    fn new() -> Self {
        Bars {
            multi: indicatif::MultiProgress::with_draw_target(
                indicatif::ProgressDrawTarget::stderr(),
            ),
            bars: Default::default(),
        }
    }

    fn bar(&self, source: &str) -> indicatif::ProgressBar {
        let mut bars = self.bars.lock().unwrap_or_else(|e| e.into_inner());
        bars.entry(source.to_string())
            .or_insert_with(|| {
                let b = self.multi.add(indicatif::ProgressBar::no_length());
                b.set_prefix(format!("{source:<9}"));
                b
            })
            .clone()
    }
}

impl SyncProgress for Bars {
    fn start(&self, source: &str, what: &str, total: Option<u64>) {
        let b = self.bar(source);
        let style = match total {
            Some(_) => "{prefix} {bar:30} {bytes:>10}/{total_bytes:<10} {bytes_per_sec:>12} {msg}",
            None => "{prefix} {spinner} {bytes:>10} {bytes_per_sec:>12} {msg}",
        };
        if let Ok(s) = indicatif::ProgressStyle::with_template(style) {
            b.set_style(s);
        }
        b.reset();
        match total {
            Some(t) => b.set_length(t),
            None => b.unset_length(),
        }
        b.set_message(what.to_string());
    }
    fn advance(&self, source: &str, bytes: u64) {
        self.bar(source).inc(bytes);
    }
    fn note(&self, source: &str, message: &str) {
        self.bar(source).set_message(message.to_string());
        tracing::debug!(source, "{message}");
    }
    fn finish(&self, r: &SourceReport) {
        let b = self.bar(&r.source);
        if let Ok(s) = indicatif::ProgressStyle::with_template("{prefix} {msg}") {
            b.set_style(s);
        }
        b.finish_with_message(match (&r.error, r.outcome) {
            (Some(e), _) => format!("failed: {e}"),
            (None, SyncOutcome::Unchanged) => "unchanged".to_string(),
            (None, _) => format!(
                "{} new, {} changed, {} unchanged",
                r.counts.new, r.counts.changed, r.counts.unchanged
            ),
        });
    }
}

/// One line of `feeds status`.
#[derive(Serialize)]
struct FeedStatus {
    feed: String,
    last_file: String,
    data_date: Option<String>,
    imported_at: String,
    records: i64,
    age_days: i64,
    stale: bool,
}

/// Days after which a source is stale: EPSS changes daily, KEV and the CVE feeds weekly.
fn stale_after_days(feed: &str) -> i64 {
    match feed {
        "epss" => 2,
        "kev" | "nvd" | "cve5" | "osv" | "alpine-secdb" | "debian-list" | "debian-tracker"
        | "oval" => 7,
        "certfr" => 14,
        _ => 30,
    }
}

impl Row for FeedStatus {
    fn headers() -> &'static [&'static str] {
        &[
            "feed",
            "last_file",
            "data_date",
            "imported_at",
            "records",
            "age_days",
            "stale",
        ]
    }
    fn cells(&self) -> Vec<String> {
        vec![
            self.feed.clone(),
            self.last_file.clone(),
            opt(&self.data_date),
            self.imported_at.clone(),
            self.records.to_string(),
            self.age_days.to_string(),
            if self.stale {
                "STALE".into()
            } else {
                "ok".into()
            },
        ]
    }
}

/// `vantage feeds import|status`.
pub async fn feeds(config: Config, c: FeedsCommand) -> anyhow::Result<()> {
    match c {
        FeedsCommand::Import {
            paths,
            source,
            date,
            force,
            format,
        } => {
            let opts = ImportOptions {
                source: source
                    .map(|s| s.parse::<FeedKind>())
                    .transpose()
                    .map_err(|e| AppError::Invalid(e.to_string()))?,
                epss_date: date
                    .map(|d| {
                        time::Date::parse(
                            &d,
                            time::macros::format_description!("[year]-[month]-[day]"),
                        )
                    })
                    .transpose()
                    .map_err(|e| AppError::Invalid(format!("--date: {e} (expected YYYY-MM-DD)")))?,
                force,
            };
            let files = collect_files(&paths)?;
            let app = super::open(config).await?;
            let mut printer = Printer::new::<ImportReport>(format.format, std::io::stdout().lock());
            let mut failures: Vec<AppError> = Vec::new();
            for f in &files {
                match app.import_feed(f, &opts).await {
                    Ok(r) => printer.row(&r)?,
                    // Each failed file keeps its own transaction rolled back; the others import.
                    Err(e) if files.len() > 1 => {
                        let _ = writeln!(std::io::stderr(), "error: {e}");
                        failures.push(e);
                    }
                    Err(e) => failures.push(e),
                }
            }
            // Nothing imported and something failed: stdout stays empty, stderr says why.
            if failures.len() < files.len() || failures.is_empty() {
                printer.finish()?;
                reprioritize(&app).await;
            }
            app.store.close().await;
            match failures.len() {
                0 => Ok(()),
                1 if files.len() == 1 => Err(failures.remove(0).into()),
                n => {
                    let msg = format!(
                        "{n} of {} files failed (reported above); the others were imported",
                        files.len()
                    );
                    // The exit code follows the first failure: bad input (2) or a failure (1).
                    if failures[0].is_bad_input() {
                        Err(AppError::Invalid(msg).into())
                    } else {
                        Err(anyhow::anyhow!(msg))
                    }
                }
            }
        }
        FeedsCommand::Sync {
            sources,
            force,
            format,
        } => {
            vantage_app::sync::check_sources(&sources)?;
            let app = super::open(config).await?;
            let bars = std::sync::Arc::new(Bars::new());
            let reports = app
                .sync_feeds(&SyncOptions { sources, force }, bars.clone())
                .await?;
            let _ = bars.multi.clear();
            let mut printer = Printer::new::<SourceReport>(format.format, std::io::stdout().lock());
            for r in &reports {
                printer.row(r)?;
            }
            printer.finish()?;
            reprioritize(&app).await;
            app.store.close().await;
            let failed: Vec<&str> = reports
                .iter()
                .filter(|r| r.outcome == SyncOutcome::Failed)
                .map(|r| r.source.as_str())
                .collect();
            if failed.is_empty() {
                Ok(())
            } else {
                for r in reports.iter().filter(|r| r.error.is_some()) {
                    let _ = writeln!(
                        std::io::stderr(),
                        "error: {}: {}",
                        r.source,
                        r.error.as_deref().unwrap_or_default()
                    );
                }
                Err(anyhow::anyhow!(
                    "{} of {} sources failed: {} (the others were applied; stored data of the failed ones is unchanged)",
                    failed.len(),
                    reports.len(),
                    failed.join(", ")
                ))
            }
        }
        FeedsCommand::Status(format) => {
            let app = super::open(config).await?;
            let mut printer = Printer::new::<FeedStatus>(format.format, std::io::stdout().lock());
            let now = time::OffsetDateTime::now_utc();
            let mut stale = Vec::new();
            for (feed, path, data_date, finished, records) in app.store.feed_status().await? {
                let at = time::OffsetDateTime::from_unix_timestamp(finished).unwrap_or(now);
                let imported_at = at
                    .format(&time::format_description::well_known::Rfc3339)
                    .unwrap_or_default();
                let age_days = (now - at).whole_days();
                let is_stale = age_days > stale_after_days(&feed);
                if is_stale {
                    stale.push(format!("{feed} ({age_days} days)"));
                }
                printer.row(&FeedStatus {
                    feed,
                    last_file: path,
                    data_date,
                    imported_at,
                    records,
                    age_days,
                    stale: is_stale,
                })?;
            }
            if !stale.is_empty() {
                tracing::warn!(
                    "stale sources: {}; run `vantage feeds sync` (or import newer files with `vantage feeds import`)",
                    stale.join(", ")
                );
            }
            printer.finish()?;
            app.store.close().await;
            Ok(())
        }
    }
}

/// `vantage cve ID`.
pub async fn cve(config: Config, a: CveArgs) -> anyhow::Result<()> {
    let app = super::open(config).await?;
    let view = app.vulnerability(&a.id).await?;
    let mut out = std::io::stdout().lock();
    match a.format {
        Format::Json => {
            serde_json::to_writer_pretty(&mut out, &view)?;
            writeln!(out)?;
        }
        Format::Table | Format::Csv => write_summary(&mut out, &view)?,
    }
    app.store.close().await;
    Ok(())
}

fn write_summary(out: &mut impl Write, v: &VulnerabilityView) -> std::io::Result<()> {
    writeln!(out, "{}", v.id)?;
    if let Some(s) = &v.summary {
        writeln!(out, "  {s}")?;
    }
    if !v.aliases.is_empty() {
        writeln!(out, "  aliases: {}", v.aliases.join(", "))?;
    }
    writeln!(out, "\nCVSS")?;
    for c in &v.cvss {
        let role = if c.cvss.primary {
            "primary"
        } else {
            "secondary"
        };
        writeln!(
            out,
            "  {:<5} {:>4}  {}  ({}, {role}, via {})",
            c.cvss.version,
            c.cvss
                .base_score
                .map(|s| format!("{s:.1}"))
                .unwrap_or_default(),
            c.cvss.vector,
            c.cvss.source,
            c.feed
        )?;
    }
    for s in &v.ssvc {
        writeln!(
            out,
            "\nSSVC ({}): exploitation {}, automatable {}, technical impact {}",
            s.source,
            opt(&s.exploitation),
            opt(&s.automatable),
            opt(&s.technical_impact)
        )?;
    }
    if let Some(e) = &v.epss {
        let trend: Vec<String> = v
            .epss_history
            .iter()
            .take(5)
            .map(|h| format!("{} {:.5}", h.date, h.score))
            .collect();
        writeln!(
            out,
            "\nEPSS {:.5} (percentile {:.5}) on {}; history: {}",
            e.score,
            e.percentile,
            e.date,
            trend.join(", ")
        )?;
    }
    match &v.kev {
        Some(k) => writeln!(
            out,
            "\nKEV: added {}, due {}{} — {}",
            k.date_added,
            opt(&k.due_date),
            if k.known_ransomware {
                ", used by ransomware"
            } else {
                ""
            },
            k.required_action
        )?,
        None => writeln!(out, "\nKEV: not listed")?,
    }
    for a in &v.certfr {
        writeln!(out, "CERT-FR: {} {}", a.id, a.title)?;
    }
    for e in &v.exploits {
        let mut facts: Vec<String> = [&e.kind, &e.platform]
            .into_iter()
            .flatten()
            .cloned()
            .collect();
        if let Some(d) = e.published {
            facts.push(d.to_string());
        }
        if e.verified == Some(true) {
            facts.push("verified".into());
        }
        let facts = if facts.is_empty() {
            String::new()
        } else {
            format!(" ({})", facts.join(", "))
        };
        writeln!(
            out,
            "Exploit {}:{}{facts} {}",
            e.source,
            e.source_id,
            opt(&e.title)
        )?;
    }
    for r in &v.records {
        for a in &r.affected {
            let fixed: Vec<&str> = a.fixed_versions().collect();
            let fixed = if fixed.is_empty() {
                "no fix known".to_string()
            } else {
                format!("fixed in {}", fixed.join(", "))
            };
            writeln!(
                out,
                "Affected ({} {}): {} {} — {fixed}",
                r.feed, r.id, a.ecosystem, a.name
            )?;
        }
    }
    let feeds: Vec<String> = v
        .records
        .iter()
        .map(|r| format!("{} ({})", r.feed, r.id))
        .collect();
    let sources = if feeds.is_empty() {
        "no vulnerability record yet (threat data only)".to_string()
    } else {
        feeds.join(", ")
    };
    writeln!(
        out,
        "\nSources: {sources}; open findings here: {}",
        v.open_findings
    )?;
    Ok(())
}

/// After new knowledge, re-scores the findings it changes (when there are findings), and says
/// so on standard error (standard output stays the import report).
async fn reprioritize(app: &vantage_app::App) {
    // Inventories are judged again with the new data (which prioritizes too).
    if let Ok(assets) = app.store.inventoried_assets().await
        && !assets.is_empty()
    {
        match app.run_redetect_job("cli", false).await {
            Ok(r) => {
                let p = &r.prioritization;
                let _ = writeln!(
                    std::io::stderr(),
                    "detected: {} assets judged again, {} open package findings, {} fixed; \
                     prioritized: {} of {} contexts changed, {} findings updated, {} newly prioritized",
                    r.assets,
                    r.findings,
                    r.fixed,
                    p.contexts_changed,
                    p.contexts,
                    p.findings_updated,
                    p.findings_attached
                );
                return;
            }
            Err(e) => {
                let _ = writeln!(std::io::stderr(), "warning: detection failed: {e}");
            }
        }
    }
    match app.store.count_findings().await {
        Ok(0) | Err(_) => {}
        Ok(_) => match app.run_prioritize_job("cli").await {
            Ok(r) => {
                let _ = writeln!(
                    std::io::stderr(),
                    "prioritized: {} of {} contexts changed, {} findings updated, {} newly prioritized ({:.1} s)",
                    r.contexts_changed,
                    r.contexts,
                    r.findings_updated,
                    r.findings_attached,
                    r.seconds
                );
            }
            Err(e) => {
                let _ = writeln!(std::io::stderr(), "warning: prioritization failed: {e}");
            }
        },
    }
}
