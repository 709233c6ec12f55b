//! The SQL of [`super::ChangeStore`], written once over both dialects and expanded per dialect
//! by `impl_change_store!` (docs/architecture.md decision 1). The invoking module brings in
//! `phonebill_common::db::dialect::<dialect>::*` (`DB`, `DbRow`, `Pool`, `bt`/`bu` to bind an
//! instant / an id, `gt`/`gto` to read instants, `FOR_UPDATE_SKIP_LOCKED`) and gives the store
//! struct a `pool` field and a `read(f)` method that runs a read-only query (on the read replica
//! where there is one). Placeholders are `$N` in both dialects: sqlx binds them by number on
//! SQLite too.

macro_rules! impl_change_store {
    ($store:ty) => {
        const COLUMNS: &str = "request_id, user_id, customer_id, line_number, \
            current_product_code, current_product_name, target_product_code, \
            target_product_name, process_status, result_code, result_message, failure_reason, \
            kos_order_number, effective_date, attempts, next_attempt_at, requested_at, \
            processed_at, updated_at";

        fn record(row: &DbRow) -> Result<ChangeRecord, StoreError> {
            let status: String = row.try_get("process_status")?;
            Ok(ChangeRecord {
                request_id: row.try_get("request_id")?,
                user_id: row.try_get("user_id")?,
                customer_id: row.try_get("customer_id")?,
                line_number: row.try_get::<String, _>("line_number")?.trim().to_owned(),
                current_product_code: row.try_get("current_product_code")?,
                current_product_name: row.try_get("current_product_name")?,
                target_product_code: row.try_get("target_product_code")?,
                target_product_name: row.try_get("target_product_name")?,
                process_status: ProcessStatus::parse(&status)
                    .ok_or_else(|| StoreError::Corrupt(format!("process_status {status}")))?,
                result_code: row.try_get("result_code")?,
                result_message: row.try_get("result_message")?,
                failure_reason: row.try_get("failure_reason")?,
                kos_order_number: row.try_get("kos_order_number")?,
                effective_date: row.try_get("effective_date")?,
                attempts: row.try_get("attempts")?,
                next_attempt_at: gto(row, "next_attempt_at")?,
                requested_at: gt(row, "requested_at")?,
                processed_at: gto(row, "processed_at")?,
                updated_at: gt(row, "updated_at")?,
            })
        }

        fn key_row(row: &DbRow) -> Result<KeyRow, StoreError> {
            Ok(KeyRow {
                request_hash: row.try_get::<String, _>("request_hash")?.trim().to_owned(),
                request_id: row.try_get("request_id")?,
                status_code: row.try_get("status_code")?,
                // `serde_json::Value` is `jsonb` on PostgreSQL and JSON text on SQLite to sqlx.
                response_body: row.try_get("response_body")?,
                created_at: gt(row, "created_at")?,
                expires_at: gt(row, "expires_at")?,
            })
        }

        /// The history filter: the caller's lines and the optional `[from, until)` window.
        fn push_history_filter<'a>(q: &mut QueryBuilder<'a, DB>, f: &'a HistoryFilter) {
            q.push(" WHERE line_number IN (");
            let mut sep = q.separated(", ");
            for l in &f.lines {
                sep.push_bind(l);
            }
            q.push(")");
            if let Some(from) = f.from {
                q.push(" AND requested_at >= ").push_bind(bt(from));
            }
            if let Some(until) = f.until {
                q.push(" AND requested_at < ").push_bind(bt(until));
            }
        }

        /// A page of history and its total, on `pool` (the replica or the primary).
        async fn history_on(
            pool: &Pool,
            f: &HistoryFilter,
        ) -> Result<(Vec<ChangeRecord>, i64), StoreError> {
            let mut count = QueryBuilder::new("SELECT COUNT(*) FROM product_change_history");
            push_history_filter(&mut count, f);
            let total: i64 = count.build_query_scalar().fetch_one(pool).await?;
            let mut q =
                QueryBuilder::new(format!("SELECT {COLUMNS} FROM product_change_history"));
            push_history_filter(&mut q, f);
            q.push(" ORDER BY requested_at DESC, request_id DESC LIMIT ")
                .push_bind(f.limit)
                .push(" OFFSET ")
                .push_bind(f.offset);
            let rows = q.build().fetch_all(pool).await?;
            Ok((rows.iter().map(record).collect::<Result<_, _>>()?, total))
        }

        #[async_trait::async_trait]
        impl ChangeStore for $store {
            async fn insert_change(&self, r: &ChangeRecord) -> Result<(), StoreError> {
                sqlx::query(&format!(
                    "INSERT INTO product_change_history ({COLUMNS}) VALUES \
                     ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18,$19)"
                ))
                .bind(&r.request_id)
                .bind(&r.user_id)
                .bind(&r.customer_id)
                .bind(&r.line_number)
                .bind(&r.current_product_code)
                .bind(&r.current_product_name)
                .bind(&r.target_product_code)
                .bind(&r.target_product_name)
                .bind(r.process_status.as_str())
                .bind(&r.result_code)
                .bind(&r.result_message)
                .bind(&r.failure_reason)
                .bind(&r.kos_order_number)
                .bind(&r.effective_date)
                .bind(r.attempts)
                .bind(r.next_attempt_at.map(bt))
                .bind(bt(r.requested_at))
                .bind(r.processed_at.map(bt))
                .bind(bt(r.updated_at))
                .execute(&self.pool)
                .await
                .map_err(map_insert_error)?;
                Ok(())
            }

            async fn finish_change(
                &self,
                request_id: &str,
                f: &Finish,
            ) -> Result<bool, StoreError> {
                let done = sqlx::query(
                    "UPDATE product_change_history SET process_status = $2, result_code = $3, \
                     result_message = $4, failure_reason = $5, kos_order_number = $6, \
                     effective_date = $7, processed_at = $8, updated_at = $8, \
                     next_attempt_at = NULL, claimed_by = NULL, claimed_until = NULL \
                     WHERE request_id = $1 AND process_status IN ('PENDING','PROCESSING')",
                )
                .bind(request_id)
                .bind(f.status.as_str())
                .bind(&f.result_code)
                .bind(&f.result_message)
                .bind(&f.failure_reason)
                .bind(&f.kos_order_number)
                .bind(&f.effective_date)
                .bind(bt(f.processed_at))
                .execute(&self.pool)
                .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn record_attempt(
                &self,
                request_id: &str,
                attempts: i32,
                next_attempt_at: DateTime<Utc>,
                now: DateTime<Utc>,
            ) -> Result<(), StoreError> {
                sqlx::query(
                    "UPDATE product_change_history SET attempts = $2, next_attempt_at = $3, \
                     updated_at = $4 \
                     WHERE request_id = $1 AND process_status IN ('PENDING','PROCESSING')",
                )
                .bind(request_id)
                .bind(attempts)
                .bind(bt(next_attempt_at))
                .bind(bt(now))
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn get_change(
                &self,
                request_id: &str,
            ) -> Result<Option<ChangeRecord>, StoreError> {
                let row = sqlx::query(&format!(
                    "SELECT {COLUMNS} FROM product_change_history WHERE request_id = $1"
                ))
                .bind(request_id)
                .fetch_optional(&self.pool)
                .await?;
                row.as_ref().map(record).transpose()
            }

            async fn claim_due(
                &self,
                now: DateTime<Utc>,
                owner: &str,
                lease_until: DateTime<Utc>,
                limit: i64,
            ) -> Result<Vec<ChangeRecord>, StoreError> {
                // One statement. PostgreSQL: the sub-select locks the rows it picks and skips
                // rows another replica is claiming right now instead of waiting; a row that
                // replica claimed and committed is re-checked against its newest version (lease
                // in the future), so it is not returned here. SQLite runs writers one at a time,
                // so the sub-select and the update see the same rows and a second replica's
                // claim finds them leased.
                let rows = sqlx::query(&format!(
                    "UPDATE product_change_history SET claimed_by = $2, claimed_until = $3 \
                     WHERE request_id IN (SELECT request_id FROM product_change_history \
                       WHERE process_status IN ('PENDING','PROCESSING') \
                       AND (next_attempt_at IS NULL OR next_attempt_at <= $1) \
                       AND (claimed_until IS NULL OR claimed_until <= $1) \
                       ORDER BY requested_at LIMIT $4{FOR_UPDATE_SKIP_LOCKED}) \
                     RETURNING {COLUMNS}"
                ))
                .bind(bt(now))
                .bind(owner)
                .bind(bt(lease_until))
                .bind(limit)
                .fetch_all(&self.pool)
                .await?;
                let mut out = rows.iter().map(record).collect::<Result<Vec<_>, _>>()?;
                out.sort_by_key(|r| r.requested_at);
                Ok(out)
            }

            async fn release_claim(&self, request_id: &str, owner: &str) -> Result<(), StoreError> {
                sqlx::query(
                    "UPDATE product_change_history SET claimed_by = NULL, claimed_until = NULL \
                     WHERE request_id = $1 AND claimed_by = $2",
                )
                .bind(request_id)
                .bind(owner)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn history(
                &self,
                f: &HistoryFilter,
            ) -> Result<(Vec<ChangeRecord>, i64), StoreError> {
                // Read-only: the replica when there is a usable one (docs/architecture.md
                // "Read replica").
                self.read(|pool| async move { history_on(&pool, f).await })
                    .await
            }

            async fn claim_key(
                &self,
                user_id: &str,
                key: &str,
                row: &KeyRow,
            ) -> Result<Claim, StoreError> {
                let mut tx = self.pool.begin().await?;
                // An expired key is forgotten first, so it can be claimed again.
                sqlx::query(
                    "DELETE FROM idempotency_keys \
                     WHERE user_id = $1 AND idem_key = $2 AND expires_at <= $3",
                )
                .bind(user_id)
                .bind(key)
                .bind(bt(row.created_at))
                .execute(&mut *tx)
                .await?;
                let inserted = sqlx::query(
                    "INSERT INTO idempotency_keys (user_id, idem_key, request_hash, request_id, \
                     created_at, expires_at) VALUES ($1,$2,$3,$4,$5,$6) \
                     ON CONFLICT (user_id, idem_key) DO NOTHING",
                )
                .bind(user_id)
                .bind(key)
                .bind(&row.request_hash)
                .bind(&row.request_id)
                .bind(bt(row.created_at))
                .bind(bt(row.expires_at))
                .execute(&mut *tx)
                .await?;
                let claim = if inserted.rows_affected() == 1 {
                    Claim::Claimed
                } else {
                    let existing = sqlx::query(
                        "SELECT request_hash, request_id, status_code, response_body, \
                         created_at, expires_at \
                         FROM idempotency_keys WHERE user_id = $1 AND idem_key = $2",
                    )
                    .bind(user_id)
                    .bind(key)
                    .fetch_one(&mut *tx)
                    .await?;
                    Claim::Existing(key_row(&existing)?)
                };
                tx.commit().await?;
                Ok(claim)
            }

            async fn complete_key(
                &self,
                user_id: &str,
                key: &str,
                status: i32,
                body: &serde_json::Value,
            ) -> Result<(), StoreError> {
                sqlx::query(
                    "UPDATE idempotency_keys SET status_code = $3, response_body = $4 \
                     WHERE user_id = $1 AND idem_key = $2",
                )
                .bind(user_id)
                .bind(key)
                .bind(status)
                .bind(body)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn release_key(&self, user_id: &str, key: &str) -> Result<(), StoreError> {
                sqlx::query("DELETE FROM idempotency_keys WHERE user_id = $1 AND idem_key = $2")
                    .bind(user_id)
                    .bind(key)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn map_client_id(
                &self,
                user_id: &str,
                client_id: &str,
                request_id: &str,
                now: DateTime<Utc>,
            ) -> Result<(), StoreError> {
                sqlx::query(
                    "INSERT INTO product_change_client_ids (user_id, client_request_id, \
                     request_id, created_at) VALUES ($1, $2, $3, $4) \
                     ON CONFLICT (user_id, client_request_id) DO NOTHING",
                )
                .bind(user_id)
                .bind(client_id)
                .bind(request_id)
                .bind(bt(now))
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn find_client_id(
                &self,
                user_id: &str,
                client_id: &str,
            ) -> Result<Option<String>, StoreError> {
                Ok(sqlx::query_scalar(
                    "SELECT request_id FROM product_change_client_ids \
                     WHERE user_id = $1 AND client_request_id = $2",
                )
                .bind(user_id)
                .bind(client_id)
                .fetch_optional(&self.pool)
                .await?)
            }

            async fn release_abandoned_key(
                &self,
                user_id: &str,
                key: &str,
                created_at: DateTime<Utc>,
            ) -> Result<bool, StoreError> {
                let r = sqlx::query(
                    "DELETE FROM idempotency_keys WHERE user_id = $1 AND idem_key = $2 \
                     AND created_at = $3 AND status_code IS NULL",
                )
                .bind(user_id)
                .bind(key)
                .bind(bt(created_at))
                .execute(&self.pool)
                .await?;
                Ok(r.rows_affected() == 1)
            }

            async fn purge_keys(&self, now: DateTime<Utc>) -> Result<u64, StoreError> {
                let r = sqlx::query("DELETE FROM idempotency_keys WHERE expires_at <= $1")
                    .bind(bt(now))
                    .execute(&self.pool)
                    .await?;
                Ok(r.rows_affected())
            }

            async fn write_calls(&self, batch: &[KosCallEvent]) -> Result<(), StoreError> {
                if batch.is_empty() {
                    return Ok(());
                }
                let mut q = QueryBuilder::<DB>::new(
                    "INSERT INTO kos_call_log (event_id, request_id, endpoint, result_code, \
                     outcome, duration_ms, called_at) ",
                );
                q.push_values(batch, |mut b, e| {
                    b.push_bind(bu(e.event_id))
                        .push_bind(&e.request_id)
                        .push_bind(&e.endpoint)
                        .push_bind(&e.result_code)
                        .push_bind(&e.outcome)
                        .push_bind(e.duration_ms)
                        .push_bind(bt(e.called_at));
                });
                q.push(" ON CONFLICT (event_id) DO NOTHING");
                q.build().execute(&self.pool).await?;
                Ok(())
            }

            async fn count_calls(&self, request_id: &str) -> Result<i64, StoreError> {
                Ok(
                    sqlx::query_scalar("SELECT COUNT(*) FROM kos_call_log WHERE request_id = $1")
                        .bind(request_id)
                        .fetch_one(&self.pool)
                        .await?,
                )
            }
        }
    };
}

pub(super) use impl_change_store;
