//! The seed's autoscaling metric `product_change_queue_length` (physical-architecture-prod
//! 3.3.2; services/product-change/src/metrics.rs), read from `/actuator/prometheus` over HTTP
//! while a change request waits on a slow KOS.

use std::time::Duration;

use phonebill_test_support::backend_tests;
use serde_json::json;

use crate::HONG;
use crate::helpers::{TestApp, change_body, spawn_app_with};

/// The value of `product_change_queue_length{service="product-change"}` in the exposition.
async fn queue_length(app: &TestApp) -> Option<i64> {
    let text = app
        .client
        .get(format!("{}/actuator/prometheus", app.url))
        .send()
        .await
        .expect("send")
        .text()
        .await
        .expect("text");
    text.lines()
        .find_map(|l| l.strip_prefix(r#"product_change_queue_length{service="product-change"} "#))
        .map(|v| v.trim().parse().expect("integer gauge"))
}

backend_tests!(
    queue_length_counts_change_requests_waiting,
    |backend| async move {
        let app = spawn_app_with(backend, &[("RECONCILE_INTERVAL_SECONDS", "3600")]).await;
        assert_eq!(
            queue_length(&app).await,
            Some(0),
            "the series exists from the start"
        );
        let t = app.user_token(HONG);
        // Other routes do not queue.
        let (s, b, _) = app
            .get(&format!("/api/v1/products/customer/{HONG}"), &t)
            .await;
        assert_eq!(s, 200, "{b}");
        assert_eq!(queue_length(&app).await, Some(0));
        app.fault("product-change", "slow", 1, Some(1200)).await;
        let mut body = change_body(HONG, "5G-STANDARD-001", "5G-PREMIUM-001");
        body["requestId"] = json!("queue-rid-0001");
        let change = {
            let client = app.client.clone();
            let url = format!("{}/api/v1/products/change", app.url);
            tokio::spawn(async move {
                client
                    .post(url)
                    .bearer_auth(t)
                    .json(&body)
                    .send()
                    .await
                    .expect("send")
                    .status()
                    .as_u16()
            })
        };
        let deadline = tokio::time::Instant::now() + Duration::from_secs(1);
        let mut seen = 0;
        while tokio::time::Instant::now() < deadline {
            seen = seen.max(queue_length(&app).await.unwrap_or(0));
            if seen == 1 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(seen, 1, "one change waits on KOS");
        let status = change.await.expect("join");
        assert!(status < 500, "change answered: {status}");
        assert_eq!(
            queue_length(&app).await,
            Some(0),
            "back to 0 when it is answered"
        );
    }
);
