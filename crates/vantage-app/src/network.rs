//! Network discovery use cases: plan a scan (parse, resolve and check every target against the
//! scope and the global deny list before a single packet), run it (each host's results stored as
//! they arrive), import nmap XML, and keep the inventory alive: assets merged by their
//! identifiers, services closed when they disappear, findings from identified products (NVD CPE
//! ranges) and weak TLS, assets of a scope decommissioned after N scans missed them.

use std::collections::HashSet;
use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use time::OffsetDateTime;
use tokio::sync::mpsc;
use vantage_detect::cpe::Cpe;
use vantage_detect::matcher::Detection;
use vantage_domain::{
    AssetId, AssetKind, ComponentKind, Confidence, Evidence, Identifier, IdentifierKind, NewAsset,
    NewFinding, NewService, Scope, ServiceId, TlsCertificate, Transport, VulnId,
};
use vantage_scan::fingerprint::{FingerprintOptions, Fingerprinter, service_table};
use vantage_scan::probes::ProbeSet;
use vantage_scan::targets::AddrRange;
use vantage_scan::{HostReport, Progress, ScanOptions, ScopeGuard, Target, TargetSet, Timing};

use crate::app::App;
use crate::config::ScanConfig;
use crate::error::AppError;

/// Which ports to scan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PortSelection {
    /// An nmap-style list (`22,80,443`, `1-1024`, `-`).
    Spec(String),
    /// The N most common ports of the nmap-services table.
    Top(usize),
}

/// What the caller asks for.
#[derive(Debug, Clone)]
pub struct NetworkScanRequest {
    /// Addresses, blocks, ranges and host names.
    pub targets: Vec<String>,
    /// Addresses, blocks or ranges to leave out.
    pub exclude: Vec<String>,
    /// Ports.
    pub ports: PortSelection,
    /// The scope whose ranges bound the scan (and whose lifecycle it drives).
    pub scope: Option<String>,
    /// Probe hosts before scanning their ports (`false`: treat every address as up).
    pub discovery: bool,
    /// Identify the services on open ports.
    pub service_detection: bool,
    /// Connection attempts per second (overrides `scan.rate`).
    pub rate: Option<u32>,
    /// Connection attempts in flight (overrides `scan.concurrency`).
    pub concurrency: Option<usize>,
}

/// A scan that passed every check and is ready to run.
#[derive(Debug)]
pub struct PlannedScan {
    set: Arc<TargetSet>,
    opts: ScanOptions,
    fingerprinter: Option<Arc<Fingerprinter>>,
    scope: Option<Scope>,
    targets_label: String,
    ports_label: String,
}

impl PlannedScan {
    /// Addresses to scan.
    pub fn hosts(&self) -> u64 {
        self.set.count()
    }

    /// Ports per address.
    pub fn ports(&self) -> usize {
        self.opts.ports.len()
    }
}

/// A finding a scan raised, in brief.
#[derive(Debug, Clone, Serialize)]
pub struct FindingBrief {
    /// The vulnerability or check.
    pub vuln_id: String,
    /// `tcp/22`, `tcp/443/tls`.
    pub component: String,
    /// How sure detection is.
    pub confidence: Confidence,
    /// Why.
    pub rule: String,
}

/// One host as recorded.
#[derive(Debug, Clone, Serialize)]
pub struct HostResult {
    /// The stored asset.
    pub asset_id: i64,
    /// What the scan saw.
    #[serde(flatten)]
    pub host: HostReport,
    /// Findings raised on its services.
    pub findings: Vec<FindingBrief>,
}

/// What a network scan or nmap import did.
#[derive(Debug, Clone, Serialize)]
pub struct NetworkScanReport {
    /// The scan run's id.
    pub run_id: i64,
    /// `network` or `nmap`.
    pub kind: &'static str,
    /// The scope it ran for.
    pub scope: Option<String>,
    /// Targets as given.
    pub targets: String,
    /// Ports as given.
    pub ports_scanned: String,
    /// Addresses scanned.
    pub hosts_scanned: u64,
    /// Addresses that answered.
    pub hosts_up: u64,
    /// Open ports found.
    pub open_ports: u64,
    /// Services seen for the first time (or again after being closed).
    pub services_opened: u64,
    /// Services no longer open.
    pub services_closed: u64,
    /// Findings detected on the services (new and still present).
    pub findings: u64,
    /// Findings that were open and are gone.
    pub findings_fixed: u64,
    /// Scope members the scan covered and did not find.
    pub assets_missed: u64,
    /// Of those, the ones decommissioned now.
    pub assets_decommissioned: u64,
    /// The probe file used for identification.
    pub probes: Option<String>,
    /// Wall time.
    pub elapsed_ms: f64,
    /// Every host that answered.
    pub hosts: Vec<HostResult>,
}

