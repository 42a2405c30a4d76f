//! `vantage inventory import|redetect` and `vantage scan sbom`.

use std::io::Write;

use std::sync::Arc;
use std::time::Duration;

use vantage_app::hosts::{CollectedHost, HostInventoryReport, SshRequest};
use vantage_app::{AppError, Config};
use vantage_domain::{Finding, Priority};
use vantage_scan::remote::{SshAuth, SshEndpoint, Sudo};
use zeroize::Zeroizing;

use super::GateFailed;
use crate::cli::{
    DiscoverCommand, Format, ImageArgs, ImportArgs, InventoryCommand, ScanCommand, SshArgs,
};
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
            let fail_on = fail_on_arg(fail_on.as_deref())?;
            let app = super::open(config).await?;
            let r = app.inventory_local(&root).await;
            app.store.close().await;
            let r = r?;
            let headline = host_headline(&r);
            report(&r.inventory, &r, format, fail_on, &headline)
        }
        InventoryCommand::Ssh(args) => ssh(config, *args).await,
        InventoryCommand::ForgetHostKey { target } => {
            let t = if target.contains('@') {
                target.clone()
            } else {
                format!("-@{target}")
            };
            let endpoint = SshEndpoint::parse(&t).map_err(AppError::Invalid)?;
            let app = super::open(config).await?;
            let r = app.forget_host_key(&endpoint, "cli").await;
            app.store.close().await;
            r?;
            writeln!(
                std::io::stdout(),
                "the host key of {}:{} is forgotten; the next inventory pins the key it is shown",
                endpoint.host,
                endpoint.port
            )?;
            Ok(())
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
        ScanCommand::Image(args) => image(config, args).await,
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
    let fail_on = fail_on_arg(fail_on.as_deref())?;
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

/// `--fail-on p1…p4`.
fn fail_on_arg(p: Option<&str>) -> Result<Option<Priority>, AppError> {
    p.map(|p| {
        p.parse::<Priority>()
            .map_err(|e| AppError::Invalid(format!("--fail-on: {e}")))
    })
    .transpose()
}

/// The first line of a host inventory's table: kernel, reboot, uptime, listening sockets.
fn host_headline(r: &HostInventoryReport) -> String {
    format!(
        "{}{}kernel {}{}{}; up {}; {} listening sockets: {}",
        if r.collector == "ssh" {
            format!("{} ", r.target)
        } else {
            String::new()
        },
        r.host_key
            .as_ref()
            .map(|k| format!("(host key {} {}) ", k.algorithm, k.fingerprint))
            .unwrap_or_default(),
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
    )
}

fn env_secret(var: &str, what: &str) -> Result<Zeroizing<String>, AppError> {
    std::env::var(var)
        .map(Zeroizing::new)
        .map_err(|_| AppError::Invalid(format!("{what}: environment variable {var} is not set")))
}

/// Authentication from the flags (`None`: no flag given).
async fn auth_of(
    app: &vantage_app::App,
    key: Option<&std::path::Path>,
    passphrase_env: Option<&str>,
    password_env: Option<&str>,
    credential: Option<&str>,
) -> Result<Option<(Option<String>, SshAuth)>, AppError> {
    Ok(match (key, password_env, credential) {
        (Some(path), _, _) => {
            let pem = Zeroizing::new(std::fs::read_to_string(path).map_err(|e| {
                AppError::Invalid(format!("cannot read the key {}: {e}", path.display()))
            })?);
            let passphrase = passphrase_env
                .map(|v| env_secret(v, "--key-passphrase-env"))
                .transpose()?;
            Some((None, SshAuth::Key { pem, passphrase }))
        }
        (_, Some(var), _) => Some((None, SshAuth::Password(env_secret(var, "--password-env")?))),
        (_, _, Some(name)) => {
            let (user, auth) = app.ssh_auth_from_vault(name).await?;
            Some((Some(user).filter(|u| !u.is_empty()), auth))
        }
        _ => None,
    })
}

/// The same authentication again (one per target; secrets are not cloned into many places
/// longer than needed).
async fn auth_again(
    app: &vantage_app::App,
    a: &SshArgs,
) -> Result<Option<(Option<String>, SshAuth)>, AppError> {
    auth_of(
        app,
        a.key.as_deref(),
        a.key_passphrase_env.as_deref(),
        a.password_env.as_deref(),
        a.credential.as_deref(),
    )
    .await
}

#[derive(serde::Serialize)]
struct SshRow {
    target: String,
    asset: String,
    os: String,
    packages: u64,
    findings: u64,
    p1: u64,
    p2: u64,
    host_key: String,
    elapsed_ms: f64,
    error: String,
}

impl Row for SshRow {
    fn headers() -> &'static [&'static str] {
        &[
            "target", "asset", "os", "packages", "findings", "P1", "P2", "host key", "ms", "error",
        ]
    }
    fn cells(&self) -> Vec<String> {
        vec![
            self.target.clone(),
            self.asset.clone(),
            self.os.clone(),
            self.packages.to_string(),
            self.findings.to_string(),
            self.p1.to_string(),
            self.p2.to_string(),
            self.host_key.clone(),
            format!("{:.0}", self.elapsed_ms),
            self.error.clone(),
        ]
    }
}

