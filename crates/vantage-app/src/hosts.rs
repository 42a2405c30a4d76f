//! Host inventory use cases: `vantage inventory local` (this machine, read from `/`) and
//! `vantage inventory ssh` (agentless, over SSH). Both collect the same facts — OS, kernel and
//! installed kernels, uptime and reboot flag, packages, listening sockets — and hand the
//! packages to detection like `inventory import`.
//!
//! SSH host keys are pinned on first contact; a different key later refuses the scan, raises a
//! `ssh_host_key_changed` alert and is audited. Secrets come from the vault or the caller and are
//! never logged.

use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use time::OffsetDateTime;
use vantage_detect::inventory::{self, OsRelease};
use vantage_domain::{CredentialKind, Ecosystem, Identifier, IdentifierKind};
use vantage_scan::host::{HostFacts, Listener, PackageSource, collect_local};
use vantage_scan::remote::{
    HostKey, SshAuth, SshEndpoint, SshError, SshLogin, SshOptions, Sudo, collect,
};
use vantage_store::{NewAlert, SshTarget, StoreError};
use zeroize::Zeroizing;

use crate::app::App;
use crate::error::AppError;
use crate::inventory::InventoryReport;

/// One command run over SSH and what it answered.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct CommandLog {
    /// The command (without any sudo wrapper).
    pub command: String,
    /// Exit status (`None`: none sent, or the command could not run).
    pub status: Option<u32>,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

/// Quotes a string for a POSIX shell.
pub fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// One installed package, as a host inventory lists it.
#[derive(Debug, Clone, Serialize)]
pub struct PackageEntry {
    /// Package name.
    pub name: String,
    /// Installed version.
    pub version: String,
    /// Architecture.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arch: Option<String>,
    /// Source package.
    pub source: String,
}

/// What a host inventory (local or SSH) found.
#[derive(Debug, Clone, Serialize)]
pub struct HostInventoryReport {
    /// `local` or `ssh`.
    pub collector: &'static str,
    /// The host name (the asset's name).
    pub asset: String,
    /// Where it was read (`/`, `root@10.0.0.5:22`).
    pub target: String,
    /// The SSH host key the server presented (SSH only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host_key: Option<HostKey>,
    /// Running kernel release.
    pub kernel: Option<String>,
    /// Kernel releases installed as packages.
    pub installed_kernels: Vec<String>,
    /// A newer kernel is installed than the one running: a reboot would load it.
    pub newer_kernel_installed: bool,
    /// The distribution asks for a reboot.
    pub reboot_required: bool,
    /// Seconds since boot.
    pub uptime_secs: Option<u64>,
    /// Listening sockets.
    pub listening: Vec<Listener>,
    /// Where the packages were read from.
    pub package_source: &'static str,
    /// Every installed package.
    pub packages: Vec<PackageEntry>,
    /// Detection's report: findings by priority, the urgent ones, timings.
    pub inventory: InventoryReport,
}

/// The facts of one host, collected without storing anything (`inventory ssh --collect-only`).
#[derive(Debug, Clone, Serialize)]
pub struct CollectedHost {
    /// Where it was read.
    pub target: String,
    /// Host name.
    pub hostname: String,
    /// OS (`debian:12`), when the release file says.
    pub os: Option<String>,
    /// The host key presented.
    pub host_key: HostKey,
    /// Running kernel.
    pub kernel: Option<String>,
    /// Where the packages were read from.
    pub package_source: &'static str,
    /// How many packages.
    pub package_count: usize,
    /// Listening sockets.
    pub listening: Vec<Listener>,
    /// Collection time in milliseconds.
    pub elapsed_ms: f64,
}

/// How to log in to one SSH target.
#[derive(Debug)]
pub struct SshRequest {
    /// Where.
    pub endpoint: SshEndpoint,
    /// How.
    pub auth: SshAuth,
    /// A bastion and how to log in there.
    pub jump: Option<(SshEndpoint, SshAuth)>,
    /// Sudo for the privileged commands.
    pub sudo: Sudo,
    /// Per-hop connect + login limit.
    pub connect_timeout: Duration,
    /// Per-command limit.
    pub command_timeout: Duration,
    /// Per-command output cap in bytes.
    pub max_output: usize,
    /// Also offer SHA-1 key exchanges and MACs (old hosts).
    pub legacy_algorithms: bool,
}

