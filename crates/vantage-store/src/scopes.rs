//! Scopes and scope membership.

use sqlx::FromRow;
use time::OffsetDateTime;
use vantage_domain::{
    AssetId, CiaRequirements, Collector, ExposureClass, JobKind, MembershipRule, PriorityModel,
    ScanFrequency, Scope, ScopeAccess, ScopeId, SlaPolicy, Thresholds,
};

use crate::backend::{BeginWrite, Pool, Store, with_pool};
use crate::error::{Result, StoreError};
use crate::sql::{parse, ts};

/// A scope to create.
#[derive(Debug, Clone)]
pub struct NewScope {
    /// Unique name.
    pub name: String,
    /// What it is for.
    pub description: String,
    /// Membership rules.
    pub rules: Vec<MembershipRule>,
    /// Exposure class.
    pub exposure: ExposureClass,
    /// CIA requirements.
    pub cia: CiaRequirements,
    /// Business criticality 1–5.
    pub criticality: u8,
    /// Scan frequency.
    pub frequency: ScanFrequency,
    /// Alert thresholds.
    pub thresholds: Thresholds,
    /// SLA policy.
    pub sla: SlaPolicy,
    /// Priority policy name.
    pub priority_policy: String,
    /// Priority model.
    pub priority_model: PriorityModel,
    /// Consecutive scans missing an asset before it is decommissioned (at least 1).
    pub decommission_after: u32,
    /// Collectors the schedule runs.
    pub collectors: Vec<Collector>,
    /// Who sees the scope.
    pub access: ScopeAccess,
}

impl NewScope {
    /// A scope with default policies.
    pub fn named(name: impl Into<String>) -> Self {
        NewScope {
            name: name.into(),
            description: String::new(),
            rules: Vec::new(),
            exposure: ExposureClass::Internal,
            cia: CiaRequirements::default(),
            criticality: 3,
            frequency: ScanFrequency::Daily,
            thresholds: Thresholds::default(),
            sla: SlaPolicy::default(),
            priority_policy: "default".into(),
            priority_model: PriorityModel::Cvss,
            decommission_after: 3,
            collectors: Vec::new(),
            access: ScopeAccess::default(),
        }
    }

    /// The scope this would be once stored with `id` (never scheduled yet): for checks before
    /// storing, and for tests and benchmarks that need a `Scope` value.
    pub fn to_scope(&self, id: ScopeId) -> Scope {
        Scope {
            id,
            name: self.name.clone(),
            description: self.description.clone(),
            rules: self.rules.clone(),
            exposure: self.exposure,
            cia: self.cia,
            criticality: self.criticality,
            frequency: self.frequency.clone(),
            thresholds: self.thresholds.clone(),
            sla: self.sla,
            priority_policy: self.priority_policy.clone(),
            priority_model: self.priority_model,
            decommission_after: self.decommission_after,
            collectors: self.collectors.clone(),
            access: self.access.clone(),
            next_run_at: None,
            last_run_at: None,
        }
    }
}

#[derive(FromRow)]
struct ScopeRow {
    id: i64,
    name: String,
    description: String,
    rules: String,
    exposure: String,
    confidentiality: String,
    integrity: String,
    availability: String,
    criticality: i32,
    frequency: String,
    thresholds: String,
    sla: String,
    priority_policy: String,
    priority_model: String,
    decommission_after: i32,
    collectors: String,
    access: String,
    next_run_at: Option<i64>,
    last_run_at: Option<i64>,
}

