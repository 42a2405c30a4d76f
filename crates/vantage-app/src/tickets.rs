//! Connectors and the tickets kept in them: `vantage integrations add|test|list|remove`, the
//! ticket sync (one ticket per remediation unit, asset or finding; created once — the key and the
//! vendor's id are stored — updated when its content or priority changes, commented and closed
//! when its findings are gone), and the delivery worker that drains the queue: each connector at
//! its own rate, concurrently (a slow or broken one never holds the others), retries with
//! exponential backoff or the vendor's `Retry-After`, and a dead-letter list after the last
//! attempt. Secrets are sealed in the vault format and never returned, logged or put in errors.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use futures_util::StreamExt;
use serde::Serialize;
use sha2::Digest;
use time::OffsetDateTime;
use vantage_connectors::{Connector, Kind, Notice, Secrets, SendError, Ticket};
use vantage_domain::{AssetId, Finding, FindingFilter, Priority, StatusFilter};
use vantage_store::{DeliveryRow, IntegrationRow, NewTicket, TicketChanges};
use zeroize::Zeroizing;

use crate::app::App;
use crate::error::AppError;
use crate::patch::{RemediationUnit, plan_units};

/// Attempts before a call goes to the dead-letter list.
pub const MAX_ATTEMPTS: i32 = 8;
/// Each call's time limit.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(20);
/// Calls in flight per connector (within its rate): the vendor's and the database's latency
/// overlap instead of adding up.
pub const IN_FLIGHT: usize = 16;

/// What one ticket covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Grouping {
    /// One remediation unit (upgrade a package, uninstall, upgrade the OS) on one asset.
    Unit,
    /// Everything open on one asset.
    Asset,
    /// One finding.
    Finding,
}

impl Grouping {
    /// Parses `unit`, `asset` or `finding`.
    pub fn parse(s: &str) -> Result<Grouping, AppError> {
        match s {
            "unit" => Ok(Grouping::Unit),
            "asset" => Ok(Grouping::Asset),
            "finding" => Ok(Grouping::Finding),
            o => Err(AppError::Invalid(format!(
                "grouping `{o}` (one of: unit, asset, finding)"
            ))),
        }
    }
}

/// A connector to add.
#[derive(Debug, Clone)]
pub struct NewIntegration {
    /// Unique name.
    pub name: String,
    /// Kind.
    pub kind: Kind,
    /// Settings (JSON object, no secrets).
    pub settings: serde_json::Value,
    /// Secrets by name.
    pub secrets: Secrets,
    /// What one ticket covers.
    pub grouping: Grouping,
    /// Only this scope (name).
    pub scope: Option<String>,
    /// Tickets for this priority or more urgent.
    pub min_priority: Priority,
    /// Calls per minute at most.
    pub rate_per_minute: u32,
}

/// A connector as listed (no secrets: only their names).
#[derive(Debug, Clone, Serialize)]
pub struct IntegrationView {
    /// Name.
    pub name: String,
    /// Kind.
    pub kind: String,
    /// Settings.
    pub settings: serde_json::Value,
    /// Names of the secrets stored (never their values).
    pub secrets: Vec<String>,
    /// What one ticket covers.
    pub grouping: String,
    /// Scope id, when restricted to one.
    pub scope_id: Option<i64>,
    /// Lowest priority ticketed.
    pub min_priority: String,
    /// Calls per minute at most.
    pub rate_per_minute: i32,
    /// Tickets by status.
    pub tickets: BTreeMap<String, usize>,
}

/// What a delivery pass did.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct DeliveryReport {
    /// Calls that succeeded.
    pub delivered: u64,
    /// Calls put back for a retry.
    pub retried: u64,
    /// Calls moved to the dead-letter list.
    pub dead: u64,
    /// Creates that found the ticket already there (adopted, not duplicated).
    pub adopted: u64,
}

impl std::ops::AddAssign for DeliveryReport {
    fn add_assign(&mut self, o: Self) {
        self.delivered += o.delivered;
        self.retried += o.retried;
        self.dead += o.dead;
        self.adopted += o.adopted;
    }
}

fn sealed_aad(name: &str) -> String {
    format!("integration:{name}")
}

