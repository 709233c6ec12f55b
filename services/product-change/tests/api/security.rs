//! Hostile clients against the product-change service: another customer's line on every
//! line-taking endpoint, and SQL metacharacters in every string it reads (product codes, request
//! ids, idempotency keys, query parameters). KOS and the tables must come out untouched.

use std::sync::Arc;

use phonebill_test_support::{Backend, TestDb, backend_tests};
use serde_json::{Value, json};

use phonebill_test_support::hostile::{self, enc, sql_metacharacters};

use crate::helpers::{TestApp, change_body, spawn_app};
use crate::{HONG, KIM};

/// This service's own SQL attacks, after the shared ones.
fn metacharacters() -> Vec<&'static str> {
    sql_metacharacters(&[
        "'; DROP TABLE product_change_history; --",
        "5G-STANDARD-001' --",
        "5G-%",
        "PCR_%",
    ])
}

/// The docs/api.md §1.3 failure envelope with `code`, and no clear line number in it.
fn assert_failure(status: u16, body: &Value, want_status: u16, code: &str, what: &str) {
    hostile::assert_failure(
        status,
        body,
        want_status,
        code,
        what,
        &[HONG, KIM, "010-9876-5432"],
    );
}

/// Rows of `product_change_history`, straight from the database.
async fn history_rows(db: &Arc<TestDb>) -> i64 {
    use sqlx::Connection;
    let sql = "SELECT COUNT(*) FROM product_change_history";
    match db.backend() {
        Backend::Postgres => {
            let mut c = sqlx::PgConnection::connect(&db.url).await.expect("connect");
            sqlx::query_scalar::<_, i64>(sql)
                .fetch_one(&mut c)
                .await
                .expect("count")
        }
        Backend::Sqlite => {
            let mut c = sqlx::SqliteConnection::connect(&db.url)
                .await
                .expect("connect");
            sqlx::query_scalar::<_, i64>(sql)
                .fetch_one(&mut c)
                .await
                .expect("count")
        }
    }
}

backend_tests!(
    every_line_endpoint_refuses_another_customers_line,
    |backend| async move {
        let app = spawn_app(backend).await;
        let hong = app.user_token(HONG);
        let kim = app.user_token(KIM);
        for line in [KIM, "010-9876-5432"] {
            for path in [
                format!("/api/v1/products/customer?lineNumber={line}"),
                format!("/api/v1/products/customer/{line}"),
                format!("/api/v1/products/history?lineNumber={line}"),
            ] {
                let (s, b, _) = app.get(&path, &hong).await;
                assert_failure(s, &b, 403, "LINE_ACCESS_DENIED", &path);
            }
            let body = change_body(line, "LTE-BASIC-001", "LTE-PREMIUM-001");
            for path in [
                "/api/v1/products/change/validation",
                "/api/v1/products/change",
            ] {
                let (s, b, _) = app.post(path, &hong, &body, None).await;
                assert_failure(s, &b, 403, "LINE_ACCESS_DENIED", &format!("{path} {line}"));
            }
            let (s, b, _) = app
                .post("/api/v1/products/change", &hong, &body, Some("steal-1"))
                .await;
            assert_failure(s, &b, 403, "LINE_ACCESS_DENIED", "change with a key");
        }
        assert_eq!(app.kos_product(KIM).await, "LTE-BASIC-001", "KOS untouched");
        assert_eq!(history_rows(&app.db).await, 0, "nothing recorded");
        // The owner's change, read by someone else: the same answer as an unknown id.
        let (s, b, _) = app
            .post(
                "/api/v1/products/change",
                &kim,
                &change_body(KIM, "LTE-BASIC-001", "LTE-PREMIUM-001"),
                None,
            )
            .await;
        assert_eq!(s, 200, "{b}");
        let id = b["data"]["requestId"]
            .as_str()
            .expect("requestId")
            .to_owned();
        let (s, b, _) = app
            .get(&format!("/api/v1/products/change/{id}"), &hong)
            .await;
        assert_failure(s, &b, 404, "REQUEST_NOT_FOUND", "another customer's change");
        let (s, b, _) = app
            .get(&format!("/api/v1/products/change/{id}"), &kim)
            .await;
        assert_eq!(
            (s, b["data"]["processStatus"].as_str()),
            (200, Some("COMPLETED"))
        );
        let (s, b, _) = app.get("/api/v1/products/history", &hong).await;
        assert_eq!(s, 200);
        assert_eq!(b["data"]["pagination"]["totalElements"], 0, "{b}");
    }
);

async fn expect_client_error(
    app: &TestApp,
    what: &str,
    r: (u16, Value, reqwest::header::HeaderMap),
) {
    let (s, b, _) = r;
    assert!((400..500).contains(&s), "{what}: {s} {b}");
    assert_eq!(b["success"], false, "{what}: {b}");
    let _ = app;
}

