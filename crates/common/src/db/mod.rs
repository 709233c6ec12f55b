//! Database selection and pools: PostgreSQL in production, an embedded SQLite file locally.
//!
//! The kind comes from the URL (`postgres://`, `postgresql://` or `sqlite:`; anything else is
//! refused loudly). Each service owns two migration folders, `migrations/postgres` and
//! `migrations/sqlite`, with the same versions (checked by [`migration_versions`] in each
//! service's tests). The pool is created lazily and migrations run in a background task that
//! retries until the database answers, so a service starts (and reports "not ready") while its
//! database is down, and becomes ready by itself when it returns.
//!
//! In production the migrations are a step of their own ([`migrate`], `<binary> migrate` with
//! the owner role in `DATABASE_MIGRATION_URL`) and the service runs with a role that has no DDL
//! rights and `DATABASE_MIGRATE_ON_START=false`: it then only compares the applied migrations
//! with its own ([`schema`]) and reports readiness 503 naming the missing ones until they are
//! applied (docs/architecture.md "Migrations as their own step").
//!
//! - [`dialect`]: what differs between PostgreSQL and SQLite, so a store writes its SQL once.
//! - [`schema`]: which of a service's migrations a database lacks.
//! - [`migrate`]: the `migrate` subcommand's work.
//! - [`read`]: the optional read replica of the history queries and its fallback.

pub mod dialect;
pub mod migrate;
pub mod read;
pub mod schema;

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{PgPool, SqlitePool};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::backoff::Backoff;
use crate::config::{DatabaseConfig, DatabaseUrl};

/// Which SQL dialect a URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DbKind {
    /// PostgreSQL (`postgres://`, `postgresql://`).
    Postgres,
    /// SQLite (`sqlite:`).
    Sqlite,
}

/// A database problem.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// The URL names no supported database.
    #[error(
        "unsupported database URL scheme {0:?}: expected postgres://, postgresql:// or sqlite://"
    )]
    UnsupportedScheme(String),
    /// The URL could not be parsed.
    #[error("invalid database URL: {0}")]
    InvalidUrl(String),
    /// The database did not answer in time.
    #[error("database did not answer within {0:?}")]
    Timeout(Duration),
    /// A driver error.
    #[error(transparent)]
    Sqlx(#[from] sqlx::Error),
    /// A migration failed.
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// The SQLite directory could not be created.
    #[error("cannot create data directory {path}: {source}")]
    DataDir {
        /// The directory.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

impl DbKind {
    /// The kind named by `url`'s scheme.
    pub fn from_url(url: &str) -> Result<Self, DbError> {
        let lower = url.to_ascii_lowercase();
        if lower.starts_with("postgres://") || lower.starts_with("postgresql://") {
            Ok(Self::Postgres)
        } else if lower.starts_with("sqlite:") {
            Ok(Self::Sqlite)
        } else {
            let scheme = url.split(':').next().unwrap_or_default().to_owned();
            Err(DbError::UnsupportedScheme(scheme))
        }
    }
}

/// The `sqlite://` URL of a file path.
pub fn sqlite_url(path: &Path) -> String {
    format!("sqlite://{}", path.display())
}

/// A connection pool of either kind. Cheap to clone.
#[derive(Clone, Debug)]
pub enum Db {
    /// PostgreSQL pool.
    Postgres(PgPool),
    /// SQLite pool.
    Sqlite(SqlitePool),
}

/// The two migration sets of a service (`sqlx::migrate!("./migrations/postgres")` and
/// `sqlx::migrate!("./migrations/sqlite")`).
#[derive(Debug, Clone, Copy)]
pub struct Migrations {
    /// PostgreSQL migrations.
    pub postgres: &'static Migrator,
    /// SQLite migrations.
    pub sqlite: &'static Migrator,
}

/// Bound on waiting for a pooled connection; a database that cannot give one this fast is
/// treated as unavailable rather than letting requests pile up.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(3);

/// Creates `dir` (and missing parents) readable by the owner only (0700 on unix): it holds
/// password and token hashes (docs/security.md, issue 17). An existing directory is left as it
/// is: it may be one the operator chose and shares.
fn private_dir(dir: &std::path::Path) -> std::io::Result<()> {
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
    b.create(dir)
}

/// Creates the SQLite file as 0600 before SQLite opens it (SQLite would create it 0644 under
/// the usual umask; its `-wal`/`-shm` files take the database file's mode), and narrows an
/// existing file to 0600.
fn private_file(file: &std::path::Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(file)
        {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                let mode = std::fs::metadata(file)?.permissions().mode();
                if mode & 0o077 != 0 {
                    std::fs::set_permissions(file, std::fs::Permissions::from_mode(0o600))?;
                }
            }
            Err(e) => return Err(e),
        }
    }
    #[cfg(not(unix))]
    let _ = file;
    Ok(())
}

