//! What the line-addressed KOS operations (bill inquiry, product inquiry and change, SMS) share:
//! the checks of `lineNumber` and `requestId` (`400 9001` naming the field), the line lookup
//! (a store failure is `500 9999`), and the `data` answer of a business failure, whose
//! `resultCode` / `resultMessage` come from the code table.

use axum::response::Response;
use phonebill_common::kos::{CustomerInfo, codes};
use phonebill_common::line::LineNumber;

use crate::domain::Line;
use crate::reply;
use crate::state::AppState;

/// Checks `requestId`: required, 1–64 characters.
pub(crate) fn request_id(raw: Option<String>) -> Result<String, Response> {
    match raw.map(|s| s.trim().to_owned()) {
        Some(s) if !s.is_empty() && s.chars().count() <= 64 => Ok(s),
        Some(s) if !s.is_empty() => Err(reply::invalid("requestId: at most 64 characters")),
        _ => Err(reply::invalid("requestId: required")),
    }
}

/// Checks `lineNumber`: required, `010` + 8 digits, dashes allowed.
pub(crate) fn line_number(raw: Option<&str>) -> Result<LineNumber, Response> {
    let raw = raw.ok_or_else(|| reply::invalid("lineNumber: required"))?;
    LineNumber::parse(raw)
        .ok_or_else(|| reply::invalid("lineNumber: must be 010 followed by 8 digits"))
}

/// The checked `lineNumber` and `requestId` of a request body.
pub(crate) struct LineRequest {
    /// The line, normalised to 11 digits.
    pub line: LineNumber,
    /// The caller's request id, echoed in `data`.
    pub request_id: String,
}

impl LineRequest {
    /// Checks both fields, `lineNumber` first (the first failing rule is answered).
    pub(crate) fn parse(line: Option<&str>, request_id: Option<String>) -> Result<Self, Response> {
        Ok(Self {
            line: line_number(line)?,
            request_id: self::request_id(request_id)?,
        })
    }

    /// The line from the store (`None`: unknown); a store failure is the `Err` answer.
    pub(crate) async fn find(&self, app: &AppState) -> Result<Option<Line>, Response> {
        app.store
            .line(self.line.as_str())
            .await
            .map_err(|e| reply::store_error(&e))
    }
}

/// `resultCode` and `resultMessage` of `data` for `code`.
pub(crate) fn coded(code: &str) -> (String, String) {
    (
        code.to_owned(),
        codes::message(code).unwrap_or_default().to_owned(),
    )
}

/// The customer part of inquiry answers.
pub(crate) fn customer_info(line: &Line) -> CustomerInfo {
    CustomerInfo {
        customer_name: line.customer_name.clone(),
        customer_id: line.customer_id.clone(),
        operator_code: line.operator_code.clone(),
        line_status: line.line_status.clone(),
    }
}

/// Today in Korea time.
pub(crate) fn today() -> chrono::NaiveDate {
    phonebill_common::time::now_kst().date_naive()
}
