//! Attacks on tokens, refresh reuse and races, revocation across instances, key rotation,
//! rate limiting.

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use phonebill_common::auth::Claims;
use phonebill_test_support::backend_tests;
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
