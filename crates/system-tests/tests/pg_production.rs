//! PostgreSQL as in production (issue 18 points 2, 3 and 6), with real service processes
//! against a private PostgreSQL that accepts only TLS (`hostssl`, a private CA, services on
//! `sslmode=verify-full&sslrootcert=<ca>`), and a streaming read replica of it.
//!
//! - migrations as their own step: the service runs with the app role of deploy/sql/roles.sql
//!   (no DDL), `DATABASE_MIGRATE_ON_START=false`; readiness 503 names the missing migrations
//!   while it keeps running; `product-change-service migrate` (owner role) applies them, a
//!   second run is a no-op, readiness turns 200 by itself; the app role cannot CREATE TABLE.
//! - two product-change processes reconcile 100 stuck changes: KOS receives exactly 100
//!   change calls, one per requestId.
//! - history reads on the replica, on the primary when the replica lags past
//!   `DATABASE_READ_MAX_LAG_MS` or is down; a wrong CA or an unreachable replica is reported by
//!   readiness naming `DATABASE_READ_URL` while the service stays ready.

use std::time::{Duration, Instant};

use phonebill_system_tests::{PgCluster, Service, Stack, TestCa, bounded, metric_sum};
use serde_json::Value;

const DB: &str = "phonebill_product";
const OWNER: &str = "phonebill_product_owner";
const APP: &str = "phonebill_product_app";

