//! Chat channels through incoming webhooks: Microsoft Teams (a `message` whose attachment is an
//! Adaptive Card, `application/vnd.microsoft.card.adaptive`, card version 1.4) and Slack
//! (`text` for notifications and previews, `blocks` for the layout). The webhook URL carries its
//! own credential, so it is a secret: it is never logged or put in an error.

use std::time::Duration;

use reqwest::Client;
use serde_json::{Value, json};
use zeroize::Zeroizing;

use crate::http::{self, send};
use crate::{Kind, Notice, SendError};

pub(crate) const SETTINGS: &[&str] = &["ca_file"];

pub(crate) struct Chat {
    kind: Kind,
    url: Zeroizing<String>,
    client: Client,
}

impl Chat {
    pub(crate) fn new(kind: Kind, url: &str, timeout: Duration) -> Result<Chat, String> {
        // Validate without echoing the URL: it is the credential.
        http::base(url, &format!("{} webhook url", kind.as_str())).map_err(|_| {
            format!(
                "{} connector: the webhook url is not an http(s) URL",
                kind.as_str()
            )
        })?;
        Ok(Chat {
            kind,
            url: Zeroizing::new(url.to_string()),
            client: http::client(timeout, None)?,
        })
    }

    pub(crate) async fn notify(&self, n: &Notice) -> Result<(), SendError> {
        let (body, what) = match self.kind {
            Kind::Teams => (teams_card(n), "teams webhook"),
            _ => (slack_message(n), "slack webhook"),
        };
        let a = send(self.client.post(self.url.as_str()).json(&body), what).await?;
        // Slack answers `ok`; a 200 with another text is an error it documents
        // (e.g. `invalid_payload` on older workspaces).
        if self.kind == Kind::Slack {
            let t = String::from_utf8_lossy(&a.body);
            if !t.trim().is_empty() && t.trim() != "ok" {
                return Err(SendError::Fatal(format!(
                    "slack webhook: {}",
                    http::snippet(&a.body)
                )));
            }
        }
        Ok(())
    }
}

/// A Teams message with one Adaptive Card: the title, a fact set, the lines.
pub(crate) fn teams_card(n: &Notice) -> Value {
    let color = match n.severity.as_str() {
        "critical" | "high" => "Attention",
        "medium" => "Warning",
        _ => "Default",
    };
    let mut body = vec![json!({
        "type": "TextBlock", "text": n.title, "weight": "Bolder", "size": "Medium",
        "color": color, "wrap": true
    })];
    if !n.facts.is_empty() {
        body.push(json!({
            "type": "FactSet",
            "facts": n.facts.iter().map(|(k, v)| json!({"title": k, "value": v})).collect::<Vec<_>>()
        }));
    }
    for l in &n.lines {
        body.push(json!({"type": "TextBlock", "text": l, "wrap": true}));
    }
    json!({
        "type": "message",
        "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "contentUrl": null,
            "content": {
                "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                "type": "AdaptiveCard",
                "version": "1.4",
                "body": body
            }
        }]
    })
}

/// A Slack message: `text` (the fallback every client shows) and Block Kit blocks.
pub(crate) fn slack_message(n: &Notice) -> Value {
    let mut text = format!("*{}*", n.title);
    for (k, v) in &n.facts {
        text.push_str(&format!("\n{k}: {v}"));
    }
    for l in &n.lines {
        text.push('\n');
        text.push_str(l);
    }
    let mut blocks = vec![json!({
        "type": "header",
        "text": {"type": "plain_text", "text": n.title.chars().take(150).collect::<String>()}
    })];
    if !n.facts.is_empty() {
        blocks.push(json!({
            "type": "section",
            "fields": n.facts.iter().take(10).map(|(k, v)| json!({"type": "mrkdwn", "text": format!("*{k}*\n{v}")})).collect::<Vec<_>>()
        }));
    }
    if !n.lines.is_empty() {
        let t: String = n.lines.join("\n").chars().take(3000).collect();
        blocks.push(json!({"type": "section", "text": {"type": "mrkdwn", "text": t}}));
    }
    json!({"text": text, "blocks": blocks})
}
