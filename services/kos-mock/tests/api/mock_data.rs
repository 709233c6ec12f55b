//! Mock-data creation and lookup (docs/api.md §5.6), bulk extension.

use std::time::Instant;

use phonebill_test_support::backend_tests;
use serde_json::json;

use crate::helpers::*;

const DEFAULTS: [&str; 4] = [
    "5G-STANDARD-001",
    "LTE-BASIC-001",
    "5G-PREMIUM-001",
    "LTE-PREMIUM-001",
];

backend_tests!(create_and_look_up, |backend| async move {
    let app = spawn_app(backend).await;
    let line = "01012349999";
    let product = DEFAULTS[(fnv(line) % 4) as usize];
    let (s, b) = app
        .post_json(
            "/api/v1/kos/mock-datas",
            &json!({ "customerId": "123456aB3dE5fG7hI9jK", "lineNumber": "010-1234-9999" }),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["success"], true);
    assert_eq!(b["message"], "Mock 데이터가 성공적으로 생성되었습니다");
    assert!(b["timestamp"].is_i64());
    assert_eq!(b["data"]["customer_id"], "123456aB3dE5fG7hI9jK");
    assert_eq!(b["data"]["line_number"], line);
    assert_eq!(b["data"]["current_product_code"], product);
    assert_eq!(b["data"]["bill_count_created"], 6);
    // The new line answers KOS calls with formula bills.
    for back in 0..6 {
        let ym = month_back(back);
        let (_, bill) = app.bill(line, Some(&ym)).await;
        assert_subset(
            &bill["data"]["billInfo"],
            &expected_bill(line, &ym, product, back == 0),
        );
        assert_eq!(bill["data"]["customerInfo"]["customerName"], "고객9999");
    }
    // Duplicate → 400 / 4000.
    let (s, dup) = app
        .post_json(
            "/api/v1/mock-datas",
            &json!({ "customerId": "123456aB3dE5fG7hI9jK", "lineNumber": line }),
        )
        .await;
    assert_eq!(
        (s, &dup["errorCode"], &dup["success"]),
        (400, &json!("4000"), &json!(false))
    );
    assert_eq!(
        dup["message"],
        "이미 존재하는 고객 정보입니다: 123456aB3dE5fG7hI9jK, 01012349999"
    );
    // Validation → 400 / 4000; explicit product must be an active KT product.
    for body in [
        json!({ "lineNumber": "01012340000" }),
        json!({ "customerId": "C", "lineNumber": "0101234" }),
        json!({ "customerId": "123456789012345678901", "lineNumber": "01012340000" }),
        json!({ "customerId": "C", "lineNumber": "01012340000", "productCode": "3G-OLD-001" }),
        json!({ "customerId": "C", "lineNumber": "01012340000", "productCode": "LGU-LTE-001" }),
    ] {
        let (s, b) = app.post_json("/api/v1/kos/mock-datas", &body).await;
        assert_eq!((s, &b["errorCode"]), (400, &json!("4000")), "{body}");
    }
    let (s, b) = app
        .post_json("/api/v1/kos/mock-datas", &json!({ "customerId": "C2", "lineNumber": "01012340001", "productCode": "LTE-PREMIUM-001", "customerName": "테스터" }))
        .await;
    assert_eq!(s, 200);
    assert_eq!(b["data"]["current_product_code"], "LTE-PREMIUM-001");
    // Lookups, both paths.
    for path in [
        "/api/v1/kos/mock-datas/customer/product",
        "/api/v1/mock-datas/customer/product",
    ] {
        let (s, p) = app
            .get_json(&format!("{path}?customerId=C2&lineNumber=01012340001"))
            .await;
        assert_eq!(s, 200);
        assert_eq!(p["data"]["currentProductCode"], "LTE-PREMIUM-001");
        assert_eq!(p["data"]["monthlyFee"], 59000);
        assert_eq!(p["data"]["lineStatus"], "ACTIVE");
        let (s, nf) = app
            .get_json(&format!("{path}?customerId=OTHER&lineNumber=01012340001"))
            .await;
        assert_eq!(
            (s, &nf["success"], &nf["errorCode"]),
            (200, &json!(false), &json!("1001"))
        );
    }
    for path in [
        "/api/v1/kos/mock-datas/customer/bill",
        "/api/v1/mock-datas/customer/bill",
    ] {
        let (_, b) = app
            .get_json(&format!(
                "{path}?customerId=CU202401001&lineNumber=01012345678"
            ))
            .await;
        assert_eq!(b["data"]["billCount"], 6);
        assert_eq!(b["data"]["bills"][0]["billingMonth"], month_back(0));
        let expected = expected_bill("01012345678", &month_back(0), "5G-STANDARD-001", true);
        assert_eq!(b["data"]["bills"][0]["totalFee"], expected["totalFee"]);
        let (_, nf) = app
            .get_json(&format!("{path}?lineNumber=01000000000"))
            .await;
        assert_eq!(nf["errorCode"], "1002");
    }
});

