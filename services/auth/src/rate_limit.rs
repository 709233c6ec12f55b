//! Per-IP rate limit on login and register (SPEC 1.12: 20 requests/minute, `429 RATE_LIMITED`
//! with `Retry-After`). A fixed one-minute window per address, held in memory per instance.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use phonebill_common::error::{ApiError, ErrorCode};

const WINDOW: Duration = Duration::from_secs(60);

/// The limiter. `limit == 0` disables it.
#[derive(Debug)]
pub struct RateLimiter {
    limit: u32,
    windows: Mutex<HashMap<IpAddr, (Instant, u32)>>,
}

impl RateLimiter {
    /// At most `limit` requests per minute per address.
    pub fn new(limit: u32) -> Self {
        Self {
            limit,
            windows: Mutex::new(HashMap::new()),
        }
    }

    /// Counts a request from `ip`; `429 RATE_LIMITED` with `Retry-After` over the limit.
    pub fn check(&self, ip: IpAddr) -> Result<(), ApiError> {
        if self.limit == 0 {
            return Ok(());
        }
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

    #[test]
    fn limits_per_address() {
        let l = RateLimiter::new(2);
        let a: IpAddr = [10, 0, 0, 1].into();
        let b: IpAddr = [10, 0, 0, 2].into();
        assert!(l.check(a).is_ok());
        assert!(l.check(a).is_ok());
        let e = l.check(a).expect_err("limited");
        assert_eq!(e.code(), ErrorCode::RateLimited);
        assert!(l.check(b).is_ok());
        assert!(RateLimiter::new(0).check(a).is_ok());
    }
}
