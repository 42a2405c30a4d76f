//! Cloud inventory: a provider listing (`vantage-cloud`) stored as assets — the instance by its
//! provider id (`aws:ACCOUNT:i-0abc`), merged with what network scans saw through its public
//! addresses and DNS names (private addresses are tags, not identifiers: they repeat across
//! VPCs) — with its exposure, scope membership by rule, and the retirement of what a completely
//! listed region no longer holds. Each run is a `cloud_inventory` job (its payload is the
//! request, which holds no secret: credentials are read from the environment and the
//! provider's configuration files when the job runs).

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use vantage_cloud::{CloudResource, Listing, Progress, RegionOutcome, ResourceKind};
use vantage_domain::{
    AssetId, AssetKind, Identifier, IdentifierKind, JobKind, JobStatus, NewAsset, Tag,
};
use vantage_store::{CloudRecord, StoredExposure};

use crate::app::App;
use crate::error::AppError;
use crate::membership::MemberFacts;

/// What to list.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "provider", rename_all = "lowercase")]
pub enum CloudRequest {
    /// AWS.
    Aws {
        /// Regions (empty: every enabled region).
        #[serde(default)]
        regions: Vec<String>,
        /// Profile.
        #[serde(default)]
        profile: Option<String>,
        /// Roles to assume (one account each).
        #[serde(default)]
        assume_roles: Vec<String>,
        /// ExternalId for the roles.
        #[serde(default)]
        external_id: Option<String>,
        /// Endpoint for every service.
        #[serde(default)]
        endpoint: Option<String>,
        /// Skip load balancers.
        #[serde(default)]
        no_load_balancers: bool,
    },
    /// Azure.
    Azure(vantage_cloud::azure::AzureOptions),
    /// GCP.
    Gcp(vantage_cloud::gcp::GcpOptions),
    /// OpenStack.
    Openstack(vantage_cloud::openstack::OpenstackOptions),
}

impl CloudRequest {
    /// The provider's name.
    pub fn provider(&self) -> &'static str {
        match self {
            CloudRequest::Aws { .. } => "aws",
            CloudRequest::Azure(_) => "azure",
            CloudRequest::Gcp(_) => "gcp",
            CloudRequest::Openstack(_) => "openstack",
        }
    }
}

/// How a run is tuned (not part of the job payload).
#[derive(Debug, Clone)]
pub struct CloudTuning {
    /// Regions listed at once.
    pub concurrency: usize,
    /// Per-request timeout.
    pub timeout: std::time::Duration,
    /// Retries.
    pub retry: vantage_cloud::http::RetryPolicy,
    /// Page size asked of the API.
    pub page_size: u32,
    /// Also make every listed asset a member of this scope.
    pub scope: Option<String>,
    /// Environment variables to read credentials, regions and endpoints from instead of the
    /// process's (`HOME` included, for `~/.aws`); the scheduler and tests pass their own.
    pub env: Option<std::collections::HashMap<String, String>>,
}

impl Default for CloudTuning {
    fn default() -> Self {
        CloudTuning {
            concurrency: 8,
            timeout: std::time::Duration::from_secs(30),
            retry: vantage_cloud::http::RetryPolicy::default(),
            page_size: 1000,
            scope: None,
            env: None,
        }
    }
}

/// One listed resource as stored.
#[derive(Debug, Clone, Serialize)]
pub struct CloudAsset {
    /// The asset.
    pub asset_id: AssetId,
    /// The scopes it belongs to by rule (and `--scope`).
    pub scopes: Vec<String>,
    /// What the provider said.
    #[serde(flatten)]
    pub resource: CloudResource,
}

/// What `vantage discover aws|azure|gcp|openstack` did.
#[derive(Debug, Clone, Serialize)]
pub struct CloudReport {
    /// Provider.
    pub provider: String,
    /// The `cloud_inventory` job.
    pub job_id: i64,
    /// Every (account, region) attempted.
    pub regions: Vec<RegionOutcome>,
    /// Resources listed.
    pub resources: Vec<CloudAsset>,
    /// Assets created.
    pub created: u64,
    /// Assets decommissioned (gone, or no longer listed by a complete region).
    pub decommissioned: u64,
    /// Resources reachable from the internet.
    pub internet_exposed: usize,
    /// API requests.
    pub requests: u64,
    /// Throttled answers retried.
    pub throttled: u64,
    /// Wall time.
    pub elapsed_ms: u64,
}

