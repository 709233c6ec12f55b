//! SQLite adapter of [`super::BillStore`]: timestamps as RFC 3339 UTC text with a fixed width
//! (so text order is time order), JSON and uuids as text (docs/api.md §7 type mapping).
//!
//! History batches: every request waits for the commit of its batch (group commit), so a
//! commit's latency is every request's latency. A batch is therefore one statement per table,
//! whatever its size: the rows travel as one JSON array parameter and `json_each` turns them
//! back into rows, so there is one statement text (prepared once) instead of one per row count,
//! and one trip to the connection's thread instead of BEGIN, a chunk per power of two and
//! COMMIT. A batch of one table needs no transaction (one statement is atomic); a batch of both
//! is one transaction of two statements (docs/benchmarks.md "Issue 20").

use chrono::{DateTime, Utc};
use phonebill_common::db::dialect::sqlite::*;
use phonebill_common::history::HistorySink;
use sqlx::Row;

use super::sql::{
    call_columns, call_on_conflict, impl_bill_store, inquiry_columns, inquiry_on_conflict,
};
use super::{BillStore, HistoryEvent, InquiryRow, KosCallEvent, StoreError};
use crate::domain::HistoryFilter;

/// The SQLite store.
#[derive(Debug, Clone)]
pub struct SqliteBillStore {
    pool: Pool,
    /// The history writer's own connection ([`writer_pool`]).
    writer: Pool,
}

impl SqliteBillStore {
    /// A store on `pool`; history batches commit on a connection of their own.
    pub fn new(pool: Pool) -> Self {
        let writer = writer_pool(&pool);
        Self { pool, writer }
    }

    /// SQLite has no replica: every read on the one file.
    async fn read<T, F, Fut>(&self, f: F) -> Result<T, StoreError>
    where
        F: Fn(Pool) -> Fut,
        Fut: std::future::Future<Output = Result<T, StoreError>>,
    {
        f(self.pool.clone()).await
    }
}

impl_bill_store!(SqliteBillStore);

/// Inquiry rows from `$1`, a JSON array of arrays in [`inquiry_json`]'s column order, meeting
/// stored rows as on PostgreSQL (`inquiry_on_conflict!`). `WHERE true` keeps SQLite's parser from
/// reading `ON CONFLICT` as part of the join.
const INSERT_INQUIRIES: &str = concat!(
    "INSERT INTO bill_inquiry_history (",
    inquiry_columns!(),
    ") SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, value ->> 5, \
     value ->> 6, value ->> 7, value ->> 8, value ->> 9, value ->> 10, value ->> 11, \
     value ->> 12 FROM json_each($1) WHERE true",
    inquiry_on_conflict!()
);

/// KOS call rows from `$1` in [`call_json`]'s column order.
const INSERT_CALLS: &str = concat!(
    "INSERT INTO kos_call_log (",
    call_columns!(),
    ") SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, value ->> 5, \
     value ->> 6 FROM json_each($1) WHERE true",
    call_on_conflict!()
);

/// The rows as one JSON array (instants in the fixed-width text of [`bt`]).
fn inquiry_json(rows: &[&InquiryRow]) -> Result<String, serde_json::Error> {
    let rows: Vec<_> = rows
        .iter()
        .map(|r| {
            (
                &r.request_id,
                &r.user_id,
                &r.customer_id,
                &r.line_number,
                &r.inquiry_month,
                r.status.as_str(),
                &r.result_code,
                &r.result_message,
                &r.result_summary,
                &r.bill_info,
                r.from_cache,
                bt(r.requested_at),
                r.processed_at.map(bt),
            )
        })
        .collect();
    serde_json::to_string(&rows)
}

/// The calls as one JSON array.
fn call_json(calls: &[&KosCallEvent]) -> Result<String, serde_json::Error> {
    let rows: Vec<_> = calls
        .iter()
        .map(|c| {
            (
                &c.request_id,
                &c.endpoint,
                &c.result_code,
                &c.outcome,
                c.duration_ms,
                bt(c.called_at),
                bu(c.event_id),
            )
        })
        .collect();
    serde_json::to_string(&rows)
}

#[async_trait::async_trait]
impl HistorySink<HistoryEvent> for SqliteBillStore {
    async fn write_batch(
        &self,
        batch: &[HistoryEvent],
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        let (inquiries, calls) = super::coalesce(batch);
        let inquiries = (!inquiries.is_empty())
            .then(|| inquiry_json(&inquiries))
            .transpose()?;
        let calls = (!calls.is_empty()).then(|| call_json(&calls)).transpose()?;
        match (inquiries, calls) {
            (None, None) => {}
            (Some(rows), None) => {
                sqlx::query(INSERT_INQUIRIES)
                    .bind(rows)
                    .execute(&self.writer)
                    .await?;
            }
            (None, Some(rows)) => {
                sqlx::query(INSERT_CALLS)
                    .bind(rows)
                    .execute(&self.writer)
                    .await?;
            }
            (Some(inquiries), Some(calls)) => {
                let mut tx = self.writer.begin().await?;
                sqlx::query(INSERT_INQUIRIES)
                    .bind(inquiries)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query(INSERT_CALLS)
                    .bind(calls)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
            }
        }
        Ok(())
    }
}
