//! Issue 17 (docs/security.md): the mock's doors a stranger could open, probed over HTTP with
//! the production configuration (`KOS_REQUIRE_AUTH=true`, `KOS_MOCK_DATA_ENABLED=false`,
//! rate limits on). Every test here fails on the code before the fix.

use phonebill_test_support::backend_tests;
use serde_json::{Value, json};

use crate::helpers::*;

const KEY: &str = "closed-doors-key";
const READS: [&str; 4] = [
    "/api/v1/kos/mock-datas/customer/product",
    "/api/v1/mock-datas/customer/product",
    "/api/v1/kos/mock-datas/customer/bill",
    "/api/v1/mock-datas/customer/bill",
];

async fn get(
    app: &TestApp,
    path: &str,
    service: Option<&str>,
    bearer: Option<&str>,
) -> (u16, Value) {
    let mut r = app.client.get(app.url(path));
    if let Some(s) = service {
        r = r.header("X-Service-Name", s);
    }
    if let Some(b) = bearer {
        r = r.header("Authorization", format!("Bearer {b}"));
    }
    let r = r.send().await.unwrap();
    let s = r.status().as_u16();
    (s, r.json().await.unwrap_or(Value::Null))
}

// Finding 2: the customer reads answered anyone, with or without credentials, and ignored
// KOS_MOCK_DATA_ENABLED=false.
backend_tests!(customer_reads_need_credentials, |backend| async move {
    let app = spawn_with(
        Some(backend),
        &[("KOS_REQUIRE_AUTH", "true"), ("KOS_API_KEY", KEY)],
    )
    .await;
    for path in READS {
        let q = format!("{path}?lineNumber=01012345678");
        // A stranger: no credential, a guessed one, a service name alone.
        for (svc, key) in [
            (None, None),
            (Some("bill-inquiry-service"), None),
            (Some("bill-inquiry-service"), Some("guess")),
        ] {
            let (s, b) = get(&app, &q, svc, key).await;
            assert_eq!(s, 401, "{path} as a stranger: {b}");
            assert!(b.get("data").is_none_or(Value::is_null), "{path}: {b}");
            assert!(!b.to_string().contains("CU202401001"), "{path} leaked: {b}");
        }
        let (s, b) = get(&app, &q, Some("bill-inquiry-service"), Some(KEY)).await;
        assert_eq!(s, 200, "{path} with the key: {b}");
        assert_eq!(b["data"]["customerId"], "CU202401001", "{path}: {b}");
    }
});

backend_tests!(
    customer_reads_honour_mock_data_disabled,
    |backend| async move {
        let app = spawn_with(Some(backend), &[("KOS_MOCK_DATA_ENABLED", "false")]).await;
        for path in READS {
            let (s, b) = get(&app, &format!("{path}?lineNumber=01012345678"), None, None).await;
            assert_eq!(
                (s, b["errorCode"].as_str()),
                (403, Some("4030")),
                "{path}: {b}"
            );
            assert!(!b.to_string().contains("CU202401001"), "{path} leaked: {b}");
        }
    }
);

// Finding 2 (rate limit) and 4 (key): the reads are rate limited, per peer address when no
// credential is required, and rotating X-Service-Name does not buy a new allowance.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_are_rate_limited_whatever_service_name_is_claimed() {
    let app = spawn_with(
        None,
        &[
            ("KOS_RATE_LIMIT_ENABLED", "true"),
            ("KOS_RATE_LIMIT_MOCK_DATA_PER_MINUTE", "3"),
        ],
    )
    .await;
    let path = "/api/v1/mock-datas/customer/bill?lineNumber=01012345678";
    for i in 0..3 {
        let (s, b) = get(&app, path, Some(&format!("svc-{i}")), None).await;
        assert_eq!(s, 200, "call {i}: {b}");
    }
    let (s, b) = get(&app, path, Some("svc-fresh"), None).await;
    assert_eq!((s, b["resultCode"].as_str()), (429, Some("9429")), "{b}");
}

// Finding 4: the limit was keyed on X-Service-Name before authentication: rotating the header
// bought a fresh allowance per call, and sending `bill-inquiry-service` spent the real
// service's. Now an unauthenticated caller is its peer address, whatever name it claims.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotating_the_service_name_buys_no_allowance() {
    let app = spawn_with(
        None,
        &[
            ("KOS_RATE_LIMIT_ENABLED", "true"),
            ("KOS_RATE_LIMIT_BILL_INQUIRY_PER_MINUTE", "5"),
        ],
    )
    .await;
    let body = json!({ "lineNumber": "01012345678", "requestId": "R" });
    for i in 0..5 {
        let r = app
            .client
            .post(app.url("/api/v1/kos/bill/inquiry"))
            .header("X-Service-Name", format!("rotated-{i}"))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "call {i}");
    }
    for name in ["rotated-fresh", "bill-inquiry-service"] {
        let r = app
            .client
            .post(app.url("/api/v1/kos/bill/inquiry"))
            .header("X-Service-Name", name)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 429, "{name}");
    }
}

// With credentials the limit is per proven service: a second service keeps its own allowance.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authenticated_services_have_their_own_allowance() {
    let app = spawn_with(
        None,
        &[
            ("KOS_REQUIRE_AUTH", "true"),
            ("KOS_API_KEY", KEY),
            ("KOS_RATE_LIMIT_ENABLED", "true"),
            ("KOS_RATE_LIMIT_PRODUCT_LIST_PER_MINUTE", "3"),
        ],
    )
    .await;
    let path = "/api/v1/kos/product/list";
    for _ in 0..3 {
        assert_eq!(
            get(&app, path, Some("bill-inquiry-service"), Some(KEY))
                .await
                .0,
            200
        );
    }
    assert_eq!(
        get(&app, path, Some("bill-inquiry-service"), Some(KEY))
            .await
            .0,
        429
    );
    assert_eq!(
        get(&app, path, Some("product-change-service"), Some(KEY))
            .await
            .0,
        200
    );
}

