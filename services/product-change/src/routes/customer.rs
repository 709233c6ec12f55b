//! `GET /api/v1/products/customer` (+ path alias) and `GET /api/v1/products/menu` (docs/api.md §4.2, 4.3).

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, header};
use phonebill_common::auth::AuthUser;
use phonebill_common::envelope::Envelope;
use phonebill_common::error::{ApiError, ErrorCode};
use phonebill_common::extract::{Path, Query};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{AppState, authorize, own_line};
use crate::domain::{ContractInfo, Product, contract_info};

/// Query of the customer look-up.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
pub struct CustomerQuery {
    /// Line number, dashes optional.
    pub line_number: Option<String>,
}

/// docs/api.md §4.2 `data`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CustomerData {
    /// Customer id.
    pub customer_id: String,
    /// 11 digits.
    pub line_number: String,
    /// Name.
    pub customer_name: String,
    /// Current product.
    pub current_product: Product,
    /// `ACTIVE` | `SUSPENDED` | `TERMINATED`.
    pub line_status: String,
    /// Contract figures.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contract_info: Option<ContractInfo>,
    /// True when served from the stale copy because KOS failed.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub stale: bool,
    /// When the stale copy was cached.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cached_at: Option<String>,
}

/// Customer, line and current product.
#[utoipa::path(get, path = "/api/v1/products/customer", params(CustomerQuery), tag = "products",
    summary = "A customer's line and current plan, with contract end and early-termination fee, for the product-change screen of the line's owner",
    security(("bearer" = [])),
    responses((status = 200, description = "Customer", content((phonebill_common::openapi::Enveloped<CustomerData> = "application/json", example = crate::routes::examples::customer))),
        (status = 400, body = phonebill_common::error::ErrorBody), (status = 403, body = phonebill_common::error::ErrorBody),
        (status = 404, body = phonebill_common::error::ErrorBody), (status = 503, body = phonebill_common::error::ErrorBody),
        (status = 504, body = phonebill_common::error::ErrorBody)))]
pub async fn get_customer(
    State(state): State<AppState>,
    user: AuthUser,
    Query(q): Query<CustomerQuery>,
) -> Result<Response, ApiError> {
    customer(&state, &user, q.line_number.as_deref()).await
}

/// Alias of the query form.
#[utoipa::path(get, path = "/api/v1/products/customer/{lineNumber}", tag = "products",
    summary = "The same customer view with the line in the path (alias of the query form), for the line's owner",
    params(("lineNumber" = String, Path, description = "line number")), security(("bearer" = [])),
    responses((status = 200, description = "Customer", content((phonebill_common::openapi::Enveloped<CustomerData> = "application/json", example = crate::routes::examples::customer))),
        (status = 403, body = phonebill_common::error::ErrorBody), (status = 404, body = phonebill_common::error::ErrorBody)))]
pub async fn get_customer_by_path(
    State(state): State<AppState>,
    user: AuthUser,
    Path(line): Path<String>,
) -> Result<Response, ApiError> {
    customer(&state, &user, Some(&line)).await
}

async fn customer(
    state: &AppState,
    user: &AuthUser,
    raw: Option<&str>,
) -> Result<Response, ApiError> {
    authorize(user)?;
    let line = own_line(user, raw)?;
    let fetched = state.service.line(&line, true).await?;
    let snapshot = fetched
        .value
        .ok_or_else(|| ApiError::new(ErrorCode::LineNotFound))?;
    let catalog = state.service.catalog(true).await.ok().and_then(|c| c.value);
    let today = state
        .service
        .now()
        .with_timezone(&phonebill_common::time::kst())
        .date_naive();
    let data = CustomerData {
        customer_id: snapshot.customer_id.clone(),
        line_number: snapshot.line_number.clone(),
        customer_name: snapshot.customer_name.clone(),
        current_product: snapshot.current_product(catalog.as_deref()),
        line_status: snapshot.line_status.clone(),
        contract_info: contract_info(&snapshot.contract_date, today),
        stale: fetched.stale_since.is_some(),
        cached_at: fetched.stale_since.map(phonebill_common::time::format_kst),
    };
    let mut env = Envelope::ok(data).message("고객 정보를 조회했습니다");
    if fetched.stale_since.is_some() {
        env = env.header(header::WARNING, HeaderValue::from_static("110 - \"stale\""));
    }
    Ok(env.into_response())
}

/// One menu entry.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MenuItem {
    /// `PRODUCT_CHANGE` / `CHANGE_HISTORY`.
    pub menu_id: &'static str,
    /// Display name.
    pub menu_name: &'static str,
    /// Enabled.
    pub available: bool,
}

/// docs/api.md §4.3 `data`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MenuData {
    /// Customer id (token).
    pub customer_id: String,
    /// The caller's first line.
    pub line_number: String,
    /// Omitted when KOS is unavailable.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current_product: Option<Product>,
    /// Menu entries.
    pub menu_items: Vec<MenuItem>,
}

/// The product-change menu of the caller's first line; never fails because of KOS.
#[utoipa::path(get, path = "/api/v1/products/menu", tag = "products", security(("bearer" = [])),
    summary = "The product-change menu and current plan of the caller's first line; answers even when KOS is down",
    responses((status = 200, description = "Menu", content((phonebill_common::openapi::Enveloped<MenuData> = "application/json", example = crate::routes::examples::menu))), (status = 403, body = phonebill_common::error::ErrorBody)))]
pub async fn get_menu(
    State(state): State<AppState>,
    user: AuthUser,
) -> Result<Envelope<MenuData>, ApiError> {
    authorize(&user)?;
    let line = user.lines().into_iter().next();
    let mut current = None;
    if let Some(l) = &line
        && let Ok(f) = state.service.line(l, true).await
        && let Some(s) = f.value
    {
        let catalog = state.service.catalog(true).await.ok().and_then(|c| c.value);
        current = Some(s.current_product(catalog.as_deref()));
    }
    Ok(Envelope::ok(MenuData {
        customer_id: user.customer_id().to_owned(),
        line_number: line.map(|l| l.as_str().to_owned()).unwrap_or_default(),
        current_product: current,
        menu_items: vec![
            MenuItem {
                menu_id: "PRODUCT_CHANGE",
                menu_name: "상품 변경",
                available: true,
            },
            MenuItem {
                menu_id: "CHANGE_HISTORY",
                menu_name: "변경 이력",
                available: true,
            },
        ],
    })
    .message("상품변경 메뉴를 조회했습니다"))
}
