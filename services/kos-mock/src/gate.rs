//! The gate in front of every KOS endpoint (docs/api.md §5.7, 5.8), in order: failed-guess throttle →
//! service credential (when required) → per-caller rate limit, keyed on the proven caller (the
//! authenticated service or user, else the peer address; never `X-Service-Name` before it is
//! authenticated) → fault (header `X-Kos-Fault`, else a scripted one) → simulated latency and
//! failure → the handler. It also counts `kos_mock_requests_total`. The mock's customer reads
//! (`mock-datas/customer/*`) pass the same credential and rate-limit steps (docs/security.md).
//!
//! `reset` and `lost-response` answer with a body stream that fails before its first byte:
//! hyper then aborts the connection without writing a status line, which is what a peer
//! crashing mid-request looks like to the client.

use std::borrow::Cow;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, StatusCode, header};
use phonebill_common::kos::{FaultMode, KosEndpoint, codes, headers};

use crate::reply::{self, ResultCode};
use crate::service_auth::{self, AuthFailure};
use crate::state::AppState;

/// What a gated route is.
#[derive(Clone)]
pub struct Gate {
    /// Shared state.
    pub app: Arc<AppState>,
    /// Simulated endpoint, or `None` for admin routes (credential check only).
    pub endpoint: Option<KosEndpoint>,
    /// Metrics label.
    pub label: &'static str,
}

/// Default delay of the `timeout` fault.
const TIMEOUT_DELAY_MS: u64 = 10_000;
/// Default delay of the `slow` fault.
const SLOW_DELAY_MS: u64 = 3_000;
/// Upper bound of any requested delay.
const MAX_DELAY_MS: u64 = 120_000;

/// A response whose body fails at once: the connection is dropped with no response.
pub fn reset_response() -> Response {
    let stream = futures::stream::once(async {
        Err::<Bytes, std::io::Error>(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "kos-mock fault: connection reset",
        ))
    });
    let mut r = Response::new(Body::from_stream(stream));
    r.extensions_mut()
        .insert(ResultCode(Cow::Borrowed("reset")));
    r
}

/// `200` with a truncated JSON body.
fn malformed_response() -> Response {
    let mut r = Response::new(Body::from(
        r#"{"success":true,"resultCode":"0000","resultMessage":"정상 처리되었습니다","data":{"requestId":"#,
    ));
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r.extensions_mut()
        .insert(ResultCode(Cow::Borrowed("malformed")));
    r
}

fn unavailable_response() -> Response {
    let mut r = reply::kos::<()>(
        StatusCode::SERVICE_UNAVAILABLE,
        false,
        codes::SYSTEM_ERROR,
        "서비스를 일시적으로 사용할 수 없습니다",
        None,
        codes::SYSTEM_ERROR,
    );
    r.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("30"));
    r
}

/// The TCP peer's address (`0.0.0.0` when the server recorded none).
fn peer_ip(req: &Request) -> IpAddr {
    req.extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::from([0, 0, 0, 0]), |c| c.0.ip())
}

/// The requested per-request fault: `Ok(None)` without the header, `Err` for a bad value.
fn header_fault(h: &HeaderMap) -> Result<Option<(FaultMode, Option<u64>)>, Response> {
    let Some(raw) = h.get(headers::FAULT) else {
        return Ok(None);
    };
    let mode = raw
        .to_str()
        .ok()
        .and_then(|s| s.parse::<FaultMode>().ok())
        .ok_or_else(|| reply::invalid("X-Kos-Fault: unknown fault mode"))?;
    let delay = match h.get(headers::FAULT_DELAY_MS) {
        None => None,
        Some(v) => Some(
            v.to_str()
                .ok()
                .and_then(|s| s.trim().parse::<u64>().ok())
                .ok_or_else(|| reply::invalid("X-Kos-Fault-Delay-Ms: not a number"))?,
        ),
    };
    Ok(Some((mode, delay)))
}

/// Whether the request carries a valid user access token (auth's JWKS, deny list checked) whose
/// `line_numbers` holds the line in the path. A valid token for another line is `Forbidden`.
async fn user_may_read_months(
    g: &Gate,
    token: Option<String>,
    path: &str,
) -> Result<String, AuthFailure> {
    let token = token.ok_or(AuthFailure::Unauthorized)?;
    let claims = g
        .app
        .users
        .verify(&token)
        .await
        .map_err(|_| AuthFailure::Unauthorized)?;
    let line = path
        .rsplit('/')
        .next()
        .and_then(phonebill_common::line::LineNumber::parse)
        .ok_or(AuthFailure::Forbidden)?;
    if claims.line_numbers.iter().any(|l| l == line.as_str()) {
        Ok(format!("user:{}", claims.sub))
    } else {
        Err(AuthFailure::Forbidden)
    }
}

