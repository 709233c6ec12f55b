//! Pre-check, change and change result (docs/api.md §4.5–4.7).

use std::collections::BTreeMap;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderName, HeaderValue, header};
use phonebill_common::auth::AuthUser;
use phonebill_common::envelope::Envelope;
use phonebill_common::error::{ApiError, ErrorCode};
use phonebill_common::extract::{Json, Path};
use phonebill_common::line::LineNumber;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{AppState, authorize, own_line};
use crate::domain::{ProcessStatus, ValidationDetail, valid_key};
use crate::service::{Caller, ChangeCommand, ChangeReply, ChangeResult};

/// Body of validation and change.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChangeBody {
    /// Line, dashes optional.
    pub line_number: Option<String>,
    /// Product the screen shows as current.
    pub current_product_code: Option<String>,
    /// Product asked for.
    pub target_product_code: Option<String>,
    /// Client-chosen request id (used as the idempotency key), change only.
    pub request_id: Option<String>,
}

struct Parsed {
    line: LineNumber,
    current: String,
    target: String,
}

fn parse(user: &AuthUser, b: &ChangeBody) -> Result<Parsed, ApiError> {
    let mut errors = BTreeMap::new();
    let field = |v: &Option<String>| {
        v.as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    let current = field(&b.current_product_code);
    let target = field(&b.target_product_code);
    if b.line_number
        .as_deref()
        .map(str::trim)
        .is_none_or(str::is_empty)
    {
        errors.insert("lineNumber".to_owned(), "회선번호는 필수입니다".to_owned());
    }
    if current.is_none() {
        errors.insert(
            "currentProductCode".to_owned(),
            "현재 상품코드는 필수입니다".to_owned(),
        );
    }
    if target.is_none() {
        errors.insert(
            "targetProductCode".to_owned(),
            "변경 대상 상품코드는 필수입니다".to_owned(),
        );
    }
    if let Some(c) = current.as_deref().or(target.as_deref())
        && c.len() > 30
    {
        errors.insert(
            "productCode".to_owned(),
            "상품코드는 30자 이하여야 합니다".to_owned(),
        );
    }
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    let line = own_line(user, b.line_number.as_deref())?;
    Ok(Parsed {
        line,
        current: current.unwrap_or_default(),
        target: target.unwrap_or_default(),
    })
}

/// docs/api.md §4.5 `data`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ValidationData {
    /// `SUCCESS` | `FAILURE`.
    pub validation_result: &'static str,
    /// The three checks in order.
    pub validation_details: Vec<ValidationDetail>,
    /// Joined reasons (FAILURE only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure_reason: Option<String>,
}

/// Runs the three pre-checks.
#[utoipa::path(post, path = "/api/v1/products/change/validation", request_body(content = ChangeBody, example = crate::routes::examples::change_request), tag = "products",
    summary = "Dry run before a plan change: reports the plan, operator and line-status checks, changes nothing",
    security(("bearer" = [])),
    responses((status = 200, description = "Checks", content((phonebill_common::openapi::Enveloped<ValidationData> = "application/json", example = crate::routes::examples::validation))),
        (status = 400, body = phonebill_common::error::ErrorBody), (status = 403, body = phonebill_common::error::ErrorBody),
        (status = 503, body = phonebill_common::error::ErrorBody)))]
pub async fn validate_change(
    State(state): State<AppState>,
    user: AuthUser,
    Json(body): Json<ChangeBody>,
) -> Result<Envelope<ValidationData>, ApiError> {
    authorize(&user)?;
    let p = parse(&user, &body)?;
    let outcome = state
        .service
        .validate(&p.line, &p.current, &p.target)
        .await?;
    let passed = outcome.passed();
    Ok(Envelope::ok(ValidationData {
        validation_result: if passed { "SUCCESS" } else { "FAILURE" },
        failure_reason: outcome.failure_reason(),
        validation_details: outcome.details,
    })
    .message(if passed {
        "상품 변경이 가능합니다"
    } else {
        "상품 변경이 불가능합니다"
    }))
}

/// Requests the change (idempotent; see docs/api.md §4.6).
#[utoipa::path(post, path = "/api/v1/products/change", request_body(content = ChangeBody, example = crate::routes::examples::change_request), tag = "products",
    summary = "Moves the caller's line to another plan at KOS, once per Idempotency-Key; 202 while KOS's answer is pending",
    security(("bearer" = [])),
    params(("Idempotency-Key" = Option<String>, Header, description = "1–64 of [A-Za-z0-9_-]")),
    responses((status = 200, description = "COMPLETED or FAILED", content((phonebill_common::openapi::Enveloped<ChangeResult> = "application/json", example = crate::routes::examples::change_completed))),
        (status = 202, description = "PROCESSING (Location: result URL)", content((phonebill_common::openapi::Enveloped<ChangeResult> = "application/json", example = crate::routes::examples::change_processing))),
        (status = 400, body = phonebill_common::error::ErrorBody), (status = 403, body = phonebill_common::error::ErrorBody),
        (status = 409, body = phonebill_common::error::ErrorBody), (status = 422, body = phonebill_common::error::ErrorBody),
        (status = 503, body = phonebill_common::error::ErrorBody)))]
