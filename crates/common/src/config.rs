//! Configuration from environment variables (12-factor; the names the Helm chart sets).
//!
//! Every value is parsed and validated at start; an error names the variable and says what was
//! wrong, so a bad deployment fails fast with a readable message. Secrets are `secrecy` types and
//! a database URL's `Debug` redacts its password.
//!
//! Variables read here (shared by every service):
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `PORT` | per service (8081–8084, 8080 all-in-one) | listening port |
//! | `BIND_ADDRESS` | `0.0.0.0` (`127.0.0.1` all-in-one) | listening address |
//! | `DATABASE_URL` | `sqlite://$DATA_DIR/<service>.db` | `postgres://…` or `sqlite://…` |
//! | `DATABASE_MAX_CONNECTIONS` | 10 | pool size |
//! | `DATABASE_MIGRATE_ON_START` | `true` | apply migrations at start; `false` (the chart: a hook Job runs `<binary> migrate`) only checks them, readiness 503 names the missing ones |
//! | `DATABASE_MIGRATION_URL` | `DATABASE_URL` | URL of the owner role (DDL), used by `<binary> migrate` and by migrate-on-start |
//! | `DATABASE_READ_URL` | unset | read replica for the history queries of bill-inquiry and product-change |
//! | `DATABASE_READ_MAX_LAG_MS` | 2000 | replay lag beyond which reads go back to the primary |
//! | `DATA_DIR` | `./data` | where SQLite files and local keys live |
//! | `REDIS_URL` | unset (L1 cache only) | `redis://…` or `rediss://…` |
//! | `CORS_ALLOWED_ORIGINS` | `http://localhost:3000,http://localhost:5173` | exact origins, comma-separated, or `*` |
//! | `REQUEST_TIMEOUT_SECONDS` | 30 | whole-request safety timeout |
//! | `SHUTDOWN_GRACE_SECONDS` | 25 | how long in-flight requests may drain after SIGTERM |
//! | `SHUTDOWN_DELAY_SECONDS` | 0 | readiness reports 503 this long before the listener closes |

use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};

/// A configuration value that could not be used. The message names the variable.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("invalid configuration: {var}: {message}")]
pub struct ConfigError {
    /// The environment variable at fault.
    pub var: String,
    /// What was wrong with it.
    pub message: String,
}

impl ConfigError {
    /// A new error for `var`.
    pub fn new(var: &str, message: impl Into<String>) -> Self {
        Self {
            var: var.to_owned(),
            message: message.into(),
        }
    }
}

/// Where configuration values come from: the process environment in binaries, a map in tests.
pub trait EnvSource: Send + Sync {
    /// The raw value of `key`, if set.
    fn get(&self, key: &str) -> Option<String>;
}

/// The process environment.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcessEnv;

impl EnvSource for ProcessEnv {
    fn get(&self, key: &str) -> Option<String> {
        std::env::var(key).ok()
    }
}

impl EnvSource for HashMap<String, String> {
    fn get(&self, key: &str) -> Option<String> {
        HashMap::get(self, key).cloned()
    }
}

/// An [`EnvSource`] with some variables overridden or hidden (the all-in-one launcher gives
/// each service its own view of the environment).
#[derive(Debug, Default)]
pub struct OverlayEnv {
    overrides: HashMap<String, String>,
    hidden: Vec<String>,
}

impl OverlayEnv {
    /// An overlay over the process environment.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets `key` to `value`.
    #[must_use]
    pub fn set(mut self, key: &str, value: impl Into<String>) -> Self {
        self.overrides.insert(key.to_owned(), value.into());
        self
    }

    /// Hides `key` (reads as unset).
    #[must_use]
    pub fn hide(mut self, key: &str) -> Self {
        self.hidden.push(key.to_owned());
        self
    }
}

impl EnvSource for OverlayEnv {
    fn get(&self, key: &str) -> Option<String> {
        if let Some(v) = self.overrides.get(key) {
            return Some(v.clone());
        }
        if self.hidden.iter().any(|h| h == key) {
            return None;
        }
        std::env::var(key).ok()
    }
}

/// Typed access to an [`EnvSource`]. Empty values count as unset.
#[derive(Clone, Copy)]
pub struct Env<'a> {
    src: &'a dyn EnvSource,
}

