//! HTTP facts of a web service: status, `Server` header, page title and redirect target, from one
//! `GET /` (over TLS when the service speaks it). The response is read up to a cap and within a
//! time limit; a stalling or endless server yields what arrived.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::source::SourcePorts;

/// The most of a response read.
pub const MAX_RESPONSE: usize = 256 * 1024;

pub use vantage_domain::HttpFacts;

/// Sends `GET /` with this `Host` and reads the facts.
pub async fn fetch(
    addr: SocketAddr,
    host: &str,
    tls: bool,
    timeout: Duration,
    sources: &SourcePorts,
) -> Result<HttpFacts, String> {
    let fut = async {
        if tls {
            let s = crate::tls::connect(addr, Some(host), timeout, sources)
                .await
                .map_err(|e| e.to_string())?;
            exchange(s, host).await
        } else {
            let s = sources
                .connect(addr, timeout)
                .await
                .map_err(|e| e.to_string())?;
            exchange(s, host).await
        }
    };
    match tokio::time::timeout(timeout, fut).await {
        Ok(r) => r,
        Err(_) => Err("no complete HTTP response in time".into()),
    }
}

async fn exchange<S: AsyncRead + AsyncWrite + Unpin>(
    mut s: S,
    host: &str,
) -> Result<HttpFacts, String> {
    let host = if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]")
    } else {
        host.to_string()
    };
    let req = format!(
        "GET / HTTP/1.1\r\nHost: {host}\r\nUser-Agent: Vantage/{}\r\nAccept: */*\r\nConnection: close\r\n\r\n",
        env!("CARGO_PKG_VERSION")
    );
    s.write_all(req.as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    loop {
        let n = match s.read(&mut chunk).await {
            Ok(n) => n,
            // A TLS peer closing without close_notify still sent what it sent.
            Err(_) if !buf.is_empty() => 0,
            Err(e) => return Err(e.to_string()),
        };
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
        if buf.len() >= MAX_RESPONSE || body_has_title(&buf) {
            break;
        }
    }
    parse(&buf)
}

fn body_has_title(buf: &[u8]) -> bool {
    let lower = buf.to_ascii_lowercase();
    find(&lower, b"</title>").is_some()
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Parses a raw response (head and the start of the body).
pub fn parse(buf: &[u8]) -> Result<HttpFacts, String> {
    let mut headers = [httparse::EMPTY_HEADER; 96];
    let mut resp = httparse::Response::new(&mut headers);
    let body_at = match resp.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Err("incomplete HTTP response head".into()),
        Err(e) => return Err(format!("not an HTTP response: {e}")),
    };
    let header = |name: &str| {
        resp.headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| clean(&String::from_utf8_lossy(h.value)))
            .filter(|v| !v.is_empty())
    };
    let status = resp.code.unwrap_or_default();
    let body = &buf[body_at..];
    let lower = body.to_ascii_lowercase();
    let title = find(&lower, b"<title").and_then(|start| {
        let open_end = start + find(&lower[start..], b">")? + 1;
        let close = open_end + find(&lower[open_end..], b"</title>")?;
        Some(clean(&String::from_utf8_lossy(&body[open_end..close])))
    });
    Ok(HttpFacts {
        status,
        server: header("server"),
        title: title.filter(|t| !t.is_empty()),
        redirect: if (300..400).contains(&status) {
            header("location")
        } else {
            None
        },
    })
}

/// One line of printable text, whitespace collapsed, at most 200 characters.
fn clean(s: &str) -> String {
    let mut out: String = s
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .filter(|c| !c.is_control())
        .collect();
    if out.chars().count() > 200 {
        out = out.chars().take(200).collect();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_status_server_title_and_redirect() {
        let f = parse(
            b"HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nContent-Type: text/html\r\n\r\n<html><head><TITLE>\n  Lab  page </title>",
        )
        .unwrap();
        assert_eq!(f.status, 200);
        assert_eq!(f.server.as_deref(), Some("nginx/1.22.1"));
        assert_eq!(f.title.as_deref(), Some("Lab page"));
        let r = parse(b"HTTP/1.1 301 Moved\r\nLocation: https://lab.test/\r\n\r\n").unwrap();
        assert_eq!(r.redirect.as_deref(), Some("https://lab.test/"));
        assert!(parse(b"SSH-2.0-OpenSSH\r\n").is_err());
        assert!(parse(b"HTTP/1.1 200 OK\r\nServer: x").is_err());
    }
}
