//! The auth use cases (docs/api.md §2.3–2.11) over the store, the clock, the keyring, the hasher and the
//! deny list. Handlers parse the wire, call these, and render the result.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use phonebill_common::auth::{ACCESS_TYP, Claims, DenyList, Permission, TokenVerifier};
use phonebill_common::error::{ApiError, ErrorCode};
use uuid::Uuid;

use phonebill_common::kos::client::{KosClient, KosError};
use phonebill_common::kos::{ProductInquiryRequest, SmsSendRequest, codes as kos_codes};
use phonebill_common::line::LineNumber;

use crate::domain::refresh::{self, RefreshToken};
use crate::domain::validation::{ChangePasswordInput, LoginInput, RegisterInput};
use crate::domain::{LockState, lock_state};
use crate::keys::Keyring;
use crate::password::Hasher;
use crate::registration::{self, RegistrationMode};
use crate::store::{NewUser, SessionRecord, StoreError, UserRecord, UserStore};
use phonebill_common::time::Clock;

/// Session life without `autoLogin`.
const SESSION_TTL: chrono::Duration = chrono::Duration::hours(24);
/// Session life with `autoLogin`.
const AUTO_LOGIN_TTL: chrono::Duration = chrono::Duration::days(30);

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::UserExists => ApiError::new(ErrorCode::UserAlreadyExists),
            StoreError::LineExists => ApiError::new(ErrorCode::LineAlreadyRegistered),
            StoreError::CustomerExists => ApiError::new(ErrorCode::CustomerAlreadyRegistered),
            StoreError::Db(sqlx::Error::PoolTimedOut | sqlx::Error::Io(_)) => {
                ApiError::unavailable(e)
            }
            other => ApiError::internal(other),
        }
    }
}

impl From<crate::password::HashError> for ApiError {
    fn from(e: crate::password::HashError) -> Self {
        ApiError::internal(e)
    }
}

/// Tokens issued by login or refresh.
#[derive(Debug, Clone)]
pub struct Issued {
    /// The access token (JWS).
    pub access_token: String,
    /// The refresh token.
    pub refresh_token: String,
    /// Access-token lifetime in seconds.
    pub expires_in: u64,
}

/// Client facts recorded in the login history.
#[derive(Debug, Clone, Default)]
pub struct ClientInfo {
    /// IP address.
    pub ip: Option<String>,
    /// `User-Agent`.
    pub user_agent: Option<String>,
}

/// Settings of the use cases.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `iss`.
    pub issuer: String,
    /// `aud`.
    pub audience: String,
    /// Access-token lifetime.
    pub access_ttl: Duration,
    /// Failures before lock.
    pub max_failures: u32,
    /// Lock duration.
    pub lock_duration: Duration,
    /// Who may open an account on a line.
    pub registration_mode: RegistrationMode,
}

/// The auth service core. Cheap to clone.
#[derive(Clone)]
pub struct AuthService {
    /// Persistence.
    pub store: Arc<dyn UserStore>,
    /// Time.
    pub clock: Arc<dyn Clock>,
    /// Signing keys.
    pub keys: Arc<Keyring>,
    /// Password hashing.
    pub hasher: Hasher,
    /// Revoked sessions.
    pub deny: DenyList,
    /// Verifies access tokens (the same checks every service applies).
    pub verifier: TokenVerifier,
    /// Login and refresh counters.
    pub counters: crate::metrics::Counters,
    /// KOS: who holds a line, and the SMS that carries the registration code.
    pub kos: KosClient,
    /// Settings.
    pub settings: Arc<Settings>,
}

impl std::fmt::Debug for AuthService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthService").finish_non_exhaustive()
    }
}

fn chrono_dur(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}

/// `423 ACCOUNT_LOCKED` with `lockedUntil`.
pub fn locked_error(until: DateTime<Utc>, max: u32, lock: Duration) -> ApiError {
    ApiError::new(ErrorCode::AccountLocked)
        .message(format!(
            "로그인 {max}회 실패로 계정이 {}분간 잠겼습니다",
            lock.as_secs() / 60
        ))
        .with_extra("lockedUntil", phonebill_common::time::format_kst(until))
}

/// How long expired sessions and refresh tokens are kept before the purge (docs/api.md §7.1).
pub const EXPIRED_SESSION_RETENTION: chrono::Duration = chrono::Duration::days(7);

