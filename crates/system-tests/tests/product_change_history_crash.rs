//! An answered product change is a recorded change (docs/reliability.md "Crash and durability"):
//! a real `product-change-service` process is killed with SIGKILL (by PID), and after a restart
//! on the same database every change answered `200 COMPLETED` has its `product_change_history`
//! row (`COMPLETED`, once) and its `kos_call_log` row of the KOS change call. Every test runs on
//! SQLite and on PostgreSQL (a private cluster).
//!
//! What goes through the spill here, and what does not: the history row is the outbox row,
//! written by the request itself before the KOS call and completed before the answer
//! (services/product-change/src/service/change.rs), never through the history writer, so it
//! never spills; while the database is away no change can be answered `200` (the outbox insert
//! fails: `503 SERVICE_UNAVAILABLE`). The KOS call-log rows do go through the group-committing
//! writer (queue `kos_calls`, `spill/product-change-kos-calls.jsonl`), which the answer awaits,
//! and they spill while the database is away: the fresh line read of every change attempted,
//! and the look-ups (`GET /api/v1/products/customer`) whose cache missed, answered `200`.
//!
//! - `answered_product_changes_survive_sigkill_*`: one client toggles a line between two
//!   products, one change after the other, for 2 s; SIGKILL; restart.
//! - `database_down_then_sigkill_*`: changes answered `COMPLETED`, then the database is taken
//!   away ([`Backend`]: the cluster stopped, or SQLite's write lock held) while changes and
//!   look-ups go on for 6 s: the changes answer `503` in the error envelope, never `200`; the
//!   look-ups answer `200` and their call-log rows are spilled. SIGKILL, the database comes back,
//!   restart → every row that was in the spill file at the kill is in `kos_call_log` exactly once,
//!   the spill is empty, and the changes answered before the outage have their rows. On SQLite a
//!   change waits out the pool's `busy_timeout` (5 s) on the held lock before its `503`; the
//!   call-log writer's own bound (`HISTORY_COMMIT_TIMEOUT_MS=300`) spills well before that.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use phonebill_system_tests::{Backend, Http, Resp, Service, Stack, bounded};
use serde_json::{Value, json};

const LINE: &str = "01012345678";
const A: &str = "5G-STANDARD-001";
const B: &str = "5G-PREMIUM-001";

async fn backend(stack: &Stack, postgres: bool) -> Backend {
    if postgres {
        Backend::postgres("product").await
    } else {
        Backend::sqlite(stack.path(), "product", "product-change.db")
    }
}

/// `(request_id, process_status)` of every history row and `request_id`s of the change calls
/// logged.
async fn rows(db: &Backend) -> Option<(Vec<(String, String)>, Vec<String>)> {
    let history = db
        .strings("SELECT request_id || ' ' || process_status FROM product_change_history")
        .await?
        .into_iter()
        .filter_map(|r| {
            r.split_once(' ')
                .map(|(id, s)| (id.to_owned(), s.to_owned()))
        })
        .collect();
    let calls = db
        .strings("SELECT request_id FROM kos_call_log WHERE endpoint = 'product-change'")
        .await?;
    Some((history, calls))
}

/// One change of `LINE` from `from` to `to` (no body `requestId`: no idempotency key, so a
/// change attempted while the database is away still makes its fresh KOS read first).
async fn change(
    http: &Http,
    url: &str,
    token: &str,
    from: &str,
    to: &str,
) -> Result<Resp, reqwest::Error> {
    let body = json!({ "lineNumber": LINE, "currentProductCode": from, "targetProductCode": to });
    http.send(reqwest::Method::POST, url, Some(token), Some(&body))
        .await
}

