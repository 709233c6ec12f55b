//! The bill-inquiry use cases (docs/api.md §3.1–3.6): menu, inquiry with the cache-aside / single-flight
//! / breaker / sync-budget rules, result polling and history. Handlers call these after parsing
//! and authorising; nothing here knows HTTP except the `ApiError` it returns.
//!
//! Inquiry path: L1/L2 hit → answer at once. Miss → the KOS call runs in a tracked task (so it
//! survives the request) inside `Cache::get_or_load` (concurrent misses share one call). The
//! handler waits up to the sync budget; past it, the request is answered `202` and a follow-up
//! task records the final history row and the poll result when the call completes. KOS
//! failures fall back to the stale copy (`stale: true`), else `503`/`502`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use phonebill_common::auth::AuthUser;
use phonebill_common::cache::{Cache, CacheKey, Cached, Family, Loaded, Lookup, Negative, Source};
use phonebill_common::error::{ApiError, ErrorCode};
use phonebill_common::history::HistoryWriter;
use phonebill_common::kos::client::{KosClient, KosError};
use phonebill_common::kos::{BillInfo, BillInquiryRequest, CustomerInfo, codes};
use phonebill_common::line::LineNumber;
use phonebill_common::prerendered::Prerendered;
use phonebill_common::request_id;
use phonebill_common::time::format_kst;
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::domain::{
    DynClock, HistoryFilter, HistoryStatus, Month, new_request_id, result_codes, six_months,
    success_summary, truncate_chars,
};
use crate::store::{DynBillStore, HistoryEvent, InquiryRow, KosCallRow, StoreError};

/// `resultMessage` of a successful inquiry (top level).
pub const MSG_DONE: &str = "요금 조회가 완료되었습니다";
/// `resultMessage` while processing (docs/api.md §3.3).
pub const MSG_PROCESSING: &str = "요금 조회가 처리 중입니다";
/// The menu's message when KOS could not give the months (docs/api.md §3.1).
pub const MSG_MENU_FALLBACK: &str = "조회 가능 월 정보를 임시로 제공합니다";
/// The menu's normal message.
pub const MSG_MENU: &str = "요금조회 메뉴를 성공적으로 조회했습니다";
/// `KOS_ERROR` text of the bill service (docs/api.md §3.2 table).
const MSG_KOS_ERROR: &str = "요금 조회 중 오류가 발생했습니다";

/// What is cached under `bill:{line}:{YYYYMM}`: the `data` of a SUCCESS result without its
/// `requestId` (docs/api.md §3.5).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BillResult {
    /// KOS `data.resultCode` (`0000`).
    pub result_code: String,
    /// KOS `data.resultMessage`.
    pub result_message: String,
    /// The bill (rendered to JSON once, however many hits serve it).
    pub bill_info: Prerendered<BillInfo>,
    /// The customer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_info: Option<Prerendered<CustomerInfo>>,
}

/// The stored SUCCESS payload (`bill_info` column).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct StoredResult {
    bill_info: Prerendered<BillInfo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    customer_info: Option<Prerendered<CustomerInfo>>,
}

/// `data` of `POST /bills/inquiry` and `GET /bills/inquiry/{requestId}` (docs/api.md §3.2, 3.3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct InquiryData {
    /// `REQ_<yyyyMMdd>_<8 hex>`.
    pub request_id: String,
    /// `SUCCESS`, `PROCESSING` or `FAILED`.
    pub proc_status: String,
    /// `0000`, `0100`, or the failure code.
    pub result_code: String,
    /// Text of the result code.
    pub result_message: String,
    /// Present on SUCCESS.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<BillInfo>)]
    pub bill_info: Option<Prerendered<BillInfo>>,
    /// Present on SUCCESS.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<CustomerInfo>)]
    pub customer_info: Option<Prerendered<CustomerInfo>>,
    /// Served from L1/L2.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cached: Option<bool>,
    /// Served from the stale copy because KOS failed (docs/api.md §3.4).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stale: Option<bool>,
    /// When the stale copy was loaded (RFC 3339, Korea time); only with `stale: true`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cached_at: Option<String>,
}

