//! The differences between the two SQL dialects, in one place, so that each service writes its
//! SQL once (docs/architecture.md decision 1).
//!
//! A store's SQL body is written once, with PostgreSQL's `$N` placeholders: sqlx binds `$N` on
//! SQLite by its number too (SQLite accepts `$NNN` parameter names; sqlx maps each to argument
//! N), so no rewriting is needed (tested below with placeholders out of order and repeated).
//! What does differ is how instants, ids and JSON are stored: PostgreSQL has `timestamptz`,
//! `uuid` and `jsonb`; SQLite keeps them as TEXT. Each module below gives the same names for
//! the same jobs, so a store body written against `use dialect::postgres::*` compiles against
//! `use dialect::sqlite::*`:
//!
//! | name | job |
//! |---|---|
//! | `DB`, `DbRow`, `Pool` | the sqlx database, row and pool types |
//! | `BEGIN_WRITE` | how a transaction that reads before it writes begins |
//! | `bt(DateTime<Utc>)`, `bu(Uuid)`, `bj(Option<&String>)` | how an instant, an id and JSON text are bound |
//! | `gt`, `gto`, `gu`, `gj` | how an instant, an optional instant, an id and JSON text are read from a row |
//! | `FOR_UPDATE_SKIP_LOCKED` | the end of a sub-select picking rows to claim: lock them, skip rows being claimed |
//!
//! Fixed-width keys (line numbers, token hashes) are `char(n)` columns, and an equality lookup
//! binds them as `col = CAST($N AS bpchar)`, written out in the SQL, both dialects alike. sqlx
//! binds a Rust string as `text`, PostgreSQL has no `bpchar = text` operator, and so with a
//! bare `$N` it casts the *column* to text and the column's index no longer answers the lookup:
//! a sequential scan per refresh (docs/benchmarks.md, "Issue 22: token refresh"). An
//! `IN ($1, $2, …)` list needs no cast: PostgreSQL resolves it to the column's type. SQLite
//! reads the cast as TEXT affinity, a no-op. The columns stay `char(n)`: changing their type
//! would break the statements that running pods of the previous release have prepared ("cached
//! plan must not change result type") while a release is under way.
//!
//! A stored value that does not parse (a SQLite TEXT column holding something this code never
//! writes) is a [`sqlx::Error::ColumnDecode`] naming the column.

use sqlx::error::BoxDynError;

fn decode_error(col: &str, source: impl Into<BoxDynError>) -> sqlx::Error {
    sqlx::Error::ColumnDecode {
        index: col.to_owned(),
        source: source.into(),
    }
}

/// PostgreSQL: `timestamptz`, `uuid` and `jsonb` columns, bound and read as themselves.
pub mod postgres {
    use chrono::{DateTime, Utc};
    use serde_json::value::RawValue;
    use sqlx::Row;
    use sqlx::types::Json;
    use uuid::Uuid;

    /// The sqlx database.
    pub type DB = sqlx::Postgres;
    /// A result row.
    pub type DbRow = sqlx::postgres::PgRow;
    /// A pool.
    pub type Pool = sqlx::PgPool;

    /// Row locks and unique constraints arbitrate concurrent writers: a plain BEGIN.
    pub const BEGIN_WRITE: &str = "BEGIN";

    /// An instant, bound as `timestamptz`.
    pub fn bt(t: DateTime<Utc>) -> DateTime<Utc> {
        t
    }

    /// An id, bound as `uuid`.
    pub fn bu(u: Uuid) -> Uuid {
        u
    }

    /// JSON text bound as `jsonb`, raw: PostgreSQL parses it once and nothing is re-serialised
    /// here. Text that is not JSON (never written by the services) is bound as NULL.
    pub fn bj(v: Option<&String>) -> Option<Json<Box<RawValue>>> {
        v.and_then(|s| RawValue::from_string(s.clone()).ok())
            .map(Json)
    }

    /// A `timestamptz` column.
    pub fn gt(row: &DbRow, col: &str) -> Result<DateTime<Utc>, sqlx::Error> {
        row.try_get(col)
    }

    /// A nullable `timestamptz` column.
    pub fn gto(row: &DbRow, col: &str) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
        row.try_get(col)
    }

    /// A `uuid` column.
    pub fn gu(row: &DbRow, col: &str) -> Result<Uuid, sqlx::Error> {
        row.try_get(col)
    }

    /// A nullable `jsonb` column, as its JSON text.
    pub fn gj(row: &DbRow, col: &str) -> Result<Option<String>, sqlx::Error> {
        Ok(row
            .try_get::<Option<Json<Box<RawValue>>>, _>(col)?
            .map(|j| j.0.get().to_owned()))
    }

    /// Ends the sub-select that picks rows to claim (product-change reconciliation): the picked
    /// rows are locked, and rows another transaction is claiming right now are skipped instead
    /// of waited for, so concurrent claimers never pick the same row.
    pub const FOR_UPDATE_SKIP_LOCKED: &str = " FOR UPDATE SKIP LOCKED";
}