impl AuthService {
    fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// Deletes sessions and refresh tokens expired for more than 7 days (docs/api.md §7.1); returns
    /// (sessions, tokens) deleted. Run daily by the service; a refresh of a purged token is
    /// answered like one of an expired token (`REFRESH_TOKEN_INVALID`).
    pub async fn purge_expired_sessions(&self) -> Result<(u64, u64), StoreError> {
        self.store
            .purge_expired(self.now() - EXPIRED_SESSION_RETENTION)
            .await
    }

    fn count_login(&self, result: &str) {
        self.counters.logins.with_label_values(&[result]).inc();
    }

    fn count_refresh(&self, result: &str) {
        self.counters.refreshes.with_label_values(&[result]).inc();
    }

    fn locked(&self, until: DateTime<Utc>) -> ApiError {
        locked_error(
            until,
            self.settings.max_failures,
            self.settings.lock_duration,
        )
    }

    async fn history(&self, user_id: &str, result: &str, client: &ClientInfo) {
        // History is best effort: a failed insert must not turn a login into an error.
        if let Err(e) = self
            .store
            .add_login_history(
                user_id,
                result,
                client.ip.as_deref(),
                client.user_agent.as_deref(),
                self.now(),
            )
            .await
        {
            tracing::warn!(error = %e, "login history insert failed");
        }
    }

    /// Signs an access token for `user` in session `sid`.
    fn access_token(&self, user: &UserRecord, sid: Uuid) -> Result<String, ApiError> {
        let now = self.now().timestamp();
        let ttl = i64::try_from(self.settings.access_ttl.as_secs()).unwrap_or(1800);
        let claims = Claims {
            iss: self.settings.issuer.clone(),
            aud: self.settings.audience.clone(),
            sub: user.user_id.clone(),
            customer_id: user.customer_id.clone(),
            line_numbers: vec![user.line_number.clone()],
            permissions: user.permissions.clone(),
            sid: sid.to_string(),
            jti: Uuid::new_v4().to_string(),
            iat: now,
            nbf: now,
            exp: now + ttl,
            typ: ACCESS_TYP.into(),
        };
        self.keys.active().sign(&claims).map_err(ApiError::internal)
    }

    /// docs/api.md §2.3.
    pub async fn login(
        &self,
        input: LoginInput,
        client: &ClientInfo,
    ) -> Result<(UserRecord, Issued), ApiError> {
        let now = self.now();
        let user = self.store.find_user(&input.user_id).await?;
        let Some(mut user) = user else {
            // Same work and same answer as a wrong password: no user enumeration.
            self.hasher.verify(None, input.password).await?;
            self.count_login("invalid");
            self.history(&input.user_id, "UNKNOWN_USER", client).await;
            return Err(ApiError::new(ErrorCode::InvalidCredentials));
        };
        match lock_state(user.locked_until, now) {
            LockState::Locked(until) => {
                self.count_login("locked");
                self.history(&user.user_id, "LOCKED", client).await;
                return Err(self.locked(until));
            }
            LockState::Expired => {
                self.store.reset_lock(&user.user_id, now).await?;
                user.failed_login_count = 0;
                user.locked_until = None;
            }
            LockState::Open => {}
        }
        let ok = self
            .hasher
            .verify(Some(user.password_hash.clone()), input.password)
            .await?;
        if !ok {
            return Err(self.fail_password(&user, client).await);
        }
        if user.account_status != "ACTIVE" {
            self.count_login("inactive");
            self.history(&user.user_id, "INACTIVE", client).await;
            return Err(ApiError::new(ErrorCode::AccountInactive));
        }
        self.store.record_success(&user.user_id, now).await?;
        user.last_login_at = Some(now);
        user.failed_login_count = 0;
        let session = SessionRecord {
            session_id: Uuid::new_v4(),
            user_id: user.user_id.clone(),
            auto_login: input.auto_login,
            expires_at: now
                + if input.auto_login {
                    AUTO_LOGIN_TTL
                } else {
                    SESSION_TTL
                },
            revoked_at: None,
        };
        let rt = RefreshToken::issue(session.session_id);
        self.store.create_session(&session, &rt.hash, now).await?;
        let access = self.access_token(&user, session.session_id)?;
        self.count_login("success");
        self.history(&user.user_id, "SUCCESS", client).await;
        Ok((
            user,
            Issued {
                access_token: access,
                refresh_token: rt.token,
                expires_in: self.settings.access_ttl.as_secs(),
            },
        ))
    }

