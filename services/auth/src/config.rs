//! Configuration of the auth service.
//!
//! Reads the shared variables of [`phonebill_common::config`] (default `PORT` 8081) and these:
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `JWT_ISSUER` | `phonebill-auth` | `iss` of issued tokens (verifiers require it) |
//! | `JWT_AUDIENCE` | `phonebill` | `aud` of issued tokens |
//! | `JWT_ACCESS_TTL_SECONDS` | 1800 | access-token lifetime (60..=86400) |
//! | `JWT_KEYS_DIR` | unset (local mode) | directory of `<kid>.pem` Ed25519 PKCS#8 private keys; all are published in the JWKS |
//! | `JWT_ACTIVE_KID` | lexicographically last kid | the key that signs new tokens |
//! | `DATA_DIR` | `./data` | local mode: the generated key is kept at `$DATA_DIR/jwt/<kid>.pem` (mode 0600) |
//! | `REDIS_URL` | unset | deny-list replication (docs/architecture.md decision 4); unset = process-local |
//! | `REDIS_CLUSTER` | `false` | `true`: Redis Cluster protocol, `REDIS_URL` = one seed node (docs/architecture.md decision 12) |
//! | `REDIS_CA_CERT` | unset (webpki roots) | PEM bundle of the private CA of a `rediss://` Redis |
//! | `REDIS_KEY_PREFIX` | empty | prefix of the deny-list keys and channel |
//! | `SEED_DEMO_USERS` | `false` | seed the docs/api.md §8 users after migrations (idempotent) |
//! | `LOGIN_MAX_FAILURES` | 5 | consecutive wrong passwords that lock an account (1..=100) |
//! | `LOGIN_LOCK_MINUTES` | 30 | how long the lock lasts (1..=1440) |
//! | `AUTH_RATE_LIMIT_PER_MINUTE` | 20 | per-IP requests/minute on login and register; 0 disables (benchmarks) |
//! | `TRUST_X_FORWARDED_FOR` | `false` | take the client IP for the rate limit and the login history from the rightmost `X-Forwarded-For` entry, the one the trusted ingress appended (see `phonebill_common::client_ip`) |
//! | `REGISTRATION_MODE` | `verified` (the all-in-one: `open`) | `open` (the form is trusted), `verified` (a code KOS sends to the line proves ownership; the customer id comes from KOS) or `closed` (only `ADMIN` creates accounts); docs/api.md §2.8.1 |
//! | `KOS_BASE_URL`, `KOS_API_KEY`, `KOS_SERVICE_NAME` (`auth-service`), `KOS_TIMEOUT_MS`, … | see `phonebill_common::kos::client` | the KOS client that looks up the line and sends the code (`verified` mode) |
//! | `ARGON2_MEMORY_KIB` | 19456 | Argon2id memory cost (docs/api.md §2.14; lower only in tests) |
//! | `ARGON2_ITERATIONS` | 2 | Argon2id time cost |
//! | `ARGON2_PARALLELISM` | 1 | Argon2id lanes |
//! | `ARGON2_MAX_CONCURRENCY` | 0 = CPUs − 1 (min 1) | hashes computed at once; the rest queue |

use std::path::PathBuf;
use std::time::Duration;

use phonebill_common::auth::DenyListConfig;
use phonebill_common::config::{ConfigError, Env, data_dir};
use phonebill_common::kos::client::KosClientConfig;
use phonebill_common::service::BaseConfig;

use crate::registration::RegistrationMode;

/// Default standalone port (docs/api.md §1.1).
pub const DEFAULT_PORT: u16 = 8081;

/// Argon2id cost parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Argon2Config {
    /// Memory in KiB.
    pub memory_kib: u32,
    /// Iterations.
    pub iterations: u32,
    /// Lanes.
    pub parallelism: u32,
    /// Hashes at once (0: CPUs − 1, at least 1).
    pub max_concurrency: usize,
}

impl Default for Argon2Config {
    /// docs/api.md §2.14 / OWASP: `m=19456,t=2,p=1`.
    fn default() -> Self {
        Self {
            memory_kib: 19456,
            iterations: 2,
            parallelism: 1,
            max_concurrency: 0,
        }
    }
}

/// Where the signing keys come from.
#[derive(Debug, Clone)]
pub enum KeysConfig {
    /// `JWT_KEYS_DIR`: every `<kid>.pem` in it.
    Dir {
        /// The directory.
        dir: PathBuf,
        /// `JWT_ACTIVE_KID`.
        active: Option<String>,
    },
    /// Local mode: one key generated once and kept under `$DATA_DIR/jwt`.
    Local {
        /// `$DATA_DIR/jwt`.
        dir: PathBuf,
    },
}