impl<'a> Env<'a> {
    /// Reads from `src`.
    pub fn new(src: &'a dyn EnvSource) -> Self {
        Self { src }
    }

    /// The trimmed value of `key`, or `None` when unset or empty.
    pub fn string(&self, key: &str) -> Option<String> {
        self.src
            .get(key)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    }

    /// `key` parsed as `T`, or `default` when unset.
    pub fn parse<T>(&self, key: &str, default: T) -> Result<T, ConfigError>
    where
        T: FromStr,
        T::Err: fmt::Display,
    {
        Ok(self.parse_opt(key)?.unwrap_or(default))
    }

    /// `key` parsed as `T`, if set.
    pub fn parse_opt<T>(&self, key: &str) -> Result<Option<T>, ConfigError>
    where
        T: FromStr,
        T::Err: fmt::Display,
    {
        match self.string(key) {
            None => Ok(None),
            Some(raw) => raw
                .parse::<T>()
                .map(Some)
                .map_err(|e| ConfigError::new(key, format!("cannot parse {raw:?}: {e}"))),
        }
    }

    /// A number that must lie in `range`.
    pub fn ranged<T>(
        &self,
        key: &str,
        default: T,
        range: std::ops::RangeInclusive<T>,
    ) -> Result<T, ConfigError>
    where
        T: FromStr + PartialOrd + fmt::Display + Copy,
        T::Err: fmt::Display,
    {
        let v = self.parse(key, default)?;
        if range.contains(&v) {
            Ok(v)
        } else {
            Err(ConfigError::new(
                key,
                format!(
                    "{v} is outside the allowed range {}..={}",
                    range.start(),
                    range.end()
                ),
            ))
        }
    }

    /// A boolean: `true/false`, `1/0`, `yes/no`, `on/off` (any case).
    pub fn bool(&self, key: &str, default: bool) -> Result<bool, ConfigError> {
        match self.string(key) {
            None => Ok(default),
            Some(raw) => match raw.to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" | "on" => Ok(true),
                "false" | "0" | "no" | "off" => Ok(false),
                _ => Err(ConfigError::new(
                    key,
                    format!("expected true or false, got {raw:?}"),
                )),
            },
        }
    }

    /// Seconds as a duration.
    pub fn seconds(&self, key: &str, default: u64) -> Result<Duration, ConfigError> {
        Ok(Duration::from_secs(self.parse(key, default)?))
    }

    /// Milliseconds as a duration.
    pub fn millis(&self, key: &str, default: u64) -> Result<Duration, ConfigError> {
        Ok(Duration::from_millis(self.parse(key, default)?))
    }

    /// A secret value, if set.
    pub fn secret(&self, key: &str) -> Option<SecretString> {
        self.string(key).map(SecretString::from)
    }

    /// A comma-separated list (items trimmed, empty items dropped).
    pub fn list(&self, key: &str, default: &[&str]) -> Vec<String> {
        match self.string(key) {
            None => default.iter().map(|s| (*s).to_owned()).collect(),
            Some(raw) => raw
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect(),
        }
    }
}

/// A database connection URL. Secret, because it usually carries a password; `Debug` and
/// [`DatabaseUrl::redacted`] show it with the password replaced.
#[derive(Clone)]
pub struct DatabaseUrl(SecretString);

impl DatabaseUrl {
    /// Wraps a URL.
    pub fn new(url: impl Into<String>) -> Self {
        Self(SecretString::from(url.into()))
    }

    /// The URL in clear, for the driver only.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }

    /// The URL with any password replaced by `***`.
    pub fn redacted(&self) -> String {
        redact_url_password(self.expose())
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DatabaseUrl({})", self.redacted())
    }
}

/// Replaces the password of `scheme://user:password@host/…` with `***`; also hides a
/// `password=` query parameter.
pub fn redact_url_password(url: &str) -> String {
    let mut out = url.to_owned();
    if let Some(scheme_end) = out.find("://") {
        let rest_start = scheme_end + 3;
        let authority_end = out[rest_start..]
            .find('/')
            .map_or(out.len(), |i| rest_start + i);
        if let Some(at) = out[rest_start..authority_end].rfind('@') {
            let userinfo = &out[rest_start..rest_start + at];
            if let Some(colon) = userinfo.find(':') {
                let pw_start = rest_start + colon + 1;
                out.replace_range(pw_start..rest_start + at, "***");
            }
        }
    }
    if let Some(i) = out.find("password=") {
        let start = i + "password=".len();
        let end = out[start..].find('&').map_or(out.len(), |j| start + j);
        out.replace_range(start..end, "***");
    }
    out
}

