//! The product-change use cases on top of KOS, the cache and the store, one module per use
//! case: [`lookup`] (catalogue, line, pre-checks, a change's state, history; cached, with the
//! stale rule of docs/api.md §3.4), [`change`] (the outbox change of §4.6 and what it answers),
//! [`idempotency`] (keys, replays) and [`reconcile`] (re-sending changes whose outcome is
//! unknown). What a KOS answer means is decided in [`crate::domain::outcome`]; handlers call
//! these and only map the results onto the wire (`crate::routes`).

pub mod change;
mod idempotency;
pub mod lookup;
mod reconcile;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use phonebill_common::cache::{Cache, CacheKey, Invalidate};
use phonebill_common::contract::bill_cache;
use phonebill_common::error::ApiError;
use phonebill_common::history::HistoryWriter;
use phonebill_common::kos::client::{KosClient, KosError};
use phonebill_common::kos::{KosEndpoint, ProductChangeData, ProductChangeRequest, codes};
use phonebill_common::metrics::{IntCounterVec, Metrics};
use phonebill_common::time::DynClock;
use serde_json::Value;

use crate::config::ReconcileConfig;
use crate::domain::{Catalog, ChangeRecord, Finish, LineSnapshot, ProcessStatus};
use crate::store::{DynStore, KosCallEvent, StoreError};

pub use change::{Caller, ChangeCommand, ChangeReply, ChangeResult};
pub use lookup::Fetched;

/// The service. Cheap to clone.
#[derive(Clone)]
pub struct ProductService {
    inner: Arc<Inner>,
}

struct Inner {
    store: DynStore,
    kos: KosClient,
    cache: Cache,
    calls: HistoryWriter<KosCallEvent>,
    /// `product_change_total`, resolved once (a registry look-up takes its lock).
    changes: IntCounterVec,
    budget: Duration,
    reconcile: ReconcileConfig,
    idempotency_ttl: Duration,
    /// Names this replica's reconciliation claims (unique per process).
    claimer: String,
    /// The change tasks (they outlive a dropped request; shutdown waits for them).
    detached: tokio_util::task::TaskTracker,
    /// Where "now" comes from (injected, so the time rules need no wall clock).
    clock: DynClock,
}

impl std::fmt::Debug for ProductService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProductService").finish_non_exhaustive()
    }
}

pub(super) fn catalog_key() -> CacheKey<Catalog> {
    CacheKey::new(crate::cache::PRODUCT_LIST, &[])
}

pub(super) fn line_key(line: &str) -> CacheKey<LineSnapshot> {
    CacheKey::new(crate::cache::PRODUCT_CUSTOMER, &[line])
}

pub(super) fn store_err(e: StoreError) -> ApiError {
    ApiError::unavailable(e)
}

/// KOS failures that are not business answers, for the look-ups: the docs/api.md mapping, with a
/// timeout inside the budget being `504`.
pub(super) fn kos_api_error(e: KosError) -> ApiError {
    ApiError::from(e)
}

impl ProductService {
    /// Assembles the service.
    #[expect(
        clippy::too_many_arguments,
        reason = "the service's collaborators, wired once"
    )]
    pub fn new(
        store: DynStore,
        kos: KosClient,
        cache: Cache,
        calls: HistoryWriter<KosCallEvent>,
        metrics: Metrics,
        budget: Duration,
        reconcile: ReconcileConfig,
        idempotency_ttl: Duration,
        clock: DynClock,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                store,
                kos,
                cache,
                calls,
                changes: crate::metrics::changes(&metrics),
                budget,
                reconcile,
                idempotency_ttl,
                claimer: format!("pc-{}", uuid::Uuid::new_v4().simple()),
                detached: tokio_util::task::TaskTracker::new(),
                clock,
            }),
        }
    }

    /// Waits (at most `grace`) for change tasks still running after their request was dropped,
    /// so the rows they log are queued before the call-log writer stops.
    pub async fn wait_detached(&self, grace: Duration) {
        self.inner.detached.close();
        if tokio::time::timeout(grace, self.inner.detached.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                running = self.inner.detached.len(),
                "change tasks still running at shutdown"
            );
        }
    }

    /// The current instant, from the service's clock.
    pub fn now(&self) -> DateTime<Utc> {
        self.inner.clock.now()
    }

    /// The store (tests and diagnostics; handlers go through the use cases).
    pub fn store(&self) -> &DynStore {
        &self.inner.store
    }

    /// The KOS client.
    pub fn kos(&self) -> &KosClient {
        &self.inner.kos
    }

    /// Runs one KOS call, timing it into the call log.
    pub(super) async fn logged<T, F>(
        &self,
        endpoint: KosEndpoint,
        request_id: &str,
        fut: F,
    ) -> Result<T, KosError>
    where
        F: Future<Output = Result<T, KosError>>,
    {
        let start = std::time::Instant::now();
        let called_at = self.now();
        let result = fut.await;
        let (result_code, outcome) = match &result {
            Ok(_) => (Some(codes::SUCCESS.to_owned()), "success"),
            Err(e) => (
                match e {
                    KosError::Business { code, .. } => Some(code.clone()),
                    KosError::Upstream5xx { result_code, .. }
                    | KosError::Rejected { result_code, .. } => result_code.clone(),
                    _ => None,
                },
                e.outcome(),
            ),
        };
        let event = KosCallEvent {
            event_id: uuid::Uuid::new_v4(),
            request_id: request_id.to_owned(),
            endpoint: endpoint.as_str().to_owned(),
            result_code,
            outcome: outcome.to_owned(),
            duration_ms: i32::try_from(start.elapsed().as_millis()).unwrap_or(i32::MAX),
            called_at,
        };
        // Group commit: the answer built on this call waits for its log row (committed, or
        // spilled while the database is away). The KOS call has happened either way, so a row
        // that could not be made durable is reported, not turned into a failure of a change
        // KOS already made (the outbox row is the change's own record).
        if let Err(e) = self.inner.calls.record_durable(event).await {
            tracing::error!(error = %e, request_id, "KOS call log row not durable");
        }
        result
    }

    pub(super) async fn send_change(
        &self,
        r: &ChangeRecord,
    ) -> Result<ProductChangeData, KosError> {
        let req = ProductChangeRequest {
            line_number: r.line_number.clone(),
            current_product_code: r.current_product_code.clone(),
            target_product_code: r.target_product_code.clone(),
            request_id: r.request_id.clone(),
        };
        self.logged(
            KosEndpoint::ProductChange,
            &r.request_id,
            self.inner.kos.product_change(&req),
        )
        .await
    }

    pub(super) async fn finish(&self, r: &ChangeRecord, f: Finish) -> Result<bool, StoreError> {
        let applied = self.inner.store.finish_change(&r.request_id, &f).await?;
        if applied {
            self.inner
                .changes
                .with_label_values(&[f.status.as_str()])
                .inc();
            if f.status == ProcessStatus::Completed {
                self.invalidate_line(&r.line_number).await;
            }
        }
        Ok(applied)
    }

    /// Drops the line's cached customer data and its current-month bill, on every replica.
    async fn invalidate_line(&self, line: &str) {
        self.inner
            .cache
            .invalidate(&line_key(line), Invalidate::All)
            .await;
        let month = phonebill_common::time::now_kst().format("%Y%m").to_string();
        let bill: CacheKey<Value> = bill_cache::key(line, &month);
        self.inner.cache.invalidate(&bill, Invalidate::All).await;
    }
}
