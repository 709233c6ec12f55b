//! The SMS stand-in (docs/api.md §5): `POST /api/v1/kos/sms/send` delivers a text to a line
//! the mock knows; instead of a radio it keeps the message in an in-memory outbox that only a
//! holder of the service key can read (`GET /api/v1/kos/admin/sms-outbox`). Auth sends the
//! registration codes through it, and tests read the codes back there (docs/security.md).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::response::Response;
use chrono::Utc;
use http::{HeaderMap, StatusCode};
use phonebill_common::kos::{KosEnvelope, SmsSendData, SmsSendRequest, codes, paths};
use phonebill_common::time::format_kst;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::line_request::{LineRequest, coded, line_number};
use crate::reply::{self, KosFailure, KosJson};
use crate::service_auth::{self, AuthFailure};
use crate::state::AppState;

/// Messages kept; older ones are dropped first.
const OUTBOX_CAP: usize = 1000;
/// Longest message accepted.
const MAX_MESSAGE_CHARS: usize = 200;

/// One delivered message.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SmsMessage {
    /// 11 digits.
    pub line_number: String,
    /// The text.
    pub message: String,
    /// The sender's `requestId`.
    pub request_id: String,
    /// When it was accepted (KST).
    pub sent_at: String,
}

/// The outbox: bounded, newest last.
#[derive(Debug, Default)]
pub struct Outbox(Mutex<VecDeque<SmsMessage>>);

impl Outbox {
    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<SmsMessage>> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn push(&self, m: SmsMessage) {
        let mut q = self.lock();
        if q.len() >= OUTBOX_CAP {
            q.pop_front();
        }
        q.push_back(m);
    }

    /// Messages to `line` (every message without a filter), oldest first.
    pub fn messages(&self, line: Option<&str>) -> Vec<SmsMessage> {
        self.lock()
            .iter()
            .filter(|m| line.is_none_or(|l| m.line_number == l))
            .cloned()
            .collect()
    }

    fn clear(&self) {
        self.lock().clear();
    }
}

/// SMS body as received.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RawSms {
    line_number: Option<String>,
    message: Option<String>,
    request_id: Option<String>,
}

fn answer(request_id: String, code: &'static str) -> Response {
    let (result_code, result_message) = coded(code);
    let data = SmsSendData {
        request_id,
        result_code,
        result_message,
    };
    reply::ok("문자 발송 요청이 처리되었습니다", data, code)
}

/// `POST /api/v1/kos/sms/send`: sends a text to an active line.
#[utoipa::path(
    post,
    path = paths::SMS_SEND,
    summary = "Texts a message to an active line (kept in the outbox), for the auth service's registration codes",
    tag = "kos",
    request_body(content = SmsSendRequest, example = json!({ "lineNumber": "01012345678", "message": "[phonebill] 인증번호 482913", "requestId": "REG_20250914_01" })),
    responses(
        (status = 200, description = "`data.resultCode` 0000 (kept in the outbox), 4001 unknown line, 4002 line not active", body = KosEnvelope<SmsSendData>, example = json!({ "success": true, "resultCode": "0000", "resultMessage": "문자 발송 요청이 처리되었습니다", "data": { "requestId": "REG_20250914_01", "resultCode": "0000", "resultMessage": "정상 처리되었습니다" }, "timestamp": "2025-09-14T10:32:11.120+09:00", "traceId": "4f1a9c2b7d3e4a10" })),
        (status = 400, description = "9001/9003/9004 (message empty or over 200 characters)", body = KosFailure),
    )
)]
pub async fn send_sms(
    State(app): State<Arc<AppState>>,
    KosJson(body): KosJson<RawSms>,
) -> Response {
    let req = match LineRequest::parse(body.line_number.as_deref(), body.request_id) {
        Ok(r) => r,
        Err(r) => return r,
    };
    let Some(message) = body
        .message
        .filter(|m| !m.trim().is_empty() && m.chars().count() <= MAX_MESSAGE_CHARS)
    else {
        return reply::invalid("message: required, at most 200 characters");
    };
    let request_id = req.request_id.clone();
    match req.find(&app).await {
        Ok(Some(l)) if l.line_status == "ACTIVE" => {
            app.outbox.push(SmsMessage {
                line_number: l.line_number,
                message,
                request_id: request_id.clone(),
                sent_at: format_kst(Utc::now()),
            });
            answer(request_id, codes::SUCCESS)
        }
        Ok(Some(_)) => answer(request_id, codes::SMS_LINE_NOT_ACTIVE),
        Ok(None) => answer(request_id, codes::SMS_LINE_NOT_FOUND),
        Err(r) => r,
    }
}

/// The outbox holds one-time codes: it answers only a holder of the service key, whatever
/// `KOS_REQUIRE_AUTH` says (no key configured: nobody).
fn key_holder(app: &AppState, headers: &HeaderMap) -> Result<(), Response> {
    match service_auth::check(&app.config, headers) {
        Ok(_) => Ok(()),
        Err(AuthFailure::Unauthorized) => Err(reply::fail(
            StatusCode::UNAUTHORIZED,
            codes::UNAUTHORIZED,
            None,
        )),
        Err(AuthFailure::Forbidden) => {
            Err(reply::fail(StatusCode::FORBIDDEN, codes::FORBIDDEN, None))
        }
    }
}

/// `?lineNumber=` of the outbox read.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct OutboxQuery {
    /// Only messages to this line (11 digits, dashes accepted).
    pub line_number: Option<String>,
}

/// `GET /api/v1/kos/admin/sms-outbox`: the delivered messages (service key always required).
#[utoipa::path(
    get,
    path = paths::ADMIN_SMS_OUTBOX,
    summary = "Reads the texted messages, optionally of one line, for tests holding the service key",
    tag = "kos-admin",
    params(OutboxQuery),
    responses(
        (status = 200, description = "Messages, oldest first", body = KosEnvelope<Vec<SmsMessage>>),
        (status = 400, description = "9001 malformed lineNumber", body = KosFailure),
    )
)]
pub async fn read_outbox(
    State(app): State<Arc<AppState>>,
    headers: HeaderMap,
    q: Result<Query<OutboxQuery>, QueryRejection>,
) -> Response {
    if let Err(r) = key_holder(&app, &headers) {
        return r;
    }
    let Ok(Query(q)) = q else {
        return reply::invalid("lineNumber: malformed query");
    };
    let line = match q.line_number.as_deref() {
        None => None,
        Some(raw) => match line_number(Some(raw)) {
            Ok(l) => Some(l),
            Err(r) => return r,
        },
    };
    let messages = app.outbox.messages(line.as_ref().map(|l| l.as_str()));
    reply::ok("문자 발송 목록", messages, codes::SUCCESS)
}

/// `DELETE /api/v1/kos/admin/sms-outbox`: empties the outbox.
#[utoipa::path(
    delete,
    path = paths::ADMIN_SMS_OUTBOX,
    summary = "Empties the SMS outbox, for tests holding the service key",
    tag = "kos-admin",
    responses(
        (status = 200, description = "Emptied", body = KosEnvelope<Vec<SmsMessage>>),
    )
)]
pub async fn clear_outbox(State(app): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    if let Err(r) = key_holder(&app, &headers) {
        return r;
    }
    app.outbox.clear();
    reply::ok(
        "문자 발송 목록을 비웠습니다",
        Vec::<SmsMessage>::new(),
        codes::SUCCESS,
    )
}
