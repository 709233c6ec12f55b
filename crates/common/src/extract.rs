//! Extractors whose rejections come back in our envelope (docs/api.md §1.5): a body that is not JSON,
//! has the wrong JSON types, or a bad query/path value is `400 MALFORMED_REQUEST`; a body over
//! the limit is `413 PAYLOAD_TOO_LARGE`. Handlers use these instead of axum's own.
//!
//! [`Path`] and [`Query`] also refuse `%00` in the part of the URI they decode: a decoded NUL
//! would reach PostgreSQL, which refuses it in `text` ("invalid byte sequence"), and the client
//! saw a 500 (found by the security tests). No legitimate value of this API holds a NUL. The
//! check lives here rather than in a middleware so that only requests that decode a path or
//! query value pay for it, and only with a byte scan (a `from_fn` layer on every route cost a
//! boxed future per request on the hot path, docs/benchmarks.md).

use axum::extract::FromRequest;
use axum::extract::FromRequestParts;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use http::request::Parts;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{ApiError, ErrorCode};
use crate::line::mask_in_text;

/// JSON body extractor (and response) with envelope rejections.
#[derive(Debug, Clone, Copy, Default, FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct Json<T>(pub T);

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

/// Query-string extractor with envelope rejections; `%00` in the query is `400`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Query<T>(pub T);

/// Path extractor with envelope rejections; `%00` in the path is `400`.
#[derive(Debug, Clone, Copy)]
pub struct Path<T>(pub T);

/// Whether `raw` (a path or query as sent) holds `%00`, a NUL once decoded.
fn has_encoded_nul(raw: &str) -> bool {
    raw.as_bytes().windows(3).any(|w| w == b"%00")
}

fn nul_rejection(part: &str) -> ApiError {
    ApiError::new(ErrorCode::MalformedRequest).details(format!("NUL in the request {part}"))
}

impl<T, S> FromRequestParts<S> for Query<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        if parts.uri.query().is_some_and(has_encoded_nul) {
            return Err(nul_rejection("query"));
        }
        let axum::extract::Query(v) =
            axum::extract::Query::<T>::from_request_parts(parts, state).await?;
        Ok(Self(v))
    }
}

impl<T, S> FromRequestParts<S> for Path<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        if has_encoded_nul(parts.uri.path()) {
            return Err(nul_rejection("path"));
        }
        let axum::extract::Path(v) =
            axum::extract::Path::<T>::from_request_parts(parts, state).await?;
        Ok(Self(v))
    }
}

/// The client-facing detail of a rejection: serde's text with any line number masked.
fn detail(text: String) -> String {
    mask_in_text(&text).into_owned()
}

impl From<JsonRejection> for ApiError {
    fn from(r: JsonRejection) -> Self {
        if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
            return ApiError::new(ErrorCode::PayloadTooLarge);
        }
        match r {
            JsonRejection::MissingJsonContentType(_) => {
                ApiError::malformed("Content-Type: application/json 헤더가 필요합니다")
            }
            other => ApiError::malformed(detail(other.body_text())),
        }
    }
}

impl From<QueryRejection> for ApiError {
    fn from(r: QueryRejection) -> Self {
        ApiError::malformed(detail(r.body_text()))
    }
}

impl From<PathRejection> for ApiError {
    fn from(r: PathRejection) -> Self {
        ApiError::malformed(detail(r.body_text()))
    }
}

#[cfg(test)]
mod tests {
    use super::has_encoded_nul;

    #[test]
    fn finds_an_encoded_nul_anywhere() {
        assert!(has_encoded_nul("/api/v1/users/a%00b"));
        assert!(has_encoded_nul("%00"));
        assert!(has_encoded_nul("q=%00"));
        assert!(!has_encoded_nul("/api/v1/users/a%200b"));
        assert!(!has_encoded_nul("q=%0"));
        assert!(!has_encoded_nul(""));
    }
}
