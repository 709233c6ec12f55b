//! HTTP handlers of the bill-inquiry service (docs/api.md §3), one module per resource: `menu`,
//! `inquiry` (inquiry and polling) and `history`. Every endpoint needs `BILL_INQUIRY`; line
//! ownership comes from the token's `line_numbers` claim.

pub mod history;
pub mod inquiry;
pub mod menu;

use axum::Router;
use axum::extract::FromRef;
use axum::routing::{get, post};
use phonebill_common::auth::TokenVerifier;

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

/// The business routes with state applied.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/api/v1/bills/menu", get(menu::get_menu))
        .route("/api/v1/bills/inquiry", post(inquiry::post_inquiry))
        .route(
            "/api/v1/bills/inquiry/{requestId}",
            get(inquiry::get_inquiry_result),
        )
        .route("/api/v1/bills/history", get(history::get_history))
        .with_state(state)
}
