//! The HTTP side shared by every provider: one `reqwest` client, retries with exponential
//! backoff and jitter for throttling and transient failures (`Retry-After` wins when the
//! provider sends it), response size caps, and request counters for the listing's summary.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use reqwest::{RequestBuilder, StatusCode};

use crate::CloudError;

/// Largest response body read (a page of 1,000 instances is a few MiB).
pub const MAX_BODY: usize = 64 << 20;

/// How throttled and failing requests are retried.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Attempts in all (first try included).
    pub attempts: u32,
    /// First backoff; doubled each retry, with up to 50 % random jitter.
    pub base: Duration,
    /// Longest single wait.
    pub max: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            attempts: 6,
            base: Duration::from_millis(500),
            max: Duration::from_secs(20),
        }
    }
}

impl RetryPolicy {
    /// The wait before retry number `n` (1-based).
    pub fn delay(&self, n: u32, retry_after: Option<Duration>) -> Duration {
        if let Some(d) = retry_after {
            return d.min(self.max);
        }
        let exp = self.base.saturating_mul(1u32 << (n - 1).min(16));
        let jitter = exp.mul_f64(jitter_fraction() * 0.5);
        (exp + jitter).min(self.max)
    }
}

fn jitter_fraction() -> f64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    f64::from(nanos % 1000) / 1000.0
}

/// An answer read whole.
#[derive(Debug)]
pub struct Answer {
    /// Status.
    pub status: StatusCode,
    /// Headers.
    pub headers: reqwest::header::HeaderMap,
    /// Body.
    pub body: Vec<u8>,
}

impl Answer {
    /// The body as text (lossy), shortened for error messages.
    pub fn snippet(&self) -> String {
        let s = String::from_utf8_lossy(&self.body);
        let s = s.trim();
        if s.len() > 300 {
            format!("{}…", &s[..s.floor_char_boundary(300)])
        } else {
            s.to_string()
        }
    }
}

/// A client with retries and counters.
#[derive(Debug)]
pub struct Http {
    /// The client.
    pub client: reqwest::Client,
    /// Retry policy.
    pub retry: RetryPolicy,
    requests: AtomicU64,
    throttled: AtomicU64,
}

impl Http {
    /// A client with the given request timeout.
    pub fn new(timeout: Duration, retry: RetryPolicy) -> Result<Self, CloudError> {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .user_agent(concat!("vantage/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| CloudError::Config(format!("HTTP client: {e}")))?;
        Ok(Http {
            client,
            retry,
            requests: AtomicU64::new(0),
            throttled: AtomicU64::new(0),
        })
    }

    /// Requests sent and throttled answers seen so far.
    pub fn counters(&self) -> (u64, u64) {
        (
            self.requests.load(Ordering::Relaxed),
            self.throttled.load(Ordering::Relaxed),
        )
    }

    /// Sends the request `build` makes (called again for each attempt, so signatures and
    /// tokens are fresh), retrying while `throttled(answer)` says the provider asks to slow
    /// down, on 5xx and on connection failures. Returns the last answer, whatever its status.
    pub async fn send(
        &self,
        what: &str,
        build: impl Fn() -> Result<RequestBuilder, CloudError>,
        throttled: impl Fn(&Answer) -> bool,
    ) -> Result<Answer, CloudError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            self.requests.fetch_add(1, Ordering::Relaxed);
            let result = build()?.send().await;
            let retry_after;
            match result {
                Ok(resp) => {
                    let status = resp.status();
                    let headers = resp.headers().clone();
                    let body = read_capped(what, resp).await?;
                    let answer = Answer {
                        status,
                        headers,
                        body,
                    };
                    let throttle = status == StatusCode::TOO_MANY_REQUESTS || throttled(&answer);
                    if throttle {
                        self.throttled.fetch_add(1, Ordering::Relaxed);
                    }
                    let transient = throttle
                        || matches!(
                            status,
                            StatusCode::SERVICE_UNAVAILABLE
                                | StatusCode::BAD_GATEWAY
                                | StatusCode::GATEWAY_TIMEOUT
                                | StatusCode::INTERNAL_SERVER_ERROR
                        );
                    if !transient {
                        return Ok(answer);
                    }
                    if attempt >= self.retry.attempts {
                        if throttle {
                            return Err(CloudError::Throttled(what.to_string()));
                        }
                        return Ok(answer);
                    }
                    retry_after = answer
                        .headers
                        .get(reqwest::header::RETRY_AFTER)
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.trim().parse::<u64>().ok())
                        .map(Duration::from_secs);
                    tracing::debug!(what, status = status.as_u16(), attempt, "retrying");
                }
                Err(e) => {
                    if attempt >= self.retry.attempts || e.is_builder() {
                        return Err(CloudError::Transport {
                            what: what.to_string(),
                            message: error_chain(&e),
                        });
                    }
                    retry_after = None;
                    tracing::debug!(what, error = %e, attempt, "retrying after a transport error");
                }
            }
            tokio::time::sleep(self.retry.delay(attempt, retry_after)).await;
        }
    }
}

