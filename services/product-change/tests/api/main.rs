//! Integration tests of the product-change service over real HTTP, with the real kos-mock, on
//! both stores.

mod claims;
mod helpers;
mod openapi;
mod resilience;
mod security;
mod seed_metrics;
mod store_contract;

use std::path::Path;

use chrono::Utc;
use futures::future::join_all;
use helpers::{change_body, spawn_app, spawn_on};
use phonebill_product_change::domain::{ChangeRecord, ProcessStatus};
use phonebill_test_support::backend_tests;
use serde_json::json;

const HONG: &str = "01012345678";
const SUSPENDED: &str = "01055556666";
const KIM: &str = "01098765432";

#[test]
fn migration_versions_match() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
    let pg = phonebill_common::db::migration_versions(&dir.join("postgres")).unwrap();
    let sqlite = phonebill_common::db::migration_versions(&dir.join("sqlite")).unwrap();
    assert_eq!(pg, sqlite);
    assert!(!pg.is_empty());
}

backend_tests!(prechecks_pass_and_fail, |backend| async move {
    let app = spawn_app(backend).await;
    let t = app.user_token(HONG);
    let v = "/api/v1/products/change/validation";
    let (s, b, _) = app
        .post(
            v,
            &t,
            &change_body("010-1234-5678", "5G-STANDARD-001", "5G-PREMIUM-001"),
            None,
        )
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["data"]["validationResult"], "SUCCESS");
    assert!(b["data"].get("failureReason").is_none());
    let d = &b["data"]["validationDetails"];
    assert_eq!(d[0]["checkType"], "PRODUCT_AVAILABLE");
    assert_eq!(d[0]["result"], "PASS");
    assert_eq!(d[1]["checkType"], "OPERATOR_MATCH");
    assert_eq!(d[2]["checkType"], "LINE_STATUS");
    assert_eq!(d[2]["message"], "회선이 정상 상태입니다");

    let cases = [
        (
            "3G-OLD-001",
            0,
            "판매 중단된 상품입니다",
            "변경 대상 상품이 판매중이 아닙니다.",
        ),
        (
            "LGU-LTE-001",
            1,
            "사업자가 일치하지 않습니다 (현재: KT, 변경: LGU)",
            "현재 상품과 변경 대상 상품의 사업자가 일치하지 않습니다.",
        ),
        (
            "5G-STANDARD-001",
            0,
            "현재 상품과 동일한 상품입니다",
            "변경 대상 상품이 판매중이 아닙니다.",
        ),
        (
            "NOPE-001",
            0,
            "존재하지 않는 상품코드입니다",
            "변경 대상 상품이 판매중이 아닙니다.",
        ),
    ];
    for (target, idx, msg, reason) in cases {
        let (s, b, _) = app
            .post(v, &t, &change_body(HONG, "5G-STANDARD-001", target), None)
            .await;
        assert_eq!(s, 200, "{b}");
        assert_eq!(b["data"]["validationResult"], "FAILURE", "{target}");
        assert_eq!(b["data"]["validationDetails"][idx]["result"], "FAIL");
        assert_eq!(b["data"]["validationDetails"][idx]["message"], msg);
        assert!(
            b["data"]["failureReason"]
                .as_str()
                .unwrap()
                .starts_with(reason),
            "{b}"
        );
    }
    let ts = app.user_token(SUSPENDED);
    let (_, b, _) = app
        .post(
            v,
            &ts,
            &change_body(SUSPENDED, "LTE-PREMIUM-001", "LTE-BASIC-001"),
            None,
        )
        .await;
    assert_eq!(
        b["data"]["validationDetails"][2]["message"],
        "회선이 정지 상태입니다"
    );
    assert_eq!(
        b["data"]["failureReason"],
        "회선 상태가 상품변경이 불가능한 상태입니다."
    );
    // Change refuses the same with 422 and the reason in details.
    let (s, b, _) = app
        .post(
            "/api/v1/products/change",
            &ts,
            &change_body(SUSPENDED, "LTE-PREMIUM-001", "LTE-BASIC-001"),
            None,
        )
        .await;
    assert_eq!(s, 422);
    assert_eq!(b["error"]["code"], "PRODUCT_CHANGE_NOT_ALLOWED");
    assert_eq!(
        b["error"]["details"],
        "회선 상태가 상품변경이 불가능한 상태입니다."
    );
    // Malformed and missing fields.
    let (s, b, _) = app.post(v, &t, &json!({ "lineNumber": HONG }), None).await;
    assert_eq!(s, 400);
    assert_eq!(b["error"]["code"], "VALIDATION_ERROR");
    assert!(b["fieldErrors"]["targetProductCode"].is_string());
});

