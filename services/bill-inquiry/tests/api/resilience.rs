//! KOS slow / failing / breaker open (docs/api.md §3.3, 3.4), the history database briefly
//! unavailable, and graceful shutdown flushing history (docs/architecture.md decision 7).

use std::time::Duration;

use phonebill_bill_inquiry::service::BillResult;
use phonebill_common::cache::{CacheKey, Invalidate};
use phonebill_common::contract::bill_cache;
use phonebill_test_support::{Backend, backend_tests};
use serde_json::json;

use crate::helpers::*;

backend_tests!(
    slow_kos_answers_202_then_polling_returns_the_bill,
    |backend| async move {
        let app = spawn_with(backend, &[("INQUIRY_SYNC_BUDGET_MS", "300")]).await;
        let kos = app.kos.as_ref().unwrap();
        kos.fault(
            json!({ "endpoint": "bill-inquiry", "mode": "slow", "count": 1, "delayMs": 1200 }),
        )
        .await;
        let token = app.token(&MVNO001);
        let month = month_back(1);
        let (s, h, v) = app
            .inquire(
                &token,
                json!({ "lineNumber": MVNO001.line, "inquiryMonth": month }),
            )
            .await;
        assert_eq!(s, 202, "{v}");
        assert_eq!(v["resultCode"], "0100");
        assert_eq!(v["data"]["procStatus"], "PROCESSING");
        assert_eq!(v["data"]["resultMessage"], "요금 조회가 처리 중입니다");
        let rid = v["data"]["requestId"].as_str().unwrap().to_owned();
        assert_eq!(
            h["location"],
            format!("/api/v1/bills/inquiry/{rid}").as_str()
        );
        assert_eq!(h["retry-after"], "2");
        // Poll until SUCCESS.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        let done = loop {
            let (s, _, v) = app
                .get(&token, &format!("/api/v1/bills/inquiry/{rid}"))
                .await;
            assert_eq!(s, 200, "{v}");
            if v["data"]["procStatus"] == "SUCCESS" {
                break v;
            }
            assert_eq!(v["data"]["procStatus"], "PROCESSING");
            assert!(tokio::time::Instant::now() < deadline, "never completed");
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        assert_eq!(done["resultCode"], "0000");
        assert_eq!(
            done["data"]["billInfo"],
            expected_bill(MVNO001.line, &month)
        );
        // The background completion filled the cache and finished the history row.
        let (_, _, v) = app
            .inquire(
                &token,
                json!({ "lineNumber": MVNO001.line, "inquiryMonth": month }),
            )
            .await;
        assert_eq!(v["data"]["cached"], true);
        let hist = app
            .history_until(
                &token,
                "?status=COMPLETED",
                |v| v["data"]["pagination"]["totalItems"] == 2,
                Duration::from_secs(2),
            )
            .await;
        assert!(
            hist["data"]["items"]
                .as_array()
                .unwrap()
                .iter()
                .any(|i| i["requestId"] == rid.as_str())
        );
    }
);

