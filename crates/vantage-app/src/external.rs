//! External attack surface of declared domains and IP ranges: DNS records, zone-transfer
//! attempts against each name server, wordlist brute force (wildcards detected), Certificate
//! Transparency (crt.sh's JSON interface and RFC 6962 logs, followed from the last position
//! read), RDAP registration data, related domains (shared certificates, same registrant, shared
//! name servers) and reverse DNS of the declared ranges.
//!
//! Every name found is resolved and stored as a `domain` asset tagged `external`; names that
//! resolve into a declared range are queued for network discovery (one `network_scan` job of
//! their addresses, bounded by the scope); names resolving elsewhere are reported, never
//! scanned. The run is an `external_discovery` job whose payload is the request.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use vantage_cloud::http::{Http, RetryPolicy};
use vantage_domain::{
    AssetId, AssetKind, Identifier, IdentifierKind, JobKind, JobStatus, MembershipRule, NewAsset,
    Tag,
};
use vantage_scan::AddrRange;
use vantage_scan::ct::{self, CtCertificate};
use vantage_scan::dns::{Dns, DnsOptions, NameRecords, Resolved};
use vantage_scan::rdap::{self, Registration};

use crate::app::App;
use crate::error::AppError;
use crate::membership::MemberFacts;

/// Labels tried when no word list is given: common service and environment names.
pub const DEFAULT_WORDS: &[&str] = &[
    "www",
    "mail",
    "smtp",
    "imap",
    "pop",
    "webmail",
    "mx",
    "ns",
    "ns1",
    "ns2",
    "dns",
    "vpn",
    "remote",
    "gw",
    "gateway",
    "fw",
    "proxy",
    "api",
    "app",
    "apps",
    "portal",
    "admin",
    "intranet",
    "extranet",
    "dev",
    "test",
    "staging",
    "stage",
    "preprod",
    "uat",
    "qa",
    "demo",
    "beta",
    "old",
    "new",
    "legacy",
    "backup",
    "db",
    "sql",
    "mysql",
    "postgres",
    "redis",
    "ldap",
    "ad",
    "sso",
    "auth",
    "login",
    "id",
    "git",
    "gitlab",
    "jenkins",
    "ci",
    "build",
    "registry",
    "docker",
    "k8s",
    "kube",
    "grafana",
    "kibana",
    "monitor",
    "nagios",
    "zabbix",
    "status",
    "shop",
    "store",
    "pay",
    "billing",
    "crm",
    "erp",
    "hr",
    "wiki",
    "docs",
    "support",
    "help",
    "jira",
    "confluence",
    "cdn",
    "static",
    "assets",
    "img",
    "media",
    "files",
    "ftp",
    "sftp",
    "owa",
    "exchange",
    "autodiscover",
    "m",
    "mobile",
    "blog",
    "news",
    "forum",
    "partners",
    "s3",
    "cloud",
    "office",
    "crm2",
    "web",
];

/// What to look at and where.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DomainRequest {
    /// The organisation's domains.
    pub domains: Vec<String>,
    /// Recursive name servers to ask (empty: the system's).
    #[serde(default)]
    pub nameservers: Vec<SocketAddr>,
    /// Port of the authoritative servers for zone transfers (53).
    #[serde(default = "default_dns_port")]
    pub dns_port: u16,
    /// Brute force subdomains.
    #[serde(default = "yes")]
    pub brute: bool,
    /// Word list file (default: the built-in list).
    #[serde(default)]
    pub wordlist: Option<String>,
    /// crt.sh base URL (`None`: not asked).
    #[serde(default)]
    pub crtsh: Option<String>,
    /// RFC 6962 log base URLs (`https://ct.example/logs/2026/`).
    #[serde(default)]
    pub ct_logs: Vec<String>,
    /// Entries read from a log followed for the first time (its most recent ones).
    #[serde(default = "default_window")]
    pub ct_window: u64,
    /// RDAP base URL (`None`: not asked), e.g. `https://rdap.org`.
    #[serde(default)]
    pub rdap: Option<String>,
    /// Declared IP ranges (besides the scope's).
    #[serde(default)]
    pub ranges: Vec<String>,
    /// Reverse DNS of every address of the declared ranges.
    #[serde(default)]
    pub reverse: bool,
    /// Scope whose ranges are declared and that bounds the queued scan.
    #[serde(default)]
    pub scope: Option<String>,
    /// DNS queries in flight.
    #[serde(default = "default_concurrency")]
    pub concurrency: usize,
    /// Per-query / per-request timeout, seconds.
    #[serde(default = "default_timeout")]
    pub timeout_secs: u64,
}

