//! The shared HTTP stack over real HTTP: every error path returns the docs/api.md envelope with the
//! right status and code, request ids, CORS, metrics labels, readiness against real databases,
//! and graceful shutdown.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::{get, post};
use phonebill_common::actuator::{DbHealth, HealthCheck, Lifecycle};
use phonebill_common::config::{DatabaseConfig, HttpConfig, ServerConfig};
use phonebill_common::db::{Database, Migrations};
use phonebill_common::envelope::Envelope;
use phonebill_common::extract::{Json, Path, Query};
use phonebill_common::http::{ServiceParts, assemble};
use phonebill_common::metrics::Metrics;
use phonebill_test_support::{Backend, TestDb, backend_tests};
use serde::Deserialize;
use serde_json::{Value, json};
use sqlx::migrate::Migrator;
use tokio_util::sync::CancellationToken;

static PG: Migrator = sqlx::migrate!("./tests/migrations/postgres");
static SQLITE: Migrator = sqlx::migrate!("./tests/migrations/sqlite");
const MIGRATIONS: Migrations = Migrations {
    postgres: &PG,
    sqlite: &SQLITE,
};

#[derive(Deserialize)]
struct Item {
    name: String,
    qty: u32,
}

#[derive(Deserialize)]
struct Paging {
    page: u32,
}

async fn create_item(Json(item): Json<Item>) -> Envelope<Value> {
    Envelope::ok(json!({ "name": item.name, "qty": item.qty })).message("created")
}

async fn get_item(Path(id): Path<u32>) -> Envelope<Value> {
    Envelope::ok(json!({ "id": id }))
}

async fn list_items(Query(p): Query<Paging>) -> Envelope<Value> {
    Envelope::ok(json!({ "page": p.page }))
}

async fn boom() -> &'static str {
    panic!("secret line 01012345678 exploded")
}

async fn slow() -> Envelope<Value> {
    tokio::time::sleep(Duration::from_millis(400)).await;
    Envelope::ok(json!({ "slow": true }))
}

struct TestServer {
    base: String,
    client: reqwest::Client,
    shutdown: CancellationToken,
    handle: tokio::task::JoinHandle<std::io::Result<()>>,
    _db: Option<TestDb>,
}

async fn spawn(db_url: Option<String>, db_guard: Option<TestDb>, timeout: Duration) -> TestServer {
    phonebill_test_support::init_test_logging();
    let shutdown = CancellationToken::new();
    let mut health: Vec<Arc<dyn HealthCheck>> = Vec::new();
    if let Some(url) = db_url {
        let cfg = DatabaseConfig::new(url, 2);
        let database = Database::start(&cfg, "http-stack-test", MIGRATIONS, shutdown.child_token())
            .expect("pool");
        health.push(Arc::new(DbHealth {
            name: "db".into(),
            database,
        }));
    }
    let router = Router::new()
        .route("/api/v1/items", post(create_item).get(list_items))
        .route("/api/v1/items/{id}", get(get_item))
        .route("/api/v1/boom", get(boom))
        .route("/api/v1/slow", get(slow));
    let parts = ServiceParts {
        name: "test",
        router,
        openapi: utoipa::openapi::OpenApi::default(),
        health,
    };
    let http = HttpConfig {
        request_timeout: timeout,
        ..HttpConfig::default()
    };
    let metrics = Metrics::new();
    let lifecycle = Lifecycle::default();
    let app = assemble("test", vec![parts], &metrics, &lifecycle, &http);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let server = ServerConfig {
        bind: [127, 0, 0, 1].into(),
        port: 0,
        shutdown_grace: Duration::from_secs(5),
        shutdown_delay: Duration::ZERO,
    };
    let token = shutdown.clone();
    let handle = tokio::spawn(async move {
        phonebill_common::server::serve(listener, app, token, lifecycle, &server).await
    });
    TestServer {
        base,
        client: reqwest::Client::new(),
        shutdown,
        handle,
        _db: db_guard,
    }
}

async fn plain() -> TestServer {
    spawn(None, None, Duration::from_secs(30)).await
}

async fn body(resp: reqwest::Response) -> Value {
    resp.json().await.expect("JSON body")
}

