//! The KOS HTTP client used by bill-inquiry and product-change (docs/api.md §3.2–3.4, 4.6, 5).
//!
//! One pooled `reqwest` client (rustls) per calling service with a connect timeout and a
//! per-call timeout (reads 3 s, product change 5 s). Every call:
//!
//! - sends `X-Service-Name` and `Authorization: Bearer <KOS_API_KEY>` (docs/api.md §5.8), `X-Request-Id`
//!   of the request being served and the W3C `traceparent` (docs/api.md §1.7);
//! - goes through the service's [`CircuitBreaker`]: timeouts, connection errors and HTTP 5xx are
//!   failures; 4xx answers, unreadable bodies and KOS business codes are not (KOS answered);
//! - is retried at most once, after a jittered ~200 ms, only for idempotent reads and only on a
//!   connection error (never a timeout: the budget is spent; never a product change);
//! - records `kos_request_duration_seconds{endpoint,outcome}` with outcome `success`,
//!   `business_error`, `error`, `timeout` or `rejected` (breaker open).
//!
//! Errors are a [`KosError`]; `From<KosError> for ApiError` applies docs/api.md §1.5/3.4: breaker open →
//! `503 KOS_UNAVAILABLE` with `Retry-After` = remaining open time; connection error or 5xx →
//! `503 KOS_UNAVAILABLE` with `Retry-After: 60`; a `9999` system error or unreadable body →
//! `502 KOS_ERROR`; timeout → `504 KOS_TIMEOUT`; business codes → their docs/api.md error codes.
//!
//! Variables: `KOS_BASE_URL` (`http://localhost:8084`), `KOS_CONNECT_TIMEOUT_MS` (1000),
//! `KOS_TIMEOUT_MS` (3000, reads), `KOS_CHANGE_TIMEOUT_MS` (5000, product change),
//! `KOS_RETRY_DELAY_MS` (200), `KOS_API_KEY` (unset = no `Authorization`), `KOS_SERVICE_NAME`
//! (the calling service's name), plus the breaker's (see [`crate::breaker`]).

use std::sync::Arc;
use std::time::Duration;

use http::{HeaderMap, HeaderValue, StatusCode, header};
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::time::Instant;

use super::codes;
use super::headers as kos_headers;
use super::paths;
use super::wire::{
    AvailableMonthsData, BillInquiryData, BillInquiryRequest, KosEndpoint, KosEnvelope,
    ProductChangeData, ProductChangeRequest, ProductInquiryData, ProductInquiryRequest,
    ProductListData, SmsSendData, SmsSendRequest,
};
use crate::backoff::Backoff;
use crate::breaker::{BreakerConfig, CircuitBreaker};
use crate::config::{ConfigError, Env};
use crate::error::{ApiError, ErrorCode};
use crate::metrics::Metrics;

/// Client settings.
#[derive(Debug, Clone)]
pub struct KosClientConfig {
    /// Base URL without a trailing slash.
    pub base_url: String,
    /// TCP/TLS connect timeout.
    pub connect_timeout: Duration,
    /// Whole-call timeout of reads (docs/api.md §3.2: 3 s).
    pub read_timeout: Duration,
    /// Whole-call timeout of a product change (docs/api.md §4.6: 5 s).
    pub change_timeout: Duration,
    /// Delay before the single retry of a read (jittered ±25 %).
    pub retry_delay: Duration,
    /// Service credential; `None` sends no `Authorization` header.
    pub api_key: Option<SecretString>,
    /// `X-Service-Name`.
    pub service_name: String,
    /// Circuit breaker settings.
    pub breaker: BreakerConfig,
}

impl KosClientConfig {
    /// Defaults for a caller named `service_name` talking to `base_url`.
    pub fn new(base_url: impl Into<String>, service_name: impl Into<String>) -> Self {
        Self {
            base_url: base_url.into().trim_end_matches('/').to_owned(),
            connect_timeout: Duration::from_millis(1000),
            read_timeout: Duration::from_millis(3000),
            change_timeout: Duration::from_millis(5000),
            retry_delay: Duration::from_millis(200),
            api_key: None,
            service_name: service_name.into(),
            breaker: BreakerConfig::default(),
        }
    }

