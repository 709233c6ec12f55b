//! `spawn_app`: the real KOS mock and the real bill-inquiry app on 127.0.0.1:0, tokens minted
//! with a test key pair, and the docs/api.md §5.5 bill formula written out independently.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{Datelike, NaiveDate, Utc};
use phonebill_bill_inquiry::store::DynBillStore;
use phonebill_common::auth::keys::{JwkSet, SigningKey};
use phonebill_common::auth::{Claims, KeySource};
use phonebill_common::cache::Cache;
use phonebill_common::config::Env;
use phonebill_common::metrics::Metrics;
use phonebill_common::service::Deps;
use phonebill_test_support::{Backend, TestDb};
use serde_json::{Value, json};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// A running KOS mock (in-memory store, simulation off, faults on).
pub struct Kos {
    pub base: String,
    pub metrics: Metrics,
    shutdown: CancellationToken,
}

impl Drop for Kos {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

pub async fn spawn_kos() -> Kos {
    let env: HashMap<String, String> = HashMap::from([
        ("KOS_SIMULATION".to_owned(), "off".to_owned()),
        ("KOS_RATE_LIMIT_ENABLED".to_owned(), "false".to_owned()),
        ("KOS_STORE".to_owned(), "memory".to_owned()),
        ("KOS_FAULTS_ENABLED".to_owned(), "true".to_owned()),
    ]);
    let config = phonebill_kos_mock::Config::from_env(Env::new(&env)).expect("kos config");
    let deps = Deps::new();
    let metrics = deps.metrics.clone();
    let shutdown = deps.shutdown.clone();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let app = phonebill_kos_mock::build(config, deps)
        .await
        .expect("kos build");
    assert!(app.wait_ready().await, "kos seeded");
    tokio::spawn(phonebill_kos_mock::run(app, listener));
    Kos {
        base: format!("http://{addr}"),
        metrics,
        shutdown,
    }
}

impl Kos {
    /// `kos_mock_requests_total` summed over the bill-inquiry endpoint.
    pub fn bill_calls(&self) -> u64 {
        let text = self.metrics.render();
        text.lines()
            .filter(|l| {
                l.starts_with("kos_mock_requests_total") && l.contains("endpoint=\"bill-inquiry\"")
            })
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum::<f64>() as u64
    }

