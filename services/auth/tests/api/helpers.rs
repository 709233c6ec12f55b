//! `spawn_app`: the real auth service on 127.0.0.1:0 with a fresh database, a temp keys
//! directory, a controllable clock and cheap Argon2 parameters (one test uses the real ones).

use std::collections::HashMap;
use std::sync::Arc;

use phonebill_auth::{Config, ManualClock};
use phonebill_common::auth::keys::SigningKey;
use phonebill_common::config::Env;
use phonebill_common::service::Deps;
use phonebill_test_support::{Backend, TestDb};
use serde_json::{Value, json};
use tempfile::TempDir;

/// Options of one app instance.
#[derive(Default)]
pub struct Opts {
    pub db: Option<Arc<TestDb>>,
    pub keys_dir: Option<Arc<TempDir>>,
    pub env: Vec<(&'static str, String)>,
}

pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    pub clock: Arc<ManualClock>,
    pub db: Arc<TestDb>,
    pub keys_dir: Arc<TempDir>,
    pub deps: Deps,
    pub app_verifier: phonebill_common::auth::TokenVerifier,
    pub svc: phonebill_auth::service::AuthService,
    _data: TempDir,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.deps.shutdown.cancel();
    }
}

/// Writes a new `<kid>.pem` into `dir`.
pub fn add_key(dir: &TempDir, kid: &str) -> SigningKey {
    let k = SigningKey::generate(kid).unwrap();
    std::fs::write(
        dir.path().join(format!("{kid}.pem")),
        k.to_pkcs8_pem().unwrap(),
    )
    .unwrap();
    k
}

/// Reads a key back from `dir`.
pub fn read_key(dir: &TempDir, kid: &str) -> SigningKey {
    let pem = std::fs::read_to_string(dir.path().join(format!("{kid}.pem"))).unwrap();
    SigningKey::from_pkcs8_pem(kid, &pem).unwrap()
}

pub async fn spawn_app(backend: Backend) -> TestApp {
    spawn_with(backend, Opts::default()).await
}

pub async fn spawn_with(backend: Backend, opts: Opts) -> TestApp {
    phonebill_test_support::init_test_logging();
    let db = match opts.db {
        Some(db) => db,
        None => Arc::new(TestDb::new(backend).await),
    };
    let keys_dir = opts.keys_dir.unwrap_or_else(|| {
        let d = tempfile::tempdir().unwrap();
        add_key(&d, "k1");
        Arc::new(d)
    });
    let data = tempfile::tempdir().unwrap();
    let mut env: HashMap<String, String> = HashMap::from([
        ("ARGON2_MEMORY_KIB".into(), "64".into()),
        ("ARGON2_ITERATIONS".into(), "1".into()),
        ("SEED_DEMO_USERS".into(), "true".into()),
        // One-step registration, as these tests always did; verified and closed registration
        // are tested against the real KOS mock in crates/integration-tests/tests/registration.rs.
        ("REGISTRATION_MODE".into(), "open".into()),
        ("JWT_KEYS_DIR".into(), keys_dir.path().display().to_string()),
        ("DATA_DIR".into(), data.path().display().to_string()),
    ]);
    for (k, v) in opts.env {
        env.insert(k.into(), v);
    }
    let mut config = Config::from_env(Env::new(&env)).unwrap();
    config.base.database = db.config();
    let deps = Deps::new();
    let clock = Arc::new(ManualClock::new());
    let app = phonebill_auth::build_with_clock(config, deps.clone(), clock.clone())
        .await
        .unwrap();
    assert!(app.database.wait_migrated().await);
    assert!(app.wait_seeded().await);
    let app_verifier = app.verifier();
    let svc = app.auth_service();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(phonebill_auth::run(app, listener));
    TestApp {
        base,
        client: reqwest::Client::new(),
        clock,
        db,
        keys_dir,
        deps,
        app_verifier,
        svc,
        _data: data,
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn post(&self, path: &str, body: Value) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    pub async fn login(&self, user: &str, pw: &str) -> reqwest::Response {
        self.post(
            "/api/v1/auth/login",
            json!({"userId": user, "password": pw}),
        )
        .await
    }

    /// Logs in and returns (access, refresh).
    pub async fn tokens(&self, user: &str, pw: &str) -> (String, String) {
        let r = self.login(user, pw).await;
        assert_eq!(r.status(), 200);
        let b: Value = r.json().await.unwrap();
        (
            b["access_token"].as_str().unwrap().to_owned(),
            b["refresh_token"].as_str().unwrap().to_owned(),
        )
    }

    pub async fn refresh(&self, rt: &str) -> reqwest::Response {
        self.post("/api/v1/auth/refresh", json!({"refreshToken": rt}))
            .await
    }

    pub async fn get_auth(&self, path: &str, token: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    pub async fn logout(&self, token: &str) -> reqwest::Response {
        self.client
            .post(self.url("/api/v1/auth/logout"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }
}

/// `(status, body)` of a response.
pub async fn parts(r: reqwest::Response) -> (u16, Value) {
    let s = r.status().as_u16();
    (s, r.json().await.unwrap_or(Value::Null))
}

/// The `error.code` of an envelope.
pub fn code(b: &Value) -> &str {
    b["error"]["code"].as_str().unwrap_or("")
}

/// Keys of a JSON object, sorted.
pub fn keys_of(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
    k.sort();
    k
}
