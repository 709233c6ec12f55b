//! The store contract: every public method of `UserStore` run on PostgreSQL and on SQLite by one
//! test body, asserting what it returns and what it changed, so the SQL written once behaves the
//! same on both dialects.

use chrono::{DateTime, Duration, SubsecRound, TimeZone, Utc};
use phonebill_auth::store::{LineVerification, NewUser, SessionRecord, StoreError, UserStore};
use phonebill_common::db::{Database, Db};
use phonebill_common::service::Deps;
use phonebill_test_support::{Backend, TestDb, backend_tests};
use uuid::Uuid;

/// A migrated database and the store on it.
async fn store_on(backend: Backend) -> (TestDb, Database, std::sync::Arc<dyn UserStore>) {
    let db = TestDb::new(backend).await;
    let database = Database::start(
        &db.config(),
        "auth-store-test",
        phonebill_auth::MIGRATIONS,
        Deps::new().shutdown.child_token(),
    )
    .unwrap();
    assert!(database.wait_migrated().await, "migrations");
    let store = phonebill_auth::store::for_db(&database.db);
    (db, database, store)
}

/// Rows of a table (for methods that return nothing).
async fn count(db: &Db, sql: &str) -> i64 {
    match db {
        Db::Postgres(p) => sqlx::query_scalar(sql).fetch_one(p).await.unwrap(),
        Db::Sqlite(p) => sqlx::query_scalar(sql).fetch_one(p).await.unwrap(),
    }
}

/// A token hash as stored: 64 hex digits (SHA-256).
fn h(n: usize) -> String {
    format!("{n:064x}")
}

fn at(h: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 9, 14, h, 0, 0).single().unwrap()
}

fn user(id: &str, customer: &str, line: &str) -> NewUser {
    NewUser {
        user_id: id.to_owned(),
        customer_id: customer.to_owned(),
        line_number: line.to_owned(),
        user_name: "홍길동".to_owned(),
        password_hash: "$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaA".to_owned(),
        permissions: vec!["PRODUCT_CHANGE".to_owned(), "BILL_INQUIRY".to_owned()],
        granted_by: None,
    }
}

