//! The response envelope of docs/api.md §1.3: `{success, data?, message?, timestamp, traceId}`.
//!
//! Handlers return [`Envelope`] for successes; failures go through [`crate::ApiError`], which
//! renders the same envelope with `error`. `timestamp` is Korea time with milliseconds; `traceId`
//! is the request id of the current task. A few endpoints add top-level fields for as-built
//! compatibility (`resultCode`/`resultMessage` on bill inquiry, the snake_case token mirror on
//! refresh); [`Envelope::with_extra`] carries those.

use std::borrow::Cow;

use axum::Json;
use axum::response::{IntoResponse, Response};
use http::{HeaderName, HeaderValue, StatusCode};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::request_id;

/// A success response in the envelope.
#[derive(Debug)]
pub struct Envelope<T> {
    status: StatusCode,
    data: Option<T>,
    message: Option<Cow<'static, str>>,
    extra: Option<Map<String, Value>>,
    headers: Vec<(HeaderName, HeaderValue)>,
}

/// The serialised shape.
#[derive(Serialize)]
struct Body<'a, T> {
    success: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<&'a T>,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<&'a str>,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    extra: Option<&'a Map<String, Value>>,
    timestamp: String,
    #[serde(rename = "traceId")]
    trace_id: String,
}

/// `timestamp` now: RFC 3339 in Korea time with milliseconds.
pub fn timestamp_now() -> String {
    crate::time::format_kst_millis(chrono::Utc::now())
}

/// `traceId`: the current request id, or a fresh UUID outside a request.
pub fn trace_id_now() -> String {
    request_id::current().map_or_else(
        || uuid::Uuid::new_v4().to_string(),
        |r| r.as_str().to_owned(),
    )
}

impl<T: Serialize> Envelope<T> {
    /// `200` with `data`.
    pub fn ok(data: T) -> Self {
        Self {
            status: StatusCode::OK,
            data: Some(data),
            message: None,
            extra: None,
            headers: Vec::new(),
        }
    }

    /// Sets the human-readable `message`.
    #[must_use]
    pub fn message(mut self, message: impl Into<Cow<'static, str>>) -> Self {
        self.message = Some(message.into());
        self
    }

    /// Sets the HTTP status (e.g. `202`).
    #[must_use]
    pub fn status(mut self, status: StatusCode) -> Self {
        self.status = status;
        self
    }

    /// Adds top-level fields beside `data` (as-built compatibility fields).
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
}

impl Envelope<()> {
    /// `200` with a message and no `data`.
    pub fn message_only(message: impl Into<Cow<'static, str>>) -> Self {
        Self {
            status: StatusCode::OK,
            data: None,
            message: Some(message.into()),
            extra: None,
            headers: Vec::new(),
        }
    }
}

impl<T: Serialize> IntoResponse for Envelope<T> {
    fn into_response(self) -> Response {
        let body = Body {
            success: self.status.is_success(),
            data: self.data.as_ref(),
            message: self.message.as_deref(),
            extra: self.extra.as_ref(),
            timestamp: timestamp_now(),
            trace_id: trace_id_now(),
        };
        let mut resp = (self.status, Json(body)).into_response();
        for (k, v) in self.headers {
            resp.headers_mut().insert(k, v);
        }
        resp
    }
}
