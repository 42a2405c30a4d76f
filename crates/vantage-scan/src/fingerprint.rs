//! Service identification of one open port, the way `nmap -sV` does it: the NULL probe (wait for a
//! banner), then the probes meant for the port, then the others by rarity up to the intensity;
//! each response is matched against the probe's lines, its fallbacks and the NULL probe's; a
//! softmatch narrows later probes to those that can name the version of that service. A service
//! that turns out to be TLS gets its certificate read and the probes run again inside TLS; a web
//! service gets its HTTP facts.
//!
//! Unlike nmap, the probes do not wait behind a silent NULL probe: after a short grace the probe
//! chain starts while the NULL probe keeps listening, and a banner still wins if one arrives.
//! Every exchange is bounded in bytes and time, and the whole port in time.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::time::Instant;
use vantage_domain::TlsCertificate;

use crate::http::HttpFacts;
use crate::probes::{Identified, Probe, ProbeSet};
use crate::source::SourcePorts;

/// The most bytes kept of one response.
pub const MAX_RESPONSE: usize = 64 * 1024;
/// The most characters of a banner kept for display.
pub const MAX_BANNER: usize = 512;

/// What identification found on one port.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ServiceReport {
    /// Service name (`ssh`, `http` …): identified, or from the port table when nothing answered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `ssl` when the service runs inside TLS.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tunnel: Option<String>,
    /// Product.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub product: Option<String>,
    /// Version.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Extra information.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub info: Option<String>,
    /// Host name the service announced.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    /// Operating system the service announced.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub os: Option<String>,
    /// Device type.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
    /// CPE names as the probes give them (`cpe:/a:openbsd:openssh:9.2p1`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cpes: Vec<String>,
    /// How the name was found: `probed` (a match), `soft` (a softmatch), `table` (the port's
    /// usual service), `tcpwrapped` (closed on us at once).
    pub method: String,
    /// The probe that got the identifying answer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub probe: Option<String>,
    /// The banner or identifying response, printable (`\xNN` escapes), capped.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub banner: Option<String>,
    /// Certificate facts when the service speaks TLS.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls: Option<TlsCertificate>,
    /// `GET /` facts of a web service.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http: Option<HttpFacts>,
    /// The host key of an SSH service.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ssh_host_key: Option<crate::ssh::HostKey>,
    /// What went wrong on the way (a stalled handshake …), recorded rather than fatal.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// Knobs of service identification.
#[derive(Debug, Clone)]
pub struct FingerprintOptions {
    /// Probes with a rarity above this are tried only on the ports they list (nmap's 0-9,
    /// default 7).
    pub intensity: u8,
    /// Longest wait for one probe's answer (a probe's own `totalwaitms` when shorter).
    pub probe_wait: Duration,
    /// Longest time spent on one port.
    pub port_budget: Duration,
    /// How long a silent NULL probe holds back the other probes.
    pub banner_grace: Duration,
    /// Connection and TLS handshake timeout.
    pub connect_timeout: Duration,
}

impl Default for FingerprintOptions {
    fn default() -> Self {
        Self {
            intensity: 7,
            probe_wait: Duration::from_secs(5),
            port_budget: Duration::from_secs(30),
            banner_grace: Duration::from_millis(500),
            connect_timeout: Duration::from_secs(3),
        }
    }
}

/// Identifies services with a probe set and the port table.
#[derive(Debug)]
pub struct Fingerprinter {
    probes: Arc<ProbeSet>,
    sources: Arc<SourcePorts>,
    table: HashMap<u16, String>,
    opts: FingerprintOptions,
}

