//! SQLite adapter of [`KosStore`]: answers as JSON text, instants as RFC 3339 UTC text. The SQL
//! is the shared body of `store::sql`.

use phonebill_common::db::dialect::sqlite::*;
use sqlx::{QueryBuilder, Row};

use super::{
    BATCH, ChangeRecord, KosStore, LINE_COLUMNS, LineRow, PRODUCT_COLUMNS, ProductRow,
    RecordOutcome, StoreError, StoredChange,
};
use crate::domain::{Line, Product};

/// The SQLite store.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: Pool,
}

impl SqliteStore {
    /// A store over `pool` (migrated by the caller).
    pub fn new(pool: Pool) -> Self {
        Self { pool }
    }
}

impl_kos_store!(SqliteStore);