/// How a service listens and shuts down.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Listening address.
    pub bind: IpAddr,
    /// Listening port.
    pub port: u16,
    /// How long in-flight requests may drain after shutdown starts.
    pub shutdown_grace: Duration,
    /// How long readiness reports 503 before the listener stops accepting.
    pub shutdown_delay: Duration,
}

impl ServerConfig {
    /// Reads `PORT`, `BIND_ADDRESS`, `SHUTDOWN_GRACE_SECONDS`, `SHUTDOWN_DELAY_SECONDS`.
    pub fn from_env(
        env: Env<'_>,
        default_port: u16,
        default_bind: IpAddr,
    ) -> Result<Self, ConfigError> {
        Ok(Self {
            bind: env.parse("BIND_ADDRESS", default_bind)?,
            port: env.parse("PORT", default_port)?,
            shutdown_grace: env.seconds("SHUTDOWN_GRACE_SECONDS", 25)?,
            shutdown_delay: env.seconds("SHUTDOWN_DELAY_SECONDS", 0)?,
        })
    }
}

/// The HTTP middleware settings (docs/api.md §1.10, 1.12).
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// Exact allowed CORS origins; `*` allows any.
    pub cors_allowed_origins: Vec<String>,
    /// Whole-request safety timeout.
    pub request_timeout: Duration,
    /// Maximum request body size in bytes.
    pub body_limit: usize,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            cors_allowed_origins: DEFAULT_CORS_ORIGINS
                .iter()
                .map(|s| (*s).to_owned())
                .collect(),
            request_timeout: Duration::from_secs(30),
            body_limit: 64 * 1024,
        }
    }
}

/// Default CORS origins: the local front-end dev servers.
pub const DEFAULT_CORS_ORIGINS: &[&str] = &["http://localhost:3000", "http://localhost:5173"];

impl HttpConfig {
    /// Reads `CORS_ALLOWED_ORIGINS` and `REQUEST_TIMEOUT_SECONDS`.
    pub fn from_env(env: Env<'_>) -> Result<Self, ConfigError> {
        let origins = env.list("CORS_ALLOWED_ORIGINS", DEFAULT_CORS_ORIGINS);
        for o in &origins {
            if o != "*" && !(o.starts_with("http://") || o.starts_with("https://")) {
                return Err(ConfigError::new(
                    "CORS_ALLOWED_ORIGINS",
                    format!(
                        "{o:?} is not an origin (expected http://host[:port] or https://host[:port], or *)"
                    ),
                ));
            }
            if o.ends_with('/') {
                return Err(ConfigError::new(
                    "CORS_ALLOWED_ORIGINS",
                    format!("{o:?}: an origin has no trailing slash"),
                ));
            }
        }
        let timeout = env.ranged("REQUEST_TIMEOUT_SECONDS", 30u64, 1..=600)?;
        Ok(Self {
            cors_allowed_origins: origins,
            request_timeout: Duration::from_secs(timeout),
            body_limit: 64 * 1024,
        })
    }
}

/// Where a service keeps its data.
#[derive(Debug, Clone)]
pub struct DatabaseConfig {
    /// The connection URL (the app role: DML only in production).
    pub url: DatabaseUrl,
    /// Pool size.
    pub max_connections: u32,
    /// The owner role's URL for migrations (`DATABASE_MIGRATION_URL`); `None`: `url`.
    pub migration_url: Option<DatabaseUrl>,
    /// Apply migrations at start (`true`) or only check them (`false`).
    pub migrate_on_start: bool,
    /// The read replica, if any.
    pub read: Option<ReadReplicaConfig>,
}

/// A read replica for history queries (docs/architecture.md "Read replica").
#[derive(Debug, Clone)]
pub struct ReadReplicaConfig {
    /// `DATABASE_READ_URL`.
    pub url: DatabaseUrl,
    /// `DATABASE_READ_MAX_LAG_MS`: beyond this replay lag, reads go to the primary.
    pub max_lag: Duration,
}

