//! Audit events: who did what to which object, kept for accountability.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// One audited action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditEvent {
    /// Stored id.
    pub id: i64,
    /// When it happened.
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// Who did it (`user:alice`, `token:3`, `system`).
    pub actor: String,
    /// What was done (`user.create`, `finding.accept_risk` …).
    pub action: String,
    /// The kind of object acted upon.
    pub target_kind: String,
    /// The object's id.
    pub target_id: String,
    /// Details (never secrets).
    pub detail: String,
}