fn parse_ranges(items: &[String], what: &str) -> Result<Vec<AddrRange>, AppError> {
    items
        .iter()
        .map(|s| AddrRange::parse(s).map_err(|e| AppError::Invalid(format!("{what}: {e}"))))
        .collect()
}

/// The scope guard for a scope (its IP range rules) or, without one, the targets themselves.
fn guard_for(scope: Option<&Scope>, config: &ScanConfig) -> Result<ScopeGuard, AppError> {
    let deny = parse_ranges(&config.deny, "configuration scan.deny")?;
    let allowed = match scope {
        None => None,
        Some(s) => Some(
            s.rules
                .iter()
                .filter_map(|r| match r {
                    vantage_domain::MembershipRule::IpRange(x) => Some(x.clone()),
                    _ => None,
                })
                .map(|x| {
                    AddrRange::parse(&x).map_err(|e| {
                        AppError::Invalid(format!(
                            "scope `{}` has an unreadable range: {e}",
                            s.name
                        ))
                    })
                })
                .collect::<Result<Vec<_>, _>>()?,
        ),
    };
    Ok(ScopeGuard {
        scope: scope.map(|s| s.name.clone()),
        allowed,
        deny,
    })
}

impl App {
    /// Checks a scan request without sending anything: targets and ports parse, host names
    /// resolve, the scope exists, and every address is inside it and outside the deny list.
    pub async fn plan_network_scan(
        &self,
        req: &NetworkScanRequest,
    ) -> Result<PlannedScan, AppError> {
        let cfg = &self.config.scan;
        if req.targets.is_empty() {
            return Err(AppError::Invalid("no target given".into()));
        }
        let scope = match &req.scope {
            None => None,
            Some(name) => Some(self.store.scope_by_name(name).await?.ok_or_else(|| {
                AppError::NotFound(format!(
                    "scope `{name}` does not exist (see `vantage scopes list`)"
                ))
            })?),
        };
        let targets = req
            .targets
            .iter()
            .flat_map(|t| t.split(','))
            .filter(|t| !t.trim().is_empty())
            .map(Target::parse)
            .collect::<Result<Vec<_>, _>>()?;
        let exclude = parse_ranges(&req.exclude, "--exclude")?;
        let (ports, ports_label) = match &req.ports {
            PortSelection::Spec(s) => (vantage_scan::ports::parse_ports(s)?, s.clone()),
            PortSelection::Top(n) => (
                vantage_scan::ports::top_ports(*n, &cfg.services_file)?,
                format!("top {n}"),
            ),
        };
        let set = TargetSet::resolve(&targets, &exclude).await?;
        guard_for(scope.as_ref(), cfg)?.check(&set)?;
        if set.count() == 0 {
            return Err(AppError::Invalid(
                "every target address is excluded: nothing to scan".into(),
            ));
        }
        let fingerprinter = if req.service_detection {
            let probes = ProbeSet::load(&cfg.probes_file)?;
            Some(Arc::new(Fingerprinter::new(
                Arc::new(probes),
                service_table(&cfg.services_file),
                FingerprintOptions {
                    intensity: cfg.intensity.min(9),
                    probe_wait: Duration::from_millis(cfg.probe_wait_ms),
                    port_budget: Duration::from_secs(cfg.port_budget_secs),
                    ..Default::default()
                },
            )))
        } else {
            None
        };
        let timing = Timing {
            concurrency: req.concurrency.unwrap_or(cfg.concurrency).max(1),
            rate: req.rate.or(Some(cfg.rate)).filter(|r| *r > 0),
            retries: cfg.retries,
            initial_timeout: Duration::from_millis(cfg.initial_timeout_ms),
            min_timeout: Duration::from_millis(cfg.min_timeout_ms),
            max_timeout: Duration::from_millis(cfg.max_timeout_ms.max(cfg.min_timeout_ms)),
        };
        Ok(PlannedScan {
            set: Arc::new(set),
            opts: ScanOptions {
                ports,
                timing,
                discovery: req.discovery,
                host_parallelism: cfg.host_parallelism.max(1),
                ..Default::default()
            },
            fingerprinter,
            scope,
            targets_label: req.targets.join(" "),
            ports_label,
        })
    }

