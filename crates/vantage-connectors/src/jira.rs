//! Jira REST API v2 (Data Center / Server: wiki-text fields) and v3 (Cloud: Atlassian Document
//! Format). Create `POST /rest/api/N/issue`, update `PUT /rest/api/N/issue/{key}`, comment
//! `POST …/comment`, close by the transition named in the settings (`GET`/`POST
//! …/transitions`), find by label (`GET /rest/api/2/search` or `/rest/api/3/search/jql`).
//! Authentication: Basic `email:token` when `user` is set (Cloud), else Bearer (a Data Center
//! personal access token).

use std::time::Duration;

use base64::Engine;
use reqwest::Client;
use serde::Deserialize;
use serde_json::{Value, json};
use zeroize::Zeroizing;

use crate::http::{self, send};
use crate::{External, SendError, Ticket};

pub(crate) const SETTINGS: &[&str] = &[
    "url",
    "project",
    "issue_type",
    "api_version",
    "user",
    "done_transition",
    "priorities",
    "ca_file",
];

/// Jira settings (the token is a secret).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JiraSettings {
    /// Base URL (`https://example.atlassian.net`).
    pub url: String,
    /// Project key.
    pub project: String,
    /// Issue type name (default `Task`).
    #[serde(default = "task")]
    pub issue_type: String,
    /// 2 or 3 (default 3).
    #[serde(default = "three")]
    pub api_version: u8,
    /// Account e-mail for Basic authentication; without it the token is a Bearer PAT.
    pub user: Option<String>,
    /// The transition that closes (default `Done`).
    #[serde(default = "done")]
    pub done_transition: String,
    /// Jira priority names for P1…P4 (default Highest, High, Medium, Low); empty: not set.
    pub priorities: Option<Vec<String>>,
    /// PEM file of a private CA.
    pub ca_file: Option<String>,
}

fn task() -> String {
    "Task".into()
}
fn three() -> u8 {
    3
}
fn done() -> String {
    "Done".into()
}

pub(crate) struct Jira {
    s: JiraSettings,
    base: String,
    auth: Zeroizing<String>,
    client: Client,
}

