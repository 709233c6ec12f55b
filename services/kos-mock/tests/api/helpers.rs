//! Spawning the real app on 127.0.0.1:0 (zero2prod style) and the independent bill formula.

use std::collections::HashMap;
use std::net::SocketAddr;

use chrono::{Datelike, Duration, NaiveDate, Utc};
use phonebill_common::config::Env;
use phonebill_common::service::Deps;
use phonebill_kos_mock::{Config, StoreKind};
use phonebill_test_support::{Backend, TestDb};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

/// A running mock.
pub struct TestApp {
    pub addr: SocketAddr,
    pub base: String,
    pub client: reqwest::Client,
    pub db: Option<TestDb>,
    shutdown: CancellationToken,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// The mock on `backend` with simulation off, no rate limit, faults on, no auth.
pub async fn spawn_app(backend: Backend) -> TestApp {
    spawn_with(Some(backend), &[]).await
}

/// The mock with extra environment variables; `None` = in-memory store.
pub async fn spawn_with(backend: Option<Backend>, vars: &[(&str, &str)]) -> TestApp {
    spawn_configured(backend, vars, |_| {}).await
}

/// As [`spawn_with`], with a last change to the parsed configuration.
pub async fn spawn_configured(
    backend: Option<Backend>,
    vars: &[(&str, &str)],
    adjust: impl FnOnce(&mut Config),
) -> TestApp {
    phonebill_test_support::init_test_logging();
    let mut env: HashMap<String, String> = HashMap::from([
        ("KOS_SIMULATION".to_owned(), "off".to_owned()),
        ("KOS_RATE_LIMIT_ENABLED".to_owned(), "false".to_owned()),
        ("OTEL_EXPORTER_OTLP_ENDPOINT".to_owned(), String::new()),
    ]);
    for (k, v) in vars {
        env.insert((*k).to_owned(), (*v).to_owned());
    }
    if backend.is_none() {
        env.insert("KOS_STORE".to_owned(), "memory".to_owned());
    }
    let mut config = Config::from_env(Env::new(&env)).expect("config");
    adjust(&mut config);
    let db = match backend {
        Some(b) => Some(TestDb::new(b).await),
        None => None,
    };
    if let Some(db) = &db {
        config.base.database = db.config();
        assert_eq!(config.store, StoreKind::Database);
    }
    let deps = Deps::new();
    let shutdown = deps.shutdown.clone();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let app = phonebill_kos_mock::build(config, deps)
        .await
        .expect("build");
    let ready = tokio::time::timeout(std::time::Duration::from_secs(30), app.wait_ready())
        .await
        .expect("seeded in time");
    assert!(ready, "demo data seeded");
    tokio::spawn(phonebill_kos_mock::run(app, listener));
    TestApp {
        addr,
        base: format!("http://{addr}"),
        client: reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(30))
            .build()
            .expect("client"),
        db,
        shutdown,
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn post(&self, path: &str, body: &Value) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .json(body)
            .send()
            .await
            .expect("send")
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> (u16, Value) {
        let r = self.post(path, body).await;
        let s = r.status().as_u16();
        (s, r.json().await.expect("json body"))
    }

    pub async fn get_json(&self, path: &str) -> (u16, Value) {
        let r = self.client.get(self.url(path)).send().await.expect("send");
        let s = r.status().as_u16();
        (s, r.json().await.expect("json body"))
    }

    pub async fn put_json(&self, path: &str, body: &Value) -> (u16, Value) {
        let r = self
            .client
            .put(self.url(path))
            .json(body)
            .send()
            .await
            .expect("send");
        let s = r.status().as_u16();
        (s, r.json().await.expect("json body"))
    }

    pub async fn bill(&self, line: &str, month: Option<&str>) -> (u16, Value) {
        let mut body = json!({ "lineNumber": line, "requestId": "REQ_T" });
        if let Some(m) = month {
            body["billingMonth"] = json!(m);
        }
        self.post_json("/api/v1/kos/bill/inquiry", &body).await
    }

    pub async fn product(&self, line: &str) -> (u16, Value) {
        self.post_json(
            "/api/v1/kos/product/inquiry",
            &json!({ "lineNumber": line, "requestId": "PRQ_T" }),
        )
        .await
    }

    pub async fn change(&self, line: &str, cur: &str, target: &str, rid: &str) -> (u16, Value) {
        self.post_json(
            "/api/v1/kos/product/change",
            &json!({ "lineNumber": line, "currentProductCode": cur, "targetProductCode": target, "requestId": rid }),
        )
        .await
    }

    /// Runs raw SQL against the app's database (test setup only).
    pub async fn exec_sql(&self, sql: &str) {
        use sqlx::Connection;
        let db = self.db.as_ref().expect("database-backed app");
        match db.backend() {
            Backend::Postgres => {
                let mut c = sqlx::PgConnection::connect(&db.url).await.expect("connect");
                sqlx::query(sql).execute(&mut c).await.expect("exec");
            }
            Backend::Sqlite => {
                let mut c = sqlx::SqliteConnection::connect(&db.url)
                    .await
                    .expect("connect");
                sqlx::query(sql).execute(&mut c).await.expect("exec");
            }
        }
    }
}

/// FNV-1a 64, written out again here so the test does not trust the code under test.
pub fn fnv(s: &str) -> u64 {
    let mut h: u64 = 14_695_981_039_346_656_037;
    for b in s.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(1_099_511_628_211);
    }
    h
}

