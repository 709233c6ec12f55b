//! `GET /api/v1/bills/history` (docs/api.md §3.6) and the KOS call log.

use std::time::Duration;

use phonebill_test_support::backend_tests;
use serde_json::json;

use crate::helpers::*;

backend_tests!(
    history_has_request_and_kos_call_rows_with_filters,
    |backend| async move {
        let app = spawn_app(backend).await;
        let token = app.token(&MVNO001);
        let month = month_back(0);
        let (_, _, ok) = app
            .inquire(
                &token,
                json!({ "lineNumber": MVNO001.line, "inquiryMonth": month }),
            )
            .await;
        let (_, _, hit) = app
            .inquire(
                &token,
                json!({ "lineNumber": MVNO001.line, "inquiryMonth": month }),
            )
            .await;
        let (s, _, _) = app
            .inquire(
                &token,
                json!({ "lineNumber": MVNO001.line, "inquiryMonth": month_back(8) }),
            )
            .await;
        assert_eq!(s, 404);
        let v = app
            .history_until(
                &token,
                "",
                |v| v["data"]["pagination"]["totalItems"] == 3,
                Duration::from_secs(2),
            )
            .await;
        assert_eq!(v["message"], "요금조회 이력을 조회했습니다");
        let items = v["data"]["items"].as_array().unwrap();
        let fee = expected_bill(MVNO001.line, &month)["totalFee"]
            .as_i64()
            .unwrap();
        let first = items
            .iter()
            .find(|i| i["requestId"] == ok["data"]["requestId"])
            .unwrap();
        assert_eq!(first["status"], "COMPLETED");
        assert_eq!(first["lineNumber"], MVNO001.line);
        assert_eq!(first["inquiryMonth"], month);
        let grouped = {
            let s = fee.to_string();
            let mut out = String::new();
            for (i, c) in s.chars().enumerate() {
                if i > 0 && (s.len() - i).is_multiple_of(3) {
                    out.push(',');
                }
                out.push(c);
            }
            out
        };
        assert_eq!(
            first["resultSummary"],
            format!("5G 스탠다드 플랜, {grouped}원").as_str()
        );
        assert!(first["requestTime"].as_str().unwrap().ends_with("+09:00"));
        assert!(first["processTime"].as_str().is_some());
        // KOS call rows: one for the miss, none for the hit, one for the failed month.
        let id = ok["data"]["requestId"].as_str().unwrap();
        let calls = app.store.list_kos_calls(id).await.unwrap();
        assert_eq!(calls.len(), 1);
        assert_eq!(
            (
                calls[0].endpoint.as_str(),
                calls[0].outcome.as_str(),
                calls[0].result_code.as_deref()
            ),
            ("bill-inquiry", "success", Some("0000"))
        );
        assert!(
            app.store
                .list_kos_calls(hit["data"]["requestId"].as_str().unwrap())
                .await
                .unwrap()
                .is_empty()
        );
        // Filters and paging.
        let (_, _, v) = app.get(&token, "/api/v1/bills/history?status=FAILED").await;
        assert_eq!(v["data"]["pagination"]["totalItems"], 1);
        assert_eq!(v["data"]["items"][0]["status"], "FAILED");
        let (_, _, v) = app.get(&token, "/api/v1/bills/history?size=2&page=2").await;
        assert_eq!(v["data"]["items"].as_array().unwrap().len(), 1);
        assert_eq!(
            v["data"]["pagination"],
            json!({"currentPage": 2, "totalPages": 2, "totalItems": 3, "pageSize": 2, "hasNext": false, "hasPrevious": true})
        );
        let today = today_kst().format("%Y-%m-%d").to_string();
        let (_, _, v) = app.get(&token, &format!("/api/v1/bills/history?lineNumber=010-1234-5678&startDate={today}&endDate={today}")).await;
        assert_eq!(v["data"]["pagination"]["totalItems"], 3);
        let (_, _, v) = app
            .get(&token, "/api/v1/bills/history?endDate=2020-01-01")
            .await;
        assert_eq!(v["data"]["pagination"]["totalItems"], 0);
        let (s, _, v) = app
            .get(
                &token,
                "/api/v1/bills/history?startDate=2025-02-02&endDate=2025-02-01",
            )
            .await;
        assert_eq!(
            (s, v["error"]["code"].as_str().unwrap()),
            (400, "VALIDATION_ERROR")
        );
        assert!(v["fieldErrors"]["startDate"].is_string());
        let (s, _, v) = app
            .get(&token, "/api/v1/bills/history?lineNumber=01012347777")
            .await;
        assert_eq!(
            (s, v["error"]["code"].as_str().unwrap()),
            (403, "LINE_ACCESS_DENIED")
        );
        // Another user sees none of it.
        let (_, _, v) = app.get(&app.token(&MVNO002), "/api/v1/bills/history").await;
        assert_eq!(v["data"]["pagination"]["totalItems"], 0);
    }
);
