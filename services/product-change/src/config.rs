//! Configuration of the product-change service.
//!
//! Reads the shared variables of [`phonebill_common::config`] (default `PORT` 8083); the
//! service's own variables are added here as its features land.

use phonebill_common::config::{ConfigError, Env};
use phonebill_common::service::BaseConfig;

/// Default standalone port (SPEC 1.1).
pub const DEFAULT_PORT: u16 = 8083;

/// The service's configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Shared settings: server, HTTP, database, telemetry.
    pub base: BaseConfig,
}

impl Config {
    /// Reads and validates the environment.
    pub fn from_env(env: Env<'_>) -> Result<Self, ConfigError> {
        Ok(Self {
            base: BaseConfig::from_env(env, crate::SERVICE, DEFAULT_PORT)?,
        })
    }
}
