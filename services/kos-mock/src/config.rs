//! Configuration of the KOS mock service.
//!
//! Besides the shared variables of [`phonebill_common::config`] (default `PORT` 8084), it reads:
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `KOS_STORE` | `database` | `database` (the `DATABASE_URL` store) or `memory` (in-process, nothing persisted) |
//! | `KOS_SIMULATION` | `realistic` | `realistic` (latency, failures) or `off` (0 ms, 100 %); the all-in-one launcher sets `off` |
//! | `KOS_SIM_SEED` | random | seed of the simulation RNG, so a run can be repeated |
//! | `KOS_LATENCY_<ENDPOINT>_MS` | docs/api.md §5.7 table | `min-max` latency range in ms (`<ENDPOINT>` = `BILL_INQUIRY`, `PRODUCT_CHANGE`, `PRODUCT_INQUIRY`, `PRODUCT_LIST`, `AVAILABLE_MONTHS`, `AUTH`) |
//! | `KOS_SUCCESS_RATE_<ENDPOINT>` | docs/api.md §5.7 table | probability of success, `0.0`–`1.0` |
//! | `KOS_RATE_LIMIT_ENABLED` | `true` when `KOS_SIMULATION=realistic`, else `false` | per-caller rate limits |
//! | `KOS_RATE_LIMIT_<ENDPOINT>_PER_MINUTE` | bill 100, change 50, auth 200, others 100 | requests per minute per caller |
//! | `KOS_FAULTS_ENABLED` | `true` | honour `X-Kos-Fault` and scripted faults (set `false` in production) |
//! | `KOS_REQUIRE_AUTH` | `false` | require a service credential (docs/api.md §5.8; `true` in production) |
//! | `KOS_API_KEY` | unset | the shared service key; also signs the short-lived tokens of `POST /api/kos/auth` |
//! | `KOS_ALLOWED_SERVICES` | `bill-inquiry-service,product-change-service,auth-service` | `X-Service-Name` values accepted (auth sends registration codes through `sms/send`) |
//! | `KOS_TOKEN_TTL_SECONDS` | 3600 | lifetime of service tokens |
//! | `KOS_MOCK_DATA_ENABLED` | `true` | allow mock-data creation (`false` in production) |
//! | `KOS_BULK_MAX` | 10000 | largest `count` of one bulk mock-data call (more: `400 4000`) |
//! | `KOS_ADMIN_REQUIRES_KEY` | `false` | admin, fault, SMS-outbox and bulk endpoints need the service key even when `KOS_REQUIRE_AUTH=false` (the all-in-one sets it on a non-loopback bind) |
//! | `KOS_LINE_CACHE_TTL_MS` | unlimited on SQLite, `1000` on PostgreSQL | lifetime of a cached line (`0`: no cache); see [`crate::store::cached`] |

use std::collections::BTreeMap;
use std::time::Duration;

use phonebill_common::config::{ConfigError, Env};
use phonebill_common::kos::KosEndpoint;
use phonebill_common::service::BaseConfig;
use secrecy::SecretString;

use crate::sim::{EndpointSim, SimMode};

/// Default standalone port (docs/api.md §1.1).
pub const DEFAULT_PORT: u16 = 8084;

/// Where the mock keeps its data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreKind {
    /// The `DATABASE_URL` database (PostgreSQL or SQLite).
    Database,
    /// In process memory.
    Memory,
}

