//! `/api/v1/auth/*` handlers (docs/api.md §2.3–2.9, 2.12, 2.13). Login and verify answer bare snake_case
//! bodies (docs/api.md §1.4); refresh answers the envelope plus the snake_case mirror.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, header};
use phonebill_common::auth::keys::JwkSet;
use phonebill_common::auth::{AuthUser, Permission, VerifyError, bearer_token};
use phonebill_common::envelope::Envelope;
use phonebill_common::error::{ApiError, ErrorBody, ErrorCode};
use phonebill_common::extract::{Json, Path, Query};
use phonebill_common::line::LineNumber;
use phonebill_common::time::format_kst;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};

use super::{AppState, ClientIp, allow, client_info, display_status, is_user_admin};
use crate::domain::validation::{self, RegisterFields};

fn dashed(line: &str) -> String {
    LineNumber::parse(line).map_or_else(|| line.to_owned(), |l| l.dashed())
}

/// Login request (camelCase; `auto_login` also accepted).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LoginRequest {
    /// 3–20 chars, `^[a-zA-Z0-9_-]+$`.
    #[schema(example = "mvno001")]
    pub user_id: Option<String>,
    /// 8–50 chars.
    #[schema(example = "Phonebill1!")]
    pub password: Option<String>,
    /// 30-day session.
    pub auto_login: Option<bool>,
    /// As-built spelling of `autoLogin`.
    #[serde(rename = "auto_login")]
    pub auto_login_snake: Option<bool>,
}

/// The `user` of the login body.
#[derive(Debug, Serialize, ToSchema)]
pub struct LoginUser {
    user_id: String,
    user_name: String,
    phone_number: String,
    permissions: Vec<String>,
}

/// Login success: bare snake_case (docs/api.md §2.3).
#[derive(Debug, Serialize, ToSchema)]
pub struct LoginResponse {
    access_token: String,
    refresh_token: String,
    token_type: &'static str,
    expires_in: u64,
    user_id: String,
    customer_id: String,
    line_number: String,
    user: LoginUser,
}

/// Contract: docs/api.md §2.3.
#[utoipa::path(post, path = "/api/v1/auth/login", summary = "Signs a customer or an administrator in with user id and password: issues an access token and a refresh token (no token needed)", tag = "auth", request_body(content = LoginRequest, example = json!({"userId": "mvno001", "password": "Phonebill1!", "autoLogin": false})),
    responses(
        (status = 200, description = "Bare snake_case token object", body = LoginResponse, example = json!({"access_token": "eyJhbGciOiJFZERTQSIsImtpZCI6ImF1dGgtMjAyNS0wOSIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJtdm5vMDAxIn0.c2ln", "refresh_token": "rt1.0b4f7c9e2d8a4f0c9e1b.kQ2vW3xY4zA5bC6dE7fG8hI9jK0lM1nO2pQ3rS4tU5v", "token_type": "Bearer", "expires_in": 1800, "user_id": "mvno001", "customer_id": "CU202401001", "line_number": "010-1234-5678", "user": {"user_id": "mvno001", "user_name": "홍길동", "phone_number": "010-1234-5678", "permissions": ["BILL_INQUIRY", "PRODUCT_CHANGE"]}})),
        (status = 400, description = "VALIDATION_ERROR", body = ErrorBody),
        (status = 401, description = "INVALID_CREDENTIALS", body = ErrorBody),
        (status = 403, description = "ACCOUNT_INACTIVE", body = ErrorBody),
        (status = 423, description = "ACCOUNT_LOCKED (with lockedUntil)", body = ErrorBody),
        (status = 429, description = "RATE_LIMITED", body = ErrorBody)))]
pub async fn login(
    State(s): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Json(req): Json<LoginRequest>,
) -> Result<Json<LoginResponse>, ApiError> {
    s.limiter.check(ip).await?;
    let input = validation::login(
        req.user_id,
        req.password,
        req.auto_login.or(req.auto_login_snake),
    )
    .map_err(ApiError::validation)?;
    let (user, issued) = s.svc.login(input, &client_info(ip, &headers)).await?;
    let line = dashed(&user.line_number);
    Ok(Json(LoginResponse {
        access_token: issued.access_token,
        refresh_token: issued.refresh_token,
        token_type: "Bearer",
        expires_in: issued.expires_in,
        user_id: user.user_id.clone(),
        customer_id: user.customer_id,
        line_number: line.clone(),
        user: LoginUser {
            user_id: user.user_id,
            user_name: user.user_name,
            phone_number: line,
            permissions: user.permissions,
        },
    }))
}

