//! Mobilization over HTTP: patch plans, remediation runs (plan with dry run, approve, execute),
//! connectors (listed without secrets), alerts and the dead-letter list. Every list is limited
//! to the caller's scopes; approvals need the admin role, executions admin or operator.

use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use serde::Deserialize;
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};
use vantage_app::patch::{PlanTarget, RemediationUnit};
use vantage_app::remediation::RunView;
use vantage_app::tickets::IntegrationView;
use vantage_domain::{AssetId, Role};
use vantage_store::{Alert, DeliveryRow};

use super::continuous::role_in;
use super::query_error;
use crate::AppState;
use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody};

/// Which plan.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct PlanParams {
    /// An asset (id, name or identifier).
    asset: Option<String>,
    /// Every live asset of a scope.
    scope: Option<String>,
}

/// The patch plan of an asset or a scope: remediation units (upgrade a package to the smallest
/// version that fixes all its findings, uninstall, upgrade an end-of-life OS) with the CVEs each
/// closes, KEV and P1 counts, and the commands.
#[utoipa::path(get, path = "/api/v1/patch-plan", tag = "mobilization", params(PlanParams),
    responses(
        (status = 200, description = "The remediation units, most urgent first", body = Vec<Object>),
        (status = 400, description = "Neither or both of asset and scope", body = ErrorBody),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 404, description = "No such asset or scope visible to the caller", body = ErrorBody),
    ))]
pub(crate) async fn get_patch_plan(
    State(state): State<AppState>,
    caller: Caller,
    params: Result<Query<PlanParams>, QueryRejection>,
) -> Result<Json<Vec<RemediationUnit>>, ApiError> {
    let Query(p) = params.map_err(query_error)?;
    let target = match (p.asset, p.scope) {
        (Some(a), None) => PlanTarget::Asset(a),
        (None, Some(s)) => {
            let visible = caller.visible_scopes();
            if let Some(v) = &visible {
                let id = state.app.resolve_scope(&s).await?;
                if !v.contains(&id) {
                    return Err(ApiError::not_found(format!("scope `{s}` not found")));
                }
            }
            PlanTarget::Scope(s)
        }
        _ => return Err(ApiError::bad_request("give either `asset` or `scope`")),
    };
    Ok(Json(
        state
            .app
            .patch_plan(&target, caller.visible_scopes(), OffsetDateTime::now_utc())
            .await?,
    ))
}

async fn visible_asset(state: &AppState, caller: &Caller, id: i64) -> Result<bool, ApiError> {
    if caller.visible_scopes().is_none() {
        return Ok(true);
    }
    let a = state
        .app
        .store
        .asset(AssetId(id))
        .await
        .map_err(vantage_app::AppError::from)?;
    Ok(a.is_some_and(|a| caller.may_see(&a.scopes)))
}

/// A remediation run to plan.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PlanRun {
    /// The asset (id, name or identifier).
    asset: String,
    /// Only these packages (source or binary names); all upgrades when empty.
    #[serde(default)]
    packages: Vec<String>,
}

/// Plans a remediation run for an asset and runs the package manager's dry run at once.
/// Admin, analyst or operator.
#[utoipa::path(post, path = "/api/v1/remediations", tag = "mobilization", request_body = PlanRun,
    responses(
        (status = 200, description = "The run, `ready` or `dry_run_failed`, with the dry run's output", body = Object),
        (status = 400, description = "No upgrade to run, no SSH target, bad body", body = ErrorBody),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "Role not allowed", body = ErrorBody),
        (status = 404, description = "No such asset visible to the caller", body = ErrorBody),
    ))]
pub(crate) async fn plan_run(
    State(state): State<AppState>,
    caller: Caller,
    body: Result<Json<PlanRun>, JsonRejection>,
) -> Result<Json<RunView>, ApiError> {
    role_in(
        &caller,
        &[Role::Admin, Role::Analyst, Role::Operator],
        "planning a remediation",
    )?;
    let Json(b) = body.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let id = state.app.resolve_asset(&b.asset).await?;
    if !visible_asset(&state, &caller, id.0).await? {
        return Err(ApiError::not_found(format!(
            "asset `{}` not found",
            b.asset
        )));
    }
    let actor = format!("user:{}", caller.0.user.username);
    Ok(Json(
        state
            .app
            .plan_remediation(&b.asset, &b.packages, &actor)
            .await?,
    ))
}

/// Remediation runs of the caller's assets, newest first.
#[utoipa::path(get, path = "/api/v1/remediations", tag = "mobilization",
    responses(
        (status = 200, description = "Runs", body = Vec<Object>),
        (status = 401, description = "Not authenticated", body = ErrorBody),
    ))]
