//! The Vantage domain model: the nouns of the CTEM loop as plain Rust types.
//!
//! Everything here is pure data plus the small amount of logic that belongs to the data itself
//! (parsing an enum from its stored name, validating a CVE id, deciding whether a status counts as
//! open). There is no IO, no async, no SQL and no HTTP in this crate; the store, the collectors and
//! the server all speak these types.
//!
//! The loop, and where its data lives:
//! - Discovery produces [`Asset`]s with [`Identifier`]s, [`Service`]s and [`Package`]s.
//! - Knowledge is [`Vulnerability`] records with their [`CvssVector`]s, and threat facts
//!   ([`EpssScore`], [`KevEntry`], [`CertFrAlert`], [`Exploit`]) kept as separate, dated records.
//! - Detection produces [`Finding`]s (asset × vulnerability × [`Evidence`]).
//! - Scoping is [`Scope`] with its membership rules and policies.
//! - Operation is [`User`]s, [`Role`]s, [`ApiToken`]s, [`Job`]s and [`AuditEvent`]s.
#![forbid(unsafe_code)]

mod macros;

pub mod asset;
pub mod audit;
pub mod credential;
pub mod error;
pub mod finding;
pub mod ids;
pub mod job;
pub mod knowledge;
pub mod package;
pub mod priority;
pub mod query;
pub mod scope;
pub mod service;
pub mod threat;
pub mod user;
pub mod vulnerability;

pub use asset::{Asset, AssetKind, Identifier, IdentifierKind, NewAsset, Tag};
pub use audit::AuditEvent;
pub use credential::{Credential, CredentialKind};
pub use error::ParseError;
pub use finding::{
    ComponentKind, Confidence, Evidence, Finding, FindingStatus, Lifecycle, NewFinding, Priority,
    Triage,
};
pub use ids::{AssetId, FindingId, JobId, PackageId, ScopeId, ServiceId, TokenId, UserId};
pub use job::{Job, JobKind, JobLogLine, JobStatus};
pub use knowledge::{
    AffectedPackage, CpeMatch, DistroFix, FeedCvss, FeedKind, FeedRecord, ImportCounts, RangeEvent,
    SsvcDecision, VersionRange, VulnFilter, VulnRecord, VulnSummary, VulnerabilityView,
    cpe23_fields,
};
pub use package::{Ecosystem, Package};
pub use priority::{Prioritization, PriorityChange, PriorityModel, PriorityResult, SsvcOutcome};
pub use query::{AssetFilter, Cursor, FindingFilter, Page, StatusFilter};
pub use scope::{
    CiaRequirements, Collector, ExposureClass, MembershipRule, Requirement, ScanFrequency, Scope,
    ScopeAccess, SlaPolicy, Thresholds,
};
pub use service::{HttpFacts, NewService, Service, TlsCertificate, Transport};
pub use threat::{CertFrAlert, EpssScore, Exploit, KevEntry};
pub use user::{ApiToken, Role, User};
pub use vulnerability::{CvssVector, CvssVersion, VulnId, Vulnerability};

/// Timestamps are UTC instants; re-exported so dependants agree on the type.
pub type Timestamp = time::OffsetDateTime;
