//! Login → refresh → logout, lockout, enumeration, permissions, passwords.

use phonebill_test_support::backend_tests;
use serde_json::json;

use crate::helpers::*;

backend_tests!(login_refresh_logout_flow, |backend| async move {
    let app = spawn_app(backend).await;
    let (access, rt1) = app.tokens("mvno001", "Phonebill1!").await;
    let (s, b) = parts(app.get_auth("/api/v1/auth/user-info", &access).await).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["data"]["userId"], "mvno001");
    assert_eq!(b["data"]["lineNumber"], "010-1234-5678");

    let (s, b) = parts(app.refresh(&rt1).await).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["success"], true);
    let access2 = b["data"]["accessToken"].as_str().unwrap().to_owned();
    let rt2 = b["data"]["refreshToken"].as_str().unwrap().to_owned();
    assert_eq!(b["access_token"], b["data"]["accessToken"]);
    assert_eq!(b["refresh_token"], b["data"]["refreshToken"]);
    assert_eq!(b["token_type"], "Bearer");
    assert_eq!(b["expires_in"], 1800);
    assert_ne!(rt2, rt1);
    // Same family: the family id part is kept.
    assert_eq!(rt1.split('.').nth(1), rt2.split('.').nth(1));
    assert_eq!(
        app.get_auth("/api/v1/auth/user-info", &access2)
            .await
            .status(),
        200
    );

    let (s, b) = parts(app.logout(&access2).await).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["message"], "로그아웃이 완료되었습니다.");
    // Every access token of the session is refused at once; logout is idempotent.
    for t in [&access, &access2] {
        let (s, b) = parts(app.get_auth("/api/v1/auth/user-info", t).await).await;
        assert_eq!((s, code(&b)), (401, "TOKEN_REVOKED"));
    }
    assert_eq!(app.logout(&access2).await.status(), 200);
    let (s, b) = parts(app.refresh(&rt2).await).await;
    assert_eq!((s, code(&b)), (401, "REFRESH_TOKEN_INVALID"));
    let (s, b) = parts(app.logout("garbage").await).await;
    assert_eq!((s, code(&b)), (401, "INVALID_TOKEN"));
    let r = app
        .client
        .post(app.url("/api/v1/auth/logout"))
        .send()
        .await
        .unwrap();
    let (s, b) = parts(r).await;
    assert_eq!((s, code(&b)), (401, "UNAUTHORIZED"));
});

backend_tests!(lockout_at_exactly_five_and_release, |backend| async move {
    let app = spawn_app(backend).await;
    for i in 1..=4 {
        let (s, b) = parts(app.login("mvno002", "WrongPass1!").await).await;
        assert_eq!((s, code(&b)), (401, "INVALID_CREDENTIALS"), "attempt {i}");
    }
    let (s, b) = parts(app.login("mvno002", "WrongPass1!").await).await;
    assert_eq!((s, code(&b)), (423, "ACCOUNT_LOCKED"), "{b}");
    assert_eq!(b["message"], "로그인 5회 실패로 계정이 30분간 잠겼습니다");
    let locked_until = b["lockedUntil"].as_str().unwrap().to_owned();
    assert!(locked_until.ends_with("+09:00"), "{locked_until}");
    // Even the right password is refused while locked.
    let (s, b) = parts(app.login("mvno002", "Phonebill2!").await).await;
    assert_eq!((s, code(&b)), (423, "ACCOUNT_LOCKED"));
    assert_eq!(b["lockedUntil"], locked_until.as_str());
    // The admin sees LOCKED.
    let (admin, _) = app.tokens("admin", "Admin1234!").await;
    let (_, u) = parts(app.get_auth("/api/v1/users/mvno002", &admin).await).await;
    assert_eq!(u["status"], "LOCKED");

    app.clock.advance(chrono::Duration::minutes(29));
    let (s, _) = parts(app.login("mvno002", "Phonebill2!").await).await;
    assert_eq!(s, 423);
    app.clock
        .advance(chrono::Duration::minutes(1) + chrono::Duration::seconds(1));
    let (s, b) = parts(app.login("mvno002", "Phonebill2!").await).await;
    assert_eq!(s, 200, "{b}");
    // The counter restarted: four more failures do not lock.
    for _ in 0..4 {
        assert_eq!(app.login("mvno002", "WrongPass1!").await.status(), 401);
    }
    assert_eq!(app.login("mvno002", "Phonebill2!").await.status(), 200);
});

