//! Resident memory and CPU time of the server processes, read from `/proc` (Linux only).
//!
//! Peak RSS during a measured window is taken by sampling `VmRSS` every 200 ms (`VmHWM` is the
//! peak over the whole life of the process, start-up included, and is reported as well). CPU is
//! `utime + stime` from `/proc/<pid>/stat`, as a delta over the window divided by the wall time:
//! 100 % means one core busy for the whole window.
//!
//! The cost of a request (issue 22) is CPU time over requests, so both must cover the same
//! interval: the scenario marks the start and end of its measured window on the monitor's
//! [`Window`] at the instants it switches recording on and off, and each process's
//! `window_cpu_ms` is the CPU it used between those two marks (warm-up excluded).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::sync::Mutex;

/// One reading of one process.
#[derive(Debug, Clone, Copy, Default)]
pub struct Reading {
    /// `VmRSS` in KiB.
    pub rss_kib: u64,
    /// `VmHWM` in KiB.
    pub hwm_kib: u64,
    /// `utime + stime` in clock ticks.
    pub cpu_ticks: u64,
}

/// Reads `/proc/<pid>/status` and `/proc/<pid>/stat`; `None` once the process is gone.
pub fn read(pid: u32) -> Option<Reading> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| -> u64 {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may contain spaces; the fields after its closing ')' start at
    // field 3 (state), so utime and stime (fields 14 and 15) are at indexes 11 and 12.
    let after = stat.rsplit_once(')').map(|(_, rest)| rest)?;
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| -> u64 { fields.get(i).and_then(|v| v.parse().ok()).unwrap_or(0) };
    Some(Reading {
        rss_kib: field("VmRSS:"),
        hwm_kib: field("VmHWM:"),
        cpu_ticks: ticks(11) + ticks(12),
    })
}

/// What one process used during a window.
#[derive(Debug, Clone, Serialize)]
pub struct ProcessUsage {
    /// Process role (`phonebill`, `bill-inquiry-service`, `loadtest`, …).
    pub name: String,
    /// OS process id.
    pub pid: u32,
    /// Highest `VmRSS` seen while sampling, MiB.
    pub peak_rss_mib: f64,
    /// `VmRSS` at the end of the window, MiB.
    pub end_rss_mib: f64,
    /// `VmHWM` (lifetime peak) at the end of the window, MiB.
    pub hwm_mib: f64,
    /// CPU used during the window, percent of one core.
    pub cpu_percent: f64,
    /// CPU time used between the scenario's measured-window marks, ms (`None` when the scenario
    /// set no marks).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub window_cpu_ms: Option<f64>,
    /// `window_cpu_ms` per request of the measured window, µs (set by the scenario's report).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu_us_per_request: Option<f64>,
    /// `cpu_us_per_request` over the bare axum handler's in the same run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu_ratio_to_bare: Option<f64>,
}

impl ProcessUsage {
    /// One of the system's processes, not the harness or the bare ceiling server.
    pub fn is_system_under_test(&self) -> bool {
        self.name != "loadtest" && self.name != "bare-axum"
    }
}

/// The measured window's start and end CPU readings of every monitored process.
#[derive(Debug, Default)]
pub struct Window {
    pids: Vec<u32>,
    marks: std::sync::Mutex<[HashMap<u32, u64>; 2]>,
}

impl Window {
    /// Reads every process's CPU ticks now as the window's start.
    pub fn start(&self) {
        self.mark(0);
    }

    /// Reads every process's CPU ticks now as the window's end.
    pub fn end(&self) {
        self.mark(1);
    }

    fn mark(&self, i: usize) {
        let ticks: HashMap<u32, u64> = self
            .pids
            .iter()
            .filter_map(|&pid| read(pid).map(|r| (pid, r.cpu_ticks)))
            .collect();
        self.marks
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)[i] = ticks;
    }

    /// CPU ms of `pid` between the marks, if both were taken.
    fn cpu_ms(&self, pid: u32, hz: f64) -> Option<f64> {
        let marks = self
            .marks
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let (a, b) = (marks[0].get(&pid)?, marks[1].get(&pid)?);
        Some(round1(1000.0 * b.saturating_sub(*a) as f64 / hz))
    }
}