impl DatabaseConfig {
    /// A configuration of `url` with the defaults (tests).
    pub fn new(url: impl Into<String>, max_connections: u32) -> Self {
        Self {
            url: DatabaseUrl::new(url),
            max_connections,
            migration_url: None,
            migrate_on_start: true,
            read: None,
        }
    }

    /// The URL migrations run with: `DATABASE_MIGRATION_URL`, else `DATABASE_URL`.
    pub fn migration_url(&self) -> &DatabaseUrl {
        self.migration_url.as_ref().unwrap_or(&self.url)
    }

    /// What `<binary> migrate` connects with: [`Self::from_env`], except that
    /// `DATABASE_MIGRATION_URL` alone is enough. The chart's hook Job gets only the owner role's
    /// URL (never the app role's `DATABASE_URL`), and without `DATABASE_URL` [`Self::from_env`]
    /// would take the SQLite default and refuse a PostgreSQL migration URL as another kind.
    pub fn for_migration(env: Env<'_>, service: &str) -> Result<Self, ConfigError> {
        match (
            env.string("DATABASE_URL"),
            env.string("DATABASE_MIGRATION_URL"),
        ) {
            (None, Some(u)) => Self::read_env(env, service, "DATABASE_MIGRATION_URL", Some(u)),
            _ => Self::from_env(env, service),
        }
    }

    /// Reads `DATABASE_URL` (default: an SQLite file `<service>.db` under `DATA_DIR`),
    /// `DATABASE_MAX_CONNECTIONS`, `DATABASE_MIGRATION_URL`, `DATABASE_MIGRATE_ON_START`,
    /// `DATABASE_READ_URL` and `DATABASE_READ_MAX_LAG_MS`.
    pub fn from_env(env: Env<'_>, service: &str) -> Result<Self, ConfigError> {
        Self::read_env(env, service, "DATABASE_URL", env.string("DATABASE_URL"))
    }

    /// [`Self::from_env`] with the main URL `url` taken from the variable `url_var` (`None`: the
    /// SQLite default under `DATA_DIR`).
    fn read_env(
        env: Env<'_>,
        service: &str,
        url_var: &str,
        url: Option<String>,
    ) -> Result<Self, ConfigError> {
        let url = match url {
            Some(u) => {
                crate::db::DbKind::from_url(&u)
                    .map_err(|e| ConfigError::new(url_var, e.to_string()))?;
                DatabaseUrl::new(u)
            }
            None => {
                let dir = data_dir(env);
                DatabaseUrl::new(crate::db::sqlite_url(&dir.join(format!("{service}.db"))))
            }
        };
        let kind = crate::db::DbKind::from_url(url.expose())
            .map_err(|e| ConfigError::new(url_var, e.to_string()))?;
        let same_kind = |var: &str, u: &str| -> Result<DatabaseUrl, ConfigError> {
            let k =
                crate::db::DbKind::from_url(u).map_err(|e| ConfigError::new(var, e.to_string()))?;
            if k != kind {
                return Err(ConfigError::new(
                    var,
                    format!("must name the same kind of database as {url_var}"),
                ));
            }
            Ok(DatabaseUrl::new(u))
        };
        let migration_url = env
            .string("DATABASE_MIGRATION_URL")
            .map(|u| same_kind("DATABASE_MIGRATION_URL", &u))
            .transpose()?;
        let read = match env.string("DATABASE_READ_URL") {
            None => None,
            Some(u) => {
                let read_url = same_kind("DATABASE_READ_URL", &u)?;
                if kind != crate::db::DbKind::Postgres {
                    return Err(ConfigError::new(
                        "DATABASE_READ_URL",
                        "a read replica needs PostgreSQL (DATABASE_URL is SQLite)",
                    ));
                }
                Some(ReadReplicaConfig {
                    url: read_url,
                    max_lag: Duration::from_millis(env.ranged(
                        "DATABASE_READ_MAX_LAG_MS",
                        2000u64,
                        0..=600_000,
                    )?),
                })
            }
        };
        Ok(Self {
            url,
            max_connections: env.ranged("DATABASE_MAX_CONNECTIONS", 10u32, 1..=200)?,
            migration_url,
            migrate_on_start: env.bool("DATABASE_MIGRATE_ON_START", true)?,
            read,
        })
    }
}