fn env(list: &[(&str, String)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect()
}

/// A TLS-only cluster with the service database and its two roles (deploy/sql/roles.sql).
async fn cluster_with_roles(stack: &Stack) -> PgCluster {
    let ca = TestCa::create(&stack.path().join("ca"), "pg").expect("CA");
    let pg = PgCluster::start_tls(&ca).await;
    pg.psql("postgres", &format!("CREATE DATABASE {DB}"))
        .await
        .expect("create database");
    // The shipped script, run as the operator runs it (psql variables); a copy the postgres
    // user can read.
    let script = pg.dir().join("roles.sql");
    std::fs::copy(
        concat!(env!("CARGO_MANIFEST_DIR"), "/../../deploy/sql/roles.sql"),
        &script,
    )
    .expect("copy roles.sql");
    pg.psql_as(
        "postgres",
        DB,
        "",
        Some(&script),
        &[
            ("owner", OWNER),
            ("app", APP),
            ("owner_password", "owner-pw"),
            ("app_password", "app-pw"),
        ],
    )
    .await
    .expect("roles.sql");
    pg
}

async fn readiness(stack: &Stack, svc: &Service) -> (u16, Value) {
    let r = stack
        .http
        .get(&svc.url("/actuator/health/readiness"), None)
        .await;
    (r.status, r.body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_step_app_role_and_readiness_naming_missing_migrations() {
    bounded(Duration::from_secs(150), async {
        let stack = Stack::new();
        let pg = cluster_with_roles(&stack).await;
        let (auth, kos) = tokio::join!(stack.auth(&[]), stack.kos(&[]));
        let app_url = pg.tls_url(APP, DB, None);
        let owner_url = pg.tls_url(OWNER, DB, None);

        // The service on the app role, not migrating itself: up, but not ready, and says why.
        let mut all = Stack::client_env(&auth, &kos);
        all.extend(env(&[
            ("DATABASE_URL", app_url.clone()),
            ("DATABASE_MIGRATE_ON_START", "false".into()),
        ]));
        let mut product = stack
            .spawn("product-change-service", "product", 0, &all)
            .expect("spawn");
        let deadline = Instant::now() + Duration::from_secs(30);
        let body = loop {
            product.proc.ensure_running().expect("keeps running");
            if let Ok(r) = stack
                .http
                .inner()
                .get(product.url("/actuator/health/readiness"))
                .send()
                .await
            {
                assert_eq!(r.status().as_u16(), 503, "ready with no schema?");
                let b: Value = r.json().await.unwrap_or(Value::Null);
                if b["components"]["db"]["details"]["error"]
                    .as_str()
                    .is_some_and(|e| e.contains("missing migration"))
                {
                    break b;
                }
            }
            assert!(
                Instant::now() < deadline,
                "no readiness naming the migrations"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        let err = body["components"]["db"]["details"]["error"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        assert!(err.contains("0001_init"), "{err}");
        assert!(err.contains("0003_reconcile_claims"), "{err}");
        // Still running a few seconds later: no crash loop.
        tokio::time::sleep(Duration::from_secs(3)).await;
        product.proc.ensure_running().expect("still running");
        assert_eq!(readiness(&stack, &product).await.0, 503);

        // The app role has no DDL rights: `migrate` with it fails, naming the database.
        let (ok, out, errout) = stack
            .run_to_end(
                "product-change-service",
                &["migrate"],
                &env(&[("DATABASE_URL", app_url.clone())]),
                Duration::from_secs(60),
            )
            .await
            .expect("migrate as app");
        assert!(!ok, "migrate as the app role must fail\n{out}\n{errout}");
        assert!(
            errout.contains("migrating") && errout.contains("127.0.0.1"),
            "{errout}"
        );
        assert!(!errout.contains("panicked"), "{errout}");
        let created = pg
            .psql_as(APP, DB, "CREATE TABLE sneaky (x int)", None, &[])
            .await;
        let denied = created
            .expect_err("the app role must not create tables")
            .to_string();
        assert!(denied.contains("permission denied"), "{denied}");

        // The migrate step with the owner role: exit 0, applies both; a second run is a no-op.
        let migrate_env = env(&[
            ("DATABASE_URL", app_url.clone()),
            ("DATABASE_MIGRATION_URL", owner_url.clone()),
        ]);
        let (ok, out, errout) = stack
            .run_to_end(
                "product-change-service",
                &["migrate", "--wait", "30"],
                &migrate_env,
                Duration::from_secs(60),
            )
            .await
            .expect("migrate");
        assert!(ok, "migrate failed\n{out}\n{errout}");
        assert!(out.contains("applied 3 migration(s)"), "{out}");
        assert!(!out.contains("owner-pw") && !errout.contains("owner-pw"));
        let (ok, out, errout) = stack
            .run_to_end(
                "product-change-service",
                &["migrate"],
                &migrate_env,
                Duration::from_secs(60),
            )
            .await
            .expect("migrate again");
        assert!(ok, "second migrate failed\n{out}\n{errout}");
        assert!(out.contains("up to date"), "{out}");

        // The running process turns ready by itself, and works with the app role.
        let since = Instant::now();
        stack
            .wait_ready(&mut product, Duration::from_secs(15))
            .await
            .expect("ready after migrate");
        let became_ready = since.elapsed();
        let token = stack.token(&auth).await;
        let h = stack
            .http
            .get(
                &product.url("/api/v1/products/history?lineNumber=01012345678"),
                Some(&token),
            )
            .await;
        assert_eq!(h.status, 200, "{}", h.body);
        let owner_of: String = pg
            .psql(
                DB,
                "SELECT tableowner FROM pg_tables WHERE tablename = 'product_change_history'",
            )
            .await
            .expect("owner");
        assert_eq!(owner_of, OWNER);
        println!(
            "FIGURES pg-migrate-step ready_after_migrate_ms={} app_role_ddl=denied",
            became_ready.as_millis()
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_product_change_replicas_send_each_of_100_stuck_changes_once() {
    bounded(Duration::from_secs(180), async {
        let stack = Stack::new();
        let pg = cluster_with_roles(&stack).await;
        let (ok, out, errout) = stack
            .run_to_end(
                "product-change-service",
                &["migrate"],
                &env(&[("DATABASE_URL", pg.tls_url(OWNER, DB, None))]),
                Duration::from_secs(60),
            )
            .await
            .expect("migrate");
        assert!(ok, "{out}\n{errout}");
        let (auth, kos) = tokio::join!(stack.auth(&[]), stack.kos(&[]));
        let mut all = Stack::client_env(&auth, &kos);
        all.extend(env(&[
            ("DATABASE_URL", pg.tls_url(APP, DB, None)),
            ("DATABASE_MIGRATE_ON_START", "false".into()),
            ("RECONCILE_INTERVAL_SECONDS", "1".into()),
        ]));
        let a = stack
            .start("product-change-service", "product-a", 0, &all)
            .await
            .expect("replica a");
        let b = stack
            .start("product-change-service", "product-b", 0, &all)
            .await
            .expect("replica b");
        // Each change call takes 20 ms at KOS, so the two replicas' passes overlap.
        let r = stack
            .http
            .put(
                &kos.url("/api/v1/kos/admin/faults"),
                &serde_json::json!({ "endpoint": "product-change", "mode": "slow", "count": 1000, "delayMs": 20 }),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        let before = metric_sum(
            &kos.metrics(&stack.http).await,
            "kos_mock_requests_total",
            &[("endpoint", "product-change")],
        );
        // 100 changes left PROCESSING by a process that died before KOS answered, due in 2 s.
        pg.psql(
            DB,
            "INSERT INTO product_change_history (request_id, user_id, customer_id, line_number, \
             current_product_code, current_product_name, target_product_code, target_product_name, \
             process_status, attempts, next_attempt_at, requested_at, updated_at) \
             SELECT 'PCR_SYS_' || lpad(i::text, 4, '0'), 'u-sys', 'CU-sys', \
                    '01088' || lpad(i::text, 6, '0'), '5G-STANDARD-001', '', '5G-PREMIUM-001', '', \
                    'PROCESSING', 0, now() + interval '2 seconds', now() - (i || ' seconds')::interval, now() \
             FROM generate_series(1, 100) AS i",
        )
        .await
        .expect("stuck rows");
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let left: i64 = pg
                .psql(
                    DB,
                    "SELECT count(*) FROM product_change_history WHERE process_status = 'PROCESSING'",
                )
                .await
                .expect("count")
                .parse()
                .expect("number");
            if left == 0 {
                break;
            }
            assert!(Instant::now() < deadline, "{left} changes never reconciled");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        // Two more passes of each replica: nothing is sent again.
        tokio::time::sleep(Duration::from_secs(2)).await;
        let sent = metric_sum(
            &kos.metrics(&stack.http).await,
            "kos_mock_requests_total",
            &[("endpoint", "product-change")],
        ) - before;
        assert_eq!(sent, 100.0, "KOS must receive exactly one change per requestId");
        // The call log agrees: one product-change call per requestId, none twice (written by a
        // batched writer: wait for all 100 rows).
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let logged: i64 = pg
                .psql(
                    DB,
                    "SELECT count(DISTINCT request_id) FROM kos_call_log \
                     WHERE endpoint = 'product-change' AND request_id LIKE 'PCR_SYS_%'",
                )
                .await
                .expect("call log")
                .parse()
                .expect("number");
            if logged == 100 {
                break;
            }
            assert!(Instant::now() < deadline, "call log has {logged} of 100");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let twice = pg
            .psql(
                DB,
                "SELECT count(*) FROM (SELECT request_id FROM kos_call_log \
                 WHERE endpoint = 'product-change' AND request_id LIKE 'PCR_SYS_%' \
                 GROUP BY request_id HAVING count(*) > 1) AS t",
            )
            .await
            .expect("duplicates");
        assert_eq!(twice, "0", "a requestId was sent twice");
        let fa = metric_sum(&a.metrics(&stack.http).await, "product_change_total", &[]);
        let fb = metric_sum(&b.metrics(&stack.http).await, "product_change_total", &[]);
        assert!(fa > 0.0 && fb > 0.0, "both replicas reconciled (a={fa}, b={fb})");
        println!(
            "FIGURES pg-reconcile-claims replicas=2 stuck=100 kos_change_calls={sent} \
             finished_by_a={fa} finished_by_b={fb}"
        );
    })
    .await;
}

/// `db_reads_total{target=...}` of a process.
async fn reads(stack: &Stack, svc: &Service, target: &str) -> f64 {
    metric_sum(
        &svc.metrics(&stack.http).await,
        "db_reads_total",
        &[("target", target)],
    )
}

/// Polls the `db-replica` readiness component until `pred` holds; the service stays ready.
async fn wait_replica(
    stack: &Stack,
    svc: &Service,
    what: &str,
    pred: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (status, body) = readiness(stack, svc).await;
        assert_eq!(status, 200, "the replica is never critical: {body}");
        let c = body["components"]["db-replica"].clone();
        if pred(&c) {
            return c;
        }
        assert!(Instant::now() < deadline, "db-replica never {what}: {body}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_reads_go_to_the_replica_and_fall_back_when_it_lags_or_is_down() {
    bounded(Duration::from_secs(300), async {
        let stack = Stack::new();
        let ca = TestCa::create(&stack.path().join("ca"), "pg").expect("CA");
        let other = TestCa::create(&stack.path().join("other"), "other").expect("other CA");
        let primary = PgCluster::start_tls(&ca).await;
        primary
            .psql("postgres", &format!("CREATE DATABASE {DB}"))
            .await
            .expect("db");
        let replica = primary.replica().await;
        let (auth, kos) = tokio::join!(stack.auth(&[]), stack.kos(&[]));
        let token = stack.token(&auth).await;
        let history = "/api/v1/products/history?lineNumber=01012345678";

        let mut all = Stack::client_env(&auth, &kos);
        all.extend(env(&[
            ("DATABASE_URL", primary.tls_url("postgres", DB, None)),
            ("DATABASE_READ_URL", replica.tls_url("postgres", DB, None)),
            ("DATABASE_READ_MAX_LAG_MS", "500".into()),
        ]));
        let product = stack
            .start("product-change-service", "product", 0, &all)
            .await
            .expect("product-change on primary + replica");
        let c = wait_replica(&stack, &product, "UP", |c| c["status"] == "UP").await;
        assert_eq!(c["details"]["reads"], "replica", "{c}");

        // Replica current: history reads run there.
        let r0 = reads(&stack, &product, "replica").await;
        let h = stack.http.get(&product.url(history), Some(&token)).await;
        assert_eq!(h.status, 200, "{}", h.body);
        assert_eq!(reads(&stack, &product, "replica").await, r0 + 1.0);

        // Replay paused while the primary writes: the lag grows past 500 ms → primary.
        replica
            .psql("postgres", "SELECT pg_wal_replay_pause()")
            .await
            .expect("pause replay");
        primary
            .psql(
                DB,
                "CREATE TABLE lag_tick (x int); INSERT INTO lag_tick VALUES (1)",
            )
            .await
            .expect("write on primary");
        let paused_at = Instant::now();
        let c = wait_replica(&stack, &product, "lagging", |c| {
            c["status"] == "DOWN"
                && c["details"]["error"]
                    .as_str()
                    .is_some_and(|e| e.contains("DATABASE_READ_MAX_LAG_MS"))
        })
        .await;
        let fallback_after = paused_at.elapsed();
        assert_eq!(c["details"]["reads"], "primary", "{c}");
        let p0 = reads(&stack, &product, "primary").await;
        let r1 = reads(&stack, &product, "replica").await;
        let h = stack.http.get(&product.url(history), Some(&token)).await;
        assert_eq!(h.status, 200, "{}", h.body);
        assert_eq!(reads(&stack, &product, "primary").await, p0 + 1.0);
        assert_eq!(reads(&stack, &product, "replica").await, r1);

        // Replay resumed: back on the replica.
        replica
            .psql("postgres", "SELECT pg_wal_replay_resume()")
            .await
            .expect("resume replay");
        wait_replica(&stack, &product, "UP again", |c| c["status"] == "UP").await;
        let r2 = reads(&stack, &product, "replica").await;
        let h = stack.http.get(&product.url(history), Some(&token)).await;
        assert_eq!(h.status, 200, "{}", h.body);
        assert_eq!(reads(&stack, &product, "replica").await, r2 + 1.0);

        // An idle primary is no lag: minutes without writes still read on the replica (the
        // check compares received and replayed WAL, not only the last replay time).
        tokio::time::sleep(Duration::from_secs(2)).await;
        let c = wait_replica(&stack, &product, "UP when idle", |c| c["status"] == "UP").await;
        assert_eq!(c["details"]["lagMs"], 0, "{c}");

        // Replica down: reads on the primary at once (a failed read falls back), still ready.
        replica.pg_stop("immediate").await.expect("stop replica");
        let p1 = reads(&stack, &product, "primary").await;
        let h = stack.http.get(&product.url(history), Some(&token)).await;
        assert_eq!(h.status, 200, "{}", h.body);
        assert_eq!(reads(&stack, &product, "primary").await, p1 + 1.0);
        wait_replica(&stack, &product, "DOWN when stopped", |c| {
            c["status"] == "DOWN"
                && c["details"]["error"]
                    .as_str()
                    .is_some_and(|e| e.contains("DATABASE_READ_URL"))
        })
        .await;

        // Bad read-replica configuration: a replica signed by another CA, and a port nobody
        // listens on. The service starts, stays ready, names the variable, reads on the primary.
        replica.pg_start().await.expect("restart replica");
        for (label, url) in [
            (
                "wrong CA",
                replica.tls_url("postgres", DB, Some(&other.ca_cert)),
            ),
            (
                "unreachable",
                format!(
                    "postgres://postgres@127.0.0.1:{}/{DB}?sslmode=verify-full&sslrootcert={}",
                    phonebill_system_tests::free_port(),
                    ca.ca_cert.display()
                ),
            ),
        ] {
            let mut bad = Stack::client_env(&auth, &kos);
            bad.extend(env(&[
                ("DATABASE_URL", primary.tls_url("postgres", DB, None)),
                ("DATABASE_READ_URL", url),
            ]));
            let svc = stack
                .start(
                    "product-change-service",
                    &format!("product-{}", label.replace(' ', "-")),
                    0,
                    &bad,
                )
                .await
                .unwrap_or_else(|e| panic!("{label}: the service must start and be ready: {e}"));
            let c = wait_replica(&stack, &svc, "DOWN", |c| {
                c["status"] == "DOWN"
                    && c["details"]["error"]
                        .as_str()
                        .is_some_and(|e| !e.contains("not measured"))
            })
            .await;
            let err = c["details"]["error"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            assert!(err.contains("DATABASE_READ_URL"), "{label}: {err}");
            let h = stack.http.get(&svc.url(history), Some(&token)).await;
            assert_eq!(h.status, 200, "{label}: {}", h.body);
            assert_eq!(reads(&stack, &svc, "primary").await, 1.0, "{label}");
            println!("FIGURES pg-read-replica bad_config={label:?} readiness_error={err:?}");
        }

        // A wrong CA on the primary itself: readiness 503 naming the db, no crash.
        let mut bad = Stack::client_env(&auth, &kos);
        bad.extend(env(&[(
            "DATABASE_URL",
            primary.tls_url("postgres", DB, Some(&other.ca_cert)),
        )]));
        let mut svc = stack
            .spawn("product-change-service", "product-bad-primary-ca", 0, &bad)
            .expect("spawn");
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            svc.proc.ensure_running().expect("no crash on a wrong CA");
            if let Ok(r) = stack
                .http
                .inner()
                .get(svc.url("/actuator/health/readiness"))
                .send()
                .await
            {
                let status = r.status().as_u16();
                let b: Value = r.json().await.unwrap_or(Value::Null);
                if b["components"]["db"]["status"] == "DOWN" {
                    assert_eq!(status, 503, "{b}");
                    break;
                }
            }
            assert!(Instant::now() < deadline, "no readiness answer");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        println!(
            "FIGURES pg-read-replica max_lag_ms=500 fallback_after_pause_ms={}",
            fallback_after.as_millis()
        );
    })
    .await;
}
