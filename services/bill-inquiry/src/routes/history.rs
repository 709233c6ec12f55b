//! `GET /api/v1/bills/history` (docs/api.md §3.6): the caller's inquiries, newest first, filtered by
//! line, Korea-time date range and status, paged.

use std::collections::BTreeMap;

use axum::extract::State;
use phonebill_common::auth::{AuthUser, Permission};
use phonebill_common::envelope::Envelope;
use phonebill_common::error::{ApiError, ErrorBody, ErrorCode};
use phonebill_common::extract::Query;
use phonebill_common::line::LineNumber;
use serde::Deserialize;

use super::AppState;
use crate::domain::{HistoryFilter, HistoryStatus, kst_day_start, parse_date};
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

fn present(v: Option<&String>) -> Option<&str> {
    v.map(|s| s.trim()).filter(|s| !s.is_empty())
}

/// Validates the parameters into a filter over `lines` (the caller's lines).
fn to_filter(p: &HistoryParams, user: &AuthUser) -> Result<HistoryFilter, ApiError> {
    let mut errors = BTreeMap::new();
    let lines = match present(p.line_number.as_ref()) {
        Some(raw) => {
            let line = LineNumber::parse(raw)
                .ok_or_else(|| ApiError::new(ErrorCode::InvalidLineNumber))?;
            user.require_line(&line)?;
            vec![line.as_str().to_owned()]
        }
        None => user.lines().iter().map(|l| l.as_str().to_owned()).collect(),
    };
    let mut date = |field: &str, v: Option<&String>| match present(v) {
        None => None,
        Some(s) => {
            let d = parse_date(s);
            if d.is_none() {
                errors.insert(
                    field.to_owned(),
                    "날짜는 YYYY-MM-DD 형식이어야 합니다".to_owned(),
                );
            }
            d
        }
    };
    let start = date("startDate", p.start_date.as_ref());
    let end = date("endDate", p.end_date.as_ref());
    if let (Some(s), Some(e)) = (start, end)
        && s > e
    {
        errors.insert(
            "startDate".to_owned(),
            "시작일은 종료일보다 늦을 수 없습니다".to_owned(),
        );
    }
    let mut number = |field: &str, v: Option<&String>, default: u32, max: u32| match present(v) {
        None => default,
        Some(s) => match s.parse::<u32>() {
            Ok(n) if (1..=max).contains(&n) => n,
            _ => {
                errors.insert(
                    field.to_owned(),
                    format!("1 이상 {max} 이하의 숫자여야 합니다"),
                );
                default
            }
        },
    };
    let page = number("page", p.page.as_ref(), 1, 1_000_000);
    let size = number("size", p.size.as_ref(), 20, 100);
    let status = match present(p.status.as_ref()) {
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
        from: start.and_then(kst_day_start),
        until: end.and_then(|d| d.succ_opt()).and_then(kst_day_start),
        status,
        page,
        size,
    })
}

/// The caller's inquiry history.
#[utoipa::path(
    get,
    path = "/api/v1/bills/history",
    tag = "bills",
    security(("bearer" = [])),
    params(HistoryParams),
    responses(
        (status = 200, description = "One page, newest first", body = phonebill_common::openapi::Enveloped<HistoryPage>),
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
