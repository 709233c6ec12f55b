//! The SQL of [`super::BillStore`], written once with `$N` placeholders (sqlx binds them by
//! number on both databases) and expanded per dialect by `impl_bill_store!`. The invoking
//! module brings the dialect's names into scope with
//! `use phonebill_common::db::dialect::<dialect>::*` (`DB`, `DbRow`, `Pool`, `bt`/`gt`/`gto`,
//! `bu`/`gu`, `bj`/`gj`) and provides a `pool` field, a store method `read(f)` that runs a
//! read-only query (on a replica where there is one). The history sink (the one write path) is
//! per dialect, in `postgres.rs` and `sqlite.rs`: how a batch becomes rows is where the two
//! databases differ most in cost.

/// The columns of `bill_inquiry_history`, in the order every statement of the store lists and
/// binds them (a macro, so `concat!` builds whole statements from it at compile time).
macro_rules! inquiry_columns {
    () => {
        "request_id, user_id, customer_id, line_number, inquiry_month, status, result_code, \
         result_message, result_summary, bill_info, from_cache, requested_at, processed_at"
    };
}

/// How a batch's inquiry row meets a row already stored (both dialects' sinks): a final status
/// is never replaced by PROCESSING (a retried batch or a late PROCESSING row must not undo a
/// completion), and a row is only ever finished by its own user (request ids are 32 random bits
/// a day, so two users' inquiries can collide, and one must never carry the other's bill).
macro_rules! inquiry_on_conflict {
    () => {
        " ON CONFLICT (request_id) DO UPDATE SET status = excluded.status, \
         result_code = excluded.result_code, result_message = excluded.result_message, \
         result_summary = excluded.result_summary, bill_info = excluded.bill_info, \
         processed_at = excluded.processed_at \
         WHERE excluded.status <> 'PROCESSING' \
         AND bill_inquiry_history.user_id = excluded.user_id"
    };
}

/// The columns of `kos_call_log` the store writes and reads, in binding order.
macro_rules! call_columns {
    () => {
        "request_id, endpoint, result_code, outcome, duration_ms, called_at, event_id"
    };
}

/// A retried batch logs each KOS call once.
macro_rules! call_on_conflict {
    () => {
        " ON CONFLICT (event_id) DO NOTHING"
    };
}

macro_rules! impl_bill_store {
    ($store:ty) => {
        const INQUIRY_COLS: &str = inquiry_columns!();

        fn inquiry_from_row(row: &DbRow) -> Result<InquiryRow, StoreError> {
            let status: String = row.try_get("status")?;
            Ok(InquiryRow {
                request_id: row.try_get("request_id")?,
                user_id: row.try_get("user_id")?,
                customer_id: row.try_get("customer_id")?,
                line_number: row.try_get::<String, _>("line_number")?.trim().to_owned(),
                inquiry_month: row.try_get::<String, _>("inquiry_month")?.trim().to_owned(),
                status: super::status_of(&status)?,
                result_code: row.try_get("result_code")?,
                result_message: row.try_get("result_message")?,
                result_summary: row.try_get("result_summary")?,
                bill_info: gj(row, "bill_info")?,
                from_cache: row.try_get("from_cache")?,
                requested_at: gt(row, "requested_at")?,
                processed_at: gto(row, "processed_at")?,
            })
        }

        fn kos_call_from_row(row: &DbRow) -> Result<KosCallEvent, StoreError> {
            Ok(KosCallEvent {
                event_id: gu(row, "event_id")?,
                request_id: row.try_get("request_id")?,
                endpoint: row.try_get("endpoint")?,
                result_code: row.try_get("result_code")?,
                outcome: row.try_get("outcome")?,
                duration_ms: row.try_get("duration_ms")?,
                called_at: gt(row, "called_at")?,
            })
        }

        fn push_filter(qb: &mut sqlx::QueryBuilder<'_, DB>, f: &HistoryFilter) {
            qb.push(" WHERE line_number IN (");
            let mut sep = qb.separated(", ");
            for l in &f.lines {
                sep.push_bind(l.clone());
            }
            qb.push(")");
            if let Some(from) = f.from {
                qb.push(" AND requested_at >= ").push_bind(bt(from));
            }
            if let Some(until) = f.until {
                qb.push(" AND requested_at < ").push_bind(bt(until));
            }
            if let Some(s) = f.status {
                qb.push(" AND status = ").push_bind(s.as_str());
            }
        }

        async fn list_history_on(
            pool: &Pool,
            filter: &HistoryFilter,
        ) -> Result<(Vec<InquiryRow>, u64), StoreError> {
            let mut count =
                sqlx::QueryBuilder::<DB>::new("SELECT COUNT(*) AS n FROM bill_inquiry_history");
            push_filter(&mut count, filter);
            let total: i64 = count.build().fetch_one(pool).await?.try_get("n")?;
            let mut page = sqlx::QueryBuilder::<DB>::new(format!(
                "SELECT {INQUIRY_COLS} FROM bill_inquiry_history"
            ));
            push_filter(&mut page, filter);
            page.push(" ORDER BY requested_at DESC, request_id DESC LIMIT ")
                .push_bind(i64::from(filter.size))
                .push(" OFFSET ")
                .push_bind(i64::try_from(filter.offset()).unwrap_or(i64::MAX));
            let rows = page.build().fetch_all(pool).await?;
            let items = rows
                .iter()
                .map(inquiry_from_row)
                .collect::<Result<Vec<_>, _>>()?;
            Ok((items, u64::try_from(total).unwrap_or(0)))
        }

        #[async_trait::async_trait]
        impl BillStore for $store {
            async fn find_inquiry(
                &self,
                request_id: &str,
            ) -> Result<Option<InquiryRow>, StoreError> {
                let row = sqlx::query(&format!(
                    "SELECT {INQUIRY_COLS} FROM bill_inquiry_history WHERE request_id = $1"
                ))
                .bind(request_id)
                .fetch_optional(&self.pool)
                .await?;
                row.as_ref().map(inquiry_from_row).transpose()
            }

            async fn list_history(
                &self,
                filter: &HistoryFilter,
            ) -> Result<(Vec<InquiryRow>, u64), StoreError> {
                if filter.lines.is_empty() {
                    return Ok((Vec::new(), 0));
                }
                // Read-only: the replica when there is a usable one (docs/architecture.md
                // "Read replica").
                self.read(|pool| async move { list_history_on(&pool, filter).await })
                    .await
            }

            async fn list_kos_calls(
                &self,
                request_id: &str,
            ) -> Result<Vec<KosCallEvent>, StoreError> {
                let rows = sqlx::query(concat!(
                    "SELECT ",
                    call_columns!(),
                    " FROM kos_call_log WHERE request_id = $1 ORDER BY id"
                ))
                .bind(request_id)
                .fetch_all(&self.pool)
                .await?;
                rows.iter().map(kos_call_from_row).collect()
            }

            async fn purge_bill_info(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
                let done = sqlx::query(
                    "UPDATE bill_inquiry_history SET bill_info = NULL \
                     WHERE bill_info IS NOT NULL AND requested_at < $1",
                )
                .bind(bt(before))
                .execute(&self.pool)
                .await?;
                Ok(done.rows_affected())
            }
        }
    };
}

pub(crate) use {
    call_columns, call_on_conflict, impl_bill_store, inquiry_columns, inquiry_on_conflict,
};
