//! `vantage scan network` and `vantage import nmap`: a live progress bar on standard error while
//! the scan runs, then the hosts and services as a table, JSON (the whole report) or CSV (one
//! row per open port).

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use vantage_app::Config;
use vantage_app::network::{NetworkScanReport, NetworkScanRequest, PortSelection};
use vantage_scan::Progress;

use crate::cli::{Format, ImportCommand, NetworkArgs};
use crate::output::{Printer, Row};

/// One open port, flattened for tables and CSV.
#[derive(Serialize)]
struct ServiceRow {
    host: String,
    hostname: String,
    port: u16,
    state: &'static str,
    service: String,
    product: String,
    version: String,
    cpe: String,
    tls: String,
    http: String,
    findings: String,
}

impl Row for ServiceRow {
    fn headers() -> &'static [&'static str] {
        &[
            "host", "hostname", "port", "state", "service", "product", "version", "cpe", "tls",
            "http", "findings",
        ]
    }
    fn cells(&self) -> Vec<String> {
        vec![
            self.host.clone(),
            self.hostname.clone(),
            self.port.to_string(),
            self.state.to_string(),
            self.service.clone(),
            self.product.clone(),
            self.version.clone(),
            self.cpe.clone(),
            self.tls.clone(),
            self.http.clone(),
            self.findings.clone(),
        ]
    }
}

fn rows(r: &NetworkScanReport) -> Vec<ServiceRow> {
    let mut out = Vec::new();
    for h in &r.hosts {
        for p in &h.host.ports {
            let s = p.service.clone().unwrap_or_default();
            let tls = s
                .tls
                .as_ref()
                .map(|t| {
                    let mut flags = vec![t.protocol.clone()];
                    if let Some(end) = t.not_after {
                        flags.push(format!("until {}", end.date()));
                    }
                    for (on, what) in [
                        (t.expired, "EXPIRED"),
                        (t.not_yet_valid, "NOT YET VALID"),
                        (t.self_signed, "self-signed"),
                        (t.hostname_mismatch, "name mismatch"),
                        (t.weak_key, "weak key"),
                        (t.weak_signature, "weak signature"),
                    ] {
                        if on {
                            flags.push(what.into());
                        }
                    }
                    flags.extend(t.legacy_protocols.iter().cloned());
                    flags.retain(|f| !f.is_empty());
                    flags.join(", ")
                })
                .unwrap_or_default();
            let http = s
                .http
                .as_ref()
                .map(|h| {
                    let mut parts = vec![h.status.to_string()];
                    parts.extend(h.title.iter().map(|t| format!("\"{t}\"")));
                    parts.extend(h.redirect.iter().map(|l| format!("→ {l}")));
                    parts.join(" ")
                })
                .unwrap_or_default();
            let component = format!("tcp/{}", p.port);
            let findings: Vec<&str> = h
                .findings
                .iter()
                .filter(|f| {
                    f.component == component || f.component.starts_with(&format!("{component}/"))
                })
                .map(|f| f.vuln_id.as_str())
                .collect();
            let name = match (&s.tunnel, &s.name) {
                (Some(t), Some(n)) if n != t => format!("{t}/{n}"),
                (_, n) => n.clone().unwrap_or_default(),
            };
            out.push(ServiceRow {
                host: h.host.ip.to_string(),
                hostname: h.host.hostname.clone().unwrap_or_default(),
                port: p.port,
                state: "open",
                service: name,
                product: s.product.unwrap_or_default(),
                version: s.version.unwrap_or_default(),
                cpe: s.cpes.join(" "),
                tls,
                http,
                findings: findings.join(" "),
            });
        }
    }
    out
}

