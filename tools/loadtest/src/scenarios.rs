//! The load itself: closed-loop single-endpoint runs (each connection sends its next request as
//! soon as the previous answer arrived) and the customer journey (virtual users with think time,
//! one keep-alive connection per user and host).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use hdrhistogram::Histogram;
use http::Method;
use rand::rngs::StdRng as SmallRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

use crate::client::{Call, Conns, Reply};
use crate::procstat;
use crate::setup::Account;
use crate::stats::{self, Recorder};

/// Single-endpoint scenarios.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Endpoint {
    /// The bare axum ceiling.
    Bare,
    /// `POST /api/v1/bills/inquiry`, one line and month per connection: every answer from L1.
    CacheHit,
    /// `POST /api/v1/bills/inquiry` rotating over every account and month, with caching
    /// effectively off (one-entry L1, no Redis): every answer needs KOS (0 ms).
    CacheMiss,
    /// `POST /api/v1/auth/login` at the full Argon2id cost.
    Login,
    /// `POST /api/v1/auth/refresh`, each connection rotating its own session's token.
    Refresh,
    /// `POST /api/v1/products/change/validation` (cached line and catalogue).
    Validate,
}

impl Endpoint {
    /// Name in tables and files.
    pub fn name(self) -> &'static str {
        match self {
            Self::Bare => "bare",
            Self::CacheHit => "cache-hit",
            Self::CacheMiss => "cache-miss",
            Self::Login => "login",
            Self::Refresh => "refresh",
            Self::Validate => "validate",
        }
    }
}

/// The six billing months ending with the current month in Korea time, `YYYYMM`, newest first.
pub fn months() -> Vec<String> {
    use chrono::Datelike;
    let kst = chrono::Utc::now() + chrono::Duration::hours(9);
    let (mut y, mut m) = (kst.year(), kst.month());
    let mut out = Vec::new();
    for _ in 0..6 {
        out.push(format!("{y:04}{m:02}"));
        if m == 1 {
            y -= 1;
            m = 12;
        } else {
            m -= 1;
        }
    }
    out
}

/// Where and how long a closed-loop run goes.
pub struct LoopSpec {
    /// Server.
    pub addr: SocketAddr,
    /// Concurrent connections.
    pub conns: usize,
    /// Not recorded.
    pub warmup: Duration,
    /// Recorded.
    pub duration: Duration,
    /// Marked at the start and end of the recorded window (CPU per request).
    pub window: Option<Arc<procstat::Window>>,
}

