//! The continuous loop over HTTP: finding triage, jobs (list, show, queue, cancel), attack
//! paths and scopes as documents.

use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};
use vantage_domain::{FindingStatus, Job, JobKind, JobLogLine, JobStatus, Role, Triage};
use vantage_store::JobFilter;

use super::{parse_param, query_error};
use crate::AppState;
use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody};

pub(crate) fn role_in(caller: &Caller, roles: &[Role], what: &str) -> Result<(), ApiError> {
    let r = caller.0.user.role;
    if roles.contains(&r) {
        Ok(())
    } else {
        Err(ApiError::forbidden(format!(
            "{what} needs one of the roles {} (you are {r})",
            roles
                .iter()
                .map(|r| r.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )))
    }
}

fn body<T>(b: Result<Json<T>, JsonRejection>) -> Result<T, ApiError> {
    b.map(|Json(v)| v)
        .map_err(|e| ApiError::bad_request(e.body_text()))
}

fn path_id(p: Result<Path<i64>, PathRejection>) -> Result<i64, ApiError> {
    p.map(|Path(id)| id)
        .map_err(|e| ApiError::bad_request(e.body_text()))
}

/// The result of a triage decision.
#[derive(Serialize, ToSchema)]
pub struct TriageResult {
    /// The status before.
    pub before: FindingStatus,
    /// The finding after.
    pub finding: vantage_domain::Finding,
}

/// Records a triage decision on a finding: accepted risk (with expiry and justification), false
/// positive (with reason), or reopen. Audited with the status before and after.
#[utoipa::path(post, path = "/api/v1/findings/{id}/triage", tag = "findings",
    params(("id" = i64, Path, description = "Finding id")),
    request_body = Triage,
    responses(
        (status = 200, description = "Recorded", body = TriageResult),
        (status = 400, description = "Invalid decision (no reason, expiry in the past)", body = ErrorBody),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "Role may not triage", body = ErrorBody),
        (status = 404, description = "No such finding visible to the caller", body = ErrorBody),
    ))]
pub(crate) async fn triage_finding(
    State(state): State<AppState>,
    caller: Caller,
    id: Result<Path<i64>, PathRejection>,
    decision: Result<Json<Triage>, JsonRejection>,
) -> Result<Json<TriageResult>, ApiError> {
    let id = path_id(id)?;
    let decision = body(decision)?;
    let f = super::findings::visible_finding(&state, &caller, id).await?;
    role_in(&caller, &[Role::Admin, Role::Analyst], "triage")?;
    let actor = format!("user:{}", caller.0.user.username);
    let before = state
        .app
        .triage_finding(f.id, &decision, &actor, OffsetDateTime::now_utc())
        .await?;
    let finding = super::findings::visible_finding(&state, &caller, id).await?;
    Ok(Json(TriageResult { before, finding }))
}

/// Filters of the jobs list.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct JobParams {
    /// network_scan, inventory, image_scan, cloud_inventory, external_discovery, feed_sync,
    /// detection, prioritize …
    kind: Option<String>,
    /// queued, running, done, failed, cancelled.
    status: Option<String>,
    /// Scope id.
    scope: Option<i64>,
    /// Only jobs with a smaller id (the last id of the previous page).
    before: Option<i64>,
    /// 1–1000 (default 50).
    limit: Option<u32>,
}

/// Lists jobs, newest first. A caller restricted to some scopes sees their jobs only.
#[utoipa::path(get, path = "/api/v1/jobs", tag = "jobs", params(JobParams),
    responses(
        (status = 200, description = "Jobs, newest first", body = Vec<Job>),
        (status = 400, description = "Invalid filter", body = ErrorBody),
        (status = 401, description = "Not authenticated", body = ErrorBody),
    ))]