    /// Counts a wrong password; the failure that reaches the limit answers 423 at once.
    async fn fail_password(&self, user: &UserRecord, client: &ClientInfo) -> ApiError {
        let now = self.now();
        let lock_until = now + chrono_dur(self.settings.lock_duration);
        let max = i32::try_from(self.settings.max_failures).unwrap_or(i32::MAX);
        match self
            .store
            .record_failure(&user.user_id, max, lock_until, now)
            .await
        {
            Ok(Some((_, Some(until)))) if until > now => {
                self.count_login("locked");
                self.history(&user.user_id, "LOCKED", client).await;
                self.locked(until)
            }
            Ok(_) => {
                self.count_login("invalid");
                self.history(&user.user_id, "INVALID_PASSWORD", client)
                    .await;
                ApiError::new(ErrorCode::InvalidCredentials)
            }
            Err(e) => e.into(),
        }
    }

    /// Revokes a session in the database and on the deny list.
    async fn revoke(&self, sid: Uuid, reason: &str) -> Result<(), ApiError> {
        let now = self.now();
        let session = self.store.revoke_session(sid, reason, now).await?;
        let until = session.map_or_else(
            || now.timestamp() + self.settings.access_ttl.as_secs() as i64,
            |s| s.expires_at.timestamp(),
        );
        self.deny.revoke(&sid.to_string(), until).await;
        Ok(())
    }

    /// docs/api.md §2.4.
    pub async fn refresh(&self, token: &str) -> Result<Issued, ApiError> {
        let now = self.now();
        let invalid = || ApiError::new(ErrorCode::RefreshTokenInvalid);
        if !refresh::well_formed(token) {
            self.count_refresh("invalid");
            return Err(invalid());
        }
        let hash = refresh::hash(token);
        let Some(rec) = self.store.find_refresh(&hash).await? else {
            self.count_refresh("invalid");
            return Err(invalid());
        };
        let session = rec.session;
        if session.revoked_at.is_some() || session.expires_at <= now || rec.expires_at <= now {
            self.count_refresh("invalid");
            return Err(invalid());
        }
        if rec.used_at.is_some() {
            return Err(self.reuse_detected(session.session_id).await);
        }
        let Some(user) = self.store.find_user(&session.user_id).await? else {
            self.count_refresh("invalid");
            return Err(invalid());
        };
        if user.account_status != "ACTIVE" {
            self.count_refresh("invalid");
            return Err(ApiError::new(ErrorCode::AccountInactive));
        }
        if let LockState::Locked(until) = lock_state(user.locked_until, now) {
            self.count_refresh("invalid");
            return Err(self.locked(until));
        }
        let next = RefreshToken::issue(session.session_id);
        if !self
            .store
            .rotate_refresh(&hash, &next.hash, &session, now)
            .await?
        {
            // Lost the race to a concurrent rotation (or the session was revoked meanwhile):
            // the same token was presented twice, which is reuse.
            return Err(self.reuse_detected(session.session_id).await);
        }
        let access = self.access_token(&user, session.session_id)?;
        self.count_refresh("success");
        Ok(Issued {
            access_token: access,
            refresh_token: next.token,
            expires_in: self.settings.access_ttl.as_secs(),
        })
    }

    async fn reuse_detected(&self, sid: Uuid) -> ApiError {
        self.count_refresh("reused");
        tracing::warn!(sid = %sid, "refresh token reuse detected; revoking the session family");
        match self.revoke(sid, "REUSE_DETECTED").await {
            Ok(()) => ApiError::new(ErrorCode::RefreshTokenReused),
            Err(e) => e,
        }
    }

    /// docs/api.md §2.5: revokes the session of `sid`.
    pub async fn logout(&self, sid: &str) -> Result<(), ApiError> {
        match Uuid::parse_str(sid) {
            Ok(sid) => self.revoke(sid, "LOGOUT").await,
            Err(_) => Err(ApiError::new(ErrorCode::InvalidToken)),
        }
    }

