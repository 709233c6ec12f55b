//! The production shape (README, "Production shape on one machine"): two replicas of every
//! service, one database per service, one Redis, behind HAProxy with the routes of the chart's
//! Ingress. Each rule is tested with requests spread across the replicas; the first two tests
//! run on the TLS-only backing of production (PostgreSQL with a read replica, Redis Cluster
//! 3 + 3), the login-limit test on the machine's plain PostgreSQL and Redis.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use phonebill_system_tests::{Backing, Http, ProdShape, bounded, month_back};
use serde_json::{Value, json};

const LINE: &str = "01012345678";

async fn login(http: &Http, shape: &ProdShape, url: &str) -> Value {
    let r = http
        .post(
            url,
            None,
            &json!({ "userId": "mvno001", "password": "Phonebill1!" }),
        )
        .await;
    assert_eq!(r.status, 200, "login through {url}: {}", r.body);
    let _ = shape;
    r.body
}

fn field(v: &Value, k: &str) -> String {
    v[k].as_str()
        .unwrap_or_else(|| panic!("{k} in {v}"))
        .to_owned()
}

/// Polls until every URL refuses `token` with 401 (or `limit` passes); returns the time the
/// last one took.
async fn refused_everywhere(
    http: &Http,
    urls: &[String],
    token: &str,
    limit: Duration,
) -> Duration {
    let start = Instant::now();
    let mut pending: Vec<&String> = urls.iter().collect();
    while !pending.is_empty() {
        let mut still = Vec::new();
        for u in pending {
            let r = http.get(u, Some(token)).await;
            if r.status != 401 {
                still.push(u);
            }
        }
        pending = still;
        assert!(
            start.elapsed() < limit || pending.is_empty(),
            "still accepted after {limit:?} by {pending:?}"
        );
        if !pending.is_empty() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
    start.elapsed()
}

/// Every bill and product replica (directly, not through the ingress) and every auth replica.
fn guarded_urls(shape: &ProdShape) -> Vec<String> {
    let mut urls = Vec::new();
    for r in shape.of("bill-inquiry-service") {
        urls.push(r.svc.url("/api/v1/bills/menu"));
    }
    for r in shape.of("product-change-service") {
        urls.push(r.svc.url("/api/v1/products/menu"));
    }
    for r in shape.of("auth-service") {
        urls.push(r.svc.url("/api/v1/users/mvno001"));
    }
    urls
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn web_client_calls_work_through_the_ingress_and_a_logout_is_seen_by_every_replica() {
    bounded(Duration::from_secs(240), async {
        let backing = Backing::production().await.expect("TLS PostgreSQL and Redis Cluster");
        let shape = ProdShape::start(backing, 2)
            .await
            .expect("production shape");
        let http = &shape.stack.http;

        // The web client's calls, through the ingress, with its Origin (CORS as in production).
        let r = http
            .inner()
            .post(shape.url("/api/v1/auth/login"))
            .header("Origin", "http://localhost:3000")
            .json(&json!({ "userId": "mvno001", "password": "Phonebill1!" }))
            .send()
            .await
            .expect("login");
        assert_eq!(r.status().as_u16(), 200);
        assert_eq!(
            r.headers()
                .get("access-control-allow-origin")
                .and_then(|v| v.to_str().ok()),
            Some("http://localhost:3000")
        );
        let body: Value = r.json().await.expect("login body");
        let token = field(&body, "access_token");
        let menu = http.get(&shape.url("/api/v1/bills/menu"), Some(&token)).await;
        assert_eq!(menu.status, 200, "{}", menu.body);
        let inquiry = http
            .post(
                &shape.url("/api/v1/bills/inquiry"),
                Some(&token),
                &json!({ "lineNumber": LINE, "inquiryMonth": month_back(1) }),
            )
            .await;
        assert_eq!(inquiry.status, 200, "{}", inquiry.body);
        let customer = http
            .get(
                &shape.url(&format!("/api/v1/products/customer?lineNumber={LINE}")),
                Some(&token),
            )
            .await;
        assert_eq!(customer.status, 200, "{}", customer.body);
        // History reads go to the read replica (docs/architecture.md, "Read replica").
        for _ in 0..4 {
            let h = http.get(&shape.url("/api/v1/bills/history"), Some(&token)).await;
            assert_eq!(h.status, 200, "{}", h.body);
        }
        let mut replica_reads = 0.0;
        for r in shape.of("bill-inquiry-service") {
            let m = r.svc.metrics(http).await;
            replica_reads +=
                phonebill_system_tests::metric_sum(&m, "db_reads_total", &[("target", "replica")]);
        }
        assert!(replica_reads >= 4.0, "history reads on the replica: {replica_reads}");
        // A path the Ingress does not name never reaches a service.
        let outside = http.get(&shape.url("/actuator/prometheus"), None).await;
        assert_ne!(outside.status, 200, "the ingress must not expose /actuator");

        // Every replica accepts the token (keys shared through JWKS) ...
        let urls = guarded_urls(&shape);
        for u in &urls {
            assert_eq!(http.get(u, Some(&token)).await.status, 200, "{u}");
        }
        // ... until a logout on one auth replica, then every replica refuses it within 1 s.
        let auth0 = &shape.of("auth-service")[0];
        let out = http
            .post(&auth0.svc.url("/api/v1/auth/logout"), Some(&token), &json!({}))
            .await;
        assert_eq!(out.status, 200, "{}", out.body);
        let logout_ms = refused_everywhere(http, &urls, &token, Duration::from_secs(1)).await;

        // A refresh-token reuse on the other auth replica revokes the session everywhere.
        let auth1 = &shape.of("auth-service")[1];
        let first = login(http, &shape, &auth0.svc.url("/api/v1/auth/login")).await;
        let old_refresh = field(&first, "refresh_token");
        let rotated = http
            .post(
                &auth0.svc.url("/api/v1/auth/refresh"),
                None,
                &json!({ "refreshToken": old_refresh }),
            )
            .await;
        assert_eq!(rotated.status, 200, "{}", rotated.body);
        let new_access = field(&rotated.body, "access_token");
        for u in &urls {
            assert_eq!(http.get(u, Some(&new_access)).await.status, 200, "{u}");
        }
        let reuse = http
            .post(
                &auth1.svc.url("/api/v1/auth/refresh"),
                None,
                &json!({ "refreshToken": old_refresh }),
            )
            .await;
        assert_eq!(reuse.status, 401, "{}", reuse.body);
        assert_eq!(reuse.code(), "REFRESH_TOKEN_REUSED", "{}", reuse.body);
        let reuse_ms = refused_everywhere(http, &urls, &new_access, Duration::from_secs(1)).await;
        println!(
            "FIGURES production-shape revocation logout_all_replicas_ms={} reuse_all_replicas_ms={}",
            logout_ms.as_millis(),
            reuse_ms.as_millis()
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_rolling_restart_of_every_replica_under_load_fails_no_request() {
    bounded(Duration::from_secs(300), async {
        let backing = Backing::production().await.expect("TLS PostgreSQL and Redis Cluster");
        let mut shape = ProdShape::start(backing, 2)
            .await
            .expect("production shape");
        let body = login(
            &shape.stack.http,
            &shape,
            &shape.url("/api/v1/auth/login"),
        )
        .await;
        let token = Arc::new(field(&body, "access_token"));

        // Through the ingress, a request for every service in turn: inquiries (bill, and KOS
        // behind it), product look-ups (product-change, KOS), token checks (auth).
        let requests: Arc<Vec<(reqwest::Method, String, Option<Value>)>> = Arc::new(vec![
            (
                reqwest::Method::POST,
                shape.url("/api/v1/bills/inquiry"),
                Some(json!({ "lineNumber": LINE, "inquiryMonth": month_back(0) })),
            ),
            (
                reqwest::Method::GET,
                shape.url(&format!("/api/v1/products/customer?lineNumber={LINE}")),
                None,
            ),
            (
                reqwest::Method::GET,
                shape.url("/api/v1/users/mvno001"),
                None,
            ),
            (
                reqwest::Method::POST,
                shape.url("/api/v1/bills/inquiry"),
                Some(json!({ "lineNumber": LINE, "inquiryMonth": month_back(2) })),
            ),
        ]);
        let sent = Arc::new(AtomicU64::new(0));
        let failed = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let mut tasks = tokio::task::JoinSet::new();
        for w in 0..6usize {
            let (requests, sent, failed, stop, token) = (
                requests.clone(),
                sent.clone(),
                failed.clone(),
                stop.clone(),
                token.clone(),
            );
            let http = shape.stack.http.clone();
            tasks.spawn(async move {
                let mut i = w;
                while !stop.load(Ordering::Acquire) {
                    let (m, url, body) = &requests[i % requests.len()];
                    i += 1;
                    sent.fetch_add(1, Ordering::Relaxed);
                    match http.send(m.clone(), url, Some(&token), body.as_ref()).await {
                        Ok(r) if r.status == 200 => {}
                        Ok(r) => {
                            eprintln!("failed: {m} {url}: HTTP {} {}", r.status, r.body);
                            failed.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(e) => {
                            eprintln!("failed: {m} {url}: {e}");
                            failed.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            });
        }

        tokio::time::sleep(Duration::from_millis(500)).await;
        let started = Instant::now();
        let mut restarts = 0;
        for binary in phonebill_system_tests::shape::BINARIES {
            for i in 0..shape.of(binary).len() {
                shape
                    .restart(binary, i, Duration::from_secs(15))
                    .await
                    .unwrap_or_else(|e| panic!("restart of {binary}-{i}: {e:#}"));
                restarts += 1;
            }
        }
        let took = started.elapsed();
        tokio::time::sleep(Duration::from_millis(300)).await;
        stop.store(true, Ordering::Release);
        while let Some(r) = tasks.join_next().await {
            r.expect("load worker");
        }
        let (sent, failed) = (sent.load(Ordering::Relaxed), failed.load(Ordering::Relaxed));
        println!(
            "FIGURES production-shape rolling-restart restarts={restarts} took_ms={} sent={sent} failed={failed}",
            took.as_millis()
        );
        assert!(sent > 200, "the load ran ({sent} requests)");
        assert_eq!(failed, 0, "a rolling restart must fail no request");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_login_limit_behind_the_ingress_is_per_client_and_shared_by_the_auth_replicas() {
    bounded(Duration::from_secs(150), async {
        let shape = ProdShape::start(Backing::machine(), 2)
            .await
            .expect("production shape");
        let http = shape.stack.http.inner();
        // One fixed window: start at least 15 s before the minute turns.
        let sec = chrono::Utc::now().timestamp().rem_euclid(60);
        if sec > 45 {
            tokio::time::sleep(Duration::from_secs(u64::try_from(61 - sec).unwrap_or(16))).await;
        }
        let (mut ok, mut limited) = (0, 0);
        for i in 0..25 {
            // A client that writes its own X-Forwarded-For, a new address each time: the
            // gateway appends the real one, and that is the one counted.
            let r = http
                .post(shape.url("/api/v1/auth/login"))
                .header("X-Forwarded-For", format!("203.0.113.{i}, 198.51.100.{i}:4000"))
                .json(&json!({ "userId": "mvno001", "password": "Phonebill1!" }))
                .send()
                .await
                .expect("login");
            match r.status().as_u16() {
                200 => ok += 1,
                429 => {
                    assert!(r.headers().contains_key("retry-after"));
                    limited += 1;
                }
                s => panic!("login {i}: HTTP {s}"),
            }
        }
        println!("FIGURES production-shape login-limit ok={ok} limited={limited} (limit 20/min, 2 auth replicas)");
        // Round-robin over 2 replicas: counted per replica, 25 logins would all pass.
        assert_eq!((ok, limited), (20, 5), "the limit is once per client across replicas");
    })
    .await;
}

/// The `kid` in a JWT's header.
fn kid_of(token: &str) -> String {
    use base64::Engine as _;
    let header = token.split('.').next().unwrap_or_default();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(header)
        .expect("JWT header is base64url");
    let v: Value = serde_json::from_slice(&bytes).expect("JWT header is JSON");
    v["kid"].as_str().unwrap_or_default().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_new_signing_key_is_accepted_everywhere_without_restarting_a_verifier() {
    bounded(Duration::from_secs(180), async {
        let mut shape = ProdShape::start(Backing::machine(), 2)
            .await
            .expect("production shape");
        let old = field(
            &login(&shape.stack.http, &shape, &shape.url("/api/v1/auth/login")).await,
            "access_token",
        );
        assert_eq!(kid_of(&old), "k1");

        // Rotation as an operator does it: the new key is added to the mounted secret (the
        // lexicographically last kid is the active one), the auth replicas roll; bill and
        // product are never restarted.
        let keys = shape.stack.path().join("jwt-keys");
        phonebill_system_tests::shape::generate_ed25519(&keys.join("k2.pem")).expect("new key");
        for i in 0..shape.of("auth-service").len() {
            shape
                .restart("auth-service", i, Duration::from_secs(15))
                .await
                .expect("auth restart");
        }
        let http = &shape.stack.http;
        let new = field(
            &login(http, &shape, &shape.url("/api/v1/auth/login")).await,
            "access_token",
        );
        assert_eq!(kid_of(&new), "k2", "the new key signs");

        // Every replica accepts both: the old key until the token's exp, the new one as soon
        // as its JWKS is refetched for the unknown kid (at most once per 10 s, verifier.rs).
        let urls = guarded_urls(&shape);
        let started = Instant::now();
        for u in &urls {
            assert_eq!(http.get(u, Some(&old)).await.status, 200, "old key at {u}");
            loop {
                let s = http.get(u, Some(&new)).await.status;
                if s == 200 {
                    break;
                }
                assert!(
                    started.elapsed() < Duration::from_secs(15),
                    "new key refused ({s}) by {u} after {:?}",
                    started.elapsed()
                );
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
        println!(
            "FIGURES production-shape key-rotation new_key_everywhere_ms={}",
            started.elapsed().as_millis()
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_change_through_one_kos_replica_is_seen_through_the_other_within_its_cache_bound() {
    bounded(Duration::from_secs(150), async {
        let shape = ProdShape::start(Backing::machine(), 2)
            .await
            .expect("production shape");
        let http = shape.stack.http.inner();
        let token = field(
            &login(&shape.stack.http, &shape, &shape.url("/api/v1/auth/login")).await,
            "access_token",
        );
        let kos = shape.of("kos-mock-service");
        let product_of = |base: String| {
            let key = shape.kos_api_key.clone();
            async move {
                let r = http
                    .get(format!(
                        "{base}/api/v1/kos/mock-datas/customer/product?lineNumber={LINE}"
                    ))
                    .header("X-Service-Name", "product-change-service")
                    .bearer_auth(key)
                    .send()
                    .await
                    .expect("KOS read");
                assert_eq!(r.status().as_u16(), 200);
                let v: Value = r.json().await.expect("KOS body");
                v["data"]["currentProductCode"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned()
            }
        };
        // Both replicas have the line cached.
        let before = product_of(kos[0].svc.base.clone()).await;
        assert_eq!(product_of(kos[1].svc.base.clone()).await, before);
        let target = if before == "5G-PREMIUM-001" {
            "5G-STANDARD-001"
        } else {
            "5G-PREMIUM-001"
        };
        // The change goes through the ingress, product-change and one KOS replica.
        let r = shape
            .stack
            .http
            .post(
                &shape.url("/api/v1/products/change"),
                Some(&token),
                &json!({ "lineNumber": LINE, "currentProductCode": before, "targetProductCode": target }),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.body["data"]["processStatus"], "COMPLETED", "{}", r.body);
        let changed = Instant::now();
        // Documented bound: KOS_LINE_CACHE_TTL_MS, 1000 ms on PostgreSQL (docs/api.md §5), plus
        // a second for the polling and a loaded machine.
        for k in kos {
            loop {
                if product_of(k.svc.base.clone()).await == target {
                    break;
                }
                assert!(
                    changed.elapsed() < Duration::from_millis(2000),
                    "{} still shows {before} after {:?}",
                    k.name,
                    changed.elapsed()
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        println!(
            "FIGURES production-shape kos-replicas change_seen_by_both_ms={}",
            changed.elapsed().as_millis()
        );
    })
    .await;
}