    /// Reads the variables listed in the module documentation.
    pub fn from_env(env: Env<'_>, default_service_name: &str) -> Result<Self, ConfigError> {
        let base_url = env
            .string("KOS_BASE_URL")
            .unwrap_or_else(|| "http://localhost:8084".into());
        if !(base_url.starts_with("http://") || base_url.starts_with("https://")) {
            return Err(ConfigError::new(
                "KOS_BASE_URL",
                format!("expected an http(s) URL, got {base_url:?}"),
            ));
        }
        let service_name = env
            .string("KOS_SERVICE_NAME")
            .unwrap_or_else(|| default_service_name.to_owned());
        if HeaderValue::from_str(&service_name).is_err() {
            return Err(ConfigError::new(
                "KOS_SERVICE_NAME",
                "not a valid header value",
            ));
        }
        Ok(Self {
            base_url: base_url.trim_end_matches('/').to_owned(),
            connect_timeout: Duration::from_millis(env.ranged(
                "KOS_CONNECT_TIMEOUT_MS",
                1000u64,
                1..=60_000,
            )?),
            read_timeout: Duration::from_millis(env.ranged(
                "KOS_TIMEOUT_MS",
                3000u64,
                1..=120_000,
            )?),
            change_timeout: Duration::from_millis(env.ranged(
                "KOS_CHANGE_TIMEOUT_MS",
                5000u64,
                1..=120_000,
            )?),
            retry_delay: Duration::from_millis(env.ranged(
                "KOS_RETRY_DELAY_MS",
                200u64,
                0..=10_000,
            )?),
            api_key: env.secret("KOS_API_KEY"),
            service_name,
            breaker: BreakerConfig::from_env(env)?,
        })
    }
}

/// Why a KOS call did not produce data.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KosError {
    /// The breaker is open; nothing was sent.
    #[error("KOS circuit breaker open (retry in {retry_after:?})")]
    BreakerOpen {
        /// Remaining open time.
        retry_after: Duration,
    },
    /// No complete answer within the call timeout (the request may have been processed).
    #[error("KOS did not answer in time")]
    Timeout,
    /// Connection refused, reset or closed before an answer.
    #[error("KOS connection failed: {0}")]
    Connect(String),
    /// KOS answered with an HTTP 5xx (`result_code` from the body when readable, e.g. `9999`).
    #[error("KOS answered HTTP {status}")]
    Upstream5xx {
        /// HTTP status.
        status: u16,
        /// KOS result code of the body, if any.
        result_code: Option<String>,
    },
    /// KOS rate-limited the caller (HTTP 429).
    #[error("KOS rate limit (retry in {retry_after:?})")]
    RateLimited {
        /// From `Retry-After`, if sent.
        retry_after: Option<Duration>,
    },
    /// KOS refused the request (HTTP 4xx other than 429: validation, credentials).
    #[error("KOS rejected the request: HTTP {status} {result_code:?}")]
    Rejected {
        /// HTTP status.
        status: u16,
        /// KOS result code of the body, if any.
        result_code: Option<String>,
    },
    /// The answer could not be read as the KOS envelope.
    #[error("KOS answer unreadable: {0}")]
    Malformed(String),
    /// A business outcome other than `0000` (e.g. `1001` no such line). KOS is healthy.
    #[error("KOS business result {code}")]
    Business {
        /// KOS result code.
        code: String,
        /// KOS result message.
        message: String,
    },
}

impl KosError {
    /// Whether the breaker counts this as a failure (timeouts, connection errors, 5xx).
    pub fn is_breaker_failure(&self) -> bool {
        matches!(
            self,
            Self::Timeout | Self::Connect(_) | Self::Upstream5xx { .. }
        )
    }

    /// Whether this is a business outcome (negatively cacheable).
    pub fn is_business(&self) -> bool {
        matches!(self, Self::Business { .. })
    }

