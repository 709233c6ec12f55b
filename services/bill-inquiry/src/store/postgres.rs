//! PostgreSQL adapter of [`super::BillStore`] (`timestamptz`, `jsonb`, `uuid`).

use chrono::{DateTime, Utc};
use phonebill_common::db::dialect::postgres::*;
use phonebill_common::db::read::ReadRouter;
use phonebill_common::history::HistorySink;
use sqlx::Row;

use super::sql::impl_bill_store;
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