backend_tests!(authorization, |backend| async move {
    let app = spawn_app(backend).await;
    let t = app.user_token(HONG);
    let (s, b, _) = app
        .get("/api/v1/products/customer?lineNumber=01098765432", &t)
        .await;
    assert_eq!(s, 403);
    assert_eq!(b["error"]["code"], "LINE_ACCESS_DENIED");
    let (s, b, _) = app
        .post(
            "/api/v1/products/change",
            &t,
            &change_body("01098765432", "LTE-BASIC-001", "5G-PREMIUM-001"),
            None,
        )
        .await;
    assert_eq!(s, 403);
    assert_eq!(b["error"]["code"], "LINE_ACCESS_DENIED");
    let nope = app.token("mvno005", "01077778888", &["BILL_INQUIRY"]);
    let (s, b, _) = app.get("/api/v1/products/available", &nope).await;
    assert_eq!(s, 403);
    assert_eq!(b["error"]["code"], "FORBIDDEN");
    let r = app
        .client
        .get(format!("{}/api/v1/products/menu", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
});

backend_tests!(change_is_visible_and_idempotent, |backend| async move {
    let app = spawn_app(backend).await;
    let t = app.user_token(HONG);
    // Warm the cache with the old product.
    let (s, b, _) = app
        .get("/api/v1/products/customer?lineNumber=010-1234-5678", &t)
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(
        b["data"]["currentProduct"]["productCode"],
        "5G-STANDARD-001"
    );
    assert_eq!(b["data"]["lineNumber"], HONG);
    assert_eq!(b["data"]["contractInfo"]["termEndDate"], "2026-01-15");
    let (s, b, _) = app
        .get(
            "/api/v1/products/available?currentProductCode=5G-STANDARD-001",
            &t,
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(b["data"]["totalCount"], 4);
    assert_eq!(b["data"]["products"][0]["productCode"], "5G-PREMIUM-001");

    let body = change_body(HONG, "5G-STANDARD-001", "5G-PREMIUM-001");
    let (s, first, h) = app
        .post("/api/v1/products/change", &t, &body, Some("key-1"))
        .await;
    assert_eq!(s, 200, "{first}");
    assert!(h.get("idempotent-replayed").is_none());
    assert_eq!(first["data"]["processStatus"], "COMPLETED");
    assert_eq!(first["data"]["resultCode"], "0000");
    assert_eq!(
        first["data"]["changedProduct"]["productCode"],
        "5G-PREMIUM-001"
    );
    let rid = first["data"]["requestId"].as_str().unwrap().to_owned();
    assert!(rid.starts_with("PCR_") && rid.len() == 21, "{rid}");
    assert_eq!(app.kos_product(HONG).await, "5G-PREMIUM-001");
    // Cache invalidated: the next inquiry shows the new product.
    let (_, b, _) = app
        .get(&format!("/api/v1/products/customer/{HONG}"), &t)
        .await;
    assert_eq!(b["data"]["currentProduct"]["productCode"], "5G-PREMIUM-001");
    // Same key, same body: replayed, nothing sent to KOS.
    let (s, again, h) = app
        .post("/api/v1/products/change", &t, &body, Some("key-1"))
        .await;
    assert_eq!(s, 200);
    assert_eq!(h.get("idempotent-replayed").unwrap(), "true");
    assert_eq!(again["data"]["requestId"], rid.as_str());
    // Same key, other body: 422.
    let (s, b, _) = app
        .post(
            "/api/v1/products/change",
            &t,
            &change_body(HONG, "5G-PREMIUM-001", "LTE-BASIC-001"),
            Some("key-1"),
        )
        .await;
    assert_eq!(s, 422);
    assert_eq!(b["error"]["code"], "IDEMPOTENCY_KEY_REUSED");
    // Key-less retry of the done change: stale current product → 409.
    let (s, b, _) = app.post("/api/v1/products/change", &t, &body, None).await;
    assert_eq!(s, 409);
    assert_eq!(b["error"]["code"], "PRODUCT_CHANGE_CONFLICT");
    // Result and history.
    let (s, b, _) = app.get(&format!("/api/v1/products/change/{rid}"), &t).await;
    assert_eq!(s, 200);
    assert_eq!(b["data"]["processStatus"], "COMPLETED");
    let other = app.user_token("01098765432");
    let (s, _, _) = app
        .get(&format!("/api/v1/products/change/{rid}"), &other)
        .await;
    assert_eq!(s, 404);
    let (s, b, _) = app.get("/api/v1/products/history", &t).await;
    assert_eq!(s, 200);
    assert_eq!(b["data"]["pagination"]["totalElements"], 1);
    assert_eq!(b["data"]["pagination"]["size"], 10);
    assert_eq!(
        b["data"]["history"][0]["targetProductName"],
        "5G 프리미엄 플랜"
    );
    // KOS calls were logged by the batched writer.
    let mut logged = 0;
    for _ in 0..100 {
        logged = app.service.store().count_calls(&rid).await.unwrap();
        if logged >= 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(logged >= 2, "inquiry + change logged, got {logged}");
});

// The history's query rules (docs/api.md §1.11, §4.8), checked before the line is: pages up to
// i32::MAX, sizes 1-100, the product-change message, and dates as chrono's `%Y-%m-%d` reads them.
backend_tests!(history_query_rules, |backend| async move {
    let app = spawn_app(backend).await;
    let t = app.user_token(HONG);
    let h = "/api/v1/products/history";
    let (s, b, _) = app
        .get(&format!("{h}?page=0&size=101&lineNumber=01099999999"), &t)
        .await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (400, Some("VALIDATION_ERROR")),
        "{b}"
    );
    assert_eq!(
        b["fieldErrors"]["page"],
        "page는 1 이상 2147483647 이하여야 합니다"
    );
    assert_eq!(
        b["fieldErrors"]["size"],
        "size는 1 이상 100 이하여야 합니다"
    );
    let (s, b, _) = app.get(&format!("{h}?page=2147483648"), &t).await;
    assert_eq!(s, 400, "{b}");
    assert_eq!(
        b["fieldErrors"]["page"],
        "page는 1 이상 2147483647 이하여야 합니다"
    );
    let (s, b, _) = app
        .get(&format!("{h}?startDate=2025-09-31&endDate=2025-09-01"), &t)
        .await;
    assert_eq!(s, 400, "{b}");
    assert_eq!(
        b["fieldErrors"]["startDate"],
        "날짜는 YYYY-MM-DD 형식이어야 합니다"
    );
    let (s, b, _) = app
        .get(&format!("{h}?startDate=2025-09-14&endDate=2025-09-13"), &t)
        .await;
    assert_eq!(s, 400, "{b}");
    assert_eq!(
        b["fieldErrors"]["startDate"],
        "시작일은 종료일보다 늦을 수 없습니다"
    );
    // A change today, then the ranges that do and do not hold it.
    let (s, b, _) = app
        .post(
            "/api/v1/products/change",
            &t,
            &change_body(HONG, "5G-STANDARD-001", "5G-PREMIUM-001"),
            None,
        )
        .await;
    assert_eq!(s, 200, "{b}");
    let today = Utc::now()
        .with_timezone(&phonebill_common::time::kst())
        .date_naive();
    let loose = today.format("%Y-%-m-%-d").to_string();
    let (s, b, _) = app
        .get(
            &format!("{h}?startDate={loose}&endDate={today}&page=1&size=1"),
            &t,
        )
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["data"]["pagination"]["totalElements"], 1, "{b}");
    assert_eq!(b["data"]["pagination"]["size"], 1, "{b}");
    let (s, b, _) = app
        .get(&format!("{h}?endDate={}", today.pred_opt().unwrap()), &t)
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["data"]["pagination"]["totalElements"], 0, "{b}");
    let (s, b, _) = app.get(&format!("{h}?page=2&size=1"), &t).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(
        b["data"]["history"].as_array().map(Vec::len),
        Some(0),
        "{b}"
    );
    assert_eq!(b["data"]["pagination"]["hasPrevious"], true, "{b}");
});

backend_tests!(concurrent_duplicates_change_once, |backend| async move {
    let app = spawn_app(backend).await;
    let t = app.user_token(HONG);
    let body = change_body(HONG, "5G-STANDARD-001", "LTE-PREMIUM-001");
    let keyed =
        join_all((0..10).map(|_| app.post("/api/v1/products/change", &t, &body, Some("same-key"))))
            .await;
    let ok: Vec<_> = keyed.iter().filter(|r| r.0 == 200).collect();
    assert!(!ok.is_empty());
    let ids: std::collections::HashSet<_> = ok
        .iter()
        .map(|r| r.1["data"]["requestId"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), 1, "one change id");
    for r in &keyed {
        assert!(
            r.0 == 200 || (r.0 == 409 && r.1["error"]["code"] == "PRODUCT_CHANGE_IN_PROGRESS"),
            "{:?}",
            r.1
        );
    }
    assert_eq!(app.kos_product(HONG).await, "LTE-PREMIUM-001");
    // Without a key, from the new product: exactly one completes.
    let body = change_body(HONG, "LTE-PREMIUM-001", "LTE-BASIC-001");
    let free =
        join_all((0..10).map(|_| app.post("/api/v1/products/change", &t, &body, None))).await;
    let completed = free
        .iter()
        .filter(|r| r.0 == 200 && r.1["data"]["processStatus"] == "COMPLETED")
        .count();
    assert_eq!(
        completed,
        1,
        "{:?}",
        free.iter()
            .map(|r| (
                r.0,
                r.1["error"]["code"].clone(),
                r.1["data"]["processStatus"].clone()
            ))
            .collect::<Vec<_>>()
    );
    assert_eq!(app.kos_product(HONG).await, "LTE-BASIC-001");
});

backend_tests!(kos_failures_never_fake_completion, |backend| async move {
    let app = spawn_app(backend).await;
    let t = app.user_token(HONG);
    // Lost response: KOS applied it, we do not know → 202 PROCESSING with Location.
    app.fault("product-change", "lost-response", 1, None).await;
    let (s, b, h) = app
        .post(
            "/api/v1/products/change",
            &t,
            &change_body(HONG, "5G-STANDARD-001", "5G-PREMIUM-001"),
            None,
        )
        .await;
    assert_eq!(s, 202, "{b}");
    assert_eq!(b["data"]["processStatus"], "PROCESSING");
    assert_eq!(b["data"]["resultCode"], "0100");
    let rid = b["data"]["requestId"].as_str().unwrap().to_owned();
    assert_eq!(
        h.get("location").unwrap().to_str().unwrap(),
        format!("/api/v1/products/change/{rid}")
    );
    // A second change of the line while in flight: 409 (after the fresh read sees the new product, conflict).
    let (s, _, _) = app
        .post(
            "/api/v1/products/change",
            &t,
            &change_body(HONG, "5G-PREMIUM-001", "LTE-BASIC-001"),
            None,
        )
        .await;
    assert_eq!(s, 409);
    // Reconciliation re-sends the same requestId; KOS replays its stored answer → COMPLETED.
    let later = Utc::now() + chrono::Duration::seconds(31);
    assert_eq!(app.service.reconcile_at(later).await.unwrap(), 1);
    let (_, b, _) = app.get(&format!("/api/v1/products/change/{rid}"), &t).await;
    assert_eq!(b["data"]["processStatus"], "COMPLETED", "{b}");
    assert_eq!(app.kos_product(HONG).await, "5G-PREMIUM-001");

    // Timeout: KOS has not applied it; record stays PROCESSING, never COMPLETED.
    app.fault("product-change", "timeout", 1, Some(3000)).await;
    let (s, b, _) = app
        .post(
            "/api/v1/products/change",
            &t,
            &change_body(HONG, "5G-PREMIUM-001", "LTE-BASIC-001"),
            None,
        )
        .await;
    assert_eq!(s, 202, "{b}");
    let rid2 = b["data"]["requestId"].as_str().unwrap().to_owned();
    let (_, b, _) = app
        .get(&format!("/api/v1/products/change/{rid2}"), &t)
        .await;
    assert_eq!(b["data"]["processStatus"], "PROCESSING");
    assert_eq!(app.kos_product(HONG).await, "5G-PREMIUM-001");
    // A client-chosen requestId that KOS already saw with another body used to reach KOS as
    // the record id and fail with 2007. Since issue 17 the record id (and the one KOS sees) is
    // the server's, so the client's id collides with nothing (docs/security.md, finding 7d).
    let t3 = app.user_token("01098765432");
    let kos_body = json!({ "lineNumber": "01098765432", "currentProductCode": "LTE-BASIC-001", "targetProductCode": "LTE-PREMIUM-001", "requestId": "client-rid-1" });
    app.client
        .post(format!("{}/api/v1/kos/product/change", app.kos.url))
        .json(&kos_body)
        .send()
        .await
        .unwrap();
    let mut body = change_body("01098765432", "LTE-PREMIUM-001", "5G-PREMIUM-001");
    body["requestId"] = json!("client-rid-1");
    let (s, b, _) = app.post("/api/v1/products/change", &t3, &body, None).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["data"]["processStatus"], "COMPLETED", "{b}");
    let rid = b["data"]["requestId"].as_str().unwrap().to_owned();
    assert!(rid.starts_with("PCR_"), "{rid}");
    assert_eq!(app.kos_product("01098765432").await, "5G-PREMIUM-001");
    // The owner finds the change by the id it chose, and by the server's.
    for id in ["client-rid-1", rid.as_str()] {
        let (s, b, _) = app.get(&format!("/api/v1/products/change/{id}"), &t3).await;
        assert_eq!(
            (s, b["data"]["requestId"].as_str()),
            (200, Some(rid.as_str())),
            "{b}"
        );
    }
});