/// Changes one after the other until `stop` (or the process is gone); returns the record ids
/// answered `200 COMPLETED` and the product the line is on.
async fn toggle(
    url: String,
    token: Arc<String>,
    stop: Arc<AtomicBool>,
) -> (Vec<String>, &'static str) {
    let http = Http::new(Duration::from_secs(10));
    let (mut from, mut to) = (A, B);
    let mut answered = Vec::new();
    while !stop.load(Ordering::Acquire) {
        match change(&http, &url, &token, from, to).await {
            Ok(r) if r.status == 200 => {
                assert_eq!(r.body["data"]["processStatus"], "COMPLETED", "{}", r.body);
                // The record id is the server's (docs/api.md §4.6).
                let id = r.body["data"]["requestId"]
                    .as_str()
                    .expect("data.requestId")
                    .to_owned();
                answered.push(id);
                std::mem::swap(&mut from, &mut to);
            }
            Ok(r) => panic!("change answered {}: {}", r.status, r.body),
            Err(_) => break,
        }
    }
    (answered, from)
}

/// Waits until every answered change has its `COMPLETED` row and its KOS change-call row;
/// returns (without a row, not COMPLETED, without a call row, duplicate rows).
async fn settle_changes(db: &Backend, answered: &[String]) -> (usize, usize, usize, usize) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let (history, calls) = rows(db).await.expect("rows readable");
        let mut status: HashMap<&str, (&str, usize)> = HashMap::new();
        for (id, s) in &history {
            status.entry(id).or_insert((s, 0)).1 += 1;
        }
        let missing_rows = answered
            .iter()
            .filter(|id| !status.contains_key(id.as_str()))
            .count();
        let not_completed = answered
            .iter()
            .filter(|id| {
                status
                    .get(id.as_str())
                    .is_some_and(|(s, _)| *s != "COMPLETED")
            })
            .count();
        let missing_calls = answered.iter().filter(|id| !calls.contains(id)).count();
        let dups = status.values().filter(|(_, n)| *n > 1).count();
        if (missing_rows + not_completed + missing_calls == 0) || Instant::now() >= deadline {
            return (missing_rows, not_completed, missing_calls, dups);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn assert_changes_recorded(answered: &[String], settled: (usize, usize, usize, usize)) {
    let (missing_rows, not_completed, missing_calls, dup_rows) = settled;
    assert!(answered.len() > 10, "load too small: {}", answered.len());
    assert_eq!(missing_rows, 0, "answered changes without a history row");
    assert_eq!(not_completed, 0, "answered COMPLETED, stored otherwise");
    assert_eq!(
        missing_calls, 0,
        "answered changes without their KOS call row"
    );
    assert_eq!(dup_rows, 0, "duplicate history rows");
}

async fn start_product(stack: &Stack, env: &[(String, String)]) -> Service {
    stack
        .start("product-change-service", "product", 0, env)
        .await
        .expect("product-change-service ready")
}

async fn changes_survive_sigkill(postgres: bool) {
    let stack = Stack::new();
    let (db, (auth, kos)) = tokio::join!(backend(&stack, postgres), async {
        tokio::join!(stack.auth(&[]), stack.kos(&[]))
    });
    let mut env = Stack::client_env(&auth, &kos);
    env.extend(db.env().into_iter().map(|(k, v)| (k.into(), v.into())));
    let mut product = start_product(&stack, &env).await;
    let token = Arc::new(stack.token(&auth).await);
    let stop = Arc::new(AtomicBool::new(false));
    let worker = tokio::spawn(toggle(
        product.url("/api/v1/products/change"),
        token,
        stop.clone(),
    ));
    tokio::time::sleep(Duration::from_secs(2)).await;
    product.proc.sigkill();
    let (answered, _) = worker.await.expect("change worker");
    stop.store(true, Ordering::Release);
    drop(product);
    let _product = start_product(&stack, &env).await;
    let settled = settle_changes(&db, &answered).await;
    println!(
        "FIGURES product-change-sigkill backend={} answered={} without_history_row={} \
         not_completed={} without_kos_call_row={} duplicate_rows={}",
        db.label(),
        answered.len(),
        settled.0,
        settled.1,
        settled.2,
        settled.3
    );
    assert_changes_recorded(&answered, settled);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn answered_product_changes_survive_sigkill_sqlite() {
    bounded(Duration::from_secs(120), changes_survive_sigkill(false)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn answered_product_changes_survive_sigkill_postgres() {
    bounded(Duration::from_secs(120), changes_survive_sigkill(true)).await;
}

/// The `event_id`s of the complete lines of a spill file (a torn last line was never
/// acknowledged; the replay cuts it).
fn spilled_event_ids(path: &std::path::Path) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let complete = text.rfind('\n').map_or("", |end| &text[..end]);
    complete
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).expect("a spill line is JSON");
            v["event_id"].as_str().expect("event_id").to_owned()
        })
        .collect()
}

