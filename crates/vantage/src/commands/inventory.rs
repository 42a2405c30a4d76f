//! `vantage inventory import|redetect` and `vantage scan sbom`.

use std::io::Write;

use vantage_app::{AppError, Config};
use vantage_domain::{Finding, Priority};

use super::GateFailed;
use crate::cli::{Format, ImportArgs, InventoryCommand, ScanCommand};
use crate::output::{Printer, Row, opt};

/// A P1/P2 finding in the import summary.
#[derive(serde::Serialize)]
#[serde(transparent)]
struct Urgent(Finding);

impl Row for Urgent {
    fn headers() -> &'static [&'static str] {
        &[
            "priority",
            "vulnerability",
            "score",
            "package",
            "installed",
            "fixed",
            "why",
        ]
    }
    fn cells(&self) -> Vec<String> {
        let f = &self.0;
        vec![
            opt(&f.priority),
            f.vuln_id.to_string(),
            f.score.map(|s| format!("{s:.1}")).unwrap_or_default(),
            f.evidence.component.clone(),
            opt(&f.evidence.installed_version),
            opt(&f.evidence.fixed_version),
            f.prioritization
                .as_ref()
                .map(|p| p.result.explanation.clone())
                .unwrap_or_default(),
        ]
    }
}

/// `vantage inventory …`.
pub async fn run(config: Config, c: InventoryCommand) -> anyhow::Result<()> {
    match c {
        InventoryCommand::Import { asset, common } => import(config, Some(asset), common).await,
        InventoryCommand::Local {
            root,
            fail_on,
            format,
        } => {
            let fail_on = fail_on
                .map(|p| {
                    p.parse::<Priority>()
                        .map_err(|e| AppError::Invalid(format!("--fail-on: {e}")))
                })
                .transpose()?;
            let app = super::open(config).await?;
            let r = app.inventory_local(&root).await;
            app.store.close().await;
            let r = r?;
            let headline = format!(
                "kernel {}{}{}; up {}; {} listening sockets: {}",
                r.kernel.as_deref().unwrap_or("unknown"),
                if r.newer_kernel_installed {
                    format!(
                        " (a newer kernel is installed: {})",
                        r.installed_kernels
                            .last()
                            .map(String::as_str)
                            .unwrap_or_default()
                    )
                } else {
                    String::new()
                },
                if r.reboot_required {
                    "; REBOOT REQUIRED"
                } else {
                    ""
                },
                r.uptime_secs
                    .map(|s| format!("{}d {}h", s / 86_400, s % 86_400 / 3600))
                    .unwrap_or_else(|| "unknown".into()),
                r.listening.len(),
                r.listening
                    .iter()
                    .map(|l| format!("{}/{}:{}", l.protocol, l.address, l.port))
                    .collect::<Vec<_>>()
                    .join(" ")
            );
            report(&r.inventory, &r, format, fail_on, &headline)
        }
        InventoryCommand::Redetect { all, format } => {
            let app = super::open(config).await?;
            let r = app.run_redetect_job("cli", all).await?;
            app.store.close().await;
            let mut out = std::io::stdout().lock();
            if format == Format::Json {
                serde_json::to_writer_pretty(&mut out, &r)?;
                writeln!(out)?;
            } else {
                writeln!(
                    out,
                    "{} assets judged again: {} open package findings, {} fixed; prioritized: {} findings updated, {} new ({:.1} s)",
                    r.assets,
                    r.findings,
                    r.fixed,
                    r.prioritization.findings_updated,
                    r.prioritization.findings_attached,
                    r.seconds
                )?;
            }
            Ok(())
        }
    }
}

/// `vantage scan …`.
pub async fn scan(config: Config, c: ScanCommand) -> anyhow::Result<()> {
    match c {
        ScanCommand::Sbom { asset, common } => import(config, asset, common).await,
        ScanCommand::Network(args) => super::network::scan(config, args).await,
    }
}

/// Imports one inventory file, prints the report, applies the `--fail-on` gate.
async fn import(config: Config, asset: Option<String>, args: ImportArgs) -> anyhow::Result<()> {
    let ImportArgs {
        os,
        file,
        fail_on,
        format,
    } = args;
    let fail_on = fail_on
        .map(|p| {
            p.parse::<Priority>()
                .map_err(|e| AppError::Invalid(format!("--fail-on: {e}")))
        })
        .transpose()?;
    let app = super::open(config).await?;
    let r = app
        .import_inventory_file(asset.as_deref(), os.as_deref(), &file)
        .await?;
    app.store.close().await;
    report(&r, &r, format, fail_on, "")
}

/// Prints an inventory report (warnings on stderr; `json` is what `--format json` prints, the
/// table adds `headline` first) and applies the `--fail-on` gate.
fn report(
    r: &vantage_app::inventory::InventoryReport,
    json: &impl serde::Serialize,
    format: Format,
    fail_on: Option<Priority>,
    headline: &str,
) -> anyhow::Result<()> {
    let mut err = std::io::stderr();
    if !r.distro_data {
        let _ = writeln!(
            err,
            "warning: no distribution security data is stored for {}: its distribution packages \
             could not be judged. Import it first (vantage feeds import …, or vantage feeds sync \
             alpine|debian).",
            r.os.as_deref().unwrap_or("this release")
        );
    }
    if !r.osv_data {
        let _ = writeln!(
            err,
            "warning: no OSV advisories are stored: the {} language packages could not be judged. \
             Import them first (vantage feeds import …/advisories).",
            r.language_packages
        );
    }
    let mut out = std::io::stdout().lock();
    match format {
        Format::Json => {
            serde_json::to_writer_pretty(&mut out, json)?;
            writeln!(out)?;
        }
        Format::Table => {
            if !headline.is_empty() {
                writeln!(out, "{headline}")?;
            }
            let [p1, p2, p3, p4, none] = r.by_priority;
            let mut judged = Vec::new();
            if r.source_packages > 0 {
                judged.push(format!("{} source packages", r.source_packages));
            }
            if r.language_packages > 0 {
                judged.push(format!(
                    "{} language packages, {} advisories",
                    r.language_packages, r.advisories
                ));
            }
            if r.skipped > 0 {
                judged.push(format!("{} components skipped", r.skipped));
            }
            writeln!(
                out,
                "{} ({}, {}): {} packages ({}), {} open findings — P1 {p1}, P2 {p2}, P3 {p3}, P4 {p4}{}; {} fixed since the last import",
                r.asset,
                r.os.as_deref().unwrap_or("no OS"),
                r.format,
                r.packages,
                judged.join("; "),
                r.findings,
                if none > 0 {
                    format!(", not prioritized {none}")
                } else {
                    String::new()
                },
                r.fixed
            )?;
            if !r.urgent.is_empty() {
                let mut printer = Printer::new::<Urgent>(Format::Table, &mut out);
                for f in &r.urgent {
                    printer.row(&Urgent(f.clone()))?;
                }
                printer.finish()?;
            }
        }
        Format::Csv => {
            let mut printer = Printer::new::<Urgent>(Format::Csv, &mut out);
            for f in &r.urgent {
                printer.row(&Urgent(f.clone()))?;
            }
            printer.finish()?;
        }
    }
    if let Some(gate) = fail_on {
        let n: u64 = r.by_priority[..usize::from(gate.rank() as u8)].iter().sum();
        if n > 0 {
            return Err(GateFailed(format!(
                "{n} open finding{} at {} or above (--fail-on {})",
                if n == 1 { "" } else { "s" },
                gate.as_str().to_ascii_uppercase(),
                gate
            ))
            .into());
        }
    }
    Ok(())
}
