//! The product-change service as a library (docs/api.md §4): [`build`] makes an [`App`] from a
//! [`Config`], [`App::parts`] gives its routes, docs and readiness checks (the all-in-one launcher
//! mounts those), and [`run`] serves it standalone. The binary (`product-change-service`) is a
//! thin wrapper.
//!
//! Background work owned by the shutdown token and joined in [`App::shutdown`]: the KOS call-log
//! writer ([`phonebill_common::history`]) and the reconciliation task (at start and every
//! `RECONCILE_INTERVAL_SECONDS`).

pub mod cache;
pub mod config;
pub mod domain;
pub mod metrics;
pub mod routes;
pub mod service;
pub mod store;

use std::sync::Arc;

use phonebill_common::actuator::{ComponentHealth, DbHealth, HealthCheck};
use phonebill_common::auth::TokenVerifier;
use phonebill_common::cache::Cache;
use phonebill_common::db::{Database, Db, DbError, Migrations};
use phonebill_common::history::{self, HistoryTask};
use phonebill_common::http::ServiceParts;
use phonebill_common::kos::client::KosClient;
use phonebill_common::openapi::BearerSecurity;
use phonebill_common::service::Deps;
use phonebill_common::time::SystemClock;
use sqlx::migrate::Migrator;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use utoipa::OpenApi;

pub use config::Config;

use crate::service::ProductService;
use crate::store::{CallSink, DynStore};

/// Service name (metrics label, docs path, SQLite file name).
pub const SERVICE: &str = "product-change";

/// How long shutdown waits for change tasks whose request was dropped.
const DETACHED_GRACE: std::time::Duration = std::time::Duration::from_secs(10);

static PG_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/postgres");
static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/sqlite");

/// This service's migrations, one set per dialect.
pub const MIGRATIONS: Migrations = Migrations {
    postgres: &PG_MIGRATIONS,
    sqlite: &SQLITE_MIGRATIONS,
};

/// The head of the service's OpenAPI document: its title and security scheme. The operations
/// are added by [`routes::router`] from the handlers it mounts, so each route is declared once.
#[derive(OpenApi)]
#[openapi(
    info(title = "phonebill product-change service", description = "See docs/api.md §4 for the wire contract."),
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
    /// Another dependency could not be set up.
    #[error("{0}")]
    Setup(String),
}

/// A built service.
pub struct App {
    /// Its configuration.
    pub config: Config,
    /// Its database.
    pub database: Database,
    /// Readiness of the read replica (`DATABASE_READ_URL`), when there is one.
    replica_health: Option<Arc<dyn HealthCheck>>,
    /// What the process gave it.
    pub deps: Deps,
    /// The use cases (tests drive reconciliation through it).
    pub service: ProductService,
    verifier: TokenVerifier,
    cache: Cache,
    history: HistoryTask,
    history_stop: CancellationToken,
    reconciler: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App")
            .field("service", &SERVICE)
            .finish_non_exhaustive()
    }
}

