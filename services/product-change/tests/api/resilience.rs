//! KOS outages over real HTTP: the breaker open before the change (docs/api.md §4.6 rule 8) and the
//! stale-copy rule of the customer look-up (docs/api.md §3.4), with faults scripted at the real kos-mock.

use phonebill_common::line::LineNumber;
use phonebill_test_support::backend_tests;
use serde_json::json;

use crate::helpers::{change_body, spawn_app_with};
use crate::{HONG, KIM};

/// A breaker that opens on the first failure, so one scripted fault opens it.
const FRAGILE: &[(&str, &str)] = &[("BREAKER_FAILURE_THRESHOLD", "1")];

fn retry_after(h: &reqwest::header::HeaderMap) -> u64 {
    h.get("retry-after")
        .expect("Retry-After")
        .to_str()
        .expect("ASCII")
        .parse()
        .expect("seconds")
}

backend_tests!(
    breaker_open_before_the_change_fails_it,
    |backend| async move {
        let app = spawn_app_with(backend, FRAGILE).await;
        let t = app.user_token(HONG);
        // Warm the line and the catalogue, then age their fresh copies out (stale copies stay).
        let (s, b, _) = app
            .get(&format!("/api/v1/products/customer/{HONG}"), &t)
            .await;
        assert_eq!(s, 200, "{b}");
        let (s, _, _) = app
            .get(
                "/api/v1/products/available?currentProductCode=5G-STANDARD-001",
                &t,
            )
            .await;
        assert_eq!(s, 200);
        app.service
            .expire_fresh(&LineNumber::parse(HONG).unwrap())
            .await;
        // The fresh line read succeeds; the catalogue reload fails and opens the breaker (the
        // stale catalogue serves the pre-checks), so the breaker is open when the change is due.
        app.fault("product-list", "error", 1, None).await;
        let mut body = change_body(HONG, "5G-STANDARD-001", "5G-PREMIUM-001");
        body["requestId"] = json!("breaker-rid-0001");
        let (s, b, h) = app.post("/api/v1/products/change", &t, &body, None).await;
        assert_eq!(s, 503, "{b}");
        assert_eq!(b["error"]["code"], "KOS_UNAVAILABLE");
        assert!((1..=60).contains(&retry_after(&h)));
        let (s, b, _) = app
            .get("/api/v1/products/change/breaker-rid-0001", &t)
            .await;
        assert_eq!(s, 200, "{b}");
        assert_eq!(b["data"]["processStatus"], "FAILED");
        assert_eq!(b["data"]["resultCode"], "E_KOS_UNAVAILABLE");
        assert!(b["data"].get("changedProduct").is_none());
        assert_eq!(app.kos_product(HONG).await, "5G-STANDARD-001");
        // Still open: the next attempt stops at the fresh read, before any row is written.
        app.clear_faults().await;
        let (s, b, h) = app
            .post(
                "/api/v1/products/change",
                &t,
                &change_body(HONG, "5G-STANDARD-001", "5G-PREMIUM-001"),
                None,
            )
            .await;
        assert_eq!(s, 503, "{b}");
        assert_eq!(b["error"]["code"], "KOS_UNAVAILABLE");
        assert!((1..=60).contains(&retry_after(&h)));
        let (s, b, _) = app.get("/api/v1/products/history", &t).await;
        assert_eq!(s, 200, "{b}");
        assert_eq!(b["data"]["pagination"]["totalElements"], 1);
        assert_eq!(app.kos_product(HONG).await, "5G-STANDARD-001");
    }
);

backend_tests!(
    customer_lookup_serves_the_stale_copy,
    |backend| async move {
        let app = spawn_app_with(backend, FRAGILE).await;
        let t = app.user_token(HONG);
        let path = format!("/api/v1/products/customer?lineNumber={HONG}");
        let (s, b, h) = app.get(&path, &t).await;
        assert_eq!(s, 200, "{b}");
        assert!(b["data"].get("stale").is_none());
        assert!(h.get("warning").is_none());
        app.service
            .expire_fresh(&LineNumber::parse(HONG).unwrap())
            .await;
        // KOS 5xx after a successful look-up: the stale copy, marked (this failure opens the breaker).
        app.fault("product-inquiry", "error", 1, None).await;
        for _ in 0..2 {
            // Second round: the breaker is open; same rule.
            let (s, b, h) = app.get(&path, &t).await;
            assert_eq!(s, 200, "{b}");
            assert_eq!(b["data"]["stale"], true);
            assert!(b["data"]["cachedAt"].is_string(), "{b}");
            assert_eq!(
                b["data"]["currentProduct"]["productCode"],
                "5G-STANDARD-001"
            );
            assert_eq!(h.get("warning").unwrap(), "110 - \"stale\"");
        }
        // No copy at all: 503 with Retry-After.
        let other = app.user_token(KIM);
        let (s, b, h) = app
            .get(&format!("/api/v1/products/customer/{KIM}"), &other)
            .await;
        assert_eq!(s, 503, "{b}");
        assert_eq!(b["error"]["code"], "KOS_UNAVAILABLE");
        assert!((1..=60).contains(&retry_after(&h)));
        app.clear_faults().await;
    }
);

backend_tests!(
    a_client_that_goes_away_does_not_strand_the_change,
    |backend| async move {
        // Reconciliation far away: only the request itself may finish the change.
        let app = spawn_app_with(backend, &[("RECONCILE_INTERVAL_SECONDS", "3600")]).await;
        let t = app.user_token(HONG);
        // KOS takes 800 ms to change; the client gives up after 150 ms and closes the connection.
        app.fault("product-change", "slow", 1, Some(800)).await;
        let mut body = change_body(HONG, "5G-STANDARD-001", "5G-PREMIUM-001");
        body["requestId"] = json!("gone-rid-0001");
        let impatient = reqwest::Client::builder()
            .timeout(std::time::Duration::from_millis(150))
            .build()
            .unwrap();
        let sent = impatient
            .post(format!("{}/api/v1/products/change", app.url))
            .bearer_auth(&t)
            .json(&body)
            .send()
            .await;
        assert!(sent.is_err(), "the client must have timed out");
        // The change still completes, long before any reconciliation pass.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let (s, b, _) = app.get("/api/v1/products/change/gone-rid-0001", &t).await;
            if s == 200 && b["data"]["processStatus"] == "COMPLETED" {
                break;
            }
            assert!(std::time::Instant::now() < deadline, "still {s} {b}");
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        assert_eq!(app.kos_product(HONG).await, "5G-PREMIUM-001");
    }
);