impl TryFrom<ScopeRow> for Scope {
    type Error = StoreError;
    fn try_from(r: ScopeRow) -> Result<Scope> {
        let json = |what: &'static str, s: &str| -> Result<serde_json::Value> {
            serde_json::from_str(s).map_err(|e| StoreError::corrupt(what, e))
        };
        Ok(Scope {
            id: ScopeId(r.id),
            rules: serde_json::from_value(json("scope rules", &r.rules)?)
                .map_err(|e| StoreError::corrupt("scope rules", e))?,
            exposure: parse(&r.exposure, "scope exposure")?,
            cia: CiaRequirements {
                confidentiality: parse(&r.confidentiality, "scope confidentiality")?,
                integrity: parse(&r.integrity, "scope integrity")?,
                availability: parse(&r.availability, "scope availability")?,
            },
            criticality: u8::try_from(r.criticality)
                .map_err(|e| StoreError::corrupt("scope criticality", e))?,
            frequency: parse(&r.frequency, "scope frequency")?,
            thresholds: serde_json::from_value(json("scope thresholds", &r.thresholds)?)
                .map_err(|e| StoreError::corrupt("scope thresholds", e))?,
            sla: serde_json::from_value(json("scope sla", &r.sla)?)
                .map_err(|e| StoreError::corrupt("scope sla", e))?,
            priority_model: parse(&r.priority_model, "scope priority_model")?,
            priority_policy: r.priority_policy,
            decommission_after: u32::try_from(r.decommission_after)
                .map_err(|e| StoreError::corrupt("scope decommission_after", e))?,
            collectors: serde_json::from_value(json("scope collectors", &r.collectors)?)
                .map_err(|e| StoreError::corrupt("scope collectors", e))?,
            access: serde_json::from_value(json("scope access", &r.access)?)
                .map_err(|e| StoreError::corrupt("scope access", e))?,
            next_run_at: crate::sql::from_opt_ts(r.next_run_at, "scope next_run_at")?,
            last_run_at: crate::sql::from_opt_ts(r.last_run_at, "scope last_run_at")?,
            name: r.name,
            description: r.description,
        })
    }
}

const SCOPE_COLUMNS: &str = "id, name, description, rules, exposure, confidentiality, integrity, \
                             availability, criticality, frequency, thresholds, sla, priority_policy, priority_model, decommission_after, \
                             collectors, access, next_run_at, last_run_at";

impl Store {
    /// Creates a scope; its name must be unique.
    pub async fn create_scope(&self, s: &NewScope, now: OffsetDateTime) -> Result<ScopeId> {
        Ok(self.save_scope(s, false, now).await?.0)
    }

