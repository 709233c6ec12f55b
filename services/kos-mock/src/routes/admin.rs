//! Test and operator controls (docs/api.md §5.7): scripted faults and simulation settings. Guarded by
//! the service credential when `KOS_REQUIRE_AUTH=true`; answers in the KOS envelope.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::response::Response;
use http::StatusCode;
use phonebill_common::kos::{FaultMode, FaultRequest, KosEndpoint, KosEnvelope, codes, paths};
use serde::Deserialize;

use crate::reply::{self, KosFailure, KosJson};
use crate::sim::{FaultView, SimUpdate, SimView};
use crate::state::AppState;

const FAULTS_DISABLED: &str = "장애 주입이 비활성화되어 있습니다 (KOS_FAULTS_ENABLED=false)";

/// `GET /api/v1/kos/admin/faults`: the armed faults with what is left of them.
#[utoipa::path(
    get,
    path = paths::ADMIN_FAULTS,
    summary = "Lists the armed faults and what is left of each, for tests and operators",
    tag = "kos-admin",
    responses(
        (status = 200, description = "Armed faults", body = KosEnvelope<Vec<FaultView>>),
    )
)]
pub async fn list_faults(State(app): State<Arc<AppState>>) -> Response {
    reply::ok("장애 주입 목록", app.sim.faults(), codes::SUCCESS)
}

/// Longest `durationSeconds` a fault may be armed for (a day).
const MAX_FAULT_SECONDS: u64 = 86_400;
/// Longest `delayMs` of a `timeout`/`slow` fault (ten minutes).
const MAX_FAULT_DELAY_MS: u64 = 600_000;

/// Fault arming body as received.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RawFault {
    endpoint: Option<String>,
    mode: Option<String>,
    count: Option<u32>,
    duration_seconds: Option<u64>,
    delay_ms: Option<u64>,
}

/// `PUT /api/v1/kos/admin/faults`: arms a fault for `count` calls or `durationSeconds`.
#[utoipa::path(
    put,
    path = paths::ADMIN_FAULTS,
    summary = "Arms a fault on an endpoint for a number of calls or seconds, for tests",
    tag = "kos-admin",
    request_body(content = FaultRequest, example = json!({ "endpoint": "bill-inquiry", "mode": "timeout", "count": 3, "delayMs": 6000 })),
    responses(
        (status = 200, description = "Armed; `data` lists every armed fault", body = KosEnvelope<Vec<FaultView>>, example = json!({ "success": true, "resultCode": "0000", "resultMessage": "장애 주입 목록", "data": [ { "endpoint": "bill-inquiry", "mode": "timeout", "remainingCount": 3, "delayMs": 6000 } ], "timestamp": "2025-09-14T10:32:11.120+09:00", "traceId": "4f1a9c2b7d3e4a10" })),
        (status = 400, description = "9001 unknown endpoint or mode, count 0, durationSeconds outside 1..=86400, delayMs over 600000", body = KosFailure),
        (status = 403, description = "9403 fault injection disabled", body = KosFailure),
    )
)]
pub async fn arm_fault(
    State(app): State<Arc<AppState>>,
    KosJson(body): KosJson<RawFault>,
) -> Response {
    if !app.config.faults_enabled {
        return reply::kos::<()>(
            StatusCode::FORBIDDEN,
            false,
            codes::FORBIDDEN,
            FAULTS_DISABLED,
            None,
            codes::FORBIDDEN,
        );
    }
    let endpoint = match body.endpoint.as_deref().map(str::trim) {
        Some("*") => None,
        Some(name) => match name.parse::<KosEndpoint>() {
            Ok(e) => Some(e),
            Err(_) => return reply::invalid("endpoint: unknown endpoint"),
        },
        None => return reply::invalid("endpoint: required"),
    };
    let Some(mode) = body
        .mode
        .as_deref()
        .and_then(|m| m.parse::<FaultMode>().ok())
    else {
        return reply::invalid(
            "mode: one of timeout, error, slow, unavailable, reset, lost-response, malformed",
        );
    };
    if body.count == Some(0) {
        return reply::invalid("count: must be at least 1");
    }
    // Bounded so the expiry instant cannot overflow (a huge value panicked the handler into a
    // 500, found by the API fuzz run) and a scripted delay cannot outlive any client timeout.
    if body
        .duration_seconds
        .is_some_and(|d| !(1..=MAX_FAULT_SECONDS).contains(&d))
    {
        return reply::invalid("durationSeconds: must be between 1 and 86400");
    }
    if body.delay_ms.is_some_and(|d| d > MAX_FAULT_DELAY_MS) {
        return reply::invalid("delayMs: must be at most 600000");
    }
    app.sim.add_fault(
        endpoint,
        mode,
        body.count,
        body.duration_seconds.map(Duration::from_secs),
        body.delay_ms,
    );
    reply::ok(
        "장애 주입이 설정되었습니다",
        app.sim.faults(),
        codes::SUCCESS,
    )
}

/// `DELETE /api/v1/kos/admin/faults`: disarms every fault.
#[utoipa::path(
    delete,
    path = paths::ADMIN_FAULTS,
    summary = "Disarms every fault, for tests",
    tag = "kos-admin",
    responses((status = 200, description = "Cleared", body = KosEnvelope<Vec<FaultView>>))
)]
pub async fn clear_faults(State(app): State<Arc<AppState>>) -> Response {
    app.sim.clear_faults();
    reply::ok(
        "장애 주입이 해제되었습니다",
        app.sim.faults(),
        codes::SUCCESS,
    )
}

/// `GET /api/v1/kos/admin/simulation`: the current simulation settings.
#[utoipa::path(
    get,
    path = paths::ADMIN_SIMULATION,
    summary = "Shows the latency, failure-rate and rate-limit settings, for tests and operators",
    tag = "kos-admin",
    responses((status = 200, description = "Settings", body = KosEnvelope<SimView>))
)]
pub async fn get_simulation(State(app): State<Arc<AppState>>) -> Response {
    reply::ok("시뮬레이션 설정", app.sim.view(), codes::SUCCESS)
}

/// `PUT /api/v1/kos/admin/simulation`: changes mode, per-endpoint latency/success rate, rate
/// limiting or the RNG seed at run time.
#[utoipa::path(
    put,
    path = paths::ADMIN_SIMULATION,
    summary = "Changes latency, failure rates, rate limiting or the RNG seed at run time, for tests and operators",
    tag = "kos-admin",
    request_body(content = SimUpdate, example = json!({ "mode": "realistic", "rateLimitEnabled": false, "seed": 42, "endpoints": { "bill-inquiry": { "minMs": 200, "maxMs": 500, "successRate": 0.995 } } })),
    responses(
        (status = 200, description = "New settings", body = KosEnvelope<SimView>),
        (status = 400, description = "9001 invalid value, 9004 wrong type", body = KosFailure),
    )
)]
pub async fn update_simulation(
    State(app): State<Arc<AppState>>,
    KosJson(body): KosJson<SimUpdate>,
) -> Response {
    match app.sim.update(&body) {
        Ok(view) => reply::ok("시뮬레이션 설정이 변경되었습니다", view, codes::SUCCESS),
        Err(detail) => reply::invalid(&detail),
    }
}
