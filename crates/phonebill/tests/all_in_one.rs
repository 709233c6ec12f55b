//! The `phonebill` binary as a newcomer runs it: no PostgreSQL, no Redis, no configuration.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

struct Running {
    child: Child,
    base: String,
    _dir: tempfile::TempDir,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn command(dir: &std::path::Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_phonebill"));
    c.current_dir(dir)
        .env_remove("DATABASE_URL")
        .env_remove("REDIS_URL")
        .env_remove("PORT")
        .env("RUST_LOG", "warn")
        .env("LOG_FORMAT", "json");
    c
}

/// Starts the binary on a free port in a fresh directory; reads the URL from its banner.
fn start() -> (Running, Instant) {
    start_with(&[])
}

/// [`start`] with extra arguments.
fn start_with(extra: &[&str]) -> (Running, Instant) {
    let dir = tempfile::tempdir().expect("temp dir");
    let started = Instant::now();
    let mut child = command(dir.path())
        .env_remove("KOS_API_KEY")
        .env_remove("KOS_REQUIRE_AUTH")
        .env_remove("KOS_ADMIN_REQUIRES_KEY")
        .args(["--port", "0", "--data-dir", "data"])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn phonebill");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let base = loop {
        let line = lines
            .next()
            .expect("banner before exit")
            .expect("read stdout");
        if let Some(rest) = line.strip_prefix("phonebill is running at ") {
            break rest.trim().to_owned();
        }
    };
    // Keep draining stdout so the child never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    (
        Running {
            child,
            base,
            _dir: dir,
        },
        started,
    )
}

async fn get(url: &str) -> reqwest::Response {
    reqwest::Client::new()
        .get(url)
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .expect("request")
}

#[tokio::test]
async fn starts_with_zero_setup_and_serves_every_service() {
    let (app, started) = start();
    // Liveness answers as soon as the port is bound.
    let r = get(&format!("{}/actuator/health", app.base)).await;
    assert_eq!(r.status(), 200);
    println!("health answered {:?} after spawn", started.elapsed());
    assert!(
        app._dir.path().join("data").is_dir(),
        "SQLite files live under --data-dir"
    );

    // Readiness becomes UP once every service's SQLite database is migrated.
    let deadline = Instant::now() + Duration::from_secs(20);
    let body: Value = loop {
        let r = get(&format!("{}/actuator/health/readiness", app.base)).await;
        let ok = r.status() == 200;
        let body: Value = r.json().await.expect("json");
        if ok || Instant::now() > deadline {
            break body;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(body["status"], "UP", "{body}");
    for svc in ["auth", "bill-inquiry", "product-change", "kos-mock"] {
        assert_eq!(
            body["components"][format!("{svc}.db")]["status"],
            "UP",
            "{body}"
        );
        assert!(
            app._dir
                .path()
                .join("data")
                .join(format!("{svc}.db"))
                .is_file(),
            "{svc}.db"
        );
    }

    let index: Value = get(&format!("{}/v3/api-docs", app.base))
        .await
        .json()
        .await
        .expect("json");
    let services = index["services"].as_array().expect("index lists documents");
    assert_eq!(services.len(), 4, "{index}");
    for doc in services {
        let url = format!("{}{}", app.base, doc.as_str().expect("path"));
        let d: Value = get(&url).await.json().await.expect("json");
        assert!(d["openapi"].is_string(), "{url}: {d}");
    }
    let r = get(&format!("{}/api/v1/does-not-exist", app.base)).await;
    assert_eq!(r.status(), 404);
    let v: Value = r.json().await.expect("json");
    assert_eq!(v["error"]["code"], "NOT_FOUND");
    let metrics = get(&format!("{}/actuator/prometheus", app.base))
        .await
        .text()
        .await
        .expect("text");
    assert!(
        metrics.contains("http_server_request_duration_seconds"),
        "{metrics}"
    );
}

#[tokio::test]
async fn sigterm_stops_cleanly() {
    let (mut app, _) = start();
    assert_eq!(
        get(&format!("{}/actuator/health", app.base)).await.status(),
        200
    );
    let pid = app.child.id().to_string();
    let status = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill");
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(30);
    let exit = loop {
        if let Some(s) = app.child.try_wait().expect("wait") {
            break s;
        }
        assert!(
            Instant::now() < deadline,
            "phonebill did not stop after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(exit.success(), "exit status {exit}");
}

fn fails_naming(var: &str, value: &str) {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = command(dir.path())
        .args(["--port", "0"])
        .env(var, value)
        .output()
        .expect("run");
    assert!(!out.status.success(), "{var}={value} must fail start");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(var),
        "error for {var}={value} must name it: {stderr}"
    );
}

#[test]
fn bad_configuration_fails_start_naming_the_variable() {
    fails_naming("REQUEST_TIMEOUT_SECONDS", "soon");
    fails_naming("CORS_ALLOWED_ORIGINS", "localhost:3000");
    fails_naming("LOG_FORMAT", "xml");
    fails_naming("SHUTDOWN_GRACE_SECONDS", "-1");
}

#[test]
fn bad_port_fails_start_naming_the_option() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = command(dir.path())
        .env("PORT", "eighty")
        .output()
        .expect("run");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("PORT"), "{stderr}");
}

#[test]
fn help_documents_every_option_and_its_variable() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = command(dir.path()).arg("--help").output().expect("run");
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for needle in [
        "--port",
        "[env: PORT=",
        "--bind",
        "[env: BIND_ADDRESS=",
        "--data-dir",
        "[env: DATA_DIR=",
        "--kos-realistic",
    ] {
        assert!(help.contains(needle), "--help lacks {needle}: {help}");
    }
}

