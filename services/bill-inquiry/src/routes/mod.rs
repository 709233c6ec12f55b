//! HTTP handlers of the bill-inquiry service (docs/api.md §3), one module per resource: `menu`,
//! `inquiry` (inquiry and polling) and `history`. Every endpoint needs `BILL_INQUIRY`; line
//! ownership comes from the token's `line_numbers` claim. [`router`] declares each route once:
//! its path, method and OpenAPI operation come from the handler's `#[utoipa::path]`.

pub mod history;
pub mod inquiry;
pub mod menu;

use axum::extract::FromRef;
use phonebill_common::auth::TokenVerifier;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::domain::DynClock;
use crate::service::BillService;

/// State shared by the handlers.
#[derive(Clone)]
pub struct AppState {
    /// The use cases.
    pub svc: BillService,
    /// Token verification.
    pub verifier: TokenVerifier,
    /// Clock (current month for validation).
    pub clock: DynClock,
}

impl FromRef<AppState> for TokenVerifier {
    fn from_ref(s: &AppState) -> Self {
        s.verifier.clone()
    }
}

/// The business routes and their OpenAPI operations, in the document's order; the caller
/// applies the state.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(<crate::ApiDoc as utoipa::OpenApi>::openapi())
        .routes(routes!(menu::get_menu))
        .routes(routes!(inquiry::post_inquiry))
        .routes(routes!(inquiry::get_inquiry_result))
        .routes(routes!(history::get_history))
}
