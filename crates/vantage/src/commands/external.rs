//! `vantage discover domain`.

use std::io::Write;
use std::net::SocketAddr;

use vantage_app::Config;
use vantage_app::external::{DomainReport, DomainRequest, ExternalProgress, FoundName};

use crate::cli::{DomainArgs, Format};
use crate::output::{Printer, Row};

use super::UsageError;

struct Steps(indicatif::ProgressBar);

impl ExternalProgress for Steps {
    fn step(&self, what: &str) {
        self.0.set_message(what.to_string());
    }
}

#[derive(serde::Serialize)]
#[serde(transparent)]
struct NameRow(FoundName);

impl Row for NameRow {
    fn headers() -> &'static [&'static str] {
        &[
            "name",
            "addresses",
            "cname",
            "sources",
            "declared range",
            "asset",
            "scopes",
        ]
    }
    fn cells(&self) -> Vec<String> {
        let n = &self.0;
        vec![
            n.name.clone(),
            n.addresses
                .iter()
                .map(|a| a.to_string())
                .collect::<Vec<_>>()
                .join(" "),
            n.cname.join(" → "),
            n.sources.join(" "),
            if n.in_range {
                "yes (queued)".to_string()
            } else if n.addresses.is_empty() {
                "-".to_string()
            } else {
                "no (not scanned)".to_string()
            },
            n.asset_id.map(|a| a.0.to_string()).unwrap_or_default(),
            n.scopes.join(" "),
        ]
    }
}

fn nameserver(s: &str) -> Result<SocketAddr, UsageError> {
    if let Ok(sa) = s.parse::<SocketAddr>() {
        return Ok(sa);
    }
    s.parse::<std::net::IpAddr>()
        .map(|ip| SocketAddr::new(ip, 53))
        .map_err(|_| {
            UsageError(format!(
                "--nameserver `{s}`: expected ADDRESS or ADDRESS:PORT"
            ))
        })
}

/// `vantage discover domain …`.
pub async fn run(config: Config, a: DomainArgs) -> anyhow::Result<()> {
    let nameservers = a
        .nameservers
        .iter()
        .map(|s| nameserver(s))
        .collect::<Result<Vec<_>, _>>()?;
    let req = DomainRequest {
        domains: a.domains,
        nameservers,
        dns_port: a.dns_port,
        brute: !a.no_brute,
        wordlist: a.wordlist,
        crtsh: (!a.no_crtsh).then_some(a.crtsh),
        ct_logs: a.ct_logs,
        ct_window: a.ct_window,
        rdap: (!a.no_rdap).then_some(a.rdap),
        ranges: a.ranges,
        reverse: a.reverse,
        scope: a.scope,
        concurrency: a.concurrency.max(1),
        timeout_secs: a.timeout.max(1),
    };
    let app = super::open(config).await?;
    let result = async {
        let bar =
            indicatif::ProgressBar::with_draw_target(None, indicatif::ProgressDrawTarget::stderr());
        if let Ok(s) = indicatif::ProgressStyle::with_template("{spinner} {msg}  [{elapsed}]") {
            bar.set_style(s);
        }
        bar.enable_steady_tick(std::time::Duration::from_millis(150));
        let report = app.discover_domain(&req, &Steps(bar.clone()), "cli").await;
        bar.finish_and_clear();
        print(&report?, a.format)
    }
    .await;
    app.store.close().await;
    result
}

fn print(r: &DomainReport, format: Format) -> anyhow::Result<()> {
    let mut err = std::io::stderr();
    for w in &r.warnings {
        let _ = writeln!(err, "warning: {w}");
    }
    for d in &r.domains {
        let allowed: Vec<&str> = d
            .axfr
            .iter()
            .filter(|x| x.allowed)
            .map(|x| x.nameserver.as_str())
            .collect();
        let _ = writeln!(
            err,
            "{}: NS {} · MX {} · zone transfer {} · wildcard {}{}",
            d.domain,
            if d.records.ns.is_empty() {
                "-".into()
            } else {
                d.records.ns.join(" ")
            },
            if d.records.mx.is_empty() {
                "-".into()
            } else {
                d.records.mx.join(", ")
            },
            if allowed.is_empty() {
                "refused".to_string()
            } else {
                format!("ALLOWED by {}", allowed.join(" "))
            },
            if d.wildcard.is_empty() {
                "no".to_string()
            } else {
                d.wildcard
                    .iter()
                    .map(|a| a.to_string())
                    .collect::<Vec<_>>()
                    .join(" ")
            },
            match &d.registration {
                Some(reg) => format!(
                    " · registrar {} · expires {}",
                    reg.registrar.as_deref().unwrap_or("?"),
                    reg.expires.as_deref().unwrap_or("?")
                ),
                None => String::new(),
            }
        );
    }
    for rel in &r.related {
        let _ = writeln!(err, "related: {} — {}", rel.domain, rel.reasons.join("; "));
    }
    let _ = writeln!(
        err,
        "{} names ({} in declared ranges, queued{}), {} related domains; {} DNS queries, \
         brute force {:.0} names/s, {} CT certificates ({} unreadable skipped) (job {})",
        r.names.len(),
        r.names.iter().filter(|n| n.in_range).count(),
        r.scan_job
            .map(|j| format!(" as job {j}"))
            .unwrap_or_default(),
        r.related.len(),
        r.stats.dns_queries,
        r.stats.brute_rate,
        r.stats.ct_certificates,
        r.stats.ct_malformed,
        r.job_id
    );
    let mut out = std::io::stdout().lock();
    if format == Format::Json {
        serde_json::to_writer_pretty(&mut out, r)?;
        writeln!(out)?;
    } else {
        let mut printer = Printer::new::<NameRow>(format, &mut out);
        for n in &r.names {
            printer.row(&NameRow(n.clone()))?;
        }
        printer.finish()?;
    }
    Ok(())
}
