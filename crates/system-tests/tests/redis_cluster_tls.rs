//! The production shape of Redis (issue 18): a Redis Cluster of 3 masters + 3 replicas that
//! accepts only TLS with a private CA and a password, as Azure Cache for Redis Premium, and two
//! replicas of auth, bill-inquiry and product-change as real processes. Each service gets only
//! the seed node (`REDIS_URL=rediss://:pw@127.0.0.1:<node 0>`, `REDIS_CLUSTER=true`,
//! `REDIS_CA_CERT`); auth replicas share one PostgreSQL database and one signing key, bill and
//! product replicas one database each.
//!
//! One test walks the rules that cross replicas (docs/architecture.md, "One Redis abstraction"):
//! L2 shared between bill replicas; a logout and a refresh-token reuse on one auth replica refused
//! by every bill and product replica and by the other auth replica within 1 s; a product change
//! on one replica dropping the customer and bill entries of every replica (L1 and L2); then the
//! master holding the deny list killed (SIGKILL) under inquiry load while its replica takes over:
//! not one request fails, and a logout after the failover still reaches every replica. The second
//! test is bad configuration: a clear start-up error naming the variable, never a panic.

use std::sync::Arc;
use std::time::{Duration, Instant};

use phonebill_system_tests::{
    InquiryLoad, LoadTotals, Proc, RedisCluster, RedisServer, Service, Stack, TestCa, bin, bounded,
    current_month,
};
use phonebill_test_support::TestDb;
use serde_json::{Value, json};

const PASSWORD: &str = "cluster-pw-7f3a";
const LINE: &str = "01012345678";

/// Everything one test runs. Field order is drop order: services before Redis and databases.
struct Shape {
    auth: [Service; 2],
    bill: [Service; 2],
    product: [Service; 2],
    _kos: Service,
    cluster: RedisCluster,
    stack: Stack,
    _dbs: [TestDb; 3],
}

