//! An answered product change is a recorded change (docs/reliability.md "Crash and durability"):
//! a real `product-change-service` process toggles a line between two products, one change after
//! the other, and is killed with SIGKILL (by PID) mid-run. After a restart on the same database,
//! every change answered `200 COMPLETED` has its `product_change_history` row (`COMPLETED`, once)
//! and its `kos_call_log` row of the KOS change call, on SQLite and on PostgreSQL.
//!
//! The history row is the outbox row, written before the KOS call and completed before the
//! answer; the call-log row goes through the group-committing writer, which the answer awaits.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use phonebill_system_tests::{Http, PgCluster, Service, Stack, bounded};
use serde_json::json;
use sqlx::Connection;

const LINE: &str = "01012345678";
const A: &str = "5G-STANDARD-001";
const B: &str = "5G-PREMIUM-001";

/// `(request_id, process_status)` of every history row and `request_id`s of the change calls
/// logged.
async fn rows(
    pg_url: Option<&str>,
    product: &Service,
) -> Option<(Vec<(String, String)>, Vec<String>)> {
    const HISTORY: &str = "SELECT request_id, process_status FROM product_change_history";
    const CALLS: &str = "SELECT request_id FROM kos_call_log WHERE endpoint = 'product-change'";
    match pg_url {
        Some(url) => {
            let mut c = sqlx::PgConnection::connect(url).await.ok()?;
            let h = sqlx::query_as(HISTORY).fetch_all(&mut c).await.ok()?;
            let k = sqlx::query_scalar(CALLS).fetch_all(&mut c).await.ok()?;
            let _ = c.close().await;
            Some((h, k))
        }
        None => {
            let path = product.data_dir.join("product-change.db");
            let mut c =
                sqlx::SqliteConnection::connect(&format!("sqlite://{}?mode=ro", path.display()))
                    .await
                    .ok()?;
            let h = sqlx::query_as(HISTORY).fetch_all(&mut c).await.ok()?;
            let k = sqlx::query_scalar(CALLS).fetch_all(&mut c).await.ok()?;
            let _ = c.close().await;
            Some((h, k))
        }
    }
}

async fn changes_survive_sigkill(pg_url: Option<&str>, label: &str) {
    let stack = Stack::new();
    let (auth, kos) = tokio::join!(stack.auth(&[]), stack.kos(&[]));
    let mut env = Stack::client_env(&auth, &kos);
    if let Some(url) = pg_url {
        env.push(("DATABASE_URL".into(), url.to_owned()));
    }
    let mut product = stack
        .start("product-change-service", "product", 0, &env)
        .await
        .expect("product-change-service ready");
    let token = Arc::new(stack.token(&auth).await);
    let stop = Arc::new(AtomicBool::new(false));
    let worker = {
        let (url, token, stop) = (
            product.url("/api/v1/products/change"),
            token.clone(),
            stop.clone(),
        );
        tokio::spawn(async move {
            let http = Http::new(Duration::from_secs(10));
            let (mut from, mut to) = (A, B);
            let mut answered = Vec::new();
            let mut n = 0u32;
            while !stop.load(Ordering::Acquire) {
                n += 1;
                let rid = format!("sys-pc-crash-{n:05}");
                let body = json!({ "lineNumber": LINE, "currentProductCode": from, "targetProductCode": to, "requestId": rid });
                match http
                    .send(reqwest::Method::POST, &url, Some(&token), Some(&body))
                    .await
                {
                    Ok(r) if r.status == 200 => {
                        assert_eq!(r.body["data"]["processStatus"], "COMPLETED", "{}", r.body);
                        // The record id is the server's; the body's requestId is only this
                        // user's idempotency key (docs/api.md §4.6).
                        let id = r.body["data"]["requestId"]
                            .as_str()
                            .unwrap_or(&rid)
                            .to_owned();
                        answered.push(id);
                        std::mem::swap(&mut from, &mut to);
                    }
                    Ok(r) => panic!("change answered {}: {}", r.status, r.body),
                    Err(_) => break,
                }
            }
            answered
        })
    };
    tokio::time::sleep(Duration::from_secs(2)).await;
    product.proc.sigkill();
    let answered = worker.await.expect("change worker");
    stop.store(true, Ordering::Release);
    drop(product);
    let product = stack
        .start("product-change-service", "product", 0, &env)
        .await
        .expect("product-change-service restarted");
    let deadline = Instant::now() + Duration::from_secs(15);
    let (missing_rows, not_completed, missing_calls, dup_rows) = loop {
        let (history, calls) = rows(pg_url, &product).await.expect("rows readable");
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
            break (missing_rows, not_completed, missing_calls, dups);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    println!(
        "FIGURES product-change-sigkill backend={label} answered={} without_history_row={missing_rows} \
         not_completed={not_completed} without_kos_call_row={missing_calls} duplicate_rows={dup_rows}",
        answered.len()
    );
    assert!(answered.len() > 10, "load too small: {}", answered.len());
    assert_eq!(missing_rows, 0, "answered changes without a history row");
    assert_eq!(not_completed, 0, "answered COMPLETED, stored otherwise");
    assert_eq!(
        missing_calls, 0,
        "answered changes without their KOS call row"
    );
    assert_eq!(dup_rows, 0, "duplicate history rows");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn answered_product_changes_survive_sigkill_sqlite() {
    bounded(
        Duration::from_secs(120),
        changes_survive_sigkill(None, "sqlite"),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn answered_product_changes_survive_sigkill_postgres() {
    bounded(Duration::from_secs(120), async {
        let pg = PgCluster::start().await;
        let mut admin = sqlx::PgConnection::connect(&pg.url("postgres"))
            .await
            .expect("private postgres");
        sqlx::query("CREATE DATABASE product")
            .execute(&mut admin)
            .await
            .expect("create database");
        let _ = admin.close().await;
        let url = pg.url("product");
        changes_survive_sigkill(Some(&url), "postgres").await;
    })
    .await;
}
