//! One error type for every handler: [`ApiError`] renders the docs/api.md §1.3 failure envelope with a
//! stable code from the docs/api.md §1.5 catalogue.
//!
//! The catalogue holds each code's generic text; a message that states a service's rule (auth's
//! lockout limits, what to do when registration is closed) is set by that service with
//! [`ApiError::message`], so this crate knows no business rule.
//!
//! Rules: a client error carries a code, a message (Korean, shown verbatim by the client) and
//! optional `details`/`fieldErrors`; an internal error is logged here once, with its cause, and the
//! client only sees the opaque `INTERNAL_ERROR`. `details` never holds a clear-text line number,
//! password or token (use [`crate::line::LineNumber::masked`]).

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;

use axum::Json;
use axum::response::{IntoResponse, Response};
use http::{HeaderName, HeaderValue, StatusCode, header};
use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;

use crate::envelope::{timestamp_now, trace_id_now};

macro_rules! error_codes {
    ($( $variant:ident => ($code:literal, $status:ident, $msg:literal) ),* $(,)?) => {
        /// The stable error codes of docs/api.md §1.5. Clients branch on these, never on message text.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, ToSchema)]
        #[serde(rename_all = "SCREAMING_SNAKE_CASE")]
        pub enum ErrorCode { $( #[doc = concat!("`", $code, "`")] $variant, )* }

        impl ErrorCode {
            /// Every code, for documentation and tests.
            pub const ALL: &'static [ErrorCode] = &[ $( ErrorCode::$variant, )* ];

            /// The wire string, e.g. `VALIDATION_ERROR`.
            pub fn as_str(self) -> &'static str {
                match self { $( ErrorCode::$variant => $code, )* }
            }

            /// The HTTP status that goes with the code.
            pub fn status(self) -> StatusCode {
                match self { $( ErrorCode::$variant => StatusCode::$status, )* }
            }

            /// The default message (overridable per error).
            pub fn default_message(self) -> &'static str {
                match self { $( ErrorCode::$variant => $msg, )* }
            }
        }
    };
}

