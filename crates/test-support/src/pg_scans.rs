//! Whether a store's own lookups on PostgreSQL are answered from an index, read from the
//! server's scan statistics (`pg_stat_user_tables`) around the store's real calls: sqlx binds a
//! Rust `String` as `text`, and a `char(n)` key compared with `text` is cast column-side, so a
//! lookup that looks indexed in the schema runs as a sequential scan (issue 22, token refresh).
//!
//! A backend reports its statistics when it exits, so the calls run on a pool of one
//! connection that is closed before the counts are read.

use std::time::Duration;

use phonebill_common::config::DatabaseUrl;
use phonebill_common::db::Db;
use sqlx::{Connection, PgConnection};

/// Tables' scan counts before the calls under test.
pub struct ScanCheck {
    url: String,
    before: Vec<(String, (i64, i64))>,
}

/// `(sequential, index)` scans of `table` so far.
async fn counts(url: &str, table: &str) -> (i64, i64) {
    let mut conn = PgConnection::connect(url)
        .await
        .expect("statistics connection");
    let row: (i64, i64) = sqlx::query_as(
        "SELECT COALESCE(seq_scan, 0), COALESCE(idx_scan, 0) FROM pg_stat_user_tables \
         WHERE relname = $1",
    )
    .bind(table)
    .fetch_one(&mut conn)
    .await
    .unwrap_or_else(|e| panic!("pg_stat_user_tables for {table}: {e}"));
    let _ = conn.close().await;
    row
}

async fn all(url: &str, tables: &[&str]) -> Vec<(String, (i64, i64))> {
    let mut out = Vec::new();
    for t in tables {
        out.push(((*t).to_owned(), counts(url, t).await));
    }
    out
}

impl ScanCheck {
    /// Records the counts of `tables` on the database of `url`, once the backends closed
    /// before have reported (the counts hold still for 300 ms, 5 s at most).
    pub async fn start(url: &str, tables: &[&str]) -> Self {
        let mut last = all(url, tables).await;
        for _ in 0..16 {
            tokio::time::sleep(Duration::from_millis(300)).await;
            let now = all(url, tables).await;
            if now == last {
                break;
            }
            last = now;
        }
        Self {
            url: url.to_owned(),
            before: last,
        }
    }

    /// A pool of one connection for the calls under test; hand it to [`Self::finish`].
    pub fn pool(&self) -> Db {
        Db::connect_lazy_url(&DatabaseUrl::new(self.url.clone()), 1, "scan-check").expect("pool")
    }

    /// Closes `pool` and panics unless, for each `(table, n)` of `expected`, the calls made on
    /// it scanned the table's indexes at least `n` times and the table itself sequentially not
    /// once.
    pub async fn finish(self, pool: Db, expected: &[(&str, i64)]) {
        pool.close().await;
        for (table, min) in expected {
            let (seq0, idx0) = self
                .before
                .iter()
                .find(|(t, _)| t == table)
                .map(|(_, c)| *c)
                .unwrap_or_else(|| panic!("{table} was not counted at start"));
            // The closed backend's report arrives shortly after the close.
            let mut now = counts(&self.url, table).await;
            for _ in 0..50 {
                if now.1 >= idx0 + min {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
                now = counts(&self.url, table).await;
            }
            let (seq, idx) = (now.0 - seq0, now.1 - idx0);
            assert!(
                seq == 0 && idx >= *min,
                "{table}: {seq} sequential scan(s) and {idx} index scan(s) for calls that make \
                 {min} lookup(s) by key"
            );
        }
    }
}

/// Rows enough that the planner takes an index whenever one can answer the lookup.
pub const ROWS: i32 = 2_000;
