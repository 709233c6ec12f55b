//! The bill-inquiry service as a library: [`build`] makes an [`App`] from a [`Config`], [`App::parts`]
//! gives its routes, docs and readiness checks (the all-in-one launcher mounts those), and
//! [`run`] serves it standalone. The binary (`bill-inquiry-service`) is a thin wrapper.
//!
//! Modules: `config` (variables), `domain` (pure rules), `store` (history tables, PostgreSQL and
//! SQLite), `service` (use cases: cache, KOS, sync budget, history), `routes` (handlers).

pub mod cache;
pub mod config;
pub mod domain;
pub mod metrics;
pub mod routes;
pub mod service;
pub mod store;

use std::sync::Arc;
use std::time::Duration;

use phonebill_common::actuator::{ComponentHealth, DbHealth, HealthCheck};
use phonebill_common::auth::{DenyListError, TokenVerifier};
use phonebill_common::cache::{Cache, CacheError};
use phonebill_common::db::{Database, DbError, Migrations};
use phonebill_common::history::{self, HistoryTask};
use phonebill_common::http::ServiceParts;
use phonebill_common::kos::client::{KosClient, KosClientBuildError};
use phonebill_common::openapi::{BearerSecurity, StandardErrors};
use phonebill_common::service::Deps;
use sqlx::migrate::Migrator;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use utoipa::{Modify, OpenApi};

pub use config::Config;

use crate::domain::{DynClock, SystemClock};
use crate::service::{BillService, ServiceDeps};
use crate::store::DynBillStore;

/// Service name (metrics label, docs path, SQLite file name).
pub const SERVICE: &str = "bill-inquiry";

/// How long shutdown lets background KOS calls finish before abandoning them.
const BACKGROUND_GRACE: Duration = Duration::from_secs(10);

static PG_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/postgres");
static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/sqlite");

/// This service's migrations, one set per dialect.
pub const MIGRATIONS: Migrations = Migrations {
    postgres: &PG_MIGRATIONS,
    sqlite: &SQLITE_MIGRATIONS,
};

/// The OpenAPI document's frame (info, security scheme, shared schemas, tags); the operations
/// come from the routes ([`openapi`] is the whole document).
#[derive(OpenApi)]
#[openapi(
    info(title = "phonebill bill-inquiry service", description = "See docs/api.md §3 for the wire contract."),
    modifiers(&BearerSecurity),
    components(schemas(
        phonebill_common::error::ErrorBody,
        routes::inquiry::InquiryRequest,
        service::InquiryData,
        service::MenuData,
        service::MenuCustomer,
        service::HistoryPage,
        service::HistoryItem,
        service::PaginationInfo,
        phonebill_common::kos::BillInfo,
        phonebill_common::kos::CustomerInfo,
    )),
    tags((name = "bills", description = "Bill menu, inquiry, polling and history"))
)]
pub struct ApiDoc;

/// The whole OpenAPI document of the service: [`ApiDoc`] with every route's operation, and the
/// standard error responses added to each.
pub fn openapi() -> utoipa::openapi::OpenApi {
    split_routes().1
}

/// The routes (state still to apply) and the document they make.
fn split_routes() -> (axum::Router<routes::AppState>, utoipa::openapi::OpenApi) {
    let (router, mut doc) = routes::router().split_for_parts();
    StandardErrors.modify(&mut doc);
    (router, doc)
}

