//! The PostgreSQL adapter of [`super::UserStore`]: `timestamptz` and `uuid` columns.

use std::borrow::Cow;

use chrono::{DateTime, Utc};
use sqlx::postgres::PgRow;
use sqlx::{PgPool, Row};
use uuid::Uuid;

use super::{
    LineVerification, NewUser, RefreshRecord, SessionRecord, StoreError, UserRecord, UserStore,
};

type DbRow = PgRow;

/// The store on a PostgreSQL pool.
#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
}

impl PgStore {
    /// A store on `pool`.
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }
}

/// PostgreSQL's row locks and unique constraints arbitrate concurrent writers; a plain BEGIN.
const BEGIN_WRITE: &str = "BEGIN";

fn sql(s: &str) -> Cow<'_, str> {
    Cow::Borrowed(s)
}

fn bt(t: DateTime<Utc>) -> DateTime<Utc> {
    t
}

fn bu(u: Uuid) -> Uuid {
    u
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

impl_user_store!(PgStore);