fn ssh_row(target: String, r: &Result<HostInventoryReport, AppError>) -> SshRow {
    match r {
        Ok(r) => SshRow {
            target,
            asset: r.asset.clone(),
            os: r.inventory.os.clone().unwrap_or_default(),
            packages: r.inventory.packages,
            findings: r.inventory.findings,
            p1: r.inventory.by_priority[0],
            p2: r.inventory.by_priority[1],
            host_key: r
                .host_key
                .as_ref()
                .map(|k| k.fingerprint.clone())
                .unwrap_or_default(),
            elapsed_ms: r.inventory.elapsed_ms,
            error: String::new(),
        },
        Err(e) => failed_row(target, e),
    }
}

fn collected_row(target: String, r: &Result<CollectedHost, AppError>) -> SshRow {
    match r {
        Ok(c) => SshRow {
            target,
            asset: c.hostname.clone(),
            os: c.os.clone().unwrap_or_default(),
            packages: c.package_count as u64,
            findings: 0,
            p1: 0,
            p2: 0,
            host_key: c.host_key.fingerprint.clone(),
            elapsed_ms: c.elapsed_ms,
            error: String::new(),
        },
        Err(e) => failed_row(target, e),
    }
}

fn failed_row(target: String, e: &AppError) -> SshRow {
    SshRow {
        target,
        asset: String::new(),
        os: String::new(),
        packages: 0,
        findings: 0,
        p1: 0,
        p2: 0,
        host_key: String::new(),
        elapsed_ms: 0.0,
        error: e.to_string(),
    }
}

/// `vantage inventory ssh`.
async fn ssh(config: Config, a: SshArgs) -> anyhow::Result<()> {
    if a.show_script {
        use vantage_scan::remote::commands;
        let mut out = std::io::stdout().lock();
        writeln!(out, "{}", commands::SCRIPT)?;
        if a.sudo {
            writeln!(out, "{}", commands::SUDO_N_LISTENING)?;
        }
        if a.sudo_password_env.is_some() {
            writeln!(out, "{}", commands::SUDO_S_LISTENING)?;
        }
        return Ok(());
    }
    let fail_on = fail_on_arg(a.fail_on.as_deref())?;
    let mut targets = a.targets.clone();
    if let Some(f) = &a.targets_file {
        let text = std::fs::read_to_string(f)
            .map_err(|e| AppError::Invalid(format!("cannot read {}: {e}", f.display())))?;
        targets.extend(
            text.lines()
                .map(|l| l.split('#').next().unwrap_or("").trim())
                .filter(|l| !l.is_empty())
                .map(String::from),
        );
    }
    if targets.is_empty() && a.scope.is_none() {
        return Err(AppError::Invalid(
            "name a target (user@host[:port]), --targets-file or --scope".into(),
        )
        .into());
    }
    let app = Arc::new(super::open(config).await?);
    let result = ssh_run(&app, &a, targets, fail_on).await;
    app.store.close().await;
    result
}

