//! KOS time per request, read from the services' `kos_call_log` tables (docs/api.md §7.2/7.3) after the
//! servers have stopped and flushed them: `request_id → sum(duration_ms)`. The journey subtracts
//! it from the response time of the same request to get the time our services add.

use std::collections::HashMap;

use sqlx::Connection;

/// Sums of `duration_ms` per `request_id` of one database (`postgres://…` or `sqlite://…`).
pub async fn kos_ms_by_request(url: &str) -> anyhow::Result<HashMap<String, i64>> {
    let rows: Vec<(String, i64)> = if url.starts_with("postgres") {
        let mut c = sqlx::PgConnection::connect(url).await?;
        sqlx::query_as(
            "SELECT request_id, SUM(duration_ms)::BIGINT FROM kos_call_log GROUP BY request_id",
        )
        .fetch_all(&mut c)
        .await?
    } else {
        let mut c = sqlx::SqliteConnection::connect(url).await?;
        sqlx::query_as("SELECT request_id, SUM(duration_ms) FROM kos_call_log GROUP BY request_id")
            .fetch_all(&mut c)
            .await?
    };
    Ok(rows.into_iter().collect())
}
