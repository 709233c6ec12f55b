//! An answered inquiry is a recorded inquiry (docs/reliability.md "Crash and durability"): a real
//! `bill-inquiry-service` process is killed with SIGKILL (by PID) under load, and every
//! `requestId` it answered `200` must have its `bill_inquiry_history` row after a restart, once.
//! Every test runs on SQLite (the file in `DATA_DIR`) and on PostgreSQL (a private cluster).
//!
//! - `sigkill_under_load_*`: 8 clients for 2 s, SIGKILL, restart → 0 answered without a row,
//!   0 duplicates.
//! - `database_down_then_sigkill_*`: the database is taken away under load (PostgreSQL: the
//!   private cluster is stopped; SQLite: another connection holds the write lock with
//!   `BEGIN IMMEDIATE`, see [`Backend`]); the answers go on, their rows go to the spill file; the
//!   process is killed, the database comes back, the process restarts and replays the spill →
//!   every answered request has its row exactly once, and the spill is empty (readiness
//!   `history-spill:inquiry` rows = 0).
//! - `unwritable_spill_and_database_down_*`: the spill directory cannot be created and the
//!   database is away → the answers are `503 SERVICE_UNAVAILABLE` in the error envelope of
//!   docs/api.md §1.3, and no `200` goes out without its row.
//!
//! On SQLite the service's pool waits up to its `busy_timeout` (5 s, crates/common/src/db) for
//! a held lock, longer than the commit bound set here (`HISTORY_COMMIT_TIMEOUT_MS=300`). The
//! writer does not wait for it: its bound drops the commit after 300 ms and the batch is
//! spilled; the abandoned statement keeps its pooled connection inside SQLite's busy handler
//! until the 5 s run out ("database is locked", rolled back) or the lock is released (then it
//! commits, and the replay of the same rows changes nothing: keyed inserts). While the
//! database is away the writer writes to the spill directly and probes with one row, so those
//! blocked connections do not slow the answers.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use phonebill_system_tests::{AnsweredLoad, Answers, Backend, Stack, bounded};

const LINE: &str = "01012345678";

/// The backend of a test: SQLite in the `bill` service's data dir of `stack`, or a private
/// cluster with a `bill` database.
async fn backend(stack: &Stack, postgres: bool) -> Backend {
    if postgres {
        Backend::postgres("bill").await
    } else {
        Backend::sqlite(stack.path(), "bill", "bill-inquiry.db")
    }
}

/// Every `request_id` of `bill_inquiry_history` and the number of rows.
async fn history(db: &Backend) -> Option<(HashSet<String>, usize)> {
    let ids = db
        .strings("SELECT request_id FROM bill_inquiry_history")
        .await?;
    let n = ids.len();
    Some((ids.into_iter().collect(), n))
}

/// Waits until every answered id has its row; returns (missing, duplicate rows, rows).
async fn settle(db: &Backend, answered: &[String]) -> (usize, usize, usize) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let got = history(db).await;
        if let Some((ids, rows)) = &got {
            let missing = answered.iter().filter(|id| !ids.contains(*id)).count();
            if missing == 0 || Instant::now() >= deadline {
                return (missing, rows - ids.len(), *rows);
            }
        }
        assert!(Instant::now() < deadline, "history unreadable");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn spill_rows(readiness: &serde_json::Value) -> i64 {
    readiness["components"]["history-spill:inquiry"]["details"]["rows"]
        .as_i64()
        .unwrap_or(-1)
}

fn assert_only_ok(a: &Answers) {
    assert!(
        a.other.is_empty() && a.unavailable.is_empty(),
        "unexpected answers: {:?} / {:?}",
        a.other.first(),
        a.unavailable.first()
    );
}

/// The durability settings of the outage tests: a short commit bound (the spill starts after
/// 300 ms) and a short replay backoff (the restarted process finds the database soon).
const OUTAGE_ENV: [(&str, &str); 2] = [
    ("HISTORY_COMMIT_TIMEOUT_MS", "300"),
    ("HISTORY_MAX_BACKOFF_MS", "500"),
];

