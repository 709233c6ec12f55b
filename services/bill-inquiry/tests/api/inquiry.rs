//! `POST /api/v1/bills/inquiry` (docs/api.md §3.2, 3.5): exact amounts, defaults, validation, access.

use phonebill_test_support::backend_tests;
use serde_json::json;

use crate::helpers::*;

backend_tests!(
    each_demo_line_has_exact_amounts_then_hits_the_cache,
    |backend| async move {
        let app = spawn_app(backend).await;
        let kos = app.kos.as_ref().unwrap();
        for user in [&MVNO001, &MVNO002, &MVNO003, &MVNO005] {
            let token = app.token(user);
            let month = month_back(2);
            let dashed = format!(
                "{}-{}-{}",
                &user.line[..3],
                &user.line[3..7],
                &user.line[7..]
            );
            let before = kos.bill_calls();
            let (s, _, v) = app
                .inquire(
                    &token,
                    json!({ "lineNumber": dashed, "inquiryMonth": month }),
                )
                .await;
            assert_eq!(s, 200, "{v}");
            assert_eq!(v["success"], true);
            assert_eq!(v["resultCode"], "0000");
            assert_eq!(v["resultMessage"], "요금 조회가 완료되었습니다");
            let d = &v["data"];
            assert_eq!(d["procStatus"], "SUCCESS");
            assert_eq!(
                d["billInfo"],
                expected_bill(user.line, &month),
                "{}",
                user.line
            );
            assert_eq!(d["customerInfo"]["customerId"], user.customer);
            assert_eq!(d["cached"], false);
            assert_eq!(d["stale"], false);
            let rid = d["requestId"].as_str().unwrap().to_owned();
            assert!(
                rid.starts_with(&format!("REQ_{}", today_kst().format("%Y%m%d"))),
                "{rid}"
            );
            assert_eq!(kos.bill_calls(), before + 1);
            // Same line and month again: from the cache, KOS not called, fresh request id.
            let (s, _, v2) = app
            .inquire(&token, json!({ "lineNumber": user.line, "inquiryMonth": format!("{}-{}", &month[..4], &month[4..]) }))
            .await;
            assert_eq!(s, 200, "{v2}");
            assert_eq!(v2["data"]["cached"], true);
            assert_eq!(v2["data"]["billInfo"], d["billInfo"]);
            assert_ne!(v2["data"]["requestId"], d["requestId"]);
            assert_eq!(kos.bill_calls(), before + 1, "cache hit must not call KOS");
            // Both requests can be polled with the full bill: the KOS answer from its stored
            // payload, the cache hit (which stores none) from the cache.
            let rid2 = v2["data"]["requestId"].as_str().unwrap().to_owned();
            for (rid, cached) in [(&rid, false), (&rid2, true)] {
                // The row is written off the hot path; wait until history shows it.
                app.history_until(
                    &token,
                    "",
                    |h| {
                        h["data"]["items"]
                            .as_array()
                            .is_some_and(|items| items.iter().any(|i| i["requestId"] == **rid))
                    },
                    std::time::Duration::from_secs(5),
                )
                .await;
                let (s, _, p) = app
                    .get(&token, &format!("/api/v1/bills/inquiry/{rid}"))
                    .await;
                assert_eq!(s, 200, "{p}");
                assert_eq!(p["data"]["procStatus"], "SUCCESS", "{p}");
                assert_eq!(p["data"]["billInfo"], d["billInfo"], "{p}");
                assert_eq!(p["data"]["cached"], cached, "{p}");
            }
        }
    }
);