    /// Runs a planned scan, storing each host as it completes; `progress` is updated live.
    pub async fn run_network_scan(
        &self,
        plan: PlannedScan,
        progress: Arc<Progress>,
    ) -> Result<NetworkScanReport, AppError> {
        let started = std::time::Instant::now();
        let now = OffsetDateTime::now_utc();
        let mut report = self
            .begin_run(
                "network",
                plan.scope.as_ref(),
                plan.targets_label.clone(),
                plan.ports_label.clone(),
                now,
            )
            .await?;
        let run = report.run_id;
        report.probes = plan.fingerprinter.as_ref().map(|f| f.probes().path.clone());
        let (tx, mut rx) = mpsc::channel(64);
        let scanner = tokio::spawn(vantage_scan::run_scan(
            plan.set.clone(),
            plan.opts.clone(),
            plan.fingerprinter.clone(),
            progress,
            tx,
        ));
        let mut ports = plan.opts.ports.clone();
        ports.sort_unstable();
        let result: Result<(), AppError> = async {
            while let Some(host) = rx.recv().await {
                report.hosts_scanned += 1;
                if !host.up {
                    continue;
                }
                let recorded = self
                    .record_host(host, &ports, plan.scope.as_ref(), now)
                    .await?;
                report.add(recorded);
            }
            Ok(())
        }
        .await;
        drop(rx);
        let _ = scanner.await;
        if let Err(e) = result {
            let counts = (
                report.hosts_scanned as i64,
                report.hosts_up as i64,
                report.open_ports as i64,
            );
            let _ = self
                .store
                .finish_scan_run(run, counts, Some(&e.to_string()), OffsetDateTime::now_utc())
                .await;
            return Err(e);
        }
        if let Some(scope) = &plan.scope {
            let seen: HashSet<AssetId> = report.hosts.iter().map(|h| AssetId(h.asset_id)).collect();
            let (missed, retired) = self
                .record_missed(scope, &seen, |ip| {
                    plan.set.ranges.iter().any(|r| r.contains(ip))
                        && !plan.set.exclude.iter().any(|x| x.contains(ip))
                })
                .await?;
            report.assets_missed = missed;
            report.assets_decommissioned = retired;
        }
        self.finish_network_report(&mut report, run, started)
            .await?;
        Ok(report)
    }

    /// Counts a missed scan for the scope's members whose addresses the scan covered and did not
    /// see; decommissions those that reached the scope's threshold.
    async fn record_missed(
        &self,
        scope: &Scope,
        seen: &HashSet<AssetId>,
        covered: impl Fn(IpAddr) -> bool,
    ) -> Result<(u64, u64), AppError> {
        let mut missed: Vec<AssetId> = Vec::new();
        for (asset, ip) in self.store.scope_member_addresses(scope.id).await? {
            let Ok(addr) = ip.parse::<IpAddr>() else {
                continue;
            };
            if covered(addr) && !seen.contains(&asset) && !missed.contains(&asset) {
                missed.push(asset);
            }
        }
        Ok(self
            .store
            .record_missed_scan(
                &missed,
                scope.decommission_after.max(1),
                OffsetDateTime::now_utc(),
            )
            .await?)
    }

    /// Records the start of a scan run and returns its empty report.
    async fn begin_run(
        &self,
        kind: &'static str,
        scope: Option<&Scope>,
        targets: String,
        ports: String,
        now: OffsetDateTime,
    ) -> Result<NetworkScanReport, AppError> {
        let run_id = self
            .store
            .start_scan_run(kind, scope.map(|s| s.id), &targets, &ports, now)
            .await?;
        Ok(NetworkScanReport {
            run_id,
            kind,
            scope: scope.map(|s| s.name.clone()),
            targets,
            ports_scanned: ports,
            hosts_scanned: 0,
            hosts_up: 0,
            open_ports: 0,
            services_opened: 0,
            services_closed: 0,
            findings: 0,
            findings_fixed: 0,
            assets_missed: 0,
            assets_decommissioned: 0,
            probes: None,
            elapsed_ms: 0.0,
            hosts: Vec::new(),
        })
    }

    async fn finish_network_report(
        &self,
        report: &mut NetworkScanReport,
        run: i64,
        started: std::time::Instant,
    ) -> Result<(), AppError> {
        if report.findings > 0 || report.findings_fixed > 0 {
            self.run_prioritize_job("network-scan").await?;
        }
        let counts = (
            report.hosts_scanned as i64,
            report.hosts_up as i64,
            report.open_ports as i64,
        );
        self.store
            .finish_scan_run(run, counts, None, OffsetDateTime::now_utc())
            .await?;
        report.elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
        Ok(())
    }

