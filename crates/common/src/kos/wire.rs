//! Serde types of the KOS wire format (docs/api.md §5.2–5.3, 5.7, 5.8).
//!
//! Request bodies and response payloads are camelCase, except the product list, which the
//! as-built mock emitted in snake_case. Deserialisation is tolerant where the docs/api.md allows a
//! field to be absent (failure payloads carry no `billInfo`, `changeInfo`, ...): those fields
//! are `Option` and omitted when `None`, as docs/api.md §1.2 requires.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The KOS response envelope (docs/api.md §5.2): `{success, resultCode, resultMessage, data?, timestamp, traceId}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct KosEnvelope<T> {
    /// `true` for a processed request (even a business failure on inquiry/change, see `data.resultCode`).
    pub success: bool,
    /// Result code (`0000` on success; see [`super::codes`]).
    pub result_code: String,
    /// Human-readable (Korean) result text.
    pub result_message: String,
    /// Payload. (A missing `Option` field deserialises as `None`; no `default` attribute,
    /// which would add a `T: Default` bound.)
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<T>,
    /// RFC 3339 instant in Korea time with milliseconds.
    #[serde(default)]
    pub timestamp: String,
    /// The request id (`X-Request-Id`) the mock saw.
    #[serde(default)]
    pub trace_id: String,
}

/// `processStatus` values of inquiry payloads.
pub mod proc_status {
    /// The inquiry succeeded.
    pub const SUCCESS: &str = "SUCCESS";
    /// The inquiry failed; see `resultCode`.
    pub const FAILED: &str = "FAILED";
}

/// Line status values (`lineStatus`).
pub mod line_status {
    /// In service.
    pub const ACTIVE: &str = "ACTIVE";
    /// Suspended.
    pub const SUSPENDED: &str = "SUSPENDED";
    /// Terminated.
    pub const TERMINATED: &str = "TERMINATED";
}

/// Product status values (`productStatus`, product list `status`).
pub mod product_status {
    /// On sale.
    pub const ACTIVE: &str = "ACTIVE";
    /// No longer sold; existing subscribers keep it.
    pub const DISCONTINUED: &str = "DISCONTINUED";
}

// ---------------------------------------------------------------------------------------------
// Requests
// ---------------------------------------------------------------------------------------------

/// `POST /api/v1/kos/bill/inquiry` body (docs/api.md §5.3.1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BillInquiryRequest {
    /// 11 digits (dashes accepted).
    #[schema(example = "01012345678")]
    pub line_number: String,
    /// `YYYYMM`; defaults to the current month (KST).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(example = "202509")]
    pub billing_month: Option<String>,
    /// Caller's request id, echoed in the answer.
    #[schema(example = "REQ_20250914_4F1A9C2B")]
    pub request_id: String,
}

/// `POST /api/v1/kos/product/inquiry` body (docs/api.md §5.3.2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProductInquiryRequest {
    /// 11 digits (dashes accepted).
    #[schema(example = "01012345678")]
    pub line_number: String,
    /// Caller's request id, echoed in the answer.
    pub request_id: String,
}

/// `POST /api/v1/kos/sms/send` body: a text message to a subscriber's line (the mock keeps it
/// in its outbox instead of sending it; docs/api.md §5).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SmsSendRequest {
    /// 11 digits (dashes accepted).
    #[schema(example = "01012345678")]
    pub line_number: String,
    /// The text, at most 200 characters.
    pub message: String,
    /// Caller's request id, echoed in the answer.
    pub request_id: String,
}

/// `data` of `POST /api/v1/kos/sms/send`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SmsSendData {
    /// Echo of the request's `requestId`.
    pub request_id: String,
    /// `0000`, or `4001` (no such line) / `4002` (line not active).
    pub result_code: String,
    /// Text of the result code.
    pub result_message: String,
}

