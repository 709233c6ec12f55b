//! `GET /api/v1/bills/history` (docs/api.md §3.6): the caller's inquiries, newest first, filtered by
//! line, Korea-time date range and status, paged.

use std::collections::BTreeMap;

use axum::extract::State;
use phonebill_common::auth::{AuthUser, Permission};
use phonebill_common::envelope::Envelope;
use phonebill_common::error::{ApiError, ErrorBody, ErrorCode};
use phonebill_common::extract::Query;
use phonebill_common::line::LineNumber;
use phonebill_common::list_query::{self, DateForm, ListRules, RawListQuery, present};
use serde::Deserialize;

use super::AppState;
use crate::domain::{HistoryFilter, HistoryStatus};
use crate::service::HistoryPage;

/// Query parameters (all optional; read as text and validated here).
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct HistoryParams {
    /// One of the caller's lines (dashes allowed); absent → all of them.
    pub line_number: Option<String>,
    /// `YYYY-MM-DD` (Korea time, inclusive).
    pub start_date: Option<String>,
    /// `YYYY-MM-DD` (Korea time, inclusive).
    pub end_date: Option<String>,
    /// 1-based, default 1.
    pub page: Option<String>,
    /// 1–100, default 20.
    pub size: Option<String>,
    /// `COMPLETED`, `PROCESSING` or `FAILED`.
    pub status: Option<String>,
}

/// Bill history paging (docs/api.md §3.6): 20 a page by default, at most 100.
const LIST_RULES: ListRules = ListRules {
    default_size: 20,
    max_page: 1_000_000,
    max_size: 100,
    out_of_range: |_, max| format!("1 이상 {max} 이하의 숫자여야 합니다"),
    dates: DateForm::Exact,
};

/// Validates the parameters into a filter over `lines` (the caller's lines).
fn to_filter(p: &HistoryParams, user: &AuthUser) -> Result<HistoryFilter, ApiError> {
    let lines = match present(p.line_number.as_deref()) {
        Some(raw) => {
            let line = LineNumber::parse(raw)
                .ok_or_else(|| ApiError::new(ErrorCode::InvalidLineNumber))?;
            user.require_line(&line)?;
            vec![line.as_str().to_owned()]
        }
        None => user.lines().iter().map(|l| l.as_str().to_owned()).collect(),
    };
    let mut errors = BTreeMap::new();
    let raw = RawListQuery {
        page: p.page.as_deref(),
        size: p.size.as_deref(),
        start_date: p.start_date.as_deref(),
        end_date: p.end_date.as_deref(),
    };
    let q = list_query::parse(&raw, &LIST_RULES, &mut errors);
    let status = match present(p.status.as_deref()) {
        None => None,
        Some(s) => {
            let st = HistoryStatus::parse(&s.to_ascii_uppercase());
            if st.is_none() {
                errors.insert(
                    "status".to_owned(),
                    "COMPLETED, PROCESSING, FAILED 중 하나여야 합니다".to_owned(),
                );
            }
            st
        }
    };
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    Ok(HistoryFilter {
        lines,
        from: q.from(),
        until: q.until(),
        status,
        page: q.page,
        size: q.size,
    })
}

/// The caller's inquiry history.
#[utoipa::path(
    get,
    path = "/api/v1/bills/history", summary = "Lists a customer's past bill inquiries, newest first, filtered by line, dates and status",
    tag = "bills",
    security(("bearer" = [])),
    params(HistoryParams),
    responses(
        (status = 200, description = "One page, newest first", body = phonebill_common::openapi::Enveloped<HistoryPage>, example = json!({"success": true, "message": "요금조회 이력을 조회했습니다", "data": {"items": [{"requestId": "REQ_20250914_4F1A9C2B", "lineNumber": "01012345678", "inquiryMonth": "202509", "requestTime": "2025-09-14T10:32:11+09:00", "processTime": "2025-09-14T10:32:11+09:00", "status": "COMPLETED", "resultSummary": "5G 스탠다드 플랜, 81,340원"}], "pagination": {"currentPage": 1, "totalPages": 1, "totalItems": 1, "pageSize": 20, "hasNext": false, "hasPrevious": false}}, "timestamp": "2025-09-14T10:32:11.482+09:00", "traceId": "4bf92f3577b34da6a3ce929d0e0e4736"})),
        (status = 400, description = "VALIDATION_ERROR (dates, page, size, status) or INVALID_LINE_NUMBER", body = ErrorBody),
        (status = 401, description = "No or bad token", body = ErrorBody),
        (status = 403, description = "FORBIDDEN or LINE_ACCESS_DENIED", body = ErrorBody),
        (status = 503, description = "Own database unreachable", body = ErrorBody),
    )
)]
pub async fn get_history(
    State(state): State<AppState>,
    user: AuthUser,
    Query(params): Query<HistoryParams>,
) -> Result<Envelope<HistoryPage>, ApiError> {
    user.require(Permission::BillInquiry)?;
    let filter = to_filter(&params, &user)?;
    let page = state
        .svc
        .history(&filter)
        .await
        .map_err(ApiError::unavailable)?;
    Ok(Envelope::ok(page).message("요금조회 이력을 조회했습니다"))
}