impl App {
    /// Adds a connector after checking its settings and secrets build a working client (no
    /// call is made: `test_integration` does that). Audited without secrets.
    pub async fn add_integration(&self, n: NewIntegration, actor: &str) -> Result<i64, AppError> {
        if n.name.is_empty() || n.name.len() > 100 || n.name.chars().any(char::is_whitespace) {
            return Err(AppError::Invalid(format!(
                "integration name `{}`: 1 to 100 characters, no spaces",
                n.name
            )));
        }
        if n.rate_per_minute == 0 || n.rate_per_minute > 600_000 {
            return Err(AppError::Invalid(
                "rate_per_minute must be between 1 and 600000".into(),
            ));
        }
        Connector::new(n.kind, &n.settings, &n.secrets, CALL_TIMEOUT).map_err(AppError::Invalid)?;
        let (_, needed) = n.kind.fields();
        if let Some(k) = n.secrets.0.keys().find(|k| !needed.contains(&k.as_str())) {
            return Err(AppError::Invalid(format!(
                "{} connector: unknown secret `{k}` (known: {})",
                n.kind.as_str(),
                needed.join(", ")
            )));
        }
        let scope_id = match &n.scope {
            Some(s) => Some(self.resolve_scope(s).await?.0),
            None => None,
        };
        let plain: BTreeMap<&str, &str> = n
            .secrets
            .0
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let plain = Zeroizing::new(serde_json::to_vec(&plain).expect("a map serializes"));
        let sealed = self.vault()?.seal(&sealed_aad(&n.name), &plain)?;
        let now = OffsetDateTime::now_utc();
        let id = self
            .store
            .create_integration(
                &IntegrationRow {
                    id: 0,
                    name: n.name.clone(),
                    kind: n.kind.as_str().into(),
                    settings: n.settings.to_string(),
                    sealed,
                    grouping: serde_json::to_value(n.grouping)
                        .ok()
                        .and_then(|v| v.as_str().map(String::from))
                        .unwrap_or_else(|| "unit".into()),
                    scope_id,
                    min_priority: n.min_priority.as_str().to_uppercase(),
                    rate_per_minute: i32::try_from(n.rate_per_minute).unwrap_or(i32::MAX),
                    enabled: true,
                    created_at: 0,
                },
                now,
            )
            .await?;
        self.store
            .record_audit(
                now,
                actor,
                "integration.add",
                ("integration", &n.name),
                &format!(
                    "kind={} settings={} secrets={}",
                    n.kind.as_str(),
                    n.settings,
                    n.secrets.0.keys().cloned().collect::<Vec<_>>().join(",")
                ),
            )
            .await?;
        Ok(id)
    }

    /// The connectors, without secrets.
    pub async fn integrations(&self) -> Result<Vec<IntegrationView>, AppError> {
        let mut out = Vec::new();
        for r in self.store.integrations().await? {
            let secrets = self.secrets_of(&r)?.0.keys().cloned().collect();
            let mut tickets = BTreeMap::new();
            for t in self.store.tickets(r.id).await? {
                *tickets.entry(t.status).or_insert(0) += 1;
            }
            out.push(IntegrationView {
                settings: serde_json::from_str(&r.settings).unwrap_or_default(),
                name: r.name,
                kind: r.kind,
                secrets,
                grouping: r.grouping,
                scope_id: r.scope_id,
                min_priority: r.min_priority,
                rate_per_minute: r.rate_per_minute,
                tickets,
            });
        }
        Ok(out)
    }

    /// Removes a connector, its tickets and its queue. Audited.
    pub async fn remove_integration(&self, name: &str, actor: &str) -> Result<(), AppError> {
        if !self.store.remove_integration(name).await? {
            return Err(AppError::NotFound(format!("no integration named `{name}`")));
        }
        self.store
            .record_audit(
                OffsetDateTime::now_utc(),
                actor,
                "integration.remove",
                ("integration", name),
                "",
            )
            .await?;
        Ok(())
    }

    fn secrets_of(&self, r: &IntegrationRow) -> Result<Secrets, AppError> {
        let plain = self.vault()?.unseal(&sealed_aad(&r.name), &r.sealed)?;
        let map: BTreeMap<String, String> = serde_json::from_slice(&plain).map_err(|_| {
            AppError::Invalid(format!(
                "the secrets of integration `{}` are unreadable",
                r.name
            ))
        })?;
        Ok(Secrets(
            map.into_iter()
                .map(|(k, v)| (k, Zeroizing::new(v)))
                .collect(),
        ))
    }