pub(crate) async fn list_jobs(
    State(state): State<AppState>,
    caller: Caller,
    params: Result<Query<JobParams>, QueryRejection>,
) -> Result<Json<Vec<Job>>, ApiError> {
    let Query(p) = params.map_err(query_error)?;
    let visible = caller.visible_scopes();
    if let (Some(v), Some(s)) = (&visible, p.scope)
        && !v.iter().any(|x| x.0 == s)
    {
        return Ok(Json(Vec::new()));
    }
    let jobs = state
        .app
        .store
        .list_jobs(&JobFilter {
            kind: parse_param::<JobKind>(p.kind.as_deref())?,
            status: parse_param::<JobStatus>(p.status.as_deref())?,
            scope: p.scope,
            before: p.before,
            limit: p.limit.unwrap_or(50),
        })
        .await
        .map_err(vantage_app::AppError::from)?;
    Ok(Json(
        jobs.into_iter()
            .filter(|j| {
                visible
                    .as_ref()
                    .is_none_or(|v| j.scope_id.is_some_and(|s| v.contains(&s)))
            })
            .collect(),
    ))
}

/// A job with its log.
#[derive(Serialize, ToSchema)]
pub struct JobDetail {
    /// The job.
    pub job: Job,
    /// Its log, oldest first.
    pub log: Vec<JobLogLine>,
}

async fn visible_job(state: &AppState, caller: &Caller, id: i64) -> Result<Job, ApiError> {
    let not_found = || ApiError::not_found(format!("job {id} not found"));
    let job = state
        .app
        .store
        .job(id)
        .await
        .map_err(vantage_app::AppError::from)?
        .ok_or_else(not_found)?;
    match caller.visible_scopes() {
        Some(v) if !job.scope_id.is_some_and(|s| v.contains(&s)) => Err(not_found()),
        _ => Ok(job),
    }
}

/// One job with its log.
#[utoipa::path(get, path = "/api/v1/jobs/{id}", tag = "jobs",
    params(("id" = i64, Path, description = "Job id")),
    responses(
        (status = 200, description = "The job and its log", body = JobDetail),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 404, description = "No such job visible to the caller", body = ErrorBody),
    ))]
pub(crate) async fn get_job(
    State(state): State<AppState>,
    caller: Caller,
    id: Result<Path<i64>, PathRejection>,
) -> Result<Json<JobDetail>, ApiError> {
    let id = path_id(id)?;
    let job = visible_job(&state, &caller, id).await?;
    let log = state
        .app
        .store
        .job_log_lines(id)
        .await
        .map_err(vantage_app::AppError::from)?;
    Ok(Json(JobDetail { job, log }))
}

/// What to queue: a scope's collectors, or a job's work again.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RunRequest {
    /// Queue this scope's collectors (name).
    #[serde(default)]
    pub scope: Option<String>,
    /// Queue this job's work again.
    #[serde(default)]
    pub job: Option<i64>,
}

/// Queues work for the workers; answers the queued job ids.
#[utoipa::path(post, path = "/api/v1/jobs", tag = "jobs", request_body = RunRequest,
    responses(
        (status = 200, description = "Queued job ids", body = Vec<i64>),
        (status = 400, description = "Neither or both of scope and job; a scope without collectors", body = ErrorBody),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "Role may not run jobs", body = ErrorBody),
        (status = 404, description = "No such scope or job visible to the caller", body = ErrorBody),
    ))]
pub(crate) async fn run_job(
    State(state): State<AppState>,
    caller: Caller,
    req: Result<Json<RunRequest>, JsonRejection>,
) -> Result<Json<Vec<i64>>, ApiError> {
    let req = body(req)?;
    role_in(
        &caller,
        &[Role::Admin, Role::Analyst, Role::Operator],
        "running jobs",
    )?;
    let origin = format!("user:{}", caller.0.user.username);
    let ids = match (req.scope, req.job) {
        (Some(name), None) => {
            let scope = state
                .app
                .store
                .scope_by_name(&name)
                .await
                .map_err(vantage_app::AppError::from)?
                .filter(|s| caller.may_see(&[s.id]))
                .ok_or_else(|| ApiError::not_found(format!("scope `{name}` not found")))?;
            state.app.run_scope_now(&scope.name, &origin).await?
        }
        (None, Some(job)) => {
            visible_job(&state, &caller, job).await?;
            vec![state.app.rerun_job(job, &origin).await?]
        }
        _ => {
            return Err(ApiError::bad_request(
                "give exactly one of `scope` and `job`",
            ));
        }
    };
    Ok(Json(ids))
}