pub(crate) async fn list_runs(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<RunView>>, ApiError> {
    let mut out = Vec::new();
    for r in state
        .app
        .store
        .remediations(200)
        .await
        .map_err(vantage_app::AppError::from)?
    {
        if visible_asset(&state, &caller, r.asset_id).await? {
            out.push(state.app.remediation(r.id).await?);
        }
    }
    Ok(Json(out))
}

async fn visible_run(state: &AppState, caller: &Caller, id: i64) -> Result<(), ApiError> {
    let r = state
        .app
        .store
        .remediation(id)
        .await
        .map_err(vantage_app::AppError::from)?;
    match r {
        Some(r) if visible_asset(state, caller, r.asset_id).await? => Ok(()),
        _ => Err(ApiError::not_found(format!(
            "remediation run {id} not found"
        ))),
    }
}

/// Approves a run whose dry run passed. Admin only.
#[utoipa::path(post, path = "/api/v1/remediations/{id}/approve", tag = "mobilization",
    params(("id" = i64, Path, description = "Run id")),
    responses(
        (status = 200, description = "The approved run", body = Object),
        (status = 400, description = "The run is not ready", body = ErrorBody),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 404, description = "No such run visible to the caller", body = ErrorBody),
    ))]
pub(crate) async fn approve_run(
    State(state): State<AppState>,
    caller: Caller,
    id: Result<Path<i64>, PathRejection>,
) -> Result<Json<RunView>, ApiError> {
    let Path(id) = id.map_err(|e| ApiError::bad_request(e.body_text()))?;
    role_in(&caller, &[Role::Admin], "approving a remediation")?;
    visible_run(&state, &caller, id).await?;
    let actor = format!("user:{}", caller.0.user.username);
    Ok(Json(
        state
            .app
            .approve_remediation(id, &actor, caller.0.user.role)
            .await?,
    ))
}

/// Executes an approved run (inside its scope's maintenance window), re-inventories the host
/// and verifies. Admin or operator. Answers when the run is finished.
#[utoipa::path(post, path = "/api/v1/remediations/{id}/run", tag = "mobilization",
    params(("id" = i64, Path, description = "Run id")),
    responses(
        (status = 200, description = "The finished run: `succeeded` or `failed`, its log and verification", body = Object),
        (status = 400, description = "Not approved, already run, or outside the maintenance window", body = ErrorBody),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "Role not allowed", body = ErrorBody),
        (status = 404, description = "No such run visible to the caller", body = ErrorBody),
    ))]
pub(crate) async fn execute_run(
    State(state): State<AppState>,
    caller: Caller,
    id: Result<Path<i64>, PathRejection>,
) -> Result<Json<RunView>, ApiError> {
    let Path(id) = id.map_err(|e| ApiError::bad_request(e.body_text()))?;
    role_in(
        &caller,
        &[Role::Admin, Role::Operator],
        "executing a remediation",
    )?;
    visible_run(&state, &caller, id).await?;
    let actor = format!("user:{}", caller.0.user.username);
    Ok(Json(
        state
            .app
            .execute_remediation(id, &actor, caller.0.user.role, OffsetDateTime::now_utc())
            .await?,
    ))
}

/// Connectors, without secrets (only their names). Admin or analyst, unrestricted callers.
#[utoipa::path(get, path = "/api/v1/integrations", tag = "mobilization",
    responses(
        (status = 200, description = "Connectors and their tickets by status", body = Vec<Object>),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "Role not allowed or caller restricted to some scopes", body = ErrorBody),
    ))]
pub(crate) async fn list_integrations(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<IntegrationView>>, ApiError> {
    role_in(
        &caller,
        &[Role::Admin, Role::Analyst],
        "listing integrations",
    )?;
    if caller.visible_scopes().is_some() {
        return Err(ApiError::forbidden(
            "integrations span every scope: you see only some",
        ));
    }
    Ok(Json(state.app.integrations().await?))
}

/// How many alerts.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AlertParams {
    /// At most this many (default 100, at most 1000).
    limit: Option<u32>,
}

/// Alerts about the caller's assets and scopes, newest first.
#[utoipa::path(get, path = "/api/v1/alerts", tag = "mobilization", params(AlertParams),
    responses(
        (status = 200, description = "Alerts", body = Vec<Object>),
        (status = 400, description = "Bad parameters", body = ErrorBody),
        (status = 401, description = "Not authenticated", body = ErrorBody),
    ))]
pub(crate) async fn list_alerts(
    State(state): State<AppState>,
    caller: Caller,
    params: Result<Query<AlertParams>, QueryRejection>,
) -> Result<Json<Vec<Alert>>, ApiError> {
    let Query(p) = params.map_err(query_error)?;
    let limit = p.limit.unwrap_or(100).min(1000);
    let all = state
        .app
        .store
        .alerts(limit)
        .await
        .map_err(vantage_app::AppError::from)?;
    if caller.visible_scopes().is_none() {
        return Ok(Json(all));
    }
    let mut out = Vec::new();
    for a in all {
        if let Some(asset) = a.asset_id
            && visible_asset(&state, &caller, asset).await?
        {
            out.push(a);
        }
    }
    Ok(Json(out))
}

/// Connector calls that failed for good (the dead-letter list). Admin only.
#[utoipa::path(get, path = "/api/v1/deliveries/dead", tag = "mobilization",
    responses(
        (status = 200, description = "Dead calls with their last error (never a secret)", body = Vec<Object>),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody),
    ))]
pub(crate) async fn dead_letters(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<DeliveryRow>>, ApiError> {
    role_in(&caller, &[Role::Admin], "reading the dead-letter list")?;
    Ok(Json(state.app.deliveries("dead", 1000).await?))
}