fn default_dns_port() -> u16 {
    53
}
fn yes() -> bool {
    true
}
fn default_window() -> u64 {
    1000
}
fn default_concurrency() -> usize {
    100
}
fn default_timeout() -> u64 {
    5
}

impl DomainRequest {
    /// A request for these domains with the defaults (public crt.sh and rdap.org).
    pub fn new(domains: Vec<String>) -> Self {
        DomainRequest {
            domains,
            nameservers: Vec::new(),
            dns_port: 53,
            brute: true,
            wordlist: None,
            crtsh: Some("https://crt.sh".into()),
            ct_logs: Vec::new(),
            ct_window: default_window(),
            rdap: Some("https://rdap.org".into()),
            ranges: Vec::new(),
            reverse: false,
            scope: None,
            concurrency: default_concurrency(),
            timeout_secs: default_timeout(),
        }
    }
}

/// A zone-transfer attempt.
#[derive(Debug, Clone, Serialize)]
pub struct AxfrAttempt {
    /// Name server.
    pub nameserver: String,
    /// Its address.
    pub address: String,
    /// Whether it handed the zone over (a misconfiguration to fix).
    pub allowed: bool,
    /// Records transferred.
    pub records: usize,
    /// Why it failed or was refused.
    pub error: Option<String>,
}

/// What was learnt about one declared domain.
#[derive(Debug, Clone, Serialize)]
pub struct DomainResult {
    /// The domain.
    pub domain: String,
    /// Its records.
    pub records: NameRecords,
    /// Zone-transfer attempts.
    pub axfr: Vec<AxfrAttempt>,
    /// Wildcard addresses (the zone answers any name).
    pub wildcard: Vec<IpAddr>,
    /// RDAP registration.
    pub registration: Option<Registration>,
}

/// A name found.
#[derive(Debug, Clone, Serialize)]
pub struct FoundName {
    /// The name.
    pub name: String,
    /// Where it came from (`dns`, `axfr`, `brute`, `crt.sh`, `ct-log`, `ptr`).
    pub sources: Vec<String>,
    /// Addresses.
    pub addresses: Vec<IpAddr>,
    /// CNAME chain.
    pub cname: Vec<String>,
    /// Resolves into a declared range (queued for network discovery).
    pub in_range: bool,
    /// The stored asset (names that do not resolve are reported only).
    pub asset_id: Option<AssetId>,
    /// Scopes it belongs to by rule.
    pub scopes: Vec<String>,
}

/// A domain that looks like the organisation's.
#[derive(Debug, Clone, Serialize)]
pub struct RelatedDomain {
    /// The domain.
    pub domain: String,
    /// Why (shared certificate, same registrant, shared name servers).
    pub reasons: Vec<String>,
}

/// A declared range's registration.
#[derive(Debug, Clone, Serialize)]
pub struct RangeRegistration {
    /// The range.
    pub range: String,
    /// RDAP's answer.
    pub registration: Registration,
}

/// Counters.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ExternalStats {
    /// DNS queries sent.
    pub dns_queries: u64,
    /// Brute-force names tried.
    pub brute_names: u64,
    /// Brute-force rate (names per second).
    pub brute_rate: f64,
    /// Names discarded as wildcard answers.
    pub wildcard_hits: u64,
    /// Certificates read from CT.
    pub ct_certificates: u64,
    /// CT entries that were not readable certificates (skipped).
    pub ct_malformed: u64,
}

