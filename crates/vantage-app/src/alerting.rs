//! Alert rules: which alerts (new P1, a CVE newly in CISA KEV that affects the inventory, SLA
//! passed or near, a reopened finding, an end-of-life OS, scan coverage under the scope's
//! threshold, a changed SSH host key) about which scope go to which connectors, at once or as a
//! digest, and at most so many messages an hour — the rest wait and leave together as one
//! digest, so nobody gets 500 mails.
//!
//! [`App::evaluate_alerts`] raises the alerts the data calls for since its last run (each one once:
//! alerts carry a de-duplication key); [`App::dispatch_alerts`] matches new alerts to rules
//! (set-based, in SQL) and queues the messages the rules allow; the delivery worker sends them.

use serde::Serialize;
use time::OffsetDateTime;
use vantage_connectors::{Kind, Notice};
use vantage_store::{Alert, AlertRuleRow, NewAlert};

use crate::app::App;
use crate::error::AppError;

/// The alert kinds a rule can name.
pub const ALERT_KINDS: &[(&str, &str)] = &[
    (
        "new_p1",
        "a finding at P1 appeared, or a finding's priority rose to P1",
    ),
    ("kev_new", "a CVE added to CISA KEV affects an asset"),
    ("sla_breached", "a finding passed its SLA due date"),
    ("sla_near", "a finding falls due within two days"),
    ("finding_reopened", "a fixed finding was found again"),
    ("eol_os", "an asset runs an end-of-life OS release"),
    (
        "coverage_low",
        "a scope's scan coverage fell below its min_coverage",
    ),
    (
        "ssh_host_key_changed",
        "an SSH host key changed (inventory refused)",
    ),
];

/// Warn this long before an SLA due date.
pub const SLA_NEAR_SECS: i64 = 2 * 86_400;
const EVALUATED_AT: &str = "alerts.evaluated_at";

/// A rule to add.
#[derive(Debug, Clone)]
pub struct NewAlertRule {
    /// Unique name.
    pub name: String,
    /// Only alerts about this scope (name); all when `None`.
    pub scope: Option<String>,
    /// Alert kinds (see [`ALERT_KINDS`]).
    pub kinds: Vec<String>,
    /// Connector names (notification kinds: teams, slack, email, webhook).
    pub integrations: Vec<String>,
    /// Send one digest every this many minutes (0: each alert at once).
    pub digest_minutes: u32,
    /// At most this many messages an hour (0: no limit).
    pub max_per_hour: u32,
}

/// What an evaluation raised.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Evaluation {
    /// `new_p1` alerts.
    pub new_p1: u64,
    /// `kev_new` alerts.
    pub kev_new: u64,
    /// `sla_breached` alerts.
    pub sla_breached: u64,
    /// `sla_near` alerts.
    pub sla_near: u64,
    /// `eol_os` alerts.
    pub eol_os: u64,
    /// `coverage_low` alerts.
    pub coverage_low: u64,
}

