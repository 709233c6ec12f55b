//! `GET /api/v1/products/available` (docs/api.md §4.4).

use axum::extract::State;
use phonebill_common::auth::AuthUser;
use phonebill_common::envelope::Envelope;
use phonebill_common::error::ApiError;
use phonebill_common::extract::Query;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{AppState, authorize};
use crate::domain::Product;

/// Query.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
pub struct AvailableQuery {
    /// Excluded from the list when given.
    pub current_product_code: Option<String>,
}

/// docs/api.md §4.4 `data`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AvailableData {
    /// Active products, fee descending.
    pub products: Vec<Product>,
    /// Their number.
    pub total_count: usize,
}

/// Products on sale.
#[utoipa::path(get, path = "/api/v1/products/available", params(AvailableQuery), tag = "products",
    summary = "Plans on sale a customer can move to, dearest first, optionally without their current plan",
    security(("bearer" = [])),
    responses((status = 200, description = "Products", content((phonebill_common::openapi::Enveloped<AvailableData> = "application/json", example = crate::routes::examples::available))),
        (status = 403, body = phonebill_common::error::ErrorBody), (status = 503, body = phonebill_common::error::ErrorBody)))]
pub async fn list_available(
    State(state): State<AppState>,
    user: AuthUser,
    Query(q): Query<AvailableQuery>,
) -> Result<Envelope<AvailableData>, ApiError> {
    authorize(&user)?;
    let catalog = state.service.catalog(true).await?;
    let products = catalog
        .value
        .map(|c| c.available(q.current_product_code.as_deref().map(str::trim)))
        .unwrap_or_default();
    Ok(Envelope::ok(AvailableData {
        total_count: products.len(),
        products,
    })
    .message("가입 가능한 상품 목록을 조회했습니다"))
}
