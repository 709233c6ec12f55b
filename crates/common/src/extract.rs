//! Extractors whose rejections come back in our envelope (SPEC 1.5): a body that is not JSON,
//! has the wrong JSON types, or a bad query/path value is `400 MALFORMED_REQUEST`; a body over
//! the limit is `413 PAYLOAD_TOO_LARGE`. Handlers use these instead of axum's own.

use axum::extract::FromRequest;
use axum::extract::FromRequestParts;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use serde::Serialize;

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

/// Query-string extractor with envelope rejections.
#[derive(Debug, Clone, Copy, Default, FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct Query<T>(pub T);

/// Path extractor with envelope rejections.
#[derive(Debug, Clone, Copy, FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct Path<T>(pub T);

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
