//! The record of one KOS call as bill-inquiry and product-change keep it in their
//! `kos_call_log` tables (docs/api.md §3.6, §4.4). One type for both, because both tables have the
//! same columns and both services write it through the history writer, whose spill file holds it
//! as one JSON object per line (the field names are that file's format: they do not change).

use chrono::{DateTime, Utc};
use uuid::Uuid;

/// One KOS call, for the call log (serialisable: the spill file holds it).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct KosCallEvent {
    /// Idempotency key of the write.
    pub event_id: Uuid,
    /// The caller's request id (bill: the inquiry's `requestId`, or the HTTP request id for the
    /// menu's calls; product: the change's request id).
    pub request_id: String,
    /// KOS endpoint name (`bill-inquiry`, `available-months`, `product-change`, …).
    pub endpoint: String,
    /// KOS result code, when KOS answered with one.
    pub result_code: Option<String>,
    /// `success`, `business_error`, `error`, `timeout`, `rejected`.
    pub outcome: String,
    /// Call duration.
    pub duration_ms: i32,
    /// When the call started.
    pub called_at: DateTime<Utc>,
}