    /// Scripts a fault (docs/api.md §5.7).
    pub async fn fault(&self, body: Value) {
        let r = reqwest::Client::new()
            .put(format!("{}/api/v1/kos/admin/faults", self.base))
            .json(&body)
            .send()
            .await
            .expect("fault");
        assert!(r.status().is_success(), "fault accepted: {}", r.status());
    }
}

/// A running bill-inquiry app.
pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    pub db: TestDb,
    pub kos: Option<Kos>,
    pub key: SigningKey,
    pub store: DynBillStore,
    pub cache: Cache,
    pub metrics: Metrics,
    pub shutdown: CancellationToken,
    pub task: Option<JoinHandle<std::io::Result<()>>>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// The app with the real mock and default settings.
pub async fn spawn_app(backend: Backend) -> TestApp {
    spawn_with(backend, &[]).await
}

/// The app with extra variables; `KOS_BASE_URL=down` points it at a closed port (no mock).
pub async fn spawn_with(backend: Backend, vars: &[(&str, &str)]) -> TestApp {
    phonebill_test_support::init_test_logging();
    let kos_down = vars
        .iter()
        .any(|(k, v)| *k == "KOS_BASE_URL" && *v == "down");
    let kos = if kos_down {
        None
    } else {
        Some(spawn_kos().await)
    };
    let kos_url = match &kos {
        Some(k) => k.base.clone(),
        None => {
            // A port that was just free: connections are refused.
            let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
            format!("http://{}", l.local_addr().expect("addr"))
        }
    };
    let mut env: HashMap<String, String> = HashMap::from([
        ("KOS_BASE_URL".to_owned(), kos_url),
        ("REDIS_URL".to_owned(), phonebill_test_support::redis_url()),
        (
            "CACHE_KEY_PREFIX".to_owned(),
            phonebill_test_support::unique_prefix(),
        ),
        (
            "REDIS_KEY_PREFIX".to_owned(),
            phonebill_test_support::unique_prefix(),
        ),
        ("HISTORY_LINGER_MS".to_owned(), "5".to_owned()),
        ("HISTORY_MAX_BACKOFF_MS".to_owned(), "200".to_owned()),
        // A spill file of its own per app (the default, ./data/spill, would be shared by every
        // test of the crate and replay one test's rows into another's database).
        (
            "HISTORY_SPILL_DIR".to_owned(),
            std::env::temp_dir()
                .join(format!(
                    "phonebill-bill-spill-{}",
                    phonebill_test_support::unique_prefix()
                ))
                .to_string_lossy()
                .into_owned(),
        ),
        ("KOS_RETRY_DELAY_MS".to_owned(), "10".to_owned()),
        ("OTEL_EXPORTER_OTLP_ENDPOINT".to_owned(), String::new()),
    ]);
    for (k, v) in vars {
        if *k != "KOS_BASE_URL" {
            env.insert((*k).to_owned(), (*v).to_owned());
        }
    }
    let mut config = phonebill_bill_inquiry::Config::from_env(Env::new(&env)).expect("config");
    let db = TestDb::new(backend).await;
    config.base.database = db.config();
    let key = SigningKey::generate("test-key").expect("key");
    config.verifier.keys = KeySource::Static(JwkSet {
        keys: vec![key.public_jwk()],
    });
    let deps = Deps::new();
    let metrics = deps.metrics.clone();
    let shutdown = deps.shutdown.clone();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let app = phonebill_bill_inquiry::build(config, deps)
        .await
        .expect("build");
    assert!(app.database.wait_migrated().await, "migrated");
    let store = app.store.clone();
    let cache = app.cache.clone();
    let task = tokio::spawn(phonebill_bill_inquiry::run(app, listener));
    TestApp {
        base: format!("http://{addr}"),
        client: reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .expect("client"),
        db,
        kos,
        key,
        store,
        cache,
        metrics,
        shutdown,
        task: Some(task),
    }
}

/// A demo user (docs/api.md §8).
pub struct User {
    pub id: &'static str,
    pub customer: &'static str,
    pub line: &'static str,
}

pub const MVNO001: User = User {
    id: "mvno001",
    customer: "CU202401001",
    line: "01012345678",
};
pub const MVNO002: User = User {
    id: "mvno002",
    customer: "CU202401002",
    line: "01012347777",
};
pub const MVNO003: User = User {
    id: "mvno003",
    customer: "CU202401003",
    line: "01098765432",
};
pub const MVNO004: User = User {
    id: "mvno004",
    customer: "CU202401004",
    line: "01055556666",
};
pub const MVNO005: User = User {
    id: "mvno005",
    customer: "CU202401005",
    line: "01077778888",
};

impl TestApp {
    pub fn token_with(&self, user: &User, permissions: &[&str]) -> String {
        let now = Utc::now().timestamp();
        self.key
            .sign(&Claims {
                iss: "phonebill-auth".into(),
                aud: "phonebill".into(),
                sub: user.id.into(),
                customer_id: user.customer.into(),
                line_numbers: vec![user.line.into()],
                permissions: permissions.iter().map(|p| (*p).to_owned()).collect(),
                sid: uuid_like(),
                jti: uuid_like(),
                iat: now,
                nbf: now,
                exp: now + 900,
                typ: "access".into(),
            })
            .expect("sign")
    }

    pub fn token(&self, user: &User) -> String {
        self.token_with(user, &["BILL_INQUIRY", "PRODUCT_CHANGE"])
    }

    pub async fn get(&self, token: &str, path: &str) -> (u16, reqwest::header::HeaderMap, Value) {
        let r = self
            .client
            .get(format!("{}{path}", self.base))
            .bearer_auth(token)
            .send()
            .await
            .expect("send");
        let s = r.status().as_u16();
        let h = r.headers().clone();
        (s, h, r.json().await.expect("json"))
    }

    pub async fn inquire(
        &self,
        token: &str,
        body: Value,
    ) -> (u16, reqwest::header::HeaderMap, Value) {
        let r = self
            .client
            .post(format!("{}/api/v1/bills/inquiry", self.base))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .expect("send");
        let s = r.status().as_u16();
        let h = r.headers().clone();
        (s, h, r.json().await.expect("json"))
    }