impl InquiryData {
    fn processing(request_id: &str) -> Self {
        Self {
            request_id: request_id.to_owned(),
            proc_status: "PROCESSING".into(),
            result_code: result_codes::PROCESSING.into(),
            result_message: MSG_PROCESSING.into(),
            bill_info: None,
            customer_info: None,
            cached: None,
            stale: None,
            cached_at: None,
        }
    }

    fn failed(request_id: &str, code: &str, message: &str) -> Self {
        Self {
            request_id: request_id.to_owned(),
            proc_status: "FAILED".into(),
            result_code: code.to_owned(),
            result_message: message.to_owned(),
            ..Self::processing(request_id)
        }
    }

    /// Whether this is a stale answer.
    pub fn is_stale(&self) -> bool {
        self.stale == Some(true)
    }
}

/// The answer of [`BillService::inquire`].
#[derive(Debug, Clone)]
pub enum Inquiry {
    /// The bill (fresh, cached or stale).
    Done(InquiryData),
    /// The sync budget ran out; poll `requestId`.
    Processing(InquiryData),
}

/// `data.customerInfo` of the menu.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MenuCustomer {
    /// Customer id.
    pub customer_id: String,
    /// The caller's first line, dashed (`010-1234-5678`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line_number: Option<String>,
}

/// `data` of the menu (docs/api.md §3.1).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MenuData {
    /// Customer and first line.
    pub customer_info: MenuCustomer,
    /// `YYYY-MM`, newest first.
    pub available_months: Vec<String>,
    /// `YYYY-MM` (Korea time).
    pub current_month: String,
}

/// One history item (docs/api.md §3.6).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct HistoryItem {
    /// Request id.
    pub request_id: String,
    /// 11 digits.
    pub line_number: String,
    /// `YYYYMM`.
    pub inquiry_month: String,
    /// RFC 3339, Korea time.
    pub request_time: String,
    /// RFC 3339, Korea time; absent while processing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub process_time: Option<String>,
    /// `COMPLETED`, `PROCESSING`, `FAILED`.
    pub status: String,
    /// e.g. `5G 스탠다드 플랜, 81,340원`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result_summary: Option<String>,
}

/// Page totals (docs/api.md §3.6).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PaginationInfo {
    /// Current page (1-based).
    pub current_page: u32,
    /// Pages in total.
    pub total_pages: u64,
    /// Items in total.
    pub total_items: u64,
    /// Page size.
    pub page_size: u32,
    /// A later page exists.
    pub has_next: bool,
    /// An earlier page exists.
    pub has_previous: bool,
}

/// `data` of the history endpoint.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct HistoryPage {
    /// Items, newest first.
    pub items: Vec<HistoryItem>,
    /// Totals.
    pub pagination: PaginationInfo,
}

/// A poll result held in memory for requests answered `202` by this instance (the database
/// row is written asynchronously and may lag; other instances read the row).
#[derive(Debug, Clone)]
struct PollEntry {
    user_id: String,
    data: InquiryData,
}

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

/// Context of one inquiry, carried into the background.
#[derive(Clone)]
struct Ctx {
    request_id: String,
    user_id: String,
    customer_id: String,
    line: LineNumber,
    month: Month,
    requested_at: DateTime<Utc>,
}

impl Ctx {
    fn row(&self, status: HistoryStatus) -> InquiryRow {
        InquiryRow {
            request_id: self.request_id.clone(),
            user_id: truncate_chars(&self.user_id, 20),
            customer_id: truncate_chars(&self.customer_id, 20),
            line_number: self.line.as_str().to_owned(),
            inquiry_month: self.month.compact(),
            status,
            result_code: None,
            result_message: None,
            result_summary: None,
            bill_info: None,
            from_cache: false,
            requested_at: self.requested_at,
            processed_at: None,
        }
    }
}

/// The KOS result code of an error, when KOS sent one.
fn kos_code(e: &KosError) -> Option<String> {
    match e {
        KosError::Business { code, .. } => Some(code.clone()),
        KosError::Upstream5xx { result_code, .. } | KosError::Rejected { result_code, .. } => {
            result_code.clone()
        }
        KosError::RateLimited { .. } => Some(codes::RATE_LIMITED.to_owned()),
        _ => None,
    }
}

