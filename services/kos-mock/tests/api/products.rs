//! Product inquiry, list and change (docs/api.md §5.3.2, 5.3.3, 5.3.5).

use phonebill_test_support::backend_tests;
use serde_json::json;

use crate::helpers::*;

backend_tests!(product_inquiry, |backend| async move {
    let app = spawn_app(backend).await;
    let (s, b) = app.product("010-1234-5678").await;
    assert_eq!(s, 200);
    assert_eq!(b["data"]["resultCode"], "0000");
    assert_eq!(
        b["data"]["productInfo"],
        json!({ "lineNumber": "01012345678", "currentProductCode": "5G-STANDARD-001", "currentProductName": "5G 스탠다드 플랜",
                "monthlyFee": 69000, "dataAllowance": "100GB", "voiceAllowance": "무제한", "smsAllowance": "무제한",
                "productStatus": "ACTIVE", "contractDate": "2024-01-15T00:00:00+09:00", "operatorCode": "KT" })
    );
    assert_eq!(
        b["data"]["customerInfo"],
        json!({ "customerName": "홍길동", "customerId": "CU202401001", "operatorCode": "KT", "lineStatus": "ACTIVE" })
    );
    // A suspended line is data, not a failure.
    let (_, b) = app.product("01055556666").await;
    assert_eq!(b["data"]["resultCode"], "0000");
    assert_eq!(b["data"]["customerInfo"]["lineStatus"], "SUSPENDED");
    // Discontinued product shows its status.
    let (_, b) = app.product("01077778888").await;
    assert_eq!(b["data"]["productInfo"]["productStatus"], "DISCONTINUED");
    // 3001 unknown line; 3003 a line whose product the catalogue does not know.
    let (_, b) = app.product("01000000000").await;
    assert_eq!(
        (&b["data"]["resultCode"], &b["data"]["procStatus"]),
        (&json!("3001"), &json!("FAILED"))
    );
    app.exec_sql(
        "INSERT INTO kos_customers (line_number, customer_id, customer_name, operator_code, current_product_code, \
         initial_product_code, line_status, contract_date) VALUES ('01011110000', 'CUX', 'X', 'KT', 'GONE-001', 'GONE-001', 'ACTIVE', '2024-01-01')",
    )
    .await;
    let (_, b) = app.product("01011110000").await;
    assert_eq!(b["data"]["resultCode"], "3003");
    let (s, b) = app
        .post_json(
            "/api/v1/kos/product/inquiry",
            &json!({ "lineNumber": "01012345678" }),
        )
        .await;
    assert_eq!((s, &b["resultCode"]), (400, &json!("9001")));
});

backend_tests!(
    product_list_is_snake_case_by_fee_desc,
    |backend| async move {
        let app = spawn_app(backend).await;
        let (s, b) = app.get_json("/api/v1/kos/product/list").await;
        assert_eq!(s, 200);
        let d = &b["data"];
        assert_eq!(d["result_code"], "0000");
        assert_eq!(d["product_count"], 6);
        let codes: Vec<&str> = d["products"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["product_code"].as_str().unwrap())
            .collect();
        assert_eq!(
            codes,
            [
                "5G-PREMIUM-001",
                "5G-STANDARD-001",
                "LTE-PREMIUM-001",
                "LGU-LTE-001",
                "LTE-BASIC-001",
                "3G-OLD-001"
            ]
        );
        assert_eq!(
            d["products"][0],
            json!({ "product_code": "5G-PREMIUM-001", "product_name": "5G 프리미엄 플랜", "product_type": "5G",
                "monthly_fee": 89000, "data_allowance": -1, "voice_allowance": -1, "sms_allowance": -1,
                "network_type": "5G", "status": "ACTIVE", "description": "5G 네트워크 무제한 프리미엄 요금제",
                "operator_code": "KT", "data_allowance_text": "무제한", "voice_allowance_text": "무제한",
                "sms_allowance_text": "무제한" })
        );
        assert_eq!(d["products"][5]["voice_allowance"], 500);
        assert_eq!(d["products"][5]["status"], "DISCONTINUED");
        assert_eq!(d["products"][1]["data_allowance"], 100);
    }
);

