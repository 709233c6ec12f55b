//! Product inquiry (docs/api.md §5.3.2), product change (5.3.3) and the product list (5.3.5).

use std::sync::Arc;

use axum::extract::State;
use axum::response::Response;
use chrono::Duration as ChronoDuration;
use phonebill_common::kos::{
    ChangeInfo, KosEnvelope, ProductChangeData, ProductChangeRequest, ProductInfo,
    ProductInquiryData, ProductInquiryRequest, ProductItem, ProductListData, codes, paths,
    proc_status,
};
use phonebill_common::time::{format_kst, kst};
use serde::Deserialize;

use super::line_request::{LineRequest, coded, customer_info, line_number, request_id};
use crate::domain::model::allowance_number;
use crate::domain::{Product, change};
use crate::reply::{self, KosFailure, KosJson};
use crate::state::AppState;
use crate::store::{ChangeRecord, ProductUpdate, RecordOutcome};

/// Product inquiry body as received.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RawProductInquiry {
    line_number: Option<String>,
    request_id: Option<String>,
}

fn inquiry_failure(request_id: String, code: &'static str) -> Response {
    let (result_code, result_message) = coded(code);
    let data = ProductInquiryData {
        request_id,
        proc_status: proc_status::FAILED.to_owned(),
        result_code,
        result_message,
        product_info: None,
        customer_info: None,
    };
    reply::ok(INQUIRY_DONE, data, code)
}

const INQUIRY_DONE: &str = "상품 조회가 완료되었습니다";
const CHANGE_DONE: &str = "상품 변경 처리가 완료되었습니다";

/// `POST /api/v1/kos/product/inquiry`: the line's current product and customer. A non-active
/// line is answered as data (its `lineStatus`), not as a failure.
#[utoipa::path(
    post,
    path = paths::PRODUCT_INQUIRY,
    summary = "Returns a line's current product and customer, for the product-change service",
    tag = "kos",
    request_body(content = ProductInquiryRequest, example = json!({ "lineNumber": "01012345678", "requestId": "PIQ_20250914_0001" })),
    responses(
        (status = 200, description = "`data.resultCode` 0000, 3001 (unknown line), 3003 (product unknown)", body = KosEnvelope<ProductInquiryData>, example = json!({ "success": true, "resultCode": "0000", "resultMessage": "상품 조회가 완료되었습니다", "data": { "requestId": "PIQ_20250914_0001", "procStatus": "SUCCESS", "resultCode": "0000", "resultMessage": "정상 처리되었습니다", "productInfo": { "lineNumber": "01012345678", "currentProductCode": "5G-STANDARD-001", "currentProductName": "5G 스탠다드 플랜", "monthlyFee": 69000, "dataAllowance": "100GB", "voiceAllowance": "무제한", "smsAllowance": "무제한", "productStatus": "ACTIVE", "contractDate": "2024-01-15T00:00:00+09:00", "operatorCode": "KT" }, "customerInfo": { "customerName": "홍길동", "customerId": "CU202401001", "operatorCode": "KT", "lineStatus": "ACTIVE" } }, "timestamp": "2025-09-14T10:32:11.120+09:00", "traceId": "4f1a9c2b7d3e4a10" })),
        (status = 400, description = "9001/9003/9004", body = KosFailure),
    )
)]
pub async fn inquire_product(
    State(app): State<Arc<AppState>>,
    KosJson(body): KosJson<RawProductInquiry>,
) -> Response {
    let req = match LineRequest::parse(body.line_number.as_deref(), body.request_id) {
        Ok(r) => r,
        Err(r) => return r,
    };
    let Some(catalog) = app.catalog() else {
        return reply::system_error();
    };
    let line = match req.find(&app).await {
        Ok(Some(l)) => l,
        Ok(None) => return inquiry_failure(req.request_id, codes::PRODUCT_LINE_NOT_FOUND),
        Err(r) => return r,
    };
    let request_id = req.request_id;
    let Some(p) = catalog.get(&line.current_product_code) else {
        return inquiry_failure(request_id, codes::PRODUCT_INFO_NOT_FOUND);
    };
    let contract = line
        .contract_date
        .and_hms_opt(0, 0, 0)
        .and_then(|d| d.and_local_timezone(kst()).single())
        .map(|d| format_kst(d.to_utc()))
        .unwrap_or_default();
    let data = ProductInquiryData {
        request_id,
        proc_status: proc_status::SUCCESS.to_owned(),
        result_code: codes::SUCCESS.to_owned(),
        result_message: codes::message(codes::SUCCESS)
            .unwrap_or_default()
            .to_owned(),
        product_info: Some(ProductInfo {
            line_number: line.line_number.clone(),
            current_product_code: p.code.clone(),
            current_product_name: p.name.clone(),
            monthly_fee: p.monthly_fee,
            data_allowance: p.data_allowance.clone(),
            voice_allowance: p.voice_allowance.clone(),
            sms_allowance: p.sms_allowance.clone(),
            product_status: p.status.clone(),
            contract_date: contract,
            operator_code: line.operator_code.clone(),
        }),
        customer_info: Some(customer_info(&line)),
    };
    reply::ok(INQUIRY_DONE, data, codes::SUCCESS)
}

