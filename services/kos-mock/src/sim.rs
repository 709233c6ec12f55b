//! Latency and failure simulation, per-caller rate limits and scripted faults (docs/api.md §5.7).
//!
//! All random draws come from one seedable RNG (`KOS_SIM_SEED`), so a run can be repeated. The
//! locks here are plain mutexes held only for a few instructions, never across an `.await`.
//!
//! Hot path: with simulation off, rate limiting off and no fault armed (the benchmark setting),
//! a request must not touch any of those mutexes: under load every request serialising on them
//! costs throughput for nothing. So the three conditions are mirrored in atomics
//! (`realistic`, `rate_limited`, `armed`) that the gate reads first; the mutexes stay the
//! source of truth and the atomics are only written while the matching mutex is held.

use std::collections::{BTreeMap, HashMap};
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use phonebill_common::kos::{FaultMode, KosEndpoint};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Simulation mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum SimMode {
    /// Latency and failures per endpoint.
    Realistic,
    /// 0 ms, 100 % success.
    Off,
}

impl FromStr for SimMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "realistic" | "on" | "true" => Ok(Self::Realistic),
            "off" | "false" | "none" => Ok(Self::Off),
            other => Err(format!("expected `realistic` or `off`, got {other:?}")),
        }
    }
}

/// Latency range and success rate of one endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EndpointSim {
    /// Lower latency bound, ms.
    pub min_ms: u64,
    /// Upper latency bound, ms.
    pub max_ms: u64,
    /// Probability that a call succeeds (else `500 9999`).
    pub success_rate: f64,
}

/// One armed scripted fault.
#[derive(Debug, Clone)]
struct ScriptedFault {
    endpoint: Option<KosEndpoint>,
    mode: FaultMode,
    remaining: Option<u32>,
    until: Option<Instant>,
    delay_ms: Option<u64>,
}

/// An armed fault as reported by `GET /api/v1/kos/admin/faults`.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FaultView {
    /// Endpoint name or `*`.
    pub endpoint: String,
    /// Mode.
    pub mode: FaultMode,
    /// Calls left (count-based faults).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remaining_count: Option<u32>,
    /// Seconds left (duration-based faults).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remaining_seconds: Option<u64>,
    /// Delay for `timeout` / `slow`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delay_ms: Option<u64>,
}

/// The simulation settings as shown and changed by `/api/v1/kos/admin/simulation`.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SimView {
    /// Mode.
    pub mode: SimMode,
    /// Per-caller rate limiting on/off.
    pub rate_limit_enabled: bool,
    /// Requests per minute per caller.
    pub rate_limits: BTreeMap<String, u32>,
    /// Per-endpoint latency and success rate (applied in `realistic` mode).
    pub endpoints: BTreeMap<String, EndpointSim>,
    /// Seed of the RNG, when one was configured.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
}

/// Partial per-endpoint update.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EndpointSimUpdate {
    /// Lower latency bound, ms.
    pub min_ms: Option<u64>,
    /// Upper latency bound, ms.
    pub max_ms: Option<u64>,
    /// Success probability.
    pub success_rate: Option<f64>,
}

/// Body of `PUT /api/v1/kos/admin/simulation`; absent fields are left unchanged.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SimUpdate {
    /// New mode.
    pub mode: Option<SimMode>,
    /// Rate limiting on/off.
    pub rate_limit_enabled: Option<bool>,
    /// Per-endpoint changes, keyed by endpoint name.
    #[serde(default)]
    pub endpoints: BTreeMap<String, EndpointSimUpdate>,
    /// Re-seed the RNG.
    pub seed: Option<u64>,
}

struct State {
    mode: SimMode,
    rate_limit_enabled: bool,
    endpoints: BTreeMap<KosEndpoint, EndpointSim>,
    seed: Option<u64>,
}

