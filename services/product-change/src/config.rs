//! Configuration of the product-change service.
//!
//! Besides the shared variables of [`phonebill_common::config`] (default `PORT` 8083), it reads:
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `JWKS_URL` | `http://localhost:8081/api/v1/auth/.well-known/jwks.json` | auth's key set (tests pass static keys through [`Config::verifier`] instead) |
//! | `JWKS_TIMEOUT_MS` | 3000 | bound on one JWKS fetch |
//! | `JWT_ISSUER` / `JWT_AUDIENCE` | `phonebill-auth` / `phonebill` | required `iss` / `aud` |
//! | `REDIS_URL` | unset | L2 cache, cache invalidation pub/sub and the session deny list; unset = process-local |
//! | `REDIS_CLUSTER` | `false` | `true`: Redis Cluster protocol, `REDIS_URL` = one seed node (docs/architecture.md decision 12) |
//! | `REDIS_CA_CERT` | unset (webpki roots) | PEM bundle of the private CA of a `rediss://` Redis |
//! | `REDIS_KEY_PREFIX` | empty | prefix of the deny-list keys |
//! | `CACHE_*` | see [`phonebill_common::cache`] | two-level cache (`CACHE_KEY_PREFIX`, `CACHE_L1_TTL_SECONDS`, `CACHE_TTL_PRODUCT_CUSTOMER_SECONDS`, …) |
//! | `KOS_BASE_URL` | `http://localhost:8084` | the KOS (mock) |
//! | `KOS_TIMEOUT_MS` / `KOS_CHANGE_TIMEOUT_MS` | 3000 / 5000 | per-call timeouts of reads / of the change |
//! | `KOS_CONNECT_TIMEOUT_MS`, `KOS_RETRY_DELAY_MS`, `KOS_API_KEY`, `KOS_SERVICE_NAME` | see [`phonebill_common::kos::client`] | KOS client |
//! | `BREAKER_*` | see [`phonebill_common::breaker`] | KOS circuit breaker (5 failures, 60 s open, 3 trials) |
//! | `PRODUCT_BUDGET_MS` | 5000 | synchronous budget of customer look-ups (docs/api.md §4.2) |
//! | `RECONCILE_INTERVAL_SECONDS` | 30 | how often `PROCESSING` changes are re-sent to KOS (also once at start) |
//! | `RECONCILE_MAX_ATTEMPTS` | 10 | reconciliation attempts before a change is given up (`E_KOS_TIMEOUT`) |
//! | `RECONCILE_MAX_AGE_SECONDS` | 1800 | age after which a change is given up |
//! | `RECONCILE_LEASE_SECONDS` | 120 | how long a replica's claim on due changes lasts; a replica that dies mid-pass leaves its rows due again after this (docs/architecture.md "Reconciliation claims") |
//! | `RECONCILE_ENABLED` | `true` | run the reconciliation task (benchmarks may switch it off) |
//! | `IDEMPOTENCY_TTL_SECONDS` | 86400 | how long an `Idempotency-Key` is remembered |
//! | `HISTORY_COMMIT_TIMEOUT_MS` | 1000 | bound on one KOS call-log commit; a request waits for its call rows' commit, past the bound the batch is spilled (docs/reliability.md) |
//! | `HISTORY_SPILL_DIR` | `$DATA_DIR/spill` | where call-log rows the database did not take are spilled (`product-change-kos-calls.jsonl`); `off` = no spill |

use std::time::Duration;

use phonebill_common::auth::{DenyListConfig, VerifierConfig};
use phonebill_common::cache::CacheConfig;
use phonebill_common::config::{ConfigError, Env};
use phonebill_common::history::HistoryConfig;
use phonebill_common::kos::client::KosClientConfig;
use phonebill_common::service::BaseConfig;

/// Default standalone port (docs/api.md §1.1).
pub const DEFAULT_PORT: u16 = 8083;

/// The name this service gives KOS (`X-Service-Name`).
pub const KOS_SERVICE_NAME: &str = "product-change-service";

/// The service's configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Shared settings: server, HTTP, database, telemetry.
    pub base: BaseConfig,
    /// Token verification (JWKS or static keys).
    pub verifier: VerifierConfig,
    /// Session deny-list replication.
    pub deny: DenyListConfig,
    /// Two-level cache.
    pub cache: CacheConfig,
    /// KOS client and breaker.
    pub kos: KosClientConfig,
    /// Synchronous budget of a customer look-up.
    pub budget: Duration,
    /// Reconciliation settings.
    pub reconcile: ReconcileConfig,
    /// Lifetime of an idempotency key.
    pub idempotency_ttl: Duration,
    /// The KOS call-log writer (group commit and spill).
    pub history: HistoryConfig,
}

/// When and how long in-flight changes are reconciled (docs/api.md §4.6).
#[derive(Debug, Clone, Copy)]
pub struct ReconcileConfig {
    /// Run the task at all.
    pub enabled: bool,
    /// Time between passes.
    pub interval: Duration,
    /// Attempts before giving up.
    pub max_attempts: i32,
    /// Age before giving up.
    pub max_age: Duration,
    /// Lease of a claim on due rows: a replica stops sending a batch before it runs out, and
    /// the rows of one that died become due again after it.
    pub lease: Duration,
}

impl Default for ReconcileConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            interval: Duration::from_secs(30),
            max_attempts: 10,
            max_age: Duration::from_secs(30 * 60),
            lease: Duration::from_secs(120),
        }
    }
}

impl Config {
    /// Reads and validates the environment.
    pub fn from_env(env: Env<'_>) -> Result<Self, ConfigError> {
        Ok(Self {
            base: BaseConfig::from_env(env, crate::SERVICE, DEFAULT_PORT)?,
            verifier: VerifierConfig::from_env(env)?,
            deny: DenyListConfig::from_env(env)?,
            cache: CacheConfig::from_env(env, crate::cache::FAMILIES)?,
            kos: KosClientConfig::from_env(env, KOS_SERVICE_NAME)?,
            budget: Duration::from_millis(env.ranged(
                "PRODUCT_BUDGET_MS",
                5000u64,
                100..=60_000,
            )?),
            reconcile: ReconcileConfig {
                enabled: env.bool("RECONCILE_ENABLED", true)?,
                interval: Duration::from_secs(env.ranged(
                    "RECONCILE_INTERVAL_SECONDS",
                    30u64,
                    1..=86_400,
                )?),
                max_attempts: env.ranged("RECONCILE_MAX_ATTEMPTS", 10i32, 1..=1000)?,
                max_age: Duration::from_secs(env.ranged(
                    "RECONCILE_MAX_AGE_SECONDS",
                    1800u64,
                    1..=7 * 86_400,
                )?),
                lease: Duration::from_secs(env.ranged(
                    "RECONCILE_LEASE_SECONDS",
                    120u64,
                    10..=3600,
                )?),
            },
            idempotency_ttl: Duration::from_secs(env.ranged(
                "IDEMPOTENCY_TTL_SECONDS",
                86_400u64,
                60..=30 * 86_400,
            )?),
            history: HistoryConfig::default()
                .with_durability_from_env(env, "product-change-kos-calls")?,
        })
    }
}