impl SshRequest {
    /// A request with the default limits (10 s to log in, 120 s per command, 64 MiB output).
    pub fn new(endpoint: SshEndpoint, auth: SshAuth) -> SshRequest {
        let d = SshOptions::default();
        SshRequest {
            endpoint,
            auth,
            jump: None,
            sudo: Sudo::No,
            connect_timeout: d.connect_timeout,
            command_timeout: d.command_timeout,
            max_output: d.max_output,
            legacy_algorithms: false,
        }
    }
}

impl From<&inventory::InstalledPackage> for PackageEntry {
    fn from(p: &inventory::InstalledPackage) -> Self {
        PackageEntry {
            name: p.name.clone(),
            version: p.version.clone(),
            arch: p.arch.clone(),
            source: p.source_name.clone(),
        }
    }
}

/// The packages of a database read by a collector, and the name of its format.
pub(crate) fn parse_packages(
    source: &PackageSource,
    origin: &str,
) -> Result<(&'static str, Vec<inventory::InstalledPackage>), AppError> {
    let (format, parsed) = match source {
        PackageSource::DpkgStatus(t) => ("dpkg-status", inventory::dpkg::parse_status(t)),
        PackageSource::DpkgQuery(t) => ("dpkg-query", inventory::dpkg::parse_query(t)),
        PackageSource::ApkInstalled(t) => ("apk-installed", inventory::apk::parse_installed(t)),
        PackageSource::RpmQuery(t) => ("rpm-query", inventory::rpm::parse_tsv(t)),
        PackageSource::RpmSqlite(_) | PackageSource::None => {
            return Err(AppError::Invalid(format!(
                "{origin}: no package database (dpkg, apk installed database or rpm)"
            )));
        }
    };
    let packages = parsed.map_err(|e| AppError::Invalid(format!("{format} of {origin}: {e}")))?;
    Ok((format, packages))
}

/// Kernel releases installed as packages, oldest first, and whether one is newer than `running`.
fn kernels(packages: &[inventory::InstalledPackage], running: Option<&str>) -> (Vec<String>, bool) {
    let mut kernels: Vec<String> = packages
        .iter()
        .filter_map(|p| match p.name.as_str() {
            n if n.starts_with("linux-image-")
                && n.as_bytes().get(12).is_some_and(u8::is_ascii_digit) =>
            {
                Some(n["linux-image-".len()..].to_string())
            }
            "kernel" | "kernel-core" => Some(format!(
                "{}.{}",
                p.version
                    .split_once(':')
                    .map_or(p.version.as_str(), |(_, v)| v),
                p.arch.clone().unwrap_or_default()
            )),
            "linux-lts" | "linux-virt" | "linux-edge" if p.ecosystem == Ecosystem::Apk => {
                Some(p.version.clone())
            }
            _ => None,
        })
        .collect();
    kernels.sort_by(|a, b| vantage_detect::version::natural(a, b));
    kernels.dedup();
    let newer = match (running, kernels.last()) {
        (Some(running), Some(newest)) => {
            vantage_detect::version::natural(newest, running) == std::cmp::Ordering::Greater
                && !running.starts_with(newest.as_str())
        }
        _ => false,
    };
    (kernels, newer)
}

impl App {
    /// Inventories the machine whose file system is at `root` (`/`: this one) — OS, kernel,
    /// uptime, reboot flag, installed packages, listening sockets — and judges its packages like
    /// `inventory import`. The asset is the host name.
    pub async fn inventory_local(&self, root: &Path) -> Result<HostInventoryReport, AppError> {
        let started = std::time::Instant::now();
        let facts = collect_local(root)?;
        self.inventory_facts(
            "local",
            root.display().to_string(),
            facts,
            None,
            vec![],
            started,
        )
        .await
    }