impl Db {
    /// Builds a lazily-connecting pool for `cfg`; `app_name` shows in `pg_stat_activity`.
    pub fn connect_lazy(cfg: &DatabaseConfig, app_name: &str) -> Result<Self, DbError> {
        Self::connect_lazy_url(&cfg.url, cfg.max_connections, app_name)
    }

    /// Builds a lazily-connecting pool of `max_connections` on `url`.
    pub fn connect_lazy_url(
        url: &DatabaseUrl,
        max_connections: u32,
        app_name: &str,
    ) -> Result<Self, DbError> {
        let url = url.expose();
        match DbKind::from_url(url)? {
            DbKind::Postgres => {
                let opts = PgConnectOptions::from_str(url)
                    .map_err(|e| DbError::InvalidUrl(e.to_string()))?
                    .application_name(app_name)
                    // Every query has a deadline: a stuck statement must not hold a request forever.
                    .options([("statement_timeout", "10s"), ("lock_timeout", "5s")]);
                let pool = PgPoolOptions::new()
                    .max_connections(max_connections)
                    .min_connections(0)
                    .acquire_timeout(ACQUIRE_TIMEOUT)
                    .idle_timeout(Duration::from_secs(300))
                    .connect_lazy_with(opts);
                Ok(Self::Postgres(pool))
            }
            DbKind::Sqlite => {
                let opts = SqliteConnectOptions::from_str(url)
                    .map_err(|e| DbError::InvalidUrl(e.to_string()))?
                    .create_if_missing(true)
                    .journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Normal)
                    .busy_timeout(Duration::from_secs(5))
                    .foreign_keys(true);
                let file = opts.get_filename();
                if let Some(parent) = file.parent().filter(|p| !p.as_os_str().is_empty()) {
                    private_dir(parent).map_err(|source| DbError::DataDir {
                        path: parent.to_path_buf(),
                        source,
                    })?;
                }
                if file.as_os_str() != ":memory:" && !url.contains("mode=memory") {
                    private_file(file).map_err(|source| DbError::DataDir {
                        path: file.to_path_buf(),
                        source,
                    })?;
                }
                let pool = SqlitePoolOptions::new()
                    .max_connections(max_connections.min(8))
                    .acquire_timeout(ACQUIRE_TIMEOUT)
                    .connect_lazy_with(opts);
                Ok(Self::Sqlite(pool))
            }
        }
    }

    /// The dialect of this pool.
    pub fn kind(&self) -> DbKind {
        match self {
            Self::Postgres(_) => DbKind::Postgres,
            Self::Sqlite(_) => DbKind::Sqlite,
        }
    }

    /// Runs the migrations of this pool's dialect.
    pub async fn migrate(&self, m: &Migrations) -> Result<(), DbError> {
        match self {
            Self::Postgres(p) => m.postgres.run(p).await?,
            Self::Sqlite(p) => m.sqlite.run(p).await?,
        }
        Ok(())
    }

    /// `SELECT 1` with a deadline (readiness).
    pub async fn ping(&self, timeout: Duration) -> Result<(), DbError> {
        let fut = async {
            match self {
                Self::Postgres(p) => sqlx::query("SELECT 1").execute(p).await.map(|_| ()),
                Self::Sqlite(p) => sqlx::query("SELECT 1").execute(p).await.map(|_| ()),
            }
        };
        tokio::time::timeout(timeout, fut)
            .await
            .map_err(|_| DbError::Timeout(timeout))??;
        Ok(())
    }

    /// Closes the pool, waiting for connections to be returned.
    pub async fn close(&self) {
        match self {
            Self::Postgres(p) => p.close().await,
            Self::Sqlite(p) => p.close().await,
        }
    }
}