    async fn integration(&self, name: &str) -> Result<IntegrationRow, AppError> {
        self.store
            .integration_by_name(name)
            .await?
            .ok_or_else(|| AppError::NotFound(format!("no integration named `{name}`")))
    }

    fn connector(&self, r: &IntegrationRow) -> Result<(Kind, Connector), AppError> {
        let kind = Kind::parse(&r.kind).map_err(AppError::Invalid)?;
        let settings: serde_json::Value = serde_json::from_str(&r.settings).map_err(|e| {
            AppError::Invalid(format!("integration `{}`: stored settings: {e}", r.name))
        })?;
        let c = Connector::new(kind, &settings, &self.secrets_of(r)?, CALL_TIMEOUT)
            .map_err(AppError::Invalid)?;
        Ok((kind, c))
    }

    /// Checks a connector's connection and credentials (see [`Connector::test`]).
    pub async fn test_integration(&self, name: &str) -> Result<String, AppError> {
        let r = self.integration(name).await?;
        let (_, c) = self.connector(&r)?;
        c.test()
            .await
            .map_err(|e| AppError::Invalid(format!("integration `{name}`: {e}")))
    }

    /// Brings a ticketing connector's tickets in line with the open findings: creates the
    /// missing ones, updates changed ones, closes those whose findings are gone — queued, not
    /// sent (the delivery worker sends).
    pub async fn sync_tickets(
        &self,
        name: &str,
        now: OffsetDateTime,
    ) -> Result<TicketChanges, AppError> {
        let r = self.integration(name).await?;
        let kind = Kind::parse(&r.kind).map_err(AppError::Invalid)?;
        if !kind.keeps_tickets() {
            return Err(AppError::Invalid(format!(
                "integration `{name}` ({}) does not keep tickets; it receives alerts",
                r.kind
            )));
        }
        let grouping = Grouping::parse(&r.grouping)?;
        let min: Priority = r
            .min_priority
            .to_lowercase()
            .parse()
            .map_err(|_| AppError::Invalid(format!("min_priority `{}`", r.min_priority)))?;
        let desired = self.desired_tickets(r.scope_id, grouping, min, now).await?;
        let existing = self.store.tickets(r.id).await?;
        let by_key: HashMap<&str, &vantage_store::TicketRow> =
            existing.iter().map(|t| (t.key.as_str(), t)).collect();
        let (mut creates, mut updates, mut closes) = (Vec::new(), Vec::new(), Vec::new());
        for (key, (ticket, findings, asset)) in &desired {
            let content = serde_json::json!({"ticket": ticket, "findings": findings}).to_string();
            let fp = hex(&sha2::Sha256::digest(content.as_bytes()));
            match by_key.get(key.as_str()) {
                None => creates.push(NewTicket {
                    key: key.clone(),
                    asset_id: Some(asset.0),
                    priority: ticket.priority.clone(),
                    fingerprint: fp,
                    content,
                }),
                Some(t) if t.fingerprint != fp => {
                    let comment = match (&t.priority, &ticket.priority) {
                        (Some(a), Some(b)) if a != b => format!(
                            "Priority changed {a} → {b}. {}",
                            ticket.body.get(2).cloned().unwrap_or_default()
                        ),
                        _ if t.status == "closed" || t.status == "closing" => format!(
                            "Reopened: a scan on {} found these vulnerabilities again.",
                            now.date()
                        ),
                        _ => format!("Updated on {}: the findings changed.", now.date()),
                    };
                    updates.push((t.id, fp, content, ticket.priority.clone(), comment));
                }
                Some(_) => {}
            }
        }
        for t in &existing {
            if matches!(t.status.as_str(), "pending" | "open") && !desired.contains_key(&t.key) {
                closes.push((t.id, self.close_comment(t, now).await?));
            }
        }
        Ok(self
            .store
            .apply_ticket_sync(r.id, &creates, &updates, &closes, now)
            .await?)
    }