/// Refresh request.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RefreshRequest {
    /// The refresh token (`rt1.…`).
    pub refresh_token: Option<String>,
}

/// Refresh `data` (camelCase; the same values are mirrored at the top level in snake_case).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RefreshData {
    access_token: String,
    refresh_token: String,
    token_type: &'static str,
    expires_in: u64,
}

/// Contract: docs/api.md §2.4.
#[utoipa::path(post, path = "/api/v1/auth/refresh", summary = "Trades a signed-in client's refresh token for a new access token and a new refresh token (the old one is spent; reuse revokes the session)", tag = "auth", request_body(content = RefreshRequest, example = json!({"refreshToken": "rt1.0b4f7c9e2d8a4f0c9e1b.kQ2vW3xY4zA5bC6dE7fG8hI9jK0lM1nO2pQ3rS4tU5v"})),
    responses(
        (status = 200, description = "Envelope with camelCase data plus access_token, refresh_token, token_type, expires_in at the top level", body = phonebill_common::openapi::Enveloped<RefreshData>, example = json!({"success": true, "data": {"accessToken": "eyJhbGciOiJFZERTQSIsImtpZCI6ImF1dGgtMjAyNS0wOSIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJtdm5vMDAxIn0.c2ln", "refreshToken": "rt1.0b4f7c9e2d8a4f0c9e1b.Zx9yW8vU7tS6rQ5pO4nM3lK2jI1hG0fE9dC8bA7zY6x", "tokenType": "Bearer", "expiresIn": 1800}, "message": "토큰이 갱신되었습니다", "access_token": "eyJhbGciOiJFZERTQSIsImtpZCI6ImF1dGgtMjAyNS0wOSIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJtdm5vMDAxIn0.c2ln", "refresh_token": "rt1.0b4f7c9e2d8a4f0c9e1b.Zx9yW8vU7tS6rQ5pO4nM3lK2jI1hG0fE9dC8bA7zY6x", "token_type": "Bearer", "expires_in": 1800, "timestamp": "2025-09-14T10:32:11.482+09:00", "traceId": "4bf92f3577b34da6a3ce929d0e0e4736"})),
        (status = 400, description = "VALIDATION_ERROR", body = ErrorBody),
        (status = 401, description = "REFRESH_TOKEN_INVALID / REFRESH_TOKEN_REUSED", body = ErrorBody),
        (status = 403, description = "ACCOUNT_INACTIVE", body = ErrorBody),
        (status = 423, description = "ACCOUNT_LOCKED", body = ErrorBody)))]
pub async fn refresh_token(
    State(s): State<AppState>,
    Json(req): Json<RefreshRequest>,
) -> Result<Envelope<RefreshData>, ApiError> {
    let token = req
        .refresh_token
        .filter(|t| !t.trim().is_empty())
        .ok_or_else(|| ApiError::field("refreshToken", "리프레시 토큰은 필수입니다"))?;
    let issued = s.svc.refresh(token.trim()).await?;
    Ok(Envelope::ok(RefreshData {
        access_token: issued.access_token.clone(),
        refresh_token: issued.refresh_token.clone(),
        token_type: "Bearer",
        expires_in: issued.expires_in,
    })
    .message("토큰이 갱신되었습니다")
    .with_extra("access_token", issued.access_token)
    .with_extra("refresh_token", issued.refresh_token)
    .with_extra("token_type", "Bearer")
    .with_extra("expires_in", issued.expires_in))
}

/// Revokes the bearer token's session (idempotent). Contract: docs/api.md §2.5.
#[utoipa::path(post, path = "/api/v1/auth/logout", summary = "Signs the caller out: revokes the session of the bearer token, so its refresh tokens stop working and its access tokens are refused everywhere", tag = "auth", security(("bearer" = [])),
    responses(
        (status = 200, description = "Logged out", body = phonebill_common::openapi::MessageEnvelope, example = json!({"success": true, "message": "로그아웃이 완료되었습니다.", "timestamp": "2025-09-14T10:32:11.482+09:00", "traceId": "4bf92f3577b34da6a3ce929d0e0e4736"})),
        (status = 401, description = "UNAUTHORIZED / INVALID_TOKEN", body = ErrorBody)))]