pub async fn request_change(
    State(state): State<AppState>,
    user: AuthUser,
    headers: HeaderMap,
    Json(body): Json<ChangeBody>,
) -> Result<Response, ApiError> {
    authorize(&user)?;
    let key = match headers.get("idempotency-key") {
        None => None,
        Some(v) => {
            let k = v
                .to_str()
                .ok()
                .map(str::trim)
                .filter(|k| valid_key(k))
                .ok_or_else(|| {
                    ApiError::field(
                        "Idempotency-Key",
                        "멱등성 키는 1-64자의 영문, 숫자, _, - 만 사용할 수 있습니다",
                    )
                })?;
            Some(k.to_owned())
        }
    };
    let client_request_id = match body
        .request_id
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        None => None,
        Some(r) if valid_key(r) => Some(r.to_owned()),
        Some(_) => {
            return Err(ApiError::field(
                "requestId",
                "요청 ID는 1-64자의 영문, 숫자, _, - 만 사용할 수 있습니다",
            ));
        }
    };
    let p = parse(&user, &body)?;
    let caller = Caller {
        user_id: user.user_id().to_owned(),
        customer_id: user.customer_id().to_owned(),
    };
    let (reply, replayed) = state
        .service
        .change(
            &caller,
            ChangeCommand {
                line: p.line,
                current_product_code: p.current,
                target_product_code: p.target,
                client_request_id,
                idempotency_key: key,
            },
        )
        .await;
    Ok(render(reply, replayed))
}

/// docs/api.md §4.7 `data`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChangeStatusData {
    /// Request id.
    pub request_id: String,
    /// 11 digits.
    pub line_number: String,
    /// State.
    pub process_status: ProcessStatus,
    /// Before.
    pub current_product_code: String,
    /// After.
    pub target_product_code: String,
    /// Korea time.
    pub requested_at: String,
    /// Korea time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub processed_at: Option<String>,
    /// Result code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result_code: Option<String>,
    /// Result message.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result_message: Option<String>,
    /// FAILED only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure_reason: Option<String>,
}

/// A change's state (owner only).
#[utoipa::path(get, path = "/api/v1/products/change/{requestId}", tag = "products",
    summary = "Where one of the caller's plan changes stands, by the server's or the caller's own request id (poll after a 202)",
    params(("requestId" = String, Path, description = "request id")), security(("bearer" = [])),
    responses((status = 200, description = "State", content((phonebill_common::openapi::Enveloped<ChangeStatusData> = "application/json", example = crate::routes::examples::change_status))),
        (status = 404, body = phonebill_common::error::ErrorBody)))]
pub async fn get_change_result(
    State(state): State<AppState>,
    user: AuthUser,
    Path(request_id): Path<String>,
) -> Result<Envelope<ChangeStatusData>, ApiError> {
    authorize(&user)?;
    if !valid_key(&request_id) {
        return Err(ApiError::new(ErrorCode::RequestNotFound));
    }
    let r = state
        .service
        .change_status(user.user_id(), &request_id)
        .await?
        .ok_or_else(|| ApiError::new(ErrorCode::RequestNotFound))?;
    let fmt = phonebill_common::time::format_kst;
    Ok(Envelope::ok(ChangeStatusData {
        request_id: r.request_id,
        line_number: r.line_number,
        process_status: r.process_status,
        current_product_code: r.current_product_code,
        target_product_code: r.target_product_code,
        requested_at: fmt(r.requested_at),
        processed_at: r.processed_at.map(fmt),
        result_code: r.result_code,
        result_message: r.result_message,
        failure_reason: if r.process_status == ProcessStatus::Failed {
            r.failure_reason
        } else {
            None
        },
    }))
}

/// Renders a [`ChangeReply`] as the HTTP response.
/// (`Location` and `Retry-After` on `202`; `Idempotent-Replayed: true` on a replay).
fn render(reply: ChangeReply, replayed: bool) -> Response {
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
            HeaderName::from_static("idempotent-replayed"),
            HeaderValue::from_static("true"),
        );
    }
    resp
}