/// The gate middleware.
pub async fn gate(State(g): State<Gate>, req: Request, next: Next) -> Response {
    let peer = peer_ip(&req);
    let (resp, fault) = run_gate(&g, peer, req, next).await;
    // A refused key at `POST /api/kos/auth` (the handler checks it) counts as a guess.
    if g.endpoint == Some(KosEndpoint::Auth) && resp.status() == StatusCode::UNAUTHORIZED {
        g.app.guesses.fail(peer);
    }
    let code = resp.extensions().get::<ResultCode>().map_or_else(
        || Cow::Owned(resp.status().as_u16().to_string()),
        |c| c.0.clone(),
    );
    g.app
        .requests
        .with_label_values(&[g.label, &code, fault.map_or("none", FaultMode::as_str)])
        .inc();
    resp
}

async fn run_gate(
    g: &Gate,
    peer: IpAddr,
    req: Request,
    next: Next,
) -> (Response, Option<FaultMode>) {
    let cfg = &g.app.config;
    let is_auth_endpoint = g.endpoint == Some(KosEndpoint::Auth);
    // Admin routes (faults, simulation, outbox, bulk) need the key also when only
    // KOS_ADMIN_REQUIRES_KEY is set (the all-in-one on a non-loopback bind).
    let admin = g.endpoint.is_none();
    let needs_credential =
        !is_auth_endpoint && (cfg.require_auth || (admin && cfg.admin_requires_key));
    // A blocked address gets nothing, not even a check of a right key (docs/security.md).
    if (needs_credential || is_auth_endpoint)
        && let Err(retry_after) = g.app.guesses.check(peer)
    {
        return (reply::rate_limited(retry_after), None);
    }
    // Who the caller is proven to be: the rate limit is keyed on it, never on a header the
    // caller chose (issue 17 finding 4). Without credentials that is the peer address.
    let mut proven: Option<String> = None;
    if needs_credential {
        let mut verdict = service_auth::check(cfg, req.headers()).map(|s| format!("svc:{s}"));
        // docs/api.md §5.8: the browser calls available-months itself, with the user's access token.
        if verdict.is_err() && g.endpoint == Some(KosEndpoint::AvailableMonths) {
            let token = phonebill_common::auth::bearer_token(req.headers())
                .ok()
                .flatten()
                .map(str::to_owned);
            let path = req.uri().path().to_owned();
            verdict = user_may_read_months(g, token, &path).await;
        }
        match verdict {
            Ok(who) => proven = Some(who),
            Err(AuthFailure::Unauthorized) => {
                g.app.guesses.fail(peer);
                return (
                    reply::fail(StatusCode::UNAUTHORIZED, codes::UNAUTHORIZED, None),
                    None,
                );
            }
            Err(AuthFailure::Forbidden) => {
                return (
                    reply::fail(StatusCode::FORBIDDEN, codes::FORBIDDEN, None),
                    None,
                );
            }
        }
    }
    let Some(endpoint) = g.endpoint else {
        return (next.run(req).await, None);
    };
    // Only build the caller key (an allocation) when rate limiting is on.
    if g.app.sim.rate_limit_enabled() {
        let caller = proven.unwrap_or_else(|| format!("ip:{peer}"));
        if let Err(retry_after) = g.app.sim.check_rate(endpoint, &caller) {
            return (reply::rate_limited(retry_after), None);
        }
    }
    // The mock's own reads are not part of the simulated KOS: no faults, no simulation.
    if endpoint == KosEndpoint::MockData {
        return (next.run(req).await, None);
    }
    let fault = if cfg.faults_enabled {
        match header_fault(req.headers()) {
            Err(resp) => return (resp, None),
            Ok(Some(f)) => Some(f),
            Ok(None) => g.app.sim.take_fault(endpoint),
        }
    } else {
        None
    };
    if let Some((mode, delay)) = fault {
        let delay =
            |default: u64| Duration::from_millis(delay.unwrap_or(default).min(MAX_DELAY_MS));
        let resp = match mode {
            FaultMode::Timeout => {
                tokio::time::sleep(delay(TIMEOUT_DELAY_MS)).await;
                reply::system_error()
            }
            FaultMode::Error => reply::system_error(),
            FaultMode::Slow => {
                tokio::time::sleep(delay(SLOW_DELAY_MS)).await;
                next.run(req).await
            }
            FaultMode::Unavailable => unavailable_response(),
            FaultMode::Reset => reset_response(),
            FaultMode::LostResponse => {
                // Perform the operation, then lose the answer.
                drop(next.run(req).await);
                reset_response()
            }
            FaultMode::Malformed => malformed_response(),
        };
        return (resp, Some(mode));
    }
    if let Some((latency, success)) = g.app.sim.draw(endpoint) {
        if !latency.is_zero() {
            tokio::time::sleep(latency).await;
        }
        if !success {
            // A simulated failure happens before any state change (docs/api.md §5.3.3).
            return (reply::system_error(), None);
        }
    }
    (next.run(req).await, None)
}

