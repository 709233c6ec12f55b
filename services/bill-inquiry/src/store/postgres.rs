//! PostgreSQL adapter of [`super::BillStore`] (`timestamptz`, `jsonb`, `uuid`).

use chrono::{DateTime, Utc};
use phonebill_common::db::dialect::postgres::*;
use phonebill_common::db::read::ReadRouter;
use phonebill_common::history::HistorySink;
use sqlx::Row;

use super::sql::{
    call_columns, call_on_conflict, impl_bill_store, inquiry_columns, inquiry_on_conflict,
};
use super::{BillStore, HistoryEvent, InquiryRow, KosCallEvent, StoreError};
use crate::domain::HistoryFilter;

/// The PostgreSQL store.
#[derive(Debug, Clone)]
pub struct PgBillStore {
    pool: Pool,
    reads: ReadRouter,
}

impl PgBillStore {
    /// A store on `pool`, every read on it.
    pub fn new(pool: Pool) -> Self {
        Self::with_reads(pool.clone(), ReadRouter::primary_only(pool))
    }

    /// A store on `pool` whose history reads go through `reads` (a read replica).
    pub fn with_reads(pool: Pool, reads: ReadRouter) -> Self {
        Self { pool, reads }
    }

    async fn read<T, F, Fut>(&self, f: F) -> Result<T, StoreError>
    where
        F: Fn(Pool) -> Fut,
        Fut: std::future::Future<Output = Result<T, StoreError>>,
    {
        self.reads.read(f).await
    }
}

impl_bill_store!(PgBillStore);

/// A batch is one statement: every column travels as one array (`UNNEST`), the KOS call rows
/// in a data-modifying `WITH` in front of the history rows. One statement text for any batch
/// size (prepared once per connection), one round trip, and the statement is its own
/// transaction, so a batch commits whole or not at all. Measured against the multi-row
/// `VALUES` statements in power-of-two chunks inside BEGIN … COMMIT that it replaces
/// (docs/benchmarks.md, "Issue 22: the PostgreSQL history commit").
const WRITE_BATCH: &str = concat!(
    "WITH calls AS (INSERT INTO kos_call_log (",
    call_columns!(),
    ") SELECT * FROM UNNEST($14::text[], $15::text[], $16::text[], $17::text[], $18::int4[], \
     $19::timestamptz[], $20::uuid[])",
    call_on_conflict!(),
    ") INSERT INTO bill_inquiry_history (",
    inquiry_columns!(),
    ") SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], \
     $6::text[], $7::text[], $8::text[], $9::text[], $10::jsonb[], $11::bool[], \
     $12::timestamptz[], $13::timestamptz[])",
    inquiry_on_conflict!()
);

#[async_trait::async_trait]
impl HistorySink<HistoryEvent> for PgBillStore {
    async fn write_batch(
        &self,
        batch: &[HistoryEvent],
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        let (inquiries, calls) = super::coalesce(batch);
        let col = |f: fn(&InquiryRow) -> &str| inquiries.iter().map(|r| f(r)).collect::<Vec<_>>();
        let opt =
            |f: fn(&InquiryRow) -> Option<&str>| inquiries.iter().map(|r| f(r)).collect::<Vec<_>>();
        sqlx::query(WRITE_BATCH)
            .bind(col(|r| &r.request_id))
            .bind(col(|r| &r.user_id))
            .bind(col(|r| &r.customer_id))
            .bind(col(|r| &r.line_number))
            .bind(col(|r| &r.inquiry_month))
            .bind(col(|r| r.status.as_str()))
            .bind(opt(|r| r.result_code.as_deref()))
            .bind(opt(|r| r.result_message.as_deref()))
            .bind(opt(|r| r.result_summary.as_deref()))
            .bind(
                inquiries
                    .iter()
                    .map(|r| bj(r.bill_info.as_ref()))
                    .collect::<Vec<_>>(),
            )
            .bind(inquiries.iter().map(|r| r.from_cache).collect::<Vec<_>>())
            .bind(
                inquiries
                    .iter()
                    .map(|r| bt(r.requested_at))
                    .collect::<Vec<_>>(),
            )
            .bind(
                inquiries
                    .iter()
                    .map(|r| r.processed_at.map(bt))
                    .collect::<Vec<_>>(),
            )
            .bind(
                calls
                    .iter()
                    .map(|c| c.request_id.as_str())
                    .collect::<Vec<_>>(),
            )
            .bind(
                calls
                    .iter()
                    .map(|c| c.endpoint.as_str())
                    .collect::<Vec<_>>(),
            )
            .bind(
                calls
                    .iter()
                    .map(|c| c.result_code.as_deref())
                    .collect::<Vec<_>>(),
            )
            .bind(calls.iter().map(|c| c.outcome.as_str()).collect::<Vec<_>>())
            .bind(calls.iter().map(|c| c.duration_ms).collect::<Vec<_>>())
            .bind(calls.iter().map(|c| bt(c.called_at)).collect::<Vec<_>>())
            .bind(calls.iter().map(|c| bu(c.event_id)).collect::<Vec<_>>())
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
