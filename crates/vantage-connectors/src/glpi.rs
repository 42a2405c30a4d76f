//! GLPI REST API (`apirest.php`): `GET initSession` with `Authorization: user_token …` and the
//! `App-Token` header gives a `session_token` (kept and renewed when GLPI answers
//! `ERROR_SESSION_TOKEN_INVALID`); `POST Ticket` (`{"input": {…}}`), `PUT Ticket/{id}`, a
//! follow-up `POST Ticket/{id}/ITILFollowup`, and status 5 (solved) to close.

use std::time::Duration;

use reqwest::Client;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::Mutex;
use zeroize::Zeroizing;

use crate::http::{self, send};
use crate::{External, SendError, Ticket};

pub(crate) const SETTINGS: &[&str] = &["url", "entity", "category", "ca_file"];

/// GLPI settings (the user and app tokens are secrets).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GlpiSettings {
    /// The API root (`https://glpi.example/apirest.php`).
    pub url: String,
    /// `entities_id` of new tickets.
    pub entity: Option<u64>,
    /// `itilcategories_id` of new tickets.
    pub category: Option<u64>,
    /// PEM file of a private CA.
    pub ca_file: Option<String>,
}

pub(crate) struct Glpi {
    s: GlpiSettings,
    base: String,
    user_token: Zeroizing<String>,
    app_token: Option<Zeroizing<String>>,
    session: Mutex<Option<Zeroizing<String>>>,
    client: Client,
}

fn ticket_id(id: &str) -> Result<u64, SendError> {
    id.parse()
        .map_err(|_| SendError::Fatal(format!("glpi: `{id}` is not a ticket id")))
}

/// GLPI ticket status "solved".
const SOLVED: u8 = 5;

impl Glpi {
    pub(crate) fn new(
        s: GlpiSettings,
        user_token: &str,
        app_token: Option<&str>,
        timeout: Duration,
    ) -> Result<Glpi, String> {
        Ok(Glpi {
            base: http::base(&s.url, "glpi url")?,
            client: http::client(timeout, s.ca_file.as_deref())?,
            user_token: Zeroizing::new(user_token.to_string()),
            app_token: app_token.map(|a| Zeroizing::new(a.to_string())),
            session: Mutex::new(None),
            s,
        })
    }

    fn with_app(&self, r: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.app_token {
            Some(a) => r.header("App-Token", a.as_str()),
            None => r,
        }
    }

    async fn session(&self, renew: bool) -> Result<Zeroizing<String>, SendError> {
        let mut s = self.session.lock().await;
        if let Some(t) = s.as_ref().filter(|_| !renew) {
            return Ok(t.clone());
        }
        let a = send(
            self.with_app(
                self.client
                    .get(format!("{}/initSession", self.base))
                    .header(
                        reqwest::header::AUTHORIZATION,
                        format!("user_token {}", self.user_token.as_str()),
                    ),
            ),
            "glpi initSession",
        )
        .await?;
        let v = a.json("glpi initSession")?;
        let token = v["session_token"].as_str().ok_or_else(|| {
            SendError::Fatal("glpi initSession: the answer has no session_token".into())
        })?;
        let token = Zeroizing::new(token.to_string());
        *s = Some(token.clone());
        Ok(token)
    }

    /// Sends a call with the session, renewing it once if GLPI says it expired.
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
        what: &str,
    ) -> Result<http::Answer, SendError> {
        let mut renew = false;
        loop {
            let token = self.session(renew).await?;
            let mut r = self.with_app(
                self.client
                    .request(method.clone(), format!("{}/{path}", self.base))
                    .header("Session-Token", token.as_str()),
            );
            if let Some(b) = body {
                r = r.json(b);
            }
            match send(r, what).await {
                Err(SendError::Fatal(m))
                    if !renew && m.contains("401") && m.contains("ERROR_SESSION_TOKEN_INVALID") =>
                {
                    renew = true;
                }
                other => return other,
            }
        }
    }

    fn input(&self, t: &Ticket) -> Value {
        // GLPI urgency: 5 very high … 1 very low.
        let urgency = 6 - crate::priority_rank(t.priority.as_deref());
        let mut i = json!({
            "name": t.summary,
            "content": t.text(),
            "urgency": urgency,
            "impact": urgency,
            "type": 1,
        });
        if let Some(e) = self.s.entity {
            i["entities_id"] = json!(e);
        }
        if let Some(c) = self.s.category {
            i["itilcategories_id"] = json!(c);
        }
        if let Some(d) = &t.due {
            i["time_to_resolve"] = json!(format!("{d} 00:00:00"));
        }
        i
    }

    pub(crate) async fn create(&self, t: &Ticket) -> Result<External, SendError> {
        let a = self
            .call(
                reqwest::Method::POST,
                "Ticket",
                Some(&json!({"input": self.input(t)})),
                "glpi create Ticket",
            )
            .await?;
        let v = a.json("glpi create Ticket")?;
        let id = v["id"].as_u64().ok_or_else(|| {
            SendError::Fatal(format!(
                "glpi create Ticket: the answer has no id: {}",
                http::snippet(&a.body)
            ))
        })?;
        let front = self
            .base
            .strip_suffix("/apirest.php")
            .unwrap_or(&self.base)
            .to_string();
        Ok(External {
            id: id.to_string(),
            url: Some(format!("{front}/front/ticket.form.php?id={id}")),
        })
    }

    async fn followup(&self, id: &str, text: &str) -> Result<(), SendError> {
        let items_id = ticket_id(id)?;
        self.call(
            reqwest::Method::POST,
            &format!("Ticket/{items_id}/ITILFollowup"),
            Some(&json!({"input": {"itemtype": "Ticket", "items_id": items_id, "content": text}})),
            "glpi followup",
        )
        .await
        .map(drop)
    }

    pub(crate) async fn update(
        &self,
        id: &str,
        t: &Ticket,
        comment: &str,
    ) -> Result<(), SendError> {
        let n = ticket_id(id)?;
        self.call(
            reqwest::Method::PUT,
            &format!("Ticket/{n}"),
            Some(&json!({"input": self.input(t)})),
            "glpi update Ticket",
        )
        .await?;
        self.followup(id, comment).await
    }

    pub(crate) async fn close(&self, id: &str, comment: &str) -> Result<(), SendError> {
        self.followup(id, comment).await?;
        let n = ticket_id(id)?;
        self.call(
            reqwest::Method::PUT,
            &format!("Ticket/{n}"),
            Some(&json!({"input": {"status": SOLVED}})),
            "glpi solve Ticket",
        )
        .await
        .map(drop)
    }

    pub(crate) async fn test(&self) -> Result<String, SendError> {
        self.session(true).await?;
        let a = self
            .call(
                reqwest::Method::GET,
                "getFullSession",
                None,
                "glpi getFullSession",
            )
            .await?;
        let v = a.json("glpi getFullSession")?;
        let who = v["session"]["glpiname"].as_str().unwrap_or("?");
        Ok(format!("authenticated to GLPI as {who}"))
    }
}