backend_tests!(sql_metacharacters_are_plain_data, |backend| async move {
    let app = spawn_app(backend).await;
    let t = app.user_token(HONG);
    let (s, b, _) = app.get("/api/v1/products/available", &t).await;
    assert_eq!(s, 200, "{b}");
    let all = b["data"]["totalCount"].clone();
    for p in metacharacters() {
        let what = |f: &str| format!("{f} = {p:?}");
        // Pre-check: the request is well-formed, so 200 with a failed check, never a 5xx.
        for body in [
            change_body(HONG, p, "5G-PREMIUM-001"),
            change_body(HONG, "5G-STANDARD-001", p),
        ] {
            let (s, b, _) = app
                .post("/api/v1/products/change/validation", &t, &body, None)
                .await;
            assert!(s == 200 || s == 400, "{}: {s} {b}", what("validation"));
            if s == 200 {
                assert_eq!(b["data"]["validationResult"], "FAILURE", "{b}");
            }
        }
        // Change: a stale/unknown current code is a conflict, an unknown target is refused.
        let (s, b, _) = app
            .post(
                "/api/v1/products/change",
                &t,
                &change_body(HONG, p, "5G-PREMIUM-001"),
                None,
            )
            .await;
        assert!(
            s == 409 || s == 400,
            "{}: {s} {b}",
            what("currentProductCode")
        );
        expect_client_error(
            &app,
            &what("targetProductCode"),
            app.post(
                "/api/v1/products/change",
                &t,
                &change_body(HONG, "5G-STANDARD-001", p),
                None,
            )
            .await,
        )
        .await;
        // Client-chosen ids and keys allow `[A-Za-z0-9_-]` only (`--` and `_` are legitimate
        // keys and would really change the plan): everything else is refused up front.
        let key_charset = p
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if !key_charset {
            let mut body = change_body(HONG, "5G-STANDARD-001", "5G-PREMIUM-001");
            body["requestId"] = json!(p);
            let (s, b, _) = app.post("/api/v1/products/change", &t, &body, None).await;
            assert_failure(s, &b, 400, "VALIDATION_ERROR", &what("body requestId"));
            if reqwest::header::HeaderValue::from_str(p).is_ok() {
                let (s, b, _) = app
                    .post(
                        "/api/v1/products/change",
                        &t,
                        &change_body(HONG, "5G-STANDARD-001", "5G-PREMIUM-001"),
                        Some(p),
                    )
                    .await;
                assert_failure(s, &b, 400, "VALIDATION_ERROR", &what("Idempotency-Key"));
            }
        }
        expect_client_error(
            &app,
            &what("change/{requestId}"),
            app.get(&format!("/api/v1/products/change/{}", enc(p)), &t)
                .await,
        )
        .await;
        expect_client_error(
            &app,
            &what("customer lineNumber"),
            app.get(
                &format!("/api/v1/products/customer?lineNumber={}", enc(p)),
                &t,
            )
            .await,
        )
        .await;
        // An unknown code excludes nothing; a NUL is refused at the edge (`%00` in the URI).
        let (s, b, _) = app
            .get(
                &format!("/api/v1/products/available?currentProductCode={}", enc(p)),
                &t,
            )
            .await;
        if p.contains('\u{0}') {
            assert_failure(s, &b, 400, "MALFORMED_REQUEST", &what("available"));
        } else {
            assert_eq!(
                (s, &b["data"]["totalCount"]),
                (200, &all),
                "{}: {b}",
                what("available")
            );
        }
        for q in ["lineNumber", "startDate", "endDate", "page", "size"] {
            let (s, b, _) = app
                .get(&format!("/api/v1/products/history?{q}={}", enc(p)), &t)
                .await;
            assert!((400..500).contains(&s) || s == 200, "{}: {s} {b}", what(q));
            if s == 200 {
                assert_eq!(b["data"]["pagination"]["totalElements"], 0, "{b}");
            }
        }
    }
    // Nothing reached KOS or the tables, and they still work: a real change goes through.
    assert_eq!(app.kos_product(HONG).await, "5G-STANDARD-001");
    assert_eq!(history_rows(&app.db).await, 0);
    let (s, b, _) = app
        .post(
            "/api/v1/products/change",
            &t,
            &change_body(HONG, "5G-STANDARD-001", "5G-PREMIUM-001"),
            Some("after-the-attack"),
        )
        .await;
    assert_eq!(
        (s, b["data"]["processStatus"].as_str()),
        (200, Some("COMPLETED")),
        "{b}"
    );
    assert_eq!(history_rows(&app.db).await, 1);
});

// Issue 17 finding 7d (docs/security.md): request ids were one namespace across users, so a
// client-chosen id already used by another user answered `422 IDEMPOTENCY_KEY_REUSED` and told
// that it existed. Now another user's id is just another change, and reads of it are this
// user's own.
backend_tests!(
    another_users_request_id_reveals_nothing,
    |backend| async move {
        let app = spawn_app(backend).await;
        let (hong, kim) = (app.user_token(HONG), app.user_token(KIM));
        let mut a = change_body(HONG, "5G-STANDARD-001", "5G-PREMIUM-001");
        a["requestId"] = json!("shared-choice-1");
        let (s, first, _) = app.post("/api/v1/products/change", &hong, &a, None).await;
        assert_eq!(s, 200, "{first}");
        let hong_rid = first["data"]["requestId"].as_str().unwrap().to_owned();
        // The stranger (another customer) picks the same id for its own line.
        let mut b = change_body(KIM, "LTE-BASIC-001", "LTE-PREMIUM-001");
        b["requestId"] = json!("shared-choice-1");
        let (s, second, _) = app.post("/api/v1/products/change", &kim, &b, None).await;
        assert_eq!(s, 200, "another user's id must not collide: {second}");
        assert_eq!(second["data"]["processStatus"], "COMPLETED", "{second}");
        let kim_rid = second["data"]["requestId"].as_str().unwrap().to_owned();
        assert_ne!(kim_rid, hong_rid);
        // Each reads its own change by the shared name; neither reads the other's by its id.
        for (token, mine, theirs) in [(&hong, &hong_rid, &kim_rid), (&kim, &kim_rid, &hong_rid)] {
            let (s, b, _) = app
                .get("/api/v1/products/change/shared-choice-1", token)
                .await;
            assert_eq!(
                (s, b["data"]["requestId"].as_str()),
                (200, Some(mine.as_str())),
                "{b}"
            );
            let (s, b, _) = app
                .get(&format!("/api/v1/products/change/{theirs}"), token)
                .await;
            assert_failure(s, &b, 404, "REQUEST_NOT_FOUND", "another user's record id");
        }
    }
);