async fn wait_ready(base: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let r = get(&format!("{base}/actuator/health/readiness")).await;
        if r.status() == 200 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "not ready: {}",
            r.text().await.unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The customer journey of the README through every service in one process: log in, open the
/// bill menu, query a bill, list products, pre-check and change the plan, log out; the logged-out
/// token is refused by the other services at once (shared deny list, no Redis).
#[tokio::test]
async fn customer_journey_across_all_services() {
    let (app, _) = start();
    wait_ready(&app.base).await;
    let c = reqwest::Client::new();
    let base = &app.base;

    let login: Value = c
        .post(format!("{base}/api/v1/auth/login"))
        .json(&serde_json::json!({"userId": "mvno002", "password": "Phonebill2!"}))
        .send()
        .await
        .expect("login")
        .json()
        .await
        .expect("json");
    let token = login["access_token"]
        .as_str()
        .expect("bare snake_case access_token")
        .to_owned();
    assert_eq!(login["line_number"], "010-1234-7777");
    let auth = format!("Bearer {token}");

    let menu: Value = c
        .get(format!("{base}/api/v1/bills/menu"))
        .header("authorization", &auth)
        .send()
        .await
        .expect("menu")
        .json()
        .await
        .expect("json");
    assert_eq!(menu["success"], true, "{menu}");
    assert_eq!(
        menu["data"]["customerInfo"]["lineNumber"], "010-1234-7777",
        "{menu}"
    );
    assert_eq!(
        menu["data"]["availableMonths"].as_array().map(Vec::len),
        Some(6),
        "{menu}"
    );

    let bill: Value = c
        .post(format!("{base}/api/v1/bills/inquiry"))
        .header("authorization", &auth)
        .json(&serde_json::json!({"lineNumber": "010-1234-7777"}))
        .send()
        .await
        .expect("inquiry")
        .json()
        .await
        .expect("json");
    assert_eq!(bill["data"]["procStatus"], "SUCCESS", "{bill}");
    let info = &bill["data"]["billInfo"];
    assert_eq!(info["productCode"], "5G-PREMIUM-001", "{bill}");
    let (m, u, d, t) = (
        info["monthlyFee"].as_i64(),
        info["usageFee"].as_i64(),
        info["discountAmount"].as_i64(),
        info["totalFee"].as_i64(),
    );
    assert_eq!(
        t,
        Some(m.unwrap_or(0) + u.unwrap_or(0) - d.unwrap_or(0)),
        "{bill}"
    );

    let products: Value = c
        .get(format!(
            "{base}/api/v1/products/available?currentProductCode=5G-PREMIUM-001"
        ))
        .header("authorization", &auth)
        .send()
        .await
        .expect("products")
        .json()
        .await
        .expect("json");
    let codes: Vec<&str> = products["data"]["products"]
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|p| p["productCode"].as_str())
        .collect();
    assert!(
        codes.contains(&"LTE-BASIC-001") && !codes.contains(&"5G-PREMIUM-001"),
        "{products}"
    );

    let body = serde_json::json!({"lineNumber": "01012347777", "currentProductCode": "5G-PREMIUM-001", "targetProductCode": "LTE-BASIC-001"});
    let check: Value = c
        .post(format!("{base}/api/v1/products/change/validation"))
        .header("authorization", &auth)
        .json(&body)
        .send()
        .await
        .expect("validation")
        .json()
        .await
        .expect("json");
    assert_eq!(check["data"]["validationResult"], "SUCCESS", "{check}");
    let change: Value = c
        .post(format!("{base}/api/v1/products/change"))
        .header("authorization", &auth)
        .header("idempotency-key", "journey-1")
        .json(&body)
        .send()
        .await
        .expect("change")
        .json()
        .await
        .expect("json");
    assert_eq!(change["data"]["processStatus"], "COMPLETED", "{change}");
    assert_eq!(change["data"]["resultCode"], "0000", "{change}");

    // The current-month bill now shows the new product (the change invalidated the cached bill).
    let bill: Value = c
        .post(format!("{base}/api/v1/bills/inquiry"))
        .header("authorization", &auth)
        .json(&serde_json::json!({"lineNumber": "01012347777"}))
        .send()
        .await
        .expect("inquiry")
        .json()
        .await
        .expect("json");
    assert_eq!(
        bill["data"]["billInfo"]["productCode"], "LTE-BASIC-001",
        "{bill}"
    );

    let out = c
        .post(format!("{base}/api/v1/auth/logout"))
        .header("authorization", &auth)
        .send()
        .await
        .expect("logout");
    assert_eq!(out.status(), 200);
    let r = c
        .get(format!("{base}/api/v1/bills/menu"))
        .header("authorization", &auth)
        .send()
        .await
        .expect("menu");
    assert_eq!(r.status(), 401);
    let v: Value = r.json().await.expect("json");
    assert_eq!(v["error"]["code"], "TOKEN_REVOKED", "{v}");
    let r = c
        .get(format!("{base}/api/v1/products/menu"))
        .header("authorization", &auth)
        .send()
        .await
        .expect("menu");
    assert_eq!(r.status(), 401);
}

