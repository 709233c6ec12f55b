//! PostgreSQL adapter of [`super::BillStore`] (`timestamptz`, `jsonb`, `uuid`).

use chrono::{DateTime, Utc};
use phonebill_common::history::HistorySink;
use sqlx::Row;
use sqlx::postgres::{PgPool, PgRow};
use uuid::Uuid;

use super::sql::impl_bill_store;
use super::{BillStore, HistoryEvent, InquiryRow, KosCallRow, StoreError};
use crate::domain::HistoryFilter;

type DB = sqlx::Postgres;
type DbRow = PgRow;

/// The PostgreSQL store.
#[derive(Debug, Clone)]
pub struct PgBillStore {
    pool: PgPool,
}

impl PgBillStore {
    /// A store on `pool`.
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
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

fn bj_owned(v: Option<&serde_json::Value>) -> Option<sqlx::types::Json<serde_json::Value>> {
    v.cloned().map(sqlx::types::Json)
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

fn gj(row: &DbRow, col: &str) -> Result<Option<serde_json::Value>, StoreError> {
    Ok(row
        .try_get::<Option<sqlx::types::Json<serde_json::Value>>, _>(col)?
        .map(|j| j.0))
}

impl_bill_store!(PgBillStore);
