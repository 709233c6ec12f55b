//! The store contract: every method of `KosStore` run with the same assertions on PostgreSQL,
//! SQLite, the in-memory store and the line cache in front of SQLite, so the one SQL body of
//! `store::sql` and the other adapters cannot drift apart.

use std::sync::Arc;

use chrono::NaiveDate;
use phonebill_common::db::Db;
use phonebill_kos_mock::MIGRATIONS;
use phonebill_kos_mock::domain::{Line, seed};
use phonebill_kos_mock::store::cached::CachedStore;
use phonebill_kos_mock::store::memory::MemoryStore;
use phonebill_kos_mock::store::postgres::PgStore;
use phonebill_kos_mock::store::sqlite::SqliteStore;
use phonebill_kos_mock::store::{ChangeRecord, DynStore, ProductUpdate, RecordOutcome};
use phonebill_test_support::{Backend, TestDb};
use serde_json::json;

/// A migrated database store on `backend` (the `TestDb` keeps the database alive).
async fn sql_store(backend: Backend) -> (DynStore, TestDb) {
    let db = TestDb::new(backend).await;
    let pool = Db::connect_lazy(&db.config(), "store-contract").expect("pool");
    pool.migrate(&MIGRATIONS).await.expect("migrations");
    (store_on(pool), db)
}

/// The store of `pool`'s dialect.
fn store_on(pool: Db) -> DynStore {
    match pool {
        Db::Postgres(p) => Arc::new(PgStore::new(p)),
        Db::Sqlite(p) => Arc::new(SqliteStore::new(p)),
    }
}

fn line(number: &str, product: &str) -> Line {
    Line {
        line_number: number.to_owned(),
        customer_id: format!("BK{number}"),
        customer_name: "계약".to_owned(),
        operator_code: "KT".to_owned(),
        current_product_code: product.to_owned(),
        initial_product_code: product.to_owned(),
        line_status: "ACTIVE".to_owned(),
        contract_date: NaiveDate::from_ymd_opt(2024, 9, 1).expect("date"),
    }
}

fn change(id: &str, hash: &str, update: Option<(&str, &str, &str)>) -> ChangeRecord {
    ChangeRecord {
        request_id: id.to_owned(),
        request_hash: hash.to_owned(),
        response: json!({ "requestId": id, "resultCode": "0000", "changeInfo": { "n": [1, 2] } }),
        update: update.map(|(line_number, from, to)| ProductUpdate {
            line_number: line_number.to_owned(),
            from: from.to_owned(),
            to: to.to_owned(),
        }),
    }
}

/// The current product of a line that must exist.
async fn product_of(store: &DynStore, line: &str) -> String {
    store
        .line(line)
        .await
        .expect("line")
        .expect("exists")
        .current_product_code
}

