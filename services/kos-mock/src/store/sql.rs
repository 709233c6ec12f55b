//! The SQL of [`super::KosStore`], written once with `$N` placeholders and expanded per dialect
//! by `impl_kos_store!` (docs/architecture.md decision 1). The invoking module brings the
//! dialect into scope with `use phonebill_common::db::dialect::<d>::*` (`DB`, `DbRow`, `bt`,
//! `bj`, `gj`: how the database, rows, instants and JSON differ) and gives the store type, which
//! must have a `pool: Pool` field.

macro_rules! impl_kos_store {
    ($store:ty) => {
        /// Multi-row `INSERT … ON CONFLICT DO NOTHING` of lines.
        fn insert_lines(chunk: &[Line]) -> QueryBuilder<'_, DB> {
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

        /// Multi-row `INSERT … ON CONFLICT DO NOTHING` of products.
        fn insert_products(products: &[Product]) -> QueryBuilder<'_, DB> {
            let mut qb =
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
            qb
        }

        fn change_from_row(row: &DbRow) -> Result<StoredChange, StoreError> {
            // `response` is NOT NULL in both schemas; `gj` reads it as JSON text either way.
            let response = gj(row, "response")?.unwrap_or_default();
            Ok(StoredChange {
                // `char(64)` on PostgreSQL: a 64-hex hash is never padded, but trim defensively.
                request_hash: row.try_get::<String, _>("request_hash")?.trim().to_owned(),
                response: serde_json::from_str(&response)?,
            })
        }

        #[async_trait::async_trait]
        impl KosStore for $store {
            async fn seed(&self, products: &[Product], lines: &[Line]) -> Result<(), StoreError> {
                let mut tx = self.pool.begin().await?;
                // A multi-row VALUES needs at least one row.
                if !products.is_empty() {
                    insert_products(products).build().execute(&mut *tx).await?;
                }
                for chunk in lines.chunks(BATCH) {
                    insert_lines(chunk).build().execute(&mut *tx).await?;
                }
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
                    "SELECT {LINE_COLUMNS} FROM kos_customers \
                     WHERE line_number = CAST($1 AS bpchar)"
                ))
                .bind(line_number)
                .fetch_optional(&self.pool)
                .await?;
                Ok(row.map(Line::from))
            }

            async fn change_request(
                &self,
                request_id: &str,
            ) -> Result<Option<StoredChange>, StoreError> {
                sqlx::query(
                    "SELECT request_hash, response FROM kos_change_requests WHERE request_id = $1",
                )
                .bind(request_id)
                .fetch_optional(&self.pool)
                .await?
                .as_ref()
                .map(change_from_row)
                .transpose()
            }

            async fn record_change(&self, rec: ChangeRecord) -> Result<RecordOutcome, StoreError> {
                let response = rec.response.to_string();
                let mut tx = self.pool.begin().await?;
                let inserted = sqlx::query(
                    "INSERT INTO kos_change_requests (request_id, request_hash, response) \
                     VALUES ($1, $2, $3) ON CONFLICT (request_id) DO NOTHING",
                )
                .bind(&rec.request_id)
                .bind(&rec.request_hash)
                .bind(bj(Some(&response)))
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
                        "UPDATE kos_customers SET current_product_code = $1, updated_at = $2 \
                         WHERE line_number = CAST($3 AS bpchar) AND current_product_code = $4",
                    )
                    .bind(&u.to)
                    .bind(bt(chrono::Utc::now()))
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
    };
}
