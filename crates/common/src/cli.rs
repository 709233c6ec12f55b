//! The command line of the four service binaries: without a subcommand the binary serves;
//! `migrate` applies its database migrations and exits (the chart runs it as a hook Job with the
//! owner role, docs/deployment.md). [`main`] is the whole body of each binary's `main`; a service
//! states what differs (names, migrations, configuration, build and run) as a [`ServiceBinary`].
//!
//! `migrate` reads only the database variables (`DATABASE_MIGRATION_URL`, else `DATABASE_URL`,
//! and `DATA_DIR` for the SQLite default), so the Job needs no other secret. Exit status 0 when
//! the schema is up to date afterwards (also when nothing was to do); non-zero with a message
//! naming the database otherwise.

use std::future::Future;
use std::time::Duration;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use tokio::net::TcpListener;

use crate::config::{ConfigError, DatabaseConfig, Env, ProcessEnv};
use crate::db::Migrations;
use crate::db::migrate::{MigrateCommandError, MigrateReport};
use crate::service::{BaseConfig, Deps};
use crate::telemetry::TelemetryError;

/// The command line.
#[derive(Debug, Parser)]
#[command(
    about = "A phonebill service. Without a subcommand it serves (configured by environment variables, see README)."
)]
pub struct Cli {
    /// What to do instead of serving.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Apply this service's database migrations with the owner role (the migration URL, else
    /// the database URL) and exit: 0 when the schema is up to date.
    Migrate {
        /// Keep retrying the first connection for up to SECONDS (60 when given without a value)
        /// instead of failing at once (the Job may start before the database answers).
        #[arg(long, value_name = "SECONDS", num_args = 0..=1, default_missing_value = "60")]
        wait: Option<u64>,
    },
}

impl Cli {
    /// Parses the process arguments for the binary `bin` (its name in usage and errors); exits
    /// with clap's message on bad arguments or `--help`.
    pub fn parse_for(bin: &'static str) -> Self {
        let matches = Self::command()
            .name(bin)
            .bin_name(bin)
            .version(env!("CARGO_PKG_VERSION"))
            .get_matches();
        Self::from_arg_matches(&matches).unwrap_or_else(|e| e.exit())
    }
}

/// Why `migrate` failed.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// A database variable is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The migrations could not be applied.
    #[error(transparent)]
    Migrate(#[from] MigrateCommandError),
}

/// `<binary> migrate [--wait [SECONDS]]` for `service` (its SQLite file name) and `migrations`.
pub async fn migrate(
    env: Env<'_>,
    service: &str,
    app_name: &str,
    migrations: &Migrations,
    wait: Option<u64>,
) -> Result<MigrateReport, CliError> {
    let cfg = DatabaseConfig::for_migration(env, service)?;
    let wait = Duration::from_secs(wait.unwrap_or(0).min(3600));
    Ok(crate::db::migrate::run(&cfg, app_name, migrations, wait).await?)
}

/// What differs between the service binaries; [`main`] does the rest.
pub trait ServiceBinary {
    /// The binary's name (`auth-service`, …): usage, log lines, the `migrate` report and the
    /// database application name.
    const BIN: &'static str;
    /// The service (`auth`, …): its SQLite file name.
    const SERVICE: &'static str;
    /// Its database migrations.
    const MIGRATIONS: Migrations;
    /// Its configuration.
    type Config;
    /// The built service.
    type App;
    /// Why building it failed.
    type BuildError: std::error::Error + Send + Sync + 'static;

