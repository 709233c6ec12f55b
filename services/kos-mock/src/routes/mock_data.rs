//! Mock-data creation and lookup (docs/api.md §5.6) in the legacy `ApiResponse` shape, plus a bulk
//! extension for load tests (`POST /api/v1/kos/mock-datas/bulk`).

use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::response::Response;
use http::StatusCode;
use phonebill_common::line::LineNumber;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::line_request::today;
use crate::domain::bills;
use crate::domain::{Line, seed};
use crate::reply::{self, ApiResponse, LegacyJson};
use crate::state::AppState;
use phonebill_common::kos::paths;

const CREATED: &str = "Mock 데이터가 성공적으로 생성되었습니다";
const DISABLED: &str = "Mock 데이터 생성 권한이 없습니다";
const READ_DISABLED: &str = "Mock 데이터 조회 권한이 없습니다";

/// Creation body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreateMockData {
    /// Customer id, 1–20 characters.
    #[schema(example = "123456aB3dE5fG7hI9jK")]
    pub customer_id: Option<String>,
    /// 11 digits (dashes accepted).
    #[schema(example = "01012349999")]
    pub line_number: Option<String>,
    /// Default `고객<last 4 digits>`.
    pub customer_name: Option<String>,
    /// An ACTIVE KT product; default by hash of the line (docs/api.md §5.6).
    pub product_code: Option<String>,
}

/// Creation answer (snake_case).
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedMockData {
    /// Customer id.
    pub customer_id: String,
    /// 11 digits.
    pub line_number: String,
    /// Product given.
    pub current_product_code: String,
    /// Its name.
    pub current_product_name: String,
    /// Bills available (always 6).
    pub bill_count_created: u32,
    /// Text.
    pub message: String,
}

fn bad(message: impl Into<String>) -> Response {
    reply::legacy_fail(StatusCode::BAD_REQUEST, "4000", message)
}

/// The product a new line gets: `productCode` (must be an ACTIVE KT product) or the default.
fn pick_product(
    app: &AppState,
    line11: &str,
    requested: Option<&str>,
) -> Result<crate::domain::Product, Response> {
    let catalog = app.catalog().ok_or_else(reply::system_error)?;
    let code = requested
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| seed::default_product(line11));
    match catalog.get(code) {
        Some(p) if p.is_active() && p.operator_code == "KT" => Ok(p.clone()),
        _ => Err(bad(format!(
            "입력값이 올바르지 않습니다: productCode {code}는 사용할 수 없는 상품입니다"
        ))),
    }
}

