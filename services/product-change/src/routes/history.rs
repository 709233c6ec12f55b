//! `GET /api/v1/products/history` (docs/api.md §4.8; pagination `page/size/totalElements`).

use std::collections::BTreeMap;

use axum::extract::State;
use chrono::{NaiveDate, TimeZone, Utc};
use phonebill_common::auth::AuthUser;
use phonebill_common::envelope::Envelope;
use phonebill_common::error::{ApiError, ErrorCode};
use phonebill_common::extract::Query;
use phonebill_common::line::LineNumber;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{AppState, authorize};
use crate::domain::ProcessStatus;
use crate::store::HistoryFilter;

/// Query.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
pub struct HistoryQuery {
    /// A caller line; all caller lines when absent.
    pub line_number: Option<String>,
    /// `YYYY-MM-DD` (Korea time, inclusive).
    pub start_date: Option<String>,
    /// `YYYY-MM-DD` (Korea time, inclusive).
    pub end_date: Option<String>,
    /// 1-based, default 1.
    pub page: Option<String>,
    /// 1–100, default 10.
    pub size: Option<String>,
}

/// One history item.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct HistoryItem {
    /// Request id.
    pub request_id: String,
    /// 11 digits.
    pub line_number: String,
    /// State.
    pub process_status: ProcessStatus,
    /// Before.
    pub current_product_code: String,
    /// Before.
    pub current_product_name: String,
    /// After.
    pub target_product_code: String,
    /// After.
    pub target_product_name: String,
    /// Korea time.
    pub requested_at: String,
    /// Korea time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub processed_at: Option<String>,
    /// Result message.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result_message: Option<String>,
}

/// Pagination of docs/api.md §4.8.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Pagination {
    /// Page (1-based).
    pub page: i64,
    /// Page size.
    pub size: i64,
    /// Matching rows.
    pub total_elements: i64,
    /// Pages.
    pub total_pages: i64,
    /// More after this page.
    pub has_next: bool,
    /// Pages before.
    pub has_previous: bool,
}

/// docs/api.md §4.8 `data`.
#[derive(Debug, Serialize, ToSchema)]
pub struct HistoryData {
    /// Items, newest first.
    pub history: Vec<HistoryItem>,
    /// Pagination.
    pub pagination: Pagination,
}

fn number(
    errors: &mut BTreeMap<String, String>,
    field: &str,
    raw: Option<&str>,
    default: i64,
    max: i64,
) -> i64 {
    match raw.map(str::trim).filter(|s| !s.is_empty()) {
        None => default,
        Some(s) => match s.parse::<i64>() {
            Ok(n) if (1..=max).contains(&n) => n,
            _ => {
                errors.insert(
                    field.to_owned(),
                    format!("{field}는 1 이상 {max} 이하여야 합니다"),
                );
                default
            }
        },
    }
}

fn date(
    errors: &mut BTreeMap<String, String>,
    field: &str,
    raw: Option<&str>,
) -> Option<NaiveDate> {
    let s = raw.map(str::trim).filter(|s| !s.is_empty())?;
    let d = NaiveDate::parse_from_str(s, "%Y-%m-%d").ok();
    if d.is_none() {
        errors.insert(
            field.to_owned(),
            "날짜는 YYYY-MM-DD 형식이어야 합니다".to_owned(),
        );
    }
    d
}

/// The caller's change history.
#[utoipa::path(get, path = "/api/v1/products/history", params(HistoryQuery), tag = "products",
    summary = "The caller's own plan changes, newest first, by line and Korea-time date range, a page at a time",
    security(("bearer" = [])),
    responses((status = 200, description = "History", content((phonebill_common::openapi::Enveloped<HistoryData> = "application/json", example = crate::routes::examples::history))),
        (status = 400, body = phonebill_common::error::ErrorBody), (status = 403, body = phonebill_common::error::ErrorBody)))]
pub async fn list_history(
    State(state): State<AppState>,
    user: AuthUser,
    Query(q): Query<HistoryQuery>,
) -> Result<Envelope<HistoryData>, ApiError> {
    authorize(&user)?;
    let mut errors = BTreeMap::new();
    let page = number(
        &mut errors,
        "page",
        q.page.as_deref(),
        1,
        i64::from(i32::MAX),
    );
    let size = number(&mut errors, "size", q.size.as_deref(), 10, 100);
    let start = date(&mut errors, "startDate", q.start_date.as_deref());
    let end = date(&mut errors, "endDate", q.end_date.as_deref());
    if let (Some(s), Some(e)) = (start, end)
        && s > e
    {
        errors.insert(
            "startDate".to_owned(),
            "시작일은 종료일보다 늦을 수 없습니다".to_owned(),
        );
    }
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    let lines = match q
        .line_number
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        Some(raw) => {
            let l = LineNumber::parse(raw)
                .ok_or_else(|| ApiError::new(ErrorCode::InvalidLineNumber))?;
            user.require_line(&l)?;
            vec![l.as_str().to_owned()]
        }
        None => user.lines().iter().map(|l| l.as_str().to_owned()).collect(),
    };
    let kst = phonebill_common::time::kst();
    let at = |d: NaiveDate| {
        d.and_hms_opt(0, 0, 0)
            .and_then(|t| kst.from_local_datetime(&t).single())
            .map(|t| t.with_timezone(&Utc))
    };
    let (rows, total) = state
        .service
        .history(&HistoryFilter {
            lines,
            from: start.and_then(at),
            until: end.and_then(|e| e.succ_opt()).and_then(at),
            limit: size,
            offset: (page - 1).saturating_mul(size),
        })
        .await?;
    let fmt = phonebill_common::time::format_kst;
    let total_pages = (total + size - 1) / size;
    Ok(Envelope::ok(HistoryData {
        history: rows
            .into_iter()
            .map(|r| HistoryItem {
                request_id: r.request_id,
                line_number: r.line_number,
                process_status: r.process_status,
                current_product_code: r.current_product_code,
                current_product_name: r.current_product_name,
                target_product_code: r.target_product_code,
                target_product_name: r.target_product_name,
                requested_at: fmt(r.requested_at),
                processed_at: r.processed_at.map(fmt),
                result_message: r.result_message,
            })
            .collect(),
        pagination: Pagination {
            page,
            size,
            total_elements: total,
            total_pages,
            has_next: page < total_pages,
            has_previous: page > 1,
        },
    })
    .message("상품변경 이력을 조회했습니다"))
}
