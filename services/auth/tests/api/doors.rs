//! Issue 17 (docs/security.md) over HTTP: user ids unique without regard to case (and the
//! migration that refuses existing case duplicates), the client IP taken from the entry the
//! trusted proxy appended, unknown methods under one metric label, `auth.db` not world-readable.

use phonebill_common::db::Db;
use phonebill_test_support::{Backend, backend_tests};
use serde_json::{Value, json};

use crate::helpers::*;

fn form(user: &str, customer: &str, line: &str) -> Value {
    json!({"userId": user, "customerId": customer, "lineNumber": line, "userName": "n",
        "password": "Secure1234!", "permissions": ["BILL_INQUIRY"]})
}

// Finding 7: `MVNO001` registered beside `mvno001`.
backend_tests!(
    user_ids_are_unique_without_regard_to_case,
    |backend| async move {
        let app = spawn_app(backend).await;
        let (s, b) = parts(
            app.post(
                "/api/v1/auth/register",
                form("MVNO001", "C-CASE-1", "010-4444-0001"),
            )
            .await,
        )
        .await;
        assert_eq!((s, code(&b)), (409, "USER_ALREADY_EXISTS"), "{b}");
        let (s, b) = parts(
            app.post(
                "/api/v1/auth/register",
                form("CaseUser", "C-CASE-2", "010-4444-0002"),
            )
            .await,
        )
        .await;
        assert_eq!(s, 200, "{b}");
        let (s, b) = parts(
            app.post(
                "/api/v1/auth/register",
                form("caseuser", "C-CASE-3", "010-4444-0003"),
            )
            .await,
        )
        .await;
        assert_eq!((s, code(&b)), (409, "USER_ALREADY_EXISTS"), "{b}");
        // Any spelling logs the one account in; the token names the stored spelling.
        let (s, b) = parts(app.login("CASEUSER", "Secure1234!").await).await;
        assert_eq!(s, 200, "{b}");
        assert_eq!(b["user_id"], "CaseUser", "{b}");
        // Wrong passwords under another spelling count against the same account.
        for _ in 0..5 {
            app.login("CASEuser", "Wrong1234!").await;
        }
        let (s, b) = parts(app.login("CaseUser", "Secure1234!").await).await;
        assert_eq!((s, code(&b)), (423, "ACCOUNT_LOCKED"), "{b}");
    }
);

// The migration refuses, naming the rows, when ids that differ only in case already exist.
backend_tests!(
    case_migration_refuses_existing_duplicates,
    |backend| async move {
        let app = spawn_app(backend).await;
        let pool = Db::connect_lazy(&app.db.config(), "doors-test").unwrap();
        // Back to schema 1, then two ids that differ only in case.
        let undo = [
            "DROP TABLE auth_line_verifications",
            "DROP INDEX auth_users_user_id_ci_idx",
            "DELETE FROM _sqlx_migrations WHERE version >= 2",
            "INSERT INTO auth_users (user_id, customer_id, line_number, user_name, password_hash, \
         created_at, updated_at) SELECT 'MVNO001', 'C-DUP', '01044449999', user_name, \
         password_hash, created_at, updated_at FROM auth_users WHERE user_id = 'mvno001'",
        ];
        for q in undo {
            match &pool {
                Db::Postgres(p) => sqlx::query(q).execute(p).await.map(|_| ()),
                Db::Sqlite(p) => sqlx::query(q).execute(p).await.map(|_| ()),
            }
            .unwrap();
        }
        let err = pool
            .migrate(&phonebill_auth::MIGRATIONS)
            .await
            .expect_err("the migration must refuse case duplicates");
        let text = format!("{err:?}");
        assert!(
            text.contains("differ") && text.contains("case"),
            "the error must say what is wrong: {text}"
        );
        if backend == Backend::Postgres {
            assert!(
                text.contains("MVNO001") && text.contains("mvno001"),
                "{text}"
            );
        }
        pool.close().await;
    }
);

// Finding 5: the limit took the *first* X-Forwarded-For entry, which the client writes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_login_limit_keys_on_the_entry_the_proxy_appended() {
    let app = spawn_with(
        Backend::Sqlite,
        Opts {
            env: vec![
                ("TRUST_X_FORWARDED_FOR", "true".into()),
                ("AUTH_RATE_LIMIT_PER_MINUTE", "3".into()),
            ],
            ..Opts::default()
        },
    )
    .await;
    let login = |xff: String| {
        app.client
            .post(app.url("/api/v1/auth/login"))
            .header("X-Forwarded-For", xff)
            .json(&json!({"userId": "nosuchuser", "password": "Phonebill1!"}))
            .send()
    };
    // A client rotating what it writes in front of the proxy's entry gains nothing.
    for i in 0..3 {
        let r = login(format!("10.9.{i}.1, 203.0.113.7:5555"))
            .await
            .unwrap();
        assert_ne!(r.status(), 429, "call {i}");
    }
    let r = login("10.9.99.1, 203.0.113.7".into()).await.unwrap();
    assert_eq!(r.status(), 429);
    // Another client behind the same proxy (another appended entry) has its own allowance,
    // IPv6 with a port included.
    let r = login("203.0.113.7, [2001:db8::7]:443".into())
        .await
        .unwrap();
    assert_ne!(r.status(), 429);
}

// Finding 7: every unknown method name became a new metric series.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_methods_share_one_metric_label() {
    let app = spawn_app(Backend::Sqlite).await;
    let scrape = || async {
        app.client
            .get(app.url("/actuator/prometheus"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    };
    let probe = |i: usize| {
        let m = reqwest::Method::from_bytes(format!("PROBE{i}").as_bytes()).unwrap();
        app.client.request(m, app.url("/api/v1/auth/login")).send()
    };
    // One unknown method creates the `_OTHER` series; 50 more add none.
    probe(0).await.unwrap();
    // (The first scrape creates the scrape's own series.)
    scrape().await;
    let before = scrape().await.lines().count();
    for i in 1..=50 {
        probe(i).await.unwrap();
    }
    let text = scrape().await;
    assert!(!text.contains("PROBE"), "a method name became a label");
    assert!(
        text.contains("method=\"_OTHER\""),
        "unknown methods are counted"
    );
    let after = text.lines().count();
    assert_eq!(
        after, before,
        "50 more methods grew the scrape from {before} to {after} lines"
    );
}

// Finding 7: in local mode auth.db was created 0644 with password and token hashes in it.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sqlite_file_and_its_directory_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let url = format!("sqlite://{}/auth.db", data.display());
    let cfg = phonebill_common::config::DatabaseConfig::new(url, 2);
    let db = Db::connect_lazy(&cfg, "perm-test").unwrap();
    db.migrate(&phonebill_auth::MIGRATIONS).await.unwrap();
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&data), 0o700);
    assert_eq!(mode(&data.join("auth.db")), 0o600);
    for side in ["auth.db-wal", "auth.db-shm"] {
        let p = data.join(side);
        if p.exists() {
            assert_eq!(mode(&p) & 0o077, 0, "{side}");
        }
    }
    db.close().await;
}