    /// Stores one host: the asset (merged by address, name, certificate), its services (those
    /// on covered ports that are gone are closed), and the findings of what runs there.
    async fn record_host(
        &self,
        host: HostReport,
        scanned: &[u16],
        scope: Option<&Scope>,
        now: OffsetDateTime,
    ) -> Result<Recorded, AppError> {
        let mut identifiers = vec![Identifier::new(IdentifierKind::Ip, host.ip.to_string())];
        if let Some(name) = &host.hostname {
            let kind = if name.contains('.') {
                IdentifierKind::Fqdn
            } else {
                IdentifierKind::Hostname
            };
            identifiers.push(Identifier::new(kind, name));
        }
        for s in host.ports.iter().filter_map(|p| p.service.as_ref()) {
            if let Some(tls) = &s.tls {
                identifiers.push(Identifier::new(IdentifierKind::TlsCertificate, &tls.sha256));
            }
            if let Some(key) = &s.ssh_host_key {
                identifiers.push(Identifier::new(
                    IdentifierKind::SshHostKey,
                    &key.fingerprint,
                ));
            }
        }
        let asset = self
            .store
            .upsert_asset(&NewAsset {
                kind: AssetKind::Host,
                name: host.hostname.clone().unwrap_or_else(|| host.ip.to_string()),
                os: None,
                identifiers,
                tags: vec![],
                seen_at: now,
            })
            .await?;
        if let Some(s) = scope {
            self.store.add_scope_members(s.id, &[asset]).await?;
        }
        let services: Vec<NewService> = host
            .ports
            .iter()
            .map(|p| {
                let s = p.service.clone().unwrap_or_default();
                NewService {
                    transport: Transport::Tcp,
                    port: p.port,
                    name: s.name,
                    product: s.product,
                    version: s.version,
                    cpe: s.cpes.first().cloned(),
                    banner: s.banner,
                    tunnel: s.tunnel,
                    info: s.info,
                    method: (!s.method.is_empty()).then_some(s.method),
                    tls: s.tls,
                    http: s.http,
                }
            })
            .collect();
        let changes = self
            .store
            .record_services(asset, Transport::Tcp, &services, scanned, now)
            .await?;
        let service_id = |port: u16| -> Option<ServiceId> {
            changes
                .ids
                .iter()
                .find(|(p, _)| *p == port)
                .map(|(_, id)| *id)
        };
        // Products identified with a version, matched against NVD's CPE ranges (unless the host's
        // own package inventory covers them: distribution data knows the backports).
        let mut products: Vec<(String, Cpe)> = Vec::new();
        for p in &host.ports {
            for c in p.service.iter().flat_map(|s| s.cpes.iter()) {
                if let Ok(cpe) = Cpe::parse(c)
                    && cpe.part == "a"
                    && !matches!(cpe.version.as_str(), "" | "*" | "-")
                {
                    products.push((format!("tcp/{}", p.port), cpe));
                }
            }
        }
        let (mut detections, _covered) = if products.is_empty() {
            (Vec::new(), Vec::new())
        } else {
            self.detect_network_products(Some(asset), &products).await?
        };
        for p in &host.ports {
            if let Some(tls) = p.service.as_ref().and_then(|s| s.tls.as_ref()) {
                detections.extend(tls_findings(p.port, tls));
            }
        }
        let checks: Vec<(&str, &str, &[&str])> = TLS_CHECKS
            .iter()
            .filter(|(id, _, _)| detections.iter().any(|d| d.vuln_id.as_str() == *id))
            .copied()
            .collect();
        if !checks.is_empty() {
            self.store.describe_checks(&checks).await?;
        }
        for d in &mut detections {
            let port = d
                .evidence
                .component
                .split('/')
                .nth(1)
                .and_then(|p| p.parse().ok());
            d.evidence.service_id = port.and_then(service_id);
        }
        // Judge the covered ports: what was open there and is not detected any more is fixed.
        let covered = |component: &str| {
            component
                .split('/')
                .nth(1)
                .and_then(|p| p.parse::<u16>().ok())
                .is_some_and(|p| scanned.binary_search(&p).is_ok())
        };
        let detected: HashSet<(String, String)> = detections
            .iter()
            .map(|d| (d.vuln_id.as_str().to_string(), d.evidence.component.clone()))
            .collect();
        let gone: Vec<_> = self
            .store
            .open_network_findings(asset)
            .await?
            .into_iter()
            .filter(|(_, v, c)| covered(c) && !detected.contains(&(v.clone(), c.clone())))
            .map(|(id, _, _)| id)
            .collect();
        let fixed = self.store.fix_findings(&gone, now).await?;
        let briefs: Vec<FindingBrief> = detections
            .iter()
            .map(|d| FindingBrief {
                vuln_id: d.vuln_id.to_string(),
                component: d.evidence.component.clone(),
                confidence: d.evidence.confidence,
                rule: d.evidence.rule.clone(),
            })
            .collect();
        let new: Vec<NewFinding> = detections
            .into_iter()
            .map(|d| crate::inventory::finding_of(asset, d, now))
            .collect();
        self.store.upsert_findings(&new).await?;
        self.alert_regressions(&[asset], now).await?;
        Ok(Recorded {
            asset,
            host,
            findings: briefs,
            opened: changes.opened,
            closed: changes.closed,
            fixed,
        })
    }