// The line cache (store::cached) remembers unknown numbers too: creating a line through the
// mock must make it visible to the very next inquiry, also after it was asked for and missed.
backend_tests!(
    created_lines_are_visible_after_a_miss,
    |backend| async move {
        let app = spawn_app(backend).await;
        let line = "01012340001";
        assert_eq!(app.bill(line, None).await.1["data"]["resultCode"], "1001");
        let (s, b) = app
            .post_json(
                "/api/v1/kos/mock-datas",
                &json!({ "customerId": "CACHE-1", "lineNumber": line }),
            )
            .await;
        assert_eq!(s, 200, "{b}");
        let product = DEFAULTS[(fnv(line) % 4) as usize];
        let (_, bill) = app.bill(line, None).await;
        assert_eq!(bill["data"]["resultCode"], "0000", "{bill}");
        assert_subset(
            &bill["data"]["billInfo"],
            &expected_bill(line, &month_back(0), product, true),
        );
        // Same through the bulk path.
        let first = "01060000000";
        assert_eq!(app.bill(first, None).await.1["data"]["resultCode"], "1001");
        let (s, b) = app
            .post_json(
                "/api/v1/kos/mock-datas/bulk",
                &json!({ "count": 3, "startLineNumber": first }),
            )
            .await;
        assert_eq!(s, 200, "{b}");
        assert_eq!(app.bill(first, None).await.1["data"]["resultCode"], "0000");
        let (s, p) = app.product(first).await;
        assert_eq!((s, &p["data"]["resultCode"]), (200, &json!("0000")), "{p}");
    }
);

backend_tests!(bulk_creation_of_thousands_of_lines, |backend| async move {
    let app = spawn_app(backend).await;
    let t = Instant::now();
    let (s, b) = app
        .post_json(
            "/api/v1/kos/mock-datas/bulk",
            &json!({ "count": 5000, "startLineNumber": "010-5000-0000" }),
        )
        .await;
    let took = t.elapsed();
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["data"]["created_count"], 5000);
    assert_eq!(b["data"]["last_line_number"], "01050004999");
    assert!(took.as_secs() < 20, "bulk took {took:?}");
    for line in ["01050000000", "01050002500", "01050004999"] {
        let product = DEFAULTS[(fnv(line) % 4) as usize];
        let (_, bill) = app.bill(line, None).await;
        assert_subset(
            &bill["data"]["billInfo"],
            &expected_bill(line, &month_back(0), product, true),
        );
    }
    assert_eq!(
        app.bill("01050005000", None).await.1["data"]["resultCode"],
        "1001"
    );
    // Overlapping range: existing lines are skipped.
    let (_, again) = app
        .post_json(
            "/api/v1/kos/mock-datas/bulk",
            &json!({ "count": 10, "startLineNumber": "01050004995" }),
        )
        .await;
    assert_eq!(
        (
            again["data"]["created_count"].clone(),
            again["data"]["skipped_count"].clone()
        ),
        (json!(5), json!(5))
    );
    let (s, bad) = app
        .post_json(
            "/api/v1/kos/mock-datas/bulk",
            &json!({ "count": 10, "startLineNumber": "01099999995" }),
        )
        .await;
    assert_eq!((s, &bad["errorCode"]), (400, &json!("4000")));
});

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mock_data_can_be_disabled() {
    let app = spawn_with(None, &[("KOS_MOCK_DATA_ENABLED", "false")]).await;
    let (s, b) = app
        .post_json(
            "/api/v1/kos/mock-datas",
            &json!({ "customerId": "C", "lineNumber": "01012340000" }),
        )
        .await;
    assert_eq!((s, &b["errorCode"]), (403, &json!("4030")));
    assert_eq!(b["message"], "Mock 데이터 생성 권한이 없습니다");
}
