//! Issue 17 finding 1 and 3 (docs/security.md, docs/api.md §2.8.1): an account is bound to a
//! line only by the one who receives the code KOS texts to it. The real auth service (on
//! PostgreSQL and on SQLite) against the real KOS mock (credentials required, as in
//! production), both over HTTP on 127.0.0.1:0; the code is read from the mock's SMS outbox.

#![expect(
    clippy::unwrap_used,
    reason = "test code: a failed unwrap is a failed test"
)]

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use phonebill_auth::ManualClock;
use phonebill_common::config::Env;
use phonebill_common::service::Deps;
use phonebill_test_support::{Backend, TestDb, backend_tests};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

const KEY: &str = "registration-test-key";

struct Stack {
    auth: String,
    kos: String,
    http: reqwest::Client,
    clock: Arc<ManualClock>,
    shutdown: Vec<CancellationToken>,
    _db: TestDb,
    _data: tempfile::TempDir,
}

impl Drop for Stack {
    fn drop(&mut self) {
        for s in &self.shutdown {
            s.cancel();
        }
    }
}

fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

async fn spawn(backend: Backend, mode: &str) -> Stack {
    phonebill_test_support::init_test_logging();
    let kos_env = env(&[
        ("KOS_SIMULATION", "off"),
        ("KOS_RATE_LIMIT_ENABLED", "false"),
        ("KOS_STORE", "memory"),
        ("KOS_REQUIRE_AUTH", "true"),
        ("KOS_API_KEY", KEY),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", ""),
    ]);
    let kos_cfg = phonebill_kos_mock::Config::from_env(Env::new(&kos_env)).unwrap();
    let kos_deps = Deps::new();
    let kos_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let kos = format!("http://{}", kos_listener.local_addr().unwrap());
    let kos_app = phonebill_kos_mock::build(kos_cfg, kos_deps.clone())
        .await
        .unwrap();
    assert!(
        tokio::time::timeout(Duration::from_secs(30), kos_app.wait_ready())
            .await
            .unwrap()
    );
    tokio::spawn(phonebill_kos_mock::run(kos_app, kos_listener));

    let db = TestDb::new(backend).await;
    let data = tempfile::tempdir().unwrap();
    let data_dir = data.path().display().to_string();
    let auth_env = env(&[
        ("ARGON2_MEMORY_KIB", "64"),
        ("ARGON2_ITERATIONS", "1"),
        ("SEED_DEMO_USERS", "true"),
        ("DATA_DIR", &data_dir),
        ("REGISTRATION_MODE", mode),
        ("KOS_BASE_URL", &kos),
        ("KOS_API_KEY", KEY),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", ""),
    ]);
    let mut auth_cfg = phonebill_auth::Config::from_env(Env::new(&auth_env)).unwrap();
    auth_cfg.base.database = db.config();
    let auth_deps = Deps::new();
    let clock = Arc::new(ManualClock::new());
    let auth_app = phonebill_auth::build_with_clock(auth_cfg, auth_deps.clone(), clock.clone())
        .await
        .unwrap();
    assert!(auth_app.database.wait_migrated().await);
    assert!(auth_app.wait_seeded().await);
    let auth_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let auth = format!("http://{}", auth_listener.local_addr().unwrap());
    tokio::spawn(phonebill_auth::run(auth_app, auth_listener));
    Stack {
        auth,
        kos,
        http: reqwest::Client::new(),
        clock,
        shutdown: vec![kos_deps.shutdown.clone(), auth_deps.shutdown.clone()],
        _db: db,
        _data: data,
    }
}

impl Stack {
    async fn post(
        &self,
        base: &str,
        path: &str,
        body: Value,
        bearer: Option<&str>,
    ) -> (u16, Value) {
        let mut r = self.http.post(format!("{base}{path}")).json(&body);
        if let Some(b) = bearer {
            r = r.header("Authorization", format!("Bearer {b}"));
        }
        let r = r.send().await.unwrap();
        let s = r.status().as_u16();
        (s, r.json().await.unwrap_or(Value::Null))
    }

    async fn auth_post(&self, path: &str, body: Value) -> (u16, Value) {
        self.post(&self.auth, path, body, None).await
    }

    /// A new subscriber line in KOS (the carrier's records), owned by `customer`.
    async fn kos_line(&self, customer: &str, line: &str) {
        let (s, b) = self
            .post(
                &self.kos,
                "/api/v1/kos/mock-datas",
                json!({ "customerId": customer, "lineNumber": line }),
                None,
            )
            .await;
        assert_eq!(s, 200, "{b}");
    }