/// The service could not be built.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The database could not be set up.
    #[error(transparent)]
    Db(#[from] DbError),
    /// The cache could not be set up.
    #[error(transparent)]
    Cache(#[from] CacheError),
    /// The deny list could not be set up.
    #[error(transparent)]
    Deny(#[from] DenyListError),
    /// The KOS client could not be built.
    #[error(transparent)]
    Kos(#[from] KosClientBuildError),
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
    /// The store (tests read history through it).
    pub store: DynBillStore,
    /// The cache.
    pub cache: Cache,
    /// The KOS client (its breaker).
    pub kos: KosClient,
    state: routes::AppState,
    history_task: HistoryTask,
    history_stop: CancellationToken,
    tracker: TaskTracker,
    background_cancel: CancellationToken,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App")
            .field("service", &SERVICE)
            .finish_non_exhaustive()
    }
}

/// Builds the service with the system clock.
pub async fn build(config: Config, deps: Deps) -> Result<App, BuildError> {
    build_with_clock(config, deps, Arc::new(SystemClock)).await
}

/// Builds the service: database (background migrations), verifier, cache, KOS client, history
/// writer and the retention task.
pub async fn build_with_clock(
    config: Config,
    deps: Deps,
    clock: DynClock,
) -> Result<App, BuildError> {
    let database = Database::start(
        &config.base.database,
        "bill-inquiry-service",
        MIGRATIONS,
        deps.shutdown.child_token(),
    )?;
    let reads = database.read_router(
        &config.base.database,
        "bill-inquiry-service",
        SERVICE,
        &deps.metrics,
        deps.shutdown.child_token(),
    )?;
    let replica_health = reads.as_ref().and_then(|r| r.health());
    let store = store::for_db(&database.db, reads);
    let deny = deps.deny_list_or_start(&config.deny).await?;
    let verifier =
        TokenVerifier::new(config.verifier.clone(), deny).with_metrics(deps.metrics.clone());
    let cache = deps.cache_or_new(&config.cache)?;
    let kos = KosClient::new(config.kos.clone(), &deps.metrics)?;
    // The writer stops on its own token, cancelled by `App::shutdown` only after the background
    // inquiries finished, so their final rows are flushed too.
    let history_stop = CancellationToken::new();
    let (writer, history_task) = history::spawn(
        SERVICE,
        "inquiry",
        Arc::clone(&store),
        config.history.clone(),
        &deps.metrics,
        history_stop.clone(),
    );
    let tracker = TaskTracker::new();
    let background_cancel = CancellationToken::new();
    let svc = BillService::new(ServiceDeps {
        cache: cache.clone(),
        kos: kos.clone(),
        store: Arc::clone(&store),
        history: writer,
        clock: Arc::clone(&clock),
        sync_budget: config.sync_budget,
        retention: config.result_retention,
        tracker: tracker.clone(),
        cancel: background_cancel.clone(),
    });
    spawn_retention(
        &tracker,
        svc.clone(),
        database.clone(),
        deps.shutdown.child_token(),
    );
    let state = routes::AppState {
        svc,
        verifier,
        clock,
    };
    Ok(App {
        config,
        database,
        replica_health,
        deps,
        store,
        cache,
        kos,
        state,
        history_task,
        history_stop,
        tracker,
        background_cancel,
    })
}

/// Hourly: drop `billInfo` past the polling retention, once migrated.
fn spawn_retention(
    tracker: &TaskTracker,
    svc: BillService,
    database: Database,
    cancel: CancellationToken,
) {
    tracker.spawn(
        database.run_periodically(Duration::from_secs(3600), cancel, move || {
            let svc = svc.clone();
            async move {
                match svc.purge_expired_results().await {
                    Ok(n) if n > 0 => tracing::info!(rows = n, "expired bill results purged"),
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "bill result purge failed"),
                }
            }
        }),
    );
}

/// Readiness component `kos`: the breaker state (never critical: the breaker handles KOS).
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
        let health: Vec<Arc<dyn HealthCheck>> = vec![
            Arc::new(DbHealth {
                name: "db".into(),
                database: self.database.clone(),
            }),
            self.state.verifier.health(),
            self.cache.health_check(),
            Arc::new(KosHealth(self.kos.clone())),
            self.history_task.health(),
        ];
        let mut health = health;
        health.extend(self.replica_health.clone());
        let (router, openapi) = split_routes();
        ServiceParts {
            name: SERVICE,
            router: metrics::track(router.with_state(self.state.clone()), &self.deps.metrics),
            openapi,
            health,
        }
    }

    /// Stops background work: lets in-flight KOS calls finish (bounded), flushes the history
    /// writer, then closes the cache and the pool.
    pub async fn shutdown(self) {
        self.tracker.close();
        if tokio::time::timeout(BACKGROUND_GRACE, self.tracker.wait())
            .await
            .is_err()
        {
            self.background_cancel.cancel();
            self.tracker.wait().await;
        }
        // Handlers and background tasks are done: flush what they queued.
        drop(self.state);
        self.history_stop.cancel();
        let written = self.history_task.join().await;
        tracing::debug!(written, "history writer stopped");
        self.cache.close().await;
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

phonebill_common::service_binary!("bill-inquiry-service");