backend_tests!(crash_recovery_reconciles_once, |backend| async move {
    let app = spawn_app(backend).await;
    let now = Utc::now();
    let rec = |rid: &str, line: &str, cur: &str, target: &str, age_min: i64| ChangeRecord {
        user_id: "u-crash".into(),
        customer_id: "CU".into(),
        current_product_code: cur.into(),
        target_product_code: target.into(),
        updated_at: now,
        ..helpers::processing_record(rid, line, now - chrono::Duration::minutes(age_min))
    };
    // As if the process died right after the outbox write.
    app.service
        .store()
        .insert_change(&rec(
            "PCR_20250101_0000CAFE",
            HONG,
            "5G-STANDARD-001",
            "5G-PREMIUM-001",
            0,
        ))
        .await
        .unwrap();
    // One that is too old and that KOS never applied → FAILED E_KOS_TIMEOUT.
    app.service
        .store()
        .insert_change(&rec(
            "PCR_20250101_0000BEEF",
            "01098765432",
            "LTE-BASIC-001",
            "5G-PREMIUM-001",
            31,
        ))
        .await
        .unwrap();
    // A fresh instance on the same database reconciles at start.
    let fresh = spawn_on(
        app.db.clone(),
        app.kos.clone(),
        app.key.clone(),
        app.prefix(),
        true,
    )
    .await;
    let mut status = None;
    for _ in 0..200 {
        let r = fresh
            .service
            .store()
            .get_change("PCR_20250101_0000CAFE")
            .await
            .unwrap()
            .unwrap();
        let old = fresh
            .service
            .store()
            .get_change("PCR_20250101_0000BEEF")
            .await
            .unwrap()
            .unwrap();
        if r.process_status != ProcessStatus::Processing
            && old.process_status != ProcessStatus::Processing
        {
            status = Some(r);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    let done = status.expect("reconciled");
    assert_eq!(done.process_status, ProcessStatus::Completed);
    assert!(done.kos_order_number.is_some());
    assert_eq!(app.kos_product(HONG).await, "5G-PREMIUM-001");
    let old = fresh
        .service
        .store()
        .get_change("PCR_20250101_0000BEEF")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(old.process_status, ProcessStatus::Failed);
    assert_eq!(old.result_code.as_deref(), Some("E_KOS_TIMEOUT"));
    assert_eq!(app.kos_product("01098765432").await, "LTE-BASIC-001");
    // A second pass changes nothing.
    assert_eq!(fresh.service.reconcile_once().await.unwrap(), 0);
    let again = fresh
        .service
        .store()
        .get_change("PCR_20250101_0000CAFE")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(again, done);
    assert_eq!(app.kos_product(HONG).await, "5G-PREMIUM-001");
});

// A request that died between claiming its Idempotency-Key and writing its change row (a crash
// between the two statements) left a key with no answer and no change behind it. A retry with
// the same key once the claim is older than a minute takes it over and makes the change, instead
// of answering PRODUCT_CHANGE_IN_PROGRESS until the key expires (24 h).
backend_tests!(
    an_idempotency_key_orphaned_by_a_crash_is_taken_over,
    |backend| async move {
        let app = spawn_app(backend).await;
        let t = app.user_token(HONG);
        let user = format!("u{}", &HONG[7..]);
        let key = "orphaned-key-0001";
        let claimed = Utc::now() - chrono::Duration::minutes(2);
        let row = phonebill_product_change::store::KeyRow {
            request_hash: phonebill_product_change::domain::request_hash(
                HONG,
                "5G-STANDARD-001",
                "5G-PREMIUM-001",
                None,
            ),
            request_id: "PCR_20250101_DEADBEEF".into(),
            status_code: None,
            response_body: None,
            created_at: claimed,
            expires_at: claimed + chrono::Duration::days(1),
        };
        let claim = app
            .service
            .store()
            .claim_key(&user, key, &row)
            .await
            .expect("claim");
        assert!(matches!(
            claim,
            phonebill_product_change::store::Claim::Claimed
        ));
        let (s, b, _) = app
            .post(
                "/api/v1/products/change",
                &t,
                &change_body(HONG, "5G-STANDARD-001", "5G-PREMIUM-001"),
                Some(key),
            )
            .await;
        assert_eq!(s, 200, "{b}");
        assert_eq!(b["data"]["processStatus"], "COMPLETED", "{b}");
        assert_eq!(app.kos_product(HONG).await, "5G-PREMIUM-001");
        // The same key again replays the stored answer (the key is settled now).
        let (s2, b2, h2) = app
            .post(
                "/api/v1/products/change",
                &t,
                &change_body(HONG, "5G-STANDARD-001", "5G-PREMIUM-001"),
                Some(key),
            )
            .await;
        assert_eq!(s2, 200, "{b2}");
        assert_eq!(b2["data"]["requestId"], b["data"]["requestId"]);
        assert_eq!(
            h2.get("idempotent-replayed").and_then(|v| v.to_str().ok()),
            Some("true")
        );
    }
);