/// Sets `cpu_us_per_request` of every process from its window CPU and the window's `requests`.
pub fn set_cost(usage: &mut [ProcessUsage], requests: u64) {
    for p in usage {
        if let Some(ms) = p.window_cpu_ms
            && requests > 0
        {
            p.cpu_us_per_request = Some(round1(ms * 1000.0 / requests as f64));
        }
    }
}

/// Sets `cpu_ratio_to_bare` of every process but the harness and the bare server itself.
pub fn set_ratio_to_bare(usage: &mut [ProcessUsage], bare_us: f64) {
    if bare_us <= 0.0 {
        return;
    }
    for p in usage.iter_mut().filter(|p| p.is_system_under_test()) {
        if let Some(us) = p.cpu_us_per_request {
            p.cpu_ratio_to_bare = Some((us / bare_us * 100.0).round() / 100.0);
        }
    }
}

struct Tracked {
    name: String,
    start: Reading,
    peak_rss_kib: u64,
    last: Reading,
}

/// Samples a set of processes until [`Monitor::finish`].
pub struct Monitor {
    started: Instant,
    state: Arc<Mutex<HashMap<u32, Tracked>>>,
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
    window: Arc<Window>,
}

impl Monitor {
    /// Starts sampling `procs` (name, pid) every 200 ms.
    pub fn start(procs: &[(String, u32)]) -> Self {
        let mut map = HashMap::new();
        for (name, pid) in procs {
            let r = read(*pid).unwrap_or_default();
            map.insert(
                *pid,
                Tracked {
                    name: name.clone(),
                    start: r,
                    peak_rss_kib: r.rss_kib,
                    last: r,
                },
            );
        }
        let window = Arc::new(Window {
            pids: map.keys().copied().collect(),
            marks: std::sync::Mutex::default(),
        });
        let state = Arc::new(Mutex::new(map));
        let stop = Arc::new(AtomicBool::new(false));
        let task = {
            let state = state.clone();
            let stop = stop.clone();
            tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    sample_all(&state).await;
                }
            })
        };
        Self {
            started: Instant::now(),
            state,
            stop,
            task,
            window,
        }
    }

    /// The window marks the scenario sets (see the module docs).
    pub fn window(&self) -> Arc<Window> {
        self.window.clone()
    }

    /// Takes a last sample and reports every process.
    pub async fn finish(self) -> Vec<ProcessUsage> {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.task.await;
        sample_all(&self.state).await;
        let wall = self.started.elapsed().as_secs_f64().max(1e-3);
        let hz = rustix::param::clock_ticks_per_second() as f64;
        let state = self.state.lock().await;
        let mut out: Vec<ProcessUsage> = state
            .iter()
            .map(|(pid, t)| ProcessUsage {
                name: t.name.clone(),
                pid: *pid,
                peak_rss_mib: mib(t.peak_rss_kib),
                end_rss_mib: mib(t.last.rss_kib),
                hwm_mib: mib(t.last.hwm_kib),
                cpu_percent: round1(
                    100.0 * t.last.cpu_ticks.saturating_sub(t.start.cpu_ticks) as f64 / hz / wall,
                ),
                window_cpu_ms: self.window.cpu_ms(*pid, hz),
                cpu_us_per_request: None,
                cpu_ratio_to_bare: None,
            })
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        out
    }
}

async fn sample_all(state: &Mutex<HashMap<u32, Tracked>>) {
    let mut state = state.lock().await;
    for (pid, t) in state.iter_mut() {
        if let Some(r) = read(*pid) {
            t.peak_rss_kib = t.peak_rss_kib.max(r.rss_kib);
            t.last = r;
        }
    }
}

fn mib(kib: u64) -> f64 {
    round1(kib as f64 / 1024.0)
}

/// Rounds to one decimal.
pub fn round1(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}

/// The 1-minute load average, for the conditions line of a report.
pub fn loadavg() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_own_process() {
        let r = read(std::process::id()).expect("own /proc entry");
        assert!(r.rss_kib > 0);
        assert!(r.hwm_kib >= r.rss_kib);
    }

    #[test]
    fn missing_process_is_none() {
        // PIDs are bounded by pid_max (at most 2^22), so this one cannot exist.
        assert!(read(u32::MAX - 1).is_none());
    }
}
