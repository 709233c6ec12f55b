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
/// (docs/benchmarks.md, "Issue 22: the PostgreSQL history commit": +13 % / +28 %).
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
        sqlx::query(WRITE_BATCH)
            .bind(column(&inquiries, |r| r.request_id.as_str()))
            .bind(column(&inquiries, |r| r.user_id.as_str()))
            .bind(column(&inquiries, |r| r.customer_id.as_str()))
            .bind(column(&inquiries, |r| r.line_number.as_str()))
            .bind(column(&inquiries, |r| r.inquiry_month.as_str()))
            .bind(column(&inquiries, |r| r.status.as_str()))
            .bind(column(&inquiries, |r| r.result_code.as_deref()))
            .bind(column(&inquiries, |r| r.result_message.as_deref()))
            .bind(column(&inquiries, |r| r.result_summary.as_deref()))
            .bind(column(&inquiries, |r| bj(r.bill_info.as_ref())))
            .bind(column(&inquiries, |r| r.from_cache))
            .bind(column(&inquiries, |r| bt(r.requested_at)))
            .bind(column(&inquiries, |r| r.processed_at.map(bt)))
            .bind(column(&calls, |c| c.request_id.as_str()))
            .bind(column(&calls, |c| c.endpoint.as_str()))
            .bind(column(&calls, |c| c.result_code.as_deref()))
            .bind(column(&calls, |c| c.outcome.as_str()))
            .bind(column(&calls, |c| c.duration_ms))
            .bind(column(&calls, |c| bt(c.called_at)))
            .bind(column(&calls, |c| bu(c.event_id)))
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}

/// One `UNNEST` argument: a column of `rows`, in row order.
fn column<'a, T, U>(rows: &[&'a T], f: impl Fn(&'a T) -> U) -> Vec<U> {
    rows.iter().map(|r| f(r)).collect()
}