// Finding 4: guesses at the service key were not throttled.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_guesses_are_throttled_per_address() {
    let app = spawn_with(None, &[("KOS_REQUIRE_AUTH", "true"), ("KOS_API_KEY", KEY)]).await;
    let started = std::time::Instant::now();
    let mut refused = 0;
    for i in 0..20 {
        let (s, _) = app
            .post_json(
                "/api/kos/auth",
                &json!({ "serviceName": "bill-inquiry-service", "apiKey": format!("guess-{i}") }),
            )
            .await;
        assert_eq!(s, 401, "guess {i}");
        refused += 1;
    }
    // Blocked now: even the right key is not looked at, on any endpoint.
    let (s, b) = app
        .post_json(
            "/api/kos/auth",
            &json!({ "serviceName": "bill-inquiry-service", "apiKey": KEY }),
        )
        .await;
    assert_eq!((s, b["resultCode"].as_str()), (429, Some("9429")), "{b}");
    let (s, _) = get(
        &app,
        "/api/v1/kos/product/list",
        Some("bill-inquiry-service"),
        Some(KEY),
    )
    .await;
    assert_eq!(s, 429);
    eprintln!(
        "key guesses: {refused} refused, then blocked, in {} ms",
        started.elapsed().as_millis()
    );
}

// Finding 6: admin, fault and bulk endpoints need the key when KOS_ADMIN_REQUIRES_KEY is set
// (the all-in-one on a non-loopback bind), and bulk creation is capped.
backend_tests!(admin_endpoints_need_the_key, |backend| async move {
    let app = spawn_with(
        Some(backend),
        &[("KOS_ADMIN_REQUIRES_KEY", "true"), ("KOS_API_KEY", KEY)],
    )
    .await;
    let fault = json!({ "endpoint": "bill-inquiry", "mode": "error", "count": 1 });
    let bulk = json!({ "count": 10, "startLineNumber": "01077000000" });
    let send = |method: reqwest::Method, path: &'static str, body: Value, key: bool| {
        let mut r = app.client.request(method, app.url(path)).json(&body);
        if key {
            r = r
                .header("X-Service-Name", "bill-inquiry-service")
                .header("Authorization", format!("Bearer {KEY}"));
        }
        r.send()
    };
    use reqwest::Method;
    for (m, path, body) in [
        (Method::PUT, "/api/v1/kos/admin/faults", fault.clone()),
        (Method::GET, "/api/v1/kos/admin/simulation", Value::Null),
        (Method::POST, "/api/v1/kos/mock-datas/bulk", bulk.clone()),
        (Method::GET, "/api/v1/kos/admin/sms-outbox", Value::Null),
    ] {
        let r = send(m.clone(), path, body.clone(), false).await.unwrap();
        assert_eq!(r.status(), 401, "{m} {path} as a stranger");
    }
    let r = send(Method::POST, "/api/v1/kos/mock-datas/bulk", bulk, true)
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // Over the cap (KOS_BULK_MAX default 10,000): 400 4000, nothing created.
    let over = json!({ "count": 10_001, "startLineNumber": "01078000000" });
    let r = send(Method::POST, "/api/v1/kos/mock-datas/bulk", over, true)
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let b: Value = r.json().await.unwrap();
    assert_eq!(b["errorCode"], "4000", "{b}");
    let (s, _) = app.product("01078000000").await;
    assert_eq!(s, 200);
    let r = send(Method::PUT, "/api/v1/kos/admin/faults", fault, true)
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
});

// The SMS stand-in: delivered to known active lines only; the outbox answers only the key.
backend_tests!(sms_outbox_is_for_key_holders_only, |backend| async move {
    let app = spawn_with(Some(backend), &[("KOS_API_KEY", KEY)]).await;
    let (s, b) = app
        .post_json(
            "/api/v1/kos/sms/send",
            &json!({ "lineNumber": "010-1234-5678", "message": "code 123456", "requestId": "S1" }),
        )
        .await;
    assert_eq!(
        (s, b["data"]["resultCode"].as_str()),
        (200, Some("0000")),
        "{b}"
    );
    let (s, b) = app
        .post_json(
            "/api/v1/kos/sms/send",
            &json!({ "lineNumber": "01099990000", "message": "x", "requestId": "S2" }),
        )
        .await;
    assert_eq!(
        (s, b["data"]["resultCode"].as_str()),
        (200, Some("4001")),
        "{b}"
    );
    let path = "/api/v1/kos/admin/sms-outbox?lineNumber=01012345678";
    for (svc, key) in [(None, None), (Some("bill-inquiry-service"), Some("guess"))] {
        let (s, b) = get(&app, path, svc, key).await;
        assert_eq!(s, 401, "{b}");
        assert!(!b.to_string().contains("123456"), "{b}");
    }
    let (s, b) = get(&app, path, Some("auth-service"), Some(KEY)).await;
    assert_eq!(s, 200, "{b}");
    let msgs = b["data"].as_array().unwrap();
    assert_eq!(msgs.len(), 1, "{b}");
    assert_eq!(msgs[0]["message"], "code 123456");
    assert_eq!(msgs[0]["lineNumber"], "01012345678");
});