/// Product change body as received.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RawProductChange {
    line_number: Option<String>,
    current_product_code: Option<String>,
    target_product_code: Option<String>,
    request_id: Option<String>,
}

fn product_code(field: &str, raw: Option<String>) -> Result<String, Response> {
    match raw.map(|s| s.trim().to_owned()) {
        Some(s) if !s.is_empty() && s.len() <= 30 => Ok(s),
        Some(s) if !s.is_empty() => Err(reply::invalid(&format!("{field}: at most 30 characters"))),
        _ => Err(reply::invalid(&format!("{field}: required"))),
    }
}

/// Answers a replay: the stored answer when the body is the same, `2007` otherwise.
fn replay(request_id: String, hash: &str, stored: crate::store::StoredChange) -> Response {
    if stored.request_hash == hash {
        let code = stored
            .response
            .get("resultCode")
            .and_then(|v| v.as_str())
            .unwrap_or(codes::SUCCESS)
            .to_owned();
        return reply::ok(CHANGE_DONE, stored.response, &code);
    }
    change_failure(request_id, codes::CHANGE_REQUEST_ID_REUSED)
}

fn change_failure(request_id: String, code: &'static str) -> Response {
    reply::ok(CHANGE_DONE, failure_data(request_id, code), code)
}

fn failure_data(request_id: String, code: &'static str) -> ProductChangeData {
    let (result_code, result_message) = coded(code);
    ProductChangeData {
        request_id,
        result_code,
        result_message,
        change_info: None,
    }
}

