//! Credentials collectors log in with. The secret never appears in these types: it is sealed by
//! the application and only ever unsealed inside a collector.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::macros::name_enum;

name_enum! {
    /// What a credential is.
    pub enum CredentialKind ("credential kind") {
        /// An SSH private key (OpenSSH or PEM format).
        SshKey = "ssh_key",
        /// A password.
        Password = "password",
        /// An API token (ITSM connectors).
        Token = "token",
    }
}

/// A stored credential, without its secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Credential {
    /// Stored id.
    pub id: i64,
    /// Unique name (`prod-root-key`).
    pub name: String,
    /// What it is.
    pub kind: CredentialKind,
    /// The user it logs in as, when it says.
    pub username: String,
    /// When it was added.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// When its secret was last replaced.
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}
