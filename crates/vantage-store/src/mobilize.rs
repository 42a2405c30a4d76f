//! Mobilization's rows: connectors (`integrations`: settings in clear, secrets sealed by the
//! application), the tickets kept in them (one per key and connector), the outbound queue
//! (`deliveries`: claimed under a lease with `FOR UPDATE SKIP LOCKED` on PostgreSQL, retried
//! with backoff, `dead` after the last attempt), alert rules with their pending digests, and
//! remediation runs.

use serde::Serialize;
use time::OffsetDateTime;

use crate::backend::{BeginWrite, Store, with_pool};
use crate::error::{Result, StoreError};
use crate::remote::Alert;
use crate::sql::{id_list, ts};

/// A connector as stored.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct IntegrationRow {
    /// Id.
    pub id: i64,
    /// Unique name.
    pub name: String,
    /// `jira`, `servicenow`, `glpi`, `teams`, `slack`, `email`, `webhook`.
    pub kind: String,
    /// Settings (JSON, no secrets).
    pub settings: String,
    /// Sealed secrets (never serialized).
    #[serde(skip)]
    pub sealed: String,
    /// `unit`, `asset` or `finding`: what one ticket covers.
    pub grouping: String,
    /// Only this scope's findings (all when `None`).
    pub scope_id: Option<i64>,
    /// Tickets for findings of this priority or more urgent.
    pub min_priority: String,
    /// Calls per minute at most.
    pub rate_per_minute: i32,
    /// Whether it is used.
    pub enabled: bool,
    /// Created (unix seconds).
    pub created_at: i64,
}

/// A ticket as stored.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct TicketRow {
    /// Id.
    pub id: i64,
    /// Connector.
    pub integration_id: i64,
    /// Vantage's key (`unit:12:openssl`).
    pub key: String,
    /// Asset.
    pub asset_id: Option<i64>,
    /// `pending` (create queued), `open`, `closing`, `closed`.
    pub status: String,
    /// The vendor's id.
    pub external_id: Option<String>,
    /// The vendor's link.
    pub url: Option<String>,
    /// Priority last sent.
    pub priority: Option<String>,
    /// Hash of the content last sent.
    pub fingerprint: String,
    /// The ticket content (JSON) last sent.
    pub content: String,
    /// Created (unix seconds).
    pub created_at: i64,
    /// Closed (unix seconds).
    pub closed_at: Option<i64>,
}

/// A ticket to open: key, asset, priority, fingerprint, content (JSON).
#[derive(Debug, Clone)]
pub struct NewTicket {
    /// Key.
    pub key: String,
    /// Asset.
    pub asset_id: Option<i64>,
    /// Priority.
    pub priority: Option<String>,
    /// Content hash.
    pub fingerprint: String,
    /// Content (JSON).
    pub content: String,
}

/// What a ticket sync changed.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq, Eq)]
pub struct TicketChanges {
    /// Tickets queued for creation.
    pub created: u64,
    /// Tickets queued for an update.
    pub updated: u64,
    /// Tickets queued for closing.
    pub closed: u64,
}

/// One queued call.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct DeliveryRow {
    /// Id.
    pub id: i64,
    /// Connector.
    pub integration_id: i64,
    /// Ticket (ticket actions).
    pub ticket_id: Option<i64>,
    /// Alert rule (notifications).
    pub rule_id: Option<i64>,
    /// `create`, `update`, `close`, `notify`.
    pub action: String,
    /// JSON payload (a ticket with a comment, or a notice).
    pub payload: String,
    /// `queued`, `running`, `done`, `dead`.
    pub status: String,
    /// Attempts so far.
    pub attempts: i32,
    /// Not before (unix seconds).
    pub run_after: i64,
    /// Last error.
    pub last_error: Option<String>,
    /// Created (unix seconds).
    pub created_at: i64,
}

/// An alert rule.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct AlertRuleRow {
    /// Id.
    pub id: i64,
    /// Unique name.
    pub name: String,
    /// Only alerts about this scope (all when `None`).
    pub scope_id: Option<i64>,
    /// `,kind,kind,` (matched with LIKE).
    pub kinds: String,
    /// JSON list of connector names.
    pub integrations: String,
    /// Gather alerts and send one digest every this many minutes (0: at once).
    pub digest_minutes: i32,
    /// At most this many messages per hour (0: no limit); the rest wait and go as a digest.
    pub max_per_hour: i32,
    /// Last message sent (unix seconds).
    pub last_sent_at: Option<i64>,
    /// Start of the current hour window.
    pub window_start: Option<i64>,
    /// Messages in the window.
    pub window_count: i32,
}