/// Reads the port → service name table of an `nmap-services` file (TCP entries); empty when the
/// file is missing.
pub fn service_table(path: &Path) -> HashMap<u16, String> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return HashMap::new();
    };
    let mut best: HashMap<u16, (f64, String)> = HashMap::new();
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let mut f = line.split_whitespace();
        let (Some(name), Some(pp)) = (f.next(), f.next()) else {
            continue;
        };
        let freq: f64 = f.next().and_then(|x| x.parse().ok()).unwrap_or(0.0);
        let Some(port) = pp.strip_suffix("/tcp").and_then(|p| p.parse().ok()) else {
            continue;
        };
        let e = best.entry(port).or_insert((-1.0, String::new()));
        if freq > e.0 {
            *e = (freq, name.to_string());
        }
    }
    best.into_iter().map(|(p, (_, n))| (p, n)).collect()
}

/// Printable form of response bytes: `\r`, `\n`, `\t` and `\xNN` escapes, capped.
pub fn printable(bytes: &[u8]) -> String {
    let mut out = String::new();
    for &b in bytes {
        if out.len() >= MAX_BANNER {
            out.push('…');
            break;
        }
        match b {
            b'\r' => out.push_str("\\r"),
            b'\n' => out.push_str("\\n"),
            b'\t' => out.push_str("\\t"),
            b'\\' => out.push_str("\\\\"),
            0x20..=0x7e => out.push(b as char),
            _ => out.push_str(&format!("\\x{b:02x}")),
        }
    }
    out
}

/// One probe's exchange.
#[derive(Debug, Default)]
struct Exchange {
    data: Vec<u8>,
    /// The peer closed with nothing said, this soon after connecting.
    closed_silent: Option<Duration>,
    error: Option<String>,
}

async fn talk<S: AsyncRead + AsyncWrite + Unpin>(
    mut s: S,
    payload: &[u8],
    wait: Duration,
    done: &(dyn Fn(&[u8]) -> bool + Sync),
) -> Exchange {
    let started = Instant::now();
    let deadline = started + wait;
    let mut ex = Exchange::default();
    if !payload.is_empty() && s.write_all(payload).await.is_err() {
        // The peer closed (or reset) before we could speak.
        ex.closed_silent = Some(started.elapsed());
        return ex;
    }
    let mut chunk = vec![0u8; 16 * 1024];
    loop {
        match tokio::time::timeout_at(deadline, s.read(&mut chunk)).await {
            Err(_) => break,
            Ok(Ok(0)) | Ok(Err(_)) => {
                if ex.data.is_empty() {
                    ex.closed_silent = Some(started.elapsed());
                }
                break;
            }
            Ok(Ok(n)) => {
                let room = MAX_RESPONSE - ex.data.len();
                ex.data.extend_from_slice(&chunk[..n.min(room)]);
                if ex.data.len() >= MAX_RESPONSE || done(&ex.data) {
                    break;
                }
            }
        }
    }
    ex
}

impl Fingerprinter {
    /// A fingerprinter over a loaded probe set and port table.
    pub fn new(
        probes: Arc<ProbeSet>,
        table: HashMap<u16, String>,
        opts: FingerprintOptions,
    ) -> Self {
        Self {
            probes,
            sources: Arc::default(),
            table,
            opts,
        }
    }

    /// Source port statistics its connections use (shared with the port scan).
    pub fn sources(&self) -> Arc<SourcePorts> {
        self.sources.clone()
    }

    /// The probe set in use.
    pub fn probes(&self) -> &ProbeSet {
        &self.probes
    }

    async fn exchange(
        &self,
        addr: SocketAddr,
        tls: bool,
        name: Option<&str>,
        probe: &Probe,
        wait: Duration,
    ) -> Exchange {
        let done = |d: &[u8]| {
            self.probes
                .identify(probe, d, None)
                .is_some_and(|id| !id.soft)
        };
        if tls {
            match crate::tls::connect(addr, name, self.opts.connect_timeout, &self.sources).await {
                Ok(s) => talk(s, &probe.payload, wait, &done).await,
                Err(e) => Exchange {
                    error: Some(e.to_string()),
                    ..Default::default()
                },
            }
        } else {
            match self.sources.connect(addr, self.opts.connect_timeout).await {
                Ok(s) => {
                    let _ = socket2::SockRef::from(&s).set_linger(Some(Duration::ZERO));
                    talk(s, &probe.payload, wait, &done).await
                }
                Err(e) => Exchange {
                    error: Some(e.to_string()),
                    ..Default::default()
                },
            }
        }
    }

