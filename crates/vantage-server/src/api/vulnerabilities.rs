//! `GET /api/v1/vulnerabilities/{id}`: the encyclopedia entry of one vulnerability.

use axum::Json;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use vantage_domain::{VulnFilter, VulnSummary, VulnerabilityView};

/// Filters of the vulnerability search.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct VulnParams {
    /// Id prefix (`CVE-2024-`) or words of the description.
    q: Option<String>,
    /// Only CVEs in CISA KEV.
    kev: Option<bool>,
    /// Only CVEs whose latest EPSS score is at least this (0–1).
    epss_min: Option<f64>,
    /// Published on or after this day (YYYY-MM-DD).
    published_from: Option<String>,
    /// Published before this day (YYYY-MM-DD).
    published_to: Option<String>,
    /// Page size, 1–1000 (default 100).
    limit: Option<u32>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
}

/// A page of vulnerabilities.
#[derive(Serialize, ToSchema)]
pub struct VulnPage {
    /// The rows, by id.
    pub items: Vec<VulnSummary>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

fn day(v: Option<&str>, name: &str) -> Result<Option<time::OffsetDateTime>, ApiError> {
    v.filter(|s| !s.is_empty())
        .map(|s| {
            time::Date::parse(s, time::macros::format_description!("[year]-[month]-[day]"))
                .map(|d| d.midnight().assume_utc())
                .map_err(|_| {
                    ApiError::bad_request(format!("{name}: `{s}` is not a YYYY-MM-DD date"))
                })
        })
        .transpose()
}

/// Searches the knowledge base: by id prefix or text, KEV only, EPSS at least, published range.
#[utoipa::path(get, path = "/api/v1/vulnerabilities", tag = "vulnerabilities", params(VulnParams),
    responses(
        (status = 200, description = "A page of vulnerabilities", body = VulnPage),
        (status = 400, description = "Invalid filter", body = ErrorBody),
        (status = 401, description = "Not authenticated", body = ErrorBody),
    ))]
pub(crate) async fn list_vulnerabilities(
    State(state): State<AppState>,
    _caller: Caller,
    params: Result<Query<VulnParams>, QueryRejection>,
) -> Result<Json<VulnPage>, ApiError> {
    let Query(p) = params.map_err(super::query_error)?;
    let filter = VulnFilter {
        text: p.q,
        kev_only: p.kev.unwrap_or(false),
        epss_min: p.epss_min,
        published_from: day(p.published_from.as_deref(), "published_from")?,
        published_to: day(p.published_to.as_deref(), "published_to")?,
        limit: vantage_domain::query::page_size(p.limit),
        after: None,
    };
    let page = state
        .app
        .search_vulnerabilities(filter, p.cursor.as_deref())
        .await?;
    Ok(Json(VulnPage {
        items: page.items,
        next_cursor: page.next_cursor,
    }))
}

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
