//! `spawn_app`: the real kos-mock (memory store, simulation off) and the product-change service
//! on a fresh database, both on 127.0.0.1:0, driven over HTTP.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use phonebill_common::auth::keys::{JwkSet, SigningKey};
use phonebill_common::auth::{Claims, KeySource};
use phonebill_common::config::Env;
use phonebill_common::service::Deps;
use phonebill_product_change::domain::{ChangeRecord, ProcessStatus};
use phonebill_product_change::service::ProductService;
use phonebill_test_support::{Backend, TestDb};
use serde_json::{Value, json};

pub struct Kos {
    pub url: String,
    pub deps: Deps,
}

impl Drop for Kos {
    fn drop(&mut self) {
        self.deps.shutdown.cancel();
    }
}

/// Starts the KOS mock.
pub async fn spawn_kos() -> Arc<Kos> {
    let env: HashMap<String, String> = [
        ("KOS_STORE", "memory"),
        ("KOS_SIMULATION", "off"),
        ("KOS_FAULTS_ENABLED", "true"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let config = phonebill_kos_mock::Config::from_env(Env::new(&env)).expect("kos config");
    let deps = Deps::new();
    let app = phonebill_kos_mock::build(config, deps.clone())
        .await
        .expect("kos build");
    assert!(app.wait_ready().await, "kos seeded");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(phonebill_kos_mock::run(app, listener));
    Arc::new(Kos { url, deps })
}

pub struct TestApp {
    pub url: String,
    pub client: reqwest::Client,
    pub kos: Arc<Kos>,
    pub key: Arc<SigningKey>,
    pub db: Arc<TestDb>,
    pub deps: Deps,
    pub service: ProductService,
    prefix: String,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.deps.shutdown.cancel();
    }
}

pub async fn spawn_app(backend: Backend) -> TestApp {
    spawn_app_with(backend, &[]).await
}

/// [`spawn_app`] without the background reconciliation task (the test drives every pass).
pub async fn spawn_app_manual_reconcile(backend: Backend) -> TestApp {
    let db = Arc::new(TestDb::new(backend).await);
    let kos = spawn_kos().await;
    spawn_on_with(
        db,
        kos,
        Arc::new(SigningKey::generate("test-key").expect("key")),
        phonebill_test_support::unique_prefix(),
        false,
        &[],
    )
    .await
}

/// [`spawn_app`] with extra service variables (e.g. `BREAKER_FAILURE_THRESHOLD`).
pub async fn spawn_app_with(backend: Backend, extra: &[(&str, &str)]) -> TestApp {
    let db = Arc::new(TestDb::new(backend).await);
    let kos = spawn_kos().await;
    spawn_on_with(
        db,
        kos,
        Arc::new(SigningKey::generate("test-key").expect("key")),
        phonebill_test_support::unique_prefix(),
        true,
        extra,
    )
    .await
}

/// Starts the service on `db` / `kos` (a second instance shares both: restart, replicas).
pub async fn spawn_on(
    db: Arc<TestDb>,
    kos: Arc<Kos>,
    key: Arc<SigningKey>,
    prefix: String,
    reconcile: bool,
) -> TestApp {
    spawn_on_with(db, kos, key, prefix, reconcile, &[]).await
}

/// [`spawn_on`] with extra service variables.
pub async fn spawn_on_with(
    db: Arc<TestDb>,
    kos: Arc<Kos>,
    key: Arc<SigningKey>,
    prefix: String,
    reconcile: bool,
    extra: &[(&str, &str)],
) -> TestApp {
    phonebill_test_support::init_test_logging();
    let mut env: HashMap<String, String> = [
        ("KOS_BASE_URL", kos.url.as_str()),
        ("REDIS_URL", &phonebill_test_support::redis_url()),
        ("CACHE_KEY_PREFIX", prefix.as_str()),
        (
            "RECONCILE_ENABLED",
            if reconcile { "true" } else { "false" },
        ),
        ("KOS_CHANGE_TIMEOUT_MS", "1000"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    env.extend(
        extra
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    );
    let mut config = phonebill_product_change::Config::from_env(Env::new(&env)).expect("config");
    // A spill file of its own (the default, ./data/spill, would be shared by every test).
    config.history.spill_path =
        Some(std::env::temp_dir().join(format!("phonebill-pc-spill-{prefix}.jsonl")));
    config.base.database = db.config();
    config.verifier.keys = KeySource::Static(JwkSet {
        keys: vec![key.public_jwk()],
    });
    let deps = Deps::new();
    let app = phonebill_product_change::build(config, deps.clone())
        .await
        .expect("build");
    assert!(app.database.wait_migrated().await, "migrated");
    let service = app.service.clone();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(phonebill_product_change::run(app, listener));
    TestApp {
        url,
        client: reqwest::Client::new(),
        kos,
        key,
        db,
        deps,
        service,
        prefix,
    }
}

impl TestApp {
    /// A token for a demo user.
    pub fn token(&self, user: &str, line: &str, perms: &[&str]) -> String {
        let now = chrono::Utc::now().timestamp();
        self.key
            .sign(&Claims {
                iss: "phonebill-auth".into(),
                aud: "phonebill".into(),
                sub: user.into(),
                customer_id: format!("CU-{user}"),
                line_numbers: vec![line.into()],
                permissions: perms.iter().map(|p| (*p).to_owned()).collect(),
                sid: uuid::Uuid::new_v4().to_string(),
                jti: uuid::Uuid::new_v4().to_string(),
                iat: now,
                nbf: now,
                exp: now + 600,
                typ: "access".into(),
            })
            .expect("sign")
    }

    pub fn user_token(&self, line: &str) -> String {
        self.token(&format!("u{}", &line[7..]), line, &["PRODUCT_CHANGE"])
    }

    pub async fn get(&self, path: &str, token: &str) -> (u16, Value, reqwest::header::HeaderMap) {
        let r = self
            .client
            .get(format!("{}{path}", self.url))
            .bearer_auth(token)
            .send()
            .await
            .expect("send");
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        (status, r.json().await.unwrap_or(Value::Null), headers)
    }

    pub async fn post(
        &self,
        path: &str,
        token: &str,
        body: &Value,
        key: Option<&str>,
    ) -> (u16, Value, reqwest::header::HeaderMap) {
        let mut req = self
            .client
            .post(format!("{}{path}", self.url))
            .bearer_auth(token)
            .json(body);
        if let Some(k) = key {
            req = req.header("Idempotency-Key", k);
        }
        let r = req.send().await.expect("send");
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        (status, r.json().await.unwrap_or(Value::Null), headers)
    }

    /// The line's product at KOS (straight from the mock).
    pub async fn kos_product(&self, line: &str) -> String {
        let r: Value = self
            .client
            .post(format!("{}/api/v1/kos/product/inquiry", self.kos.url))
            .json(&json!({ "lineNumber": line, "requestId": uuid::Uuid::new_v4().simple().to_string() }))
            .send()
            .await
            .expect("kos")
            .json()
            .await
            .expect("json");
        r["data"]["productInfo"]["currentProductCode"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// Scripts a KOS fault.
    pub async fn fault(&self, endpoint: &str, mode: &str, count: u32, delay_ms: Option<u64>) {
        let mut body = json!({ "endpoint": endpoint, "mode": mode, "count": count });
        if let Some(d) = delay_ms {
            body["delayMs"] = json!(d);
        }
        let r = self
            .client
            .put(format!("{}/api/v1/kos/admin/faults", self.kos.url))
            .json(&body)
            .send()
            .await
            .expect("fault");
        assert!(r.status().is_success(), "fault accepted: {}", r.status());
    }

    /// Clears every scripted KOS fault.
    pub async fn clear_faults(&self) {
        let r = self
            .client
            .delete(format!("{}/api/v1/kos/admin/faults", self.kos.url))
            .send()
            .await
            .expect("clear faults");
        assert!(r.status().is_success(), "faults cleared: {}", r.status());
    }

    pub fn prefix(&self) -> String {
        self.prefix.clone()
    }
}

pub fn change_body(line: &str, current: &str, target: &str) -> Value {
    json!({ "lineNumber": line, "currentProductCode": current, "targetProductCode": target })
}

/// A `PROCESSING` change of `line` from `5G-STANDARD-001` to `5G-PREMIUM-001` requested at
/// `requested_at`, as the outbox leaves it before KOS answers (tests insert it straight into the
/// store to stand for a process that died there); callers override fields with `..`.
pub fn processing_record(
    request_id: &str,
    line: &str,
    requested_at: DateTime<Utc>,
) -> ChangeRecord {
    ChangeRecord {
        request_id: request_id.into(),
        user_id: "u-test".into(),
        customer_id: "CU-test".into(),
        line_number: line.into(),
        current_product_code: "5G-STANDARD-001".into(),
        current_product_name: String::new(),
        target_product_code: "5G-PREMIUM-001".into(),
        target_product_name: String::new(),
        process_status: ProcessStatus::Processing,
        result_code: None,
        result_message: None,
        failure_reason: None,
        kos_order_number: None,
        effective_date: None,
        attempts: 0,
        next_attempt_at: None,
        requested_at,
        processed_at: None,
        updated_at: requested_at,
    }
}