impl Jira {
    pub(crate) fn new(s: JiraSettings, token: &str, timeout: Duration) -> Result<Jira, String> {
        if !matches!(s.api_version, 2 | 3) {
            return Err(format!(
                "jira connector: api_version must be 2 or 3, not {}",
                s.api_version
            ));
        }
        let base = http::base(&s.url, "jira url")?;
        let auth = Zeroizing::new(match &s.user {
            Some(u) => format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{u}:{token}"))
            ),
            None => format!("Bearer {token}"),
        });
        let client = http::client(timeout, s.ca_file.as_deref())?;
        Ok(Jira {
            s,
            base,
            auth,
            client,
        })
    }

    fn api(&self, path: &str) -> String {
        format!("{}/rest/api/{}/{path}", self.base, self.s.api_version)
    }

    fn req(&self, method: reqwest::Method, url: String) -> reqwest::RequestBuilder {
        self.client
            .request(method, url)
            .header(reqwest::header::AUTHORIZATION, self.auth.as_str())
            .header(reqwest::header::ACCEPT, "application/json")
    }

    /// Text as the API version wants it: a string (v2) or an ADF document (v3).
    fn text(&self, paragraphs: &[String]) -> Value {
        if self.s.api_version == 2 {
            return Value::String(paragraphs.join("\n\n"));
        }
        let content: Vec<Value> = paragraphs
            .iter()
            .filter(|p| !p.is_empty())
            .map(|p| json!({"type": "paragraph", "content": [{"type": "text", "text": p}]}))
            .collect();
        json!({"type": "doc", "version": 1, "content": content})
    }

    fn fields(&self, t: &Ticket, with_project: bool) -> Value {
        let mut f = json!({
            "summary": t.summary,
            "description": self.text(&t.body),
            "labels": ["vantage", t.label()],
        });
        if with_project {
            f["project"] = json!({"key": self.s.project});
            f["issuetype"] = json!({"name": self.s.issue_type});
        }
        if let Some(d) = &t.due {
            f["duedate"] = json!(d);
        }
        let names = self.s.priorities.clone().unwrap_or_else(|| {
            ["Highest", "High", "Medium", "Low"]
                .map(String::from)
                .to_vec()
        });
        if let Some(name) = names.get(usize::from(crate::priority_rank(t.priority.as_deref())) - 1)
        {
            f["priority"] = json!({"name": name});
        }
        f
    }

    pub(crate) async fn find(&self, t: &Ticket) -> Result<Option<External>, SendError> {
        let path = if self.s.api_version == 2 {
            "search"
        } else {
            "search/jql"
        };
        let jql = format!(
            "project = \"{}\" AND labels = \"{}\"",
            self.s.project,
            t.label()
        );
        let a = send(
            self.req(reqwest::Method::GET, self.api(path)).query(&[
                ("jql", jql.as_str()),
                ("fields", "status"),
                ("maxResults", "1"),
            ]),
            "jira search",
        )
        .await?;
        let v = a.json("jira search")?;
        Ok(v["issues"]
            .as_array()
            .and_then(|i| i.first())
            .and_then(|i| i["key"].as_str())
            .map(|k| self.external(k)))
    }

    fn external(&self, key: &str) -> External {
        External {
            id: key.to_string(),
            url: Some(format!("{}/browse/{key}", self.base)),
        }
    }

    pub(crate) async fn create(&self, t: &Ticket) -> Result<External, SendError> {
        let a = send(
            self.req(reqwest::Method::POST, self.api("issue"))
                .json(&json!({"fields": self.fields(t, true)})),
            "jira create issue",
        )
        .await?;
        let v = a.json("jira create issue")?;
        let key = v["key"].as_str().ok_or_else(|| {
            SendError::Fatal(format!(
                "jira create issue: the answer has no `key`: {}",
                http::snippet(&a.body)
            ))
        })?;
        Ok(self.external(key))
    }

    async fn comment(&self, key: &str, text: &str) -> Result<(), SendError> {
        send(
            self.req(
                reqwest::Method::POST,
                self.api(&format!("issue/{}/comment", enc(key))),
            )
            .json(&json!({"body": self.text(&[text.to_string()])})),
            "jira comment",
        )
        .await
        .map(drop)
    }

    pub(crate) async fn update(
        &self,
        key: &str,
        t: &Ticket,
        comment: &str,
    ) -> Result<(), SendError> {
        send(
            self.req(
                reqwest::Method::PUT,
                self.api(&format!("issue/{}", enc(key))),
            )
            .json(&json!({"fields": self.fields(t, false)})),
            "jira update issue",
        )
        .await?;
        self.comment(key, comment).await
    }

    pub(crate) async fn close(&self, key: &str, comment: &str) -> Result<(), SendError> {
        self.comment(key, comment).await?;
        let path = self.api(&format!("issue/{}/transitions", enc(key)));
        let a = send(
            self.req(reqwest::Method::GET, path.clone()),
            "jira transitions",
        )
        .await?;
        let v = a.json("jira transitions")?;
        let want = self.s.done_transition.to_lowercase();
        let Some(id) = v["transitions"].as_array().and_then(|ts| {
            ts.iter()
                .find(|t| {
                    t["name"].as_str().map(str::to_lowercase).as_deref() == Some(&want)
                        || t["to"]["name"].as_str().map(str::to_lowercase).as_deref() == Some(&want)
                })
                .and_then(|t| t["id"].as_str())
        }) else {
            // Already closed (no such transition from a done status) is not an error.
            return Ok(());
        };
        send(
            self.req(reqwest::Method::POST, path)
                .json(&json!({"transition": {"id": id}})),
            "jira transition",
        )
        .await
        .map(drop)
    }

    pub(crate) async fn test(&self) -> Result<String, SendError> {
        let a = send(
            self.req(reqwest::Method::GET, self.api("myself")),
            "jira myself",
        )
        .await?;
        let v = a.json("jira myself")?;
        let who = v["emailAddress"]
            .as_str()
            .or(v["displayName"].as_str())
            .or(v["name"].as_str())
            .unwrap_or("?");
        Ok(format!("authenticated to Jira as {who}"))
    }
}

/// Percent-encodes a path segment.
pub(crate) fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}