error_codes! {
    ValidationError => ("VALIDATION_ERROR", BAD_REQUEST, "입력값이 올바르지 않습니다"),
    MalformedRequest => ("MALFORMED_REQUEST", BAD_REQUEST, "요청 형식이 올바르지 않습니다"),
    InvalidLineNumber => ("INVALID_LINE_NUMBER", BAD_REQUEST, "회선번호 형식이 올바르지 않습니다"),
    InvalidMonth => ("INVALID_MONTH", BAD_REQUEST, "조회월 형식이 올바르지 않습니다"),
    Unauthorized => ("UNAUTHORIZED", UNAUTHORIZED, "인증이 필요합니다"),
    InvalidToken => ("INVALID_TOKEN", UNAUTHORIZED, "유효하지 않은 토큰입니다"),
    TokenExpired => ("TOKEN_EXPIRED", UNAUTHORIZED, "만료된 토큰입니다"),
    TokenRevoked => ("TOKEN_REVOKED", UNAUTHORIZED, "폐기된 토큰입니다"),
    InvalidCredentials => ("INVALID_CREDENTIALS", UNAUTHORIZED, "ID 또는 비밀번호를 확인해주세요"),
    RefreshTokenInvalid => ("REFRESH_TOKEN_INVALID", UNAUTHORIZED, "유효하지 않은 리프레시 토큰입니다"),
    RefreshTokenReused => ("REFRESH_TOKEN_REUSED", UNAUTHORIZED, "이미 사용된 리프레시 토큰입니다"),
    AccountLocked => ("ACCOUNT_LOCKED", LOCKED, "계정이 잠겼습니다"),
    AccountInactive => ("ACCOUNT_INACTIVE", FORBIDDEN, "사용할 수 없는 계정입니다"),
    Forbidden => ("FORBIDDEN", FORBIDDEN, "서비스 이용 권한이 없습니다"),
    LineAccessDenied => ("LINE_ACCESS_DENIED", FORBIDDEN, "조회 권한이 없는 회선번호입니다"),
    LineVerificationRequired => ("LINE_VERIFICATION_REQUIRED", FORBIDDEN, "회선 본인 확인이 필요합니다"),
    VerificationCodeInvalid => ("VERIFICATION_CODE_INVALID", FORBIDDEN, "인증번호가 올바르지 않습니다"),
    RegistrationClosed => ("REGISTRATION_CLOSED", FORBIDDEN, "온라인 회원가입이 제한되어 있습니다"),
    NotFound => ("NOT_FOUND", NOT_FOUND, "요청한 경로를 찾을 수 없습니다"),
    UserNotFound => ("USER_NOT_FOUND", NOT_FOUND, "사용자를 찾을 수 없습니다"),
    RequestNotFound => ("REQUEST_NOT_FOUND", NOT_FOUND, "요청 정보를 찾을 수 없습니다"),
    LineNotFound => ("LINE_NOT_FOUND", NOT_FOUND, "존재하지 않는 회선번호입니다"),
    BillNotFound => ("BILL_NOT_FOUND", NOT_FOUND, "해당 월 요금 정보가 없습니다"),
    ProductNotFound => ("PRODUCT_NOT_FOUND", NOT_FOUND, "존재하지 않는 상품코드입니다"),
    PermissionNotFound => ("PERMISSION_NOT_FOUND", NOT_FOUND, "존재하지 않는 권한입니다"),
    MethodNotAllowed => ("METHOD_NOT_ALLOWED", METHOD_NOT_ALLOWED, "허용되지 않는 메서드입니다"),
    UserAlreadyExists => ("USER_ALREADY_EXISTS", CONFLICT, "이미 사용중인 사용자ID입니다"),
    LineAlreadyRegistered => ("LINE_ALREADY_REGISTERED", CONFLICT, "이미 등록된 회선번호입니다"),
    CustomerAlreadyRegistered => ("CUSTOMER_ALREADY_REGISTERED", CONFLICT, "이미 다른 계정에 연결된 고객입니다"),
    LineNotActive => ("LINE_NOT_ACTIVE", CONFLICT, "비활성 상태의 회선입니다"),
    ProductChangeInProgress => ("PRODUCT_CHANGE_IN_PROGRESS", CONFLICT, "진행 중인 상품 변경 요청이 있습니다"),
    ProductChangeConflict => ("PRODUCT_CHANGE_CONFLICT", CONFLICT, "현재 상품 정보가 변경되었습니다. 다시 조회해주세요"),
    IdempotencyKeyReused => ("IDEMPOTENCY_KEY_REUSED", UNPROCESSABLE_ENTITY, "같은 멱등성 키가 다른 요청에 사용되었습니다"),
    ProductChangeNotAllowed => ("PRODUCT_CHANGE_NOT_ALLOWED", UNPROCESSABLE_ENTITY, "상품 변경이 불가능합니다"),
    PayloadTooLarge => ("PAYLOAD_TOO_LARGE", PAYLOAD_TOO_LARGE, "요청 본문이 너무 큽니다"),
    RateLimited => ("RATE_LIMITED", TOO_MANY_REQUESTS, "요청이 너무 많습니다. 잠시 후 다시 시도해주세요"),
    InternalError => ("INTERNAL_ERROR", INTERNAL_SERVER_ERROR, "서버 내부 오류가 발생했습니다"),
    KosError => ("KOS_ERROR", BAD_GATEWAY, "KOS 시스템 처리 중 오류가 발생했습니다"),
    KosUnavailable => ("KOS_UNAVAILABLE", SERVICE_UNAVAILABLE, "KOS 시스템이 일시적으로 사용할 수 없습니다. 잠시 후 다시 시도해주세요"),
    ServiceUnavailable => ("SERVICE_UNAVAILABLE", SERVICE_UNAVAILABLE, "서비스를 일시적으로 사용할 수 없습니다. 잠시 후 다시 시도해주세요"),
    KosTimeout => ("KOS_TIMEOUT", GATEWAY_TIMEOUT, "KOS 시스템 응답 시간이 초과되었습니다"),
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A failed request, rendered as the docs/api.md failure envelope.
///
/// Boxed inside so `Result<T, ApiError>` stays one pointer wide: handlers return it on every
/// path, and a 176-byte error would be copied through every `?`.
pub struct ApiError(Box<ErrorInner>);

/// The parts of an [`ApiError`].
#[derive(Debug)]
pub struct ErrorInner {
    code: ErrorCode,
    message: Cow<'static, str>,
    details: Option<String>,
    field_errors: Option<BTreeMap<String, String>>,
    retry_after: Option<u64>,
    extra: Option<Map<String, Value>>,
    headers: Vec<(HeaderName, HeaderValue)>,
    /// The cause of an internal error; logged, never sent.
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl std::ops::Deref for ApiError {
    type Target = ErrorInner;
    fn deref(&self) -> &ErrorInner {
        &self.0
    }
}

impl std::ops::DerefMut for ApiError {
    fn deref_mut(&mut self) -> &mut ErrorInner {
        &mut self.0
    }
}

impl fmt::Debug for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for ApiError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0
            .source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

/// The error part of the envelope (documented in every service's OpenAPI).
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable code (docs/api.md §1.5).
    #[schema(value_type = String, example = "VALIDATION_ERROR")]
    pub code: ErrorCode,
    /// Human-readable text.
    pub message: String,
    /// Extra context; never a clear-text line number, password or token.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details: Option<String>,
}

/// The failure envelope (docs/api.md §1.3).
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// Always `false`.
    pub success: bool,
    /// The error.
    pub error: ErrorDetail,
    /// Same as `error.message` (the front end reads it).
    pub message: String,
    /// Per-field messages, only on `VALIDATION_ERROR`.
    #[serde(rename = "fieldErrors", skip_serializing_if = "Option::is_none")]
    pub field_errors: Option<BTreeMap<String, String>>,
    /// RFC 3339 in Korea time.
    pub timestamp: String,
    /// The request id.
    #[serde(rename = "traceId")]
    pub trace_id: String,
    /// Endpoint-specific additions (e.g. `lockedUntil`).
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub extra: Option<Map<String, Value>>,
}