    async fn close_comment(
        &self,
        t: &vantage_store::TicketRow,
        now: OffsetDateTime,
    ) -> Result<String, AppError> {
        let content: serde_json::Value = serde_json::from_str(&t.content).unwrap_or_default();
        let ids: Vec<i64> = content["findings"]
            .as_array()
            .map(|a| a.iter().filter_map(|v| v.as_i64()).collect())
            .unwrap_or_default();
        let mut fixed = 0;
        for id in &ids {
            if let Some(f) = self.store.finding(vantage_domain::FindingId(*id)).await?
                && f.status == vantage_domain::FindingStatus::Fixed
            {
                fixed += 1;
            }
        }
        Ok(if !ids.is_empty() && fixed == ids.len() {
            format!(
                "Fixed: verified by Vantage — the scan of {} no longer finds these vulnerabilities.",
                now.date()
            )
        } else {
            format!(
                "Closed by Vantage on {}: no open finding of this ticket remains ({fixed} of {} verified fixed; the others were triaged or fell below the connector's priority).",
                now.date(),
                ids.len()
            )
        })
    }

    /// The tickets the open findings call for: key → (ticket, finding ids, asset).
    async fn desired_tickets(
        &self,
        scope: Option<i64>,
        grouping: Grouping,
        min: Priority,
        now: OffsetDateTime,
    ) -> Result<BTreeMap<String, (Ticket, Vec<i64>, AssetId)>, AppError> {
        let findings = self
            .all_findings(FindingFilter {
                status: StatusFilter::Open,
                scope: scope.map(vantage_domain::ScopeId),
                ..Default::default()
            })
            .await?;
        let rank = |p: Option<Priority>| p.map_or(9, |p| p as u8);
        let mut by_asset: BTreeMap<AssetId, Vec<Finding>> = BTreeMap::new();
        for f in findings {
            by_asset.entry(f.asset_id).or_default().push(f);
        }
        let mut vulns: Vec<String> = by_asset
            .values()
            .flatten()
            .map(|f| f.vuln_id.as_str().to_string())
            .collect();
        vulns.sort();
        vulns.dedup();
        let kev = self.store.kev_among(&vulns).await?;
        let mut out = BTreeMap::new();
        for (asset_id, findings) in by_asset {
            let name = findings[0].asset_name.clone();
            let by_id: HashMap<i64, &Finding> = findings.iter().map(|f| (f.id.0, f)).collect();
            if grouping == Grouping::Finding {
                for f in findings.iter().filter(|f| rank(f.priority) <= min as u8) {
                    let t = finding_ticket(f, kev.contains(f.vuln_id.as_str()));
                    out.insert(t.key.clone(), (t, vec![f.id.0], asset_id));
                }
                continue;
            }
            let asset = self.store.asset(asset_id).await?;
            let packages = self.store.packages_of(asset_id).await?;
            let units = plan_units(
                (&name, asset_id),
                asset.as_ref().and_then(|a| a.os.as_deref()),
                &findings,
                &packages,
                &kev,
                now.date(),
            );
            let units: Vec<RemediationUnit> = units
                .into_iter()
                .filter(|u| rank(u.priority) <= min as u8)
                .collect();
            if units.is_empty() {
                continue;
            }
            match grouping {
                Grouping::Unit => {
                    for u in &units {
                        let t = unit_ticket(u, &by_id);
                        out.insert(t.key.clone(), (t, u.findings.clone(), asset_id));
                    }
                }
                _ => {
                    let t = asset_ticket(&name, asset_id, &units, &by_id);
                    let ids = units.iter().flat_map(|u| u.findings.clone()).collect();
                    out.insert(t.key.clone(), (t, ids, asset_id));
                }
            }
        }
        Ok(out)
    }

    /// Sends what is due in the queue, every connector concurrently, each at its own rate;
    /// returns when each connector's due batch is done.
    pub async fn deliver(&self, now: OffsetDateTime) -> Result<DeliveryReport, AppError> {
        let ids = self.store.integrations_with_due(now).await?;
        let rows: Vec<IntegrationRow> = self
            .store
            .integrations()
            .await?
            .into_iter()
            .filter(|r| ids.contains(&r.id) && r.enabled)
            .collect();
        let runs = rows.iter().map(|r| self.deliver_for(r, now));
        let mut report = DeliveryReport::default();
        for r in futures_util::future::join_all(runs).await {
            report += r?;
        }
        Ok(report)
    }

