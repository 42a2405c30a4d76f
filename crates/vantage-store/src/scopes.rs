//! Scopes and scope membership.

use sqlx::FromRow;
use time::OffsetDateTime;
use vantage_domain::{
    AssetId, CiaRequirements, ExposureClass, MembershipRule, PriorityModel, ScanFrequency, Scope,
    ScopeId, SlaPolicy, Thresholds,
};

use crate::backend::{Pool, Store, with_pool};
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
            name: r.name,
            description: r.description,
        })
    }
}

const SCOPE_COLUMNS: &str = "id, name, description, rules, exposure, confidentiality, integrity, \
                             availability, criticality, frequency, thresholds, sla, priority_policy, priority_model, decommission_after";

impl Store {
    /// Creates a scope; its name must be unique.
    pub async fn create_scope(&self, s: &NewScope, now: OffsetDateTime) -> Result<ScopeId> {
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
        const SQL: &str = "INSERT INTO scopes (name, description, rules, exposure, confidentiality, \
             integrity, availability, criticality, frequency, thresholds, sla, created_at, updated_at, \
             priority_policy, priority_model, decommission_after) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12, $13, $14, $15) RETURNING id";
        let res: std::result::Result<i64, sqlx::Error> = with_pool!(self, |p| {
            sqlx::query_scalar(SQL)
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
                .fetch_one(p)
                .await
        });
        res.map(ScopeId)
            .map_err(|e| StoreError::conflict_on_unique(e, "scope", &s.name))
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
