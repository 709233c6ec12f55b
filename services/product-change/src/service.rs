//! The product-change use cases on top of KOS, the cache and the store: look-ups (cached, with
//! the stale rule of docs/api.md §3.4), pre-checks (4.5), the idempotent outbox change (4.6) and its
//! reconciliation. Handlers call these and only map the results onto the wire.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use http::{HeaderValue, StatusCode, header};
use phonebill_common::cache::{Cache, CacheKey, Cached, Family, Invalidate, Loaded, Negative};
use phonebill_common::error::{ApiError, ErrorCode};
use phonebill_common::history::HistoryWriter;
use phonebill_common::kos::client::{KosClient, KosError};
use phonebill_common::kos::{
    KosEndpoint, ProductChangeData, ProductChangeRequest, ProductInquiryRequest, codes,
};
use phonebill_common::line::LineNumber;
use phonebill_common::metrics::Metrics;
use serde::Serialize;
use serde_json::{Value, json};
use utoipa::ToSchema;

use crate::config::ReconcileConfig;
use crate::domain::{
    self, Catalog, ChangeRecord, E_KOS_TIMEOUT, E_KOS_UNAVAILABLE, Finish, LineSnapshot,
    PROCESSING_CODE, PROCESSING_MESSAGE, ProcessStatus, Product, ValidationOutcome, run_checks,
};
use crate::store::{Claim, DynStore, KeyRow, KosCallEvent, StoreError};

/// A key still "in flight" after this long belonged to a request that died; it is resolved
/// from the change record instead of answering 409 for a whole day.
const ABANDONED_KEY_AFTER: Duration = Duration::from_secs(60);

/// A value and, when it is a stale copy served because KOS failed, when it was cached.
#[derive(Debug, Clone)]
pub struct Fetched<T> {
    /// The value; `None` when KOS does not know the line.
    pub value: Option<Arc<T>>,
    /// `Some(cachedAt)` when stale.
    pub stale_since: Option<DateTime<Utc>>,
}

/// The change result body of docs/api.md §4.6.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChangeResult {
    /// Request id.
    pub request_id: String,
    /// `COMPLETED` | `FAILED` | `PROCESSING`.
    pub process_status: ProcessStatus,
    /// `0000`, KOS code, `0100` or ours.
    pub result_code: String,
    /// Its message.
    pub result_message: String,
    /// The new product (COMPLETED only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub changed_product: Option<Product>,
    /// When processed (Korea time).
    pub processed_at: String,
    /// KOS order number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kos_order_number: Option<String>,
    /// `YYYYMMDD`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub effective_date: Option<String>,
    /// Why it failed (FAILED only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure_reason: Option<String>,
}

/// What the change endpoint answers (also what an idempotency key stores).
#[derive(Debug)]
pub enum ChangeReply {
    /// A success envelope (`200` or `202`).
    Done {
        /// HTTP status.
        status: StatusCode,
        /// Envelope message.
        message: String,
        /// The result.
        data: Value,
        /// `Location` for `202`.
        location: Option<String>,
    },
    /// An error envelope.
    Error(ApiError),
}

impl ChangeReply {
    fn to_stored(&self) -> (i32, Value) {
        match self {
            Self::Done {
                status,
                message,
                data,
                location,
            } => (
                i32::from(status.as_u16()),
                json!({ "message": message, "data": data, "location": location }),
            ),
            Self::Error(e) => (
                i32::from(e.code().status().as_u16()),
                json!({ "error": { "code": e.code().as_str(), "message": e.message_text(), "details": e.details_text() } }),
            ),
        }
    }

    fn from_stored(status: i32, body: &Value) -> Option<Self> {
        if let Some(err) = body.get("error") {
            let code = err.get("code")?.as_str()?;
            let code = ErrorCode::ALL
                .iter()
                .copied()
                .find(|c| c.as_str() == code)?;
            let mut e = ApiError::new(code).message(err.get("message")?.as_str()?.to_owned());
            if let Some(d) = err.get("details").and_then(Value::as_str) {
                e = e.details(d.to_owned());
            }
            return Some(Self::Error(e));
        }
        Some(Self::Done {
            status: StatusCode::from_u16(u16::try_from(status).ok()?).ok()?,
            message: body.get("message")?.as_str()?.to_owned(),
            data: body.get("data")?.clone(),
            location: body
                .get("location")
                .and_then(Value::as_str)
                .map(str::to_owned),
        })
    }
}