/// `POST /api/v1/kos/product/change`: changes the line's product. Idempotent per `requestId`.
#[utoipa::path(
    post,
    path = paths::PRODUCT_CHANGE,
    summary = "Switches a line to another product, idempotent per requestId, for the product-change service",
    tag = "kos",
    request_body(content = ProductChangeRequest, example = json!({ "lineNumber": "01012345678", "currentProductCode": "5G-STANDARD-001", "targetProductCode": "5G-PREMIUM-001", "requestId": "PCR_20250914_7C2D11AF" })),
    params(
        ("X-Kos-Fault" = Option<String>, Header, description = "fault injection; `lost-response` applies the change then drops the connection"),
    ),
    responses(
        (status = 200, description = "`data.resultCode` 0000, or (checked in this order) 2001 unknown line, 2002 line not active, 2003 unknown product, 2006 current product mismatch, 2004 discontinued, 2005 other operator, 2099 processing error (target equals current product, or a concurrent change); 2007 requestId reused with another body. A repeated requestId with the same body returns the stored answer.", body = KosEnvelope<ProductChangeData>, example = json!({ "success": true, "resultCode": "0000", "resultMessage": "상품 변경 처리가 완료되었습니다", "data": { "requestId": "PCR_20250914_7C2D11AF", "resultCode": "0000", "resultMessage": "정상 처리되었습니다", "changeInfo": { "lineNumber": "01012345678", "previousProductCode": "5G-STANDARD-001", "previousProductName": "5G 스탠다드 플랜", "newProductCode": "5G-PREMIUM-001", "newProductName": "5G 프리미엄 플랜", "effectiveDate": "20250914", "changeStatus": "SUCCESS", "kosOrderNumber": "KOS202509141035042", "estimatedCompletionTime": "2025-09-14T11:05:02+09:00" } }, "timestamp": "2025-09-14T10:32:11.120+09:00", "traceId": "4f1a9c2b7d3e4a10" })),
        (status = 400, description = "9001/9003/9004", body = KosFailure),
    )
)]
pub async fn change_product(
    State(app): State<Arc<AppState>>,
    KosJson(body): KosJson<RawProductChange>,
) -> Response {
    let line = match line_number(body.line_number.as_deref()) {
        Ok(l) => l,
        Err(r) => return r,
    };
    let (current, target, request_id) = match (
        product_code("currentProductCode", body.current_product_code),
        product_code("targetProductCode", body.target_product_code),
        request_id(body.request_id),
    ) {
        (Ok(c), Ok(t), Ok(r)) => (c, t, r),
        (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => return e,
    };
    let Some(catalog) = app.catalog() else {
        return reply::system_error();
    };
    let hash = change::request_hash(line.as_str(), &current, &target);
    match app.store.change_request(&request_id).await {
        Ok(Some(stored)) => return replay(request_id, &hash, stored),
        Ok(None) => {}
        Err(e) => return reply::store_error(&e),
    }
    let found = match app.store.line(line.as_str()).await {
        Ok(l) => l,
        Err(e) => return reply::store_error(&e),
    };
    let target_product = catalog.get(&target);
    let (data, update) = match change::check(found.as_ref(), &current, target_product) {
        Err(code) => (failure_data(request_id.clone(), code), None),
        Ok(()) => {
            let (Some(l), Some(t)) = (found.as_ref(), target_product) else {
                return reply::system_error();
            };
            let prev = catalog.get(&l.current_product_code);
            let data = success_data(&app, request_id.clone(), l, prev, t);
            let update = ProductUpdate {
                line_number: l.line_number.clone(),
                from: l.current_product_code.clone(),
                to: t.code.clone(),
            };
            (data, Some(update))
        }
    };
    let response = match serde_json::to_value(&data) {
        Ok(v) => v,
        Err(e) => {
            tracing::error!(error = %e, "cannot serialise change answer");
            return reply::system_error();
        }
    };
    let rec = ChangeRecord {
        request_id: request_id.clone(),
        request_hash: hash.clone(),
        response,
        update,
    };
    match app.store.record_change(rec).await {
        Ok(RecordOutcome::Recorded) => {
            let code = data.result_code.clone();
            reply::ok(CHANGE_DONE, data, &code)
        }
        Ok(RecordOutcome::Existing(stored)) => replay(request_id, &hash, stored),
        // The line changed under us; nothing was stored, so a retry re-evaluates.
        Ok(RecordOutcome::Stale) => change_failure(request_id, codes::CHANGE_FAILED),
        Err(e) => reply::store_error(&e),
    }
}

fn success_data(
    app: &AppState,
    request_id: String,
    line: &crate::domain::Line,
    prev: Option<&Product>,
    target: &Product,
) -> ProductChangeData {
    let now = chrono::Utc::now();
    let local = now.with_timezone(&kst());
    ProductChangeData {
        request_id,
        result_code: codes::SUCCESS.to_owned(),
        result_message: codes::message(codes::SUCCESS)
            .unwrap_or_default()
            .to_owned(),
        change_info: Some(ChangeInfo {
            line_number: line.line_number.clone(),
            previous_product_code: line.current_product_code.clone(),
            previous_product_name: prev.map(|p| p.name.clone()).unwrap_or_default(),
            new_product_code: target.code.clone(),
            new_product_name: target.name.clone(),
            effective_date: local.format("%Y%m%d").to_string(),
            change_status: "SUCCESS".to_owned(),
            kos_order_number: format!("KOS{}{:03}", local.format("%Y%m%d%H%M"), app.sim.digits3()),
            estimated_completion_time: format_kst(now + ChronoDuration::minutes(30)),
        }),
    }
}

/// `POST /api/kos/product-change`: the seed's alias of the product change, same behaviour.
#[utoipa::path(
    post,
    path = paths::PRODUCT_CHANGE_ALIAS,
    summary = "Switches a line's product (the seed's alias path), for the product-change service",
    tag = "kos",
    request_body(content = ProductChangeRequest, example = json!({ "lineNumber": "01012345678", "currentProductCode": "5G-STANDARD-001", "targetProductCode": "5G-PREMIUM-001", "requestId": "PCR_20250914_7C2D11AF" })),
    responses(
        (status = 200, description = "Same as `POST /api/v1/kos/product/change`", body = KosEnvelope<ProductChangeData>, example = json!({ "success": true, "resultCode": "0000", "resultMessage": "상품 변경 처리가 완료되었습니다", "data": { "requestId": "PCR_20250914_7C2D11AF", "resultCode": "0000", "resultMessage": "정상 처리되었습니다", "changeInfo": { "lineNumber": "01012345678", "previousProductCode": "5G-STANDARD-001", "previousProductName": "5G 스탠다드 플랜", "newProductCode": "5G-PREMIUM-001", "newProductName": "5G 프리미엄 플랜", "effectiveDate": "20250914", "changeStatus": "SUCCESS", "kosOrderNumber": "KOS202509141035042", "estimatedCompletionTime": "2025-09-14T11:05:02+09:00" } }, "timestamp": "2025-09-14T10:32:11.120+09:00", "traceId": "4f1a9c2b7d3e4a10" })),
        (status = 400, description = "9001/9003/9004", body = KosFailure),
    )
)]
pub async fn change_product_alias(
    state: State<Arc<AppState>>,
    body: KosJson<RawProductChange>,
) -> Response {
    change_product(state, body).await
}

