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