async fn sigkill_under_load(stack: Stack, db: Backend) {
    let (auth, kos) = tokio::join!(stack.auth(&[]), stack.kos(&[]));
    let mut env = db.env();
    // Short cache lifetimes keep KOS calls (cache misses) in the mix.
    env.extend([
        ("CACHE_L1_TTL_SECONDS", "1"),
        ("CACHE_TTL_BILL_SECONDS", "1"),
    ]);
    let bill = stack.bill(&auth, &kos, &env).await.expect("bill ready");
    let token = Arc::new(stack.token(&auth).await);
    let load = AnsweredLoad::start(bill.url("/api/v1/bills/inquiry"), token, LINE, 8);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mut bill = bill;
    bill.proc.sigkill();
    let answers = load.finish().await;
    assert_only_ok(&answers);
    drop(bill);
    let _bill = stack.bill(&auth, &kos, &env).await.expect("bill restarted");
    let (missing, dups, rows) = settle(&db, &answers.ok).await;
    println!(
        "FIGURES sigkill-under-load backend={} answered={} unanswered={} rows={rows} \
         answered_without_row={missing} duplicate_rows={dups}",
        db.label(),
        answers.ok.len(),
        answers.unanswered
    );
    assert!(
        answers.ok.len() > 100,
        "load too small: {}",
        answers.ok.len()
    );
    assert_eq!(missing, 0, "answered inquiries without a history row");
    assert_eq!(dups, 0, "duplicate history rows");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigkill_under_load_loses_no_answered_inquiry_sqlite() {
    bounded(Duration::from_secs(120), async {
        let stack = Stack::new();
        let db = backend(&stack, false).await;
        sigkill_under_load(stack, db).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigkill_under_load_loses_no_answered_inquiry_postgres() {
    bounded(Duration::from_secs(120), async {
        let stack = Stack::new();
        let db = backend(&stack, true).await;
        sigkill_under_load(stack, db).await;
    })
    .await;
}

/// Database away under load → answers go on, rows spill → SIGKILL → database back → restart →
/// every answered request has its row exactly once and the spill is empty.
async fn database_down_then_sigkill_replays_the_spill(postgres: bool) {
    let stack = Stack::new();
    let (db, (auth, kos)) = tokio::join!(backend(&stack, postgres), async {
        tokio::join!(stack.auth(&[]), stack.kos(&[]))
    });
    let mut env = db.env();
    env.extend(OUTAGE_ENV);
    let mut bill = stack.bill(&auth, &kos, &env).await.expect("bill ready");
    let token = Arc::new(stack.token(&auth).await);
    let load = AnsweredLoad::start(bill.url("/api/v1/bills/inquiry"), token, LINE, 8);
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let away = db.take_away().await.expect("take the database away");
    let at_stop = load.answered();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let during = load.answered() - at_stop;
    let spilled = spill_rows(&bill.readiness(&stack.http).await);
    bill.proc.sigkill();
    let answers = load.finish().await;
    assert_only_ok(&answers);
    drop(bill);
    away.bring_back().await.expect("bring the database back");
    let bill = stack.bill(&auth, &kos, &env).await.expect("bill restarted");
    let (missing, dups, rows) = settle(&db, &answers.ok).await;
    // The replay truncates the file once all of it is committed.
    let deadline = Instant::now() + Duration::from_secs(10);
    let left = loop {
        let left = spill_rows(&bill.readiness(&stack.http).await);
        if left == 0 || Instant::now() >= deadline {
            break left;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let file = bill.data_dir.join("spill/bill-inquiry-history.jsonl");
    let file_len = std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0);
    println!(
        "FIGURES db-down-sigkill backend={} answered={} answered_during_outage={during} \
         spill_rows_at_kill={spilled} rows={rows} answered_without_row={missing} \
         duplicate_rows={dups} spill_rows_after_replay={left} spill_file_bytes={file_len}",
        db.label(),
        answers.ok.len()
    );
    assert!(during > 20, "answers went on during the outage ({during})");
    assert!(
        spilled > 0,
        "rows were spilled during the outage ({spilled})"
    );
    assert_eq!(missing, 0, "answered inquiries without a history row");
    assert_eq!(dups, 0, "duplicate history rows");
    assert_eq!(left, 0, "the spill was replayed");
    assert_eq!(file_len, 0, "the spill file was truncated after the replay");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn database_down_then_sigkill_then_restart_replays_the_spill_exactly_once_sqlite() {
    bounded(
        Duration::from_secs(150),
        database_down_then_sigkill_replays_the_spill(false),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn database_down_then_sigkill_then_restart_replays_the_spill_exactly_once_postgres() {
    bounded(
        Duration::from_secs(150),
        database_down_then_sigkill_replays_the_spill(true),
    )
    .await;
}

/// No spill and no database → 503 in the envelope, and every 200 has its row.
async fn unwritable_spill_and_database_down_answers_503(postgres: bool) {
    let stack = Stack::new();
    let (db, (auth, kos)) = tokio::join!(backend(&stack, postgres), async {
        tokio::join!(stack.auth(&[]), stack.kos(&[]))
    });
    // A regular file where the spill directory's parent should be: creating the directory
    // fails (ENOTDIR) even for root, as a read-only or full volume would.
    let blocker = stack.path().join("not-a-directory");
    std::fs::write(&blocker, b"x").expect("write blocker");
    let spill_dir = blocker.join("spill").to_string_lossy().into_owned();
    let mut env = db.env();
    env.extend(OUTAGE_ENV);
    env.push(("HISTORY_SPILL_DIR", spill_dir.as_str()));
    let bill = stack.bill(&auth, &kos, &env).await.expect("bill ready");
    let token = Arc::new(stack.token(&auth).await);
    let away = db.take_away().await.expect("take the database away");
    let load = AnsweredLoad::start(bill.url("/api/v1/bills/inquiry"), token, LINE, 4);
    tokio::time::sleep(Duration::from_secs(4)).await;
    let answers = load.finish().await;
    away.bring_back().await.expect("bring the database back");
    for body in &answers.unavailable {
        assert_eq!(body["success"], false, "{body}");
        assert_eq!(body["error"]["code"], "SERVICE_UNAVAILABLE", "{body}");
    }
    assert!(answers.other.is_empty(), "{:?}", answers.other.first());
    // Whatever was answered 200 (a commit that made it before the outage took effect) has
    // its row; the 503s may get theirs later too (the rows stay queued), never the reverse.
    let (missing, dups, rows) = settle(&db, &answers.ok).await;
    println!(
        "FIGURES unwritable-spill backend={} answered_200={} answered_503={} rows={rows} \
         answered_without_row={missing} duplicate_rows={dups}",
        db.label(),
        answers.ok.len(),
        answers.unavailable.len()
    );
    assert!(
        !answers.unavailable.is_empty(),
        "the outage must produce 503 answers"
    );
    assert_eq!(missing, 0, "a 200 without its history row");
    assert_eq!(dups, 0, "duplicate history rows");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn unwritable_spill_and_database_down_answers_503_never_200_without_a_row_sqlite() {
    bounded(
        Duration::from_secs(150),
        unwritable_spill_and_database_down_answers_503(false),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn unwritable_spill_and_database_down_answers_503_never_200_without_a_row_postgres() {
    bounded(
        Duration::from_secs(150),
        unwritable_spill_and_database_down_answers_503(true),
    )
    .await;
}
