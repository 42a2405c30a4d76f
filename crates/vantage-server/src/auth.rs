//! Bearer-token authentication for `/api/v1`, and the [`Caller`] it attaches to each request.

use axum::extract::{FromRequestParts, Request, State};
use axum::http::header;
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::Response;
use time::OffsetDateTime;
use vantage_domain::{AssetId, ScopeId};
use vantage_store::TokenOwner;

use crate::AppState;
use crate::error::ApiError;

/// The authenticated caller of a request.
#[derive(Clone, Debug)]
pub struct Caller(pub TokenOwner);

impl Caller {
    /// Scopes the caller may see; `None` means all.
    pub fn visible_scopes(&self) -> Option<Vec<ScopeId>> {
        self.0.visible_scopes.clone()
    }

    /// Whether the caller may see an asset that belongs to `scopes`.
    pub fn may_see(&self, scopes: &[ScopeId]) -> bool {
        match &self.0.visible_scopes {
            None => true,
            Some(v) => scopes.iter().any(|s| v.contains(s)),
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Caller>()
            .cloned()
            .ok_or_else(|| ApiError::unauthorized("authentication required"))
    }
}

/// Middleware: resolves the bearer token or answers 401.
pub(crate) async fn require_token(
    State(state): State<AppState>,
    mut req: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let header = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let token = header
        .and_then(|h| h.strip_prefix("Bearer ").or_else(|| h.strip_prefix("bearer ")))
        .map(str::trim)
        .ok_or_else(|| {
            ApiError::unauthorized("missing `Authorization: Bearer <token>` header (create a token with POST /api/v1/auth/token)")
        })?;
    let owner = state
        .app
        .authenticate_token(token, OffsetDateTime::now_utc())
        .await?
        .ok_or_else(|| ApiError::unauthorized("invalid or expired token"))?;
    req.extensions_mut().insert(Caller(owner));
    Ok(next.run(req).await)
}

/// Answers 404 (not 403: existence is not disclosed) when the caller may not see the asset.
pub(crate) async fn check_asset_visible(
    state: &AppState,
    caller: &Caller,
    asset: AssetId,
) -> Result<(), ApiError> {
    if caller.visible_scopes().is_none() {
        return Ok(());
    }
    let scopes = state
        .app
        .store
        .asset(asset)
        .await
        .map_err(vantage_app::AppError::from)?
        .map(|a| a.scopes);
    match scopes {
        Some(s) if caller.may_see(&s) => Ok(()),
        _ => Err(ApiError::not_found(format!("asset {asset} not found"))),
    }
}
