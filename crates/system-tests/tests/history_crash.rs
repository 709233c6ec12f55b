//! An answered inquiry is a recorded inquiry (docs/reliability.md "Crash and durability"): a real
//! `bill-inquiry-service` process is killed with SIGKILL (by PID) under load, and every
//! `requestId` it answered `200` must have its `bill_inquiry_history` row after a restart, once.
//!
//! - `sigkill_under_load_*`: on SQLite (the file in `DATA_DIR`) and on PostgreSQL (a private
//!   cluster): 8 clients for 2 s, SIGKILL, restart → 0 answered without a row, 0 duplicates.
//! - `database_down_then_sigkill_*`: the private PostgreSQL cluster is stopped under load (the
//!   answers go on, their rows go to the spill file), the process is killed, the database comes
//!   back, the process restarts and replays the spill → every answered request has its row
//!   exactly once, and the spill is empty (readiness `history-spill:inquiry` rows = 0).
//! - `unwritable_spill_and_database_down_*`: the spill directory cannot be created and the
//!   database is stopped → the answers are `503 SERVICE_UNAVAILABLE` in the error envelope of
//!   docs/api.md §1.3, and no `200` goes out without its row.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use phonebill_system_tests::{AnsweredLoad, Answers, PgCluster, Service, Stack, bounded};
use sqlx::Connection;

const LINE: &str = "01012345678";

/// Where the rows are.
enum Db {
    /// `<data_dir>/bill-inquiry.db`.
    Sqlite,
    /// A private cluster and the URL of the `bill` database.
    Pg(PgCluster, String),
}

impl Db {
    async fn postgres() -> Self {
        let pg = PgCluster::start().await;
        let mut admin = sqlx::PgConnection::connect(&pg.url("postgres"))
            .await
            .expect("private postgres");
        sqlx::query("CREATE DATABASE bill")
            .execute(&mut admin)
            .await
            .expect("create database");
        let _ = admin.close().await;
        let url = pg.url("bill");
        Self::Pg(pg, url)
    }

    fn env(&self) -> Vec<(&str, &str)> {
        match self {
            Self::Sqlite => vec![],
            Self::Pg(_, url) => vec![("DATABASE_URL", url.as_str())],
        }
    }

    fn pg(&self) -> &PgCluster {
        match self {
            Self::Pg(pg, _) => pg,
            Self::Sqlite => panic!("a PostgreSQL test"),
        }
    }

    /// Every `request_id` of `bill_inquiry_history` and the number of rows.
    async fn history(&self, bill: &Service) -> Option<(HashSet<String>, usize)> {
        let ids: Vec<String> = match self {
            Self::Sqlite => {
                let path = bill.data_dir.join("bill-inquiry.db");
                let mut c = sqlx::SqliteConnection::connect(&format!(
                    "sqlite://{}?mode=ro",
                    path.display()
                ))
                .await
                .ok()?;
                let ids = sqlx::query_scalar("SELECT request_id FROM bill_inquiry_history")
                    .fetch_all(&mut c)
                    .await
                    .ok()?;
                let _ = c.close().await;
                ids
            }
            Self::Pg(_, url) => {
                let mut c = sqlx::PgConnection::connect(url).await.ok()?;
                let ids = sqlx::query_scalar("SELECT request_id FROM bill_inquiry_history")
                    .fetch_all(&mut c)
                    .await
                    .ok()?;
                let _ = c.close().await;
                ids
            }
        };
        let n = ids.len();
        Some((ids.into_iter().collect(), n))
    }
}

/// Waits until every answered id has its row; returns (missing, duplicate rows, rows).
async fn settle(db: &Db, bill: &Service, answered: &[String]) -> (usize, usize, usize) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let got = db.history(bill).await;
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

