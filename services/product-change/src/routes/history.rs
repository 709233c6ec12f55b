//! `GET /api/v1/products/history` (docs/api.md §4.8; pagination `page/size/totalElements`).

use std::collections::BTreeMap;

use axum::extract::State;
use phonebill_common::auth::AuthUser;
use phonebill_common::envelope::Envelope;
use phonebill_common::error::{ApiError, ErrorCode};
use phonebill_common::extract::Query;
use phonebill_common::line::LineNumber;
use phonebill_common::list_query::{self, DateForm, ListRules, RawListQuery, present};
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

/// Product-change history paging (docs/api.md §1.11, §4.8): 10 a page by default, at most 100,
/// pages up to `i32::MAX`; dates read as product-change always has ([`DateForm::Loose`]).
const LIST_RULES: ListRules = ListRules {
    default_size: 10,
    max_page: i32::MAX as u32,
    max_size: 100,
    out_of_range: |f, m| format!("{f}는 1 이상 {m} 이하여야 합니다"),
    dates: DateForm::Loose,
};

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
    // Paging and dates are checked before the line, as product-change always has.
    let mut errors = BTreeMap::new();
    let raw = RawListQuery {
        page: q.page.as_deref(),
        size: q.size.as_deref(),
        start_date: q.start_date.as_deref(),
        end_date: q.end_date.as_deref(),
    };
    let query = list_query::parse(&raw, &LIST_RULES, &mut errors);
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    let lines = match present(q.line_number.as_deref()) {
        Some(raw) => {
            let l = LineNumber::parse(raw)
                .ok_or_else(|| ApiError::new(ErrorCode::InvalidLineNumber))?;
            user.require_line(&l)?;
            vec![l.as_str().to_owned()]
        }
        None => user.lines().iter().map(|l| l.as_str().to_owned()).collect(),
    };
    let page = i64::from(query.page);
    let size = i64::from(query.size);
    let (rows, total) = state
        .service
        .history(&HistoryFilter {
            lines,
            from: query.from(),
            until: query.until(),
            limit: size,
            // At most (i32::MAX - 1) * 100, far inside i64.
            offset: i64::try_from(query.offset()).unwrap_or(i64::MAX),
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
