//! E-mail over SMTP with `lettre`: STARTTLS required by default (`tls = "starttls"`; `tls` for
//! implicit TLS on 465; `none` only for a relay on loopback), optional AUTH, a private CA for
//! internal relays. One plain-text message per notification.

use std::time::Duration;

use lettre::message::{Mailbox, header::ContentType};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use serde::Deserialize;

use crate::{Notice, SendError};

pub(crate) const SETTINGS: &[&str] = &["host", "port", "tls", "user", "from", "to", "ca_file"];

/// SMTP settings (the password is a secret).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailSettings {
    /// Relay host name (also the name its certificate must carry).
    pub host: String,
    /// Port (default 587).
    #[serde(default = "submission")]
    pub port: u16,
    /// `starttls` (default), `tls` or `none`.
    #[serde(default = "starttls")]
    pub tls: String,
    /// AUTH user; the password is the secret `password`.
    pub user: Option<String>,
    /// Sender.
    pub from: String,
    /// Recipients.
    pub to: Vec<String>,
    /// PEM file of a private CA.
    pub ca_file: Option<String>,
}

fn submission() -> u16 {
    587
}
fn starttls() -> String {
    "starttls".into()
}

pub(crate) struct Email {
    from: Mailbox,
    to: Vec<Mailbox>,
    transport: AsyncSmtpTransport<Tokio1Executor>,
}

impl Email {
    pub(crate) fn new(
        s: EmailSettings,
        password: Option<&str>,
        timeout: Duration,
    ) -> Result<Email, String> {
        let from: Mailbox = s
            .from
            .parse()
            .map_err(|e| format!("email connector: from `{}`: {e}", s.from))?;
        if s.to.is_empty() {
            return Err("email connector: `to` names no recipient".into());
        }
        let to =
            s.to.iter()
                .map(|t| {
                    t.parse()
                        .map_err(|e| format!("email connector: to `{t}`: {e}"))
                })
                .collect::<Result<Vec<Mailbox>, String>>()?;
        let params = || -> Result<TlsParameters, String> {
            let mut b = TlsParameters::builder(s.host.clone());
            if let Some(path) = &s.ca_file {
                let pem = std::fs::read(path).map_err(|e| format!("ca_file {path}: {e}"))?;
                b = b.add_root_certificate(
                    Certificate::from_pem(&pem).map_err(|e| format!("ca_file {path}: {e}"))?,
                );
            }
            b.build_rustls()
                .map_err(|e| format!("email connector TLS: {e}"))
        };
        let tls = match s.tls.as_str() {
            "starttls" => Tls::Required(params()?),
            "tls" => Tls::Wrapper(params()?),
            "none" => Tls::None,
            other => {
                return Err(format!(
                    "email connector: tls `{other}` (one of: starttls, tls, none)"
                ));
            }
        };
        let mut b = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&s.host)
            .port(s.port)
            .tls(tls)
            .timeout(Some(timeout));
        match (&s.user, password) {
            (Some(u), Some(p)) => b = b.credentials(Credentials::new(u.clone(), p.to_string())),
            (Some(_), None) => {
                return Err(
                    "email connector: `user` is set but the secret `password` is not".into(),
                );
            }
            _ => {}
        }
        Ok(Email {
            from,
            to,
            transport: b.build(),
        })
    }

    pub(crate) async fn notify(&self, n: &Notice) -> Result<(), SendError> {
        let mut text = String::new();
        for (k, v) in &n.facts {
            text.push_str(&format!("{k}: {v}\n"));
        }
        if !n.facts.is_empty() {
            text.push('\n');
        }
        for l in &n.lines {
            text.push_str(l);
            text.push('\n');
        }
        let mut m = Message::builder()
            .from(self.from.clone())
            .subject(format!("[Vantage] {}", n.title))
            .header(ContentType::TEXT_PLAIN);
        for t in &self.to {
            m = m.to(t.clone());
        }
        let msg = m
            .body(text)
            .map_err(|e| SendError::Fatal(format!("email: building the message: {e}")))?;
        self.transport.send(msg).await.map(drop).map_err(smtp_error)
    }

    pub(crate) async fn test(&self) -> Result<String, SendError> {
        match self.transport.test_connection().await {
            Ok(true) => Ok("SMTP relay reachable; TLS and login accepted".into()),
            Ok(false) => Err(SendError::Retry {
                after: None,
                reason: "email: the relay did not answer NOOP".into(),
            }),
            Err(e) => Err(smtp_error(e)),
        }
    }
}

fn smtp_error(e: lettre::transport::smtp::Error) -> SendError {
    let reason = format!("email: {e}");
    if e.is_permanent() {
        SendError::Fatal(reason)
    } else {
        SendError::Retry {
            after: None,
            reason,
        }
    }
}
