//! The KOS mock service as a library: [`build`] makes an [`App`] from a [`Config`], [`App::parts`]
//! gives its routes, docs and readiness checks (the all-in-one launcher mounts those), and
//! [`run`] serves it standalone. The binary (`kos-mock-service`) is a thin wrapper.
//!
//! The mock stands in for the carrier back office (docs/api.md §5): deterministic data, realistic
//! latency and failures when asked, and deterministic fault injection for tests.

// Validation helpers return the finished rejection `Response` as their error so handlers can
// `return` it; rejections are the cold path, so the size of `Err` does not matter.
#![expect(
    clippy::result_large_err,
    reason = "early-return helpers carry the finished KOS rejection response"
)]

pub mod config;
pub mod domain;
pub mod gate;
pub mod guesses;
pub mod metrics;
pub mod reply;
pub mod routes;
pub mod service_auth;
pub mod sim;
pub mod state;
pub mod store;

use std::sync::Arc;
use std::time::Duration;

use phonebill_common::actuator::{DbHealth, HealthCheck, StartupTaskHealth};
use phonebill_common::backoff::Backoff;
use phonebill_common::db::{Database, Db, DbError, Migrations};
use phonebill_common::http::ServiceParts;
use sqlx::migrate::Migrator;
use tokio::net::TcpListener;
use tokio::sync::watch;
use utoipa::OpenApi;

pub use config::{Config, StoreKind};

use crate::state::{AppState, Catalog};
use crate::store::{
    DynStore, cached::CachedStore, memory::MemoryStore, postgres::PgStore, sqlite::SqliteStore,
};

/// Service name (metrics label, docs path, SQLite file name).
pub const SERVICE: &str = "kos-mock";

static PG_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/postgres");
static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/sqlite");

/// This service's migrations, one set per dialect.
pub const MIGRATIONS: Migrations = Migrations {
    postgres: &PG_MIGRATIONS,
    sqlite: &SQLITE_MIGRATIONS,
};

/// The OpenAPI document of the service without its paths: [`routes::router`] adds each route
/// with its operation.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "phonebill KOS mock service",
        description = "Stand-in for the carrier back office (docs/api.md §5). KOS routes answer in the KOS envelope \
            (`success`, `resultCode`, `resultMessage`, `data`, `timestamp`, `traceId`); mock-data routes in the \
            legacy `ApiResponse`. Extensions beyond the as-built mock: `POST /api/v1/kos/mock-datas/bulk` \
            (load-test data), `/api/v1/kos/admin/*` (faults, simulation), fault mode `malformed`, result code 9403."
    ),
    components(schemas(phonebill_common::error::ErrorBody, reply::KosFailure)),
    tags(
        (name = "kos", description = "KOS endpoints (KOS envelope)"),
        (name = "kos-mock-data", description = "Mock-data creation and lookup (legacy ApiResponse)"),
        (name = "kos-admin", description = "Fault injection and simulation control"),
    )
)]
pub struct ApiDoc;

/// The service could not be built.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The database could not be set up.
    #[error(transparent)]
    Db(#[from] DbError),
    /// The configuration is inconsistent.
    #[error("invalid configuration: {0}")]
    Config(String),
}

/// A built service.
pub struct App {
    /// Shared handler state.
    pub state: Arc<AppState>,
    /// Its database (`None` with `KOS_STORE=memory`).
    pub database: Option<Database>,
    /// What the process gave it.
    pub deps: phonebill_common::service::Deps,
    ready: watch::Receiver<bool>,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App")
            .field("service", &SERVICE)
            .finish_non_exhaustive()
    }
}

/// Seeds the demo data (retrying while the store is unavailable) and loads the catalogue.
async fn seed(state: Arc<AppState>, database: Option<Database>, ready: watch::Sender<bool>) {
    if let Some(db) = &database
        && !db.wait_migrated().await
    {
        return;
    }
    let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(5));
    loop {
        let result = async {
            state
                .store
                .seed(&domain::seed::products(), &domain::seed::lines())
                .await?;
            state.store.products().await
        }
        .await;
        match result {
            Ok(products) => {
                let _ = state.catalog.set(Arc::new(Catalog::new(products)));
                tracing::info!("kos-mock demo data seeded");
                let _ = ready.send(true);
                return;
            }
            Err(e) => tracing::warn!(error = %e, "kos-mock seeding failed; retrying"),
        }
        tokio::time::sleep(backoff.next()).await;
    }
}