    /// Polls history until `pred` holds (history is written within 2 s, docs/api.md §3.6).
    pub async fn history_until(
        &self,
        token: &str,
        query: &str,
        pred: impl Fn(&Value) -> bool,
        within: Duration,
    ) -> Value {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let (s, _, v) = self
                .get(token, &format!("/api/v1/bills/history{query}"))
                .await;
            assert_eq!(s, 200, "{v}");
            if pred(&v) {
                return v;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "history condition not met in time: {v}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Runs a scalar count against the app's database directly.
    pub async fn count(&self, sql: &str) -> i64 {
        use sqlx::Connection;
        match self.db.backend() {
            Backend::Postgres => {
                let mut c = sqlx::PgConnection::connect(&self.db.url)
                    .await
                    .expect("connect");
                sqlx::query_scalar::<_, i64>(sql)
                    .fetch_one(&mut c)
                    .await
                    .expect("count")
            }
            Backend::Sqlite => {
                let mut c = sqlx::SqliteConnection::connect(&self.db.url)
                    .await
                    .expect("connect");
                sqlx::query_scalar::<_, i64>(sql)
                    .fetch_one(&mut c)
                    .await
                    .expect("count")
            }
        }
    }

    /// Cancels the shutdown token and waits for the app to stop (history flushed).
    pub async fn stop(&mut self) {
        self.shutdown.cancel();
        if let Some(t) = self.task.take() {
            tokio::time::timeout(Duration::from_secs(30), t)
                .await
                .expect("stopped in time")
                .expect("join")
                .expect("run");
        }
    }
}

fn uuid_like() -> String {
    format!("{:032x}", rand_u128())
}

fn rand_u128() -> u128 {
    use std::time::{SystemTime, UNIX_EPOCH};
    let t = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    t ^ (u128::from(std::process::id()) << 64)
}

/// FNV-1a 64 (docs/api.md §5.5), written out again so the test does not trust the code under test.
pub fn fnv(s: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// Today in Korea time.
pub fn today_kst() -> NaiveDate {
    (Utc::now() + chrono::Duration::hours(9)).date_naive()
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

/// (product code, name, monthly fee, data cap GB (200 = unlimited), voice cap) of a demo line.
pub fn demo_product(line: &str) -> (&'static str, &'static str, i64, u64, u64) {
    match line {
        "01012345678" => ("5G-STANDARD-001", "5G 스탠다드 플랜", 69000, 100, 500),
        "01012347777" => ("5G-PREMIUM-001", "5G 프리미엄 플랜", 89000, 200, 500),
        "01098765432" => ("LTE-BASIC-001", "LTE 베이직 플랜", 39000, 20, 500),
        "01055556666" => ("LTE-PREMIUM-001", "LTE 프리미엄 플랜", 59000, 50, 500),
        "01077778888" => ("3G-OLD-001", "3G 레거시 플랜", 29000, 5, 500),
        other => panic!("unknown line {other}"),
    }
}

/// The expected `billInfo` (docs/api.md §5.5).
pub fn expected_bill(line: &str, month: &str) -> Value {
    let (code, name, fee, data_cap, voice_cap) = demo_product(line);
    let h = fnv(&format!("{line}:{month}"));
    let usage = (h % 3000) as i64 * 10;
    let y: i32 = month[..4].parse().unwrap();
    let m: u32 = month[4..].parse().unwrap();
    let (dy, dm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
    json!({
        "lineNumber": line, "billingMonth": month, "productCode": code, "productName": name,
        "monthlyFee": fee, "usageFee": usage, "discountAmount": 0, "totalFee": fee + usage,
        "dataUsage": format!("{}GB", (h >> 16) % data_cap),
        "voiceUsage": format!("{}분", (h >> 32) % voice_cap),
        "smsUsage": format!("{}건", (h >> 48) % 100),
        "billStatus": if month == month_back(0) { "UNPAID" } else { "CONFIRMED" },
        "dueDate": format!("{dy:04}{dm:02}25"),
    })
}
