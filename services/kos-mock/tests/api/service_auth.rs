//! Service-to-service authentication (docs/api.md §5.8).

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

/// docs/api.md §5.8: with credentials required, available-months also accepts a user access token from
/// auth whose `line_numbers` holds the line (the browser calls it directly); nothing else does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_token_reads_own_available_months_only() {
    use phonebill_common::auth::keys::{JwkSet, SigningKey};
    use phonebill_common::auth::{Claims, KeySource};

    let key = SigningKey::generate("user-key").unwrap();
    let jwks = JwkSet {
        keys: vec![key.public_jwk()],
    };
    let app = spawn_configured(
        None,
        &[("KOS_REQUIRE_AUTH", "true"), ("KOS_API_KEY", KEY)],
        |c| {
            c.user_tokens.keys = KeySource::Static(jwks);
        },
    )
    .await;
    let now = chrono::Utc::now().timestamp();
    let token = key
        .sign(&Claims {
            iss: "phonebill-auth".into(),
            aud: "phonebill".into(),
            sub: "mvno001".into(),
            customer_id: "CU202401001".into(),
            line_numbers: vec!["01012345678".into()],
            permissions: vec!["BILL_INQUIRY".into()],
            sid: "6f1c1d7e-0000-4000-8000-000000000001".into(),
            jti: "6f1c1d7e-0000-4000-8000-000000000002".into(),
            iat: now,
            nbf: now,
            exp: now + 600,
            typ: "access".into(),
        })
        .unwrap();
    let get = |path: &str, bearer: &str| {
        app.client
            .get(app.url(path))
            .bearer_auth(bearer.to_owned())
            .send()
    };
    let r = get("/api/v1/kos/bill/available-months/01012345678", &token)
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(
        body["data"]["availableMonths"].as_array().map(Vec::len),
        Some(6),
        "{body}"
    );

    let r = get("/api/v1/kos/bill/available-months/010-9876-5432", &token)
        .await
        .unwrap();
    assert_eq!(r.status(), 403, "another customer's line");

    let r = get(
        "/api/v1/kos/bill/available-months/01012345678",
        "not-a-token",
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 401);

    // A user token is no service credential anywhere else.
    let r = get("/api/v1/kos/product/list", &token).await.unwrap();
    assert_eq!(r.status(), 401);
}
