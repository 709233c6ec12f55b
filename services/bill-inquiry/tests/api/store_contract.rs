//! The store contract: every public method of `BillStore` (and its history sink) run on
//! PostgreSQL and on SQLite by one test body, asserting what it returns, so the SQL written once
//! behaves the same on both dialects.

use chrono::{DateTime, Duration, SubsecRound, Utc};
use phonebill_bill_inquiry::domain::{HistoryFilter, HistoryStatus};
use phonebill_bill_inquiry::store::{DynBillStore, HistoryEvent, InquiryRow, KosCallEvent};
use phonebill_common::db::Database;
use phonebill_common::service::Deps;
use phonebill_test_support::{Backend, TestDb, backend_tests};
use uuid::Uuid;

/// A migrated database and the store on it.
async fn store_on(backend: Backend) -> (TestDb, Database, DynBillStore) {
    let db = TestDb::new(backend).await;
    let database = Database::start(
        &db.config(),
        "bill-store-test",
        phonebill_bill_inquiry::MIGRATIONS,
        Deps::new().shutdown.child_token(),
    )
    .unwrap();
    assert!(database.wait_migrated().await, "migrations");
    let store = phonebill_bill_inquiry::store::for_db(&database.db, None);
    (db, database, store)
}

fn row(id: &str, line: &str, at: DateTime<Utc>, status: HistoryStatus) -> InquiryRow {
    InquiryRow {
        request_id: id.to_owned(),
        user_id: "mvno001".to_owned(),
        customer_id: "CU202401001".to_owned(),
        line_number: line.to_owned(),
        inquiry_month: "202509".to_owned(),
        status,
        result_code: Some("0000".to_owned()),
        result_message: Some("정상 처리되었습니다".to_owned()),
        result_summary: Some("5G 스탠다드 플랜, 81,340원".to_owned()),
        bill_info: Some(r#"{"billInfo":{"totalFee":81340}}"#.to_owned()),
        from_cache: false,
        requested_at: at,
        processed_at: Some(at),
    }
}

/// `row` with its JSON in one spelling (PostgreSQL's `jsonb` prints it its own way).
fn norm(r: Option<InquiryRow>) -> Option<InquiryRow> {
    r.map(|mut r| {
        r.bill_info = r.bill_info.map(|j| {
            serde_json::from_str::<serde_json::Value>(&j)
                .unwrap()
                .to_string()
        });
        r
    })
}

fn call(request_id: &str, at: DateTime<Utc>, outcome: &str) -> KosCallEvent {
    KosCallEvent {
        event_id: Uuid::new_v4(),
        request_id: request_id.to_owned(),
        endpoint: "bill-inquiry".to_owned(),
        result_code: Some("0000".to_owned()),
        outcome: outcome.to_owned(),
        duration_ms: 12,
        called_at: at,
    }
}

fn filter(lines: &[&str]) -> HistoryFilter {
    HistoryFilter {
        lines: lines.iter().map(|l| (*l).to_owned()).collect(),
        from: None,
        until: None,
        status: None,
        page: 1,
        size: 20,
    }
}

// A batch of one table is one statement without a transaction on SQLite; both kinds land.
backend_tests!(single_table_batches_land, |backend| async move {
    let (_db, _database, s) = store_on(backend).await;
    let at = Utc::now().trunc_subsecs(6);
    let rows: Vec<InquiryRow> = (0..130)
        .map(|i| {
            row(
                &format!("REQ_S{i:03}"),
                "01012345678",
                at,
                HistoryStatus::Completed,
            )
        })
        .collect();
    let batch: Vec<HistoryEvent> = rows.iter().cloned().map(HistoryEvent::Inquiry).collect();
    s.write_batch(&batch).await.unwrap();
    s.write_batch(&batch).await.unwrap();
    for r in [&rows[0], &rows[129]] {
        assert_eq!(
            norm(s.find_inquiry(&r.request_id).await.unwrap()),
            norm(Some(r.clone()))
        );
    }
    let (_, total) = s
        .list_history(&HistoryFilter {
            size: 100,
            ..filter(&["01012345678"])
        })
        .await
        .unwrap();
    assert_eq!(total, 130, "each row once, also after the retry");
    let calls = [
        call("REQ_S000", at, "success"),
        call("REQ_S001", at, "error"),
    ];
    let only_calls: Vec<HistoryEvent> = calls.iter().cloned().map(HistoryEvent::KosCall).collect();
    s.write_batch(&only_calls).await.unwrap();
    s.write_batch(&only_calls).await.unwrap();
    assert_eq!(s.list_kos_calls("REQ_S000").await.unwrap(), calls[..1]);
    assert_eq!(s.list_kos_calls("REQ_S001").await.unwrap(), calls[1..]);
});

// Two users' inquiries drew the same request id (32 random bits a day): the second never
// overwrites the first user's row, so nobody is shown another customer's bill.
backend_tests!(
    a_colliding_request_id_never_carries_another_users_bill,
    |backend| async move {
        let (_db, _database, s) = store_on(backend).await;
        let at = Utc::now().trunc_subsecs(6);
        let mine = row("REQ_X", "01012345678", at, HistoryStatus::Completed);
        let mut theirs = row("REQ_X", "01099998888", at, HistoryStatus::Completed);
        theirs.user_id = "mvno002".to_owned();
        theirs.result_summary = Some("LTE 베이직, 33,000원".to_owned());
        theirs.bill_info = Some(r#"{"billInfo":{"totalFee":33000}}"#.to_owned());
        s.write_batch(&[HistoryEvent::Inquiry(mine.clone())])
            .await
            .unwrap();
        s.write_batch(&[HistoryEvent::Inquiry(theirs)])
            .await
            .unwrap();
        assert_eq!(
            norm(s.find_inquiry("REQ_X").await.unwrap()),
            norm(Some(mine))
        );
    }
);

backend_tests!(every_store_method, |backend| async move {
    let (_db, _database, s) = store_on(backend).await;
    let t0 = Utc::now().trunc_subsecs(6) - Duration::hours(48);
    let t = |h: i64| t0 + Duration::hours(h);

    // A batch: a PROCESSING row then its final row in one batch, two more rows and KOS calls.
    let mut processing = row("REQ_A", "01012345678", t(0), HistoryStatus::Processing);
    processing.processed_at = None;
    processing.bill_info = None;
    let done = row("REQ_A", "01012345678", t(0), HistoryStatus::Completed);
    let mut failed = row("REQ_B", "01012345678", t(1), HistoryStatus::Failed);
    failed.result_code = Some("1003".to_owned());
    failed.bill_info = None;
    let mut other_line = row("REQ_C", "01012347777", t(30), HistoryStatus::Completed);
    other_line.from_cache = true;
    other_line.bill_info = None;
    let calls = [
        call("REQ_A", t(0), "success"),
        call("REQ_A", t(0), "timeout"),
    ];
    let batch: Vec<HistoryEvent> = vec![
        HistoryEvent::Inquiry(processing.clone()),
        HistoryEvent::KosCall(calls[0].clone()),
        HistoryEvent::Inquiry(done.clone()),
        HistoryEvent::KosCall(calls[1].clone()),
        HistoryEvent::Inquiry(failed.clone()),
        HistoryEvent::Inquiry(other_line.clone()),
    ];
    s.write_batch(&batch).await.unwrap();
    // Retried, and a late PROCESSING row: nothing changes twice, a final row is not undone.
    s.write_batch(&batch).await.unwrap();
    s.write_batch(&[HistoryEvent::Inquiry(processing.clone())])
        .await
        .unwrap();

    assert_eq!(
        norm(s.find_inquiry("REQ_A").await.unwrap()),
        norm(Some(done.clone()))
    );
    assert_eq!(
        norm(s.find_inquiry("REQ_B").await.unwrap()),
        norm(Some(failed.clone()))
    );
    assert!(done.bill_info.is_some(), "the final row's bill is kept");
    assert_eq!(s.find_inquiry("REQ_Z").await.unwrap(), None);
    let logged = s.list_kos_calls("REQ_A").await.unwrap();
    assert_eq!(logged, calls, "each call once, oldest first");
    assert!(s.list_kos_calls("REQ_B").await.unwrap().is_empty());

    // History: newest first, filtered by line, time range and status, paged, counted.
    let (items, total) = s
        .list_history(&filter(&["01012345678", "01012347777"]))
        .await
        .unwrap();
    let ids: Vec<&str> = items.iter().map(|r| r.request_id.as_str()).collect();
    assert_eq!((ids, total), (vec!["REQ_C", "REQ_B", "REQ_A"], 3));
    let (items, total) = s.list_history(&filter(&["01012345678"])).await.unwrap();
    assert_eq!((items.len(), total), (2, 2));
    let (items, total) = s
        .list_history(&HistoryFilter {
            from: Some(t(1)),
            until: Some(t(30)),
            ..filter(&["01012345678", "01012347777"])
        })
        .await
        .unwrap();
    assert_eq!(total, 1, "from inclusive, until exclusive");
    assert_eq!(items[0].request_id, "REQ_B");
    let (items, total) = s
        .list_history(&HistoryFilter {
            status: Some(HistoryStatus::Completed),
            ..filter(&["01012345678", "01012347777"])
        })
        .await
        .unwrap();
    assert_eq!(total, 2);
    assert!(items.iter().all(|r| r.status == HistoryStatus::Completed));
    let (items, total) = s
        .list_history(&HistoryFilter {
            page: 2,
            size: 2,
            ..filter(&["01012345678", "01012347777"])
        })
        .await
        .unwrap();
    assert_eq!(total, 3, "the count ignores the page");
    assert_eq!(items.len(), 1);
    assert_eq!(items[0].request_id, "REQ_A");
    assert_eq!(s.list_history(&filter(&[])).await.unwrap(), (Vec::new(), 0));
    assert_eq!(
        s.list_history(&filter(&["01000000000"])).await.unwrap().1,
        0
    );

    // The retention purge drops bills of rows requested before the cut, and only those.
    assert_eq!(s.purge_bill_info(t(1)).await.unwrap(), 1);
    assert_eq!(s.purge_bill_info(t(1)).await.unwrap(), 0);
    let a = s.find_inquiry("REQ_A").await.unwrap().unwrap();
    assert_eq!(a.bill_info, None);
    assert_eq!(a.status, HistoryStatus::Completed, "the row itself stays");
});

backend_tests!(large_batches_are_written_whole, |backend| async move {
    let (_db, _database, s) = store_on(backend).await;
    let t0 = Utc::now().trunc_subsecs(6);
    // 200 rows: more than one multi-row statement (128, 64, 8).
    let batch: Vec<HistoryEvent> = (0..200)
        .map(|i| {
            HistoryEvent::Inquiry(row(
                &format!("REQ_{i:04}"),
                "01012345678",
                t0 + Duration::seconds(i),
                HistoryStatus::Completed,
            ))
        })
        .collect();
    s.write_batch(&batch).await.unwrap();
    let (items, total) = s
        .list_history(&HistoryFilter {
            size: 100,
            ..filter(&["01012345678"])
        })
        .await
        .unwrap();
    assert_eq!(total, 200);
    assert_eq!(items[0].request_id, "REQ_0199");
    assert_eq!(items[99].request_id, "REQ_0100");
});

/// On PostgreSQL the history read by line is answered from its index. `line_number` is
/// `char(11)`; a bare text bind in `line_number = $1` would cast the column and scan the whole
/// table (docs/benchmarks.md, "Issue 22: token refresh"), while an `IN (…)` list, as the
/// history query writes it, is resolved to the column's type. This holds the query to a form
/// that keeps the index.
#[tokio::test]
async fn postgres_key_lookups_use_their_index() {
    use phonebill_test_support::pg_scans::{ROWS, ScanCheck};
    let (db, database, _setup) = store_on(Backend::Postgres).await;
    let phonebill_common::db::Db::Postgres(pool) = &database.db else {
        unreachable!("a PostgreSQL test database")
    };
    // Other customers' inquiries, so that a scan would have something to read.
    sqlx::query(
        "INSERT INTO bill_inquiry_history (request_id, user_id, customer_id, line_number, \
         inquiry_month, status, requested_at) SELECT 'R' || i, 'u' || i, 'C' || i, \
         '019' || lpad(i::text, 8, '0'), '202509', 'COMPLETED', now() FROM generate_series(1, $1) i",
    )
    .bind(ROWS)
    .execute(pool)
    .await
    .unwrap();
    database.db.close().await;

    let check = ScanCheck::start(&db.url, &["bill_inquiry_history"]).await;
    let pool = check.pool();
    let s = phonebill_bill_inquiry::store::for_db(&pool, None);
    let (_, total) = s
        .list_history(&filter(&["01900000007", "01900000008"]))
        .await
        .unwrap();
    assert_eq!(total, 2);
    // the page and its count
    check.finish(pool, &[("bill_inquiry_history", 2)]).await;
}
