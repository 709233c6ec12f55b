//! Benchmark rig (docs/benchmarks.md, product-change section): starts, in one process on
//! 127.0.0.1, the KOS mock (`KOS_PORT`, default 9111; memory store, rate limits off) and the
//! product-change service (`PRODUCT_PORT`, 9112; SQLite file in a temp dir, or `DATABASE_URL`;
//! reconciliation off). Creates `BENCH_LINES` (default 128) mock lines from 01020000000 on
//! product `5G-STANDARD-001` and writes a token owning all of them to `$TOKEN_FILE` (default
//! `/tmp/product-bench-token`). Runs until Ctrl-C.
//!
//! `BENCH_KOS=realistic` turns the mock's latency simulation on; `KOS_LATENCY_*` /
//! `KOS_SUCCESS_RATE_*` from the environment are passed to it (fixed latencies make the
//! service's own share easy to read).

use std::collections::HashMap;

use anyhow::Context;
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
    let realistic = std::env::var("BENCH_KOS").is_ok_and(|v| v == "realistic");
    let lines: u32 = std::env::var("BENCH_LINES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(128);

    // 1. KOS mock.
    let mut kos_env: HashMap<String, String> = HashMap::from([
        (
            "KOS_SIMULATION".to_owned(),
            if realistic { "realistic" } else { "off" }.to_owned(),
        ),
        ("KOS_RATE_LIMIT_ENABLED".to_owned(), "false".to_owned()),
        ("KOS_STORE".to_owned(), "memory".to_owned()),
        ("LOG_LEVEL".to_owned(), "warn".to_owned()),
    ]);
    kos_env.extend(
        std::env::vars()
            .filter(|(k, _)| k.starts_with("KOS_LATENCY_") || k.starts_with("KOS_SUCCESS_RATE_")),
    );
    let kos_cfg = phonebill_kos_mock::Config::from_env(Env::new(&kos_env))?;
    let kos_port = port("KOS_PORT", 9111);
    let l = tokio::net::TcpListener::bind(("127.0.0.1", kos_port)).await?;
    let mut kos_deps = Deps::new();
    kos_deps.shutdown = shutdown.child_token();
    let kos = phonebill_kos_mock::build(kos_cfg, kos_deps).await?;
    kos.wait_ready().await;
    tokio::spawn(phonebill_kos_mock::run(kos, l));
    let kos_url = format!("http://127.0.0.1:{kos_port}");
    let r = reqwest::Client::new()
        .post(format!("{kos_url}/api/v1/kos/mock-datas/bulk"))
        .json(&serde_json::json!({
            "count": lines, "startLineNumber": "01020000000", "productCode": "5G-STANDARD-001"
        }))
        .send()
        .await?;
    anyhow::ensure!(r.status().is_success(), "bulk mock data: {}", r.status());

    // 2. product-change.
    let dir = std::env::temp_dir().join(format!("product-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let db = std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| format!("sqlite://{}/product.db?mode=rwc", dir.display()));
    let mut env: HashMap<String, String> = HashMap::from([
        ("KOS_BASE_URL".to_owned(), kos_url),
        ("DATABASE_URL".to_owned(), db),
        ("RECONCILE_ENABLED".to_owned(), "false".to_owned()),
        ("LOG_LEVEL".to_owned(), "warn".to_owned()),
    ]);
    if let Ok(r) = std::env::var("REDIS_URL") {
        env.insert("REDIS_URL".to_owned(), r);
    }
    let mut cfg = phonebill_product_change::Config::from_env(Env::new(&env))?;
    let key = SigningKey::generate("bench")?;
    cfg.verifier.keys = KeySource::Static(JwkSet {
        keys: vec![key.public_jwk()],
    });
    let now = chrono::Utc::now().timestamp();
    let token = key.sign(&Claims {
        iss: "phonebill-auth".into(),
        aud: "phonebill".into(),
        sub: "bench".into(),
        customer_id: "CU-bench".into(),
        line_numbers: (0..lines).map(|i| format!("0102{i:07}")).collect(),
        permissions: vec!["PRODUCT_CHANGE".into()],
        sid: "bench-session".into(),
        jti: "bench".into(),
        iat: now,
        nbf: now,
        exp: now + 24 * 3600,
        typ: "access".into(),
    })?;
    let token_file =
        std::env::var("TOKEN_FILE").unwrap_or_else(|_| "/tmp/product-bench-token".to_owned());
    std::fs::write(&token_file, &token).context("writing the token file")?;
    let product_port = port("PRODUCT_PORT", 9112);
    let l = tokio::net::TcpListener::bind(("127.0.0.1", product_port)).await?;
    let mut deps = Deps::new();
    deps.shutdown = shutdown.child_token();
    let app = phonebill_product_change::build(cfg, deps).await?;
    app.database.wait_migrated().await;
    let svc = tokio::spawn(phonebill_product_change::run(app, l));
    println!(
        "ready: kos :{kos_port} ({}), product :{product_port}, {lines} lines; token in {token_file}",
        if realistic { "realistic" } else { "0 ms" }
    );
    tokio::signal::ctrl_c().await?;
    shutdown.cancel();
    let _ = svc.await;
    Ok(())
}