/// `POST /api/v1/kos/product/change` body (docs/api.md §5.3.3). Idempotent per `requestId`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProductChangeRequest {
    /// 11 digits (dashes accepted).
    #[schema(example = "01012345678")]
    pub line_number: String,
    /// The product the caller believes the line has.
    #[schema(example = "5G-STANDARD-001")]
    pub current_product_code: String,
    /// The product to change to.
    #[schema(example = "5G-PREMIUM-001")]
    pub target_product_code: String,
    /// Idempotency key of the change.
    #[schema(example = "PCR_20250914_7C2D11AF")]
    pub request_id: String,
}

/// `POST /api/kos/auth` body (docs/api.md §5.8).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ServiceAuthRequest {
    /// Calling service, e.g. `bill-inquiry-service`.
    pub service_name: String,
    /// The shared `KOS_API_KEY`.
    pub api_key: String,
}

// ---------------------------------------------------------------------------------------------
// Responses
// ---------------------------------------------------------------------------------------------

/// Customer part of inquiry answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CustomerInfo {
    /// Customer name.
    pub customer_name: String,
    /// Customer id.
    pub customer_id: String,
    /// Operator (`KT`).
    pub operator_code: String,
    /// `ACTIVE`, `SUSPENDED` or `TERMINATED`.
    pub line_status: String,
}

/// One month's bill (docs/api.md §5.3.1, 5.5).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BillInfo {
    /// 11 digits.
    pub line_number: String,
    /// `YYYYMM`.
    pub billing_month: String,
    /// Product billed that month.
    pub product_code: String,
    /// Its name.
    pub product_name: String,
    /// Won.
    pub monthly_fee: i64,
    /// Won.
    pub usage_fee: i64,
    /// Won.
    pub discount_amount: i64,
    /// Won: `monthlyFee + usageFee - discountAmount`.
    pub total_fee: i64,
    /// e.g. `37GB`.
    pub data_usage: String,
    /// e.g. `212분`.
    pub voice_usage: String,
    /// e.g. `41건`.
    pub sms_usage: String,
    /// `UNPAID` (current month) or `CONFIRMED`.
    pub bill_status: String,
    /// `YYYYMMDD`.
    pub due_date: String,
}

/// `data` of bill inquiry (success and business failure alike).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BillInquiryData {
    /// Echo of the request's `requestId`.
    pub request_id: String,
    /// `SUCCESS` or `FAILED`.
    #[serde(default)]
    pub proc_status: String,
    /// `0000`, `1001`, `1002` or `1003`.
    pub result_code: String,
    /// Text of the result code.
    pub result_message: String,
    /// Present on success.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bill_info: Option<BillInfo>,
    /// Present on success.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_info: Option<CustomerInfo>,
}

/// Product part of the product inquiry answer (docs/api.md §5.3.2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProductInfo {
    /// 11 digits.
    pub line_number: String,
    /// The line's current product.
    pub current_product_code: String,
    /// Its name.
    pub current_product_name: String,
    /// Won.
    pub monthly_fee: i64,
    /// Display text, e.g. `100GB` or `무제한`.
    pub data_allowance: String,
    /// Display text.
    pub voice_allowance: String,
    /// Display text.
    pub sms_allowance: String,
    /// `ACTIVE` or `DISCONTINUED`.
    pub product_status: String,
    /// RFC 3339 instant (midnight KST of the contract date).
    pub contract_date: String,
    /// Operator (`KT`).
    pub operator_code: String,
}

/// `data` of product inquiry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProductInquiryData {
    /// Echo of the request's `requestId`.
    pub request_id: String,
    /// `SUCCESS` or `FAILED`.
    #[serde(default)]
    pub proc_status: String,
    /// `0000`, `3001` or `3003`.
    pub result_code: String,
    /// Text of the result code.
    pub result_message: String,
    /// Present on success.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product_info: Option<ProductInfo>,
    /// Present on success.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_info: Option<CustomerInfo>,
}