    /// What the phone on `line` received (the mock's outbox, read with the key).
    async fn texts(&self, line: &str) -> Vec<String> {
        let r = self
            .http
            .get(format!(
                "{}/api/v1/kos/admin/sms-outbox?lineNumber={line}",
                self.kos
            ))
            .header("X-Service-Name", "auth-service")
            .header("Authorization", format!("Bearer {KEY}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let b: Value = r.json().await.unwrap();
        b["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["message"].as_str().unwrap().to_owned())
            .collect()
    }

    /// The 6-digit code of the last text to `line`.
    async fn code(&self, line: &str) -> String {
        let texts = self.texts(line).await;
        let last = texts.last().expect("a text was sent");
        last.split(|c: char| !c.is_ascii_digit())
            .find(|w| w.len() == 6)
            .expect("a 6-digit code in the text")
            .to_owned()
    }

    async fn login(&self, user: &str, password: &str) -> (u16, Value) {
        self.auth_post(
            "/api/v1/auth/login",
            json!({ "userId": user, "password": password }),
        )
        .await
    }
}

fn form(user: &str, customer: &str, line: &str, code: Option<&str>) -> Value {
    let mut b = json!({ "userId": user, "customerId": customer, "lineNumber": line,
        "userName": "가입자", "password": "Secure1234!", "permissions": ["BILL_INQUIRY", "PRODUCT_CHANGE"] });
    if let Some(c) = code {
        b["verificationCode"] = json!(c);
    }
    b
}

fn wrong(code: &str) -> String {
    if code == "000000" { "000001" } else { "000000" }.to_owned()
}

backend_tests!(
    verified_registration_binds_the_line_to_who_holds_it,
    |backend| async move {
        let st = spawn(backend, "verified").await;
        let line = "010-5555-0001";
        st.kos_line("CU-OWNER-01", "01055550001").await;

        // A stranger who knows the number: the old one-step registration is refused, and the
        // message (what the registration page shows) says what to do.
        let (s, b) = st
            .auth_post(
                "/api/v1/auth/register",
                form("stranger1", "CU202401001", line, None),
            )
            .await;
        assert_eq!(
            (s, b["error"]["code"].as_str()),
            (403, Some("LINE_VERIFICATION_REQUIRED")),
            "{b}"
        );
        assert!(b["message"].as_str().unwrap().contains("인증번호"), "{b}");
        // Guessing a code without one pending is the same answer.
        let (s, b) = st
            .auth_post(
                "/api/v1/auth/register",
                form("stranger1", "C-X", line, Some("123456")),
            )
            .await;
        assert_eq!(
            (s, b["error"]["code"].as_str()),
            (403, Some("LINE_VERIFICATION_REQUIRED")),
            "{b}"
        );

        // The owner asks for a code: KOS texts it to the line.
        let (s, b) = st
            .auth_post(
                "/api/v1/auth/register/verification",
                json!({ "lineNumber": line }),
            )
            .await;
        assert_eq!(s, 200, "{b}");
        assert_eq!(b["data"]["expiresInSeconds"], 300);
        let code = st.code("01055550001").await;
        // The stranger's guess spends a try and says how many are left.
        let (s, b) = st
            .auth_post(
                "/api/v1/auth/register",
                form("stranger1", "CU202401001", line, Some(&wrong(&code))),
            )
            .await;
        assert_eq!(
            (s, b["error"]["code"].as_str()),
            (403, Some("VERIFICATION_CODE_INVALID")),
            "{b}"
        );
        assert_eq!(b["remainingAttempts"], 4, "{b}");

        // The owner registers with the code; the form's customer id (a victim's) is ignored: the
        // account gets the one KOS holds for the line.
        let (s, b) = st
            .auth_post(
                "/api/v1/auth/register",
                form("owner01", "CU202401001", line, Some(&code)),
            )
            .await;
        assert_eq!(s, 200, "{b}");
        assert_eq!(b["data"]["customer_id"], "CU-OWNER-01", "{b}");
        let (s, t) = st.login("owner01", "Secure1234!").await;
        assert_eq!(s, 200, "{t}");
        // The code opened one account; it is gone.
        let (s, b) = st
            .auth_post(
                "/api/v1/auth/register",
                form("owner02", "C-Y", "010-5555-0002", Some(&code)),
            )
            .await;
        assert_eq!(
            (s, b["error"]["code"].as_str()),
            (403, Some("LINE_VERIFICATION_REQUIRED")),
            "{b}"
        );

        // A line that is not a subscriber's, or already has an account, gets the same answer and
        // no text: the endpoint tells nobody whether a number exists.
        for l in ["010-5555-0999", line] {
            let (s, b) = st
                .auth_post(
                    "/api/v1/auth/register/verification",
                    json!({ "lineNumber": l }),
                )
                .await;
            assert_eq!(s, 200, "{l}: {b}");
        }
        assert!(st.texts("01055550999").await.is_empty());
        assert_eq!(st.texts("01055550001").await.len(), 1);
    }
);

backend_tests!(codes_expire_and_allow_few_tries, |backend| async move {
    let st = spawn(backend, "verified").await;
    st.kos_line("CU-TRIES-01", "01055551001").await;
    st.kos_line("CU-TRIES-02", "01055551002").await;
    let ask = |line: &'static str| {
        st.auth_post(
            "/api/v1/auth/register/verification",
            json!({ "lineNumber": line }),
        )
    };
    // Five wrong tries void the code: the right one no longer works.
    assert_eq!(ask("01055551001").await.0, 200);
    let code = st.code("01055551001").await;
    for left in (0..5).rev() {
        let (s, b) = st
            .auth_post(
                "/api/v1/auth/register",
                form("tries01", "C", "010-5555-1001", Some(&wrong(&code))),
            )
            .await;
        assert_eq!(
            (s, b["remainingAttempts"].as_i64()),
            (403, Some(left)),
            "{b}"
        );
    }
    let (s, b) = st
        .auth_post(
            "/api/v1/auth/register",
            form("tries01", "C", "010-5555-1001", Some(&code)),
        )
        .await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (403, Some("LINE_VERIFICATION_REQUIRED")),
        "{b}"
    );
    // One new code per line per minute (no texting a victim in a loop).
    assert_eq!(ask("01055551002").await.0, 200);
    let (s, b) = ask("01055551002").await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (429, Some("RATE_LIMITED")),
        "{b}"
    );
    // A code is good for five minutes.
    let code = st.code("01055551002").await;
    st.clock.advance(chrono::Duration::seconds(301));
    let (s, b) = st
        .auth_post(
            "/api/v1/auth/register",
            form("tries02", "C", "010-5555-1002", Some(&code)),
        )
        .await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (403, Some("LINE_VERIFICATION_REQUIRED")),
        "{b}"
    );
    // After a minute a new one may be asked for, and works.
    assert_eq!(ask("01055551002").await.0, 200);
    let code = st.code("01055551002").await;
    let (s, b) = st
        .auth_post(
            "/api/v1/auth/register",
            form("tries02", "C", "010-5555-1002", Some(&code)),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["data"]["customer_id"], "CU-TRIES-02");
});