/// Issue 17 finding 6 (docs/security.md): started with `--bind 0.0.0.0` the embedded KOS mock
/// is not open to the network: its KOS, admin, fault and bulk endpoints need the generated key,
/// kept 0600 under the data directory; the in-process KOS clients use it, so the customer
/// journey still works. (Reached here over 127.0.0.1; the bind is what decides.)
#[tokio::test]
async fn a_network_bind_locks_the_kos_mock() {
    let (app, _) = start_with(&["--bind", "0.0.0.0"]);
    let base = app.base.replace("0.0.0.0", "127.0.0.1");
    wait_ready(&base).await;
    let c = reqwest::Client::new();
    let stranger = [
        (
            reqwest::Method::PUT,
            "/api/v1/kos/admin/faults",
            serde_json::json!({"endpoint": "bill-inquiry", "mode": "error", "count": 1}),
        ),
        (
            reqwest::Method::PUT,
            "/api/v1/kos/admin/simulation",
            serde_json::json!({"mode": "realistic"}),
        ),
        (
            reqwest::Method::POST,
            "/api/v1/kos/mock-datas/bulk",
            serde_json::json!({"count": 100000, "startLineNumber": "01060000000"}),
        ),
        (
            reqwest::Method::POST,
            "/api/v1/kos/product/change",
            serde_json::json!({"lineNumber": "01012347777", "currentProductCode": "5G-PREMIUM-001", "targetProductCode": "LTE-BASIC-001", "requestId": "x"}),
        ),
        (
            reqwest::Method::GET,
            "/api/v1/mock-datas/customer/bill?lineNumber=01012347777",
            Value::Null,
        ),
    ];
    for (m, path, body) in stranger {
        let r = c
            .request(m.clone(), format!("{base}{path}"))
            .header("X-Service-Name", "bill-inquiry-service")
            .json(&body)
            .send()
            .await
            .expect("send");
        assert_eq!(r.status(), 401, "{m} {path}");
    }
    let key_file = app._dir.path().join("data").join("kos-api-key");
    let key = std::fs::read_to_string(&key_file).expect("the generated key is kept");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key_file)
            .expect("meta")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let db = std::fs::metadata(app._dir.path().join("data").join("auth.db")).expect("auth.db");
        assert_eq!(db.permissions().mode() & 0o777, 0o600, "auth.db is private");
    }
    let r = c
        .get(format!("{base}/api/v1/kos/admin/simulation"))
        .header("X-Service-Name", "bill-inquiry-service")
        .header("Authorization", format!("Bearer {}", key.trim()))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 200);
    // The journey through the services still works (they send the key to the mock).
    let login: Value = c
        .post(format!("{base}/api/v1/auth/login"))
        .json(&serde_json::json!({"userId": "mvno002", "password": "Phonebill2!"}))
        .send()
        .await
        .expect("login")
        .json()
        .await
        .expect("json");
    let token = login["access_token"].as_str().expect("token").to_owned();
    let bill: Value = c
        .post(format!("{base}/api/v1/bills/inquiry"))
        .bearer_auth(&token)
        .json(&serde_json::json!({"lineNumber": "010-1234-7777"}))
        .send()
        .await
        .expect("inquiry")
        .json()
        .await
        .expect("json");
    assert_eq!(bill["data"]["procStatus"], "SUCCESS", "{bill}");
}

