//! Storage of the mock (docs/api.md §7.4): products, lines (customers) and product-change requests
//! (idempotency). One trait, three adapters: PostgreSQL, SQLite and in-memory (`KOS_STORE=memory`),
//! and a line cache ([`cached`]) in front of the two databases. The two SQL adapters share one
//! SQL body (`sql.rs`) over the dialect differences of `phonebill_common::db::dialect`.
//! Bills are computed, never stored.

#[macro_use]
mod sql;
pub mod cached;
pub mod memory;
pub mod postgres;
pub mod sqlite;

use std::sync::Arc;

use chrono::NaiveDate;
use serde_json::Value;

use crate::domain::{Line, Product};

/// A store failure (database unreachable, constraint surprise): answered as `500 9999`.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Driver error.
    #[error(transparent)]
    Sqlx(#[from] sqlx::Error),
    /// A stored JSON document could not be read.
    #[error("stored JSON unreadable: {0}")]
    Json(#[from] serde_json::Error),
}

/// A stored change request (idempotency record).
#[derive(Debug, Clone, PartialEq)]
pub struct StoredChange {
    /// Fingerprint of the request body.
    pub request_hash: String,
    /// The answer (`data` of the KOS envelope) given the first time.
    pub response: Value,
}

/// The product switch a successful change applies.
#[derive(Debug, Clone)]
pub struct ProductUpdate {
    /// 11 digits.
    pub line_number: String,
    /// Expected current product (optimistic check).
    pub from: String,
    /// New product.
    pub to: String,
}

/// A change request to record, with the product switch it applies (if it succeeded).
#[derive(Debug, Clone)]
pub struct ChangeRecord {
    /// The caller's request id.
    pub request_id: String,
    /// Fingerprint of the body.
    pub request_hash: String,
    /// The answer to store.
    pub response: Value,
    /// Present when the change succeeded.
    pub update: Option<ProductUpdate>,
}

/// What recording a change did.
#[derive(Debug, Clone, PartialEq)]
pub enum RecordOutcome {
    /// Stored (and the product switched, if any).
    Recorded,
    /// The request id was already stored (a concurrent duplicate): nothing changed.
    Existing(StoredChange),
    /// The line's product changed between the checks and the update: nothing changed.
    Stale,
}

/// The mock's storage.
#[async_trait::async_trait]
pub trait KosStore: Send + Sync {
    /// Inserts the demo products and lines that are missing (idempotent; existing rows untouched).
    async fn seed(&self, products: &[Product], lines: &[Line]) -> Result<(), StoreError>;
    /// All products.
    async fn products(&self) -> Result<Vec<Product>, StoreError>;
    /// A line by its 11 digits.
    async fn line(&self, line_number: &str) -> Result<Option<Line>, StoreError>;
    /// A stored change request.
    async fn change_request(&self, request_id: &str) -> Result<Option<StoredChange>, StoreError>;
    /// Records a change request and applies its product switch atomically.
    async fn record_change(&self, rec: ChangeRecord) -> Result<RecordOutcome, StoreError>;
    /// Inserts lines, skipping those whose line number exists; returns how many were created.
    async fn create_lines(&self, lines: &[Line]) -> Result<u64, StoreError>;
}

/// The store as held by the service.
pub type DynStore = Arc<dyn KosStore>;

/// Row shape of `kos_products`, shared by the SQL adapters.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct ProductRow {
    product_code: String,
    product_name: String,
    monthly_fee: i64,
    data_allowance: String,
    voice_allowance: String,
    sms_allowance: String,
    operator_code: String,
    network_type: String,
    status: String,
    description: String,
}

impl From<ProductRow> for Product {
    fn from(r: ProductRow) -> Self {
        Self {
            code: r.product_code,
            name: r.product_name,
            monthly_fee: r.monthly_fee,
            data_allowance: r.data_allowance,
            voice_allowance: r.voice_allowance,
            sms_allowance: r.sms_allowance,
            operator_code: r.operator_code,
            network_type: r.network_type,
            status: r.status,
            description: r.description,
        }
    }
}

/// Row shape of `kos_customers`, shared by the SQL adapters.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct LineRow {
    line_number: String,
    customer_id: String,
    customer_name: String,
    operator_code: String,
    current_product_code: String,
    initial_product_code: String,
    line_status: String,
    contract_date: NaiveDate,
}

impl From<LineRow> for Line {
    fn from(r: LineRow) -> Self {
        Self {
            // `char(11)` never pads an 11-digit value, but trim defensively.
            line_number: r.line_number.trim().to_owned(),
            customer_id: r.customer_id,
            customer_name: r.customer_name,
            operator_code: r.operator_code,
            current_product_code: r.current_product_code,
            initial_product_code: r.initial_product_code,
            line_status: r.line_status,
            contract_date: r.contract_date,
        }
    }
}

/// Columns selected for a line.
pub(crate) const LINE_COLUMNS: &str = "line_number, customer_id, customer_name, operator_code, \
     current_product_code, initial_product_code, line_status, contract_date";

/// Columns selected for a product.
pub(crate) const PRODUCT_COLUMNS: &str = "product_code, product_name, monthly_fee, data_allowance, \
     voice_allowance, sms_allowance, operator_code, network_type, status, description";

/// Rows per multi-row INSERT: 1,000 × 8 parameters stays far below both drivers' limits.
pub(crate) const BATCH: usize = 1000;
