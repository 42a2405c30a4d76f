//! `GET /api/v1/priority/policies`, `PUT` and `DELETE /api/v1/priority/policies/{name}`:
//! the priority policies scopes name, readable by every user and edited by administrators and
//! analysts. A changed policy takes effect at once: a prioritization job starts in the
//! background.

use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Serialize;
use utoipa::ToSchema;
use vantage_app::prioritize::PolicyView;
use vantage_domain::Role;

use crate::AppState;
use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody};

/// A priority policy.
#[derive(Serialize, ToSchema)]
pub struct PolicyBody {
    /// Name scopes refer to (`scopes.priority_policy`).
    pub name: String,
    /// `builtin`, `config` (vantage.toml) or `api` (edited here; wins over the configuration).
    pub origin: String,
    /// Number of rules.
    pub rules: usize,
    /// The policy as TOML, as `PUT` takes it.
    pub toml: String,
}

impl From<PolicyView> for PolicyBody {
    fn from(v: PolicyView) -> Self {
        PolicyBody {
            name: v.name,
            origin: v.origin,
            rules: v.rules,
            toml: v.toml,
        }
    }
}

fn may_edit(caller: &Caller) -> Result<(), ApiError> {
    match caller.0.user.role {
        Role::Admin | Role::Analyst => Ok(()),
        r => Err(ApiError::forbidden(format!(
            "editing priority policies needs the admin or analyst role (you are {r})"
        ))),
    }
}

fn name(p: Result<Path<String>, PathRejection>) -> Result<String, ApiError> {
    p.map(|Path(n)| n)
        .map_err(|e| ApiError::bad_request(e.body_text()))
}

/// Re-prioritizes in the background after a policy change.
fn reprioritize(state: &AppState) {
    let app = state.app.clone();
    tokio::spawn(async move {
        if let Err(e) = app.run_prioritize_job("api").await {
            tracing::warn!(error = %e, "prioritization after a policy change failed");
        }
    });
}

/// Every priority policy in effect.
#[utoipa::path(get, path = "/api/v1/priority/policies", tag = "priority",
    responses(
        (status = 200, description = "Policies, by name", body = Vec<PolicyBody>),
        (status = 401, description = "Not authenticated", body = ErrorBody),
    ))]
pub(crate) async fn list_policies(
    State(state): State<AppState>,
    _caller: Caller,
) -> Result<Json<Vec<PolicyBody>>, ApiError> {
    let all = state.app.priority_policies().await?;
    Ok(Json(all.into_iter().map(PolicyBody::from).collect()))
}

/// Creates or replaces a policy. The body is the policy in TOML (`default = "p4"` and
/// `[[rules]]` tables with `name`, `priority` and `when`), exactly as under
/// `[priority.policies.NAME]` in vantage.toml. A policy that does not parse or validate is
/// refused with the line and field at fault, and changes nothing.
#[utoipa::path(put, path = "/api/v1/priority/policies/{name}", tag = "priority",
    params(("name" = String, Path, description = "Policy name: lower-case letters, digits, - and _")),
    request_body(content = String, content_type = "application/toml",
        description = "The policy as TOML"),
    responses(
        (status = 200, description = "The stored policy", body = PolicyBody),
        (status = 400, description = "Invalid policy", body = ErrorBody),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "Role may not edit policies", body = ErrorBody),
    ))]
pub(crate) async fn put_policy(
    State(state): State<AppState>,
    caller: Caller,
    path: Result<Path<String>, PathRejection>,
    body: String,
) -> Result<Json<PolicyBody>, ApiError> {
    may_edit(&caller)?;
    let name = name(path)?;
    let stored = state
        .app
        .put_priority_policy(&name, &body, &caller.0.user.username)
        .await?;
    reprioritize(&state);
    Ok(Json(stored.into()))
}

/// Removes a policy edited through the API; the configuration's policy of that name (or the
/// built-in `default`) applies again.
#[utoipa::path(delete, path = "/api/v1/priority/policies/{name}", tag = "priority",
    params(("name" = String, Path, description = "Policy name")),
    responses(
        (status = 204, description = "Removed"),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "Role may not edit policies", body = ErrorBody),
        (status = 404, description = "No policy of that name was edited through the API", body = ErrorBody),
    ))]
pub(crate) async fn delete_policy(
    State(state): State<AppState>,
    caller: Caller,
    path: Result<Path<String>, PathRejection>,
) -> Result<StatusCode, ApiError> {
    may_edit(&caller)?;
    let name = name(path)?;
    state
        .app
        .delete_priority_policy(&name, &caller.0.user.username)
        .await?;
    reprioritize(&state);
    Ok(StatusCode::NO_CONTENT)
}
