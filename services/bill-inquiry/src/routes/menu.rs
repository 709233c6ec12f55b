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
    path = "/api/v1/bills/menu", summary = "Gives a customer with bill-inquiry permission their first line and the months whose bill they can query",
    tag = "bills",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Menu (KOS trouble → six months and a notice message)", body = phonebill_common::openapi::Enveloped<MenuData>, example = json!({"success": true, "message": "요금조회 메뉴를 성공적으로 조회했습니다", "data": {"customerInfo": {"customerId": "CU202401001", "lineNumber": "010-1234-5678"}, "availableMonths": ["2025-09", "2025-08", "2025-07", "2025-06", "2025-05", "2025-04"], "currentMonth": "2025-09"}, "timestamp": "2025-09-14T10:32:11.482+09:00", "traceId": "4bf92f3577b34da6a3ce929d0e0e4736"})),
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
