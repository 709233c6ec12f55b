//! The store contract: every public method of [`ChangeStore`] run against PostgreSQL and SQLite
//! with the same body and the same expected results, so the one SQL body (`store/sql.rs`) is
//! checked on both dialects, including instants round-tripping at microsecond precision, the
//! in-flight and duplicate-id refusals, and the claim lease.

use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use phonebill_common::db::Db;
use phonebill_product_change::domain::{ChangeRecord, Finish, ProcessStatus};
use phonebill_product_change::store::postgres::PgStore;
use phonebill_product_change::store::sqlite::SqliteStore;
use phonebill_product_change::store::{
    Claim, DynStore, HistoryFilter, KeyRow, KosCallEvent, StoreError,
};
use phonebill_test_support::{Backend, TestDb, backend_tests};

use crate::helpers::processing_record;
use serde_json::json;

/// A migrated store on a fresh database of `backend` (the database lives as long as the guard).
async fn store(backend: Backend) -> (DynStore, TestDb) {
    let db = TestDb::new(backend).await;
    let pool = Db::connect_lazy(&db.config(), "store-contract").expect("pool");
    pool.migrate(&phonebill_product_change::MIGRATIONS)
        .await
        .expect("migrations");
    (store_on(pool), db)
}

/// The store of `pool`'s dialect.
fn store_on(pool: Db) -> DynStore {
    match pool {
        Db::Postgres(p) => Arc::new(PgStore::new(p)),
        Db::Sqlite(p) => Arc::new(SqliteStore::new(p)),
    }
}

/// 2025-09-14T01:00:00Z plus `secs` seconds and 123 456 µs: a sub-millisecond part, so a
/// dialect that kept less than microseconds would fail the round trips.
fn at(secs: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 9, 14, 1, 0, 0)
        .single()
        .expect("instant")
        + chrono::Duration::seconds(secs)
        + chrono::Duration::microseconds(123_456)
}

fn record(id: &str, line: &str, requested: i64) -> ChangeRecord {
    ChangeRecord {
        user_id: "mvno001".into(),
        customer_id: "CU202401001".into(),
        current_product_name: "5G 스탠다드 플랜".into(),
        target_product_name: "5G 프리미엄 플랜".into(),
        next_attempt_at: Some(at(requested + 30)),
        ..processing_record(id, line, at(requested))
    }
}

fn completed(when: i64) -> Finish {
    Finish {
        status: ProcessStatus::Completed,
        result_code: "0000".into(),
        result_message: "정상 처리되었습니다".into(),
        failure_reason: None,
        kos_order_number: Some("KOS202509141035042".into()),
        effective_date: Some("20250914".into()),
        processed_at: at(when),
    }
}

backend_tests!(
    change_records_round_trip_and_finish_once,
    |backend| async move {
        let (s, _db) = store(backend).await;
        let r = record("PCR_20250914_0000000A", "01012345678", 0);
        s.insert_change(&r).await.expect("insert");
        assert_eq!(
            s.get_change(&r.request_id).await.expect("get"),
            Some(r.clone())
        );
        assert_eq!(s.get_change("PCR_NOPE").await.expect("get"), None);

        // One in-flight change per line; a request id once.
        let mut same_line = record("PCR_20250914_0000000B", "01012345678", 1);
        match s.insert_change(&same_line).await {
            Err(StoreError::InFlight) => {}
            other => panic!("second in-flight change of a line: {other:?}"),
        }
        let dup = record("PCR_20250914_0000000A", "01098765432", 1);
        match s.insert_change(&dup).await {
            Err(StoreError::DuplicateRequestId) => {}
            other => panic!("duplicate request id: {other:?}"),
        }

        s.record_attempt(&r.request_id, 3, at(90), at(60))
            .await
            .expect("attempt");
        let now = s
            .get_change(&r.request_id)
            .await
            .expect("get")
            .expect("row");
        assert_eq!(now.attempts, 3);
        assert_eq!(now.next_attempt_at, Some(at(90)));
        assert_eq!(now.updated_at, at(60));

        assert!(
            s.finish_change(&r.request_id, &completed(61))
                .await
                .expect("finish")
        );
        // Final: a second result is not applied, and attempts no longer recorded.
        assert!(
            !s.finish_change(&r.request_id, &completed(62))
                .await
                .expect("finish")
        );
        s.record_attempt(&r.request_id, 9, at(200), at(100))
            .await
            .expect("attempt");
        let done = s
            .get_change(&r.request_id)
            .await
            .expect("get")
            .expect("row");
        assert_eq!(done.process_status, ProcessStatus::Completed);
        assert_eq!(done.result_code.as_deref(), Some("0000"));
        assert_eq!(done.result_message.as_deref(), Some("정상 처리되었습니다"));
        assert_eq!(done.kos_order_number.as_deref(), Some("KOS202509141035042"));
        assert_eq!(done.effective_date.as_deref(), Some("20250914"));
        assert_eq!(done.processed_at, Some(at(61)));
        assert_eq!(done.updated_at, at(61));
        assert_eq!(done.next_attempt_at, None);
        assert_eq!(done.attempts, 3);

        // The line is free again once its change is final.
        same_line.request_id = "PCR_20250914_0000000C".into();
        s.insert_change(&same_line)
            .await
            .expect("next change of the line");
    }
);