backend_tests!(change_is_visible_and_idempotent, |backend| async move {
    let app = spawn_app(backend).await;
    let (s, b) = app
        .change(
            "010-1234-5678",
            "5G-STANDARD-001",
            "5G-PREMIUM-001",
            "PCR_1",
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(b["success"], true);
    let d = &b["data"];
    assert_eq!(d["resultCode"], "0000", "{b}");
    let ci = &d["changeInfo"];
    assert_eq!(ci["previousProductCode"], "5G-STANDARD-001");
    assert_eq!(ci["previousProductName"], "5G 스탠다드 플랜");
    assert_eq!(ci["newProductCode"], "5G-PREMIUM-001");
    assert_eq!(ci["newProductName"], "5G 프리미엄 플랜");
    assert_eq!(ci["changeStatus"], "SUCCESS");
    assert_eq!(
        ci["effectiveDate"],
        today_kst().format("%Y%m%d").to_string()
    );
    let order = ci["kosOrderNumber"].as_str().unwrap();
    assert!(
        order.starts_with("KOS")
            && order.len() == 18
            && order[3..].bytes().all(|c| c.is_ascii_digit()),
        "{order}"
    );
    // Next product inquiry and the current month's bill show the new product; earlier months keep the initial one.
    let (_, p) = app.product("01012345678").await;
    assert_eq!(
        p["data"]["productInfo"]["currentProductCode"],
        "5G-PREMIUM-001"
    );
    let (_, bill) = app.bill("01012345678", None).await;
    assert_subset(
        &bill["data"]["billInfo"],
        &expected_bill("01012345678", &month_back(0), "5G-PREMIUM-001", true),
    );
    let (_, bill) = app.bill("01012345678", Some(&month_back(1))).await;
    assert_subset(
        &bill["data"]["billInfo"],
        &expected_bill("01012345678", &month_back(1), "5G-STANDARD-001", false),
    );
    // Replay: same answer, nothing changes (the line is on PREMIUM now, yet no 2006).
    let (_, again) = app
        .change("01012345678", "5G-STANDARD-001", "5G-PREMIUM-001", "PCR_1")
        .await;
    assert_eq!(again["data"], b["data"]);
    // Same requestId, different body → 2007.
    let (_, other) = app
        .change("01012345678", "5G-PREMIUM-001", "LTE-BASIC-001", "PCR_1")
        .await;
    assert_eq!(other["data"]["resultCode"], "2007");
    assert_eq!(
        other["data"]["resultMessage"],
        "요청 ID가 다른 요청에 사용되었습니다"
    );
    let (_, p) = app.product("01012345678").await;
    assert_eq!(
        p["data"]["productInfo"]["currentProductCode"],
        "5G-PREMIUM-001"
    );
    // Alias path, dashes, back to standard.
    let (_, alias) = app
        .post_json(
            "/api/kos/product-change",
            &json!({ "lineNumber": "010-1234-5678", "currentProductCode": "5G-PREMIUM-001", "targetProductCode": "5G-STANDARD-001", "requestId": "PCR_2" }),
        )
        .await;
    assert_eq!(alias["data"]["resultCode"], "0000");
    let (_, p) = app.product("01012345678").await;
    assert_eq!(
        p["data"]["productInfo"]["currentProductCode"],
        "5G-STANDARD-001"
    );
});

// A line read (and cached, store::cached) before a change shows the new product right after it.
backend_tests!(
    change_after_a_cached_read_is_visible,
    |backend| async move {
        let app = spawn_app(backend).await;
        let (_, before) = app.product("01012345678").await;
        assert_eq!(
            before["data"]["productInfo"]["currentProductCode"],
            "5G-STANDARD-001"
        );
        let (_, bill) = app.bill("01012345678", None).await;
        assert_eq!(bill["data"]["billInfo"]["productCode"], "5G-STANDARD-001");
        let (s, b) = app
            .change(
                "01012345678",
                "5G-STANDARD-001",
                "5G-PREMIUM-001",
                "PCR_CACHE",
            )
            .await;
        assert_eq!((s, &b["data"]["resultCode"]), (200, &json!("0000")), "{b}");
        let (_, after) = app.product("01012345678").await;
        assert_eq!(
            after["data"]["productInfo"]["currentProductCode"],
            "5G-PREMIUM-001"
        );
        let (_, bill) = app.bill("01012345678", None).await;
        assert_eq!(bill["data"]["billInfo"]["productCode"], "5G-PREMIUM-001");
    }
);

backend_tests!(change_failures_in_order, |backend| async move {
    let app = spawn_app(backend).await;
    let cases = [
        (
            "01000000000",
            "5G-STANDARD-001",
            "5G-PREMIUM-001",
            "2001",
            "존재하지 않는 회선번호입니다",
        ),
        (
            "01055556666",
            "LTE-PREMIUM-001",
            "5G-PREMIUM-001",
            "2002",
            "비활성 상태의 회선입니다",
        ),
        (
            "01012345678",
            "5G-STANDARD-001",
            "NOPE-001",
            "2003",
            "존재하지 않는 상품 코드입니다",
        ),
        (
            "01012345678",
            "LTE-BASIC-001",
            "3G-OLD-001",
            "2006",
            "현재 상품 코드가 일치하지 않습니다",
        ),
        (
            "01012345678",
            "5G-STANDARD-001",
            "3G-OLD-001",
            "2004",
            "판매가 중단된 상품입니다",
        ),
        (
            "01012345678",
            "5G-STANDARD-001",
            "LGU-LTE-001",
            "2005",
            "다른 통신사업자 상품으로는 변경할 수 없습니다",
        ),
        (
            "01012345678",
            "5G-STANDARD-001",
            "5G-STANDARD-001",
            "2099",
            "상품 변경 처리 중 오류가 발생했습니다",
        ),
    ];
    for (i, (line, cur, target, code, msg)) in cases.into_iter().enumerate() {
        let rid = format!("PCR_F{i}");
        let (s, b) = app.change(line, cur, target, &rid).await;
        assert_eq!(s, 200);
        assert_eq!(b["data"]["resultCode"], code, "{b}");
        assert_eq!(b["data"]["resultMessage"], msg);
        assert_eq!(b["data"]["requestId"], rid.as_str());
        assert!(b["data"].get("changeInfo").is_none());
    }
    let (_, p) = app.product("01012345678").await;
    assert_eq!(
        p["data"]["productInfo"]["currentProductCode"],
        "5G-STANDARD-001"
    );
    let (s, b) = app
        .post_json(
            "/api/v1/kos/product/change",
            &json!({ "lineNumber": "01012345678", "requestId": "X" }),
        )
        .await;
    assert_eq!((s, &b["resultCode"]), (400, &json!("9001")));
});