/// Builds the service: store (database pool with background migrations, or memory), simulator,
/// and the seeding task.
pub async fn build(
    config: Config,
    deps: phonebill_common::service::Deps,
) -> Result<App, BuildError> {
    if config.require_auth && config.api_key.is_none() {
        return Err(BuildError::Config(
            "KOS_REQUIRE_AUTH=true needs KOS_API_KEY".to_owned(),
        ));
    }
    if config.admin_requires_key && config.api_key.is_none() {
        return Err(BuildError::Config(
            "KOS_ADMIN_REQUIRES_KEY=true needs KOS_API_KEY".to_owned(),
        ));
    }
    let (database, store): (Option<Database>, DynStore) = match config.store {
        StoreKind::Memory => (None, Arc::new(MemoryStore::new())),
        StoreKind::Database => {
            let database = Database::start(
                &config.base.database,
                "kos-mock-service",
                MIGRATIONS,
                deps.shutdown.child_token(),
            )?;
            // Line cache (see `store::cached`): exact on SQLite (one owning process), bounded by
            // a short TTL on PostgreSQL, where replicas may share the database.
            let (store, default_ttl): (DynStore, Option<u64>) = match &database.db {
                Db::Postgres(p) => (Arc::new(PgStore::new(p.clone())), Some(1000)),
                Db::Sqlite(p) => (Arc::new(SqliteStore::new(p.clone())), None),
            };
            let store: DynStore = match config.line_cache_ttl_ms.or(default_ttl) {
                Some(0) => store,
                ttl => Arc::new(CachedStore::new(store, ttl.map(Duration::from_millis))),
            };
            (Some(database), store)
        }
    };
    let deny = deps
        .deny_list_or_start(&config.deny)
        .await
        .map_err(|e| BuildError::Config(e.to_string()))?;
    let users = phonebill_common::auth::TokenVerifier::new(config.user_tokens.clone(), deny)
        .with_metrics(deps.metrics.clone());
    let state = Arc::new(AppState {
        users,
        sim: sim::Simulator::new(&config),
        config,
        store,
        requests: metrics::requests(&deps.metrics),
        catalog: tokio::sync::OnceCell::new(),
        outbox: routes::sms::Outbox::default(),
        guesses: guesses::GuessThrottle::default(),
    });
    let (tx, rx) = watch::channel(false);
    let cancel = deps.shutdown.child_token();
    let task = seed(state.clone(), database.clone(), tx);
    tokio::spawn(async move {
        tokio::select! {
            () = cancel.cancelled() => {}
            () = task => {}
        }
    });
    Ok(App {
        state,
        database,
        deps,
        ready: rx,
    })
}

impl App {
    /// Routes, document and readiness checks.
    pub fn parts(&self) -> ServiceParts {
        let mut health: Vec<Arc<dyn HealthCheck>> = Vec::new();
        if let Some(db) = &self.database {
            health.push(Arc::new(DbHealth {
                name: "db".into(),
                database: db.clone(),
            }));
        }
        health.push(Arc::new(StartupTaskHealth {
            name: "seed",
            done: self.ready.clone(),
            pending: "demo data not seeded yet",
        }));
        let (router, openapi) = routes::router(&self.state).split_for_parts();
        ServiceParts {
            name: SERVICE,
            router,
            openapi,
            health,
        }
    }

    /// Waits until migrations ran and the demo data is seeded (`false` if that never happens
    /// because the service shut down first).
    pub async fn wait_ready(&self) -> bool {
        let mut rx = self.ready.clone();
        rx.wait_for(|r| *r).await.is_ok()
    }

    /// Stops background work and closes the pool.
    pub async fn shutdown(self) {
        if let Some(db) = &self.database {
            db.db.close().await;
        }
    }
}

/// Serves the service alone on `listener` until `app.deps.shutdown` is cancelled.
pub async fn run(app: App, listener: TcpListener) -> std::io::Result<()> {
    let result = phonebill_common::service::serve_standalone(
        app.parts(),
        &app.state.config.base,
        &app.deps,
        listener,
    )
    .await;
    app.shutdown().await;
    result
}

phonebill_common::service_binary!("kos-mock-service");
