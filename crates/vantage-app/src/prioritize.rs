//! Runs prioritization over the stored findings: gathers the facts of every (vulnerability,
//! asset profile) context, computes each with [`vantage_priority::prioritize`], and writes back
//! only the contexts whose result changed (and their findings).

use std::collections::HashMap;
use std::time::Instant;

use serde::Serialize;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use vantage_domain::{JobKind, JobStatus, Scope};
use vantage_priority::{Context, Facts, Outcome, Policy, ScopeContext, Settings};
use vantage_store::{ChangedContext, PriorityKnowledge};

use crate::app::App;
use crate::error::AppError;

/// What a prioritization run did.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct PrioritizeReport {
    /// The job row of the run, when run as a job.
    pub job: Option<i64>,
    /// Assets whose scopes changed since the last run.
    pub assets_reprofiled: u64,
    /// Contexts (vulnerability × asset profile) computed.
    pub contexts: u64,
    /// Contexts whose result changed.
    pub contexts_changed: u64,
    /// Priority or score changes recorded in the history.
    pub priority_changes: u64,
    /// Findings whose priority or score was rewritten.
    pub findings_updated: u64,
    /// Findings prioritized for the first time (or again after a scope change).
    pub findings_attached: u64,
    /// Wall time, seconds.
    pub seconds: f64,
}

/// A stable 63-bit digest of an outcome: equal digests mean nothing to write.
fn fingerprint(o: &Outcome) -> i64 {
    let text = serde_json::to_string(o).unwrap_or_default();
    let d = Sha256::digest(text.as_bytes());
    let mut b = [0u8; 8];
    b.copy_from_slice(&d[..8]);
    // Never 0: 0 marks a context that was never computed.
    (i64::from_be_bytes(b) & i64::MAX).max(1)
}

/// The facts of each vulnerability id, aliases not yet merged.
fn index_facts(k: PriorityKnowledge) -> (HashMap<String, Facts>, HashMap<String, Vec<String>>) {
    let mut facts: HashMap<String, Facts> = HashMap::new();
    for (id, v) in k.vectors {
        let f = facts.entry(id).or_default();
        if !f
            .vectors
            .iter()
            .any(|x| x.source == v.source && x.vector == v.vector)
        {
            f.vectors.push(v);
        }
    }
    for (id, score, pct, day) in k.epss {
        facts.entry(id).or_default().epss = Some((score, pct, day));
    }
    for (id, added, ransomware) in k.kev {
        facts.entry(id).or_default().kev = Some((added, ransomware));
    }
    for (id, alert) in k.certfr {
        facts.entry(id).or_default().certfr_alerts.push(alert);
    }
    for (id, source, source_id) in k.exploits {
        facts
            .entry(id)
            .or_default()
            .exploits
            .push((source, source_id));
    }
    for (id, d) in k.ssvc {
        facts.entry(id).or_default().vulnrichment = Some(d);
    }
    for (id, t) in k.published {
        facts.entry(id).or_default().published = Some(t.date());
    }
    let mut aliases: HashMap<String, Vec<String>> = HashMap::new();
    for (id, alias) in k.aliases {
        if id != alias {
            aliases.entry(id).or_default().push(alias);
        }
    }
    (facts, aliases)
}

/// A vulnerability's facts with those of its aliases merged in (a GHSA takes its CVE's EPSS,
/// KEV entry and NVD vector).
fn merged(
    id: &str,
    facts: &HashMap<String, Facts>,
    aliases: &HashMap<String, Vec<String>>,
) -> Facts {
    let mut out = facts.get(id).cloned().unwrap_or_default();
    for alias in aliases.get(id).into_iter().flatten() {
        let Some(f) = facts.get(alias) else { continue };
        for v in &f.vectors {
            if !out
                .vectors
                .iter()
                .any(|x| x.source == v.source && x.vector == v.vector)
            {
                out.vectors.push(v.clone());
            }
        }
        if out.epss.is_none_or(|e| f.epss.is_some_and(|a| a.0 > e.0)) && f.epss.is_some() {
            out.epss = f.epss;
        }
        out.kev = out.kev.or(f.kev);
        for a in &f.certfr_alerts {
            if !out.certfr_alerts.contains(a) {
                out.certfr_alerts.push(a.clone());
            }
        }
        for e in &f.exploits {
            if !out.exploits.contains(e) {
                out.exploits.push(e.clone());
            }
        }
        if out.vulnrichment.is_none() {
            out.vulnrichment = f.vulnrichment.clone();
        }
        out.published = match (out.published, f.published) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
    }
    out
}

