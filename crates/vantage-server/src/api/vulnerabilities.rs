//! `GET /api/v1/vulnerabilities/{id}`: the encyclopedia entry of one vulnerability.

use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use vantage_domain::VulnerabilityView;

use crate::AppState;
use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody};

/// Everything known about one vulnerability: every CVSS vector with its source, SSVC, EPSS
/// (latest and history), KEV, CERT-FR, exploits, per-feed records. Knowledge is global; the
/// count of open findings is the caller's only when they see every scope (else 0).
#[utoipa::path(get, path = "/api/v1/vulnerabilities/{id}", tag = "vulnerabilities",
    params(("id" = String, Path, description = "CVE id, e.g. CVE-2018-13379")),
    responses(
        (status = 200, description = "The entry", body = VulnerabilityView),
        (status = 400, description = "Not a vulnerability id", body = ErrorBody),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 404, description = "No feed mentions it", body = ErrorBody),
    ))]
pub(crate) async fn get_vulnerability(
    State(state): State<AppState>,
    caller: Caller,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<VulnerabilityView>, ApiError> {
    let Path(id) = id.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let mut view = state.app.vulnerability(&id).await?;
    if caller.visible_scopes().is_some() {
        // The inventory-wide count would disclose assets outside the caller's scopes.
        view.open_findings = 0;
    }
    Ok(Json(view))
}
