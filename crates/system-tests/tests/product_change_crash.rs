//! `product-change-service` killed with SIGKILL between the outbox write and the KOS answer
//! (docs/api.md §4.6 rules 5 and 9, reconciliation), with real `auth-service`, `kos-mock-service` and
//! `product-change-service` processes.
//!
//! The mock holds every product-change call (scripted `timeout` fault, 60 s), so once the
//! change's row is `PROCESSING` the process is inside the KOS call; it is then killed (SIGKILL). KOS
//! is healed and the service restarted on the same database: its start-up reconciliation
//! re-sends the change with the same `requestId`, the row becomes `COMPLETED`, and KOS shows
//! the line on the target product, changed exactly once (one history row, no `2006`/`2007`
//! answers from KOS, a new change from the old product is a conflict).

use std::time::{Duration, Instant};

use phonebill_system_tests::{Stack, bounded, metric_sum};
use serde_json::json;

const LINE: &str = "01012345678";
const FROM: &str = "5G-STANDARD-001";
const TO: &str = "5G-PREMIUM-001";
const RID: &str = "sys-crash-0001";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_inside_the_kos_call_is_reconciled_exactly_once_after_restart() {
    bounded(Duration::from_secs(90), async {
        let stack = Stack::new();
        let (auth, kos) = tokio::join!(stack.auth(&[]), stack.kos(&[]));
        let mut env = Stack::client_env(&auth, &kos);
        env.push(("RECONCILE_INTERVAL_SECONDS".into(), "1".into()));
        let mut product = stack
            .start("product-change-service", "product", 0, &env)
            .await
            .expect("product-change-service ready");
        let token = stack.token(&auth).await;

        // KOS holds every change call.
        let r = stack
            .http
            .put(
                &kos.url("/api/v1/kos/admin/faults"),
                &json!({ "endpoint": "product-change", "mode": "timeout", "durationSeconds": 60, "delayMs": 60000 }),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);

        let change = {
            let http = stack.http.clone();
            let url = product.url("/api/v1/products/change");
            let token = token.clone();
            tokio::spawn(async move {
                http.send(
                    reqwest::Method::POST,
                    &url,
                    Some(&token),
                    Some(&json!({ "lineNumber": LINE, "currentProductCode": FROM, "targetProductCode": TO, "requestId": RID })),
                )
                .await
            })
        };
        // The outbox row exists (PROCESSING) only once the pre-checks passed; the KOS call
        // follows at once and hangs.
        let status_url = product.url(&format!("/api/v1/products/change/{RID}"));
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let r = stack.http.get(&status_url, Some(&token)).await;
            if r.status == 200 {
                assert_eq!(r.body["data"]["processStatus"], "PROCESSING", "{}", r.body);
                break;
            }
            assert!(Instant::now() < deadline, "the change never reached the outbox");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(!change.is_finished(), "the change call must still be waiting on KOS");
        product.proc.sigkill();
        let killed = Instant::now();
        let answer = tokio::time::timeout(Duration::from_secs(5), change)
            .await
            .expect("client sees the crash")
            .expect("join");
        assert!(answer.is_err(), "no answer from a killed process: {answer:?}");
        drop(product);

        // Heal KOS; restart on the same database (same DATA_DIR → same SQLite file).
        let r = stack
            .http
            .delete(&kos.url("/api/v1/kos/admin/faults"))
            .await;
        assert_eq!(r.status, 200);
        let product = stack
            .start("product-change-service", "product", 0, &env)
            .await
            .expect("product-change-service restarted");
        let status_url = product.url(&format!("/api/v1/products/change/{RID}"));
        let deadline = Instant::now() + Duration::from_secs(15);
        let done = loop {
            let r = stack.http.get(&status_url, Some(&token)).await;
            assert_eq!(r.status, 200, "{}", r.body);
            if r.body["data"]["processStatus"] == "COMPLETED" {
                break r.body;
            }
            assert_eq!(r.body["data"]["processStatus"], "PROCESSING", "{}", r.body);
            assert!(Instant::now() < deadline, "the change was never reconciled");
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        let reconciled_after = killed.elapsed();
        assert_eq!(done["data"]["resultCode"], "0000");
        assert_eq!(done["data"]["targetProductCode"], TO);

        // KOS state: the line is on the target product.
        let r = stack
            .http
            .get(
                &kos.url(&format!(
                    "/api/v1/kos/mock-datas/customer/product?customerId=CU202401001&lineNumber={LINE}"
                )),
                None,
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        let kos_product = r.body["data"]["currentProductCode"].clone();
        assert_eq!(kos_product, TO, "{}", r.body);
        // Exactly once: one change in the history, KOS never refused a second application
        // (2006: current product no longer matches; 2007: requestId reused with another body).
        let h = stack
            .http
            .get(
                &product.url(&format!("/api/v1/products/history?lineNumber={LINE}")),
                Some(&token),
            )
            .await;
        assert_eq!(h.status, 200, "{}", h.body);
        let items = h.body["data"]["history"].as_array().expect("history").clone();
        assert_eq!(items.len(), 1, "{}", h.body);
        assert_eq!(items[0]["processStatus"], "COMPLETED");
        let text = kos.metrics(&stack.http).await;
        let applied = metric_sum(
            &text,
            "kos_mock_requests_total",
            &[("endpoint", "product-change"), ("result_code", "0000")],
        );
        for code in ["2006", "2007"] {
            assert_eq!(
                metric_sum(
                    &text,
                    "kos_mock_requests_total",
                    &[("endpoint", "product-change"), ("result_code", code)]
                ),
                0.0,
                "KOS answered {code}: the change was attempted as a different change"
            );
        }
        assert!(applied >= 1.0, "KOS applied the change");
        // A retry of the same change from the old product is now a conflict.
        let again = stack
            .http
            .post(
                &product.url("/api/v1/products/change"),
                Some(&token),
                &json!({ "lineNumber": LINE, "currentProductCode": FROM, "targetProductCode": TO }),
            )
            .await;
        assert_eq!(again.status, 409, "{}", again.body);
        assert_eq!(again.code(), "PRODUCT_CHANGE_CONFLICT");
        println!(
            "FIGURES product-change-crash killed_inside_kos_call=true reconciled_after_kill_ms={} \
             kos_product={kos_product} history_rows=1 kos_change_answers_0000={applied} \
             kos_2006_2007=0",
            reconciled_after.as_millis()
        );
    })
    .await;
}