/// `POST /api/v1/kos/mock-datas`: creates a customer and line (registration page).
#[utoipa::path(
    post,
    path = paths::MOCK_DATAS,
    summary = "Creates a demo customer and line, for the local registration page",
    tag = "kos-mock-data",
    request_body(content = CreateMockData, example = json!({ "customerId": "CU202409999", "lineNumber": "01012349999" })),
    responses(
        (status = 200, description = "Created", body = ApiResponse<CreatedMockData>, example = json!({ "success": true, "message": "Mock 데이터가 성공적으로 생성되었습니다", "data": { "customer_id": "CU202409999", "line_number": "01012349999", "current_product_code": "5G-STANDARD-001", "current_product_name": "5G 스탠다드 플랜", "bill_count_created": 6, "message": "Mock 데이터가 성공적으로 생성되었습니다" }, "timestamp": 1_757_813_531_482_i64 })),
        (status = 400, description = "`errorCode` 4000: validation, or the line already exists", body = ApiResponse<String>),
        (status = 403, description = "`errorCode` 4030: KOS_MOCK_DATA_ENABLED=false", body = ApiResponse<String>),
    )
)]
pub async fn create_mock_data(
    State(app): State<Arc<AppState>>,
    LegacyJson(body): LegacyJson<CreateMockData>,
) -> Response {
    if !app.config.mock_data_enabled {
        return reply::legacy_fail(StatusCode::FORBIDDEN, "4030", DISABLED);
    }
    let Some(customer_id) = body
        .customer_id
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty() && s.chars().count() <= 20)
    else {
        return bad("입력값이 올바르지 않습니다: customerId는 1~20자여야 합니다");
    };
    let Some(line) = body.line_number.as_deref().and_then(LineNumber::parse) else {
        return bad("입력값이 올바르지 않습니다: lineNumber는 010으로 시작하는 11자리여야 합니다");
    };
    let name = match body
        .customer_name
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
    {
        Some(n) if n.chars().count() > 50 => {
            return bad("입력값이 올바르지 않습니다: customerName은 50자 이하여야 합니다");
        }
        Some(n) => n,
        None => seed::default_customer_name(line.as_str()),
    };
    let product = match pick_product(&app, line.as_str(), body.product_code.as_deref()) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let new = Line {
        line_number: line.as_str().to_owned(),
        customer_id: customer_id.clone(),
        customer_name: name,
        operator_code: "KT".to_owned(),
        current_product_code: product.code.clone(),
        initial_product_code: product.code.clone(),
        line_status: "ACTIVE".to_owned(),
        contract_date: seed::created_contract_date(today()),
    };
    match app.store.create_lines(std::slice::from_ref(&new)).await {
        Ok(0) => bad(format!(
            "이미 존재하는 고객 정보입니다: {customer_id}, {}",
            line.as_str()
        )),
        Ok(_) => reply::legacy_ok(
            CREATED,
            CreatedMockData {
                customer_id,
                line_number: new.line_number,
                current_product_code: product.code,
                current_product_name: product.name,
                bill_count_created: bills::WINDOW as u32,
                message: CREATED.to_owned(),
            },
        ),
        Err(e) => reply::store_error(&e),
    }
}

/// `POST /api/v1/mock-datas`: alias of `POST /api/v1/kos/mock-datas`.
#[utoipa::path(
    post,
    path = "/api/v1/mock-datas",
    summary = "Creates a demo customer and line (alias path), for the local registration page",
    tag = "kos-mock-data",
    request_body(content = CreateMockData, example = json!({ "customerId": "CU202409999", "lineNumber": "01012349999" })),
    responses(
        (status = 200, description = "Same as `POST /api/v1/kos/mock-datas`", body = ApiResponse<CreatedMockData>, example = json!({ "success": true, "message": "Mock 데이터가 성공적으로 생성되었습니다", "data": { "customer_id": "CU202409999", "line_number": "01012349999", "current_product_code": "5G-STANDARD-001", "current_product_name": "5G 스탠다드 플랜", "bill_count_created": 6, "message": "Mock 데이터가 성공적으로 생성되었습니다" }, "timestamp": 1_757_813_531_482_i64 })),
        (status = 400, description = "`errorCode` 4000: validation, or the line already exists", body = ApiResponse<String>),
        (status = 403, description = "`errorCode` 4030: KOS_MOCK_DATA_ENABLED=false", body = ApiResponse<String>),
    )
)]
pub async fn create_mock_data_alias(
    state: State<Arc<AppState>>,
    body: LegacyJson<CreateMockData>,
) -> Response {
    create_mock_data(state, body).await
}

/// Bulk creation body (extension).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BulkMockData {
    /// Number of consecutive lines, 1..=`KOS_BULK_MAX` (default 10,000).
    #[schema(example = 5000)]
    pub count: Option<u32>,
    /// First line number (11 digits, dashes accepted).
    #[schema(example = "01050000000")]
    pub start_line_number: Option<String>,
    /// Product for every line; default by hash of each line.
    pub product_code: Option<String>,
}

/// Bulk creation answer (snake_case, like creation).
#[derive(Debug, Serialize, ToSchema)]
pub struct BulkCreated {
    /// Lines asked for.
    pub requested_count: u32,
    /// Lines created.
    pub created_count: u64,
    /// Lines that existed already (left untouched).
    pub skipped_count: u64,
    /// First line.
    pub first_line_number: String,
    /// Last line.
    pub last_line_number: String,
}

