//! Bill inquiry and available months (docs/api.md §5.3.1, 5.3.4, 5.5).

use phonebill_test_support::{Backend, backend_tests};
use serde_json::json;

use crate::helpers::*;

const DEMO: [(&str, &str); 4] = [
    ("01012345678", "5G-STANDARD-001"),
    ("01012347777", "5G-PREMIUM-001"),
    ("01098765432", "LTE-BASIC-001"),
    ("01077778888", "3G-OLD-001"),
];

backend_tests!(
    demo_bills_match_the_formula_for_every_month,
    |backend| async move {
        let app = spawn_app(backend).await;
        for (line, product) in DEMO {
            for back in 0..6 {
                let ym = month_back(back);
                let (status, body) = app.bill(line, Some(&ym)).await;
                assert_eq!(status, 200);
                assert_eq!(body["success"], true);
                assert_eq!(body["resultCode"], "0000");
                assert_eq!(body["data"]["resultCode"], "0000", "{body}");
                assert_eq!(body["data"]["procStatus"], "SUCCESS");
                assert_eq!(body["data"]["requestId"], "REQ_T");
                assert_subset(
                    &body["data"]["billInfo"],
                    &expected_bill(line, &ym, product, back == 0),
                );
                assert_eq!(body["data"]["customerInfo"]["lineStatus"], "ACTIVE");
                assert_eq!(body["data"]["customerInfo"]["operatorCode"], "KT");
            }
        }
        // Default month = current month; dashes accepted; the seed alias behaves the same.
        let (_, default) = app.bill("010-1234-5678", None).await;
        assert_subset(
            &default["data"]["billInfo"],
            &expected_bill("01012345678", &month_back(0), "5G-STANDARD-001", true),
        );
        let (s, alias) = app
            .post_json(
                "/api/kos/bill-inquiry",
                &json!({ "lineNumber": "01012345678", "requestId": "REQ_T" }),
            )
            .await;
        assert_eq!(s, 200);
        assert_eq!(alias["data"]["billInfo"], default["data"]["billInfo"]);
        assert_eq!(default["data"]["customerInfo"]["customerName"], "홍길동");
        assert_eq!(default["data"]["customerInfo"]["customerId"], "CU202401001");
        assert!(default["traceId"].as_str().is_some_and(|t| !t.is_empty()));
        assert!(
            default["timestamp"]
                .as_str()
                .is_some_and(|t| t.ends_with("+09:00"))
        );
    }
);

backend_tests!(bill_business_failures, |backend| async move {
    let app = spawn_app(backend).await;
    let check = |body: serde_json::Value, code: &str| {
        assert_eq!(body["success"], true, "{body}");
        assert_eq!(body["data"]["resultCode"], code, "{body}");
        assert_eq!(body["data"]["procStatus"], "FAILED");
        assert!(body["data"].get("billInfo").is_none());
    };
    check(app.bill("01000000000", None).await.1, "1001");
    check(app.bill("01055556666", None).await.1, "1002");
    check(
        app.bill("01012345678", Some(&month_back(6))).await.1,
        "1003",
    );
    check(app.bill("01012345678", Some("209901")).await.1, "1003");
});

backend_tests!(
    bill_validation_errors_use_the_kos_envelope,
    |backend| async move {
        let app = spawn_app(backend).await;
        let cases = [
            (json!({ "requestId": "R" }), "9001"),
            (
                json!({ "lineNumber": "01112345678", "requestId": "R" }),
                "9001",
            ),
            (json!({ "lineNumber": "01012345678" }), "9001"),
            (
                json!({ "lineNumber": "01012345678", "requestId": "R", "billingMonth": "202513" }),
                "9001",
            ),
            (
                json!({ "lineNumber": 1012345678, "requestId": "R" }),
                "9004",
            ),
        ];
        for (body, code) in cases {
            let (s, b) = app.post_json("/api/v1/kos/bill/inquiry", &body).await;
            assert_eq!(s, 400, "{body}");
            assert_eq!(b["success"], false);
            assert_eq!(b["resultCode"], code, "{body} → {b}");
            assert!(
                b["resultMessage"]
                    .as_str()
                    .unwrap()
                    .starts_with("입력값이 올바르지 않습니다")
            );
            assert!(
                !b.to_string().contains("1012345678\""),
                "line number echoed: {b}"
            );
        }
        let r = app
            .client
            .post(app.url("/api/v1/kos/bill/inquiry"))
            .header("content-type", "application/json")
            .body("{not json")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400);
        let b: serde_json::Value = r.json().await.unwrap();
        assert_eq!(b["resultCode"], "9003");
    }
);

backend_tests!(available_months, |backend| async move {
    let app = spawn_app(backend).await;
    let (s, b) = app
        .get_json("/api/v1/kos/bill/available-months/01012345678")
        .await;
    assert_eq!(s, 200);
    assert_eq!(b["success"], true);
    assert_eq!(
        b["resultMessage"],
        "데이터 보유 월 목록 조회가 완료되었습니다"
    );
    let expected: Vec<String> = (0..6)
        .map(|i| {
            let m = month_back(i);
            format!("{}-{}", &m[..4], &m[4..])
        })
        .collect();
    assert_eq!(b["data"]["availableMonths"], json!(expected));
    assert_eq!(b["data"]["lineNumber"], "01012345678");
    let (_, b) = app
        .get_json("/api/v1/kos/bill/available-months/010-1234-5678")
        .await;
    assert_eq!(b["data"]["availableMonths"].as_array().unwrap().len(), 6);
    let (s, b) = app
        .get_json("/api/v1/kos/bill/available-months/01000000000")
        .await;
    assert_eq!(
        (s, &b["success"], &b["resultCode"]),
        (200, &json!(false), &json!("1001"))
    );
    assert_eq!(b["resultMessage"], "존재하지 않는 회선번호입니다");
    assert_eq!(b["data"]["availableMonths"], json!([]));
    let (_, b) = app
        .get_json("/api/v1/kos/bill/available-months/01055556666")
        .await;
    assert_eq!(b["resultCode"], "1002");
    let (s, b) = app.get_json("/api/v1/kos/bill/available-months/abc").await;
    assert_eq!((s, &b["resultCode"]), (400, &json!("9004")));
});

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_fresh_instances_give_identical_bills() {
    let a = spawn_app(Backend::Sqlite).await;
    let b = spawn_app(Backend::Postgres).await;
    let c = spawn_with(None, &[]).await;
    for (line, _) in DEMO {
        for back in 0..6 {
            let ym = month_back(back);
            let x = a.bill(line, Some(&ym)).await.1;
            let y = b.bill(line, Some(&ym)).await.1;
            let z = c.bill(line, Some(&ym)).await.1;
            assert_eq!(x["data"]["billInfo"], y["data"]["billInfo"]);
            assert_eq!(x["data"]["billInfo"], z["data"]["billInfo"]);
        }
    }
}
