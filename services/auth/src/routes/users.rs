//! `/api/v1/users/*` handlers (docs/api.md §2.10, 2.11). User objects are bare snake_case (docs/api.md §1.4).

use axum::extract::State;
use phonebill_common::auth::{AuthUser, Permission};
use phonebill_common::envelope::Envelope;
use phonebill_common::error::{ApiError, ErrorBody, ErrorCode};
use phonebill_common::extract::{Json, Path, Query};
use phonebill_common::line::LineNumber;
use phonebill_common::time::format_kst;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{AppState, allow, display_status, is_user_admin};
use crate::store::UserRecord;

/// The user object (docs/api.md §2.10).
#[derive(Debug, Serialize, ToSchema)]
pub struct UserObject {
    user_id: String,
    customer_id: String,
    line_number: String,
    user_name: String,
    status: String,
    account_status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_login_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_password_changed_at: Option<String>,
    permissions: Vec<String>,
}

fn user_object(u: UserRecord, now: chrono::DateTime<chrono::Utc>) -> UserObject {
    let status = display_status(&u, now);
    UserObject {
        line_number: LineNumber::parse(&u.line_number)
            .map_or_else(|| u.line_number.clone(), |l| l.dashed()),
        user_id: u.user_id,
        customer_id: u.customer_id,
        user_name: u.user_name,
        status: status.clone(),
        account_status: status,
        last_login_at: u.last_login_at.map(format_kst),
        last_password_changed_at: u.last_password_changed_at.map(format_kst),
        permissions: u.permissions,
    }
}

/// Self, or an admin/user manager. Contract: docs/api.md §2.10.
#[utoipa::path(get, path = "/api/v1/users/{userId}", summary = "Gives a user's profile to that user or to an administrator or user manager", tag = "users", security(("bearer" = [])),
    params(("userId" = String, Path, description = "User id")),
    responses(
        (status = 200, description = "Bare snake_case user object", body = UserObject, example = json!({"user_id": "mvno001", "customer_id": "CU202401001", "line_number": "010-1234-5678", "user_name": "홍길동", "status": "ACTIVE", "account_status": "ACTIVE", "last_login_at": "2025-09-14T10:32:11+09:00", "last_password_changed_at": "2025-09-01T09:00:00+09:00", "permissions": ["BILL_INQUIRY", "PRODUCT_CHANGE"]})),
        (status = 403, description = "FORBIDDEN", body = ErrorBody),
        (status = 404, description = "USER_NOT_FOUND", body = ErrorBody)))]
pub async fn get_user(
    State(s): State<AppState>,
    caller: AuthUser,
    Path(user_id): Path<String>,
) -> Result<Json<UserObject>, ApiError> {
    allow(caller.user_id() == user_id || is_user_admin(&caller))?;
    let u = s.svc.user(&user_id).await?;
    Ok(Json(user_object(u, s.svc.clock_now())))
}

/// Optional paging of the user list.
#[derive(Debug, Deserialize, IntoParams)]
pub struct ListQuery {
    /// 1-based page (default 1).
    pub page: Option<i64>,
    /// Page size, 1..=1000 (default: all, up to 1000).
    pub size: Option<i64>,
}

/// Admins and user managers. Contract: docs/api.md §2.10.
#[utoipa::path(get, path = "/api/v1/users", summary = "Lists users, sorted by id and paged, for administrators and user managers", tag = "users", security(("bearer" = [])), params(ListQuery),
    responses(
        (status = 200, description = "Bare array of user objects sorted by user_id", body = [UserObject], example = json!([{"user_id": "mvno001", "customer_id": "CU202401001", "line_number": "010-1234-5678", "user_name": "홍길동", "status": "ACTIVE", "account_status": "ACTIVE", "last_login_at": "2025-09-14T10:32:11+09:00", "last_password_changed_at": "2025-09-01T09:00:00+09:00", "permissions": ["BILL_INQUIRY", "PRODUCT_CHANGE"]}])),
        (status = 400, description = "VALIDATION_ERROR", body = ErrorBody),
        (status = 403, description = "FORBIDDEN", body = ErrorBody)))]
pub async fn list_users(
    State(s): State<AppState>,
    caller: AuthUser,
    Query(q): Query<ListQuery>,
) -> Result<Json<Vec<UserObject>>, ApiError> {
    allow(is_user_admin(&caller))?;
    let page = q.page.unwrap_or(1);
    let size = q.size.unwrap_or(1000);
    if page < 1 {
        return Err(ApiError::field("page", "page는 1 이상이어야 합니다"));
    }
    if !(1..=1000).contains(&size) {
        return Err(ApiError::field(
            "size",
            "size는 1 이상 1000 이하여야 합니다",
        ));
    }
    let users = s.svc.list_users(page, size).await?;
    let now = s.svc.clock_now();
    Ok(Json(
        users.into_iter().map(|u| user_object(u, now)).collect(),
    ))
}

/// Admins/user managers, or the line's owner. Contract: docs/api.md §2.10.
#[utoipa::path(get, path = "/api/v1/users/by-line/{lineNumber}", summary = "Finds the user of a line, for administrators, user managers and the line's owner", tag = "users", security(("bearer" = [])),
    params(("lineNumber" = String, Path, description = "Line, dashes optional")),
    responses(
        (status = 200, description = "Bare snake_case user object", body = UserObject, example = json!({"user_id": "mvno001", "customer_id": "CU202401001", "line_number": "010-1234-5678", "user_name": "홍길동", "status": "ACTIVE", "account_status": "ACTIVE", "last_login_at": "2025-09-14T10:32:11+09:00", "last_password_changed_at": "2025-09-01T09:00:00+09:00", "permissions": ["BILL_INQUIRY", "PRODUCT_CHANGE"]})),
        (status = 400, description = "INVALID_LINE_NUMBER", body = ErrorBody),
        (status = 403, description = "FORBIDDEN", body = ErrorBody),
        (status = 404, description = "USER_NOT_FOUND", body = ErrorBody)))]
