//! `POST /api/v1/bills/inquiry` and `GET /api/v1/bills/inquiry/{requestId}` (docs/api.md §3.2–3.4).
//! Both add the as-built `resultCode`/`resultMessage` at the top level of the envelope.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::{HeaderName, HeaderValue, StatusCode, header};
use phonebill_common::auth::{AuthUser, Permission};
use phonebill_common::envelope::Envelope;
use phonebill_common::error::{ApiError, ErrorBody, ErrorCode};
use phonebill_common::extract::{Json, Path};
use phonebill_common::line::LineNumber;
use serde::Deserialize;

use super::AppState;
use crate::domain::{self, MonthError};
use crate::service::{Inquiry, InquiryData, MSG_DONE, MSG_PROCESSING};

/// Request body (what the front end sends).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct InquiryRequest {
    /// Required; dashes optional; must be one of the caller's lines.
    #[schema(example = "010-1234-5678")]
    pub line_number: Option<String>,
    /// `YYYYMM` or `YYYY-MM`; absent/empty → current month (Korea time).
    #[schema(example = "202509")]
    pub inquiry_month: Option<String>,
}

fn respond(data: InquiryData, status: StatusCode) -> Response {
    let processing = data.proc_status == "PROCESSING";
    let (code, message) = match data.proc_status.as_str() {
        "SUCCESS" => ("0000".to_owned(), MSG_DONE.to_owned()),
        "PROCESSING" => (data.result_code.clone(), MSG_PROCESSING.to_owned()),
        _ => (data.result_code.clone(), data.result_message.clone()),
    };
    let stale = data.is_stale();
    let location = format!("/api/v1/bills/inquiry/{}", data.request_id);
    let mut env = Envelope::ok(data)
        .status(status)
        .message(message.clone())
        .with_extra("resultCode", code)
        .with_extra("resultMessage", message);
    if stale {
        env = env.header(
            HeaderName::from_static("warning"),
            HeaderValue::from_static("110 - \"stale\""),
        );
    }
    if processing && status == StatusCode::ACCEPTED {
        if let Ok(v) = HeaderValue::from_str(&location) {
            env = env.header(header::LOCATION, v);
        }
        env = env.header(header::RETRY_AFTER, HeaderValue::from_static("2"));
    }
    env.into_response()
}

/// Adds the as-built top-level `resultCode`/`resultMessage` (docs/api.md §1.3) to a failure of these
/// two endpoints: the stable error code and its message, so a client that reads only the
/// KOS-style fields still sees why the request failed.
fn with_result_fields(e: ApiError) -> ApiError {
    let code = e.code().as_str();
    let message = e.message_text().to_owned();
    e.with_extra("resultCode", code)
        .with_extra("resultMessage", message)
}

/// Inquires one month's bill of one of the caller's lines.
#[utoipa::path(
    post,
    path = "/api/v1/bills/inquiry", summary = "Gives a customer the bill of one month of one of their lines, from the cache or KOS (202 and a request id to poll when KOS is slow)",
    tag = "bills",
    security(("bearer" = [])),
    request_body(content = InquiryRequest, example = json!({"lineNumber": "010-1234-5678", "inquiryMonth": "202509"})),
    responses(
        (status = 200, description = "The bill (`cached`, `stale`, `cachedAt`; stale answers carry `Warning: 110 - \"stale\"`); top level adds `resultCode`/`resultMessage`", body = phonebill_common::openapi::Enveloped<InquiryData>, example = json!({"success": true, "resultCode": "0000", "resultMessage": "요금 조회가 완료되었습니다", "message": "요금 조회가 완료되었습니다", "data": {"requestId": "REQ_20250914_4F1A9C2B", "procStatus": "SUCCESS", "resultCode": "0000", "resultMessage": "정상 처리되었습니다", "billInfo": {"lineNumber": "01012345678", "billingMonth": "202509", "productCode": "5G-STANDARD-001", "productName": "5G 스탠다드 플랜", "monthlyFee": 69000, "usageFee": 12340, "discountAmount": 0, "totalFee": 81340, "dataUsage": "37GB", "voiceUsage": "212분", "smsUsage": "41건", "billStatus": "UNPAID", "dueDate": "20251025"}, "customerInfo": {"customerName": "홍길동", "customerId": "CU202401001", "operatorCode": "KT", "lineStatus": "ACTIVE"}, "cached": false, "stale": false}, "timestamp": "2025-09-14T10:32:11.482+09:00", "traceId": "4bf92f3577b34da6a3ce929d0e0e4736"})),
        (status = 202, description = "KOS slower than the sync budget: PROCESSING; `Location` and `Retry-After: 2`", body = phonebill_common::openapi::Enveloped<InquiryData>),
        (status = 400, description = "VALIDATION_ERROR, INVALID_LINE_NUMBER, INVALID_MONTH, MALFORMED_REQUEST", body = ErrorBody),
        (status = 401, description = "No or bad token", body = ErrorBody),
        (status = 403, description = "FORBIDDEN (no BILL_INQUIRY) or LINE_ACCESS_DENIED", body = ErrorBody),
        (status = 404, description = "LINE_NOT_FOUND (KOS 1001) or BILL_NOT_FOUND (KOS 1003)", body = ErrorBody),
        (status = 409, description = "LINE_NOT_ACTIVE (KOS 1002)", body = ErrorBody),
        (status = 502, description = "KOS_ERROR", body = ErrorBody),
        (status = 503, description = "KOS_UNAVAILABLE with Retry-After", body = ErrorBody),
    )
)]
pub async fn post_inquiry(
    State(state): State<AppState>,
    user: Result<AuthUser, ApiError>,
    body: Result<Json<InquiryRequest>, ApiError>,
) -> Result<Response, ApiError> {
    // Rejections are taken as values so that they, too, carry the top-level result fields.
    let run = async {
        let (user, Json(body)) = (user?, body?);
        inquire(&state, user, body).await
    };
    run.await.map_err(with_result_fields)
}