fn assert_envelope(v: &Value, code: &str) {
    assert_eq!(v["success"], false, "{v}");
    assert_eq!(v["error"]["code"], code, "{v}");
    assert!(v["message"].is_string(), "{v}");
    assert_eq!(v["message"], v["error"]["message"], "{v}");
    assert!(
        v["timestamp"]
            .as_str()
            .is_some_and(|t| t.ends_with("+09:00")),
        "{v}"
    );
    assert!(v["traceId"].is_string(), "{v}");
}

#[tokio::test]
async fn unknown_route_is_404_envelope() {
    let s = plain().await;
    let r = s
        .client
        .get(format!("{}/api/v1/nope", s.base))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 404);
    assert_envelope(&body(r).await, "NOT_FOUND");
}

#[tokio::test]
async fn wrong_method_is_405_envelope_with_allow() {
    let s = plain().await;
    let r = s
        .client
        .delete(format!("{}/api/v1/items", s.base))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 405);
    let allow = r
        .headers()
        .get("allow")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(
        allow.contains("GET") && allow.contains("POST"),
        "Allow: {allow}"
    );
    assert_envelope(&body(r).await, "METHOD_NOT_ALLOWED");
}

#[tokio::test]
async fn oversize_body_is_413_envelope() {
    let s = plain().await;
    let big = format!(r#"{{"name":"{}","qty":1}}"#, "x".repeat(70 * 1024));
    let r = s
        .client
        .post(format!("{}/api/v1/items", s.base))
        .header("content-type", "application/json")
        .body(big)
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 413);
    assert_envelope(&body(r).await, "PAYLOAD_TOO_LARGE");
}

#[tokio::test]
async fn malformed_bodies_are_400_malformed_request() {
    let s = plain().await;
    let url = format!("{}/api/v1/items", s.base);
    let cases: Vec<(&str, &str)> = vec![
        ("application/json", "{not json"),
        ("application/json", r#"{"name":"a","qty":"many"}"#),
        ("application/json", "[1,2,3]"),
        ("text/plain", r#"{"name":"a","qty":1}"#),
    ];
    for (ct, b) in cases {
        let r = s
            .client
            .post(&url)
            .header("content-type", ct)
            .body(b)
            .send()
            .await
            .expect("send");
        assert_eq!(r.status(), 400, "{ct} {b}");
        assert_envelope(&body(r).await, "MALFORMED_REQUEST");
    }
    let ok = s
        .client
        .post(&url)
        .json(&json!({"name":"a","qty":2}))
        .send()
        .await
        .expect("send");
    assert_eq!(ok.status(), 200);
    let v = body(ok).await;
    assert_eq!(v["success"], true);
    assert_eq!(v["data"]["qty"], 2);
    assert_eq!(v["message"], "created");
}

#[tokio::test]
async fn bad_path_and_query_values_are_400() {
    let s = plain().await;
    let r = s
        .client
        .get(format!("{}/api/v1/items/abc", s.base))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 400);
    assert_envelope(&body(r).await, "MALFORMED_REQUEST");
    let r = s
        .client
        .get(format!("{}/api/v1/items?page=first", s.base))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 400);
    assert_envelope(&body(r).await, "MALFORMED_REQUEST");
}

#[tokio::test]
async fn panic_is_opaque_500() {
    let s = plain().await;
    let r = s
        .client
        .get(format!("{}/api/v1/boom", s.base))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 500);
    let text = r.text().await.expect("text");
    assert!(
        !text.contains("exploded") && !text.contains("01012345678"),
        "{text}"
    );
    let v: Value = serde_json::from_str(&text).expect("json");
    assert_envelope(&v, "INTERNAL_ERROR");
    // The server keeps serving after a panic.
    let r = s
        .client
        .get(format!("{}/api/v1/items/1", s.base))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn request_timeout_is_503_envelope() {
    let s = spawn(None, None, Duration::from_millis(100)).await;
    let r = s
        .client
        .get(format!("{}/api/v1/slow", s.base))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 503);
    assert!(r.headers().contains_key("retry-after"));
    assert_envelope(&body(r).await, "SERVICE_UNAVAILABLE");
}

