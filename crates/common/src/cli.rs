//! The command line of the four service binaries: without a subcommand the binary serves;
//! `migrate` applies its database migrations and exits (the chart runs it as a hook Job with the
//! owner role, docs/deployment.md).
//!
//! `migrate` reads only the database variables (`DATABASE_MIGRATION_URL`, else `DATABASE_URL`,
//! and `DATA_DIR` for the SQLite default), so the Job needs no other secret. Exit status 0 when
//! the schema is up to date afterwards (also when nothing was to do); non-zero with a message
//! naming the database otherwise.

use std::time::Duration;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

use crate::config::{ConfigError, DatabaseConfig, Env};
use crate::db::Migrations;
use crate::db::migrate::{MigrateCommandError, MigrateReport};

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
    let cfg = DatabaseConfig::from_env(env, service)?;
    let wait = Duration::from_secs(wait.unwrap_or(0).min(3600));
    Ok(crate::db::migrate::run(&cfg, app_name, migrations, wait).await?)
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
}
