//! `GET /api/v1/bills/menu` (docs/api.md §3.1).

use axum::extract::State;
use phonebill_common::auth::{AuthUser, Permission};
use phonebill_common::envelope::Envelope;
use phonebill_common::error::{ApiError, ErrorBody};

use super::AppState;
use crate::service::MenuData;

/// The caller's first line and the months that can be queried.
#[utoipa::path(
    get,
    path = "/api/v1/bills/menu",
    tag = "bills",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Menu (KOS trouble → six months and a notice message)", body = phonebill_common::openapi::Enveloped<MenuData>),
        (status = 401, description = "No or bad token", body = ErrorBody),
        (status = 403, description = "No BILL_INQUIRY permission", body = ErrorBody),
    )
)]
pub async fn get_menu(
    State(state): State<AppState>,
    user: AuthUser,
) -> Result<Envelope<MenuData>, ApiError> {
    user.require(Permission::BillInquiry)?;
    let (data, message) = state.svc.menu(&user).await;
    Ok(Envelope::ok(data).message(message))
}