impl App {
    /// Adds an alert rule; every kind and connector must exist. Audited.
    pub async fn add_alert_rule(&self, r: NewAlertRule, actor: &str) -> Result<i64, AppError> {
        if r.kinds.is_empty() {
            return Err(AppError::Invalid(
                "an alert rule needs at least one kind".into(),
            ));
        }
        if let Some(k) = r
            .kinds
            .iter()
            .find(|k| !ALERT_KINDS.iter().any(|(n, _)| n == k))
        {
            return Err(AppError::Invalid(format!(
                "unknown alert kind `{k}` (one of: {})",
                ALERT_KINDS
                    .iter()
                    .map(|(n, _)| *n)
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        if r.integrations.is_empty() {
            return Err(AppError::Invalid(
                "an alert rule needs at least one integration".into(),
            ));
        }
        for name in &r.integrations {
            let i = self
                .store
                .integration_by_name(name)
                .await?
                .ok_or_else(|| AppError::NotFound(format!("no integration named `{name}`")))?;
            let kind = Kind::parse(&i.kind).map_err(AppError::Invalid)?;
            if matches!(kind, Kind::Jira | Kind::ServiceNow | Kind::Glpi) {
                return Err(AppError::Invalid(format!(
                    "integration `{name}` is a ticketing connector ({}); alerts go to teams, slack, email or webhook",
                    i.kind
                )));
            }
        }
        let scope = match &r.scope {
            Some(s) => Some(self.resolve_scope(s).await?.0),
            None => None,
        };
        let now = OffsetDateTime::now_utc();
        let id = self
            .store
            .create_alert_rule(
                &AlertRuleRow {
                    id: 0,
                    name: r.name.clone(),
                    scope_id: scope,
                    kinds: String::new(),
                    integrations: String::new(),
                    digest_minutes: i32::try_from(r.digest_minutes).unwrap_or(i32::MAX),
                    max_per_hour: i32::try_from(r.max_per_hour).unwrap_or(i32::MAX),
                    last_sent_at: None,
                    window_start: None,
                    window_count: 0,
                },
                &r.kinds,
                &r.integrations,
                now,
            )
            .await?;
        self.store
            .record_audit(
                now,
                actor,
                "alert_rule.add",
                ("alert_rule", &r.name),
                &format!(
                    "kinds={} integrations={} digest_minutes={} max_per_hour={}",
                    r.kinds.join(","),
                    r.integrations.join(","),
                    r.digest_minutes,
                    r.max_per_hour
                ),
            )
            .await?;
        Ok(id)
    }

    /// The alert rules.
    pub async fn alert_rules(&self) -> Result<Vec<AlertRuleRow>, AppError> {
        Ok(self.store.alert_rules().await?)
    }

    /// Raises the alerts the data calls for since the last evaluation (the first one only sets
    /// the starting point, so enabling alerts on a large estate does not flood). Each alert is
    /// raised once.
    pub async fn evaluate_alerts(&self, now: OffsetDateTime) -> Result<Evaluation, AppError> {
        let since = match self.store.setting(EVALUATED_AT).await? {
            Some(v) => v
                .parse::<i64>()
                .ok()
                .and_then(|t| OffsetDateTime::from_unix_timestamp(t).ok())
                .unwrap_or(now),
            None => {
                self.store
                    .set_setting(EVALUATED_AT, &now.unix_timestamp().to_string())
                    .await?;
                return Ok(Evaluation::default());
            }
        };
        let mut e = Evaluation {
            new_p1: self.store.raise_new_p1(since, now).await?,
            ..Default::default()
        };
        let kev_since = (since - time::Duration::days(1)).date().to_string();
        e.kev_new = self.store.raise_kev_new(&kev_since, now).await?;
        (e.sla_breached, e.sla_near) = self.store.raise_sla(since, now, SLA_NEAR_SECS).await?;
        e.eol_os = self.raise_eol(now).await?;
        e.coverage_low = self.raise_coverage(now).await?;
        self.store
            .set_setting(EVALUATED_AT, &now.unix_timestamp().to_string())
            .await?;
        Ok(e)
    }

    async fn raise_eol(&self, now: OffsetDateTime) -> Result<u64, AppError> {
        let mut n = 0;
        let mut cursor = None;
        loop {
            let page = self
                .store
                .list_assets(&vantage_domain::AssetFilter {
                    limit: vantage_domain::query::MAX_PAGE_SIZE,
                    cursor,
                    ..Default::default()
                })
                .await?;
            for a in &page.items {
                let Some(os) = a.os.as_deref() else { continue };
                let Some(eol) = crate::patch::end_of_life(os) else {
                    continue;
                };
                if eol > now.date() {
                    continue;
                }
                let message = format!(
                    "{} runs {os}, end of life since {eol}: no more security updates. Upgrade the release.",
                    a.name
                );
                let raised = self
                    .store
                    .raise_alert_once(
                        &NewAlert {
                            kind: "eol_os",
                            severity: "high",
                            asset: Some(a.id),
                            subject: &a.name,
                            message: &message,
                        },
                        None,
                        &format!("eol_os:{}:{os}", a.id.0),
                        now,
                    )
                    .await?;
                n += u64::from(raised.is_some());
            }
            match page.next_cursor {
                Some(c) => cursor = crate::queries::decode_cursor(Some(&c))?,
                None => break,
            }
        }
        Ok(n)
    }

    async fn raise_coverage(&self, now: OffsetDateTime) -> Result<u64, AppError> {
        let mut n = 0;
        let day = now.date();
        let rows = self
            .store
            .metrics(day, day, None, Some("scan_coverage"))
            .await?;
        for s in self.store.list_scopes().await? {
            let Some(min) = s.thresholds.min_coverage else {
                continue;
            };
            let Some(cov) = rows.iter().find(|r| r.scope_id == s.id.0).map(|r| r.value) else {
                continue;
            };
            if cov >= min {
                continue;
            }
            let message = format!(
                "Scan coverage of scope {} is {:.0} % (threshold {:.0} %): assets were not scanned within the scope's period.",
                s.name,
                cov * 100.0,
                min * 100.0
            );
            let raised = self
                .store
                .raise_alert_once(
                    &NewAlert {
                        kind: "coverage_low",
                        severity: "medium",
                        asset: None,
                        subject: &s.name,
                        message: &message,
                    },
                    Some(s.id.0),
                    &format!("coverage_low:{}:{day}", s.id.0),
                    now,
                )
                .await?;
            n += u64::from(raised.is_some());
        }
        Ok(n)
    }

    /// Matches new alerts to the rules and queues the messages each rule allows now: at once,
    /// or one digest when its period has passed; within its hourly limit (the last message the
    /// limit allows carries everything still waiting). Returns the messages queued.
    pub async fn dispatch_alerts(&self, now: OffsetDateTime) -> Result<u64, AppError> {
        self.store.match_alerts(now).await?;
        let integrations = self.store.integrations().await?;
        let mut queued = 0;
        for rule in self.store.alert_rules().await? {
            let pending = self.store.pending_alerts(rule.id).await?;
            if pending.is_empty() {
                continue;
            }
            let t = now.unix_timestamp();
            if rule.digest_minutes > 0
                && rule
                    .last_sent_at
                    .is_some_and(|l| l + i64::from(rule.digest_minutes) * 60 > t)
            {
                continue;
            }
            let budget = if rule.max_per_hour <= 0 {
                usize::MAX
            } else {
                let used = match rule.window_start {
                    Some(w) if w > t - 3600 => rule.window_count,
                    _ => 0,
                };
                usize::try_from(rule.max_per_hour - used).unwrap_or(0)
            };
            if budget == 0 {
                continue;
            }
            let mut messages: Vec<(Notice, Vec<i64>)> = Vec::new();
            if rule.digest_minutes > 0 || pending.len() > budget {
                let singles = if rule.digest_minutes > 0 {
                    0
                } else {
                    budget - 1
                };
                for a in &pending[..singles] {
                    messages.push((single(a), vec![a.id]));
                }
                let rest = &pending[singles..];
                messages.push((
                    digest(&rule.name, rest),
                    rest.iter().map(|a| a.id).collect(),
                ));
            } else {
                for a in &pending {
                    messages.push((single(a), vec![a.id]));
                }
            }
            let names: Vec<String> = serde_json::from_str(&rule.integrations).unwrap_or_default();
            for (notice, ids) in messages {
                let payload = serde_json::to_string(&notice).expect("a notice serializes");
                for name in &names {
                    match integrations.iter().find(|i| &i.name == name) {
                        Some(i) => {
                            self.store
                                .queue_notice(i.id, Some(rule.id), &payload, now)
                                .await?;
                        }
                        None => {
                            tracing::warn!(rule = %rule.name, integration = %name, "alert rule names a removed integration")
                        }
                    }
                }
                self.store.rule_sent(rule.id, &ids, now).await?;
                queued += 1;
            }
        }
        Ok(queued)
    }
}

/// How often `serve` evaluates and dispatches alerts.
pub const ALERT_PERIOD: std::time::Duration = std::time::Duration::from_secs(60);
/// How often `serve` re-syncs the tickets of every ticketing connector.
pub const TICKET_SYNC_PERIOD: std::time::Duration = std::time::Duration::from_secs(15 * 60);

impl App {
    /// `serve`'s mobilization loop: alerts evaluated and dispatched every minute, tickets
    /// re-synced every 15 minutes, and the delivery queue drained continuously (each connector
    /// at its own rate). Errors are logged and the loop goes on.
    pub async fn mobilization_loop(self: std::sync::Arc<Self>) {
        let start = tokio::time::Instant::now();
        let (mut next_alerts, mut next_sync) = (start, start + ALERT_PERIOD);
        loop {
            let now = tokio::time::Instant::now();
            if now >= next_alerts {
                next_alerts = now + ALERT_PERIOD;
                let t = OffsetDateTime::now_utc();
                match self.evaluate_alerts(t).await {
                    Ok(e) if e != Evaluation::default() => {
                        tracing::info!(raised = ?e, "alerts raised")
                    }
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "alert evaluation failed"),
                }
                if let Err(e) = self.dispatch_alerts(t).await {
                    tracing::warn!(error = %e, "alert dispatch failed");
                }
            }
            if now >= next_sync {
                next_sync = now + TICKET_SYNC_PERIOD;
                match self.store.integrations().await {
                    Ok(list) => {
                        for i in list.iter().filter(|i| {
                            i.enabled && Kind::parse(&i.kind).is_ok_and(Kind::keeps_tickets)
                        }) {
                            match self.sync_tickets(&i.name, OffsetDateTime::now_utc()).await {
                                Ok(c) => {
                                    tracing::info!(integration = %i.name, created = c.created, updated = c.updated, closed = c.closed, "tickets synced")
                                }
                                Err(e) => {
                                    tracing::warn!(integration = %i.name, error = %e, "ticket sync failed")
                                }
                            }
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "listing integrations failed"),
                }
            }
            let idle = match self.deliver(OffsetDateTime::now_utc()).await {
                Ok(r) => r == crate::tickets::DeliveryReport::default(),
                Err(e) => {
                    tracing::warn!(error = %e, "delivery pass failed");
                    true
                }
            };
            if idle {
                tokio::time::sleep(std::time::Duration::from_secs(5)).await;
            }
        }
    }
}

fn single(a: &Alert) -> Notice {
    Notice {
        event: format!("alert.{}", a.kind),
        title: format!("{}: {}", label(&a.kind), a.subject),
        lines: vec![a.message.clone()],
        severity: a.severity.clone(),
        facts: vec![
            ("Kind".into(), a.kind.clone()),
            ("At".into(), a.at.date().to_string()),
        ],
    }
}

fn digest(rule: &str, alerts: &[Alert]) -> Notice {
    let worst = ["critical", "high", "medium", "low", "info"]
        .into_iter()
        .find(|s| alerts.iter().any(|a| a.severity == *s))
        .unwrap_or("info");
    let mut by_kind: std::collections::BTreeMap<&str, usize> = Default::default();
    for a in alerts {
        *by_kind.entry(a.kind.as_str()).or_default() += 1;
    }
    let mut lines: Vec<String> = alerts
        .iter()
        .take(50)
        .map(|a| format!("• {}: {}", label(&a.kind), a.message))
        .collect();
    if alerts.len() > 50 {
        lines.push(format!(
            "… and {} more (vantage alerts list)",
            alerts.len() - 50
        ));
    }
    Notice {
        event: "alert.digest".into(),
        title: format!("Vantage digest ({rule}): {} alerts", alerts.len()),
        lines,
        severity: worst.into(),
        facts: by_kind
            .into_iter()
            .map(|(k, n)| (label(k).to_string(), n.to_string()))
            .collect(),
    }
}

fn label(kind: &str) -> &str {
    match kind {
        "new_p1" => "New P1",
        "kev_new" => "Newly in CISA KEV",
        "sla_breached" => "SLA passed",
        "sla_near" => "SLA due soon",
        "finding_reopened" => "Finding reopened",
        "eol_os" => "End-of-life OS",
        "coverage_low" => "Scan coverage low",
        "ssh_host_key_changed" => "SSH host key changed",
        other => other,
    }
}