backend_tests!(users_locks_and_permissions, |backend| async move {
    let (_db, database, s) = store_on(backend).await;
    let now = at(1);
    s.create_user(&user("mvno001", "CU1", "01012345678"), now)
        .await
        .unwrap();
    s.create_user(&user("mvno002", "CU2", "01012347777"), now)
        .await
        .unwrap();
    // Conflicts, each named (user ids compare without regard to case).
    for (u, want) in [
        (user("MVNO001", "CU9", "01099999999"), "user"),
        (user("other", "CU9", "01012345678"), "line"),
        (user("other", "CU1", "01099999999"), "customer"),
    ] {
        let got = s.create_user(&u, now).await.unwrap_err();
        let ok = matches!(
            (&got, want),
            (StoreError::UserExists, "user")
                | (StoreError::LineExists, "line")
                | (StoreError::CustomerExists, "customer")
        );
        assert!(ok, "{want}: {got:?}");
    }

    let u = s.find_user("MvNo001").await.unwrap().unwrap();
    assert_eq!(u.user_id, "mvno001", "the stored spelling");
    assert_eq!(u.customer_id, "CU1");
    assert_eq!(u.line_number, "01012345678");
    assert_eq!(u.account_status, "ACTIVE");
    assert_eq!(u.failed_login_count, 0);
    assert_eq!(u.created_at, now);
    assert_eq!(u.last_password_changed_at, Some(now));
    assert_eq!(u.last_login_at, None);
    assert_eq!(u.permissions, ["BILL_INQUIRY", "PRODUCT_CHANGE"], "sorted");
    assert!(s.find_user("nobody").await.unwrap().is_none());
    assert_eq!(
        s.find_user_by_line("01012347777")
            .await
            .unwrap()
            .unwrap()
            .user_id,
        "mvno002"
    );
    assert!(s.find_user_by_line("01000000000").await.unwrap().is_none());
    assert_eq!(
        s.find_user_by_customer("CU2")
            .await
            .unwrap()
            .unwrap()
            .user_id,
        "mvno002"
    );
    assert!(s.find_user_by_customer("CU0").await.unwrap().is_none());

    let all = s.list_users(0, 10).await.unwrap();
    let ids: Vec<&str> = all.iter().map(|u| u.user_id.as_str()).collect();
    assert_eq!(ids, ["mvno001", "mvno002"]);
    assert!(
        all.iter().all(|u| u.permissions.len() == 2),
        "permissions joined per page"
    );
    let second = s.list_users(1, 1).await.unwrap();
    assert_eq!(second.len(), 1);
    assert_eq!(second[0].user_id, "mvno002");
    assert_eq!(second[0].permissions, ["BILL_INQUIRY", "PRODUCT_CHANGE"]);

    // Failures count atomically; the one reaching the maximum sets the lock.
    let lock = at(2);
    assert_eq!(
        s.record_failure("mvno001", 2, lock, now).await.unwrap(),
        Some((1, None))
    );
    assert_eq!(
        s.record_failure("MVNO001", 2, lock, now).await.unwrap(),
        Some((2, Some(lock)))
    );
    assert_eq!(
        s.record_failure("nobody", 2, lock, now).await.unwrap(),
        None
    );
    assert!(s.reset_lock("mvno001", now).await.unwrap());
    assert!(!s.reset_lock("nobody", now).await.unwrap());
    let u = s.find_user("mvno001").await.unwrap().unwrap();
    assert_eq!((u.failed_login_count, u.locked_until), (0, None));

    s.record_failure("mvno001", 5, lock, now).await.unwrap();
    s.record_success("mvno001", at(3)).await.unwrap();
    let u = s.find_user("mvno001").await.unwrap().unwrap();
    assert_eq!(u.failed_login_count, 0);
    assert_eq!(u.last_login_at, Some(at(3)));

    s.record_failure("mvno001", 5, lock, now).await.unwrap();
    s.set_password("mvno001", "$argon2id$new", at(4))
        .await
        .unwrap();
    let u = s.find_user("mvno001").await.unwrap().unwrap();
    assert_eq!(u.password_hash, "$argon2id$new");
    assert_eq!(u.last_password_changed_at, Some(at(4)));
    assert_eq!(u.failed_login_count, 0, "a new password clears the counter");

    s.grant_permission("mvno002", "ADMIN", Some("mvno001"), now)
        .await
        .unwrap();
    s.grant_permission("mvno002", "ADMIN", None, now)
        .await
        .unwrap();
    let u = s.find_user("mvno002").await.unwrap().unwrap();
    assert_eq!(u.permissions, ["ADMIN", "BILL_INQUIRY", "PRODUCT_CHANGE"]);
    s.revoke_permission("mvno002", "BILL_INQUIRY")
        .await
        .unwrap();
    s.revoke_permission("mvno002", "BILL_INQUIRY")
        .await
        .unwrap();
    let u = s.find_user("mvno002").await.unwrap().unwrap();
    assert_eq!(u.permissions, ["ADMIN", "PRODUCT_CHANGE"]);

    // The history keeps at most 20 characters of an id and 512 of a user agent.
    s.add_login_history("mvno001", "SUCCESS", Some("127.0.0.1"), Some("curl"), now)
        .await
        .unwrap();
    s.add_login_history(
        &"x".repeat(40),
        "UNKNOWN_USER",
        None,
        Some(&"a".repeat(900)),
        now,
    )
    .await
    .unwrap();
    assert_eq!(
        count(&database.db, "SELECT COUNT(*) FROM auth_login_history").await,
        2
    );
    assert_eq!(
        count(
            &database.db,
            "SELECT COUNT(*) FROM auth_login_history WHERE length(user_id) = 20 \
             AND length(user_agent) = 512 AND client_ip IS NULL"
        )
        .await,
        1
    );
});