fn scope_context(s: &Scope) -> ScopeContext {
    ScopeContext {
        name: s.name.clone(),
        exposure: s.exposure,
        cia: s.cia,
        criticality: s.criticality,
        sla: s.sla,
        policy: s.priority_policy.clone(),
        model: s.priority_model,
    }
}

/// A priority policy as the API and `vantage` show it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PolicyView {
    /// Name scopes refer to.
    pub name: String,
    /// Where it is defined: `builtin` (the shipped `default`), `config` (vantage.toml) or `api`
    /// (edited through the API; takes precedence over the configuration).
    pub origin: String,
    /// Number of rules.
    pub rules: usize,
    /// The policy as TOML (the body `PUT` takes).
    pub toml: String,
}

fn check_policy_name(name: &str) -> Result<(), AppError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(AppError::Invalid(format!(
            "policy name {name:?}: use 1–64 lower-case letters, digits, '-' or '_'"
        )))
    }
}

/// Parses and validates a policy's TOML text; the error names the line and the field.
pub fn parse_policy(name: &str, text: &str) -> Result<Policy, AppError> {
    check_policy_name(name)?;
    let policy: Policy = toml::from_str(text)
        .map_err(|e| AppError::Invalid(format!("policy {name:?}: {}", e.to_string().trim())))?;
    policy.validate(name).map_err(AppError::Invalid)?;
    Ok(policy)
}

fn view(name: &str, origin: &str, p: &Policy) -> PolicyView {
    PolicyView {
        name: name.to_string(),
        origin: origin.to_string(),
        rules: p.rules.len(),
        toml: toml::to_string(p).unwrap_or_default(),
    }
}

impl App {
    /// The prioritization settings in effect: `[priority]` of the configuration, with the
    /// policies edited through the API replacing those of the same name.
    pub async fn priority_settings(&self) -> Result<Settings, AppError> {
        let mut settings = self.config.priority.clone();
        for (name, body) in self.store.priority_policies().await? {
            match parse_policy(&name, &body) {
                Ok(p) => {
                    settings.policies.insert(name, p);
                }
                // Stored policies were validated when written; one that no longer parses (a
                // newer build removed a condition) is reported and the configured one kept.
                Err(e) => {
                    tracing::warn!(policy = %name, error = %e, "stored priority policy ignored")
                }
            }
        }
        Ok(settings)
    }

