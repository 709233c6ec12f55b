//! The HTTP stack every service shares, and the assembly of a service (or of all four) into one
//! router.
//!
//! Layer order, outermost first: request id → request log/trace span (W3C `traceparent` in) →
//! CORS (preflight answered before anything else) → error-envelope rewrite (axum's bare
//! 404/405/413 and friends become SPEC envelopes) → panic catcher (opaque 500) → request timeout
//! → compression → body limit (64 KiB).

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, Method, StatusCode, header};
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::compression::CompressionLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::limit::RequestBodyLimitLayer;
use tracing::Instrument;

use crate::actuator::{Actuator, HealthCheck, Lifecycle};
use crate::config::HttpConfig;
use crate::error::{ApiError, ErrorCode, ErrorCodeExt};
use crate::metrics::{HttpMetrics, Metrics, track_http};
use crate::request_id::{self, RequestId};

/// One service's contribution to a process: its business routes (state already applied), its
/// OpenAPI document and its readiness checks.
pub struct ServiceParts {
    /// Service name: `auth`, `bill-inquiry`, `product-change`, `kos-mock`.
    pub name: &'static str,
    /// Business routes.
    pub router: Router,
    /// Its OpenAPI document.
    pub openapi: utoipa::openapi::OpenApi,
    /// Readiness checks.
    pub health: Vec<Arc<dyn HealthCheck>>,
}

impl std::fmt::Debug for ServiceParts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceParts")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// Builds the whole router of a process serving `services` (one standalone, four all-in-one):
/// business routes with per-service metrics, actuator, API docs, 404 fallback, and the stack.
/// `process` is the `service` label of the operational routes.
pub fn assemble(
    process: &'static str,
    services: Vec<ServiceParts>,
    metrics: &Metrics,
    lifecycle: &Lifecycle,
    cfg: &HttpConfig,
) -> Router {
    let standalone = services.len() == 1;
    let mut router = Router::new();
    let mut checks: Vec<Arc<dyn HealthCheck>> = Vec::new();
    let mut docs = Vec::new();
    for s in services {
        let m = HttpMetrics {
            service: s.name,
            metrics: metrics.clone(),
        };
        // `route_layer` on a router without routes panics in axum; a service may have none yet.
        let service_router = if s.router.has_routes() {
            s.router
                .route_layer(middleware::from_fn_with_state(m, track_http))
        } else {
            s.router
        };
        router = router.merge(service_router);
        if standalone {
            checks.extend(s.health);
        } else {
            let prefix = s.name;
            checks.extend(s.health.into_iter().map(|inner| {
                Arc::new(crate::service::Prefixed { prefix, inner }) as Arc<dyn HealthCheck>
            }));
        }
        docs.push((s.name, s.openapi));
    }
    let ops = Actuator::new(checks, metrics.clone(), lifecycle.clone())
        .router()
        .merge(crate::openapi::docs_router(docs, standalone))
        .route_layer(middleware::from_fn_with_state(
            HttpMetrics {
                service: process,
                metrics: metrics.clone(),
            },
            track_http,
        ));
    apply_stack(router.merge(ops).fallback(not_found), cfg)
}

/// Wraps `router` in the shared middleware stack.
pub fn apply_stack(router: Router, cfg: &HttpConfig) -> Router {
    let timeout = cfg.request_timeout;
    router.layer(
        ServiceBuilder::new()
            .layer(middleware::from_fn(request_id::middleware))
            .layer(middleware::from_fn(log_request))
            .layer(cors_layer(cfg))
            .layer(middleware::from_fn(rewrite_bare_errors))
            .layer(CatchPanicLayer::custom(panic_response))
            .layer(middleware::from_fn_with_state(timeout, request_timeout))
            .layer(CompressionLayer::new())
            .layer(RequestBodyLimitLayer::new(cfg.body_limit))
            .layer(DefaultBodyLimit::max(cfg.body_limit)),
    )
}

/// CORS per SPEC 1.10.
pub fn cors_layer(cfg: &HttpConfig) -> CorsLayer {
    let origins = if cfg.cors_allowed_origins.iter().any(|o| o == "*") {
        AllowOrigin::any()
    } else {
        AllowOrigin::list(
            cfg.cors_allowed_origins
                .iter()
                .filter_map(|o| HeaderValue::from_str(o).ok()),
        )
    };
    CorsLayer::new()
        .allow_origin(origins)
        .allow_methods([
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::DELETE,
            Method::OPTIONS,
        ])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            http::HeaderName::from_static("x-request-id"),
            http::HeaderName::from_static("idempotency-key"),
            http::HeaderName::from_static("x-kos-fault"),
            http::HeaderName::from_static("x-kos-fault-delay-ms"),
        ])
        .expose_headers([
            http::HeaderName::from_static("x-request-id"),
            header::RETRY_AFTER,
            http::HeaderName::from_static("idempotent-replayed"),
            header::LOCATION,
        ])
        .max_age(Duration::from_secs(3600))
}

