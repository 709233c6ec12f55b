//! The Redis level: the shared [`RedisClient`] (standalone or cluster, plain or TLS) with a
//! per-operation timeout, a failure cool-down and flood-free logging.
//!
//! Rules: every operation (connection + command) is bounded by `timeout`; an error or a timeout
//! is returned to the cache, which degrades to L1/miss and counts `result=error`. After
//! `failure_threshold` consecutive failures the level is *skipped* for `cooldown`: operations
//! fail at once without touching the network, so a Redis outage adds no latency to requests.
//! When the cool-down is over exactly one operation probes Redis (the others keep skipping); its
//! success ends the outage. Failures are logged at most once per `LOG_EVERY`, with the number of
//! suppressed ones.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use redis::{FromRedisValue, Value};

use crate::redis_conn::{RedisClient, RedisConfig};

/// At most one failure log line per this period.
const LOG_EVERY: Duration = Duration::from_secs(10);

/// Why an L2 operation did not produce a value.
#[derive(Debug, thiserror::Error)]
pub(crate) enum L2Error {
    /// The level is in its cool-down after repeated failures.
    #[error("skipped during cool-down")]
    Skipped,
    /// The operation did not finish within the timeout.
    #[error("timed out")]
    Timeout,
    /// Redis answered with an error or the connection failed.
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
}

/// One operation: a command, or several single-key commands sent concurrently (never one
/// multi-key command: a cluster refuses keys of different slots in one command or pipeline).
pub(crate) enum Op<'a> {
    Cmd(&'a redis::Cmd),
    Each(&'a [redis::Cmd]),
}

pub(crate) struct L2 {
    pub(crate) client: RedisClient,
    timeout: Duration,
    failure_threshold: u32,
    cooldown: Duration,
    failures: AtomicU32,
    /// Nanoseconds since `base` until which operations are skipped; 0 = not skipping.
    skip_until: AtomicU64,
    base: Instant,
    last_log: AtomicU64,
    suppressed: AtomicU64,
}

/// Settings of the Redis level.
pub(crate) struct L2Settings {
    pub redis: RedisConfig,
    pub timeout: Duration,
    pub failure_threshold: u32,
    pub cooldown: Duration,
}

impl L2 {
    /// Lazy: nothing connects until the first operation, so a service starts while Redis is
    /// down.
    pub(crate) fn new(s: L2Settings) -> Result<Self, String> {
        let client = RedisClient::new(&s.redis, s.timeout).map_err(|e| e.to_string())?;
        Ok(Self {
            client,
            timeout: s.timeout,
            failure_threshold: s.failure_threshold.max(1),
            cooldown: s.cooldown,
            failures: AtomicU32::new(0),
            skip_until: AtomicU64::new(0),
            base: Instant::now(),
            last_log: AtomicU64::new(0),
            suppressed: AtomicU64::new(0),
        })
    }

    fn now(&self) -> u64 {
        // +1 so that 0 can mean "not skipping".
        u64::try_from(self.base.elapsed().as_nanos()).unwrap_or(u64::MAX - 1) + 1
    }

    fn nanos(d: Duration) -> u64 {
        u64::try_from(d.as_nanos()).unwrap_or(u64::MAX / 2)
    }

    /// Whether the level is currently being skipped.
    pub(crate) fn in_cooldown(&self) -> bool {
        let until = self.skip_until.load(Ordering::Acquire);
        until != 0 && self.now() < until
    }

    /// Whether this operation may touch Redis.
    fn admit(&self) -> bool {
        let until = self.skip_until.load(Ordering::Acquire);
        if until == 0 {
            return true;
        }
        let now = self.now();
        if now < until {
            return false;
        }
        // Cool-down over: the one caller that wins this exchange probes; the others keep
        // skipping until the probe's outcome is known.
        self.skip_until
            .compare_exchange(
                until,
                now + Self::nanos(self.cooldown),
                Ordering::AcqRel,
                Ordering::Acquire,
            )
            .is_ok()
    }

    /// Runs `op` with the timeout and the failure bookkeeping. `what` names the operation in logs.
    pub(crate) async fn exec<R: FromRedisValue>(
        &self,
        what: &'static str,
        op: Op<'_>,
    ) -> Result<R, L2Error> {
        if !self.admit() {
            return Err(L2Error::Skipped);
        }
        let fut = async {
            let r = match op {
                Op::Cmd(c) => self.client.exec::<R>(c).await,
                Op::Each(cmds) => match self.client.exec_all(cmds).await {
                    Ok(values) => R::from_owned_redis_value(Value::Array(values)),
                    Err(e) => Err(e),
                },
            };
            r.map_err(L2Error::from)
        };
        let result = match tokio::time::timeout(self.timeout, fut).await {
            Ok(r) => r,
            Err(_) => Err(L2Error::Timeout),
        };
        match &result {
            Ok(_) => self.on_success(),
            Err(e) => self.on_failure(what, e),
        }
        result
    }

    fn on_success(&self) {
        if self.failures.load(Ordering::Relaxed) != 0 {
            self.failures.store(0, Ordering::Relaxed);
        }
        if self.skip_until.load(Ordering::Relaxed) != 0 {
            self.skip_until.store(0, Ordering::Release);
            tracing::info!("redis cache level recovered");
        }
    }

    fn on_failure(&self, what: &'static str, e: &L2Error) {
        let n = self.failures.fetch_add(1, Ordering::AcqRel) + 1;
        if n >= self.failure_threshold {
            let until = self.now() + Self::nanos(self.cooldown);
            let was = self.skip_until.swap(until, Ordering::AcqRel);
            if was == 0 {
                tracing::warn!(
                    failures = n,
                    cooldown_ms = u64::try_from(self.cooldown.as_millis()).unwrap_or(u64::MAX),
                    "redis cache level disabled for a cool-down; serving from L1"
                );
            }
        }
        self.log_rate_limited(what, e);
    }

    /// Logs `e` unless a line was logged less than `LOG_EVERY` ago.
    pub(crate) fn log_rate_limited(&self, what: &'static str, e: &dyn std::fmt::Display) {
        let now = self.now();
        let last = self.last_log.load(Ordering::Relaxed);
        if last != 0 && now.saturating_sub(last) < Self::nanos(LOG_EVERY) {
            self.suppressed.fetch_add(1, Ordering::Relaxed);
            return;
        }
        if self
            .last_log
            .compare_exchange(last, now, Ordering::AcqRel, Ordering::Relaxed)
            .is_ok()
        {
            let suppressed = self.suppressed.swap(0, Ordering::Relaxed);
            tracing::warn!(operation = what, error = %e, suppressed, "redis cache operation failed; degrading to L1");
        } else {
            self.suppressed.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// `PING` for readiness (bypasses the cool-down so the report is current).
    pub(crate) async fn ping(&self) -> Result<(), L2Error> {
        let fut = async { self.client.ping().await.map_err(L2Error::from) };
        match tokio::time::timeout(self.timeout.max(Duration::from_millis(500)), fut).await {
            Ok(r) => r,
            Err(_) => Err(L2Error::Timeout),
        }
    }
}
