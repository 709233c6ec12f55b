//! The seed's autoscaling metric `bill_inquiry_active_connections` (physical-architecture-prod
//! 3.3.2; services/bill-inquiry/src/metrics.rs), read from `/actuator/prometheus` over HTTP
//! while a request is held open by a slow KOS.

use std::time::Duration;

use phonebill_test_support::backend_tests;
use serde_json::json;

use crate::helpers::*;

/// The value of `bill_inquiry_active_connections{service="bill-inquiry"}` in the exposition.
async fn active(app: &TestApp) -> Option<i64> {
    let text = app
        .client
        .get(format!("{}/actuator/prometheus", app.base))
        .send()
        .await
        .expect("send")
        .text()
        .await
        .expect("text");
    text.lines()
        .find_map(|l| l.strip_prefix(r#"bill_inquiry_active_connections{service="bill-inquiry"} "#))
        .map(|v| v.trim().parse().expect("integer gauge"))
}

backend_tests!(
    active_connections_counts_requests_in_progress,
    |backend| async move {
        let app = spawn_with(backend, &[("INQUIRY_SYNC_BUDGET_MS", "5000")]).await;
        assert_eq!(
            active(&app).await,
            Some(0),
            "the series exists from the start"
        );
        app.kos
            .as_ref()
            .unwrap()
            .fault(
                json!({ "endpoint": "bill-inquiry", "mode": "slow", "count": 1, "delayMs": 1500 }),
            )
            .await;
        let token = app.token(&MVNO001);
        let body = json!({ "lineNumber": MVNO001.line, "inquiryMonth": month_back(1) });
        let slow = {
            let client = app.client.clone();
            let url = format!("{}/api/v1/bills/inquiry", app.base);
            tokio::spawn(async move {
                client
                    .post(url)
                    .bearer_auth(token)
                    .json(&body)
                    .send()
                    .await
                    .expect("send")
                    .status()
                    .as_u16()
            })
        };
        // While KOS holds the inquiry, this pod serves one request (the scrape itself is an
        // operational route and does not count).
        let deadline = tokio::time::Instant::now() + Duration::from_secs(1);
        let mut seen = 0;
        while tokio::time::Instant::now() < deadline {
            seen = seen.max(active(&app).await.unwrap_or(0));
            if seen == 1 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(seen, 1, "one inquiry in progress");
        assert_eq!(slow.await.expect("join"), 200);
        assert_eq!(active(&app).await, Some(0), "back to 0 when it is answered");
    }
);