backend_tests!(sessions_and_refresh_tokens, |backend| async move {
    let (_db, database, s) = store_on(backend).await;
    let now = Utc::now().trunc_subsecs(6);
    s.create_user(&user("mvno001", "CU1", "01012345678"), now)
        .await
        .unwrap();
    let session = SessionRecord {
        session_id: Uuid::new_v4(),
        user_id: "mvno001".to_owned(),
        auto_login: true,
        expires_at: now + Duration::hours(24),
        revoked_at: None,
    };
    s.create_session(&session, &h(1), now).await.unwrap();
    let r = s.find_refresh(&h(1)).await.unwrap().unwrap();
    assert_eq!(r.session.session_id, session.session_id);
    assert_eq!(r.session.user_id, "mvno001");
    assert!(r.session.auto_login);
    assert_eq!(r.session.expires_at, session.expires_at);
    assert_eq!((r.used_at, r.session.revoked_at), (None, None));
    assert_eq!(r.expires_at, session.expires_at);
    assert!(s.find_refresh(&h(8)).await.unwrap().is_none());

    // One rotation of a token wins; the second is refused.
    assert!(s.rotate_refresh(&h(1), &h(2), &session, now).await.unwrap());
    assert!(!s.rotate_refresh(&h(1), &h(3), &session, now).await.unwrap());
    assert_eq!(
        s.find_refresh(&h(1)).await.unwrap().unwrap().used_at,
        Some(now)
    );
    assert!(
        s.find_refresh(&h(2))
            .await
            .unwrap()
            .unwrap()
            .used_at
            .is_none()
    );
    assert!(s.find_refresh(&h(3)).await.unwrap().is_none());

    let revoked = s
        .revoke_session(session.session_id, "LOGOUT", now)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(revoked.revoked_at, Some(now));
    // Idempotent: the first revocation instant stays.
    let again = s
        .revoke_session(session.session_id, "LOGOUT", now + Duration::minutes(1))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(again.revoked_at, Some(now));
    assert!(
        s.revoke_session(Uuid::new_v4(), "LOGOUT", now)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        !s.rotate_refresh(&h(2), &h(4), &session, now).await.unwrap(),
        "a revoked session does not rotate"
    );

    // Every live session of a user, and only those.
    let live: Vec<SessionRecord> = (0..2)
        .map(|_| SessionRecord {
            session_id: Uuid::new_v4(),
            revoked_at: None,
            ..session.clone()
        })
        .collect();
    for (i, l) in live.iter().enumerate() {
        s.create_session(l, &h(10 + i), now).await.unwrap();
    }
    let gone = s
        .revoke_user_sessions("mvno001", "PASSWORD_CHANGED", now)
        .await
        .unwrap();
    let mut ids: Vec<Uuid> = gone.iter().map(|g| g.session_id).collect();
    ids.sort();
    let mut want: Vec<Uuid> = live.iter().map(|l| l.session_id).collect();
    want.sort();
    assert_eq!(ids, want);
    assert!(
        s.revoke_user_sessions("mvno001", "PASSWORD_CHANGED", now)
            .await
            .unwrap()
            .is_empty()
    );

    // The purge removes what expired before the cut, tokens of such sessions included.
    let old = SessionRecord {
        session_id: Uuid::new_v4(),
        expires_at: now - Duration::days(8),
        ..session.clone()
    };
    s.create_session(&old, &h(9), now - Duration::days(9))
        .await
        .unwrap();
    s.put_verification(&LineVerification {
        line_number: "01099999999".to_owned(),
        customer_id: "CU9".to_owned(),
        code_hash: "d".repeat(64),
        salt: "e".repeat(32),
        attempts_left: 5,
        created_at: now - Duration::days(8),
        expires_at: now - Duration::days(8),
    })
    .await
    .unwrap();
    let (sessions, tokens) = s.purge_expired(now - Duration::days(7)).await.unwrap();
    assert_eq!((sessions, tokens), (1, 1));
    assert!(s.find_refresh(&h(9)).await.unwrap().is_none());
    assert!(
        s.find_refresh(&h(2)).await.unwrap().is_some(),
        "live rows stay"
    );
    assert!(s.find_verification("01099999999").await.unwrap().is_none());
    assert_eq!(
        count(&database.db, "SELECT COUNT(*) FROM auth_sessions").await,
        3
    );
});

backend_tests!(line_verifications, |backend| async move {
    let (_db, _database, s) = store_on(backend).await;
    let now = Utc::now().trunc_subsecs(6);
    let v = LineVerification {
        line_number: "01012345678".to_owned(),
        customer_id: "CU1".to_owned(),
        code_hash: "a".repeat(64),
        salt: "b".repeat(32),
        attempts_left: 2,
        created_at: now,
        expires_at: now + Duration::minutes(5),
    };
    s.put_verification(&v).await.unwrap();
    let got = s.find_verification("01012345678").await.unwrap().unwrap();
    assert_eq!(got.customer_id, "CU1");
    assert_eq!(got.code_hash, v.code_hash);
    assert_eq!(got.salt, v.salt);
    assert_eq!(got.attempts_left, 2);
    assert_eq!(
        (got.created_at, got.expires_at),
        (v.created_at, v.expires_at)
    );
    assert!(s.find_verification("01000000000").await.unwrap().is_none());

    // Tries are spent one at a time, never below zero.
    assert_eq!(
        s.spend_verification_attempt("01012345678").await.unwrap(),
        Some(1)
    );
    assert_eq!(
        s.spend_verification_attempt("01012345678").await.unwrap(),
        Some(0)
    );
    assert_eq!(
        s.spend_verification_attempt("01012345678").await.unwrap(),
        None
    );
    assert_eq!(
        s.spend_verification_attempt("01000000000").await.unwrap(),
        None
    );

    // A new code replaces the old one.
    s.put_verification(&LineVerification {
        code_hash: "c".repeat(64),
        attempts_left: 5,
        ..v.clone()
    })
    .await
    .unwrap();
    let got = s.find_verification("01012345678").await.unwrap().unwrap();
    assert_eq!((got.code_hash, got.attempts_left), ("c".repeat(64), 5));

    s.delete_verification("01012345678").await.unwrap();
    assert!(s.find_verification("01012345678").await.unwrap().is_none());
});

