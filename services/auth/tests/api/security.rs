//! Attacks on tokens, refresh reuse and races, revocation across instances, key rotation,
//! rate limiting.

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use phonebill_common::auth::Claims;
use phonebill_test_support::backend_tests;
use phonebill_test_support::hostile::{enc, sql_metacharacters};
use serde_json::json;

use crate::helpers::*;

fn b64(v: &serde_json::Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap())
}

backend_tests!(forged_tokens_are_rejected, |backend| async move {
    let app = spawn_app(backend).await;
    let (access, rt) = app.tokens("mvno001", "Phonebill1!").await;
    let good: Claims = (*app.app_verifier.verify(&access).await.unwrap()).clone();
    let key = read_key(&app.keys_dir, "k1");
    let now = chrono::Utc::now().timestamp();
    let sign = |c: &Claims| key.sign(c).unwrap();
    let with = |f: &dyn Fn(&mut Claims)| {
        let mut c = good.clone();
        f(&mut c);
        c
    };
    let payload = serde_json::to_value(&good).unwrap();
    let mut admin_payload = payload.clone();
    admin_payload["permissions"] = json!(["ADMIN", "BILL_INQUIRY"]);
    let parts_of: Vec<&str> = access.split('.').collect();
    let hs256 = {
        let mut h = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
        h.kid = Some("k1".into());
        jsonwebtoken::encode(
            &h,
            &good,
            &jsonwebtoken::EncodingKey::from_secret(&key.public_bytes()),
        )
        .unwrap()
    };
    let hs256_x = {
        let mut h = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
        h.kid = Some("k1".into());
        let x = key.public_jwk().x;
        jsonwebtoken::encode(
            &h,
            &good,
            &jsonwebtoken::EncodingKey::from_secret(x.as_bytes()),
        )
        .unwrap()
    };
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "alg none",
            format!(
                "{}.{}.",
                b64(&json!({"alg":"none","typ":"JWT","kid":"k1"})),
                b64(&payload)
            ),
            "INVALID_TOKEN",
        ),
        ("HS256 with public key bytes", hs256, "INVALID_TOKEN"),
        ("HS256 with x", hs256_x, "INVALID_TOKEN"),
        (
            "expired",
            sign(&with(&|c| {
                c.iat = now - 4000;
                c.nbf = now - 4000;
                c.exp = now - 100;
            })),
            "TOKEN_EXPIRED",
        ),
        (
            "not yet valid",
            sign(&with(&|c| {
                c.nbf = now + 600;
            })),
            "INVALID_TOKEN",
        ),
        (
            "wrong iss",
            sign(&with(&|c| c.iss = "evil".into())),
            "INVALID_TOKEN",
        ),
        (
            "wrong aud",
            sign(&with(&|c| c.aud = "other".into())),
            "INVALID_TOKEN",
        ),
        (
            "typ refresh",
            sign(&with(&|c| c.typ = "refresh".into())),
            "INVALID_TOKEN",
        ),
        (
            "tampered payload",
            format!("{}.{}.{}", parts_of[0], b64(&admin_payload), parts_of[2]),
            "INVALID_TOKEN",
        ),
        (
            "unknown kid",
            phonebill_common::auth::keys::SigningKey::generate("k9")
                .unwrap()
                .sign(&good)
                .unwrap(),
            "INVALID_TOKEN",
        ),
        (
            "no kid",
            format!(
                "{}.{}.{}",
                b64(&json!({"alg":"EdDSA","typ":"JWT"})),
                parts_of[1],
                parts_of[2]
            ),
            "INVALID_TOKEN",
        ),
        ("refresh token as bearer", rt.clone(), "INVALID_TOKEN"),
        ("garbage", "abc.def".into(), "INVALID_TOKEN"),
    ];
    for (name, token, want) in cases {
        let (s, b) = parts(app.get_auth("/api/v1/auth/user-info", &token).await).await;
        assert_eq!((s, code(&b)), (401, want), "{name}: {b}");
        // verify answers 200 with valid=false.
        let r = app
            .client
            .get(app.url("/api/v1/auth/verify"))
            .query(&[("token", &token)])
            .send()
            .await
            .unwrap();
        let (s, b) = parts(r).await;
        assert_eq!((s, b["valid"].as_bool()), (200, Some(false)), "{name}");
    }
    // The genuine token still works, with any scheme case.
    let r = app
        .client
        .get(app.url("/api/v1/auth/user-info"))
        .header("Authorization", format!("bEaReR {access}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = app
        .client
        .get(app.url("/api/v1/auth/user-info"))
        .header("Authorization", format!("Basic {access}"))
        .send()
        .await
        .unwrap();
    assert_eq!(code(&parts(r).await.1), "UNAUTHORIZED");
});