/// Builds the service: database pool and background migrations, verifier, cache, KOS client,
/// the call-log writer and the reconciliation task.
pub async fn build(config: Config, deps: Deps) -> Result<App, BuildError> {
    let database = Database::start(
        &config.base.database,
        "product-change-service",
        MIGRATIONS,
        deps.shutdown.child_token(),
    )?;
    let reads = database.read_router(
        &config.base.database,
        "product-change-service",
        SERVICE,
        &deps.metrics,
        deps.shutdown.child_token(),
    )?;
    let replica_health = reads.as_ref().and_then(|r| r.health());
    let store: DynStore = match (&database.db, reads) {
        (Db::Postgres(p), Some(r)) => Arc::new(store::postgres::PgStore::with_reads(p.clone(), r)),
        (Db::Postgres(p), None) => Arc::new(store::postgres::PgStore::new(p.clone())),
        (Db::Sqlite(p), _) => Arc::new(store::sqlite::SqliteStore::new(p.clone())),
    };
    let deny = deps
        .deny_list_or_start(&config.deny)
        .await
        .map_err(|e| BuildError::Setup(e.to_string()))?;
    let verifier =
        TokenVerifier::new(config.verifier.clone(), deny).with_metrics(deps.metrics.clone());
    let cache = deps
        .cache_or_new(&config.cache)
        .map_err(|e| BuildError::Setup(e.to_string()))?;
    let kos = KosClient::new(config.kos.clone(), &deps.metrics)
        .map_err(|e| BuildError::Setup(e.to_string()))?;
    // The writer stops on its own token, cancelled by `App::shutdown` only after the server
    // drained and the service (every sender) is gone: a child of the process token would close
    // the queue at the first signal and refuse the rows of the requests still draining.
    let history_stop = CancellationToken::new();
    let (calls, history) = history::spawn(
        SERVICE,
        "kos_calls",
        Arc::new(CallSink(Arc::clone(&store))),
        config.history.clone(),
        &deps.metrics,
        history_stop.clone(),
    );
    let service = ProductService::new(
        store,
        kos,
        cache.clone(),
        calls,
        deps.metrics.clone(),
        config.budget,
        config.reconcile,
        config.idempotency_ttl,
        Arc::new(SystemClock),
    );
    let reconciler = config.reconcile.enabled.then(|| {
        let service = service.clone();
        let database = database.clone();
        let cancel = deps.shutdown.child_token();
        let interval = config.reconcile.interval;
        tokio::spawn(async move {
            if !database.wait_migrated().await {
                return;
            }
            loop {
                match service.reconcile_once().await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(finished = n, "reconciled in-flight product changes"),
                    Err(e) => tracing::warn!(error = %e, "reconciliation pass failed"),
                }
                tokio::select! {
                    () = cancel.cancelled() => return,
                    () = tokio::time::sleep(interval) => {}
                }
            }
        })
    });
    Ok(App {
        config,
        database,
        replica_health,
        deps,
        service,
        verifier,
        cache,
        history,
        history_stop,
        reconciler,
    })
}

/// Readiness detail of KOS: the breaker state (never fails readiness).
struct KosHealth(KosClient);

#[async_trait::async_trait]
impl HealthCheck for KosHealth {
    fn name(&self) -> String {
        "kos".into()
    }
    fn critical(&self) -> bool {
        false
    }
    async fn check(&self) -> ComponentHealth {
        ComponentHealth::up().detail("breaker", self.0.breaker().state().as_str())
    }
}

impl App {
    /// Routes, document and readiness checks.
    pub fn parts(&self) -> ServiceParts {
        let mut health: Vec<Arc<dyn HealthCheck>> = vec![
            Arc::new(DbHealth {
                name: "db".into(),
                database: self.database.clone(),
            }),
            self.cache.health_check(),
            self.verifier.health(),
            Arc::new(KosHealth(self.service.kos().clone())),
            self.history.health(),
        ];
        health.extend(self.replica_health.clone());
        let (router, openapi) = routes::router(routes::AppState {
            service: self.service.clone(),
            verifier: self.verifier.clone(),
        });
        ServiceParts {
            name: SERVICE,
            router: metrics::track(router, &self.deps.metrics),
            openapi,
            health,
        }
    }

    /// Stops background work (reconciler, call-log writer after flushing) and closes the pool.
    pub async fn shutdown(self) {
        self.deps.shutdown.cancel();
        if let Some(r) = self.reconciler {
            let _ = r.await;
        }
        let Self {
            service,
            history,
            history_stop,
            database,
            cache,
            ..
        } = self;
        // Change tasks detached from a dropped request still hold the service: let them finish
        // (bounded) so their call rows are queued, then stop the writer, which drains the queue.
        service.wait_detached(DETACHED_GRACE).await;
        drop(service);
        history_stop.cancel();
        history.join().await;
        cache.close().await;
        database.db.close().await;
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

phonebill_common::service_binary!("product-change-service");
