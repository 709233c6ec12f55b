//! The Prometheus mechanism of docs/api.md §6: one registry per process, the families of the
//! shared machinery, and a way for a service to register its own.
//!
//! A [`Metrics`] value is built by the binary and handed to each service. It creates the
//! families of the mechanisms that live in this crate (HTTP server, cache, circuit breaker, KOS
//! client, history writer, read-replica router). A service's business families
//! (`auth_login_total`, `product_change_total`, …) are defined in that service's `metrics.rs`
//! and registered through [`Metrics::counter_vec`] / [`Metrics::gauge_vec`] /
//! [`Metrics::histogram_vec`], which return the family already registered under that name, so a
//! service built twice on one registry (the all-in-one, tests) shares its series instead of
//! failing. In the all-in-one process the four services share one registry and are told apart by
//! the `service` label; standalone, each process has its own. No global registry is used, so apps
//! in tests never see each other's numbers. Route labels are matched path templates, never raw
//! paths.

use std::any::Any;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use prometheus::{Encoder, HistogramOpts, Opts, Registry, TextEncoder};

/// The handle types services record into (re-exported so they need no `prometheus` dependency).
pub use prometheus::{Histogram, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec};

/// Latency buckets from 5 ms to 10 s (docs/api.md §6).
pub const LATENCY_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Buckets of one history commit, 0.5 ms to 1 s: a commit on a healthy database takes well
/// under the 5 ms the latency buckets start at, and the commit bound (`HISTORY_COMMIT_TIMEOUT_MS`,
/// default 1 s) ends the range.
pub const COMMIT_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
];

/// Buckets of rows per history batch (powers of two up to the default batch size of 200).
pub const BATCH_ROWS_BUCKETS: &[f64] = &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0];

/// All metric families. Cheap to clone.
#[derive(Clone)]
pub struct Metrics(Arc<Inner>);

/// The families; public fields so services record directly.
pub struct Inner {
    /// The registry that `/actuator/prometheus` renders.
    pub registry: Registry,
    /// `http_server_request_duration_seconds{service,method,route,status}`.
    pub http_duration: HistogramVec,
    /// `http_server_requests_in_flight{service}`.
    pub http_in_flight: IntGaugeVec,
    /// `cache_requests_total{cache,level,result}`.
    pub cache_requests: IntCounterVec,
    /// `cache_stale_served_total{cache}`.
    pub cache_stale_served: IntCounterVec,
    /// `circuit_breaker_state{breaker}` (0 closed, 1 open, 2 half-open).
    pub breaker_state: IntGaugeVec,
    /// `circuit_breaker_transitions_total{breaker,from,to}`.
    pub breaker_transitions: IntCounterVec,
    /// `kos_request_duration_seconds{endpoint,outcome}`.
    pub kos_duration: HistogramVec,
    /// `history_queue_depth{service,queue}`.
    pub history_queue_depth: IntGaugeVec,
    /// `history_write_total{service,result}`.
    pub history_writes: IntCounterVec,
    /// `history_spill_rows{service,queue}`: rows in the spill file waiting for replay.
    pub history_spill_rows: IntGaugeVec,
    /// `history_commit_duration_seconds{service,queue}`: one database commit of a batch
    /// (successful or not), the wait every request of the batch shares.
    pub history_commit_duration: HistogramVec,
    /// `history_batch_rows{service,queue}`: events per batch handed to the database.
    pub history_batch_rows: HistogramVec,
    /// `db_reads_total{service,target}`: history reads by where they ran (`replica`, `primary`).
    pub db_reads: IntCounterVec,
    /// Families registered by the services, by name (see [`Metrics::counter_vec`]).
    registered: Mutex<HashMap<String, Box<dyn Any + Send + Sync>>>,
}

