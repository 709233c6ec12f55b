//! Example requests and answers of the OpenAPI document, one function per example (the handlers'
//! `#[utoipa::path]` name them), built from the demo data of docs/api.md §8 and §5.4: user
//! `mvno001` (홍길동, line 010-1234-5678) moving from `5G-STANDARD-001` to `5G-PREMIUM-001`.

use serde_json::{Value, json};

const LINE: &str = "01012345678";
const REQUEST_ID: &str = "PCR_20250914_7C2D11AF";
const REQUESTED_AT: &str = "2025-09-14T10:35:01+09:00";
const PROCESSED_AT: &str = "2025-09-14T10:35:02+09:00";

/// A success envelope (docs/api.md §1.3) around `data`, with `message` when the endpoint sends one.
fn envelope(message: Option<&str>, data: Value) -> Value {
    let mut env = json!({
        "success": true,
        "data": data,
        "timestamp": "2025-09-14T10:35:02.481+09:00",
        "traceId": "3f0c9a52-6d1e-4c4b-9f5e-2a7d8b1c0e44",
    });
    if let Some(m) = message {
        env["message"] = json!(m);
    }
    env
}

/// The product object (docs/api.md §4.1) of the demo catalogue's `5G-STANDARD-001`.
fn standard() -> Value {
    json!({
        "productCode": "5G-STANDARD-001", "productName": "5G 스탠다드 플랜", "monthlyFee": 69000,
        "dataAllowance": "100GB", "voiceAllowance": "무제한", "smsAllowance": "무제한",
        "operatorCode": "KT", "description": "5G 네트워크 스탠다드 요금제", "available": true
    })
}

/// The product object of the demo catalogue's `5G-PREMIUM-001`.
fn premium() -> Value {
    json!({
        "productCode": "5G-PREMIUM-001", "productName": "5G 프리미엄 플랜", "monthlyFee": 89000,
        "dataAllowance": "무제한", "voiceAllowance": "무제한", "smsAllowance": "무제한",
        "operatorCode": "KT", "description": "5G 네트워크 무제한 프리미엄 요금제", "available": true
    })
}

/// `GET /api/v1/products/customer`: 홍길동's line.
pub fn customer() -> Value {
    envelope(
        Some("고객 정보를 조회했습니다"),
        json!({
            "customerId": "CU202401001", "lineNumber": LINE, "customerName": "홍길동",
            "currentProduct": standard(), "lineStatus": "ACTIVE",
            "contractInfo": {
                "contractDate": "2024-01-15", "termEndDate": "2026-01-15",
                "earlyTerminationFee": 20000
            }
        }),
    )
}

/// `GET /api/v1/products/menu`.
pub fn menu() -> Value {
    envelope(
        Some("상품변경 메뉴를 조회했습니다"),
        json!({
            "customerId": "CU202401001", "lineNumber": LINE, "currentProduct": standard(),
            "menuItems": [
                { "menuId": "PRODUCT_CHANGE", "menuName": "상품 변경", "available": true },
                { "menuId": "CHANGE_HISTORY", "menuName": "변경 이력", "available": true }
            ]
        }),
    )
}

/// `GET /api/v1/products/available?currentProductCode=5G-STANDARD-001` (shortened to one).
pub fn available() -> Value {
    envelope(
        Some("가입 가능한 상품 목록을 조회했습니다"),
        json!({ "products": [premium()], "totalCount": 1 }),
    )
}

/// The body of the pre-check and of the change.
pub fn change_request() -> Value {
    json!({
        "lineNumber": "010-1234-5678", "currentProductCode": "5G-STANDARD-001",
        "targetProductCode": "5G-PREMIUM-001"
    })
}