pub async fn logout(State(s): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    let token = bearer_token(&headers)?.ok_or_else(|| ApiError::new(ErrorCode::Unauthorized))?;
    match s.svc.verifier.verify(token).await {
        Ok(claims) => s.svc.logout(&claims.sid).await?,
        // Logging out an already-revoked session succeeds.
        Err(VerifyError::Revoked) => {}
        Err(e) => return Err(e.into()),
    }
    Ok(Envelope::message_only("로그아웃이 완료되었습니다.").into_response())
}

/// `?token=`.
#[derive(Debug, Deserialize, IntoParams)]
pub struct VerifyQuery {
    /// The access token.
    pub token: Option<String>,
}

/// Verification result: bare snake_case (docs/api.md §2.6).
#[derive(Debug, Serialize, ToSchema)]
pub struct VerifyResponse {
    valid: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    user_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    customer_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    line_number: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    expires_at: Option<String>,
    message: &'static str,
}

/// Contract: docs/api.md §2.6.
#[utoipa::path(get, path = "/api/v1/auth/verify", summary = "Tells any client whether an access token is valid now, and whose it is", tag = "auth", params(VerifyQuery),
    responses(
        (status = 200, description = "Bare snake_case verification object", body = VerifyResponse, example = json!({"valid": true, "user_id": "mvno001", "customer_id": "CU202401001", "line_number": "010-1234-5678", "expires_at": "2025-09-14T11:02:11+09:00", "message": "유효한 토큰입니다."})),
        (status = 400, description = "VALIDATION_ERROR (no token)", body = ErrorBody)))]
pub async fn verify_token(
    State(s): State<AppState>,
    Query(q): Query<VerifyQuery>,
) -> Result<Json<VerifyResponse>, ApiError> {
    let token = q
        .token
        .filter(|t| !t.trim().is_empty())
        .ok_or_else(|| ApiError::field("token", "토큰은 필수입니다"))?;
    let invalid = |message| VerifyResponse {
        valid: false,
        user_id: None,
        customer_id: None,
        line_number: None,
        expires_at: None,
        message,
    };
    Ok(Json(match s.svc.verifier.verify(token.trim()).await {
        Ok(c) => VerifyResponse {
            valid: true,
            user_id: Some(c.sub.clone()),
            customer_id: Some(c.customer_id.clone()),
            line_number: c.line_numbers.first().map(|l| dashed(l)),
            expires_at: chrono::DateTime::from_timestamp(c.exp, 0).map(format_kst),
            message: "유효한 토큰입니다.",
        },
        Err(VerifyError::Expired) => invalid("만료된 토큰입니다."),
        Err(VerifyError::KeysUnavailable(e)) => return Err(ApiError::unavailable(e)),
        Err(_) => invalid("유효하지 않은 토큰입니다."),
    }))
}

/// Contract: docs/api.md §2.7.
#[utoipa::path(get, path = "/api/v1/auth/.well-known/jwks.json", summary = "Publishes the public keys that verify access tokens, for the other services and any verifier", tag = "auth",
    responses((status = 200, description = "JWK Set (Cache-Control: public, max-age=300)", body = JwkSet, example = json!({"keys": [{"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo", "kid": "auth-2025-09", "use": "sig", "alg": "EdDSA"}]}))))]
pub async fn get_jwks(State(s): State<AppState>) -> Response {
    (
        [(
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=300"),
        )],
        Json(s.svc.keys.jwks()),
    )
        .into_response()
}

/// Registration request (exactly what the registration page sends).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RegisterRequest {
    /// 3–20, `^[a-zA-Z0-9_-]+$`.
    pub user_id: Option<String>,
    /// 1–20 chars.
    pub customer_id: Option<String>,
    /// `010-XXXX-XXXX`.
    pub line_number: Option<String>,
    /// 1–50 chars.
    pub user_name: Option<String>,
    /// Policy of docs/api.md §2.14.
    pub password: Option<String>,
    /// Permission codes.
    pub permissions: Option<Vec<String>>,
    /// The 6-digit code texted to the line by `POST /api/v1/auth/register/verification`
    /// (required in `verified` mode; docs/api.md §2.8.1).
    pub verification_code: Option<String>,
}