/// The registration page's flow on the default (loopback, `open` registration) all-in-one:
/// register in one step, then create the mock data; a second account for the same customer id
/// is refused.
#[tokio::test]
async fn the_registration_page_still_works_locally() {
    let (app, _) = start();
    wait_ready(&app.base).await;
    let c = reqwest::Client::new();
    let base = &app.base;
    let form = |user: &str, line: &str| {
        serde_json::json!({"userId": user, "customerId": "CU-PAGE-0001", "lineNumber": line,
            "userName": "페이지", "password": "Secure1234!", "permissions": ["BILL_INQUIRY", "PRODUCT_CHANGE"]})
    };
    let r = c
        .post(format!("{base}/api/v1/auth/register"))
        .json(&form("pageuser", "010-2222-0001"))
        .send()
        .await
        .expect("register");
    assert_eq!(r.status(), 200);
    let r = c
        .post(format!("{base}/api/v1/kos/mock-datas"))
        .json(&serde_json::json!({"customerId": "CU-PAGE-0001", "lineNumber": "01022220001"}))
        .send()
        .await
        .expect("mock data");
    assert_eq!(r.status(), 200);
    let r = c
        .post(format!("{base}/api/v1/auth/register"))
        .json(&form("pageuser2", "010-2222-0002"))
        .send()
        .await
        .expect("register");
    assert_eq!(r.status(), 409);
    let b: Value = r.json().await.expect("json");
    assert_eq!(b["error"]["code"], "CUSTOMER_ALREADY_REGISTERED", "{b}");
}

/// The committed OpenAPI documents (docs/openapi/<name>.json), one per service.
fn snapshot_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/openapi")
}

/// `v` with every object's keys in sorted order, whatever map the JSON parser used, so the
/// committed files are stable and diff line by line.
fn sorted(v: Value) -> Value {
    match v {
        Value::Object(map) => {
            let mut entries: Vec<(String, Value)> = map.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(entries.into_iter().map(|(k, v)| (k, sorted(v))).collect())
        }
        Value::Array(items) => Value::Array(items.into_iter().map(sorted).collect()),
        other => other,
    }
}