/// `POST /api/v1/products/change/validation`: all three checks pass.
pub fn validation() -> Value {
    envelope(
        Some("상품 변경이 가능합니다"),
        json!({
            "validationResult": "SUCCESS",
            "validationDetails": [
                { "checkType": "PRODUCT_AVAILABLE", "result": "PASS", "message": "판매중인 상품입니다" },
                { "checkType": "OPERATOR_MATCH", "result": "PASS", "message": "사업자가 일치합니다" },
                { "checkType": "LINE_STATUS", "result": "PASS", "message": "회선이 정상 상태입니다" }
            ]
        }),
    )
}

/// `POST /api/v1/products/change`: KOS applied it.
pub fn change_completed() -> Value {
    envelope(
        Some("상품 변경이 완료되었습니다"),
        json!({
            "requestId": REQUEST_ID, "processStatus": "COMPLETED", "resultCode": "0000",
            "resultMessage": "정상 처리되었습니다", "changedProduct": premium(),
            "processedAt": PROCESSED_AT, "kosOrderNumber": "KOS202509141035042",
            "effectiveDate": "20250914"
        }),
    )
}

/// `POST /api/v1/products/change`: KOS's outcome is not known yet.
pub fn change_processing() -> Value {
    envelope(
        Some("상품 변경 요청이 처리 중입니다"),
        json!({
            "requestId": REQUEST_ID, "processStatus": "PROCESSING", "resultCode": "0100",
            "resultMessage": "상품 변경 요청이 처리 중입니다", "processedAt": PROCESSED_AT
        }),
    )
}

/// `GET /api/v1/products/change/{requestId}`.
pub fn change_status() -> Value {
    envelope(
        None,
        json!({
            "requestId": REQUEST_ID, "lineNumber": LINE, "processStatus": "COMPLETED",
            "currentProductCode": "5G-STANDARD-001", "targetProductCode": "5G-PREMIUM-001",
            "requestedAt": REQUESTED_AT, "processedAt": PROCESSED_AT,
            "resultCode": "0000", "resultMessage": "정상 처리되었습니다"
        }),
    )
}

/// `GET /api/v1/products/history`.
pub fn history() -> Value {
    envelope(
        Some("상품변경 이력을 조회했습니다"),
        json!({
            "history": [{
                "requestId": REQUEST_ID, "lineNumber": LINE, "processStatus": "COMPLETED",
                "currentProductCode": "5G-STANDARD-001", "currentProductName": "5G 스탠다드 플랜",
                "targetProductCode": "5G-PREMIUM-001", "targetProductName": "5G 프리미엄 플랜",
                "requestedAt": REQUESTED_AT, "processedAt": PROCESSED_AT,
                "resultMessage": "정상 처리되었습니다"
            }],
            "pagination": {
                "page": 1, "size": 10, "totalElements": 1, "totalPages": 1,
                "hasNext": false, "hasPrevious": false
            }
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{CheckResult, CheckType, Product};

    /// The examples are what the handlers' types serialise to: each one deserialises into the
    /// wire type it illustrates (products) or carries the exact field set the type writes.
    #[test]
    fn product_examples_are_product_objects() {
        for v in [standard(), premium()] {
            let p: Product = serde_json::from_value(v.clone()).expect("a product object");
            assert_eq!(serde_json::to_value(&p).expect("serialise"), v);
        }
    }

    #[test]
    fn validation_example_uses_the_wire_spellings() {
        let v = validation();
        let details = v["data"]["validationDetails"].as_array().expect("details");
        let kinds: Vec<String> = [
            CheckType::ProductAvailable,
            CheckType::OperatorMatch,
            CheckType::LineStatus,
        ]
        .iter()
        .map(|k| {
            serde_json::to_value(k)
                .expect("kind")
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect();
        for (d, kind) in details.iter().zip(&kinds) {
            assert_eq!(d["checkType"], kind.as_str());
            assert_eq!(
                d["result"],
                serde_json::to_value(CheckResult::Pass).expect("result")
            );
        }
        assert_eq!(details.len(), 3);
    }
}
