//! A steady inquiry load that runs while a test breaks something (Redis, PostgreSQL), counting
//! what it sent and what failed. Workers rotate over six months of one line, so some inquiries
//! hit the cache and some go to KOS.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use serde_json::json;

use crate::{Http, month_back};

/// Running load; [`InquiryLoad::finish`] stops it and returns the totals.
pub struct InquiryLoad {
    sent: Arc<AtomicU64>,
    failed: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    // A JoinSet aborts the workers if the test panics.
    tasks: tokio::task::JoinSet<Duration>,
}

/// What a finished load did.
#[derive(Debug, Clone, Copy)]
pub struct LoadTotals {
    /// Requests sent.
    pub sent: u64,
    /// Requests that did not answer 200 (each is printed as it happens).
    pub failed: u64,
    /// Slowest successful request.
    pub max: Duration,
}

impl InquiryLoad {
    /// Starts `workers` clients posting inquiries of `line` to `url` with `token`, each pausing
    /// `pace` between requests (zero: as fast as answers come).
    pub fn start(
        http: &Http,
        url: String,
        token: Arc<String>,
        line: &'static str,
        workers: u32,
        pace: Duration,
    ) -> Self {
        let sent = Arc::new(AtomicU64::new(0));
        let failed = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let url = Arc::new(url);
        let mut tasks = tokio::task::JoinSet::new();
        for worker in 0..workers {
            let (sent, failed, stop, token, url) = (
                sent.clone(),
                failed.clone(),
                stop.clone(),
                token.clone(),
                url.clone(),
            );
            let http = http.clone();
            tasks.spawn(async move {
                let mut i = worker;
                let mut max = Duration::ZERO;
                while !stop.load(Ordering::Acquire) {
                    i = i.wrapping_add(1);
                    let body = json!({ "lineNumber": line, "inquiryMonth": month_back(i % 6) });
                    sent.fetch_add(1, Ordering::Relaxed);
                    match http
                        .send(reqwest::Method::POST, &url, Some(&token), Some(&body))
                        .await
                    {
                        Ok(r) if r.status == 200 => max = max.max(r.elapsed),
                        Ok(r) => {
                            eprintln!("failed: HTTP {} {}", r.status, r.body);
                            failed.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(e) => {
                            eprintln!("failed: {e}");
                            failed.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    if !pace.is_zero() {
                        tokio::time::sleep(pace).await;
                    }
                }
                max
            });
        }
        Self {
            sent,
            failed,
            stop,
            tasks,
        }
    }

    /// Requests sent so far.
    pub fn sent(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }

    /// Stops the workers (each finishes its request in flight) and returns the totals.
    pub async fn finish(mut self) -> LoadTotals {
        self.stop.store(true, Ordering::Release);
        let mut max = Duration::ZERO;
        while let Some(r) = self.tasks.join_next().await {
            max = max.max(r.expect("load worker"));
        }
        LoadTotals {
            sent: self.sent.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
            max,
        }
    }
}