    /// The probes to try after NULL, in order: those listing the port, then the rest up to the
    /// intensity, in file order.
    fn chain(&self, port: u16, tls: bool) -> Vec<&Probe> {
        let tcp = || {
            self.probes
                .probes
                .iter()
                .filter(|p| p.tcp && p.name != "NULL")
        };
        let mut out: Vec<&Probe> = tcp().filter(|p| p.for_port(port, tls)).collect();
        out.extend(tcp().filter(|p| !p.for_port(port, tls) && p.rarity <= self.opts.intensity));
        out
    }

    /// Runs the probes over plain TCP or inside TLS, one connection at a time (single-threaded
    /// servers such as `openssl s_server` serve one client at a time): the NULL probe listens
    /// for a banner during a short grace, then the probe chain runs, and only if nothing named
    /// the service does the NULL probe listen again for the rest of its wait (slow banners).
    /// Returns the identification (if any), the banner bytes, and whether the service closed
    /// on us without a word.
    async fn run(
        &self,
        addr: SocketAddr,
        tls: bool,
        name: Option<&str>,
        budget_end: Instant,
        notes: &mut Vec<String>,
    ) -> (Option<Identified>, Vec<u8>, bool) {
        let null = self
            .probes
            .probe("NULL")
            .expect("a probe set always has NULL");
        let null_wait = null.wait.min(self.opts.probe_wait);
        let first = self
            .exchange(addr, tls, name, null, self.opts.banner_grace.min(null_wait))
            .await;
        if let Some(id) = self.probes.identify(null, &first.data, None)
            && !id.soft
        {
            return (Some(id), first.data, false);
        }
        let wrapped = first.closed_silent.is_some_and(|d| d < null.tcpwrapped);
        if let Some(e) = &first.error {
            notes.push(format!("probe NULL: {e}"));
            return (None, Vec::new(), false);
        }
        let mut soft: Option<Identified> = self.probes.identify(null, &first.data, None);
        let mut data = first.data;
        let mut all_silent_close = wrapped;
        let mut tried = 0;
        for probe in self.chain(addr.port(), tls) {
            if Instant::now() >= budget_end {
                notes.push(format!(
                    "identification stopped after {tried} probes: the port's time budget ran out"
                ));
                break;
            }
            let only = soft.as_ref().map(|s| s.service.clone());
            if let Some(s) = &only
                && !probe.can_identify(s)
            {
                continue;
            }
            tried += 1;
            let ex = self
                .exchange(addr, tls, name, probe, probe.wait.min(self.opts.probe_wait))
                .await;
            if let Some(e) = &ex.error {
                notes.push(format!("probe {}: {e}", probe.name));
                break;
            }
            if ex.closed_silent.is_none() {
                all_silent_close = false;
            }
            if data.is_empty() {
                data = ex.data.clone();
            }
            if let Some(id) = self.probes.identify(probe, &ex.data, only.as_deref()) {
                if !id.soft {
                    return (Some(id), ex.data, false);
                }
                soft.get_or_insert(id);
            }
            // A service that closes on us at once, with nothing said, is wrapped.
            if all_silent_close && tried >= 2 {
                return (None, Vec::new(), true);
            }
        }
        // Nothing named the service: a slow banner may still come.
        if first.closed_silent.is_none()
            && data.is_empty()
            && soft.is_none()
            && Instant::now() + null_wait <= budget_end
        {
            let late = self.exchange(addr, tls, name, null, null_wait).await;
            if let Some(id) = self.probes.identify(null, &late.data, None) {
                return (Some(id), late.data, false);
            }
            data = late.data;
        }
        (soft, data, all_silent_close)
    }