backend_tests!(
    claims_are_exclusive_until_released_or_expired,
    |backend| async move {
        let (s, _db) = store(backend).await;
        // Three due rows (oldest first: c, a, b), one not yet due, one final.
        let mut a = record("PCR_A", "01000000001", 10);
        a.next_attempt_at = None;
        let b = record("PCR_B", "01000000002", 20);
        let mut c = record("PCR_C", "01000000003", 5);
        c.next_attempt_at = Some(at(40));
        let mut later = record("PCR_LATER", "01000000004", 0);
        later.next_attempt_at = Some(at(10_000));
        let fin = record("PCR_FINAL", "01000000005", 0);
        for r in [&a, &b, &c, &later, &fin] {
            s.insert_change(r).await.expect("insert");
        }
        s.finish_change("PCR_FINAL", &completed(1))
            .await
            .expect("finish");

        let now = at(100);
        let ids =
            |rows: Vec<ChangeRecord>| rows.into_iter().map(|r| r.request_id).collect::<Vec<_>>();
        let first = s.claim_due(now, "one", at(220), 2).await.expect("claim");
        assert_eq!(ids(first), ["PCR_C", "PCR_A"], "oldest first, limited");
        let second = s.claim_due(now, "two", at(220), 10).await.expect("claim");
        assert_eq!(
            ids(second),
            ["PCR_B"],
            "rows leased to another owner are skipped"
        );
        assert!(
            s.claim_due(now, "three", at(220), 10)
                .await
                .expect("claim")
                .is_empty()
        );

        // Releasing by another owner does nothing; by the owner frees the row.
        s.release_claim("PCR_C", "two").await.expect("release");
        assert!(
            s.claim_due(now, "three", at(220), 10)
                .await
                .expect("claim")
                .is_empty()
        );
        s.release_claim("PCR_C", "one").await.expect("release");
        let again = s.claim_due(now, "three", at(220), 10).await.expect("claim");
        assert_eq!(ids(again), ["PCR_C"]);

        // A lease that ran out makes its rows due again.
        let after_lease = s
            .claim_due(at(220), "four", at(400), 10)
            .await
            .expect("claim");
        assert_eq!(ids(after_lease), ["PCR_C", "PCR_A", "PCR_B"]);
        let got = s.get_change("PCR_A").await.expect("get").expect("row");
        assert_eq!(got, a, "claiming leaves the record's fields alone");
    }
);