/// A pool plus the state of its migrations. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Database {
    /// The pool.
    pub db: Db,
    migrations: Migrations,
    migrate_on_start: bool,
    migrated: Arc<watch::Sender<MigrationState>>,
}

/// Where the migration (or schema check) task is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum MigrationState {
    /// Not known to be current yet.
    Pending,
    /// Applied (or found applied).
    Done,
    /// The task stopped (shutdown) before that.
    Abandoned,
}

/// How often a service that does not migrate itself looks again at its schema.
const SCHEMA_RECHECK: Duration = Duration::from_secs(2);

impl Database {
    /// Creates the pool and starts the migration task: with `DATABASE_MIGRATE_ON_START` (the
    /// default) it applies the migrations (with `DATABASE_MIGRATION_URL` when set), retrying
    /// with capped backoff until they succeed or `cancel` fires; without, it only checks every
    /// 2 s whether they have been applied by `<binary> migrate`.
    pub fn start(
        cfg: &DatabaseConfig,
        app_name: &str,
        migrations: Migrations,
        cancel: CancellationToken,
    ) -> Result<Self, DbError> {
        let db = Db::connect_lazy(cfg, app_name)?;
        let (tx, _rx) = watch::channel(MigrationState::Pending);
        let database = Self {
            db: db.clone(),
            migrations,
            migrate_on_start: cfg.migrate_on_start,
            migrated: Arc::new(tx),
        };
        let redacted = cfg.url.redacted();
        let state = database.clone();
        if cfg.migrate_on_start {
            // The owner role's pool, when it is another role, lives only as long as the task.
            let owner = match &cfg.migration_url {
                Some(u) => Db::connect_lazy_url(u, 1, app_name)?,
                None => db,
            };
            let separate = cfg.migration_url.is_some();
            tokio::spawn(async move {
                let mut backoff = Backoff::new(Duration::from_millis(200), Duration::from_secs(5));
                loop {
                    let delay = match owner.migrate(&migrations).await {
                        Ok(()) => {
                            tracing::info!(db.url = %redacted, "database migrations applied");
                            state.mark_migrated();
                            break;
                        }
                        Err(e) => {
                            let delay = backoff.next();
                            tracing::warn!(db.url = %redacted, error = %e, retry_in_ms = delay.as_millis() as u64, "database not ready; migrations will be retried");
                            delay
                        }
                    };
                    tokio::select! {
                        () = cancel.cancelled() => {
                            state.abandon();
                            break;
                        }
                        () = tokio::time::sleep(delay) => {}
                    }
                }
                if separate {
                    owner.close().await;
                }
            });
        } else {
            tokio::spawn(async move {
                let mut reported = Vec::new();
                loop {
                    match schema::pending(&state.db, &migrations).await {
                        Ok(missing) if missing.is_empty() => {
                            tracing::info!(db.url = %redacted, "database schema is up to date");
                            state.mark_migrated();
                            return;
                        }
                        Ok(missing) => {
                            if missing != reported {
                                tracing::warn!(db.url = %redacted, missing = %missing.join(","), "database schema is behind; run the migrate step (DATABASE_MIGRATE_ON_START=false)");
                                reported = missing;
                            }
                        }
                        Err(e) => {
                            tracing::warn!(db.url = %redacted, error = %e, "cannot check the database schema; will retry");
                        }
                    }
                    tokio::select! {
                        () = cancel.cancelled() => {
                            state.abandon();
                            return;
                        }
                        () = tokio::time::sleep(SCHEMA_RECHECK) => {}
                    }
                }
            });
        }
        Ok(database)
    }

    /// Where this service's read-only history queries run: through the replica of
    /// `DATABASE_READ_URL` when set ([`read::ReadRouter`]), else on the primary; `None` on
    /// SQLite. An unusable read URL is an error naming the variable.
    pub fn read_router(
        &self,
        cfg: &DatabaseConfig,
        app_name: &str,
        service: &'static str,
        metrics: &crate::metrics::Metrics,
        cancel: CancellationToken,
    ) -> Result<Option<read::ReadRouter>, DbError> {
        let Db::Postgres(primary) = &self.db else {
            return Ok(None);
        };
        match &cfg.read {
            None => Ok(Some(read::ReadRouter::primary_only(primary.clone()))),
            Some(r) => read::ReadRouter::start(
                primary.clone(),
                r,
                cfg.max_connections,
                app_name,
                service,
                metrics.clone(),
                cancel,
            )
            .map(Some)
            .map_err(|e| DbError::InvalidUrl(format!("DATABASE_READ_URL: {e}"))),
        }
    }