async fn ssh_run(
    app: &Arc<vantage_app::App>,
    a: &SshArgs,
    targets: Vec<String>,
    fail_on: Option<Priority>,
) -> anyhow::Result<()> {
    let mut requests = Vec::new();
    if let Some(scope) = &a.scope {
        for t in app.ssh_targets(scope).await? {
            requests.push((t.endpoint.clone(), app.ssh_request_for(&t).await?));
        }
        if requests.is_empty() {
            return Err(AppError::Invalid(format!(
                "scope `{scope}` has no SSH targets (vantage scopes add-ssh-target)"
            ))
            .into());
        }
    } else {
        for t in &targets {
            let (user, auth) = auth_again(app, a).await?.ok_or_else(|| {
                AppError::Invalid("give --key FILE, --password-env VAR or --credential NAME".into())
            })?;
            let spec = match (t.contains('@'), user) {
                (true, _) => t.clone(),
                (false, Some(u)) => format!("{u}@{t}"),
                (false, None) => {
                    return Err(AppError::Invalid(format!(
                        "`{t}`: expected user@host[:port] (or a --credential with a user name)"
                    ))
                    .into());
                }
            };
            let endpoint = SshEndpoint::parse(&spec).map_err(AppError::Invalid)?;
            let mut req = SshRequest::new(endpoint, auth);
            if let Some(j) = &a.jump {
                let je = SshEndpoint::parse(j).map_err(AppError::Invalid)?;
                let (_, ja) = auth_of(
                    app,
                    a.jump_key.as_deref(),
                    None,
                    a.jump_password_env.as_deref(),
                    a.jump_credential.as_deref(),
                )
                .await?
                .ok_or_else(|| {
                    AppError::Invalid(
                        "--jump needs --jump-key, --jump-password-env or --jump-credential".into(),
                    )
                })?;
                req.jump = Some((je, ja));
            }
            req.sudo = match (&a.sudo_password_env, a.sudo) {
                (Some(var), _) => Sudo::Password(env_secret(var, "--sudo-password-env")?),
                (None, true) => Sudo::NoPassword,
                (None, false) => Sudo::No,
            };
            req.connect_timeout = Duration::from_secs(a.connect_timeout.max(1));
            req.command_timeout = Duration::from_secs(a.command_timeout.max(1));
            req.max_output = a.max_output_mib.max(1) * 1024 * 1024;
            req.legacy_algorithms = a.legacy_algorithms;
            requests.push((t.clone(), req));
        }
    }
    let total = requests.len();
    let mut out = std::io::stdout().lock();
    if a.collect_only {
        let results = app.collect_many(requests, a.concurrency, "cli").await;
        let failed = print_many(&mut out, a.format, &results, collected_row)?;
        return finish_many(total, failed);
    }
    let mut results = app.inventory_many(requests, a.concurrency, "cli").await;
    if total == 1 {
        let (_, r) = results.pop().expect("one result");
        let r = r?;
        return report(&r.inventory, &r, a.format, fail_on, &host_headline(&r));
    }
    let failed = print_many(&mut out, a.format, &results, ssh_row)?;
    if let Some(gate) = fail_on {
        let hit: Vec<&str> = results
            .iter()
            .filter_map(|(_, r)| r.as_ref().ok())
            .filter(|r| {
                r.inventory.by_priority[..gate as usize + 1]
                    .iter()
                    .any(|n| *n > 0)
            })
            .map(|r| r.asset.as_str())
            .collect();
        if !hit.is_empty() && failed == 0 {
            return Err(GateFailed(format!(
                "open findings at or above {gate} on {}",
                hit.join(", ")
            ))
            .into());
        }
    }
    finish_many(total, failed)
}

/// Prints one result per target (JSON: the report or `{target, error}`; table/CSV: a row);
/// returns how many failed.
fn print_many<T: serde::Serialize>(
    out: &mut impl Write,
    format: Format,
    results: &[(String, Result<T, AppError>)],
    row: fn(String, &Result<T, AppError>) -> SshRow,
) -> anyhow::Result<usize> {
    if format == Format::Json {
        let v: Vec<serde_json::Value> = results
            .iter()
            .map(|(t, r)| match r {
                Ok(x) => serde_json::to_value(x).unwrap_or_default(),
                Err(e) => serde_json::json!({"target": t, "error": e.to_string()}),
            })
            .collect();
        serde_json::to_writer_pretty(&mut *out, &v)?;
        writeln!(out)?;
    } else {
        let mut printer = Printer::new::<SshRow>(format, &mut *out);
        for (t, r) in results {
            printer.row(&row(t.clone(), r))?;
        }
        printer.finish()?;
    }
    Ok(results.iter().filter(|r| r.1.is_err()).count())
}

fn finish_many(total: usize, failed: usize) -> anyhow::Result<()> {
    if failed > 0 {
        anyhow::bail!("{failed} of {total} targets failed (see the error column)");
    }
    Ok(())
}