    /// Reads the configuration from the environment.
    fn config(env: Env<'_>) -> Result<Self::Config, ConfigError>;
    /// The settings every service has (listening address, database, telemetry).
    fn base(config: &Self::Config) -> &BaseConfig;
    /// Builds the service.
    fn build(
        config: Self::Config,
        deps: Deps,
    ) -> impl Future<Output = Result<Self::App, Self::BuildError>>;
    /// Serves it on `listener` until shutdown, then stops its background work.
    fn run(app: Self::App, listener: TcpListener) -> impl Future<Output = std::io::Result<()>>;
}

/// Declares `pub struct Binary`, the [`ServiceBinary`] of a service crate, from the items every
/// service crate has at its root: `SERVICE`, `MIGRATIONS`, `Config` (with its `base` and
/// `Config::from_env`), `App`, `BuildError`, `build(config, deps)` and `run(app, listener)`.
/// The four impls were the same 35 lines but for the binary's name.
///
/// ```ignore
/// phonebill_common::service_binary!("auth-service");
/// ```
#[macro_export]
macro_rules! service_binary {
    ($bin:literal) => {
        #[doc = concat!("The standalone binary `", $bin, "`: its `main` is [`phonebill_common::cli::main`] over this.")]
        #[derive(Debug, Clone, Copy)]
        pub struct Binary;

        impl $crate::cli::ServiceBinary for Binary {
            const BIN: &'static str = $bin;
            const SERVICE: &'static str = SERVICE;
            const MIGRATIONS: $crate::db::Migrations = MIGRATIONS;
            type Config = Config;
            type App = App;
            type BuildError = BuildError;

            fn config(
                env: $crate::config::Env<'_>,
            ) -> ::std::result::Result<Config, $crate::config::ConfigError> {
                Config::from_env(env)
            }

            fn base(config: &Config) -> &$crate::service::BaseConfig {
                &config.base
            }

            async fn build(
                config: Config,
                deps: $crate::service::Deps,
            ) -> ::std::result::Result<App, BuildError> {
                build(config, deps).await
            }

            async fn run(app: App, listener: ::tokio::net::TcpListener) -> ::std::io::Result<()> {
                run(app, listener).await
            }
        }
    };
}

/// Why a service binary stopped with an error. Each variant shows its cause's own message (and
/// cause chain), so the process prints what the step that failed said.
#[derive(Debug, thiserror::Error)]
pub enum MainError<B: std::error::Error + 'static> {
    /// `migrate` failed.
    #[error(transparent)]
    Migrate(#[from] CliError),
    /// The configuration is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Logging or tracing could not start.
    #[error(transparent)]
    Telemetry(#[from] TelemetryError),
    /// The listening socket could not be opened.
    #[error("cannot listen on {addr}")]
    Listen {
        /// `bind:port`.
        addr: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The service could not be built.
    #[error(transparent)]
    Build(B),
    /// Serving failed (or the listener's address could not be read).
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// The body of a service binary's `main`: parses the command line; `migrate` applies the
/// migrations and prints `<bin> migrate: <report>`; otherwise reads the configuration, starts
/// telemetry (kept until the end), cancels the shutdown token on SIGTERM/SIGINT, binds, builds
/// and serves until shutdown.
pub async fn main<S: ServiceBinary>() -> Result<(), MainError<S::BuildError>> {
    // `<bin> migrate`: apply the migrations with the owner role and exit (the chart's hook Job).
    if let Some(Command::Migrate { wait }) = Cli::parse_for(S::BIN).command {
        let report = migrate(
            Env::new(&ProcessEnv),
            S::SERVICE,
            S::BIN,
            &S::MIGRATIONS,
            wait,
        )
        .await?;
        println!("{} migrate: {report}", S::BIN);
        return Ok(());
    }
    let config = S::config(Env::new(&ProcessEnv))?;
    let base = S::base(&config);
    let _telemetry = crate::telemetry::init(&base.telemetry)?;
    let deps = Deps::new();
    crate::server::cancel_on_signal(deps.shutdown.clone());
    let listener = crate::server::bind(&base.server)
        .await
        .map_err(|source| MainError::Listen {
            addr: format!("{}:{}", base.server.bind, base.server.port),
            source,
        })?;
    let addr = listener.local_addr()?;
    tracing::info!(%addr, database = %base.database.url.redacted(), "{} listening", S::BIN);
    let app = S::build(config, deps).await.map_err(MainError::Build)?;
    S::run(app, listener).await?;
    tracing::info!("{} stopped", S::BIN);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrate_wait_is_optional_with_a_default() {
        let parse = |args: &[&str]| Cli::try_parse_from(args).map(|c| c.command);
        assert!(matches!(parse(&["svc"]), Ok(None)));
        assert!(matches!(
            parse(&["svc", "migrate"]),
            Ok(Some(Command::Migrate { wait: None }))
        ));
        assert!(matches!(
            parse(&["svc", "migrate", "--wait"]),
            Ok(Some(Command::Migrate { wait: Some(60) }))
        ));
        assert!(matches!(
            parse(&["svc", "migrate", "--wait", "5"]),
            Ok(Some(Command::Migrate { wait: Some(5) }))
        ));
        assert!(parse(&["svc", "nope"]).is_err());
    }

    #[test]
    fn main_errors_say_what_the_failing_step_said() {
        use std::error::Error as _;
        let e: MainError<std::io::Error> = MainError::Listen {
            addr: "127.0.0.1:8081".into(),
            source: std::io::Error::new(std::io::ErrorKind::AddrInUse, "in use"),
        };
        assert_eq!(e.to_string(), "cannot listen on 127.0.0.1:8081");
        assert_eq!(
            e.source().map(ToString::to_string).as_deref(),
            Some("in use")
        );
        // A build error is shown as itself, with its own causes (not wrapped in another line).
        let inner = std::io::Error::other("kos base url is not http(s)");
        let e: MainError<std::io::Error> = MainError::Build(inner);
        assert_eq!(e.to_string(), "kos base url is not http(s)");
        let e: MainError<std::io::Error> = ConfigError::new("PORT", "not a number").into();
        assert!(e.to_string().contains("PORT"), "{e}");
    }
}