impl CloudReport {
    /// Regions that failed.
    pub fn failed_regions(&self) -> usize {
        self.regions.iter().filter(|r| r.error.is_some()).count()
    }
}

fn cloud_err(e: vantage_cloud::CloudError) -> AppError {
    if e.is_bad_input() {
        AppError::Invalid(e.to_string())
    } else {
        AppError::Unavailable(e.to_string())
    }
}

/// The asset sighting of a resource.
pub fn asset_of(r: &CloudResource, now: OffsetDateTime) -> NewAsset {
    let mut identifiers = vec![Identifier::new(
        IdentifierKind::CloudId,
        format!("{}:{}:{}", r.provider, r.account, r.id),
    )];
    for ip in &r.public_ips {
        identifiers.push(Identifier::new(IdentifierKind::Ip, ip.to_string()));
    }
    for d in &r.dns_names {
        // Provider-internal names (ip-10-0-0-5.ec2.internal) repeat across accounts.
        if !d.ends_with(".internal") && !d.ends_with(".local") {
            identifiers.push(Identifier::new(IdentifierKind::Fqdn, d));
        }
    }
    let mut tags = vec![
        Tag {
            key: "cloud".into(),
            value: r.provider.to_string(),
        },
        Tag {
            key: "cloud.account".into(),
            value: r.account.clone(),
        },
        Tag {
            key: "cloud.region".into(),
            value: r.region.clone(),
        },
    ];
    if r.internet_exposed {
        tags.push(Tag {
            key: "exposure".into(),
            value: "internet".into(),
        });
    }
    for ip in &r.private_ips {
        tags.push(Tag {
            key: "private_ip".into(),
            value: ip.to_string(),
        });
    }
    for (k, v) in &r.tags {
        if !k.trim().is_empty() {
            tags.push(Tag {
                key: k.clone(),
                value: v.clone(),
            });
        }
    }
    NewAsset {
        kind: match r.kind {
            ResourceKind::Instance => AssetKind::CloudInstance,
            ResourceKind::LoadBalancer => AssetKind::LoadBalancer,
            ResourceKind::Address => AssetKind::IpAddress,
        },
        name: r.name.clone(),
        os: None,
        identifiers,
        tags,
        seen_at: now,
    }
}