    /// The metric outcome label.
    pub fn outcome(&self) -> &'static str {
        match self {
            Self::BreakerOpen { .. } => "rejected",
            Self::Timeout => "timeout",
            Self::Business { .. } => "business_error",
            _ => "error",
        }
    }
}

impl From<KosError> for ApiError {
    fn from(e: KosError) -> Self {
        match e {
            KosError::BreakerOpen { retry_after } => {
                let secs = crate::breaker::BreakerOpen {
                    breaker: "kos",
                    retry_after,
                }
                .retry_after_secs();
                ApiError::new(ErrorCode::KosUnavailable).retry_after(secs)
            }
            KosError::Timeout => ApiError::new(ErrorCode::KosTimeout),
            KosError::Connect(_) => ApiError::new(ErrorCode::KosUnavailable).retry_after(60),
            KosError::Upstream5xx {
                status,
                result_code,
            } => {
                if status == 500 && result_code.as_deref() == Some(codes::SYSTEM_ERROR) {
                    // KOS reported a system error (docs/api.md §5.2: HTTP 500 + 9999) → 502 KOS_ERROR.
                    ApiError::new(ErrorCode::KosError)
                } else {
                    ApiError::new(ErrorCode::KosUnavailable).retry_after(60)
                }
            }
            KosError::RateLimited { retry_after } => ApiError::new(ErrorCode::KosUnavailable)
                .retry_after(retry_after.map_or(60, |d| d.as_secs().max(1))),
            KosError::Rejected { .. } | KosError::Malformed(_) => {
                ApiError::new(ErrorCode::KosError)
            }
            KosError::Business { code, message } => business_error(&code, message),
        }
    }
}

fn business_error(code: &str, message: String) -> ApiError {
    let code = match code {
        codes::BILL_LINE_NOT_FOUND
        | codes::CHANGE_LINE_NOT_FOUND
        | codes::PRODUCT_LINE_NOT_FOUND => ErrorCode::LineNotFound,
        codes::BILL_LINE_NOT_ACTIVE
        | codes::CHANGE_LINE_NOT_ACTIVE
        | codes::PRODUCT_LINE_NOT_ACTIVE_RESERVED => ErrorCode::LineNotActive,
        codes::BILL_NOT_FOUND => ErrorCode::BillNotFound,
        codes::CHANGE_PRODUCT_NOT_FOUND | codes::PRODUCT_INFO_NOT_FOUND => {
            ErrorCode::ProductNotFound
        }
        codes::CHANGE_CURRENT_PRODUCT_MISMATCH => ErrorCode::ProductChangeConflict,
        codes::CHANGE_PRODUCT_DISCONTINUED | codes::CHANGE_OPERATOR_MISMATCH => {
            ErrorCode::ProductChangeNotAllowed
        }
        _ => return ApiError::new(ErrorCode::KosError).details(message),
    };
    ApiError::new(code)
}

/// A payload that may carry its own business result (`data.resultCode`).
trait BusinessResult {
    fn result(&self) -> Option<(&str, &str)>;
}

impl BusinessResult for BillInquiryData {
    fn result(&self) -> Option<(&str, &str)> {
        Some((&self.result_code, &self.result_message))
    }
}
impl BusinessResult for ProductInquiryData {
    fn result(&self) -> Option<(&str, &str)> {
        Some((&self.result_code, &self.result_message))
    }
}
impl BusinessResult for ProductChangeData {
    fn result(&self) -> Option<(&str, &str)> {
        Some((&self.result_code, &self.result_message))
    }
}
impl BusinessResult for AvailableMonthsData {
    fn result(&self) -> Option<(&str, &str)> {
        Some((&self.result_code, &self.result_message))
    }
}
impl BusinessResult for SmsSendData {
    fn result(&self) -> Option<(&str, &str)> {
        Some((&self.result_code, &self.result_message))
    }
}
impl BusinessResult for ProductListData {
    fn result(&self) -> Option<(&str, &str)> {
        Some((&self.result_code, &self.result_message))
    }
}