/// Details of a completed change (docs/api.md §5.3.3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChangeInfo {
    /// 11 digits.
    pub line_number: String,
    /// Product before the change.
    pub previous_product_code: String,
    /// Its name.
    pub previous_product_name: String,
    /// Product after the change.
    pub new_product_code: String,
    /// Its name.
    pub new_product_name: String,
    /// `YYYYMMDD` (KST).
    pub effective_date: String,
    /// `SUCCESS`.
    pub change_status: String,
    /// `KOS` + `yyyyMMddHHmm` (KST) + 3 digits.
    pub kos_order_number: String,
    /// RFC 3339 instant.
    pub estimated_completion_time: String,
}

/// `data` of product change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProductChangeData {
    /// Echo of the request's `requestId`.
    pub request_id: String,
    /// `0000` or `2001`–`2007`, `2099`.
    pub result_code: String,
    /// Text of the result code.
    pub result_message: String,
    /// Present on success.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change_info: Option<ChangeInfo>,
}

/// `data` of available months (docs/api.md §5.3.4).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AvailableMonthsData {
    /// `0000` or the failure code.
    pub result_code: String,
    /// Text of the result code.
    pub result_message: String,
    /// 11 digits; present on success.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line_number: Option<String>,
    /// `YYYY-MM`, newest first; empty on failure.
    #[serde(default)]
    pub available_months: Vec<String>,
}

/// `data` of the product list (docs/api.md §5.3.5), snake_case as built.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ProductListData {
    /// `0000`.
    pub result_code: String,
    /// Text.
    pub result_message: String,
    /// Number of entries in `products`.
    pub product_count: u64,
    /// All products, any status, `monthly_fee` descending.
    pub products: Vec<ProductItem>,
}

/// One product of the product list, snake_case. Allowances are integers, `-1` = unlimited.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ProductItem {
    /// Code, e.g. `5G-PREMIUM-001`.
    pub product_code: String,
    /// Name.
    pub product_name: String,
    /// `5G`, `LTE`, `3G`.
    pub product_type: String,
    /// Won.
    pub monthly_fee: i64,
    /// GB, `-1` unlimited.
    pub data_allowance: i64,
    /// Minutes, `-1` unlimited.
    pub voice_allowance: i64,
    /// Messages, `-1` unlimited.
    pub sms_allowance: i64,
    /// `5G`, `LTE`, `3G`.
    pub network_type: String,
    /// `ACTIVE` or `DISCONTINUED`.
    pub status: String,
    /// Description.
    pub description: String,
    /// Operator.
    pub operator_code: String,
    /// Display text of the data allowance.
    pub data_allowance_text: String,
    /// Display text of the voice allowance.
    pub voice_allowance_text: String,
    /// Display text of the SMS allowance.
    pub sms_allowance_text: String,
}

/// `data` of `POST /api/kos/auth` (docs/api.md §5.8).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ServiceAuthData {
    /// Opaque bearer token.
    pub access_token: String,
    /// `Bearer`.
    pub token_type: String,
    /// Lifetime in seconds.
    pub expires_in: u64,
}

// ---------------------------------------------------------------------------------------------
// Simulation and fault configuration names (docs/api.md §5.7)
// ---------------------------------------------------------------------------------------------

/// The endpoints that simulation and scripted faults are configured for.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum KosEndpoint {
    /// `bill-inquiry`
    BillInquiry,
    /// `product-change`
    ProductChange,
    /// `product-inquiry`
    ProductInquiry,
    /// `product-list`
    ProductList,
    /// `available-months`
    AvailableMonths,
    /// `auth`
    Auth,
    /// `sms-send`: the SMS stand-in that carries registration codes (docs/api.md §5).
    SmsSend,
    /// `mock-data`: the mock's customer reads (`mock-datas/customer/*`), gated and rate limited
    /// like the KOS endpoints (docs/security.md).
    MockData,
}

impl KosEndpoint {
    /// Every endpoint, in a fixed order.
    pub const ALL: [Self; 8] = [
        Self::BillInquiry,
        Self::ProductChange,
        Self::ProductInquiry,
        Self::ProductList,
        Self::AvailableMonths,
        Self::Auth,
        Self::SmsSend,
        Self::MockData,
    ];

