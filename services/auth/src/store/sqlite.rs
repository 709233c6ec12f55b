//! The SQLite adapter of [`super::UserStore`]: ids and instants are TEXT. Instants are written
//! as RFC 3339 UTC with fixed-width microseconds (`2025-09-14T01:32:11.482000Z`), so comparing
//! the text compares the instants.

use std::borrow::Cow;

use chrono::{DateTime, SecondsFormat, Utc};
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, SqlitePool};
use uuid::Uuid;

use super::{
    LineVerification, NewUser, RefreshRecord, SessionRecord, StoreError, UserRecord, UserStore,
};

type DbRow = SqliteRow;

/// The store on an SQLite pool.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    /// A store on `pool`.
    pub fn new(pool: SqlitePool) -> Self {
        Self { pool }
    }
}

/// A transaction that reads before it writes takes SQLite's write lock at BEGIN, so it waits
/// (busy timeout) for another writer instead of failing when its snapshot went stale.
const BEGIN_WRITE: &str = "BEGIN IMMEDIATE";

/// `$n` placeholders become SQLite's numbered `?n` (same binding order).
fn sql(s: &str) -> Cow<'_, str> {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '$' && chars.peek().is_some_and(char::is_ascii_digit) {
            out.push('?');
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

fn bt(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

fn bu(u: Uuid) -> String {
    u.to_string()
}

fn parse_t(col: &str, s: &str) -> Result<DateTime<Utc>, StoreError> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| StoreError::Corrupt(format!("{col}: {e}")))
}

fn gt(row: &DbRow, col: &str) -> Result<DateTime<Utc>, StoreError> {
    let s: String = row.try_get(col)?;
    parse_t(col, &s)
}

fn gto(row: &DbRow, col: &str) -> Result<Option<DateTime<Utc>>, StoreError> {
    let s: Option<String> = row.try_get(col)?;
    s.map(|s| parse_t(col, &s)).transpose()
}

fn gu(row: &DbRow, col: &str) -> Result<Uuid, StoreError> {
    let s: String = row.try_get(col)?;
    Uuid::parse_str(&s).map_err(|e| StoreError::Corrupt(format!("{col}: {e}")))
}

impl_user_store!(SqliteStore);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_and_times() {
        assert_eq!(sql("a = $1 AND b = $12"), "a = ?1 AND b = ?12");
        let t = DateTime::parse_from_rfc3339("2025-09-14T01:32:11.482Z")
            .expect("valid")
            .with_timezone(&Utc);
        assert_eq!(bt(t), "2025-09-14T01:32:11.482000Z");
        assert_eq!(parse_t("x", &bt(t)).expect("parse"), t);
    }

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