async fn read_capped(what: &str, mut resp: reqwest::Response) -> Result<Vec<u8>, CloudError> {
    let mut body = Vec::new();
    loop {
        match resp.chunk().await {
            Ok(Some(c)) => {
                if body.len() + c.len() > MAX_BODY {
                    return Err(CloudError::malformed(
                        what,
                        format!("response larger than {} MiB", MAX_BODY >> 20),
                    ));
                }
                body.extend_from_slice(&c);
            }
            Ok(None) => return Ok(body),
            Err(e) => {
                return Err(CloudError::Transport {
                    what: what.to_string(),
                    message: error_chain(&e),
                });
            }
        }
    }
}

/// An error with its causes, one line.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let t = c.to_string();
        if !s.contains(&t) {
            s.push_str(": ");
            s.push_str(&t);
        }
        cur = c.source();
    }
    s
}

/// Parses a JSON answer, naming the request on failure.
pub fn json(what: &str, a: &Answer) -> Result<serde_json::Value, CloudError> {
    serde_json::from_slice(&a.body).map_err(|e| CloudError::malformed(what, e))
}

/// `GET url` with a header (a bearer token, an OpenStack token), JSON answer. 401 and 403 are
/// [`CloudError::Auth`]; other errors carry the provider's message.
pub async fn get_json(
    http: &Http,
    provider: crate::Provider,
    what: &str,
    url: &str,
    auth: (&str, &str),
) -> Result<serde_json::Value, CloudError> {
    let answer = http
        .send(
            what,
            || Ok(http.client.get(url).header(auth.0, auth.1)),
            |_| false,
        )
        .await?;
    check_json(provider, what, &answer)
}

/// The JSON of a successful answer, or the error it carries.
pub fn check_json(
    provider: crate::Provider,
    what: &str,
    answer: &Answer,
) -> Result<serde_json::Value, CloudError> {
    if answer.status.is_success() {
        return json(what, answer);
    }
    let message = error_message(answer);
    if matches!(answer.status.as_u16(), 401 | 403) {
        return Err(CloudError::Auth {
            provider,
            message: format!("{what}: HTTP {}: {message}", answer.status.as_u16()),
        });
    }
    Err(CloudError::Api {
        what: what.to_string(),
        status: answer.status.as_u16(),
        message,
    })
}

/// The message of a JSON error body in any of the providers' shapes (`{"error": {"code",
/// "message"}}`, `{"error": "…", "error_description": "…"}`, `{"NotFound": {"message"}}`), or
/// the body's start.
pub fn error_message(answer: &Answer) -> String {
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(&answer.body) else {
        return answer.snippet();
    };
    let e = &v["error"];
    if let Some(s) = e.as_str() {
        let d = v["error_description"].as_str().unwrap_or("");
        return format!("{s}: {d}").trim_end_matches(": ").to_string();
    }
    if e.is_object() {
        let code = e["code"]
            .as_str()
            .map(str::to_string)
            .or_else(|| e["code"].as_i64().map(|c| c.to_string()))
            .unwrap_or_default();
        let msg = e["message"].as_str().unwrap_or("");
        return format!("{code}: {msg}")
            .trim_start_matches(": ")
            .to_string();
    }
    if let Some(obj) = v.as_object()
        && let Some((k, inner)) = obj.iter().next()
        && let Some(m) = inner["message"].as_str()
    {
        return format!("{k}: {m}");
    }
    answer.snippet()
}

/// Whether `next` (a paging link the provider returned) points at the same scheme, host and
/// port as `base`: tokens are never sent to another origin.
pub fn same_origin(base: &str, next: &str) -> bool {
    match (url::Url::parse(base), url::Url::parse(next)) {
        (Ok(a), Ok(b)) => {
            a.scheme() == b.scheme()
                && a.host_str() == b.host_str()
                && a.port_or_known_default() == b.port_or_known_default()
        }
        _ => false,
    }
}

/// An OAuth2 token request (RFC 6749 §4.4 client credentials, RFC 7523 JWT bearer): `POST` the
/// form `body` to `url` and return `access_token`. A 400 or 401 is [`CloudError::Auth`] with the
/// server's `error_description` (wrong secret, expired key, bad assertion).
pub async fn oauth_token(
    http: &Http,
    provider: crate::Provider,
    what: &str,
    url: &str,
    body: &str,
) -> Result<zeroize::Zeroizing<String>, CloudError> {
    let answer = http
        .send(
            what,
            || {
                Ok(http
                    .client
                    .post(url)
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body(body.to_string()))
            },
            |_| false,
        )
        .await?;
    if matches!(answer.status.as_u16(), 400 | 401) {
        return Err(CloudError::Auth {
            provider,
            message: format!("{what}: {}", error_message(&answer)),
        });
    }
    let v = check_json(provider, what, &answer)?;
    v["access_token"]
        .as_str()
        .map(|t| zeroize::Zeroizing::new(t.to_string()))
        .ok_or_else(|| CloudError::malformed(what, "no access_token"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_is_capped() {
        let p = RetryPolicy {
            attempts: 5,
            base: Duration::from_millis(100),
            max: Duration::from_secs(1),
        };
        let d1 = p.delay(1, None);
        let d3 = p.delay(3, None);
        assert!(d1 >= Duration::from_millis(100) && d1 <= Duration::from_millis(150));
        assert!(d3 >= Duration::from_millis(400) && d3 <= Duration::from_millis(600));
        assert_eq!(p.delay(10, None), Duration::from_secs(1));
        assert_eq!(
            p.delay(1, Some(Duration::from_secs(30))),
            Duration::from_secs(1)
        );
    }
}