    /// Drains one connector's due calls (at most a minute's worth at its rate).
    async fn deliver_for(
        &self,
        r: &IntegrationRow,
        now: OffsetDateTime,
    ) -> Result<DeliveryReport, AppError> {
        let mut report = DeliveryReport::default();
        let rate = u32::try_from(r.rate_per_minute.max(1)).unwrap_or(60);
        let interval = Duration::from_secs_f64(60.0 / f64::from(rate));
        let batch = rate.clamp(1, 2000);
        let lease = now
            + time::Duration::seconds_f64(
                interval.as_secs_f64() * f64::from(batch) + CALL_TIMEOUT.as_secs_f64() * 2.0,
            );
        let calls = self.store.claim_deliveries(r.id, batch, now, lease).await?;
        if calls.is_empty() {
            return Ok(report);
        }
        let connector = match self.connector(r) {
            Ok((_, c)) => c,
            Err(e) => {
                // A connector that cannot even be built fails its calls, not the others.
                for d in &calls {
                    self.failed(d, &SendError::Fatal(e.to_string()), &mut report)
                        .await?;
                }
                return Ok(report);
            }
        };
        // Calls of one ticket stay in order (a create before its update); different tickets
        // and notifications go concurrently, each call in its own slot of the rate.
        let mut groups: Vec<Vec<&DeliveryRow>> = Vec::new();
        let mut by_ticket: HashMap<i64, usize> = HashMap::new();
        for d in &calls {
            match d.ticket_id {
                Some(t) => match by_ticket.get(&t) {
                    Some(&g) => groups[g].push(d),
                    None => {
                        by_ticket.insert(t, groups.len());
                        groups.push(vec![d]);
                    }
                },
                None => groups.push(vec![d]),
            }
        }
        let next_slot = tokio::sync::Mutex::new(tokio::time::Instant::now());
        let mut work = Vec::with_capacity(groups.len());
        for group in groups {
            work.push(self.deliver_group(&connector, &next_slot, interval, group));
        }
        let results: Vec<Result<DeliveryReport, AppError>> = futures_util::stream::iter(work)
            .buffer_unordered(IN_FLIGHT)
            .collect()
            .await;
        for r in results {
            report += r?;
        }
        Ok(report)
    }

    /// Sends one ticket's calls (or one notification) in order, each in its slot of the rate.
    async fn deliver_group(
        &self,
        connector: &Connector,
        next_slot: &tokio::sync::Mutex<tokio::time::Instant>,
        interval: Duration,
        group: Vec<&DeliveryRow>,
    ) -> Result<DeliveryReport, AppError> {
        let mut report = DeliveryReport::default();
        for d in group {
            let at = {
                let mut next = next_slot.lock().await;
                let at = (*next).max(tokio::time::Instant::now());
                *next = at + interval;
                at
            };
            tokio::time::sleep_until(at).await;
            match self.send_one(connector, d).await {
                Ok(adopted) => {
                    report.delivered += 1;
                    report.adopted += u64::from(adopted);
                    self.store
                        .delivery_done(d.id, OffsetDateTime::now_utc())
                        .await?;
                }
                Err(e) => self.failed(d, &e, &mut report).await?,
            }
        }
        Ok(report)
    }

    async fn failed(
        &self,
        d: &DeliveryRow,
        e: &SendError,
        report: &mut DeliveryReport,
    ) -> Result<(), AppError> {
        let now = OffsetDateTime::now_utc();
        let dead = !e.is_retryable() || d.attempts >= MAX_ATTEMPTS;
        let wait = match e {
            SendError::Retry { after: Some(a), .. } => *a,
            _ => Duration::from_secs(
                30 * 2u64.pow(u32::try_from(d.attempts.clamp(1, 8) - 1).unwrap_or(0)),
            )
            .min(Duration::from_secs(3600)),
        };
        if dead {
            report.dead += 1;
            tracing::warn!(delivery = d.id, action = %d.action, error = %e, "delivery failed for good: in the dead-letter list");
        } else {
            report.retried += 1;
            tracing::info!(delivery = d.id, action = %d.action, error = %e, retry_in = ?wait, "delivery failed; will retry");
        }
        self.store
            .delivery_failed(
                d.id,
                &e.to_string(),
                now + time::Duration::try_from(wait).unwrap_or(time::Duration::HOUR),
                dead,
                now,
            )
            .await?;
        Ok(())
    }

