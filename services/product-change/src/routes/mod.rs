//! HTTP routes of docs/api.md §4: one module per resource; handlers parse the wire into domain types,
//! authorise from the token (`PRODUCT_CHANGE`, own lines), call [`crate::service`], and map.

pub mod change;
pub mod customer;
pub mod history;
pub mod products;

use axum::Router;
use axum::extract::FromRef;
use axum::routing::{get, post};
use phonebill_common::auth::{AuthUser, Permission, TokenVerifier};
use phonebill_common::error::{ApiError, ErrorCode};
use phonebill_common::line::LineNumber;

use crate::service::ProductService;

/// Handler state.
#[derive(Clone, Debug)]
pub struct AppState {
    /// The use cases.
    pub service: ProductService,
    /// Token verification.
    pub verifier: TokenVerifier,
}

impl FromRef<AppState> for TokenVerifier {
    fn from_ref(s: &AppState) -> Self {
        s.verifier.clone()
    }
}

/// The business routes with state applied.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/api/v1/products/customer", get(customer::get_customer))
        .route(
            "/api/v1/products/customer/{lineNumber}",
            get(customer::get_customer_by_path),
        )
        .route("/api/v1/products/menu", get(customer::get_menu))
        .route("/api/v1/products/available", get(products::list_available))
        .route(
            "/api/v1/products/change/validation",
            post(change::validate_change),
        )
        .route("/api/v1/products/change", post(change::request_change))
        .route(
            "/api/v1/products/change/{requestId}",
            get(change::get_change_result),
        )
        .route("/api/v1/products/history", get(history::list_history))
        .with_state(state)
}

/// `PRODUCT_CHANGE` or `403 FORBIDDEN`.
pub(crate) fn authorize(user: &AuthUser) -> Result<(), ApiError> {
    user.require(Permission::ProductChange)
}

/// A required line number field: missing → `VALIDATION_ERROR`, bad → `INVALID_LINE_NUMBER`,
/// not the caller's → `LINE_ACCESS_DENIED`.
pub(crate) fn own_line(user: &AuthUser, raw: Option<&str>) -> Result<LineNumber, ApiError> {
    let raw = raw
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| ApiError::field("lineNumber", "회선번호는 필수입니다"))?;
    let line = LineNumber::parse(raw).ok_or_else(|| ApiError::new(ErrorCode::InvalidLineNumber))?;
    user.require_line(&line)?;
    Ok(line)
}
