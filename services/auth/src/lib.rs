//! The auth service as a library: [`build`] makes an [`App`] from a [`Config`], [`App::parts`]
//! gives its routes, docs and readiness checks (the all-in-one launcher mounts those), and
//! [`run`] serves it standalone. The binary (`auth-service`) is a thin wrapper.

pub mod config;

use std::sync::Arc;

use axum::Router;
use phonebill_common::actuator::{DbHealth, HealthCheck};
use phonebill_common::db::{Database, DbError, Migrations};
use phonebill_common::http::ServiceParts;
use phonebill_common::openapi::BearerSecurity;
use phonebill_common::service::Deps;
use sqlx::migrate::Migrator;
use tokio::net::TcpListener;
use utoipa::OpenApi;

pub use config::Config;

/// Service name (metrics label, docs path, SQLite file name).
pub const SERVICE: &str = "auth";

static PG_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/postgres");
static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/sqlite");

/// This service's migrations, one set per dialect.
pub const MIGRATIONS: Migrations = Migrations {
    postgres: &PG_MIGRATIONS,
    sqlite: &SQLITE_MIGRATIONS,
};

/// The OpenAPI document of the service.
#[derive(OpenApi)]
#[openapi(
    info(title = "phonebill auth service", description = "See SPEC.md for the wire contract."),
    modifiers(&BearerSecurity),
    components(schemas(phonebill_common::error::ErrorBody))
)]
pub struct ApiDoc;

/// The service could not be built.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The database could not be set up.
    #[error(transparent)]
    Db(#[from] DbError),
}

/// A built service.
pub struct App {
    /// Its configuration.
    pub config: Config,
    /// Its database.
    pub database: Database,
    /// What the process gave it.
    pub deps: Deps,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App")
            .field("service", &SERVICE)
            .finish_non_exhaustive()
    }
}

/// Builds the service: database pool and background migrations.
pub async fn build(config: Config, deps: Deps) -> Result<App, BuildError> {
    let database = Database::start(
        &config.base.database,
        "auth-service",
        MIGRATIONS,
        deps.shutdown.child_token(),
    )?;
    Ok(App {
        config,
        database,
        deps,
    })
}

impl App {
    /// Routes, document and readiness checks.
    pub fn parts(&self) -> ServiceParts {
        let health: Vec<Arc<dyn HealthCheck>> = vec![Arc::new(DbHealth {
            name: "db".into(),
            database: self.database.clone(),
        })];
        ServiceParts {
            name: SERVICE,
            router: Router::new(),
            openapi: ApiDoc::openapi(),
            health,
        }
    }

    /// Stops background work and closes the pool.
    pub async fn shutdown(self) {
        self.database.db.close().await;
    }
}

/// Serves the service alone on `listener` until `app.deps.shutdown` is cancelled.
pub async fn run(app: App, listener: TcpListener) -> std::io::Result<()> {
    let result = phonebill_common::service::serve_standalone(
        app.parts(),
        &app.config.base,
        &app.deps,
        listener,
    )
    .await;
    app.shutdown().await;
    result
}
