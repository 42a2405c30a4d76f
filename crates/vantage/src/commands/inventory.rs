//! `vantage inventory import`.

use std::io::Write;

use vantage_app::{AppError, Config};
use vantage_domain::{Finding, Priority};

use super::GateFailed;
use crate::cli::{Format, InventoryCommand};
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
    let (asset, os, file, fail_on, format) = match c {
        InventoryCommand::Import {
            asset,
            os,
            file,
            fail_on,
            format,
        } => (asset, os, file, fail_on, format),
        InventoryCommand::Redetect { format } => {
            let app = super::open(config).await?;
            let r = app.run_redetect_job("cli").await?;
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
            return Ok(());
        }
    };
    let fail_on = fail_on
        .map(|p| {
            p.parse::<Priority>()
                .map_err(|e| AppError::Invalid(format!("--fail-on: {e}")))
        })
        .transpose()?;
    let app = super::open(config).await?;
    let r = app.import_inventory(&asset, os.as_deref(), &file).await?;
    app.store.close().await;
    if !r.distro_data {
        let _ = writeln!(
            std::io::stderr(),
            "warning: no distribution security data is stored for {}: nothing could be judged. \
             Import it first (vantage feeds import …, or vantage feeds sync alpine|debian).",
            r.os
        );
    }
    let mut out = std::io::stdout().lock();
    match format {
        Format::Json => {
            serde_json::to_writer_pretty(&mut out, &r)?;
            writeln!(out)?;
        }
        Format::Table => {
            let [p1, p2, p3, p4, none] = r.by_priority;
            writeln!(
                out,
                "{} ({}, {}): {} packages ({} source packages), {} open findings — P1 {p1}, P2 {p2}, P3 {p3}, P4 {p4}{}; {} fixed since the last import",
                r.asset,
                r.os,
                r.format,
                r.packages,
                r.source_packages,
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
