//! Connectors to the tools the teams who patch already live in: ticketing (Jira REST v2/v3,
//! ServiceNow Table API, GLPI REST) and notification (Microsoft Teams incoming webhook with an
//! Adaptive Card, Slack incoming webhook, e-mail over SMTP with STARTTLS, a generic JSON webhook
//! signed with HMAC-SHA256).
//!
//! Each connector speaks its vendor's documented API and nothing else; the store, the queue,
//! retries and de-duplication live in `vantage-app`. What this crate owes the queue is a clear
//! verdict on every call: [`SendError::Retry`] (timeouts, 429 with its `Retry-After`, 5xx) or
//! [`SendError::Fatal`] (401, 403, 400 — retrying would not help). Secrets (tokens, passwords,
//! webhook URLs, HMAC keys) never appear in an error or a log line: HTTP errors are reported
//! without their URL, and webhook URLs are secrets.

mod chat;
mod email;
mod glpi;
mod http;
mod jira;
mod servicenow;
mod webhook;

use std::time::Duration;

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

pub use email::EmailSettings;
pub use glpi::GlpiSettings;
pub use jira::JiraSettings;
pub use servicenow::ServiceNowSettings;
pub use webhook::{WebhookSettings, signature};

/// What a ticket says: built by the app from a remediation unit, a finding or an asset.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Ticket {
    /// Vantage's stable key for the ticket (`unit:12:openssl`); the de-duplication label.
    pub key: String,
    /// One-line title.
    pub summary: String,
    /// Paragraphs of plain text: asset, CVEs, priority and why, due date, the fix.
    pub body: Vec<String>,
    /// `P1` … `P4`.
    pub priority: Option<String>,
    /// Due date, `YYYY-MM-DD`.
    pub due: Option<String>,
    /// The asset's name.
    pub asset: String,
    /// CVEs the ticket is about.
    pub cves: Vec<String>,
}

impl Ticket {
    /// The label that finds this ticket again in the vendor's tool (Jira labels cannot hold
    /// spaces or colons): `vantage-` and the first 16 hex digits of the key's SHA-256.
    pub fn label(&self) -> String {
        use sha2::Digest;
        let h = sha2::Sha256::digest(self.key.as_bytes());
        let hex: String = h.iter().take(8).map(|b| format!("{b:02x}")).collect();
        format!("vantage-{hex}")
    }

    /// The body as one text, paragraphs separated by blank lines.
    pub fn text(&self) -> String {
        self.body.join("\n\n")
    }
}

/// A notification: an alert, a digest of alerts, or a ticket event sent to a chat channel.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Notice {
    /// The event (`alert.new_p1`, `digest`, `test` …).
    pub event: String,
    /// Title.
    pub title: String,
    /// Lines of text.
    pub lines: Vec<String>,
    /// `critical`, `high`, `medium`, `low`, `info`.
    pub severity: String,
    /// Name/value facts (asset, CVE, priority …).
    pub facts: Vec<(String, String)>,
}

/// Where a ticket lives in the vendor's tool.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct External {
    /// The vendor's id (Jira key, ServiceNow sys_id, GLPI id).
    pub id: String,
    /// A link a person can open.
    pub url: Option<String>,
}

/// A failed call: retry later, or give up.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// Worth retrying (timeout, connection refused, 429, 5xx); `after` is the vendor's
    /// `Retry-After` when it sent one.
    #[error("{reason}")]
    Retry {
        /// The vendor's wait.
        after: Option<Duration>,
        /// What happened (never a secret).
        reason: String,
    },
    /// Retrying would not help (401, 403, 400, a garbage answer to a create).
    #[error("{0}")]
    Fatal(String),
}

impl SendError {
    /// Whether a retry may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(self, SendError::Retry { .. })
    }
}

/// The kinds of connector.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// Atlassian Jira (Cloud: REST v3; Data Center/Server: v2).
    Jira,
    /// ServiceNow Table API.
    ServiceNow,
    /// GLPI REST API.
    Glpi,
    /// Microsoft Teams incoming webhook.
    Teams,
    /// Slack incoming webhook.
    Slack,
    /// E-mail over SMTP.
    Email,
    /// Generic JSON webhook, HMAC-SHA256 signed.
    Webhook,
}

impl Kind {
    /// Every kind.
    pub const ALL: [Kind; 7] = [
        Kind::Jira,
        Kind::ServiceNow,
        Kind::Glpi,
        Kind::Teams,
        Kind::Slack,
        Kind::Email,
        Kind::Webhook,
    ];

