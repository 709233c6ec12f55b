//! The seed's custom autoscaling metric of product-change (physical-architecture-prod 3.3.2:
//! scale out when `queue_length > 5` per pod): `product_change_queue_length{service=
//! "product-change"}` is the number of change requests (`POST /api/v1/products/change`,
//! docs/api.md) this pod has accepted and not yet answered — each waits on KOS, the slow step
//! (docs/deployment.md "Autoscaling").

use axum::Router;
use axum::extract::{Request, State};
use axum::http::Method;
use axum::middleware::{self, Next};
use axum::response::Response;
use phonebill_common::metrics::{IntGauge, Metrics, gauge_in_progress};

/// The route whose requests form the queue.
pub const CHANGE_PATH: &str = "/api/v1/products/change";

/// `router` with its change requests in progress gauged (0 from the start).
pub fn track<S: Clone + Send + Sync + 'static>(router: Router<S>, metrics: &Metrics) -> Router<S> {
    let gauge = metrics
        .product_change_queue_length
        .with_label_values(&[crate::SERVICE]);
    router.route_layer(middleware::from_fn_with_state(gauge, queue))
}

async fn queue(State(gauge): State<IntGauge>, req: Request, next: Next) -> Response {
    if req.method() == Method::POST && req.uri().path() == CHANGE_PATH {
        gauge_in_progress(State(gauge), req, next).await
    } else {
        next.run(req).await
    }
}
