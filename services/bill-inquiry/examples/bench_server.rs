//! Benchmark rig (docs/benchmarks.md): starts, in one process on 127.0.0.1,
//! a bare axum JSON handler (`BARE_PORT`, default 9100), the KOS mock with simulation off
//! (9101), and the bill-inquiry service (9102; SQLite file in a temp dir; `REDIS_URL` from the
//! environment if set). Writes a test token (all demo lines, `BILL_INQUIRY`) to
//! `$TOKEN_FILE` (default `/tmp/bill-bench-token`) and runs until Ctrl-C.
//!
//! `BENCH_MISS=1` shrinks L1 to one entry and disables Redis so nearly every inquiry misses
//! and calls KOS (the cache-miss scenario).

use std::collections::HashMap;

use anyhow::Context;
use axum::routing::get;
use phonebill_common::auth::keys::{JwkSet, SigningKey};
use phonebill_common::auth::{Claims, KeySource};
use phonebill_common::config::Env;
use phonebill_common::service::Deps;

fn port(var: &str, default: u16) -> u16 {
    std::env::var(var)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let shutdown = Deps::new().shutdown;
    let miss = std::env::var("BENCH_MISS").is_ok_and(|v| v == "1");

    // 1. Bare axum JSON handler (the baseline).
    let bare = axum::Router::new().route(
        "/bare",
        get(|| async {
            axum::Json(serde_json::json!({ "success": true, "data": { "hello": "world" } }))
        }),
    );
    let l = tokio::net::TcpListener::bind(("127.0.0.1", port("BARE_PORT", 9100))).await?;
    tokio::spawn(async move { axum::serve(l, bare).await });

    // 2. KOS mock, simulation off, memory store.
    let kos_env: HashMap<String, String> = HashMap::from([
        ("KOS_SIMULATION".to_owned(), "off".to_owned()),
        ("KOS_RATE_LIMIT_ENABLED".to_owned(), "false".to_owned()),
        ("KOS_STORE".to_owned(), "memory".to_owned()),
        ("LOG_LEVEL".to_owned(), "warn".to_owned()),
    ]);
    let kos_cfg = phonebill_kos_mock::Config::from_env(Env::new(&kos_env))?;
    let kos_port = port("KOS_PORT", 9101);
    let l = tokio::net::TcpListener::bind(("127.0.0.1", kos_port)).await?;
    let mut kos_deps = Deps::new();
    kos_deps.shutdown = shutdown.child_token();
    let kos = phonebill_kos_mock::build(kos_cfg, kos_deps).await?;
    kos.wait_ready().await;
    tokio::spawn(phonebill_kos_mock::run(kos, l));

    // 3. bill-inquiry.
    let dir = tempfile_dir()?;
    let mut env: HashMap<String, String> = HashMap::from([
        (
            "KOS_BASE_URL".to_owned(),
            format!("http://127.0.0.1:{kos_port}"),
        ),
        (
            "DATABASE_URL".to_owned(),
            format!("sqlite://{dir}/bill.db?mode=rwc"),
        ),
        ("LOG_LEVEL".to_owned(), "warn".to_owned()),
    ]);
    if miss {
        env.insert("CACHE_L1_CAPACITY".to_owned(), "1".to_owned());
    } else if let Ok(r) = std::env::var("REDIS_URL") {
        env.insert("REDIS_URL".to_owned(), r);
    }
    let mut cfg = phonebill_bill_inquiry::Config::from_env(Env::new(&env))?;
    let key = SigningKey::generate("bench")?;
    cfg.verifier.keys = KeySource::Static(JwkSet {
        keys: vec![key.public_jwk()],
    });
    let now = chrono::Utc::now().timestamp();
    let token = key.sign(&Claims {
        iss: "phonebill-auth".into(),
        aud: "phonebill".into(),
        sub: "bench".into(),
        customer_id: "CU202401001".into(),
        line_numbers: ["01012345678", "01012347777", "01098765432", "01077778888"]
            .map(String::from)
            .to_vec(),
        permissions: vec!["BILL_INQUIRY".into()],
        sid: "bench-session".into(),
        jti: "bench".into(),
        iat: now,
        nbf: now,
        exp: now + 24 * 3600,
        typ: "access".into(),
    })?;
    let token_file =
        std::env::var("TOKEN_FILE").unwrap_or_else(|_| "/tmp/bill-bench-token".to_owned());
    std::fs::write(&token_file, &token).context("writing the token file")?;
    let l = tokio::net::TcpListener::bind(("127.0.0.1", port("BILL_PORT", 9102))).await?;
    let mut deps = Deps::new();
    deps.shutdown = shutdown.child_token();
    let app = phonebill_bill_inquiry::build(cfg, deps).await?;
    app.database.wait_migrated().await;
    let bill = tokio::spawn(phonebill_bill_inquiry::run(app, l));
    println!("ready: bare :9100/bare, kos :{kos_port}, bill :9102; token in {token_file}");
    tokio::signal::ctrl_c().await?;
    shutdown.cancel();
    let _ = bill.await;
    Ok(())
}

fn tempfile_dir() -> anyhow::Result<String> {
    let dir = std::env::temp_dir().join(format!("bill-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir.display().to_string())
}