    /// The name used in configuration.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Jira => "jira",
            Kind::ServiceNow => "servicenow",
            Kind::Glpi => "glpi",
            Kind::Teams => "teams",
            Kind::Slack => "slack",
            Kind::Email => "email",
            Kind::Webhook => "webhook",
        }
    }

    /// Parses a kind name.
    pub fn parse(s: &str) -> Result<Kind, String> {
        Kind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| {
                format!(
                    "unknown connector kind `{s}` (one of: {})",
                    Kind::ALL.map(Kind::as_str).join(", ")
                )
            })
    }

    /// Whether the kind keeps tickets (create, update, close) rather than only notifying.
    pub fn keeps_tickets(self) -> bool {
        matches!(
            self,
            Kind::Jira | Kind::ServiceNow | Kind::Glpi | Kind::Webhook
        )
    }

    /// The settings this kind accepts (secrets excluded) and the secrets it needs.
    pub fn fields(self) -> (&'static [&'static str], &'static [&'static str]) {
        match self {
            Kind::Jira => (jira::SETTINGS, &["token"]),
            Kind::ServiceNow => (servicenow::SETTINGS, &["password"]),
            Kind::Glpi => (glpi::SETTINGS, &["user_token", "app_token"]),
            Kind::Teams | Kind::Slack => (chat::SETTINGS, &["url"]),
            Kind::Email => (email::SETTINGS, &["password"]),
            Kind::Webhook => (webhook::SETTINGS, &["hmac_key"]),
        }
    }
}

/// Secrets of a connector, by name (`token`, `password`, `url` …); wiped from memory on drop and
/// never printed.
#[derive(Default, Clone)]
pub struct Secrets(pub std::collections::BTreeMap<String, Zeroizing<String>>);

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.0.keys().map(|k| format!("{k}=<redacted>")))
            .finish()
    }
}

impl Secrets {
    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .get(name)
            .map(|s| s.as_str())
            .filter(|s| !s.is_empty())
    }

    fn need(&self, kind: Kind, name: &str) -> Result<&str, String> {
        self.get(name)
            .ok_or_else(|| format!("a {} connector needs the secret `{name}`", kind.as_str()))
    }
}

/// A configured connector, ready to call.
pub struct Connector {
    inner: Inner,
}

enum Inner {
    Jira(jira::Jira),
    ServiceNow(servicenow::ServiceNow),
    Glpi(glpi::Glpi),
    Chat(chat::Chat),
    Email(email::Email),
    Webhook(webhook::Webhook),
}

impl Connector {
    /// Builds a connector from its kind, its settings (a JSON object; unknown keys refused) and
    /// its secrets. `timeout` bounds every call.
    pub fn new(
        kind: Kind,
        settings: &serde_json::Value,
        secrets: &Secrets,
        timeout: Duration,
    ) -> Result<Connector, String> {
        let (allowed, _) = kind.fields();
        if let Some(obj) = settings.as_object() {
            if let Some(k) = obj.keys().find(|k| !allowed.contains(&k.as_str())) {
                return Err(format!(
                    "{} connector: unknown setting `{k}` (known: {})",
                    kind.as_str(),
                    allowed.join(", ")
                ));
            }
        } else if !settings.is_null() {
            return Err(format!(
                "{} connector: settings must be an object",
                kind.as_str()
            ));
        }
        let s = if settings.is_null() {
            serde_json::json!({})
        } else {
            settings.clone()
        };
        let parse_err = |e: serde_json::Error| format!("{} connector: {e}", kind.as_str());
        let inner = match kind {
            Kind::Jira => Inner::Jira(jira::Jira::new(
                serde_json::from_value(s).map_err(parse_err)?,
                secrets.need(kind, "token")?,
                timeout,
            )?),
            Kind::ServiceNow => Inner::ServiceNow(servicenow::ServiceNow::new(
                serde_json::from_value(s).map_err(parse_err)?,
                secrets.need(kind, "password")?,
                timeout,
            )?),
            Kind::Glpi => Inner::Glpi(glpi::Glpi::new(
                serde_json::from_value(s).map_err(parse_err)?,
                secrets.need(kind, "user_token")?,
                secrets.get("app_token"),
                timeout,
            )?),
            Kind::Teams | Kind::Slack => {
                Inner::Chat(chat::Chat::new(kind, secrets.need(kind, "url")?, timeout)?)
            }
            Kind::Email => Inner::Email(email::Email::new(
                serde_json::from_value(s).map_err(parse_err)?,
                secrets.get("password"),
                timeout,
            )?),
            Kind::Webhook => Inner::Webhook(webhook::Webhook::new(
                serde_json::from_value(s).map_err(parse_err)?,
                secrets.need(kind, "hmac_key")?,
                timeout,
            )?),
        };
        Ok(Connector { inner })
    }

    /// Finds a ticket opened earlier for `t.key` (Jira: its label; ServiceNow: its
    /// `correlation_id`), so a create lost between the vendor's answer and our store is not
    /// repeated. `None` where the vendor offers no such search.
    pub async fn find(&self, t: &Ticket) -> Result<Option<External>, SendError> {
        match &self.inner {
            Inner::Jira(j) => j.find(t).await,
            Inner::ServiceNow(s) => s.find(t).await,
            _ => Ok(None),
        }
    }

