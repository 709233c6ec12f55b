//! PostgreSQL adapter of [`super::ChangeStore`]: the SQL of [`super::sql`] on `timestamptz` /
//! `uuid` / `jsonb`, with history reads routed to the read replica (`DATABASE_READ_URL`) when
//! there is a usable one.

use chrono::{DateTime, Utc};
use phonebill_common::db::dialect::postgres::*;
use phonebill_common::db::read::ReadRouter;
use sqlx::{QueryBuilder, Row};

use super::sql::impl_change_store;
use super::{
    ChangeStore, Claim, HistoryFilter, KeyRow, KosCallEvent, StoreError, map_insert_error,
};
use crate::domain::{ChangeRecord, Finish, ProcessStatus};

/// The PostgreSQL store.
#[derive(Debug, Clone)]
pub struct PgStore {
    pool: Pool,
    reads: ReadRouter,
}

impl PgStore {
    /// A store on `pool`, every read on it.
    pub fn new(pool: Pool) -> Self {
        Self::with_reads(pool.clone(), ReadRouter::primary_only(pool))
    }

    /// A store on `pool` whose history reads go through `reads` (a read replica).
    pub fn with_reads(pool: Pool, reads: ReadRouter) -> Self {
        Self { pool, reads }
    }

    /// Runs the read-only query `f` on the replica when usable, else on the primary.
    async fn read<T, F, Fut>(&self, f: F) -> Result<T, StoreError>
    where
        F: Fn(Pool) -> Fut,
        Fut: std::future::Future<Output = Result<T, StoreError>>,
    {
        self.reads.read(f).await
    }
}

impl_change_store!(PgStore);
