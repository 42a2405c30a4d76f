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
    /// Not run before this time (a retry waits here).
    #[serde(with = "time::serde::rfc3339")]
    pub run_after: OffsetDateTime,
    /// Attempts allowed before it fails for good.
    pub max_attempts: i32,
    /// Who queued it: `schedule`, `user:NAME`, `cli`, or the job that queued it.
    pub origin: String,
    /// The worker running it (`serve:HOST:PID`), while it runs.
    pub worker: Option<String>,
    /// A user asked to cancel it; the worker stops at its next heartbeat.
    pub cancel_requested: bool,
    /// What it does, as JSON (never a secret: credentials are vault names).
    pub payload: String,
    /// Its summary when done.
    pub result: Option<String>,
    /// Seconds from start to finish (to now while it runs).
    pub duration_seconds: Option<i64>,
}

/// A log line of a job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct JobLogLine {
    /// When.
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// info, warn or error.
    pub level: String,
    /// What happened.
    pub message: String,
}
