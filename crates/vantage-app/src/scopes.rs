//! Scopes as configuration: a TOML (or JSON) document of scopes with their rules, policies,
//! schedule, collectors and access, applied all or nothing (`vantage scopes apply`, `PUT
//! /api/v1/scopes/{name}`). A scope is created or rewritten by name; scopes absent from the
//! document are left alone.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use vantage_domain::{
    CiaRequirements, Collector, ExposureClass, MembershipRule, PriorityModel, ScopeAccess, ScopeId,
    SlaPolicy, Tag, Thresholds,
};
use vantage_scan::AddrRange;
use vantage_store::NewScope;

use crate::{App, AppError};

/// A scopes document: `[[scope]]` tables.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScopesFile {
    /// The scopes.
    #[serde(default, rename = "scope")]
    pub scopes: Vec<ScopeSpec>,
}

/// One scope as people write it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScopeSpec {
    /// Unique name.
    pub name: String,
    /// What the scope is for.
    #[serde(default)]
    pub description: String,
    /// IP addresses, CIDR blocks and ranges it owns (network scans stay inside them).
    #[serde(default)]
    pub ranges: Vec<String>,
    /// Domains it owns (and their subdomains).
    #[serde(default)]
    pub domains: Vec<String>,
    /// Cloud accounts (`aws:123456789012`, optionally `/region`).
    #[serde(default)]
    pub cloud_accounts: Vec<String>,
    /// Tags (`env=prod`) that make an asset a member.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Assets named explicitly.
    #[serde(default)]
    pub assets: Vec<String>,
    /// internet, internal, local_only or isolated.
    #[serde(default = "internal")]
    pub exposure: ExposureClass,
    /// Confidentiality, integrity and availability requirements.
    #[serde(default)]
    pub cia: Option<CiaRequirements>,
    /// Business criticality, 1 (low) to 5 (vital).
    #[serde(default = "three")]
    pub criticality: u8,
    /// manual, hourly, daily, weekly or a cron expression (UTC).
    #[serde(default = "manual")]
    pub frequency: String,
    /// What the schedule runs.
    #[serde(default)]
    pub collectors: Vec<Collector>,
    /// Alert thresholds.
    #[serde(default)]
    pub thresholds: Thresholds,
    /// Days to remediate per priority.
    #[serde(default)]
    pub sla: Option<SlaPolicy>,
    /// Priority policy name.
    #[serde(default = "default_policy")]
    pub priority_policy: String,
    /// cvss, ssvc or both.
    #[serde(default)]
    pub priority_model: Option<PriorityModel>,
    /// Consecutive missed network scans before an asset is decommissioned.
    #[serde(default = "three_u32")]
    pub decommission_after: u32,
    /// Who sees the scope.
    #[serde(default)]
    pub access: ScopeAccess,
}

fn internal() -> ExposureClass {
    ExposureClass::Internal
}
fn three() -> u8 {
    3
}
fn three_u32() -> u32 {
    3
}
fn manual() -> String {
    "manual".into()
}
fn default_policy() -> String {
    "default".into()
}

impl ScopeSpec {
    /// The scope to store, after checking every value (the message names the scope and field).
    pub fn to_new_scope(&self) -> Result<NewScope, AppError> {
        let at = |field: &str, e: &dyn std::fmt::Display| {
            AppError::Invalid(format!("scope `{}`: {field}: {e}", self.name))
        };
        let mut rules = Vec::new();
        for r in &self.ranges {
            AddrRange::parse(r).map_err(|e| at("ranges", &e))?;
            rules.push(MembershipRule::IpRange(r.clone()));
        }
        rules.extend(self.domains.iter().cloned().map(MembershipRule::Domain));
        rules.extend(
            self.cloud_accounts
                .iter()
                .cloned()
                .map(MembershipRule::CloudAccount),
        );
        for t in &self.tags {
            rules.push(MembershipRule::Tag(
                t.parse::<Tag>().map_err(|e| at("tags", &e))?,
            ));
        }
        rules.extend(self.assets.iter().cloned().map(MembershipRule::Asset));
        let frequency =
            crate::schedule::parse_frequency(&self.frequency).map_err(|e| at("frequency", &e))?;
        let scope = NewScope {
            name: self.name.clone(),
            description: self.description.clone(),
            rules,
            exposure: self.exposure,
            cia: self.cia.unwrap_or_default(),
            criticality: self.criticality,
            frequency,
            thresholds: self.thresholds.clone(),
            sla: self.sla.unwrap_or_default(),
            priority_policy: self.priority_policy.clone(),
            priority_model: self.priority_model.unwrap_or(PriorityModel::Cvss),
            decommission_after: self.decommission_after,
            collectors: self.collectors.clone(),
            access: self.access.clone(),
        };
        Ok(scope)
    }
}