backend_tests!(
    outage_serves_stale_copy_then_503_when_breaker_open,
    |backend| async move {
        let app = spawn_with(
            backend,
            &[
                ("BREAKER_FAILURE_THRESHOLD", "2"),
                ("BREAKER_OPEN_SECONDS", "30"),
            ],
        )
        .await;
        let kos = app.kos.as_ref().unwrap();
        let token = app.token(&MVNO001);
        let month = month_back(3);
        let (s, _, fresh) = app
            .inquire(
                &token,
                json!({ "lineNumber": MVNO001.line, "inquiryMonth": month }),
            )
            .await;
        assert_eq!(s, 200, "{fresh}");
        // The fresh value expires (here: dropped); the stale copy stays.
        let key: CacheKey<BillResult> = bill_cache::key(MVNO001.line, &month);
        app.cache.invalidate(&key, Invalidate::Fresh).await;
        kos.fault(json!({ "endpoint": "bill-inquiry", "mode": "unavailable", "count": 10 }))
            .await;
        for _ in 0..3 {
            let (s, h, v) = app
                .inquire(
                    &token,
                    json!({ "lineNumber": MVNO001.line, "inquiryMonth": month }),
                )
                .await;
            assert_eq!(s, 200, "{v}");
            assert_eq!(v["data"]["stale"], true);
            assert!(v["data"]["cachedAt"].as_str().unwrap().ends_with("+09:00"));
            assert_eq!(h["warning"], "110 - \"stale\"");
            assert_eq!(v["data"]["billInfo"], fresh["data"]["billInfo"]);
        }
        // Breaker is open now (2 failures); a month with no copy → 503 with the remaining open time.
        let calls = kos.bill_calls();
        let (s, h, v) = app
            .inquire(
                &token,
                json!({ "lineNumber": MVNO001.line, "inquiryMonth": month_back(4) }),
            )
            .await;
        assert_eq!(s, 503, "{v}");
        assert_eq!(v["error"]["code"], "KOS_UNAVAILABLE");
        let ra: u64 = h["retry-after"].to_str().unwrap().parse().unwrap();
        assert!((1..=30).contains(&ra), "{ra}");
        assert_eq!(kos.bill_calls(), calls, "open breaker sends nothing");
    }
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kos_system_error_without_copy_is_502() {
    let app = spawn_app(Backend::Sqlite).await;
    app.kos
        .as_ref()
        .unwrap()
        .fault(json!({ "endpoint": "bill-inquiry", "mode": "error", "count": 1 }))
        .await;
    let (s, _, v) = app
        .inquire(&app.token(&MVNO003), json!({ "lineNumber": MVNO003.line }))
        .await;
    assert_eq!(s, 502, "{v}");
    assert_eq!(v["error"]["code"], "KOS_ERROR");
    assert_eq!(v["message"], "요금 조회 중 오류가 발생했습니다");
}

// Rows written while the database refuses connections appear once it is back.
backend_tests!(history_survives_a_database_outage, |backend| async move {
    let app = spawn_app(backend).await;
    let token = app.token(&MVNO002);
    let retries_before = retry_count(&app);
    let outage = Outage::start(&app).await;
    let mut ids = Vec::new();
    for b in 0..3 {
        let (s, _, v) = app
            .inquire(
                &token,
                json!({ "lineNumber": MVNO002.line, "inquiryMonth": month_back(b) }),
            )
            .await;
        assert_eq!(s, 200, "inquiries do not wait for history: {v}");
        ids.push(v["data"]["requestId"].as_str().unwrap().to_owned());
    }
    // The writer has hit the outage at least once.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while retry_count(&app) == retries_before {
        assert!(
            tokio::time::Instant::now() < deadline,
            "writer never saw the outage"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    outage.end(&app).await;
    let v = app
        .history_until(
            &token,
            "",
            |v| v["data"]["pagination"]["totalItems"] == 3,
            Duration::from_secs(10),
        )
        .await;
    for id in &ids {
        assert!(
            v["data"]["items"]
                .as_array()
                .unwrap()
                .iter()
                .any(|i| i["requestId"] == id.as_str())
        );
        let calls = app.store.list_kos_calls(id).await.unwrap();
        assert_eq!(calls.len(), 1, "one KOS call row per miss");
    }
});

fn retry_count(app: &TestApp) -> u64 {
    app.metrics
        .render()
        .lines()
        .find(|l| l.starts_with("history_write_total") && l.contains("result=\"retry\""))
        .and_then(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .unwrap_or(0.0) as u64
}

/// A database outage: PostgreSQL refuses connections to the app's database and its sessions are
/// terminated; SQLite is held under an exclusive lock by another connection.
enum Outage {
    Pg(String),
    Sqlite(sqlx::SqliteConnection),
}

impl Outage {
    async fn start(app: &TestApp) -> Self {
        use sqlx::Connection;
        match app.db.backend() {
            Backend::Postgres => {
                let name = app
                    .db
                    .url
                    .rsplit('/')
                    .next()
                    .unwrap()
                    .split('?')
                    .next()
                    .unwrap()
                    .to_owned();
                let mut admin =
                    sqlx::PgConnection::connect(&phonebill_test_support::postgres_admin_url())
                        .await
                        .unwrap();
                sqlx::query(&format!(
                    "ALTER DATABASE \"{name}\" ALLOW_CONNECTIONS false"
                ))
                .execute(&mut admin)
                .await
                .unwrap();
                sqlx::query(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1",
                )
                .bind(&name)
                .execute(&mut admin)
                .await
                .unwrap();
                Outage::Pg(name)
            }
            Backend::Sqlite => {
                let mut c = sqlx::SqliteConnection::connect(&app.db.url).await.unwrap();
                sqlx::query("BEGIN EXCLUSIVE")
                    .execute(&mut c)
                    .await
                    .unwrap();
                Outage::Sqlite(c)
            }
        }
    }

    async fn end(self, _app: &TestApp) {
        use sqlx::Connection;
        match self {
            Outage::Pg(name) => {
                let mut admin =
                    sqlx::PgConnection::connect(&phonebill_test_support::postgres_admin_url())
                        .await
                        .unwrap();
                sqlx::query(&format!("ALTER DATABASE \"{name}\" ALLOW_CONNECTIONS true"))
                    .execute(&mut admin)
                    .await
                    .unwrap();
            }
            Outage::Sqlite(mut c) => {
                sqlx::query("ROLLBACK").execute(&mut c).await.unwrap();
                c.close().await.unwrap();
            }
        }
    }
}

backend_tests!(
    graceful_shutdown_flushes_pending_history,
    |backend| async move {
        // A long linger would have kept the rows in the writer's batch until shutdown; an awaited
        // row is written at once, and shutdown still flushes what is queued.
        let mut app = spawn_with(
            backend,
            &[
                ("HISTORY_LINGER_MS", "3000"),
                ("HISTORY_BATCH_SIZE", "1000"),
            ],
        )
        .await;
        let token = app.token(&MVNO003);
        for b in 0..2 {
            let (s, _, v) = app
                .inquire(
                    &token,
                    json!({ "lineNumber": MVNO003.line, "inquiryMonth": month_back(b) }),
                )
                .await;
            assert_eq!(s, 200, "{v}");
        }
        // Group commit: the answers waited for their rows, the 3 s linger notwithstanding.
        assert_eq!(
            app.count("SELECT COUNT(*) FROM bill_inquiry_history").await,
            2,
            "committed before the answer"
        );
        app.stop().await;
        assert_eq!(
            app.count("SELECT COUNT(*) FROM bill_inquiry_history").await,
            2
        );
        assert_eq!(app.count("SELECT COUNT(*) FROM kos_call_log").await, 2);
    }
);