async fn contract(store: DynStore) {
    let products = seed::products();
    let lines = seed::lines();

    // seed + products + line: what went in comes out, field for field.
    store.seed(&products, &lines).await.expect("seed");
    let mut got = store.products().await.expect("products");
    got.sort_by(|a, b| a.code.cmp(&b.code));
    let mut want = products.clone();
    want.sort_by(|a, b| a.code.cmp(&b.code));
    assert_eq!(got, want);
    for l in &lines {
        assert_eq!(
            store.line(&l.line_number).await.expect("line").as_ref(),
            Some(l)
        );
    }
    assert_eq!(store.line("01000000000").await.expect("line"), None);

    // record_change with a product switch: stored, switched.
    let hong = "01012345678";
    assert_eq!(store.change_request("R1").await.expect("read"), None);
    let hash = "a".repeat(64);
    let rec = change(
        "R1",
        &hash,
        Some((hong, "5G-STANDARD-001", "5G-PREMIUM-001")),
    );
    let response = rec.response.clone();
    assert_eq!(
        store.record_change(rec).await.expect("record"),
        RecordOutcome::Recorded
    );
    let stored = store
        .change_request("R1")
        .await
        .expect("read")
        .expect("stored");
    assert_eq!(
        (stored.request_hash.as_str(), &stored.response),
        (hash.as_str(), &response)
    );
    let switched = store.line(hong).await.expect("line").expect("exists");
    assert_eq!(switched.current_product_code, "5G-PREMIUM-001");
    assert_eq!(switched.initial_product_code, "5G-STANDARD-001");

    // The same request id again: the first record comes back and nothing changes.
    let again = change(
        "R1",
        &"b".repeat(64),
        Some((hong, "5G-PREMIUM-001", "LTE-BASIC-001")),
    );
    assert_eq!(
        store.record_change(again).await.expect("record"),
        RecordOutcome::Existing(stored.clone())
    );
    assert_eq!(product_of(&store, hong).await, "5G-PREMIUM-001");

    // A stale expected product: nothing stored, nothing switched.
    let stale = change(
        "R2",
        &hash,
        Some((hong, "5G-STANDARD-001", "LTE-BASIC-001")),
    );
    assert_eq!(
        store.record_change(stale).await.expect("record"),
        RecordOutcome::Stale
    );
    assert_eq!(store.change_request("R2").await.expect("read"), None);
    assert_eq!(product_of(&store, hong).await, "5G-PREMIUM-001");

    // A business failure is recorded without a switch.
    assert_eq!(
        store
            .record_change(change("R3", &hash, None))
            .await
            .expect("record"),
        RecordOutcome::Recorded
    );
    assert!(store.change_request("R3").await.expect("read").is_some());

    // Seeding again keeps existing rows (the switched product stays).
    store.seed(&products, &lines).await.expect("seed again");
    assert_eq!(product_of(&store, hong).await, "5G-PREMIUM-001");
    assert_eq!(
        store.products().await.expect("products").len(),
        products.len()
    );

    // create_lines: existing numbers skipped, counts exact across insert batches (1,000 rows).
    let mut bulk: Vec<Line> = (0..1500)
        .map(|i| line(&format!("0105{i:07}"), "LTE-BASIC-001"))
        .collect();
    bulk.push(line(hong, "3G-OLD-001"));
    assert_eq!(store.create_lines(&bulk).await.expect("create"), 1500);
    assert_eq!(store.create_lines(&bulk[..10]).await.expect("create"), 0);
    assert_eq!(store.create_lines(&[]).await.expect("create"), 0);
    for l in [&bulk[0], &bulk[999], &bulk[1000], &bulk[1499]] {
        assert_eq!(
            store.line(&l.line_number).await.expect("line").as_ref(),
            Some(l)
        );
    }
    assert_eq!(
        store
            .line(hong)
            .await
            .expect("line")
            .expect("exists")
            .customer_id,
        "CU202401001",
        "an existing line is not overwritten"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_contract_postgres() {
    let (store, _db) = sql_store(Backend::Postgres).await;
    contract(store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_contract_sqlite() {
    let (store, _db) = sql_store(Backend::Sqlite).await;
    contract(store).await;
}

#[tokio::test]
async fn store_contract_memory() {
    contract(Arc::new(MemoryStore::new())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_contract_cached_sqlite() {
    let (store, _db) = sql_store(Backend::Sqlite).await;
    contract(Arc::new(CachedStore::new(store, None))).await;
}

/// On PostgreSQL the customer lookup and the product switch by line are answered from the
/// primary key: `line_number` is `char(11)`, and bound as plain text (as sqlx binds a `String`)
/// it was compared by casting the column, a sequential scan of every customer per KOS call
/// (docs/benchmarks.md, "Issue 22: token refresh").
#[tokio::test]
async fn postgres_key_lookups_use_their_index() {
    use phonebill_test_support::pg_scans::{ROWS, ScanCheck};
    let db = TestDb::new(Backend::Postgres).await;
    let setup = Db::connect_lazy(&db.config(), "setup").expect("pool");
    setup.migrate(&MIGRATIONS).await.expect("migrations");
    let Db::Postgres(pool) = &setup else {
        unreachable!("a PostgreSQL test database")
    };
    // Other customers, so that a scan would have something to read.
    sqlx::query(
        "INSERT INTO kos_customers (line_number, customer_id, customer_name, operator_code, \
         current_product_code, initial_product_code, line_status, contract_date) \
         SELECT '019' || lpad(i::text, 8, '0'), 'C' || i, 'x', 'KT', '5G-STANDARD-001', \
         '5G-STANDARD-001', 'ACTIVE', DATE '2024-09-01' FROM generate_series(1, $1) i",
    )
    .bind(ROWS)
    .execute(pool)
    .await
    .expect("customers");
    setup.close().await;

    let check = ScanCheck::start(&db.url, &["kos_customers"]).await;
    let pool = check.pool();
    let store = store_on(pool.clone());
    let line = "01900000007";
    assert_eq!(product_of(&store, line).await, "5G-STANDARD-001");
    let switch = change(
        "R1",
        &"a".repeat(64),
        Some((line, "5G-STANDARD-001", "5G-PREMIUM-001")),
    );
    assert_eq!(
        store.record_change(switch).await.expect("record"),
        RecordOutcome::Recorded
    );
    check.finish(pool, &[("kos_customers", 2)]).await;
}