/// A remediation run.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct RemediationRow {
    /// Id.
    pub id: i64,
    /// Asset.
    pub asset_id: i64,
    /// Scope whose policy applies (maintenance window).
    pub scope_id: Option<i64>,
    /// SSH endpoint.
    pub target: String,
    /// Package manager.
    pub manager: String,
    /// The plan (JSON: units, commands, findings).
    pub plan: String,
    /// `planned`, `dry_run_failed`, `ready`, `approved`, `running`, `succeeded`, `failed`.
    pub status: String,
    /// The dry run's output.
    pub dry_run: String,
    /// The execution log.
    pub log: String,
    /// The verification (JSON).
    pub result: Option<String>,
    /// Who asked.
    pub requested_by: String,
    /// Who approved.
    pub approved_by: Option<String>,
    /// Created (unix seconds).
    pub created_at: i64,
    /// Approved (unix seconds).
    pub approved_at: Option<i64>,
    /// Started (unix seconds).
    pub started_at: Option<i64>,
    /// Finished (unix seconds).
    pub finished_at: Option<i64>,
}

/// The last host inventory's kernel facts.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, PartialEq, Eq)]
pub struct HostFactsRow {
    /// Running kernel.
    pub kernel: Option<String>,
    /// Newest kernel installed as a package.
    pub newest_kernel: Option<String>,
    /// A newer kernel is installed than the one running.
    pub newer_kernel_installed: bool,
    /// The distribution asks for a reboot.
    pub reboot_required: bool,
}

const INTEGRATION_COLUMNS: &str = "id, name, kind, settings, sealed, grouping, scope_id, \
     min_priority, rate_per_minute, enabled, created_at";
const TICKET_COLUMNS: &str = "id, integration_id, key, asset_id, status, external_id, url, \
     priority, fingerprint, content, created_at, closed_at";
const DELIVERY_COLUMNS: &str = "id, integration_id, ticket_id, rule_id, action, payload, status, \
     attempts, run_after, last_error, created_at";
const RULE_COLUMNS: &str = "id, name, scope_id, kinds, integrations, digest_minutes, \
     max_per_hour, last_sent_at, window_start, window_count";
const RUN_COLUMNS: &str = "id, asset_id, scope_id, target, manager, plan, status, dry_run, log, \
     result, requested_by, approved_by, created_at, approved_at, started_at, finished_at";

impl Store {
    /// Records an asset's kernel facts from its latest host inventory.
    pub async fn record_host_facts(
        &self,
        asset: i64,
        f: &HostFactsRow,
        now: OffsetDateTime,
    ) -> Result<()> {
        with_pool!(self, |p| {
            sqlx::query(
            "INSERT INTO host_facts (asset_id, kernel, newest_kernel, newer_kernel_installed, reboot_required, collected_at) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (asset_id) DO UPDATE SET kernel = excluded.kernel, \
             newest_kernel = excluded.newest_kernel, newer_kernel_installed = excluded.newer_kernel_installed, \
             reboot_required = excluded.reboot_required, collected_at = excluded.collected_at"
        )
        .bind(asset)
        .bind(&f.kernel)
        .bind(&f.newest_kernel)
        .bind(f.newer_kernel_installed)
        .bind(f.reboot_required)
        .bind(ts(now))
        .execute(p)
        .await
        .map(drop)?
        });
        Ok(())
    }

    /// An asset's kernel facts, when a host inventory recorded them.
    pub async fn host_facts(&self, asset: i64) -> Result<Option<HostFactsRow>> {
        Ok(with_pool!(self, |p| {
            sqlx::query_as(
            "SELECT kernel, newest_kernel, newer_kernel_installed, reboot_required FROM host_facts WHERE asset_id = $1"
        )
        .bind(asset)
        .fetch_optional(p)
        .await?
        }))
    }

