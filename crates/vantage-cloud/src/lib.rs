//! Cloud inventory collectors. Each provider module lists what an account holds through the
//! provider's documented REST API and returns one [`Listing`]: the instances (and load
//! balancers, unattached addresses) with their addresses, tags and **internet exposure** — the
//! ports a firewall rule (security group, NSG, VPC firewall, Neutron security group) opens to
//! `0.0.0.0/0` or `::/0`. Collectors never touch the store: `vantage-app` turns a listing into
//! assets and retires the ones an account no longer lists.
//!
//! - [`aws`]: EC2 Query API (`DescribeInstances`, `DescribeSecurityGroups`, `DescribeAddresses`,
//!   `DescribeRegions`), ELBv2 and STS (`GetCallerIdentity`, `AssumeRole`), every request signed
//!   with SigV4 by `aws-sigv4`; the standard credential chain and endpoint variables.
//! - [`azure`]: Azure Resource Manager with an OAuth2 client-credentials token (Entra ID).
//! - [`gcp`]: Compute Engine `aggregatedList` of instances and the VPC firewalls, with a
//!   service-account JWT exchanged for an access token.
//! - [`openstack`]: Keystone v3 token and catalogue, Nova servers, Neutron ports, floating IPs and
//!   security groups.
//!
//! One region (location, project) failing does not fail the listing: its error is reported in
//! [`RegionOutcome`] and the rest is kept. Throttling (HTTP 429/503, `RequestLimitExceeded`) is
//! retried with exponential backoff ([`http::RetryPolicy`]); credentials that are refused or
//! expired stop the account with [`CloudError::Auth`].

#![forbid(unsafe_code)]

pub mod aws;
pub mod azure;
pub mod exposure;
pub mod gcp;
pub mod http;
pub mod openstack;
pub mod xml;

use std::collections::BTreeMap;
use std::net::IpAddr;

use serde::Serialize;

pub use exposure::Exposure;

/// A cloud provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    /// Amazon Web Services.
    Aws,
    /// Microsoft Azure.
    Azure,
    /// Google Cloud Platform.
    Gcp,
    /// OpenStack.
    Openstack,
}

impl Provider {
    /// The provider's short name (`aws`, `azure`, `gcp`, `openstack`).
    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Aws => "aws",
            Provider::Azure => "azure",
            Provider::Gcp => "gcp",
            Provider::Openstack => "openstack",
        }
    }
}

impl std::fmt::Display for Provider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a listed resource is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ResourceKind {
    /// A virtual machine.
    Instance,
    /// A load balancer.
    LoadBalancer,
    /// A public address not attached to anything.
    Address,
}

impl ResourceKind {
    /// Its name.
    pub fn as_str(self) -> &'static str {
        match self {
            ResourceKind::Instance => "instance",
            ResourceKind::LoadBalancer => "load_balancer",
            ResourceKind::Address => "address",
        }
    }
}

/// One resource an account lists.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CloudResource {
    /// Provider.
    pub provider: Provider,
    /// Account: AWS account id, Azure subscription id, GCP project, OpenStack project id.
    pub account: String,
    /// Region (AWS region, Azure location, GCP zone, OpenStack region).
    pub region: String,
    /// What it is.
    pub kind: ResourceKind,
    /// The provider's id (`i-0abc…`, an ARM resource id, a GCP instance id, a Nova server id).
    pub id: String,
    /// Display name (the `Name` tag, the VM name …; the id when there is none).
    pub name: String,
    /// Provider state (`running`, `stopped`, `ACTIVE` …).
    pub state: String,
    /// Whether the state means the resource no longer exists (terminated, deleted).
    pub gone: bool,
    /// Private addresses.
    pub private_ips: Vec<IpAddr>,
    /// Public addresses (public IPs, Elastic IPs, floating IPs).
    pub public_ips: Vec<IpAddr>,
    /// DNS names the provider gives it.
    pub dns_names: Vec<String>,
    /// The provider's tags / labels / metadata.
    pub tags: BTreeMap<String, String>,
    /// Firewall groups applied (security group ids, NSG ids, GCP network tags …).
    pub firewall_groups: Vec<String>,
    /// Image / AMI / OS hint when the API says.
    pub image: Option<String>,
    /// Ports a rule opens to any address (`0.0.0.0/0`, `::/0`).
    pub exposures: Vec<Exposure>,
    /// Reachable from the internet: a public address (or an internet-facing load balancer) and
    /// at least one port open to any address.
    pub internet_exposed: bool,
}

impl CloudResource {
    /// A resource with only its identity set.
    pub fn new(
        provider: Provider,
        account: &str,
        region: &str,
        kind: ResourceKind,
        id: &str,
    ) -> Self {
        CloudResource {
            provider,
            account: account.to_string(),
            region: region.to_string(),
            kind,
            id: id.to_string(),
            name: id.to_string(),
            state: String::new(),
            gone: false,
            private_ips: Vec::new(),
            public_ips: Vec::new(),
            dns_names: Vec::new(),
            tags: BTreeMap::new(),
            firewall_groups: Vec::new(),
            image: None,
            exposures: Vec::new(),
            internet_exposed: false,
        }
    }