/// SQLite: instants as RFC 3339 UTC text with fixed-width microseconds
/// (`2025-09-14T01:32:11.482000Z`, so comparing the text compares the instants), ids and JSON
/// as text.
pub mod sqlite {
    use chrono::{DateTime, SecondsFormat, Utc};
    use sqlx::Row;
    use uuid::Uuid;

    use super::decode_error;

    /// The sqlx database.
    pub type DB = sqlx::Sqlite;
    /// A result row.
    pub type DbRow = sqlx::sqlite::SqliteRow;
    /// A pool.
    pub type Pool = sqlx::SqlitePool;

    /// A transaction that reads before it writes takes SQLite's write lock at BEGIN, so it
    /// waits (busy timeout) for another writer instead of failing when its snapshot went stale.
    pub const BEGIN_WRITE: &str = "BEGIN IMMEDIATE";

    /// An instant, bound as fixed-width RFC 3339 UTC text.
    pub fn bt(t: DateTime<Utc>) -> String {
        t.to_rfc3339_opts(SecondsFormat::Micros, true)
    }

    /// An id, bound as its hyphenated text.
    pub fn bu(u: Uuid) -> String {
        u.to_string()
    }

    /// JSON text, bound as text.
    pub fn bj(v: Option<&String>) -> Option<String> {
        v.cloned()
    }

