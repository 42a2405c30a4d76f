//! ServiceNow Table API: `POST /api/now/table/{table}` (default `incident`), `PATCH
//! /api/now/table/{table}/{sys_id}` for updates (a `work_notes` entry says why) and for closing
//! (`state`, `close_code`, `close_notes`), `GET …?sysparm_query=correlation_id=…` to find a
//! ticket again. Basic authentication; JSON both ways.

use std::time::Duration;

use reqwest::Client;
use serde::Deserialize;
use serde_json::{Value, json};
use zeroize::Zeroizing;

use crate::http::{self, send};
use crate::jira::enc;
use crate::{External, SendError, Ticket};

pub(crate) const SETTINGS: &[&str] = &[
    "url",
    "user",
    "table",
    "assignment_group",
    "resolved_state",
    "close_code",
    "ca_file",
];

/// ServiceNow settings (the password is a secret).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceNowSettings {
    /// Instance URL (`https://example.service-now.com`).
    pub url: String,
    /// Integration user.
    pub user: String,
    /// Table (default `incident`).
    #[serde(default = "incident")]
    pub table: String,
    /// `assignment_group` to set (a name or sys_id).
    pub assignment_group: Option<String>,
    /// The `state` that closes (default `6`, Resolved).
    #[serde(default = "resolved")]
    pub resolved_state: String,
    /// `close_code` when closing (default `Solution provided`).
    #[serde(default = "solution")]
    pub close_code: String,
    /// PEM file of a private CA.
    pub ca_file: Option<String>,
}

fn incident() -> String {
    "incident".into()
}
fn resolved() -> String {
    "6".into()
}
fn solution() -> String {
    "Solution provided".into()
}

pub(crate) struct ServiceNow {
    s: ServiceNowSettings,
    base: String,
    password: Zeroizing<String>,
    client: Client,
}

impl ServiceNow {
    pub(crate) fn new(
        s: ServiceNowSettings,
        password: &str,
        timeout: Duration,
    ) -> Result<ServiceNow, String> {
        if s.table.is_empty()
            || !s
                .table
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            return Err(format!(
                "servicenow connector: `{}` is not a table name",
                s.table
            ));
        }
        Ok(ServiceNow {
            base: http::base(&s.url, "servicenow url")?,
            client: http::client(timeout, s.ca_file.as_deref())?,
            password: Zeroizing::new(password.to_string()),
            s,
        })
    }

    fn table(&self) -> String {
        format!("{}/api/now/table/{}", self.base, self.s.table)
    }

    fn req(&self, method: reqwest::Method, url: String) -> reqwest::RequestBuilder {
        self.client
            .request(method, url)
            .basic_auth(&self.s.user, Some(self.password.as_str()))
            .header(reqwest::header::ACCEPT, "application/json")
    }

    fn external(&self, sys_id: &str) -> External {
        External {
            id: sys_id.to_string(),
            url: Some(format!(
                "{}/nav_to.do?uri={}.do%3Fsys_id%3D{sys_id}",
                self.base, self.s.table
            )),
        }
    }

    fn record(&self, t: &Ticket) -> Value {
        // Urgency and impact 1 (high) … 3 (low): P1 high/high, P2 high/medium, P3 medium, P4 low.
        let (urgency, impact) = match crate::priority_rank(t.priority.as_deref()) {
            1 => ("1", "1"),
            2 => ("1", "2"),
            3 => ("2", "2"),
            _ => ("3", "3"),
        };
        let mut r = json!({
            "short_description": t.summary,
            "description": t.text(),
            "urgency": urgency,
            "impact": impact,
            "correlation_id": t.label(),
            "correlation_display": "Vantage",
        });
        if let Some(g) = &self.s.assignment_group {
            r["assignment_group"] = json!(g);
        }
        if let Some(d) = &t.due {
            r["due_date"] = json!(format!("{d} 00:00:00"));
        }
        r
    }

    pub(crate) async fn find(&self, t: &Ticket) -> Result<Option<External>, SendError> {
        let q = format!("correlation_id={}", t.label());
        let a = send(
            self.req(reqwest::Method::GET, self.table()).query(&[
                ("sysparm_query", q.as_str()),
                ("sysparm_fields", "sys_id,number"),
                ("sysparm_limit", "1"),
            ]),
            "servicenow query",
        )
        .await?;
        let v = a.json("servicenow query")?;
        Ok(v["result"]
            .as_array()
            .and_then(|r| r.first())
            .and_then(|r| r["sys_id"].as_str())
            .map(|id| self.external(id)))
    }

    pub(crate) async fn create(&self, t: &Ticket) -> Result<External, SendError> {
        let a = send(
            self.req(reqwest::Method::POST, self.table())
                .json(&self.record(t)),
            "servicenow create",
        )
        .await?;
        let v = a.json("servicenow create")?;
        let id = v["result"]["sys_id"].as_str().ok_or_else(|| {
            SendError::Fatal(format!(
                "servicenow create: the answer has no result.sys_id: {}",
                http::snippet(&a.body)
            ))
        })?;
        Ok(self.external(id))
    }

    async fn patch(&self, sys_id: &str, body: Value, what: &str) -> Result<(), SendError> {
        send(
            self.req(
                reqwest::Method::PATCH,
                format!("{}/{}", self.table(), enc(sys_id)),
            )
            .json(&body),
            what,
        )
        .await
        .map(drop)
    }

    pub(crate) async fn update(
        &self,
        sys_id: &str,
        t: &Ticket,
        comment: &str,
    ) -> Result<(), SendError> {
        let mut body = self.record(t);
        body["work_notes"] = json!(comment);
        self.patch(sys_id, body, "servicenow update").await
    }

    pub(crate) async fn close(&self, sys_id: &str, comment: &str) -> Result<(), SendError> {
        self.patch(
            sys_id,
            json!({
                "state": self.s.resolved_state,
                "close_code": self.s.close_code,
                "close_notes": comment,
                "work_notes": comment,
            }),
            "servicenow close",
        )
        .await
    }

    pub(crate) async fn test(&self) -> Result<String, SendError> {
        let a = send(
            self.req(reqwest::Method::GET, self.table())
                .query(&[("sysparm_limit", "1"), ("sysparm_fields", "sys_id")]),
            "servicenow read",
        )
        .await?;
        a.json("servicenow read")?;
        Ok(format!(
            "authenticated to ServiceNow as {}; table {} readable",
            self.s.user, self.s.table
        ))
    }
}
