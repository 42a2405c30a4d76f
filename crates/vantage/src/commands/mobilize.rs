//! `vantage alerts`, `vantage integrations` and `vantage remediate`: the CLI side of
//! mobilization (see `vantage_app::tickets`, `alerting` and `remediation`).

use std::collections::BTreeMap;
use std::io::Write;

use anyhow::Context;
use time::OffsetDateTime;
use vantage_app::Config;
use vantage_app::alerting::NewAlertRule;
use vantage_app::remediation::RunView;
use vantage_app::tickets::{Grouping, IntegrationView, NewIntegration};
use vantage_connectors::{Kind, Secrets};
use vantage_domain::{Priority, Role};
use vantage_store::{AlertRuleRow, DeliveryRow};
use zeroize::Zeroizing;

use crate::cli::{AlertsArgs, AlertsCommand, FormatArg, IntegrationsCommand, RemediateCommand};
use crate::output::{Printer, Row};

fn actor() -> String {
    format!(
        "cli:{}",
        std::env::var("USER").unwrap_or_else(|_| "root".into())
    )
}

/// `vantage alerts …`.
pub async fn alerts(config: Config, a: AlertsArgs) -> anyhow::Result<()> {
    let cmd = a.command.unwrap_or(AlertsCommand::List {
        limit: a.limit,
        format: a.format,
    });
    if let AlertsCommand::List { limit, format } = cmd {
        return super::lists::alerts(config, limit, format).await;
    }
    let app = super::open(config).await?;
    let r = async {
        match cmd {
            AlertsCommand::List { .. } => unreachable!("handled above"),
            AlertsCommand::Rules { format } => {
                let mut p = Printer::new::<AlertRuleRow>(format.format, std::io::stdout().lock());
                for r in app.alert_rules().await? {
                    p.row(&r)?;
                }
                p.finish()?;
            }
            AlertsCommand::AddRule {
                name,
                kinds,
                to,
                scope,
                digest_minutes,
                max_per_hour,
            } => {
                app.add_alert_rule(
                    NewAlertRule {
                        name: name.clone(),
                        scope,
                        kinds,
                        integrations: to,
                        digest_minutes,
                        max_per_hour,
                    },
                    &actor(),
                )
                .await?;
                writeln!(std::io::stderr(), "alert rule `{name}` added")?;
            }
            AlertsCommand::RemoveRule { name } => {
                if !app.store.remove_alert_rule(&name).await? {
                    anyhow::bail!("no alert rule named `{name}`");
                }
                writeln!(std::io::stderr(), "alert rule `{name}` removed")?;
            }
            AlertsCommand::Run => {
                let now = OffsetDateTime::now_utc();
                let e = app.evaluate_alerts(now).await?;
                let queued = app.dispatch_alerts(now).await?;
                let d = app.deliver(now).await?;
                writeln!(
                    std::io::stdout(),
                    "{}",
                    serde_json::json!({"raised": e, "messages_queued": queued, "delivery": d})
                )?;
            }
        }
        Ok::<_, anyhow::Error>(())
    }
    .await;
    app.store.close().await;
    r
}

fn setting_value(v: &str) -> serde_json::Value {
    match v {
        "true" => true.into(),
        "false" => false.into(),
        _ => v
            .parse::<i64>()
            .map(serde_json::Value::from)
            .unwrap_or_else(|_| v.into()),
    }
}

/// `--set key=value` pairs as a settings object (a key given twice becomes a list: `to`).
fn settings_of(kind: Kind, pairs: &[String]) -> anyhow::Result<serde_json::Value> {
    let mut map: BTreeMap<String, Vec<serde_json::Value>> = BTreeMap::new();
    for p in pairs {
        let (k, v) = p
            .split_once('=')
            .with_context(|| format!("--set {p}: expected key=value"))?;
        map.entry(k.to_string()).or_default().push(setting_value(v));
    }
    let mut obj = serde_json::Map::new();
    for (k, mut v) in map {
        let list = kind == Kind::Email && k == "to" || v.len() > 1 || k == "priorities";
        obj.insert(
            k,
            if list {
                serde_json::Value::Array(v)
            } else {
                v.remove(0)
            },
        );
    }
    Ok(serde_json::Value::Object(obj))
}