/// The service's configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Shared settings: server, HTTP, database, telemetry.
    pub base: BaseConfig,
    /// Store selection.
    pub store: StoreKind,
    /// Simulation mode at start.
    pub simulation: SimMode,
    /// Seed of the simulation RNG.
    pub sim_seed: Option<u64>,
    /// Per-endpoint latency and success rate.
    pub endpoints: BTreeMap<KosEndpoint, EndpointSim>,
    /// Per-caller rate limiting on/off.
    pub rate_limit_enabled: bool,
    /// Requests per minute per caller, per endpoint.
    pub rate_limits: BTreeMap<KosEndpoint, u32>,
    /// `KOS_LINE_CACHE_TTL_MS` as given (`None`: the per-backend default, `Some(0)`: no cache).
    pub line_cache_ttl_ms: Option<u64>,
    /// Fault injection on/off.
    pub faults_enabled: bool,
    /// Service credentials required.
    pub require_auth: bool,
    /// The shared service key.
    pub api_key: Option<SecretString>,
    /// How user access tokens from auth are verified (docs/api.md §5.8: available-months accepts them
    /// when credentials are required). `JWKS_URL`, `JWT_ISSUER`, `JWT_AUDIENCE`.
    pub user_tokens: phonebill_common::auth::VerifierConfig,
    /// The revocation deny list those user tokens are checked against (`REDIS_URL`).
    pub deny: phonebill_common::auth::DenyListConfig,
    /// Accepted `X-Service-Name` values.
    pub allowed_services: Vec<String>,
    /// Lifetime of issued service tokens.
    pub token_ttl: Duration,
    /// Mock-data creation allowed.
    pub mock_data_enabled: bool,
    /// Largest bulk creation.
    pub bulk_max: u32,
    /// Admin, fault, outbox and bulk endpoints need the service key even without
    /// `require_auth` (`KOS_ADMIN_REQUIRES_KEY`).
    pub admin_requires_key: bool,
}

/// docs/api.md §5.7 defaults: (min ms, max ms, success rate). Auth follows the seed (99.9 %).
pub fn default_sim(e: KosEndpoint) -> EndpointSim {
    let (min_ms, max_ms, success_rate) = match e {
        KosEndpoint::BillInquiry => (200, 500, 0.995),
        KosEndpoint::ProductChange => (300, 800, 0.998),
        KosEndpoint::Auth => (100, 200, 0.999),
        KosEndpoint::ProductInquiry | KosEndpoint::ProductList | KosEndpoint::AvailableMonths => {
            (100, 300, 0.995)
        }
        KosEndpoint::SmsSend => (50, 150, 0.999),
        // The mock's own reads are not part of the simulated KOS: answered at once, always.
        KosEndpoint::MockData => (0, 0, 1.0),
    };
    EndpointSim {
        min_ms,
        max_ms,
        success_rate,
    }
}

/// Seed 6.1 rate limits per caller and minute.
pub fn default_rate_limit(e: KosEndpoint) -> u32 {
    match e {
        KosEndpoint::ProductChange => 50,
        KosEndpoint::Auth => 200,
        KosEndpoint::SmsSend => 30,
        _ => 100,
    }
}

/// Parses `min-max` (milliseconds).
fn parse_range(var: &str, raw: &str) -> Result<(u64, u64), ConfigError> {
    let bad = || {
        ConfigError::new(
            var,
            format!("expected `min-max` in milliseconds, got {raw:?}"),
        )
    };
    let (a, b) = raw.split_once('-').ok_or_else(bad)?;
    let min: u64 = a.trim().parse().map_err(|_| bad())?;
    let max: u64 = b.trim().parse().map_err(|_| bad())?;
    if min > max || max > 600_000 {
        return Err(bad());
    }
    Ok((min, max))
}

