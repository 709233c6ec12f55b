//! Result polling (docs/api.md §3.3): the in-memory result of a request this instance answered
//! `202`, else the history row (with the stored bill while it is kept, or the cached one for a
//! cache hit); only the owner sees it.

use phonebill_common::auth::AuthUser;
use phonebill_common::cache::Cached;
use phonebill_common::line::LineNumber;

use super::inquiry::{InquiryData, StoredResult};
use super::{BillService, bill_key};
use crate::domain::{HistoryStatus, Month};
use crate::store::StoreError;

/// A poll result held in memory for requests answered `202` by this instance (the database
/// row is written asynchronously and may lag; other instances read the row).
#[derive(Debug, Clone)]
pub(super) struct PollEntry {
    pub(super) user_id: String,
    pub(super) data: InquiryData,
}

impl BillService {
    /// The result of `request_id` for its owner (docs/api.md §3.3); `None` → `404 REQUEST_NOT_FOUND`.
    pub async fn poll(
        &self,
        user: &AuthUser,
        request_id: &str,
    ) -> Result<Option<InquiryData>, StoreError> {
        if let Some(e) = self.inner.polls.get(request_id) {
            return Ok((e.user_id == user.user_id()).then(|| e.data.clone()));
        }
        let Some(row) = self.d().store.find_inquiry(request_id).await? else {
            return Ok(None);
        };
        if row.user_id != user.user_id() {
            return Ok(None);
        }
        let code = row.result_code.clone().unwrap_or_default();
        let message = row.result_message.clone().unwrap_or_default();
        Ok(Some(match row.status {
            HistoryStatus::Processing => InquiryData::processing(&row.request_id),
            HistoryStatus::Failed => InquiryData::failed(&row.request_id, &code, &message),
            HistoryStatus::Completed => {
                let fresh_enough = self.d().clock.now() - row.requested_at
                    < chrono::Duration::from_std(self.d().retention)
                        .unwrap_or(chrono::Duration::MAX);
                let stored = match row.bill_info.filter(|_| fresh_enough) {
                    Some(v) => serde_json::from_str::<StoredResult>(&v).ok(),
                    // A cache hit stores no payload: the cache holds it for as long as it is valid.
                    None if fresh_enough && row.from_cache => {
                        self.cached_result(&row.line_number, &row.inquiry_month)
                            .await
                    }
                    None => None,
                };
                InquiryData {
                    request_id: row.request_id.clone(),
                    proc_status: "SUCCESS".into(),
                    result_code: code,
                    result_message: message,
                    bill_info: stored.as_ref().map(|s| s.bill_info.clone()),
                    customer_info: stored.and_then(|s| s.customer_info),
                    cached: Some(row.from_cache),
                    stale: None,
                    cached_at: None,
                }
            }
        }))
    }

    /// The cached bill of a history row's line and month, for polling a cache-hit request.
    async fn cached_result(&self, line: &str, month: &str) -> Option<StoredResult> {
        let line = LineNumber::parse(line)?;
        let month = Month::parse(month)?;
        let hit = self.d().cache.get(&bill_key(&line, month)).await?;
        match hit.entry {
            Cached::Value(v) => Some(StoredResult {
                bill_info: v.bill_info.clone(),
                customer_info: v.customer_info.clone(),
            }),
            Cached::Negative(_) => None,
        }
    }
}