/// Registration `data` (snake_case).
#[derive(Debug, Serialize, ToSchema)]
pub struct RegisterData {
    user_id: String,
    customer_id: String,
    line_number: String,
    user_name: String,
    account_status: String,
    created_at: String,
    permissions: Vec<String>,
}

/// Contract: docs/api.md §2.8, §2.8.1.
#[utoipa::path(post, path = "/api/v1/auth/register", summary = "Creates an account bound to a line: a visitor registers (with the code texted to the line in verified mode), an administrator provisions any account", tag = "auth", request_body(content = RegisterRequest, example = json!({"userId": "newuser01", "customerId": "123456aB3dE5fG7hI9jK", "lineNumber": "010-1234-9999", "userName": "홍길동", "password": "Secure1234!", "permissions": ["BILL_INQUIRY", "PRODUCT_CHANGE"], "verificationCode": "123456"})),
    security((), ("bearer" = [])),
    responses(
        (status = 200, description = "Envelope with snake_case data. In `verified` mode (and with a code in `open` mode) `customer_id` is the one KOS holds for the line", body = phonebill_common::openapi::Enveloped<RegisterData>, example = json!({"success": true, "message": "사용자가 성공적으로 등록되었습니다", "data": {"user_id": "newuser01", "customer_id": "123456aB3dE5fG7hI9jK", "line_number": "010-1234-9999", "user_name": "홍길동", "account_status": "ACTIVE", "created_at": "2025-09-14T10:32:11+09:00", "permissions": ["BILL_INQUIRY", "PRODUCT_CHANGE"]}, "timestamp": "2025-09-14T10:32:11.482+09:00", "traceId": "4bf92f3577b34da6a3ce929d0e0e4736"})),
        (status = 400, description = "VALIDATION_ERROR with fieldErrors", body = ErrorBody),
        (status = 403, description = "FORBIDDEN (privileged codes without ADMIN) / LINE_VERIFICATION_REQUIRED (verified mode: no code, or it expired; request one first) / VERIFICATION_CODE_INVALID (wrong code, `remainingAttempts`) / REGISTRATION_CLOSED (closed mode)", body = ErrorBody),
        (status = 409, description = "USER_ALREADY_EXISTS (ids compare without regard to case) / LINE_ALREADY_REGISTERED / CUSTOMER_ALREADY_REGISTERED", body = ErrorBody),
        (status = 429, description = "RATE_LIMITED", body = ErrorBody)))]
pub async fn register(
    State(s): State<AppState>,
    ClientIp(ip): ClientIp,
    caller: Option<AuthUser>,
    Json(req): Json<RegisterRequest>,
) -> Result<Envelope<RegisterData>, ApiError> {
    s.limiter.check(ip).await?;
    let input = validation::register(RegisterFields {
        user_id: req.user_id,
        customer_id: req.customer_id,
        line_number: req.line_number,
        user_name: req.user_name,
        password: req.password,
        permissions: req.permissions,
    })
    .map_err(ApiError::validation)?;
    let privileged = input
        .permissions
        .iter()
        .any(|p| matches!(p, Permission::Admin | Permission::UserManagement));
    let is_admin = caller.as_ref().is_some_and(|c| c.has(Permission::Admin));
    allow(!privileged || is_admin)?;
    let granted_by = caller.map(|c| c.user_id().to_owned());
    let code = req
        .verification_code
        .map(|c| c.trim().to_owned())
        .filter(|c| !c.is_empty());
    let user = s.svc.register(input, code, is_admin, granted_by).await?;
    Ok(Envelope::ok(RegisterData {
        line_number: dashed(&user.line_number),
        user_id: user.user_id,
        customer_id: user.customer_id,
        user_name: user.user_name,
        account_status: user.account_status,
        created_at: format_kst(user.created_at),
        permissions: user.permissions,
    })
    .message("사용자가 성공적으로 등록되었습니다"))
}

/// Verification request: the line to prove.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct VerificationRequest {
    /// `010-XXXX-XXXX` or 11 digits.
    #[schema(example = "010-1234-5678")]
    pub line_number: Option<String>,
}

/// `data` of the verification request.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct VerificationData {
    /// The line, dashed.
    line_number: String,
    /// How long a code is valid.
    expires_in_seconds: i64,
    /// Tries per code.
    max_attempts: i32,
    /// When a new code may be asked for.
    resend_after_seconds: i64,
}