/// `vantage scan image`.
async fn image(config: Config, a: ImageArgs) -> anyhow::Result<()> {
    use vantage_app::images::ImageRequest;
    use vantage_scan::image::{ImageLimits, Platform, RegistryLogin, RegistryOptions};
    let fail_on = fail_on_arg(a.fail_on.as_deref())?;
    let platform = a
        .platform
        .as_deref()
        .map(Platform::parse)
        .transpose()
        .map_err(AppError::Invalid)?;
    let app = super::open(config).await?;
    let login = match (&a.username, &a.password_env, &a.credential) {
        (Some(u), Some(var), _) => {
            RegistryLogin::Basic(u.clone(), env_secret(var, "--password-env")?)
        }
        (u, _, Some(name)) => {
            let (c, secret) = app.credential_secret(name).await?;
            let user = u.clone().unwrap_or(c.username);
            let secret = String::from_utf8(secret.to_vec())
                .map_err(|_| AppError::Invalid(format!("credential `{name}` is not UTF-8 text")))?;
            RegistryLogin::Basic(user, Zeroizing::new(secret))
        }
        _ => RegistryLogin::Anonymous,
    };
    let req = ImageRequest {
        platform,
        registry: RegistryOptions {
            login,
            insecure: a.insecure_registry.clone(),
        },
        limits: ImageLimits {
            max_unpacked: a.max_unpacked_mib.max(1) << 20,
            ..Default::default()
        },
        os: a.os.clone(),
    };
    if a.queued {
        let r = app.scan_queued_images(&req, "cli").await;
        app.store.close().await;
        let r = r?;
        let mut out = std::io::stdout().lock();
        if a.format == Format::Json {
            serde_json::to_writer_pretty(&mut out, &r)?;
            writeln!(out)?;
        } else {
            writeln!(
                out,
                "{} queued images scanned, {} failed",
                r.done,
                r.failed.len()
            )?;
            for (image, e) in &r.failed {
                writeln!(out, "  {image}: {e}")?;
            }
        }
        if !r.failed.is_empty() {
            anyhow::bail!("{} queued images failed", r.failed.len());
        }
        return Ok(());
    }
    let source = a.image.clone().unwrap_or_default();
    let r = app.scan_image(&source, &req).await;
    app.store.close().await;
    let r = r?;
    let mut err = std::io::stderr();
    for w in &r.image.warnings {
        let _ = writeln!(err, "warning: {w}");
    }
    let headline = format!(
        "{} {} ({}): {} layers, {} MiB unpacked; image id {}{}",
        r.image.format,
        r.image.source,
        [r.image.os.as_deref(), r.image.architecture.as_deref()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join("/"),
        r.image.layers,
        r.image.unpacked_bytes >> 20,
        r.image.config_digest,
        r.image
            .manifest_digest
            .as_deref()
            .map(|d| format!(", manifest {d}"))
            .unwrap_or_default()
    );
    report(&r.inventory, &r, a.format, fail_on, &headline)
}

#[derive(serde::Serialize)]
#[serde(transparent)]
struct ImageRow(vantage_app::kubernetes::RunningImage);

impl Row for ImageRow {
    fn headers() -> &'static [&'static str] {
        &["image", "reference", "namespaces", "pods", "job", "queued"]
    }
    fn cells(&self) -> Vec<String> {
        let i = &self.0;
        vec![
            i.image.clone(),
            i.reference.clone(),
            i.namespaces.join(" "),
            i.pods.len().to_string(),
            i.job_id.to_string(),
            if i.queued { "new" } else { "already queued" }.to_string(),
        ]
    }
}

/// `vantage discover …`.
pub async fn discover(config: Config, c: DiscoverCommand) -> anyhow::Result<()> {
    let DiscoverCommand::Kubernetes {
        kubeconfig,
        context,
        in_cluster,
        namespace,
        server,
        scan,
        insecure_registry,
        format,
    } = c
    else {
        anyhow::bail!("not a Kubernetes discovery");
    };
    let src = vantage_app::kubernetes::KubeSource {
        kubeconfig,
        context,
        in_cluster: in_cluster
            .then(|| std::path::PathBuf::from("/var/run/secrets/kubernetes.io/serviceaccount")),
        namespace,
        server,
    };
    let app = super::open(config).await?;
    let result = async {
        let r = app.discover_kubernetes(&src).await?;
        let mut err = std::io::stderr();
        let _ = writeln!(
            err,
            "{}: {} running pods, {} images ({} newly queued)",
            r.server,
            r.pods,
            r.images.len(),
            r.images.iter().filter(|i| i.queued).count()
        );
        let mut out = std::io::stdout().lock();
        if format == Format::Json {
            serde_json::to_writer_pretty(&mut out, &r)?;
            writeln!(out)?;
        } else {
            let mut printer = Printer::new::<ImageRow>(format, &mut out);
            for i in &r.images {
                printer.row(&ImageRow(i.clone()))?;
            }
            printer.finish()?;
        }
        if scan {
            let req = vantage_app::images::ImageRequest {
                registry: vantage_scan::image::RegistryOptions {
                    insecure: insecure_registry,
                    ..Default::default()
                },
                ..Default::default()
            };
            let s = app.scan_queued_images(&req, "cli").await?;
            let _ = writeln!(err, "{} images scanned, {} failed", s.done, s.failed.len());
            for (image, e) in &s.failed {
                let _ = writeln!(err, "  {image}: {e}");
            }
            if !s.failed.is_empty() {
                anyhow::bail!("{} images failed", s.failed.len());
            }
        }
        Ok::<_, anyhow::Error>(())
    }
    .await;
    app.store.close().await;
    result
}
