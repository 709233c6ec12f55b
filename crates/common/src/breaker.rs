//! The circuit breaker in front of KOS (docs/architecture.md decision 6, docs/api.md §3.4).
//!
//! States: **closed** (calls pass; consecutive failures are counted) → **open** after
//! `failure_threshold` consecutive failures (calls are rejected at once with the time left) →
//! **half-open** once `open_duration` has passed (exactly `half_open_trials` concurrent trial
//! calls are admitted, every other call is rejected at once) → **closed** when all trials
//! succeed, or **open** again as soon as one fails.
//!
//! What counts as a failure is the caller's decision ([`Permit::failure`]): for KOS it is a
//! timeout, a connection error or a 5xx; 4xx answers and KOS business codes are successes as far
//! as the breaker is concerned (KOS answered).
//!
//! Cost on the closed path: one atomic load to admit and one atomic load to record a success
//! (the failure counter is only written when it is not already zero), no lock and no
//! allocation. State and an *epoch* are packed in one `AtomicU64`; every transition bumps the
//! epoch, and a permit remembers the epoch it was admitted in, so a slow call that was admitted
//! before a transition cannot move the new state (a late failure from the closed period must not
//! re-open a breaker that a half-open trial just closed). Transitions take a mutex; they are
//! rare. Time is `tokio::time::Instant`, so tests run the full state machine under a paused
//! clock.
//!
//! Each transition is logged once, sets the `circuit_breaker_state{breaker}` gauge (0 closed, 1
//! open, 2 half-open) and increments `circuit_breaker_transitions_total{breaker,from,to}`.
//!
//! Variables: `BREAKER_FAILURE_THRESHOLD` (default 5), `BREAKER_OPEN_SECONDS` (60),
//! `BREAKER_HALF_OPEN_TRIALS` (3) — the seed's `failure_threshold: 5`, `timeout: 60s`,
//! `half_open_max_calls: 3`.

use std::fmt;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use crate::config::{ConfigError, Env};
use crate::metrics::Metrics;

/// Breaker settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BreakerConfig {
    /// Consecutive failures that open a closed breaker.
    pub failure_threshold: u32,
    /// How long the breaker stays open before admitting trial calls.
    pub open_duration: Duration,
    /// Concurrent trial calls admitted when half-open; all must succeed to close.
    pub half_open_trials: u32,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        Self {
            failure_threshold: 5,
            open_duration: Duration::from_secs(60),
            half_open_trials: 3,
        }
    }
}

impl BreakerConfig {
    /// Reads `BREAKER_FAILURE_THRESHOLD`, `BREAKER_OPEN_SECONDS`, `BREAKER_HALF_OPEN_TRIALS`.
    pub fn from_env(env: Env<'_>) -> Result<Self, ConfigError> {
        Ok(Self {
            failure_threshold: env.ranged("BREAKER_FAILURE_THRESHOLD", 5u32, 1..=1000)?,
            open_duration: Duration::from_secs(env.ranged(
                "BREAKER_OPEN_SECONDS",
                60u64,
                1..=3600,
            )?),
            half_open_trials: env.ranged("BREAKER_HALF_OPEN_TRIALS", 3u32, 1..=100)?,
        })
    }
}

/// The breaker's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BreakerState {
    /// Calls pass.
    Closed,
    /// Calls are rejected.
    Open,
    /// A limited number of trial calls pass.
    HalfOpen,
}

impl BreakerState {
    /// `CLOSED`, `OPEN`, `HALF_OPEN` (readiness details).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Closed => "CLOSED",
            Self::Open => "OPEN",
            Self::HalfOpen => "HALF_OPEN",
        }
    }

    /// The gauge value: 0 closed, 1 open, 2 half-open (docs/api.md §6).
    pub fn gauge_value(self) -> i64 {
        match self {
            Self::Closed => 0,
            Self::Open => 1,
            Self::HalfOpen => 2,
        }
    }

    fn label(self) -> &'static str {
        match self {
            Self::Closed => "closed",
            Self::Open => "open",
            Self::HalfOpen => "half_open",
        }
    }

    fn bits(self) -> u64 {
        match self {
            Self::Closed => 0,
            Self::Open => 1,
            Self::HalfOpen => 2,
        }
    }

    fn from_bits(bits: u64) -> Self {
        match bits & 0b11 {
            1 => Self::Open,
            2 => Self::HalfOpen,
            _ => Self::Closed,
        }
    }
}