/// What `vantage discover domain` found.
#[derive(Debug, Clone, Serialize)]
pub struct DomainReport {
    /// The `external_discovery` job.
    pub job_id: i64,
    /// Per declared domain.
    pub domains: Vec<DomainResult>,
    /// Every name found.
    pub names: Vec<FoundName>,
    /// Related domains.
    pub related: Vec<RelatedDomain>,
    /// Registration of the declared ranges.
    pub ranges: Vec<RangeRegistration>,
    /// PTR names of the declared ranges' addresses.
    pub reverse: Vec<(IpAddr, Vec<String>)>,
    /// The `network_scan` job queued for in-range addresses.
    pub scan_job: Option<i64>,
    /// Addresses queued for network discovery.
    pub queued_addresses: Vec<IpAddr>,
    /// Counters.
    pub stats: ExternalStats,
    /// Steps that failed (the rest of the run is kept).
    pub warnings: Vec<String>,
}

/// Progress of a run.
pub trait ExternalProgress: Send + Sync {
    /// A step started.
    fn step(&self, what: &str);
}

/// No progress.
pub struct Quiet;

impl ExternalProgress for Quiet {
    fn step(&self, _: &str) {}
}

struct Finder {
    names: BTreeMap<String, BTreeSet<String>>,
}

impl Finder {
    fn add(&mut self, name: &str, source: &str) {
        let n = name
            .trim()
            .trim_end_matches('.')
            .trim_start_matches("*.")
            .to_ascii_lowercase();
        if !n.is_empty() {
            self.names.entry(n).or_default().insert(source.to_string());
        }
    }
}

fn bad(e: impl std::fmt::Display) -> AppError {
    AppError::Invalid(e.to_string())
}