/// `DATA_DIR`, default `./data`.
pub fn data_dir(env: Env<'_>) -> PathBuf {
    env.string("DATA_DIR")
        .map_or_else(|| PathBuf::from("./data"), PathBuf::from)
}

/// `REDIS_URL`, validated to be a `redis://` or `rediss://` URL.
pub fn redis_url(env: Env<'_>) -> Result<Option<SecretString>, ConfigError> {
    match env.string("REDIS_URL") {
        None => Ok(None),
        Some(u)
            if u.starts_with("redis://")
                || u.starts_with("rediss://")
                || u.starts_with("unix://") =>
        {
            Ok(Some(SecretString::from(u)))
        }
        Some(u) => Err(ConfigError::new(
            "REDIS_URL",
            format!(
                "expected a redis:// or rediss:// URL, got {}",
                redact_url_password(&u)
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_of(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn errors_name_the_variable() {
        let m = env_of(&[("PORT", "80x")]);
        let err = ServerConfig::from_env(Env::new(&m), 8081, IpAddr::from([0, 0, 0, 0]))
            .expect_err("bad port");
        assert_eq!(err.var, "PORT");
        assert!(err.to_string().contains("PORT"), "{err}");

        let m = env_of(&[("CORS_ALLOWED_ORIGINS", "localhost:3000")]);
        assert_eq!(
            HttpConfig::from_env(Env::new(&m))
                .expect_err("bad origin")
                .var,
            "CORS_ALLOWED_ORIGINS"
        );

        let m = env_of(&[("DATABASE_URL", "mysql://x")]);
        assert_eq!(
            DatabaseConfig::from_env(Env::new(&m), "auth")
                .expect_err("bad url")
                .var,
            "DATABASE_URL"
        );

        let m = env_of(&[("SEED", "maybe")]);
        assert_eq!(
            Env::new(&m).bool("SEED", false).expect_err("bad bool").var,
            "SEED"
        );
    }

    #[test]
    fn database_url_debug_redacts_password() {
        let u = DatabaseUrl::new("postgres://app:s3cr3t@db.internal:5432/auth?sslmode=require");
        let shown = format!("{u:?}");
        assert!(!shown.contains("s3cr3t"), "{shown}");
        assert!(shown.contains("app:***@db.internal"), "{shown}");
        assert_eq!(
            redact_url_password("postgres://h/db?user=a&password=pw&x=1"),
            "postgres://h/db?user=a&password=***&x=1"
        );
    }

    #[test]
    fn migration_url_alone_is_what_migrate_connects_with() {
        // The chart's hook Job: the owner role's URL only.
        let owner = "postgres://owner:pw@db.internal:5432/auth?sslmode=verify-full";
        let m = env_of(&[("DATABASE_MIGRATION_URL", owner), ("DATA_DIR", "/data")]);
        let c = DatabaseConfig::for_migration(Env::new(&m), "auth").expect("valid");
        assert_eq!(c.migration_url().expose(), owner);
        assert_eq!(c.url.expose(), owner);
        // A server reading the same env still refuses it: it must not serve as the owner.
        assert_eq!(
            DatabaseConfig::from_env(Env::new(&m), "auth")
                .expect_err("kind mismatch")
                .var,
            "DATABASE_MIGRATION_URL"
        );
        // Both set: the migration URL for migrate, the app URL kept.
        let m = env_of(&[
            ("DATABASE_URL", "postgres://app@db.internal/auth"),
            ("DATABASE_MIGRATION_URL", owner),
        ]);
        let c = DatabaseConfig::for_migration(Env::new(&m), "auth").expect("valid");
        assert_eq!(c.migration_url().expose(), owner);
        assert_eq!(c.url.expose(), "postgres://app@db.internal/auth");
        // A bad migration URL alone names its variable.
        let m = env_of(&[("DATABASE_MIGRATION_URL", "mysql://x")]);
        assert_eq!(
            DatabaseConfig::for_migration(Env::new(&m), "auth")
                .expect_err("bad url")
                .var,
            "DATABASE_MIGRATION_URL"
        );
    }

    #[test]
    fn defaults_to_sqlite_under_data_dir() {
        let m = env_of(&[("DATA_DIR", "/tmp/pb")]);
        let c = DatabaseConfig::from_env(Env::new(&m), "auth").expect("valid");
        assert_eq!(c.url.expose(), "sqlite:///tmp/pb/auth.db");
    }
}
