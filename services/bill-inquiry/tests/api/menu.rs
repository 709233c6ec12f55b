//! `GET /api/v1/bills/menu` (docs/api.md §3.1).

use phonebill_test_support::backend_tests;

use crate::helpers::*;

fn six_dashed() -> Vec<String> {
    (0..6)
        .map(|b| {
            let m = month_back(b);
            format!("{}-{}", &m[..4], &m[4..])
        })
        .collect()
}

backend_tests!(menu_lists_first_line_and_six_months, |backend| async move {
    let app = spawn_app(backend).await;
    let (s, _, v) = app.get(&app.token(&MVNO001), "/api/v1/bills/menu").await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["success"], true);
    assert_eq!(v["message"], "요금조회 메뉴를 성공적으로 조회했습니다");
    assert_eq!(v["data"]["customerInfo"]["customerId"], "CU202401001");
    assert_eq!(v["data"]["customerInfo"]["lineNumber"], "010-1234-5678");
    assert_eq!(
        v["data"]["availableMonths"],
        serde_json::json!(six_dashed())
    );
    assert_eq!(v["data"]["currentMonth"], six_dashed()[0]);
    // Suspended line: KOS 1002 → empty list, still 200.
    let (s, _, v) = app.get(&app.token(&MVNO004), "/api/v1/bills/menu").await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["data"]["availableMonths"], serde_json::json!([]));
});

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn menu_survives_kos_down() {
    let app = spawn_with(
        phonebill_test_support::Backend::Sqlite,
        &[("KOS_BASE_URL", "down")],
    )
    .await;
    let (s, _, v) = app.get(&app.token(&MVNO001), "/api/v1/bills/menu").await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["message"], "조회 가능 월 정보를 임시로 제공합니다");
    assert_eq!(
        v["data"]["availableMonths"],
        serde_json::json!(six_dashed())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn menu_needs_token_and_permission() {
    let app = spawn_app(phonebill_test_support::Backend::Sqlite).await;
    let r = app
        .client
        .get(format!("{}/api/v1/bills/menu", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    let (s, _, v) = app
        .get(
            &app.token_with(&MVNO001, &["PRODUCT_CHANGE"]),
            "/api/v1/bills/menu",
        )
        .await;
    assert_eq!(s, 403);
    assert_eq!(v["error"]["code"], "FORBIDDEN");
}