backend_tests!(admin_unlocks, |backend| async move {
    let app = spawn_with(
        backend,
        Opts {
            env: vec![("LOGIN_MAX_FAILURES", "2".into())],
            ..Opts::default()
        },
    )
    .await;
    assert_eq!(app.login("mvno003", "WrongPass1!").await.status(), 401);
    assert_eq!(app.login("mvno003", "WrongPass1!").await.status(), 423);
    let (user, _) = app.tokens("mvno001", "Phonebill1!").await;
    let unlock = |t: String, id: &'static str| {
        let app = &app;
        async move {
            app.client
                .post(app.url(&format!("/api/v1/auth/unlock/{id}")))
                .bearer_auth(t)
                .send()
                .await
                .unwrap()
        }
    };
    let (s, b) = parts(unlock(user, "mvno003").await).await;
    assert_eq!((s, code(&b)), (403, "FORBIDDEN"));
    let (admin, _) = app.tokens("admin", "Admin1234!").await;
    let (s, b) = parts(unlock(admin.clone(), "mvno003").await).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["message"], "계정 잠금이 성공적으로 해제되었습니다.");
    assert_eq!(app.login("mvno003", "Phonebill3!").await.status(), 200);
    let (s, b) = parts(unlock(admin, "nobody").await).await;
    assert_eq!((s, code(&b)), (404, "USER_NOT_FOUND"));
});

backend_tests!(unknown_user_is_indistinguishable, |backend| async move {
    let app = spawn_app(backend).await;
    let (s1, b1) = parts(app.login("nosuchuser", "Phonebill1!").await).await;
    let (s2, b2) = parts(app.login("mvno001", "Phonebill9!").await).await;
    assert_eq!((s1, code(&b1)), (401, "INVALID_CREDENTIALS"));
    assert_eq!((s2, code(&b2)), (401, "INVALID_CREDENTIALS"));
    assert_eq!(b1["message"], "ID 또는 비밀번호를 확인해주세요");
    assert_eq!(b1["message"], b2["message"]);
    // An unknown user never locks.
    for _ in 0..6 {
        assert_eq!(app.login("nosuchuser", "Phonebill1!").await.status(), 401);
    }
});