impl fmt::Display for BreakerState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A call was rejected because the breaker is open (or half-open with every trial slot taken).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("circuit breaker {breaker} is open; retry in {retry_after:?}")]
pub struct BreakerOpen {
    /// The breaker's name.
    pub breaker: &'static str,
    /// Time until trial calls are admitted (zero when half-open and full).
    pub retry_after: Duration,
}

impl BreakerOpen {
    /// `Retry-After` in whole seconds, rounded up, at least 1 (docs/api.md §1.5).
    pub fn retry_after_secs(&self) -> u64 {
        let d = self.retry_after;
        let secs = d.as_secs() + u64::from(d.subsec_nanos() > 0);
        secs.max(1)
    }
}

/// A circuit breaker. Cheap to clone; clones share state.
#[derive(Clone)]
pub struct CircuitBreaker {
    inner: Arc<Inner>,
}

impl fmt::Debug for CircuitBreaker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CircuitBreaker")
            .field("name", &self.inner.name)
            .field("state", &self.state())
            .finish()
    }
}

struct Inner {
    name: &'static str,
    config: BreakerConfig,
    /// `epoch << 2 | state`.
    packed: AtomicU64,
    /// Consecutive failures while closed.
    failures: AtomicU32,
    /// Trial permits handed out in the current half-open epoch.
    trials_admitted: AtomicU32,
    /// Trial successes in the current half-open epoch.
    trials_succeeded: AtomicU32,
    /// When the current open period started, in nanoseconds since `base`.
    opened_at: AtomicU64,
    base: Instant,
    transition: Mutex<()>,
    gauge: prometheus::IntGauge,
    metrics: Metrics,
}

fn pack(epoch: u64, state: BreakerState) -> u64 {
    (epoch << 2) | state.bits()
}

fn unpack(v: u64) -> (u64, BreakerState) {
    (v >> 2, BreakerState::from_bits(v))
}

/// The right to make one call. Record the outcome with [`Permit::success`] or
/// [`Permit::failure`]; a permit dropped without an outcome (a cancelled call, or an outcome
/// that says nothing about KOS's health) is neutral and frees its half-open trial slot.
#[must_use = "record the outcome of the call with success() or failure()"]
pub struct Permit<'a> {
    breaker: &'a CircuitBreaker,
    epoch: u64,
    trial: bool,
    done: bool,
}

impl fmt::Debug for Permit<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Permit")
            .field("epoch", &self.epoch)
            .field("trial", &self.trial)
            .finish()
    }
}

impl Permit<'_> {
    /// The call succeeded (or failed in a way that says KOS is healthy, e.g. a 4xx).
    pub fn success(mut self) {
        self.done = true;
        self.breaker.on_success(self.epoch, self.trial);
    }

    /// The call failed in a way that counts (timeout, connection error, 5xx).
    pub fn failure(mut self) {
        self.done = true;
        self.breaker.on_failure(self.epoch, self.trial);
    }

    /// Records `failed` (convenience for `if failed { failure() } else { success() }`).
    pub fn record(self, failed: bool) {
        if failed {
            self.failure();
        } else {
            self.success();
        }
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        if !self.done && self.trial {
            self.breaker.release_trial(self.epoch);
        }
    }
}

impl CircuitBreaker {
    /// A closed breaker named `name` (the `breaker` label, e.g. `kos`).
    pub fn new(name: &'static str, config: BreakerConfig, metrics: &Metrics) -> Self {
        let gauge = metrics.breaker_state.with_label_values(&[name]);
        gauge.set(BreakerState::Closed.gauge_value());
        Self {
            inner: Arc::new(Inner {
                name,
                config,
                packed: AtomicU64::new(pack(0, BreakerState::Closed)),
                failures: AtomicU32::new(0),
                trials_admitted: AtomicU32::new(0),
                trials_succeeded: AtomicU32::new(0),
                opened_at: AtomicU64::new(0),
                base: Instant::now(),
                transition: Mutex::new(()),
                gauge,
                metrics: metrics.clone(),
            }),
        }
    }