backend_tests!(
    history_pages_newest_first_within_the_window,
    |backend| async move {
        let (s, _db) = store(backend).await;
        let mine = "01012345678";
        for i in 0..5 {
            let mut r = record(&format!("PCR_H{i}"), mine, i * 100);
            r.process_status = ProcessStatus::Failed;
            s.insert_change(&r).await.expect("insert");
        }
        let other = record("PCR_OTHER", "01098765432", 250);
        s.insert_change(&other).await.expect("insert");
        let page = |lines: Vec<&str>, from, until, limit, offset| HistoryFilter {
            lines: lines.into_iter().map(str::to_owned).collect(),
            from,
            until,
            limit,
            offset,
        };
        let ids = |rows: &[ChangeRecord]| {
            rows.iter()
                .map(|r| r.request_id.clone())
                .collect::<Vec<_>>()
        };

        let (rows, total) = s
            .history(&page(vec![mine], None, None, 2, 0))
            .await
            .expect("history");
        assert_eq!(total, 5);
        assert_eq!(ids(&rows), ["PCR_H4", "PCR_H3"]);
        assert_eq!(rows[0], {
            let mut r = record("PCR_H4", mine, 400);
            r.process_status = ProcessStatus::Failed;
            r
        });
        let (rows, _) = s
            .history(&page(vec![mine], None, None, 2, 4))
            .await
            .expect("history");
        assert_eq!(ids(&rows), ["PCR_H0"]);

        // `from` inclusive, `until` exclusive.
        let (rows, total) = s
            .history(&page(vec![mine], Some(at(100)), Some(at(300)), 10, 0))
            .await
            .expect("history");
        assert_eq!(total, 2);
        assert_eq!(ids(&rows), ["PCR_H2", "PCR_H1"]);

        let (rows, total) = s
            .history(&page(vec![mine, "01098765432"], Some(at(200)), None, 10, 0))
            .await
            .expect("history");
        assert_eq!(total, 4);
        assert_eq!(ids(&rows), ["PCR_H4", "PCR_H3", "PCR_OTHER", "PCR_H2"]);
    }
);

backend_tests!(
    idempotency_keys_claim_complete_release_and_purge,
    |backend| async move {
        let (s, _db) = store(backend).await;
        let key = |request_id: &str, created: i64| KeyRow {
            request_hash: "a".repeat(64),
            request_id: request_id.into(),
            status_code: None,
            response_body: None,
            created_at: at(created),
            expires_at: at(created + 86_400),
        };
        let first = key("PCR_K1", 0);
        assert_eq!(
            s.claim_key("u1", "k", &first).await.expect("claim"),
            Claim::Claimed
        );
        // The same key of another user is another key.
        assert_eq!(
            s.claim_key("u2", "k", &key("PCR_K2", 0))
                .await
                .expect("claim"),
            Claim::Claimed
        );
        assert_eq!(
            s.claim_key("u1", "k", &key("PCR_K3", 10))
                .await
                .expect("claim"),
            Claim::Existing(first.clone())
        );

        let body = json!({ "message": "상품 변경이 완료되었습니다", "data": { "requestId": "PCR_K1" }, "location": null });
        s.complete_key("u1", "k", 200, &body)
            .await
            .expect("complete");
        let mut answered = first.clone();
        answered.status_code = Some(200);
        answered.response_body = Some(body);
        assert_eq!(
            s.claim_key("u1", "k", &key("PCR_K3", 10))
                .await
                .expect("claim"),
            Claim::Existing(answered.clone())
        );
        // An answered key is not abandoned; an unanswered one is, only at its own claim instant.
        assert!(
            !s.release_abandoned_key("u1", "k", first.created_at)
                .await
                .expect("abandon")
        );
        assert!(
            !s.release_abandoned_key("u2", "k", at(1))
                .await
                .expect("abandon")
        );
        assert!(
            s.release_abandoned_key("u2", "k", at(0))
                .await
                .expect("abandon")
        );
        assert_eq!(
            s.claim_key("u2", "k", &key("PCR_K4", 5))
                .await
                .expect("claim"),
            Claim::Claimed
        );

        s.release_key("u2", "k").await.expect("release");
        assert_eq!(
            s.claim_key("u2", "k", &key("PCR_K5", 6))
                .await
                .expect("claim"),
            Claim::Claimed
        );

        // An expired key is claimed afresh; purge removes what has expired by then.
        let expired_claim = key("PCR_K6", 86_400);
        assert_eq!(
            s.claim_key("u1", "k", &expired_claim).await.expect("claim"),
            Claim::Claimed
        );
        assert_eq!(
            s.purge_keys(at(86_400 + 6)).await.expect("purge"),
            1,
            "u2's key (created at 6)"
        );
        assert_eq!(s.purge_keys(at(86_400 + 6)).await.expect("purge"), 0);
        assert_eq!(
            s.claim_key("u1", "k", &key("PCR_K7", 86_401))
                .await
                .expect("claim"),
            Claim::Existing(expired_claim)
        );
    }
);

