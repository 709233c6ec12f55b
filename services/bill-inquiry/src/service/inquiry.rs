//! An inquiry (docs/api.md §3.2–3.5). L1/L2 hit → answer at once. Miss → the KOS call runs in
//! a tracked task (so it survives the request) inside `Cache::get_or_load` (concurrent misses
//! share one call). The caller waits up to the sync budget; past it, the request is answered
//! `202` and a follow-up task records the final history row and the poll result when the call
//! completes. KOS failures fall back to the stale copy (`stale: true`), else `503`/`502`
//! (`domain::outcome`).

use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Utc};
use phonebill_common::auth::AuthUser;
use phonebill_common::cache::{Cached, Loaded, Lookup, Negative, Source};
use phonebill_common::error::ApiError;
use phonebill_common::kos::client::KosError;
use phonebill_common::kos::{BillInfo, BillInquiryRequest, CustomerInfo};
use phonebill_common::line::LineNumber;
use phonebill_common::prerendered::Prerendered;
use phonebill_common::request_id;
use phonebill_common::time::format_kst;
use serde::{Deserialize, Serialize};
use tokio::task::JoinHandle;

use super::poll::PollEntry;
use super::{BillService, bill_key};
use crate::domain::outcome::{self, Failure, is_negative_bill_code};
use crate::domain::{
    HistoryStatus, Month, new_request_id, result_codes, success_summary, truncate_chars,
};
use crate::store::{HistoryEvent, InquiryRow};

/// `resultMessage` of a successful inquiry (top level).
pub const MSG_DONE: &str = "요금 조회가 완료되었습니다";
/// `resultMessage` while processing (docs/api.md §3.3).
pub const MSG_PROCESSING: &str = "요금 조회가 처리 중입니다";
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
pub(super) struct StoredResult {
    pub(super) bill_info: Prerendered<BillInfo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) customer_info: Option<Prerendered<CustomerInfo>>,
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
    pub(super) fn processing(request_id: &str) -> Self {
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

    pub(super) fn failed(request_id: &str, code: &str, message: &str) -> Self {
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

/// Writes a failure into its history row (`result_code` is `varchar(10)`, the summary 200).
fn fail_row(row: &mut InquiryRow, f: &Failure) {
    row.status = HistoryStatus::Failed;
    row.result_code = Some(truncate_chars(&f.code, 10));
    row.result_message = Some(f.message.clone());
    row.result_summary = Some(truncate_chars(&f.message, 200));
}

impl BillService {
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
            Err(_) => self.answer_processing(ctx, handle).await,
        }
    }

    /// The sync budget ran out: records the `PROCESSING` row (durable before the `202` goes
    /// out), keeps the poll result in memory, and leaves a follow-up task that finishes the
    /// request when the KOS call (`handle`) completes.
    async fn answer_processing(
        &self,
        ctx: Ctx,
        handle: JoinHandle<Option<Result<Lookup<BillResult>, KosError>>>,
    ) -> Result<Inquiry, ApiError> {
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
                    outcome::poll_failure_code(&e),
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
                    Err(KosError::Business { code, message }) if is_negative_bill_code(&code) => {
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
                let failure = outcome::negative_failure(&n);
                fail_row(&mut row, &failure);
                Err(failure.error)
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
                        let failure = outcome::kos_failure(&e);
                        fail_row(&mut row, &failure);
                        Err(failure.error)
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
}