impl App {
    /// Maps the external attack surface (see the module documentation).
    pub async fn discover_domain(
        &self,
        req: &DomainRequest,
        progress: &dyn ExternalProgress,
        actor: &str,
    ) -> Result<DomainReport, AppError> {
        if req.domains.is_empty() {
            return Err(AppError::Invalid("no domain given".into()));
        }
        let mut domains = Vec::new();
        for d in &req.domains {
            let n = vantage_scan::dns::fqdn(d).map_err(bad)?;
            domains.push(n.to_ascii().trim_end_matches('.').to_string());
        }
        let scope = match &req.scope {
            None => None,
            Some(name) => Some(self.store.scope_by_name(name).await?.ok_or_else(|| {
                AppError::NotFound(format!(
                    "scope `{name}` does not exist (see `vantage scopes list`)"
                ))
            })?),
        };
        let mut range_texts: Vec<String> = req.ranges.clone();
        if let Some(s) = &scope {
            for r in &s.rules {
                if let MembershipRule::IpRange(x) = r {
                    range_texts.push(x.clone());
                }
            }
        }
        let ranges: Vec<AddrRange> = range_texts
            .iter()
            .map(|r| AddrRange::parse(r).map_err(|e| AppError::Invalid(format!("--range: {e}"))))
            .collect::<Result<_, _>>()?;
        let words: Vec<String> = match &req.wordlist {
            Some(path) => std::fs::read_to_string(path)
                .map_err(|e| AppError::Invalid(format!("cannot read word list {path}: {e}")))?
                .lines()
                .map(str::to_string)
                .collect(),
            None => DEFAULT_WORDS.iter().map(|w| w.to_string()).collect(),
        };
        let timeout = Duration::from_secs(req.timeout_secs.max(1));
        let dns = Dns::new(DnsOptions {
            nameservers: req.nameservers.clone(),
            timeout,
            attempts: 2,
            concurrency: req.concurrency.max(1),
        })
        .map_err(bad)?;
        let http = Http::new(
            timeout * 4,
            RetryPolicy {
                attempts: 4,
                base: Duration::from_millis(500),
                max: Duration::from_secs(10),
            },
        )
        .map_err(|e| AppError::Invalid(e.to_string()))?;
        let payload = serde_json::to_string(req).map_err(bad)?;
        let job = self
            .store
            .start_job(
                JobKind::ExternalDiscovery,
                &payload,
                actor,
                OffsetDateTime::now_utc(),
            )
            .await?;
        let result = self
            .external_run(req, &domains, &ranges, &words, &dns, &http, progress)
            .await;
        match result {
            Ok(mut report) => {
                report.job_id = job;
                let summary = format!(
                    "{} names ({} in declared ranges), {} related domains, {} warnings",
                    report.names.len(),
                    report.names.iter().filter(|n| n.in_range).count(),
                    report.related.len(),
                    report.warnings.len()
                );
                for w in &report.warnings {
                    self.store.job_log(job, "warn", w).await?;
                }
                self.store.job_log(job, "info", &summary).await?;
                self.store
                    .finish_job(job, JobStatus::Done, None, OffsetDateTime::now_utc())
                    .await?;
                self.store
                    .record_audit(
                        OffsetDateTime::now_utc(),
                        actor,
                        "discover.domain",
                        ("job", &job.to_string()),
                        &format!("{}: {summary}", domains.join(" ")),
                    )
                    .await?;
                Ok(report)
            }
            Err(e) => {
                let msg = e.to_string();
                self.store.job_log(job, "error", &msg).await?;
                self.store
                    .finish_job(
                        job,
                        JobStatus::Failed,
                        Some(&msg),
                        OffsetDateTime::now_utc(),
                    )
                    .await?;
                Err(e)
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    async fn external_run(
        &self,
        req: &DomainRequest,
        domains: &[String],
        ranges: &[AddrRange],
        words: &[String],
        dns: &Dns,
        http: &Http,
        progress: &dyn ExternalProgress,
    ) -> Result<DomainReport, AppError> {
        let mut warnings = Vec::new();
        let mut stats = ExternalStats::default();
        let mut finder = Finder {
            names: BTreeMap::new(),
        };
        let mut results = Vec::new();
        let mut certs: Vec<CtCertificate> = Vec::new();
        for d in domains {
            progress.step(&format!("{d}: DNS records"));
            let records = match dns.records(d).await {
                Ok(r) => r,
                Err(e) => {
                    warnings.push(format!("{d}: DNS records: {e}"));
                    NameRecords::default()
                }
            };
            finder.add(d, "dns");
            for mx in &records.mx {
                if let Some(host) = mx.split_whitespace().nth(1)
                    && ct::under(host, d)
                {
                    finder.add(host, "dns");
                }
            }
            for ns in &records.ns {
                if ct::under(ns, d) {
                    finder.add(ns, "dns");
                }
            }
            // Zone transfer from every name server.
            progress.step(&format!("{d}: zone transfer"));
            let mut axfr = Vec::new();
            for ns in &records.ns {
                let addrs = match dns.resolve(ns).await {
                    Ok(r) => r.addresses,
                    Err(e) => {
                        warnings.push(format!("{d}: name server {ns}: {e}"));
                        continue;
                    }
                };
                for ip in addrs {
                    let server = SocketAddr::new(ip, req.dns_port);
                    match vantage_scan::dns::axfr(server, d, timeout_of(req)).await {
                        Ok(zone) => {
                            for r in &zone {
                                if ct::under(&r.name, d) {
                                    finder.add(&r.name, "axfr");
                                }
                            }
                            axfr.push(AxfrAttempt {
                                nameserver: ns.clone(),
                                address: server.to_string(),
                                allowed: true,
                                records: zone.len(),
                                error: None,
                            });
                        }
                        Err(e) => axfr.push(AxfrAttempt {
                            nameserver: ns.clone(),
                            address: server.to_string(),
                            allowed: false,
                            records: 0,
                            error: Some(e.to_string()),
                        }),
                    }
                }
            }
            let mut wildcard = Vec::new();
            if req.brute && !words.is_empty() {
                progress.step(&format!("{d}: brute force ({} names)", words.len()));
                let done = AtomicU64::new(0);
                let started = std::time::Instant::now();
                match dns.brute_force(d, words, &done).await {
                    Ok(b) => {
                        let secs = started.elapsed().as_secs_f64().max(0.001);
                        stats.brute_names += done.load(Ordering::Relaxed);
                        stats.brute_rate = done.load(Ordering::Relaxed) as f64 / secs;
                        stats.wildcard_hits += b.wildcard_hits;
                        if b.errors > 0 {
                            warnings.push(format!(
                                "{d}: brute force: {} queries failed (timeouts or server errors)",
                                b.errors
                            ));
                        }
                        for r in &b.found {
                            finder.add(&r.name, "brute");
                        }
                        wildcard = b.wildcard;
                    }
                    Err(e) => warnings.push(format!("{d}: brute force: {e}")),
                }
            }
            if let Some(base) = &req.crtsh {
                progress.step(&format!("{d}: crt.sh"));
                let url = format!(
                    "{}/?q={}&output=json",
                    base.trim_end_matches('/'),
                    url_escape(&format!("%.{d}"))
                );
                match fetch(http, "crt.sh", &url)
                    .await
                    .and_then(|b| ct::parse_crtsh(&b).map_err(|e| format!("{url}: {e}")))
                {
                    Ok(found) => {
                        stats.ct_certificates += found.len() as u64;
                        for c in &found {
                            for n in &c.names {
                                if ct::under(n, d) {
                                    finder.add(n, "crt.sh");
                                }
                            }
                        }
                        certs.extend(found);
                    }
                    Err(e) => warnings.push(format!("{d}: crt.sh: {e}")),
                }
            }
            let registration = match &req.rdap {
                Some(base) => {
                    progress.step(&format!("{d}: RDAP"));
                    let url = format!("{}/domain/{d}", base.trim_end_matches('/'));
                    match fetch(http, "RDAP", &url)
                        .await
                        .and_then(|b| rdap::parse(&b).map_err(|e| format!("{url}: {e}")))
                    {
                        Ok(r) => Some(r),
                        Err(e) => {
                            warnings.push(format!("{d}: RDAP: {e}"));
                            None
                        }
                    }
                }
                None => None,
            };
            results.push(DomainResult {
                domain: d.clone(),
                records,
                axfr,
                wildcard,
                registration,
            });
        }
        // RFC 6962 logs: entries appended since the last run.
        for log in &req.ct_logs {
            progress.step(&format!("CT log {log}"));
            match self.follow_log(http, log, req.ct_window).await {
                Ok((found, malformed)) => {
                    stats.ct_certificates += found.len() as u64;
                    stats.ct_malformed += malformed;
                    for c in &found {
                        for n in &c.names {
                            for d in domains {
                                if ct::under(n, d) {
                                    finder.add(n, "ct-log");
                                }
                            }
                        }
                    }
                    certs.extend(found);
                }
                Err(e) => warnings.push(format!("CT log {log}: {e}")),
            }
        }
        // Declared ranges: registration and reverse DNS.
        let mut range_regs = Vec::new();
        if let Some(base) = &req.rdap {
            for (text, r) in req.ranges.iter().zip(ranges) {
                let first = r.iter().next();
                let Some(first) = first else { continue };
                let url = format!("{}/ip/{first}", base.trim_end_matches('/'));
                match fetch(http, "RDAP", &url)
                    .await
                    .and_then(|b| rdap::parse(&b).map_err(|e| format!("{url}: {e}")))
                {
                    Ok(reg) => range_regs.push(RangeRegistration {
                        range: text.clone(),
                        registration: reg,
                    }),
                    Err(e) => warnings.push(format!("{text}: RDAP: {e}")),
                }
            }
        }
        let mut reverse = Vec::new();
        if req.reverse {
            let total: u128 = ranges.iter().map(|r| r.len()).sum();
            if total > 65_536 {
                warnings.push(format!(
                    "reverse DNS skipped: the declared ranges hold {total} addresses (at most 65,536)"
                ));
            } else {
                progress.step(&format!("reverse DNS of {total} addresses"));
                let ips: Vec<IpAddr> = ranges.iter().flat_map(|r| r.iter()).collect();
                let (found, errors) = dns.reverse_many(ips).await;
                if errors > 0 {
                    warnings.push(format!("reverse DNS: {errors} queries failed"));
                }
                for (_, names) in &found {
                    for n in names {
                        if domains.iter().any(|d| ct::under(n, d)) {
                            finder.add(n, "ptr");
                        }
                    }
                }
                reverse = found;
            }
        }
        // Related domains.
        progress.step("related domains");
        let related = self
            .related_domains(req, domains, &results, &certs, dns, http, &mut warnings)
            .await;
        // Resolve and store every name.
        progress.step(&format!("resolving {} names", finder.names.len()));
        let names: Vec<(String, BTreeSet<String>)> = finder.names.into_iter().collect();
        let resolved: Vec<(String, BTreeSet<String>, Result<Resolved, String>)> = {
            use futures_util::StreamExt;
            futures_util::stream::iter(names.into_iter().map(|(n, src)| {
                let dns = dns.clone();
                async move {
                    let r = dns.resolve(&n).await.map_err(|e| e.to_string());
                    (n, src, r)
                }
            }))
            .buffer_unordered(req.concurrency.max(1))
            .collect()
            .await
        };
        let now = OffsetDateTime::now_utc();
        let mut found = Vec::new();
        let mut queued: BTreeSet<IpAddr> = BTreeSet::new();
        let mut facts = Vec::new();
        for (name, sources, r) in resolved {
            let (addresses, cname) = match r {
                Ok(r) => (r.addresses, r.cname),
                Err(e) => {
                    warnings.push(format!("{name}: {e}"));
                    (Vec::new(), Vec::new())
                }
            };
            let in_range = addresses
                .iter()
                .any(|a| ranges.iter().any(|r| r.contains(*a)));
            for a in &addresses {
                if ranges.iter().any(|r| r.contains(*a)) {
                    queued.insert(*a);
                }
            }
            let mut asset_id = None;
            if !addresses.is_empty() || !cname.is_empty() {
                let root = domains
                    .iter()
                    .find(|d| ct::under(&name, d))
                    .cloned()
                    .unwrap_or_default();
                let mut tags = vec![
                    Tag {
                        key: "external".into(),
                        value: String::new(),
                    },
                    Tag {
                        key: "dns.root".into(),
                        value: root,
                    },
                ];
                for s in &sources {
                    tags.push(Tag {
                        key: "source".into(),
                        value: s.clone(),
                    });
                }
                for a in &addresses {
                    tags.push(Tag {
                        key: "resolves_to".into(),
                        value: a.to_string(),
                    });
                }
                tags.push(Tag {
                    key: "in_declared_range".into(),
                    value: if in_range { "yes" } else { "no" }.into(),
                });
                let asset = NewAsset {
                    kind: AssetKind::Domain,
                    name: name.clone(),
                    os: None,
                    identifiers: vec![Identifier::new(IdentifierKind::Fqdn, &name)],
                    tags: tags.clone(),
                    seen_at: now,
                };
                let id = self.store.upsert_asset(&asset).await?;
                asset_id = Some(id);
                facts.push((
                    id,
                    MemberFacts {
                        kind: Some(AssetKind::Domain),
                        name: name.clone(),
                        ips: addresses.clone(),
                        fqdns: vec![name.clone()],
                        tags,
                        cloud: None,
                    },
                ));
            }
            found.push(FoundName {
                name,
                sources: sources.into_iter().collect(),
                addresses,
                cname,
                in_range,
                asset_id,
                scopes: Vec::new(),
            });
        }
        found.sort_by(|a, b| a.name.cmp(&b.name));
        let scopes = self.assign_scopes(&facts).await?;
        for f in &mut found {
            if let Some(id) = f.asset_id {
                f.scopes = scopes.get(&id).cloned().unwrap_or_default();
            }
        }
        let queued: Vec<IpAddr> = queued.into_iter().collect();
        let mut scan_job = None;
        if !queued.is_empty() {
            let scope = match &req.scope {
                Some(s) => self.store.scope_by_name(s).await?,
                None => None,
            };
            let payload = serde_json::json!({
                "targets": queued.iter().map(|a| a.to_string()).collect::<Vec<_>>(),
                "scope": req.scope,
                "origin": "external discovery",
            })
            .to_string();
            let (id, _) = self
                .store
                .enqueue_job(JobKind::NetworkScan, scope.map(|s| s.id.0), &payload, now)
                .await?;
            scan_job = Some(id);
        }
        stats.dns_queries = dns.queries();
        Ok(DomainReport {
            job_id: 0,
            domains: results,
            names: found,
            related,
            ranges: range_regs,
            reverse,
            scan_job,
            queued_addresses: queued,
            stats,
            warnings,
        })
    }

    /// Reads a CT log from the stored position (or its last `window` entries the first time):
    /// the certificates read and the number of entries that were not readable.
    async fn follow_log(
        &self,
        http: &Http,
        log: &str,
        window: u64,
    ) -> Result<(Vec<CtCertificate>, u64), String> {
        let base = log.trim_end_matches('/');
        let sth = fetch(http, "CT get-sth", &format!("{base}/ct/v1/get-sth")).await?;
        let size = ct::parse_sth(&sth)?;
        let stored = self
            .store
            .ct_log_position(base)
            .await
            .map_err(|e| e.to_string())?;
        let mut start = stored
            .unwrap_or_else(|| size.saturating_sub(window))
            .min(size);
        let mut certs = Vec::new();
        let mut malformed = 0;
        while start < size {
            let end = (start + 255).min(size - 1);
            let url = format!("{base}/ct/v1/get-entries?start={start}&end={end}");
            let body = fetch(http, "CT get-entries", &url).await?;
            let entries = ct::parse_entries(&body)?;
            if entries.is_empty() {
                return Err(format!("{url}: no entries returned"));
            }
            for (i, (leaf, _extra)) in entries.iter().enumerate() {
                match ct::parse_leaf(&format!("{base} entry {}", start + i as u64), leaf) {
                    Ok(c) => certs.push(c),
                    Err(e) => {
                        malformed += 1;
                        tracing::debug!(log = base, entry = start + i as u64, error = %e, "CT entry skipped");
                    }
                }
            }
            // Logs may return fewer entries than asked: continue after the last one received.
            start += entries.len() as u64;
        }
        self.store
            .set_ct_log_position(base, size, OffsetDateTime::now_utc())
            .await
            .map_err(|e| e.to_string())?;
        Ok((certs, malformed))
    }

    #[allow(clippy::too_many_arguments)]
    async fn related_domains(
        &self,
        req: &DomainRequest,
        domains: &[String],
        results: &[DomainResult],
        certs: &[CtCertificate],
        dns: &Dns,
        http: &Http,
        warnings: &mut Vec<String>,
    ) -> Vec<RelatedDomain> {
        let mut reasons: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for c in certs {
            if !c
                .names
                .iter()
                .any(|n| domains.iter().any(|d| ct::under(n, d)))
            {
                continue;
            }
            for n in &c.names {
                let reg = ct::registrable(n);
                if domains
                    .iter()
                    .any(|d| ct::under(&reg, d) || ct::under(d, &reg))
                {
                    continue;
                }
                let why = format!("shares a certificate with it ({})", c.source);
                let v = reasons.entry(reg).or_default();
                if !v.contains(&why) && v.len() < 3 {
                    v.push(why);
                }
            }
        }
        let our_registrants: BTreeSet<String> = results
            .iter()
            .filter_map(|r| r.registration.as_ref()?.registrant.clone())
            .collect();
        let our_ns: BTreeSet<String> = results
            .iter()
            .flat_map(|r| r.records.ns.iter().cloned())
            .collect();
        for (candidate, why) in reasons.iter_mut().take(50) {
            if let Ok(r) = dns.records(candidate).await {
                let shared: Vec<&String> = r.ns.iter().filter(|n| our_ns.contains(*n)).collect();
                if !shared.is_empty() {
                    why.push(format!(
                        "shares name servers {}",
                        shared
                            .iter()
                            .map(|s| s.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ));
                }
            }
            if let Some(base) = &req.rdap {
                let url = format!("{}/domain/{candidate}", base.trim_end_matches('/'));
                match fetch(http, "RDAP", &url)
                    .await
                    .and_then(|b| rdap::parse(&b).map_err(|e| format!("{url}: {e}")))
                {
                    Ok(reg) => {
                        if let Some(who) = reg.registrant.filter(|w| our_registrants.contains(w)) {
                            why.push(format!("same registrant ({who})"));
                        }
                    }
                    Err(e) => warnings.push(format!("{candidate}: RDAP: {e}")),
                }
            }
        }
        reasons
            .into_iter()
            .map(|(domain, reasons)| RelatedDomain { domain, reasons })
            .collect()
    }
}

fn timeout_of(req: &DomainRequest) -> Duration {
    Duration::from_secs(req.timeout_secs.max(1))
}

fn url_escape(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// GET with retries (429/5xx, `Retry-After`); the body of a 2xx answer.
async fn fetch(http: &Http, what: &str, url: &str) -> Result<Vec<u8>, String> {
    let a = http
        .send(what, || Ok(http.client.get(url)), |_| false)
        .await
        .map_err(|e| e.to_string())?;
    if !a.status.is_success() {
        return Err(format!(
            "{url}: HTTP {}: {}",
            a.status.as_u16(),
            a.snippet()
        ));
    }
    Ok(a.body)
}