backend_tests!(
    closed_mode_leaves_accounts_to_the_carrier,
    |backend| async move {
        let st = spawn(backend, "closed").await;
        st.kos_line("CU-CLOSED-1", "01055552001").await;
        let (s, b) = st
            .auth_post(
                "/api/v1/auth/register",
                form("closed01", "CU-CLOSED-1", "010-5555-2001", None),
            )
            .await;
        assert_eq!(
            (s, b["error"]["code"].as_str()),
            (403, Some("REGISTRATION_CLOSED")),
            "{b}"
        );
        assert!(!b["message"].as_str().unwrap().is_empty());
        let (s, b) = st
            .auth_post(
                "/api/v1/auth/register/verification",
                json!({ "lineNumber": "01055552001" }),
            )
            .await;
        assert_eq!(
            (s, b["error"]["code"].as_str()),
            (403, Some("REGISTRATION_CLOSED")),
            "{b}"
        );
        assert!(st.texts("01055552001").await.is_empty());
        // An administrator provisions the account.
        let (s, t) = st.login("admin", "Admin1234!").await;
        assert_eq!(s, 200, "{t}");
        let admin = t["access_token"].as_str().unwrap().to_owned();
        let (s, b) = st
            .post(
                &st.auth,
                "/api/v1/auth/register",
                form("closed01", "CU-CLOSED-1", "010-5555-2001", None),
                Some(&admin),
            )
            .await;
        assert_eq!(s, 200, "{b}");
    }
);

// Finding 3: a customer id already bound to an account is refused (in every mode), so no token
// names a victim's customer id and `/users/by-customer` cannot hand out their profile.
backend_tests!(a_customer_id_binds_one_account, |backend| async move {
    let st = spawn(backend, "open").await;
    let (s, b) = st
        .auth_post(
            "/api/v1/auth/register",
            form("victimcopy", "CU202401001", "010-5555-3001", None),
        )
        .await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (409, Some("CUSTOMER_ALREADY_REGISTERED")),
        "{b}"
    );
    assert!(st.login("victimcopy", "Secure1234!").await.0 == 401);
    // Open mode keeps the registration page working: a fresh customer registers in one step.
    let (s, b) = st
        .auth_post(
            "/api/v1/auth/register",
            form("newcomer", "CU-NEW-3002", "010-5555-3002", None),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["data"]["customer_id"], "CU-NEW-3002");
});
