//! An answered refresh is a recorded rotation (docs/api.md §2.4 rules 2 and 4,
//! docs/reliability.md "Crash and durability"): a real `auth-service` process rotates refresh
//! tokens under load and is killed with SIGKILL (by PID); after a restart on the same database,
//! the token presented to every rotation that was answered `200` must be refused. A rotation lost
//! in the crash would let that old token be used again.
//!
//! The rotation is one transaction committed before the answer (`rotate_refresh`); this test
//! holds it to that on SQLite (WAL, the file in `DATA_DIR`) and on PostgreSQL (a private cluster).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use phonebill_system_tests::{Backend, Http, Stack, bounded};
use serde_json::json;

const WORKERS: usize = 8;

/// One client's chain of rotations: the last `(presented, received)` pair answered `200`.
#[derive(Default)]
struct Chain {
    answered: u64,
    last: Option<(String, String)>,
}

async fn refresh(http: &Http, url: &str, token: &str) -> Option<(u16, serde_json::Value)> {
    http.send(
        reqwest::Method::POST,
        url,
        None,
        Some(&json!({ "refreshToken": token })),
    )
    .await
    .ok()
    .map(|r| (r.status, r.body))
}

async fn rotations_survive_sigkill(stack: Stack, db: Backend) {
    let env = db.env();
    let label = db.label();
    let mut auth = stack.auth(&env).await;
    let url = auth.url("/api/v1/auth/refresh");
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..WORKERS {
        let first = stack.login(&auth, "mvno001", "Phonebill1!").await["refresh_token"]
            .as_str()
            .expect("refresh_token")
            .to_owned();
        let (http, url, stop) = (
            Http::new(Duration::from_secs(10)),
            url.clone(),
            stop.clone(),
        );
        tasks.spawn(async move {
            let mut chain = Chain::default();
            let mut current = first;
            while !stop.load(Ordering::Acquire) {
                match refresh(&http, &url, &current).await {
                    Some((200, body)) => {
                        let next = body["data"]["refreshToken"]
                            .as_str()
                            .expect("data.refreshToken")
                            .to_owned();
                        chain.answered += 1;
                        chain.last = Some((current.clone(), next.clone()));
                        current = next;
                    }
                    Some((status, body)) => panic!("refresh answered {status}: {body}"),
                    // The process is gone.
                    None => break,
                }
            }
            chain
        });
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    auth.proc.sigkill();
    let mut chains = Vec::new();
    while let Some(c) = tasks.join_next().await {
        chains.push(c.expect("refresh worker"));
    }
    stop.store(true, Ordering::Release);
    drop(auth);
    // Same DATA_DIR: the same SQLite file and signing key.
    let auth = stack.auth(&env).await;
    let http = Http::new(Duration::from_secs(10));
    let answered: u64 = chains.iter().map(|c| c.answered).sum();
    let mut reused_accepted = 0;
    let mut checked = 0;
    for chain in &chains {
        let Some((presented, _received)) = &chain.last else {
            continue;
        };
        checked += 1;
        let (status, body) = refresh(&http, &auth.url("/api/v1/auth/refresh"), presented)
            .await
            .expect("restarted auth answers");
        if status == 200 {
            reused_accepted += 1;
        } else {
            assert_eq!(status, 401, "{body}");
            assert_eq!(body["error"]["code"], "REFRESH_TOKEN_REUSED", "{body}");
        }
    }
    println!(
        "FIGURES auth-refresh-sigkill backend={label} rotations_answered={answered} \
         chains_checked={checked} old_token_accepted_after_restart={reused_accepted}"
    );
    assert!(answered > 50, "load too small: {answered}");
    assert_eq!(checked, WORKERS, "every client rotated at least once");
    assert_eq!(
        reused_accepted, 0,
        "an answered rotation was lost in the crash"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn answered_refresh_rotations_survive_sigkill_sqlite() {
    bounded(Duration::from_secs(120), async {
        let stack = Stack::new();
        let db = Backend::sqlite(stack.path(), "auth", "auth.db");
        rotations_survive_sigkill(stack, db).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn answered_refresh_rotations_survive_sigkill_postgres() {
    bounded(Duration::from_secs(120), async {
        rotations_survive_sigkill(Stack::new(), Backend::postgres("auth").await).await;
    })
    .await;
}
