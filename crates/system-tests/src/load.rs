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

/// Inquiry traffic that remembers the `requestId` of every answer `200`: the crash tests check
/// that each of them has its history row after the process was killed and restarted.
pub struct AnsweredLoad {
    stop: Arc<AtomicBool>,
    answered: Arc<AtomicU64>,
    tasks: tokio::task::JoinSet<Answers>,
}

/// What an [`AnsweredLoad`] saw.
#[derive(Debug, Default, Clone)]
pub struct Answers {
    /// `requestId`s answered `200`.
    pub ok: Vec<String>,
    /// Answers `503` (their bodies are checked by the caller).
    pub unavailable: Vec<serde_json::Value>,
    /// Other statuses, as `(status, body)`.
    pub other: Vec<(u16, serde_json::Value)>,
    /// Requests without an answer (connection refused or reset: the process was killed).
    pub unanswered: u64,
}

impl Answers {
    fn merge(&mut self, o: Answers) {
        self.ok.extend(o.ok);
        self.unavailable.extend(o.unavailable);
        self.other.extend(o.other);
        self.unanswered += o.unanswered;
    }
}

impl AnsweredLoad {
    /// Starts `workers` clients posting inquiries of `line` to `url` as fast as answers come,
    /// each with a short per-request bound so a killed process does not hold them.
    pub fn start(url: String, token: Arc<String>, line: &'static str, workers: u32) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let answered = Arc::new(AtomicU64::new(0));
        let http = Http::new(Duration::from_secs(10));
        let url = Arc::new(url);
        let mut tasks = tokio::task::JoinSet::new();
        for worker in 0..workers {
            let (stop, answered, token, url, http) = (
                stop.clone(),
                answered.clone(),
                token.clone(),
                url.clone(),
                http.clone(),
            );
            tasks.spawn(async move {
                let mut seen = Answers::default();
                let mut i = worker;
                while !stop.load(Ordering::Acquire) {
                    i = i.wrapping_add(1);
                    let body = json!({ "lineNumber": line, "inquiryMonth": month_back(i % 6) });
                    match http
                        .send(reqwest::Method::POST, &url, Some(&token), Some(&body))
                        .await
                    {
                        Ok(r) if r.status == 200 => match r.body["data"]["requestId"].as_str() {
                            Some(id) => {
                                answered.fetch_add(1, Ordering::Relaxed);
                                seen.ok.push(id.to_owned());
                            }
                            None => seen.other.push((200, r.body)),
                        },
                        Ok(r) if r.status == 503 => seen.unavailable.push(r.body),
                        Ok(r) => seen.other.push((r.status, r.body)),
                        Err(_) => {
                            seen.unanswered += 1;
                            // The process is gone: do not spin on refused connections.
                            tokio::time::sleep(Duration::from_millis(20)).await;
                        }
                    }
                }
                seen
            });
        }
        Self {
            stop,
            answered,
            tasks,
        }
    }

    /// Requests answered `200` so far.
    pub fn answered(&self) -> u64 {
        self.answered.load(Ordering::Relaxed)
    }

    /// Stops the workers and returns what they saw.
    pub async fn finish(mut self) -> Answers {
        self.stop.store(true, Ordering::Release);
        let mut all = Answers::default();
        while let Some(r) = self.tasks.join_next().await {
            all.merge(r.expect("load worker"));
        }
        all
    }
}
