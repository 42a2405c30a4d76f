//! Remediation runs over the SSH collector's connection: `vantage remediate plan` turns an
//! asset's upgrade units into package-manager commands and runs the package manager's dry run
//! at once (`apt-get -s`, `dnf --assumeno`, `apk --simulate`), shown to the person who asked;
//! an admin approves; `vantage remediate run` executes — only inside the scope's maintenance
//! window when one is set — with the full log kept, then re-inventories the host at once. The
//! finding lifecycle marks what the upgrade fixed; the run succeeds only if every finding it
//! was meant to close is fixed.

use serde::{Deserialize, Serialize};
use time::{OffsetDateTime, Time, Weekday};
use vantage_domain::{AssetId, FindingId, FindingStatus, IdentifierKind, Role};
use vantage_scan::remote::SshEndpoint;
use vantage_store::RemediationRow;

use crate::app::App;
use crate::error::AppError;
use crate::hosts::CommandLog;
use crate::patch::{PackageManager, PlanTarget, UnitKind};

/// What a run will do, stored with it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunPlan {
    /// The asset's name.
    pub asset: String,
    /// Packages to upgrade (binary names) and the minimum version that fixes them.
    pub packages: Vec<(String, Option<String>)>,
    /// The findings the run should fix.
    pub findings: Vec<i64>,
    /// CVEs they are about.
    pub vulnerabilities: Vec<String>,
    /// The dry-run command.
    pub dry_run: String,
    /// The commands executed.
    pub commands: Vec<String>,
}

/// A run as shown.
#[derive(Debug, Clone, Serialize)]
pub struct RunView {
    /// Id.
    pub id: i64,
    /// Status.
    pub status: String,
    /// SSH target.
    pub target: String,
    /// Package manager.
    pub manager: String,
    /// The plan.
    pub plan: RunPlan,
    /// The dry run's output.
    pub dry_run: String,
    /// The execution log.
    pub log: Vec<CommandLog>,
    /// The verification: findings fixed and still open.
    pub result: Option<serde_json::Value>,
    /// Who asked.
    pub requested_by: String,
    /// Who approved.
    pub approved_by: Option<String>,
}

fn view(r: RemediationRow) -> Result<RunView, AppError> {
    Ok(RunView {
        id: r.id,
        plan: serde_json::from_str(&r.plan)
            .map_err(|e| AppError::Invalid(format!("remediation run {}: plan: {e}", r.id)))?,
        log: serde_json::from_str(&r.log).unwrap_or_default(),
        result: r
            .result
            .as_deref()
            .and_then(|s| serde_json::from_str(s).ok()),
        status: r.status,
        target: r.target,
        manager: r.manager,
        dry_run: r.dry_run,
        requested_by: r.requested_by,
        approved_by: r.approved_by,
    })
}

fn commands(m: PackageManager, packages: &[String]) -> (String, Vec<String>) {
    let list = packages.join(" ");
    match m {
        PackageManager::Apt => (
            format!("apt-get -s -o Debug::NoLocking=1 install --only-upgrade {list}"),
            vec![
                "apt-get update -qq".into(),
                format!(
                    "DEBIAN_FRONTEND=noninteractive apt-get install -y -q --only-upgrade -o Dpkg::Options::=--force-confold {list}"
                ),
            ],
        ),
        PackageManager::Dnf => (
            format!("dnf upgrade --assumeno {list}"),
            vec![format!("dnf upgrade -y {list}")],
        ),
        PackageManager::Apk => (
            format!("apk upgrade --simulate {list}"),
            vec!["apk update".into(), format!("apk upgrade {list}")],
        ),
    }
}

