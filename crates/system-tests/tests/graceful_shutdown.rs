//! Graceful shutdown under load (docs/api.md §6, docs/architecture.md decision 7) of a real `bill-inquiry-service`
//! process: 8 concurrent clients send inquiries (cache hits and KOS misses of 200–400 ms)
//! continuously; SIGTERM arrives mid-load.
//!
//! Each request uses a new connection, so its fate is unambiguous:
//! - **succeeded**: a `200`;
//! - **refused**: the TCP connect failed (listener closed) — allowed;
//! - **closed without response**: connected, then closed with no HTTP answer — allowed only if
//!   the service never handled it (it sat in the kernel's accept backlog when the listener
//!   closed), which is checked on the server side: every handled inquiry writes exactly one
//!   history row, so after exit `rows == responses` proves no handled request lost its answer;
//! - **failed in flight**: any non-`200` answer or a timeout — must be 0.
//!
//! The process must exit with status 0 within its drain deadline (`SHUTDOWN_GRACE_SECONDS`).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use phonebill_system_tests::{Stack, bounded, month_back};
use serde_json::json;
use sqlx::Connection;

const GRACE_SECONDS: u64 = 5;

#[derive(Default)]
struct Counts {
    sent: AtomicU64,
    succeeded: AtomicU64,
    refused: AtomicU64,
    closed_without_response: AtomicU64,
    failed: AtomicU64,
    /// Started before SIGTERM and answered `200` after it.
    in_flight_at_term_ok: AtomicU64,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigterm_under_load_drains_every_accepted_request() {
    bounded(Duration::from_secs(90), async {
        let stack = Stack::new();
        let (auth, kos) = tokio::join!(
            stack.auth(&[]),
            stack.kos(&[
                ("KOS_SIMULATION", "realistic"),
                ("KOS_LATENCY_BILL_INQUIRY_MS", "200-400"),
                ("KOS_SUCCESS_RATE_BILL_INQUIRY", "1.0"),
                ("KOS_RATE_LIMIT_ENABLED", "false"),
            ])
        );
        let grace = GRACE_SECONDS.to_string();
        let mut bill = stack
            .bill(
                &auth,
                &kos,
                &[
                    ("SHUTDOWN_GRACE_SECONDS", &grace),
                    // Short TTLs keep a mix of cache hits and KOS misses going.
                    ("CACHE_L1_TTL_SECONDS", "1"),
                    ("CACHE_TTL_BILL_SECONDS", "1"),
                ],
            )
            .await
            .expect("bill-inquiry-service ready");
        let token = Arc::new(stack.token(&auth).await);
        let url = Arc::new(bill.url("/api/v1/bills/inquiry"));
        let counts = Arc::new(Counts::default());
        let stop = Arc::new(AtomicBool::new(false));
        let term_at: Arc<std::sync::Mutex<Option<Instant>>> = Arc::default();

        // A JoinSet aborts the clients if the test panics.
        let mut tasks = tokio::task::JoinSet::new();
        for worker in 0..8u32 {
            let (token, url, counts, stop, term_at) = (
                token.clone(),
                url.clone(),
                counts.clone(),
                stop.clone(),
                term_at.clone(),
            );
            tasks.spawn(async move {
                // No idle connections: every request opens its own.
                let client = reqwest::Client::builder()
                    .pool_max_idle_per_host(0)
                    .timeout(Duration::from_secs(10))
                    .build()
                    .expect("client");
                let mut i = worker;
                while !stop.load(Ordering::Acquire) {
                    i = i.wrapping_add(1);
                    let month = month_back(i % 6);
                    let started = Instant::now();
                    counts.sent.fetch_add(1, Ordering::Relaxed);
                    let res = client
                        .post(url.as_str())
                        .bearer_auth(token.as_str())
                        .json(&json!({ "lineNumber": "01012345678", "inquiryMonth": month }))
                        .send()
                        .await;
                    match res {
                        Ok(r) if r.status().as_u16() == 200 => {
                            let body_ok = r.bytes().await.is_ok();
                            if body_ok {
                                counts.succeeded.fetch_add(1, Ordering::Relaxed);
                                let term = *term_at.lock().expect("lock");
                                if term.is_some_and(|t| started < t) {
                                    counts.in_flight_at_term_ok.fetch_add(1, Ordering::Relaxed);
                                }
                            } else {
                                counts.failed.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                        Ok(r) => {
                            eprintln!("failed in flight: HTTP {}", r.status());
                            counts.failed.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(e) if e.is_connect() => {
                            counts.refused.fetch_add(1, Ordering::Relaxed);
                            // Nothing listens any more: back off a little.
                            tokio::time::sleep(Duration::from_millis(20)).await;
                        }
                        Err(e) if e.is_timeout() => {
                            eprintln!("failed in flight: timeout");
                            counts.failed.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(e) => {
                            eprintln!("closed without response: {e:?}");
                            counts
                                .closed_without_response
                                .fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
            });
        }

        tokio::time::sleep(Duration::from_millis(1500)).await;
        let sent_before = counts.sent.load(Ordering::Relaxed);
        *term_at.lock().expect("lock") = Some(Instant::now());
        let term = Instant::now();
        bill.proc.sigterm();
        let status = bill
            .proc
            .wait_exit(Duration::from_secs(GRACE_SECONDS + 10))
            .await;
        let exit_after = term.elapsed();
        // Keep the load a moment past the exit so refused connections are seen, then stop.
        tokio::time::sleep(Duration::from_millis(200)).await;
        stop.store(true, Ordering::Release);
        while let Some(r) = tasks.join_next().await {
            r.expect("worker");
        }
        let status = status.expect("bill-inquiry-service did not exit after SIGTERM");
        assert!(status.success(), "exit status {status}");
        assert!(
            exit_after < Duration::from_secs(GRACE_SECONDS),
            "exit took {exit_after:?}, over the {GRACE_SECONDS} s drain deadline"
        );

        let c = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let (sent, ok, refused, closed, failed, in_flight) = (
            c(&counts.sent),
            c(&counts.succeeded),
            c(&counts.refused),
            c(&counts.closed_without_response),
            c(&counts.failed),
            c(&counts.in_flight_at_term_ok),
        );
        // Server side: one history row per handled inquiry, flushed before exit.
        let db = bill.data_dir.join("bill-inquiry.db");
        let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}", db.display()))
            .await
            .expect("open the service's SQLite file");
        let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM bill_inquiry_history")
            .fetch_one(&mut conn)
            .await
            .expect("count history rows");
        println!(
            "FIGURES graceful-shutdown sent={sent} sent_before_term={sent_before} succeeded={ok} \
             in_flight_at_term_succeeded={in_flight} refused_before_accept={refused} \
             closed_in_backlog={closed} failed_in_flight={failed} history_rows={rows} \
             exit_after_ms={}",
            exit_after.as_millis()
        );
        assert_eq!(failed, 0, "no accepted request may fail");
        assert_eq!(sent, ok + refused + closed + failed);
        assert_eq!(
            u64::try_from(rows).expect("count"),
            ok,
            "every request the service handled was answered (rows = responses)"
        );
        assert!(
            in_flight > 0,
            "SIGTERM must land while requests are in flight"
        );
        assert!(
            refused > 0,
            "the load kept going until the listener was gone"
        );
    })
    .await;
}
