//! Configuration of the bill-inquiry service.
//!
//! Besides the shared variables of [`phonebill_common::config`] (default `PORT` 8082), it reads:
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `JWKS_URL` | `http://localhost:8081/api/v1/auth/.well-known/jwks.json` | auth's key set (tests use static keys instead, [`Config::verifier`]) |
//! | `JWKS_TIMEOUT_MS` | 3000 | bound on one JWKS fetch |
//! | `JWT_ISSUER` / `JWT_AUDIENCE` | `phonebill-auth` / `phonebill` | required `iss` / `aud` |
//! | `REDIS_URL` | unset | L2 cache and the replicated deny list; unset = process-local only |
//! | `REDIS_CLUSTER` | `false` | `true`: Redis Cluster protocol, `REDIS_URL` = one seed node (docs/architecture.md decision 12) |
//! | `REDIS_CA_CERT` | unset (webpki roots) | PEM bundle of the private CA of a `rediss://` Redis |
//! | `DENY_LIST_KEY_PREFIX` | see `common::auth` | deny-list key prefix |
//! | `KOS_BASE_URL` | `http://localhost:8084` | KOS (the mock) |
//! | `KOS_CONNECT_TIMEOUT_MS`, `KOS_TIMEOUT_MS`, `KOS_RETRY_DELAY_MS` | 1000, 3000, 200 | KOS client (`common::kos::client`) |
//! | `KOS_API_KEY`, `KOS_SERVICE_NAME` | unset, `bill-inquiry-service` | service credential (docs/api.md §5.8) |
//! | `BREAKER_FAILURE_THRESHOLD`, `BREAKER_OPEN_SECONDS`, `BREAKER_HALF_OPEN_TRIALS` | 5, 60, 3 | the KOS circuit breaker |
//! | `CACHE_*` | see `common::cache` | two-level cache (L1 TTL, capacity, Redis timeout, TTL overrides, stale window, negative TTL) |
//! | `INQUIRY_SYNC_BUDGET_MS` | 5000 | how long `POST /bills/inquiry` waits for KOS before answering `202` (docs/api.md §3.2 step 4) |
//! | `BILL_RESULT_RETENTION_HOURS` | 24 | how long a result's `billInfo` is kept for polling (docs/api.md §3.3) |
//! | `HISTORY_QUEUE_CAPACITY` | 10000 | history channel size (beyond it requests wait: back-pressure) |
//! | `HISTORY_BATCH_SIZE` | 2000 | most rows per history batch (one transaction); a batch takes what is queued, so under load batches grow and the per-commit cost is shared (200 capped the cache-hit path at ≈ 12k req/s on SQLite, docs/benchmarks.md) |
//! | `HISTORY_LINGER_MS` | 20 | wait for more rows before writing a partial batch |
//! | `HISTORY_MAX_BACKOFF_MS` | 5000 | longest retry delay while the database is down |
//! | `HISTORY_FLUSH_DEADLINE_SECONDS` | 20 | how long shutdown may spend flushing history |
//! | `HISTORY_COMMIT_TIMEOUT_MS` | 1000 | bound on one history commit; an answer waits for its row's commit (group commit), past the bound the batch is spilled (docs/reliability.md) |
//! | `HISTORY_SPILL_DIR` | `$DATA_DIR/spill` | where history that the database did not take is spilled (`bill-inquiry-history.jsonl`); `off` = no spill (answers 503 while the database is away) |

use std::time::Duration;

use phonebill_common::auth::{DenyListConfig, VerifierConfig};
use phonebill_common::cache::CacheConfig;
use phonebill_common::config::{ConfigError, Env};
use phonebill_common::history::HistoryConfig;
use phonebill_common::kos::client::KosClientConfig;
use phonebill_common::service::BaseConfig;

/// Default standalone port (docs/api.md §1.1).
pub const DEFAULT_PORT: u16 = 8082;

/// The service's configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Shared settings: server, HTTP, database, telemetry.
    pub base: BaseConfig,
    /// Token verification (JWKS or static keys).
    pub verifier: VerifierConfig,
    /// Session deny list.
    pub deny: DenyListConfig,
    /// KOS client and breaker.
    pub kos: KosClientConfig,
    /// Two-level cache.
    pub cache: CacheConfig,
    /// Synchronous budget of an inquiry before `202`.
    pub sync_budget: Duration,
    /// How long `billInfo` stays available for polling.
    pub result_retention: Duration,
    /// History writer.
    pub history: HistoryConfig,
}

impl Config {
    /// Reads and validates the environment.
    pub fn from_env(env: Env<'_>) -> Result<Self, ConfigError> {
        let history = HistoryConfig {
            capacity: env.ranged("HISTORY_QUEUE_CAPACITY", 10_000usize, 1..=1_000_000)?,
            batch_size: env.ranged("HISTORY_BATCH_SIZE", 2000usize, 1..=10_000)?,
            linger: Duration::from_millis(env.ranged("HISTORY_LINGER_MS", 20u64, 0..=10_000)?),
            max_backoff: Duration::from_millis(env.ranged(
                "HISTORY_MAX_BACKOFF_MS",
                5000u64,
                10..=600_000,
            )?),
            flush_deadline: Duration::from_secs(env.ranged(
                "HISTORY_FLUSH_DEADLINE_SECONDS",
                20u64,
                1..=600,
            )?),
            ..HistoryConfig::default()
        }
        .with_durability_from_env(env, "bill-inquiry-history")?;
        Ok(Self {
            base: BaseConfig::from_env(env, crate::SERVICE, DEFAULT_PORT)?,
            verifier: VerifierConfig::from_env(env)?,
            deny: DenyListConfig::from_env(env)?,
            kos: KosClientConfig::from_env(env, "bill-inquiry-service")?,
            cache: CacheConfig::from_env(env, crate::cache::FAMILIES)?,
            sync_budget: Duration::from_millis(env.ranged(
                "INQUIRY_SYNC_BUDGET_MS",
                5000u64,
                1..=60_000,
            )?),
            result_retention: Duration::from_secs(
                env.ranged("BILL_RESULT_RETENTION_HOURS", 24u64, 1..=24 * 365)? * 3600,
            ),
            history,
        })
    }
}
