//! The Vantage HTTP server: REST API under `/api/v1`, its OpenAPI document, and `/healthz`.
//! The only crate that speaks HTTP.
//!
//! Every `/api/v1` route except login and the OpenAPI document requires an API token
//! (`Authorization: Bearer vtg_…`); the caller's scope restrictions apply to every list and
//! detail. Errors are JSON: `{"error": {"code": "…", "message": "…"}}`. Every response carries
//! security headers: a Content-Security-Policy without inline scripts and with
//! `frame-ancestors 'none'`, `X-Content-Type-Options: nosniff`, `X-Frame-Options: DENY`,
//! `Referrer-Policy: no-referrer`, `Cross-Origin-Opener-Policy: same-origin`.
#![forbid(unsafe_code)]

mod api;
mod auth;
mod error;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::{StatusCode, header};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::set_header::SetResponseHeaderLayer;
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

/// The Content-Security-Policy of every response: nothing from elsewhere, no inline script
/// or style, no framing, no plugins.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; \
     form-action 'self'; frame-ancestors 'none'";

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
        // Outermost: every response, errors and timeouts included, carries them.
        .layer(security_header(
            header::CONTENT_SECURITY_POLICY,
            CONTENT_SECURITY_POLICY,
        ))
        .layer(security_header(header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .layer(security_header(header::X_FRAME_OPTIONS, "DENY"))
        .layer(security_header(header::REFERRER_POLICY, "no-referrer"))
        .layer(security_header(
            header::HeaderName::from_static("cross-origin-opener-policy"),
            "same-origin",
        ))
}

fn security_header(
    name: header::HeaderName,
    value: &'static str,
) -> SetResponseHeaderLayer<header::HeaderValue> {
    SetResponseHeaderLayer::overriding(name, header::HeaderValue::from_static(value))
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