    /// Identifies the service on an open port; `name` is the host name it was reached by.
    pub async fn identify(&self, addr: SocketAddr, name: Option<&str>) -> ServiceReport {
        let port = addr.port();
        let mut report = ServiceReport {
            method: "table".into(),
            ..Default::default()
        };
        if self.probes.excluded(port) {
            report.name = self.table.get(&port).cloned();
            report
                .notes
                .push("port excluded from probing (Exclude)".into());
            return report;
        }
        let budget_end = Instant::now() + self.opts.port_budget;
        let mut notes = Vec::new();
        let (mut id, mut data, wrapped) = self.run(addr, false, name, budget_end, &mut notes).await;
        let is_ssl = id
            .as_ref()
            .is_some_and(|i| i.service == "ssl" || i.service.starts_with("ssl/"));
        if is_ssl || (id.is_none() && !wrapped && looks_like_tls_port(port)) {
            let host = name
                .map(str::to_string)
                .unwrap_or_else(|| addr.ip().to_string());
            match crate::tls::grab(addr, Some(&host), self.opts.connect_timeout, &self.sources)
                .await
            {
                Ok(cert) => {
                    report.tls = Some(cert);
                    report.tunnel = Some("ssl".into());
                    let (inner, inner_data, _) = self
                        .run(addr, true, Some(&host), budget_end, &mut notes)
                        .await;
                    if inner.is_some() {
                        id = inner;
                        data = inner_data;
                    }
                }
                Err(e) => notes.push(e),
            }
        }
        if !data.is_empty() {
            report.banner = Some(printable(&data));
        }
        match id {
            Some(i) => {
                report.method = if i.soft { "soft" } else { "probed" }.into();
                report.name = Some(i.service);
                report.product = i.product;
                report.version = i.version;
                report.info = i.info;
                report.hostname = i.hostname;
                report.os = i.os;
                report.device = i.device;
                report.cpes = i.cpes;
                report.probe = Some(i.probe);
            }
            None if wrapped => {
                report.method = "tcpwrapped".into();
                report.name = Some("tcpwrapped".into());
            }
            None => {
                report.name = match (&report.tunnel, self.table.get(&port)) {
                    (Some(_), None) => Some("ssl".into()),
                    (_, n) => n.cloned(),
                };
            }
        }
        if report
            .name
            .as_deref()
            .is_some_and(|n| n.starts_with("http"))
            || report.name.as_deref() == Some("ssl") && report.tls.is_some()
        {
            let host = name
                .map(str::to_string)
                .unwrap_or_else(|| addr.ip().to_string());
            match crate::http::fetch(
                addr,
                &host,
                report.tunnel.is_some(),
                self.opts.probe_wait,
                &self.sources,
            )
            .await
            {
                Ok(h) => {
                    if report.name.as_deref() == Some("ssl") {
                        report.name = Some("http".into());
                    }
                    report.http = Some(h);
                }
                Err(e) if report.name.as_deref() != Some("ssl") => notes.push(format!("HTTP: {e}")),
                Err(_) => {}
            }
        }
        if report.name.as_deref() == Some("ssh") {
            match crate::ssh::host_key(addr, self.opts.probe_wait, &self.sources).await {
                Ok(k) => report.ssh_host_key = Some(k),
                Err(e) => notes.push(format!("SSH host key: {e}")),
            }
        }
        report.notes = notes;
        report
    }
}

/// Ports where TLS is the usual first word (tried when nothing else identified the service).
fn looks_like_tls_port(port: u16) -> bool {
    matches!(
        port,
        443 | 465
            | 636
            | 853
            | 989
            | 990
            | 992
            | 993
            | 994
            | 995
            | 4443
            | 5061
            | 6443
            | 8443
            | 9443
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn banners_are_printable_and_capped() {
        assert_eq!(printable(b"SSH-2.0\r\n\x00\xff"), "SSH-2.0\\r\\n\\x00\\xff");
        let long = printable(&vec![b'a'; 10_000]);
        assert!(long.len() < MAX_BANNER + 8);
    }
}
