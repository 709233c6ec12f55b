//! The PostgreSQL adapter of [`super::UserStore`]: `timestamptz` and `uuid` columns.

use chrono::{DateTime, Utc};
use phonebill_common::db::dialect::postgres::*;
use sqlx::Row;
use uuid::Uuid;

use super::{
    LineVerification, NewUser, RefreshRecord, SessionRecord, StoreError, UserRecord, UserStore,
};

/// The store on a PostgreSQL pool.
#[derive(Debug, Clone)]
pub struct PgStore {
    pool: Pool,
}

impl PgStore {
    /// A store on `pool`.
    pub fn new(pool: Pool) -> Self {
        Self { pool }
    }
}

impl_user_store!(PgStore);

impl PgStore {
    /// [`UserStore::rotate_refresh`] as one statement, one round trip and one commit instead of
    /// the five of a transaction (docs/benchmarks.md, "Issue 22: token refresh"). The
    /// conditional UPDATE is the arbiter: of two concurrent rotations of one token, the second
    /// waits for the first's row lock, then finds `used_at` set and marks nothing, so nothing
    /// after it in the chain runs. A session revoked meanwhile touches no row either: the old
    /// token is then spent with no successor, and the caller treats the refusal as reuse and
    /// revokes the session, as it does when the transaction rolls back.
    async fn rotate(
        &self,
        old_hash: &str,
        new_hash: &str,
        s: &SessionRecord,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let inserted = sqlx::query(
            "WITH marked AS ( \
                 UPDATE auth_refresh_tokens SET used_at = $2, replaced_by = $3 \
                 WHERE token_hash = CAST($1 AS bpchar) AND used_at IS NULL \
                 RETURNING session_id), \
             live AS ( \
                 UPDATE auth_sessions SET last_refreshed_at = $2 \
                 WHERE session_id = (SELECT session_id FROM marked) AND session_id = $4 \
                   AND revoked_at IS NULL \
                 RETURNING session_id) \
             INSERT INTO auth_refresh_tokens (token_hash, session_id, issued_at, expires_at) \
             SELECT $3, session_id, $2, $5 FROM live",
        )
        .bind(old_hash)
        .bind(bt(now))
        .bind(new_hash)
        .bind(bu(s.session_id))
        .bind(bt(s.expires_at))
        .execute(&self.pool)
        .await?;
        Ok(inserted.rows_affected() == 1)
    }
}