    /// The wire name (`bill-inquiry`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::BillInquiry => "bill-inquiry",
            Self::ProductChange => "product-change",
            Self::ProductInquiry => "product-inquiry",
            Self::ProductList => "product-list",
            Self::AvailableMonths => "available-months",
            Self::Auth => "auth",
            Self::SmsSend => "sms-send",
            Self::MockData => "mock-data",
        }
    }

    /// The environment-variable infix (`BILL_INQUIRY`, ...) of `KOS_LATENCY_<X>_MS` and
    /// `KOS_SUCCESS_RATE_<X>`.
    pub fn env_key(self) -> &'static str {
        match self {
            Self::BillInquiry => "BILL_INQUIRY",
            Self::ProductChange => "PRODUCT_CHANGE",
            Self::ProductInquiry => "PRODUCT_INQUIRY",
            Self::ProductList => "PRODUCT_LIST",
            Self::AvailableMonths => "AVAILABLE_MONTHS",
            Self::Auth => "AUTH",
            Self::SmsSend => "SMS_SEND",
            Self::MockData => "MOCK_DATA",
        }
    }
}

impl fmt::Display for KosEndpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An unknown endpoint or fault-mode name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown name `{0}`")]
pub struct UnknownName(pub String);

impl FromStr for KosEndpoint {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|e| e.as_str() == s)
            .ok_or_else(|| UnknownName(s.to_owned()))
    }
}

/// A fault mode (docs/api.md §5.7), for the `X-Kos-Fault` header and scripted faults.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum FaultMode {
    /// Hold the response for the delay (default 10 s), then `500 9999`.
    Timeout,
    /// `500 9999` at once.
    Error,
    /// Delay (default 3 s), then answer normally.
    Slow,
    /// `503` with `Retry-After: 30`.
    Unavailable,
    /// Close the connection without a response.
    Reset,
    /// Perform the operation, then close the connection without a response.
    LostResponse,
    /// `200` with a body that is not valid JSON (mock extension).
    Malformed,
}

impl FaultMode {
    /// Every mode.
    pub const ALL: [Self; 7] = [
        Self::Timeout,
        Self::Error,
        Self::Slow,
        Self::Unavailable,
        Self::Reset,
        Self::LostResponse,
        Self::Malformed,
    ];

    /// The wire name (`timeout`, `lost-response`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Timeout => "timeout",
            Self::Error => "error",
            Self::Slow => "slow",
            Self::Unavailable => "unavailable",
            Self::Reset => "reset",
            Self::LostResponse => "lost-response",
            Self::Malformed => "malformed",
        }
    }
}

impl fmt::Display for FaultMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for FaultMode {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        Self::ALL
            .into_iter()
            .find(|m| m.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| UnknownName(s.to_owned()))
    }
}