backend_tests!(permissions_grant_revoke_and_checks, |backend| async move {
    let app = spawn_app(backend).await;
    let (admin, _) = app.tokens("admin", "Admin1234!").await;
    let (user, _) = app.tokens("mvno005", "Phonebill5!").await;
    let grant = "/api/v1/users/mvno005/permissions/product_change/grant";
    let r = app
        .client
        .post(app.url(grant))
        .bearer_auth(&user)
        .send()
        .await
        .unwrap();
    assert_eq!(parts(r).await.0, 403);
    let r = app
        .client
        .post(app.url(&format!("{grant}?grantedBy=someone")))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    let (s, b) = parts(r).await;
    assert_eq!((s, code(&b)), (400, "VALIDATION_ERROR"));
    let r = app
        .client
        .post(app.url(&format!("{grant}?grantedBy=admin")))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    let (s, b) = parts(r).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["message"], "권한이 성공적으로 부여되었습니다.");
    let r = app
        .client
        .post(app.url("/api/v1/users/mvno005/permissions/ROOT/grant"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(code(&parts(r).await.1), "PERMISSION_NOT_FOUND");
    let r = app
        .client
        .post(app.url("/api/v1/users/ghost/permissions/ADMIN/grant"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(code(&parts(r).await.1), "USER_NOT_FOUND");

    let (_, b) = parts(app.get_auth("/api/v1/auth/permissions", &user).await).await;
    let granted: Vec<(String, bool)> = b["data"]["permissions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["permission"].as_str().unwrap().to_owned(),
                p["granted"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        granted,
        vec![
            ("BILL_INQUIRY".into(), true),
            ("PRODUCT_CHANGE".into(), true),
            ("ADMIN".into(), false),
            ("USER_MANAGEMENT".into(), false)
        ]
    );

    let r = app
        .client
        .delete(app.url("/api/v1/users/mvno005/permissions/PRODUCT_CHANGE"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(parts(r).await.0, 200);
    let r = app
        .client
        .post(app.url("/api/v1/auth/permissions/check"))
        .bearer_auth(&user)
        .json(&json!({"serviceType": "PRODUCT_CHANGE"}))
        .send()
        .await
        .unwrap();
    let (s, b) = parts(r).await;
    assert_eq!(s, 200);
    assert_eq!(b["data"]["hasPermission"], false);
    assert_eq!(b["message"], "서비스 접근 권한이 없습니다.");
    let r = app
        .client
        .post(app.url("/api/v1/auth/permissions/check"))
        .bearer_auth(&user)
        .json(&json!({"serviceType": "NOPE"}))
        .send()
        .await
        .unwrap();
    assert_eq!(code(&parts(r).await.1), "VALIDATION_ERROR");
    // The next refresh carries the new permission set.
    let (_, rt) = app.tokens("mvno005", "Phonebill5!").await;
    let (_, b) = parts(app.refresh(&rt).await).await;
    let claims = app
        .app_verifier
        .verify(b["access_token"].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(claims.permissions, vec!["BILL_INQUIRY".to_owned()]);
});

backend_tests!(change_password_revokes_sessions, |backend| async move {
    let app = spawn_app(backend).await;
    let (access, rt) = app.tokens("mvno001", "Phonebill1!").await;
    let (other, _) = app.tokens("mvno002", "Phonebill2!").await;
    let cp = |t: &str, body: serde_json::Value| {
        app.client
            .post(app.url("/api/v1/auth/change-password"))
            .bearer_auth(t)
            .json(&body)
            .send()
    };
    let (s, b) = parts(
        cp(
            &other,
            json!({"userId":"mvno001","currentPassword":"Phonebill1!","newPassword":"Newpass12!"}),
        )
        .await
        .unwrap(),
    )
    .await;
    assert_eq!((s, code(&b)), (403, "FORBIDDEN"));
    let (s, b) = parts(
        cp(
            &access,
            json!({"userId":"mvno001","currentPassword":"Phonebill1!","newPassword":"weak"}),
        )
        .await
        .unwrap(),
    )
    .await;
    assert_eq!((s, code(&b)), (400, "VALIDATION_ERROR"));
    assert!(b["fieldErrors"]["newPassword"].is_string());
    let (s, b) = parts(
        cp(
            &access,
            json!({"userId":"mvno001","currentPassword":"Wrongpass1!","newPassword":"Newpass12!"}),
        )
        .await
        .unwrap(),
    )
    .await;
    assert_eq!((s, code(&b)), (401, "INVALID_CREDENTIALS"));
    // Query-string parameters (as-built) work too.
    let r = app.client.post(app.url("/api/v1/auth/change-password?userId=mvno001&currentPassword=Phonebill1!&newPassword=Newpass12!"))
        .bearer_auth(&access).send().await.unwrap();
    let (s, b) = parts(r).await;
    assert_eq!(s, 200, "{b}");
    let (s, b) = parts(app.get_auth("/api/v1/auth/user-info", &access).await).await;
    assert_eq!((s, code(&b)), (401, "TOKEN_REVOKED"));
    assert_eq!(
        code(&parts(app.refresh(&rt).await).await.1),
        "REFRESH_TOKEN_INVALID"
    );
    assert_eq!(app.login("mvno001", "Phonebill1!").await.status(), 401);
    assert_eq!(app.login("mvno001", "Newpass12!").await.status(), 200);
});

// Wrong current passwords count towards the login lockout (docs/api.md §2.9): the failure that
// reaches the limit is 423 ACCOUNT_LOCKED, and the OpenAPI document lists that answer (schemathesis
// found it undocumented).
backend_tests!(
    change_password_failures_lock_the_account,
    |backend| async move {
        let app = spawn_app(backend).await;
        let (access, _) = app.tokens("mvno003", "Phonebill3!").await;
        let mut answers = Vec::new();
        for _ in 0..5 {
            let r = app
            .client
            .post(app.url("/api/v1/auth/change-password"))
            .bearer_auth(&access)
            .json(&json!({"userId":"mvno003","currentPassword":"Wrongpass1!","newPassword":"Newpass12!"}))
            .send()
            .await
            .unwrap();
            let (s, b) = parts(r).await;
            answers.push((s, code(&b).to_owned()));
        }
        assert_eq!(answers[0], (401, "INVALID_CREDENTIALS".to_owned()));
        assert_eq!(
            answers[4],
            (423, "ACCOUNT_LOCKED".to_owned()),
            "{answers:?}"
        );
        let doc = serde_json::to_value(phonebill_auth::openapi()).unwrap();
        let responses = &doc["paths"]["/api/v1/auth/change-password"]["post"]["responses"];
        for status in ["401", "423"] {
            assert!(
                responses[status].is_object(),
                "{status} undocumented: {responses}"
            );
        }
    }
);

/// One login at the real docs/api.md cost (m=19456, t=2, p=1) on the blocking pool.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_at_real_argon2_cost() {
    let app = spawn_with(
        phonebill_test_support::Backend::Sqlite,
        Opts {
            env: vec![
                ("ARGON2_MEMORY_KIB", "19456".into()),
                ("ARGON2_ITERATIONS", "2".into()),
                ("ARGON2_PARALLELISM", "1".into()),
            ],
            ..Opts::default()
        },
    )
    .await;
    let (s, b) = parts(app.login("mvno001", "Phonebill1!").await).await;
    assert_eq!(s, 200, "{b}");
    let r = app.post("/api/v1/auth/register", json!({"userId":"real01","customerId":"C1","lineNumber":"010-3333-4444","userName":"n","password":"Secure1234!","permissions":["BILL_INQUIRY"]})).await;
    assert_eq!(r.status(), 200);
    assert_eq!(app.login("real01", "Secure1234!").await.status(), 200);
}

backend_tests!(
    expired_sessions_are_purged_after_seven_days,
    |backend| async move {
        let app = spawn_app(backend).await;
        // Session 1 (24 h, no auto-login) with two refresh tokens: the first used, the second live.
        let (_, rt1) = app.tokens("mvno001", "Phonebill1!").await;
        let (s, b) = parts(app.refresh(&rt1).await).await;
        assert_eq!(s, 200, "{b}");
        let rt2 = b["data"]["refreshToken"].as_str().unwrap().to_owned();
        assert_eq!(app.svc.purge_expired_sessions().await.unwrap(), (0, 0));

        // Expired, but for less than 7 days: kept.
        app.clock.advance(
            chrono::Duration::hours(24) + chrono::Duration::days(7) - chrono::Duration::hours(1),
        );
        assert_eq!(app.svc.purge_expired_sessions().await.unwrap(), (0, 0));
        let (_, rt_live) = app.tokens("mvno002", "Phonebill2!").await;

        // Past 7 days: session 1 and both of its tokens go; the fresh session stays.
        app.clock.advance(chrono::Duration::hours(2));
        assert_eq!(app.svc.purge_expired_sessions().await.unwrap(), (1, 2));
        let (s, b) = parts(app.refresh(&rt2).await).await;
        assert_eq!((s, code(&b)), (401, "REFRESH_TOKEN_INVALID"), "{b}");
        let (s, b) = parts(app.refresh(&rt_live).await).await;
        assert_eq!(s, 200, "{b}");
        assert_eq!(app.svc.purge_expired_sessions().await.unwrap(), (0, 0));
    }
);
