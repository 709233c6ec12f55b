//! The auth service as a library: [`build`] makes an [`App`] from a [`Config`], [`App::parts`]
//! gives its routes, docs and readiness checks (the all-in-one launcher mounts those), and
//! [`run`] serves it standalone. The binary (`auth-service`) is a thin wrapper.
//!
//! It issues EdDSA access tokens and rotating refresh tokens (docs/api.md §2), keeps users, permissions,
//! sessions and login history in its own database, and revokes sessions through the deny list
//! of [`phonebill_common::auth`].

pub mod config;
pub mod domain;
pub mod keys;
pub mod metrics;
pub mod password;
pub mod rate_limit;
pub mod registration;
pub mod routes;
pub mod seed;
pub mod service;
pub mod store;

use std::sync::Arc;

use phonebill_common::actuator::{DbHealth, HealthCheck, StartupTaskHealth};
use phonebill_common::auth::{DenyListError, KeySource, TokenVerifier, VerifierConfig};
use phonebill_common::db::{Database, DbError, Migrations};
use phonebill_common::http::ServiceParts;
use phonebill_common::openapi::{BearerSecurity, StandardErrors};
use phonebill_common::service::Deps;
use sqlx::migrate::Migrator;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use utoipa::{Modify, OpenApi};

pub use config::Config;
pub use phonebill_common::time::{Clock, ManualClock, SystemClock};
pub use seed::{DEMO_USERS, DemoUser};

/// Service name (metrics label, docs path, SQLite file name).
pub const SERVICE: &str = "auth";

static PG_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/postgres");
static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/sqlite");

/// This service's migrations, one set per dialect.
pub const MIGRATIONS: Migrations = Migrations {
    postgres: &PG_MIGRATIONS,
    sqlite: &SQLITE_MIGRATIONS,
};

