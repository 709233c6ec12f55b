//! Shutdown: the service's background tasks (demo seeding, the daily purge) belong to it and
//! have stopped by the time its run future returns, so nothing of it outlives it (a purge
//! meeting a closed pool, a seeding run writing into a database being dropped).

use std::collections::HashMap;

use phonebill_auth::Config;
use phonebill_common::config::Env;
use phonebill_common::service::Deps;
use phonebill_test_support::{TestDb, backend_tests};

use crate::helpers::add_key;

backend_tests!(
    run_returns_after_the_background_tasks_stopped,
    |backend| async move {
        let db = TestDb::new(backend).await;
        let keys = tempfile::tempdir().unwrap();
        add_key(&keys, "k1");
        let data = tempfile::tempdir().unwrap();
        let env: HashMap<String, String> = HashMap::from([
            ("ARGON2_MEMORY_KIB".into(), "64".into()),
            ("ARGON2_ITERATIONS".into(), "1".into()),
            ("SEED_DEMO_USERS".into(), "true".into()),
            ("REGISTRATION_MODE".into(), "open".into()),
            ("JWT_KEYS_DIR".into(), keys.path().display().to_string()),
            ("DATA_DIR".into(), data.path().display().to_string()),
        ]);
        let mut config = Config::from_env(Env::new(&env)).unwrap();
        config.base.database = db.config();
        let deps = Deps::new();
        let app = phonebill_auth::build(config, deps.clone()).await.unwrap();
        let tasks = app.background_tasks();
        // The purge runs until cancelled, so it is there whatever the seeding has done by now.
        assert!(!tasks.is_empty(), "the background tasks are the app's");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let run = tokio::spawn(phonebill_auth::run(app, listener));
        // Shut down at once, while the migrations or the seeding may still be under way.
        deps.shutdown.cancel();
        tokio::time::timeout(std::time::Duration::from_secs(30), run)
            .await
            .expect("run returns after shutdown")
            .unwrap()
            .unwrap();
        assert!(tasks.is_closed(), "no task can be added after shutdown");
        assert!(
            tasks.is_empty(),
            "{} background task(s) still running after run returned",
            tasks.len()
        );
    }
);
