//! The common KOS client against the real KOS mock (in-memory store, simulation off, faults on)
//! on 127.0.0.1:0: real answers and business codes, and every scripted fault mode maps to the
//! right `KosError` and breaker count.

use std::collections::HashMap;
use std::time::Duration;

use phonebill_common::breaker::{BreakerConfig, BreakerState};
use phonebill_common::config::Env;
use phonebill_common::kos::client::{KosClient, KosClientConfig, KosError};
use phonebill_common::kos::{
    BillInquiryRequest, FaultMode, FaultRequest, ProductChangeRequest, ProductInquiryRequest, paths,
};
use phonebill_common::metrics::Metrics;
use phonebill_common::service::Deps;
use tokio_util::sync::CancellationToken;

struct Mock {
    base: String,
    http: reqwest::Client,
    shutdown: CancellationToken,
}

impl Drop for Mock {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

async fn spawn_mock() -> Mock {
    phonebill_test_support::init_test_logging();
    let env: HashMap<String, String> = [
        ("KOS_SIMULATION", "off"),
        ("KOS_RATE_LIMIT_ENABLED", "false"),
        ("KOS_FAULTS_ENABLED", "true"),
        ("KOS_STORE", "memory"),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", ""),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let config = phonebill_kos_mock::Config::from_env(Env::new(&env)).expect("config");
    let deps = Deps::new();
    let shutdown = deps.shutdown.clone();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let app = phonebill_kos_mock::build(config, deps)
        .await
        .expect("build");
    let ready = tokio::time::timeout(Duration::from_secs(30), app.wait_ready())
        .await
        .expect("seeded in time");
    assert!(ready, "demo data seeded");
    tokio::spawn(phonebill_kos_mock::run(app, listener));
    Mock {
        base: format!("http://{addr}"),
        http: reqwest::Client::new(),
        shutdown,
    }
}

impl Mock {
    async fn fault(&self, endpoint: &str, mode: FaultMode, count: u32, delay_ms: Option<u64>) {
        let r = self
            .http
            .put(format!("{}{}", self.base, paths::ADMIN_FAULTS))
            .json(&FaultRequest {
                endpoint: endpoint.to_owned(),
                mode,
                count: Some(count),
                duration_seconds: None,
                delay_ms,
            })
            .send()
            .await
            .expect("arm fault");
        assert!(r.status().is_success(), "arm fault: {}", r.status());
    }

    fn client(&self, m: &Metrics) -> KosClient {
        let mut cfg = KosClientConfig::new(&self.base, "bill-inquiry-service");
        cfg.read_timeout = Duration::from_millis(500);
        cfg.change_timeout = Duration::from_millis(500);
        cfg.retry_delay = Duration::from_millis(20);
        cfg.breaker = BreakerConfig::default();
        KosClient::new(cfg, m).expect("client")
    }
}

fn bill_req(month: Option<&str>) -> BillInquiryRequest {
    BillInquiryRequest {
        line_number: "01012345678".into(),
        billing_month: month.map(str::to_owned),
        request_id: "REQ_20250914_4F1A9C2B".into(),
    }
}

#[tokio::test]
async fn real_answers_and_business_codes() {
    let mock = spawn_mock().await;
    let m = Metrics::new();
    let c = mock.client(&m);

    let bill = c.bill_inquiry(&bill_req(None)).await.expect("bill");
    let info = bill.bill_info.expect("billInfo");
    assert_eq!(info.line_number, "01012345678");
    assert_eq!(
        info.total_fee,
        info.monthly_fee + info.usage_fee - info.discount_amount
    );

    let months = c.available_months("01012345678").await.expect("months");
    assert_eq!(months.available_months.len(), 6);

    let product = c
        .product_inquiry(&ProductInquiryRequest {
            line_number: "01012345678".into(),
            request_id: "R1".into(),
        })
        .await
        .expect("product");
    assert_eq!(
        product
            .product_info
            .expect("productInfo")
            .current_product_code,
        "5G-STANDARD-001"
    );
    let list = c.product_list().await.expect("list");
    assert_eq!(list.product_count, 6);

    // Business codes are errors for the caller but not for the breaker.
    let e = c
        .bill_inquiry(&BillInquiryRequest {
            line_number: "01000000000".into(),
            billing_month: None,
            request_id: "R2".into(),
        })
        .await
        .expect_err("no such line");
    assert!(
        matches!(&e, KosError::Business { code, .. } if code == "1001"),
        "{e:?}"
    );
    let e = c
        .bill_inquiry(&bill_req(Some("200001")))
        .await
        .expect_err("outside the window");
    assert!(
        matches!(&e, KosError::Business { code, .. } if code == "1003"),
        "{e:?}"
    );
    let e = c
        .available_months("01000000000")
        .await
        .expect_err("unknown line");
    assert!(
        matches!(&e, KosError::Business { code, .. } if code == "1001"),
        "{e:?}"
    );
    assert_eq!(c.breaker().consecutive_failures(), 0);
}

/// Fault mode, its delay, the expected error, breaker failures counted after one call.
type Case = (FaultMode, Option<u64>, fn(&KosError) -> bool, u32);

#[tokio::test]
async fn each_fault_mode_maps_to_its_error_and_breaker_count() {
    let mock = spawn_mock().await;
    let cases: Vec<Case> = vec![
        (
            FaultMode::Timeout,
            Some(2000),
            |e| *e == KosError::Timeout,
            1,
        ),
        (
            FaultMode::Error,
            None,
            |e| {
                *e == KosError::Upstream5xx {
                    status: 500,
                    result_code: Some("9999".into()),
                }
            },
            1,
        ),
        (
            FaultMode::Unavailable,
            None,
            |e| matches!(e, KosError::Upstream5xx { status: 503, .. }),
            1,
        ),
        (
            FaultMode::Malformed,
            None,
            |e| matches!(e, KosError::Malformed(_)),
            0,
        ),
        // Reset: a connection error, so the read is retried once (the fault is armed for two
        // calls): two failures counted.
        (
            FaultMode::Reset,
            None,
            |e| matches!(e, KosError::Connect(_)),
            2,
        ),
    ];
    for (mode, delay, expected, failures) in cases {
        let m = Metrics::new();
        let c = mock.client(&m);
        mock.fault("bill-inquiry", mode, 2, delay).await;
        let e = c.bill_inquiry(&bill_req(None)).await.expect_err("fault");
        assert!(expected(&e), "{mode:?} gave {e:?}");
        assert_eq!(
            c.breaker().consecutive_failures(),
            failures,
            "{mode:?} breaker count"
        );
        // Clear what is left of the scripted fault before the next case.
        let r = mock
            .http
            .delete(format!("{}{}", mock.base, paths::ADMIN_FAULTS))
            .send()
            .await
            .expect("clear");
        assert!(r.status().is_success());
    }
}

#[tokio::test]
async fn reset_once_is_recovered_by_the_retry_and_a_change_is_never_retried() {
    let mock = spawn_mock().await;
    let m = Metrics::new();
    let c = mock.client(&m);
    mock.fault("bill-inquiry", FaultMode::Reset, 1, None).await;
    c.bill_inquiry(&bill_req(None))
        .await
        .expect("second attempt succeeds");
    assert_eq!(c.breaker().consecutive_failures(), 0);

    mock.fault("product-change", FaultMode::Reset, 1, None)
        .await;
    let req = ProductChangeRequest {
        line_number: "01012345678".into(),
        current_product_code: "5G-STANDARD-001".into(),
        target_product_code: "5G-PREMIUM-001".into(),
        request_id: "PCR_20250914_7C2D11AF".into(),
    };
    let e = c.product_change(&req).await.expect_err("not retried");
    assert!(matches!(e, KosError::Connect(_)), "{e:?}");
    // The fault is used up; the same requestId now goes through once.
    let done = c.product_change(&req).await.expect("change");
    assert_eq!(done.result_code, "0000");
}

#[tokio::test]
async fn five_errors_open_the_breaker() {
    let mock = spawn_mock().await;
    let m = Metrics::new();
    let c = mock.client(&m);
    mock.fault("*", FaultMode::Error, 5, None).await;
    for _ in 0..5 {
        c.bill_inquiry(&bill_req(None)).await.expect_err("500");
    }
    assert_eq!(c.breaker().state(), BreakerState::Open);
    let e = c.product_list().await.expect_err("open");
    assert!(matches!(e, KosError::BreakerOpen { .. }), "{e:?}");
    assert_eq!(
        m.breaker_state.with_label_values(&["kos"]).get(),
        1,
        "gauge reports open"
    );
}