impl ApiError {
    /// An error with the code's default message.
    pub fn new(code: ErrorCode) -> Self {
        Self(Box::new(ErrorInner {
            code,
            message: Cow::Borrowed(code.default_message()),
            details: None,
            field_errors: None,
            retry_after: None,
            extra: None,
            headers: Vec::new(),
            source: None,
        }))
    }

    /// The error's code.
    pub fn code(&self) -> ErrorCode {
        self.code
    }

    /// The error's message.
    pub fn message_text(&self) -> &str {
        &self.message
    }

    /// The `details` text, if any.
    pub fn details_text(&self) -> Option<&str> {
        self.details.as_deref()
    }

    /// Replaces the message.
    #[must_use]
    pub fn message(mut self, message: impl Into<Cow<'static, str>>) -> Self {
        self.message = message.into();
        self
    }

    /// Sets `error.details`.
    #[must_use]
    pub fn details(mut self, details: impl Into<String>) -> Self {
        self.details = Some(details.into());
        self
    }

    /// Sets the `Retry-After` header (seconds, at least 1).
    #[must_use]
    pub fn retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds.max(1));
        self
    }

    /// Adds a top-level envelope field (e.g. `lockedUntil`).
    #[must_use]
    pub fn with_extra(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.extra
            .get_or_insert_with(Map::new)
            .insert(key.to_owned(), value.into());
        self
    }

    /// Adds a response header.
    #[must_use]
    pub fn header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.push((name, value));
        self
    }

    /// `400 VALIDATION_ERROR` with one message per field.
    pub fn validation(field_errors: BTreeMap<String, String>) -> Self {
        let message = field_errors.values().next().map_or_else(
            || Cow::Borrowed(ErrorCode::ValidationError.default_message()),
            |m| Cow::Owned(m.clone()),
        );
        let mut e = Self::new(ErrorCode::ValidationError).message(message);
        e.field_errors = Some(field_errors);
        e
    }

    /// `400 VALIDATION_ERROR` for a single field.
    pub fn field(field: &str, message: impl Into<String>) -> Self {
        Self::validation(BTreeMap::from([(field.to_owned(), message.into())]))
    }

    /// `400 MALFORMED_REQUEST` with a detail for the client.
    pub fn malformed(details: impl Into<String>) -> Self {
        Self::new(ErrorCode::MalformedRequest).details(details)
    }

    /// `500 INTERNAL_ERROR`; the cause is logged when the response is built, never sent.
    pub fn internal(cause: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        let mut e = Self::new(ErrorCode::InternalError);
        e.source = Some(cause.into());
        e
    }

    /// `503 SERVICE_UNAVAILABLE` (own database unreachable) with `Retry-After: 5`.
    pub fn unavailable(cause: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        let mut e = Self::new(ErrorCode::ServiceUnavailable).retry_after(5);
        e.source = Some(cause.into());
        e
    }

    /// The body that will be sent.
    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            success: false,
            error: ErrorDetail {
                code: self.code,
                message: self.message.to_string(),
                details: self.details.clone(),
            },
            message: self.message.to_string(),
            field_errors: self.field_errors.clone(),
            timestamp: timestamp_now(),
            trace_id: trace_id_now(),
            extra: self.extra.clone(),
        }
    }
}