/// The process-wide simulator.
pub struct Simulator {
    state: Mutex<State>,
    rng: Mutex<StdRng>,
    limits: BTreeMap<KosEndpoint, u32>,
    windows: Mutex<HashMap<(KosEndpoint, String), (Instant, u32)>>,
    faults: Mutex<Vec<ScriptedFault>>,
    /// Mirror of `state.mode == Realistic`.
    realistic: AtomicBool,
    /// Mirror of `state.rate_limit_enabled`.
    rate_limited: AtomicBool,
    /// Length of `faults` (an upper bound: expired faults are pruned lazily).
    armed: AtomicUsize,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Length of a rate-limit window.
const WINDOW: Duration = Duration::from_secs(60);

impl Simulator {
    /// A simulator from the configuration.
    pub fn new(cfg: &crate::Config) -> Self {
        let rng = cfg
            .sim_seed
            .map_or_else(StdRng::from_entropy, StdRng::seed_from_u64);
        Self {
            state: Mutex::new(State {
                mode: cfg.simulation,
                rate_limit_enabled: cfg.rate_limit_enabled,
                endpoints: cfg.endpoints.clone(),
                seed: cfg.sim_seed,
            }),
            rng: Mutex::new(rng),
            limits: cfg.rate_limits.clone(),
            windows: Mutex::new(HashMap::new()),
            faults: Mutex::new(Vec::new()),
            realistic: AtomicBool::new(cfg.simulation == SimMode::Realistic),
            rate_limited: AtomicBool::new(cfg.rate_limit_enabled),
            armed: AtomicUsize::new(0),
        }
    }

    /// In `realistic` mode: the latency to add and whether the call succeeds. `None` when off.
    pub fn draw(&self, endpoint: KosEndpoint) -> Option<(Duration, bool)> {
        if !self.realistic.load(Ordering::Acquire) {
            return None;
        }
        let sim = {
            let s = lock(&self.state);
            if s.mode == SimMode::Off {
                return None;
            }
            *s.endpoints.get(&endpoint)?
        };
        let mut rng = lock(&self.rng);
        let ms = if sim.max_ms > sim.min_ms {
            rng.gen_range(sim.min_ms..=sim.max_ms)
        } else {
            sim.min_ms
        };
        let ok = sim.success_rate >= 1.0 || rng.r#gen::<f64>() < sim.success_rate;
        Some((Duration::from_millis(ms), ok))
    }

    /// Counts a call of `caller` on `endpoint`; `Err(retry_after_seconds)` over the limit.
    pub fn check_rate(&self, endpoint: KosEndpoint, caller: &str) -> Result<(), u64> {
        if !self.rate_limit_enabled() || !lock(&self.state).rate_limit_enabled {
            return Ok(());
        }
        let limit = self.limits.get(&endpoint).copied().unwrap_or(100);
        let now = Instant::now();
        let mut w = lock(&self.windows);
        if w.len() > 10_000 {
            // Forget finished windows so per-IP keys cannot grow without bound.
            w.retain(|_, (start, _)| now.duration_since(*start) < WINDOW);
        }
        let entry = w.entry((endpoint, caller.to_owned())).or_insert((now, 0));
        if now.duration_since(entry.0) >= WINDOW {
            *entry = (now, 0);
        }
        if entry.1 >= limit {
            let left = WINDOW.saturating_sub(now.duration_since(entry.0));
            return Err(left.as_secs().max(1));
        }
        entry.1 += 1;
        Ok(())
    }

    /// Whether per-caller rate limiting is on (lock-free; the gate asks before building the
    /// caller key, which allocates).
    pub fn rate_limit_enabled(&self) -> bool {
        self.rate_limited.load(Ordering::Acquire)
    }

    /// Takes the first armed fault matching `endpoint` (counting it down).
    pub fn take_fault(&self, endpoint: KosEndpoint) -> Option<(FaultMode, Option<u64>)> {
        if self.armed.load(Ordering::Acquire) == 0 {
            return None;
        }
        let now = Instant::now();
        let mut faults = lock(&self.faults);
        faults.retain(|f| f.until.is_none_or(|u| u > now) && f.remaining != Some(0));
        let out = faults
            .iter_mut()
            .find(|f| f.endpoint.is_none_or(|e| e == endpoint))
            .map(|f| {
                if let Some(r) = f.remaining.as_mut() {
                    *r -= 1;
                }
                (f.mode, f.delay_ms)
            });
        faults.retain(|f| f.remaining != Some(0));
        self.armed.store(faults.len(), Ordering::Release);
        out
    }