    /// docs/api.md §2.8 / docs/api.md §2.8.1 (authorization of privileged codes is checked by the
    /// caller). `admin`: the caller holds `ADMIN` and provisions the account for the carrier,
    /// which every mode allows without a code. Otherwise `closed` refuses, and `verified` (or
    /// `open` with a code given) needs the code KOS sent to the line; the account then gets the
    /// customer id KOS holds for the line, not the form's.
    pub async fn register(
        &self,
        mut input: RegisterInput,
        code: Option<String>,
        admin: bool,
        granted_by: Option<String>,
    ) -> Result<UserRecord, ApiError> {
        let line = input.line.as_str().to_owned();
        let mode = self.settings.registration_mode;
        let verified = if admin {
            false
        } else {
            match (mode, code.as_deref()) {
                (RegistrationMode::Closed, _) => {
                    return Err(crate::domain::messages::registration_closed());
                }
                (RegistrationMode::Verified, None) => {
                    return Err(crate::domain::messages::line_verification_required());
                }
                (RegistrationMode::Open, None) => false,
                (_, Some(code)) => {
                    input.customer_id = self.check_code(&line, code).await?;
                    true
                }
            }
        };
        let hash = self.hasher.hash(input.password).await?;
        let user = NewUser {
            user_id: input.user_id.clone(),
            customer_id: input.customer_id,
            line_number: line.clone(),
            user_name: input.user_name,
            password_hash: hash,
            permissions: input
                .permissions
                .iter()
                .map(|p| p.as_str().to_owned())
                .collect(),
            granted_by,
        };
        self.store.create_user(&user, self.now()).await?;
        if verified {
            // A code opens one account.
            self.store.delete_verification(&line).await?;
        }
        self.store
            .find_user(&input.user_id)
            .await?
            .ok_or_else(|| ApiError::internal(StoreError::Corrupt("user vanished".into())))
    }

    /// Checks `code` against the pending code of `line`, spending one try; the customer id KOS
    /// gave for the line when the code was sent.
    async fn check_code(&self, line: &str, code: &str) -> Result<String, ApiError> {
        let expired = || {
            ApiError::new(ErrorCode::LineVerificationRequired)
                .message("인증번호가 없거나 만료되었습니다. 인증번호를 다시 요청한 뒤 가입해주세요")
        };
        let Some(v) = self.store.find_verification(line).await? else {
            return Err(expired());
        };
        if v.expires_at <= self.now() {
            self.store.delete_verification(line).await?;
            return Err(expired());
        }
        // Spend the try before comparing, so parallel guesses cannot exceed MAX_ATTEMPTS.
        let Some(left) = self.store.spend_verification_attempt(line).await? else {
            self.store.delete_verification(line).await?;
            return Err(expired());
        };
        if !registration::well_formed(code) || !registration::matches(&v, code) {
            if left == 0 {
                self.store.delete_verification(line).await?;
            }
            return Err(ApiError::new(ErrorCode::VerificationCodeInvalid)
                .message(if left == 0 {
                    "인증번호가 올바르지 않습니다. 입력 가능 횟수를 모두 사용했으니 인증번호를 다시 요청해주세요".to_owned()
                } else {
                    format!("인증번호가 올바르지 않습니다 (남은 입력 횟수 {left}회)")
                })
                .with_extra("remainingAttempts", left));
        }
        Ok(v.customer_id)
    }

    /// docs/api.md §2.8.1: asks KOS who holds `line` and, for an active line with no account
    /// yet, texts it a new code. The answer is the same whether or not a code went out, so the
    /// endpoint tells nobody whether a number is a subscriber's. `Ok(false)` when nothing was
    /// sent.
    pub async fn send_verification(&self, line: &LineNumber) -> Result<bool, ApiError> {
        if self.settings.registration_mode == RegistrationMode::Closed {
            return Err(crate::domain::messages::registration_closed());
        }
        let now = self.now();
        let line11 = line.as_str();
        if let Some(prev) = self.store.find_verification(line11).await?
            && prev.created_at + registration::RESEND_INTERVAL > now
        {
            let wait = (prev.created_at + registration::RESEND_INTERVAL - now)
                .num_seconds()
                .max(1);
            return Err(ApiError::new(ErrorCode::RateLimited)
                .message("인증번호를 방금 보냈습니다. 잠시 후 다시 요청해주세요")
                .retry_after(u64::try_from(wait).unwrap_or(60)));
        }
        if self.store.find_user_by_line(line11).await?.is_some() {
            return Ok(false);
        }
        let inquiry = self
            .kos
            .product_inquiry(&ProductInquiryRequest {
                line_number: line11.to_owned(),
                request_id: format!("REG-{}", Uuid::new_v4().simple()),
            })
            .await;
        let customer = match inquiry {
            Ok(d) => d.customer_info,
            Err(KosError::Business { code, .. }) if code == kos_codes::PRODUCT_LINE_NOT_FOUND => {
                None
            }
            Err(e) => return Err(e.into()),
        };
        let Some(customer) = customer.filter(|c| c.line_status == "ACTIVE") else {
            return Ok(false);
        };
        let code = registration::new_code();
        let sealed = registration::seal(line11, &customer.customer_id, &code, now);
        self.store.put_verification(&sealed).await?;
        let sent = self
            .kos
            .sms_send(&SmsSendRequest {
                line_number: line11.to_owned(),
                message: format!(
                    "[phonebill] 회원가입 인증번호 {code} ({}분 안에 입력해주세요)",
                    registration::CODE_TTL.num_minutes()
                ),
                request_id: format!("REG-{}", Uuid::new_v4().simple()),
            })
            .await;
        match sent {
            Ok(_) => Ok(true),
            Err(KosError::Business { .. }) => {
                self.store.delete_verification(line11).await?;
                Ok(false)
            }
            Err(e) => {
                // Not sent: let the person ask again at once.
                self.store.delete_verification(line11).await?;
                Err(e.into())
            }
        }
    }

