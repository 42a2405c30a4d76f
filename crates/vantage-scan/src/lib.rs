//! Vantage discovery and inventory collectors. Pure collectors: they read the network and return what they saw;
//! storing it is the application's business.
//!
//! - [`targets`]: what may be scanned (targets, exclusions, the scope guard).
//! - [`ports`]: which ports (nmap-style specs, `--top-ports`).
//! - [`connect`]: the TCP connect scanner (concurrency, rate, adaptive timeouts, retries).
//! - [`probes`]: the nmap-service-probes format and its matcher (PCRE2).
//! - [`fingerprint`]: service identification of an open port (probes, TLS, HTTP).
//! - [`tls`] and [`http`]: certificate and web facts.
//! - [`scan`]: one network scan end to end, streaming a report per host.
//! - [`source`]: source ports that get answers (a scanner must not lose replies to a firewall).
//! - [`nmap_xml`]: reading nmap's XML output.
//! - [`ssh`]: an SSH server's host key fingerprint, as `ssh-keyscan` reads it.
//! - [`host`]: what a host runs, read from the machine itself (local inventory).
//! - [`remote`]: the same facts collected over SSH (agentless inventory).
//! - [`image`]: container images (docker save, OCI layouts, registries) read without a runtime.
#![forbid(unsafe_code)]

pub mod connect;
pub mod ct;
pub mod dns;
pub mod fingerprint;
pub mod host;
pub mod http;
pub mod image;
pub mod nmap_xml;
pub mod ports;
pub mod probes;
pub mod rdap;
pub mod remote;
pub mod scan;
pub mod source;
pub mod ssh;
pub mod targets;
pub mod tls;

pub use connect::{PortState, Progress, Timing};
pub use fingerprint::ServiceReport;
pub use scan::{HostReport, PortReport, ScanOptions, run_scan};
pub use targets::{AddrRange, ScopeGuard, Target, TargetSet};

/// Why a scan could not start or a file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    /// A malformed target.
    #[error("target `{0}`: {1}")]
    Target(String, String),
    /// A host name that does not resolve.
    #[error("host name `{0}` does not resolve: {1}")]
    Resolve(String, String),
    /// A malformed port specification.
    #[error("ports `{0}`: {1}")]
    Ports(String, String),
    /// A target outside the allowed scope, refused before any packet.
    #[error("refused: {0}")]
    OutOfScope(String),
    /// An unreadable probe file.
    #[error("service probes {0}: {1}")]
    Probes(String, String),
    /// A host fact that cannot be read (file or fixed command, and why).
    #[error("{0}: {1}")]
    Host(String, String),
    /// An SSH collection failed.
    #[error(transparent)]
    Ssh(#[from] remote::SshError),
    /// A container image could not be read.
    #[error(transparent)]
    Image(#[from] image::ImageError),
    /// Malformed nmap XML.
    #[error("nmap XML {0}: {1}")]
    NmapXml(String, String),
}

impl ScanError {
    /// Whether a remote system failed (unreachable, timed out, refused mid-way) rather than the
    /// request being wrong: such errors are failures, not bad input.
    pub fn is_remote_failure(&self) -> bool {
        use remote::SshError as S;
        matches!(
            self,
            ScanError::Ssh(S::Connect(..) | S::Timeout(..) | S::Protocol(..) | S::Command(..))
                | ScanError::Image(image::ImageError::Registry(..))
        )
    }
}