/// The client. Cheap to clone; clones share the connection pool and the breaker.
#[derive(Clone)]
pub struct KosClient {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    /// The fixed endpoints' URLs, parsed once: building and parsing the URL text on every call
    /// was a measurable part of a KOS call (callgrind, docs/benchmarks.md).
    urls: FixedUrls,
    config: KosClientConfig,
    breaker: CircuitBreaker,
    metrics: Metrics,
}

impl std::fmt::Debug for KosClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KosClient")
            .field("base_url", &self.inner.config.base_url)
            .field("breaker", &self.inner.breaker)
            .finish()
    }
}

/// Parsed URLs of the endpoints without path parameters.
struct FixedUrls {
    bill_inquiry: reqwest::Url,
    product_inquiry: reqwest::Url,
    product_list: reqwest::Url,
    product_change: reqwest::Url,
    sms_send: reqwest::Url,
}

/// `base_url` (no trailing `/`) followed by `path`.
fn endpoint_url(base_url: &str, path: &str) -> Result<reqwest::Url, String> {
    reqwest::Url::parse(&format!("{base_url}{path}")).map_err(|e| e.to_string())
}

impl FixedUrls {
    fn new(base_url: &str) -> Result<Self, KosClientBuildError> {
        let url = |path: &str| {
            endpoint_url(base_url, path)
                .map_err(|e| KosClientBuildError(format!("KOS_BASE_URL: {e}")))
        };
        Ok(Self {
            bill_inquiry: url(paths::BILL_INQUIRY)?,
            product_inquiry: url(paths::PRODUCT_INQUIRY)?,
            product_list: url(paths::PRODUCT_LIST)?,
            product_change: url(paths::PRODUCT_CHANGE)?,
            sms_send: url(paths::SMS_SEND)?,
        })
    }
}

/// The HTTP client could not be built (TLS back end failed to initialise).
#[derive(Debug, thiserror::Error)]
#[error("cannot build the KOS client: {0}")]
pub struct KosClientBuildError(String);

#[derive(Clone, Copy, PartialEq, Eq)]
enum Retry {
    OnConnectError,
    Never,
}

impl KosClient {
    /// A client with its own breaker named `kos`.
    pub fn new(config: KosClientConfig, metrics: &Metrics) -> Result<Self, KosClientBuildError> {
        let breaker = CircuitBreaker::new("kos", config.breaker, metrics);
        Self::with_breaker(config, breaker, metrics)
    }

    /// A client using `breaker` (e.g. shared with other KOS callers of the same service).
    pub fn with_breaker(
        config: KosClientConfig,
        breaker: CircuitBreaker,
        metrics: &Metrics,
    ) -> Result<Self, KosClientBuildError> {
        let mut default_headers = HeaderMap::new();
        default_headers.insert(
            kos_headers::SERVICE_NAME,
            HeaderValue::from_str(&config.service_name)
                .map_err(|e| KosClientBuildError(format!("KOS_SERVICE_NAME: {e}")))?,
        );
        if let Some(key) = &config.api_key {
            let mut v = HeaderValue::from_str(&format!("Bearer {}", key.expose_secret())).map_err(
                |_| KosClientBuildError("KOS_API_KEY is not a valid header value".into()),
            )?;
            v.set_sensitive(true);
            default_headers.insert(header::AUTHORIZATION, v);
        }
        let http = reqwest::Client::builder()
            .use_rustls_tls()
            .connect_timeout(config.connect_timeout)
            .pool_idle_timeout(Duration::from_secs(60))
            .pool_max_idle_per_host(32)
            .tcp_keepalive(Duration::from_secs(30))
            .default_headers(default_headers)
            .build()
            .map_err(|e| KosClientBuildError(e.to_string()))?;
        let urls = FixedUrls::new(&config.base_url)?;
        Ok(Self {
            inner: Arc::new(Inner {
                http,
                urls,
                config,
                breaker,
                metrics: metrics.clone(),
            }),
        })
    }

