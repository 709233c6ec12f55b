//! Shutdown: the service's background tasks (demo seeding, the daily purge) belong to it and
//! have stopped by the time `App::shutdown` (the end of `run`) returns, so nothing of it
//! outlives it (a purge meeting a closed pool, a seeding run cut off half way).

use std::collections::HashMap;
use std::time::Duration;

use phonebill_auth::Config;
use phonebill_common::config::Env;
use phonebill_common::db::Database;
use phonebill_common::service::Deps;
use phonebill_test_support::{TestDb, backend_tests};

use crate::helpers::add_key;

backend_tests!(
    shutdown_returns_after_the_background_tasks_stopped,
    |backend| async move {
        let db = TestDb::new(backend).await;
        let keys = tempfile::tempdir().unwrap();
        add_key(&keys, "k1");
        let data = tempfile::tempdir().unwrap();
        let env: HashMap<String, String> = HashMap::from([
            // A hashing cost that keeps the seeding of the six demo users busy for a while, one
            // hash at a time, so the shutdown below comes while it runs.
            ("ARGON2_MEMORY_KIB".into(), "16384".into()),
            ("ARGON2_ITERATIONS".into(), "2".into()),
            ("ARGON2_MAX_CONCURRENCY".into(), "1".into()),
            ("SEED_DEMO_USERS".into(), "true".into()),
            ("REGISTRATION_MODE".into(), "open".into()),
            ("JWT_KEYS_DIR".into(), keys.path().display().to_string()),
            ("DATA_DIR".into(), data.path().display().to_string()),
        ]);
        let mut config = Config::from_env(Env::new(&env)).unwrap();
        config.base.database = db.config();
        let app = phonebill_auth::build(config, Deps::new()).await.unwrap();
        let tasks = app.background_tasks();
        // The purge runs until cancelled, so it is there whatever the seeding has done by now.
        assert!(!tasks.is_empty(), "the background tasks are the app's");
        // Shut down once the seeding has written its first user and is hashing the next ones.
        // (`run` ends with this same call after the server drained; called directly, nothing
        // gives the tasks time to end on their own.)
        let svc = app.auth_service();
        let first = phonebill_auth::DEMO_USERS[0].id;
        tokio::time::timeout(Duration::from_secs(30), async {
            while svc.store.find_user(first).await.ok().flatten().is_none() {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
        .await
        .expect("the seeding starts");
        tokio::time::timeout(Duration::from_secs(60), app.shutdown())
            .await
            .expect("shutdown returns");
        assert!(tasks.is_closed(), "no task can be added after shutdown");
        assert!(
            tasks.is_empty(),
            "{} background task(s) still running after shutdown returned",
            tasks.len()
        );
        // The seeding that was under way finished whole before the pool closed.
        let check = Database::start(
            &db.config(),
            "auth-lifecycle-check",
            phonebill_auth::MIGRATIONS,
            Deps::new().shutdown.child_token(),
        )
        .unwrap();
        assert!(check.wait_migrated().await);
        let store = phonebill_auth::store::for_db(&check.db);
        for u in phonebill_auth::DEMO_USERS {
            assert!(
                store.find_user(u.id).await.unwrap().is_some(),
                "demo user {} missing: the seeding was cut off",
                u.id
            );
        }
    }
);