    /// docs/api.md §2.9 change password (authorization checked by the caller).
    pub async fn change_password(&self, input: ChangePasswordInput) -> Result<(), ApiError> {
        let now = self.now();
        let Some(user) = self.store.find_user(&input.user_id).await? else {
            return Err(ApiError::new(ErrorCode::UserNotFound));
        };
        if let LockState::Locked(until) = lock_state(user.locked_until, now) {
            return Err(self.locked(until));
        }
        let ok = self
            .hasher
            .verify(Some(user.password_hash.clone()), input.current)
            .await?;
        if !ok {
            return Err(self.fail_password(&user, &ClientInfo::default()).await);
        }
        let hash = self.hasher.hash(input.new).await?;
        self.store.set_password(&user.user_id, &hash, now).await?;
        let sessions = self
            .store
            .revoke_user_sessions(&user.user_id, "PASSWORD_CHANGED", now)
            .await?;
        for s in sessions {
            self.deny
                .revoke(&s.session_id.to_string(), s.expires_at.timestamp())
                .await;
        }
        Ok(())
    }

    /// A user or `404 USER_NOT_FOUND`.
    pub async fn user(&self, user_id: &str) -> Result<UserRecord, ApiError> {
        self.store
            .find_user(user_id)
            .await?
            .ok_or_else(|| ApiError::new(ErrorCode::UserNotFound))
    }

    /// The user of a line (docs/api.md §2.10) or `404 USER_NOT_FOUND`.
    pub async fn user_by_line(&self, line: &LineNumber) -> Result<UserRecord, ApiError> {
        self.store
            .find_user_by_line(line.as_str())
            .await?
            .ok_or_else(|| ApiError::new(ErrorCode::UserNotFound))
    }

    /// The first user (by id) of a customer (docs/api.md §2.10) or `404 USER_NOT_FOUND`.
    pub async fn user_by_customer(&self, customer_id: &str) -> Result<UserRecord, ApiError> {
        self.store
            .find_user_by_customer(customer_id)
            .await?
            .ok_or_else(|| ApiError::new(ErrorCode::UserNotFound))
    }

    /// Page `page` (1-based) of `size` users sorted by id (docs/api.md §2.10); the caller has
    /// validated both as at least 1.
    pub async fn list_users(&self, page: i64, size: i64) -> Result<Vec<UserRecord>, ApiError> {
        let offset = (page - 1).saturating_mul(size);
        Ok(self.store.list_users(offset, size).await?)
    }

    /// docs/api.md §2.9 unlock.
    pub async fn unlock(&self, user_id: &str) -> Result<(), ApiError> {
        if self.store.reset_lock(user_id, self.now()).await? {
            Ok(())
        } else {
            Err(ApiError::new(ErrorCode::UserNotFound))
        }
    }

    /// docs/api.md §2.11 grant.
    pub async fn grant(&self, user_id: &str, p: Permission, by: &str) -> Result<(), ApiError> {
        // The stored spelling: lookups ignore case, the permission rows reference the id.
        let user = self.user(user_id).await?;
        self.store
            .grant_permission(&user.user_id, p.as_str(), Some(by), self.now())
            .await?;
        Ok(())
    }

    /// docs/api.md §2.11 revoke.
    pub async fn revoke_permission(&self, user_id: &str, p: Permission) -> Result<(), ApiError> {
        let user = self.user(user_id).await?;
        self.store
            .revoke_permission(&user.user_id, p.as_str())
            .await?;
        Ok(())
    }

    /// The current time (for status computation in responses).
    pub fn clock_now(&self) -> DateTime<Utc> {
        self.now()
    }
}