/// Cancels a job: a queued one at once, a running one at its worker's next heartbeat.
#[utoipa::path(post, path = "/api/v1/jobs/{id}/cancel", tag = "jobs",
    params(("id" = i64, Path, description = "Job id")),
    responses(
        (status = 200, description = "The job after the request", body = Job),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "Role may not cancel jobs", body = ErrorBody),
        (status = 404, description = "No such job visible to the caller", body = ErrorBody),
    ))]
pub(crate) async fn cancel_job(
    State(state): State<AppState>,
    caller: Caller,
    id: Result<Path<i64>, PathRejection>,
) -> Result<Json<Job>, ApiError> {
    let id = path_id(id)?;
    visible_job(&state, &caller, id).await?;
    role_in(
        &caller,
        &[Role::Admin, Role::Analyst, Role::Operator],
        "cancelling jobs",
    )?;
    let now = OffsetDateTime::now_utc();
    let store = &state.app.store;
    let status = store
        .cancel_job(id, now)
        .await
        .map_err(vantage_app::AppError::from)?;
    store
        .record_audit(
            now,
            &format!("user:{}", caller.0.user.username),
            "job.cancel",
            ("job", &id.to_string()),
            &format!("status {}", status.map(|s| s.as_str()).unwrap_or("?")),
        )
        .await
        .map_err(vantage_app::AppError::from)?;
    Ok(Json(visible_job(&state, &caller, id).await?))
}

/// Filters of the attack-path analysis.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PathParams {
    /// Only paths to this scope's assets (default: every critical scope; required for a caller
    /// restricted to some scopes).
    to: Option<String>,
    /// How many paths and choke points (default 50).
    limit: Option<usize>,
}

/// Attack paths from the internet to assets of critical scopes, ranked, with choke points.
#[utoipa::path(get, path = "/api/v1/paths", tag = "paths", params(PathParams),
    responses(
        (status = 200, description = "The analysis", body = Object),
        (status = 400, description = "A restricted caller must name a scope", body = ErrorBody),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 404, description = "No such scope visible to the caller", body = ErrorBody),
    ))]
pub(crate) async fn get_paths(
    State(state): State<AppState>,
    caller: Caller,
    params: Result<Query<PathParams>, QueryRejection>,
) -> Result<Json<vantage_app::paths::Analysis>, ApiError> {
    let Query(p) = params.map_err(query_error)?;
    let to = p.to.filter(|s| !s.is_empty());
    if caller.visible_scopes().is_some() {
        let Some(name) = &to else {
            return Err(ApiError::bad_request(
                "name the scope to analyse (`to`): you see only some scopes",
            ));
        };
        let visible = state
            .app
            .store
            .scope_by_name(name)
            .await
            .map_err(vantage_app::AppError::from)?
            .is_some_and(|s| caller.may_see(&[s.id]));
        if !visible {
            return Err(ApiError::not_found(format!("scope `{name}` not found")));
        }
    }
    let mut a = state.app.attack_paths(to.as_deref()).await?;
    let limit = p.limit.unwrap_or(50);
    a.paths.truncate(limit);
    a.choke_points.truncate(limit);
    Ok(Json(a))
}

/// Creates or rewrites a scope from its document (the JSON form of a `[[scope]]` table of
/// `vantage scopes apply`): rules, policies, schedule, collectors, access. Admin only.
#[utoipa::path(put, path = "/api/v1/scopes/{name}", tag = "scopes",
    params(("name" = String, Path, description = "Scope name (must match the body's name)")),
    request_body(content = Object, description = "The scope document"),
    responses(
        (status = 200, description = "Applied", body = Object),
        (status = 400, description = "Invalid scope (the field is named)", body = ErrorBody),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "Not an administrator", body = ErrorBody),
    ))]