#[tokio::test]
async fn request_id_is_echoed_or_generated() {
    let s = plain().await;
    let url = format!("{}/api/v1/items/7", s.base);
    let r = s
        .client
        .get(&url)
        .header("x-request-id", "abc-123.X:y_z")
        .send()
        .await
        .expect("send");
    assert_eq!(r.headers()["x-request-id"], "abc-123.X:y_z");
    assert_eq!(body(r).await["traceId"], "abc-123.X:y_z");

    for bad in ["has space", "<script>", &"a".repeat(129)] {
        let r = s
            .client
            .get(&url)
            .header("x-request-id", bad)
            .send()
            .await
            .expect("send");
        let id = r.headers()["x-request-id"]
            .to_str()
            .expect("ascii")
            .to_owned();
        assert_ne!(id, bad);
        assert!(uuid::Uuid::parse_str(&id).is_ok(), "{id}");
        assert_eq!(body(r).await["traceId"], id.as_str());
    }
    let r = s
        .client
        .get(format!("{}/api/v1/none", s.base))
        .send()
        .await
        .expect("send");
    let id = r.headers()["x-request-id"]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert_eq!(
        body(r).await["traceId"],
        id.as_str(),
        "errors carry the request id too"
    );
}

#[tokio::test]
async fn cors_preflight_and_simple_requests() {
    let s = plain().await;
    let r = s
        .client
        .request(reqwest::Method::OPTIONS, format!("{}/api/v1/items", s.base))
        .header("origin", "http://localhost:3000")
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization,content-type,idempotency-key",
        )
        .send()
        .await
        .expect("send");
    assert!(r.status().is_success(), "{}", r.status());
    let h = r.headers();
    assert_eq!(h["access-control-allow-origin"], "http://localhost:3000");
    assert_eq!(h["access-control-max-age"], "3600");
    let methods = h["access-control-allow-methods"].to_str().expect("ascii");
    assert!(
        methods.contains("PUT") && methods.contains("DELETE"),
        "{methods}"
    );
    assert!(h.get("access-control-allow-credentials").is_none());

    let r = s
        .client
        .get(format!("{}/api/v1/items/1", s.base))
        .header("origin", "http://evil.example")
        .send()
        .await
        .expect("send");
    assert!(r.headers().get("access-control-allow-origin").is_none());
    let r = s
        .client
        .get(format!("{}/api/v1/items/1", s.base))
        .header("origin", "http://localhost:5173")
        .send()
        .await
        .expect("send");
    assert_eq!(
        r.headers()["access-control-allow-origin"],
        "http://localhost:5173"
    );
    let exposed = r.headers()["access-control-expose-headers"]
        .to_str()
        .expect("ascii")
        .to_ascii_lowercase();
    assert!(
        exposed.contains("x-request-id") && exposed.contains("retry-after"),
        "{exposed}"
    );
}

#[tokio::test]
async fn metrics_use_route_templates() {
    let s = plain().await;
    for id in [11, 12, 13] {
        s.client
            .get(format!("{}/api/v1/items/{id}", s.base))
            .send()
            .await
            .expect("send");
    }
    s.client
        .get(format!("{}/api/v1/items/zz", s.base))
        .send()
        .await
        .expect("send");
    let text = s
        .client
        .get(format!("{}/actuator/prometheus", s.base))
        .send()
        .await
        .expect("send")
        .text()
        .await
        .expect("text");
    assert!(
        text.contains(r#"http_server_request_duration_seconds_count{method="GET",route="/api/v1/items/{id}",service="test",status="200"} 3"#),
        "{text}"
    );
    assert!(
        text.contains(r#"route="/api/v1/items/{id}",service="test",status="400"} 1"#),
        "{text}"
    );
    assert!(
        !text.contains("/api/v1/items/11"),
        "raw paths must never be labels"
    );
    assert!(text.contains("http_server_requests_in_flight"));
}

#[tokio::test]
async fn liveness_and_docs() {
    let s = plain().await;
    for path in ["/actuator/health", "/actuator/health/liveness"] {
        let r = s
            .client
            .get(format!("{}{path}", s.base))
            .send()
            .await
            .expect("send");
        assert_eq!(r.status(), 200);
        assert_eq!(body(r).await, json!({"status":"UP"}));
    }
    let r = s
        .client
        .get(format!("{}/v3/api-docs", s.base))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 200);
    assert!(
        body(r).await["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3.1"))
    );
    let r = s
        .client
        .get(format!("{}/v3/api-docs/test", s.base))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 200);
    let r = s
        .client
        .get(format!("{}/swagger-ui/", s.base))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 200);
}

