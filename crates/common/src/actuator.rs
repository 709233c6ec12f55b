//! Operational endpoints (docs/api.md §6): liveness, readiness, Prometheus metrics.
//!
//! Liveness never checks dependencies (a database outage must not make Kubernetes restart
//! healthy pods). Readiness runs every registered [`HealthCheck`] concurrently, each bounded by
//! its own timeout; a *critical* check that is down, or a shutdown in progress, turns it `503`
//! and the body names the failed component. Redis and KOS are reported but not critical.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use http::{StatusCode, header};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::db::Database;
use crate::metrics::Metrics;

/// A component's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Status {
    /// Working.
    Up,
    /// Not working.
    Down,
    /// Not configured (e.g. no `REDIS_URL`).
    Disabled,
}

/// One component in the readiness body.
#[derive(Debug, Clone, Serialize)]
pub struct ComponentHealth {
    /// Its status.
    pub status: Status,
    /// Extra facts (breaker state, error text).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details: Option<Map<String, Value>>,
}

impl ComponentHealth {
    /// Up, no details.
    pub fn up() -> Self {
        Self {
            status: Status::Up,
            details: None,
        }
    }

    /// Down with a reason.
    pub fn down(reason: impl Into<String>) -> Self {
        let mut m = Map::new();
        m.insert("error".into(), Value::String(reason.into()));
        Self {
            status: Status::Down,
            details: Some(m),
        }
    }

    /// Disabled.
    pub fn disabled() -> Self {
        Self {
            status: Status::Disabled,
            details: None,
        }
    }

    /// Adds a detail.
    #[must_use]
    pub fn detail(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.details
            .get_or_insert_with(Map::new)
            .insert(key.to_owned(), value.into());
        self
    }
}

/// A dependency that readiness reports on.
#[async_trait::async_trait]
pub trait HealthCheck: Send + Sync {
    /// The component name in the body (`db`, `redis`, `kos`, …).
    fn name(&self) -> String;
    /// Whether a failure makes the service unready.
    fn critical(&self) -> bool;
    /// Checks the component; must return within about a second.
    async fn check(&self) -> ComponentHealth;
}

/// Readiness of a service's own database: `SELECT 1` within 1 s and its migrations applied
/// (else DOWN naming the missing ones).
#[derive(Debug, Clone)]
pub struct DbHealth {
    /// Component name (`db` standalone; `<service>.db` in the all-in-one process).
    pub name: String,
    /// The database.
    pub database: Database,
}

#[async_trait::async_trait]
impl HealthCheck for DbHealth {
    fn name(&self) -> String {
        self.name.clone()
    }
    fn critical(&self) -> bool {
        true
    }
    async fn check(&self) -> ComponentHealth {
        if let Err(e) = self.database.db.ping(Duration::from_secs(1)).await {
            return ComponentHealth::down(e.to_string());
        }
        // A schema that is behind names the missing migrations (docs/reliability.md): the
        // process keeps running and turns ready once `<binary> migrate` has applied them.
        if let Some(problem) = self.database.schema_problem().await {
            return ComponentHealth::down(problem);
        }
        ComponentHealth::up()
    }
}

/// Process lifecycle flag: set when graceful shutdown begins, so readiness turns 503 first.
#[derive(Debug, Clone, Default)]
pub struct Lifecycle(Arc<AtomicBool>);

impl Lifecycle {
    /// Marks the process as shutting down.
    pub fn begin_shutdown(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    /// Whether shutdown has begun.
    pub fn is_shutting_down(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// What the actuator routes need.
#[derive(Clone)]
pub struct Actuator {
    checks: Arc<Vec<Arc<dyn HealthCheck>>>,
    metrics: Metrics,
    lifecycle: Lifecycle,
}

impl std::fmt::Debug for Actuator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Actuator")
            .field("checks", &self.checks.len())
            .finish()
    }
}

impl Actuator {
    /// Actuator over these checks.
    pub fn new(checks: Vec<Arc<dyn HealthCheck>>, metrics: Metrics, lifecycle: Lifecycle) -> Self {
        Self {
            checks: Arc::new(checks),
            metrics,
            lifecycle,
        }
    }

    /// The routes `/actuator/health`, `/actuator/health/liveness`, `/actuator/health/readiness`
    /// and `/actuator/prometheus`.
    pub fn router(self) -> Router {
        Router::new()
            .route("/actuator/health", get(liveness))
            .route("/actuator/health/liveness", get(liveness))
            .route("/actuator/health/readiness", get(readiness))
            .route("/actuator/prometheus", get(prometheus))
            .with_state(self)
    }
}

/// The readiness body.
#[derive(Debug, Serialize)]
struct Readiness {
    status: Status,
    components: BTreeMap<String, ComponentHealth>,
}

async fn liveness() -> Response {
    // A constant body: this is the cheapest possible proof that the runtime answers.
    (
        [(header::CONTENT_TYPE, "application/json")],
        r#"{"status":"UP"}"#,
    )
        .into_response()
}

async fn readiness(State(a): State<Actuator>) -> Response {
    let results = futures::future::join_all(a.checks.iter().map(|c| {
        let c = Arc::clone(c);
        async move {
            // Belt and braces: a check that ignores its own timeout still cannot hang readiness.
            let health = tokio::time::timeout(Duration::from_secs(2), c.check())
                .await
                .unwrap_or_else(|_| ComponentHealth::down("check timed out"));
            (c.name(), c.critical(), health)
        }
    }))
    .await;
    let mut ready = !a.lifecycle.is_shutting_down();
    let mut components = BTreeMap::new();
    for (name, critical, health) in results {
        if critical && health.status == Status::Down {
            ready = false;
        }
        components.insert(name, health);
    }
    if a.lifecycle.is_shutting_down() {
        components.insert("lifecycle".into(), ComponentHealth::down("shutting down"));
    }
    let status = if ready { Status::Up } else { Status::Down };
    let code = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, axum::Json(Readiness { status, components })).into_response()
}

async fn prometheus(State(a): State<Actuator>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        a.metrics.render(),
    )
        .into_response()
}

/// Readiness of a one-off start-up task (demo data seeding, …): down until the task flips its
/// `watch` flag to `true`.
#[derive(Debug, Clone)]
pub struct StartupTaskHealth {
    /// Component name (e.g. `seed`).
    pub name: &'static str,
    /// Set to `true` by the task when done.
    pub done: tokio::sync::watch::Receiver<bool>,
    /// What readiness says while waiting.
    pub pending: &'static str,
}

#[async_trait::async_trait]
impl HealthCheck for StartupTaskHealth {
    fn name(&self) -> String {
        self.name.to_owned()
    }
    fn critical(&self) -> bool {
        true
    }
    async fn check(&self) -> ComponentHealth {
        if *self.done.borrow() {
            ComponentHealth::up()
        } else {
            ComponentHealth::down(self.pending)
        }
    }
}