/// One product in the snake_case list shape.
pub fn product_item(p: &Product) -> ProductItem {
    ProductItem {
        product_code: p.code.clone(),
        product_name: p.name.clone(),
        product_type: p.network_type.clone(),
        monthly_fee: p.monthly_fee,
        data_allowance: allowance_number(&p.data_allowance),
        voice_allowance: allowance_number(&p.voice_allowance),
        sms_allowance: allowance_number(&p.sms_allowance),
        network_type: p.network_type.clone(),
        status: p.status.clone(),
        description: p.description.clone(),
        operator_code: p.operator_code.clone(),
        data_allowance_text: p.data_allowance.clone(),
        voice_allowance_text: p.voice_allowance.clone(),
        sms_allowance_text: p.sms_allowance.clone(),
    }
}

/// `GET /api/v1/kos/product/list`: every product (any status), `monthly_fee` descending.
#[utoipa::path(
    get,
    path = paths::PRODUCT_LIST,
    summary = "Lists every product of the catalogue with its fee and allowances, for the product-change service",
    tag = "kos",
    responses(
        (status = 200, description = "snake_case `data`; allowances as integers, -1 = unlimited", body = KosEnvelope<ProductListData>, example = json!({ "success": true, "resultCode": "0000", "resultMessage": "상품 목록 조회가 완료되었습니다", "data": { "result_code": "0000", "result_message": "상품 목록 조회가 완료되었습니다", "product_count": 1, "products": [ { "product_code": "5G-PREMIUM-001", "product_name": "5G 프리미엄 플랜", "product_type": "5G", "monthly_fee": 89000, "data_allowance": -1, "voice_allowance": -1, "sms_allowance": -1, "network_type": "5G", "status": "ACTIVE", "description": "5G 네트워크 무제한 프리미엄 요금제", "operator_code": "KT", "data_allowance_text": "무제한", "voice_allowance_text": "무제한", "sms_allowance_text": "무제한" } ] }, "timestamp": "2025-09-14T10:32:11.120+09:00", "traceId": "4f1a9c2b7d3e4a10" })),
    )
)]
pub async fn list_products(State(app): State<Arc<AppState>>) -> Response {
    let Some(catalog) = app.catalog() else {
        return reply::system_error();
    };
    let products: Vec<ProductItem> = catalog.all().iter().map(product_item).collect();
    let data = ProductListData {
        result_code: codes::SUCCESS.to_owned(),
        result_message: "상품 목록 조회가 완료되었습니다".to_owned(),
        product_count: products.len() as u64,
        products,
    };
    reply::ok("상품 목록 조회가 완료되었습니다", data, codes::SUCCESS)
}
