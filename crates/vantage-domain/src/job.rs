//! Background jobs: scans, imports and remediations run by the scheduler, durable in the store.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::ids::{JobId, ScopeId};
use crate::macros::name_enum;

name_enum! {
    /// What a job does.
    pub enum JobKind ("job kind") {
        /// Network discovery and fingerprinting.
        NetworkScan = "network_scan",
        /// SSH or local inventory.
        Inventory = "inventory",
        /// Container image inventory.
        ImageScan = "image_scan",
        /// Cloud inventory.
        CloudInventory = "cloud_inventory",
        /// External attack-surface discovery.
        ExternalDiscovery = "external_discovery",
        /// Feed synchronisation.
        FeedSync = "feed_sync",
        /// Matching inventories against the knowledge base.
        Detection = "detection",
        /// A remediation run.
        Remediation = "remediation",
        /// Ticket and notification synchronisation.
        TicketSync = "ticket_sync",
        /// Re-computing priorities after new knowledge or inventory.
        Prioritize = "prioritize",
    }
}

name_enum! {
    /// Where a job stands.
    pub enum JobStatus ("job status") {
        /// Waiting for a worker.
        Queued = "queued",
        /// Being run.
        Running = "running",
        /// Finished successfully.
        Done = "done",
        /// Finished with an error (after its retries).
        Failed = "failed",
        /// Cancelled by a user.
        Cancelled = "cancelled",
    }
}

/// A job as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Job {
    /// Stored id.
    pub id: JobId,
    /// What it does.
    pub kind: JobKind,
    /// The scope it works on, if any.
    pub scope_id: Option<ScopeId>,
    /// Status.
    pub status: JobStatus,
    /// Progress, 0–1.
    pub progress: f64,
    /// Attempts made so far.
    pub attempts: i32,
    /// The last error, when it failed.
    pub error: Option<String>,
    /// Queued at.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// Started at.
    #[serde(with = "time::serde::rfc3339::option")]
    pub started_at: Option<OffsetDateTime>,
    /// Finished at.
    #[serde(with = "time::serde::rfc3339::option")]
    pub finished_at: Option<OffsetDateTime>,
}