    /// Imports nmap XML (`nmap -oX`): every host that was up becomes an asset with its open
    /// ports and `-sV` facts, as if Vantage had scanned it. The ports nmap covered (its
    /// `<scaninfo services=…>`) decide which stored services are closed.
    pub async fn import_nmap(
        &self,
        path: &Path,
        scope: Option<&str>,
    ) -> Result<NetworkScanReport, AppError> {
        let started = std::time::Instant::now();
        let text = std::fs::read_to_string(path)
            .map_err(|e| AppError::Invalid(format!("{}: {e}", path.display())))?;
        let parsed = vantage_scan::nmap_xml::parse(&text, &path.display().to_string())?;
        let scope = match scope {
            None => None,
            Some(name) => Some(
                self.store
                    .scope_by_name(name)
                    .await?
                    .ok_or_else(|| AppError::NotFound(format!("scope `{name}` does not exist")))?,
            ),
        };
        // Imported results are checked against the scope too: a file cannot smuggle in hosts
        // the scope does not own.
        if let Some(s) = &scope {
            let guard = guard_for(Some(s), &self.config.scan)?;
            let set = TargetSet {
                ranges: parsed
                    .hosts
                    .iter()
                    .map(|h| AddrRange::single(h.ip))
                    .collect(),
                ..Default::default()
            };
            guard.check(&set)?;
        }
        let now = OffsetDateTime::now_utc();
        let mut ports = parsed.scanned_ports.clone();
        ports.sort_unstable();
        let label = format!("{} ({})", path.display(), parsed.args);
        let mut report = self
            .begin_run(
                "nmap",
                scope.as_ref(),
                label,
                format!("{} ports", ports.len()),
                now,
            )
            .await?;
        let run = report.run_id;
        report.hosts_scanned = parsed.hosts.len() as u64;
        for host in parsed.hosts {
            let recorded = self.record_host(host, &ports, scope.as_ref(), now).await?;
            report.add(recorded);
        }
        self.finish_network_report(&mut report, run, started)
            .await?;
        Ok(report)
    }
}

/// One host as stored.
struct Recorded {
    asset: AssetId,
    host: HostReport,
    findings: Vec<FindingBrief>,
    opened: u64,
    closed: u64,
    fixed: u64,
}

impl NetworkScanReport {
    fn add(&mut self, r: Recorded) {
        self.hosts_up += 1;
        self.open_ports += r.host.ports.len() as u64;
        self.services_opened += r.opened;
        self.services_closed += r.closed;
        self.findings += r.findings.len() as u64;
        self.findings_fixed += r.fixed;
        self.hosts.push(HostResult {
            asset_id: r.asset.0,
            host: r.host,
            findings: r.findings,
        });
    }
}

