//! The bill-inquiry use cases (docs/api.md §3.1–3.6), one module each: [`menu`], [`inquiry`]
//! (inquiry with the cache-aside / single-flight / breaker / sync-budget rules), [`poll`]
//! (result polling) and [`history`] (history pages and the retention purge). This module holds
//! the service, its parts and what the use cases share (history recording, KOS call logging,
//! cache keys). Handlers call these after parsing and authorising; nothing here knows HTTP
//! except the `ApiError` it returns, and what a KOS answer becomes is decided in
//! `domain::outcome`.

pub mod history;
pub mod inquiry;
pub mod menu;
pub mod poll;

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use phonebill_common::cache::{Cache, CacheKey};
use phonebill_common::contract::bill_cache;
use phonebill_common::error::ApiError;
use phonebill_common::history::HistoryWriter;
use phonebill_common::kos::client::{KosClient, KosError};
use phonebill_common::kos::codes;
use phonebill_common::line::LineNumber;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use history::{HistoryItem, HistoryPage, PaginationInfo};
pub use inquiry::{BillResult, Inquiry, InquiryData, MSG_DONE, MSG_PROCESSING};
pub use menu::{MSG_MENU, MSG_MENU_FALLBACK, MenuCustomer, MenuData};

use crate::domain::outcome::kos_code;
use crate::domain::{DynClock, Month, truncate_chars};
use crate::store::{DynBillStore, HistoryEvent, KosCallEvent};
use poll::PollEntry;

/// Parts of the service.
pub struct ServiceDeps {
    /// Cache.
    pub cache: Cache,
    /// KOS client (with the breaker).
    pub kos: KosClient,
    /// Store (reads).
    pub store: DynBillStore,
    /// History writer (all writes).
    pub history: HistoryWriter<HistoryEvent>,
    /// Clock.
    pub clock: DynClock,
    /// Sync budget.
    pub sync_budget: Duration,
    /// `billInfo` retention for polling.
    pub retention: Duration,
    /// Owns the background KOS calls.
    pub tracker: TaskTracker,
    /// Cancels them (after the shutdown grace period).
    pub cancel: CancellationToken,
}

/// The use cases. Cheap to clone.
#[derive(Clone)]
pub struct BillService {
    inner: Arc<Inner>,
}

struct Inner {
    deps: ServiceDeps,
    polls: moka::sync::Cache<String, Arc<PollEntry>>,
}

impl std::fmt::Debug for BillService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BillService").finish_non_exhaustive()
    }
}

fn bill_key(line: &LineNumber, month: Month) -> CacheKey<BillResult> {
    bill_cache::key(line.as_str(), &month.compact())
}

fn months_key(line: &LineNumber) -> CacheKey<Vec<String>> {
    CacheKey::new(crate::cache::BILL_MONTHS, &[line.as_str()])
}

impl BillService {
    /// The service over its parts.
    pub fn new(deps: ServiceDeps) -> Self {
        Self {
            inner: Arc::new(Inner {
                deps,
                polls: moka::sync::Cache::builder()
                    .max_capacity(10_000)
                    .time_to_live(Duration::from_secs(600))
                    .build(),
            }),
        }
    }

    fn d(&self) -> &ServiceDeps {
        &self.inner.deps
    }

    /// Queues a history event without waiting for its commit: for KOS call rows, which the
    /// request's inquiry row, recorded after them and awaited, covers (the writer is FIFO).
    async fn record(&self, ev: HistoryEvent) {
        if self.d().history.record(ev).await.is_err() {
            tracing::warn!("history writer closed; event not recorded");
        }
    }

    /// Records an inquiry row and waits until it is durable (group commit, or the spill file
    /// while the database is away): an answer is never sent for a request without its row
    /// (docs/reliability.md). Not durable → `503 SERVICE_UNAVAILABLE` (docs/api.md §errors).
    async fn record_durable(&self, ev: HistoryEvent) -> Result<(), ApiError> {
        self.d()
            .history
            .record_durable(ev)
            .await
            .map(|_| ())
            .map_err(|e| {
                tracing::error!(error = %e, "history row not durable; answering 503");
                ApiError::unavailable(e)
            })
    }

    async fn log_kos_call<T>(
        &self,
        request_id: &str,
        endpoint: &str,
        called_at: DateTime<Utc>,
        started: Instant,
        result: &Result<T, KosError>,
    ) {
        let (result_code, outcome) = match result {
            Ok(_) => (Some(codes::SUCCESS.to_owned()), "success"),
            Err(e) => (kos_code(e), e.outcome()),
        };
        self.record(HistoryEvent::KosCall(KosCallEvent {
            event_id: uuid::Uuid::new_v4(),
            request_id: truncate_chars(request_id, 128),
            endpoint: endpoint.to_owned(),
            result_code: result_code.map(|c| truncate_chars(&c, 10)),
            outcome: outcome.to_owned(),
            duration_ms: i32::try_from(started.elapsed().as_millis()).unwrap_or(i32::MAX),
            called_at,
        }))
        .await;
    }
}
