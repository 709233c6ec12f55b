//! Latency histograms and counters per step, shared by all virtual users of a run, and the
//! summaries that go into the printed table and the JSON result.
//!
//! Latencies are recorded in microseconds in an HDR histogram (3 significant digits, up to
//! 120 s), so p99 and max are exact to 0.1 % however many requests a run makes. Recording is
//! switched on after the warm-up and off at the end of the measured window; requests that
//! complete outside it are not counted.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;

/// A new latency histogram (µs, 1 µs .. 120 s).
pub fn histogram() -> Histogram<u64> {
    // The bounds are constants within hdrhistogram's documented limits.
    Histogram::new_with_bounds(1, 120_000_000, 3).unwrap_or_else(|_| {
        Histogram::new(3).unwrap_or_else(|_| unreachable!("3 significant digits is valid"))
    })
}

/// Counters and latencies of one named step.
pub struct Step {
    /// Step name (`bill-inquiry`, `login`, …).
    pub name: String,
    hist: Mutex<Histogram<u64>>,
    ok: AtomicU64,
    outcomes: Mutex<BTreeMap<String, u64>>,
    errors: Mutex<BTreeMap<String, u64>>,
}

impl Step {
    fn new(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            hist: Mutex::new(histogram()),
            ok: AtomicU64::new(0),
            outcomes: Mutex::new(BTreeMap::new()),
            errors: Mutex::new(BTreeMap::new()),
        }
    }
}

/// The steps of one scenario and the recording switch.
pub struct Recorder {
    steps: Vec<Step>,
    recording: AtomicBool,
}

fn bump(map: &Mutex<BTreeMap<String, u64>>, key: &str) {
    if let Ok(mut m) = map.lock() {
        *m.entry(key.to_owned()).or_default() += 1;
    }
}

impl Recorder {
    /// A recorder for `names` (indexes into it identify the steps), not yet recording.
    pub fn new(names: &[&str]) -> Self {
        Self {
            steps: names.iter().map(|n| Step::new(n)).collect(),
            recording: AtomicBool::new(false),
        }
    }

    /// Switches recording on or off.
    pub fn set_recording(&self, on: bool) {
        self.recording.store(on, Ordering::SeqCst);
    }

    /// Whether results are being recorded now.
    pub fn recording(&self) -> bool {
        self.recording.load(Ordering::Relaxed)
    }

    /// A successful response of step `i`; `outcome` labels it (e.g. `200 hit`).
    pub fn ok(&self, i: usize, latency: Duration, outcome: &str) {
        if !self.recording() {
            return;
        }
        let s = &self.steps[i];
        if let Ok(mut h) = s.hist.lock() {
            let _ = h.record(micros(latency));
        }
        s.ok.fetch_add(1, Ordering::Relaxed);
        bump(&s.outcomes, outcome);
    }

    /// A failed request of step `i` (transport error or unexpected status), with its latency
    /// when there was a response.
    pub fn error(&self, i: usize, latency: Option<Duration>, what: &str) {
        if !self.recording() {
            return;
        }
        let s = &self.steps[i];
        if let Some(l) = latency
            && let Ok(mut h) = s.hist.lock()
        {
            let _ = h.record(micros(l));
        }
        bump(&s.errors, what);
    }

    /// Summaries of every step that saw traffic, over a window of `window` seconds.
    pub fn summaries(&self, window: f64) -> Vec<Summary> {
        self.steps
            .iter()
            .filter_map(|s| {
                let hist = s.hist.lock().ok()?.clone();
                let errors = s.errors.lock().ok()?.clone();
                let outcomes = s.outcomes.lock().ok()?.clone();
                let ok = s.ok.load(Ordering::Relaxed);
                let error_count: u64 = errors.values().sum();
                (ok + error_count > 0).then(|| {
                    Summary::from_hist(&s.name, &hist, ok, error_count, window)
                        .with_outcomes(outcomes, errors)
                })
            })
            .collect()
    }

    /// All steps together (one row for the whole scenario).
    pub fn total(&self, name: &str, window: f64) -> Summary {
        let mut all = histogram();
        let mut ok = 0;
        let mut err = 0;
        for s in &self.steps {
            if let Ok(h) = s.hist.lock() {
                let _ = all.add(&*h);
            }
            ok += s.ok.load(Ordering::Relaxed);
            err += s
                .errors
                .lock()
                .map(|e| e.values().sum::<u64>())
                .unwrap_or(0);
        }
        Summary::from_hist(name, &all, ok, err, window)
    }
}

