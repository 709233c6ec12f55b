//! PostgreSQL adapter of [`KosStore`]: `jsonb` answers, `timestamptz` instants. The SQL is the
//! shared body of `store::sql`.

use phonebill_common::db::dialect::postgres::*;
use sqlx::{QueryBuilder, Row};

use super::{
    BATCH, ChangeRecord, KosStore, LINE_COLUMNS, LineRow, PRODUCT_COLUMNS, ProductRow,
    RecordOutcome, StoreError, StoredChange,
};
use crate::domain::{Line, Product};

/// The PostgreSQL store.
#[derive(Debug, Clone)]
pub struct PgStore {
    pool: Pool,
}

impl PgStore {
    /// A store over `pool` (migrated by the caller).
    pub fn new(pool: Pool) -> Self {
        Self { pool }
    }
}

impl_kos_store!(PgStore);
