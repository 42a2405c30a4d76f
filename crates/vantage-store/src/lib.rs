//! Vantage persistence: the only crate that speaks SQL.
//!
//! [`Store`] wraps either an embedded SQLite database (the default: one file in the data
//! directory, WAL mode) or a PostgreSQL database (for scale and for several server replicas).
//! Both backends run the same queries wherever SQL allows it (`$1` placeholders work on both);
//! where the backends differ (bulk inserts, locking) each has its own branch. The same store test
//! suite runs against both.
//!
//! Nothing outside this crate sees a `sqlx` type: methods take and return domain values.
#![forbid(unsafe_code)]

mod assets;
mod audit;
mod backend;
mod cloud;
mod credentials;
mod error;
mod findings;
mod inventory;
mod jobs;
mod knowledge;
mod metrics;
mod migrate;
mod mobilize;
mod paths;
mod priority;
mod remote;
mod scopes;
mod services;
mod sql;
mod sync;
mod users;

pub use backend::{Backend, ConnectOptions, Store};
pub use cloud::{CloudRecord, CloudResourceRow, CloudStored, StoredExposure};
pub use error::{Result, StoreError, redact_url};
pub use findings::BULK_BATCH_ROWS;
pub use inventory::{NewPackage, OsvAdvisory};
pub use jobs::{ClaimedJob, FinishedJob, JobFilter, Lease};
pub use knowledge::{ImportLog, ImportTx};
pub use metrics::MetricRow;
pub use migrate::LATEST as LATEST_MIGRATION;
pub use mobilize::{
    AlertRuleRow, DeliveryRow, HostFactsRow, IntegrationRow, NewTicket, RemediationRow,
    TicketChanges, TicketRow,
};
pub use paths::{MemberRows, PathFinding, PathInput, PathVuln};
pub use priority::{ChangedContext, PriorityApplied, PriorityKnowledge, StoredContext};
pub use remote::{Alert, NewAlert, PinnedKey, SshTarget};
pub use scopes::NewScope;
pub use services::{ScanRun, ServiceChanges};
pub use sync::SyncState;
pub use users::{TokenOwner, UserWithHash};
