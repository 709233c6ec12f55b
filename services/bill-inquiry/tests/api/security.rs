//! Hostile clients against the bill-inquiry service: forged, expired and revoked tokens, another
//! customer's line on every line-taking endpoint, oversize and deeply nested bodies, injection
//! attempts in `X-Request-Id`, and SQL metacharacters in every string the service reads.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use phonebill_common::auth::keys::SigningKey;
use phonebill_common::auth::{Claims, DenyList, DenyListConfig};
use phonebill_test_support::hostile::{self, enc, sql_metacharacters};
use phonebill_test_support::{Backend, backend_tests};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::*;

/// This service's own SQL attacks, after the shared ones.
fn metacharacters() -> Vec<&'static str> {
    sql_metacharacters(&[
        "'; DROP TABLE bill_inquiry_history; --",
        "01012345678' --",
        "0101234567%",
        "REQ_%",
        "\" OR \"\"=\"",
    ])
}

/// The docs/api.md §1.3 failure envelope with `code`, and none of the callers' lines in clear.
fn assert_failure(status: u16, body: &Value, want_status: u16, code: &str, what: &str) {
    hostile::assert_failure(
        status,
        body,
        want_status,
        code,
        what,
        &["01012345678", "01012347777", "010-1234-7777"],
    );
}

fn b64(v: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).expect("json"))
}