/// The error a failed bill KOS call becomes (docs/api.md §3.2 table, 3.4), with the stored code.
fn kos_failure(e: &KosError) -> (ApiError, &'static str) {
    match e {
        // The inquiry has an async fallback, so a KOS timeout is "unavailable", not 504.
        KosError::Timeout => (
            ApiError::new(ErrorCode::KosUnavailable).retry_after(60),
            result_codes::KOS_TIMEOUT,
        ),
        other => {
            let err = ApiError::from(other.clone());
            match err.code() {
                ErrorCode::KosError => (err.message(MSG_KOS_ERROR), result_codes::KOS_ERROR),
                _ => (err, result_codes::KOS_UNAVAILABLE),
            }
        }
    }
}

/// The error of a (possibly cached) KOS business failure.
fn business_failure(n: &Negative) -> ApiError {
    ApiError::from(KosError::Business {
        code: n.code.clone(),
        message: n.message.clone(),
    })
}

fn bill_key(line: &LineNumber, month: Month) -> CacheKey<BillResult> {
    CacheKey::new(Family::Bill, &[line.as_str(), &month.compact()])
}

fn months_key(line: &LineNumber) -> CacheKey<Vec<String>> {
    CacheKey::new(Family::BillMonths, &[line.as_str()])
}

fn is_negative_code(code: &str) -> bool {
    matches!(
        code,
        codes::BILL_LINE_NOT_FOUND | codes::BILL_LINE_NOT_ACTIVE | codes::BILL_NOT_FOUND
    )
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
        self.record(HistoryEvent::KosCall(KosCallRow {
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

    /// The menu (docs/api.md §3.1): never fails because of KOS.
    pub async fn menu(&self, user: &AuthUser) -> (MenuData, &'static str) {
        let now = self.d().clock.now();
        let current = Month::of(now);
        let first = user.lines().into_iter().next();
        let customer_info = MenuCustomer {
            customer_id: user.customer_id().to_owned(),
            line_number: first.as_ref().map(LineNumber::dashed),
        };
        let mut message = MSG_MENU;
        let available_months = match &first {
            None => Vec::new(),
            Some(line) => {
                let key = months_key(line);
                let loaded = self
                    .d()
                    .cache
                    .get_or_load(&key, || self.load_months(line))
                    .await;
                match loaded {
                    Ok(Lookup {
                        entry: Cached::Value(v),
                        ..
                    }) => v.as_ref().clone(),
                    Ok(Lookup {
                        entry: Cached::Negative(_),
                        ..
                    }) => Vec::new(),
                    Err(_) => match self.d().cache.get_stale(&key).await {
                        Some(s) => s.value.as_ref().clone(),
                        None => {
                            message = MSG_MENU_FALLBACK;
                            six_months(current).into_iter().map(Month::dashed).collect()
                        }
                    },
                }
            }
        };
        (
            MenuData {
                customer_info,
                available_months,
                current_month: current.dashed(),
            },
            message,
        )
    }

    async fn load_months(&self, line: &LineNumber) -> Result<Loaded<Vec<String>>, KosError> {
        let called_at = self.d().clock.now();
        let started = Instant::now();
        let res = self.d().kos.available_months(line.as_str()).await;
        let rid = request_id::current().map_or_else(String::new, |r| r.as_str().to_owned());
        self.log_kos_call(&rid, "available-months", called_at, started, &res)
            .await;
        match res {
            Ok(d) => Ok(Loaded::Value(d.available_months)),
            Err(KosError::Business { code, message })
                if code == codes::BILL_LINE_NOT_FOUND || code == codes::BILL_LINE_NOT_ACTIVE =>
            {
                Ok(Loaded::Negative(Negative { code, message }))
            }
            Err(e) => Err(e),
        }
    }

    /// An inquiry (docs/api.md §3.2–3.5) for an authorised caller's line and a validated month.
    pub async fn inquire(
        &self,
        user: &AuthUser,
        line: LineNumber,
        month: Month,
    ) -> Result<Inquiry, ApiError> {
        let now = self.d().clock.now();
        let ctx = Ctx {
            request_id: new_request_id(now, rand::random()),
            user_id: user.user_id().to_owned(),
            customer_id: user.customer_id().to_owned(),
            line,
            month,
            requested_at: now,
        };
        let key = bill_key(&ctx.line, month);
        if let Some(hit) = self.d().cache.get(&key).await {
            return self.finish(&ctx, Ok(hit)).await.map(Inquiry::Done);
        }
        // Miss: the KOS call runs in its own task so that it outlives the sync budget.
        let this = self.clone();
        let task_ctx = ctx.clone();
        let cancel = self.d().cancel.clone();
        let rid = request_id::current();
        let load = async move {
            let work = this.load_bill(&task_ctx);
            tokio::select! {
                r = work => Some(r),
                () = cancel.cancelled() => None,
            }
        };
        let mut handle = match rid {
            Some(rid) => self.d().tracker.spawn(request_id::scope(rid, load)),
            None => self.d().tracker.spawn(load),
        };
        match tokio::time::timeout(self.d().sync_budget, &mut handle).await {
            Ok(joined) => {
                let res = joined
                    .map_err(ApiError::internal)?
                    .ok_or_else(|| ApiError::unavailable("shutting down"))?;
                self.finish(&ctx, res).await.map(Inquiry::Done)
            }
            Err(_) => {
                let data = InquiryData::processing(&ctx.request_id);
                self.inner.polls.insert(
                    ctx.request_id.clone(),
                    Arc::new(PollEntry {
                        user_id: ctx.user_id.clone(),
                        data: data.clone(),
                    }),
                );
                let mut row = ctx.row(HistoryStatus::Processing);
                row.result_code = Some(result_codes::PROCESSING.into());
                row.result_message = Some(MSG_PROCESSING.into());
                row.result_summary = Some(MSG_PROCESSING.into());
                // Recorded before the follow-up exists, so the final row always comes after it;
                // durable before the 202 goes out (the client holds its requestId).
                if let Err(e) = self.record_durable(HistoryEvent::Inquiry(row)).await {
                    // No 202 without its row: the client retries; the load finishes unrecorded
                    // (its KOS call row is still queued).
                    self.inner.polls.invalidate(&ctx.request_id);
                    return Err(e);
                }
                let this = self.clone();
                self.d().tracker.spawn(async move {
                    let res = match handle.await {
                        Ok(Some(r)) => r,
                        Ok(None) | Err(_) => {
                            this.abandon(&ctx).await;
                            return;
                        }
                    };
                    let data = match this.finish(&ctx, res).await {
                        Ok(d) => d,
                        Err(e) => InquiryData::failed(
                            &ctx.request_id,
                            &failure_code_of(&e),
                            e.message_text(),
                        ),
                    };
                    this.inner.polls.insert(
                        ctx.request_id.clone(),
                        Arc::new(PollEntry {
                            user_id: ctx.user_id.clone(),
                            data,
                        }),
                    );
                });
                Ok(Inquiry::Processing(data))
            }
        }
    }

    /// Records that a background call was abandoned at shutdown.
    async fn abandon(&self, ctx: &Ctx) {
        let msg = "서비스 종료로 요금 조회가 중단되었습니다";
        let mut row = ctx.row(HistoryStatus::Failed);
        row.result_code = Some(result_codes::ABANDONED.into());
        row.result_message = Some(msg.into());
        row.result_summary = Some(msg.into());
        row.processed_at = Some(self.d().clock.now());
        // No answer waits on it (the client was answered 202); the wait only orders it.
        if let Err(e) = self.record_durable(HistoryEvent::Inquiry(row)).await {
            tracing::warn!(error = %e.message_text(), "abandoned inquiry row not durable");
        }
    }

    async fn load_bill(&self, ctx: &Ctx) -> Result<Lookup<BillResult>, KosError> {
        let key = bill_key(&ctx.line, ctx.month);
        self.d()
            .cache
            .get_or_load(&key, || async {
                let called_at = self.d().clock.now();
                let started = Instant::now();
                let req = BillInquiryRequest {
                    line_number: ctx.line.as_str().to_owned(),
                    billing_month: Some(ctx.month.compact()),
                    request_id: ctx.request_id.clone(),
                };
                let res = self.d().kos.bill_inquiry(&req).await;
                self.log_kos_call(&ctx.request_id, "bill-inquiry", called_at, started, &res)
                    .await;
                match res {
                    Ok(d) => match d.bill_info {
                        Some(bill_info) => Ok(Loaded::Value(BillResult {
                            result_code: d.result_code,
                            result_message: d.result_message,
                            bill_info: Prerendered::new(bill_info),
                            customer_info: d.customer_info.map(Prerendered::new),
                        })),
                        None => Err(KosError::Malformed("SUCCESS without billInfo".into())),
                    },
                    Err(KosError::Business { code, message }) if is_negative_code(&code) => {
                        Ok(Loaded::Negative(Negative { code, message }))
                    }
                    Err(e) => Err(e),
                }
            })
            .await
    }

    /// Turns a cache/KOS outcome into the answer and records the final history row.
    async fn finish(
        &self,
        ctx: &Ctx,
        res: Result<Lookup<BillResult>, KosError>,
    ) -> Result<InquiryData, ApiError> {
        let now = self.d().clock.now();
        let mut row = ctx.row(HistoryStatus::Completed);
        row.processed_at = Some(now);
        let out = match res {
            Ok(Lookup {
                entry: Cached::Value(v),
                source,
                ..
            }) => {
                let cached = source != Source::Loaded;
                row.from_cache = cached;
                Ok(self.success(ctx, &mut row, &v, cached, None))
            }
            Ok(Lookup {
                entry: Cached::Negative(n),
                source,
                ..
            }) => {
                row.from_cache = source != Source::Loaded;
                row.status = HistoryStatus::Failed;
                row.result_code = Some(truncate_chars(&n.code, 10));
                row.result_message = Some(n.message.clone());
                row.result_summary = Some(truncate_chars(&n.message, 200));
                Err(business_failure(&n))
            }
            Err(e) => {
                let stale = self
                    .d()
                    .cache
                    .get_stale(&bill_key(&ctx.line, ctx.month))
                    .await;
                match stale {
                    Some(s) => {
                        row.from_cache = true;
                        let at = format_kst(s.cached_at);
                        Ok(self.success(ctx, &mut row, &s.value, true, Some(at)))
                    }
                    None => {
                        let (err, code) = kos_failure(&e);
                        row.status = HistoryStatus::Failed;
                        row.result_code = Some(code.to_owned());
                        row.result_message = Some(err.message_text().to_owned());
                        row.result_summary = Some(truncate_chars(err.message_text(), 200));
                        Err(err)
                    }
                }
            }
        };
        self.record_durable(HistoryEvent::Inquiry(row)).await?;
        out
    }

    fn success(
        &self,
        ctx: &Ctx,
        row: &mut InquiryRow,
        v: &BillResult,
        cached: bool,
        stale_at: Option<String>,
    ) -> InquiryData {
        row.status = HistoryStatus::Completed;
        row.result_code = Some(truncate_chars(&v.result_code, 10));
        row.result_message = Some(v.result_message.clone());
        row.result_summary = Some(success_summary(
            &v.bill_info.product_name,
            v.bill_info.total_fee,
        ));
        // The SUCCESS payload is kept for polling (docs/api.md §7.2) only when it came from KOS: a cached
        // answer is already held by the cache under the same line and month, and polling reads
        // it from there. Serialising and storing the whole bill on every cache hit made the
        // history writer, not the inquiry, the limit of the hot path (docs/benchmarks.md).
        if !cached {
            // The same rendering the response splices in (one serialisation of the bill).
            row.bill_info = serde_json::to_string(&StoredResult {
                bill_info: v.bill_info.clone(),
                customer_info: v.customer_info.clone(),
            })
            .ok();
        }
        InquiryData {
            request_id: ctx.request_id.clone(),
            proc_status: "SUCCESS".into(),
            result_code: v.result_code.clone(),
            result_message: v.result_message.clone(),
            bill_info: Some(v.bill_info.clone()),
            customer_info: v.customer_info.clone(),
            cached: Some(cached),
            stale: Some(stale_at.is_some()),
            cached_at: stale_at,
        }
    }

    /// The result of `request_id` for its owner (docs/api.md §3.3); `None` → `404 REQUEST_NOT_FOUND`.
    pub async fn poll(
        &self,
        user: &AuthUser,
        request_id: &str,
    ) -> Result<Option<InquiryData>, StoreError> {
        if let Some(e) = self.inner.polls.get(request_id) {
            return Ok((e.user_id == user.user_id()).then(|| e.data.clone()));
        }
        let Some(row) = self.d().store.find_inquiry(request_id).await? else {
            return Ok(None);
        };
        if row.user_id != user.user_id() {
            return Ok(None);
        }
        let code = row.result_code.clone().unwrap_or_default();
        let message = row.result_message.clone().unwrap_or_default();
        Ok(Some(match row.status {
            HistoryStatus::Processing => InquiryData::processing(&row.request_id),
            HistoryStatus::Failed => InquiryData::failed(&row.request_id, &code, &message),
            HistoryStatus::Completed => {
                let fresh_enough = self.d().clock.now() - row.requested_at
                    < chrono::Duration::from_std(self.d().retention)
                        .unwrap_or(chrono::Duration::MAX);
                let stored = match row.bill_info.filter(|_| fresh_enough) {
                    Some(v) => serde_json::from_str::<StoredResult>(&v).ok(),
                    // A cache hit stores no payload: the cache holds it for as long as it is valid.
                    None if fresh_enough && row.from_cache => {
                        self.cached_result(&row.line_number, &row.inquiry_month)
                            .await
                    }
                    None => None,
                };
                InquiryData {
                    request_id: row.request_id.clone(),
                    proc_status: "SUCCESS".into(),
                    result_code: code,
                    result_message: message,
                    bill_info: stored.as_ref().map(|s| s.bill_info.clone()),
                    customer_info: stored.and_then(|s| s.customer_info),
                    cached: Some(row.from_cache),
                    stale: None,
                    cached_at: None,
                }
            }
        }))
    }

    /// The cached bill of a history row's line and month, for polling a cache-hit request.
    async fn cached_result(&self, line: &str, month: &str) -> Option<StoredResult> {
        let line = LineNumber::parse(line)?;
        let month = Month::parse(month)?;
        let hit = self.d().cache.get(&bill_key(&line, month)).await?;
        match hit.entry {
            Cached::Value(v) => Some(StoredResult {
                bill_info: v.bill_info.clone(),
                customer_info: v.customer_info.clone(),
            }),
            Cached::Negative(_) => None,
        }
    }

    /// One page of history (docs/api.md §3.6).
    pub async fn history(&self, filter: &HistoryFilter) -> Result<HistoryPage, StoreError> {
        let (rows, total) = self.d().store.list_history(filter).await?;
        let p = crate::domain::Pagination::new(filter.page, filter.size, total);
        Ok(HistoryPage {
            items: rows
                .into_iter()
                .map(|r| HistoryItem {
                    request_id: r.request_id,
                    line_number: r.line_number,
                    inquiry_month: r.inquiry_month,
                    request_time: format_kst(r.requested_at),
                    process_time: r.processed_at.map(format_kst),
                    status: r.status.as_str().to_owned(),
                    result_summary: r.result_summary,
                })
                .collect(),
            pagination: PaginationInfo {
                current_page: p.current_page,
                total_pages: p.total_pages,
                total_items: p.total_items,
                page_size: p.page_size,
                has_next: p.has_next,
                has_previous: p.has_previous,
            },
        })
    }

    /// Drops `billInfo` older than the retention (docs/api.md §3.3); run periodically.
    pub async fn purge_expired_results(&self) -> Result<u64, StoreError> {
        let retention =
            chrono::Duration::from_std(self.d().retention).unwrap_or(chrono::Duration::MAX);
        let before = self.d().clock.now() - retention;
        self.d().store.purge_bill_info(before).await
    }
}

/// The code stored/polled for a failure answer.
fn failure_code_of(e: &ApiError) -> String {
    match e.code() {
        ErrorCode::LineNotFound => codes::BILL_LINE_NOT_FOUND.into(),
        ErrorCode::LineNotActive => codes::BILL_LINE_NOT_ACTIVE.into(),
        ErrorCode::BillNotFound => codes::BILL_NOT_FOUND.into(),
        ErrorCode::KosError => result_codes::KOS_ERROR.into(),
        _ => result_codes::KOS_UNAVAILABLE.into(),
    }
}