async fn sigkill_under_load(db: Db, label: &str) {
    let stack = Stack::new();
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
    let bill = stack.bill(&auth, &kos, &env).await.expect("bill restarted");
    let (missing, dups, rows) = settle(&db, &bill, &answers.ok).await;
    println!(
        "FIGURES sigkill-under-load backend={label} answered={} unanswered={} rows={rows} \
         answered_without_row={missing} duplicate_rows={dups}",
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
    bounded(
        Duration::from_secs(120),
        sigkill_under_load(Db::Sqlite, "sqlite"),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigkill_under_load_loses_no_answered_inquiry_postgres() {
    bounded(Duration::from_secs(120), async {
        sigkill_under_load(Db::postgres().await, "postgres").await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn database_down_then_sigkill_then_restart_replays_the_spill_exactly_once() {
    bounded(Duration::from_secs(150), async {
        let stack = Stack::new();
        let (db, (auth, kos)) = tokio::join!(Db::postgres(), async {
            tokio::join!(stack.auth(&[]), stack.kos(&[]))
        });
        let mut env = db.env();
        env.extend([
            ("HISTORY_COMMIT_TIMEOUT_MS", "300"),
            ("HISTORY_MAX_BACKOFF_MS", "500"),
        ]);
        let mut bill = stack.bill(&auth, &kos, &env).await.expect("bill ready");
        let token = Arc::new(stack.token(&auth).await);
        let load = AnsweredLoad::start(bill.url("/api/v1/bills/inquiry"), token, LINE, 8);
        tokio::time::sleep(Duration::from_millis(1000)).await;
        db.pg().pg_stop("fast").await.expect("pg_ctl stop");
        let at_stop = load.answered();
        tokio::time::sleep(Duration::from_millis(2500)).await;
        let during = load.answered() - at_stop;
        let spilled = spill_rows(&bill.readiness(&stack.http).await);
        bill.proc.sigkill();
        let answers = load.finish().await;
        assert_only_ok(&answers);
        drop(bill);
        db.pg().pg_start().await.expect("pg_ctl start");
        let bill = stack.bill(&auth, &kos, &env).await.expect("bill restarted");
        let (missing, dups, rows) = settle(&db, &bill, &answers.ok).await;
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
            "FIGURES db-down-sigkill backend=postgres answered={} answered_during_outage={during} \
             spill_rows_at_kill={spilled} rows={rows} answered_without_row={missing} \
             duplicate_rows={dups} spill_rows_after_replay={left} spill_file_bytes={file_len}",
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
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn unwritable_spill_and_database_down_answers_503_never_200_without_a_row() {
    bounded(Duration::from_secs(150), async {
        let stack = Stack::new();
        let (db, (auth, kos)) = tokio::join!(Db::postgres(), async {
            tokio::join!(stack.auth(&[]), stack.kos(&[]))
        });
        // A regular file where the spill directory's parent should be: creating the directory
        // fails (ENOTDIR) even for root, as a read-only or full volume would.
        let blocker = stack.path().join("not-a-directory");
        std::fs::write(&blocker, b"x").expect("write blocker");
        let spill_dir = blocker.join("spill").to_string_lossy().into_owned();
        let mut env = db.env();
        env.extend([
            ("HISTORY_COMMIT_TIMEOUT_MS", "300"),
            ("HISTORY_MAX_BACKOFF_MS", "500"),
            ("HISTORY_SPILL_DIR", spill_dir.as_str()),
        ]);
        let bill = stack.bill(&auth, &kos, &env).await.expect("bill ready");
        let token = Arc::new(stack.token(&auth).await);
        db.pg().pg_stop("fast").await.expect("pg_ctl stop");
        let load = AnsweredLoad::start(bill.url("/api/v1/bills/inquiry"), token, LINE, 4);
        tokio::time::sleep(Duration::from_secs(4)).await;
        let answers = load.finish().await;
        db.pg().pg_start().await.expect("pg_ctl start");
        for body in &answers.unavailable {
            assert_eq!(body["success"], false, "{body}");
            assert_eq!(body["error"]["code"], "SERVICE_UNAVAILABLE", "{body}");
        }
        assert!(answers.other.is_empty(), "{:?}", answers.other.first());
        // Whatever was answered 200 (a commit that made it before the stop took effect) has
        // its row; the 503s may get theirs later too (the rows stay queued), never the reverse.
        let (missing, dups, rows) = settle(&db, &bill, &answers.ok).await;
        println!(
            "FIGURES unwritable-spill backend=postgres answered_200={} answered_503={} rows={rows} \
             answered_without_row={missing} duplicate_rows={dups}",
            answers.ok.len(),
            answers.unavailable.len()
        );
        assert!(
            !answers.unavailable.is_empty(),
            "the outage must produce 503 answers"
        );
        assert_eq!(missing, 0, "a 200 without its history row");
        assert_eq!(dups, 0, "duplicate history rows");
    })
    .await;
}
