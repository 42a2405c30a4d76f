//! The Vantage HTTP server: REST API under `/api/v1`, its OpenAPI document, and `/healthz`.
//! The only crate that speaks HTTP.
//!
//! Every `/api/v1` route except login and the OpenAPI document requires an API token
//! (`Authorization: Bearer vtg_…`); the caller's scope restrictions apply to every list and
//! detail. Errors are JSON: `{"error": {"code": "…", "message": "…"}}`.
#![forbid(unsafe_code)]

mod api;
mod auth;
mod error;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::StatusCode;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;
use vantage_app::App;

pub use api::openapi;
pub use error::ApiError;

/// State shared by the handlers.
#[derive(Clone)]
pub struct AppState {
    /// The application.
    pub app: Arc<App>,
}

/// Largest accepted request body.
const BODY_LIMIT: usize = 1024 * 1024;

/// The complete router with its middleware.
pub fn router(app: App) -> Router {
    let timeout = Duration::from_secs(app.config.server.request_timeout_secs.max(1));
    let state = AppState { app: Arc::new(app) };
    api::routes(state)
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            timeout,
        ))
        .layer(RequestBodyLimitLayer::new(BODY_LIMIT))
        .layer(CatchPanicLayer::custom(error::panic_response))
        .layer(TraceLayer::new_for_http())
}

/// Binds the listen address and serves until `shutdown` completes, then drains open requests.
pub async fn serve(
    app: App,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let router = router(app);
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}
