//! `GET /api/v1/findings` and `GET /api/v1/findings/{id}`.

use axum::Json;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use vantage_app::queries::FindingQuery;
use vantage_domain::{Finding, FindingId, Priority, PriorityChange, StatusFilter, VulnId};

use super::{parse_param, query_error};
use crate::AppState;
use crate::auth::{Caller, check_asset_visible};
use crate::error::{ApiError, ErrorBody};

/// Filters of the findings list.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FindingParams {
    /// Scope name or id.
    scope: Option<String>,
    /// Asset id, name or identifier (IP, host name …).
    asset: Option<String>,
    /// `p1` … `p4`.
    priority: Option<String>,
    /// `open` (default: open and reopened), `all`, `fixed`, `reopened`, `accepted_risk`, `false_positive`.
    status: Option<String>,
    /// Vulnerability id (`CVE-2024-3094`).
    cve: Option<String>,
    /// Page size, 1–1000 (default 100).
    limit: Option<u32>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
}

/// A page of findings.
#[derive(Serialize, ToSchema)]
pub struct FindingPage {
    /// The findings, by id.
    pub items: Vec<Finding>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// Lists findings visible to the caller, filtered and keyset-paginated.
#[utoipa::path(get, path = "/api/v1/findings", tag = "findings", params(FindingParams),
    responses(
        (status = 200, description = "A page of findings", body = FindingPage),
        (status = 400, description = "Invalid filter", body = ErrorBody),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 404, description = "Unknown scope or asset", body = ErrorBody),
    ))]
pub(crate) async fn list_findings(
    State(state): State<AppState>,
    caller: Caller,
    params: Result<Query<FindingParams>, QueryRejection>,
) -> Result<Json<FindingPage>, ApiError> {
    let Query(p) = params.map_err(query_error)?;
    let query = FindingQuery {
        scope: p.scope.filter(|s| !s.is_empty()),
        asset: p.asset.filter(|s| !s.is_empty()),
        priority: parse_param::<Priority>(p.priority.as_deref())?,
        status: parse_param::<StatusFilter>(p.status.as_deref())?.unwrap_or_default(),
        cve: parse_param::<VulnId>(p.cve.as_deref())?,
        limit: p.limit,
        cursor: p.cursor.filter(|s| !s.is_empty()),
    };
    let page = state.app.findings(&query, caller.visible_scopes()).await?;
    Ok(Json(FindingPage {
        items: page.items,
        next_cursor: page.next_cursor,
    }))
}

/// One finding with its evidence.
#[utoipa::path(get, path = "/api/v1/findings/{id}", tag = "findings",
    params(("id" = i64, Path, description = "Finding id")),
    responses(
        (status = 200, description = "The finding", body = Finding),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 404, description = "No such finding visible to the caller", body = ErrorBody),
    ))]
pub(crate) async fn get_finding(
    State(state): State<AppState>,
    caller: Caller,
    id: Result<Path<i64>, PathRejection>,
) -> Result<Json<Finding>, ApiError> {
    let Path(id) = id.map_err(|e| ApiError::bad_request(e.body_text()))?;
    Ok(Json(visible_finding(&state, &caller, id).await?))
}

/// A finding the caller may see; 404 (existence is not disclosed) otherwise.
pub(crate) async fn visible_finding(
    state: &AppState,
    caller: &Caller,
    id: i64,
) -> Result<Finding, ApiError> {
    let not_found = || ApiError::not_found(format!("finding {id} not found"));
    let f = state
        .app
        .store
        .finding(FindingId(id))
        .await
        .map_err(vantage_app::AppError::from)?
        .ok_or_else(not_found)?;
    check_asset_visible(state, caller, f.asset_id)
        .await
        .map_err(|_| not_found())?;
    Ok(f)
}

/// A finding's priority history, oldest first: every change of its priority or score, with
/// the explanation it had from then on.
#[utoipa::path(get, path = "/api/v1/findings/{id}/history", tag = "findings",
    params(("id" = i64, Path, description = "Finding id")),
    responses(
        (status = 200, description = "Priority changes, oldest first", body = Vec<PriorityChange>),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 404, description = "No such finding visible to the caller", body = ErrorBody),
    ))]
pub(crate) async fn get_finding_history(
    State(state): State<AppState>,
    caller: Caller,
    id: Result<Path<i64>, PathRejection>,
) -> Result<Json<Vec<PriorityChange>>, ApiError> {
    let Path(id) = id.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let f = visible_finding(&state, &caller, id).await?;
    let history = state
        .app
        .store
        .priority_history(f.id)
        .await
        .map_err(vantage_app::AppError::from)?;
    Ok(Json(history))
}