/// `--secret name=ENV_VAR` pairs, read from the environment.
fn secrets_of(pairs: &[String]) -> anyhow::Result<Secrets> {
    let mut s = Secrets::default();
    for p in pairs {
        let (name, var) = p
            .split_once('=')
            .with_context(|| format!("--secret {p}: expected name=ENV_VAR"))?;
        let value = std::env::var(var).with_context(|| {
            format!("--secret {name}: the environment variable {var} is not set")
        })?;
        s.0.insert(name.to_string(), Zeroizing::new(value));
    }
    Ok(s)
}

/// `vantage integrations …`.
pub async fn integrations(config: Config, c: IntegrationsCommand) -> anyhow::Result<()> {
    let app = super::open(config).await?;
    let r = async {
        match c {
            IntegrationsCommand::Add {
                name,
                kind,
                settings,
                secrets,
                grouping,
                scope,
                min_priority,
                rate_per_minute,
            } => {
                let kind = Kind::parse(&kind).map_err(|e| anyhow::anyhow!(e))?;
                let min: Priority = min_priority.to_lowercase().parse().map_err(|_| {
                    anyhow::anyhow!("--min-priority {min_priority}: p1, p2, p3 or p4")
                })?;
                app.add_integration(
                    NewIntegration {
                        name: name.clone(),
                        kind,
                        settings: settings_of(kind, &settings)?,
                        secrets: secrets_of(&secrets)?,
                        grouping: Grouping::parse(&grouping)?,
                        scope,
                        min_priority: min,
                        rate_per_minute,
                    },
                    &actor(),
                )
                .await?;
                writeln!(
                    std::io::stderr(),
                    "integration `{name}` added; check it with `vantage integrations test {name}`"
                )?;
            }
            IntegrationsCommand::Test { name } => {
                writeln!(std::io::stdout(), "{}", app.test_integration(&name).await?)?;
            }
            IntegrationsCommand::List { format } => {
                let mut p =
                    Printer::new::<IntegrationView>(format.format, std::io::stdout().lock());
                for i in app.integrations().await? {
                    p.row(&i)?;
                }
                p.finish()?;
            }
            IntegrationsCommand::Remove { name } => {
                app.remove_integration(&name, &actor()).await?;
                writeln!(std::io::stderr(), "integration `{name}` removed")?;
            }
            IntegrationsCommand::Sync { name, deliver } => {
                let now = OffsetDateTime::now_utc();
                let c = app.sync_tickets(&name, now).await?;
                let d = if deliver {
                    Some(app.deliver(now).await?)
                } else {
                    None
                };
                writeln!(
                    std::io::stdout(),
                    "{}",
                    serde_json::json!({"tickets": c, "delivery": d})
                )?;
            }
            IntegrationsCommand::Deliver => {
                let mut total = vantage_app::tickets::DeliveryReport::default();
                loop {
                    let d = app.deliver(OffsetDateTime::now_utc()).await?;
                    if d == Default::default() {
                        break;
                    }
                    writeln!(
                        std::io::stderr(),
                        "delivered {} (retry later {}, dead {})",
                        d.delivered,
                        d.retried,
                        d.dead
                    )?;
                    let stop = d.delivered == 0;
                    total += d;
                    if stop {
                        break;
                    }
                }
                writeln!(std::io::stdout(), "{}", serde_json::to_string(&total)?)?;
            }
            IntegrationsCommand::DeadLetters { retry, ids, format } => {
                if retry {
                    let n = app.retry_dead(&ids, &actor()).await?;
                    writeln!(std::io::stderr(), "{n} calls queued again")?;
                } else {
                    let mut p =
                        Printer::new::<DeliveryRow>(format.format, std::io::stdout().lock());
                    for d in app.deliveries("dead", 1000).await? {
                        p.row(&d)?;
                    }
                    p.finish()?;
                }
            }
        }
        Ok::<_, anyhow::Error>(())
    }
    .await;
    app.store.close().await;
    r
}