    /// Stores a connector; a name already taken is a conflict.
    pub async fn create_integration(&self, i: &IntegrationRow, now: OffsetDateTime) -> Result<i64> {
        let r: std::result::Result<i64, sqlx::Error> = with_pool!(self, |p| {
            sqlx::query_scalar(
            "INSERT INTO integrations (name, kind, settings, sealed, grouping, scope_id, min_priority, \
             rate_per_minute, enabled, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10) RETURNING id"
        )
        .bind(&i.name)
        .bind(&i.kind)
        .bind(&i.settings)
        .bind(&i.sealed)
        .bind(&i.grouping)
        .bind(i.scope_id)
        .bind(&i.min_priority)
        .bind(i.rate_per_minute)
        .bind(i.enabled)
        .bind(ts(now))
        .fetch_one(p)
        .await
        });
        r.map_err(|e| StoreError::conflict_on_unique(e, "integration", &i.name))
    }

    /// Every connector, by name.
    pub async fn integrations(&self) -> Result<Vec<IntegrationRow>> {
        let sql = format!("SELECT {INTEGRATION_COLUMNS} FROM integrations ORDER BY name");
        Ok(with_pool!(self, |p| sqlx::query_as(sqlx::AssertSqlSafe(
            sql
        ))
        .fetch_all(p)
        .await?))
    }

    /// One connector by name.
    pub async fn integration_by_name(&self, name: &str) -> Result<Option<IntegrationRow>> {
        let sql = format!("SELECT {INTEGRATION_COLUMNS} FROM integrations WHERE name = $1");
        Ok(with_pool!(self, |p| sqlx::query_as(sqlx::AssertSqlSafe(
            sql
        ))
        .bind(name)
        .fetch_optional(p)
        .await?))
    }

    /// Removes a connector (its tickets and queue go with it).
    pub async fn remove_integration(&self, name: &str) -> Result<bool> {
        Ok(with_pool!(self, |p| sqlx::query(
            "DELETE FROM integrations WHERE name = $1"
        )
        .bind(name)
        .execute(p)
        .await?
        .rows_affected())
            > 0)
    }

    /// The tickets of a connector.
    pub async fn tickets(&self, integration: i64) -> Result<Vec<TicketRow>> {
        let sql =
            format!("SELECT {TICKET_COLUMNS} FROM tickets WHERE integration_id = $1 ORDER BY id");
        Ok(with_pool!(self, |p| sqlx::query_as(sqlx::AssertSqlSafe(
            sql
        ))
        .bind(integration)
        .fetch_all(p)
        .await?))
    }

