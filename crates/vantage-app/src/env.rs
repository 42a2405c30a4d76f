//! The environment variables Vantage reads, in one place.

/// Every Vantage variable starts with this.
pub const PREFIX: &str = "VANTAGE_";
/// Variables reserved for the test suite and benchmarks (never warned about).
pub const TEST_PREFIX: &str = "VANTAGE_TEST_";
/// Path of the configuration file.
pub const CONFIG: &str = "VANTAGE_CONFIG";
/// Data directory.
pub const DATA_DIR: &str = "VANTAGE_DATA_DIR";
/// Database URL.
pub const DATABASE: &str = "VANTAGE_DATABASE";
/// Pool size.
pub const DATABASE_MAX_CONNECTIONS: &str = "VANTAGE_DATABASE_MAX_CONNECTIONS";
/// Server listen address.
pub const LISTEN: &str = "VANTAGE_LISTEN";
/// Request timeout in seconds.
pub const REQUEST_TIMEOUT: &str = "VANTAGE_REQUEST_TIMEOUT_SECS";
/// Log filter.
pub const LOG_LEVEL: &str = "VANTAGE_LOG_LEVEL";
/// Log format (`text` or `json`).
pub const LOG_FORMAT: &str = "VANTAGE_LOG_FORMAT";
/// NVD API key.
pub const NVD_API_KEY: &str = "VANTAGE_NVD_API_KEY";
/// Feed refresh period in `serve`.
pub const FEEDS_REFRESH: &str = "VANTAGE_FEEDS_REFRESH";
/// The credentials vault's master key: base64 of 32 bytes (else the key file).
pub const MASTER_KEY: &str = "VANTAGE_MASTER_KEY";
/// The credentials vault's key file.
pub const MASTER_KEY_FILE: &str = "VANTAGE_MASTER_KEY_FILE";
/// Scheduler and job workers in `serve` (`on`/`off`).
pub const SCHEDULER: &str = "VANTAGE_SCHEDULER";
/// Seconds between scheduler ticks.
pub const SCHEDULER_TICK: &str = "VANTAGE_SCHEDULER_TICK_SECS";
/// Seconds a job lease lasts.
pub const SCHEDULER_LEASE: &str = "VANTAGE_SCHEDULER_LEASE_SECS";
/// Variables read elsewhere (not configuration keys) that are not unknown.
pub const KNOWN_OTHER: &[&str] = &[CONFIG];