    /// Arms a fault. `count` calls, or for `duration`; with neither, one call.
    pub fn add_fault(
        &self,
        endpoint: Option<KosEndpoint>,
        mode: FaultMode,
        count: Option<u32>,
        duration: Option<Duration>,
        delay_ms: Option<u64>,
    ) {
        let remaining = match (count, duration) {
            (Some(c), _) => Some(c),
            (None, Some(_)) => None,
            (None, None) => Some(1),
        };
        let mut faults = lock(&self.faults);
        faults.push(ScriptedFault {
            endpoint,
            mode,
            remaining,
            // `checked_add`: an expiry past what `Instant` can hold means "never expires".
            until: duration.and_then(|d| Instant::now().checked_add(d)),
            delay_ms,
        });
        self.armed.store(faults.len(), Ordering::Release);
    }

    /// The armed faults.
    pub fn faults(&self) -> Vec<FaultView> {
        let now = Instant::now();
        let mut faults = lock(&self.faults);
        faults.retain(|f| f.until.is_none_or(|u| u > now) && f.remaining != Some(0));
        self.armed.store(faults.len(), Ordering::Release);
        faults
            .iter()
            .map(|f| FaultView {
                endpoint: f.endpoint.map_or("*", KosEndpoint::as_str).to_owned(),
                mode: f.mode,
                remaining_count: f.remaining,
                remaining_seconds: f.until.map(|u| u.saturating_duration_since(now).as_secs()),
                delay_ms: f.delay_ms,
            })
            .collect()
    }

    /// Disarms every fault.
    pub fn clear_faults(&self) {
        let mut faults = lock(&self.faults);
        faults.clear();
        self.armed.store(0, Ordering::Release);
    }

    /// The current settings.
    pub fn view(&self) -> SimView {
        let s = lock(&self.state);
        SimView {
            mode: s.mode,
            rate_limit_enabled: s.rate_limit_enabled,
            rate_limits: self
                .limits
                .iter()
                .map(|(e, l)| (e.as_str().to_owned(), *l))
                .collect(),
            endpoints: s
                .endpoints
                .iter()
                .map(|(e, v)| (e.as_str().to_owned(), *v))
                .collect(),
            seed: s.seed,
        }
    }

    /// Applies an update; `Err` names the first invalid field (nothing is changed then).
    pub fn update(&self, u: &SimUpdate) -> Result<SimView, String> {
        let mut s = lock(&self.state);
        let mut endpoints = s.endpoints.clone();
        for (name, change) in &u.endpoints {
            let e: KosEndpoint = name
                .parse()
                .map_err(|_| format!("endpoints.{name}: unknown endpoint"))?;
            let cur = endpoints
                .entry(e)
                .or_insert_with(|| crate::config::default_sim(e));
            let next = EndpointSim {
                min_ms: change.min_ms.unwrap_or(cur.min_ms),
                max_ms: change.max_ms.unwrap_or(cur.max_ms),
                success_rate: change.success_rate.unwrap_or(cur.success_rate),
            };
            if next.min_ms > next.max_ms || next.max_ms > 600_000 {
                return Err(format!("endpoints.{name}: need minMs <= maxMs <= 600000"));
            }
            if !(0.0..=1.0).contains(&next.success_rate) {
                return Err(format!("endpoints.{name}.successRate: must lie in 0..=1"));
            }
            *cur = next;
        }
        s.endpoints = endpoints;
        if let Some(m) = u.mode {
            s.mode = m;
            self.realistic
                .store(m == SimMode::Realistic, Ordering::Release);
        }
        if let Some(r) = u.rate_limit_enabled {
            s.rate_limit_enabled = r;
            self.rate_limited.store(r, Ordering::Release);
            lock(&self.windows).clear();
        }
        if let Some(seed) = u.seed {
            s.seed = Some(seed);
            *lock(&self.rng) = StdRng::seed_from_u64(seed);
        }
        drop(s);
        Ok(self.view())
    }

    /// Three random digits (order numbers).
    pub fn digits3(&self) -> u32 {
        lock(&self.rng).gen_range(0..1000)
    }
}
