//! One network scan end to end: addresses are taken lazily from the target set, a bounded number
//! of hosts at a time; each host is discovered (optional), port-scanned, and its open ports
//! identified; a report per host is streamed to the caller as soon as the host is done.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use serde::Serialize;
use tokio::sync::{Semaphore, mpsc};
use tokio::time::Instant;

use crate::connect::{Connector, PortState, Progress, Rtt, Timing};
use crate::fingerprint::{Fingerprinter, ServiceReport};
use crate::targets::TargetSet;

/// What a scan does.
#[derive(Debug, Clone)]
pub struct ScanOptions {
    /// TCP ports to scan on every host.
    pub ports: Vec<u16>,
    /// Connect scanner timing.
    pub timing: Timing,
    /// Probe each host first and skip the ones that do not answer (nmap's default; `-Pn`
    /// turns it off).
    pub discovery: bool,
    /// Ports the discovery probes (any answer, open or refused, means the host is up).
    pub discovery_ports: Vec<u16>,
    /// Hosts scanned at once.
    pub host_parallelism: usize,
    /// Open ports identified at once.
    pub service_parallelism: usize,
}

impl Default for ScanOptions {
    fn default() -> Self {
        Self {
            ports: Vec::new(),
            timing: Timing::default(),
            discovery: true,
            discovery_ports: vec![80, 443, 22, 445, 3389],
            host_parallelism: 256,
            service_parallelism: 64,
        }
    }
}

/// One open port and what runs there.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PortReport {
    /// Port number.
    pub port: u16,
    /// Always `tcp` for now.
    pub protocol: &'static str,
    /// Always open: closed and filtered ports are counted, not listed.
    pub state: PortState,
    /// The identified service, when identification ran.
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub service: Option<ServiceReport>,
}

/// Everything learned about one address.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HostReport {
    /// The address.
    pub ip: IpAddr,
    /// The host name it was given as.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    /// Whether it answered at all.
    pub up: bool,
    /// Smoothed round trip, in milliseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rtt_ms: Option<f64>,
    /// Open ports, in port order.
    pub ports: Vec<PortReport>,
    /// Ports that refused.
    pub closed: u32,
    /// Ports that never answered.
    pub filtered: u32,
    /// Time spent on the host.
    pub elapsed_ms: u64,
}

/// Runs the scan, sending each host's report on `tx` as it completes. The target set must already
/// have passed the scope guard. Returns when every host is done (or the receiver is gone).
pub async fn run_scan(
    set: Arc<TargetSet>,
    opts: ScanOptions,
    fingerprinter: Option<Arc<Fingerprinter>>,
    progress: Arc<Progress>,
    tx: mpsc::Sender<HostReport>,
) {
    let hosts = set.count();
    progress.hosts_total.store(hosts, Ordering::Relaxed);
    progress
        .ports_total
        .store(hosts * opts.ports.len() as u64, Ordering::Relaxed);
    let sources = fingerprinter
        .as_ref()
        .map(|f| f.sources())
        .unwrap_or_default();
    let connector = Arc::new(Connector::new(
        opts.timing.clone(),
        progress.clone(),
        sources,
    ));
    let services = Arc::new(Semaphore::new(opts.service_parallelism.max(1)));
    let opts = Arc::new(opts);
    let hosts_at_once = Arc::new(Semaphore::new(opts.host_parallelism.max(1)));
    let mut tasks = tokio::task::JoinSet::new();
    for ip in set.addresses() {
        let permit = hosts_at_once
            .clone()
            .acquire_owned()
            .await
            .expect("never closed");
        while tasks.try_join_next().is_some() {}
        if tx.is_closed() {
            break;
        }
        let (connector, opts, fp, services, tx, set) = (
            connector.clone(),
            opts.clone(),
            fingerprinter.clone(),
            services.clone(),
            tx.clone(),
            set.clone(),
        );
        tasks.spawn(async move {
            let _permit = permit;
            let report = scan_one(ip, &set, &connector, &opts, fp, services).await;
            connector
                .progress
                .hosts_done
                .fetch_add(1, Ordering::Relaxed);
            let _ = tx.send(report).await;
        });
    }
    while tasks.join_next().await.is_some() {}
}

async fn scan_one(
    ip: IpAddr,
    set: &TargetSet,
    connector: &Arc<Connector>,
    opts: &ScanOptions,
    fp: Option<Arc<Fingerprinter>>,
    services: Arc<Semaphore>,
) -> HostReport {
    let started = Instant::now();
    let rtt = Arc::new(Rtt::new(&connector.timing));
    let hostname = set.name_of(ip).map(str::to_string);
    let up = !opts.discovery || connector.discover(ip, &opts.discovery_ports, &rtt).await;
    let mut report = HostReport {
        ip,
        hostname: hostname.clone(),
        up,
        rtt_ms: None,
        ports: Vec::new(),
        closed: 0,
        filtered: 0,
        elapsed_ms: 0,
    };
    if !up {
        connector
            .progress
            .ports_done
            .fetch_add(opts.ports.len() as u64, Ordering::Relaxed);
        report.filtered = opts.ports.len() as u32;
        report.elapsed_ms = started.elapsed().as_millis() as u64;
        return report;
    }
    connector.progress.hosts_up.fetch_add(1, Ordering::Relaxed);
    let states = connector.scan_host(ip, &opts.ports, rtt.clone()).await;
    let mut open = Vec::new();
    for (port, st) in states {
        match st {
            PortState::Open => open.push(port),
            PortState::Closed => report.closed += 1,
            PortState::Filtered => report.filtered += 1,
        }
    }
    report.rtt_ms = rtt.srtt().map(|d| d.as_secs_f64() * 1000.0);
    let mut identified = tokio::task::JoinSet::new();
    for port in open {
        match &fp {
            Some(fp) => {
                let (fp, services, hostname) = (fp.clone(), services.clone(), hostname.clone());
                identified.spawn(async move {
                    let _permit = services.acquire_owned().await.expect("never closed");
                    let s = fp
                        .identify(SocketAddr::new(ip, port), hostname.as_deref())
                        .await;
                    (port, Some(s))
                });
            }
            None => {
                identified.spawn(async move { (port, None) });
            }
        }
    }
    while let Some(r) = identified.join_next().await {
        let (port, service) = r.unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()));
        report.ports.push(PortReport {
            port,
            protocol: "tcp",
            state: PortState::Open,
            service,
        });
    }
    report.ports.sort_by_key(|p| p.port);
    report.elapsed_ms = started.elapsed().as_millis() as u64;
    report
}