/// Texts a one-time code to the line through KOS (docs/api.md §2.8.1). The answer does not say
/// whether a code went out (only a subscriber's active line without an account gets one), so it
/// tells nobody whether a number exists. Contract: docs/api.md §2.8.1.
#[utoipa::path(post, path = "/api/v1/auth/register/verification", summary = "Texts a one-time registration code to a visitor's line through KOS, answering the same whether or not the line is a subscriber's", tag = "auth",
    request_body(content = VerificationRequest, example = json!({"lineNumber": "010-1234-5678"})),
    responses(
        (status = 200, description = "If the line is an active subscriber line without an account, a 6-digit code was texted to it", body = phonebill_common::openapi::Enveloped<VerificationData>, example = json!({"success": true, "message": "가입된 회선이면 인증번호를 문자로 보냈습니다. 받은 인증번호를 입력해 가입을 완료해주세요", "data": {"lineNumber": "010-1234-5678", "expiresInSeconds": 300, "maxAttempts": 5, "resendAfterSeconds": 60}, "timestamp": "2025-09-14T10:32:11.482+09:00", "traceId": "4bf92f3577b34da6a3ce929d0e0e4736"})),
        (status = 400, description = "VALIDATION_ERROR (lineNumber)", body = ErrorBody),
        (status = 403, description = "REGISTRATION_CLOSED", body = ErrorBody),
        (status = 429, description = "RATE_LIMITED (per client IP, and one code per line per minute), Retry-After", body = ErrorBody),
        (status = 503, description = "KOS_UNAVAILABLE", body = ErrorBody),
        (status = 504, description = "KOS_TIMEOUT", body = ErrorBody)))]
pub async fn request_verification(
    State(s): State<AppState>,
    ClientIp(ip): ClientIp,
    Json(req): Json<VerificationRequest>,
) -> Result<Envelope<VerificationData>, ApiError> {
    s.limiter.check(ip).await?;
    let line = req
        .line_number
        .as_deref()
        .and_then(LineNumber::parse)
        .ok_or_else(|| {
            ApiError::field("lineNumber", "회선번호는 010-XXXX-XXXX 형식이어야 합니다")
        })?;
    s.svc.send_verification(&line).await?;
    Ok(Envelope::ok(VerificationData {
        line_number: line.dashed(),
        expires_in_seconds: crate::registration::CODE_TTL.num_seconds(),
        max_attempts: crate::registration::MAX_ATTEMPTS,
        resend_after_seconds: crate::registration::RESEND_INTERVAL.num_seconds(),
    })
    .message(
        "가입된 회선이면 인증번호를 문자로 보냈습니다. 받은 인증번호를 입력해 가입을 완료해주세요",
    ))
}

/// Password change parameters (query string or JSON body; the body wins).
#[derive(Debug, Default, Deserialize, ToSchema, IntoParams)]
#[serde(rename_all = "camelCase")]
pub struct ChangePasswordParams {
    /// Whose password.
    pub user_id: Option<String>,
    /// Current password.
    pub current_password: Option<String>,
    /// New password (policy 2.14).
    pub new_password: Option<String>,
}

/// Contract: docs/api.md §2.9.
#[utoipa::path(post, path = "/api/v1/auth/change-password", summary = "Changes a user's password, by the user (with the current password) or an administrator; signs every session of that user out", tag = "auth", security(("bearer" = [])),
    params(ChangePasswordParams), request_body(content = Option<ChangePasswordParams>, example = json!({"userId": "mvno001", "currentPassword": "Phonebill1!", "newPassword": "Phonebill9!"})),
    responses(
        (status = 200, description = "Changed; every session of the user is revoked", body = phonebill_common::openapi::MessageEnvelope, example = json!({"success": true, "message": "비밀번호가 성공적으로 변경되었습니다. 다시 로그인해 주세요.", "timestamp": "2025-09-14T10:32:11.482+09:00", "traceId": "4bf92f3577b34da6a3ce929d0e0e4736"})),
        (status = 400, description = "VALIDATION_ERROR", body = ErrorBody),
        (status = 401, description = "INVALID_CREDENTIALS / UNAUTHORIZED", body = ErrorBody),
        (status = 403, description = "FORBIDDEN", body = ErrorBody),
        (status = 404, description = "USER_NOT_FOUND", body = ErrorBody),
        (status = 423, description = "ACCOUNT_LOCKED (the account is locked, or this wrong current password reached the limit)", body = ErrorBody)))]
