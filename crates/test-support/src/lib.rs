//! Test-only helpers shared by every service's integration tests (never linked into release code).
//!
//! - [`TestDb`]: a fresh PostgreSQL database per test (from `PHONEBILL_TEST_DATABASE_URL`,
//!   default `postgres://postgres@127.0.0.1:5432/test`), dropped afterwards; or a temp SQLite file.
//! - [`Backend`] and [`backend_tests!`]: run one test body on both backends.
//! - [`redis_url`] and [`unique_prefix`]: the test Redis and a per-test key prefix.
//! - [`init_test_logging`]: logs to the test writer when `TEST_LOG` is set.
//! - [`openapi::assert_operations_documented`]: every operation has a summary and examples.
//! - [`pg_scans::ScanCheck`]: a store's lookups on PostgreSQL made no sequential scan.

pub mod hostile;
pub mod openapi;
pub mod pg_scans;

use std::sync::Once;

use phonebill_common::config::DatabaseConfig;
use sqlx::Connection;

/// The two storage backends every store-touching test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// PostgreSQL (the machine's server).
    Postgres,
    /// A temp SQLite file.
    Sqlite,
}

/// The admin URL of the test PostgreSQL server.
pub fn postgres_admin_url() -> String {
    std::env::var("PHONEBILL_TEST_DATABASE_URL")
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

/// The URL of the test Redis.
pub fn redis_url() -> String {
    std::env::var("PHONEBILL_TEST_REDIS_URL")
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "redis://127.0.0.1:6379".to_owned())
}

/// A prefix no other test uses (for Redis keys and channels).
pub fn unique_prefix() -> String {
    format!("t{}", &uuid::Uuid::new_v4().simple().to_string()[..12])
}

/// A database owned by one test. PostgreSQL databases are dropped on `Drop`; SQLite files live in
/// a temp dir removed on `Drop`.
#[derive(Debug)]
pub struct TestDb {
    /// The database URL to give the app.
    pub url: String,
    backend: Backend,
    pg: Option<(String, String)>,
    _dir: Option<tempfile::TempDir>,
}

impl TestDb {
    /// A fresh database on `backend`.
    pub async fn new(backend: Backend) -> Self {
        match backend {
            Backend::Postgres => Self::postgres().await,
            Backend::Sqlite => Self::sqlite(),
        }
    }

    /// A fresh PostgreSQL database named `phonebill_test_<uuid>`.
    ///
    /// # Panics
    /// When the test server is unreachable: a test that needs PostgreSQL must fail, not skip.
    pub async fn postgres() -> Self {
        let admin = postgres_admin_url();
        let name = format!("phonebill_test_{}", uuid::Uuid::new_v4().simple());
        let mut conn = sqlx::PgConnection::connect(&admin)
            .await
            .unwrap_or_else(|e| panic!("cannot reach test PostgreSQL at {admin}: {e}"));
        sqlx::query(&format!("CREATE DATABASE \"{name}\""))
            .execute(&mut conn)
            .await
            .unwrap_or_else(|e| panic!("cannot create test database {name}: {e}"));
        let _ = conn.close().await;
        let url = replace_db_name(&admin, &name);
        Self {
            url,
            backend: Backend::Postgres,
            pg: Some((admin, name)),
            _dir: None,
        }
    }

    /// A temp SQLite file.
    ///
    /// # Panics
    /// When no temp dir can be made.
    pub fn sqlite() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = phonebill_common::db::sqlite_url(&dir.path().join("test.db"));
        Self {
            url,
            backend: Backend::Sqlite,
            pg: None,
            _dir: Some(dir),
        }
    }

    /// Which backend this is.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The config to hand the app.
    pub fn config(&self) -> DatabaseConfig {
        DatabaseConfig::new(self.url.clone(), 5)
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some((admin, name)) = self.pg.take() else {
            return;
        };
        // Drop cannot be async: use a short-lived runtime on its own thread.
        let handle = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build();
            if let Ok(rt) = rt {
                rt.block_on(async {
                    if let Ok(mut conn) = sqlx::PgConnection::connect(&admin).await {
                        let _ = sqlx::query(&format!(
                            "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
                        ))
                        .execute(&mut conn)
                        .await;
                        let _ = conn.close().await;
                    }
                });
            }
        });
        let _ = handle.join();
    }
}

/// `url` with its database name replaced by `name`.
fn replace_db_name(url: &str, name: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let after_scheme = base.find("://").map_or(0, |i| i + 3);
    let path_start = base[after_scheme..].find('/').map(|i| after_scheme + i);
    let mut out = match path_start {
        Some(i) => format!("{}/{name}", &base[..i]),
        None => format!("{base}/{name}"),
    };
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    out
}

/// Generates `<name>_postgres` and `<name>_sqlite` tests from one body taking a [`Backend`]:
///
/// ```ignore
/// backend_tests!(login_works, |backend| async move { let app = spawn_app(backend).await; ... });
/// ```
#[macro_export]
macro_rules! backend_tests {
    ($name:ident, $body:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                ($body)($crate::Backend::Postgres).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                ($body)($crate::Backend::Sqlite).await;
            }
        }
    };
}

static LOG: Once = Once::new();

/// Logs to the test writer when `TEST_LOG` is set (quiet otherwise).
pub fn init_test_logging() {
    LOG.call_once(|| {
        if std::env::var_os("TEST_LOG").is_some() {
            let _ = tracing_subscriber::fmt()
                .with_env_filter(
                    tracing_subscriber::EnvFilter::try_from_default_env()
                        .unwrap_or_else(|_| "debug".into()),
                )
                .with_test_writer()
                .try_init();
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_database_name() {
        assert_eq!(
            replace_db_name("postgres://postgres@127.0.0.1:5432/test", "x"),
            "postgres://postgres@127.0.0.1:5432/x"
        );
        assert_eq!(
            replace_db_name("postgres://u:p@h/test?sslmode=disable", "x"),
            "postgres://u:p@h/x?sslmode=disable"
        );
        assert_eq!(
            replace_db_name("postgres://h:5432", "x"),
            "postgres://h:5432/x"
        );
    }
}