/// Runs `ep` closed-loop; returns the recorder and the measured window in seconds.
/// `refresh` holds one refresh token per connection (refresh scenario only).
pub async fn endpoint(
    ep: Endpoint,
    spec: &LoopSpec,
    accounts: Arc<Vec<Account>>,
    refresh: Vec<String>,
) -> (Arc<Recorder>, f64) {
    let rec = Arc::new(Recorder::new(&[ep.name()]));
    let stop = Arc::new(AtomicBool::new(false));
    let months = Arc::new(months());
    let counter = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for i in 0..spec.conns {
        let (rec, stop, accounts, months, counter) = (
            rec.clone(),
            stop.clone(),
            accounts.clone(),
            months.clone(),
            counter.clone(),
        );
        let addr = spec.addr;
        let mut refresh_token = refresh.get(i).cloned().unwrap_or_default();
        tasks.push(tokio::spawn(async move {
            let mut conns = Conns::new(true);
            let n = accounts.len().max(1);
            while !stop.load(Ordering::Relaxed) {
                let k = counter.fetch_add(1, Ordering::Relaxed) as usize;
                let (method, path, token, body): (Method, &str, Option<&str>, Option<String>) =
                    match ep {
                        Endpoint::Bare => (Method::GET, crate::bare::PATH, None, None),
                        Endpoint::CacheHit => {
                            let a = &accounts[i % n];
                            let b = json!({ "lineNumber": a.line, "inquiryMonth": months[0] });
                            (Method::POST, "/api/v1/bills/inquiry", Some(&a.token), Some(b.to_string()))
                        }
                        Endpoint::CacheMiss => {
                            let a = &accounts[k % n];
                            let b = json!({ "lineNumber": a.line, "inquiryMonth": months[(k / n) % months.len()] });
                            (Method::POST, "/api/v1/bills/inquiry", Some(&a.token), Some(b.to_string()))
                        }
                        Endpoint::Login => {
                            let a = &accounts[k % n];
                            let b = json!({ "userId": a.user, "password": a.password });
                            (Method::POST, "/api/v1/auth/login", None, Some(b.to_string()))
                        }
                        Endpoint::Refresh => {
                            let b = json!({ "refreshToken": refresh_token });
                            (Method::POST, "/api/v1/auth/refresh", None, Some(b.to_string()))
                        }
                        Endpoint::Validate => {
                            let a = &accounts[i % n];
                            let cur = a.product.lock().map(|p| p.clone()).unwrap_or_default();
                            let b = json!({ "lineNumber": a.line, "currentProductCode": cur,
                                            "targetProductCode": Account::target(&cur) });
                            (Method::POST, "/api/v1/products/change/validation", Some(&a.token), Some(b.to_string()))
                        }
                    };
                let call = Call {
                    method,
                    path,
                    token,
                    service: None,
                    body: body.map(Bytes::from),
                };
                match conns.send(addr, call).await {
                    Ok(r) if r.status.is_success() => {
                        let label = match ep {
                            Endpoint::CacheHit | Endpoint::CacheMiss => hit_label(&r),
                            _ => r.status.as_str().to_owned(),
                        };
                        if ep == Endpoint::Refresh
                            && let Some(t) = serde_json::from_slice::<Value>(&r.body)
                                .ok()
                                .and_then(|v| v["refresh_token"].as_str().map(str::to_owned))
                        {
                            refresh_token = t;
                        }
                        rec.ok(0, r.latency, &label);
                    }
                    Ok(r) => rec.error(0, Some(r.latency), &error_label(&r)),
                    Err(f) => rec.error(0, None, &f.label()),
                }
            }
        }));
    }
    tokio::time::sleep(spec.warmup).await;
    rec.set_recording(true);
    mark(spec.window.as_deref(), procstat::Window::start);
    let started = Instant::now();
    tokio::time::sleep(spec.duration).await;
    rec.set_recording(false);
    mark(spec.window.as_deref(), procstat::Window::end);
    let window = started.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        // Requests in flight finish within the client timeout; abort anything beyond it.
        let abort = t.abort_handle();
        if tokio::time::timeout(crate::client::REQUEST_TIMEOUT, t)
            .await
            .is_err()
        {
            abort.abort();
        }
    }
    (rec, window)
}

fn mark(window: Option<&procstat::Window>, f: fn(&procstat::Window)) {
    if let Some(w) = window {
        f(w);
    }
}

fn hit_label(r: &Reply) -> String {
    let hit = memchr_find(&r.body, b"\"cached\":true");
    format!("{} {}", r.status.as_str(), if hit { "hit" } else { "miss" })
}