/// `vantage remediate …`.
pub async fn remediate(config: Config, c: RemediateCommand) -> anyhow::Result<()> {
    let app = super::open(config).await?;
    let r = async {
        let show = |v: RunView, f: FormatArg| -> anyhow::Result<()> {
            let mut p = Printer::new::<RunView>(f.format, std::io::stdout().lock());
            p.row(&v)?;
            p.finish()?;
            Ok(())
        };
        match c {
            RemediateCommand::Plan {
                asset,
                packages,
                format,
            } => {
                let v = app.plan_remediation(&asset, &packages, &actor()).await?;
                if matches!(format.format, crate::cli::Format::Table) {
                    writeln!(
                        std::io::stderr(),
                        "dry run ({}):\n{}",
                        v.plan.dry_run,
                        v.dry_run.trim_end()
                    )?;
                }
                show(v, format)?;
            }
            RemediateCommand::Approve { id, format } => {
                show(
                    app.approve_remediation(id, &actor(), Role::Admin).await?,
                    format,
                )?;
            }
            RemediateCommand::Run { id, format } => {
                let v = app
                    .execute_remediation(id, &actor(), Role::Admin, OffsetDateTime::now_utc())
                    .await?;
                let failed = v.status != "succeeded";
                show(v, format)?;
                if failed {
                    anyhow::bail!("remediation run {id} failed: see its log and result");
                }
            }
            RemediateCommand::Show {
                id: Some(id),
                format,
            } => show(app.remediation(id).await?, format)?,
            RemediateCommand::Show { id: None, format } => {
                let mut p = Printer::new::<RunView>(format.format, std::io::stdout().lock());
                for v in app.remediations(100).await? {
                    p.row(&v)?;
                }
                p.finish()?;
            }
            RemediateCommand::Window { scope, window } => {
                let w = (window != "none").then_some(window.as_str());
                app.set_maintenance_window(&scope, w, &actor()).await?;
                writeln!(
                    std::io::stderr(),
                    "maintenance window of `{scope}`: {window}"
                )?;
            }
        }
        Ok::<_, anyhow::Error>(())
    }
    .await;
    app.store.close().await;
    r
}

impl Row for AlertRuleRow {
    fn headers() -> &'static [&'static str] {
        &[
            "name",
            "scope",
            "kinds",
            "to",
            "digest_minutes",
            "max_per_hour",
        ]
    }
    fn cells(&self) -> Vec<String> {
        vec![
            self.name.clone(),
            self.scope_id.map_or("all".into(), |s| s.to_string()),
            self.kinds.trim_matches(',').to_string(),
            self.integrations.clone(),
            self.digest_minutes.to_string(),
            self.max_per_hour.to_string(),
        ]
    }
}

impl Row for IntegrationView {
    fn headers() -> &'static [&'static str] {
        &[
            "name",
            "kind",
            "grouping",
            "min_priority",
            "rate/min",
            "secrets",
            "tickets",
        ]
    }
    fn cells(&self) -> Vec<String> {
        vec![
            self.name.clone(),
            self.kind.clone(),
            self.grouping.clone(),
            self.min_priority.clone(),
            self.rate_per_minute.to_string(),
            self.secrets.join(","),
            self.tickets
                .iter()
                .map(|(k, v)| format!("{k}:{v}"))
                .collect::<Vec<_>>()
                .join(" "),
        ]
    }
}

impl Row for DeliveryRow {
    fn headers() -> &'static [&'static str] {
        &["id", "integration", "action", "attempts", "error"]
    }
    fn cells(&self) -> Vec<String> {
        vec![
            self.id.to_string(),
            self.integration_id.to_string(),
            self.action.clone(),
            self.attempts.to_string(),
            self.last_error.clone().unwrap_or_default(),
        ]
    }
}

impl Row for RunView {
    fn headers() -> &'static [&'static str] {
        &[
            "id",
            "asset",
            "status",
            "target",
            "packages",
            "closes",
            "approved_by",
        ]
    }
    fn cells(&self) -> Vec<String> {
        vec![
            self.id.to_string(),
            self.plan.asset.clone(),
            self.status.clone(),
            self.target.clone(),
            self.plan
                .packages
                .iter()
                .map(|(p, v)| format!("{p}≥{}", v.as_deref().unwrap_or("?")))
                .collect::<Vec<_>>()
                .join(" "),
            self.plan.vulnerabilities.join(" "),
            self.approved_by.clone().unwrap_or_default(),
        ]
    }
}
