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

/// A batch is one transaction of multi-row statements in power-of-two chunks (a bounded set of
/// statement texts, each prepared once per connection).
#[async_trait::async_trait]
impl HistorySink<HistoryEvent> for PgBillStore {
    async fn write_batch(
        &self,
        batch: &[HistoryEvent],
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        let (inquiries, calls) = super::coalesce(batch);
        let mut tx = self.pool.begin().await?;
        // Multi-row statements: one round trip per chunk instead of one per row.
        for chunk in super::statement_chunks(&inquiries) {
            let mut qb = sqlx::QueryBuilder::<DB>::new(concat!(
                "INSERT INTO bill_inquiry_history (",
                inquiry_columns!(),
                ") "
            ));
            qb.push_values(chunk.iter(), |mut b, r| {
                b.push_bind(r.request_id.clone())
                    .push_bind(r.user_id.clone())
                    .push_bind(r.customer_id.clone())
                    .push_bind(r.line_number.clone())
                    .push_bind(r.inquiry_month.clone())
                    .push_bind(r.status.as_str())
                    .push_bind(r.result_code.clone())
                    .push_bind(r.result_message.clone())
                    .push_bind(r.result_summary.clone())
                    .push_bind(bj(r.bill_info.as_ref()))
                    .push_bind(r.from_cache)
                    .push_bind(bt(r.requested_at))
                    .push_bind(r.processed_at.map(bt));
            });
            qb.push(inquiry_on_conflict!());
            qb.build().execute(&mut *tx).await?;
        }
        for chunk in super::statement_chunks(&calls) {
            let mut qb = sqlx::QueryBuilder::<DB>::new(concat!(
                "INSERT INTO kos_call_log (",
                call_columns!(),
                ") "
            ));
            qb.push_values(chunk.iter(), |mut b, c| {
                b.push_bind(c.request_id.clone())
                    .push_bind(c.endpoint.clone())
                    .push_bind(c.result_code.clone())
                    .push_bind(c.outcome.clone())
                    .push_bind(c.duration_ms)
                    .push_bind(bt(c.called_at))
                    .push_bind(bu(c.event_id));
            });
            qb.push(call_on_conflict!());
            qb.build().execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }
}