pub async fn get_user_by_line(
    State(s): State<AppState>,
    caller: AuthUser,
    Path(line): Path<String>,
) -> Result<Json<UserObject>, ApiError> {
    let line =
        LineNumber::parse(&line).ok_or_else(|| ApiError::new(ErrorCode::InvalidLineNumber))?;
    allow(is_user_admin(&caller) || caller.owns_line(&line))?;
    let u = s.svc.user_by_line(&line).await?;
    Ok(Json(user_object(u, s.svc.clock_now())))
}

/// Admins/user managers, or that customer. Contract: docs/api.md §2.10.
#[utoipa::path(get, path = "/api/v1/users/by-customer/{customerId}", summary = "Finds the (first) user of a customer, for administrators, user managers and that customer", tag = "users", security(("bearer" = [])),
    params(("customerId" = String, Path, description = "Customer id")),
    responses(
        (status = 200, description = "Bare snake_case user object (first by user_id)", body = UserObject, example = json!({"user_id": "mvno001", "customer_id": "CU202401001", "line_number": "010-1234-5678", "user_name": "홍길동", "status": "ACTIVE", "account_status": "ACTIVE", "last_login_at": "2025-09-14T10:32:11+09:00", "last_password_changed_at": "2025-09-01T09:00:00+09:00", "permissions": ["BILL_INQUIRY", "PRODUCT_CHANGE"]})),
        (status = 403, description = "FORBIDDEN", body = ErrorBody),
        (status = 404, description = "USER_NOT_FOUND", body = ErrorBody)))]
pub async fn get_user_by_customer(
    State(s): State<AppState>,
    caller: AuthUser,
    Path(customer_id): Path<String>,
) -> Result<Json<UserObject>, ApiError> {
    allow(is_user_admin(&caller) || caller.customer_id() == customer_id)?;
    let u = s.svc.user_by_customer(&customer_id).await?;
    Ok(Json(user_object(u, s.svc.clock_now())))
}

/// `?grantedBy=`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
pub struct GrantQuery {
    /// Must equal the caller's id when given.
    pub granted_by: Option<String>,
}

fn permission(code: &str) -> Result<Permission, ApiError> {
    Permission::parse(code).ok_or_else(|| ApiError::new(ErrorCode::PermissionNotFound))
}

/// Admins only. Contract: docs/api.md §2.11.
#[utoipa::path(post, path = "/api/v1/users/{userId}/permissions/{permissionCode}/grant", summary = "Lets an administrator grant a permission to a user (idempotent; effective in the user's next tokens)", tag = "users",
    security(("bearer" = [])),
    params(("userId" = String, Path, description = "User id"),
           ("permissionCode" = String, Path, description = "Permission code (any case)"), GrantQuery),
    responses(
        (status = 200, description = "Granted (idempotent)", body = phonebill_common::openapi::MessageEnvelope, example = json!({"success": true, "message": "권한이 성공적으로 부여되었습니다.", "timestamp": "2025-09-14T10:32:11.482+09:00", "traceId": "4bf92f3577b34da6a3ce929d0e0e4736"})),
        (status = 400, description = "VALIDATION_ERROR (grantedBy is not the caller)", body = ErrorBody),
        (status = 403, description = "FORBIDDEN", body = ErrorBody),
        (status = 404, description = "USER_NOT_FOUND / PERMISSION_NOT_FOUND", body = ErrorBody)))]
pub async fn grant_permission(
    State(s): State<AppState>,
    caller: AuthUser,
    Path((user_id, code)): Path<(String, String)>,
    Query(q): Query<GrantQuery>,
) -> Result<Envelope<()>, ApiError> {
    allow(caller.has(Permission::Admin))?;
    if q.granted_by
        .as_deref()
        .is_some_and(|g| g != caller.user_id())
    {
        return Err(ApiError::field(
            "grantedBy",
            "grantedBy는 요청한 관리자 ID와 같아야 합니다",
        ));
    }
    let p = permission(&code)?;
    s.svc.grant(&user_id, p, caller.user_id()).await?;
    Ok(Envelope::message_only("권한이 성공적으로 부여되었습니다."))
}

/// Admins only. Contract: docs/api.md §2.11.
#[utoipa::path(delete, path = "/api/v1/users/{userId}/permissions/{permissionCode}", summary = "Lets an administrator revoke a permission from a user (idempotent; effective in the user's next tokens)", tag = "users",
    security(("bearer" = [])),
    params(("userId" = String, Path, description = "User id"),
           ("permissionCode" = String, Path, description = "Permission code (any case)")),
    responses(
        (status = 200, description = "Revoked (idempotent)", body = phonebill_common::openapi::MessageEnvelope, example = json!({"success": true, "message": "권한이 성공적으로 철회되었습니다.", "timestamp": "2025-09-14T10:32:11.482+09:00", "traceId": "4bf92f3577b34da6a3ce929d0e0e4736"})),
        (status = 403, description = "FORBIDDEN", body = ErrorBody),
        (status = 404, description = "USER_NOT_FOUND / PERMISSION_NOT_FOUND", body = ErrorBody)))]
pub async fn revoke_permission(
    State(s): State<AppState>,
    caller: AuthUser,
    Path((user_id, code)): Path<(String, String)>,
) -> Result<Envelope<()>, ApiError> {
    allow(caller.has(Permission::Admin))?;
    let p = permission(&code)?;
    s.svc.revoke_permission(&user_id, p).await?;
    Ok(Envelope::message_only("권한이 성공적으로 철회되었습니다."))
}