/// `POST /api/v1/kos/mock-datas/bulk` (extension for load tests): creates `count` consecutive
/// lines starting at `startLineNumber` in one transaction with batched inserts. Customers get
/// id `BK<line>` and name `고객<last 4 digits>`; existing lines are skipped.
#[utoipa::path(
    post,
    path = paths::MOCK_DATAS_BULK,
    summary = "Creates many consecutive demo lines in one transaction, for load tests",
    tag = "kos-mock-data",
    request_body(content = BulkMockData, example = json!({ "count": 5000, "startLineNumber": "01050000000" })),
    responses(
        (status = 200, description = "Created", body = ApiResponse<BulkCreated>),
        (status = 400, description = "`errorCode` 4000", body = ApiResponse<String>),
        (status = 403, description = "`errorCode` 4030", body = ApiResponse<String>),
    )
)]
pub async fn create_mock_data_bulk(
    State(app): State<Arc<AppState>>,
    LegacyJson(body): LegacyJson<BulkMockData>,
) -> Response {
    if !app.config.mock_data_enabled {
        return reply::legacy_fail(StatusCode::FORBIDDEN, "4030", DISABLED);
    }
    let max = app.config.bulk_max;
    let Some(count) = body.count.filter(|c| (1..=max).contains(c)) else {
        return bad(format!(
            "입력값이 올바르지 않습니다: count는 1~{max}이어야 합니다"
        ));
    };
    let Some(start) = body
        .start_line_number
        .as_deref()
        .and_then(LineNumber::parse)
    else {
        return bad(
            "입력값이 올바르지 않습니다: startLineNumber는 010으로 시작하는 11자리여야 합니다",
        );
    };
    // 010 + 8 digits: the suffix is the number; the last line must still be 8 digits.
    let first: u64 = start.as_str()[3..].parse().unwrap_or(0);
    let last = first + u64::from(count) - 1;
    if last > 99_999_999 {
        return bad("입력값이 올바르지 않습니다: 회선번호 범위를 벗어납니다");
    }
    let fixed = match body.product_code.as_deref() {
        Some(code) => match pick_product(&app, start.as_str(), Some(code)) {
            Ok(p) => Some(p.code),
            Err(r) => return r,
        },
        None => None,
    };
    let contract = seed::created_contract_date(today());
    let lines: Vec<Line> = (first..=last)
        .map(|n| {
            let line11 = format!("010{n:08}");
            let product = fixed
                .clone()
                .unwrap_or_else(|| seed::default_product(&line11).to_owned());
            Line {
                customer_id: format!("BK{line11}"),
                customer_name: seed::default_customer_name(&line11),
                operator_code: "KT".to_owned(),
                current_product_code: product.clone(),
                initial_product_code: product,
                line_status: "ACTIVE".to_owned(),
                contract_date: contract,
                line_number: line11,
            }
        })
        .collect();
    match app.store.create_lines(&lines).await {
        Ok(created) => reply::legacy_ok(
            CREATED,
            BulkCreated {
                requested_count: count,
                created_count: created,
                skipped_count: u64::from(count) - created,
                first_line_number: format!("010{first:08}"),
                last_line_number: format!("010{last:08}"),
            },
        ),
        Err(e) => reply::store_error(&e),
    }
}

/// Query of the customer lookups.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct CustomerQuery {
    /// Customer id (when given, must match the line's).
    pub customer_id: Option<String>,
    /// Line number (11 digits, dashes accepted).
    pub line_number: Option<String>,
}

/// Customer product answer.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CustomerProduct {
    customer_id: String,
    line_number: String,
    operator_code: String,
    line_status: String,
    contract_date: String,
    current_product_code: String,
    current_product_name: String,
    monthly_fee: i64,
    data_allowance: String,
    voice_allowance: String,
    sms_allowance: String,
    product_status: String,
}

