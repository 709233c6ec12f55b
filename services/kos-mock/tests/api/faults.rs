//! Fault injection (docs/api.md §5.7): each mode does what it says.

use std::time::{Duration, Instant};

use phonebill_test_support::{Backend, backend_tests};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::*;

/// Sends a raw HTTP/1.1 request and returns every byte received until the peer closes.
async fn raw_exchange(app: &TestApp, path: &str, body: &str, extra: &str) -> Vec<u8> {
    let mut s = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    let req = format!(
        "POST {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n{extra}Connection: close\r\n\r\n{body}",
        app.addr,
        body.len()
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut buf)).await;
    // Either a clean EOF or a reset: both mean "closed"; a timeout would mean it stayed open.
    assert!(read.is_ok(), "connection neither answered nor closed");
    buf
}

async fn faulted(app: &TestApp, fault: &str, delay: Option<&str>) -> reqwest::Response {
    let mut r = app
        .client
        .post(app.url("/api/v1/kos/bill/inquiry"))
        .header("X-Kos-Fault", fault)
        .json(&json!({ "lineNumber": "01012345678", "requestId": "R" }));
    if let Some(d) = delay {
        r = r.header("X-Kos-Fault-Delay-Ms", d);
    }
    r.send().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn header_faults_error_unavailable_timeout_slow_malformed() {
    let app = spawn_app(Backend::Sqlite).await;
    let r = faulted(&app, "error", None).await;
    assert_eq!(r.status(), 500);
    let b: serde_json::Value = r.json().await.unwrap();
    assert_eq!(
        (b["success"].clone(), b["resultCode"].clone()),
        (json!(false), json!("9999"))
    );
    assert_eq!(b["resultMessage"], "시스템 오류가 발생했습니다");

    let r = faulted(&app, "unavailable", None).await;
    assert_eq!(r.status(), 503);
    assert_eq!(r.headers()["retry-after"], "30");

    let t = Instant::now();
    let r = faulted(&app, "timeout", Some("300")).await;
    assert!(t.elapsed() >= Duration::from_millis(300));
    assert_eq!(r.status(), 500);
    assert_eq!(
        r.json::<serde_json::Value>().await.unwrap()["resultCode"],
        "9999"
    );

    let t = Instant::now();
    let r = faulted(&app, "slow", Some("250")).await;
    assert!(t.elapsed() >= Duration::from_millis(250));
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.json::<serde_json::Value>().await.unwrap()["data"]["resultCode"],
        "0000"
    );

    let r = faulted(&app, "malformed", None).await;
    assert_eq!(r.status(), 200);
    let text = r.text().await.unwrap();
    assert!(
        serde_json::from_str::<serde_json::Value>(&text).is_err(),
        "{text}"
    );

    let r = faulted(&app, "explode", None).await;
    assert_eq!(r.status(), 400);
    assert_eq!(
        r.json::<serde_json::Value>().await.unwrap()["resultCode"],
        "9001"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reset_closes_without_a_status_line() {
    let app = spawn_app(Backend::Sqlite).await;
    let body = r#"{"lineNumber":"01012345678","requestId":"R"}"#;
    let got = raw_exchange(
        &app,
        "/api/v1/kos/bill/inquiry",
        body,
        "X-Kos-Fault: reset\r\n",
    )
    .await;
    assert!(
        !got.starts_with(b"HTTP/"),
        "got a response: {}",
        String::from_utf8_lossy(&got)
    );
    assert!(got.is_empty());
    // Control: the same raw exchange without the fault gets a status line.
    let ok = raw_exchange(&app, "/api/v1/kos/bill/inquiry", body, "").await;
    assert!(
        ok.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&ok)
    );
    // reqwest sees a transport error, not a status.
    assert!(
        app.client
            .post(app.url("/api/v1/kos/bill/inquiry"))
            .header("X-Kos-Fault", "reset")
            .json(&json!({ "lineNumber": "01012345678", "requestId": "R" }))
            .send()
            .await
            .is_err()
    );
}

backend_tests!(lost_response_applies_the_change, |backend| async move {
    let app = spawn_app(backend).await;
    let body = r#"{"lineNumber":"01012345678","currentProductCode":"5G-STANDARD-001","targetProductCode":"LTE-BASIC-001","requestId":"PCR_LOST"}"#;
    let got = raw_exchange(
        &app,
        "/api/v1/kos/product/change",
        body,
        "X-Kos-Fault: lost-response\r\n",
    )
    .await;
    assert!(got.is_empty(), "{}", String::from_utf8_lossy(&got));
    let (_, p) = app.product("01012345678").await;
    assert_eq!(
        p["data"]["productInfo"]["currentProductCode"],
        "LTE-BASIC-001"
    );
    // The retry with the same requestId gets the stored success.
    let (_, again) = app
        .change(
            "01012345678",
            "5G-STANDARD-001",
            "LTE-BASIC-001",
            "PCR_LOST",
        )
        .await;
    assert_eq!(again["data"]["resultCode"], "0000");
    assert_eq!(
        again["data"]["changeInfo"]["newProductCode"],
        "LTE-BASIC-001"
    );
    // Other faults never change data.
    let r = app
        .client
        .post(app.url("/api/v1/kos/product/change"))
        .header("X-Kos-Fault", "error")
        .json(&json!({ "lineNumber": "01012345678", "currentProductCode": "LTE-BASIC-001", "targetProductCode": "5G-PREMIUM-001", "requestId": "PCR_ERR" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 500);
    let (_, p) = app.product("01012345678").await;
    assert_eq!(
        p["data"]["productInfo"]["currentProductCode"],
        "LTE-BASIC-001"
    );
});

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scripted_faults_count_duration_list_clear() {
    let app = spawn_app(Backend::Sqlite).await;
    let (s, b) = app
        .put_json(
            "/api/v1/kos/admin/faults",
            &json!({ "endpoint": "bill-inquiry", "mode": "error", "count": 2 }),
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(b["data"][0]["remainingCount"], 2);
    // Other endpoints are not affected.
    assert_eq!(app.product("01012345678").await.0, 200);
    assert_eq!(app.bill("01012345678", None).await.0, 500);
    let (_, list) = app.get_json("/api/v1/kos/admin/faults").await;
    assert_eq!(list["data"][0]["remainingCount"], 1);
    assert_eq!(app.bill("01012345678", None).await.0, 500);
    assert_eq!(app.bill("01012345678", None).await.0, 200);
    let (_, list) = app.get_json("/api/v1/kos/admin/faults").await;
    assert_eq!(list["data"], json!([]));
    // Wildcard with a duration, then cleared.
    let (s, _) = app
        .put_json(
            "/api/v1/kos/admin/faults",
            &json!({ "endpoint": "*", "mode": "unavailable", "durationSeconds": 60 }),
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(app.product("01012345678").await.0, 503);
    assert_eq!(app.bill("01012345678", None).await.0, 503);
    let r = app
        .client
        .delete(app.url("/api/v1/kos/admin/faults"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(app.bill("01012345678", None).await.0, 200);
    // Scripted timeout honours its delay.
    app.put_json(
        "/api/v1/kos/admin/faults",
        &json!({ "endpoint": "bill-inquiry", "mode": "timeout", "count": 1, "delayMs": 200 }),
    )
    .await;
    let t = Instant::now();
    assert_eq!(app.bill("01012345678", None).await.0, 500);
    assert!(t.elapsed() >= Duration::from_millis(200));
    let (s, b) = app
        .put_json(
            "/api/v1/kos/admin/faults",
            &json!({ "endpoint": "nope", "mode": "error" }),
        )
        .await;
    assert_eq!((s, &b["resultCode"]), (400, &json!("9001")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_disabled_ignores_the_header() {
    let app = spawn_with(None, &[("KOS_FAULTS_ENABLED", "false")]).await;
    assert_eq!(faulted(&app, "error", None).await.status(), 200);
    let (s, _) = app
        .put_json(
            "/api/v1/kos/admin/faults",
            &json!({ "endpoint": "*", "mode": "error" }),
        )
        .await;
    assert_eq!(s, 403);
}

/// Found by the API fuzz run: a `durationSeconds` near `u64::MAX` overflowed the expiry instant
/// and the handler panicked into a `500`. Out-of-range values are a `400 9001` now, and nothing
/// is armed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn out_of_range_fault_durations_are_rejected_not_a_panic() {
    let app = spawn_app(Backend::Sqlite).await;
    for body in [
        json!({ "endpoint": "bill-inquiry", "mode": "error", "durationSeconds": 9_223_372_036_854_775_806u64 }),
        json!({ "endpoint": "bill-inquiry", "mode": "error", "durationSeconds": 0 }),
        json!({ "endpoint": "*", "mode": "slow", "count": 1, "delayMs": u64::MAX }),
    ] {
        let r = app
            .client
            .put(app.url("/api/v1/kos/admin/faults"))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400, "{body}");
        let b: serde_json::Value = r.json().await.unwrap();
        assert_eq!(b["resultCode"], "9001", "{b}");
    }
    let r = app
        .client
        .get(app.url("/api/v1/kos/admin/faults"))
        .send()
        .await
        .unwrap();
    let b: serde_json::Value = r.json().await.unwrap();
    assert_eq!(b["data"], json!([]), "nothing armed: {b}");
    // The longest allowed duration is accepted.
    let r = app
        .client
        .put(app.url("/api/v1/kos/admin/faults"))
        .json(&json!({ "endpoint": "bill-inquiry", "mode": "error", "durationSeconds": 86_400 }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}
