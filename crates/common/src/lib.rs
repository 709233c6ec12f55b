//! Mechanisms shared by every phonebill service and by the all-in-one launcher: configuration,
//! errors and envelope, HTTP stack, actuator, database, cache, breaker, retry backoff, token
//! verification, KOS wire types and client, history writer, metrics registry, telemetry, time.
//!
//! Nothing here knows a business rule: a service defines its own metric families, cache key
//! families and rule messages; the few definitions two services must share are in [`contract`]. The rule of the crate: a service *library* never installs
//! global state (no tracing subscriber, no signal handler, no global metrics registry); only the
//! binaries do, through [`telemetry::init`] and [`server::shutdown_signal`]. That is what lets the
//! `phonebill` launcher run four services in one process and lets tests run apps side by side.

pub mod actuator;
pub mod auth;
pub mod backoff;
pub mod breaker;
pub mod cache;
pub mod cli;
pub mod client_ip;
pub mod config;
pub mod contract;
pub mod db;
pub mod envelope;
pub mod error;
pub mod extract;
pub mod history;
pub mod http;
pub mod kos;
pub mod line;
pub mod list_query;
pub mod metrics;
pub mod openapi;
pub mod prerendered;
pub mod redis_conn;
pub mod request_id;
pub mod server;
pub mod service;
pub mod telemetry;
pub mod time;

pub use error::{ApiError, ErrorCode};