fn print(r: &NetworkScanReport, format: Format) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    match format {
        Format::Json => {
            serde_json::to_writer_pretty(&mut out, r)?;
            writeln!(out)?;
        }
        Format::Csv | Format::Table => {
            let mut printer = Printer::new::<ServiceRow>(format, &mut out);
            for row in rows(r) {
                printer.row(&row)?;
            }
            printer.finish()?;
            if format == Format::Table {
                writeln!(
                    out,
                    "{} of {} hosts up, {} open ports ({} new, {} closed), {} findings ({} fixed){}; {:.1} s",
                    r.hosts_up,
                    r.hosts_scanned,
                    r.open_ports,
                    r.services_opened,
                    r.services_closed,
                    r.findings,
                    r.findings_fixed,
                    if r.scope.is_some() {
                        format!(
                            ", {} scope members missed ({} decommissioned)",
                            r.assets_missed, r.assets_decommissioned
                        )
                    } else {
                        String::new()
                    },
                    r.elapsed_ms / 1000.0
                )?;
            }
        }
    }
    Ok(())
}

/// Draws the scan's counters on standard error until `done`; nothing when it is not a terminal.
async fn show_progress(progress: Arc<Progress>, done: tokio::sync::watch::Receiver<bool>) {
    let bar =
        indicatif::ProgressBar::with_draw_target(None, indicatif::ProgressDrawTarget::stderr());
    if let Ok(s) = indicatif::ProgressStyle::with_template(
        "{spinner} {bar:30} {pos}/{len} ports  {msg}  [{elapsed}]",
    ) {
        bar.set_style(s);
    }
    let started = std::time::Instant::now();
    let mut done = done;
    loop {
        let g = |c: &std::sync::atomic::AtomicU64| Progress::get(c);
        bar.set_length(g(&progress.ports_total));
        bar.set_position(g(&progress.ports_done));
        let rate = g(&progress.attempts) as f64 / started.elapsed().as_secs_f64().max(0.001);
        bar.set_message(format!(
            "hosts {}/{} ({} up)  open {}  {:.0} conn/s",
            g(&progress.hosts_done),
            g(&progress.hosts_total),
            g(&progress.hosts_up),
            g(&progress.open),
            rate
        ));
        if *done.borrow() {
            break;
        }
        tokio::select! {
            _ = done.changed() => {}
            () = tokio::time::sleep(Duration::from_millis(150)) => {}
        }
    }
    bar.finish_and_clear();
}

/// `vantage scan network`.
pub async fn scan(config: Config, a: NetworkArgs) -> anyhow::Result<()> {
    let ports = match (&a.ports, a.top_ports) {
        (Some(spec), _) => PortSelection::Spec(spec.clone()),
        (None, Some(n)) => PortSelection::Top(n),
        (None, None) if config.scan.services_file.exists() => PortSelection::Top(1000),
        (None, None) => {
            tracing::warn!(
                "{} is missing: scanning ports 1-1024 (install nmap-common for --top-ports)",
                config.scan.services_file.display()
            );
            PortSelection::Spec("1-1024".into())
        }
    };
    let app = super::open(config).await?;
    let req = NetworkScanRequest {
        targets: a.targets,
        exclude: a.exclude,
        ports,
        scope: a.scope,
        discovery: !a.no_ping,
        service_detection: !a.no_service_detection,
        rate: a.rate,
        concurrency: a.concurrency,
    };
    let plan = app.plan_network_scan(&req).await?;
    tracing::info!(hosts = plan.hosts(), ports = plan.ports(), "scan planned");
    let progress = Arc::new(Progress::default());
    let (tx, rx) = tokio::sync::watch::channel(false);
    let drawer = tokio::spawn(show_progress(progress.clone(), rx));
    let result = app.run_network_scan(plan, progress).await;
    let _ = tx.send(true);
    let _ = drawer.await;
    app.store.close().await;
    print(&result?, a.format)
}

/// `vantage import …`.
pub async fn import(config: Config, c: ImportCommand) -> anyhow::Result<()> {
    match c {
        ImportCommand::Nmap {
            file,
            scope,
            format,
        } => {
            let app = super::open(config).await?;
            let r = app.import_nmap(&file, scope.as_deref()).await;
            app.store.close().await;
            print(&r?, format)
        }
    }
}