    /// Creates a scope, or with `replace` rewrites the one of the same name (its policies,
    /// rules, collectors and access; its members and schedule history stay; a changed frequency
    /// is planned afresh). Access is written in the same transaction: `access.users` must name
    /// existing users. Returns the id and whether the scope is new.
    pub async fn save_scope(
        &self,
        s: &NewScope,
        replace: bool,
        now: OffsetDateTime,
    ) -> Result<(ScopeId, bool)> {
        if s.name.trim().is_empty() {
            return Err(StoreError::Invalid("a scope needs a name".into()));
        }
        if !(1..=5).contains(&s.criticality) {
            return Err(StoreError::Invalid(format!(
                "criticality {} is outside 1–5",
                s.criticality
            )));
        }
        if s.decommission_after == 0 {
            return Err(StoreError::Invalid(
                "decommission_after must be at least 1 scan".into(),
            ));
        }
        const INSERT: &str = "INSERT INTO scopes (name, description, rules, exposure, confidentiality, \
             integrity, availability, criticality, frequency, thresholds, sla, created_at, updated_at, \
             priority_policy, priority_model, decommission_after, collectors, access) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12, $13, $14, $15, $16, $17) RETURNING id";
        const UPDATE: &str = "UPDATE scopes SET description = $2, rules = $3, exposure = $4, \
             confidentiality = $5, integrity = $6, availability = $7, criticality = $8, \
             next_run_at = CASE WHEN frequency = $9 THEN next_run_at ELSE NULL END, frequency = $9, \
             thresholds = $10, sla = $11, updated_at = $12, priority_policy = $13, \
             priority_model = $14, decommission_after = $15, collectors = $16, access = $17 \
             WHERE name = $1 RETURNING id";
        let res: Result<(i64, bool)> = with_pool!(self, |p| {
            let mut tx = p.begin_write().await?;
            let mut found = None;
            for (sql, replacing) in [(UPDATE, true), (INSERT, false)] {
                if replacing && !replace {
                    continue;
                }
                let id: Option<i64> = sqlx::query_scalar(sql)
                    .bind(&s.name)
                    .bind(&s.description)
                    .bind(to_json(&s.rules))
                    .bind(s.exposure.as_str())
                    .bind(s.cia.confidentiality.as_str())
                    .bind(s.cia.integrity.as_str())
                    .bind(s.cia.availability.as_str())
                    .bind(i32::from(s.criticality))
                    .bind(s.frequency.to_string())
                    .bind(to_json(&s.thresholds))
                    .bind(to_json(&s.sla))
                    .bind(ts(now))
                    .bind(&s.priority_policy)
                    .bind(s.priority_model.as_str())
                    .bind(s.decommission_after as i32)
                    .bind(to_json(&s.collectors))
                    .bind(to_json(&s.access))
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(|e| StoreError::conflict_on_unique(e, "scope", &s.name))?;
                if let Some(id) = id {
                    found = Some((id, !replacing));
                    break;
                }
            }
            let (id, new) = found.ok_or_else(|| {
                StoreError::Invalid(format!("scope `{}` was not written", s.name))
            })?;
            // Access: the roles, and a user_scopes row for each named user.
            sqlx::query("DELETE FROM scope_roles WHERE scope_id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            for role in &s.access.roles {
                sqlx::query("INSERT INTO scope_roles (scope_id, role) VALUES ($1, $2)")
                    .bind(id)
                    .bind(role.as_str())
                    .execute(&mut *tx)
                    .await?;
            }
            for user in &s.access.users {
                let known: Option<i64> =
                    sqlx::query_scalar("SELECT id FROM users WHERE username = $1")
                        .bind(user)
                        .fetch_optional(&mut *tx)
                        .await?;
                let Some(uid) = known else {
                    return Err(StoreError::Invalid(format!(
                        "scope `{}`: access names user `{user}`, who does not exist (see `vantage users list`)",
                        s.name
                    )));
                };
                sqlx::query("INSERT INTO user_scopes (user_id, scope_id) VALUES ($1, $2) ON CONFLICT DO NOTHING")
                    .bind(uid)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            Ok((id, new))
        });
        res.map(|(id, new)| (ScopeId(id), new))
    }

    /// The scopes a role sees besides a user's own `user_scopes`: those whose access names it.
    pub async fn scopes_of_role(&self, role: &str) -> Result<Vec<ScopeId>> {
        let ids: Vec<i64> = with_pool!(self, |p| sqlx::query_scalar(
            "SELECT scope_id FROM scope_roles WHERE role = $1 ORDER BY scope_id"
        )
        .bind(role)
        .fetch_all(p)
        .await?);
        Ok(ids.into_iter().map(ScopeId).collect())
    }

    /// Scopes whose schedule is due at `now`: not manual, and never planned or planned for a
    /// time at or before `now`.
    pub async fn scopes_due(&self, now: OffsetDateTime) -> Result<Vec<Scope>> {
        let sql = format!(
            "SELECT {SCOPE_COLUMNS} FROM scopes WHERE frequency <> 'manual' \
             AND (next_run_at IS NULL OR next_run_at <= $1) ORDER BY id"
        );
        let rows: Vec<ScopeRow> = with_pool!(self, |p| sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(ts(now))
            .fetch_all(p)
            .await?);
        rows.into_iter().map(Scope::try_from).collect()
    }

    /// Takes a scope's due run: in one transaction, moves its schedule from `expected` (the
    /// planned time read with [`Store::scopes_due`]) to `next` and queues `jobs` for it. Returns
    /// the queued job ids, or `None` when another scheduler took this run first (the schedule had
    /// moved): several servers on one database queue each run once.
    pub async fn take_scope_run(
        &self,
        scope: ScopeId,
        expected: Option<OffsetDateTime>,
        next: OffsetDateTime,
        jobs: &[(JobKind, String)],
        max_attempts: i32,
        now: OffsetDateTime,
    ) -> Result<Option<Vec<i64>>> {
        const MOVE: &str = "UPDATE scopes SET next_run_at = $2, last_run_at = $3 \
             WHERE id = $1 AND next_run_at IS NOT DISTINCT FROM $4";
        const QUEUE: &str = "INSERT INTO jobs (kind, scope_id, status, payload, run_after, created_at, origin, max_attempts) \
             VALUES ($1, $2, 'queued', $3, $4, $4, 'schedule', $5) RETURNING id";
        Ok(with_pool!(self, |p| {
            let mut tx = p.begin_write().await?;
            let moved = sqlx::query(MOVE)
                .bind(scope.0)
                .bind(ts(next))
                .bind(ts(now))
                .bind(expected.map(ts))
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if moved == 0 {
                None
            } else {
                let mut ids = Vec::with_capacity(jobs.len());
                for (kind, payload) in jobs {
                    ids.push(
                        sqlx::query_scalar(QUEUE)
                            .bind(kind.as_str())
                            .bind(scope.0)
                            .bind(payload)
                            .bind(ts(now))
                            .bind(max_attempts.max(1))
                            .fetch_one(&mut *tx)
                            .await?,
                    );
                }
                tx.commit().await?;
                Some(ids)
            }
        }))
    }

    /// A scope by id.
    pub async fn scope(&self, id: ScopeId) -> Result<Option<Scope>> {
        let sql = format!("SELECT {SCOPE_COLUMNS} FROM scopes WHERE id = $1");
        let row: Option<ScopeRow> = with_pool!(self, |p| sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(id.0)
            .fetch_optional(p)
            .await?);
        row.map(Scope::try_from).transpose()
    }

    /// A scope by its exact name.
    pub async fn scope_by_name(&self, name: &str) -> Result<Option<Scope>> {
        let sql = format!("SELECT {SCOPE_COLUMNS} FROM scopes WHERE name = $1");
        let row: Option<ScopeRow> = with_pool!(self, |p| sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(name)
            .fetch_optional(p)
            .await?);
        row.map(Scope::try_from).transpose()
    }

    /// Every scope, by name.
    pub async fn list_scopes(&self) -> Result<Vec<Scope>> {
        let sql = format!("SELECT {SCOPE_COLUMNS} FROM scopes ORDER BY name");
        let rows: Vec<ScopeRow> = with_pool!(self, |p| sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .fetch_all(p)
            .await?);
        rows.into_iter().map(Scope::try_from).collect()
    }

    /// Sets the priority policy and model of a scope.
    pub async fn set_scope_priority(
        &self,
        id: ScopeId,
        policy: &str,
        model: PriorityModel,
        now: OffsetDateTime,
    ) -> Result<()> {
        let n = with_pool!(self, |p| {
            sqlx::query(
            "UPDATE scopes SET priority_policy = $2, priority_model = $3, updated_at = $4 WHERE id = $1"
        )
        .bind(id.0)
        .bind(policy)
        .bind(model.as_str())
        .bind(ts(now))
        .execute(p)
        .await?
        .rows_affected()
        });
        if n == 0 {
            return Err(StoreError::NotFound {
                what: "scope",
                key: id.0.to_string(),
            });
        }
        Ok(())
    }

    /// Makes assets members of a scope (idempotent).
    pub async fn add_scope_members(&self, scope: ScopeId, assets: &[AssetId]) -> Result<u64> {
        let mut added = 0;
        for chunk in assets.chunks(500) {
            let values: Vec<String> = chunk
                .iter()
                .map(|a| format!("({}, {})", scope.0, a.0))
                .collect();
            let sql = format!(
                "INSERT INTO asset_scopes (scope_id, asset_id) VALUES {} ON CONFLICT DO NOTHING",
                values.join(",")
            );
            added += match &self.pool {
                Pool::Sqlite(p) => sqlx::query(sqlx::AssertSqlSafe(sql))
                    .execute(p)
                    .await?
                    .rows_affected(),
                Pool::Postgres(p) => sqlx::query(sqlx::AssertSqlSafe(sql))
                    .execute(p)
                    .await?
                    .rows_affected(),
            };
        }
        Ok(added)
    }
}

/// Serialises a JSON column. These are plain data types (strings, numbers, enums) for which
/// serialisation cannot fail.
fn to_json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "null".into())
}