pub async fn change_password(
    State(s): State<AppState>,
    caller: AuthUser,
    Query(q): Query<ChangePasswordParams>,
    body: Bytes,
) -> Result<Envelope<()>, ApiError> {
    let b: ChangePasswordParams = if body.iter().all(u8::is_ascii_whitespace) {
        ChangePasswordParams::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| ApiError::malformed(e.to_string()))?
    };
    let input = validation::change_password(
        b.user_id.or(q.user_id),
        b.current_password.or(q.current_password),
        b.new_password.or(q.new_password),
    )
    .map_err(ApiError::validation)?;
    allow(caller.user_id() == input.user_id || caller.has(Permission::Admin))?;
    s.svc.change_password(input).await?;
    Ok(Envelope::message_only(
        "비밀번호가 성공적으로 변경되었습니다. 다시 로그인해 주세요.",
    ))
}

/// Contract: docs/api.md §2.9.
#[utoipa::path(post, path = "/api/v1/auth/unlock/{userId}", summary = "Lets an administrator or user manager lift the login lock of an account", tag = "auth", security(("bearer" = [])),
    params(("userId" = String, Path, description = "User id")),
    responses(
        (status = 200, description = "Unlocked", body = phonebill_common::openapi::MessageEnvelope, example = json!({"success": true, "message": "계정 잠금이 성공적으로 해제되었습니다.", "timestamp": "2025-09-14T10:32:11.482+09:00", "traceId": "4bf92f3577b34da6a3ce929d0e0e4736"})),
        (status = 403, description = "FORBIDDEN", body = ErrorBody),
        (status = 404, description = "USER_NOT_FOUND", body = ErrorBody)))]
pub async fn unlock_user(
    State(s): State<AppState>,
    caller: AuthUser,
    Path(user_id): Path<String>,
) -> Result<Envelope<()>, ApiError> {
    allow(is_user_admin(&caller))?;
    s.svc.unlock(&user_id).await?;
    Ok(Envelope::message_only(
        "계정 잠금이 성공적으로 해제되었습니다.",
    ))
}

/// One permission of the caller.
#[derive(Debug, Serialize, ToSchema)]
pub struct PermissionEntry {
    permission: &'static str,
    description: &'static str,
    granted: bool,
}

/// `data` of `GET /auth/permissions`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PermissionsData {
    user_id: String,
    permissions: Vec<PermissionEntry>,
}

/// The caller's permissions as stored now. Contract: docs/api.md §2.12.
#[utoipa::path(get, path = "/api/v1/auth/permissions", summary = "Lists every permission with whether the signed-in caller holds it now (read from the database, not the token)", tag = "auth", security(("bearer" = [])),
    responses(
        (status = 200, description = "Every code with granted true/false", body = phonebill_common::openapi::Enveloped<PermissionsData>, example = json!({"success": true, "message": "권한 정보를 성공적으로 조회했습니다.", "data": {"userId": "mvno001", "permissions": [{"permission": "BILL_INQUIRY", "description": "요금 조회 서비스 권한", "granted": true}, {"permission": "PRODUCT_CHANGE", "description": "상품 변경 서비스 권한", "granted": true}, {"permission": "ADMIN", "description": "관리자 권한", "granted": false}, {"permission": "USER_MANAGEMENT", "description": "사용자 관리 권한", "granted": false}]}, "timestamp": "2025-09-14T10:32:11.482+09:00", "traceId": "4bf92f3577b34da6a3ce929d0e0e4736"})),
        (status = 401, description = "UNAUTHORIZED / INVALID_TOKEN", body = ErrorBody)))]
pub async fn get_permissions(
    State(s): State<AppState>,
    caller: AuthUser,
) -> Result<Envelope<PermissionsData>, ApiError> {
    let user = s.svc.user(caller.user_id()).await?;
    let permissions = Permission::ALL
        .into_iter()
        .map(|p| PermissionEntry {
            permission: p.as_str(),
            description: p.description(),
            granted: user.permissions.iter().any(|c| c == p.as_str()),
        })
        .collect();
    Ok(Envelope::ok(PermissionsData {
        user_id: user.user_id,
        permissions,
    })
    .message("권한 정보를 성공적으로 조회했습니다."))
}

/// Permission check request.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PermissionCheckRequest {
    /// A permission code.
    pub service_type: Option<String>,
}