/// On PostgreSQL the store's lookups by key are answered from the key's index: the keys are
/// `char(n)`, and bound as plain text (as sqlx binds a `String`) they were compared by casting
/// the column, a sequential scan of every refresh token ever issued per refresh and per
/// rotation (docs/benchmarks.md, "Issue 22: token refresh").
#[tokio::test]
async fn postgres_key_lookups_use_their_index() {
    use phonebill_test_support::pg_scans::{ROWS, ScanCheck};
    let (db, database, setup) = store_on(Backend::Postgres).await;
    let now = at(1);
    setup
        .create_user(&user("mvno001", "CU1", "01012345678"), now)
        .await
        .unwrap();
    let Db::Postgres(pool) = &database.db else {
        unreachable!("a PostgreSQL test database")
    };
    // Other customers' rows, so that a scan would have something to read.
    for sql in [
        "INSERT INTO auth_users (user_id, customer_id, line_number, user_name, password_hash, \
         created_at, updated_at) SELECT 'u' || i, 'C' || i, '019' || lpad(i::text, 8, '0'), 'x', \
         'x', now(), now() FROM generate_series(1, $1) i",
        "INSERT INTO auth_sessions (session_id, user_id, auto_login, created_at, expires_at) \
         SELECT gen_random_uuid(), 'u' || i, false, now(), now() + interval '1 day' \
         FROM generate_series(1, $1) i",
        "INSERT INTO auth_refresh_tokens (token_hash, session_id, issued_at, expires_at) \
         SELECT md5(session_id::text) || md5(user_id), session_id, now(), expires_at \
         FROM auth_sessions LIMIT $1",
        "INSERT INTO auth_line_verifications (line_number, customer_id, code_hash, salt, \
         attempts_left, created_at, expires_at) SELECT '018' || lpad(i::text, 8, '0'), 'C', \
         md5(i::text) || md5(i::text), md5(i::text), 3, now(), now() + interval '1 hour' \
         FROM generate_series(1, $1) i",
    ] {
        sqlx::query(sql).bind(ROWS).execute(pool).await.unwrap();
    }
    let session = SessionRecord {
        session_id: Uuid::new_v4(),
        user_id: "mvno001".into(),
        auto_login: false,
        expires_at: at(20),
        revoked_at: None,
    };
    setup.create_session(&session, &h(1), now).await.unwrap();
    setup
        .put_verification(&LineVerification {
            line_number: "01012345678".into(),
            customer_id: "CU1".into(),
            code_hash: h(9),
            salt: format!("{:032x}", 7),
            attempts_left: 3,
            created_at: now,
            expires_at: at(2),
        })
        .await
        .unwrap();
    database.db.close().await;

    let tables = [
        "auth_refresh_tokens",
        "auth_users",
        "auth_line_verifications",
    ];
    let check = ScanCheck::start(&db.url, &tables).await;
    let pool = check.pool();
    let s = phonebill_auth::store::for_db(&pool);
    assert!(s.find_refresh(&h(1)).await.unwrap().is_some());
    assert!(s.rotate_refresh(&h(1), &h(2), &session, now).await.unwrap());
    assert!(s.find_user_by_line("01012345678").await.unwrap().is_some());
    assert!(s.find_verification("01012345678").await.unwrap().is_some());
    assert_eq!(
        s.spend_verification_attempt("01012345678").await.unwrap(),
        Some(2)
    );
    s.delete_verification("01012345678").await.unwrap();
    check
        .finish(
            pool,
            &[
                ("auth_refresh_tokens", 2),
                ("auth_users", 1),
                ("auth_line_verifications", 3),
            ],
        )
        .await;
}
