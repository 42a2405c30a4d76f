//! `GET /api/v1/assets`, `GET /api/v1/assets/{id}` and `GET /api/v1/assets/{id}/services`.

use axum::Json;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use vantage_app::queries::AssetQuery;
use vantage_domain::{Asset, AssetId, AssetKind, Service};

use super::{parse_param, query_error};
use crate::AppState;
use crate::auth::{Caller, check_asset_visible};
use crate::error::{ApiError, ErrorBody};

/// Filters of the asset list.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AssetParams {
    /// `host`, `container_image`, `cloud_instance`, `domain`, `ip_address`, `web_application`.
    kind: Option<String>,
    /// Scope name or id.
    scope: Option<String>,
    /// Name contains (case-insensitive).
    search: Option<String>,
    /// Include decommissioned assets (default false).
    include_decommissioned: Option<bool>,
    /// Page size, 1–1000 (default 100).
    limit: Option<u32>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
}

/// A page of assets.
#[derive(Serialize, ToSchema)]
pub struct AssetPage {
    /// The assets, by id.
    pub items: Vec<Asset>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// Lists the inventory visible to the caller.
#[utoipa::path(get, path = "/api/v1/assets", tag = "assets", params(AssetParams),
    responses(
        (status = 200, description = "A page of assets", body = AssetPage),
        (status = 400, description = "Invalid filter", body = ErrorBody),
        (status = 401, description = "Not authenticated", body = ErrorBody),
    ))]
pub(crate) async fn list_assets(
    State(state): State<AppState>,
    caller: Caller,
    params: Result<Query<AssetParams>, QueryRejection>,
) -> Result<Json<AssetPage>, ApiError> {
    let Query(p) = params.map_err(query_error)?;
    let query = AssetQuery {
        kind: parse_param::<AssetKind>(p.kind.as_deref())?,
        scope: p.scope.filter(|s| !s.is_empty()),
        search: p.search,
        include_decommissioned: p.include_decommissioned.unwrap_or(false),
        limit: p.limit,
        cursor: p.cursor.filter(|s| !s.is_empty()),
    };
    let page = state.app.assets(&query, caller.visible_scopes()).await?;
    Ok(Json(AssetPage {
        items: page.items,
        next_cursor: page.next_cursor,
    }))
}

/// One asset with its identifiers, tags and scopes.
#[utoipa::path(get, path = "/api/v1/assets/{id}", tag = "assets",
    params(("id" = i64, Path, description = "Asset id")),
    responses(
        (status = 200, description = "The asset", body = Asset),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 404, description = "No such asset visible to the caller", body = ErrorBody),
    ))]
pub(crate) async fn get_asset(
    State(state): State<AppState>,
    caller: Caller,
    id: Result<Path<i64>, PathRejection>,
) -> Result<Json<Asset>, ApiError> {
    let Path(id) = id.map_err(|e| ApiError::bad_request(e.body_text()))?;
    check_asset_visible(&state, &caller, AssetId(id)).await?;
    let asset = state
        .app
        .store
        .asset(AssetId(id))
        .await
        .map_err(vantage_app::AppError::from)?;
    asset
        .map(Json)
        .ok_or_else(|| ApiError::not_found(format!("asset {id} not found")))
}

/// Which services of an asset.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ServiceParams {
    /// Also services a later scan found closed (default false).
    include_closed: Option<bool>,
}

/// The network services of an asset (open ones, or all with `include_closed`): product,
/// version, CPE, banner, TLS certificate facts, HTTP facts, first and last seen.
#[utoipa::path(get, path = "/api/v1/assets/{id}/services", tag = "assets",
    params(("id" = i64, Path, description = "Asset id"), ServiceParams),
    responses(
        (status = 200, description = "The services, by transport and port", body = Vec<Service>),
        (status = 400, description = "Invalid parameter", body = ErrorBody),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 404, description = "No such asset visible to the caller", body = ErrorBody),
    ))]
pub(crate) async fn list_services(
    State(state): State<AppState>,
    caller: Caller,
    id: Result<Path<i64>, PathRejection>,
    params: Result<Query<ServiceParams>, QueryRejection>,
) -> Result<Json<Vec<Service>>, ApiError> {
    let Path(id) = id.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let Query(p) = params.map_err(query_error)?;
    check_asset_visible(&state, &caller, AssetId(id)).await?;
    let services = state
        .app
        .store
        .services_of(AssetId(id), p.include_closed.unwrap_or(false))
        .await
        .map_err(vantage_app::AppError::from)?;
    Ok(Json(services))
}