fn memchr_find(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// `HTTP <status> <error.code>` for an unexpected response.
pub fn error_label(r: &Reply) -> String {
    let code = serde_json::from_slice::<Value>(&r.body)
        .ok()
        .and_then(|v| v["error"]["code"].as_str().map(str::to_owned))
        .unwrap_or_default();
    format!("HTTP {} {code}", r.status.as_u16())
}

/// Journey settings.
#[derive(Debug, Clone, serde::Serialize)]
pub struct JourneySpec {
    /// Concurrent virtual users (each with its own connections).
    pub users: usize,
    /// Mean think time between steps, ms (uniform 0.5x..1.5x).
    pub think_ms: u64,
    /// Probability that an iteration ends with a product change.
    pub change_ratio: f64,
    /// Users start evenly spread over this many seconds.
    pub ramp_s: f64,
    /// Not recorded (after the ramp).
    pub warmup_s: f64,
    /// Recorded.
    pub duration_s: f64,
    /// One open connection per user instead of one per user and host (fd limit).
    pub single_connection: bool,
    /// Marked at the start and end of the recorded window (CPU per request).
    #[serde(skip)]
    pub window: Option<Arc<procstat::Window>>,
}

/// Journey steps, in order.
pub const STEPS: [&str; 6] = [
    "bill-menu",
    "bill-inquiry",
    "product-menu",
    "products-available",
    "change-validation",
    "product-change",
];

/// What the journey measured besides the step table.
pub struct JourneyOutcome {
    /// Step latencies and errors.
    pub rec: Arc<Recorder>,
    /// Measured window, s.
    pub window: f64,
    /// Our own time of responses known not to involve KOS (µs).
    pub added: Histogram<u64>,
    /// (requestId, latency µs) of responses that called KOS: cache-miss inquiries and changes;
    /// their KOS time is read from the services' `kos_call_log` afterwards.
    pub kos_samples: Vec<(String, u64)>,
    /// Responses left out of the added-latency figure because they may have waited on a KOS
    /// call we cannot attribute (product look-ups right after a change of that line).
    pub unattributed: u64,
}

struct Shared {
    accounts: Arc<Vec<Account>>,
    rec: Arc<Recorder>,
    stop: AtomicBool,
    added: Mutex<Histogram<u64>>,
    kos_samples: Mutex<Vec<(String, u64)>>,
    unattributed: AtomicU64,
    spec: JourneySpec,
    bill: SocketAddr,
    product: SocketAddr,
    t0: Instant,
}

impl Shared {
    fn now_ms(&self) -> u64 {
        u64::try_from(self.t0.elapsed().as_millis()).unwrap_or(u64::MAX)
    }
    fn added(&self, l: Duration) {
        if self.rec.recording()
            && let Ok(mut h) = self.added.lock()
        {
            let _ = h.record(stats::micros(l));
        }
    }
    fn kos(&self, id: Option<&str>, l: Duration) {
        if !self.rec.recording() {
            return;
        }
        match id {
            Some(id) => {
                if let Ok(mut v) = self.kos_samples.lock() {
                    v.push((id.to_owned(), stats::micros(l)));
                }
            }
            None => {
                self.unattributed.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

/// Runs the customer journey.
pub async fn journey(
    spec: JourneySpec,
    accounts: Arc<Vec<Account>>,
    bill: SocketAddr,
    product: SocketAddr,
) -> JourneyOutcome {
    let shared = Arc::new(Shared {
        accounts,
        rec: Arc::new(Recorder::new(&STEPS)),
        stop: AtomicBool::new(false),
        added: Mutex::new(stats::histogram()),
        kos_samples: Mutex::new(Vec::new()),
        unattributed: AtomicU64::new(0),
        spec: spec.clone(),
        bill,
        product,
        t0: Instant::now(),
    });
    let mut tasks = Vec::with_capacity(spec.users);
    for i in 0..spec.users {
        let s = shared.clone();
        tasks.push(tokio::spawn(async move { user(s, i).await }));
    }
    tokio::time::sleep(Duration::from_secs_f64(spec.ramp_s + spec.warmup_s)).await;
    shared.rec.set_recording(true);
    mark(spec.window.as_deref(), procstat::Window::start);
    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs_f64(spec.duration_s)).await;
    shared.rec.set_recording(false);
    mark(spec.window.as_deref(), procstat::Window::end);
    let window = started.elapsed().as_secs_f64();
    shared.stop.store(true, Ordering::Relaxed);
    for t in tasks {
        let abort = t.abort_handle();
        if tokio::time::timeout(crate::client::REQUEST_TIMEOUT, t)
            .await
            .is_err()
        {
            abort.abort();
        }
    }
    let added = shared
        .added
        .lock()
        .map(|h| h.clone())
        .unwrap_or_else(|_| stats::histogram());
    let kos_samples = shared
        .kos_samples
        .lock()
        .map(|v| v.clone())
        .unwrap_or_default();
    JourneyOutcome {
        rec: shared.rec.clone(),
        window,
        added,
        kos_samples,
        unattributed: shared.unattributed.load(Ordering::Relaxed),
    }
}

enum Step {
    Ok(Reply),
    Failed,
}

async fn step(s: &Shared, conns: &mut Conns, i: usize, addr: SocketAddr, call: Call<'_>) -> Step {
    match conns.send(addr, call).await {
        Ok(r) if r.status.is_success() => Step::Ok(r),
        Ok(r) => {
            s.rec.error(i, Some(r.latency), &error_label(&r));
            Step::Failed
        }
        Err(f) => {
            s.rec.error(i, None, &f.label());
            Step::Failed
        }
    }
}

async fn think(s: &Shared, rng: &mut SmallRng) {
    let t = s.spec.think_ms as f64 * rng.gen_range(0.5..1.5);
    tokio::time::sleep(Duration::from_secs_f64(t / 1000.0)).await;
}

/// One virtual user: login happened at setup (one session per account, shared by the users of
/// that account), then menu → inquiry → product menu → available products → validation →
/// (rarely) change, with think time between steps, until the run stops.
async fn user(s: Arc<Shared>, idx: usize) {
    let spec = &s.spec;
    let offset = spec.ramp_s * idx as f64 / spec.users.max(1) as f64;
    tokio::time::sleep(Duration::from_secs_f64(offset)).await;
    let mut rng = SmallRng::seed_from_u64(idx as u64);
    let acc = &s.accounts[idx % s.accounts.len()];
    let token = acc.token.as_str();
    let mut conns = Conns::new(spec.single_connection);
    let fallback = months();
    while !s.stop.load(Ordering::Relaxed) {
        // 1. bill menu
        let mut months: Vec<String> = Vec::new();
        if let Step::Ok(r) = step(
            &s,
            &mut conns,
            0,
            s.bill,
            Call::get("/api/v1/bills/menu").bearer(token),
        )
        .await
        {
            if let Ok(v) = serde_json::from_slice::<Value>(&r.body)
                && let Some(list) = v["data"]["availableMonths"].as_array()
            {
                months = list
                    .iter()
                    .filter_map(|m| m.as_str().map(|m| m.replace('-', "")))
                    .collect();
            }
            s.rec.ok(0, r.latency, "200");
            s.added(r.latency);
        }
        if months.is_empty() {
            months = fallback.clone();
        }
        think(&s, &mut rng).await;

        // 2. inquiry of one of the months
        let month = &months[rng.gen_range(0..months.len())];
        let body = json!({ "lineNumber": acc.line, "inquiryMonth": month }).to_string();
        if let Step::Ok(r) = step(
            &s,
            &mut conns,
            1,
            s.bill,
            Call::post("/api/v1/bills/inquiry", body).bearer(token),
        )
        .await
        {
            let v: Value = serde_json::from_slice(&r.body).unwrap_or(Value::Null);
            let cached = v["data"]["cached"].as_bool().unwrap_or(false);
            if cached {
                s.rec
                    .ok(1, r.latency, &format!("{} hit", r.status.as_str()));
                s.added(r.latency);
            } else {
                s.rec
                    .ok(1, r.latency, &format!("{} miss", r.status.as_str()));
                s.kos(v["data"]["requestId"].as_str(), r.latency);
            }
        }
        think(&s, &mut rng).await;

        // Product look-ups during and right after a change of this line may reload it from KOS;
        // such responses are left out of the added-latency figure (counted as unattributed).
        let own = |s: &Shared, started_ms: u64, l: Duration| {
            let until = acc.dirty_until_ms.load(Ordering::Acquire);
            if started_ms < until || s.now_ms() < until {
                s.kos(None, l);
            } else {
                s.added(l);
            }
        };

        // 3. product menu
        let t = s.now_ms();
        if let Step::Ok(r) = step(
            &s,
            &mut conns,
            2,
            s.product,
            Call::get("/api/v1/products/menu").bearer(token),
        )
        .await
        {
            s.rec.ok(2, r.latency, "200");
            own(&s, t, r.latency);
        }
        think(&s, &mut rng).await;

        // 4. available products
        let current = acc.product.lock().map(|p| p.clone()).unwrap_or_default();
        let path = format!("/api/v1/products/available?currentProductCode={current}");
        if let Step::Ok(r) =
            step(&s, &mut conns, 3, s.product, Call::get(&path).bearer(token)).await
        {
            s.rec.ok(3, r.latency, "200");
            s.added(r.latency);
        }
        think(&s, &mut rng).await;

        // 5. validation
        let target = Account::target(&current);
        let body = json!({ "lineNumber": acc.line, "currentProductCode": current, "targetProductCode": target }).to_string();
        let t = s.now_ms();
        if let Step::Ok(r) = step(
            &s,
            &mut conns,
            4,
            s.product,
            Call::post("/api/v1/products/change/validation", body.clone()).bearer(token),
        )
        .await
        {
            s.rec.ok(4, r.latency, "200");
            own(&s, t, r.latency);
        }
        think(&s, &mut rng).await;

        // 6. change, rarely, never two at once for one line (that would be our own conflict),
        //    and not within 2 s of the line's last change: a KOS mock replica other than the one
        //    that made it may still serve the old product for its line-cache bound (1 s, replicas
        //    sharing one database: the production target), which the change's fresh read of the
        //    line would answer with 409 PRODUCT_CHANGE_CONFLICT.
        if rng.gen_bool(spec.change_ratio.clamp(0.0, 1.0))
            && s.now_ms() >= acc.dirty_until_ms.load(Ordering::Acquire)
            && acc
                .changing
                .compare_exchange(false, true, Ordering::AcqRel, Ordering::Relaxed)
                .is_ok()
        {
            acc.dirty_until_ms.store(u64::MAX, Ordering::Release);
            let current_now = acc.product.lock().map(|p| p.clone()).unwrap_or_default();
            let target = Account::target(&current_now);
            let body = json!({ "lineNumber": acc.line, "currentProductCode": current_now, "targetProductCode": target }).to_string();
            if let Step::Ok(r) = step(
                &s,
                &mut conns,
                5,
                s.product,
                Call::post("/api/v1/products/change", body).bearer(token),
            )
            .await
            {
                let v: Value = serde_json::from_slice(&r.body).unwrap_or(Value::Null);
                let status = v["data"]["processStatus"]
                    .as_str()
                    .unwrap_or("?")
                    .to_owned();
                s.rec
                    .ok(5, r.latency, &format!("{} {status}", r.status.as_str()));
                s.kos(v["data"]["requestId"].as_str(), r.latency);
                if status == "COMPLETED"
                    && let Ok(mut p) = acc.product.lock()
                {
                    *p = target.to_owned();
                }
            }
            acc.dirty_until_ms
                .store(s.now_ms() + 2000, Ordering::Release);
            acc.changing.store(false, Ordering::Release);
            think(&s, &mut rng).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn six_consecutive_months_newest_first() {
        let m = months();
        assert_eq!(m.len(), 6);
        let n = |s: &str| -> i32 {
            let y: i32 = s[..4].parse().expect("year");
            let mo: i32 = s[4..].parse().expect("month");
            y * 12 + mo
        };
        for w in m.windows(2) {
            assert_eq!(n(&w[0]) - n(&w[1]), 1, "{m:?}");
        }
    }

    #[test]
    fn change_target_toggles() {
        assert_eq!(Account::target("5G-STANDARD-001"), "5G-PREMIUM-001");
        assert_eq!(Account::target("5G-PREMIUM-001"), "5G-STANDARD-001");
        assert_eq!(Account::target("LTE-BASIC-001"), "5G-PREMIUM-001");
    }
}