/// One bill of the customer bill answer.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CustomerBillItem {
    billing_month: String,
    product_code: String,
    product_name: String,
    monthly_fee: i64,
    usage_fee: i64,
    total_fee: i64,
    data_usage: String,
    voice_usage: String,
    sms_usage: String,
    bill_status: String,
    due_date: String,
}

/// Customer bills answer.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CustomerBills {
    customer_id: String,
    line_number: String,
    bill_count: usize,
    bills: Vec<CustomerBillItem>,
}

/// The line named by the query, or the `not found` answer with `code`.
async fn find(
    app: &AppState,
    q: Result<Query<CustomerQuery>, QueryRejection>,
    code: &str,
) -> Result<Line, Response> {
    // The OpenAPI document always promised 4030 here; reads used to answer anyway (issue 17).
    if !app.config.mock_data_enabled {
        return Err(reply::legacy_fail(
            StatusCode::FORBIDDEN,
            "4030",
            READ_DISABLED,
        ));
    }
    let not_found =
        |code: &str| reply::legacy_fail(StatusCode::OK, code, "고객 정보를 찾을 수 없습니다");
    let Ok(Query(q)) = q else {
        return Err(bad("입력값이 올바르지 않습니다: 잘못된 조회 조건입니다"));
    };
    let Some(line) = q.line_number.as_deref().and_then(LineNumber::parse) else {
        return Err(bad(
            "입력값이 올바르지 않습니다: lineNumber는 010으로 시작하는 11자리여야 합니다",
        ));
    };
    match app.store.line(line.as_str()).await {
        Ok(Some(l))
            if q.customer_id
                .as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .is_none_or(|c| c == l.customer_id) =>
        {
            Ok(l)
        }
        Ok(_) => Err(not_found(code)),
        Err(e) => Err(reply::store_error(&e)),
    }
}

/// `GET /api/v1/kos/mock-datas/customer/product`: a line's customer and product.
#[utoipa::path(
    get,
    path = "/api/v1/kos/mock-datas/customer/product",
    summary = "Shows a line's customer and current product, for tools",
    tag = "kos-mock-data",
    params(CustomerQuery),
    responses(
        (status = 200, description = "Found, or `success:false` with `errorCode` 1001", body = ApiResponse<CustomerProduct>),
        (status = 400, description = "`errorCode` 4000: missing or malformed `customerId` / `lineNumber`", body = ApiResponse<String>),
        (status = 403, description = "`errorCode` 4030: KOS_MOCK_DATA_ENABLED=false", body = ApiResponse<String>),
    )
)]
pub async fn get_customer_product(
    State(app): State<Arc<AppState>>,
    q: Result<Query<CustomerQuery>, QueryRejection>,
) -> Response {
    let line = match find(&app, q, "1001").await {
        Ok(l) => l,
        Err(r) => return r,
    };
    let Some(catalog) = app.catalog() else {
        return reply::system_error();
    };
    let Some(p) = catalog.get(&line.current_product_code) else {
        return reply::legacy_fail(StatusCode::OK, "1001", "상품 정보를 찾을 수 없습니다");
    };
    reply::legacy_ok(
        "고객 상품 정보 조회가 완료되었습니다",
        CustomerProduct {
            customer_id: line.customer_id,
            line_number: line.line_number,
            operator_code: line.operator_code,
            line_status: line.line_status,
            contract_date: line.contract_date.format("%Y-%m-%d").to_string(),
            current_product_code: p.code.clone(),
            current_product_name: p.name.clone(),
            monthly_fee: p.monthly_fee,
            data_allowance: p.data_allowance.clone(),
            voice_allowance: p.voice_allowance.clone(),
            sms_allowance: p.sms_allowance.clone(),
            product_status: p.status.clone(),
        },
    )
}

