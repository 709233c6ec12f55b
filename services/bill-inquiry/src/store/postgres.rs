//! PostgreSQL adapter of [`super::BillStore`] (`timestamptz`, `jsonb`, `uuid`).

use chrono::{DateTime, Utc};
use phonebill_common::db::read::ReadRouter;
use phonebill_common::history::HistorySink;
use sqlx::Row;
use sqlx::postgres::{PgPool, PgRow};
use uuid::Uuid;

use super::sql::impl_bill_store;
use super::{BillStore, HistoryEvent, InquiryRow, KosCallRow, StoreError};
use crate::domain::HistoryFilter;

type DB = sqlx::Postgres;
type DbRow = PgRow;
type Pool = PgPool;

/// The PostgreSQL store.
#[derive(Debug, Clone)]
pub struct PgBillStore {
    pool: PgPool,
    reads: ReadRouter,
}

impl PgBillStore {
    /// A store on `pool`, every read on it.
    pub fn new(pool: PgPool) -> Self {
        Self::with_reads(pool.clone(), ReadRouter::primary_only(pool))
    }

    /// A store on `pool` whose history reads go through `reads` (a read replica).
    pub fn with_reads(pool: PgPool, reads: ReadRouter) -> Self {
        Self { pool, reads }
    }

    async fn read<T, F, Fut>(&self, f: F) -> Result<T, StoreError>
    where
        F: Fn(PgPool) -> Fut,
        Fut: std::future::Future<Output = Result<T, StoreError>>,
    {
        self.reads.read(f).await
    }
}

fn sql(s: &str) -> &str {
    s
}

fn bt(t: DateTime<Utc>) -> DateTime<Utc> {
    t
}

fn bu(u: Uuid) -> Uuid {
    u
}

/// JSON text to `jsonb`: bound as raw JSON, so PostgreSQL parses it once and nothing is
/// re-serialised here. Text that is not JSON (never written by this service) is bound as NULL.
fn bj_owned(v: Option<&String>) -> Option<sqlx::types::Json<Box<serde_json::value::RawValue>>> {
    v.and_then(|s| serde_json::value::RawValue::from_string(s.clone()).ok())
        .map(sqlx::types::Json)
}

fn gt(row: &DbRow, col: &str) -> Result<DateTime<Utc>, StoreError> {
    Ok(row.try_get(col)?)
}

fn gto(row: &DbRow, col: &str) -> Result<Option<DateTime<Utc>>, StoreError> {
    Ok(row.try_get(col)?)
}

fn gu(row: &DbRow, col: &str) -> Result<Uuid, StoreError> {
    Ok(row.try_get(col)?)
}

fn gj(row: &DbRow, col: &str) -> Result<Option<String>, StoreError> {
    Ok(row
        .try_get::<Option<sqlx::types::Json<Box<serde_json::value::RawValue>>>, _>(col)?
        .map(|j| j.0.get().to_owned()))
}

impl_bill_store!(PgBillStore);
