//! The ceiling: a bare axum JSON handler with no middleware, answering a small envelope of the
//! same shape as the services' (`success`, `data`, `timestamp`). Every endpoint scenario measures
//! it right before the endpoint, with the same connections and duration, and reports the
//! endpoint's throughput as a fraction of it.

use axum::Router;
use axum::http::header;
use axum::routing::get;

/// Path of the bare handler.
pub const PATH: &str = "/bare";

const BODY: &str = r#"{"success":true,"data":{"status":"UP","lineNumber":"01012345678","billingMonth":"202511"},"message":"ok","timestamp":"2025-11-25T10:32:11.482+09:00"}"#;

/// Serves the bare handler on 127.0.0.1:`port` until the process is terminated.
pub async fn serve(port: u16) -> std::io::Result<()> {
    let json = || async { ([(header::CONTENT_TYPE, "application/json")], BODY) };
    let app = Router::new()
        .route(PATH, get(json))
        .route("/actuator/health/readiness", get(json));
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    axum::serve(listener, app).await
}
