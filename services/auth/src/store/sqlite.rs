//! The SQLite adapter of [`super::UserStore`]: ids and instants are TEXT. Instants are written
//! as RFC 3339 UTC with fixed-width microseconds (`2025-09-14T01:32:11.482000Z`), so comparing
//! the text compares the instants.

use chrono::{DateTime, Utc};
use phonebill_common::db::dialect::sqlite::*;
use sqlx::Row;
use uuid::Uuid;

use super::{
    LineVerification, NewUser, RefreshRecord, SessionRecord, StoreError, UserRecord, UserStore,
};

/// The store on an SQLite pool.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: Pool,
}

impl SqliteStore {
    /// A store on `pool`.
    pub fn new(pool: Pool) -> Self {
        Self { pool }
    }
}

impl_user_store!(SqliteStore);

impl SqliteStore {
    /// [`UserStore::rotate_refresh`] as one write transaction: SQLite has no data-modifying
    /// `WITH`, and statements in process cost no round trips.
    async fn rotate(
        &self,
        old_hash: &str,
        new_hash: &str,
        s: &SessionRecord,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        // The conditional UPDATE is the arbiter: of two concurrent rotations of one
        // token exactly one sees `used_at IS NULL` and affects a row.
        let marked = sqlx::query(
            "UPDATE auth_refresh_tokens SET used_at = $2, replaced_by = $3 \
             WHERE token_hash = $1 AND used_at IS NULL",
        )
        .bind(old_hash)
        .bind(bt(now))
        .bind(new_hash)
        .execute(&mut *tx)
        .await?;
        if marked.rows_affected() != 1 {
            tx.rollback().await?;
            return Ok(false);
        }
        let live = sqlx::query(
            "UPDATE auth_sessions SET last_refreshed_at = $2 \
             WHERE session_id = $1 AND revoked_at IS NULL",
        )
        .bind(bu(s.session_id))
        .bind(bt(now))
        .execute(&mut *tx)
        .await?;
        if live.rows_affected() != 1 {
            tx.rollback().await?;
            return Ok(false);
        }
        insert_refresh_token(&mut tx, new_hash, s, now).await?;
        tx.commit().await?;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by the load harness: concurrent registrations on the SQLite file failed with
    /// `500` ("database is locked") when another registration committed between the
    /// duplicate checks and the insert.
    #[tokio::test]
    async fn concurrent_registrations_all_succeed() {
        use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};
        use std::str::FromStr;
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}", dir.path().join("auth.db").display());
        // The production options (common::db): WAL, busy timeout, pool of 8.
        let opts = SqliteConnectOptions::from_str(&url)
            .expect("url")
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .busy_timeout(std::time::Duration::from_secs(5));
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(opts)
            .await
            .expect("pool");
        crate::SQLITE_MIGRATIONS
            .run(&pool)
            .await
            .expect("migrations");
        let store = SqliteStore::new(pool);
        let now = Utc::now();
        let results = futures::future::join_all((0..64).map(|i| {
            let store = store.clone();
            async move {
                let user = NewUser {
                    user_id: format!("user{i:03}"),
                    customer_id: format!("C{i:03}"),
                    line_number: format!("0106{i:07}"),
                    user_name: "부하".to_owned(),
                    password_hash: "$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaA".to_owned(),
                    permissions: vec!["BILL_INQUIRY".to_owned(), "PRODUCT_CHANGE".to_owned()],
                    granted_by: None,
                };
                store.create_user(&user, now).await
            }
        }))
        .await;
        let failed: Vec<String> = results
            .iter()
            .filter_map(|r| r.as_ref().err().map(|e| e.to_string()))
            .collect();
        assert!(
            failed.is_empty(),
            "{} of 64 failed: {:?}",
            failed.len(),
            failed.first()
        );
    }
}