fn owned(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

async fn start_shape() -> Shape {
    let stack = Stack::new();
    let ca = TestCa::create(&stack.path().join("ca"), "redis").expect("test CA");
    let (cluster, auth_db, bill_db, product_db) = tokio::join!(
        RedisCluster::start(stack.path(), &ca, Some(PASSWORD)),
        TestDb::postgres(),
        TestDb::postgres(),
        TestDb::postgres()
    );
    let cluster = cluster.expect("TLS redis cluster");
    let keys = stack.path().join("jwt-keys");
    std::fs::create_dir_all(&keys).expect("keys dir");
    phonebill_system_tests::shape::generate_ed25519(&keys.join("k1.pem")).expect("signing key");
    let keys_s = keys.to_string_lossy().into_owned();
    let seed = cluster.seed_url();
    let ca_path = cluster.ca_cert().to_string_lossy().into_owned();
    let redis_env = owned(&[
        ("REDIS_URL", seed.as_str()),
        ("REDIS_CLUSTER", "true"),
        ("REDIS_CA_CERT", ca_path.as_str()),
        ("REDIS_KEY_PREFIX", "sys:"),
        ("CACHE_KEY_PREFIX", "sys"),
    ]);
    let mut auth_env = owned(&[
        ("SEED_DEMO_USERS", "true"),
        ("ARGON2_MEMORY_KIB", "64"),
        ("ARGON2_ITERATIONS", "1"),
        ("AUTH_RATE_LIMIT_PER_MINUTE", "0"),
        ("DATABASE_URL", auth_db.url.as_str()),
        ("JWT_KEYS_DIR", keys_s.as_str()),
    ]);
    auth_env.extend(redis_env.iter().cloned());
    // Replica A first: it migrates and seeds; B then finds the schema in place.
    let auth_a = stack
        .start("auth-service", "auth-a", 0, &auth_env)
        .await
        .expect("auth-a ready");
    let (auth_b, kos) = tokio::join!(
        stack.start("auth-service", "auth-b", 0, &auth_env),
        stack.kos(&[])
    );
    let auth_b = auth_b.expect("auth-b ready");
    let mut client = Stack::client_env(&auth_a, &kos);
    client.extend(redis_env.iter().cloned());
    let with_db = |db: &TestDb| {
        let mut e = client.clone();
        e.push(("DATABASE_URL".into(), db.url.clone()));
        e
    };
    let (bill_env, product_env) = (with_db(&bill_db), with_db(&product_db));
    let bill_a = stack
        .start("bill-inquiry-service", "bill-a", 0, &bill_env)
        .await
        .expect("bill-a ready");
    let product_a = stack
        .start("product-change-service", "product-a", 0, &product_env)
        .await
        .expect("product-a ready");
    let (bill_b, product_b) = tokio::join!(
        stack.start("bill-inquiry-service", "bill-b", 0, &bill_env),
        stack.start("product-change-service", "product-b", 0, &product_env)
    );
    let shape = Shape {
        auth: [auth_a, auth_b],
        bill: [bill_a, bill_b.expect("bill-b ready")],
        product: [product_a, product_b.expect("product-b ready")],
        _kos: kos,
        cluster,
        stack,
        _dbs: [auth_db, bill_db, product_db],
    };
    // Every deny list subscribed (readiness reports it as the `redis` component).
    for svc in shape.all() {
        let deadline = Instant::now() + Duration::from_secs(15);
        while svc.readiness(&shape.stack.http).await["components"]["redis"]["status"] != "UP" {
            assert!(
                Instant::now() < deadline,
                "{} never reported redis UP: {}",
                svc.proc.name(),
                svc.readiness(&shape.stack.http).await
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    shape
}

impl Shape {
    fn all(&self) -> impl Iterator<Item = &Service> {
        self.auth
            .iter()
            .chain(self.bill.iter())
            .chain(self.product.iter())
    }

    async fn login(&self, on: usize) -> Value {
        self.stack
            .login(&self.auth[on], "mvno001", "Phonebill1!")
            .await
    }

    /// Whether `svc` accepts `token`: auth through verify, the others through a GET that
    /// needs a valid token.
    async fn accepts(&self, svc: &Service, token: &str) -> bool {
        let http = &self.stack.http;
        if svc.proc.name().starts_with("auth") {
            let r = http
                .get(
                    &svc.url(&format!("/api/v1/auth/verify?token={token}")),
                    None,
                )
                .await;
            return r.body["valid"] == true;
        }
        let path = if svc.proc.name().starts_with("bill") {
            "/api/v1/bills/menu".to_owned()
        } else {
            format!("/api/v1/products/customer?lineNumber={LINE}")
        };
        let r = http.get(&svc.url(&path), Some(token)).await;
        match r.status {
            200 => true,
            401 => false,
            s => panic!("{} answered {s}: {}", svc.proc.name(), r.body),
        }
    }

    /// Milliseconds until every replica of every service refuses `token` (fails after 1 s).
    async fn refused_everywhere_within_1s(&self, token: &str, what: &str) -> u128 {
        let start = Instant::now();
        for svc in self.all() {
            while self.accepts(svc, token).await {
                assert!(
                    start.elapsed() < Duration::from_secs(1),
                    "{what}: {} still accepts the token after 1 s",
                    svc.proc.name()
                );
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
        start.elapsed().as_millis()
    }

    async fn inquiry(&self, bill: usize, token: &str) -> Value {
        let r = self
            .stack
            .http
            .post(
                &self.bill[bill].url("/api/v1/bills/inquiry"),
                Some(token),
                &json!({ "lineNumber": LINE, "inquiryMonth": current_month() }),
            )
            .await;
        assert_eq!(r.status, 200, "inquiry on bill {bill}: {}", r.body);
        r.body["data"].clone()
    }

    async fn customer(&self, product: usize, token: &str) -> Value {
        let r = self
            .stack
            .http
            .get(
                &self.product[product].url(&format!("/api/v1/products/customer?lineNumber={LINE}")),
                Some(token),
            )
            .await;
        assert_eq!(r.status, 200, "customer on product {product}: {}", r.body);
        r.body["data"].clone()
    }
}

fn token_of(login: &Value) -> String {
    login["access_token"]
        .as_str()
        .expect("access_token")
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn tls_cluster_shares_cache_and_revocations_across_replicas_and_survives_a_master_kill() {
    // Boxed: the body holds the whole shape (clippy::large_futures).
    bounded(Duration::from_secs(240), Box::pin(async {
        let mut shape = start_shape().await;
        let http = shape.stack.http.clone();
        let month = current_month();

        // --- L2 on the cluster: bill A loads, bill B is served from Redis. ---
        let token = token_of(&shape.login(0).await);
        let first = shape.inquiry(0, &token).await;
        assert_eq!(first["cached"], false, "first inquiry goes to KOS: {first}");
        let key = format!("sys:v1:bill:{LINE}:{month}");
        assert!(
            shape.cluster.keys("sys:v1:bill:*").contains(&key),
            "bill entry written to the cluster: {:?}",
            shape.cluster.keys("sys:*")
        );
        let from_l2 = shape.inquiry(1, &token).await;
        assert_eq!(from_l2["cached"], true, "bill B served from L2: {from_l2}");

        // --- Logout on auth A: refused everywhere (auth B included) within 1 s. ---
        let victim = token_of(&shape.login(0).await);
        for svc in shape.all() {
            assert!(shape.accepts(svc, &victim).await, "{} accepts before logout", svc.proc.name());
        }
        let r = http
            .post(&shape.auth[0].url("/api/v1/auth/logout"), Some(&victim), &json!({}))
            .await;
        assert_eq!(r.status, 200, "logout: {}", r.body);
        let logout_ms = shape.refused_everywhere_within_1s(&victim, "logout").await;

        // --- Refresh-token reuse on auth B: the session is refused everywhere within 1 s. ---
        let login = shape.login(0).await;
        let reused = login["refresh_token"].as_str().expect("refresh_token").to_owned();
        let r = http
            .post(
                &shape.auth[0].url("/api/v1/auth/refresh"),
                None,
                &json!({ "refreshToken": reused }),
            )
            .await;
        assert_eq!(r.status, 200, "first refresh: {}", r.body);
        let rotated = r.body["access_token"].as_str().expect("new access token").to_owned();
        assert!(shape.accepts(&shape.bill[1], &rotated).await);
        let r = http
            .post(
                &shape.auth[1].url("/api/v1/auth/refresh"),
                None,
                &json!({ "refreshToken": reused }),
            )
            .await;
        assert_eq!(
            (r.status, r.code().as_str()),
            (401, "REFRESH_TOKEN_REUSED"),
            "reuse on the other auth replica: {}",
            r.body
        );
        let reuse_ms = shape.refused_everywhere_within_1s(&rotated, "refresh reuse").await;
        shape
            .refused_everywhere_within_1s(&token_of(&login), "refresh reuse (first token)")
            .await;

        // --- A product change on product A drops customer and bill entries everywhere. ---
        let before = shape.customer(1, &token).await;
        let current = before["currentProduct"]["productCode"]
            .as_str()
            .expect("current product")
            .to_owned();
        let target = if current == "5G-PREMIUM-001" {
            "5G-STANDARD-001"
        } else {
            "5G-PREMIUM-001"
        };
        shape.customer(0, &token).await;
        shape.customer(1, &token).await; // now in product B's L1
        for b in 0..2 {
            let d = shape.inquiry(b, &token).await;
            assert_eq!(d["cached"], true, "bill {b} holds the entry before the change: {d}");
            assert_eq!(d["billInfo"]["productCode"], current.as_str());
        }
        let r = http
            .post(
                &shape.product[0].url("/api/v1/products/change"),
                Some(&token),
                &json!({ "lineNumber": LINE, "currentProductCode": current, "targetProductCode": target }),
            )
            .await;
        assert_eq!(r.status, 200, "product change: {}", r.body);
        assert_eq!(r.body["data"]["processStatus"], "COMPLETED", "{}", r.body);
        let changed = Instant::now();
        // Product B (which did not make the change) and both bill replicas see the new product
        // within 1 s: their L1 copies were dropped by the published invalidation, and L2 too.
        loop {
            let c = shape.customer(1, &token).await;
            let b0 = shape.inquiry(0, &token).await;
            let b1 = shape.inquiry(1, &token).await;
            if c["currentProduct"]["productCode"] == target
                && b0["billInfo"]["productCode"] == target
                && b1["billInfo"]["productCode"] == target
            {
                break;
            }
            assert!(
                changed.elapsed() < Duration::from_secs(1),
                "stale entries 1 s after the change: customer {c}, bill A {b0}, bill B {b1}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let invalidation_ms = changed.elapsed().as_millis();

        // --- Failover: SIGKILL of the master holding the deny list, under load. ---
        let deny_slot = shape.cluster.keyslot("sys:auth:denied").expect("keyslot");
        let master = shape.cluster.master_of_slot(deny_slot).expect("deny master");
        let load_token = Arc::new(token.clone());
        let loads = [0, 1].map(|b| {
            InquiryLoad::start(
                &http,
                shape.bill[b].url("/api/v1/bills/inquiry"),
                load_token.clone(),
                LINE,
                3,
                Duration::from_millis(5),
            )
        });
        let during = token_of(&shape.login(1).await);
        let after = token_of(&shape.login(1).await);
        tokio::time::sleep(Duration::from_millis(700)).await;
        shape.cluster.kill(master.port);
        let killed = Instant::now();
        // A logout while the slot has no master: auth B keeps it pending and re-sends it.
        let r = http
            .post(&shape.auth[1].url("/api/v1/auth/logout"), Some(&during), &json!({}))
            .await;
        assert_eq!(r.status, 200, "logout during the failover: {}", r.body);
        let promoted = loop {
            if shape
                .cluster
                .master_of_slot(deny_slot)
                .is_ok_and(|m| m.port != master.port)
            {
                break killed.elapsed();
            }
            assert!(
                killed.elapsed() < Duration::from_secs(30),
                "no replica took over slot {deny_slot}: {:?}",
                shape.cluster.topology()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        // The logout made during the failover reaches every replica once the slot is back.
        let during_deadline = Instant::now() + Duration::from_secs(10);
        for svc in shape.all() {
            while shape.accepts(svc, &during).await {
                assert!(
                    Instant::now() < during_deadline,
                    "{} still accepts a token logged out during the failover",
                    svc.proc.name()
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        let during_ms = killed.elapsed().as_millis();
        // A logout after the failover: within 1 s again.
        let r = http
            .post(&shape.auth[0].url("/api/v1/auth/logout"), Some(&after), &json!({}))
            .await;
        assert_eq!(r.status, 200, "logout after the failover: {}", r.body);
        let after_ms = shape.refused_everywhere_within_1s(&after, "logout after failover").await;
        tokio::time::sleep(Duration::from_millis(1000)).await;
        let mut sent = 0;
        let mut failed = 0;
        let mut max = Duration::ZERO;
        for l in loads {
            let LoadTotals { sent: s, failed: f, max: m } = l.finish().await;
            sent += s;
            failed += f;
            max = max.max(m);
        }
        // L2 is written again after the failover (entries of the killed master's slots too).
        let _ = http
            .post(
                &shape.bill[0].url("/api/v1/bills/inquiry"),
                Some(&token),
                &json!({ "lineNumber": LINE, "inquiryMonth": phonebill_system_tests::month_back(5) }),
            )
            .await;
        println!(
            "FIGURES redis-cluster-tls logout_propagation_ms={logout_ms} \
             refresh_reuse_propagation_ms={reuse_ms} invalidation_ms={invalidation_ms} \
             failover_promoted_ms={} logout_during_failover_everywhere_ms={during_ms} \
             logout_after_failover_ms={after_ms} load_sent={sent} load_failed={failed} \
             load_max_ms={}",
            promoted.as_millis(),
            max.as_millis()
        );
        assert_eq!(failed, 0, "no request may fail while a master fails over");
        assert!(sent > 50, "the load ran ({sent} requests)");
    }))
    .await;
}

/// Starts bill-inquiry with `env` and expects it to exit at start with an error naming `var`,
/// no panic and no backtrace.
async fn refuses_to_start(stack: &Stack, name: &str, env: &[(&str, String)], var: &str) {
    let data = stack.path().join(name);
    std::fs::create_dir_all(&data).expect("data dir");
    let mut all = owned(&[
        ("BIND_ADDRESS", "127.0.0.1"),
        ("PORT", "0"),
        ("RUST_LOG", "warn"),
        ("JWKS_URL", "http://127.0.0.1:9/jwks.json"),
        ("KOS_BASE_URL", "http://127.0.0.1:9"),
    ]);
    all.push(("DATA_DIR".into(), data.to_string_lossy().into_owned()));
    all.extend(env.iter().map(|(k, v)| ((*k).to_owned(), v.clone())));
    let mut p = Proc::spawn(name, &bin("bill-inquiry-service"), &[], &all, stack.path())
        .expect("spawn bill-inquiry-service");
    let status = p.wait_exit(Duration::from_secs(30)).await;
    let logs = p.logs_tail(40);
    let status =
        status.unwrap_or_else(|| panic!("{name}: still running with a bad config\n{logs}"));
    assert!(!status.success(), "{name}: exit status {status}\n{logs}");
    assert!(logs.contains(var), "{name}: the error names {var}\n{logs}");
    assert!(
        !logs.contains("panicked") && !logs.contains("stack backtrace"),
        "{name}: no panic\n{logs}"
    );
    println!(
        "{name}: {}",
        logs.lines().rfind(|l| l.contains(var)).unwrap_or("")
    );
}

/// One bad configuration: its name, its environment and the variable the error must name.
type Case<'a> = (&'a str, Vec<(&'a str, String)>, &'a str);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_redis_configuration_is_a_start_up_error_naming_the_variable() {
    bounded(Duration::from_secs(120), async {
        let stack = Stack::new();
        let ca = TestCa::create(&stack.path().join("ca"), "redis").expect("CA");
        let other = TestCa::create(&stack.path().join("other-ca"), "other").expect("other CA");
        let (cluster, plain) = tokio::join!(
            RedisCluster::start(stack.path(), &ca, Some(PASSWORD)),
            RedisServer::start(stack.path())
        );
        let cluster = cluster.expect("cluster");
        let good_ca = ca.ca_cert.to_string_lossy().into_owned();
        let seed = cluster.seed_url();
        let port = cluster.ports()[0];
        let cases: Vec<Case<'_>> = vec![
            (
                "wrong-ca",
                vec![
                    ("REDIS_URL", seed.clone()),
                    ("REDIS_CLUSTER", "true".into()),
                    (
                        "REDIS_CA_CERT",
                        other.ca_cert.to_string_lossy().into_owned(),
                    ),
                ],
                "REDIS_CA_CERT",
            ),
            (
                "no-private-ca",
                vec![
                    ("REDIS_URL", seed.clone()),
                    ("REDIS_CLUSTER", "true".into()),
                ],
                "REDIS_CA_CERT",
            ),
            (
                "wrong-password",
                vec![
                    (
                        "REDIS_URL",
                        format!("rediss://:not-the-password@127.0.0.1:{port}"),
                    ),
                    ("REDIS_CLUSTER", "true".into()),
                    ("REDIS_CA_CERT", good_ca.clone()),
                ],
                "REDIS_URL",
            ),
            (
                "no-password",
                vec![
                    ("REDIS_URL", format!("rediss://127.0.0.1:{port}")),
                    ("REDIS_CLUSTER", "true".into()),
                    ("REDIS_CA_CERT", good_ca.clone()),
                ],
                "REDIS_URL",
            ),
            (
                "plain-url-on-tls-port",
                vec![("REDIS_URL", format!("redis://:{PASSWORD}@127.0.0.1:{port}"))],
                "REDIS_URL",
            ),
            (
                "cluster-not-declared",
                vec![
                    ("REDIS_URL", seed.clone()),
                    ("REDIS_CA_CERT", good_ca.clone()),
                ],
                "REDIS_CLUSTER",
            ),
            (
                "cluster-against-standalone",
                vec![("REDIS_URL", plain.url()), ("REDIS_CLUSTER", "true".into())],
                "REDIS_CLUSTER",
            ),
            (
                "ca-file-missing",
                vec![
                    ("REDIS_URL", seed.clone()),
                    ("REDIS_CLUSTER", "true".into()),
                    ("REDIS_CA_CERT", "/nonexistent/ca.pem".into()),
                ],
                "REDIS_CA_CERT",
            ),
        ];
        for (name, env, var) in &cases {
            refuses_to_start(&stack, name, env, var).await;
        }
        // The password never reaches the logs.
        for entry in std::fs::read_dir(stack.path()).expect("logs").flatten() {
            let p = entry.path();
            if p.extension().is_some_and(|e| e == "err" || e == "out")
                && !p
                    .file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with("redis"))
            {
                let text = std::fs::read_to_string(&p).unwrap_or_default();
                assert!(!text.contains(PASSWORD), "password in {}", p.display());
            }
        }
    })
    .await;
}