    /// The breaker (readiness reports its state).
    pub fn breaker(&self) -> &CircuitBreaker {
        &self.inner.breaker
    }

    /// The settings.
    pub fn config(&self) -> &KosClientConfig {
        &self.inner.config
    }

    /// `POST /api/v1/kos/bill/inquiry` (docs/api.md §5.3.1). Business failures (`1001`–`1003`) are
    /// `KosError::Business`.
    pub async fn bill_inquiry(
        &self,
        req: &BillInquiryRequest,
    ) -> Result<BillInquiryData, KosError> {
        self.call(
            KosEndpoint::BillInquiry,
            reqwest::Method::POST,
            self.inner.urls.bill_inquiry.clone(),
            Some(req),
            self.inner.config.read_timeout,
            Retry::OnConnectError,
        )
        .await
    }

    /// `GET /api/v1/kos/bill/available-months/{line}` (docs/api.md §5.3.4). `line` is 11 digits.
    pub async fn available_months(&self, line: &str) -> Result<AvailableMonthsData, KosError> {
        self.call::<(), _>(
            KosEndpoint::AvailableMonths,
            reqwest::Method::GET,
            endpoint_url(
                &self.inner.config.base_url,
                &format!("{}/{line}", paths::AVAILABLE_MONTHS),
            )
            .map_err(|e| KosError::Malformed(format!("request not built: {e}")))?,
            None,
            self.inner.config.read_timeout,
            Retry::OnConnectError,
        )
        .await
    }

    /// `POST /api/v1/kos/product/inquiry` (docs/api.md §5.3.2). A non-active line is data, not an error.
    pub async fn product_inquiry(
        &self,
        req: &ProductInquiryRequest,
    ) -> Result<ProductInquiryData, KosError> {
        self.call(
            KosEndpoint::ProductInquiry,
            reqwest::Method::POST,
            self.inner.urls.product_inquiry.clone(),
            Some(req),
            self.inner.config.read_timeout,
            Retry::OnConnectError,
        )
        .await
    }

    /// `GET /api/v1/kos/product/list` (docs/api.md §5.3.5).
    pub async fn product_list(&self) -> Result<ProductListData, KosError> {
        self.call::<(), _>(
            KosEndpoint::ProductList,
            reqwest::Method::GET,
            self.inner.urls.product_list.clone(),
            None,
            self.inner.config.read_timeout,
            Retry::OnConnectError,
        )
        .await
    }

    /// `POST /api/v1/kos/product/change` (docs/api.md §5.3.3): change timeout, never retried (a retry
    /// is the reconciler's job, with the same `requestId`).
    pub async fn product_change(
        &self,
        req: &ProductChangeRequest,
    ) -> Result<ProductChangeData, KosError> {
        self.call(
            KosEndpoint::ProductChange,
            reqwest::Method::POST,
            self.inner.urls.product_change.clone(),
            Some(req),
            self.inner.config.change_timeout,
            Retry::Never,
        )
        .await
    }

    /// `POST /api/v1/kos/sms/send` (docs/api.md §5): read timeout, never retried (a retry could
    /// send the message twice). `4001`/`4002` are `KosError::Business`.
    pub async fn sms_send(&self, req: &SmsSendRequest) -> Result<SmsSendData, KosError> {
        self.call(
            KosEndpoint::SmsSend,
            reqwest::Method::POST,
            self.inner.urls.sms_send.clone(),
            Some(req),
            self.inner.config.read_timeout,
            Retry::Never,
        )
        .await
    }