impl From<ErrorCode> for ApiError {
    fn from(code: ErrorCode) -> Self {
        Self::new(code)
    }
}

/// Marker put in response extensions so the request log records the code.
#[derive(Debug, Clone, Copy)]
pub struct ErrorCodeExt(pub ErrorCode);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let Some(cause) = &self.source {
            // Log each internal failure exactly once, here, with its whole cause chain.
            let mut chain = cause.to_string();
            let mut src = cause.source();
            while let Some(s) = src {
                chain.push_str(": ");
                chain.push_str(&s.to_string());
                src = s.source();
            }
            if self.code == ErrorCode::InternalError {
                tracing::error!(error.code = self.code.as_str(), error.cause = %chain, "request failed");
            } else {
                tracing::warn!(error.code = self.code.as_str(), error.cause = %chain, "request failed");
            }
        }
        let mut resp = (self.code.status(), Json(self.body())).into_response();
        let headers = resp.headers_mut();
        if let Some(secs) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if self.code.status() == StatusCode::UNAUTHORIZED {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        let code = self.code;
        let mut this = self;
        for (k, v) in std::mem::take(&mut this.headers) {
            headers.insert(k, v);
        }
        resp.extensions_mut().insert(ErrorCodeExt(code));
        resp
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_match_statuses() {
        let mut seen = std::collections::HashSet::new();
        for c in ErrorCode::ALL {
            assert!(seen.insert(c.as_str()), "duplicate {c}");
            let json = serde_json::to_value(c).expect("serialises");
            assert_eq!(json, Value::String(c.as_str().to_owned()));
        }
        assert_eq!(ErrorCode::AccountLocked.status(), StatusCode::LOCKED);
        assert_eq!(ErrorCode::KosTimeout.status(), StatusCode::GATEWAY_TIMEOUT);
        assert_eq!(ErrorCode::ALL.len(), 41);
    }

    #[test]
    fn validation_lists_fields() {
        let e = ApiError::field("userId", "사용자 ID는 3-20자 사이여야 합니다");
        let body = serde_json::to_value(e.body()).expect("serialises");
        assert_eq!(body["error"]["code"], "VALIDATION_ERROR");
        assert_eq!(
            body["fieldErrors"]["userId"],
            "사용자 ID는 3-20자 사이여야 합니다"
        );
        assert_eq!(body["message"], body["error"]["message"]);
        assert_eq!(body["success"], false);
    }
}