async fn inquire(
    state: &AppState,
    user: AuthUser,
    body: InquiryRequest,
) -> Result<Response, ApiError> {
    user.require(Permission::BillInquiry)?;
    let raw = body
        .line_number
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| ApiError::field("lineNumber", "회선번호는 필수입니다"))?;
    let line = LineNumber::parse(raw).ok_or_else(|| ApiError::new(ErrorCode::InvalidLineNumber))?;
    let month = domain::inquiry_month(body.inquiry_month.as_deref(), state.clock.now()).map_err(
        |e| match e {
            MonthError::Format => ApiError::new(ErrorCode::InvalidMonth),
            MonthError::Future => {
                ApiError::new(ErrorCode::InvalidMonth).message("미래 월은 조회할 수 없습니다")
            }
        },
    )?;
    user.require_line(&line)?;
    Ok(match state.svc.inquire(&user, line, month).await? {
        Inquiry::Done(data) => respond(data, StatusCode::OK),
        Inquiry::Processing(data) => respond(data, StatusCode::ACCEPTED),
    })
}

/// The result of an inquiry (owner only; SUCCESS, PROCESSING or FAILED).
#[utoipa::path(
    get,
    path = "/api/v1/bills/inquiry/{requestId}", summary = "Gives the customer who made an inquiry its result: done, still processing, or failed",
    tag = "bills",
    security(("bearer" = [])),
    params(("requestId" = String, Path, description = "`REQ_<yyyyMMdd>_<8 hex>`")),
    responses(
        (status = 200, description = "SUCCESS (with billInfo while kept, 24 h), PROCESSING or FAILED", body = phonebill_common::openapi::Enveloped<InquiryData>, example = json!({"success": true, "resultCode": "0000", "resultMessage": "요금 조회가 완료되었습니다", "message": "요금 조회가 완료되었습니다", "data": {"requestId": "REQ_20250914_4F1A9C2B", "procStatus": "SUCCESS", "resultCode": "0000", "resultMessage": "정상 처리되었습니다", "billInfo": {"lineNumber": "01012345678", "billingMonth": "202509", "productCode": "5G-STANDARD-001", "productName": "5G 스탠다드 플랜", "monthlyFee": 69000, "usageFee": 12340, "discountAmount": 0, "totalFee": 81340, "dataUsage": "37GB", "voiceUsage": "212분", "smsUsage": "41건", "billStatus": "UNPAID", "dueDate": "20251025"}, "customerInfo": {"customerName": "홍길동", "customerId": "CU202401001", "operatorCode": "KT", "lineStatus": "ACTIVE"}, "cached": false, "stale": false}, "timestamp": "2025-09-14T10:32:11.482+09:00", "traceId": "4bf92f3577b34da6a3ce929d0e0e4736"})),
        (status = 401, description = "No or bad token", body = ErrorBody),
        (status = 403, description = "No BILL_INQUIRY permission", body = ErrorBody),
        (status = 404, description = "REQUEST_NOT_FOUND (unknown or another user's)", body = ErrorBody),
    )
)]
pub async fn get_inquiry_result(
    State(state): State<AppState>,
    user: Result<AuthUser, ApiError>,
    request_id: Result<Path<String>, ApiError>,
) -> Result<Response, ApiError> {
    let run = async {
        let (user, Path(request_id)) = (user?, request_id?);
        poll(&state, user, request_id).await
    };
    run.await.map_err(with_result_fields)
}

async fn poll(state: &AppState, user: AuthUser, request_id: String) -> Result<Response, ApiError> {
    user.require(Permission::BillInquiry)?;
    if !domain::is_request_id(&request_id) {
        return Err(ApiError::new(ErrorCode::RequestNotFound));
    }
    let data = state
        .svc
        .poll(&user, &request_id)
        .await
        .map_err(ApiError::unavailable)?
        .ok_or_else(|| ApiError::new(ErrorCode::RequestNotFound))?;
    Ok(respond(data, StatusCode::OK))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn failures_carry_the_result_fields() {
        let resp = with_result_fields(ApiError::field("lineNumber", "x")).into_response();
        let bytes = axum::body::to_bytes(resp.into_body(), 1 << 16)
            .await
            .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(v["resultCode"], "VALIDATION_ERROR", "{v}");
        assert_eq!(v["resultMessage"], "x", "{v}");
    }
}