/// Unknown route: `404 NOT_FOUND` in the envelope.
pub async fn not_found() -> ApiError {
    ApiError::new(ErrorCode::NotFound)
}

/// One log line per request, inside a span that carries the request id and the remote trace
/// context. Operational routes log at DEBUG so probes do not flood the log.
async fn log_request(req: Request, next: Next) -> Response {
    let rid = req
        .extensions()
        .get::<RequestId>()
        .map(|r| r.as_str().to_owned())
        .unwrap_or_default();
    let method = req.method().clone();
    let path = crate::line::mask_in_text(req.uri().path()).into_owned();
    let quiet = path.starts_with("/actuator");
    let span = if quiet {
        tracing::debug_span!("request", http.method = %method, http.path = %path, request_id = %rid)
    } else {
        tracing::info_span!("request", http.method = %method, http.path = %path, request_id = %rid)
    };
    crate::telemetry::set_remote_parent(&span, req.headers());
    let start = Instant::now();
    let resp = next.run(req).instrument(span.clone()).await;
    let status = resp.status().as_u16();
    let latency_ms = start.elapsed().as_secs_f64() * 1000.0;
    let code = resp
        .extensions()
        .get::<ErrorCodeExt>()
        .map(|c| c.0.as_str());
    let _enter = span.enter();
    if status >= 500 {
        tracing::warn!(
            http.status = status,
            latency_ms,
            error.code = code,
            "request finished"
        );
    } else if quiet {
        tracing::debug!(http.status = status, latency_ms, "request finished");
    } else {
        tracing::info!(
            http.status = status,
            latency_ms,
            error.code = code,
            "request finished"
        );
    }
    resp
}

/// Whole-request timeout: a request still running after `limit` is answered
/// `503 SERVICE_UNAVAILABLE` (SPEC has no generic timeout code; 503 tells the client to retry).
async fn request_timeout(State(limit): State<Duration>, req: Request, next: Next) -> Response {
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(resp) => resp,
        Err(_) => ApiError::new(ErrorCode::ServiceUnavailable)
            .message("요청 처리 시간이 초과되었습니다")
            .retry_after(1)
            .into_response(),
    }
}

/// A handler panic becomes an opaque `500 INTERNAL_ERROR`; the panic text is logged (masked).
fn panic_response(err: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let text = err
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| err.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_else(|| "unknown panic".to_owned());
    tracing::error!(panic = %crate::line::mask_in_text(&text), "handler panicked");
    ApiError::new(ErrorCode::InternalError).into_response()
}

/// Error responses produced by axum or tower-http themselves (unknown method, oversize body,
/// unsupported media type, …) carry a bare text body; rewrite them into the envelope so every
/// failure a client sees has a stable code. Responses that are already JSON pass through.
async fn rewrite_bare_errors(req: Request, next: Next) -> Response {
    let resp = next.run(req).await;
    let status = resp.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return resp;
    }
    let is_json = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if is_json {
        return resp;
    }
    let code = match status {
        StatusCode::NOT_FOUND => ErrorCode::NotFound,
        StatusCode::METHOD_NOT_ALLOWED => ErrorCode::MethodNotAllowed,
        StatusCode::PAYLOAD_TOO_LARGE => ErrorCode::PayloadTooLarge,
        StatusCode::TOO_MANY_REQUESTS => ErrorCode::RateLimited,
        StatusCode::REQUEST_TIMEOUT | StatusCode::SERVICE_UNAVAILABLE => {
            ErrorCode::ServiceUnavailable
        }
        StatusCode::UNAUTHORIZED => ErrorCode::Unauthorized,
        StatusCode::FORBIDDEN => ErrorCode::Forbidden,
        s if s.is_server_error() => ErrorCode::InternalError,
        _ => ErrorCode::MalformedRequest,
    };
    let (parts, _body) = resp.into_parts();
    let mut new = ApiError::new(code).into_response();
    // Keep protocol headers such as `Allow` (405) and `Retry-After`.
    for name in [header::ALLOW, header::RETRY_AFTER] {
        if let Some(v) = parts.headers.get(&name) {
            new.headers_mut().insert(name, v.clone());
        }
    }
    if new.status() != status {
        *new.status_mut() = status;
    }
    new
}

/// A tiny JSON body helper for handlers that answer with pre-rendered bytes.
pub fn json_bytes(status: StatusCode, body: impl Into<Body>) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.into(),
    )
        .into_response()
}