    /// Sends one call; `Ok(true)` when a create found its ticket already there.
    async fn send_one(&self, c: &Connector, d: &DeliveryRow) -> Result<bool, SendError> {
        let store_err = |e: vantage_store::StoreError| SendError::Retry {
            after: None,
            reason: format!("store: {e}"),
        };
        let payload: serde_json::Value = serde_json::from_str(&d.payload)
            .map_err(|e| SendError::Fatal(format!("queued payload unreadable: {e}")))?;
        if d.action == "notify" {
            let n: Notice = serde_json::from_value(payload)
                .map_err(|e| SendError::Fatal(format!("queued notice unreadable: {e}")))?;
            return c.notify(&n).await.map(|()| false);
        }
        let ticket_id = d
            .ticket_id
            .ok_or_else(|| SendError::Fatal("ticket call without a ticket".into()))?;
        let t: Ticket = serde_json::from_value(payload["ticket"]["ticket"].clone())
            .map_err(|e| SendError::Fatal(format!("queued ticket unreadable: {e}")))?;
        let comment = payload["comment"].as_str().unwrap_or_default().to_string();
        let now = OffsetDateTime::now_utc;
        if d.action == "create" {
            // A retried create may have reached the vendor before: look first.
            let found = if d.attempts > 1 {
                c.find(&t).await?
            } else {
                None
            };
            let adopted = found.is_some();
            let ext = match found {
                Some(e) => e,
                None => c.create(&t).await?,
            };
            self.store
                .ticket_delivered(
                    ticket_id,
                    "create",
                    Some((&ext.id, ext.url.as_deref())),
                    now(),
                )
                .await
                .map_err(store_err)?;
            return Ok(adopted);
        }
        let Some(ext) = self
            .store
            .ticket_external(ticket_id)
            .await
            .map_err(store_err)?
        else {
            return Err(SendError::Retry {
                after: Some(Duration::from_secs(30)),
                reason: "the ticket's create has not been delivered yet".into(),
            });
        };
        match d.action.as_str() {
            "update" => c.update(&ext, &t, &comment).await?,
            "close" => {
                c.close(&ext, &t, &comment).await?;
                self.store
                    .ticket_delivered(ticket_id, "close", None, now())
                    .await
                    .map_err(store_err)?;
            }
            other => return Err(SendError::Fatal(format!("unknown action `{other}`"))),
        }
        Ok(false)
    }

    /// Calls in the dead-letter list (or another status), oldest first.
    pub async fn deliveries(&self, status: &str, limit: u32) -> Result<Vec<DeliveryRow>, AppError> {
        if !matches!(status, "queued" | "running" | "done" | "dead") {
            return Err(AppError::Invalid(format!(
                "status `{status}` (one of: queued, running, done, dead)"
            )));
        }
        Ok(self.store.deliveries(status, limit).await?)
    }

    /// Puts dead calls back in the queue (all when `ids` is empty). Audited.
    pub async fn retry_dead(&self, ids: &[i64], actor: &str) -> Result<u64, AppError> {
        let now = OffsetDateTime::now_utc();
        let n = self.store.requeue_dead(ids, now).await?;
        self.store
            .record_audit(
                now,
                actor,
                "deliveries.retry",
                ("deliveries", &format!("{ids:?}")),
                &format!("{n} requeued"),
            )
            .await?;
        Ok(n)
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn upper(p: Option<Priority>) -> Option<String> {
    p.map(|p| p.as_str().to_uppercase())
}

fn due_of<'a>(
    ids: impl IntoIterator<Item = &'a i64>,
    by_id: &HashMap<i64, &Finding>,
) -> Option<String> {
    ids.into_iter()
        .filter_map(|id| by_id.get(id))
        .filter_map(|f| f.prioritization.as_ref().and_then(|p| p.due))
        .min()
        .map(|d| d.date().to_string())
}

fn why_of<'a>(ids: impl IntoIterator<Item = &'a i64>, by_id: &HashMap<i64, &Finding>) -> String {
    ids.into_iter()
        .filter_map(|id| by_id.get(id))
        .filter_map(|f| f.prioritization.as_ref())
        .min_by_key(|p| p.result.priority as u8)
        .map(|p| {
            format!(
                "Why {}: {}",
                p.result.priority.as_str().to_uppercase(),
                p.result.explanation
            )
        })
        .unwrap_or_else(|| "Not prioritized yet.".into())
}

