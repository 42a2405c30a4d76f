//! `vantage discover aws|azure|gcp|openstack|domain` (Kubernetes lives with the image commands).

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use vantage_app::Config;
use vantage_app::cloud::{CloudAsset, CloudReport, CloudRequest, CloudTuning};
use vantage_cloud::RegionOutcome;

use crate::cli::{CloudArgs, DiscoverCommand, Format};
use crate::output::{Printer, Row};

/// Region progress on standard error: one spinner line, failures printed above it.
struct Bar(indicatif::ProgressBar);

impl vantage_cloud::Progress for Bar {
    fn region_done(&self, o: &RegionOutcome) {
        self.0.inc(1);
        match &o.error {
            None => self.0.set_message(format!(
                "{} {}: {} resources",
                o.account, o.region, o.resources
            )),
            Some(e) => self
                .0
                .println(format!("warning: {} {}: {e}", o.account, o.region)),
        }
    }
}

#[derive(serde::Serialize)]
#[serde(transparent)]
struct ResourceRow(CloudAsset);

impl Row for ResourceRow {
    fn headers() -> &'static [&'static str] {
        &[
            "asset",
            "account",
            "region",
            "kind",
            "id",
            "name",
            "state",
            "public",
            "private",
            "internet",
            "open ports",
            "scopes",
        ]
    }
    fn cells(&self) -> Vec<String> {
        let r = &self.0.resource;
        let ips = |v: &[std::net::IpAddr]| {
            v.iter()
                .map(|i| i.to_string())
                .collect::<Vec<_>>()
                .join(" ")
        };
        let mut ports: Vec<String> = r.exposures.iter().map(|e| e.ports()).collect();
        ports.dedup();
        vec![
            self.0.asset_id.0.to_string(),
            r.account.clone(),
            r.region.clone(),
            r.kind.as_str().to_string(),
            r.id.clone(),
            r.name.clone(),
            r.state.clone(),
            ips(&r.public_ips),
            ips(&r.private_ips),
            if r.internet_exposed { "yes" } else { "no" }.to_string(),
            ports.join(" "),
            self.0.scopes.join(" "),
        ]
    }
}

fn tuning(c: &CloudArgs) -> CloudTuning {
    CloudTuning {
        concurrency: c.concurrency.max(1),
        timeout: Duration::from_secs(c.timeout.max(1)),
        page_size: c.page_size.max(1),
        scope: c.scope.clone(),
        ..CloudTuning::default()
    }
}

/// `vantage discover …`.
pub async fn run(config: Config, c: DiscoverCommand) -> anyhow::Result<()> {
    let (req, common) = match c {
        DiscoverCommand::Aws {
            regions,
            profile,
            assume_roles,
            external_id,
            endpoint,
            no_load_balancers,
            common,
        } => (
            CloudRequest::Aws {
                regions,
                profile,
                assume_roles,
                external_id,
                endpoint,
                no_load_balancers,
            },
            common,
        ),
        DiscoverCommand::Azure {
            subscriptions,
            endpoint,
            authority,
            common,
        } => (
            CloudRequest::Azure(vantage_cloud::azure::AzureOptions {
                subscriptions,
                endpoint,
                authority,
            }),
            common,
        ),
        DiscoverCommand::Gcp {
            projects,
            key_file,
            endpoint,
            common,
        } => {
            let page = common.page_size.min(500);
            (
                CloudRequest::Gcp(vantage_cloud::gcp::GcpOptions {
                    projects,
                    key_file,
                    endpoint,
                    page_size: Some(page),
                }),
                common,
            )
        }
        DiscoverCommand::Openstack {
            auth_url,
            region,
            interface,
            common,
        } => {
            let page = common.page_size;
            (
                CloudRequest::Openstack(vantage_cloud::openstack::OpenstackOptions {
                    auth_url,
                    region,
                    interface,
                    page_size: Some(page),
                }),
                common,
            )
        }
        DiscoverCommand::Domain(args) => return super::external::run(config, args).await,
        k @ DiscoverCommand::Kubernetes { .. } => {
            return super::inventory::discover(config, k).await;
        }
    };
    let app = super::open(config).await?;
    let result = async {
        let bar =
            indicatif::ProgressBar::with_draw_target(None, indicatif::ProgressDrawTarget::stderr());
        if let Ok(s) = indicatif::ProgressStyle::with_template(
            "{spinner} {pos} regions listed  {msg}  [{elapsed}]",
        ) {
            bar.set_style(s);
        }
        bar.enable_steady_tick(Duration::from_millis(150));
        let progress = Arc::new(Bar(bar.clone()));
        let report = app
            .discover_cloud(&req, &tuning(&common), progress, "cli")
            .await;
        bar.finish_and_clear();
        let report = report?;
        print_report(&report, common.format)?;
        let failed = report.failed_regions();
        if common.strict && failed > 0 {
            anyhow::bail!("{failed} regions or accounts could not be listed");
        }
        Ok::<_, anyhow::Error>(())
    }
    .await;
    app.store.close().await;
    result
}

fn print_report(r: &CloudReport, format: Format) -> anyhow::Result<()> {
    let mut err = std::io::stderr();
    for o in r.regions.iter().filter(|o| o.error.is_some()) {
        let _ = writeln!(
            err,
            "warning: {} {} not listed: {}",
            o.account,
            o.region,
            o.error.as_deref().unwrap_or("")
        );
    }
    let _ = writeln!(
        err,
        "{}: {} resources ({} internet-exposed) in {} regions ({} failed); {} new, {} \
         decommissioned; {} requests, {} throttled; {:.1} s (job {})",
        r.provider,
        r.resources.len(),
        r.internet_exposed,
        r.regions.len(),
        r.failed_regions(),
        r.created,
        r.decommissioned,
        r.requests,
        r.throttled,
        r.elapsed_ms as f64 / 1000.0,
        r.job_id
    );
    let mut out = std::io::stdout().lock();
    if format == Format::Json {
        serde_json::to_writer_pretty(&mut out, r)?;
        writeln!(out)?;
    } else {
        let mut printer = Printer::new::<ResourceRow>(format, &mut out);
        for a in &r.resources {
            printer.row(&ResourceRow(a.clone()))?;
        }
        printer.finish()?;
    }
    Ok(())
}
