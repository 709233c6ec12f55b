//! The KOS wire contract (docs/api.md §5), shared by the KOS mock (which serves it) and the KOS client
//! in bill-inquiry / product-change (which calls it).
//!
//! Only types and constants live here (and the record of a call the callers log, [`KosCallEvent`]): the envelope, request and response bodies, result codes,
//! paths, header names and the endpoint names used by the mock's simulation and fault
//! configuration. No HTTP code. KOS uses its own envelope (`resultCode`/`resultMessage`), not the
//! docs/api.md §1.3 one, and business failures are HTTP 200 with a non-`0000` code.

pub mod call_log;
pub mod client;
pub mod wire;

pub use call_log::KosCallEvent;
pub use wire::*;

/// KOS result codes (docs/api.md §5.2, §5.3). Strings on the wire; compare with these constants.
pub mod codes {
    /// Success.
    pub const SUCCESS: &str = "0000";

    /// Bill inquiry / available months: no such line.
    pub const BILL_LINE_NOT_FOUND: &str = "1001";
    /// Bill inquiry / available months: line is not active.
    pub const BILL_LINE_NOT_ACTIVE: &str = "1002";
    /// Bill inquiry: no bill for that month (outside the six-month window).
    pub const BILL_NOT_FOUND: &str = "1003";

    /// Product change: no such line.
    pub const CHANGE_LINE_NOT_FOUND: &str = "2001";
    /// Product change: line is not active.
    pub const CHANGE_LINE_NOT_ACTIVE: &str = "2002";
    /// Product change: unknown target product code.
    pub const CHANGE_PRODUCT_NOT_FOUND: &str = "2003";
    /// Product change: target product is discontinued.
    pub const CHANGE_PRODUCT_DISCONTINUED: &str = "2004";
    /// Product change: target product belongs to another operator.
    pub const CHANGE_OPERATOR_MISMATCH: &str = "2005";
    /// Product change: `currentProductCode` is not the line's product.
    pub const CHANGE_CURRENT_PRODUCT_MISMATCH: &str = "2006";
    /// Product change: `requestId` already used for a different request body.
    pub const CHANGE_REQUEST_ID_REUSED: &str = "2007";
    /// Product change: processing error.
    pub const CHANGE_FAILED: &str = "2099";

    /// Product inquiry: no such line.
    pub const PRODUCT_LINE_NOT_FOUND: &str = "3001";
    /// Product inquiry: reserved (non-active lines are answered as data, docs/api.md §5.3.2).
    pub const PRODUCT_LINE_NOT_ACTIVE_RESERVED: &str = "3002";
    /// Product inquiry: the line's product is unknown.
    pub const PRODUCT_INFO_NOT_FOUND: &str = "3003";

    /// SMS send: no such line.
    pub const SMS_LINE_NOT_FOUND: &str = "4001";
    /// SMS send: the line is not active.
    pub const SMS_LINE_NOT_ACTIVE: &str = "4002";

    /// Request validation: a field fails its rule (HTTP 400).
    pub const VALIDATION_FAILED: &str = "9001";
    /// Request validation: the body is not readable JSON (HTTP 400).
    pub const UNREADABLE_JSON: &str = "9003";
    /// Request validation: a parameter has the wrong type (HTTP 400).
    pub const BAD_PARAMETER_TYPE: &str = "9004";
    /// Missing or invalid service credentials (HTTP 401).
    pub const UNAUTHORIZED: &str = "9401";
    /// Valid credentials, but the service is not on the allowed list (HTTP 403). A mock
    /// extension: docs/api.md §5.8 asks for a 403 in the KOS envelope without naming a code.
    pub const FORBIDDEN: &str = "9403";
    /// Rate limit exceeded (HTTP 429, `Retry-After`).
    pub const RATE_LIMITED: &str = "9429";
    /// System error (HTTP 500, also simulated failures and the `unavailable` fault's 503).
    pub const SYSTEM_ERROR: &str = "9999";

