//! Wire shapes of docs/api.md §2: bare snake_case bodies, register data, fieldErrors, docs, migrations.

use phonebill_test_support::backend_tests;
use serde_json::json;

use crate::helpers::*;

backend_tests!(bare_snake_case_shapes, |backend| async move {
    let app = spawn_app(backend).await;
    let r = app
        .post(
            "/api/v1/auth/login",
            json!({"userId":"mvno001","password":"Phonebill1!","autoLogin":true}),
        )
        .await;
    let (s, b) = parts(r).await;
    assert_eq!(s, 200);
    assert_eq!(
        keys_of(&b),
        [
            "access_token",
            "customer_id",
            "expires_in",
            "line_number",
            "refresh_token",
            "token_type",
            "user",
            "user_id"
        ]
    );
    assert_eq!(
        keys_of(&b["user"]),
        ["permissions", "phone_number", "user_id", "user_name"]
    );
    assert_eq!(b["token_type"], "Bearer");
    assert_eq!(b["expires_in"], 1800);
    assert_eq!(b["customer_id"], "CU202401001");
    assert_eq!(b["line_number"], "010-1234-5678");
    assert_eq!(b["user"]["user_name"], "홍길동");
    assert_eq!(
        b["user"]["permissions"],
        json!(["BILL_INQUIRY", "PRODUCT_CHANGE"])
    );
    let rt = b["refresh_token"].as_str().unwrap();
    assert!(
        rt.starts_with("rt1.")
            && rt.split('.').nth(1).unwrap().len() == 20
            && rt.split('.').nth(2).unwrap().len() == 43,
        "{rt}"
    );
    let access = b["access_token"].as_str().unwrap().to_owned();
    let claims = app.app_verifier.verify(&access).await.unwrap();
    assert_eq!(claims.line_numbers, vec!["01012345678".to_owned()]);
    assert_eq!(
        (
            claims.iss.as_str(),
            claims.aud.as_str(),
            claims.typ.as_str()
        ),
        ("phonebill-auth", "phonebill", "access")
    );
    assert_eq!(claims.exp - claims.iat, 1800);
    // auto_login (as-built spelling) is accepted.
    let r = app
        .post(
            "/api/v1/auth/login",
            json!({"userId":"mvno002","password":"Phonebill2!","auto_login":true}),
        )
        .await;
    assert_eq!(r.status(), 200);

    let r = app
        .client
        .get(app.url("/api/v1/auth/verify"))
        .query(&[("token", &access)])
        .send()
        .await
        .unwrap();
    let (s, v) = parts(r).await;
    assert_eq!(s, 200);
    assert_eq!(
        keys_of(&v),
        [
            "customer_id",
            "expires_at",
            "line_number",
            "message",
            "user_id",
            "valid"
        ]
    );
    assert_eq!(v["valid"], true);
    assert_eq!(v["message"], "유효한 토큰입니다.");
    assert!(v["expires_at"].as_str().unwrap().ends_with("+09:00"));
    let (s, v) = parts(
        app.client
            .get(app.url("/api/v1/auth/verify"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((s, code(&v)), (400, "VALIDATION_ERROR"));

    let (s, u) = parts(app.get_auth("/api/v1/users/mvno001", &access).await).await;
    assert_eq!(s, 200);
    assert_eq!(
        keys_of(&u),
        [
            "account_status",
            "customer_id",
            "last_login_at",
            "last_password_changed_at",
            "line_number",
            "permissions",
            "status",
            "user_id",
            "user_name"
        ]
    );
    assert_eq!(u["status"], "ACTIVE");
    assert_eq!(u["line_number"], "010-1234-5678");
    let (s, e) = parts(app.get_auth("/api/v1/users/mvno002", &access).await).await;
    assert_eq!((s, code(&e)), (403, "FORBIDDEN"));
    assert_eq!(e["message"], "서비스 이용 권한이 없습니다");
    let (s, _) = parts(
        app.get_auth("/api/v1/users/by-line/01012345678", &access)
            .await,
    )
    .await;
    assert_eq!(s, 200);
    let (s, e) = parts(
        app.get_auth("/api/v1/users/by-line/010-1234-7777", &access)
            .await,
    )
    .await;
    assert_eq!((s, code(&e)), (403, "FORBIDDEN"));
    let (s, e) = parts(app.get_auth("/api/v1/users/by-line/0101234", &access).await).await;
    assert_eq!((s, code(&e)), (400, "INVALID_LINE_NUMBER"));
    assert_eq!(
        parts(
            app.get_auth("/api/v1/users/by-customer/CU202401001", &access)
                .await
        )
        .await
        .0,
        200
    );
    assert_eq!(
        parts(app.get_auth("/api/v1/users", &access).await).await.0,
        403
    );

    let (admin, _) = app.tokens("admin", "Admin1234!").await;
    let (s, list) = parts(app.get_auth("/api/v1/users", &admin).await).await;
    assert_eq!(s, 200);
    let ids: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["user_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [
            "admin", "mvno001", "mvno002", "mvno003", "mvno004", "mvno005"
        ]
    );
    assert_eq!(
        list[0]["permissions"],
        json!(["ADMIN", "BILL_INQUIRY", "PRODUCT_CHANGE", "USER_MANAGEMENT"])
    );
    let (_, page) = parts(app.get_auth("/api/v1/users?page=2&size=4", &admin).await).await;
    assert_eq!(page.as_array().unwrap().len(), 2);
    assert_eq!(page[0]["user_id"], "mvno004");
    let (s, e) = parts(
        app.get_auth("/api/v1/users/by-line/010-9999-0000", &admin)
            .await,
    )
    .await;
    assert_eq!((s, code(&e)), (404, "USER_NOT_FOUND"));

    let (s, ui) = parts(app.get_auth("/api/v1/auth/user-info", &access).await).await;
    assert_eq!(s, 200);
    assert_eq!(
        keys_of(&ui["data"]),
        [
            "accountStatus",
            "customerId",
            "lastLoginAt",
            "lineNumber",
            "permissions",
            "userId",
            "userName"
        ]
    );

    let r = app
        .client
        .get(app.url("/api/v1/auth/health"))
        .send()
        .await
        .unwrap();
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    assert_eq!(r.text().await.unwrap(), "Auth Service is running");
});

backend_tests!(register_rules_and_conflicts, |backend| async move {
    let app = spawn_app(backend).await;
    let body = json!({"userId":"newuser01","customerId":"123456aB3dE5fG7hI9jK","lineNumber":"010-1234-9999",
        "userName":"홍길동","password":"Secure1234!","permissions":["BILL_INQUIRY","PRODUCT_CHANGE"]});
    let (s, b) = parts(app.post("/api/v1/auth/register", body.clone()).await).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["message"], "사용자가 성공적으로 등록되었습니다");
    assert_eq!(
        keys_of(&b["data"]),
        [
            "account_status",
            "created_at",
            "customer_id",
            "line_number",
            "permissions",
            "user_id",
            "user_name"
        ]
    );
    assert_eq!(b["data"]["line_number"], "010-1234-9999");
    assert_eq!(b["data"]["account_status"], "ACTIVE");
    assert_eq!(app.login("newuser01", "Secure1234!").await.status(), 200);

    let (s, b) = parts(app.post("/api/v1/auth/register", body.clone()).await).await;
    assert_eq!((s, code(&b)), (409, "USER_ALREADY_EXISTS"));
    assert_eq!(b["message"], "이미 사용중인 사용자ID입니다");
    let mut other = body.clone();
    other["userId"] = json!("newuser02");
    let (s, b) = parts(app.post("/api/v1/auth/register", other.clone()).await).await;
    assert_eq!((s, code(&b)), (409, "LINE_ALREADY_REGISTERED"));

    // A customer id binds one account (issue 17, docs/api.md §2.8.1).
    other["lineNumber"] = json!("010-2222-3333");
    let (s, b) = parts(app.post("/api/v1/auth/register", other.clone()).await).await;
    assert_eq!((s, code(&b)), (409, "CUSTOMER_ALREADY_REGISTERED"), "{b}");
    other["customerId"] = json!("CU-OTHER-0002");

    // Privileged codes need an ADMIN bearer.
    other["permissions"] = json!(["ADMIN"]);
    let (s, b) = parts(app.post("/api/v1/auth/register", other.clone()).await).await;
    assert_eq!((s, code(&b)), (403, "FORBIDDEN"));
    let (admin, _) = app.tokens("admin", "Admin1234!").await;
    let r = app
        .client
        .post(app.url("/api/v1/auth/register"))
        .bearer_auth(admin)
        .json(&other)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    let bad = json!({"userId":"a!","customerId":"","lineNumber":"01012349999","userName":"x".repeat(51),"password":"weakpass","permissions":[]});
    let (s, b) = parts(app.post("/api/v1/auth/register", bad).await).await;
    assert_eq!((s, code(&b)), (400, "VALIDATION_ERROR"));
    assert_eq!(
        b["fieldErrors"],
        json!({
            "userId": "사용자 ID는 3자 이상 20자 이하여야 합니다",
            "customerId": "고객 ID는 필수입니다",
            "lineNumber": "회선번호는 010-XXXX-XXXX 형식이어야 합니다",
            "userName": "사용자 이름은 50자 이하여야 합니다",
            "password": "비밀번호는 대문자, 소문자, 숫자, 특수문자를 각각 최소 1개씩 포함해야 합니다",
            "permissions": "권한은 최소 1개 이상 필요합니다"
        })
    );
});

backend_tests!(login_validation_and_malformed, |backend| async move {
    let app = spawn_app(backend).await;
    let (s, b) = parts(app.post("/api/v1/auth/login", json!({"userId":"ab"})).await).await;
    assert_eq!((s, code(&b)), (400, "VALIDATION_ERROR"));
    assert_eq!(
        b["fieldErrors"]["userId"],
        "사용자 ID는 3-20자 사이여야 합니다"
    );
    assert!(b["fieldErrors"]["password"].is_string());
    let r = app
        .client
        .post(app.url("/api/v1/auth/login"))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    let (s, b) = parts(r).await;
    assert_eq!((s, code(&b)), (400, "MALFORMED_REQUEST"));
    let r = app
        .client
        .post(app.url("/api/v1/auth/login"))
        .header("content-type", "application/json")
        .body(vec![b' '; 70 * 1024])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    let (s, b) = parts(app.post("/api/v1/auth/refresh", json!({})).await).await;
    assert_eq!((s, code(&b)), (400, "VALIDATION_ERROR"));
    assert!(b["fieldErrors"]["refreshToken"].is_string());
});

#[tokio::test]
async fn migration_folders_have_the_same_versions() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
    let pg = phonebill_common::db::migration_versions(&root.join("postgres")).unwrap();
    let lite = phonebill_common::db::migration_versions(&root.join("sqlite")).unwrap();
    assert!(!pg.is_empty());
    assert_eq!(pg, lite);
}

/// Every operation of the document (built from the routes) says what it does and for whom, not
/// its path, and shows an example answer (and an example request where it takes a body).
#[test]
fn every_operation_has_a_summary_and_examples() {
    let doc = serde_json::to_value(phonebill_auth::openapi()).unwrap();
    let n = phonebill_test_support::openapi::assert_operations_documented(&doc);
    assert!(n > 0, "no operations in {doc}");
}