    /// Opens a ticket.
    pub async fn create(&self, t: &Ticket) -> Result<External, SendError> {
        match &self.inner {
            Inner::Jira(j) => j.create(t).await,
            Inner::ServiceNow(s) => s.create(t).await,
            Inner::Glpi(g) => g.create(t).await,
            Inner::Webhook(w) => w.ticket("ticket.created", t, None).await,
            Inner::Chat(_) | Inner::Email(_) => Err(not_tickets()),
        }
    }

    /// Updates a ticket's fields (priority, due date, description) and comments why.
    pub async fn update(&self, id: &str, t: &Ticket, comment: &str) -> Result<(), SendError> {
        match &self.inner {
            Inner::Jira(j) => j.update(id, t, comment).await,
            Inner::ServiceNow(s) => s.update(id, t, comment).await,
            Inner::Glpi(g) => g.update(id, t, comment).await,
            Inner::Webhook(w) => w.ticket("ticket.updated", t, Some(comment)).await.map(drop),
            Inner::Chat(_) | Inner::Email(_) => Err(not_tickets()),
        }
    }

    /// Comments and closes a ticket whose fix was verified.
    pub async fn close(&self, id: &str, t: &Ticket, comment: &str) -> Result<(), SendError> {
        match &self.inner {
            Inner::Jira(j) => j.close(id, comment).await,
            Inner::ServiceNow(s) => s.close(id, comment).await,
            Inner::Glpi(g) => g.close(id, comment).await,
            Inner::Webhook(w) => w.ticket("ticket.closed", t, Some(comment)).await.map(drop),
            Inner::Chat(_) | Inner::Email(_) => Err(not_tickets()),
        }
    }

    /// Sends a notification.
    pub async fn notify(&self, n: &Notice) -> Result<(), SendError> {
        match &self.inner {
            Inner::Chat(c) => c.notify(n).await,
            Inner::Email(e) => e.notify(n).await,
            Inner::Webhook(w) => w.notify(n).await,
            Inner::Jira(_) | Inner::ServiceNow(_) | Inner::Glpi(_) => Err(SendError::Fatal(
                "a ticketing connector takes tickets, not notifications: route alerts to teams, slack, email or webhook".into(),
            )),
        }
    }

    /// Checks the connection and the credentials without changing anything where the vendor
    /// allows it (Jira `myself`, ServiceNow a one-row read, GLPI a session, SMTP a NOOP); chat
    /// channels and webhooks receive a test message. Returns what was checked.
    pub async fn test(&self) -> Result<String, SendError> {
        match &self.inner {
            Inner::Jira(j) => j.test().await,
            Inner::ServiceNow(s) => s.test().await,
            Inner::Glpi(g) => g.test().await,
            Inner::Email(e) => e.test().await,
            Inner::Chat(_) | Inner::Webhook(_) => {
                let n = Notice {
                    event: "test".into(),
                    title: "Vantage connector test".into(),
                    lines: vec!["This channel will receive Vantage alerts.".into()],
                    severity: "info".into(),
                    facts: Vec::new(),
                };
                self.notify(&n).await?;
                Ok("test message delivered".into())
            }
        }
    }
}

fn not_tickets() -> SendError {
    SendError::Fatal(
        "a notification connector does not keep tickets: use jira, servicenow, glpi or webhook"
            .into(),
    )
}

/// Priority P1…P4 to a 1 (highest) … 4 number.
fn priority_rank(p: Option<&str>) -> u8 {
    match p {
        Some("P1") => 1,
        Some("P2") => 2,
        Some("P3") => 3,
        _ => 4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_stable_and_jira_safe() {
        let t = Ticket {
            key: "unit:12:openssl".into(),
            summary: String::new(),
            body: vec![],
            priority: None,
            due: None,
            asset: String::new(),
            cves: vec![],
        };
        let l = t.label();
        assert_eq!(l.len(), "vantage-".len() + 16);
        assert!(l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'));
        assert_eq!(l, t.clone().label());
    }

    #[test]
    fn unknown_settings_and_missing_secrets_are_refused() {
        let e = Connector::new(
            Kind::Jira,
            &serde_json::json!({"url": "http://127.0.0.1:1", "project": "SEC", "colour": "red"}),
            &Secrets::default(),
            Duration::from_secs(1),
        )
        .err()
        .unwrap();
        assert!(e.contains("unknown setting `colour`"), "{e}");
        let e = Connector::new(
            Kind::Jira,
            &serde_json::json!({"url": "http://127.0.0.1:1", "project": "SEC"}),
            &Secrets::default(),
            Duration::from_secs(1),
        )
        .err()
        .unwrap();
        assert!(e.contains("secret `token`"), "{e}");
        assert!(
            Kind::parse("pager")
                .unwrap_err()
                .contains("jira, servicenow")
        );
    }

    #[test]
    fn secrets_debug_hides_values() {
        let mut s = Secrets::default();
        s.0.insert("token".into(), Zeroizing::new("hunter2".into()));
        let d = format!("{s:?}");
        assert!(!d.contains("hunter2") && d.contains("token"), "{d}");
    }
}
