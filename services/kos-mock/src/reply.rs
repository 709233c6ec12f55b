//! Response helpers in the KOS envelope (docs/api.md §5.2) and the legacy `ApiResponse` (docs/api.md §5.6), and
//! extractors whose rejections answer in the KOS envelope (`400` with `9001`/`9003`/`9004`)
//! instead of our docs/api.md §1.3 envelope.
//!
//! Every response records its result code in a [`ResultCode`] extension, which the gate reads
//! for `kos_mock_requests_total`.

use std::borrow::Cow;

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use phonebill_common::envelope::{timestamp_now, trace_id_now};
use phonebill_common::kos::{KosEnvelope, codes};
use phonebill_common::line::mask_in_text;
use serde::Serialize;
use serde::de::DeserializeOwned;
use utoipa::ToSchema;

/// The result code of a response (metrics label).
#[derive(Debug, Clone)]
pub struct ResultCode(pub Cow<'static, str>);

/// A KOS envelope response.
pub fn kos<T: Serialize>(
    status: StatusCode,
    success: bool,
    code: &str,
    message: impl Into<String>,
    data: Option<T>,
    metric_code: &str,
) -> Response {
    let env = KosEnvelope {
        success,
        result_code: code.to_owned(),
        result_message: message.into(),
        data,
        timestamp: timestamp_now(),
        trace_id: trace_id_now(),
    };
    let mut resp = (status, axum::Json(env)).into_response();
    resp.extensions_mut()
        .insert(ResultCode(Cow::Owned(metric_code.to_owned())));
    resp
}

/// `200`, `success:true`, `resultCode 0000` with `data`; `data_code` is the business code inside.
pub fn ok<T: Serialize>(message: &str, data: T, data_code: &str) -> Response {
    kos(
        StatusCode::OK,
        true,
        codes::SUCCESS,
        message,
        Some(data),
        data_code,
    )
}

/// A failure without `data`, message from the code table (with an optional detail).
pub fn fail(status: StatusCode, code: &'static str, detail: Option<&str>) -> Response {
    let base = codes::message(code).unwrap_or("오류가 발생했습니다");
    let message = match detail {
        Some(d) => format!("{base}: {}", mask_in_text(d)),
        None => base.to_owned(),
    };
    kos::<()>(status, false, code, message, None, code)
}

/// `400 9001` naming the field rule that failed.
pub fn invalid(detail: &str) -> Response {
    fail(
        StatusCode::BAD_REQUEST,
        codes::VALIDATION_FAILED,
        Some(detail),
    )
}

/// `500 9999`.
pub fn system_error() -> Response {
    fail(StatusCode::INTERNAL_SERVER_ERROR, codes::SYSTEM_ERROR, None)
}

/// Logs a store failure and answers `500 9999`.
pub fn store_error(e: &crate::store::StoreError) -> Response {
    tracing::error!(error = %e, "kos-mock store failure");
    system_error()
}

/// `429 9429` with `Retry-After`.
pub fn rate_limited(retry_after: u64) -> Response {
    let mut r = fail(StatusCode::TOO_MANY_REQUESTS, codes::RATE_LIMITED, None);
    if let Ok(v) = HeaderValue::from_str(&retry_after.to_string()) {
        r.headers_mut().insert(header::RETRY_AFTER, v);
    }
    r
}

/// Shape of a KOS failure without data (OpenAPI only).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct KosFailure {
    /// `false`.
    pub success: bool,
    /// `9001`, `9003`, `9004`, `9401`, `9403`, `9429`, `9999`.
    pub result_code: String,
    /// Text.
    pub result_message: String,
    /// Korea time.
    pub timestamp: String,
    /// Request id.
    pub trace_id: String,
}

/// JSON body extractor answering rejections in the KOS envelope: unreadable JSON → `9003`,
/// a field of the wrong JSON type → `9004`.
#[derive(Debug, Clone, Copy, Default)]
pub struct KosJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for KosJson<T> {
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(Self(v)),
            Err(r) => Err(json_rejection(&r)),
        }
    }
}

fn json_rejection(r: &JsonRejection) -> Response {
    let detail = r.body_text();
    match r {
        JsonRejection::JsonDataError(_) => fail(
            StatusCode::BAD_REQUEST,
            codes::BAD_PARAMETER_TYPE,
            Some(&detail),
        ),
        _ if r.status() == StatusCode::PAYLOAD_TOO_LARGE => fail(
            StatusCode::PAYLOAD_TOO_LARGE,
            codes::VALIDATION_FAILED,
            Some("body too large"),
        ),
        _ => fail(
            StatusCode::BAD_REQUEST,
            codes::UNREADABLE_JSON,
            Some(&detail),
        ),
    }
}

/// The legacy `ApiResponse` of the mock-data endpoints (docs/api.md §5.6): top-level `message`,
/// numeric epoch-millisecond `timestamp`, `errorCode` on failures.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApiResponse<T> {
    /// Outcome.
    pub success: bool,
    /// Text.
    pub message: String,
    /// Payload.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<T>,
    /// `4000`, `4030`, `1001`, `1002` on failures.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    /// Epoch milliseconds.
    pub timestamp: i64,
}

/// A legacy `ApiResponse` success.
pub fn legacy_ok<T: Serialize>(message: &str, data: T) -> Response {
    legacy(StatusCode::OK, true, message, Some(data), None)
}

/// A legacy `ApiResponse` failure.
pub fn legacy_fail(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    legacy::<()>(status, false, &message.into(), None, Some(code))
}

fn legacy<T: Serialize>(
    status: StatusCode,
    success: bool,
    message: &str,
    data: Option<T>,
    code: Option<&str>,
) -> Response {
    let body = ApiResponse {
        success,
        message: message.to_owned(),
        data,
        error_code: code.map(str::to_owned),
        timestamp: chrono::Utc::now().timestamp_millis(),
    };
    let mut resp = (status, axum::Json(body)).into_response();
    resp.extensions_mut().insert(ResultCode(Cow::Owned(
        code.unwrap_or(codes::SUCCESS).to_owned(),
    )));
    resp
}

/// Legacy JSON body extractor: any rejection → `400`, `errorCode 4000`.
#[derive(Debug, Clone, Copy, Default)]
pub struct LegacyJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for LegacyJson<T> {
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(Self(v)),
            Err(r) => Err(legacy_fail(
                StatusCode::BAD_REQUEST,
                "4000",
                format!(
                    "입력값이 올바르지 않습니다: {}",
                    mask_in_text(&r.body_text())
                ),
            )),
        }
    }
}
