//! The database behind a service under a crash test, on either backend, and how a test makes
//! it go away and come back (docs/reliability.md "Crash and durability").
//!
//! - PostgreSQL: a private [`PgCluster`] (never the machine's server) with its own database;
//!   "away" is `pg_ctl stop -m fast`, "back" is `pg_ctl start`.
//! - SQLite: the service's own file in its `DATA_DIR`. A file cannot be stopped; the honest
//!   equivalent is another connection holding the write lock (`BEGIN IMMEDIATE`), so every
//!   commit of the service waits in SQLite's busy handler and its writer's commit bound
//!   (`HISTORY_COMMIT_TIMEOUT_MS`) runs out, as it does against a stopped server. Reads go on
//!   (WAL), as they would from a PostgreSQL replica. "Back" is the lock's `ROLLBACK`.

use std::path::{Path, PathBuf};

use anyhow::Context;
use sqlx::Connection;

use crate::PgCluster;

/// Where a service's rows are.
#[derive(Debug)]
pub enum Backend {
    /// The SQLite file the service opens in its `DATA_DIR` (the default `DATABASE_URL`).
    Sqlite {
        /// The file (known before the service starts: `<stack dir>/<name>/<file>`).
        file: PathBuf,
    },
    /// A private cluster and the URL of the service's database on it.
    Pg(PgCluster, String),
}

/// The database held away by [`Backend::take_away`]; [`DbAway::bring_back`] ends the outage.
#[derive(Debug)]
pub enum DbAway<'a> {
    /// The stopped cluster.
    Pg(&'a PgCluster),
    /// The connection holding SQLite's write lock (dropping it releases the lock too).
    Sqlite(sqlx::SqliteConnection),
}

impl DbAway<'_> {
    /// Starts the cluster again, or rolls the lock's transaction back and closes its
    /// connection.
    pub async fn bring_back(self) -> anyhow::Result<()> {
        match self {
            Self::Pg(pg) => pg.pg_start().await,
            Self::Sqlite(mut c) => {
                sqlx::query("ROLLBACK")
                    .execute(&mut c)
                    .await
                    .context("release the SQLite write lock")?;
                c.close().await.context("close the lock's connection")
            }
        }
    }
}

impl Backend {
    /// The SQLite file `file` in the `DATA_DIR` of the service started as `name` in `stack_dir`.
    pub fn sqlite(stack_dir: &Path, name: &str, file: &str) -> Self {
        Self::Sqlite {
            file: stack_dir.join(name).join(file),
        }
    }

    /// A private cluster with a new database `db`.
    pub async fn postgres(db: &str) -> Self {
        let pg = PgCluster::start().await;
        let mut admin = sqlx::PgConnection::connect(&pg.url("postgres"))
            .await
            .expect("private postgres");
        sqlx::query(&format!("CREATE DATABASE {db}"))
            .execute(&mut admin)
            .await
            .expect("create database");
        let _ = admin.close().await;
        let url = pg.url(db);
        Self::Pg(pg, url)
    }

    /// `sqlite` / `postgres` (the `backend=` of a FIGURES line).
    pub fn label(&self) -> &'static str {
        match self {
            Self::Sqlite { .. } => "sqlite",
            Self::Pg(..) => "postgres",
        }
    }

    /// What the service needs in its environment to use this database.
    pub fn env(&self) -> Vec<(&str, &str)> {
        match self {
            Self::Sqlite { .. } => vec![],
            Self::Pg(_, url) => vec![("DATABASE_URL", url.as_str())],
        }
    }

    /// Makes the database unavailable to the service's writes until
    /// [`DbAway::bring_back`]. On SQLite the file must exist (the service has started).
    pub async fn take_away(&self) -> anyhow::Result<DbAway<'_>> {
        match self {
            Self::Pg(pg, _) => {
                pg.pg_stop("fast").await?;
                Ok(DbAway::Pg(pg))
            }
            Self::Sqlite { file } => {
                // sqlx's default busy_timeout (5 s) lets this BEGIN wait out a commit of the
                // service that holds the lock at this moment.
                let mut c =
                    sqlx::SqliteConnection::connect(&format!("sqlite://{}", file.display()))
                        .await
                        .with_context(|| format!("open {}", file.display()))?;
                // IMMEDIATE takes the write lock now (a deferred BEGIN takes nothing until the
                // first write); in WAL mode EXCLUSIVE would be the same lock.
                sqlx::query("BEGIN IMMEDIATE")
                    .execute(&mut c)
                    .await
                    .context("take the SQLite write lock")?;
                Ok(DbAway::Sqlite(c))
            }
        }
    }

    /// The first column (text) of every row of `sql`; `None` while the database cannot be read.
    pub async fn strings(&self, sql: &str) -> Option<Vec<String>> {
        match self {
            Self::Sqlite { file } => {
                let mut c = sqlx::SqliteConnection::connect(&format!(
                    "sqlite://{}?mode=ro",
                    file.display()
                ))
                .await
                .ok()?;
                let v = sqlx::query_scalar(sql).fetch_all(&mut c).await.ok()?;
                let _ = c.close().await;
                Some(v)
            }
            Self::Pg(_, url) => {
                let mut c = sqlx::PgConnection::connect(url).await.ok()?;
                let v = sqlx::query_scalar(sql).fetch_all(&mut c).await.ok()?;
                let _ = c.close().await;
                Some(v)
            }
        }
    }
}