backend_tests!(
    reused_refresh_token_kills_the_family,
    |backend| async move {
        let app = spawn_app(backend).await;
        let (access, rt1) = app.tokens("mvno001", "Phonebill1!").await;
        let (_, b) = parts(app.refresh(&rt1).await).await;
        let rt2 = b["refresh_token"].as_str().unwrap().to_owned();
        let access2 = b["access_token"].as_str().unwrap().to_owned();
        let (s, b) = parts(app.refresh(&rt1).await).await;
        assert_eq!((s, code(&b)), (401, "REFRESH_TOKEN_REUSED"), "{b}");
        // The whole family is dead: the newest refresh token and every access token.
        let (s, b) = parts(app.refresh(&rt2).await).await;
        assert_eq!((s, code(&b)), (401, "REFRESH_TOKEN_INVALID"));
        for t in [&access, &access2] {
            assert_eq!(
                code(
                    &parts(app.get_auth("/api/v1/auth/user-info", t).await)
                        .await
                        .1
                ),
                "TOKEN_REVOKED"
            );
        }
        // Other sessions are untouched.
        let (other, rt_other) = app.tokens("mvno001", "Phonebill1!").await;
        assert_eq!(
            app.get_auth("/api/v1/auth/user-info", &other)
                .await
                .status(),
            200
        );
        assert_eq!(app.refresh(&rt_other).await.status(), 200);
        for bad in [
            "",
            "rt1.zz.zz",
            "rt1.0123456789abcdef0123.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        ] {
            let (s, b) = parts(app.refresh(bad).await).await;
            assert!(
                s == 400 || code(&b) == "REFRESH_TOKEN_INVALID",
                "{bad}: {b}"
            );
        }
    }
);

backend_tests!(concurrent_refresh_exactly_one_wins, |backend| async move {
    let app = spawn_app(backend).await;
    let (_, rt) = app.tokens("mvno001", "Phonebill1!").await;
    let futs = (0..6).map(|_| app.refresh(&rt));
    let results = futures::future::join_all(futs).await;
    let mut ok = 0;
    for r in results {
        let (s, b) = parts(r).await;
        match s {
            200 => ok += 1,
            401 => assert!(
                matches!(code(&b), "REFRESH_TOKEN_REUSED" | "REFRESH_TOKEN_INVALID"),
                "{b}"
            ),
            other => panic!("unexpected {other}: {b}"),
        }
    }
    assert_eq!(ok, 1);
});

