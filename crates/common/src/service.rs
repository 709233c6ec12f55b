//! What every service has in common: its base configuration, its dependencies from the process,
//! and running it standalone.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::actuator::Lifecycle;
use crate::config::{ConfigError, DatabaseConfig, Env, HttpConfig, ServerConfig};
use crate::http::{ServiceParts, assemble};
use crate::metrics::Metrics;
use crate::telemetry::TelemetryConfig;

/// The settings every service reads (see [`crate::config`] for the variables).
#[derive(Debug, Clone)]
pub struct BaseConfig {
    /// Listening and shutdown.
    pub server: ServerConfig,
    /// Middleware settings.
    pub http: HttpConfig,
    /// The service's own database.
    pub database: DatabaseConfig,
    /// Logging and tracing.
    pub telemetry: TelemetryConfig,
}

impl BaseConfig {
    /// Reads the shared variables for `service` (`auth`, …), defaulting the port.
    pub fn from_env(env: Env<'_>, service: &str, default_port: u16) -> Result<Self, ConfigError> {
        Ok(Self {
            server: ServerConfig::from_env(env, default_port, IpAddr::V4(Ipv4Addr::UNSPECIFIED))?,
            http: HttpConfig::from_env(env)?,
            database: DatabaseConfig::from_env(env, service)?,
            telemetry: TelemetryConfig::from_env(env, &format!("{service}-service"))?,
        })
    }
}

/// What the process gives a service: the shared metrics registry and the shutdown token that
/// owns the service's background tasks.
#[derive(Debug, Clone)]
pub struct Deps {
    /// The process's metrics.
    pub metrics: Metrics,
    /// Cancelled when the process shuts down; background tasks stop on it.
    pub shutdown: CancellationToken,
    /// Readiness lifecycle of the process.
    pub lifecycle: Lifecycle,
    /// A revocation deny list shared by every service of the process. The all-in-one launcher
    /// sets it so a logout in auth is seen at once by bill and product even without Redis;
    /// standalone services leave it `None` and start their own (replicated through Redis).
    pub deny_list: Option<crate::auth::DenyList>,
    /// A two-level cache shared by every service of the process. The all-in-one launcher sets
    /// it so product-change's invalidation of a bill entry reaches bill-inquiry's L1 without
    /// Redis pub/sub; standalone services leave it `None` and build their own.
    pub cache: Option<crate::cache::Cache>,
}

impl Deps {
    /// Fresh dependencies (tests, standalone binaries).
    pub fn new() -> Self {
        Self {
            metrics: Metrics::new(),
            shutdown: CancellationToken::new(),
            lifecycle: Lifecycle::default(),
            deny_list: None,
            cache: None,
        }
    }
}

impl Deps {
    /// The shared deny list if the process gave one, else a new one from `cfg`, after the
    /// Redis start-up check (a misconfigured Redis is an error naming the variable).
    pub async fn deny_list_or_start(
        &self,
        cfg: &crate::auth::DenyListConfig,
    ) -> Result<crate::auth::DenyList, crate::auth::DenyListError> {
        match &self.deny_list {
            Some(shared) => Ok(shared.clone()),
            None => crate::auth::DenyList::start_checked(cfg, self.shutdown.child_token()).await,
        }
    }
}

impl Deps {
    /// The shared cache if the process gave one, else a new one from `cfg`.
    pub fn cache_or_new(
        &self,
        cfg: &crate::cache::CacheConfig,
    ) -> Result<crate::cache::Cache, crate::cache::CacheError> {
        match &self.cache {
            Some(shared) => Ok(shared.clone()),
            None => crate::cache::Cache::new(cfg.clone(), &self.metrics, &self.shutdown),
        }
    }
}

impl Default for Deps {
    fn default() -> Self {
        Self::new()
    }
}

/// Serves one service alone: its routes, actuator and docs behind the shared stack.
pub async fn serve_standalone(
    parts: ServiceParts,
    base: &BaseConfig,
    deps: &Deps,
    listener: TcpListener,
) -> std::io::Result<()> {
    let name = parts.name;
    let router = assemble(
        name,
        vec![parts],
        &deps.metrics,
        &deps.lifecycle,
        &base.http,
    );
    crate::server::serve(
        listener,
        router,
        deps.shutdown.clone(),
        deps.lifecycle.clone(),
        &base.server,
    )
    .await
}

/// A readiness check renamed `<prefix>.<name>` (the all-in-one process has one per service).
pub struct Prefixed {
    /// Prefix (service name).
    pub prefix: &'static str,
    /// The check.
    pub inner: Arc<dyn crate::actuator::HealthCheck>,
}

#[async_trait::async_trait]
impl crate::actuator::HealthCheck for Prefixed {
    fn name(&self) -> String {
        format!("{}.{}", self.prefix, self.inner.name())
    }
    fn critical(&self) -> bool {
        self.inner.critical()
    }
    async fn check(&self) -> crate::actuator::ComponentHealth {
        self.inner.check().await
    }
}