    /// The standard Korean message for a result code (docs/api.md §5), or `None` for an unknown code.
    pub fn message(code: &str) -> Option<&'static str> {
        Some(match code {
            SUCCESS => "정상 처리되었습니다",
            BILL_LINE_NOT_FOUND
            | CHANGE_LINE_NOT_FOUND
            | PRODUCT_LINE_NOT_FOUND
            | SMS_LINE_NOT_FOUND => "존재하지 않는 회선번호입니다",
            BILL_LINE_NOT_ACTIVE
            | CHANGE_LINE_NOT_ACTIVE
            | PRODUCT_LINE_NOT_ACTIVE_RESERVED
            | SMS_LINE_NOT_ACTIVE => "비활성 상태의 회선입니다",
            BILL_NOT_FOUND => "해당 월 요금 정보가 없습니다",
            CHANGE_PRODUCT_NOT_FOUND => "존재하지 않는 상품 코드입니다",
            CHANGE_PRODUCT_DISCONTINUED => "판매가 중단된 상품입니다",
            CHANGE_OPERATOR_MISMATCH => "다른 통신사업자 상품으로는 변경할 수 없습니다",
            CHANGE_CURRENT_PRODUCT_MISMATCH => "현재 상품 코드가 일치하지 않습니다",
            CHANGE_REQUEST_ID_REUSED => "요청 ID가 다른 요청에 사용되었습니다",
            CHANGE_FAILED => "상품 변경 처리 중 오류가 발생했습니다",
            PRODUCT_INFO_NOT_FOUND => "상품 정보를 찾을 수 없습니다",
            VALIDATION_FAILED | UNREADABLE_JSON | BAD_PARAMETER_TYPE => {
                "입력값이 올바르지 않습니다"
            }
            UNAUTHORIZED => "서비스 인증에 실패했습니다",
            FORBIDDEN => "허용되지 않은 서비스입니다",
            RATE_LIMITED => "요청 한도를 초과했습니다",
            SYSTEM_ERROR => "시스템 오류가 발생했습니다",
            _ => return None,
        })
    }
}

/// KOS paths (docs/api.md §5.1): the as-built primary paths and the seed's aliases.
pub mod paths {
    /// `POST` bill inquiry.
    pub const BILL_INQUIRY: &str = "/api/v1/kos/bill/inquiry";
    /// `POST` bill inquiry, seed alias.
    pub const BILL_INQUIRY_ALIAS: &str = "/api/kos/bill-inquiry";
    /// `GET` available months; append `/{lineNumber}`.
    pub const AVAILABLE_MONTHS: &str = "/api/v1/kos/bill/available-months";
    /// `POST` product inquiry.
    pub const PRODUCT_INQUIRY: &str = "/api/v1/kos/product/inquiry";
    /// `POST` product change.
    pub const PRODUCT_CHANGE: &str = "/api/v1/kos/product/change";
    /// `POST` product change, seed alias.
    pub const PRODUCT_CHANGE_ALIAS: &str = "/api/kos/product-change";
    /// `GET` product list.
    pub const PRODUCT_LIST: &str = "/api/v1/kos/product/list";
    /// `POST` service token (seed path).
    pub const AUTH: &str = "/api/kos/auth";
    /// `POST` service token, alias.
    pub const AUTH_ALIAS: &str = "/api/v1/kos/auth";
    /// `POST` mock-data creation.
    pub const MOCK_DATAS: &str = "/api/v1/kos/mock-datas";
    /// `POST` bulk mock-data creation (mock extension for load tests).
    pub const MOCK_DATAS_BULK: &str = "/api/v1/kos/mock-datas/bulk";
    /// `POST` a text message to a line (the registration code; docs/api.md §5).
    pub const SMS_SEND: &str = "/api/v1/kos/sms/send";
    /// `GET/DELETE` the mock's SMS outbox (service key only; tests read codes there).
    pub const ADMIN_SMS_OUTBOX: &str = "/api/v1/kos/admin/sms-outbox";
    /// `GET/PUT/DELETE` scripted faults.
    pub const ADMIN_FAULTS: &str = "/api/v1/kos/admin/faults";
    /// `GET/PUT` simulation settings.
    pub const ADMIN_SIMULATION: &str = "/api/v1/kos/admin/simulation";
}

/// Header names of the KOS contract.
pub mod headers {
    /// Per-request fault injection (docs/api.md §5.7).
    pub const FAULT: &str = "x-kos-fault";
    /// Delay for the `timeout` / `slow` faults, in milliseconds.
    pub const FAULT_DELAY_MS: &str = "x-kos-fault-delay-ms";
    /// Calling service's name (docs/api.md §5.8); also the rate-limit key.
    pub const SERVICE_NAME: &str = "x-service-name";
}
