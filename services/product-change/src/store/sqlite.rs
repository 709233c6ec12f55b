//! SQLite adapter of [`super::ChangeStore`]: the SQL of [`super::sql`] on TEXT instants and ids
//! (fixed-width RFC 3339 UTC, so text order is time order). One database file, so every read
//! runs on the one pool.

use chrono::{DateTime, Utc};
use phonebill_common::db::dialect::sqlite::*;
use sqlx::{QueryBuilder, Row};

use super::sql::impl_change_store;
use super::{
    ChangeStore, Claim, HistoryFilter, KeyRow, KosCallEvent, StoreError, map_insert_error,
};
use crate::domain::{ChangeRecord, Finish, ProcessStatus};

/// The SQLite store.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: Pool,
}

impl SqliteStore {
    /// A store on `pool`.
    pub fn new(pool: Pool) -> Self {
        Self { pool }
    }

    /// Runs the read-only query `f` on the pool (SQLite has no replica).
    async fn read<T, F, Fut>(&self, f: F) -> Result<T, StoreError>
    where
        F: Fn(Pool) -> Fut,
        Fut: std::future::Future<Output = Result<T, StoreError>>,
    {
        f(self.pool.clone()).await
    }
}

impl_change_store!(SqliteStore);