/// `data` of the permission check.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PermissionCheckData {
    service_type: &'static str,
    has_permission: bool,
    permission_details: serde_json::Value,
}

/// A denial is data, not an error. Contract: docs/api.md §2.12.
#[utoipa::path(post, path = "/api/v1/auth/permissions/check", summary = "Tells the signed-in caller whether they may use one service (a denial is an answer, not an error)", tag = "auth", security(("bearer" = [])),
    request_body(content = PermissionCheckRequest, example = json!({"serviceType": "BILL_INQUIRY"})),
    responses(
        (status = 200, description = "hasPermission true/false", body = phonebill_common::openapi::Enveloped<PermissionCheckData>, example = json!({"success": true, "message": "서비스 접근 권한이 확인되었습니다.", "data": {"serviceType": "BILL_INQUIRY", "hasPermission": true, "permissionDetails": {"permission": "BILL_INQUIRY", "granted": true}}, "timestamp": "2025-09-14T10:32:11.482+09:00", "traceId": "4bf92f3577b34da6a3ce929d0e0e4736"})),
        (status = 400, description = "VALIDATION_ERROR", body = ErrorBody)))]
pub async fn check_permission(
    State(s): State<AppState>,
    caller: AuthUser,
    Json(req): Json<PermissionCheckRequest>,
) -> Result<Envelope<PermissionCheckData>, ApiError> {
    let p = req
        .service_type
        .as_deref()
        .and_then(Permission::parse)
        .ok_or_else(|| ApiError::field("serviceType", "서비스 유형이 올바르지 않습니다"))?;
    let user = s.svc.user(caller.user_id()).await?;
    let granted = user.permissions.iter().any(|c| c == p.as_str());
    Ok(Envelope::ok(PermissionCheckData {
        service_type: p.as_str(),
        has_permission: granted,
        permission_details: json!({ "permission": p.as_str(), "granted": granted }),
    })
    .message(if granted {
        "서비스 접근 권한이 확인되었습니다."
    } else {
        "서비스 접근 권한이 없습니다."
    }))
}

/// The caller in camelCase (docs/api.md §2.12).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserInfo {
    user_id: String,
    customer_id: String,
    line_number: String,
    user_name: String,
    account_status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_login_at: Option<String>,
    permissions: Vec<String>,
}

/// Contract: docs/api.md §2.12.
#[utoipa::path(get, path = "/api/v1/auth/user-info", summary = "Gives the signed-in caller their own profile (camelCase)", tag = "auth", security(("bearer" = [])),
    responses(
        (status = 200, description = "The caller", body = phonebill_common::openapi::Enveloped<UserInfo>, example = json!({"success": true, "message": "사용자 정보를 성공적으로 조회했습니다.", "data": {"userId": "mvno001", "customerId": "CU202401001", "lineNumber": "010-1234-5678", "userName": "홍길동", "accountStatus": "ACTIVE", "lastLoginAt": "2025-09-14T10:32:11+09:00", "permissions": ["BILL_INQUIRY", "PRODUCT_CHANGE"]}, "timestamp": "2025-09-14T10:32:11.482+09:00", "traceId": "4bf92f3577b34da6a3ce929d0e0e4736"})),
        (status = 401, description = "UNAUTHORIZED / INVALID_TOKEN / TOKEN_EXPIRED / TOKEN_REVOKED", body = ErrorBody)))]
pub async fn get_user_info(
    State(s): State<AppState>,
    caller: AuthUser,
) -> Result<Envelope<UserInfo>, ApiError> {
    let user = s.svc.user(caller.user_id()).await?;
    let status = display_status(&user, s.svc.clock_now());
    Ok(Envelope::ok(UserInfo {
        line_number: dashed(&user.line_number),
        user_id: user.user_id,
        customer_id: user.customer_id,
        user_name: user.user_name,
        account_status: status,
        last_login_at: user.last_login_at.map(format_kst),
        permissions: user.permissions,
    })
    .message("사용자 정보를 성공적으로 조회했습니다."))
}

/// Plain text. Contract: docs/api.md §2.13.
#[utoipa::path(get, path = "/api/v1/auth/health", summary = "Answers plain text while the auth service runs (for people; probes use /actuator)", tag = "auth",
    responses((status = 200, description = "text/plain `Auth Service is running`", body = String, example = json!("Auth Service is running"))))]
pub async fn health() -> &'static str {
    "Auth Service is running"
}