backend_tests!(
    readiness_is_up_with_a_healthy_database,
    |backend: Backend| async move {
        let db = TestDb::new(backend).await;
        let s = spawn(Some(db.url.clone()), Some(db), Duration::from_secs(30)).await;
        let url = format!("{}/actuator/health/readiness", s.base);
        // Migrations run in the background: poll until ready (bounded).
        let mut last = Value::Null;
        for _ in 0..100 {
            let r = s.client.get(&url).send().await.expect("send");
            let ok = r.status() == 200;
            last = body(r).await;
            if ok {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(
            last,
            json!({"status":"UP","components":{"db":{"status":"UP"}}})
        );
    }
);

#[tokio::test]
async fn readiness_is_503_naming_the_database_when_it_is_unreachable() {
    // A port nobody listens on: bind one, note it, close it.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let s = spawn(
        Some(format!("postgres://postgres@127.0.0.1:{port}/none")),
        None,
        Duration::from_secs(30),
    )
    .await;
    let started = std::time::Instant::now();
    let r = s
        .client
        .get(format!("{}/actuator/health/readiness", s.base))
        .send()
        .await
        .expect("send");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "readiness must answer within its own timeout"
    );
    assert_eq!(r.status(), 503);
    let v = body(r).await;
    assert_eq!(v["status"], "DOWN");
    assert_eq!(v["components"]["db"]["status"], "DOWN");
    assert!(v["components"]["db"]["details"]["error"].is_string(), "{v}");
    // Liveness does not depend on the database.
    let r = s
        .client
        .get(format!("{}/actuator/health", s.base))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn in_flight_request_completes_during_graceful_shutdown() {
    let s = plain().await;
    let client = s.client.clone();
    let url = format!("{}/api/v1/slow", s.base);
    let in_flight = tokio::spawn(async move { client.get(url).send().await });
    // Give the request time to reach the handler, then start shutdown (what SIGTERM does).
    tokio::time::sleep(Duration::from_millis(100)).await;
    s.shutdown.cancel();
    let resp = in_flight
        .await
        .expect("join")
        .expect("in-flight request must complete");
    assert_eq!(resp.status(), 200);
    assert_eq!(body(resp).await["data"]["slow"], true);
    let served = tokio::time::timeout(Duration::from_secs(5), s.handle)
        .await
        .expect("server stops")
        .expect("join");
    assert!(served.is_ok());
    // New connections are refused once drained.
    assert!(
        reqwest::Client::new()
            .get(format!("{}/actuator/health", s.base))
            .send()
            .await
            .is_err()
    );
}

backend_tests!(
    periodic_maintenance_runs_only_once_migrated_and_stops_on_cancel,
    |backend| async move {
        let db = TestDb::new(backend).await;
        let shutdown = CancellationToken::new();
        let database = Database::start(
            &db.config(),
            "periodic-test",
            MIGRATIONS,
            shutdown.child_token(),
        )
        .expect("pool");
        let runs = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let early = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let stop = CancellationToken::new();
        let job = {
            let (runs, early, database) = (runs.clone(), early.clone(), database.clone());
            move || {
                let (runs, early, migrated) = (runs.clone(), early.clone(), database.is_migrated());
                async move {
                    if !migrated {
                        early.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    }
                    runs.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                }
            }
        };
        let handle = tokio::spawn(database.clone().run_periodically(
            Duration::from_millis(20),
            stop.clone(),
            job,
        ));
        tokio::time::timeout(Duration::from_secs(10), async {
            while runs.load(std::sync::atomic::Ordering::SeqCst) < 3 {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
        .await
        .expect("three runs within 10 s");
        stop.cancel();
        tokio::time::timeout(Duration::from_secs(1), handle)
            .await
            .expect("the loop ends on cancel")
            .expect("no panic");
        assert_eq!(
            early.load(std::sync::atomic::Ordering::SeqCst),
            0,
            "ran before migrations"
        );
        shutdown.cancel();
    }
);