/// The ticket of one remediation unit.
pub fn unit_ticket(u: &RemediationUnit, by_id: &HashMap<i64, &Finding>) -> Ticket {
    let head = format!("{}: {}", u.asset, u.reason);
    let mut body = vec![
        format!("Asset: {}", u.asset),
        format!(
            "Closes {} ({} in CISA KEV, {} at P1): {}",
            plural(u.vulnerabilities.len(), "vulnerability", "vulnerabilities"),
            u.kev,
            u.p1,
            u.vulnerabilities.join(", ")
        ),
        why_of(&u.findings, by_id),
    ];
    if let Some(d) = due_of(&u.findings, by_id) {
        body.push(format!("Due: {d}"));
    }
    if !u.commands.is_empty() {
        body.push(format!("Fix:\n{}", u.commands.join("\n")));
    }
    Ticket {
        key: format!("unit:{}:{}:{}", u.asset_id.0, u.kind.as_str(), u.package),
        summary: head.chars().take(250).collect(),
        body,
        priority: upper(u.priority),
        due: due_of(&u.findings, by_id),
        asset: u.asset.clone(),
        cves: u.vulnerabilities.clone(),
    }
}

fn asset_ticket(
    name: &str,
    id: AssetId,
    units: &[RemediationUnit],
    by_id: &HashMap<i64, &Finding>,
) -> Ticket {
    let ids: Vec<i64> = units.iter().flat_map(|u| u.findings.clone()).collect();
    let mut cves: Vec<String> = units
        .iter()
        .flat_map(|u| u.vulnerabilities.clone())
        .collect();
    cves.sort();
    cves.dedup();
    let priority = units
        .iter()
        .filter_map(|u| u.priority)
        .min_by_key(|p| *p as u8);
    let mut body = vec![
        format!("Asset: {name}"),
        format!(
            "{} to remediate, closing {}.",
            plural(units.len(), "change", "changes"),
            plural(cves.len(), "vulnerability", "vulnerabilities")
        ),
        why_of(&ids, by_id),
    ];
    for u in units {
        body.push(format!(
            "- {} (closes {})",
            u.reason,
            u.vulnerabilities.join(", ")
        ));
    }
    Ticket {
        key: format!("asset:{}", id.0),
        summary: format!(
            "{name}: {} to remediate",
            plural(units.len(), "change", "changes")
        ),
        body,
        priority: upper(priority),
        due: due_of(&ids, by_id),
        asset: name.to_string(),
        cves,
    }
}

fn finding_ticket(f: &Finding, kev: bool) -> Ticket {
    let by_id: HashMap<i64, &Finding> = [(f.id.0, f)].into_iter().collect();
    let fix = match &f.evidence.fixed_version {
        Some(v) => format!("Fix: upgrade {} to {v} or later.", f.evidence.component),
        None => "No fixed version is known yet.".into(),
    };
    let mut body = vec![
        format!("Asset: {}", f.asset_name),
        format!(
            "{} in {} {}{}",
            f.vuln_id.as_str(),
            f.evidence.component,
            f.evidence.installed_version.clone().unwrap_or_default(),
            if kev { " (in CISA KEV)" } else { "" }
        ),
        why_of(&[f.id.0], &by_id),
        fix,
    ];
    if let Some(d) = due_of(&[f.id.0], &by_id) {
        body.push(format!("Due: {d}"));
    }
    Ticket {
        key: format!("finding:{}", f.id.0),
        summary: format!(
            "{}: {} in {}",
            f.asset_name,
            f.vuln_id.as_str(),
            f.evidence.component
        ),
        body,
        priority: upper(f.priority),
        due: due_of(&[f.id.0], &by_id),
        asset: f.asset_name.clone(),
        cves: vec![f.vuln_id.as_str().to_string()],
    }
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}