    async fn inventory_facts(
        &self,
        collector: &'static str,
        target: String,
        facts: HostFacts,
        host_key: Option<HostKey>,
        extra_ids: Vec<Identifier>,
        started: std::time::Instant,
    ) -> Result<HostInventoryReport, AppError> {
        let (format, packages) = parse_packages(&facts.packages, &target)?;
        let os = facts
            .os_release
            .as_deref()
            .and_then(OsRelease::from_os_release);
        let (installed_kernels, newer_kernel_installed) =
            kernels(&packages, facts.kernel.as_deref());
        let entries: Vec<PackageEntry> = packages.iter().map(PackageEntry::from).collect();
        let inv = inventory::Inventory {
            format,
            packages,
            os,
            subject: None,
            container: false,
            skipped: 0,
        };
        let report = self
            .import_parsed(
                facts.hostname.clone(),
                None,
                inv,
                &format!("{format} of {target}"),
                extra_ids,
                started,
            )
            .await?;
        self.store
            .record_host_facts(
                report.asset_id,
                &vantage_store::HostFactsRow {
                    kernel: facts.kernel.clone(),
                    newest_kernel: installed_kernels.last().cloned(),
                    newer_kernel_installed,
                    reboot_required: facts.reboot_required,
                },
                OffsetDateTime::now_utc(),
            )
            .await?;
        Ok(HostInventoryReport {
            collector,
            asset: facts.hostname,
            target,
            host_key,
            kernel: facts.kernel,
            installed_kernels,
            newer_kernel_installed,
            reboot_required: facts.reboot_required,
            uptime_secs: facts.uptime_secs,
            listening: facts.listening,
            package_source: format,
            packages: entries,
            inventory: report,
        })
    }

    /// The login of an endpoint, with its pinned host key from the store.
    async fn ssh_login(&self, endpoint: SshEndpoint, auth: SshAuth) -> Result<SshLogin, AppError> {
        let pinned = self
            .store
            .pinned_host_key(&endpoint.host, endpoint.port)
            .await?
            .map(|k| k.fingerprint);
        Ok(SshLogin {
            endpoint,
            auth,
            pinned,
        })
    }

    /// Runs commands one after the other over one SSH session (host key pinned as for an
    /// inventory: a changed key refuses), as root through sudo when the target says so; stops
    /// at the first failure. Each command's output and exit status are returned.
    pub(crate) async fn ssh_run(
        &self,
        req: SshRequest,
        commands: &[String],
    ) -> Result<Vec<CommandLog>, AppError> {
        let (command_timeout, max_output) = (req.command_timeout, req.max_output);
        let (login, mut options) = self.ssh_parts(req).await?;
        let sudo = std::mem::take(&mut options.sudo);
        let session = vantage_scan::remote::connect(&login, &options)
            .await
            .map_err(|e| AppError::Scan(e.into()))?;
        let mut out = Vec::new();
        for c in commands {
            let (line, input) = match &sudo {
                Sudo::No => (c.clone(), None),
                Sudo::NoPassword => (format!("sudo -n sh -c {}", shell_quote(c)), None),
                Sudo::Password(p) => (
                    format!("sudo -S -p '' sh -c {}", shell_quote(c)),
                    Some(Zeroizing::new(format!("{}\n", &**p).into_bytes())),
                ),
            };
            let o = session
                .run(
                    &line,
                    input.as_deref().map(|v| &v[..]),
                    command_timeout,
                    max_output,
                )
                .await;
            let log = match o {
                Ok(o) => CommandLog {
                    command: c.clone(),
                    status: o.status,
                    stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
                    stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
                },
                Err(e) => CommandLog {
                    command: c.clone(),
                    status: None,
                    stdout: String::new(),
                    stderr: e.to_string(),
                },
            };
            let ok = log.status == Some(0);
            out.push(log);
            if !ok {
                break;
            }
        }
        session.close().await;
        Ok(out)
    }

    /// The login (with its pinned key) and options of a request.
    async fn ssh_parts(&self, req: SshRequest) -> Result<(SshLogin, SshOptions), AppError> {
        let login = self.ssh_login(req.endpoint, req.auth).await?;
        let jump = match req.jump {
            Some((e, a)) => Some(self.ssh_login(e, a).await?),
            None => None,
        };
        let options = SshOptions {
            connect_timeout: req.connect_timeout,
            command_timeout: req.command_timeout,
            max_output: req.max_output,
            sudo: req.sudo,
            jump,
            legacy_algorithms: req.legacy_algorithms,
        };
        Ok((login, options))
    }