impl App {
    /// Lists a cloud and stores what it holds (see the module documentation). `progress` sees
    /// each region as it completes.
    pub async fn discover_cloud(
        &self,
        req: &CloudRequest,
        tuning: &CloudTuning,
        progress: Arc<dyn Progress>,
        actor: &str,
    ) -> Result<CloudReport, AppError> {
        let started = std::time::Instant::now();
        let scope = match &tuning.scope {
            None => None,
            Some(name) => Some(self.store.scope_by_name(name).await?.ok_or_else(|| {
                AppError::NotFound(format!(
                    "scope `{name}` does not exist (see `vantage scopes list`)"
                ))
            })?),
        };
        let payload = serde_json::to_string(req)
            .map_err(|e| AppError::Invalid(format!("cloud request: {e}")))?;
        let job = self
            .store
            .start_job(
                JobKind::CloudInventory,
                &payload,
                actor,
                OffsetDateTime::now_utc(),
            )
            .await?;
        let result = self.list_cloud(req, tuning, progress).await;
        let listing = match result {
            Ok(l) => l,
            Err(e) => {
                let msg = e.to_string();
                self.store.job_log(job, "error", &msg).await?;
                self.store
                    .finish_job(
                        job,
                        JobStatus::Failed,
                        Some(&msg),
                        OffsetDateTime::now_utc(),
                    )
                    .await?;
                return Err(e);
            }
        };
        for r in &listing.regions {
            let line = match &r.error {
                None => format!("{} {}: {} resources", r.account, r.region, r.resources),
                Some(e) => format!("{} {}: failed: {e}", r.account, r.region),
            };
            let level = if r.error.is_some() { "warn" } else { "info" };
            self.store.job_log(job, level, &line).await?;
        }
        let now = OffsetDateTime::now_utc();
        let records: Vec<CloudRecord> = listing
            .resources
            .iter()
            .map(|r| CloudRecord {
                asset: asset_of(r, now),
                provider: r.provider.to_string(),
                account: r.account.clone(),
                region: r.region.clone(),
                kind: r.kind.as_str().to_string(),
                resource_id: r.id.clone(),
                state: r.state.clone(),
                gone: r.gone,
                internet_exposed: r.internet_exposed,
                exposures: r
                    .exposures
                    .iter()
                    .map(|e| StoredExposure {
                        protocol: e.protocol.clone(),
                        from_port: e.from_port,
                        to_port: e.to_port,
                        source: e.source.clone(),
                        rule: e.rule.clone(),
                    })
                    .collect(),
            })
            .collect();
        let complete: Vec<(String, String, String)> = listing
            .regions
            .iter()
            .filter(|r| r.error.is_none())
            .map(|r| {
                (
                    req.provider().to_string(),
                    r.account.clone(),
                    r.region.clone(),
                )
            })
            .collect();
        let stored = self
            .store
            .record_cloud_listing(&records, &complete, now)
            .await?;
        let facts: Vec<(AssetId, MemberFacts)> = listing
            .resources
            .iter()
            .zip(&stored.assets)
            .filter(|(r, _)| !r.gone)
            .map(|(r, id)| {
                let a = asset_of(r, now);
                (
                    *id,
                    MemberFacts {
                        kind: Some(a.kind),
                        name: a.name,
                        ips: r.public_ips.iter().chain(&r.private_ips).copied().collect(),
                        fqdns: r.dns_names.clone(),
                        tags: a.tags,
                        cloud: Some((r.provider.to_string(), r.account.clone(), r.region.clone())),
                    },
                )
            })
            .collect();
        let mut scopes = self.assign_scopes(&facts).await?;
        if let Some(s) = &scope {
            let ids: Vec<AssetId> = facts.iter().map(|(id, _)| *id).collect();
            for chunk in ids.chunks(5000) {
                self.store.add_scope_members(s.id, chunk).await?;
            }
            for id in ids {
                let names = scopes.entry(id).or_default();
                if !names.contains(&s.name) {
                    names.push(s.name.clone());
                }
            }
        }
        let resources: Vec<CloudAsset> = listing
            .resources
            .into_iter()
            .zip(stored.assets.iter())
            .map(|(resource, id)| CloudAsset {
                asset_id: *id,
                scopes: scopes.get(id).cloned().unwrap_or_default(),
                resource,
            })
            .collect();
        let report = CloudReport {
            provider: req.provider().to_string(),
            job_id: job,
            internet_exposed: resources
                .iter()
                .filter(|r| r.resource.internet_exposed)
                .count(),
            regions: listing.regions,
            resources,
            created: stored.created,
            decommissioned: stored.decommissioned,
            requests: listing.requests,
            throttled: listing.throttled,
            elapsed_ms: started.elapsed().as_millis() as u64,
        };
        let summary = format!(
            "{} resources ({} internet-exposed), {} new, {} decommissioned, {} of {} regions failed",
            report.resources.len(),
            report.internet_exposed,
            report.created,
            report.decommissioned,
            report.failed_regions(),
            report.regions.len()
        );
        self.store.job_log(job, "info", &summary).await?;
        self.store
            .finish_job(job, JobStatus::Done, None, OffsetDateTime::now_utc())
            .await?;
        self.store
            .record_audit(
                OffsetDateTime::now_utc(),
                actor,
                "discover.cloud",
                ("job", &job.to_string()),
                &format!("{}: {summary}", report.provider),
            )
            .await?;
        Ok(report)
    }

    async fn list_cloud(
        &self,
        req: &CloudRequest,
        tuning: &CloudTuning,
        progress: Arc<dyn Progress>,
    ) -> Result<Listing, AppError> {
        match req {
            CloudRequest::Aws {
                regions,
                profile,
                assume_roles,
                external_id,
                endpoint,
                no_load_balancers,
            } => {
                let opts = vantage_cloud::aws::AwsOptions {
                    regions: regions.clone(),
                    profile: profile.clone(),
                    assume_roles: assume_roles.clone(),
                    external_id: external_id.clone(),
                    endpoint: endpoint.clone(),
                    load_balancers: !no_load_balancers,
                    concurrency: tuning.concurrency,
                    timeout: tuning.timeout,
                    retry: tuning.retry,
                    page_size: tuning.page_size,
                };
                let env = match &tuning.env {
                    Some(vars) => vantage_cloud::aws::AwsEnv {
                        home: vars.get("HOME").map(std::path::PathBuf::from),
                        vars: vars.clone(),
                    },
                    None => vantage_cloud::aws::AwsEnv::from_process(),
                };
                vantage_cloud::aws::list(env, opts, progress)
                    .await
                    .map_err(cloud_err)
            }
            CloudRequest::Azure(o) => vantage_cloud::azure::list(
                &self.cloud_env(tuning, vantage_cloud::azure::env_from_process),
                o,
                &self.cloud_http(tuning)?,
                progress,
            )
            .await
            .map_err(cloud_err),
            CloudRequest::Gcp(o) => vantage_cloud::gcp::list(
                &self.cloud_env(tuning, vantage_cloud::gcp::env_from_process),
                o,
                &self.cloud_http(tuning)?,
                progress,
            )
            .await
            .map_err(cloud_err),
            CloudRequest::Openstack(o) => vantage_cloud::openstack::list(
                &self.cloud_env(tuning, vantage_cloud::openstack::env_from_process),
                o,
                &self.cloud_http(tuning)?,
                progress,
            )
            .await
            .map_err(cloud_err),
        }
    }

