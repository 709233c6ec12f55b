//! The history database stops while a real `bill-inquiry-service` process writes history
//! (docs/api.md §3.2 step 5, docs/architecture.md decision 7). The database is a private PostgreSQL cluster owned by
//! the test (the machine's shared server must never be stopped).
//!
//! Inquiries keep coming before, during and after the outage (`pg_ctl stop -m fast`, about 3 s
//! down, `pg_ctl start`): every one must succeed (history is written asynchronously; the
//! writer retries with backoff), readiness reports the database down meanwhile, and after the
//! restart the tables hold exactly one `bill_inquiry_history` row per inquiry and one
//! `kos_call_log` row per KOS call the mock received: zero lost, zero duplicated.

use std::sync::Arc;
use std::time::{Duration, Instant};

use phonebill_system_tests::{InquiryLoad, LoadTotals, PgCluster, Stack, bounded, metric_sum};
use sqlx::Connection;

async fn count(url: &str, table: &str) -> Option<i64> {
    let mut conn = sqlx::PgConnection::connect(url).await.ok()?;
    let n = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}"))
        .fetch_one(&mut conn)
        .await
        .ok();
    let _ = conn.close().await;
    n
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn database_down_during_history_writes_loses_no_rows() {
    bounded(Duration::from_secs(120), async {
        let stack = Stack::new();
        let (pg, (auth, kos)) = tokio::join!(PgCluster::start(), async {
            tokio::join!(stack.auth(&[]), stack.kos(&[]))
        });
        {
            let mut admin = sqlx::PgConnection::connect(&pg.url("postgres"))
                .await
                .expect("private postgres");
            sqlx::query("CREATE DATABASE bill")
                .execute(&mut admin)
                .await
                .expect("create database");
            let _ = admin.close().await;
        }
        let db_url = pg.url("bill");
        let bill = stack
            .bill(
                &auth,
                &kos,
                &[
                    ("DATABASE_URL", db_url.as_str()),
                    ("HISTORY_MAX_BACKOFF_MS", "500"),
                    // Expiring entries keep KOS calls (and kos_call_log rows) coming.
                    ("CACHE_L1_TTL_SECONDS", "1"),
                    ("CACHE_TTL_BILL_SECONDS", "1"),
                ],
            )
            .await
            .expect("bill-inquiry-service ready");
        let token = Arc::new(stack.token(&auth).await);

        // Paced: the point is history rows across the outage, not throughput.
        let load = InquiryLoad::start(
            &stack.http,
            bill.url("/api/v1/bills/inquiry"),
            token.clone(),
            "01012345678",
            4,
            Duration::from_millis(10),
        );

        tokio::time::sleep(Duration::from_millis(1500)).await;
        let before_stop = load.sent();
        pg.pg_stop("fast").await.expect("pg_ctl stop -m fast");
        let stopped = Instant::now();
        let deadline = Instant::now() + Duration::from_secs(5);
        let readiness_in_outage = loop {
            let r = stack
                .http
                .get(&bill.url("/actuator/health/readiness"), None)
                .await;
            if r.status == 503 {
                break r.body["components"]["db"]["status"].clone();
            }
            assert!(
                Instant::now() < deadline,
                "readiness never reported the database down"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        tokio::time::sleep(Duration::from_millis(3000).saturating_sub(stopped.elapsed())).await;
        let during = load.sent() - before_stop;
        pg.pg_start().await.expect("pg_ctl start");
        let outage = stopped.elapsed();
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let LoadTotals {
            sent: n,
            failed,
            max,
        } = load.finish().await;
        assert_eq!(
            failed, 0,
            "inquiries must not fail while the database is down"
        );

        // Every KOS bill call the mock received must have its kos_call_log row.
        let kos_calls = metric_sum(
            &kos.metrics(&stack.http).await,
            "kos_mock_requests_total",
            &[("endpoint", "bill-inquiry")],
        ) as i64;
        let flushed = Instant::now();
        let (rows, calls) = loop {
            let rows = count(&db_url, "bill_inquiry_history").await;
            let calls = count(&db_url, "kos_call_log").await;
            if rows == Some(n as i64) && calls == Some(kos_calls) {
                break (rows.unwrap_or(0), calls.unwrap_or(0));
            }
            assert!(
                flushed.elapsed() < Duration::from_secs(20),
                "history not complete: {rows:?} inquiry rows for {n} inquiries, \
                 {calls:?} kos_call_log rows for {kos_calls} KOS calls"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        };
        let flush_ms = flushed.elapsed().as_millis();
        // Nothing more arrives later (no duplicates from retried batches).
        tokio::time::sleep(Duration::from_millis(1000)).await;
        assert_eq!(count(&db_url, "bill_inquiry_history").await, Some(rows));
        assert_eq!(count(&db_url, "kos_call_log").await, Some(calls));
        let text = bill.metrics(&stack.http).await;
        let retries = metric_sum(&text, "history_write_total", &[("result", "retry")]);
        println!(
            "FIGURES db-outage inquiries={n} during_outage={during} failed={failed} max_ms={} \
             outage_ms={} readiness_db_in_outage={readiness_in_outage} history_rows={rows} \
             kos_calls={kos_calls} kos_call_log_rows={calls} lost=0 write_retries={retries} \
             rows_complete_after_stop_load_ms={flush_ms}",
            max.as_millis(),
            outage.as_millis()
        );
        assert!(
            during > 20,
            "inquiries were made during the outage ({during})"
        );
    })
    .await;
}
