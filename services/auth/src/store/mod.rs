//! Persistence of the auth service behind one trait, [`UserStore`], with a PostgreSQL and an
//! SQLite adapter (docs/architecture.md decision 1). Domain values in, domain values out.
//!
//! The SQL is written once ([`sql`] holds it as a macro) and expanded per dialect; how
//! timestamps and ids are bound and read (`timestamptz`/`uuid` in PostgreSQL, RFC 3339 text in
//! SQLite) comes from `phonebill_common::db::dialect`.

#[macro_use]
mod sql;
pub mod postgres;
pub mod sqlite;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use phonebill_common::db::Db;
use uuid::Uuid;

pub use crate::registration::LineVerification;

/// A store failure.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// `user_id` is taken.
    #[error("user id already exists")]
    UserExists,
    /// The line already has a user.
    #[error("line already registered")]
    LineExists,
    /// The customer already has a user.
    #[error("customer already registered")]
    CustomerExists,
    /// The database failed.
    #[error(transparent)]
    Db(#[from] sqlx::Error),
    /// A stored value could not be read back.
    #[error("corrupt stored value: {0}")]
    Corrupt(String),
}

/// A user with its permissions.
#[derive(Debug, Clone)]
pub struct UserRecord {
    /// Id.
    pub user_id: String,
    /// Customer id.
    pub customer_id: String,
    /// Line, 11 digits.
    pub line_number: String,
    /// Display name.
    pub user_name: String,
    /// Argon2id PHC string.
    pub password_hash: String,
    /// `ACTIVE`, `SUSPENDED`, `WITHDRAWN`.
    pub account_status: String,
    /// Consecutive failures.
    pub failed_login_count: i32,
    /// Lock end.
    pub locked_until: Option<DateTime<Utc>>,
    /// Last successful login.
    pub last_login_at: Option<DateTime<Utc>>,
    /// Last password change.
    pub last_password_changed_at: Option<DateTime<Utc>>,
    /// Creation.
    pub created_at: DateTime<Utc>,
    /// Granted codes, sorted.
    pub permissions: Vec<String>,
}

/// A user to create.
#[derive(Debug, Clone)]
pub struct NewUser {
    /// Id.
    pub user_id: String,
    /// Customer id.
    pub customer_id: String,
    /// Line, 11 digits.
    pub line_number: String,
    /// Display name.
    pub user_name: String,
    /// Argon2id PHC string.
    pub password_hash: String,
    /// Codes to grant.
    pub permissions: Vec<String>,
    /// Granter of those codes.
    pub granted_by: Option<String>,
}

/// A login session (one refresh-token family).
#[derive(Debug, Clone)]
pub struct SessionRecord {
    /// `sid`.
    pub session_id: Uuid,
    /// Owner.
    pub user_id: String,
    /// 30-day session.
    pub auto_login: bool,
    /// Absolute end.
    pub expires_at: DateTime<Utc>,
    /// Revocation instant.
    pub revoked_at: Option<DateTime<Utc>>,
}

/// A stored refresh token with its session.
#[derive(Debug, Clone)]
pub struct RefreshRecord {
    /// The session.
    pub session: SessionRecord,
    /// When it was rotated, if it was.
    pub used_at: Option<DateTime<Utc>>,
    /// Its own expiry.
    pub expires_at: DateTime<Utc>,
}

/// The auth service's persistence.
#[async_trait::async_trait]
pub trait UserStore: Send + Sync {
    /// The user `user_id`.
    async fn find_user(&self, user_id: &str) -> Result<Option<UserRecord>, StoreError>;
    /// The user of a line (11 digits).
    async fn find_user_by_line(&self, line: &str) -> Result<Option<UserRecord>, StoreError>;
    /// The first user (by id) of a customer.
    async fn find_user_by_customer(
        &self,
        customer_id: &str,
    ) -> Result<Option<UserRecord>, StoreError>;
    /// Users sorted by id.
    async fn list_users(&self, offset: i64, limit: i64) -> Result<Vec<UserRecord>, StoreError>;
    /// Creates a user with its permissions (`UserExists` (user ids compare without regard to
    /// case) / `LineExists` / `CustomerExists` on conflict).
    async fn create_user(&self, user: &NewUser, now: DateTime<Utc>) -> Result<(), StoreError>;
    /// Clears the lock and the failure counter; `false` if there is no such user.
    async fn reset_lock(&self, user_id: &str, now: DateTime<Utc>) -> Result<bool, StoreError>;
    /// Counts a failure atomically; when the count reaches `max` sets `locked_until = lock_until`.
    /// Returns the new count and lock.
    async fn record_failure(
        &self,
        user_id: &str,
        max: i32,
        lock_until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Option<(i32, Option<DateTime<Utc>>)>, StoreError>;
    /// A successful login: counter 0, no lock, `last_login_at = now`.
    async fn record_success(&self, user_id: &str, now: DateTime<Utc>) -> Result<(), StoreError>;
    /// Replaces the password hash.
    async fn set_password(
        &self,
        user_id: &str,
        hash: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    /// Grants `code` (no-op when held).
    async fn grant_permission(
        &self,
        user_id: &str,
        code: &str,
        granted_by: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    /// Revokes `code` (no-op when not held).
    async fn revoke_permission(&self, user_id: &str, code: &str) -> Result<(), StoreError>;
    /// Appends to the login history.
    async fn add_login_history(
        &self,
        user_id: &str,
        result: &str,
        client_ip: Option<&str>,
        user_agent: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    /// Creates a session and its first refresh token.
    async fn create_session(
        &self,
        session: &SessionRecord,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    /// The refresh token with hash `token_hash`.
    async fn find_refresh(&self, token_hash: &str) -> Result<Option<RefreshRecord>, StoreError>;
    /// Rotates atomically: marks `old_hash` used only if it was unused (conditional UPDATE) and
    /// stores `new_hash`. `false` when another rotation won or the session is revoked.
    async fn rotate_refresh(
        &self,
        old_hash: &str,
        new_hash: &str,
        session: &SessionRecord,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;
    /// Revokes a session (idempotent); returns it if it exists.
    async fn revoke_session(
        &self,
        session_id: Uuid,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<SessionRecord>, StoreError>;
    /// Revokes every live session of a user; returns those revoked now.
    async fn revoke_user_sessions(
        &self,
        user_id: &str,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<Vec<SessionRecord>, StoreError>;
    /// Stores the pending code of a line, replacing an earlier one.
    async fn put_verification(&self, v: &LineVerification) -> Result<(), StoreError>;
    /// The pending code of a line (11 digits).
    async fn find_verification(&self, line: &str) -> Result<Option<LineVerification>, StoreError>;
    /// Spends one try atomically; the tries left after it, or `None` when none were left.
    async fn spend_verification_attempt(&self, line: &str) -> Result<Option<i32>, StoreError>;
    /// Forgets the pending code of a line.
    async fn delete_verification(&self, line: &str) -> Result<(), StoreError>;
    /// Deletes sessions and refresh tokens that expired before `before` (docs/api.md §7.1: purged
    /// daily after 7 days), and line codes expired by then; returns (sessions, tokens) deleted.
    async fn purge_expired(&self, before: DateTime<Utc>) -> Result<(u64, u64), StoreError>;
}

/// The store for `db`'s dialect.
pub fn for_db(db: &Db) -> Arc<dyn UserStore> {
    match db {
        Db::Postgres(p) => Arc::new(postgres::PgStore::new(p.clone())),
        Db::Sqlite(p) => Arc::new(sqlite::SqliteStore::new(p.clone())),
    }
}
