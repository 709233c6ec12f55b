//! The seed's custom autoscaling metric of auth (physical-architecture-prod 3.3.2: scale out
//! when `requests_per_second > 50` per pod): every request to auth's routes counts in
//! `auth_requests_total{service="auth"}`; KEDA's Prometheus scaler reads
//! `sum(rate(auth_requests_total[1m]))` (docs/deployment.md "Autoscaling").

use axum::Router;
use axum::middleware;
use phonebill_common::metrics::{Metrics, count_requests};

/// `router` with its requests counted. The counter starts at 0 so the series exists from the
/// first scrape (a rate needs two samples).
pub fn track<S: Clone + Send + Sync + 'static>(router: Router<S>, metrics: &Metrics) -> Router<S> {
    let counter = metrics.auth_requests.with_label_values(&[crate::SERVICE]);
    router.route_layer(middleware::from_fn_with_state(counter, count_requests))
}
