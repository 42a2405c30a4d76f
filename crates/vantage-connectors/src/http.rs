//! The HTTP side shared by every connector: one client per connector (rustls, bounded time,
//! an optional private CA), and the verdict on each answer — success, retry (timeouts,
//! connection errors, 429 with `Retry-After`, 5xx) or fatal (other 4xx). Errors never carry the
//! URL (webhook URLs are secrets) nor the request.

use std::time::Duration;

use reqwest::{Client, RequestBuilder, StatusCode};

use crate::SendError;

/// Longest wait honoured from a `Retry-After` header.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);

/// A client bounded by `timeout`, trusting the system roots and `ca_file` when given.
pub(crate) fn client(timeout: Duration, ca_file: Option<&str>) -> Result<Client, String> {
    let mut b = Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(10)))
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("vantage/", env!("CARGO_PKG_VERSION")));
    if let Some(path) = ca_file {
        let pem = std::fs::read(path).map_err(|e| format!("ca_file {path}: {e}"))?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem)
            .map_err(|e| format!("ca_file {path}: {e}"))?;
        for c in certs {
            b = b.add_root_certificate(c);
        }
    }
    b.build().map_err(|e| e.without_url().to_string())
}

/// A base URL without its trailing slash; `http` or `https` only.
pub(crate) fn base(url: &str, what: &str) -> Result<String, String> {
    let u = url::Url::parse(url).map_err(|e| format!("{what}: `{url}` is not a URL: {e}"))?;
    if !matches!(u.scheme(), "http" | "https") {
        return Err(format!("{what}: `{url}` must be http or https"));
    }
    Ok(url.trim_end_matches('/').to_string())
}

/// An answer: status and body.
pub(crate) struct Answer {
    pub status: StatusCode,
    pub body: Vec<u8>,
}

impl Answer {
    /// The body as JSON; a garbage body is fatal (`what` names the call).
    pub fn json(&self, what: &str) -> Result<serde_json::Value, SendError> {
        serde_json::from_slice(&self.body).map_err(|e| {
            SendError::Fatal(format!(
                "{what}: the answer ({}) is not the documented JSON: {e}: {}",
                self.status,
                snippet(&self.body)
            ))
        })
    }
}

/// Sends a request; 2xx is an [`Answer`], anything else a [`SendError`] named after `what`.
pub(crate) async fn send(req: RequestBuilder, what: &str) -> Result<Answer, SendError> {
    let resp = req.send().await.map_err(|e| {
        let e = e.without_url();
        SendError::Retry {
            after: None,
            reason: format!(
                "{what}: {}",
                if e.is_timeout() {
                    "no answer in time".to_string()
                } else {
                    chain(&e)
                }
            ),
        }
    })?;
    let status = resp.status();
    let retry_after = resp
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(parse_retry_after);
    let body = resp
        .bytes()
        .await
        .map_err(|e| SendError::Retry {
            after: None,
            reason: format!("{what}: reading the answer: {}", chain(&e.without_url())),
        })?
        .to_vec();
    if status.is_success() {
        return Ok(Answer { status, body });
    }
    let reason = format!("{what}: HTTP {status}: {}", snippet(&body));
    if status == StatusCode::TOO_MANY_REQUESTS
        || status.is_server_error()
        || status == StatusCode::REQUEST_TIMEOUT
    {
        Err(SendError::Retry {
            after: retry_after,
            reason,
        })
    } else {
        Err(SendError::Fatal(reason))
    }
}

/// `Retry-After`: seconds, or an HTTP date.
fn parse_retry_after(v: &str) -> Option<Duration> {
    let v = v.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs).min(MAX_RETRY_AFTER));
    }
    let when =
        time::OffsetDateTime::parse(v, &time::format_description::well_known::Rfc2822).ok()?;
    let wait = when - time::OffsetDateTime::now_utc();
    Some(
        Duration::try_from(wait)
            .unwrap_or(Duration::ZERO)
            .min(MAX_RETRY_AFTER),
    )
}

/// The first 300 characters of a body, on one line.
pub(crate) fn snippet(body: &[u8]) -> String {
    let s = String::from_utf8_lossy(body);
    let s: String = s.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut out: String = s.chars().take(300).collect();
    if s.chars().count() > 300 {
        out.push('…');
    }
    if out.is_empty() {
        out.push_str("(empty body)");
    }
    out
}

/// An error and its sources, without URLs.
fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(c) = src {
        let t = c.to_string();
        if !s.contains(&t) {
            s.push_str(": ");
            s.push_str(&t);
        }
        src = c.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_seconds_and_dates() {
        assert_eq!(parse_retry_after("7"), Some(Duration::from_secs(7)));
        assert_eq!(parse_retry_after("999999"), Some(MAX_RETRY_AFTER));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon"), None);
    }

    #[test]
    fn bases_must_be_http() {
        assert_eq!(
            base("https://jira.example/", "url").unwrap(),
            "https://jira.example"
        );
        assert!(
            base("ftp://x", "url")
                .unwrap_err()
                .contains("http or https")
        );
        assert!(base("nope", "url").unwrap_err().contains("not a URL"));
    }
}