backend_tests!(
    month_defaults_to_current_korea_month,
    |backend| async move {
        let app = spawn_app(backend).await;
        let token = app.token(&MVNO001);
        for body in [
            json!({ "lineNumber": MVNO001.line }),
            json!({ "lineNumber": MVNO001.line, "inquiryMonth": "" }),
        ] {
            let (s, _, v) = app.inquire(&token, body).await;
            assert_eq!(s, 200, "{v}");
            assert_eq!(
                v["data"]["billInfo"],
                expected_bill(MVNO001.line, &month_back(0))
            );
            assert_eq!(v["data"]["billInfo"]["billStatus"], "UNPAID");
        }
    }
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_and_business_failures_have_their_own_codes() {
    let app = spawn_app(phonebill_test_support::Backend::Sqlite).await;
    let token = app.token(&MVNO001);
    let next = {
        let t = today_kst();
        let (y, m) = if t.format("%m").to_string() == "12" {
            (t.format("%Y").to_string().parse::<i32>().unwrap() + 1, 1)
        } else {
            (
                t.format("%Y").to_string().parse::<i32>().unwrap(),
                t.format("%m").to_string().parse::<i32>().unwrap() + 1,
            )
        };
        format!("{y:04}{m:02}")
    };
    let cases = [
        (json!({ "inquiryMonth": "202501" }), 400, "VALIDATION_ERROR"),
        (
            json!({ "lineNumber": "0101234567" }),
            400,
            "INVALID_LINE_NUMBER",
        ),
        (
            json!({ "lineNumber": MVNO001.line, "inquiryMonth": "2025-13" }),
            400,
            "INVALID_MONTH",
        ),
        (
            json!({ "lineNumber": MVNO001.line, "inquiryMonth": next }),
            400,
            "INVALID_MONTH",
        ),
        (
            json!({ "lineNumber": MVNO001.line, "inquiryMonth": month_back(7) }),
            404,
            "BILL_NOT_FOUND",
        ),
        (
            json!({ "lineNumber": MVNO002.line }),
            403,
            "LINE_ACCESS_DENIED",
        ),
        (json!({ "lineNumber": 1 }), 400, "MALFORMED_REQUEST"),
    ];
    for (body, status, code) in cases {
        let (s, _, v) = app.inquire(&token, body.clone()).await;
        assert_eq!(
            (s, v["error"]["code"].as_str().unwrap_or("")),
            (status, code),
            "{body} → {v}"
        );
        assert_eq!(v["success"], false);
        assert_eq!(v["message"], v["error"]["message"]);
        // The as-built top-level result fields are present on failures too (docs/api.md §1.3).
        assert_eq!(v["resultCode"], code, "{v}");
        assert_eq!(v["resultMessage"], v["error"]["message"], "{v}");
    }
    // Even when the extractor rejects (no token), the failure carries them.
    let (s, _, v) = app
        .inquire("not-a-token", json!({ "lineNumber": MVNO001.line }))
        .await;
    assert_eq!(s, 401, "{v}");
    assert_eq!(v["resultCode"], v["error"]["code"], "{v}");
    // Suspended line → 409 LINE_NOT_ACTIVE.
    let (s, _, v) = app
        .inquire(&app.token(&MVNO004), json!({ "lineNumber": MVNO004.line }))
        .await;
    assert_eq!(s, 409, "{v}");
    assert_eq!(v["error"]["code"], "LINE_NOT_ACTIVE");
    assert_eq!(v["message"], "비활성 상태의 회선입니다");
    // Negatively cached: the second attempt does not call KOS.
    let kos = app.kos.as_ref().unwrap();
    let before = kos.bill_calls();
    let (s, _, _) = app
        .inquire(&app.token(&MVNO004), json!({ "lineNumber": MVNO004.line }))
        .await;
    assert_eq!(s, 409);
    assert_eq!(kos.bill_calls(), before);
    // Missing permission → 403 FORBIDDEN.
    let (s, _, v) = app
        .inquire(
            &app.token_with(&MVNO001, &["PRODUCT_CHANGE"]),
            json!({ "lineNumber": MVNO001.line }),
        )
        .await;
    assert_eq!(s, 403);
    assert_eq!(v["error"]["code"], "FORBIDDEN");
    // Another user's request id is not found.
    let (_, _, v) = app
        .inquire(&token, json!({ "lineNumber": MVNO001.line }))
        .await;
    let rid = v["data"]["requestId"].as_str().unwrap().to_owned();
    let (s, _, v) = app
        .get(
            &app.token(&MVNO002),
            &format!("/api/v1/bills/inquiry/{rid}"),
        )
        .await;
    assert_eq!(s, 404, "{v}");
    assert_eq!(v["error"]["code"], "REQUEST_NOT_FOUND");
}