/// The service's configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Shared settings: server, HTTP, database, telemetry.
    pub base: BaseConfig,
    /// `iss`.
    pub issuer: String,
    /// `aud`.
    pub audience: String,
    /// Access-token lifetime.
    pub access_ttl: Duration,
    /// Signing keys.
    pub keys: KeysConfig,
    /// Deny-list replication.
    pub deny: DenyListConfig,
    /// Seed the demo users.
    pub seed_demo_users: bool,
    /// Failures before lock.
    pub max_failures: u32,
    /// Lock duration.
    pub lock_duration: Duration,
    /// Per-IP limit on login/register per minute (0 = off).
    pub rate_limit_per_minute: u32,
    /// Use `X-Forwarded-For` for the client IP.
    pub trust_forwarded_for: bool,
    /// Password hashing cost.
    pub argon2: Argon2Config,
    /// Who may open an account on a line.
    pub registration_mode: RegistrationMode,
    /// The KOS client (line lookup and the registration code's SMS).
    pub kos: KosClientConfig,
}

impl Config {
    /// Reads and validates the environment.
    pub fn from_env(env: Env<'_>) -> Result<Self, ConfigError> {
        let keys = match env.string("JWT_KEYS_DIR") {
            Some(dir) => KeysConfig::Dir {
                dir: PathBuf::from(dir),
                active: env.string("JWT_ACTIVE_KID"),
            },
            None => KeysConfig::Local {
                dir: data_dir(env).join("jwt"),
            },
        };
        let argon2 = Argon2Config {
            memory_kib: env.ranged("ARGON2_MEMORY_KIB", 19456u32, 8..=4_194_304)?,
            iterations: env.ranged("ARGON2_ITERATIONS", 2u32, 1..=100)?,
            parallelism: env.ranged("ARGON2_PARALLELISM", 1u32, 1..=64)?,
            max_concurrency: env.ranged("ARGON2_MAX_CONCURRENCY", 0usize, 0..=1024)?,
        };
        if argon2.memory_kib < 8 * argon2.parallelism {
            return Err(ConfigError::new(
                "ARGON2_MEMORY_KIB",
                "must be at least 8 x ARGON2_PARALLELISM",
            ));
        }
        Ok(Self {
            base: BaseConfig::from_env(env, crate::SERVICE, DEFAULT_PORT)?,
            issuer: env
                .string("JWT_ISSUER")
                .unwrap_or_else(|| "phonebill-auth".into()),
            audience: env
                .string("JWT_AUDIENCE")
                .unwrap_or_else(|| "phonebill".into()),
            access_ttl: Duration::from_secs(env.ranged(
                "JWT_ACCESS_TTL_SECONDS",
                1800u64,
                60..=86_400,
            )?),
            keys,
            deny: DenyListConfig::from_env(env)?,
            seed_demo_users: env.bool("SEED_DEMO_USERS", false)?,
            max_failures: env.ranged("LOGIN_MAX_FAILURES", 5u32, 1..=100)?,
            lock_duration: Duration::from_secs(
                60 * env.ranged("LOGIN_LOCK_MINUTES", 30u64, 1..=1440)?,
            ),
            rate_limit_per_minute: env.ranged(
                "AUTH_RATE_LIMIT_PER_MINUTE",
                20u32,
                0..=1_000_000,
            )?,
            trust_forwarded_for: env.bool("TRUST_X_FORWARDED_FOR", false)?,
            argon2,
            registration_mode: match env.string("REGISTRATION_MODE") {
                None => RegistrationMode::Verified,
                Some(raw) => raw
                    .parse()
                    .map_err(|e: String| ConfigError::new("REGISTRATION_MODE", e))?,
            },
            kos: KosClientConfig::from_env(env, "auth-service")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn defaults_follow_spec() {
        let m: HashMap<String, String> = HashMap::new();
        let c = Config::from_env(Env::new(&m)).expect("valid");
        assert_eq!(c.access_ttl, Duration::from_secs(1800));
        assert_eq!(c.max_failures, 5);
        assert_eq!(c.lock_duration, Duration::from_secs(1800));
        assert_eq!(c.argon2, Argon2Config::default());
        assert_eq!(c.rate_limit_per_minute, 20);
        assert!(!c.seed_demo_users);
        assert!(matches!(c.keys, KeysConfig::Local { .. }));
        assert_eq!(c.registration_mode, RegistrationMode::Verified);
        assert_eq!(c.kos.service_name, "auth-service");
    }

    #[test]
    fn a_bad_registration_mode_names_the_variable() {
        let m: HashMap<String, String> =
            HashMap::from([("REGISTRATION_MODE".to_owned(), "anyone".to_owned())]);
        let e = Config::from_env(Env::new(&m)).expect_err("invalid");
        assert_eq!(e.var, "REGISTRATION_MODE");
    }

    #[test]
    fn errors_name_the_variable() {
        let m: HashMap<String, String> =
            HashMap::from([("LOGIN_MAX_FAILURES".to_owned(), "0".to_owned())]);
        assert_eq!(
            Config::from_env(Env::new(&m)).expect_err("invalid").var,
            "LOGIN_MAX_FAILURES"
        );
    }
}