backend_tests!(client_ids_and_call_log, |backend| async move {
    let (s, _db) = store(backend).await;
    s.map_client_id("u1", "my-change-1", "PCR_C1", at(0))
        .await
        .expect("map");
    // The first mapping stays; another user's same id is its own.
    s.map_client_id("u1", "my-change-1", "PCR_C2", at(1))
        .await
        .expect("map");
    s.map_client_id("u2", "my-change-1", "PCR_C3", at(1))
        .await
        .expect("map");
    assert_eq!(
        s.find_client_id("u1", "my-change-1")
            .await
            .expect("find")
            .as_deref(),
        Some("PCR_C1")
    );
    assert_eq!(
        s.find_client_id("u2", "my-change-1")
            .await
            .expect("find")
            .as_deref(),
        Some("PCR_C3")
    );
    assert_eq!(
        s.find_client_id("u3", "my-change-1").await.expect("find"),
        None
    );

    let event = |request_id: &str, n: i64| KosCallEvent {
        event_id: uuid::Uuid::new_v4(),
        request_id: request_id.into(),
        endpoint: "product-change".into(),
        result_code: Some("0000".into()),
        outcome: "success".into(),
        duration_ms: 12,
        called_at: at(n),
    };
    s.write_calls(&[]).await.expect("empty batch");
    let batch = vec![event("PCR_L1", 0), event("PCR_L1", 1), event("PCR_L2", 2)];
    s.write_calls(&batch).await.expect("write");
    // Idempotent on event_id: a re-sent batch (spill replay) adds nothing.
    s.write_calls(&batch).await.expect("rewrite");
    assert_eq!(s.count_calls("PCR_L1").await.expect("count"), 2);
    assert_eq!(s.count_calls("PCR_L2").await.expect("count"), 1);
    assert_eq!(s.count_calls("PCR_NONE").await.expect("count"), 0);
});

/// On PostgreSQL the history read by line is answered from its index. `line_number` is
/// `CHAR(11)`; a bare text bind in `line_number = $1` would cast the column and scan the whole
/// table (docs/benchmarks.md, "Issue 22: token refresh"), while an `IN (…)` list, as the
/// history query writes it, is resolved to the column's type. This holds the query to a form
/// that keeps the index.
#[tokio::test]
async fn postgres_key_lookups_use_their_index() {
    use phonebill_test_support::pg_scans::{ROWS, ScanCheck};
    let (_setup, db) = store(Backend::Postgres).await;
    let setup = Db::connect_lazy(&db.config(), "setup").expect("pool");
    let Db::Postgres(pool) = &setup else {
        unreachable!("a PostgreSQL test database")
    };
    // Other customers' changes, so that a scan would have something to read.
    sqlx::query(
        "INSERT INTO product_change_history (request_id, user_id, customer_id, line_number, \
         current_product_code, current_product_name, target_product_code, target_product_name, \
         process_status, requested_at, updated_at) SELECT 'R' || i, 'u' || i, 'C' || i, \
         '019' || lpad(i::text, 8, '0'), 'A', 'A', 'B', 'B', 'COMPLETED', now(), now() \
         FROM generate_series(1, $1) i",
    )
    .bind(ROWS)
    .execute(pool)
    .await
    .unwrap();
    setup.close().await;

    let check = ScanCheck::start(&db.url, &["product_change_history"]).await;
    let pool = check.pool();
    let s = store_on(pool.clone());
    let (_, total) = s
        .history(&HistoryFilter {
            lines: vec!["01900000007".into(), "01900000008".into()],
            from: None,
            until: None,
            limit: 20,
            offset: 0,
        })
        .await
        .unwrap();
    assert_eq!(total, 2);
    // the page and its count
    check.finish(pool, &[("product_change_history", 2)]).await;
}
