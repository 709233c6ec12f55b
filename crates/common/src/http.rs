//! The HTTP stack every service shares, and the assembly of a service (or of all four) into one
//! router.
//!
//! Layer order, outermost first: request id → request log/trace span (W3C `traceparent` in) →
//! CORS (preflight answered before anything else) → error-envelope rewrite (axum's bare
//! 404/405/413 and friends become docs/api.md envelopes) → panic catcher (opaque 500) → request timeout
//! → compression → body limit (64 KiB).

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Request, State};
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
        let m = HttpMetrics::new(s.name, metrics);
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
            HttpMetrics::new(process, metrics),
            track_http,
        ));
    apply_stack(router.merge(ops).fallback(not_found), cfg)
}

/// Wraps `router` in the shared middleware stack.
///
/// The per-request work of request id, log line, timeout and error rewriting is done in one
/// middleware ([`edge`]) rather than four: each `from_fn` layer costs a boxed future and a
/// service clone per request, which showed up in the health benchmark (docs/benchmarks.md).
pub fn apply_stack(router: Router, cfg: &HttpConfig) -> Router {
    let edge_state = Edge {
        timeout: cfg.request_timeout,
    };
    router.layer(
        ServiceBuilder::new()
            .layer(middleware::from_fn_with_state(edge_state, edge))
            .layer(CorsForOriginLayer(cors_layer(cfg)))
            .layer(CatchPanicLayer::custom(panic_response))
            .layer(CompressionLayer::new())
            // Rejects a declared oversize body at once and caps a streamed one; axum's own
            // `DefaultBodyLimit` (2 MiB) then never binds, so it is not added again (it cost an
            // extension insert per request, docs/benchmarks.md).
            .layer(RequestBodyLimitLayer::new(cfg.body_limit)),
    )
}

/// State of the [`edge`] middleware.
#[derive(Clone, Copy, Debug)]
struct Edge {
    timeout: Duration,
}

/// CORS per docs/api.md §1.10.
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

/// Applies CORS only to requests that carry an `Origin` header (browsers always send one on
/// cross-origin requests and preflights). Same-origin, mobile and server-to-server requests skip
/// tower-http's per-response header work, which cost 14–18 % of the health endpoint's
/// throughput (docs/benchmarks.md). The `Vary: Origin` it would add is not needed on those
/// responses: the API's responses are not cacheable by shared caches.
#[derive(Clone, Debug)]
pub struct CorsForOriginLayer(pub CorsLayer);

impl<S: Clone> tower::Layer<S> for CorsForOriginLayer {
    type Service = CorsForOrigin<S>;

    fn layer(&self, inner: S) -> Self::Service {
        CorsForOrigin {
            cors: self.0.layer(inner.clone()),
            inner,
        }
    }
}

/// The service of [`CorsForOriginLayer`].
#[derive(Clone, Debug)]
pub struct CorsForOrigin<S> {
    inner: S,
    cors: tower_http::cors::Cors<S>,
}

impl<S, B, ResBody> tower::Service<http::Request<B>> for CorsForOrigin<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<ResBody>> + Clone,
    ResBody: Default,
{
    type Response = http::Response<ResBody>;
    type Error = S::Error;
    type Future = futures::future::Either<
        <tower_http::cors::Cors<S> as tower::Service<http::Request<B>>>::Future,
        S::Future,
    >;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        // Both wrap clones of the same router, which is always ready; poll both anyway so the
        // contract holds for any inner service.
        match self.inner.poll_ready(cx) {
            std::task::Poll::Ready(Ok(())) => self.cors.poll_ready(cx),
            other => other,
        }
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        if req.headers().contains_key(header::ORIGIN) {
            futures::future::Either::Left(self.cors.call(req))
        } else {
            futures::future::Either::Right(self.inner.call(req))
        }
    }
}

/// Unknown route: `404 NOT_FOUND` in the envelope.
pub async fn not_found() -> ApiError {
    ApiError::new(ErrorCode::NotFound)
}

/// The outermost per-request middleware:
/// 1. assigns the request id (docs/api.md §1.7) and makes it the task's current id;
/// 2. opens the request span (with the remote W3C trace context) and writes one log line at the
///    end (operational routes at DEBUG so probes do not flood the log);
/// 3. bounds the whole request by the configured timeout: a request still running then is
///    answered `503 SERVICE_UNAVAILABLE` (docs/api.md has no generic timeout code; 503 says "retry");
/// 4. rewrites bare error responses of axum/tower-http into the envelope ([`rewrite_bare_error`]).
async fn edge(State(edge): State<Edge>, mut req: Request, next: Next) -> Response {
    let id: Arc<str> = req
        .headers()
        .get(request_id::X_REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| request_id::is_valid(v))
        .map_or_else(|| Arc::from(uuid::Uuid::new_v4().to_string()), Arc::from);
    let rid = RequestId(id);
    req.extensions_mut().insert(rid.clone());
    let quiet = req.uri().path().starts_with("/actuator");
    // Field expressions are only evaluated when the span is enabled.
    let span = if quiet {
        tracing::debug_span!("request", http.method = %req.method(), http.path = %crate::line::mask_in_text(req.uri().path()), request_id = %rid.as_str())
    } else {
        tracing::info_span!("request", http.method = %req.method(), http.path = %crate::line::mask_in_text(req.uri().path()), request_id = %rid.as_str())
    };
    if !span.is_disabled() {
        crate::telemetry::set_remote_parent(&span, req.headers());
    }
    let start = Instant::now();
    let header = HeaderValue::from_str(rid.as_str()).ok();
    let work = request_id::scope(rid, tokio::time::timeout(edge.timeout, next.run(req)));
    let mut resp = match work.instrument(span.clone()).await {
        Ok(resp) => rewrite_bare_error(resp),
        Err(_) => {
            request_id::scope(
                RequestId(
                    header
                        .as_ref()
                        .and_then(|h| h.to_str().ok())
                        .unwrap_or_default()
                        .into(),
                ),
                async {
                    ApiError::new(ErrorCode::ServiceUnavailable)
                        .message("요청 처리 시간이 초과되었습니다")
                        .retry_after(1)
                        .into_response()
                },
            )
            .await
        }
    };
    if let Some(h) = header {
        resp.headers_mut().insert(request_id::X_REQUEST_ID, h);
    }
    if !span.is_disabled() {
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
    }
    resp
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
/// failure a client sees has a stable code. JSON responses pass through untouched, and the
/// rewritten response keeps every header (CORS, `Allow`, `Retry-After`) but the body's own.
fn rewrite_bare_error(resp: Response) -> Response {
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
    let (mut parts, _body) = resp.into_parts();
    let new = ApiError::new(code).into_response();
    let (new_parts, body) = new.into_parts();
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.remove(header::CONTENT_ENCODING);
    for (k, v) in &new_parts.headers {
        parts.headers.insert(k.clone(), v.clone());
    }
    parts.extensions.extend(new_parts.extensions);
    Response::from_parts(parts, body)
}