    /// Applies a ticket sync in one transaction: new tickets (and their `create` calls),
    /// updates (ticket id, fingerprint, content, priority, comment) and closes (ticket id,
    /// comment). A key that already has a ticket is skipped, so two syncs never open two.
    pub async fn apply_ticket_sync(
        &self,
        integration: i64,
        creates: &[NewTicket],
        updates: &[(i64, String, String, Option<String>, String)],
        closes: &[(i64, String)],
        now: OffsetDateTime,
    ) -> Result<TicketChanges> {
        let t = ts(now);
        let mut changes = TicketChanges::default();
        with_pool!(self, |p| {
            let mut tx = p.begin_write().await?;
            // The calls to queue: (ticket, action, its content, the comment).
            let mut calls: Vec<(i64, &str, String, Option<&str>)> = Vec::new();
            for c in creates {
                let id: Option<i64> = sqlx::query_scalar(
                    "INSERT INTO tickets (integration_id, key, asset_id, status, priority, fingerprint, \
                     content, created_at, updated_at) VALUES ($1, $2, $3, 'pending', $4, $5, $6, $7, $7) \
                     ON CONFLICT (integration_id, key) DO NOTHING RETURNING id",
                )
                .bind(integration)
                .bind(&c.key)
                .bind(c.asset_id)
                .bind(&c.priority)
                .bind(&c.fingerprint)
                .bind(&c.content)
                .bind(t)
                .fetch_optional(&mut *tx)
                .await?;
                if let Some(id) = id {
                    calls.push((id, "create", c.content.clone(), None));
                    changes.created += 1;
                }
            }
            for (id, fp, content, priority, comment) in updates {
                let n = sqlx::query(
                    "UPDATE tickets SET fingerprint = $2, content = $3, priority = $4, updated_at = $5, \
                     status = CASE WHEN status = 'closed' THEN 'open' ELSE status END, closed_at = NULL \
                     WHERE id = $1 AND fingerprint <> $2",
                )
                .bind(id)
                .bind(fp)
                .bind(content)
                .bind(priority)
                .bind(t)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if n > 0 {
                    calls.push((*id, "update", content.clone(), Some(comment)));
                    changes.updated += 1;
                }
            }
            for (id, comment) in closes {
                let content: Option<String> = sqlx::query_scalar(
                    "UPDATE tickets SET status = 'closing', updated_at = $2 \
                     WHERE id = $1 AND status IN ('pending', 'open') RETURNING content",
                )
                .bind(id)
                .bind(t)
                .fetch_optional(&mut *tx)
                .await?;
                if let Some(content) = content {
                    calls.push((*id, "close", content, Some(comment)));
                    changes.closed += 1;
                }
            }
            for (id, action, content, comment) in calls {
                let payload = serde_json::json!({
                    "ticket": serde_json::from_str::<serde_json::Value>(&content).unwrap_or_default(),
                    "comment": comment,
                });
                sqlx::query(
                    "INSERT INTO deliveries (integration_id, ticket_id, action, payload, run_after, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $5)",
                )
                .bind(integration)
                .bind(id)
                .bind(action)
                .bind(payload.to_string())
                .bind(t)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
        });
        Ok(changes)
    }

    /// Records the vendor's answer to a ticket call: `create` stores the external id and opens
    /// the ticket; `close` closes it.
    pub async fn ticket_delivered(
        &self,
        ticket: i64,
        action: &str,
        external: Option<(&str, Option<&str>)>,
        now: OffsetDateTime,
    ) -> Result<()> {
        let t = ts(now);
        with_pool!(self, |p| {
            match (action, external) {
                ("create", Some((id, url))) => sqlx::query(
                    "UPDATE tickets SET external_id = $2, url = $3, updated_at = $4, \
                     status = CASE WHEN status = 'pending' THEN 'open' ELSE status END WHERE id = $1",
                )
                .bind(ticket)
                .bind(id)
                .bind(url)
                .bind(t)
                .execute(p)
                .await?,
                ("close", _) => sqlx::query(
                    "UPDATE tickets SET status = 'closed', closed_at = $2, updated_at = $2 WHERE id = $1 AND status = 'closing'",
                )
                .bind(ticket)
                .bind(t)
                .execute(p)
                .await?,
                _ => return Ok(()),
            };
        });
        Ok(())
    }

    /// The external id of a ticket, once its create was delivered.
    pub async fn ticket_external(&self, ticket: i64) -> Result<Option<String>> {
        Ok(with_pool!(self, |p| sqlx::query_scalar(
            "SELECT external_id FROM tickets WHERE id = $1"
        )
        .bind(ticket)
        .fetch_optional(p)
        .await?)
        .flatten())
    }

    /// Queues a notification for a connector.
    pub async fn queue_notice(
        &self,
        integration: i64,
        rule: Option<i64>,
        payload: &str,
        now: OffsetDateTime,
    ) -> Result<i64> {
        Ok(with_pool!(self, |p| {
            sqlx::query_scalar(
            "INSERT INTO deliveries (integration_id, rule_id, action, payload, run_after, created_at) \
             VALUES ($1, $2, 'notify', $3, $4, $4) RETURNING id"
        )
        .bind(integration)
        .bind(rule)
        .bind(payload)
        .bind(ts(now))
        .fetch_one(p)
        .await?
        }))
    }

    /// Claims up to `limit` due calls of one connector (queued and due, or running with an
    /// expired lease), oldest first, under a lease until `lease_until`.
    pub async fn claim_deliveries(
        &self,
        integration: i64,
        limit: u32,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
    ) -> Result<Vec<DeliveryRow>> {
        let lock = match self.backend() {
            crate::Backend::Postgres => " FOR UPDATE SKIP LOCKED",
            crate::Backend::Sqlite => "",
        };
        let sql = format!(
            "UPDATE deliveries SET status = 'running', attempts = attempts + 1, lease_until = $3 \
             WHERE id IN (SELECT id FROM deliveries WHERE integration_id = $1 AND \
             ((status = 'queued' AND run_after <= $2) OR (status = 'running' AND lease_until < $2)) \
             ORDER BY id LIMIT $4{lock}) RETURNING {DELIVERY_COLUMNS}"
        );
        let mut rows: Vec<DeliveryRow> =
            with_pool!(self, |p| sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
                .bind(integration)
                .bind(ts(now))
                .bind(ts(lease_until))
                .bind(i64::from(limit))
                .fetch_all(p)
                .await?);
        rows.sort_by_key(|r| r.id);
        Ok(rows)
    }

    /// Connectors with due calls.
    pub async fn integrations_with_due(&self, now: OffsetDateTime) -> Result<Vec<i64>> {
        Ok(with_pool!(self, |p| {
            sqlx::query_scalar(
            "SELECT DISTINCT integration_id FROM deliveries WHERE (status = 'queued' AND run_after <= $1) \
             OR (status = 'running' AND lease_until < $1)"
        )
        .bind(ts(now))
        .fetch_all(p)
        .await?
        }))
    }

    /// Marks a call done.
    pub async fn delivery_done(&self, id: i64, now: OffsetDateTime) -> Result<()> {
        with_pool!(self, |p| {
            sqlx::query(
            "UPDATE deliveries SET status = 'done', finished_at = $2, last_error = NULL, lease_until = NULL WHERE id = $1"
        )
        .bind(id)
        .bind(ts(now))
        .execute(p)
        .await
        .map(drop)?
        });
        Ok(())
    }

    /// Puts a call back in the queue until `run_after`, or in the dead-letter list when `dead`.
    pub async fn delivery_failed(
        &self,
        id: i64,
        error: &str,
        run_after: OffsetDateTime,
        dead: bool,
        now: OffsetDateTime,
    ) -> Result<()> {
        let status = if dead { "dead" } else { "queued" };
        with_pool!(self, |p| {
            sqlx::query(
            "UPDATE deliveries SET status = $2, last_error = $3, run_after = $4, lease_until = NULL, \
             finished_at = CASE WHEN $2 = 'dead' THEN $5 ELSE NULL END WHERE id = $1"
        )
        .bind(id)
        .bind(status)
        .bind(error)
        .bind(ts(run_after))
        .bind(ts(now))
        .execute(p)
        .await
        .map(drop)?
        });
        Ok(())
    }

    /// Calls in a status (`queued`, `dead` …), oldest first.
    pub async fn deliveries(&self, status: &str, limit: u32) -> Result<Vec<DeliveryRow>> {
        let sql = format!(
            "SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE status = $1 ORDER BY id LIMIT $2"
        );
        Ok(with_pool!(self, |p| sqlx::query_as(sqlx::AssertSqlSafe(
            sql
        ))
        .bind(status)
        .bind(i64::from(limit))
        .fetch_all(p)
        .await?))
    }

    /// Counts of calls by status.
    pub async fn delivery_counts(&self) -> Result<Vec<(String, i64)>> {
        Ok(with_pool!(self, |p| sqlx::query_as(
            "SELECT status, COUNT(*) FROM deliveries GROUP BY status ORDER BY status"
        )
        .fetch_all(p)
        .await?))
    }

    /// Puts dead calls back in the queue (all when `ids` is empty); returns how many.
    pub async fn requeue_dead(&self, ids: &[i64], now: OffsetDateTime) -> Result<u64> {
        let filter = if ids.is_empty() {
            String::new()
        } else {
            format!(" AND id IN ({})", id_list(ids.iter().copied()))
        };
        let sql = format!(
            "UPDATE deliveries SET status = 'queued', attempts = 0, run_after = $1, finished_at = NULL \
             WHERE status = 'dead'{filter}"
        );
        Ok(with_pool!(self, |p| sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(ts(now))
            .execute(p)
            .await?
            .rows_affected()))
    }

    /// Stores an alert rule (`kinds` and `integrations` as lists in the row's text forms are
    /// built here from `kinds` and `integrations`); a name already taken is a conflict.
    pub async fn create_alert_rule(
        &self,
        r: &AlertRuleRow,
        kinds: &[String],
        integrations: &[String],
        now: OffsetDateTime,
    ) -> Result<i64> {
        let res: std::result::Result<i64, sqlx::Error> = with_pool!(self, |p| {
            sqlx::query_scalar(
            "INSERT INTO alert_rules (name, scope_id, kinds, integrations, digest_minutes, max_per_hour, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id"
        )
        .bind(&r.name)
        .bind(r.scope_id)
        .bind(format!(",{},", kinds.join(",")))
        .bind(serde_json::to_string(integrations).unwrap_or_default())
        .bind(r.digest_minutes)
        .bind(r.max_per_hour)
        .bind(ts(now))
        .fetch_one(p)
        .await
        });
        res.map_err(|e| StoreError::conflict_on_unique(e, "alert rule", &r.name))
    }

    /// Every alert rule.
    pub async fn alert_rules(&self) -> Result<Vec<AlertRuleRow>> {
        let sql = format!("SELECT {RULE_COLUMNS} FROM alert_rules ORDER BY name");
        Ok(with_pool!(self, |p| sqlx::query_as(sqlx::AssertSqlSafe(
            sql
        ))
        .fetch_all(p)
        .await?))
    }

    /// Removes an alert rule.
    pub async fn remove_alert_rule(&self, name: &str) -> Result<bool> {
        Ok(with_pool!(self, |p| sqlx::query(
            "DELETE FROM alert_rules WHERE name = $1"
        )
        .bind(name)
        .execute(p)
        .await?
        .rows_affected())
            > 0)
    }

    /// Matches every alert not yet dispatched against the rules (kind, and scope: the alert's
    /// own or its asset's membership), queues the matches as pending, and marks the alerts
    /// dispatched — one transaction. Returns how many (rule, alert) pairs were queued.
    pub async fn match_alerts(&self, now: OffsetDateTime) -> Result<u64> {
        let t = ts(now);
        Ok(with_pool!(self, |p| {
            let mut tx = p.begin_write().await?;
            let top: Option<i64> =
                sqlx::query_scalar("SELECT MAX(id) FROM alerts WHERE dispatched_at IS NULL")
                    .fetch_one(&mut *tx)
                    .await?;
            let Some(top) = top else {
                return Ok(0);
            };
            let n = sqlx::query(
                "INSERT INTO alert_pending (rule_id, alert_id) \
                 SELECT r.id, a.id FROM alerts a JOIN alert_rules r \
                 ON r.kinds LIKE '%,' || a.kind || ',%' \
                 AND (r.scope_id IS NULL OR r.scope_id = a.scope_id OR EXISTS \
                      (SELECT 1 FROM asset_scopes m WHERE m.scope_id = r.scope_id AND m.asset_id = a.asset_id)) \
                 WHERE a.dispatched_at IS NULL AND a.id <= $1 ON CONFLICT DO NOTHING",
            )
            .bind(top)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            sqlx::query(
                "UPDATE alerts SET dispatched_at = $1 WHERE dispatched_at IS NULL AND id <= $2",
            )
            .bind(t)
            .bind(top)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            n
        }))
    }

    /// The alerts waiting for a rule, oldest first.
    pub async fn pending_alerts(&self, rule: i64) -> Result<Vec<Alert>> {
        let ids: Vec<i64> = with_pool!(self, |p| sqlx::query_scalar(
            "SELECT alert_id FROM alert_pending WHERE rule_id = $1 ORDER BY alert_id"
        )
        .bind(rule)
        .fetch_all(p)
        .await?);
        self.alerts_by_id(&ids).await
    }

    /// Records that a rule sent alerts: they leave the pending list, and the rule's hour
    /// window counts one more message.
    pub async fn rule_sent(&self, rule: i64, alerts: &[i64], now: OffsetDateTime) -> Result<()> {
        let t = ts(now);
        with_pool!(self, |p| {
            let mut tx = p.begin_write().await?;
            if !alerts.is_empty() {
                let sql = format!(
                    "DELETE FROM alert_pending WHERE rule_id = $1 AND alert_id IN ({})",
                    id_list(alerts.iter().copied())
                );
                sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(rule)
                    .execute(&mut *tx)
                    .await?;
            }
            sqlx::query(
                "UPDATE alert_rules SET last_sent_at = $2, \
                 window_count = CASE WHEN window_start IS NULL OR window_start <= $2 - 3600 THEN 1 ELSE window_count + 1 END, \
                 window_start = CASE WHEN window_start IS NULL OR window_start <= $2 - 3600 THEN $2 ELSE window_start END \
                 WHERE id = $1",
            )
            .bind(rule)
            .bind(t)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
        });
        Ok(())
    }

    /// Starts a remediation run; returns its id.
    pub async fn create_remediation(&self, r: &RemediationRow, now: OffsetDateTime) -> Result<i64> {
        Ok(with_pool!(self, |p| {
            sqlx::query_scalar(
            "INSERT INTO remediation_runs (asset_id, scope_id, target, manager, plan, status, dry_run, \
             requested_by, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id"
        )
        .bind(r.asset_id)
        .bind(r.scope_id)
        .bind(&r.target)
        .bind(&r.manager)
        .bind(&r.plan)
        .bind(&r.status)
        .bind(&r.dry_run)
        .bind(&r.requested_by)
        .bind(ts(now))
        .fetch_one(p)
        .await?
        }))
    }

    /// One remediation run.
    pub async fn remediation(&self, id: i64) -> Result<Option<RemediationRow>> {
        let sql = format!("SELECT {RUN_COLUMNS} FROM remediation_runs WHERE id = $1");
        Ok(with_pool!(self, |p| sqlx::query_as(sqlx::AssertSqlSafe(
            sql
        ))
        .bind(id)
        .fetch_optional(p)
        .await?))
    }

    /// Remediation runs, newest first.
    pub async fn remediations(&self, limit: u32) -> Result<Vec<RemediationRow>> {
        let sql = format!("SELECT {RUN_COLUMNS} FROM remediation_runs ORDER BY id DESC LIMIT $1");
        Ok(with_pool!(self, |p| sqlx::query_as(sqlx::AssertSqlSafe(
            sql
        ))
        .bind(i64::from(limit))
        .fetch_all(p)
        .await?))
    }

    /// Moves a run from status `from` to `to` (and stamps who/when for approvals and starts);
    /// false when it was not in `from` (someone else moved it first).
    pub async fn move_remediation(
        &self,
        id: i64,
        from: &str,
        to: &str,
        actor: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<bool> {
        let t = ts(now);
        Ok(with_pool!(self, |p| sqlx::query(
            "UPDATE remediation_runs SET status = $3, \
             approved_by = CASE WHEN $3 = 'approved' THEN $4 ELSE approved_by END, \
             approved_at = CASE WHEN $3 = 'approved' THEN $5 ELSE approved_at END, \
             started_at = CASE WHEN $3 = 'running' THEN $5 ELSE started_at END \
             WHERE id = $1 AND status = $2"
        )
        .bind(id)
        .bind(from)
        .bind(to)
        .bind(actor)
        .bind(t)
        .execute(p)
        .await?
        .rows_affected())
            > 0)
    }

    /// Finishes a run: final status, log and verification.
    pub async fn finish_remediation(
        &self,
        id: i64,
        status: &str,
        log: &str,
        result: &str,
        now: OffsetDateTime,
    ) -> Result<()> {
        with_pool!(self, |p| {
            sqlx::query(
            "UPDATE remediation_runs SET status = $2, log = $3, result = $4, finished_at = $5 WHERE id = $1"
        )
        .bind(id)
        .bind(status)
        .bind(log)
        .bind(result)
        .bind(ts(now))
        .execute(p)
        .await
        .map(drop)?
        });
        Ok(())
    }

    /// Raises the `new_p1` alerts: findings still open that were first detected in (since,
    /// now] at P1, or whose vulnerability's priority became P1 in that interval. One per
    /// finding ever (its de-duplication key). Returns how many were raised.
    pub async fn raise_new_p1(&self, since: OffsetDateTime, now: OffsetDateTime) -> Result<u64> {
        const SQL: &str = "INSERT INTO alerts (at, kind, severity, asset_id, finding_id, subject, message, dedup_key) \
             SELECT $2, 'new_p1', 'critical', f.asset_id, f.id, a.name, \
             'P1 on ' || a.name || ': ' || f.vuln_id || ' in ' || f.component || ' — ' || c.explanation, \
             'new_p1:' || CAST(f.id AS TEXT) \
             FROM findings f JOIN priority_contexts c ON c.id = f.context_id JOIN assets a ON a.id = f.asset_id \
             WHERE c.priority = 1 AND f.status IN ('new', 'open', 'reopened') \
             AND ((f.first_detected > $1 AND f.first_detected <= $2) OR (c.updated_at > $1 AND c.updated_at <= $2)) \
             ON CONFLICT (dedup_key) DO NOTHING";
        Ok(with_pool!(self, |p| sqlx::query(SQL)
            .bind(ts(since))
            .bind(ts(now))
            .execute(p)
            .await?
            .rows_affected()))
    }

    /// Raises `kev_new` alerts: an open finding whose CVE entered CISA KEV on or after
    /// `added_since` (`YYYY-MM-DD`); one per CVE and asset.
    pub async fn raise_kev_new(&self, added_since: &str, now: OffsetDateTime) -> Result<u64> {
        const SQL: &str = "INSERT INTO alerts (at, kind, severity, asset_id, subject, message, dedup_key) \
             SELECT $2, 'kev_new', 'critical', f.asset_id, k.cve, \
             k.cve || ' (' || k.vendor || ' ' || k.product || ') was added to CISA KEV on ' || k.date_added || ' and affects ' || MIN(a.name), \
             'kev_new:' || k.cve || ':' || CAST(f.asset_id AS TEXT) \
             FROM kev_entries k JOIN findings f ON f.vuln_id = k.cve JOIN assets a ON a.id = f.asset_id \
             WHERE CAST(k.date_added AS TEXT) >= $1 AND f.status IN ('new', 'open', 'reopened') \
             GROUP BY k.cve, k.vendor, k.product, k.date_added, f.asset_id \
             ON CONFLICT (dedup_key) DO NOTHING";
        Ok(with_pool!(self, |p| sqlx::query(SQL)
            .bind(added_since)
            .bind(ts(now))
            .execute(p)
            .await?
            .rows_affected()))
    }

    /// Raises `sla_breached` alerts for open findings whose due date (first detection + SLA
    /// days) fell in (since, now], and `sla_near` for those falling due within `near_secs`
    /// after now (and not already warned).
    pub async fn raise_sla(
        &self,
        since: OffsetDateTime,
        now: OffsetDateTime,
        near_secs: i64,
    ) -> Result<(u64, u64)> {
        const SQL: &str = "INSERT INTO alerts (at, kind, severity, asset_id, finding_id, subject, message, dedup_key) \
             SELECT $2, $4, $5, f.asset_id, f.id, a.name, \
             $6 || a.name || ': ' || f.vuln_id || ' in ' || f.component || ' (P' || CAST(c.priority AS TEXT) || ', ' || CAST(c.sla_days AS TEXT) || ' days)', \
             $4 || ':' || CAST(f.id AS TEXT) \
             FROM findings f JOIN priority_contexts c ON c.id = f.context_id JOIN assets a ON a.id = f.asset_id \
             WHERE f.status IN ('new', 'open', 'reopened') \
             AND f.first_detected + c.sla_days * 86400 > $1 AND f.first_detected + c.sla_days * 86400 <= $3 \
             ON CONFLICT (dedup_key) DO NOTHING";
        let run =
            |lo: i64, hi: i64, kind: &'static str, sev: &'static str, prefix: &'static str| {
                let sql = SQL;
                async move {
                    Ok::<u64, StoreError>(with_pool!(self, |p| sqlx::query(sql)
                        .bind(lo)
                        .bind(ts(now))
                        .bind(hi)
                        .bind(kind)
                        .bind(sev)
                        .bind(prefix)
                        .execute(p)
                        .await?
                        .rows_affected()))
                }
            };
        let breached = run(ts(since), ts(now), "sla_breached", "high", "SLA passed on ").await?;
        let near = run(
            ts(now),
            ts(now) + near_secs,
            "sla_near",
            "medium",
            "SLA due soon on ",
        )
        .await?;
        Ok((breached, near))
    }

    /// Raises an alert unless one with the same de-duplication key exists; the id when raised.
    pub async fn raise_alert_once(
        &self,
        a: &crate::NewAlert<'_>,
        scope: Option<i64>,
        dedup_key: &str,
        now: OffsetDateTime,
    ) -> Result<Option<i64>> {
        Ok(with_pool!(self, |p| {
            sqlx::query_scalar(
            "INSERT INTO alerts (at, kind, severity, asset_id, scope_id, subject, message, dedup_key) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (dedup_key) DO NOTHING RETURNING id"
        )
        .bind(ts(now))
        .bind(a.kind)
        .bind(a.severity)
        .bind(a.asset.map(|a| a.0))
        .bind(scope)
        .bind(a.subject)
        .bind(a.message)
        .bind(dedup_key)
        .fetch_optional(p)
        .await?
        }))
    }
}