/// A validated change request.
#[derive(Debug, Clone)]
pub struct ChangeCommand {
    /// The line (already checked to be the caller's).
    pub line: LineNumber,
    /// Product the client believes is current.
    pub current_product_code: String,
    /// Product asked for.
    pub target_product_code: String,
    /// Client-chosen request id (body `requestId`).
    pub client_request_id: Option<String>,
    /// `Idempotency-Key` header.
    pub idempotency_key: Option<String>,
}

/// The caller, as the change needs it.
#[derive(Debug, Clone)]
pub struct Caller {
    /// User id.
    pub user_id: String,
    /// Customer id.
    pub customer_id: String,
}

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
    metrics: Metrics,
    budget: Duration,
    reconcile: ReconcileConfig,
    idempotency_ttl: Duration,
    /// Names this replica's reconciliation claims (unique per process).
    claimer: String,
    /// The change tasks (they outlive a dropped request; shutdown waits for them).
    detached: tokio_util::task::TaskTracker,
}

impl std::fmt::Debug for ProductService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProductService").finish_non_exhaustive()
    }
}

fn catalog_key() -> CacheKey<Catalog> {
    CacheKey::new(Family::ProductList, &[])
}

fn line_key(line: &str) -> CacheKey<LineSnapshot> {
    CacheKey::new(Family::ProductCustomer, &[line])
}

fn store_err(e: StoreError) -> ApiError {
    ApiError::unavailable(e)
}