fn claims(user: &User) -> Claims {
    let now = chrono::Utc::now().timestamp();
    Claims {
        iss: "phonebill-auth".into(),
        aud: "phonebill".into(),
        sub: user.id.into(),
        customer_id: user.customer.into(),
        line_numbers: vec![user.line.into()],
        permissions: vec!["BILL_INQUIRY".into()],
        sid: uuid::Uuid::new_v4().to_string(),
        jti: uuid::Uuid::new_v4().to_string(),
        iat: now,
        nbf: now,
        exp: now + 600,
        typ: "access".into(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_expired_and_revoked_tokens_are_refused() {
    let prefix = format!("{}:", phonebill_test_support::unique_prefix());
    let app = spawn_with(Backend::Sqlite, &[("REDIS_KEY_PREFIX", prefix.as_str())]).await;
    let good = claims(&MVNO001);
    let token = app.key.sign(&good).expect("sign");
    let (s, _, b) = app.get(&token, "/api/v1/bills/menu").await;
    assert_eq!(s, 200, "genuine token: {b}");

    let now = chrono::Utc::now().timestamp();
    let with = |f: &dyn Fn(&mut Claims)| {
        let mut c = good.clone();
        f(&mut c);
        app.key.sign(&c).expect("sign")
    };
    let parts: Vec<&str> = token.split('.').collect();
    let mut stolen = serde_json::to_value(&good).expect("claims");
    stolen["line_numbers"] = json!([MVNO002.line]);
    let hs256 = |secret: &[u8]| {
        let mut h = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
        h.kid = Some("test-key".into());
        jsonwebtoken::encode(&h, &good, &jsonwebtoken::EncodingKey::from_secret(secret))
            .expect("hs256")
    };
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "alg none",
            format!(
                "{}.{}.",
                b64(&json!({"alg": "none", "typ": "JWT", "kid": "test-key"})),
                parts[1]
            ),
            "INVALID_TOKEN",
        ),
        (
            "HS256 signed with the public key",
            hs256(&app.key.public_bytes()),
            "INVALID_TOKEN",
        ),
        (
            "HS256 signed with the JWK x",
            hs256(app.key.public_jwk().x.as_bytes()),
            "INVALID_TOKEN",
        ),
        (
            "expired",
            with(&|c| {
                c.iat = now - 4000;
                c.nbf = now - 4000;
                c.exp = now - 120;
            }),
            "TOKEN_EXPIRED",
        ),
        (
            "wrong audience",
            with(&|c| c.aud = "other".into()),
            "INVALID_TOKEN",
        ),
        (
            "wrong issuer",
            with(&|c| c.iss = "evil".into()),
            "INVALID_TOKEN",
        ),
        (
            "refresh typ",
            with(&|c| c.typ = "refresh".into()),
            "INVALID_TOKEN",
        ),
        (
            "tampered payload (another customer's line)",
            format!("{}.{}.{}", parts[0], b64(&stolen), parts[2]),
            "INVALID_TOKEN",
        ),
        (
            "unknown kid",
            SigningKey::generate("test-key-2")
                .expect("key")
                .sign(&good)
                .expect("sign"),
            "INVALID_TOKEN",
        ),
        (
            "right kid, wrong key",
            SigningKey::generate("test-key")
                .expect("key")
                .sign(&good)
                .expect("sign"),
            "INVALID_TOKEN",
        ),
        ("garbage", "eyJ.eyJ.x".into(), "INVALID_TOKEN"),
    ];
    for (name, forged, want) in cases {
        for path in ["/api/v1/bills/menu", "/api/v1/bills/history"] {
            let (s, _, b) = app.get(&forged, path).await;
            assert_failure(s, &b, 401, want, &format!("{name} on {path}"));
        }
        let (s, _, b) = app
            .inquire(&forged, json!({ "lineNumber": MVNO002.line }))
            .await;
        assert_failure(s, &b, 401, want, &format!("{name} on inquiry"));
    }

    // Revoked session: auth publishes the sid on the replicated deny list (Redis); this
    // service refuses the still-unexpired token within a second.
    let deny = DenyList::start(
        &DenyListConfig {
            redis: Some(phonebill_common::redis_conn::RedisConfig::new(
                phonebill_test_support::redis_url(),
            )),
            key_prefix: prefix.clone(),
        },
        app.shutdown.child_token(),
    )
    .expect("deny list");
    assert!(deny.wait_subscribed(Duration::from_secs(10)).await);
    deny.revoke(&good.sid, good.exp).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let (s, _, b) = app.get(&token, "/api/v1/bills/menu").await;
        if s == 401 {
            assert_failure(s, &b, 401, "TOKEN_REVOKED", "revoked session");
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "revocation never reached bill-inquiry: {b}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Another session of the same user is untouched.
    let other = app.key.sign(&claims(&MVNO001)).expect("sign");
    assert_eq!(app.get(&other, "/api/v1/bills/menu").await.0, 200);
}

backend_tests!(
    another_customers_line_is_refused_everywhere,
    |backend| async move {
        let app = spawn_app(backend).await;
        let mine = app.token(&MVNO001);
        let theirs = app.token(&MVNO002);
        for line in [MVNO002.line, "010-1234-7777", " 010 1234 7777 "] {
            let (s, _, b) = app
                .inquire(
                    &mine,
                    json!({ "lineNumber": line, "inquiryMonth": month_back(0) }),
                )
                .await;
            assert_failure(
                s,
                &b,
                403,
                "LINE_ACCESS_DENIED",
                &format!("inquiry {line:?}"),
            );
            assert_eq!(b["error"]["message"], "조회 권한이 없는 회선번호입니다");
            let (s, _, b) = app
                .get(
                    &mine,
                    &format!(
                        "/api/v1/bills/history?lineNumber={}",
                        line.trim().replace(' ', "%20")
                    ),
                )
                .await;
            assert_failure(
                s,
                &b,
                403,
                "LINE_ACCESS_DENIED",
                &format!("history {line:?}"),
            );
        }
        // Polling another customer's inquiry: same answer as an unknown id.
        let (s, _, b) = app
            .inquire(&theirs, json!({ "lineNumber": MVNO002.line }))
            .await;
        assert_eq!(s, 200, "{b}");
        let id = b["data"]["requestId"]
            .as_str()
            .expect("requestId")
            .to_owned();
        let (s, _, b) = app.get(&mine, &format!("/api/v1/bills/inquiry/{id}")).await;
        assert_failure(
            s,
            &b,
            404,
            "REQUEST_NOT_FOUND",
            "another customer's requestId",
        );
        // The owner reads it (history is written asynchronously, within 2 s: docs/api.md §3.6).
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while app
            .get(&theirs, &format!("/api/v1/bills/inquiry/{id}"))
            .await
            .0
            != 200
        {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the owner never read it"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let (s, _, b) = app.get(&mine, &format!("/api/v1/bills/inquiry/{id}")).await;
        assert_failure(
            s,
            &b,
            404,
            "REQUEST_NOT_FOUND",
            "another customer's requestId, stored",
        );
        // Nothing was recorded for the refused inquiries: only the owner's one row.
        app.history_until(
            &theirs,
            "",
            |v| v["data"]["pagination"]["totalItems"] == 1,
            Duration::from_secs(5),
        )
        .await;
        let v = app
            .history_until(&mine, "", |_| true, Duration::from_secs(1))
            .await;
        assert_eq!(v["data"]["pagination"]["totalItems"], 0, "{v}");
    }
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversize_and_deeply_nested_bodies_are_clear_client_errors() {
    let app = spawn_app(Backend::Sqlite).await;
    let token = app.token(&MVNO001);
    let post = |body: Vec<u8>| {
        let app = &app;
        let token = token.clone();
        async move {
            let r = app
                .client
                .post(format!("{}/api/v1/bills/inquiry", app.base))
                .bearer_auth(token)
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
                .expect("send");
            let s = r.status().as_u16();
            (s, r.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    // A body over 64 KiB is refused on its Content-Length, before it is read. Sent raw, headers
    // only: a client still writing a body the server will never read can see the connection
    // reset before it reads the 413 (TCP discards the answer when unread data meets a close).
    let resp = raw(
        &app,
        format!(
            "POST /api/v1/bills/inquiry HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            64 * 1024 + 1
        )
        .as_bytes(),
    )
    .await;
    assert!(resp.starts_with("HTTP/1.1 413"), "{resp}");
    let body: Value = serde_json::from_str(resp.split("\r\n\r\n").nth(1).unwrap_or_default())
        .unwrap_or_else(|e| panic!("413 body is JSON ({e}): {resp}"));
    assert_failure(413, &body, 413, "PAYLOAD_TOO_LARGE", "65537-byte body");
    // 10,000 nested arrays (20 KB, under the size limit) and 10,000 nested objects: a parser
    // without a depth limit would overflow the stack and take the process down.
    let arrays = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let (s, b) = post(arrays.into_bytes()).await;
    assert_failure(s, &b, 400, "MALFORMED_REQUEST", "10,000 nested arrays");
    // Under an unknown field the nesting is skipped without recursion (serde ignores it), so
    // what is left is a body without `lineNumber`.
    let objects = format!("{}1{}", r#"{"a":"#.repeat(10_000), "}".repeat(10_000));
    let (s, b) = post(objects.into_bytes()).await;
    assert_failure(s, &b, 400, "VALIDATION_ERROR", "10,000 nested objects");
    assert!(b["fieldErrors"]["lineNumber"].is_string(), "{b}");
    let nested_field = format!(
        r#"{{"lineNumber":"01012345678","inquiryMonth":{}{}}}"#,
        "[".repeat(10_000),
        "]".repeat(10_000)
    );
    let (s, b) = post(nested_field.into_bytes()).await;
    assert_failure(
        s,
        &b,
        400,
        "MALFORMED_REQUEST",
        "nested arrays inside a field",
    );
    // The process is still up and answers normally.
    let (s, _, b) = app
        .inquire(&token, json!({ "lineNumber": MVNO001.line }))
        .await;
    assert_eq!(s, 200, "{b}");
}

/// Sends raw bytes and returns the whole response (headers and body) as text.
async fn raw(app: &TestApp, request: &[u8]) -> String {
    let addr = app.base.trim_start_matches("http://");
    let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
    s.write_all(request).await.expect("write");
    let mut buf = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut buf))
        .await
        .expect("answered in time")
        .expect("read");
    String::from_utf8_lossy(&buf).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_id_header_injection_is_never_echoed() {
    let app = spawn_app(Backend::Sqlite).await;
    let token = app.token(&MVNO001);
    let long = "a".repeat(129);
    let hostile: Vec<(&str, Vec<u8>)> = vec![
        ("CR LF + header", b"abc\r\nSet-Cookie: pwned=1".to_vec()),
        ("bare CR", b"abc\rSet-Cookie: pwned=1".to_vec()),
        ("bare LF", b"abc\nSet-Cookie: pwned=1".to_vec()),
        ("encoded CR LF", b"abc%0d%0aSet-Cookie:%20pwned=1".to_vec()),
        ("129 characters", long.clone().into_bytes()),
        ("non-ASCII UTF-8", "요청-pwned".as_bytes().to_vec()),
        ("obs-text", b"abc\xff\xfepwned".to_vec()),
        ("spaces and quotes", b"a b\"c<script>pwned".to_vec()),
    ];
    for (name, value) in hostile {
        let mut req = format!(
            "GET /api/v1/bills/menu HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nConnection: close\r\nX-Request-Id: "
        )
        .into_bytes();
        req.extend_from_slice(&value);
        req.extend_from_slice(b"\r\n\r\n");
        let resp = raw(&app, &req).await;
        let status: u16 = resp
            .get(9..12)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("{name}: no status line in {resp:?}"));
        assert!(status < 500, "{name}: {resp}");
        let lower = resp.to_ascii_lowercase();
        assert!(
            !lower.contains("set-cookie"),
            "{name}: header injected: {resp}"
        );
        assert!(
            !lower.contains("pwned"),
            "{name}: hostile value echoed: {resp}"
        );
        assert!(!resp.contains(&long), "{name}: overlong id echoed");
        // When the request got through, the echoed id is within the docs/api.md §1.7 charset (a fresh
        // UUID, or `abc` where the CR LF ended the header) and is the body's traceId.
        if status == 200 {
            let id = resp
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("x-request-id: ")
                        .map(str::to_owned)
                })
                .unwrap_or_else(|| panic!("{name}: no X-Request-Id in {resp}"));
            let id = id.trim();
            assert!(
                (1..=128).contains(&id.len())
                    && id
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b".:_-".contains(&b)),
                "{name}: {id}"
            );
            assert!(resp.contains(&format!("\"traceId\":\"{id}\"")), "{name}");
        }
    }
    // A well-formed id is echoed unchanged.
    let r = app
        .client
        .get(format!("{}/api/v1/bills/menu", app.base))
        .bearer_auth(&token)
        .header("x-request-id", "trace-0123:ok_id.v2")
        .send()
        .await
        .expect("send");
    assert_eq!(r.headers()["x-request-id"], "trace-0123:ok_id.v2");
}

backend_tests!(sql_metacharacters_are_plain_data, |backend| async move {
    let app = spawn_app(backend).await;
    let token = app.token(&MVNO001);
    let (s, _, b) = app
        .inquire(&token, json!({ "lineNumber": MVNO001.line }))
        .await;
    assert_eq!(s, 200, "{b}");
    app.history_until(
        &token,
        "",
        |v| v["data"]["pagination"]["totalItems"] == 1,
        Duration::from_secs(5),
    )
    .await;
    for p in metacharacters() {
        let what = |field: &str| format!("{field} = {p:?}");
        let (s, _, b) = app.inquire(&token, json!({ "lineNumber": p })).await;
        assert!(s == 400, "{}: {b}", what("lineNumber"));
        assert_eq!(b["success"], false);
        let (s, _, b) = app
            .inquire(
                &token,
                json!({ "lineNumber": MVNO001.line, "inquiryMonth": p }),
            )
            .await;
        assert_failure(s, &b, 400, "INVALID_MONTH", &what("inquiryMonth"));
        let (s, _, b) = app
            .get(&token, &format!("/api/v1/bills/inquiry/{}", enc(p)))
            .await;
        assert!(s == 404 || s == 400, "{}: {s} {b}", what("requestId path"));
        assert_eq!(b["success"], false);
        for q in [
            "lineNumber",
            "startDate",
            "endDate",
            "status",
            "page",
            "size",
        ] {
            let (s, _, b) = app
                .get(&token, &format!("/api/v1/bills/history?{q}={}", enc(p)))
                .await;
            assert!((400..500).contains(&s) || s == 200, "{}: {s} {b}", what(q));
            if s == 200 {
                // Accepted as a filter value: it matches nothing it should not.
                assert!(
                    b["data"]["pagination"]["totalItems"].as_i64() <= Some(1),
                    "{b}"
                );
            } else {
                assert_eq!(b["success"], false, "{b}");
            }
        }
    }
    // The table is intact: the one real row is still there and still the only one.
    assert_eq!(
        app.count("SELECT COUNT(*) FROM bill_inquiry_history").await,
        1
    );
    let v = app
        .history_until(&token, "", |_| true, Duration::from_secs(1))
        .await;
    assert_eq!(v["data"]["pagination"]["totalItems"], 1, "{v}");
});
