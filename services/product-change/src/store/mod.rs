//! Persistence of the product-change service: the change records (outbox), idempotency keys and
//! the KOS call log, behind [`ChangeStore`]. The SQL is written once ([`sql`]); the PostgreSQL and
//! SQLite adapters expand it over their dialect (`phonebill_common::db::dialect`).

pub mod postgres;
mod sql;
pub mod sqlite;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use phonebill_common::history::HistorySink;

use crate::domain::{ChangeRecord, Finish};

/// The store as handlers hold it.
pub type DynStore = Arc<dyn ChangeStore>;

/// A store failure.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Another change of the same line is `PENDING`/`PROCESSING` (the partial unique index).
    #[error("another change of this line is in flight")]
    InFlight,
    /// The `request_id` already exists.
    #[error("request id already used")]
    DuplicateRequestId,
    /// Anything else.
    #[error(transparent)]
    Db(#[from] sqlx::Error),
    /// A stored value could not be read.
    #[error("corrupt row: {0}")]
    Corrupt(String),
}

/// An idempotency key row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRow {
    /// Hash of the normalised request.
    pub request_hash: String,
    /// The change it belongs to.
    pub request_id: String,
    /// Stored response status; `None` while in flight.
    pub status_code: Option<i32>,
    /// Stored response (`{message, data}` or `{error}`).
    pub response_body: Option<serde_json::Value>,
    /// When it was claimed.
    pub created_at: DateTime<Utc>,
    /// When it may be forgotten.
    pub expires_at: DateTime<Utc>,
}

/// The answer to claiming a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// This request owns the key now.
    Claimed,
    /// The key was already there (and not expired).
    Existing(KeyRow),
}

/// History query.
#[derive(Debug, Clone)]
pub struct HistoryFilter {
    /// Lines to include (never empty).
    pub lines: Vec<String>,
    /// Requested at or after.
    pub from: Option<DateTime<Utc>>,
    /// Requested before.
    pub until: Option<DateTime<Utc>>,
    /// Page size.
    pub limit: i64,
    /// Rows to skip.
    pub offset: i64,
}

/// One KOS call, for the call log (the type bill-inquiry logs its calls with too).
pub use phonebill_common::kos::KosCallEvent;

/// What the service needs from its database.
#[async_trait::async_trait]
pub trait ChangeStore: Send + Sync + 'static {
    /// Inserts a new record (the outbox write, before KOS is called).
    async fn insert_change(&self, r: &ChangeRecord) -> Result<(), StoreError>;
    /// Writes the final state if the record is still `PROCESSING`/`PENDING`; `false` if it was
    /// already final (so a result is applied exactly once).
    async fn finish_change(&self, request_id: &str, f: &Finish) -> Result<bool, StoreError>;
    /// Records a reconciliation attempt made at `now` (the row's `updated_at`), if the record is
    /// still `PROCESSING`/`PENDING`.
    async fn record_attempt(
        &self,
        request_id: &str,
        attempts: i32,
        next_attempt_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    /// One record.
    async fn get_change(&self, request_id: &str) -> Result<Option<ChangeRecord>, StoreError>;
    /// Claims up to `limit` `PROCESSING`/`PENDING` records due for reconciliation for `owner`
    /// until `lease_until`, oldest first, and returns them. Atomic across replicas: a row claimed
    /// by one (and not yet released, lease not run out) is never returned to another
    /// (PostgreSQL: `FOR UPDATE SKIP LOCKED`; SQLite: one conditional `UPDATE`, writes are
    /// serialised). docs/architecture.md "Reconciliation claims".
    async fn claim_due(
        &self,
        now: DateTime<Utc>,
        owner: &str,
        lease_until: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<ChangeRecord>, StoreError>;
    /// Releases `owner`'s claim on a record (after its attempt); a claim of another owner is
    /// left alone.
    async fn release_claim(&self, request_id: &str, owner: &str) -> Result<(), StoreError>;
    /// A page of history, newest first, and the total.
    async fn history(&self, f: &HistoryFilter) -> Result<(Vec<ChangeRecord>, i64), StoreError>;
    /// Claims `key` for `user`, replacing an expired row.
    async fn claim_key(&self, user_id: &str, key: &str, row: &KeyRow) -> Result<Claim, StoreError>;
    /// Stores the response of a claimed key.
    async fn complete_key(
        &self,
        user_id: &str,
        key: &str,
        status: i32,
        body: &serde_json::Value,
    ) -> Result<(), StoreError>;
    /// Forgets a key (the request ended in a retryable error).
    async fn release_key(&self, user_id: &str, key: &str) -> Result<(), StoreError>;
    /// Records that `user` calls change `request_id` by the id it chose (`client_id`); the first
    /// mapping of a (user, client id) stays.
    async fn map_client_id(
        &self,
        user_id: &str,
        client_id: &str,
        request_id: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    /// The change `user` calls `client_id`, if any.
    async fn find_client_id(
        &self,
        user_id: &str,
        client_id: &str,
    ) -> Result<Option<String>, StoreError>;
    /// Forgets a key still unanswered since `created_at` (its request died between the claim
    /// and the outbox row); `false` if it changed meanwhile (another retry took it over).
    async fn release_abandoned_key(
        &self,
        user_id: &str,
        key: &str,
        created_at: DateTime<Utc>,
    ) -> Result<bool, StoreError>;
    /// Deletes expired keys; returns how many.
    async fn purge_keys(&self, now: DateTime<Utc>) -> Result<u64, StoreError>;
    /// Writes KOS call log rows (idempotent on `event_id`).
    async fn write_calls(&self, batch: &[KosCallEvent]) -> Result<(), StoreError>;
    /// How many call-log rows a request has (tests, diagnostics).
    async fn count_calls(&self, request_id: &str) -> Result<i64, StoreError>;
}

/// Adapter so the store is the history writer's sink.
pub struct CallSink(pub DynStore);

#[async_trait::async_trait]
impl HistorySink<KosCallEvent> for CallSink {
    async fn write_batch(
        &self,
        batch: &[KosCallEvent],
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        self.0.write_calls(batch).await.map_err(Into::into)
    }
}

/// Maps a unique violation to the right [`StoreError`].
pub(crate) fn map_insert_error(e: sqlx::Error) -> StoreError {
    if let sqlx::Error::Database(db) = &e
        && db.is_unique_violation()
    {
        let msg = db.message();
        let constraint = db.constraint().unwrap_or_default();
        if constraint.contains("one_in_flight") || msg.contains("line_number") {
            return StoreError::InFlight;
        }
        return StoreError::DuplicateRequestId;
    }
    StoreError::Db(e)
}
