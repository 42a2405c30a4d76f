//! `POST /api/v1/auth/token`: exchange a username and password for an API token.

use axum::Json;
use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};
use utoipa::ToSchema;

use crate::AppState;
use crate::error::{ApiError, ErrorBody};

/// Credentials and the token's label.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenRequest {
    /// Login name.
    pub username: String,
    /// Password.
    pub password: String,
    /// Label for the token (default `api`).
    pub name: Option<String>,
    /// Lifetime in days (default 30, at most 365).
    pub expires_in_days: Option<u32>,
}

/// A new token, shown once.
#[derive(Serialize, ToSchema)]
pub struct TokenResponse {
    /// The token: send it as `Authorization: Bearer <token>`.
    pub token: String,
    /// When it expires.
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
}

/// Creates an API token for the given user.
#[utoipa::path(post, path = "/api/v1/auth/token", tag = "auth", security(()),
    request_body = TokenRequest,
    responses(
        (status = 200, description = "Token created", body = TokenResponse),
        (status = 400, description = "Malformed request", body = ErrorBody),
        (status = 401, description = "Wrong username or password", body = ErrorBody),
    ))]
pub(crate) async fn create_token(
    State(state): State<AppState>,
    body: Result<Json<TokenRequest>, JsonRejection>,
) -> Result<Json<TokenResponse>, ApiError> {
    let Json(req) = body.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let days = req.expires_in_days.unwrap_or(30);
    if !(1..=365).contains(&days) {
        return Err(ApiError::bad_request(
            "expires_in_days must be between 1 and 365",
        ));
    }
    let user = state.app.login(&req.username, &req.password).await?;
    let now = OffsetDateTime::now_utc();
    let expires_at = now + Duration::days(i64::from(days));
    let name = req.name.unwrap_or_else(|| "api".into());
    let token = state
        .app
        .create_api_token(&user, &name, now, Some(expires_at))
        .await?;
    Ok(Json(TokenResponse { token, expires_at }))
}
