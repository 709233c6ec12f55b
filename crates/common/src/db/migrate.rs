//! The `migrate` subcommand's work: apply a service's migrations with the owner role
//! (`DATABASE_MIGRATION_URL`, else `DATABASE_URL`) and report what was applied.
//!
//! Run by the chart as a hook Job before the new pods start (docs/deployment.md). Safe to run
//! twice or from two Jobs at once: sqlx takes an advisory lock on PostgreSQL and skips applied
//! versions, so a second run applies nothing and succeeds. A database that does not answer is
//! retried up to the `--wait` bound, then the command fails naming it.

use std::time::Duration;

use crate::config::DatabaseConfig;

use super::{Db, DbError, Migrations, schema};

/// What a successful run did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrateReport {
    /// The migrations this run applied (empty: the schema was already current).
    pub applied: Vec<String>,
    /// The (password-redacted) URL they were applied to.
    pub url: String,
}

impl std::fmt::Display for MigrateReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.applied.is_empty() {
            write!(f, "database schema is up to date ({})", self.url)
        } else {
            write!(
                f,
                "applied {} migration(s) to {}: {}",
                self.applied.len(),
                self.url,
                self.applied.join(", ")
            )
        }
    }
}

/// Why a run failed.
#[derive(Debug, thiserror::Error)]
pub enum MigrateCommandError {
    /// The database never answered within the bound.
    #[error(
        "cannot reach the database {url} (DATABASE_MIGRATION_URL or DATABASE_URL) within {waited:?}: {source}"
    )]
    Unreachable {
        /// Redacted URL.
        url: String,
        /// The bound.
        waited: Duration,
        /// The last error.
        source: DbError,
    },
    /// A migration failed (the schema is left as the failed migration's transaction left it).
    #[error("migrating {url} failed: {source}")]
    Failed {
        /// Redacted URL.
        url: String,
        /// The cause.
        source: DbError,
    },
}

/// Applies `migrations` to `cfg.migration_url()`, retrying the first connection for up to
/// `wait` (zero: one attempt).
pub async fn run(
    cfg: &DatabaseConfig,
    app_name: &str,
    migrations: &Migrations,
    wait: Duration,
) -> Result<MigrateReport, MigrateCommandError> {
    let url = cfg.migration_url();
    let redacted = url.redacted();
    let unreachable = |source| MigrateCommandError::Unreachable {
        url: redacted.clone(),
        waited: wait,
        source,
    };
    let db = Db::connect_lazy_url(url, 1, app_name).map_err(unreachable)?;
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        match db.ping(Duration::from_secs(5)).await {
            Ok(()) => break,
            Err(e) if tokio::time::Instant::now() >= deadline => {
                db.close().await;
                return Err(unreachable(e));
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(500)).await,
        }
    }
    let result = async {
        let before = schema::pending(&db, migrations).await?;
        db.migrate(migrations).await?;
        let after = schema::pending(&db, migrations).await?;
        Ok::<_, DbError>(
            before
                .into_iter()
                .filter(|m| !after.contains(m))
                .collect::<Vec<_>>(),
        )
    }
    .await;
    db.close().await;
    match result {
        Ok(applied) => Ok(MigrateReport {
            applied,
            url: redacted,
        }),
        Err(source) => Err(MigrateCommandError::Failed {
            url: redacted,
            source,
        }),
    }
}
