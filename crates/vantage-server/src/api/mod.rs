//! Routes of the REST API and the OpenAPI document built from them.

mod assets;
mod continuous;
mod findings;
mod health;
mod login;
mod mobilize;
mod priority;
mod scopes;
mod vulnerabilities;

use axum::extract::rejection::QueryRejection;
use axum::routing::get;
use axum::{Json, Router, middleware};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::auth::require_token;
use crate::error::ApiError;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Vantage API",
        description = "Continuous threat exposure management: assets, findings, scopes. \
                       Authenticate with `Authorization: Bearer <token>`; obtain a token from \
                       `POST /api/v1/auth/token`. Lists are keyset-paginated: pass `next_cursor` \
                       back as `cursor`.",
        license(name = "Apache-2.0")
    ),
    modifiers(&BearerAuth),
    security(("bearer" = [])),
    tags(
        (name = "system", description = "Health and metadata"),
        (name = "auth", description = "API tokens"),
        (name = "assets", description = "The inventory"),
        (name = "findings", description = "Vulnerabilities on assets"),
        (name = "scopes", description = "Groups of assets with policies"),
        (name = "priority", description = "Priority policies (ordered rules over CVSS-BTE, EPSS, KEV …)"),
        (name = "vulnerabilities", description = "The knowledge base (encyclopedia)"),
        (name = "jobs", description = "Durable jobs: scheduled and requested scans, inventories, discoveries"),
        (name = "paths", description = "Attack paths to critical assets and their choke points"),
        (name = "metrics", description = "Daily metric snapshots for dashboards"),
        (name = "mobilization", description = "Patch plans, remediation runs, connectors, alerts"),
    )
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

fn protected() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(assets::list_assets))
        .routes(routes!(assets::get_asset))
        .routes(routes!(assets::list_services))
        .routes(routes!(findings::list_findings))
        .routes(routes!(findings::get_finding))
        .routes(routes!(findings::get_finding_history))
        .routes(routes!(scopes::list_scopes))
        .routes(routes!(continuous::put_scope))
        .routes(routes!(continuous::triage_finding))
        .routes(routes!(continuous::list_jobs, continuous::run_job))
        .routes(routes!(continuous::get_job))
        .routes(routes!(continuous::cancel_job))
        .routes(routes!(continuous::get_paths))
        .routes(routes!(continuous::get_metrics))
        .routes(routes!(mobilize::get_patch_plan))
        .routes(routes!(mobilize::list_runs, mobilize::plan_run))
        .routes(routes!(mobilize::approve_run))
        .routes(routes!(mobilize::execute_run))
        .routes(routes!(mobilize::list_integrations))
        .routes(routes!(mobilize::list_alerts))
        .routes(routes!(mobilize::dead_letters))
        .routes(routes!(priority::list_policies))
        .routes(routes!(priority::put_policy, priority::delete_policy))
        .routes(routes!(vulnerabilities::get_vulnerability))
        .routes(routes!(vulnerabilities::list_vulnerabilities))
}

fn public() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(health::healthz))
        .routes(routes!(login::create_token))
}

/// The OpenAPI document of the API.
pub fn openapi() -> utoipa::openapi::OpenApi {
    let (_, api) = OpenApiRouter::<AppState>::with_openapi(ApiDoc::openapi())
        .merge(public())
        .merge(protected())
        .split_for_parts();
    api
}

pub(crate) fn routes(state: AppState) -> Router {
    let (protected, _) = protected()
        .route_layer(middleware::from_fn_with_state(state.clone(), require_token))
        .split_for_parts();
    let (public, _) = public().split_for_parts();
    let doc = openapi();
    Router::new()
        .merge(public)
        .merge(protected)
        .route(
            "/api/v1/openapi.json",
            get(move || async move { Json(doc) }),
        )
        .fallback(|| async { ApiError::not_found("no such route") })
        .with_state(state)
}

/// Maps a query-string rejection to a JSON 400 that says which parameter is wrong.
pub(crate) fn query_error(e: QueryRejection) -> ApiError {
    ApiError::bad_request(e.body_text())
}

/// Parses an optional enum-like query parameter.
pub(crate) fn parse_param<T: std::str::FromStr>(v: Option<&str>) -> Result<Option<T>, ApiError>
where
    T::Err: std::fmt::Display,
{
    v.filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<T>()
                .map_err(|e| ApiError::bad_request(e.to_string()))
        })
        .transpose()
}