    async fn call<B, T>(
        &self,
        endpoint: KosEndpoint,
        method: reqwest::Method,
        url: reqwest::Url,
        body: Option<&B>,
        timeout: Duration,
        retry: Retry,
    ) -> Result<T, KosError>
    where
        B: Serialize + ?Sized,
        T: DeserializeOwned + BusinessResult,
    {
        let first = self
            .attempt(endpoint, method.clone(), url.clone(), body, timeout)
            .await;
        match first {
            Err(KosError::Connect(_)) if retry == Retry::OnConnectError => {
                // The single retry is the first step of a ±25 % jittered backoff.
                let delay = Backoff::new(self.inner.config.retry_delay, Duration::MAX)
                    .with_jitter(0.25)
                    .next();
                tracing::debug!(
                    endpoint = endpoint.as_str(),
                    delay_ms = delay.as_millis() as u64,
                    "retrying KOS read after a connection error"
                );
                tokio::time::sleep(delay).await;
                self.attempt(endpoint, method, url, body, timeout).await
            }
            other => other,
        }
    }

    async fn attempt<B, T>(
        &self,
        endpoint: KosEndpoint,
        method: reqwest::Method,
        url: reqwest::Url,
        body: Option<&B>,
        timeout: Duration,
    ) -> Result<T, KosError>
    where
        B: Serialize + ?Sized,
        T: DeserializeOwned + BusinessResult,
    {
        let permit = match self.inner.breaker.try_acquire() {
            Ok(p) => p,
            Err(open) => {
                self.observe(endpoint, "rejected", Duration::ZERO);
                return Err(KosError::BreakerOpen {
                    retry_after: open.retry_after,
                });
            }
        };
        let start = Instant::now();
        let result = self.send::<B, T>(method, url, body, timeout).await;
        let failed = result
            .as_ref()
            .err()
            .is_some_and(KosError::is_breaker_failure);
        permit.record(failed);
        let outcome = match &result {
            Ok(_) => "success",
            Err(e) => e.outcome(),
        };
        self.observe(endpoint, outcome, start.elapsed());
        if let Err(e) = &result
            && !e.is_business()
        {
            tracing::warn!(endpoint = endpoint.as_str(), error = %e, "KOS call failed");
        }
        result
    }

    fn observe(&self, endpoint: KosEndpoint, outcome: &str, elapsed: Duration) {
        self.inner
            .metrics
            .kos_duration
            .with_label_values(&[endpoint.as_str(), outcome])
            .observe(elapsed.as_secs_f64());
    }

