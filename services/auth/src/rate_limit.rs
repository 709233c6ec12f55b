//! Per-IP rate limit on login and register (docs/api.md §1.12: 20 requests/minute,
//! `429 RATE_LIMITED` with `Retry-After`), in fixed one-minute windows.
//!
//! With Redis configured, the count is one per deployment: every auth replica increments the
//! same key (`{REDIS_KEY_PREFIX}auth:rl:<ip>:<minute>`, one key, so a Redis Cluster takes it),
//! so a client spreading its guesses over the replicas behind the ingress gets the limit once,
//! not once per replica. Without Redis, or while Redis does not answer, each instance counts in
//! memory: the limit is then per instance (never fails open entirely, never fails a login).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use phonebill_common::error::{ApiError, ErrorCode};
use phonebill_common::redis_conn::RedisClient;

const WINDOW: Duration = Duration::from_secs(60);

/// The limiter. `limit == 0` disables it.
#[derive(Debug)]
pub struct RateLimiter {
    limit: u32,
    windows: Mutex<HashMap<IpAddr, (Instant, u32)>>,
    shared: Option<(RedisClient, String)>,
}

impl RateLimiter {
    /// At most `limit` requests per minute per address, counted in this instance.
    pub fn new(limit: u32) -> Self {
        Self {
            limit,
            windows: Mutex::new(HashMap::new()),
            shared: None,
        }
    }

    /// The same, counted across every instance through `redis` (keys under `prefix`).
    pub fn shared(limit: u32, redis: RedisClient, prefix: String) -> Self {
        Self {
            shared: Some((redis, prefix)),
            ..Self::new(limit)
        }
    }

    /// Counts a request from `ip`; `429 RATE_LIMITED` with `Retry-After` over the limit.
    pub async fn check(&self, ip: IpAddr) -> Result<(), ApiError> {
        if self.limit == 0 {
            return Ok(());
        }
        if let Some((redis, prefix)) = &self.shared {
            let now = chrono::Utc::now().timestamp();
            let minute = now.div_euclid(60);
            let key = format!("{prefix}auth:rl:{ip}:{minute}");
            match redis.exec::<u64>(redis::cmd("INCR").arg(&key)).await {
                Ok(count) => {
                    if count == 1 {
                        // The window's key outlives its minute a little, then goes.
                        let _ = redis
                            .exec::<i64>(redis::cmd("EXPIRE").arg(&key).arg(120))
                            .await;
                    }
                    if count > u64::from(self.limit) {
                        let left = 60 - now.rem_euclid(60);
                        return Err(ApiError::new(ErrorCode::RateLimited)
                            .retry_after(u64::try_from(left).unwrap_or(60).max(1)));
                    }
                    return Ok(());
                }
                Err(e) => {
                    tracing::warn!(error = %e, "shared login limit unavailable; counting in this instance");
                }
            }
        }
        self.check_local(ip)
    }

    fn check_local(&self, ip: IpAddr) -> Result<(), ApiError> {
        let now = Instant::now();
        let mut map = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() > 100_000 {
            map.retain(|_, (start, _)| now.duration_since(*start) < WINDOW);
        }
        let entry = map.entry(ip).or_insert((now, 0));
        if now.duration_since(entry.0) >= WINDOW {
            *entry = (now, 0);
        }
        entry.1 += 1;
        if entry.1 > self.limit {
            let left = WINDOW.saturating_sub(now.duration_since(entry.0));
            return Err(ApiError::new(ErrorCode::RateLimited).retry_after(left.as_secs().max(1)));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn limits_per_address() {
        let l = RateLimiter::new(2);
        let a: IpAddr = [10, 0, 0, 1].into();
        let b: IpAddr = [10, 0, 0, 2].into();
        assert!(l.check(a).await.is_ok());
        assert!(l.check(a).await.is_ok());
        let e = l.check(a).await.expect_err("limited");
        assert_eq!(e.code(), ErrorCode::RateLimited);
        assert!(l.check(b).await.is_ok());
        assert!(RateLimiter::new(0).check(a).await.is_ok());
    }
}