/// KOS failures that are not business answers, for the look-ups: the docs/api.md mapping, with a
/// timeout inside the budget being `504`.
fn kos_api_error(e: KosError) -> ApiError {
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
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                store,
                kos,
                cache,
                calls,
                metrics,
                budget,
                reconcile,
                idempotency_ttl,
                claimer: format!("pc-{}", uuid::Uuid::new_v4().simple()),
                detached: tokio_util::task::TaskTracker::new(),
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

    /// The store.
    pub fn store(&self) -> &DynStore {
        &self.inner.store
    }

    /// The KOS client.
    pub fn kos(&self) -> &KosClient {
        &self.inner.kos
    }

    /// Ages out the fresh cached copies of the catalogue and of `line`, keeping their stale
    /// copies (what the fresh TTL running out does; tests use it instead of waiting hours).
    pub async fn expire_fresh(&self, line: &LineNumber) {
        let cache = &self.inner.cache;
        cache.invalidate(&catalog_key(), Invalidate::Fresh).await;
        cache
            .invalidate(&line_key(line.as_str()), Invalidate::Fresh)
            .await;
    }

    /// Runs one KOS call, timing it into the call log.
    async fn logged<T, F>(
        &self,
        endpoint: KosEndpoint,
        request_id: &str,
        fut: F,
    ) -> Result<T, KosError>
    where
        F: Future<Output = Result<T, KosError>>,
    {
        let start = std::time::Instant::now();
        let called_at = Utc::now();
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

    /// The product catalogue (cached `product:list`; stale copy when KOS fails, if `allow_stale`).
    pub async fn catalog(&self, allow_stale: bool) -> Result<Fetched<Catalog>, ApiError> {
        let key = catalog_key();
        let request_id = phonebill_common::envelope::trace_id_now();
        let loaded = self
            .inner
            .cache
            .get_or_load(&key, || async {
                let data = self
                    .logged(
                        KosEndpoint::ProductList,
                        &request_id,
                        self.inner.kos.product_list(),
                    )
                    .await?;
                Ok::<_, KosError>(Loaded::Value(Catalog::from_items(&data.products)))
            })
            .await;
        match loaded {
            Ok(l) => match l.entry {
                Cached::Value(v) => Ok(Fetched {
                    value: Some(v),
                    stale_since: None,
                }),
                Cached::Negative(n) => {
                    Err(ApiError::new(ErrorCode::KosError).details(format!("KOS {}", n.code)))
                }
            },
            Err(e) if e.is_business() => Err(ApiError::new(ErrorCode::KosError)),
            Err(e) => {
                if allow_stale && let Some(s) = self.inner.cache.get_stale(&key).await {
                    return Ok(Fetched {
                        value: Some(s.value),
                        stale_since: Some(s.cached_at),
                    });
                }
                Err(kos_api_error(e))
            }
        }
    }

    async fn inquire(
        &self,
        line: &LineNumber,
        request_id: &str,
    ) -> Result<Loaded<LineSnapshot>, KosError> {
        let req = ProductInquiryRequest {
            line_number: line.as_str().to_owned(),
            request_id: request_id.to_owned(),
        };
        let call = self.logged(
            KosEndpoint::ProductInquiry,
            request_id,
            self.inner.kos.product_inquiry(&req),
        );
        let data = match tokio::time::timeout(self.inner.budget, call).await {
            Err(_) => return Err(KosError::Timeout),
            Ok(Err(KosError::Business { code, message }))
                if code == codes::PRODUCT_LINE_NOT_FOUND =>
            {
                return Ok(Loaded::Negative(Negative { code, message }));
            }
            Ok(r) => r?,
        };
        LineSnapshot::from_inquiry(&data)
            .map(Loaded::Value)
            .map_err(|e| KosError::Malformed(e.to_string()))
    }

    /// A line through the cache (`product:customer:{line}`); KOS 3001 → `value: None`.
    pub async fn line(
        &self,
        line: &LineNumber,
        allow_stale: bool,
    ) -> Result<Fetched<LineSnapshot>, ApiError> {
        let key = line_key(line.as_str());
        let request_id = phonebill_common::envelope::trace_id_now();
        match self
            .inner
            .cache
            .get_or_load(&key, || self.inquire(line, &request_id))
            .await
        {
            Ok(l) => Ok(Fetched {
                value: match l.entry {
                    Cached::Value(v) => Some(v),
                    Cached::Negative(_) => None,
                },
                stale_since: None,
            }),
            Err(e) if e.is_business() => Err(kos_api_error(e)),
            Err(e) => {
                if allow_stale && let Some(s) = self.inner.cache.get_stale(&key).await {
                    return Ok(Fetched {
                        value: Some(s.value),
                        stale_since: Some(s.cached_at),
                    });
                }
                Err(kos_api_error(e))
            }
        }
    }

    /// A line read fresh from KOS (docs/api.md §4.6 rule 3); refreshes the cache.
    async fn fresh_line(
        &self,
        line: &LineNumber,
        request_id: &str,
    ) -> Result<Option<LineSnapshot>, ApiError> {
        match self.inquire(line, request_id).await {
            Ok(Loaded::Value(v)) => {
                self.inner
                    .cache
                    .put(&line_key(line.as_str()), v.clone())
                    .await;
                Ok(Some(v))
            }
            Ok(Loaded::Negative(_)) => Ok(None),
            Err(e) => Err(kos_api_error(e)),
        }
    }

    /// docs/api.md §4.5: the three checks on cached data; KOS unavailable → error (no guessing).
    pub async fn validate(
        &self,
        line: &LineNumber,
        current: &str,
        target: &str,
    ) -> Result<ValidationOutcome, ApiError> {
        let catalog = self.catalog(false).await?;
        let snapshot = self.line(line, false).await?;
        let catalog = catalog.value.unwrap_or_default();
        Ok(run_checks(
            &catalog,
            snapshot.value.as_deref(),
            current,
            target,
        ))
    }

    /// docs/api.md §4.6 rules 2–9, run to completion even if the client goes away.
    ///
    /// Once the outbox row is written the KOS call must be seen through: if the handler future
    /// were dropped on a client disconnect (as the benchmark showed), the row would sit in
    /// `PROCESSING` until the next reconciliation pass. The work therefore runs in its own task,
    /// keeping the request id and span; the handler only awaits its answer.
    pub async fn change(&self, caller: &Caller, cmd: ChangeCommand) -> (ChangeReply, bool) {
        use tracing::Instrument;
        let svc = self.clone();
        let caller = caller.clone();
        let work = async move { svc.change_attached(&caller, cmd).await }
            .instrument(tracing::Span::current());
        let task = match phonebill_common::request_id::current() {
            Some(id) => self
                .inner
                .detached
                .spawn(phonebill_common::request_id::scope(id, work)),
            None => self.inner.detached.spawn(work),
        };
        match task.await {
            Ok(answer) => answer,
            Err(e) => (ChangeReply::Error(ApiError::internal(e)), false),
        }
    }

    async fn change_attached(&self, caller: &Caller, cmd: ChangeCommand) -> (ChangeReply, bool) {
        let key = cmd
            .idempotency_key
            .clone()
            .or_else(|| cmd.client_request_id.clone());
        let now = Utc::now();
        // The record id (answer, Location, history, KOS) is always the server's: a client-chosen
        // id was one namespace across users, so another user's id answered 422 and told that
        // it existed (issue 17). The client's `requestId` is this user's idempotency key and,
        // through `map_client_id`, this user's name for the change.
        let request_id = domain::new_request_id(now);
        let Some(key) = key else {
            return (self.change_once(caller, &cmd, &request_id).await, false);
        };
        let hash = domain::request_hash(
            cmd.line.as_str(),
            &cmd.current_product_code,
            &cmd.target_product_code,
            cmd.client_request_id.as_deref(),
        );
        let row = KeyRow {
            request_hash: hash.clone(),
            request_id: request_id.clone(),
            status_code: None,
            response_body: None,
            created_at: now,
            expires_at: now
                + chrono::Duration::from_std(self.inner.idempotency_ttl)
                    .unwrap_or(chrono::Duration::days(1)),
        };
        let mut claim = match self
            .inner
            .store
            .claim_key(&caller.user_id, &key, &row)
            .await
        {
            Ok(c) => c,
            Err(e) => return (ChangeReply::Error(store_err(e)), false),
        };
        // A key claimed by a request that died before writing its outbox row (a crash between
        // the two statements) has no change behind it and no answer: once it is older than
        // ABANDONED_KEY_AFTER it is taken over by this retry instead of answering
        // PRODUCT_CHANGE_IN_PROGRESS until the key expires (24 h).
        if let Claim::Existing(existing) = &claim
            && existing.request_hash == hash
            && self.orphaned(existing, now).await
        {
            match self
                .inner
                .store
                .release_abandoned_key(&caller.user_id, &key, existing.created_at)
                .await
            {
                Ok(released) => {
                    if released {
                        tracing::warn!(request_id = %existing.request_id, "idempotency key of a request that died before its change row taken over");
                    }
                    claim = match self
                        .inner
                        .store
                        .claim_key(&caller.user_id, &key, &row)
                        .await
                    {
                        Ok(c) => c,
                        Err(e) => return (ChangeReply::Error(store_err(e)), false),
                    };
                }
                Err(e) => return (ChangeReply::Error(store_err(e)), false),
            }
        }
        match claim {
            Claim::Claimed => {
                let reply = self.change_once(caller, &cmd, &request_id).await;
                self.settle_key(&caller.user_id, &key, &reply).await;
                (reply, false)
            }
            Claim::Existing(existing) => {
                if existing.request_hash != hash {
                    return (
                        ChangeReply::Error(ApiError::new(ErrorCode::IdempotencyKeyReused)),
                        false,
                    );
                }
                (self.replay(caller, &existing, now).await, true)
            }
        }
    }

    /// The key was claimed long enough ago, never answered, and no change row exists for it.
    async fn orphaned(&self, existing: &KeyRow, now: DateTime<Utc>) -> bool {
        let abandoned = now
            .signed_duration_since(existing.created_at)
            .to_std()
            .is_ok_and(|a| a > ABANDONED_KEY_AFTER);
        existing.status_code.is_none()
            && abandoned
            && matches!(
                self.inner.store.get_change(&existing.request_id).await,
                Ok(None)
            )
    }

    async fn settle_key(&self, user_id: &str, key: &str, reply: &ChangeReply) {
        let retryable =
            matches!(reply, ChangeReply::Error(e) if e.code().status().is_server_error());
        let result = if retryable {
            self.inner.store.release_key(user_id, key).await
        } else {
            let (status, body) = reply.to_stored();
            self.inner
                .store
                .complete_key(user_id, key, status, &body)
                .await
        };
        if let Err(e) = result {
            tracing::error!(error = %e, "cannot store the idempotency key's response");
        }
    }

    /// Answers a repeated key: the stored response, or the change's current state when the first
    /// answer was `202` (or the first request died before answering).
    async fn replay(&self, caller: &Caller, existing: &KeyRow, now: DateTime<Utc>) -> ChangeReply {
        let stored = existing
            .status_code
            .zip(existing.response_body.as_ref())
            .and_then(|(s, b)| ChangeReply::from_stored(s, b).map(|r| (s, r)));
        match stored {
            Some((s, reply)) if s != 202 => reply,
            other => {
                let in_flight = other.is_none();
                let abandoned = now
                    .signed_duration_since(existing.created_at)
                    .to_std()
                    .is_ok_and(|a| a > ABANDONED_KEY_AFTER);
                match self.inner.store.get_change(&existing.request_id).await {
                    Ok(Some(r))
                        if r.user_id == caller.user_id
                            && (!in_flight
                                || abandoned
                                || r.process_status != ProcessStatus::Processing) =>
                    {
                        self.reply_for_record(&r).await
                    }
                    Ok(_) if in_flight => {
                        ChangeReply::Error(ApiError::new(ErrorCode::ProductChangeInProgress))
                    }
                    Ok(_) => ChangeReply::Error(ApiError::new(ErrorCode::ProductChangeInProgress)),
                    Err(e) => ChangeReply::Error(store_err(e)),
                }
            }
        }
    }

    /// The reply a record's current state deserves.
    pub async fn reply_for_record(&self, r: &ChangeRecord) -> ChangeReply {
        let processed_at =
            phonebill_common::time::format_kst(r.processed_at.unwrap_or(r.updated_at));
        match r.process_status {
            ProcessStatus::Completed => {
                let changed = self
                    .product_named(&r.target_product_code, &r.target_product_name)
                    .await;
                self.done(
                    StatusCode::OK,
                    "상품 변경이 완료되었습니다",
                    ChangeResult {
                        request_id: r.request_id.clone(),
                        process_status: ProcessStatus::Completed,
                        result_code: r
                            .result_code
                            .clone()
                            .unwrap_or_else(|| codes::SUCCESS.into()),
                        result_message: r.result_message.clone().unwrap_or_default(),
                        changed_product: Some(changed),
                        processed_at,
                        kos_order_number: r.kos_order_number.clone(),
                        effective_date: r.effective_date.clone(),
                        failure_reason: None,
                    },
                    None,
                )
            }
            ProcessStatus::Failed => self.done(
                StatusCode::OK,
                "상품 변경에 실패했습니다",
                ChangeResult {
                    request_id: r.request_id.clone(),
                    process_status: ProcessStatus::Failed,
                    result_code: r.result_code.clone().unwrap_or_default(),
                    result_message: r.result_message.clone().unwrap_or_default(),
                    changed_product: None,
                    processed_at,
                    kos_order_number: None,
                    effective_date: None,
                    failure_reason: r.failure_reason.clone(),
                },
                None,
            ),
            ProcessStatus::Processing | ProcessStatus::Pending => self.processing(&r.request_id),
        }
    }

    fn done(
        &self,
        status: StatusCode,
        message: &str,
        data: ChangeResult,
        location: Option<String>,
    ) -> ChangeReply {
        ChangeReply::Done {
            status,
            message: message.to_owned(),
            data: serde_json::to_value(data).unwrap_or(Value::Null),
            location,
        }
    }

    fn processing(&self, request_id: &str) -> ChangeReply {
        self.done(
            StatusCode::ACCEPTED,
            PROCESSING_MESSAGE,
            ChangeResult {
                request_id: request_id.to_owned(),
                process_status: ProcessStatus::Processing,
                result_code: PROCESSING_CODE.into(),
                result_message: PROCESSING_MESSAGE.into(),
                changed_product: None,
                processed_at: phonebill_common::time::format_kst(Utc::now()),
                kos_order_number: None,
                effective_date: None,
                failure_reason: None,
            },
            Some(format!("/api/v1/products/change/{request_id}")),
        )
    }

    async fn product_named(&self, code: &str, name: &str) -> Product {
        if let Ok(c) = self.catalog(true).await
            && let Some(p) = c.value.as_ref().and_then(|c| c.get(code))
        {
            return p.clone();
        }
        Product {
            product_code: code.to_owned(),
            product_name: name.to_owned(),
            monthly_fee: 0,
            data_allowance: String::new(),
            voice_allowance: String::new(),
            sms_allowance: String::new(),
            operator_code: String::new(),
            description: String::new(),
            available: true,
        }
    }

    /// Rules 3–9 for one request.
    async fn change_once(
        &self,
        caller: &Caller,
        cmd: &ChangeCommand,
        request_id: &str,
    ) -> ChangeReply {
        // Rule 3: fresh read, stale-screen check, pre-checks.
        let line = match self.fresh_line(&cmd.line, request_id).await {
            Ok(l) => l,
            Err(e) => return ChangeReply::Error(e),
        };
        let Some(line) = line else {
            return ChangeReply::Error(ApiError::new(ErrorCode::LineNotFound));
        };
        if line.current_product_code != cmd.current_product_code {
            return ChangeReply::Error(ApiError::new(ErrorCode::ProductChangeConflict));
        }
        let catalog = match self.catalog(true).await {
            Ok(c) => c.value.unwrap_or_default(),
            Err(e) => return ChangeReply::Error(e),
        };
        let checks = run_checks(
            &catalog,
            Some(&line),
            &cmd.current_product_code,
            &cmd.target_product_code,
        );
        if let Some(reason) = checks.failure_reason() {
            return ChangeReply::Error(
                ApiError::new(ErrorCode::ProductChangeNotAllowed).details(reason),
            );
        }
        // Rules 4–5: the outbox row; the partial unique index refuses a second in-flight change.
        let now = Utc::now();
        let target_name = catalog
            .get(&cmd.target_product_code)
            .map(|p| p.product_name.clone())
            .unwrap_or_default();
        let record = ChangeRecord {
            request_id: request_id.to_owned(),
            user_id: caller.user_id.clone(),
            customer_id: caller.customer_id.clone(),
            line_number: cmd.line.as_str().to_owned(),
            current_product_code: cmd.current_product_code.clone(),
            current_product_name: line.current_product_name.clone(),
            target_product_code: cmd.target_product_code.clone(),
            target_product_name: target_name,
            process_status: ProcessStatus::Processing,
            result_code: None,
            result_message: None,
            failure_reason: None,
            kos_order_number: None,
            effective_date: None,
            attempts: 0,
            next_attempt_at: Some(
                now + chrono::Duration::from_std(self.inner.reconcile.interval)
                    .unwrap_or(chrono::Duration::seconds(30)),
            ),
            requested_at: now,
            processed_at: None,
            updated_at: now,
        };
        match self.inner.store.insert_change(&record).await {
            Ok(()) => {
                if let Some(client_id) = &cmd.client_request_id
                    && let Err(e) = self
                        .inner
                        .store
                        .map_client_id(&caller.user_id, client_id, request_id, now)
                        .await
                {
                    // The change goes on; only the look-up by the client's id is lost.
                    tracing::warn!(error = %e, "cannot record the client's requestId");
                }
            }
            Err(StoreError::InFlight) => {
                return ChangeReply::Error(ApiError::new(ErrorCode::ProductChangeInProgress));
            }
            Err(StoreError::DuplicateRequestId) => {
                return ChangeReply::Error(
                    ApiError::new(ErrorCode::IdempotencyKeyReused).details("requestId"),
                );
            }
            Err(e) => return ChangeReply::Error(store_err(e)),
        }
        let answer = self.send_change(&record).await;
        self.apply(&record, answer, false).await
    }

    async fn send_change(&self, r: &ChangeRecord) -> Result<ProductChangeData, KosError> {
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

    async fn finish(&self, r: &ChangeRecord, f: Finish) -> Result<bool, StoreError> {
        let applied = self.inner.store.finish_change(&r.request_id, &f).await?;
        if applied {
            self.inner
                .metrics
                .product_changes
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
        let bill: CacheKey<Value> = CacheKey::new(Family::Bill, &[line, &month]);
        self.inner.cache.invalidate(&bill, Invalidate::All).await;
    }

    /// Steps 6–9 on a KOS answer. `reconciling` keeps unknown outcomes silent.
    async fn apply(
        &self,
        r: &ChangeRecord,
        answer: Result<ProductChangeData, KosError>,
        reconciling: bool,
    ) -> ChangeReply {
        let now = Utc::now();
        let finish = match answer {
            Ok(data) => {
                let info = data.change_info.as_ref();
                Finish {
                    status: ProcessStatus::Completed,
                    result_code: data.result_code.clone(),
                    result_message: data.result_message.clone(),
                    failure_reason: None,
                    kos_order_number: info.map(|i| i.kos_order_number.clone()),
                    effective_date: info.map(|i| i.effective_date.clone()),
                    processed_at: now,
                }
            }
            Err(KosError::Business { code, message }) => Finish {
                status: ProcessStatus::Failed,
                result_code: code,
                failure_reason: Some(message.clone()),
                result_message: message,
                kos_order_number: None,
                effective_date: None,
                processed_at: now,
            },
            Err(KosError::BreakerOpen { retry_after }) if !reconciling => {
                let f = Finish {
                    status: ProcessStatus::Failed,
                    result_code: E_KOS_UNAVAILABLE.into(),
                    result_message: ErrorCode::KosUnavailable.default_message().into(),
                    failure_reason: Some("KOS circuit breaker open".into()),
                    kos_order_number: None,
                    effective_date: None,
                    processed_at: now,
                };
                if let Err(e) = self.finish(r, f).await {
                    return ChangeReply::Error(store_err(e));
                }
                return ChangeReply::Error(ApiError::from(KosError::BreakerOpen { retry_after }));
            }
            Err(KosError::RateLimited { retry_after }) if !reconciling => {
                // KOS refused before doing anything: nothing happened, the client may retry.
                let f = Finish {
                    status: ProcessStatus::Failed,
                    result_code: E_KOS_UNAVAILABLE.into(),
                    result_message: ErrorCode::KosUnavailable.default_message().into(),
                    failure_reason: Some("KOS rate limit".into()),
                    kos_order_number: None,
                    effective_date: None,
                    processed_at: now,
                };
                if let Err(e) = self.finish(r, f).await {
                    return ChangeReply::Error(store_err(e));
                }
                let secs = retry_after.map_or(60, |d| d.as_secs().max(1));
                return ChangeReply::Error(
                    ApiError::new(ErrorCode::KosUnavailable).retry_after(secs),
                );
            }
            Err(KosError::Rejected {
                status,
                result_code,
            }) => Finish {
                status: ProcessStatus::Failed,
                result_code: result_code.unwrap_or_else(|| format!("HTTP_{status}")),
                result_message: "KOS가 요청을 거부했습니다".into(),
                failure_reason: Some(format!("KOS rejected the request (HTTP {status})")),
                kos_order_number: None,
                effective_date: None,
                processed_at: now,
            },
            Err(e) => {
                // Rule 9: timeout, connection error, 5xx or unreadable answer after sending: the
                // outcome is unknown; the record stays PROCESSING for reconciliation.
                tracing::warn!(error = %e, "product change outcome unknown; left for reconciliation");
                if !reconciling {
                    self.inner
                        .metrics
                        .product_changes
                        .with_label_values(&["PROCESSING"])
                        .inc();
                }
                return self.processing(&r.request_id);
            }
        };
        match self.finish(r, finish).await {
            Ok(_) => {}
            Err(e) => return ChangeReply::Error(store_err(e)),
        }
        match self.inner.store.get_change(&r.request_id).await {
            Ok(Some(now_r)) => self.reply_for_record(&now_r).await,
            Ok(None) => ChangeReply::Error(ApiError::new(ErrorCode::RequestNotFound)),
            Err(e) => ChangeReply::Error(store_err(e)),
        }
    }

    /// One reconciliation pass over due `PROCESSING` records; returns how many were finished.
    pub async fn reconcile_once(&self) -> Result<usize, StoreError> {
        self.reconcile_at(Utc::now()).await
    }

    /// [`Self::reconcile_once`] as if it were `now` (the clock is a parameter so the time rules
    /// — due times, the 30-minute give-up — are testable without waiting).
    pub async fn reconcile_at(&self, now: DateTime<Utc>) -> Result<usize, StoreError> {
        if let Err(e) = self.inner.store.purge_keys(now).await {
            tracing::warn!(error = %e, "idempotency key purge failed");
        }
        let cfg = self.inner.reconcile;
        let lease = chrono::Duration::from_std(cfg.lease).unwrap_or(chrono::Duration::seconds(120));
        let mut finished = 0;
        let mut seen = std::collections::HashSet::new();
        // Small batches, each claimed atomically for this replica (docs/architecture.md
        // "Reconciliation claims"): another replica's pass skips them, so KOS gets each change
        // once per attempt however many replicas run.
        for _ in 0..RECONCILE_BATCHES {
            let claimed_at = std::time::Instant::now();
            let due = self
                .inner
                .store
                .claim_due(now, &self.inner.claimer, now + lease, RECONCILE_BATCH)
                .await?;
            let batch_len = due.len();
            let mut fresh_rows = 0;
            let mut failure = None;
            for r in due {
                // A row handled earlier in this pass (its last look at KOS failed) waits for
                // the next pass; so does everything once the lease may be running out, since
                // another replica could hold the row by then.
                let expiring = claimed_at.elapsed() >= cfg.lease / 2;
                if failure.is_none() && !expiring && seen.insert(r.request_id.clone()) {
                    fresh_rows += 1;
                    match self.reconcile_one(&r, now).await {
                        Ok(true) => finished += 1,
                        Ok(false) => {}
                        Err(e) => failure = Some(e),
                    }
                }
                self.release(&r.request_id).await;
            }
            if let Some(e) = failure {
                return Err(e);
            }
            if fresh_rows == 0 || batch_len < RECONCILE_BATCH as usize {
                break;
            }
        }
        Ok(finished)
    }

    /// Releases this replica's claim on a row; a failure only delays the row to its lease end.
    async fn release(&self, request_id: &str) {
        if let Err(e) = self
            .inner
            .store
            .release_claim(request_id, &self.inner.claimer)
            .await
        {
            tracing::warn!(error = %e, "cannot release a reconciliation claim; it runs out with its lease");
        }
    }

    /// One claimed row: give it up (after a last look at KOS) or re-send it. `Ok(true)` when the
    /// row reached a final state.
    async fn reconcile_one(
        &self,
        r: &ChangeRecord,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let cfg = self.inner.reconcile;
        if domain::should_give_up(
            r.attempts,
            r.requested_at,
            now,
            cfg.max_attempts,
            cfg.max_age,
        ) {
            // Last word: does KOS show the line on the target product?
            let line = LineNumber::parse(&r.line_number);
            let fresh = match &line {
                Some(l) => self.inquire(l, &r.request_id).await,
                None => Ok(Loaded::Negative(Negative {
                    code: "LINE".into(),
                    message: String::new(),
                })),
            };
            let f = match fresh {
                Ok(Loaded::Value(s)) if s.current_product_code == r.target_product_code => Finish {
                    status: ProcessStatus::Completed,
                    result_code: codes::SUCCESS.into(),
                    result_message: "정상 처리되었습니다".into(),
                    failure_reason: None,
                    kos_order_number: None,
                    effective_date: None,
                    processed_at: now,
                },
                Ok(_) => Finish {
                    status: ProcessStatus::Failed,
                    result_code: E_KOS_TIMEOUT.into(),
                    result_message: ErrorCode::KosTimeout.default_message().into(),
                    failure_reason: Some("KOS did not confirm the change in time".into()),
                    kos_order_number: None,
                    effective_date: None,
                    processed_at: now,
                },
                Err(e) => {
                    tracing::warn!(error = %e, "cannot confirm an expired change; will retry");
                    return Ok(false);
                }
            };
            return self.finish(r, f).await;
        }
        let next =
            now + chrono::Duration::from_std(cfg.interval).unwrap_or(chrono::Duration::seconds(30));
        self.inner
            .store
            .record_attempt(&r.request_id, r.attempts + 1, next)
            .await?;
        let answer = self.send_change(r).await;
        Ok(matches!(
            self.apply(r, answer, true).await,
            ChangeReply::Done { status, .. } if status == StatusCode::OK
        ))
    }
}

/// Rows claimed per batch of a reconciliation pass, and batches per pass (at most 100 rows a
/// pass, as before claims; a small batch keeps the lease short relative to its work).
const RECONCILE_BATCH: i64 = 25;
const RECONCILE_BATCHES: usize = 4;

/// Renders a [`ChangeReply`] as the HTTP response.
pub fn render(reply: ChangeReply, replayed: bool) -> axum::response::Response {
    use axum::response::IntoResponse;
    let mut resp = match reply {
        ChangeReply::Done {
            status,
            message,
            data,
            location,
        } => {
            let mut env = phonebill_common::envelope::Envelope::ok(data)
                .status(status)
                .message(message);
            if let Some(loc) = location.and_then(|l| HeaderValue::from_str(&l).ok()) {
                env = env.header(header::LOCATION, loc);
                env = env.header(header::RETRY_AFTER, HeaderValue::from_static("2"));
            }
            env.into_response()
        }
        ChangeReply::Error(e) => e.into_response(),
    };
    if replayed {
        resp.headers_mut().insert(
            http::HeaderName::from_static("idempotent-replayed"),
            HeaderValue::from_static("true"),
        );
    }
    resp
}