    /// Sets `internet_exposed` from the public addresses and exposures.
    pub fn settle_exposure(&mut self) {
        exposure::normalise(&mut self.exposures);
        self.internet_exposed =
            !self.gone && !self.public_ips.is_empty() && !self.exposures.is_empty();
    }
}

/// How one region (location, project) of one account went.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RegionOutcome {
    /// Account.
    pub account: String,
    /// Region.
    pub region: String,
    /// Resources listed there.
    pub resources: usize,
    /// Why the region could not be listed; `None` when it was listed completely. The
    /// resources of a failed region are not retired.
    pub error: Option<String>,
}

/// Everything a collector listed.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Listing {
    /// Resources, in listing order.
    pub resources: Vec<CloudResource>,
    /// One entry per (account, region) attempted.
    pub regions: Vec<RegionOutcome>,
    /// API requests sent.
    pub requests: u64,
    /// Requests answered with throttling and retried.
    pub throttled: u64,
}

impl Listing {
    /// Adds another listing's results.
    pub fn extend(&mut self, other: Listing) {
        self.resources.extend(other.resources);
        self.regions.extend(other.regions);
        self.requests += other.requests;
        self.throttled += other.throttled;
    }
}

/// Progress of a listing, for bars and job logs.
pub trait Progress: Send + Sync {
    /// A region was listed (or failed).
    fn region_done(&self, outcome: &RegionOutcome);
}

/// No progress reporting.
pub struct NoProgress;

impl Progress for NoProgress {
    fn region_done(&self, _: &RegionOutcome) {}
}

/// Why a listing failed.
#[derive(Debug, thiserror::Error)]
pub enum CloudError {
    /// The configuration is unusable (no credentials found, bad region, unreadable file).
    #[error("{0}")]
    Config(String),
    /// The provider refused the credentials (wrong, expired, not allowed).
    #[error("{provider}: credentials refused: {message}")]
    Auth {
        /// Provider.
        provider: Provider,
        /// The provider's message (code and text).
        message: String,
    },
    /// Still throttled after every retry.
    #[error("{0}: throttled; gave up after the retries")]
    Throttled(String),
    /// The API answered with an error.
    #[error("{what}: HTTP {status}: {message}")]
    Api {
        /// The request.
        what: String,
        /// HTTP status.
        status: u16,
        /// The provider's code and message.
        message: String,
    },
    /// No answer (connection refused, timeout, TLS).
    #[error("{what}: {message}")]
    Transport {
        /// The request.
        what: String,
        /// Why.
        message: String,
    },
    /// An answer that does not have the documented shape.
    #[error("{what}: malformed response: {message}")]
    Malformed {
        /// The request.
        what: String,
        /// Which field, and what was wrong.
        message: String,
    },
}

impl CloudError {
    /// Whether the caller's input is at fault (configuration, credentials) rather than the
    /// provider.
    pub fn is_bad_input(&self) -> bool {
        matches!(self, CloudError::Config(_) | CloudError::Auth { .. })
    }

    pub(crate) fn malformed(what: &str, message: impl std::fmt::Display) -> Self {
        CloudError::Malformed {
            what: what.to_string(),
            message: message.to_string(),
        }
    }
}

/// The environment variables a provider reads its configuration from: the process's (those
/// with the provider's prefixes), or a snapshot the caller passes (the scheduler, tests).
#[derive(Debug, Clone, Default)]
pub struct Env {
    /// Variables.
    pub vars: std::collections::HashMap<String, String>,
}

impl Env {
    /// The process's variables whose names start with one of `prefixes`.
    pub fn from_process(prefixes: &[&str]) -> Self {
        Env {
            vars: std::env::vars()
                .filter(|(k, _)| prefixes.iter().any(|p| k.starts_with(p)))
                .collect(),
        }
    }

    /// A variable's value, trimmed; empty counts as unset.
    pub(crate) fn var(&self, k: &str) -> Option<&str> {
        self.vars.get(k).map(|s| s.trim()).filter(|s| !s.is_empty())
    }
}

/// Parses an address, ignoring empty strings; an unreadable one is a malformed response.
pub(crate) fn parse_ip(what: &str, s: &str) -> Result<Option<IpAddr>, CloudError> {
    let s = s.trim();
    if s.is_empty() {
        return Ok(None);
    }
    // Azure and OpenStack sometimes give a prefix length with the address.
    let bare = s.split('/').next().unwrap_or(s);
    bare.parse()
        .map(Some)
        .map_err(|_| CloudError::malformed(what, format!("`{s}` is not an IP address")))
}

/// Pushes a value once.
pub(crate) fn push_unique<T: PartialEq>(v: &mut Vec<T>, x: T) {
    if !v.contains(&x) {
        v.push(x);
    }
}