/// Microseconds, at least 1 (the histogram's lowest value).
pub fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX).max(1)
}

/// Latency percentiles in milliseconds.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Latency {
    /// Mean.
    pub mean: f64,
    /// Median.
    pub p50: f64,
    /// 95th percentile.
    pub p95: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Highest.
    pub max: f64,
}

impl Latency {
    /// Percentiles of a µs histogram, in ms.
    pub fn of(h: &Histogram<u64>) -> Self {
        if h.is_empty() {
            return Self::default();
        }
        let ms = |us: u64| (us as f64 / 1000.0 * 1000.0).round() / 1000.0;
        Self {
            mean: (h.mean() / 1000.0 * 1000.0).round() / 1000.0,
            p50: ms(h.value_at_quantile(0.50)),
            p95: ms(h.value_at_quantile(0.95)),
            p99: ms(h.value_at_quantile(0.99)),
            max: ms(h.max()),
        }
    }
}

/// One row of the result table.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    /// Scenario or step name.
    pub name: String,
    /// Requests with a response (successes and error responses) plus transport failures.
    pub requests: u64,
    /// Successful (expected) responses.
    pub ok: u64,
    /// Transport failures and unexpected statuses.
    pub errors: u64,
    /// Measured window, seconds.
    pub window_s: f64,
    /// Requests per second over the window.
    pub rps: f64,
    /// Latency in ms.
    pub latency_ms: Latency,
    /// Throughput relative to the bare axum ceiling of the same run (endpoint scenarios).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ratio_to_bare: Option<f64>,
    /// Successful outcomes by label (status and, where known, cache hit or miss).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub outcomes: BTreeMap<String, u64>,
    /// Errors by kind.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub error_kinds: BTreeMap<String, u64>,
}

impl Summary {
    /// A row from a histogram and counters.
    pub fn from_hist(name: &str, h: &Histogram<u64>, ok: u64, errors: u64, window: f64) -> Self {
        let requests = ok + errors;
        Self {
            name: name.to_owned(),
            requests,
            ok,
            errors,
            window_s: (window * 100.0).round() / 100.0,
            rps: if window > 0.0 {
                (requests as f64 / window).round()
            } else {
                0.0
            },
            latency_ms: Latency::of(h),
            ratio_to_bare: None,
            outcomes: BTreeMap::new(),
            error_kinds: BTreeMap::new(),
        }
    }

    fn with_outcomes(
        mut self,
        outcomes: BTreeMap<String, u64>,
        errors: BTreeMap<String, u64>,
    ) -> Self {
        self.outcomes = outcomes;
        self.error_kinds = errors;
        self
    }
}

/// Prints rows as an aligned table.
pub fn print_table(title: &str, rows: &[Summary]) {
    println!("\n== {title}");
    println!(
        "{:<28} {:>9} {:>9} {:>8} {:>8} {:>8} {:>9} {:>7} {:>7}",
        "step", "requests", "req/s", "p50 ms", "p95 ms", "p99 ms", "max ms", "errors", "vs bare"
    );
    for r in rows {
        let ratio = r
            .ratio_to_bare
            .map(|x| format!("{:.0}%", x * 100.0))
            .unwrap_or_default();
        println!(
            "{:<28} {:>9} {:>9.0} {:>8.2} {:>8.2} {:>8.2} {:>9.2} {:>7} {:>7}",
            r.name,
            r.requests,
            r.rps,
            r.latency_ms.p50,
            r.latency_ms.p95,
            r.latency_ms.p99,
            r.latency_ms.max,
            r.errors,
            ratio
        );
        for (k, v) in &r.error_kinds {
            println!("    error {k}: {v}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_only_while_recording() {
        let r = Recorder::new(&["a", "b"]);
        r.ok(0, Duration::from_millis(5), "200");
        r.set_recording(true);
        r.ok(0, Duration::from_millis(1), "200");
        r.ok(0, Duration::from_millis(3), "200");
        r.error(1, None, "timeout");
        let rows = r.summaries(2.0);
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].requests, 2);
        assert_eq!(rows[0].rps, 1.0);
        assert!((rows[0].latency_ms.max - 3.0).abs() < 0.01);
        assert_eq!(rows[1].errors, 1);
        assert_eq!(rows[1].error_kinds.get("timeout"), Some(&1));
        let total = r.total("all", 2.0);
        assert_eq!((total.ok, total.errors), (2, 1));
    }
}
