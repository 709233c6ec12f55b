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
    let dir = tempfile::tempdir().expect("temp dir");
    let started = Instant::now();
    let mut child = command(dir.path())
        .args(["--port", "0", "--data-dir", "data"])
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