/// The OpenAPI document's frame (info, security scheme, shared schemas); the operations come
/// from the routes ([`openapi`] is the whole document).
#[derive(OpenApi)]
#[openapi(
    info(title = "phonebill auth service", description = "See docs/api.md §2 for the wire contract. Login, verify and the user queries answer bare snake_case bodies."),
    modifiers(&BearerSecurity),
    components(schemas(phonebill_common::error::ErrorBody))
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
    /// The signing keys could not be loaded.
    #[error(transparent)]
    Keys(#[from] keys::KeyringError),
    /// The deny list could not be set up.
    #[error(transparent)]
    Deny(#[from] DenyListError),
    /// The password hasher could not be set up.
    #[error(transparent)]
    Hash(#[from] password::HashError),
    /// The KOS client could not be built.
    #[error(transparent)]
    Kos(#[from] phonebill_common::kos::client::KosClientBuildError),
}

/// A built service.
pub struct App {
    /// Its configuration.
    pub config: Config,
    /// Its database.
    pub database: Database,
    /// What the process gave it.
    pub deps: Deps,
    /// The use cases.
    pub service: service::AuthService,
    limiter: Arc<rate_limit::RateLimiter>,
    seeded: watch::Receiver<bool>,
    /// The background tasks (demo seeding, the daily purge), joined by [`App::shutdown`].
    tasks: TaskTracker,
    /// Stops them (a child of `deps.shutdown`, so the process's shutdown stops them too).
    tasks_cancel: CancellationToken,
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

/// Builds the service with `clock` (tests move time with [`ManualClock`]): database pool and
/// background migrations, signing keys, deny list, password hasher, and (with
/// `SEED_DEMO_USERS`) background seeding once migrated.
pub async fn build_with_clock(
    config: Config,
    deps: Deps,
    clock: Arc<dyn Clock>,
) -> Result<App, BuildError> {
    let database = Database::start(
        &config.base.database,
        "auth-service",
        MIGRATIONS,
        deps.shutdown.child_token(),
    )?;
    let keyring = keys::Keyring::load(&config.keys)?;
    tracing::info!(active_kid = %keyring.active().kid(), keys = keyring.jwks().keys.len(), "JWT signing keys loaded");
    let deny = deps.deny_list_or_start(&config.deny).await?;
    let shared_limit = deny.redis();
    let verifier = TokenVerifier::new(
        VerifierConfig::new(
            config.issuer.clone(),
            config.audience.clone(),
            KeySource::Static(keyring.jwks()),
        ),
        deny.clone(),
    )
    .with_metrics(deps.metrics.clone());
    let hasher = password::Hasher::new(config.argon2).await?;
    // Its own breaker name: in the all-in-one process bill and product report `kos`, and a
    // registration burst must not colour their gauge.
    let kos = phonebill_common::kos::client::KosClient::with_breaker(
        config.kos.clone(),
        phonebill_common::breaker::CircuitBreaker::new(
            "kos-registration",
            config.kos.breaker,
            &deps.metrics,
        ),
        &deps.metrics,
    )?;
    tracing::info!(mode = %config.registration_mode, "registration mode");
    let svc = service::AuthService {
        store: store::for_db(&database.db),
        clock,
        keys: Arc::new(keyring),
        hasher,
        deny,
        verifier,
        counters: metrics::Counters::new(&deps.metrics),
        kos,
        settings: Arc::new(service::Settings {
            issuer: config.issuer.clone(),
            audience: config.audience.clone(),
            access_ttl: config.access_ttl,
            max_failures: config.max_failures,
            lock_duration: config.lock_duration,
            registration_mode: config.registration_mode,
        }),
    };
    let tasks = TaskTracker::new();
    let tasks_cancel = deps.shutdown.child_token();
    let (tx, seeded) = watch::channel(!config.seed_demo_users);
    if config.seed_demo_users {
        let (svc, db, cancel) = (svc.clone(), database.clone(), tasks_cancel.clone());
        tasks.spawn(async move {
            tokio::select! {
                () = cancel.cancelled() => {}
                migrated = db.wait_migrated() => if migrated {
                    match seed::seed_demo_users(&svc).await {
                        Ok(n) => tracing::info!(created = n, "demo users seeded"),
                        Err(e) => tracing::error!(error = %e, "seeding demo users failed"),
                    }
                    let _ = tx.send(true);
                },
            }
        });
    }
    spawn_session_purge(&tasks, svc.clone(), database.clone(), tasks_cancel.clone());
    Ok(App {
        // One count per deployment when Redis is there (the deny list's connection and prefix).
        limiter: Arc::new(match shared_limit {
            Some((redis, prefix)) => {
                rate_limit::RateLimiter::shared(config.rate_limit_per_minute, redis, prefix)
            }
            None => rate_limit::RateLimiter::new(config.rate_limit_per_minute),
        }),
        config,
        database,
        deps,
        service: svc,
        seeded,
        tasks,
        tasks_cancel,
    })
}

/// Daily (first run once migrated): delete sessions and refresh tokens expired for more than
/// 7 days (docs/api.md §7.1), so the tables grow with active users, not with every login ever made.
fn spawn_session_purge(
    tasks: &TaskTracker,
    svc: service::AuthService,
    database: Database,
    cancel: CancellationToken,
) {
    let day = std::time::Duration::from_secs(24 * 3600);
    tasks.spawn(database.run_periodically(day, cancel, move || {
        let svc = svc.clone();
        async move {
            match svc.purge_expired_sessions().await {
                Ok((sessions, tokens)) if sessions + tokens > 0 => {
                    tracing::info!(sessions, tokens, "expired sessions purged");
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "expired session purge failed"),
            }
        }
    }));
}

impl App {
    /// Routes, document and readiness checks.
    pub fn parts(&self) -> ServiceParts {
        let health: Vec<Arc<dyn HealthCheck>> = vec![
            Arc::new(DbHealth {
                name: "db".into(),
                database: self.database.clone(),
            }),
            self.service.deny.health(),
            // Demo users must exist before a client is sent here (a no-op flag when seeding is off).
            Arc::new(StartupTaskHealth {
                name: "seed",
                done: self.seeded.clone(),
                pending: "demo users not seeded yet",
            }),
        ];
        let state = routes::AppState {
            svc: self.service.clone(),
            limiter: self.limiter.clone(),
            trust_forwarded_for: self.config.trust_forwarded_for,
        };
        let (router, openapi) = split_routes();
        ServiceParts {
            name: SERVICE,
            router: metrics::track(router.with_state(state), &self.deps.metrics),
            openapi,
            health,
        }
    }

    /// The use cases of this service (tests drive the daily purge through it).
    pub fn auth_service(&self) -> service::AuthService {
        self.service.clone()
    }

    /// The verifier of this service (static keys = its own JWKS, its deny list). The all-in-one
    /// process can hand it to bill and product so a logout is seen there without Redis.
    pub fn verifier(&self) -> TokenVerifier {
        self.service.verifier.clone()
    }

    /// Waits until demo seeding finished (immediately when seeding is off).
    pub async fn wait_seeded(&self) -> bool {
        let mut rx = self.seeded.clone();
        rx.wait_for(|s| *s).await.is_ok()
    }

    /// The background tasks of this instance (demo seeding, the daily purge), so a caller can
    /// see they are done once [`App::shutdown`] (or [`run`]) has returned.
    pub fn background_tasks(&self) -> TaskTracker {
        self.tasks.clone()
    }

    /// Stops background work, waits until it has stopped (a purge or a seeding run in progress
    /// finishes its statement rather than meeting a closed pool), then closes the pool.
    pub async fn shutdown(self) {
        self.tasks_cancel.cancel();
        self.tasks.close();
        self.tasks.wait().await;
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

phonebill_common::service_binary!("auth-service");
