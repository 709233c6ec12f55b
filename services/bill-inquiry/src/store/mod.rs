//! Persistence of bill-inquiry history (docs/api.md §7.2): the [`BillStore`] trait, its rows, and the
//! PostgreSQL and SQLite adapters (same SQL, expanded per dialect by `sql.rs`).
//!
//! Writes arrive only through the history writer ([`HistorySink`]): every batch is one
//! transaction, and every write is idempotent so a retried batch changes nothing twice —
//! inquiry rows are upserts keyed by `request_id` (a final status is never overwritten by
//! `PROCESSING`), KOS call rows carry a unique `event_id`.

mod postgres;
mod sql;
mod sqlite;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use phonebill_common::db::Db;
use phonebill_common::db::read::ReadRouter;
use phonebill_common::history::HistorySink;

pub use postgres::PgBillStore;
pub use sqlite::SqliteBillStore;

use crate::domain::{HistoryFilter, HistoryStatus};

/// A store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database failed.
    #[error(transparent)]
    Db(#[from] sqlx::Error),
    /// A stored value could not be read back.
    #[error("corrupt stored value: {0}")]
    Corrupt(String),
}

/// One row of `bill_inquiry_history` (serialisable: the history spill file holds it).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct InquiryRow {
    /// `REQ_…`.
    pub request_id: String,
    /// Caller.
    pub user_id: String,
    /// Caller's customer id.
    pub customer_id: String,
    /// 11 digits.
    pub line_number: String,
    /// `YYYYMM`.
    pub inquiry_month: String,
    /// Status.
    pub status: HistoryStatus,
    /// KOS code (`0000`, `1001`…) or one of `domain::result_codes`.
    pub result_code: Option<String>,
    /// Its text.
    pub result_message: Option<String>,
    /// `5G 스탠다드 플랜, 81,340원` or the failure text.
    pub result_summary: Option<String>,
    /// The SUCCESS payload (`{billInfo, customerInfo}`) as JSON text, kept for polling. Text,
    /// not a `serde_json::Value`: the row is written far more often than read, and building a
    /// `Value` and printing it again cost more than the rest of a history row (callgrind,
    /// docs/benchmarks.md).
    pub bill_info: Option<String>,
    /// Served from the cache.
    pub from_cache: bool,
    /// When the request arrived.
    pub requested_at: DateTime<Utc>,
    /// When it finished.
    pub processed_at: Option<DateTime<Utc>>,
}

/// One row of `kos_call_log` (the type product-change logs its calls with too).
pub use phonebill_common::kos::KosCallEvent;

/// What the history writer carries (and its spill file holds, one JSON line each).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum HistoryEvent {
    /// Insert or finish an inquiry row.
    Inquiry(InquiryRow),
    /// Log a KOS call.
    KosCall(KosCallEvent),
}

/// The bill-inquiry store.
#[async_trait::async_trait]
pub trait BillStore: HistorySink<HistoryEvent> {
    /// The inquiry row of `request_id`.
    async fn find_inquiry(&self, request_id: &str) -> Result<Option<InquiryRow>, StoreError>;

    /// One page of history (newest first) and the total count.
    async fn list_history(
        &self,
        filter: &HistoryFilter,
    ) -> Result<(Vec<InquiryRow>, u64), StoreError>;

    /// The KOS calls logged for `request_id`, oldest first.
    async fn list_kos_calls(&self, request_id: &str) -> Result<Vec<KosCallEvent>, StoreError>;

    /// Drops `bill_info` of rows requested before `before` (docs/api.md §3.3: kept 24 h); returns the
    /// number of rows changed.
    async fn purge_bill_info(&self, before: DateTime<Utc>) -> Result<u64, StoreError>;
}

/// A shared store.
pub type DynBillStore = Arc<dyn BillStore>;

/// The adapter for `db`.
pub fn for_db(db: &Db, reads: Option<ReadRouter>) -> DynBillStore {
    match db {
        Db::Postgres(p) => Arc::new(match reads {
            Some(r) => PgBillStore::with_reads(p.clone(), r),
            None => PgBillStore::new(p.clone()),
        }),
        Db::Sqlite(p) => Arc::new(SqliteBillStore::new(p.clone())),
    }
}

/// Splits a batch into inquiry rows (one per `request_id`: the last final row, else the last
/// `PROCESSING` row, so one statement never touches a row twice) and KOS call rows.
fn coalesce(batch: &[HistoryEvent]) -> (Vec<&InquiryRow>, Vec<&KosCallEvent>) {
    let mut by_id: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    let mut inquiries: Vec<&InquiryRow> = Vec::new();
    let mut calls = Vec::new();
    for ev in batch {
        match ev {
            HistoryEvent::Inquiry(r) => match by_id.get(r.request_id.as_str()) {
                Some(&i) => {
                    if r.status != HistoryStatus::Processing
                        || inquiries[i].status == HistoryStatus::Processing
                    {
                        inquiries[i] = r;
                    }
                }
                None => {
                    by_id.insert(&r.request_id, inquiries.len());
                    inquiries.push(r);
                }
            },
            HistoryEvent::KosCall(c) => calls.push(c),
        }
    }
    (inquiries, calls)
}

/// Reads a stored status.
fn status_of(s: &str) -> Result<HistoryStatus, StoreError> {
    HistoryStatus::parse(s).ok_or_else(|| StoreError::Corrupt(format!("status {s:?}")))
}
