//! SQLite adapter of [`KosStore`] (JSON stored as TEXT, timestamps as RFC 3339 UTC text).

use sqlx::{QueryBuilder, Sqlite, SqlitePool};

use super::{
    BATCH, ChangeRecord, KosStore, LINE_COLUMNS, LineRow, PRODUCT_COLUMNS, ProductRow,
    RecordOutcome, StoreError, StoredChange,
};
use crate::domain::{Line, Product};

/// The SQLite store.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    /// A store over `pool` (migrated by the caller).
    pub fn new(pool: SqlitePool) -> Self {
        Self { pool }
    }
}

/// Multi-row `INSERT … ON CONFLICT DO NOTHING` of lines.
fn insert_lines(chunk: &[Line]) -> QueryBuilder<'_, Sqlite> {
    let mut qb = QueryBuilder::new(format!("INSERT INTO kos_customers ({LINE_COLUMNS}) "));
    qb.push_values(chunk, |mut b, l| {
        b.push_bind(&l.line_number)
            .push_bind(&l.customer_id)
            .push_bind(&l.customer_name)
            .push_bind(&l.operator_code)
            .push_bind(&l.current_product_code)
            .push_bind(&l.initial_product_code)
            .push_bind(&l.line_status)
            .push_bind(l.contract_date);
    });
    qb.push(" ON CONFLICT DO NOTHING");
    qb
}

#[async_trait::async_trait]
impl KosStore for SqliteStore {
    async fn seed(&self, products: &[Product], lines: &[Line]) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        let mut qb: QueryBuilder<'_, Sqlite> =
            QueryBuilder::new(format!("INSERT INTO kos_products ({PRODUCT_COLUMNS}) "));
        qb.push_values(products, |mut b, p| {
            b.push_bind(&p.code)
                .push_bind(&p.name)
                .push_bind(p.monthly_fee)
                .push_bind(&p.data_allowance)
                .push_bind(&p.voice_allowance)
                .push_bind(&p.sms_allowance)
                .push_bind(&p.operator_code)
                .push_bind(&p.network_type)
                .push_bind(&p.status)
                .push_bind(&p.description);
        });
        qb.push(" ON CONFLICT DO NOTHING");
        qb.build().execute(&mut *tx).await?;
        insert_lines(lines).build().execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn products(&self) -> Result<Vec<Product>, StoreError> {
        let rows: Vec<ProductRow> =
            sqlx::query_as(&format!("SELECT {PRODUCT_COLUMNS} FROM kos_products"))
                .fetch_all(&self.pool)
                .await?;
        Ok(rows.into_iter().map(Product::from).collect())
    }

    async fn line(&self, line_number: &str) -> Result<Option<Line>, StoreError> {
        let row: Option<LineRow> = sqlx::query_as(&format!(
            "SELECT {LINE_COLUMNS} FROM kos_customers WHERE line_number = ?"
        ))
        .bind(line_number)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(Line::from))
    }

    async fn change_request(&self, request_id: &str) -> Result<Option<StoredChange>, StoreError> {
        let row: Option<(String, String)> = sqlx::query_as(
            "SELECT request_hash, response FROM kos_change_requests WHERE request_id = ?",
        )
        .bind(request_id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|(request_hash, response)| {
            Ok(StoredChange {
                request_hash,
                response: serde_json::from_str(&response)?,
            })
        })
        .transpose()
    }

    async fn record_change(&self, rec: ChangeRecord) -> Result<RecordOutcome, StoreError> {
        let mut tx = self.pool.begin().await?;
        let inserted = sqlx::query(
            "INSERT INTO kos_change_requests (request_id, request_hash, response) VALUES (?, ?, ?) \
             ON CONFLICT (request_id) DO NOTHING",
        )
        .bind(&rec.request_id)
        .bind(&rec.request_hash)
        .bind(rec.response.to_string())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if inserted == 0 {
            tx.rollback().await?;
            return Ok(match self.change_request(&rec.request_id).await? {
                Some(existing) => RecordOutcome::Existing(existing),
                None => RecordOutcome::Stale,
            });
        }
        if let Some(u) = &rec.update {
            let updated = sqlx::query(
                "UPDATE kos_customers SET current_product_code = ?, updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') \
                 WHERE line_number = ? AND current_product_code = ?",
            )
            .bind(&u.to)
            .bind(&u.line_number)
            .bind(&u.from)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if updated == 0 {
                tx.rollback().await?;
                return Ok(RecordOutcome::Stale);
            }
        }
        tx.commit().await?;
        Ok(RecordOutcome::Recorded)
    }

    async fn create_lines(&self, lines: &[Line]) -> Result<u64, StoreError> {
        let mut tx = self.pool.begin().await?;
        let mut created = 0;
        for chunk in lines.chunks(BATCH) {
            created += insert_lines(chunk)
                .build()
                .execute(&mut *tx)
                .await?
                .rows_affected();
        }
        tx.commit().await?;
        Ok(created)
    }
}