    fn parse_t(col: &str, s: &str) -> Result<DateTime<Utc>, sqlx::Error> {
        DateTime::parse_from_rfc3339(s)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|e| decode_error(col, e))
    }

    /// An instant column.
    pub fn gt(row: &DbRow, col: &str) -> Result<DateTime<Utc>, sqlx::Error> {
        let s: String = row.try_get(col)?;
        parse_t(col, &s)
    }

    /// A nullable instant column.
    pub fn gto(row: &DbRow, col: &str) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
        let s: Option<String> = row.try_get(col)?;
        s.map(|s| parse_t(col, &s)).transpose()
    }

    /// An id column.
    pub fn gu(row: &DbRow, col: &str) -> Result<Uuid, sqlx::Error> {
        let s: String = row.try_get(col)?;
        Uuid::parse_str(&s).map_err(|e| decode_error(col, e))
    }

    /// A nullable JSON text column.
    pub fn gj(row: &DbRow, col: &str) -> Result<Option<String>, sqlx::Error> {
        row.try_get(col)
    }

    /// How often the checkpointer of a [`writer_pool`] copies the WAL into the database file.
    const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_millis(250);
    /// WAL frames (4 KiB pages) past which the checkpointer waits for the writer to finish
    /// the WAL off (`RESTART`): a passive checkpoint never catches a writer that never stops, and
    /// the WAL would grow without bound.
    const RESTART_FRAMES: i64 = 4096;

    /// A pool of one connection on the same file as `pool`, for a batch writer (the history
    /// writer's sink), and a background checkpointer on `pool`. Every request waits for the
    /// commit of its batch, so what a commit does is what every request waits for, and two
    /// things came off that path (profile in docs/benchmarks.md "Issue 20"):
    /// - the page cache: SQLite drops a connection's cache whenever another connection changed
    ///   the file, so a writer that took whichever pooled connection was free re-read the index
    ///   pages at each commit; one connection of its own keeps them (SQLite runs one writer at a
    ///   time anyway);
    /// - the checkpoint: by default the connection whose commit crosses 1,000 WAL pages copies
    ///   the WAL into the database and fsyncs it inside that commit (a quarter of the writer's
    ///   time, and its only disk waits). The writer's automatic checkpoint is off; a task copies
    ///   the WAL every 250 ms on another connection, concurrently with the writer (`PASSIVE`),
    ///   and lets the WAL start over (`RESTART`) once it holds more than 16 MiB.
    ///
    /// Durability is unchanged: a commit is in the WAL either way. An in-memory database is
    /// private to its connection, and without a runtime there is nobody to checkpoint: both keep
    /// `pool` as it is.
    pub fn writer_pool(pool: &Pool) -> Pool {
        let opts = pool.connect_options();
        let Ok(rt) = tokio::runtime::Handle::try_current() else {
            return pool.clone();
        };
        if opts.get_filename() == std::path::Path::new(":memory:") {
            return pool.clone();
        }
        let writer = sqlx::sqlite::SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(0)
            .acquire_timeout(pool.options().get_acquire_timeout())
            .connect_lazy_with((*opts).clone().pragma("wal_autocheckpoint", "0"));
        rt.spawn(checkpoint_loop(pool.clone()));
        writer
    }

    /// The checkpointer of [`writer_pool`]; ends when the pool is closed.
    async fn checkpoint_loop(pool: Pool) {
        let mut tick = tokio::time::interval(CHECKPOINT_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if pool.is_closed() {
                return;
            }
            // (busy, frames in the WAL, frames copied)
            let done = sqlx::query_as::<_, (i64, i64, i64)>("PRAGMA wal_checkpoint(PASSIVE)")
                .fetch_one(&pool)
                .await;
            match done {
                Ok((_, frames, _)) if frames > RESTART_FRAMES => {
                    if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(RESTART)")
                        .execute(&pool)
                        .await
                    {
                        tracing::debug!(error = %e, "WAL restart checkpoint did not run");
                    }
                }
                Ok(_) => {}
                // The database away is the history writer's to report (spill, readiness).
                Err(e) => tracing::debug!(error = %e, "WAL checkpoint did not run"),
            }
        }
    }

    /// Nothing: SQLite has no row locks, and it runs writers one at a time, so a one-statement
    /// `UPDATE … WHERE id IN (SELECT …)` claim already sees and takes a consistent set of rows.
    pub const FOR_UPDATE_SKIP_LOCKED: &str = "";
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};
    use sqlx::Row;
    use sqlx::sqlite::SqlitePoolOptions;
    use uuid::Uuid;

    use super::sqlite;

    /// `$N` binds by number on SQLite: out of order and repeated placeholders get the right
    /// arguments (the reason the stores need no `$N` → `?N` rewriting).
    #[tokio::test]
    async fn sqlite_binds_dollar_n_by_number() {
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect("sqlite::memory:")
            .await
            .expect("in-memory SQLite");
        let row = sqlx::query("SELECT $2 AS second, $1 AS first, $2 || $1 AS both")
            .bind("one")
            .bind("two")
            .fetch_one(&pool)
            .await
            .expect("query");
        assert_eq!(row.get::<String, _>("second"), "two");
        assert_eq!(row.get::<String, _>("first"), "one");
        assert_eq!(row.get::<String, _>("both"), "twoone");

        sqlx::query("CREATE TABLE t (id TEXT PRIMARY KEY, v TEXT NOT NULL)")
            .execute(&pool)
            .await
            .expect("create");
        sqlx::query("INSERT INTO t (v, id) VALUES ($2, $1)")
            .bind("k")
            .bind("value")
            .execute(&pool)
            .await
            .expect("insert");
        let v: String = sqlx::query_scalar("SELECT v FROM t WHERE id = $1")
            .bind("k")
            .fetch_one(&pool)
            .await
            .expect("select");
        assert_eq!(v, "value");
    }

    /// Instants and ids round-trip through SQLite's TEXT, text order is time order, and a
    /// value this code never writes is a decode error naming the column.
    #[tokio::test]
    async fn sqlite_text_encodings_round_trip_and_order() {
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect("sqlite::memory:")
            .await
            .expect("in-memory SQLite");
        let early = Utc
            .with_ymd_and_hms(2025, 9, 14, 1, 32, 11)
            .single()
            .expect("instant");
        let late = early + chrono::Duration::microseconds(1);
        let id = Uuid::new_v4();
        let row =
            sqlx::query("SELECT $1 AS t, $2 AS u, $3 < $1 AS ordered, NULL AS none, 'x' AS bad")
                .bind(sqlite::bt(late))
                .bind(sqlite::bu(id))
                .bind(sqlite::bt(early))
                .fetch_one(&pool)
                .await
                .expect("query");
        assert_eq!(sqlite::gt(&row, "t").expect("instant"), late);
        assert_eq!(sqlite::gu(&row, "u").expect("id"), id);
        assert!(row.get::<bool, _>("ordered"));
        assert_eq!(sqlite::gto(&row, "none").expect("null"), None);
        match sqlite::gt(&row, "bad") {
            Err(sqlx::Error::ColumnDecode { index, .. }) => assert_eq!(index, "bad"),
            other => panic!("expected a decode error naming the column, got {other:?}"),
        }
    }
}
