//! The whole system in this process (all four services, as `phonebill` runs them), every log
//! line captured at DEBUG through the production masking writer, while a customer logs in,
//! queries a bill, changes a plan, refreshes, replays an old refresh token and logs out. Then:
//! no line in the log holds a clear line number, an access token, a refresh token or a
//! password; and the revocations decided by auth are enforced by bill-inquiry and
//! product-change at once.

#![expect(
    clippy::unwrap_used,
    reason = "test code: a failed unwrap is a failed test"
)]

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use phonebill::{Options, launch};
use phonebill_common::telemetry::Masked;
use serde_json::{Value, json};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;

/// An in-memory log destination.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

struct CaptureWriter(Arc<Mutex<Vec<u8>>>);

impl Write for CaptureWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Capture {
    type Writer = CaptureWriter;
    fn make_writer(&'a self) -> Self::Writer {
        CaptureWriter(self.0.clone())
    }
}

/// Stops the in-process system when the test ends, also on panic.
struct Running(tokio_util::sync::CancellationToken);

impl Drop for Running {
    fn drop(&mut self) {
        self.0.cancel();
    }
}

/// `word` occurs in `text` as 11 digits starting 010, not inside a longer digit run.
fn clear_line_numbers(text: &str) -> Vec<String> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    for i in 0..b.len() {
        let digits = |from: usize, n: usize| {
            b.get(from..from + n)
                .is_some_and(|s| s.iter().all(u8::is_ascii_digit))
        };
        let before_ok = i == 0 || !(b[i - 1].is_ascii_digit() || b[i - 1] == b'.');
        if !before_ok || !b[i..].starts_with(b"010") {
            continue;
        }
        let plain = digits(i, 11) && !digits(i + 11, 1);
        let dashed = b.get(i + 3) == Some(&b'-')
            && digits(i + 4, 4)
            && b.get(i + 8) == Some(&b'-')
            && digits(i + 9, 4)
            && !digits(i + 13, 1);
        if plain || dashed {
            let end = (i + 13).min(text.len());
            out.push(text[i.saturating_sub(60)..end].to_owned());
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_reaches_the_log_and_revocations_hold_everywhere() {
    let capture = Capture::default();
    let subscriber = tracing_subscriber::registry()
        .with(tracing_subscriber::EnvFilter::new("debug"))
        .with(
            tracing_subscriber::fmt::layer()
                .json()
                .with_current_span(true)
                .with_writer(Masked(capture.clone())),
        );
    tracing::subscriber::set_global_default(subscriber).unwrap();

    let dir = tempfile::tempdir().unwrap();
    let app = launch(&Options {
        port: 0,
        bind: [127, 0, 0, 1].into(),
        data_dir: dir.path().to_owned(),
        kos_realistic: false,
    })
    .await
    .unwrap();
    let base = format!("http://{}", app.local_addr().unwrap());
    let _running = Running(app.deps.shutdown.clone());
    tokio::spawn(app.run());
    let c = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while c
        .get(format!("{base}/actuator/health/readiness"))
        .send()
        .await
        .map_or(true, |r| r.status() != 200)
    {
        assert!(tokio::time::Instant::now() < deadline, "never ready");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let call = |method: reqwest::Method, path: &str, token: Option<&str>, body: Option<Value>| {
        let mut r = c.request(method, format!("{base}{path}"));
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        if let Some(b) = body {
            r = r.json(&b);
        }
        async move {
            let r = r.send().await.unwrap();
            let s = r.status().as_u16();
            (s, r.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    use reqwest::Method as M;

    // A wrong password, then the real login (both log lines exist for the audit trail).
    let (s, _) = call(
        M::POST,
        "/api/v1/auth/login",
        None,
        Some(json!({"userId": "mvno001", "password": "Phonebill9!"})),
    )
    .await;
    assert_eq!(s, 401);
    let (s, login) = call(
        M::POST,
        "/api/v1/auth/login",
        None,
        Some(json!({"userId": "mvno001", "password": "Phonebill1!"})),
    )
    .await;
    assert_eq!(s, 200, "{login}");
    let access = login["access_token"].as_str().unwrap().to_owned();
    let rt1 = login["refresh_token"].as_str().unwrap().to_owned();

    let (s, b) = call(M::GET, "/api/v1/bills/menu", Some(&access), None).await;
    assert_eq!(s, 200, "{b}");
    let (s, b) = call(
        M::POST,
        "/api/v1/bills/inquiry",
        Some(&access),
        Some(json!({"lineNumber": "010-1234-5678"})),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    let (s, b) = call(
        M::POST,
        "/api/v1/bills/inquiry",
        Some(&access),
        Some(json!({"lineNumber": "01012347777"})),
    )
    .await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (403, Some("LINE_ACCESS_DENIED"))
    );
    let (s, b) = call(
        M::GET,
        "/api/v1/products/customer?lineNumber=01012345678",
        Some(&access),
        None,
    )
    .await;
    assert_eq!(s, 200, "{b}");
    let (s, b) = call(
        M::POST,
        "/api/v1/products/change",
        Some(&access),
        Some(
            json!({"lineNumber": "01012345678", "currentProductCode": "5G-STANDARD-001",
                    "targetProductCode": "5G-PREMIUM-001"}),
        ),
    )
    .await;
    assert_eq!(
        (s, b["data"]["processStatus"].as_str()),
        (200, Some("COMPLETED")),
        "{b}"
    );
    let (s, _) = call(
        M::GET,
        &format!("/api/v1/auth/verify?token={access}"),
        None,
        None,
    )
    .await;
    assert_eq!(s, 200);

    // Refresh, then replay the used refresh token: auth revokes the whole family, and the
    // newest access token dies in bill-inquiry and product-change too.
    let (s, r) = call(
        M::POST,
        "/api/v1/auth/refresh",
        None,
        Some(json!({"refreshToken": rt1})),
    )
    .await;
    assert_eq!(s, 200, "{r}");
    let access2 = r["access_token"].as_str().unwrap().to_owned();
    let rt2 = r["refresh_token"].as_str().unwrap().to_owned();
    assert_eq!(
        call(M::GET, "/api/v1/bills/menu", Some(&access2), None)
            .await
            .0,
        200
    );
    let (s, b) = call(
        M::POST,
        "/api/v1/auth/refresh",
        None,
        Some(json!({"refreshToken": rt1})),
    )
    .await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (401, Some("REFRESH_TOKEN_REUSED"))
    );
    for t in [&access, &access2] {
        for path in [
            "/api/v1/bills/menu",
            "/api/v1/products/menu",
            "/api/v1/auth/user-info",
        ] {
            let (s, b) = call(M::GET, path, Some(t), None).await;
            assert_eq!(
                (s, b["error"]["code"].as_str()),
                (401, Some("TOKEN_REVOKED")),
                "{path}: {b}"
            );
        }
    }
    let (s, b) = call(
        M::POST,
        "/api/v1/auth/refresh",
        None,
        Some(json!({"refreshToken": rt2})),
    )
    .await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (401, Some("REFRESH_TOKEN_INVALID"))
    );

    // A new session, logged out: refused everywhere at once.
    let (_, login) = call(
        M::POST,
        "/api/v1/auth/login",
        None,
        Some(json!({"userId": "mvno001", "password": "Phonebill1!", "autoLogin": true})),
    )
    .await;
    let access3 = login["access_token"].as_str().unwrap().to_owned();
    let rt3 = login["refresh_token"].as_str().unwrap().to_owned();
    assert_eq!(
        call(M::GET, "/api/v1/products/menu", Some(&access3), None)
            .await
            .0,
        200
    );
    let (s, _) = call(
        M::POST,
        "/api/v1/auth/logout",
        Some(&access3),
        Some(json!({"refreshToken": rt3})),
    )
    .await;
    assert_eq!(s, 200);
    for path in ["/api/v1/bills/history", "/api/v1/products/history"] {
        let (s, b) = call(M::GET, path, Some(&access3), None).await;
        assert_eq!(
            (s, b["error"]["code"].as_str()),
            (401, Some("TOKEN_REVOKED")),
            "{path}: {b}"
        );
    }
    // Let the history writers flush, so their log lines are captured too.
    tokio::time::sleep(Duration::from_millis(500)).await;

    let log = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
    let lines = log.lines().count();
    assert!(
        lines > 50,
        "the capture holds the run's log ({lines} lines)"
    );
    assert!(
        log.contains("010****5678"),
        "line numbers are logged, masked"
    );
    let mut leaks = clear_line_numbers(&log);
    for secret in [&access, &access2, &access3, &rt1, &rt2, &rt3] {
        // Any 24-character piece of a token is enough to count as a leak.
        let sig = &secret[secret.len() - 24..];
        if log.contains(sig) {
            leaks.push(format!("token ending {sig}"));
        }
    }
    for password in ["Phonebill1!", "Phonebill9!"] {
        if log.contains(password) {
            leaks.push(format!("password {password}"));
        }
    }
    println!("captured {lines} log lines at DEBUG; {} leaks", leaks.len());
    assert!(leaks.is_empty(), "secrets in the log: {leaks:#?}");
}