    /// Collects over SSH, pinning host keys on first contact; a changed key raises an alert.
    async fn collect_ssh(
        &self,
        req: SshRequest,
        actor: &str,
    ) -> Result<vantage_scan::remote::RemoteFacts, AppError> {
        let (login, options) = self.ssh_parts(req).await?;
        let collected = collect(&login, &options).await;
        let now = OffsetDateTime::now_utc();
        match collected {
            Ok(r) => {
                let e = &login.endpoint;
                self.pin(&e.host, e.port, &r.host_key, now).await?;
                if let (Some(j), Some(k)) = (&options.jump, &r.jump_key) {
                    self.pin(&j.endpoint.host, j.endpoint.port, k, now).await?;
                }
                Ok(r)
            }
            Err(SshError::HostKeyChanged {
                endpoint,
                expected,
                presented,
                algorithm,
            }) => {
                let asset = self
                    .store
                    .resolve_asset(&expected)
                    .await
                    .ok()
                    .and_then(|ids| ids.first().copied());
                let message = format!(
                    "The SSH host key of {endpoint} changed: pinned {expected}, presented {presented} ({algorithm}). The inventory was refused. A re-installed host, or a machine in the middle: check it, then `vantage inventory forget-host-key {endpoint}`."
                );
                self.store
                    .raise_alert(
                        &NewAlert {
                            kind: "ssh_host_key_changed",
                            severity: "high",
                            asset,
                            subject: &endpoint,
                            message: &message,
                        },
                        now,
                    )
                    .await?;
                self.store
                    .record_audit(
                        now,
                        actor,
                        "ssh.host_key_changed",
                        ("ssh_target", &endpoint),
                        &format!("pinned={expected} presented={presented}"),
                    )
                    .await?;
                Err(AppError::Scan(
                    SshError::HostKeyChanged {
                        endpoint,
                        expected,
                        presented,
                        algorithm,
                    }
                    .into(),
                ))
            }
            Err(e) => Err(AppError::Scan(e.into())),
        }
    }

