//! Product-change's own metric families: `product_change_total{status}` and the seed's custom
//! autoscaling metric of product-change (physical-architecture-prod 3.3.2:
//! scale out when `queue_length > 5` per pod): `product_change_queue_length{service=
//! "product-change"}` is the number of change requests (`POST /api/v1/products/change`,
//! docs/api.md) this pod has accepted and not yet answered — each waits on KOS, the slow step
//! (docs/deployment.md "Autoscaling").

use axum::Router;
use axum::extract::{Request, State};
use axum::http::Method;
use axum::middleware::{self, Next};
use axum::response::Response;
use phonebill_common::metrics::{IntCounterVec, IntGauge, IntGaugeVec, Metrics, gauge_in_progress};

/// `product_change_total{status}`: product changes by final status (docs/api.md §6; the alert
/// rules and the workbook read it).
pub fn changes(metrics: &Metrics) -> IntCounterVec {
    metrics.counter_vec(
        "product_change_total",
        "Product changes by final status",
        &["status"],
    )
}

/// `product_change_queue_length{service}` (the chart's KEDA trigger reads it).
fn queue_length(metrics: &Metrics) -> IntGaugeVec {
    metrics.gauge_vec(
        "product_change_queue_length",
        "Product change requests waiting for their outcome",
        &["service"],
    )
}

/// The route whose requests form the queue.
pub const CHANGE_PATH: &str = "/api/v1/products/change";

/// `router` with its change requests in progress gauged (0 from the start).
pub fn track<S: Clone + Send + Sync + 'static>(router: Router<S>, metrics: &Metrics) -> Router<S> {
    let gauge = queue_length(metrics).with_label_values(&[crate::SERVICE]);
    router.route_layer(middleware::from_fn_with_state(gauge, queue))
}

async fn queue(State(gauge): State<IntGauge>, req: Request, next: Next) -> Response {
    if req.method() == Method::POST && req.uri().path() == CHANGE_PATH {
        gauge_in_progress(State(gauge), req, next).await
    } else {
        next.run(req).await
    }
}
