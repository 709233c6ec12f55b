//! Service-to-service authentication (SPEC 5.8).

use serde_json::json;

use crate::helpers::*;

const KEY: &str = "test-shared-key";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_required_when_enabled() {
    let app = spawn_with(None, &[("KOS_REQUIRE_AUTH", "true"), ("KOS_API_KEY", KEY)]).await;
    let send = |name: Option<&str>, bearer: Option<&str>| {
        let mut r = app
            .client
            .post(app.url("/api/v1/kos/bill/inquiry"))
            .json(&json!({ "lineNumber": "01012345678", "requestId": "R" }));
        if let Some(n) = name {
            r = r.header("X-Service-Name", n.to_owned());
        }
        if let Some(b) = bearer {
            r = r.header("Authorization", format!("Bearer {b}"));
        }
        r.send()
    };
    let r = send(None, None).await.unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(
        r.json::<serde_json::Value>().await.unwrap()["resultCode"],
        "9401"
    );
    assert_eq!(
        send(Some("bill-inquiry-service"), Some("wrong"))
            .await
            .unwrap()
            .status(),
        401
    );
    assert_eq!(
        send(Some("bill-inquiry-service"), Some(KEY))
            .await
            .unwrap()
            .status(),
        200
    );
    let r = send(Some("rogue-service"), Some(KEY)).await.unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(
        r.json::<serde_json::Value>().await.unwrap()["resultCode"],
        "9403"
    );
    // Token flow, on both auth paths.
    let (s, t) = app
        .post_json(
            "/api/kos/auth",
            &json!({ "serviceName": "bill-inquiry-service", "apiKey": KEY }),
        )
        .await;
    assert_eq!(s, 200, "{t}");
    assert_eq!(t["data"]["tokenType"], "Bearer");
    assert_eq!(t["data"]["expiresIn"], 3600);
    let token = t["data"]["accessToken"].as_str().unwrap().to_owned();
    assert_eq!(
        send(Some("bill-inquiry-service"), Some(&token))
            .await
            .unwrap()
            .status(),
        200
    );
    // A token is bound to its service.
    assert_eq!(
        send(Some("product-change-service"), Some(&token))
            .await
            .unwrap()
            .status(),
        401
    );
    let (s, b) = app
        .post_json(
            "/api/v1/kos/auth",
            &json!({ "serviceName": "bill-inquiry-service", "apiKey": "nope" }),
        )
        .await;
    assert_eq!((s, &b["resultCode"]), (401, &json!("9401")));
    let (s, _) = app
        .post_json(
            "/api/kos/auth",
            &json!({ "serviceName": "rogue-service", "apiKey": KEY }),
        )
        .await;
    assert_eq!(s, 403);
    // Admin routes need the credential too; mock-data does not.
    assert_eq!(app.get_json("/api/v1/kos/admin/faults").await.0, 401);
    let r = app
        .client
        .get(app.url("/api/v1/kos/admin/faults"))
        .header("X-Service-Name", "product-change-service")
        .header("Authorization", format!("bearer {KEY}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let (s, _) = app
        .post_json(
            "/api/v1/kos/mock-datas",
            &json!({ "customerId": "C1", "lineNumber": "01020000001" }),
        )
        .await;
    assert_eq!(s, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_credentials_needed_by_default() {
    let app = spawn_with(None, &[]).await;
    assert_eq!(app.bill("01012345678", None).await.0, 200);
    // Without KOS_API_KEY no token can be issued.
    let (s, _) = app
        .post_json(
            "/api/kos/auth",
            &json!({ "serviceName": "bill-inquiry-service", "apiKey": "x" }),
        )
        .await;
    assert_eq!(s, 401);
}