/// `GET /api/v1/mock-datas/customer/product`: alias.
#[utoipa::path(
    get,
    path = "/api/v1/mock-datas/customer/product",
    summary = "Shows a line's customer and current product (alias path), for tools",
    tag = "kos-mock-data",
    params(CustomerQuery),
    responses(
        (status = 200, description = "Same as `/api/v1/kos/mock-datas/customer/product`", body = ApiResponse<CustomerProduct>),
        (status = 400, description = "`errorCode` 4000: missing or malformed `customerId` / `lineNumber`", body = ApiResponse<String>),
        (status = 403, description = "`errorCode` 4030: KOS_MOCK_DATA_ENABLED=false", body = ApiResponse<String>),
    )
)]
pub async fn get_customer_product_alias(
    state: State<Arc<AppState>>,
    q: Result<Query<CustomerQuery>, QueryRejection>,
) -> Response {
    get_customer_product(state, q).await
}

/// `GET /api/v1/kos/mock-datas/customer/bill`: a line's six bills, newest first.
#[utoipa::path(
    get,
    path = "/api/v1/kos/mock-datas/customer/bill",
    summary = "Lists a line's six bills, newest first, for tools",
    tag = "kos-mock-data",
    params(CustomerQuery),
    responses(
        (status = 200, description = "Found, or `success:false` with `errorCode` 1002", body = ApiResponse<CustomerBills>),
        (status = 400, description = "`errorCode` 4000: missing or malformed `customerId` / `lineNumber`", body = ApiResponse<String>),
        (status = 403, description = "`errorCode` 4030: KOS_MOCK_DATA_ENABLED=false", body = ApiResponse<String>),
    )
)]
pub async fn get_customer_bill(
    State(app): State<Arc<AppState>>,
    q: Result<Query<CustomerQuery>, QueryRejection>,
) -> Response {
    let line = match find(&app, q, "1002").await {
        Ok(l) => l,
        Err(r) => return r,
    };
    let Some(catalog) = app.catalog() else {
        return reply::system_error();
    };
    let today = today();
    let current = bills::YearMonth::of(today);
    let items: Vec<CustomerBillItem> = bills::window(today)
        .into_iter()
        .filter_map(|m| {
            let p = catalog.get(bills::billed_product_code(&line, m, current))?;
            let b = bills::compute(&line, p, m, current);
            Some(CustomerBillItem {
                billing_month: b.billing_month,
                product_code: b.product_code,
                product_name: b.product_name,
                monthly_fee: b.monthly_fee,
                usage_fee: b.usage_fee,
                total_fee: b.total_fee,
                data_usage: b.data_usage,
                voice_usage: b.voice_usage,
                sms_usage: b.sms_usage,
                bill_status: b.bill_status,
                due_date: b.due_date,
            })
        })
        .collect();
    reply::legacy_ok(
        "고객 요금 정보 조회가 완료되었습니다",
        CustomerBills {
            customer_id: line.customer_id,
            line_number: line.line_number,
            bill_count: items.len(),
            bills: items,
        },
    )
}

/// `GET /api/v1/mock-datas/customer/bill`: alias.
#[utoipa::path(
    get,
    path = "/api/v1/mock-datas/customer/bill",
    summary = "Lists a line's six bills (alias path), for tools",
    tag = "kos-mock-data",
    params(CustomerQuery),
    responses(
        (status = 200, description = "Same as `/api/v1/kos/mock-datas/customer/bill`", body = ApiResponse<CustomerBills>),
        (status = 400, description = "`errorCode` 4000: missing or malformed `customerId` / `lineNumber`", body = ApiResponse<String>),
        (status = 403, description = "`errorCode` 4030: KOS_MOCK_DATA_ENABLED=false", body = ApiResponse<String>),
    )
)]
pub async fn get_customer_bill_alias(
    state: State<Arc<AppState>>,
    q: Result<Query<CustomerQuery>, QueryRejection>,
) -> Response {
    get_customer_bill(state, q).await
}
