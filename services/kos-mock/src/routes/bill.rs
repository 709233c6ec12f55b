//! Bill inquiry (docs/api.md §5.3.1) and available months (docs/api.md §5.3.4).

use std::sync::Arc;

use axum::extract::State;
use axum::extract::rejection::PathRejection;
use axum::response::Response;
use http::StatusCode;
use phonebill_common::kos::{
    AvailableMonthsData, BillInquiryData, BillInquiryRequest, KosEnvelope, codes, paths,
    proc_status,
};
use phonebill_common::line::LineNumber;
use serde::Deserialize;

use super::line_request::{LineRequest, coded, customer_info, today};
use crate::domain::bills::{self, YearMonth};
use crate::reply::{self, KosFailure, KosJson};
use crate::state::AppState;

/// Bill inquiry body as received: every field optional so a missing one is a `9001` that names it.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RawBillInquiry {
    line_number: Option<String>,
    billing_month: Option<String>,
    request_id: Option<String>,
}

const BILL_DONE: &str = "요금 조회가 완료되었습니다";

fn bill_failure(request_id: String, code: &'static str) -> Response {
    let (result_code, result_message) = coded(code);
    let data = BillInquiryData {
        request_id,
        proc_status: proc_status::FAILED.to_owned(),
        result_code,
        result_message,
        bill_info: None,
        customer_info: None,
    };
    reply::ok(BILL_DONE, data, code)
}

/// `POST /api/v1/kos/bill/inquiry`: one month's bill of a line.
#[utoipa::path(
    post,
    path = paths::BILL_INQUIRY,
    summary = "Returns one month's bill of a line with its customer, for the bill-inquiry service",
    tag = "kos",
    request_body(content = BillInquiryRequest, example = json!({ "lineNumber": "01012345678", "billingMonth": "202509", "requestId": "REQ_20250914_4F1A9C2B" })),
    params(
        ("X-Kos-Fault" = Option<String>, Header, description = "fault injection: timeout|error|slow|unavailable|reset|lost-response|malformed"),
        ("X-Kos-Fault-Delay-Ms" = Option<u64>, Header, description = "delay of timeout/slow"),
        ("X-Service-Name" = Option<String>, Header, description = "calling service (credential check, rate-limit key)"),
    ),
    responses(
        (status = 200, description = "Processed; `data.resultCode` 0000, 1001 (unknown line), 1002 (line not active), 1003 (no bill for the month)", body = KosEnvelope<BillInquiryData>, example = json!({ "success": true, "resultCode": "0000", "resultMessage": "요금 조회가 완료되었습니다", "data": { "requestId": "REQ_20250914_4F1A9C2B", "procStatus": "SUCCESS", "resultCode": "0000", "resultMessage": "정상 처리되었습니다", "billInfo": { "lineNumber": "01012345678", "billingMonth": "202509", "productCode": "5G-STANDARD-001", "productName": "5G 스탠다드 플랜", "monthlyFee": 69000, "usageFee": 12340, "discountAmount": 0, "totalFee": 81340, "dataUsage": "37GB", "voiceUsage": "212분", "smsUsage": "41건", "billStatus": "UNPAID", "dueDate": "20251025" }, "customerInfo": { "customerName": "홍길동", "customerId": "CU202401001", "operatorCode": "KT", "lineStatus": "ACTIVE" } }, "timestamp": "2025-09-14T10:32:11.120+09:00", "traceId": "4f1a9c2b7d3e4a10" })),
        (status = 400, description = "9001 field rule, 9003 unreadable JSON, 9004 wrong type", body = KosFailure),
    )
)]
pub async fn inquire_bill(
    State(app): State<Arc<AppState>>,
    KosJson(body): KosJson<RawBillInquiry>,
) -> Response {
    let req = match LineRequest::parse(body.line_number.as_deref(), body.request_id) {
        Ok(r) => r,
        Err(r) => return r,
    };
    let current = YearMonth::of(today());
    let month = match body.billing_month.as_deref().map(str::trim) {
        None | Some("") => current,
        Some(raw) => match YearMonth::parse_compact(raw) {
            Some(m) => m,
            None => return reply::invalid("billingMonth: must be YYYYMM with month 01-12"),
        },
    };
    let Some(catalog) = app.catalog() else {
        return reply::system_error();
    };
    let line = match req.find(&app).await {
        Ok(Some(l)) => l,
        Ok(None) => return bill_failure(req.request_id, codes::BILL_LINE_NOT_FOUND),
        Err(r) => return r,
    };
    let request_id = req.request_id;
    if !line.is_active() {
        return bill_failure(request_id, codes::BILL_LINE_NOT_ACTIVE);
    }
    if !bills::window(today()).contains(&month) {
        return bill_failure(request_id, codes::BILL_NOT_FOUND);
    }
    let Some(product) = catalog.get(bills::billed_product_code(&line, month, current)) else {
        return bill_failure(request_id, codes::BILL_NOT_FOUND);
    };
    let data = BillInquiryData {
        request_id,
        proc_status: proc_status::SUCCESS.to_owned(),
        result_code: codes::SUCCESS.to_owned(),
        result_message: codes::message(codes::SUCCESS)
            .unwrap_or_default()
            .to_owned(),
        bill_info: Some(bills::compute(&line, product, month, current)),
        customer_info: Some(customer_info(&line)),
    };
    reply::ok(BILL_DONE, data, codes::SUCCESS)
}