/// Today in Korea time.
pub fn today_kst() -> NaiveDate {
    (Utc::now() + Duration::hours(9)).date_naive()
}

/// `YYYYMM` of the month `back` months before the current KST month.
pub fn month_back(back: u32) -> String {
    let t = today_kst();
    let mut y = t.year();
    let mut m = t.month() as i32 - back as i32;
    while m <= 0 {
        m += 12;
        y -= 1;
    }
    format!("{y:04}{m:02}")
}

/// (monthly fee, data cap GB, voice cap min) of a demo product.
pub fn product_caps(code: &str) -> (i64, u64, u64) {
    match code {
        "5G-PREMIUM-001" => (89000, 200, 500),
        "5G-STANDARD-001" => (69000, 100, 500),
        "LTE-PREMIUM-001" => (59000, 50, 500),
        "LTE-BASIC-001" => (39000, 20, 500),
        "3G-OLD-001" => (29000, 5, 500),
        "LGU-LTE-001" => (45000, 30, 500),
        other => panic!("unknown product {other}"),
    }
}

/// The expected `billInfo` of `line` billed with `product` in `ym`.
pub fn expected_bill(line: &str, ym: &str, product: &str, current: bool) -> Value {
    let h = fnv(&format!("{line}:{ym}"));
    let (fee, data_cap, voice_cap) = product_caps(product);
    let usage = ((h % 3000) * 10) as i64;
    let y: i32 = ym[..4].parse().unwrap();
    let m: u32 = ym[4..].parse().unwrap();
    let (dy, dm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
    json!({
        "lineNumber": line,
        "billingMonth": ym,
        "productCode": product,
        "monthlyFee": fee,
        "usageFee": usage,
        "discountAmount": 0,
        "totalFee": fee + usage,
        "dataUsage": format!("{}GB", (h >> 16) % data_cap),
        "voiceUsage": format!("{}분", (h >> 32) % voice_cap),
        "smsUsage": format!("{}건", (h >> 48) % 100),
        "billStatus": if current { "UNPAID" } else { "CONFIRMED" },
        "dueDate": format!("{dy:04}{dm:02}25"),
    })
}

/// Asserts every field of `expected` appears in `actual` with the same value.
pub fn assert_subset(actual: &Value, expected: &Value) {
    for (k, v) in expected.as_object().expect("object") {
        assert_eq!(&actual[k], v, "field {k} of {actual}");
    }
}