    async fn send<B, T>(
        &self,
        method: reqwest::Method,
        url: reqwest::Url,
        body: Option<&B>,
        timeout: Duration,
    ) -> Result<T, KosError>
    where
        B: Serialize + ?Sized,
        T: DeserializeOwned + BusinessResult,
    {
        let mut headers = HeaderMap::new();
        if let Some(id) = crate::request_id::current()
            && let Ok(v) = HeaderValue::from_str(id.as_str())
        {
            headers.insert(crate::request_id::X_REQUEST_ID, v);
        }
        crate::telemetry::inject_current_context(&mut headers);
        let mut req = self
            .inner
            .http
            .request(method, url)
            .headers(headers)
            .timeout(timeout);
        if let Some(b) = body {
            req = req.json(b);
        }
        let resp = req.send().await.map_err(classify)?;
        let status = resp.status();
        let retry_after = resp
            .headers()
            .get(header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let bytes = resp.bytes().await.map_err(classify)?;
        if status.is_server_error() {
            return Err(KosError::Upstream5xx {
                status: status.as_u16(),
                result_code: result_code_of(&bytes),
            });
        }
        if status == StatusCode::TOO_MANY_REQUESTS {
            return Err(KosError::RateLimited { retry_after });
        }
        if !status.is_success() {
            return Err(KosError::Rejected {
                status: status.as_u16(),
                result_code: result_code_of(&bytes),
            });
        }
        let env: KosEnvelope<T> = serde_json::from_slice(&bytes)
            .map_err(|e| KosError::Malformed(format!("HTTP {status}: {e}")))?;
        let data_result = env
            .data
            .as_ref()
            .and_then(|d| d.result().map(|(c, m)| (c.to_owned(), m.to_owned())));
        if let Some((code, message)) = &data_result
            && code != codes::SUCCESS
        {
            return Err(KosError::Business {
                code: code.clone(),
                message: message.clone(),
            });
        }
        if !env.success || env.result_code != codes::SUCCESS {
            return Err(KosError::Business {
                code: env.result_code,
                message: env.result_message,
            });
        }
        env.data
            .ok_or_else(|| KosError::Malformed("success without data".into()))
    }
}

/// The `resultCode` of a KOS error body, if it is one.
fn result_code_of(bytes: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Code {
        #[serde(rename = "resultCode")]
        result_code: String,
    }
    serde_json::from_slice::<Code>(bytes)
        .ok()
        .map(|c| c.result_code)
}

fn classify(e: reqwest::Error) -> KosError {
    if e.is_timeout() {
        KosError::Timeout
    } else if e.is_builder() {
        KosError::Malformed(format!("request not built: {e}"))
    } else {
        // Refused, reset, closed before or while answering: all connection-level failures.
        let mut msg = e.to_string();
        let mut src = std::error::Error::source(&e);
        while let Some(s) = src {
            msg.push_str(": ");
            msg.push_str(&s.to_string());
            src = s.source();
        }
        KosError::Connect(msg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status_of(e: KosError) -> (u16, &'static str, Option<String>) {
        let resp = axum::response::IntoResponse::into_response(ApiError::from(e));
        let ra = resp
            .headers()
            .get(header::RETRY_AFTER)
            .map(|v| v.to_str().unwrap_or_default().to_owned());
        let code = resp
            .extensions()
            .get::<crate::error::ErrorCodeExt>()
            .map_or("", |c| c.0.as_str());
        (resp.status().as_u16(), code, ra)
    }

    #[test]
    fn errors_map_to_the_spec_codes() {
        assert_eq!(
            status_of(KosError::BreakerOpen {
                retry_after: Duration::from_millis(41_200)
            }),
            (503, "KOS_UNAVAILABLE", Some("42".into()))
        );
        assert_eq!(
            status_of(KosError::BreakerOpen {
                retry_after: Duration::ZERO
            }),
            (503, "KOS_UNAVAILABLE", Some("1".into()))
        );
        assert_eq!(status_of(KosError::Timeout), (504, "KOS_TIMEOUT", None));
        assert_eq!(
            status_of(KosError::Connect("refused".into())),
            (503, "KOS_UNAVAILABLE", Some("60".into()))
        );
        assert_eq!(
            status_of(KosError::Upstream5xx {
                status: 503,
                result_code: None
            }),
            (503, "KOS_UNAVAILABLE", Some("60".into()))
        );
        assert_eq!(
            status_of(KosError::Upstream5xx {
                status: 500,
                result_code: Some("9999".into())
            }),
            (502, "KOS_ERROR", None)
        );
        assert_eq!(
            status_of(KosError::Malformed("x".into())),
            (502, "KOS_ERROR", None)
        );
        let biz = |c: &str| KosError::Business {
            code: c.into(),
            message: String::new(),
        };
        assert_eq!(status_of(biz("1001")).1, "LINE_NOT_FOUND");
        assert_eq!(status_of(biz("1002")).1, "LINE_NOT_ACTIVE");
        assert_eq!(status_of(biz("1003")).1, "BILL_NOT_FOUND");
        assert_eq!(status_of(biz("3001")).1, "LINE_NOT_FOUND");
        assert_eq!(status_of(biz("9999")).1, "KOS_ERROR");
    }

    #[test]
    fn only_system_failures_count_for_the_breaker() {
        assert!(KosError::Timeout.is_breaker_failure());
        assert!(KosError::Connect(String::new()).is_breaker_failure());
        assert!(
            KosError::Upstream5xx {
                status: 500,
                result_code: None
            }
            .is_breaker_failure()
        );
        assert!(!KosError::RateLimited { retry_after: None }.is_breaker_failure());
        assert!(
            !KosError::Rejected {
                status: 400,
                result_code: None
            }
            .is_breaker_failure()
        );
        assert!(!KosError::Malformed(String::new()).is_breaker_failure());
        assert!(
            !KosError::Business {
                code: "1001".into(),
                message: String::new()
            }
            .is_breaker_failure()
        );
    }
}
