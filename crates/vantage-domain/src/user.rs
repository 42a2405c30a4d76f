//! Users, roles and API tokens.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::ids::{TokenId, UserId};
use crate::macros::name_enum;

name_enum! {
    /// What a user may do. Scope access narrows what they may do it to.
    pub enum Role ("role") {
        /// Everything, including users and settings.
        Admin = "admin",
        /// Triage findings, manage scopes and tickets.
        Analyst = "analyst",
        /// Run scans and approved remediations.
        Operator = "operator",
        /// Read only.
        Viewer = "viewer",
    }
}

/// A local user. The password hash never leaves the store crate through this type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct User {
    /// Stored id.
    pub id: UserId,
    /// Login name.
    pub username: String,
    /// Role.
    pub role: Role,
    /// Whether the account may log in.
    pub disabled: bool,
    /// Creation time.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

/// An API token's metadata. The token itself is shown once at creation; only its hash is stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ApiToken {
    /// Stored id.
    pub id: TokenId,
    /// The user it acts as.
    pub user_id: UserId,
    /// Label given at creation.
    pub name: String,
    /// Creation time.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// Expiry, if any.
    #[serde(with = "time::serde::rfc3339::option")]
    pub expires_at: Option<OffsetDateTime>,
}
