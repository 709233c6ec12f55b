//! HTTP routes of docs/api.md §4: one module per resource; handlers parse the wire into domain types,
//! authorise from the token (`PRODUCT_CHANGE`, own lines), call [`crate::service`], and render
//! the answer. Each route is declared once, in [`router`]: its path, method and OpenAPI
//! operation come from the handler's `#[utoipa::path]`.

pub mod change;
pub mod customer;
mod examples;
pub mod history;
pub mod products;

use axum::Router;
use axum::extract::FromRef;
use phonebill_common::auth::{AuthUser, Permission, TokenVerifier};
use phonebill_common::error::{ApiError, ErrorCode};
use phonebill_common::line::LineNumber;
use phonebill_common::openapi::StandardErrors;
use utoipa::openapi::OpenApi;
use utoipa::{Modify, OpenApi as _};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

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

/// The business routes with state applied, and the service's OpenAPI document made from the
/// same declarations (plus the failures the shared HTTP stack adds to every operation).
pub fn router(state: AppState) -> (Router, OpenApi) {
    let (router, mut doc) = OpenApiRouter::with_openapi(crate::ApiDoc::openapi())
        .routes(routes!(customer::get_customer))
        .routes(routes!(customer::get_customer_by_path))
        .routes(routes!(customer::get_menu))
        .routes(routes!(products::list_available))
        .routes(routes!(change::validate_change))
        .routes(routes!(change::request_change))
        .routes(routes!(change::get_change_result))
        .routes(routes!(history::list_history))
        .with_state(state)
        .split_for_parts();
    // After the paths are in: it adds responses to each operation.
    StandardErrors.modify(&mut doc);
    (router, doc)
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