backend_tests!(
    revocation_reaches_another_instance_via_redis,
    |backend| async move {
        let prefix = phonebill_test_support::unique_prefix();
        let env = vec![
            ("REDIS_URL", phonebill_test_support::redis_url()),
            ("REDIS_KEY_PREFIX", format!("{prefix}:")),
        ];
        let a = spawn_with(
            backend,
            Opts {
                env: env.clone(),
                ..Opts::default()
            },
        )
        .await;
        let b = spawn_with(
            backend,
            Opts {
                env,
                db: Some(a.db.clone()),
                keys_dir: Some(a.keys_dir.clone()),
            },
        )
        .await;
        for app in [&a, &b] {
            assert!(
                app.app_verifier
                    .deny_list()
                    .wait_subscribed(std::time::Duration::from_secs(10))
                    .await
            );
        }
        let (access, _) = a.tokens("mvno001", "Phonebill1!").await;
        // B verifies A's token (same keys) and caches it as valid.
        assert_eq!(
            b.get_auth("/api/v1/auth/user-info", &access).await.status(),
            200
        );
        assert_eq!(a.logout(&access).await.status(), 200);
        // B learns of the logout through pub/sub only (it never touched the session row).
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        loop {
            let (s, body) = parts(b.get_auth("/api/v1/auth/user-info", &access).await).await;
            if s == 401 {
                assert_eq!(code(&body), "TOKEN_REVOKED");
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "instance B never saw the revocation"
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        // A third instance started later loads the deny list from Redis.
        let c = spawn_with(
            backend,
            Opts {
                env: vec![
                    ("REDIS_URL", phonebill_test_support::redis_url()),
                    ("REDIS_KEY_PREFIX", format!("{prefix}:")),
                ],
                db: Some(a.db.clone()),
                keys_dir: Some(a.keys_dir.clone()),
            },
        )
        .await;
        assert!(
            c.app_verifier
                .deny_list()
                .wait_subscribed(std::time::Duration::from_secs(10))
                .await
        );
        assert_eq!(
            code(
                &parts(c.get_auth("/api/v1/auth/user-info", &access).await)
                    .await
                    .1
            ),
            "TOKEN_REVOKED"
        );
    }
);

backend_tests!(key_rotation_keeps_old_tokens_valid, |backend| async move {
    let dir = Arc::new(tempfile::tempdir().unwrap());
    add_key(&dir, "auth-2025-08");
    add_key(&dir, "auth-2025-09");
    let old = spawn_with(
        backend,
        Opts {
            keys_dir: Some(dir.clone()),
            env: vec![("JWT_ACTIVE_KID", "auth-2025-08".into())],
            ..Opts::default()
        },
    )
    .await;
    let (old_token, _) = old.tokens("mvno001", "Phonebill1!").await;
    let header = jsonwebtoken::decode_header(&old_token).unwrap();
    assert_eq!(header.kid.as_deref(), Some("auth-2025-08"));
    assert_eq!(header.alg, jsonwebtoken::Algorithm::EdDSA);
    // The new instance signs with the new kid (default: the last one) and still accepts the old.
    let new = spawn_with(
        backend,
        Opts {
            keys_dir: Some(dir.clone()),
            db: Some(old.db.clone()),
            ..Opts::default()
        },
    )
    .await;
    assert_eq!(
        new.get_auth("/api/v1/auth/user-info", &old_token)
            .await
            .status(),
        200
    );
    let (new_token, _) = new.tokens("mvno001", "Phonebill1!").await;
    assert_eq!(
        jsonwebtoken::decode_header(&new_token)
            .unwrap()
            .kid
            .as_deref(),
        Some("auth-2025-09")
    );
    let r = new
        .client
        .get(new.url("/api/v1/auth/.well-known/jwks.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["cache-control"], "public, max-age=300");
    let jwks: serde_json::Value = r.json().await.unwrap();
    let kids: Vec<&str> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap())
        .collect();
    assert_eq!(kids, vec!["auth-2025-08", "auth-2025-09"]);
    // Once the old PEM is removed, its tokens are refused by an instance that loads the rest.
    std::fs::remove_file(dir.path().join("auth-2025-08.pem")).unwrap();
    let newest = spawn_with(
        backend,
        Opts {
            keys_dir: Some(dir.clone()),
            db: Some(old.db.clone()),
            ..Opts::default()
        },
    )
    .await;
    assert_eq!(
        code(
            &parts(newest.get_auth("/api/v1/auth/user-info", &old_token).await)
                .await
                .1
        ),
        "INVALID_TOKEN"
    );
    assert_eq!(
        newest
            .get_auth("/api/v1/auth/user-info", &new_token)
            .await
            .status(),
        200
    );
});

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_is_rate_limited_per_ip() {
    let app = spawn_app(phonebill_test_support::Backend::Sqlite).await;
    for _ in 0..20 {
        assert_ne!(app.login("nosuchuser", "Phonebill1!").await.status(), 429);
    }
    let r = app.login("mvno001", "Phonebill1!").await;
    assert_eq!(r.status(), 429);
    let retry: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry));
    assert_eq!(code(&parts(r).await.1), "RATE_LIMITED");
}

/// User enumeration by timing: an unknown user id is checked against a dummy hash of the same
/// cost, so it answers like a wrong password in status, code, message and time (at the real
/// docs/api.md Argon2 cost; medians of several tries, within a loose ratio for a shared CI machine).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_user_and_wrong_password_take_the_same_time() {
    let app = spawn_with(
        phonebill_test_support::Backend::Sqlite,
        Opts {
            env: vec![
                ("ARGON2_MEMORY_KIB", "19456".into()),
                ("ARGON2_ITERATIONS", "2".into()),
                ("ARGON2_PARALLELISM", "1".into()),
                ("AUTH_RATE_LIMIT_PER_MINUTE", "0".into()),
                ("LOGIN_MAX_FAILURES", "100".into()),
            ],
            ..Opts::default()
        },
    )
    .await;
    let timed = |user: &'static str| {
        let app = &app;
        async move {
            let t = std::time::Instant::now();
            let (s, b) = parts(app.login(user, "Wrongpass1!").await).await;
            (t.elapsed(), s, b)
        }
    };
    // Warm both paths once (connection, caches).
    timed("nosuchuser").await;
    timed("mvno001").await;
    let (mut unknown, mut wrong) = (Vec::new(), Vec::new());
    let mut bodies = Vec::new();
    for _ in 0..7 {
        let (d, s, b) = timed("nosuchuser").await;
        unknown.push(d);
        bodies.push((s, code(&b).to_owned(), b["message"].clone()));
        let (d, s, b) = timed("mvno001").await;
        wrong.push(d);
        bodies.push((s, code(&b).to_owned(), b["message"].clone()));
    }
    for (s, c, m) in &bodies {
        assert_eq!((*s, c.as_str()), (401, "INVALID_CREDENTIALS"));
        assert_eq!(m, "ID 또는 비밀번호를 확인해주세요");
    }
    unknown.sort();
    wrong.sort();
    let (mu, mw) = (unknown[3].as_secs_f64(), wrong[3].as_secs_f64());
    let ratio = mu / mw;
    println!("login median: unknown user {mu:.4}s, wrong password {mw:.4}s, ratio {ratio:.2}");
    assert!(
        (0.5..=2.0).contains(&ratio),
        "unknown user {mu:.4}s vs wrong password {mw:.4}s (ratio {ratio:.2})"
    );
    // Without the dummy hash the unknown user would answer in well under a millisecond.
    assert!(
        mu > 0.002,
        "unknown user answered in {mu:.4}s: no hash was computed"
    );
}

