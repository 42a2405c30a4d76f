//! Vantage use cases: opening the data directory and database, authentication, queries with
//! user-facing references (scope and asset names), and the seed generator used by benchmarks.
//!
//! This crate knows nothing of HTTP or of the command line: the server and the binary both call
//! it, so a capability behaves the same through the API and the CLI.
#![forbid(unsafe_code)]

pub mod alerting;
pub mod auth;
pub mod cloud;
pub mod config;
pub mod env;
pub mod external;
pub mod feeds;
pub mod hosts;
pub mod images;
pub mod inventory;
pub mod kubernetes;
pub mod lifecycle;
pub mod membership;
pub mod network;
pub mod patch;
pub mod paths;
pub mod prioritize;
pub mod queries;
pub mod remediation;
pub mod schedule;
pub mod scopes;
pub mod secrets;
pub mod seed;
pub mod sync;
pub mod tickets;

mod app;
mod error;

pub use app::{App, Health};
pub use config::{Config, Loaded, LogFormat, Overrides};
pub use error::AppError;
