//! The change itself (docs/api.md §4.6 rules 2–9): fresh read and pre-checks, the outbox row,
//! the KOS call, and the state and answer its outcome ([`crate::domain::outcome`]) leads to.

use http::StatusCode;
use phonebill_common::error::{ApiError, ErrorCode};
use phonebill_common::kos::ProductChangeData;
use phonebill_common::kos::client::KosError;
use phonebill_common::kos::codes;
use phonebill_common::line::LineNumber;
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::{ProductService, store_err};
use crate::domain::{
    self, ChangeOutcome, ChangeRecord, PROCESSING_CODE, PROCESSING_MESSAGE, ProcessStatus, Product,
    Refusal, run_checks,
};
use crate::store::StoreError;

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

impl ProductService {
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

    pub(super) fn processing(&self, request_id: &str) -> ChangeReply {
        self.done(
            StatusCode::ACCEPTED,
            PROCESSING_MESSAGE,
            ChangeResult {
                request_id: request_id.to_owned(),
                process_status: ProcessStatus::Processing,
                result_code: PROCESSING_CODE.into(),
                result_message: PROCESSING_MESSAGE.into(),
                changed_product: None,
                processed_at: phonebill_common::time::format_kst(self.now()),
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
    pub(super) async fn change_once(
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
        let now = self.now();
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

    /// Steps 6–9 on a KOS answer. `reconciling` keeps unknown outcomes silent.
    pub(super) async fn apply(
        &self,
        r: &ChangeRecord,
        answer: Result<ProductChangeData, KosError>,
        reconciling: bool,
    ) -> ChangeReply {
        let finish = match domain::change_outcome(answer, reconciling, self.now()) {
            ChangeOutcome::Final(f) => f,
            ChangeOutcome::Refused { finish, refusal } => {
                if let Err(e) = self.finish(r, finish).await {
                    return ChangeReply::Error(store_err(e));
                }
                return ChangeReply::Error(match refusal {
                    Refusal::BreakerOpen { retry_after } => {
                        ApiError::from(KosError::BreakerOpen { retry_after })
                    }
                    // KOS refused before doing anything: nothing happened, the client may retry.
                    Refusal::RateLimited { retry_after_secs } => {
                        ApiError::new(ErrorCode::KosUnavailable).retry_after(retry_after_secs)
                    }
                });
            }
            ChangeOutcome::Unknown(e) => {
                // Rule 9: the record stays PROCESSING for reconciliation.
                tracing::warn!(error = %e, "product change outcome unknown; left for reconciliation");
                if !reconciling {
                    self.inner.changes.with_label_values(&["PROCESSING"]).inc();
                }
                return self.processing(&r.request_id);
            }
        };
        if let Err(e) = self.finish(r, finish).await {
            return ChangeReply::Error(store_err(e));
        }
        match self.inner.store.get_change(&r.request_id).await {
            Ok(Some(now_r)) => self.reply_for_record(&now_r).await,
            Ok(None) => ChangeReply::Error(ApiError::new(ErrorCode::RequestNotFound)),
            Err(e) => ChangeReply::Error(store_err(e)),
        }
    }
}
