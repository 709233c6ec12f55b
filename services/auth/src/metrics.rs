//! Auth's own metric families (docs/api.md §6), registered on the process registry through
//! [`Metrics::counter_vec`]: `auth_login_total{result}`, `auth_refresh_total{result}`, and the
//! seed's custom autoscaling metric (physical-architecture-prod 3.3.2: scale out when
//! `requests_per_second > 50` per pod): every request to auth's routes counts in
//! `auth_requests_total{service="auth"}`; KEDA's Prometheus scaler reads
//! `sum(rate(auth_requests_total[1m]))` (docs/deployment.md "Autoscaling"). The names and labels
//! are read by the alert rules, the workbook and the chart: they do not change.

use axum::Router;
use axum::middleware;
use phonebill_common::metrics::{IntCounterVec, Metrics, count_requests};

/// `auth_login_total{result}`: login attempts by result.
pub fn logins(metrics: &Metrics) -> IntCounterVec {
    metrics.counter_vec("auth_login_total", "Login attempts by result", &["result"])
}

/// `auth_refresh_total{result}`: token refreshes by result.
pub fn refreshes(metrics: &Metrics) -> IntCounterVec {
    metrics.counter_vec(
        "auth_refresh_total",
        "Token refreshes by result",
        &["result"],
    )
}

/// The login and refresh counters, resolved once when the service is built: looking a family up
/// on the registry takes its lock, which has no place on every login and refresh.
#[derive(Clone)]
pub struct Counters {
    /// [`logins`].
    pub logins: IntCounterVec,
    /// [`refreshes`].
    pub refreshes: IntCounterVec,
}

impl Counters {
    /// Auth's login and refresh families on `metrics`.
    pub fn new(metrics: &Metrics) -> Self {
        Self {
            logins: logins(metrics),
            refreshes: refreshes(metrics),
        }
    }
}

/// `auth_requests_total{service}`: requests to auth's routes.
fn requests(metrics: &Metrics) -> IntCounterVec {
    metrics.counter_vec(
        "auth_requests_total",
        "Requests to the auth service's routes",
        &["service"],
    )
}

/// `router` with its requests counted. The counter starts at 0 so the series exists from the
/// first scrape (a rate needs two samples).
pub fn track<S: Clone + Send + Sync + 'static>(router: Router<S>, metrics: &Metrics) -> Router<S> {
    let counter = requests(metrics).with_label_values(&[crate::SERVICE]);
    router.route_layer(middleware::from_fn_with_state(counter, count_requests))
}