    /// Every policy in effect, by name, with its origin.
    pub async fn priority_policies(&self) -> Result<Vec<PolicyView>, AppError> {
        let stored: std::collections::BTreeSet<String> = self
            .store
            .priority_policies()
            .await?
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        let settings = self.priority_settings().await?;
        let mut out: Vec<PolicyView> = settings
            .policies
            .iter()
            .map(|(name, p)| {
                let origin = if stored.contains(name) {
                    "api"
                } else {
                    "config"
                };
                view(name, origin, p)
            })
            .collect();
        if !settings.policies.contains_key("default") {
            out.push(view("default", "builtin", &Policy::builtin_default()));
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// Creates or replaces a policy from its TOML text (validated first: a bad policy changes
    /// nothing). Takes effect at the next prioritization run.
    pub async fn put_priority_policy(
        &self,
        name: &str,
        text: &str,
        actor: &str,
    ) -> Result<PolicyView, AppError> {
        let policy = parse_policy(name, text)?;
        let canonical = toml::to_string(&policy).unwrap_or_else(|_| text.to_string());
        let now = OffsetDateTime::now_utc();
        self.store
            .put_priority_policy(name, &canonical, now)
            .await?;
        self.store
            .record_audit(
                now,
                actor,
                "priority_policy.put",
                ("priority_policy", name),
                &canonical,
            )
            .await?;
        Ok(view(name, "api", &policy))
    }

    /// Removes a policy edited through the API (the configuration's, if any, applies again).
    pub async fn delete_priority_policy(&self, name: &str, actor: &str) -> Result<(), AppError> {
        if !self.store.delete_priority_policy(name).await? {
            return Err(AppError::NotFound(format!(
                "no priority policy {name:?} was edited through the API"
            )));
        }
        let now = OffsetDateTime::now_utc();
        self.store
            .record_audit(
                now,
                actor,
                "priority_policy.delete",
                ("priority_policy", name),
                "",
            )
            .await?;
        Ok(())
    }

    /// Sets which policy and model a scope's priorities come from (the policy must exist);
    /// takes effect at the next prioritization run.
    pub async fn set_scope_priority(
        &self,
        scope: &str,
        policy: Option<&str>,
        model: Option<vantage_domain::PriorityModel>,
        actor: &str,
    ) -> Result<Scope, AppError> {
        let id = self.resolve_scope(scope).await?;
        let current = self
            .store
            .scope(id)
            .await?
            .ok_or_else(|| AppError::NotFound(format!("scope {scope}")))?;
        let policy = policy.unwrap_or(&current.priority_policy);
        let model = model.unwrap_or(current.priority_model);
        let settings = self.priority_settings().await?;
        if settings.policy(policy).is_none() {
            let known: Vec<String> = self
                .priority_policies()
                .await?
                .into_iter()
                .map(|p| p.name)
                .collect();
            return Err(AppError::Invalid(format!(
                "no priority policy {policy:?}; known: {}",
                known.join(", ")
            )));
        }
        let now = OffsetDateTime::now_utc();
        self.store
            .set_scope_priority(id, policy, model, now)
            .await?;
        self.store
            .record_audit(
                now,
                actor,
                "scope.set_priority",
                ("scope", &id.0.to_string()),
                &format!("policy={policy} model={model}"),
            )
            .await?;
        self.store
            .scope(id)
            .await?
            .ok_or_else(|| AppError::NotFound(format!("scope {scope}")))
    }

    /// Prioritizes every finding whose inputs changed since the last run (all of them the first
    /// time). Safe to run at any time; a run that fails leaves the previous priorities.
    pub async fn prioritize(&self) -> Result<PrioritizeReport, AppError> {
        self.prioritize_at(OffsetDateTime::now_utc()).await
    }

    /// [`App::prioritize`] with the clock given (history, due dates and the time findings
    /// spend in each priority are dated `now`).
    pub async fn prioritize_at(&self, now: OffsetDateTime) -> Result<PrioritizeReport, AppError> {
        let _running = self.prioritizing.lock().await;
        let started = Instant::now();
        let settings = &self.priority_settings().await?;
        let assets_reprofiled = self.store.prepare_priorities(now).await?;
        let contexts = self.store.priority_contexts().await?;
        let (facts, aliases) = index_facts(self.store.priority_knowledge().await?);
        let scopes: HashMap<i64, ScopeContext> = self
            .store
            .list_scopes()
            .await?
            .iter()
            .map(|s| (s.id.0, scope_context(s)))
            .collect();
        let mut profiles: HashMap<String, Context> = HashMap::new();
        let today = now.date();
        let mut changed = Vec::new();
        for c in &contexts {
            let ctx = profiles
                .entry(c.profile.clone())
                .or_insert_with(|| Context {
                    scopes: c
                        .profile
                        .split(',')
                        .filter_map(|id| id.parse::<i64>().ok())
                        .filter_map(|id| scopes.get(&id).cloned())
                        .collect(),
                });
            let f = merged(&c.vuln_id, &facts, &aliases);
            let o = vantage_priority::prioritize(&f, ctx, settings, today);
            let fp = fingerprint(&o);
            if fp != c.fingerprint {
                let old = (c.fingerprint != 0)
                    .then(|| vantage_domain::Priority::from_rank(c.priority).map(|p| (p, c.score)))
                    .flatten();
                changed.push(ChangedContext {
                    id: c.id,
                    result: o,
                    fingerprint: fp,
                    old,
                });
            }
        }
        let applied = self.store.apply_priorities(&changed, now).await?;
        Ok(PrioritizeReport {
            job: None,
            assets_reprofiled,
            contexts: contexts.len() as u64,
            contexts_changed: applied.contexts_changed,
            priority_changes: applied.priority_changes,
            findings_updated: applied.findings_updated,
            findings_attached: applied.findings_attached,
            seconds: started.elapsed().as_secs_f64(),
        })
    }

    /// [`App::prioritize`] as a durable `prioritize` job (its row and log say when it ran and
    /// what changed): what `serve` runs after each feed refresh.
    pub async fn run_prioritize_job(&self, worker: &str) -> Result<PrioritizeReport, AppError> {
        let job = self
            .store
            .start_job(JobKind::Prioritize, "{}", worker, OffsetDateTime::now_utc())
            .await?;
        let result = self.prioritize().await;
        let (status, error) = match &result {
            Ok(r) => {
                let line = format!(
                    "{} contexts, {} changed, {} priority changes, {} findings updated, {} attached, {:.1} s",
                    r.contexts,
                    r.contexts_changed,
                    r.priority_changes,
                    r.findings_updated,
                    r.findings_attached,
                    r.seconds
                );
                self.store.job_log(job, "info", &line).await?;
                (JobStatus::Done, None)
            }
            Err(e) => (JobStatus::Failed, Some(e.to_string())),
        };
        self.store
            .finish_job(job, status, error.as_deref(), OffsetDateTime::now_utc())
            .await?;
        result.map(|r| PrioritizeReport {
            job: Some(job),
            ..r
        })
    }
}
