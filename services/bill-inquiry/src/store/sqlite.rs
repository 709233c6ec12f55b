//! SQLite adapter of [`super::BillStore`]: timestamps as RFC 3339 UTC text with a fixed width
//! (so text order is time order), JSON and uuids as text (docs/api.md §7 type mapping).

use chrono::{DateTime, Utc};
use phonebill_common::db::dialect::sqlite::*;
use phonebill_common::history::HistorySink;
use sqlx::Row;

use super::sql::impl_bill_store;
use super::{BillStore, HistoryEvent, InquiryRow, KosCallEvent, StoreError};
use crate::domain::HistoryFilter;

/// The SQLite store.
#[derive(Debug, Clone)]
pub struct SqliteBillStore {
    pool: Pool,
}

impl SqliteBillStore {
    /// A store on `pool`.
    pub fn new(pool: Pool) -> Self {
        Self { pool }
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
