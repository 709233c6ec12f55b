//! Benchmark ceiling: the `/actuator/health` body from a bare axum handler, with no middleware at
//! all. `docs/benchmarks.md` compares the full phonebill stack against it in the same run.
//!
//! `cargo run --release -p phonebill --example bare_axum` (port from `PORT`, default 18080).

use axum::Router;
use axum::http::header;
use axum::routing::get;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let port: u16 = std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(18080);
    let app = Router::new().route(
        "/actuator/health",
        get(|| async {
            (
                [(header::CONTENT_TYPE, "application/json")],
                r#"{"status":"UP"}"#,
            )
        }),
    );
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    println!("bare axum listening on http://{}", listener.local_addr()?);
    axum::serve(listener, app).await
}
