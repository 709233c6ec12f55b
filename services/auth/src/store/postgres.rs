//! The PostgreSQL adapter of [`super::UserStore`]: `timestamptz` and `uuid` columns.

use chrono::{DateTime, Utc};
use phonebill_common::db::dialect::postgres::*;
use sqlx::Row;
use uuid::Uuid;

use super::{
    LineVerification, NewUser, RefreshRecord, SessionRecord, StoreError, UserRecord, UserStore,
};

/// The store on a PostgreSQL pool.
#[derive(Debug, Clone)]
pub struct PgStore {
    pool: Pool,
}

impl PgStore {
    /// A store on `pool`.
    pub fn new(pool: Pool) -> Self {
        Self { pool }
    }
}

impl_user_store!(PgStore);
