//! `GET /healthz`: liveness and database reachability, for load balancers and monitors.

use axum::Json;
use axum::extract::State;
use serde::Serialize;
use utoipa::ToSchema;

use crate::AppState;
use crate::error::{ApiError, ErrorBody};

/// Health report.
#[derive(Serialize, ToSchema)]
pub struct HealthBody {
    /// `ok`.
    pub status: String,
    /// `sqlite` or `postgres`.
    pub database: String,
    /// Newest applied schema migration.
    pub schema_version: i64,
    /// Server version.
    pub version: String,
}

/// Reports whether the server and its database answer.
#[utoipa::path(get, path = "/healthz", tag = "system", security(()),
    responses(
        (status = 200, description = "Healthy", body = HealthBody),
        (status = 503, description = "The database does not answer", body = ErrorBody),
    ))]
pub(crate) async fn healthz(State(state): State<AppState>) -> Result<Json<HealthBody>, ApiError> {
    let h = state.app.health().await.map_err(|e| ApiError {
        status: axum::http::StatusCode::SERVICE_UNAVAILABLE,
        code: "unavailable",
        message: e.to_string(),
    })?;
    Ok(Json(HealthBody {
        status: h.status.into(),
        database: h.database.into(),
        schema_version: h.schema_version,
        version: h.version.into(),
    }))
}
