//! The seed's custom autoscaling metric of bill-inquiry (physical-architecture-prod 3.3.2: scale
//! out when `active_connections > 30` per pod): `bill_inquiry_active_connections{service=
//! "bill-inquiry"}` is the number of requests this pod is serving. Behind Application Gateway
//! TCP connections are pooled keep-alives, so their count says nothing about load; requests in
//! progress do (docs/deployment.md "Autoscaling").

use axum::Router;
use axum::middleware;
use phonebill_common::metrics::{IntGaugeVec, Metrics, gauge_in_progress};

/// `bill_inquiry_active_connections{service}`, registered on the process registry (its name
/// and label are read by the chart's KEDA trigger: they do not change).
fn active_connections(metrics: &Metrics) -> IntGaugeVec {
    metrics.gauge_vec(
        "bill_inquiry_active_connections",
        "Requests the bill-inquiry service is serving",
        &["service"],
    )
}

/// `router` with its requests in progress gauged (0 from the start, so the series exists).
pub fn track<S: Clone + Send + Sync + 'static>(router: Router<S>, metrics: &Metrics) -> Router<S> {
    let gauge = active_connections(metrics).with_label_values(&[crate::SERVICE]);
    router.route_layer(middleware::from_fn_with_state(gauge, gauge_in_progress))
}