/// Whether the dry run says every package would be upgraded.
fn dry_run_verdict(m: PackageManager, log: &CommandLog, packages: &[String]) -> Result<(), String> {
    let out = format!("{}\n{}", log.stdout, log.stderr);
    let ok_status = match m {
        // dnf --assumeno answers "Operation aborted." with status 1 when there is work to do.
        PackageManager::Dnf => matches!(log.status, Some(0 | 1)),
        _ => log.status == Some(0),
    };
    if !ok_status {
        return Err(format!(
            "the dry run failed (exit {:?}): {}",
            log.status,
            out.trim().lines().last().unwrap_or("")
        ));
    }
    let missing: Vec<&String> = packages
        .iter()
        .filter(|p| match m {
            PackageManager::Apt => !out.lines().any(|l| l.starts_with(&format!("Inst {p} "))),
            PackageManager::Dnf => !out.contains(p.as_str()),
            PackageManager::Apk => !out.contains(&format!("Upgrading {p} ")),
        })
        .collect();
    if !missing.is_empty() {
        return Err(format!(
            "the package manager has no upgrade for {} (repositories not refreshed, or the fix is not published there yet)",
            missing
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    Ok(())
}

/// A maintenance window: `sat,sun 22:00-04:00` or `daily 01:00-03:00` (UTC; an end before the
/// start runs past midnight into the next day).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window {
    days: Vec<Weekday>,
    start: Time,
    end: Time,
}

impl Window {
    /// Parses a window.
    pub fn parse(s: &str) -> Result<Window, AppError> {
        let bad = |why: &str| {
            AppError::Invalid(format!(
                "maintenance window `{s}`: {why} (e.g. `sat,sun 22:00-04:00` or `daily 01:00-03:00`, UTC)"
            ))
        };
        let (days, hours) = s
            .trim()
            .split_once(' ')
            .ok_or_else(|| bad("days and hours"))?;
        let days = if days == "daily" {
            vec![
                Weekday::Monday,
                Weekday::Tuesday,
                Weekday::Wednesday,
                Weekday::Thursday,
                Weekday::Friday,
                Weekday::Saturday,
                Weekday::Sunday,
            ]
        } else {
            days.split(',')
                .map(|d| match d.trim().to_lowercase().get(..3) {
                    Some("mon") => Ok(Weekday::Monday),
                    Some("tue") => Ok(Weekday::Tuesday),
                    Some("wed") => Ok(Weekday::Wednesday),
                    Some("thu") => Ok(Weekday::Thursday),
                    Some("fri") => Ok(Weekday::Friday),
                    Some("sat") => Ok(Weekday::Saturday),
                    Some("sun") => Ok(Weekday::Sunday),
                    _ => Err(bad(&format!("unknown day `{d}`"))),
                })
                .collect::<Result<_, _>>()?
        };
        let (a, b) = hours
            .trim()
            .split_once('-')
            .ok_or_else(|| bad("hours as HH:MM-HH:MM"))?;
        let t = |x: &str| -> Result<Time, AppError> {
            let (h, m) = x
                .trim()
                .split_once(':')
                .ok_or_else(|| bad("hours as HH:MM"))?;
            let (h, m) = (h.parse::<u8>(), m.parse::<u8>());
            match (h, m) {
                (Ok(h), Ok(m)) => Time::from_hms(h, m, 0).map_err(|_| bad("no such time")),
                _ => Err(bad("hours as HH:MM")),
            }
        };
        let (start, end) = (t(a)?, t(b)?);
        if start == end {
            return Err(bad("an empty window"));
        }
        Ok(Window { days, start, end })
    }

    /// Whether `now` (UTC) is inside the window.
    pub fn contains(&self, now: OffsetDateTime) -> bool {
        let (day, t) = (now.weekday(), now.time());
        if self.start < self.end {
            self.days.contains(&day) && t >= self.start && t < self.end
        } else {
            (self.days.contains(&day) && t >= self.start)
                || (self.days.contains(&day.previous()) && t < self.end)
        }
    }
}

fn window_key(scope: i64) -> String {
    format!("remediation.window.{scope}")
}

impl App {
    /// Sets (or with `None` clears) a scope's maintenance window. Audited.
    pub async fn set_maintenance_window(
        &self,
        scope: &str,
        window: Option<&str>,
        actor: &str,
    ) -> Result<(), AppError> {
        let id = self.resolve_scope(scope).await?;
        if let Some(w) = window {
            Window::parse(w)?;
        }
        self.store
            .set_setting(&window_key(id.0), window.unwrap_or(""))
            .await?;
        self.store
            .record_audit(
                OffsetDateTime::now_utc(),
                actor,
                "remediation.window",
                ("scope", scope),
                window.unwrap_or("none"),
            )
            .await?;
        Ok(())
    }

    async fn window_of(&self, scope: Option<i64>) -> Result<Option<Window>, AppError> {
        let Some(scope) = scope else { return Ok(None) };
        match self.store.setting(&window_key(scope)).await? {
            Some(w) if !w.is_empty() => Ok(Some(Window::parse(&w)?)),
            _ => Ok(None),
        }
    }

    /// The SSH target that inventoried an asset: a target whose pinned host key is one of the
    /// asset's, in the asset's scopes first, then anywhere.
    async fn target_of(
        &self,
        asset: &vantage_domain::Asset,
    ) -> Result<(vantage_store::SshTarget, Option<i64>), AppError> {
        let keys: Vec<&str> = asset
            .identifiers
            .iter()
            .filter(|i| i.kind == IdentifierKind::SshHostKey)
            .map(|i| i.value.as_str())
            .collect();
        let mut scopes: Vec<i64> = asset.scopes.iter().map(|s| s.0).collect();
        for s in self.store.list_scopes().await? {
            if !scopes.contains(&s.id.0) {
                scopes.push(s.id.0);
            }
        }
        for scope in scopes {
            for t in self
                .store
                .ssh_targets(vantage_domain::ScopeId(scope))
                .await?
            {
                let Ok(e) = SshEndpoint::parse(&t.endpoint) else {
                    continue;
                };
                if let Some(k) = self.store.pinned_host_key(&e.host, e.port).await?
                    && keys.contains(&k.fingerprint.as_str())
                {
                    return Ok((t, Some(scope)));
                }
            }
        }
        Err(AppError::Invalid(format!(
            "no SSH target is known for asset `{}`: remediation runs over the SSH collector — add one with `vantage inventory ssh-targets add` and inventory it first",
            asset.name
        )))
    }

    /// Plans a run for an asset's upgrade units (`packages` narrows them: source or binary
    /// names) and runs the dry run at once. The run is `ready` when the dry run shows every
    /// upgrade, `dry_run_failed` otherwise (with why).
    pub async fn plan_remediation(
        &self,
        asset: &str,
        packages: &[String],
        actor: &str,
    ) -> Result<RunView, AppError> {
        let now = OffsetDateTime::now_utc();
        let asset_id: AssetId = self.resolve_asset(asset).await?;
        let a = self
            .store
            .asset(asset_id)
            .await?
            .ok_or_else(|| AppError::NotFound(format!("no asset `{asset}`")))?;
        let manager =
            a.os.as_deref()
                .and_then(PackageManager::of_os)
                .ok_or_else(|| {
                    AppError::Invalid(format!(
                        "asset `{}`: no supported package manager for OS {:?} (apt, dnf, apk)",
                        a.name, a.os
                    ))
                })?;
        let units: Vec<_> = self
            .patch_plan(&PlanTarget::Asset(a.name.clone()), None, now)
            .await?
            .into_iter()
            .filter(|u| u.kind == UnitKind::Upgrade)
            .filter(|u| {
                packages.is_empty()
                    || packages.contains(&u.package)
                    || u.binaries.iter().any(|b| packages.contains(b))
            })
            .collect();
        if units.is_empty() {
            return Err(AppError::Invalid(format!(
                "asset `{}` has no package upgrade to run{}",
                a.name,
                if packages.is_empty() {
                    String::new()
                } else {
                    format!(" for {}", packages.join(", "))
                }
            )));
        }
        let mut bins: Vec<(String, Option<String>)> = Vec::new();
        let (mut findings, mut vulns) = (Vec::new(), Vec::new());
        for u in &units {
            for b in &u.binaries {
                bins.push((b.clone(), u.target_version.clone()));
            }
            findings.extend(u.findings.iter().copied());
            vulns.extend(u.vulnerabilities.iter().cloned());
        }
        bins.sort();
        bins.dedup_by(|a, b| a.0 == b.0);
        vulns.sort();
        vulns.dedup();
        let names: Vec<String> = bins.iter().map(|b| b.0.clone()).collect();
        let (dry, cmds) = commands(manager, &names);
        let (target, scope) = self.target_of(&a).await?;
        let req = self.ssh_request_for(&target).await?;
        let log = self.ssh_run(req, std::slice::from_ref(&dry)).await?;
        let first = log.into_iter().next().expect("one command ran");
        let (status, dry_text) = match dry_run_verdict(manager, &first, &names) {
            Ok(()) => ("ready", format!("{}{}", first.stdout, first.stderr)),
            Err(why) => (
                "dry_run_failed",
                format!("{why}\n\n{}{}", first.stdout, first.stderr),
            ),
        };
        let plan = RunPlan {
            asset: a.name.clone(),
            packages: bins,
            findings,
            vulnerabilities: vulns,
            dry_run: dry,
            commands: cmds,
        };
        let id = self
            .store
            .create_remediation(
                &RemediationRow {
                    id: 0,
                    asset_id: asset_id.0,
                    scope_id: scope,
                    target: target.endpoint.clone(),
                    manager: format!("{manager:?}").to_lowercase(),
                    plan: serde_json::to_string(&plan).expect("a plan serializes"),
                    status: status.into(),
                    dry_run: dry_text,
                    log: "[]".into(),
                    result: None,
                    requested_by: actor.into(),
                    approved_by: None,
                    created_at: 0,
                    approved_at: None,
                    started_at: None,
                    finished_at: None,
                },
                now,
            )
            .await?;
        self.store
            .record_audit(
                now,
                actor,
                "remediation.plan",
                ("remediation", &id.to_string()),
                &format!("asset={} status={status}", a.name),
            )
            .await?;
        self.remediation(id).await
    }

    /// One run.
    pub async fn remediation(&self, id: i64) -> Result<RunView, AppError> {
        view(
            self.store
                .remediation(id)
                .await?
                .ok_or_else(|| AppError::NotFound(format!("no remediation run {id}")))?,
        )
    }

    /// Runs, newest first.
    pub async fn remediations(&self, limit: u32) -> Result<Vec<RunView>, AppError> {
        self.store
            .remediations(limit)
            .await?
            .into_iter()
            .map(view)
            .collect()
    }

    /// Approves a `ready` run; only an admin may. Audited.
    pub async fn approve_remediation(
        &self,
        id: i64,
        actor: &str,
        role: Role,
    ) -> Result<RunView, AppError> {
        if role != Role::Admin {
            return Err(AppError::Invalid(format!(
                "approving remediation run {id} needs the admin role"
            )));
        }
        let now = OffsetDateTime::now_utc();
        if !self
            .store
            .move_remediation(id, "ready", "approved", Some(actor), now)
            .await?
        {
            let r = self.remediation(id).await?;
            return Err(AppError::Invalid(format!(
                "remediation run {id} is {}: only a ready run (dry run passed) can be approved",
                r.status
            )));
        }
        self.store
            .record_audit(
                now,
                actor,
                "remediation.approve",
                ("remediation", &id.to_string()),
                "",
            )
            .await?;
        self.remediation(id).await
    }

    /// Executes an approved run inside its scope's maintenance window (if one is set), logs
    /// every command, re-inventories the host and verifies: `succeeded` when every finding the
    /// run meant to close is fixed, `failed` otherwise (with what remains).
    pub async fn execute_remediation(
        &self,
        id: i64,
        actor: &str,
        role: Role,
        now: OffsetDateTime,
    ) -> Result<RunView, AppError> {
        if !matches!(role, Role::Admin | Role::Operator) {
            return Err(AppError::Invalid(format!(
                "executing remediation run {id} needs the admin or operator role"
            )));
        }
        let row = self
            .store
            .remediation(id)
            .await?
            .ok_or_else(|| AppError::NotFound(format!("no remediation run {id}")))?;
        if let Some(w) = self.window_of(row.scope_id).await?
            && !w.contains(now)
        {
            return Err(AppError::Invalid(format!(
                "remediation run {id}: outside the scope's maintenance window ({} UTC); run it inside the window",
                self.store
                    .setting(&window_key(row.scope_id.unwrap_or(0)))
                    .await?
                    .unwrap_or_default()
            )));
        }
        if !self
            .store
            .move_remediation(id, "approved", "running", None, now)
            .await?
        {
            return Err(AppError::Invalid(format!(
                "remediation run {id} is {}: only an approved run can be executed (once)",
                row.status
            )));
        }
        let plan: RunPlan = serde_json::from_str(&row.plan)
            .map_err(|e| AppError::Invalid(format!("remediation run {id}: plan: {e}")))?;
        self.store
            .record_audit(
                now,
                actor,
                "remediation.execute",
                ("remediation", &id.to_string()),
                &plan.commands.join(" && "),
            )
            .await?;
        let target = self
            .store
            .ssh_targets_all()
            .await?
            .into_iter()
            .find(|t| t.endpoint == row.target)
            .ok_or_else(|| AppError::NotFound(format!("SSH target {} was removed", row.target)))?;
        let outcome = async {
            let log = self
                .ssh_run(self.ssh_request_for(&target).await?, &plan.commands)
                .await?;
            let ok = log.len() == plan.commands.len() && log.iter().all(|l| l.status == Some(0));
            // Re-scan at once, whatever happened: the lifecycle records what is fixed.
            let rescan = self
                .inventory_ssh(self.ssh_request_for(&target).await?, actor)
                .await;
            Ok::<_, AppError>((log, ok, rescan))
        }
        .await;
        let finished = OffsetDateTime::now_utc();
        let (log, ok, rescan) = match outcome {
            Ok(v) => v,
            Err(e) => {
                let result = serde_json::json!({"error": e.to_string()});
                self.store
                    .finish_remediation(id, "failed", "[]", &result.to_string(), finished)
                    .await?;
                return self.remediation(id).await;
            }
        };
        let mut fixed = Vec::new();
        let mut open = Vec::new();
        for f in &plan.findings {
            match self.store.finding(FindingId(*f)).await? {
                Some(x) if x.status == FindingStatus::Fixed => fixed.push(*f),
                Some(x) => open.push(serde_json::json!({"finding": f, "vulnerability": x.vuln_id.as_str(), "status": x.status.as_str()})),
                None => fixed.push(*f),
            }
        }
        let status = if ok && open.is_empty() && rescan.is_ok() {
            "succeeded"
        } else {
            "failed"
        };
        let result = serde_json::json!({
            "commands_ok": ok,
            "rescan": rescan.as_ref().map(|r| r.inventory.findings).map_err(|e| e.to_string()),
            "fixed": fixed,
            "still_open": open,
        });
        self.store
            .finish_remediation(
                id,
                status,
                &serde_json::to_string(&log).expect("logs serialize"),
                &result.to_string(),
                finished,
            )
            .await?;
        self.store
            .record_audit(
                finished,
                actor,
                "remediation.finish",
                ("remediation", &id.to_string()),
                status,
            )
            .await?;
        self.remediation(id).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn windows_across_midnight_and_days() {
        let w = Window::parse("sat,sun 22:00-04:00").unwrap();
        assert!(w.contains(datetime!(2026-11-28 23:00 UTC))); // Saturday night
        assert!(w.contains(datetime!(2026-11-29 03:59 UTC))); // into Sunday
        assert!(w.contains(datetime!(2026-11-30 02:00 UTC))); // Sunday's window into Monday
        assert!(!w.contains(datetime!(2026-11-30 22:30 UTC))); // Monday night
        assert!(!w.contains(datetime!(2026-11-28 12:00 UTC)));
        let d = Window::parse("daily 01:00-03:00").unwrap();
        assert!(d.contains(datetime!(2026-12-02 01:30 UTC)));
        assert!(!d.contains(datetime!(2026-12-02 03:00 UTC)));
        for bad in [
            "sat",
            "funday 01:00-02:00",
            "mon 25:00-26:00",
            "mon 01:00-01:00",
        ] {
            assert!(Window::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn apt_dry_run_must_list_every_upgrade() {
        let log = CommandLog {
            command: String::new(),
            status: Some(0),
            stdout: "Inst vantage-demo [1.0-1] (1.2-1 localhost [all])\nConf vantage-demo (1.2-1 localhost [all])\n".into(),
            stderr: String::new(),
        };
        assert!(dry_run_verdict(PackageManager::Apt, &log, &["vantage-demo".into()]).is_ok());
        let e = dry_run_verdict(
            PackageManager::Apt,
            &log,
            &["vantage-demo".into(), "bash".into()],
        )
        .unwrap_err();
        assert!(e.contains("no upgrade for bash"), "{e}");
        let failed = CommandLog {
            status: Some(100),
            stderr: "E: Unable to locate package nope".into(),
            ..log
        };
        assert!(
            dry_run_verdict(PackageManager::Apt, &failed, &["nope".into()])
                .unwrap_err()
                .contains("Unable to locate")
        );
    }

    #[test]
    fn dnf_and_apk_dry_runs_as_they_print() {
        // dnf --assumeno lists the transaction and exits 1 ("Operation aborted.").
        let dnf = CommandLog {
            command: String::new(),
            status: Some(1),
            stdout: "Dependencies resolved.\n====\n Package   Architecture  Version            Repository  Size\n====\nUpgrading:\n openssl   x86_64        1:3.0.7-27.el9     baseos      1.2 M\n\nTransaction Summary\n====\nUpgrade  1 Package\n\nOperation aborted.\n".into(),
            stderr: String::new(),
        };
        assert!(dry_run_verdict(PackageManager::Dnf, &dnf, &["openssl".into()]).is_ok());
        let nothing = CommandLog {
            status: Some(0),
            stdout: "Dependencies resolved.\nNothing to do.\nComplete!\n".into(),
            ..dnf.clone()
        };
        assert!(
            dry_run_verdict(PackageManager::Dnf, &nothing, &["openssl".into()])
                .unwrap_err()
                .contains("no upgrade for openssl")
        );
        let refused = CommandLog {
            status: Some(2),
            stderr: "Error: This command has to be run with superuser privileges".into(),
            ..dnf
        };
        assert!(dry_run_verdict(PackageManager::Dnf, &refused, &["openssl".into()]).is_err());
        // apk upgrade --simulate prints one "Upgrading NAME (OLD -> NEW)" per package.
        let apk = CommandLog {
            command: String::new(),
            status: Some(0),
            stdout: "(1/2) Upgrading busybox (1.36.1-r15 -> 1.36.1-r19)\n(2/2) Upgrading busybox-binsh (1.36.1-r15 -> 1.36.1-r19)\nOK: 8 MiB in 15 packages\n".into(),
            stderr: String::new(),
        };
        assert!(
            dry_run_verdict(
                PackageManager::Apk,
                &apk,
                &["busybox".into(), "busybox-binsh".into()]
            )
            .is_ok()
        );
        assert!(dry_run_verdict(PackageManager::Apk, &apk, &["openssl".into()]).is_err());
    }
}