/// Body of `PUT /api/v1/kos/admin/faults` (docs/api.md §5.7): arm a scripted fault.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FaultRequest {
    /// An endpoint name (`bill-inquiry`, ...) or `*` for all.
    #[schema(example = "bill-inquiry")]
    pub endpoint: String,
    /// The fault to inject.
    pub mode: FaultMode,
    /// Number of consecutive calls to affect.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u32>,
    /// Or: affect every call for this many seconds (1–86400).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 1, maximum = 86400)]
    pub duration_seconds: Option<u64>,
    /// Delay for `timeout` / `slow` (at most 600000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(maximum = 600000)]
    pub delay_ms: Option<u64>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::de::DeserializeOwned;
    use serde_json::{Value, json};

    /// Parses `v` into `T`, serialises it back and requires the same JSON.
    fn round_trip<T: Serialize + DeserializeOwned>(v: Value) -> T {
        let t: T = serde_json::from_value(v.clone()).expect("deserialise");
        assert_eq!(serde_json::to_value(&t).expect("serialise"), v);
        t
    }

    #[test]
    fn bill_inquiry_request_and_success() {
        let req: BillInquiryRequest = round_trip(json!(
            { "lineNumber": "01012345678", "billingMonth": "202509", "requestId": "REQ_20250914_4F1A9C2B" }
        ));
        assert_eq!(req.billing_month.as_deref(), Some("202509"));
        let env: KosEnvelope<BillInquiryData> = round_trip(json!({
            "success": true, "resultCode": "0000", "resultMessage": "요금 조회가 완료되었습니다",
            "data": { "requestId": "REQ_20250914_4F1A9C2B", "procStatus": "SUCCESS", "resultCode": "0000", "resultMessage": "정상 처리되었습니다",
              "billInfo": { "lineNumber": "01012345678", "billingMonth": "202509", "productCode": "5G-STANDARD-001",
                            "productName": "5G 스탠다드 플랜", "monthlyFee": 69000, "usageFee": 12340, "discountAmount": 0,
                            "totalFee": 81340, "dataUsage": "37GB", "voiceUsage": "212분", "smsUsage": "41건",
                            "billStatus": "UNPAID", "dueDate": "20251025" },
              "customerInfo": { "customerName": "홍길동", "customerId": "CU202401001", "operatorCode": "KT", "lineStatus": "ACTIVE" } },
            "timestamp": "2025-09-14T10:32:11.120+09:00", "traceId": "abc"
        }));
        let data = env.data.expect("data");
        assert_eq!(data.bill_info.expect("bill").total_fee, 81340);
        assert_eq!(
            data.customer_info.expect("customer").customer_id,
            "CU202401001"
        );
    }

    #[test]
    fn bill_inquiry_failure_omits_bill() {
        let d: BillInquiryData = round_trip(json!(
            { "requestId": "R1", "procStatus": "FAILED", "resultCode": "1003", "resultMessage": "해당 월 요금 정보가 없습니다" }
        ));
        assert!(d.bill_info.is_none() && d.customer_info.is_none());
        // No billingMonth → omitted on output.
        let r: BillInquiryRequest =
            round_trip(json!({ "lineNumber": "01012345678", "requestId": "R" }));
        assert!(r.billing_month.is_none());
    }

    #[test]
    fn product_inquiry() {
        round_trip::<ProductInquiryRequest>(
            json!({ "lineNumber": "01012345678", "requestId": "R" }),
        );
        let d: ProductInquiryData = round_trip(json!({
            "requestId": "R", "procStatus": "SUCCESS", "resultCode": "0000", "resultMessage": "정상 처리되었습니다",
            "productInfo": { "lineNumber": "01012345678", "currentProductCode": "5G-STANDARD-001", "currentProductName": "5G 스탠다드 플랜",
                             "monthlyFee": 69000, "dataAllowance": "100GB", "voiceAllowance": "무제한", "smsAllowance": "무제한",
                             "productStatus": "ACTIVE", "contractDate": "2024-01-15T00:00:00+09:00", "operatorCode": "KT" },
            "customerInfo": { "customerName": "홍길동", "customerId": "CU202401001", "operatorCode": "KT", "lineStatus": "ACTIVE" }
        }));
        assert_eq!(d.product_info.expect("product").monthly_fee, 69000);
    }

    #[test]
    fn product_change() {
        round_trip::<ProductChangeRequest>(json!({
            "lineNumber": "01012345678", "currentProductCode": "5G-STANDARD-001",
            "targetProductCode": "5G-PREMIUM-001", "requestId": "PCR_1"
        }));
        let d: ProductChangeData = round_trip(json!({
            "requestId": "PCR_20250914_7C2D11AF", "resultCode": "0000", "resultMessage": "정상 처리되었습니다",
            "changeInfo": { "lineNumber": "01012345678", "previousProductCode": "5G-STANDARD-001", "previousProductName": "5G 스탠다드 플랜",
                            "newProductCode": "5G-PREMIUM-001", "newProductName": "5G 프리미엄 플랜", "effectiveDate": "20250914",
                            "changeStatus": "SUCCESS", "kosOrderNumber": "KOS202509141035042",
                            "estimatedCompletionTime": "2025-09-14T11:05:02+09:00" }
        }));
        assert_eq!(
            d.change_info.expect("change").kos_order_number,
            "KOS202509141035042"
        );
        let f: ProductChangeData = round_trip(json!(
            { "requestId": "PCR_1", "resultCode": "2007", "resultMessage": "요청 ID가 다른 요청에 사용되었습니다" }
        ));
        assert!(f.change_info.is_none());
    }

    #[test]
    fn available_months() {
        let env: KosEnvelope<AvailableMonthsData> = round_trip(json!({
            "success": true, "resultCode": "0000", "resultMessage": "데이터 보유 월 목록 조회가 완료되었습니다",
            "data": { "resultCode": "0000", "resultMessage": "정상 처리되었습니다", "lineNumber": "01012345678",
                      "availableMonths": ["2025-09", "2025-08", "2025-07", "2025-06", "2025-05", "2025-04"] },
            "timestamp": "2025-09-14T10:32:11.120+09:00", "traceId": "t"
        }));
        assert_eq!(env.data.expect("data").available_months.len(), 6);
        let fail: KosEnvelope<AvailableMonthsData> = round_trip(json!({
            "success": false, "resultCode": "1001", "resultMessage": "존재하지 않는 회선번호입니다",
            "data": { "resultCode": "1001", "resultMessage": "존재하지 않는 회선번호입니다", "availableMonths": [] },
            "timestamp": "2025-09-14T10:32:11.120+09:00", "traceId": "t"
        }));
        assert!(!fail.success);
    }

    #[test]
    fn product_list_is_snake_case() {
        let d: ProductListData = round_trip(json!({
            "result_code": "0000", "result_message": "상품 목록 조회가 완료되었습니다", "product_count": 1,
            "products": [ { "product_code": "5G-PREMIUM-001", "product_name": "5G 프리미엄 플랜", "product_type": "5G",
                            "monthly_fee": 89000, "data_allowance": -1, "voice_allowance": -1, "sms_allowance": -1,
                            "network_type": "5G", "status": "ACTIVE", "description": "5G 네트워크 무제한 프리미엄 요금제",
                            "operator_code": "KT", "data_allowance_text": "무제한", "voice_allowance_text": "무제한",
                            "sms_allowance_text": "무제한" } ]
        }));
        assert_eq!(d.products[0].data_allowance, -1);
    }

    #[test]
    fn service_auth() {
        round_trip::<ServiceAuthRequest>(
            json!({ "serviceName": "bill-inquiry-service", "apiKey": "k" }),
        );
        round_trip::<ServiceAuthData>(
            json!({ "accessToken": "opaque", "tokenType": "Bearer", "expiresIn": 3600 }),
        );
    }

    #[test]
    fn envelope_without_data_and_tolerant_of_missing_trace() {
        let env: KosEnvelope<Value> = serde_json::from_value(
            json!({ "success": false, "resultCode": "9999", "resultMessage": "시스템 오류가 발생했습니다" }),
        )
        .expect("parse");
        assert!(env.data.is_none());
        let out = serde_json::to_value(&env).expect("serialise");
        assert!(out.get("data").is_none());
    }

    #[test]
    fn names() {
        for e in KosEndpoint::ALL {
            assert_eq!(e.as_str().parse::<KosEndpoint>(), Ok(e));
            assert_eq!(serde_json::to_value(e).expect("ser"), json!(e.as_str()));
        }
        for m in FaultMode::ALL {
            assert_eq!(m.as_str().parse::<FaultMode>(), Ok(m));
            assert_eq!(serde_json::to_value(m).expect("ser"), json!(m.as_str()));
        }
        assert!("bogus".parse::<KosEndpoint>().is_err());
        let f: FaultRequest = round_trip(
            json!({ "endpoint": "bill-inquiry", "mode": "timeout", "count": 3, "delayMs": 6000 }),
        );
        assert_eq!(f.mode, FaultMode::Timeout);
        assert_eq!(
            super::super::codes::message("2006"),
            Some("현재 상품 코드가 일치하지 않습니다")
        );
    }
}