    /// The breaker's name.
    pub fn name(&self) -> &'static str {
        self.inner.name
    }

    /// Its settings.
    pub fn config(&self) -> BreakerConfig {
        self.inner.config
    }

    /// The current state. An open breaker whose open time has passed still reports `Open`
    /// until the next call moves it to half-open.
    pub fn state(&self) -> BreakerState {
        unpack(self.inner.packed.load(Ordering::Acquire)).1
    }

    /// Consecutive failures counted while closed.
    pub fn consecutive_failures(&self) -> u32 {
        self.inner.failures.load(Ordering::Relaxed)
    }

    /// Asks to make a call: a permit, or the rejection with the time left.
    pub fn try_acquire(&self) -> Result<Permit<'_>, BreakerOpen> {
        loop {
            let (epoch, state) = unpack(self.inner.packed.load(Ordering::Acquire));
            match state {
                BreakerState::Closed => {
                    return Ok(Permit {
                        breaker: self,
                        epoch,
                        trial: false,
                        done: false,
                    });
                }
                BreakerState::Open => {
                    let elapsed = self.elapsed_since_open();
                    let open = self.inner.config.open_duration;
                    if elapsed < open {
                        return Err(self.rejection(open - elapsed));
                    }
                    // Open time is over: move to half-open (once) and retry the admission.
                    self.transition(epoch, BreakerState::Open, BreakerState::HalfOpen);
                }
                BreakerState::HalfOpen => {
                    let max = self.inner.config.half_open_trials;
                    let admitted = self.inner.trials_admitted.fetch_update(
                        Ordering::AcqRel,
                        Ordering::Acquire,
                        |n| (n < max).then_some(n + 1),
                    );
                    // Re-check the epoch: a transition between the load and the slot grab
                    // would hand out a trial permit of a period that is already over.
                    let (now_epoch, _) = unpack(self.inner.packed.load(Ordering::Acquire));
                    return match admitted {
                        Ok(_) if now_epoch == epoch => Ok(Permit {
                            breaker: self,
                            epoch,
                            trial: true,
                            done: false,
                        }),
                        Ok(_) => continue,
                        Err(_) => Err(self.rejection(Duration::ZERO)),
                    };
                }
            }
        }
    }

    /// Runs `call` through the breaker. `is_failure` decides whether the result counts as a
    /// failure. Rejected calls never start.
    pub async fn call<T, E, Fut>(
        &self,
        call: Fut,
        is_failure: impl FnOnce(&Result<T, E>) -> bool,
    ) -> Result<Result<T, E>, BreakerOpen>
    where
        Fut: Future<Output = Result<T, E>>,
    {
        let permit = self.try_acquire()?;
        let result = call.await;
        permit.record(is_failure(&result));
        Ok(result)
    }

    fn rejection(&self, retry_after: Duration) -> BreakerOpen {
        BreakerOpen {
            breaker: self.inner.name,
            retry_after,
        }
    }

    fn now_nanos(&self) -> u64 {
        u64::try_from(self.inner.base.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    fn elapsed_since_open(&self) -> Duration {
        let opened = self.inner.opened_at.load(Ordering::Acquire);
        Duration::from_nanos(self.now_nanos().saturating_sub(opened))
    }

    fn on_success(&self, epoch: u64, trial: bool) {
        let inner = &*self.inner;
        if trial {
            let (now_epoch, state) = unpack(inner.packed.load(Ordering::Acquire));
            if now_epoch != epoch || state != BreakerState::HalfOpen {
                return;
            }
            let ok = inner.trials_succeeded.fetch_add(1, Ordering::AcqRel) + 1;
            if ok >= inner.config.half_open_trials {
                self.transition(epoch, BreakerState::HalfOpen, BreakerState::Closed);
            }
        } else if inner.failures.load(Ordering::Relaxed) != 0 {
            // Only write when needed: the common case (no failures) stays a plain load.
            inner.failures.store(0, Ordering::Relaxed);
        }
    }

    fn on_failure(&self, epoch: u64, trial: bool) {
        let inner = &*self.inner;
        if trial {
            self.transition(epoch, BreakerState::HalfOpen, BreakerState::Open);
            return;
        }
        let (now_epoch, state) = unpack(inner.packed.load(Ordering::Acquire));
        if now_epoch != epoch || state != BreakerState::Closed {
            return;
        }
        let n = inner.failures.fetch_add(1, Ordering::AcqRel) + 1;
        if n >= inner.config.failure_threshold {
            self.transition(epoch, BreakerState::Closed, BreakerState::Open);
        }
    }

    fn release_trial(&self, epoch: u64) {
        let inner = &*self.inner;
        let _guard = inner
            .transition
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let (now_epoch, state) = unpack(inner.packed.load(Ordering::Acquire));
        if now_epoch == epoch && state == BreakerState::HalfOpen {
            let _ = inner
                .trials_admitted
                .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1));
        }
    }

    /// Moves `from` → `to` if the breaker is still in `from` at `epoch`; no-op otherwise (another
    /// thread won the race).
    fn transition(&self, epoch: u64, from: BreakerState, to: BreakerState) {
        let inner = &*self.inner;
        let _guard = inner
            .transition
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let current = inner.packed.load(Ordering::Acquire);
        if current != pack(epoch, from) {
            return;
        }
        // Prepare the new state's counters before publishing it.
        match to {
            BreakerState::Open => {
                inner.opened_at.store(self.now_nanos(), Ordering::Release);
            }
            BreakerState::HalfOpen => {
                inner.trials_admitted.store(0, Ordering::Release);
                inner.trials_succeeded.store(0, Ordering::Release);
            }
            BreakerState::Closed => {
                inner.failures.store(0, Ordering::Release);
            }
        }
        inner.packed.store(pack(epoch + 1, to), Ordering::Release);
        inner.gauge.set(to.gauge_value());
        inner
            .metrics
            .breaker_transitions
            .with_label_values(&[inner.name, from.label(), to.label()])
            .inc();
        match to {
            BreakerState::Open => tracing::warn!(
                breaker = inner.name,
                from = from.as_str(),
                to = to.as_str(),
                open_seconds = inner.config.open_duration.as_secs(),
                "circuit breaker opened"
            ),
            _ => tracing::info!(
                breaker = inner.name,
                from = from.as_str(),
                to = to.as_str(),
                "circuit breaker state changed"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_rounds_up_and_is_at_least_one() {
        let e = |ms| BreakerOpen {
            breaker: "kos",
            retry_after: Duration::from_millis(ms),
        };
        assert_eq!(e(0).retry_after_secs(), 1);
        assert_eq!(e(1).retry_after_secs(), 1);
        assert_eq!(e(59_001).retry_after_secs(), 60);
        assert_eq!(e(60_000).retry_after_secs(), 60);
    }

    #[test]
    fn config_reads_the_variables() {
        let m: std::collections::HashMap<String, String> = [
            ("BREAKER_FAILURE_THRESHOLD", "7"),
            ("BREAKER_OPEN_SECONDS", "30"),
            ("BREAKER_HALF_OPEN_TRIALS", "2"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let c = BreakerConfig::from_env(Env::new(&m)).expect("valid");
        assert_eq!(
            c,
            BreakerConfig {
                failure_threshold: 7,
                open_duration: Duration::from_secs(30),
                half_open_trials: 2
            }
        );
        let bad: std::collections::HashMap<String, String> =
            [("BREAKER_HALF_OPEN_TRIALS".to_owned(), "0".to_owned())].into();
        assert_eq!(
            BreakerConfig::from_env(Env::new(&bad))
                .expect_err("0 trials")
                .var,
            "BREAKER_HALF_OPEN_TRIALS"
        );
        assert_eq!(
            BreakerConfig::from_env(Env::new(&std::collections::HashMap::new())).expect("defaults"),
            BreakerConfig::default()
        );
    }
}