/// This service's own SQL attacks, after the shared ones.
fn metacharacters() -> Vec<&'static str> {
    sql_metacharacters(&["admin' --", "'; DROP TABLE auth_users; --", "mvno%"])
}

backend_tests!(sql_metacharacters_are_plain_data, |backend| async move {
    let app = spawn_with(
        backend,
        Opts {
            env: vec![("AUTH_RATE_LIMIT_PER_MINUTE", "0".into())],
            ..Opts::default()
        },
    )
    .await;
    let (admin, _) = app.tokens("admin", "Admin1234!").await;
    let (s, before) = parts(app.get_auth("/api/v1/users", &admin).await).await;
    assert_eq!(s, 200);
    let client_error = |s: u16, b: &serde_json::Value, what: &str| {
        assert!((400..500).contains(&s), "{what}: {s} {b}");
        assert_eq!(b["success"], false, "{what}: {b}");
    };
    for (i, p) in metacharacters().iter().enumerate() {
        let what = |f: &str| format!("{f} = {p:?}");
        let (s, b) = parts(app.login(p, "Phonebill1!").await).await;
        client_error(s, &b, &what("login userId"));
        let (s, b) = parts(app.login("mvno003", p).await).await;
        client_error(s, &b, &what("login password"));
        let (s, b) = parts(app.refresh(p).await).await;
        client_error(s, &b, &what("refreshToken"));
        let r = app
            .client
            .get(app.url(&format!("/api/v1/auth/verify?token={}", enc(p))))
            .send()
            .await
            .unwrap();
        let (s, b) = parts(r).await;
        assert!(
            s == 400 || (s == 200 && b["valid"] == false),
            "{}: {s} {b}",
            what("verify")
        );
        // Registration: rule-checked fields refuse it; free-text fields store it verbatim.
        let line = format!("010-7000-{i:04}");
        for (field, value) in [("userId", *p), ("lineNumber", *p), ("password", *p)] {
            let mut body = json!({"userId": format!("sq{i}x"), "customerId": "C1", "lineNumber": line,
                "userName": "n", "password": "Secure1234!", "permissions": ["BILL_INQUIRY"]});
            body[field] = json!(value);
            let (s, b) = parts(app.post("/api/v1/auth/register", body).await).await;
            assert_eq!(
                (s, code(&b)),
                (400, "VALIDATION_ERROR"),
                "{}: {b}",
                what(field)
            );
        }
        // Free text up to the field limits (customerId: 20 characters).
        let free: String = p.chars().take(20).collect();
        let mut body = json!({"userId": format!("sq{i}x"), "customerId": free, "lineNumber": line,
            "userName": p, "password": "Secure1234!", "permissions": [p]});
        let (s, b) = parts(app.post("/api/v1/auth/register", body.clone()).await).await;
        client_error(s, &b, &what("permissions[0]"));
        body["permissions"] = json!(["BILL_INQUIRY"]);
        if p.contains('\u{0}') {
            // A control character is refused (PostgreSQL cannot store NUL: it used to be a 500).
            let (s, b) = parts(app.post("/api/v1/auth/register", body.clone()).await).await;
            assert_eq!(
                (s, code(&b)),
                (400, "VALIDATION_ERROR"),
                "{}: {b}",
                what("customerId")
            );
            body["customerId"] = json!("C-nul");
            body["userName"] = json!("nul");
        }
        let stored_customer = body["customerId"].as_str().unwrap().to_owned();
        let stored_name = body["userName"].as_str().unwrap().to_owned();
        let (s, b) = parts(app.post("/api/v1/auth/register", body).await).await;
        assert_eq!(s, 200, "{}: {b}", what("customerId/userName"));
        let (s, u) = parts(app.get_auth(&format!("/api/v1/users/sq{i}x"), &admin).await).await;
        assert_eq!(
            (s, u["customer_id"].as_str(), u["user_name"].as_str()),
            (
                200,
                Some(stored_customer.as_str()),
                Some(stored_name.as_str())
            )
        );
        // Path and query parameters of the user administration endpoints.
        for path in [
            format!("/api/v1/users/{}", enc(p)),
            format!("/api/v1/users/by-line/{}", enc(p)),
            format!("/api/v1/users?page={}&size=10", enc(p)),
        ] {
            let (s, b) = parts(app.get_auth(&path, &admin).await).await;
            client_error(s, &b, &path);
        }
        let (s, b) = parts(
            app.get_auth(
                &format!("/api/v1/users/by-customer/{}", enc(&stored_customer)),
                &admin,
            )
            .await,
        )
        .await;
        assert_eq!(
            (s, b["user_id"].as_str()),
            (200, Some(format!("sq{i}x").as_str())),
            "{}: {b}",
            what("by-customer")
        );
        for (method, path) in [
            (
                reqwest::Method::POST,
                format!("/api/v1/auth/unlock/{}", enc(p)),
            ),
            (
                reqwest::Method::POST,
                format!("/api/v1/users/{}/permissions/ADMIN/grant", enc(p)),
            ),
            (
                reqwest::Method::POST,
                format!("/api/v1/users/mvno001/permissions/{}/grant", enc(p)),
            ),
            (
                reqwest::Method::DELETE,
                format!("/api/v1/users/mvno001/permissions/{}", enc(p)),
            ),
            (
                reqwest::Method::POST,
                format!(
                    "/api/v1/auth/change-password?userId={}&currentPassword=x&newPassword=y",
                    enc(p)
                ),
            ),
        ] {
            let r = app
                .client
                .request(method, app.url(&path))
                .bearer_auth(&admin)
                .send()
                .await
                .unwrap();
            let (s, b) = parts(r).await;
            client_error(s, &b, &path);
        }
        let r = app
            .client
            .post(app.url("/api/v1/auth/permissions/check"))
            .bearer_auth(&admin)
            .json(&json!({"serviceType": p}))
            .send()
            .await
            .unwrap();
        let (s, b) = parts(r).await;
        assert_eq!(
            (s, code(&b)),
            (400, "VALIDATION_ERROR"),
            "{}: {b}",
            what("serviceType")
        );
    }
    // Tables intact: every earlier user is still there, demo logins still work.
    let (s, after) = parts(app.get_auth("/api/v1/users", &admin).await).await;
    assert_eq!(s, 200);
    assert_eq!(
        after.as_array().unwrap().len(),
        before.as_array().unwrap().len() + metacharacters().len()
    );
    assert_eq!(app.login("mvno001", "Phonebill1!").await.status(), 200);
    let (_, u) = parts(app.get_auth("/api/v1/users/mvno001", &admin).await).await;
    assert_eq!(u["permissions"], json!(["BILL_INQUIRY", "PRODUCT_CHANGE"]));
});