/// The OpenAPI responses the gate of `endpoint` can answer before the handler runs, added to
/// each operation behind it that does not state that status itself (so each is written once,
/// here, next to the code that answers it). All are the KOS failure envelope (`KosFailure`):
///
/// - every route but `POST /api/kos/auth`: `401` 9401 and `403` 9403 (the service credential,
///   when one is required); the auth endpoint checks its key in its handler, which documents them;
/// - every route: `429` 9429 (the rate limit, or an address that failed credentials too often);
/// - the simulated KOS endpoints (not the mock's own reads, not admin): `400` 9001 (a bad
///   `X-Kos-Fault` header), `500` 9999 (fault `error` or `timeout`, a simulated failure, or a
///   store failure) and `503` (fault `unavailable`).
#[derive(Debug, Clone, Copy)]
pub struct GateResponses(pub Option<KosEndpoint>);

impl GateResponses {
    fn statuses(self) -> Vec<(&'static str, &'static str)> {
        let mut wanted = Vec::new();
        if self.0 != Some(KosEndpoint::Auth) {
            wanted.push(("401", "9401 service credential missing or invalid"));
            wanted.push(("403", "9403 service not allowed"));
        }
        wanted.push(("429", "9429 rate limit, `Retry-After`"));
        if self.0.is_some_and(|e| e != KosEndpoint::MockData) {
            wanted.push((
                "400",
                "9001 unreadable `X-Kos-Fault` / `X-Kos-Fault-Delay-Ms` header",
            ));
            wanted.push(("500", "9999 system error (simulated or real)"));
            wanted.push(("503", "fault `unavailable`, `Retry-After: 30`"));
        }
        wanted
    }
}

impl utoipa::Modify for GateResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let wanted = self.statuses();
        phonebill_common::openapi::add_missing_responses(openapi, "KosFailure", |_| wanted.clone());
    }
}

#[cfg(test)]
mod tests {
    use utoipa::Modify;
    use utoipa::openapi::path::{HttpMethod, OperationBuilder, PathItem};
    use utoipa::openapi::{OpenApi, OpenApiBuilder, Paths, ResponseBuilder};

    use super::*;

    /// One `POST /x` whose handler documents its own `400` and `401`.
    fn doc() -> OpenApi {
        let op = OperationBuilder::new()
            .response("400", ResponseBuilder::new().description("handler 400"))
            .response("401", ResponseBuilder::new().description("handler 401"))
            .build();
        OpenApiBuilder::new()
            .paths(
                Paths::builder()
                    .path("/x", PathItem::new(HttpMethod::Post, op))
                    .build(),
            )
            .build()
    }

    fn statuses(endpoint: Option<KosEndpoint>) -> Vec<(String, String)> {
        let mut d = doc();
        GateResponses(endpoint).modify(&mut d);
        let op = d.paths.paths["/x"].post.clone().expect("post");
        op.responses
            .responses
            .iter()
            .map(|(s, r)| {
                let utoipa::openapi::RefOr::T(r) = r else {
                    panic!("inline response")
                };
                (s.clone(), r.description.clone())
            })
            .collect()
    }

    #[test]
    fn the_gate_documents_what_it_answers_and_keeps_the_handlers_own_lines() {
        let codes = |e| statuses(e).into_iter().map(|(s, _)| s).collect::<Vec<_>>();
        // A simulated endpoint: credential, rate limit and faults.
        assert_eq!(
            codes(Some(KosEndpoint::BillInquiry)),
            ["400", "401", "403", "429", "500", "503"]
        );
        // Admin and the mock's own reads: no faults, no simulated failures.
        assert_eq!(codes(None), ["400", "401", "403", "429"]);
        assert_eq!(
            codes(Some(KosEndpoint::MockData)),
            ["400", "401", "403", "429"]
        );
        // The auth endpoint checks its key itself: no gate 401/403 added.
        assert_eq!(
            codes(Some(KosEndpoint::Auth)),
            ["400", "401", "429", "500", "503"]
        );
        // What the handler wrote stays as it wrote it.
        let bill = statuses(Some(KosEndpoint::BillInquiry));
        assert!(
            bill.contains(&("400".into(), "handler 400".into())),
            "{bill:?}"
        );
        assert!(
            bill.contains(&("401".into(), "handler 401".into())),
            "{bill:?}"
        );
    }
}