/// The JSON pointer of the first place where `a` and `b` differ, with both values there.
fn first_difference(path: &str, a: &Value, b: &Value) -> Option<(String, String, String)> {
    let short = |v: Option<&Value>| {
        let s = v.map_or_else(|| "(absent)".to_owned(), Value::to_string);
        if s.chars().count() > 200 {
            format!("{}…", s.chars().take(200).collect::<String>())
        } else {
            s
        }
    };
    let here = || Some((path.to_owned(), short(Some(a)), short(Some(b))));
    // RFC 6901 escaping of a key.
    let child = |k: &str| format!("{path}/{}", k.replace('~', "~0").replace('/', "~1"));
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let mut keys: Vec<&String> = x.keys().chain(y.keys()).collect();
            keys.sort();
            keys.dedup();
            keys.into_iter().find_map(|k| match (x.get(k), y.get(k)) {
                (Some(va), Some(vb)) => first_difference(&child(k), va, vb),
                (va, vb) => Some((child(k), short(va), short(vb))),
            })
        }
        (Value::Array(x), Value::Array(y)) => {
            let found = x
                .iter()
                .zip(y)
                .enumerate()
                .find_map(|(i, (va, vb))| first_difference(&format!("{path}/{i}"), va, vb));
            match found {
                Some(d) => Some(d),
                None if x.len() != y.len() => Some((
                    format!("{path} (length)"),
                    x.len().to_string(),
                    y.len().to_string(),
                )),
                None => None,
            }
        }
        _ if a == b => None,
        _ => here(),
    }
}

/// Every OpenAPI document the all-in-one serves equals its committed snapshot under
/// docs/openapi/, so a change to a route, a schema, a summary or an example shows up in review
/// as a diff of that file. `UPDATE_OPENAPI_SNAPSHOTS=1` rewrites the files instead.
#[tokio::test]
async fn openapi_snapshots() {
    let (app, _) = start();
    let update = std::env::var_os("UPDATE_OPENAPI_SNAPSHOTS").is_some();
    let index: Value = get(&format!("{}/v3/api-docs", app.base))
        .await
        .json()
        .await
        .expect("json");
    let mut names: Vec<String> = index["services"]
        .as_array()
        .expect("index lists documents")
        .iter()
        .map(|d| {
            let path = d.as_str().expect("path");
            path.rsplit('/').next().expect("name").to_owned()
        })
        .collect();
    names.sort();
    assert_eq!(
        names,
        ["auth", "bill-inquiry", "kos-mock", "product-change"],
        "{index}"
    );
    let dir = snapshot_dir();
    let mut failures = Vec::new();
    for name in &names {
        let url = format!("{}/v3/api-docs/{name}", app.base);
        let live = sorted(get(&url).await.json().await.expect("json"));
        let file = dir.join(format!("{name}.json"));
        if update {
            let mut text = serde_json::to_string_pretty(&live).expect("serialise");
            text.push('\n');
            std::fs::create_dir_all(&dir).expect("docs/openapi");
            std::fs::write(&file, text).expect("write snapshot");
            continue;
        }
        let committed: Value = match std::fs::read_to_string(&file) {
            Ok(text) => serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("{} is not JSON: {e}", file.display())),
            Err(e) => {
                failures.push(format!("{}: {e}", file.display()));
                continue;
            }
        };
        if let Some((pointer, was, now)) = first_difference("", &committed, &live) {
            failures.push(format!(
                "docs/openapi/{name}.json differs from {url} first at `{pointer}`:\n  committed: {was}\n  served:    {now}"
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{}\n\nIf the change is intended, rewrite the snapshots and review their diff:\n  \
         UPDATE_OPENAPI_SNAPSHOTS=1 cargo nextest run -p phonebill -E 'test(openapi_snapshots)'",
        failures.join("\n\n")
    );
}

/// The diff helper names the first differing JSON pointer (a snapshot failure must say where).
#[test]
fn first_difference_names_the_pointer() {
    let a = serde_json::json!({"paths": {"/a/b": {"get": {"summary": "x"}}}, "n": [1, 2]});
    let b = serde_json::json!({"paths": {"/a/b": {"get": {"summary": "y"}}}, "n": [1, 2]});
    let (pointer, was, now) = first_difference("", &a, &b).expect("differs");
    assert_eq!(pointer, "/paths/~1a~1b/get/summary");
    assert_eq!((was.as_str(), now.as_str()), ("\"x\"", "\"y\""));
    let c = serde_json::json!({"paths": {"/a/b": {"get": {"summary": "x"}}}, "n": [1]});
    assert_eq!(
        first_difference("", &a, &c).map(|d| d.0),
        Some("/n (length)".to_owned())
    );
    assert_eq!(first_difference("", &a, &a.clone()), None);
    assert_eq!(sorted(a.clone()), a);
}
