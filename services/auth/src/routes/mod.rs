//! HTTP handlers of the auth service (docs/api.md §2), one module per resource: `auth` (tokens,
//! registration, passwords, permissions of the caller) and `users` (user queries and grants).

pub mod auth;
pub mod users;

use std::net::IpAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::FromRef;
use axum::routing::{delete, get, post};
use http::HeaderMap;
use http::request::Parts;
use phonebill_common::auth::{AuthUser, Permission, TokenVerifier};
use phonebill_common::error::{ApiError, ErrorCode};

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

/// The business routes with state applied.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/api/v1/auth/login", post(auth::login))
        .route("/api/v1/auth/refresh", post(auth::refresh_token))
        .route("/api/v1/auth/logout", post(auth::logout))
        .route("/api/v1/auth/verify", get(auth::verify_token))
        .route("/api/v1/auth/.well-known/jwks.json", get(auth::get_jwks))
        .route("/api/v1/auth/register", post(auth::register))
        .route(
            "/api/v1/auth/register/verification",
            post(auth::request_verification),
        )
        .route("/api/v1/auth/change-password", post(auth::change_password))
        .route("/api/v1/auth/unlock/{userId}", post(auth::unlock_user))
        .route("/api/v1/auth/permissions", get(auth::get_permissions))
        .route(
            "/api/v1/auth/permissions/check",
            post(auth::check_permission),
        )
        .route("/api/v1/auth/user-info", get(auth::get_user_info))
        .route("/api/v1/auth/health", get(auth::health))
        .route("/api/v1/users", get(users::list_users))
        .route("/api/v1/users/{userId}", get(users::get_user))
        .route(
            "/api/v1/users/by-line/{lineNumber}",
            get(users::get_user_by_line),
        )
        .route(
            "/api/v1/users/by-customer/{customerId}",
            get(users::get_user_by_customer),
        )
        .route(
            "/api/v1/users/{userId}/permissions/{permissionCode}/grant",
            post(users::grant_permission),
        )
        .route(
            "/api/v1/users/{userId}/permissions/{permissionCode}",
            delete(users::revoke_permission),
        )
        .with_state(state)
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
