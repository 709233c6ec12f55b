//! HTTP handlers of the auth service (docs/api.md §2), one module per resource: `auth` (tokens,
//! registration, passwords, permissions of the caller) and `users` (user queries and grants).
//! [`router`] declares each route once: its path, method and OpenAPI operation come from the
//! handler's `#[utoipa::path]`.

pub mod auth;
pub mod users;

use std::net::IpAddr;
use std::sync::Arc;

use axum::extract::FromRef;
use http::HeaderMap;
use http::request::Parts;
use phonebill_common::auth::{AuthUser, Permission, TokenVerifier};
use phonebill_common::error::{ApiError, ErrorCode};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::rate_limit::RateLimiter;
use crate::service::{AuthService, ClientInfo};
use crate::store::UserRecord;

/// State shared by the handlers.
#[derive(Clone)]
pub struct AppState {
    /// The use cases.
    pub svc: AuthService,
    /// Login/register limiter.
    pub limiter: Arc<RateLimiter>,
    /// Take the client IP from `X-Forwarded-For`.
    pub trust_forwarded_for: bool,
}

impl FromRef<AppState> for TokenVerifier {
    fn from_ref(s: &AppState) -> Self {
        s.svc.verifier.clone()
    }
}

/// The business routes and their OpenAPI operations, in the document's order; the caller
/// applies the state.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(<crate::ApiDoc as utoipa::OpenApi>::openapi())
        .routes(routes!(auth::login))
        .routes(routes!(auth::refresh_token))
        .routes(routes!(auth::logout))
        .routes(routes!(auth::verify_token))
        .routes(routes!(auth::get_jwks))
        .routes(routes!(auth::register))
        .routes(routes!(auth::request_verification))
        .routes(routes!(auth::change_password))
        .routes(routes!(auth::unlock_user))
        .routes(routes!(auth::get_permissions))
        .routes(routes!(auth::check_permission))
        .routes(routes!(auth::get_user_info))
        .routes(routes!(auth::health))
        .routes(routes!(users::get_user))
        .routes(routes!(users::list_users))
        .routes(routes!(users::get_user_by_line))
        .routes(routes!(users::get_user_by_customer))
        .routes(routes!(users::grant_permission))
        .routes(routes!(users::revoke_permission))
}

/// The client's address (for the rate limit and the login history).
pub struct ClientIp(pub IpAddr);

impl ClientIp {
    /// The TCP peer, or with `TRUST_X_FORWARDED_FOR` the rightmost `X-Forwarded-For` entry
    /// (the one the trusted proxy appended; docs/security.md).
    fn from_parts(parts: &Parts, trust_xff: bool) -> Self {
        Self(phonebill_common::client_ip::from_parts(parts, trust_xff))
    }
}

impl axum::extract::FromRequestParts<AppState> for ClientIp {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(parts: &mut Parts, s: &AppState) -> Result<Self, Self::Rejection> {
        Ok(Self::from_parts(parts, s.trust_forwarded_for))
    }
}

/// History facts of a request.
pub fn client_info(ip: IpAddr, headers: &HeaderMap) -> ClientInfo {
    ClientInfo {
        ip: Some(ip.to_string()),
        user_agent: headers
            .get(http::header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
    }
}

/// Whether the caller administers users (`ADMIN` or `USER_MANAGEMENT`).
pub fn is_user_admin(u: &AuthUser) -> bool {
    u.has(Permission::Admin) || u.has(Permission::UserManagement)
}

/// `403 FORBIDDEN` unless `ok`.
pub fn allow(ok: bool) -> Result<(), ApiError> {
    if ok {
        Ok(())
    } else {
        Err(ApiError::new(ErrorCode::Forbidden))
    }
}

/// `LOCKED` while a lock is running, else the stored status (docs/api.md §2.10).
pub fn display_status(u: &UserRecord, now: chrono::DateTime<chrono::Utc>) -> String {
    if u.locked_until.is_some_and(|t| t > now) {
        "LOCKED".to_owned()
    } else {
        u.account_status.clone()
    }
}