    fn mark_migrated(&self) {
        self.migrated.send_replace(MigrationState::Done);
    }

    fn abandon(&self) {
        self.migrated.send_if_modified(|s| {
            if *s == MigrationState::Pending {
                *s = MigrationState::Abandoned;
                true
            } else {
                false
            }
        });
    }

    /// The migrations this database is checked against.
    pub fn migrations(&self) -> &Migrations {
        &self.migrations
    }

    /// What readiness reports while the schema is not known to be current: `None` once it is
    /// (or has just become so); otherwise why not, naming the missing migrations.
    pub async fn schema_problem(&self) -> Option<String> {
        if self.is_migrated() {
            return None;
        }
        if self.migrate_on_start {
            return Some("migrations not applied yet".into());
        }
        let check = schema::pending(&self.db, &self.migrations);
        let Ok(checked) = tokio::time::timeout(Duration::from_secs(1), check).await else {
            return Some("cannot check the database schema within 1s".into());
        };
        match checked {
            Ok(missing) if missing.is_empty() => {
                // Applied since the last look: ready now rather than at the next re-check.
                self.mark_migrated();
                None
            }
            Ok(missing) => Some(format!(
                "database schema is behind: missing migration(s) {}; run `<binary> migrate` with DATABASE_MIGRATION_URL (DATABASE_MIGRATE_ON_START=false)",
                missing.join(", ")
            )),
            Err(e) => Some(format!("cannot check the database schema: {e}")),
        }
    }

    /// Whether the migrations have been applied.
    pub fn is_migrated(&self) -> bool {
        *self.migrated.borrow() == MigrationState::Done
    }

    /// Waits until the migrations have been applied (or the task ended without success).
    pub async fn wait_migrated(&self) -> bool {
        let mut rx = self.migrated.subscribe();
        rx.wait_for(|m| *m != MigrationState::Pending)
            .await
            .is_ok_and(|m| *m == MigrationState::Done)
    }

    /// Runs `job` every `period` until `cancel`, the first time as soon as the migrations have
    /// finished (on a fresh database the tables do not exist before); returns at once if they
    /// failed. For a service's maintenance of its own tables (purges); the caller spawns it.
    pub async fn run_periodically<F, Fut>(
        self,
        period: Duration,
        cancel: CancellationToken,
        mut job: F,
    ) where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = ()>,
    {
        tokio::select! {
            () = cancel.cancelled() => return,
            migrated = self.wait_migrated() => if !migrated { return },
        }
        let mut tick = tokio::time::interval(period);
        loop {
            tokio::select! {
                () = cancel.cancelled() => return,
                _ = tick.tick() => job().await,
            }
        }
    }
}

/// The migration versions found in a folder of `<version>_<name>.sql` files, sorted.
/// Each service's tests assert that its postgres and sqlite folders list the same versions.
pub fn migration_versions(dir: &Path) -> std::io::Result<Vec<String>> {
    let mut versions = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let name = entry?.file_name().to_string_lossy().into_owned();
        if let Some(stem) = name.strip_suffix(".sql") {
            let version = stem.split('_').next().unwrap_or(stem).to_owned();
            versions.push(version);
        }
    }
    versions.sort();
    Ok(versions)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_from_url() {
        assert_eq!(
            DbKind::from_url("postgres://u@h/db").ok(),
            Some(DbKind::Postgres)
        );
        assert_eq!(
            DbKind::from_url("postgresql://u@h/db").ok(),
            Some(DbKind::Postgres)
        );
        assert_eq!(
            DbKind::from_url("sqlite://./data/a.db").ok(),
            Some(DbKind::Sqlite)
        );
        assert_eq!(
            DbKind::from_url("sqlite::memory:").ok(),
            Some(DbKind::Sqlite)
        );
        assert!(DbKind::from_url("mysql://h/db").is_err());
    }
}