/// What applying a document did, per scope.
#[derive(Debug, Clone, Serialize)]
pub struct Applied {
    /// Scope name.
    pub name: String,
    /// Its id.
    pub id: i64,
    /// `created` or `updated`.
    pub action: &'static str,
    /// Its next scheduled run.
    #[serde(with = "time::serde::rfc3339::option")]
    pub next_run_at: Option<OffsetDateTime>,
    /// Collectors the schedule runs.
    pub collectors: String,
}

/// Reads a scopes document: TOML, or JSON when it starts with `{`.
pub fn parse_scopes(text: &str, origin: &str) -> Result<ScopesFile, AppError> {
    if text.trim_start().starts_with('{') {
        serde_json::from_str(text).map_err(|e| AppError::Invalid(format!("{origin}: {e}")))
    } else {
        toml::from_str(text).map_err(|e| AppError::Invalid(format!("{origin}: {e}")))
    }
}

impl App {
    /// Checks a scope before it is stored: its ranges, frequency, priority policy and that its
    /// collectors can build their jobs (ranges for network, domains for external …).
    pub async fn check_scope(&self, s: &NewScope) -> Result<(), AppError> {
        for rule in &s.rules {
            if let MembershipRule::IpRange(r) = rule {
                AddrRange::parse(r)
                    .map_err(|e| AppError::Invalid(format!("scope `{}`: range: {e}", s.name)))?;
            }
        }
        crate::schedule::check_frequency(&s.frequency)?;
        let known = self.priority_policies().await?;
        if !known.iter().any(|p| p.name == s.priority_policy) {
            return Err(AppError::Invalid(format!(
                "scope `{}`: priority policy `{}` does not exist (see `vantage priority policies`)",
                s.name, s.priority_policy
            )));
        }
        self.scope_jobs(&s.to_scope(ScopeId(0)))?;
        Ok(())
    }

    /// Applies a scopes document: every scope is checked first (nothing is written when one is
    /// wrong), then each is created or rewritten by name and audited, and the stored inventory
    /// joins the scopes whose rules it matches.
    pub async fn apply_scopes(
        &self,
        doc: &ScopesFile,
        actor: &str,
    ) -> Result<Vec<Applied>, AppError> {
        let mut scopes = Vec::with_capacity(doc.scopes.len());
        let mut names = std::collections::HashSet::new();
        for spec in &doc.scopes {
            if !names.insert(spec.name.as_str()) {
                return Err(AppError::Invalid(format!(
                    "scope `{}` appears twice in the document",
                    spec.name
                )));
            }
            let s = spec.to_new_scope()?;
            self.check_scope(&s).await?;
            scopes.push(s);
        }
        let now = OffsetDateTime::now_utc();
        let mut out = Vec::new();
        for s in &scopes {
            let (id, created) = self.store.save_scope(s, true, now).await?;
            let action = if created { "created" } else { "updated" };
            self.store
                .record_audit(
                    now,
                    actor,
                    &format!("scope.{}", if created { "create" } else { "update" }),
                    ("scope", &id.0.to_string()),
                    &serde_json::to_string(&s.to_scope(ScopeId(0))).unwrap_or_default(),
                )
                .await?;
            let stored = self
                .store
                .scope(id)
                .await?
                .ok_or_else(|| AppError::NotFound(format!("scope {}", s.name)))?;
            out.push(Applied {
                name: s.name.clone(),
                id: id.0,
                action,
                next_run_at: match stored.next_run_at {
                    Some(t) => Some(t),
                    None => crate::schedule::next_due(&stored.frequency, now)?.map(|_| now),
                },
                collectors: stored
                    .collectors
                    .iter()
                    .map(|c| c.name())
                    .collect::<Vec<_>>()
                    .join(","),
            });
        }
        if !scopes.is_empty() {
            self.assign_all_scopes().await?;
        }
        Ok(out)
    }
}