impl std::ops::Deref for Metrics {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

fn counter(r: &Registry, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    let c = IntCounterVec::new(Opts::new(name, help), labels).expect("valid metric definition");
    r.register(Box::new(c.clone()))
        .expect("metric registered once per registry");
    c
}

fn gauge(r: &Registry, name: &str, help: &str, labels: &[&str]) -> IntGaugeVec {
    let g = IntGaugeVec::new(Opts::new(name, help), labels).expect("valid metric definition");
    r.register(Box::new(g.clone()))
        .expect("metric registered once per registry");
    g
}

fn histogram(r: &Registry, name: &str, help: &str, labels: &[&str]) -> HistogramVec {
    histogram_with(r, name, help, labels, LATENCY_BUCKETS)
}

fn histogram_with(
    r: &Registry,
    name: &str,
    help: &str,
    labels: &[&str],
    buckets: &[f64],
) -> HistogramVec {
    let h = HistogramVec::new(
        HistogramOpts::new(name, help).buckets(buckets.to_vec()),
        labels,
    )
    .expect("valid metric definition");
    r.register(Box::new(h.clone()))
        .expect("metric registered once per registry");
    h
}

impl Metrics {
    /// A fresh registry with the families of the shared mechanisms. The definitions are
    /// constants, so the `expect`s above can only fire on a programming error caught by any test.
    pub fn new() -> Self {
        let r = Registry::new();
        let inner = Inner {
            http_duration: histogram(
                &r,
                "http_server_request_duration_seconds",
                "HTTP request duration",
                &["service", "method", "route", "status"],
            ),
            http_in_flight: gauge(
                &r,
                "http_server_requests_in_flight",
                "HTTP requests being served",
                &["service"],
            ),
            cache_requests: counter(
                &r,
                "cache_requests_total",
                "Cache look-ups by cache, level and result",
                &["cache", "level", "result"],
            ),
            cache_stale_served: counter(
                &r,
                "cache_stale_served_total",
                "Stale cache entries served during a KOS outage",
                &["cache"],
            ),
            breaker_state: gauge(
                &r,
                "circuit_breaker_state",
                "Circuit breaker state: 0 closed, 1 open, 2 half-open",
                &["breaker"],
            ),
            breaker_transitions: counter(
                &r,
                "circuit_breaker_transitions_total",
                "Circuit breaker state transitions",
                &["breaker", "from", "to"],
            ),
            kos_duration: histogram(
                &r,
                "kos_request_duration_seconds",
                "KOS call duration by endpoint and outcome",
                &["endpoint", "outcome"],
            ),
            db_reads: counter(
                &r,
                "db_reads_total",
                "Read-only history queries by the database they ran on (replica or primary)",
                &["service", "target"],
            ),
            history_queue_depth: gauge(
                &r,
                "history_queue_depth",
                "History events waiting to be written",
                &["service", "queue"],
            ),
            history_writes: counter(
                &r,
                "history_write_total",
                "History batch writes by result",
                &["service", "result"],
            ),
            history_spill_rows: gauge(
                &r,
                "history_spill_rows",
                "History rows in the local spill file waiting to be replayed",
                &["service", "queue"],
            ),
            history_commit_duration: histogram_with(
                &r,
                "history_commit_duration_seconds",
                "Duration of one history batch commit",
                &["service", "queue"],
                COMMIT_BUCKETS,
            ),
            history_batch_rows: histogram_with(
                &r,
                "history_batch_rows",
                "History events per batch written to the database",
                &["service", "queue"],
                BATCH_ROWS_BUCKETS,
            ),
            registered: Mutex::new(HashMap::new()),
            registry: r,
        };
        Self(Arc::new(inner))
    }

    /// The counter family `name`, registered on first use; later calls with the same name
    /// return the same family, so a service built twice on one registry (the all-in-one, tests
    /// that start replicas) shares its series. This is how a service registers its own families
    /// (its `metrics.rs`); the first call's help text and labels win.
    ///
    /// # Panics
    /// When `name` is already registered as another kind, or is not a valid metric definition:
    /// the definitions are constants, so any test that builds the service catches it.
    pub fn counter_vec(&self, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
        self.get_or_register(name, || counter(&self.registry, name, help, labels))
    }

    /// The gauge family `name`, registered on first use (see [`Metrics::counter_vec`]).
    ///
    /// # Panics
    /// As [`Metrics::counter_vec`].
    pub fn gauge_vec(&self, name: &str, help: &str, labels: &[&str]) -> IntGaugeVec {
        self.get_or_register(name, || gauge(&self.registry, name, help, labels))
    }

    /// The histogram family `name` with the [`LATENCY_BUCKETS`], registered on first use (see
    /// [`Metrics::counter_vec`]).
    ///
    /// # Panics
    /// As [`Metrics::counter_vec`].
    pub fn histogram_vec(&self, name: &str, help: &str, labels: &[&str]) -> HistogramVec {
        self.get_or_register(name, || histogram(&self.registry, name, help, labels))
    }

    fn get_or_register<C>(&self, name: &str, make: impl FnOnce() -> C) -> C
    where
        C: Clone + Send + Sync + 'static,
    {
        // A poisoned lock only means another registration panicked; the map is still whole.
        let mut map = self
            .registered
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(existing) = map.get(name) {
            return existing
                .downcast_ref::<C>()
                .cloned()
                .expect("a metric name is registered as one kind");
        }
        let family = make();
        map.insert(name.to_owned(), Box::new(family.clone()));
        family
    }