impl Config {
    /// Reads and validates the environment.
    pub fn from_env(env: Env<'_>) -> Result<Self, ConfigError> {
        let store = match env.string("KOS_STORE").as_deref() {
            None | Some("database" | "db") => StoreKind::Database,
            Some("memory") => StoreKind::Memory,
            Some(other) => {
                return Err(ConfigError::new(
                    "KOS_STORE",
                    format!("expected `database` or `memory`, got {other:?}"),
                ));
            }
        };
        let simulation = match env.string("KOS_SIMULATION").as_deref() {
            None => SimMode::Realistic,
            Some(raw) => raw
                .parse()
                .map_err(|e: String| ConfigError::new("KOS_SIMULATION", e))?,
        };
        let mut endpoints = BTreeMap::new();
        let mut rate_limits = BTreeMap::new();
        for e in KosEndpoint::ALL {
            let mut sim = default_sim(e);
            let lat_var = format!("KOS_LATENCY_{}_MS", e.env_key());
            if let Some(raw) = env.string(&lat_var) {
                let (min, max) = parse_range(&lat_var, &raw)?;
                sim.min_ms = min;
                sim.max_ms = max;
            }
            let rate_var = format!("KOS_SUCCESS_RATE_{}", e.env_key());
            let rate: f64 = env.parse(&rate_var, sim.success_rate)?;
            if !(0.0..=1.0).contains(&rate) {
                return Err(ConfigError::new(&rate_var, "must lie in 0.0..=1.0"));
            }
            sim.success_rate = rate;
            endpoints.insert(e, sim);
            let limit_var = format!("KOS_RATE_LIMIT_{}_PER_MINUTE", e.env_key());
            rate_limits.insert(
                e,
                env.ranged(&limit_var, default_rate_limit(e), 1..=1_000_000)?,
            );
        }
        Ok(Self {
            base: BaseConfig::from_env(env, crate::SERVICE, DEFAULT_PORT)?,
            store,
            simulation,
            sim_seed: env.parse_opt("KOS_SIM_SEED")?,
            endpoints,
            rate_limit_enabled: env
                .bool("KOS_RATE_LIMIT_ENABLED", simulation == SimMode::Realistic)?,
            rate_limits,
            faults_enabled: env.bool("KOS_FAULTS_ENABLED", true)?,
            require_auth: env.bool("KOS_REQUIRE_AUTH", false)?,
            api_key: env.secret("KOS_API_KEY"),
            user_tokens: phonebill_common::auth::VerifierConfig::from_env(env)?,
            deny: phonebill_common::auth::DenyListConfig::from_env(env)?,
            allowed_services: env.list(
                "KOS_ALLOWED_SERVICES",
                &[
                    "bill-inquiry-service",
                    "product-change-service",
                    "auth-service",
                ],
            ),
            token_ttl: Duration::from_secs(env.ranged(
                "KOS_TOKEN_TTL_SECONDS",
                3600,
                1..=86_400,
            )?),
            mock_data_enabled: env.bool("KOS_MOCK_DATA_ENABLED", true)?,
            bulk_max: env.ranged("KOS_BULK_MAX", 10_000, 1..=1_000_000)?,
            line_cache_ttl_ms: env.parse_opt("KOS_LINE_CACHE_TTL_MS")?,
            admin_requires_key: env.bool("KOS_ADMIN_REQUIRES_KEY", false)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn cfg(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Config::from_env(Env::new(&map))
    }

    #[test]
    fn defaults_are_realistic_with_rate_limits() {
        let c = cfg(&[]).unwrap();
        assert_eq!(c.simulation, SimMode::Realistic);
        assert!(c.rate_limit_enabled && c.faults_enabled && !c.require_auth);
        assert_eq!(c.endpoints[&KosEndpoint::BillInquiry].min_ms, 200);
        assert_eq!(c.rate_limits[&KosEndpoint::ProductChange], 50);
        assert_eq!(c.rate_limits[&KosEndpoint::Auth], 200);
    }

    #[test]
    fn off_disables_rate_limit_by_default_and_overrides_parse() {
        let c = cfg(&[
            ("KOS_SIMULATION", "off"),
            ("KOS_LATENCY_BILL_INQUIRY_MS", "20-40"),
            ("KOS_SUCCESS_RATE_BILL_INQUIRY", "0.5"),
        ])
        .unwrap();
        assert!(!c.rate_limit_enabled);
        let b = c.endpoints[&KosEndpoint::BillInquiry];
        assert_eq!((b.min_ms, b.max_ms), (20, 40));
        assert!((b.success_rate - 0.5).abs() < f64::EPSILON);
        assert!(cfg(&[("KOS_LATENCY_AUTH_MS", "50-10")]).is_err());
        assert!(cfg(&[("KOS_SUCCESS_RATE_AUTH", "1.5")]).is_err());
        assert!(cfg(&[("KOS_SIMULATION", "wild")]).is_err());
    }

    #[test]
    fn line_cache_ttl_is_optional_and_numeric() {
        assert_eq!(cfg(&[]).unwrap().line_cache_ttl_ms, None);
        assert_eq!(
            cfg(&[("KOS_LINE_CACHE_TTL_MS", "0")])
                .unwrap()
                .line_cache_ttl_ms,
            Some(0)
        );
        let err = cfg(&[("KOS_LINE_CACHE_TTL_MS", "soon")]).unwrap_err();
        assert_eq!(err.var, "KOS_LINE_CACHE_TTL_MS");
    }
}