    fn cloud_env(
        &self,
        tuning: &CloudTuning,
        from_process: fn() -> vantage_cloud::Env,
    ) -> vantage_cloud::Env {
        match &tuning.env {
            Some(vars) => vantage_cloud::Env { vars: vars.clone() },
            None => from_process(),
        }
    }

    fn cloud_http(&self, tuning: &CloudTuning) -> Result<Arc<vantage_cloud::http::Http>, AppError> {
        vantage_cloud::http::Http::new(tuning.timeout, tuning.retry)
            .map(Arc::new)
            .map_err(cloud_err)
    }
}

impl App {
    /// Runs a discovery again from a recorded job's kind and payload (what the scheduler does
    /// for a scope's cloud and external collectors): returns the run's summary line.
    pub async fn run_discovery_payload(
        &self,
        kind: JobKind,
        payload: &str,
        actor: &str,
    ) -> Result<String, AppError> {
        let bad = |e: serde_json::Error| AppError::Invalid(format!("{kind} job payload: {e}"));
        match kind {
            JobKind::CloudInventory => {
                let req: CloudRequest = serde_json::from_str(payload).map_err(bad)?;
                let r = self
                    .discover_cloud(
                        &req,
                        &CloudTuning::default(),
                        Arc::new(vantage_cloud::NoProgress),
                        actor,
                    )
                    .await?;
                Ok(format!(
                    "{}: {} resources, {} regions failed (job {})",
                    r.provider,
                    r.resources.len(),
                    r.failed_regions(),
                    r.job_id
                ))
            }
            JobKind::ExternalDiscovery => {
                let req: crate::external::DomainRequest =
                    serde_json::from_str(payload).map_err(bad)?;
                let r = self
                    .discover_domain(&req, &crate::external::Quiet, actor)
                    .await?;
                Ok(format!("{} names (job {})", r.names.len(), r.job_id))
            }
            other => Err(AppError::Invalid(format!(
                "a {other} job is not a discovery"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_payloads_round_trip_and_hold_no_secret() {
        let reqs = [
            CloudRequest::Aws {
                regions: vec!["eu-west-3".into()],
                profile: Some("audit".into()),
                assume_roles: vec!["arn:aws:iam::111122223333:role/a".into()],
                external_id: None,
                endpoint: None,
                no_load_balancers: false,
            },
            CloudRequest::Azure(vantage_cloud::azure::AzureOptions {
                subscriptions: vec!["s".into()],
                ..Default::default()
            }),
            CloudRequest::Gcp(vantage_cloud::gcp::GcpOptions {
                projects: vec!["p".into()],
                ..Default::default()
            }),
            CloudRequest::Openstack(vantage_cloud::openstack::OpenstackOptions::default()),
        ];
        for r in reqs {
            let json = serde_json::to_string(&r).unwrap();
            assert!(
                json.contains(&format!("\"provider\":\"{}\"", r.provider())),
                "{json}"
            );
            let back: CloudRequest = serde_json::from_str(&json).unwrap();
            assert_eq!(serde_json::to_string(&back).unwrap(), json);
            assert!(!json.to_lowercase().contains("secret"), "{json}");
        }
        let d = crate::external::DomainRequest::new(vec!["example.test".into()]);
        let json = serde_json::to_string(&d).unwrap();
        let back: crate::external::DomainRequest = serde_json::from_str(&json).unwrap();
        assert_eq!(back.domains, ["example.test"]);
        let minimal: crate::external::DomainRequest =
            serde_json::from_str(r#"{"domains": ["a.test"]}"#).unwrap();
        assert!(minimal.brute && minimal.dns_port == 53 && minimal.crtsh.is_none());
    }
}