    /// The Prometheus text exposition (format 0.0.4).
    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        // Encoding into a Vec cannot fail for the text format.
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut buf);
        String::from_utf8(buf).unwrap_or_default()
    }
}

/// State of the per-service HTTP metrics middleware. The in-flight gauge handle is resolved
/// once here instead of a label look-up per request.
#[derive(Clone, Debug)]
pub struct HttpMetrics {
    service: &'static str,
    metrics: Metrics,
    in_flight: prometheus::IntGauge,
}

impl HttpMetrics {
    /// Middleware state recording into `metrics` with `service` as the label.
    pub fn new(service: &'static str, metrics: &Metrics) -> Self {
        let in_flight = metrics.http_in_flight.with_label_values(&[service]);
        Self {
            service,
            metrics: metrics.clone(),
            in_flight,
        }
    }
}

/// The `method` label of a request: one of the standard methods (RFC 9110 plus `PATCH`), else
/// `_OTHER`. A client can send any token as a method; labelling each one would let it grow the
/// metric series without bound (issue 17, docs/security.md).
pub fn method_label(m: &http::Method) -> &'static str {
    match *m {
        http::Method::GET => "GET",
        http::Method::HEAD => "HEAD",
        http::Method::POST => "POST",
        http::Method::PUT => "PUT",
        http::Method::DELETE => "DELETE",
        http::Method::CONNECT => "CONNECT",
        http::Method::OPTIONS => "OPTIONS",
        http::Method::TRACE => "TRACE",
        http::Method::PATCH => "PATCH",
        _ => "_OTHER",
    }
}

/// Middleware recording duration and in-flight count. Install with `Router::route_layer` so
/// only matched routes are recorded and `MatchedPath` is always the template.
pub async fn track_http(State(m): State<HttpMetrics>, req: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = method_label(req.method());
    // MatchedPath is an Arc<str> inside: cloning it does not allocate.
    let route = req.extensions().get::<MatchedPath>().cloned();
    let in_flight = InFlight::enter(m.in_flight.clone());
    let resp = next.run(req).await;
    drop(in_flight);
    if let Some(route) = route {
        m.metrics
            .http_duration
            .with_label_values(&[m.service, method, route.as_str(), resp.status().as_str()])
            .observe(start.elapsed().as_secs_f64());
    }
    resp
}

/// Decrements the in-flight gauge when dropped, so a cancelled or panicking request is not
/// counted forever.
struct InFlight(prometheus::IntGauge);

impl InFlight {
    fn enter(g: prometheus::IntGauge) -> Self {
        g.inc();
        Self(g)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// Middleware counting every request into `counter` (a resolved child, so no label look-up
/// per request). Install with `Router::route_layer`: only matched routes count.
pub async fn count_requests(
    State(counter): State<IntCounter>,
    req: Request,
    next: Next,
) -> Response {
    counter.inc();
    next.run(req).await
}

/// Middleware keeping `gauge` at the number of requests in progress. The guard decrements it
/// when the request ends, is cancelled or panics.
pub async fn gauge_in_progress(
    State(gauge): State<IntGauge>,
    req: Request,
    next: Next,
) -> Response {
    let _guard = InFlight::enter(gauge);
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_service_family_is_registered_once_and_shared() {
        let m = Metrics::new();
        let first = m.counter_vec("demo_total", "Demo events by result", &["result"]);
        let again = m.counter_vec("demo_total", "ignored: the first help wins", &["result"]);
        first.with_label_values(&["ok"]).inc();
        again.with_label_values(&["ok"]).inc();
        let text = m.render();
        assert!(text.contains(r#"demo_total{result="ok"} 2"#), "{text}");
        assert_eq!(text.matches("# TYPE demo_total counter").count(), 1);
        let g = m.gauge_vec("demo_depth", "Demo depth", &["service"]);
        g.with_label_values(&["svc"]).set(3);
        let h = m.histogram_vec("demo_seconds", "Demo duration", &["service"]);
        h.with_label_values(&["svc"]).observe(0.02);
        let text = m.render();
        assert!(text.contains(r#"demo_depth{service="svc"} 3"#), "{text}");
        assert!(
            text.contains(r#"demo_seconds_bucket{service="svc",le="0.025"} 1"#),
            "{text}"
        );
        // Another registry does not see them (no global state).
        assert!(!Metrics::new().render().contains("demo_total"));
    }

    #[test]
    #[should_panic(expected = "one kind")]
    fn a_name_cannot_change_kind() {
        let m = Metrics::new();
        let _ = m.counter_vec("demo_twice", "Demo", &["result"]);
        let _ = m.gauge_vec("demo_twice", "Demo", &["result"]);
    }
}
