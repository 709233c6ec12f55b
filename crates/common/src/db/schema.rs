//! Which of a service's migrations a database lacks: the versions recorded (successfully) in
//! sqlx's `_sqlx_migrations` table against the migrator embedded in the binary.
//!
//! A service that does not migrate itself (`DATABASE_MIGRATE_ON_START=false`, the chart) uses
//! this for readiness: 503 naming the missing migrations instead of failing queries or a crash
//! loop, and ready by itself once `<binary> migrate` has run. Versions in the table that the
//! binary does not know (a newer release migrated first, during a rolling upgrade) are not a
//! problem: migrations only add (docs/architecture.md "Migrations as their own step").

use std::collections::HashSet;

use sqlx::migrate::Migrator;

use super::{Db, DbError, Migrations};

/// `0003_reconcile_claims` for version 2 described "reconcile claims" (the file's name).
pub fn migration_name(version: i64, description: &str) -> String {
    format!("{version:04}_{}", description.replace(' ', "_"))
}

/// The names of the migrations of `m` (this pool's dialect) not applied successfully, oldest
/// first. Empty when the schema is current.
pub async fn pending(db: &Db, m: &Migrations) -> Result<Vec<String>, DbError> {
    let (migrator, applied) = match db {
        Db::Postgres(p) => {
            // `to_regclass` follows the search path, as the migrator does; NULL when absent.
            let exists: bool =
                sqlx::query_scalar("SELECT to_regclass('_sqlx_migrations') IS NOT NULL")
                    .fetch_one(p)
                    .await?;
            let applied: Vec<i64> = if exists {
                sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success")
                    .fetch_all(p)
                    .await?
            } else {
                Vec::new()
            };
            (m.postgres, applied)
        }
        Db::Sqlite(p) => {
            let exists: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'",
            )
            .fetch_one(p)
            .await?;
            let applied: Vec<i64> = if exists > 0 {
                sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success")
                    .fetch_all(p)
                    .await?
            } else {
                Vec::new()
            };
            (m.sqlite, applied)
        }
    };
    Ok(missing(migrator, &applied.into_iter().collect()))
}

fn missing(migrator: &Migrator, applied: &HashSet<i64>) -> Vec<String> {
    migrator
        .iter()
        .filter(|mig| !mig.migration_type.is_down_migration() && !applied.contains(&mig.version))
        .map(|mig| migration_name(mig.version, &mig.description))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_look_like_the_files() {
        assert_eq!(
            migration_name(3, "reconcile claims"),
            "0003_reconcile_claims"
        );
        assert_eq!(migration_name(12, "init"), "0012_init");
    }
}