/// The TLS checks: id, description, CWEs.
pub const TLS_CHECKS: [(&str, &str, &[&str]); 7] = [
    (
        "VANTAGE-TLS-EXPIRED",
        "The TLS certificate presented by the service is past its end of validity: clients either \
         refuse the connection or are trained to accept certificate errors, which hides interception.",
        &["CWE-298"],
    ),
    (
        "VANTAGE-TLS-NOT-YET-VALID",
        "The TLS certificate presented by the service is not valid yet (its start of validity is in \
         the future): clients refuse it or learn to ignore certificate errors.",
        &["CWE-298"],
    ),
    (
        "VANTAGE-TLS-WEAK-KEY",
        "The TLS certificate uses a weak public key (RSA or DSA under 2048 bits, EC under 224 bits), \
         within reach of factoring or discrete-logarithm attacks.",
        &["CWE-326"],
    ),
    (
        "VANTAGE-TLS-WEAK-SIGNATURE",
        "The TLS certificate is signed with MD5 or SHA-1, hash functions with practical collision \
         attacks that allow forged certificates.",
        &["CWE-327"],
    ),
    (
        "VANTAGE-TLS-LEGACY-PROTOCOL",
        "The service still accepts TLS 1.0 or TLS 1.1, protocol versions deprecated by RFC 8996 \
         (BEAST, weak MAC constructions, no AEAD ciphers).",
        &["CWE-327"],
    ),
    (
        "VANTAGE-TLS-SELF-SIGNED",
        "The TLS certificate is self-signed: clients cannot authenticate the service, and an \
         interceptor can present its own certificate just as well.",
        &["CWE-295"],
    ),
    (
        "VANTAGE-TLS-HOSTNAME-MISMATCH",
        "The TLS certificate does not name the host it was reached by: clients that check names \
         refuse it, others accept any certificate.",
        &["CWE-297"],
    ),
];

/// The configuration checks a certificate fails, as detections on `tcp/PORT/tls`.
pub fn tls_findings(port: u16, tls: &TlsCertificate) -> Vec<Detection> {
    let mut out = Vec::new();
    let mut add = |id: &str, rule: String| {
        out.push(Detection {
            vuln_id: id.parse::<VulnId>().expect("built-in check ids are valid"),
            evidence: Evidence {
                component_kind: ComponentKind::Config,
                component: format!("tcp/{port}/tls"),
                package_id: None,
                service_id: None,
                installed_version: None,
                fixed_version: None,
                source: "vantage-tls".into(),
                rule,
                advisory: None,
                confidence: Confidence::High,
            },
        });
    };
    let date = |t: Option<OffsetDateTime>| t.map(|t| t.date().to_string()).unwrap_or_default();
    if tls.expired {
        add(
            "VANTAGE-TLS-EXPIRED",
            format!(
                "certificate {} expired on {}",
                tls.subject,
                date(tls.not_after)
            ),
        );
    }
    if tls.not_yet_valid {
        add(
            "VANTAGE-TLS-NOT-YET-VALID",
            format!(
                "certificate {} is valid from {}",
                tls.subject,
                date(tls.not_before)
            ),
        );
    }
    if tls.weak_key {
        add(
            "VANTAGE-TLS-WEAK-KEY",
            format!("{} key of {} bits", tls.key_type, tls.key_bits),
        );
    }
    if tls.weak_signature {
        add(
            "VANTAGE-TLS-WEAK-SIGNATURE",
            format!("signed with {}", tls.signature_algorithm),
        );
    }
    if !tls.legacy_protocols.is_empty() {
        add(
            "VANTAGE-TLS-LEGACY-PROTOCOL",
            format!("accepts {}", tls.legacy_protocols.join(" and ")),
        );
    }
    if tls.self_signed {
        add(
            "VANTAGE-TLS-SELF-SIGNED",
            format!("certificate {} is its own issuer", tls.subject),
        );
    }
    if tls.hostname_mismatch {
        add(
            "VANTAGE-TLS-HOSTNAME-MISMATCH",
            format!(
                "the certificate names {}",
                if tls.subject_alt_names.is_empty() {
                    tls.subject.clone()
                } else {
                    tls.subject_alt_names.join(", ")
                }
            ),
        );
    }
    out
}

impl App {
    /// Creates a scope after checking that its IP ranges parse (a scan bounded by an unreadable
    /// range would be refused later, far from the mistake); audited.
    pub async fn create_scope(
        &self,
        scope: &vantage_store::NewScope,
        actor: &str,
    ) -> Result<Scope, AppError> {
        for rule in &scope.rules {
            if let vantage_domain::MembershipRule::IpRange(r) = rule {
                AddrRange::parse(r).map_err(|e| AppError::Invalid(format!("--range: {e}")))?;
            }
        }
        self.check_scope(scope).await?;
        let now = OffsetDateTime::now_utc();
        let id = self.store.create_scope(scope, now).await?;
        self.store
            .record_audit(
                now,
                actor,
                "scope.create",
                ("scope", &id.0.to_string()),
                &format!("name={}", scope.name),
            )
            .await?;
        self.store
            .scope(id)
            .await?
            .ok_or_else(|| AppError::NotFound(format!("scope {}", scope.name)))
    }
}