fn spill_rows(readiness: &Value) -> i64 {
    readiness["components"]["history-spill:kos_calls"]["details"]["rows"]
        .as_i64()
        .unwrap_or(-1)
}

/// What the clients saw while the database was away.
#[derive(Debug, Default)]
struct Outage {
    /// Changes answered `200` (there must be none: no outbox row, no answer).
    changes_200: Vec<Value>,
    /// Changes answered `503`, bodies.
    changes_503: Vec<Value>,
    /// Changes answered otherwise, `(status, body)`.
    changes_other: Vec<(u16, Value)>,
    /// Look-ups answered `200`.
    lookups_200: usize,
    /// Look-ups answered otherwise, `(status, body)`.
    lookups_other: Vec<(u16, Value)>,
}

async fn database_down_then_sigkill_replays_the_call_log(postgres: bool) {
    let stack = Stack::new();
    let (db, (auth, kos)) = tokio::join!(backend(&stack, postgres), async {
        tokio::join!(stack.auth(&[]), stack.kos(&[]))
    });
    let mut env = Stack::client_env(&auth, &kos);
    env.extend(db.env().into_iter().map(|(k, v)| (k.into(), v.into())));
    env.extend(
        [
            // The spill starts after 300 ms without a commit.
            ("HISTORY_COMMIT_TIMEOUT_MS", "300"),
            // Look-ups miss the cache every second, so they keep calling KOS.
            ("CACHE_L1_TTL_SECONDS", "1"),
            ("CACHE_TTL_PRODUCT_CUSTOMER_SECONDS", "1"),
            ("CACHE_TTL_PRODUCT_LIST_SECONDS", "1"),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned())),
    );
    let mut product = start_product(&stack, &env).await;
    let token = Arc::new(stack.token(&auth).await);
    let change_url = product.url("/api/v1/products/change");

    // 1. Changes answered COMPLETED while the database is there.
    let stop = Arc::new(AtomicBool::new(false));
    let worker = tokio::spawn(toggle(change_url.clone(), token.clone(), stop.clone()));
    tokio::time::sleep(Duration::from_millis(1500)).await;
    stop.store(true, Ordering::Release);
    let (answered, current) = worker.await.expect("change worker");
    let target = if current == A { B } else { A };

    // 2. The database away: 4 clients keep asking for the (valid) change, 2 look the line up.
    let away = db.take_away().await.expect("take the database away");
    let stop = Arc::new(AtomicBool::new(false));
    let mut clients = tokio::task::JoinSet::new();
    for n in 0..6 {
        let (url, token, stop) = (
            if n < 4 {
                change_url.clone()
            } else {
                product.url(&format!("/api/v1/products/customer?lineNumber={LINE}"))
            },
            token.clone(),
            stop.clone(),
        );
        clients.spawn(async move {
            let http = Http::new(Duration::from_secs(20));
            let mut seen = Outage::default();
            while !stop.load(Ordering::Acquire) {
                if n < 4 {
                    match change(&http, &url, &token, current, target).await {
                        Ok(r) if r.status == 200 => seen.changes_200.push(r.body),
                        Ok(r) if r.status == 503 => seen.changes_503.push(r.body),
                        Ok(r) => seen.changes_other.push((r.status, r.body)),
                        // The process was killed with the request in flight.
                        Err(_) => break,
                    }
                } else {
                    match http
                        .send(reqwest::Method::GET, &url, Some(&token), None)
                        .await
                    {
                        Ok(r) if r.status == 200 => seen.lookups_200 += 1,
                        Ok(r) => seen.lookups_other.push((r.status, r.body)),
                        Err(_) => break,
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
            seen
        });
    }
    tokio::time::sleep(Duration::from_secs(6)).await;
    let spilled_ready = spill_rows(&product.readiness(&stack.http).await);
    product.proc.sigkill();
    stop.store(true, Ordering::Release);
    let mut seen = Outage::default();
    while let Some(r) = clients.join_next().await {
        let r = r.expect("client");
        seen.changes_200.extend(r.changes_200);
        seen.changes_503.extend(r.changes_503);
        seen.changes_other.extend(r.changes_other);
        seen.lookups_200 += r.lookups_200;
        seen.lookups_other.extend(r.lookups_other);
    }
    let spill_file = product
        .data_dir
        .join("spill/product-change-kos-calls.jsonl");
    let spilled: HashSet<String> = spilled_event_ids(&spill_file).into_iter().collect();
    drop(product);

    // 3. The database back, the process restarted: the spill is replayed once.
    away.bring_back().await.expect("bring the database back");
    let product = start_product(&stack, &env).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    let (replayed, events, left) = loop {
        let ids = db
            .strings("SELECT CAST(event_id AS TEXT) FROM kos_call_log")
            .await
            .unwrap_or_default();
        let replayed = ids.iter().filter(|id| spilled.contains(*id)).count();
        let left = spill_rows(&product.readiness(&stack.http).await);
        if (replayed == spilled.len() && left == 0) || Instant::now() >= deadline {
            break (replayed, ids, left);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let distinct: HashSet<&String> = events.iter().collect();
    let dup_events = events.len() - distinct.len();
    let file_len = std::fs::metadata(&spill_file).map_or(0, |m| m.len());
    let settled = settle_changes(&db, &answered).await;
    println!(
        "FIGURES product-change-db-down-sigkill backend={} answered_before={} \
         changes_200_during_outage={} changes_503_during_outage={} lookups_200_during_outage={} \
         spill_rows_at_kill={spilled_ready} spill_file_rows_at_kill={} replayed={replayed} \
         duplicate_call_rows={dup_events} spill_rows_after_replay={left} spill_file_bytes={file_len} \
         without_history_row={} not_completed={} without_kos_call_row={} duplicate_rows={}",
        db.label(),
        answered.len(),
        seen.changes_200.len(),
        seen.changes_503.len(),
        seen.lookups_200,
        spilled.len(),
        settled.0,
        settled.1,
        settled.2,
        settled.3
    );
    assert!(
        seen.changes_200.is_empty(),
        "a change answered 200 without its outbox row: {:?}",
        seen.changes_200.first()
    );
    assert!(
        seen.changes_other.is_empty() && seen.lookups_other.is_empty(),
        "unexpected answers: {:?} / {:?}",
        seen.changes_other.first(),
        seen.lookups_other.first()
    );
    assert!(
        !seen.changes_503.is_empty(),
        "changes during the outage must answer 503"
    );
    for body in &seen.changes_503 {
        assert_eq!(body["success"], false, "{body}");
        assert_eq!(body["error"]["code"], "SERVICE_UNAVAILABLE", "{body}");
    }
    assert!(
        seen.lookups_200 > 0,
        "look-ups went on during the outage ({})",
        seen.lookups_200
    );
    assert!(
        !spilled.is_empty() && spilled_ready > 0,
        "call-log rows were spilled during the outage ({} in the file, {spilled_ready} in readiness)",
        spilled.len()
    );
    assert_eq!(
        replayed,
        spilled.len(),
        "every spilled call-log row is in the database after the restart"
    );
    assert_eq!(dup_events, 0, "duplicate call-log rows");
    assert_eq!(left, 0, "the spill was replayed");
    assert_eq!(file_len, 0, "the spill file was truncated after the replay");
    assert_changes_recorded(&answered, settled);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn database_down_then_sigkill_then_restart_replays_the_call_log_spill_exactly_once_sqlite() {
    bounded(
        Duration::from_secs(150),
        database_down_then_sigkill_replays_the_call_log(false),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn database_down_then_sigkill_then_restart_replays_the_call_log_spill_exactly_once_postgres()
{
    bounded(
        Duration::from_secs(150),
        database_down_then_sigkill_replays_the_call_log(true),
    )
    .await;
}