/// `POST /api/kos/bill-inquiry`: the seed's alias of the bill inquiry, same behaviour.
#[utoipa::path(
    post,
    path = paths::BILL_INQUIRY_ALIAS,
    summary = "Returns one month's bill of a line (the seed's alias path), for the bill-inquiry service",
    tag = "kos",
    request_body(content = BillInquiryRequest, example = json!({ "lineNumber": "01012345678", "billingMonth": "202509", "requestId": "REQ_20250914_4F1A9C2B" })),
    responses(
        (status = 200, description = "Same as `POST /api/v1/kos/bill/inquiry`", body = KosEnvelope<BillInquiryData>, example = json!({ "success": true, "resultCode": "0000", "resultMessage": "요금 조회가 완료되었습니다", "data": { "requestId": "REQ_20250914_4F1A9C2B", "procStatus": "SUCCESS", "resultCode": "0000", "resultMessage": "정상 처리되었습니다", "billInfo": { "lineNumber": "01012345678", "billingMonth": "202509", "productCode": "5G-STANDARD-001", "productName": "5G 스탠다드 플랜", "monthlyFee": 69000, "usageFee": 12340, "discountAmount": 0, "totalFee": 81340, "dataUsage": "37GB", "voiceUsage": "212분", "smsUsage": "41건", "billStatus": "UNPAID", "dueDate": "20251025" }, "customerInfo": { "customerName": "홍길동", "customerId": "CU202401001", "operatorCode": "KT", "lineStatus": "ACTIVE" } }, "timestamp": "2025-09-14T10:32:11.120+09:00", "traceId": "4f1a9c2b7d3e4a10" })),
        (status = 400, description = "9001/9003/9004", body = KosFailure),
    )
)]
pub async fn inquire_bill_alias(
    state: State<Arc<AppState>>,
    body: KosJson<RawBillInquiry>,
) -> Response {
    inquire_bill(state, body).await
}

fn months_failure(code: &'static str) -> Response {
    let message = codes::message(code).unwrap_or_default();
    let data = AvailableMonthsData {
        result_code: code.to_owned(),
        result_message: message.to_owned(),
        line_number: None,
        available_months: Vec::new(),
    };
    reply::kos(StatusCode::OK, false, code, message, Some(data), code)
}

/// `GET /api/v1/kos/bill/available-months/{lineNumber}`: the months with bills, newest first.
#[utoipa::path(
    get,
    path = "/api/v1/kos/bill/available-months/{lineNumber}",
    summary = "Lists the six months a line has bills for, newest first, for the bill service and the browser",
    tag = "kos",
    params(("lineNumber" = String, Path, description = "11 digits, dashes accepted")),
    responses(
        (status = 200, description = "`success:true` with six `YYYY-MM` months; `success:false` with 1001 (unknown line) or 1002 (not active) and `availableMonths: []`", body = KosEnvelope<AvailableMonthsData>, example = json!({ "success": true, "resultCode": "0000", "resultMessage": "데이터 보유 월 목록 조회가 완료되었습니다", "data": { "resultCode": "0000", "resultMessage": "정상 처리되었습니다", "lineNumber": "01012345678", "availableMonths": ["2025-09", "2025-08", "2025-07", "2025-06", "2025-05", "2025-04"] }, "timestamp": "2025-09-14T10:32:11.120+09:00", "traceId": "4f1a9c2b7d3e4a10" })),
        (status = 400, description = "9004 malformed line number", body = KosFailure),
    )
)]
pub async fn get_available_months(
    State(app): State<Arc<AppState>>,
    path: Result<axum::extract::Path<String>, PathRejection>,
) -> Response {
    let Some(line) = path.ok().and_then(|p| LineNumber::parse(&p.0)) else {
        return reply::fail(
            StatusCode::BAD_REQUEST,
            codes::BAD_PARAMETER_TYPE,
            Some("lineNumber: must be 010 followed by 8 digits"),
        );
    };
    let line = match app.store.line(line.as_str()).await {
        Ok(Some(l)) => l,
        Ok(None) => return months_failure(codes::BILL_LINE_NOT_FOUND),
        Err(e) => return reply::store_error(&e),
    };
    if !line.is_active() {
        return months_failure(codes::BILL_LINE_NOT_ACTIVE);
    }
    let data = AvailableMonthsData {
        result_code: codes::SUCCESS.to_owned(),
        result_message: codes::message(codes::SUCCESS)
            .unwrap_or_default()
            .to_owned(),
        line_number: Some(line.line_number),
        available_months: bills::window(today()).iter().map(|m| m.dashed()).collect(),
    };
    reply::ok(
        "데이터 보유 월 목록 조회가 완료되었습니다",
        data,
        codes::SUCCESS,
    )
}
