//! SQLite adapter of [`super::BillStore`]: timestamps as RFC 3339 UTC text with a fixed width
//! (so text order is time order), JSON and uuids as text (docs/api.md §7 type mapping).

use std::borrow::Cow;

use chrono::{DateTime, SecondsFormat, Utc};
use phonebill_common::history::HistorySink;
use sqlx::Row;
use sqlx::sqlite::{SqlitePool, SqliteRow};
use uuid::Uuid;

use super::sql::impl_bill_store;
use super::{BillStore, HistoryEvent, InquiryRow, KosCallRow, StoreError};
use crate::domain::HistoryFilter;

type DB = sqlx::Sqlite;
type DbRow = SqliteRow;
type Pool = SqlitePool;

/// The SQLite store.
#[derive(Debug, Clone)]
pub struct SqliteBillStore {
    pool: SqlitePool,
}

impl SqliteBillStore {
    /// A store on `pool`.
    pub fn new(pool: SqlitePool) -> Self {
        Self { pool }
    }

    /// SQLite has no replica: every read on the one file.
    async fn read<T, F, Fut>(&self, f: F) -> Result<T, StoreError>
    where
        F: Fn(SqlitePool) -> Fut,
        Fut: std::future::Future<Output = Result<T, StoreError>>,
    {
        f(self.pool.clone()).await
    }
}

/// `$N` → `?N` (SQLite's numbered parameters).
fn sql(s: &str) -> Cow<'_, str> {
    if s.contains('$') {
        Cow::Owned(s.replace('$', "?"))
    } else {
        Cow::Borrowed(s)
    }
}

fn bt(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

fn bu(u: Uuid) -> String {
    u.to_string()
}

fn parse_t(col: &str, s: &str) -> Result<DateTime<Utc>, StoreError> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| StoreError::Corrupt(format!("{col}: {e}")))
}

fn bj_owned(v: Option<&String>) -> Option<String> {
    v.cloned()
}

fn gt(row: &DbRow, col: &str) -> Result<DateTime<Utc>, StoreError> {
    let s: String = row.try_get(col)?;
    parse_t(col, &s)
}

fn gto(row: &DbRow, col: &str) -> Result<Option<DateTime<Utc>>, StoreError> {
    let s: Option<String> = row.try_get(col)?;
    s.map(|s| parse_t(col, &s)).transpose()
}

fn gu(row: &DbRow, col: &str) -> Result<Uuid, StoreError> {
    let s: String = row.try_get(col)?;
    Uuid::parse_str(&s).map_err(|e| StoreError::Corrupt(format!("{col}: {e}")))
}

fn gj(row: &DbRow, col: &str) -> Result<Option<String>, StoreError> {
    Ok(row.try_get(col)?)
}

impl_bill_store!(SqliteBillStore);