    async fn pin(
        &self,
        host: &str,
        port: u16,
        key: &HostKey,
        now: OffsetDateTime,
    ) -> Result<(), AppError> {
        match self
            .store
            .pin_host_key(host, port, &key.algorithm, &key.fingerprint, now)
            .await
        {
            // Another run pinned a different key between our check and now: the check of the
            // next run refuses it; this run saw the key it was given.
            Ok(()) | Err(StoreError::Conflict { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Inventories a host over SSH and judges its packages: the asset is the host name, also
    /// known by its address and SSH host key.
    pub async fn inventory_ssh(
        &self,
        req: SshRequest,
        actor: &str,
    ) -> Result<HostInventoryReport, AppError> {
        let started = std::time::Instant::now();
        let target = req.endpoint.to_string();
        let host = req.endpoint.host.clone();
        let r = self.collect_ssh(req, actor).await?;
        let mut ids = vec![Identifier::new(
            IdentifierKind::SshHostKey,
            &r.host_key.fingerprint,
        )];
        if let Ok(ip) = host.parse::<IpAddr>()
            && !ip.is_loopback()
        {
            ids.push(Identifier::new(IdentifierKind::Ip, ip.to_string()));
        }
        self.inventory_facts("ssh", target, r.facts, Some(r.host_key), ids, started)
            .await
    }

    /// Collects a host's facts over SSH without storing an inventory (host keys are still
    /// pinned and checked).
    pub async fn collect_ssh_only(
        &self,
        req: SshRequest,
        actor: &str,
    ) -> Result<CollectedHost, AppError> {
        let target = req.endpoint.to_string();
        let r = self.collect_ssh(req, actor).await?;
        let (format, packages) = parse_packages(&r.facts.packages, &target)?;
        Ok(CollectedHost {
            target,
            hostname: r.facts.hostname,
            os: r
                .facts
                .os_release
                .as_deref()
                .and_then(OsRelease::from_os_release)
                .map(|o| o.label()),
            host_key: r.host_key,
            kernel: r.facts.kernel,
            package_source: format,
            package_count: packages.len(),
            listening: r.facts.listening,
            elapsed_ms: r.elapsed.as_secs_f64() * 1000.0,
        })
    }

    /// Forgets the host key pinned for an endpoint (after a legitimate re-install); audited.
    pub async fn forget_host_key(
        &self,
        endpoint: &SshEndpoint,
        actor: &str,
    ) -> Result<(), AppError> {
        if !self
            .store
            .forget_host_key(&endpoint.host, endpoint.port)
            .await?
        {
            return Err(AppError::NotFound(format!(
                "no host key pinned for {}:{}",
                endpoint.host, endpoint.port
            )));
        }
        self.store
            .record_audit(
                OffsetDateTime::now_utc(),
                actor,
                "ssh.host_key_forgotten",
                ("ssh_target", &endpoint.to_string()),
                "",
            )
            .await?;
        Ok(())
    }

    /// Authentication from a vault credential: an SSH key (passphrase-less) or a password.
    pub async fn ssh_auth_from_vault(&self, name: &str) -> Result<(String, SshAuth), AppError> {
        let (c, secret) = self.credential_secret(name).await?;
        let text =
            Zeroizing::new(String::from_utf8(secret.to_vec()).map_err(|_| {
                AppError::Invalid(format!("credential `{name}` is not UTF-8 text"))
            })?);
        let auth = match c.kind {
            CredentialKind::SshKey => SshAuth::Key {
                pem: text,
                passphrase: None,
            },
            CredentialKind::Password => SshAuth::Password(text),
            CredentialKind::Token => {
                return Err(AppError::Invalid(format!(
                    "credential `{name}` is a token, not an SSH key or password"
                )));
            }
        };
        Ok((c.username, auth))
    }

    /// Adds an SSH target to a scope, for scheduled inventories; its credentials are vault
    /// names, checked to exist.
    pub async fn add_ssh_target(
        &self,
        scope: &str,
        endpoint: &SshEndpoint,
        credential: &str,
        jump: Option<(&SshEndpoint, &str)>,
        sudo: &str,
        actor: &str,
    ) -> Result<SshTarget, AppError> {
        let s = self
            .store
            .scope_by_name(scope)
            .await?
            .ok_or_else(|| AppError::NotFound(format!("no scope named `{scope}`")))?;
        if !matches!(sudo, "no" | "nopasswd" | "password") {
            return Err(AppError::Invalid(format!(
                "sudo `{sudo}`: expected no, nopasswd or password"
            )));
        }
        let known: Vec<String> = self
            .credentials()
            .await?
            .into_iter()
            .map(|c| c.name)
            .collect();
        for name in std::iter::once(credential).chain(jump.map(|j| j.1)) {
            if !known.iter().any(|k| k == name) {
                return Err(AppError::NotFound(format!(
                    "no credential named `{name}` (add it with `vantage credentials add`)"
                )));
            }
        }
        let mut t = SshTarget {
            id: 0,
            scope_id: s.id.0,
            endpoint: endpoint.to_string(),
            credential: credential.to_string(),
            jump: jump.map(|j| j.0.to_string()),
            jump_credential: jump.map(|j| j.1.to_string()),
            sudo: sudo.to_string(),
        };
        let now = OffsetDateTime::now_utc();
        t.id = self.store.add_ssh_target(&t, now).await?;
        self.store
            .record_audit(
                now,
                actor,
                "scope.ssh_target.add",
                ("scope", &s.id.0.to_string()),
                &format!("endpoint={} credential={credential}", t.endpoint),
            )
            .await?;
        Ok(t)
    }

    /// The SSH targets of a scope.
    pub async fn ssh_targets(&self, scope: &str) -> Result<Vec<SshTarget>, AppError> {
        let s = self
            .store
            .scope_by_name(scope)
            .await?
            .ok_or_else(|| AppError::NotFound(format!("no scope named `{scope}`")))?;
        Ok(self.store.ssh_targets(s.id).await?)
    }

    /// The request for a stored SSH target: credentials unsealed from the vault.
    pub async fn ssh_request_for(&self, t: &SshTarget) -> Result<SshRequest, AppError> {
        let endpoint = SshEndpoint::parse(&t.endpoint).map_err(AppError::Invalid)?;
        let (_, auth) = self.ssh_auth_from_vault(&t.credential).await?;
        let sudo = match (t.sudo.as_str(), &auth) {
            ("nopasswd", _) => Sudo::NoPassword,
            ("password", SshAuth::Password(p)) => Sudo::Password(p.clone()),
            ("password", SshAuth::Key { .. }) => {
                return Err(AppError::Invalid(format!(
                    "{}: sudo with a password needs a password credential",
                    t.endpoint
                )));
            }
            _ => Sudo::No,
        };
        let mut req = SshRequest::new(endpoint, auth);
        req.sudo = sudo;
        if let (Some(j), Some(c)) = (&t.jump, &t.jump_credential) {
            let je = SshEndpoint::parse(j).map_err(AppError::Invalid)?;
            req.jump = Some((je, self.ssh_auth_from_vault(c).await?.1));
        }
        Ok(req)
    }

    /// Inventories every SSH target of a scope, `concurrency` at a time; one result per target
    /// (a failed target does not stop the others).
    pub async fn inventory_scope_ssh(
        self: &Arc<Self>,
        scope: &str,
        concurrency: usize,
        actor: &str,
    ) -> Result<Vec<(String, Result<HostInventoryReport, AppError>)>, AppError> {
        let targets = self.ssh_targets(scope).await?;
        let mut requests = Vec::new();
        for t in &targets {
            requests.push((t.endpoint.clone(), self.ssh_request_for(t).await?));
        }
        Ok(self.inventory_many(requests, concurrency, actor).await)
    }

    /// Inventories several SSH targets, `concurrency` at a time, results in input order.
    pub async fn inventory_many(
        self: &Arc<Self>,
        requests: Vec<(String, SshRequest)>,
        concurrency: usize,
        actor: &str,
    ) -> Vec<(String, Result<HostInventoryReport, AppError>)> {
        let actor = actor.to_string();
        bounded(self, requests, concurrency, move |app, req| {
            let actor = actor.clone();
            async move { app.inventory_ssh(req, &actor).await }
        })
        .await
    }

    /// Collects several SSH targets without storing inventories, `concurrency` at a time.
    pub async fn collect_many(
        self: &Arc<Self>,
        requests: Vec<(String, SshRequest)>,
        concurrency: usize,
        actor: &str,
    ) -> Vec<(String, Result<CollectedHost, AppError>)> {
        let actor = actor.to_string();
        bounded(self, requests, concurrency, move |app, req| {
            let actor = actor.clone();
            async move { app.collect_ssh_only(req, &actor).await }
        })
        .await
    }
}

/// Runs `f` on each request, `concurrency` at a time; results in input order.
async fn bounded<T, F, Fut>(
    app: &Arc<App>,
    requests: Vec<(String, SshRequest)>,
    concurrency: usize,
    f: F,
) -> Vec<(String, Result<T, AppError>)>
where
    T: Send + 'static,
    F: Fn(Arc<App>, SshRequest) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = Result<T, AppError>> + Send + 'static,
{
    let sem = Arc::new(tokio::sync::Semaphore::new(concurrency.max(1)));
    let tasks: Vec<_> = requests
        .into_iter()
        .map(|(label, req)| {
            let (app, sem, f) = (app.clone(), sem.clone(), f.clone());
            let shown = label.clone();
            (
                shown,
                tokio::spawn(async move {
                    let _permit = sem.acquire_owned().await;
                    f(app, req).await
                }),
            )
        })
        .collect();
    let mut out = Vec::with_capacity(tasks.len());
    for (label, t) in tasks {
        let r = t
            .await
            .unwrap_or_else(|e| Err(AppError::Invalid(format!("{label}: task failed: {e}"))));
        out.push((label, r));
    }
    out
}