pub(crate) async fn put_scope(
    State(state): State<AppState>,
    caller: Caller,
    name: Result<Path<String>, PathRejection>,
    spec: Result<Json<vantage_app::scopes::ScopeSpec>, JsonRejection>,
) -> Result<Json<vantage_app::scopes::Applied>, ApiError> {
    let Path(name) = name.map_err(|e| ApiError::bad_request(e.body_text()))?;
    role_in(&caller, &[Role::Admin], "editing scopes")?;
    let spec = body(spec)?;
    if spec.name != name {
        return Err(ApiError::bad_request(format!(
            "the path names scope `{name}` but the body names `{}`",
            spec.name
        )));
    }
    let doc = vantage_app::scopes::ScopesFile { scopes: vec![spec] };
    let mut applied = state
        .app
        .apply_scopes(&doc, &format!("user:{}", caller.0.user.username))
        .await?;
    Ok(Json(applied.remove(0)))
}

/// Filters of the metrics.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MetricParams {
    /// First day, YYYY-MM-DD (default: 30 days ago).
    from: Option<String>,
    /// Last day, YYYY-MM-DD (default: today).
    to: Option<String>,
    /// Scope id (0: every asset).
    scope: Option<i64>,
    /// open_findings, mttr_days, sla_compliance, scan_coverage, assets_live, assets_added,
    /// assets_decommissioned.
    metric: Option<String>,
}

/// One metric value of a daily snapshot.
#[derive(Serialize, ToSchema)]
pub struct MetricValue {
    /// Day (YYYY-MM-DD).
    pub day: String,
    /// Scope id (0: every asset).
    pub scope_id: i64,
    /// Metric.
    pub metric: String,
    /// Dimension (a priority or `all`).
    pub dim: String,
    /// Value.
    pub value: f64,
}

/// Daily metric snapshots; a caller restricted to some scopes gets theirs only (not scope 0).
#[utoipa::path(get, path = "/api/v1/metrics", tag = "metrics", params(MetricParams),
    responses(
        (status = 200, description = "Values by day, scope, metric, dimension", body = Vec<MetricValue>),
        (status = 400, description = "Invalid filter", body = ErrorBody),
        (status = 401, description = "Not authenticated", body = ErrorBody),
    ))]
pub(crate) async fn get_metrics(
    State(state): State<AppState>,
    caller: Caller,
    params: Result<Query<MetricParams>, QueryRejection>,
) -> Result<Json<Vec<MetricValue>>, ApiError> {
    let Query(p) = params.map_err(query_error)?;
    let fmt = time::macros::format_description!("[year]-[month]-[day]");
    let date = |s: Option<String>, default: time::Date| match s.filter(|s| !s.is_empty()) {
        None => Ok(default),
        Some(s) => time::Date::parse(&s, &fmt)
            .map_err(|_| ApiError::bad_request(format!("`{s}` is not a date (YYYY-MM-DD)"))),
    };
    let today = OffsetDateTime::now_utc().date();
    let from = date(p.from, today - time::Duration::days(30))?;
    let to = date(p.to, today)?;
    let rows = state
        .app
        .store
        .metrics(
            from,
            to,
            p.scope,
            p.metric.as_deref().filter(|m| !m.is_empty()),
        )
        .await
        .map_err(vantage_app::AppError::from)?;
    let visible = caller.visible_scopes();
    Ok(Json(
        rows.into_iter()
            .filter(|r| {
                visible
                    .as_ref()
                    .is_none_or(|v| v.iter().any(|s| s.0 == r.scope_id))
            })
            .map(|r| MetricValue {
                day: r.day,
                scope_id: r.scope_id,
                metric: r.metric,
                dim: r.dim,
                value: r.value,
            })
            .collect(),
    ))
}
