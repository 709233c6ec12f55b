//! History (docs/api.md §3.6): one page of the caller's inquiries, newest first, and the
//! hourly purge of stored bills past the polling retention (§3.3).

use phonebill_common::time::format_kst;
use serde::Serialize;

use super::BillService;
use crate::domain::{HistoryFilter, Pagination};
use crate::store::StoreError;

/// One history item (docs/api.md §3.6).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct HistoryItem {
    /// Request id.
    pub request_id: String,
    /// 11 digits.
    pub line_number: String,
    /// `YYYYMM`.
    pub inquiry_month: String,
    /// RFC 3339, Korea time.
    pub request_time: String,
    /// RFC 3339, Korea time; absent while processing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub process_time: Option<String>,
    /// `COMPLETED`, `PROCESSING`, `FAILED`.
    pub status: String,
    /// e.g. `5G 스탠다드 플랜, 81,340원`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result_summary: Option<String>,
}

/// Page totals (docs/api.md §3.6).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PaginationInfo {
    /// Current page (1-based).
    pub current_page: u32,
    /// Pages in total.
    pub total_pages: u64,
    /// Items in total.
    pub total_items: u64,
    /// Page size.
    pub page_size: u32,
    /// A later page exists.
    pub has_next: bool,
    /// An earlier page exists.
    pub has_previous: bool,
}

/// `data` of the history endpoint.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct HistoryPage {
    /// Items, newest first.
    pub items: Vec<HistoryItem>,
    /// Totals.
    pub pagination: PaginationInfo,
}

impl BillService {
    /// One page of history (docs/api.md §3.6).
    pub async fn history(&self, filter: &HistoryFilter) -> Result<HistoryPage, StoreError> {
        let (rows, total) = self.d().store.list_history(filter).await?;
        let p = Pagination::new(filter.page, filter.size, total);
        Ok(HistoryPage {
            items: rows
                .into_iter()
                .map(|r| HistoryItem {
                    request_id: r.request_id,
                    line_number: r.line_number,
                    inquiry_month: r.inquiry_month,
                    request_time: format_kst(r.requested_at),
                    process_time: r.processed_at.map(format_kst),
                    status: r.status.as_str().to_owned(),
                    result_summary: r.result_summary,
                })
                .collect(),
            pagination: PaginationInfo {
                current_page: p.current_page,
                total_pages: p.total_pages,
                total_items: p.total_items,
                page_size: p.page_size,
                has_next: p.has_next,
                has_previous: p.has_previous,
            },
        })
    }

    /// Drops `billInfo` older than the retention (docs/api.md §3.3); run periodically.
    pub async fn purge_expired_results(&self) -> Result<u64, StoreError> {
        let retention =
            chrono::Duration::from_std(self.d().retention).unwrap_or(chrono::Duration::MAX);
        let before = self.d().clock.now() - retention;
        self.d().store.purge_bill_info(before).await
    }
}
