//! `GET /api/v1/scopes`.

use axum::Json;
use axum::extract::State;
use vantage_domain::Scope;

use crate::AppState;
use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody};

/// Lists the scopes the caller may see.
#[utoipa::path(get, path = "/api/v1/scopes", tag = "scopes",
    responses(
        (status = 200, description = "Scopes, by name", body = Vec<Scope>),
        (status = 401, description = "Not authenticated", body = ErrorBody),
    ))]
pub(crate) async fn list_scopes(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<Scope>>, ApiError> {
    let all = state
        .app
        .store
        .list_scopes()
        .await
        .map_err(vantage_app::AppError::from)?;
    let visible = caller.visible_scopes();
    Ok(Json(
        all.into_iter()
            .filter(|s| visible.as_ref().is_none_or(|v| v.contains(&s.id)))
            .collect(),
    ))
}
