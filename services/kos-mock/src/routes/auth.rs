//! Service tokens (docs/api.md §5.8): `POST /api/kos/auth` (alias `/api/v1/kos/auth`).

use std::sync::Arc;

use axum::extract::State;
use axum::response::Response;
use http::StatusCode;
use phonebill_common::kos::{KosEnvelope, ServiceAuthData, ServiceAuthRequest, codes, paths};
use secrecy::ExposeSecret;
use serde::Deserialize;

use crate::reply::{self, KosFailure, KosJson};
use crate::service_auth;
use crate::state::AppState;

/// Auth body as received.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RawServiceAuth {
    service_name: Option<String>,
    api_key: Option<String>,
}

/// `POST /api/kos/auth`: exchanges the shared key for a short-lived service token.
#[utoipa::path(
    post,
    path = paths::AUTH,
    summary = "Exchanges the shared KOS key for a short-lived service token, for the calling services",
    tag = "kos",
    request_body(content = ServiceAuthRequest, example = json!({ "serviceName": "bill-inquiry-service", "apiKey": "<KOS_API_KEY>" })),
    responses(
        (status = 200, description = "Token issued", body = KosEnvelope<ServiceAuthData>, example = json!({ "success": true, "resultCode": "0000", "resultMessage": "서비스 인증이 완료되었습니다", "data": { "accessToken": "kos1.62696c6c2d696e71756972792d73657276696365.1757817131.9f2c", "tokenType": "Bearer", "expiresIn": 3600 }, "timestamp": "2025-09-14T10:32:11.120+09:00", "traceId": "4f1a9c2b7d3e4a10" })),
        (status = 400, description = "9001/9003/9004", body = KosFailure),
        (status = 401, description = "9401 wrong key (or no key configured)", body = KosFailure),
        (status = 403, description = "9403 service not on KOS_ALLOWED_SERVICES", body = KosFailure),
    )
)]
pub async fn issue_token(
    State(app): State<Arc<AppState>>,
    KosJson(body): KosJson<RawServiceAuth>,
) -> Response {
    let Some(service) = body
        .service_name
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty() && s.len() <= 64)
    else {
        return reply::invalid("serviceName: required, at most 64 characters");
    };
    let Some(key) = body.api_key.filter(|k| !k.is_empty()) else {
        return reply::invalid("apiKey: required");
    };
    let cfg = &app.config;
    if !service_auth::key_matches(cfg, &key) {
        return reply::fail(StatusCode::UNAUTHORIZED, codes::UNAUTHORIZED, None);
    }
    if !cfg.allowed_services.contains(&service) {
        return reply::fail(StatusCode::FORBIDDEN, codes::FORBIDDEN, None);
    }
    let Some(secret) = cfg.api_key.as_ref() else {
        return reply::fail(StatusCode::UNAUTHORIZED, codes::UNAUTHORIZED, None);
    };
    let data = ServiceAuthData {
        access_token: service_auth::issue(secret.expose_secret(), &service, cfg.token_ttl),
        token_type: "Bearer".to_owned(),
        expires_in: cfg.token_ttl.as_secs(),
    };
    reply::ok("서비스 인증이 완료되었습니다", data, codes::SUCCESS)
}

/// `POST /api/v1/kos/auth`: alias of `POST /api/kos/auth`.
#[utoipa::path(
    post,
    path = paths::AUTH_ALIAS,
    summary = "Issues a service token (alias of POST /api/kos/auth), for the calling services",
    tag = "kos",
    request_body(content = ServiceAuthRequest, example = json!({ "serviceName": "bill-inquiry-service", "apiKey": "<KOS_API_KEY>" })),
    responses(
        (status = 200, description = "Same as `POST /api/kos/auth`", body = KosEnvelope<ServiceAuthData>, example = json!({ "success": true, "resultCode": "0000", "resultMessage": "서비스 인증이 완료되었습니다", "data": { "accessToken": "kos1.62696c6c2d696e71756972792d73657276696365.1757817131.9f2c", "tokenType": "Bearer", "expiresIn": 3600 }, "timestamp": "2025-09-14T10:32:11.120+09:00", "traceId": "4f1a9c2b7d3e4a10" })),
        (status = 400, description = "9001/9003/9004", body = KosFailure),
        (status = 401, description = "9401", body = KosFailure),
        (status = 403, description = "9403 service not on KOS_ALLOWED_SERVICES", body = KosFailure),
    )
)]
pub async fn issue_token_alias(
    state: State<Arc<AppState>>,
    body: KosJson<RawServiceAuth>,
) -> Response {
    issue_token(state, body).await
}
