//! Throttles failed credential attempts per client address (docs/security.md, issue 17
//! finding 4): after [`MAX_FAILURES`] refused credentials in a minute, every further attempt
//! from that address, right or wrong, is answered `429 9429` until the minute is over. This is
//! independent of `KOS_RATE_LIMIT_ENABLED` (which only shapes traffic): it is what keeps the
//! service key from being guessed through `POST /api/kos/auth` or any gated endpoint.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Refused credentials per address and minute before the address is blocked.
pub const MAX_FAILURES: u32 = 20;
const WINDOW: Duration = Duration::from_secs(60);
/// Addresses tracked before finished windows are forgotten.
const MAX_TRACKED: usize = 10_000;

/// Per-address failure counter.
#[derive(Debug, Default)]
pub struct GuessThrottle {
    windows: Mutex<HashMap<IpAddr, (Instant, u32)>>,
}

impl GuessThrottle {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<IpAddr, (Instant, u32)>> {
        self.windows
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// `Err(retry_after_seconds)` while `ip` is blocked.
    pub fn check(&self, ip: IpAddr) -> Result<(), u64> {
        let now = Instant::now();
        let map = self.lock();
        match map.get(&ip) {
            Some((start, n)) if *n >= MAX_FAILURES && now.duration_since(*start) < WINDOW => {
                Err(WINDOW
                    .saturating_sub(now.duration_since(*start))
                    .as_secs()
                    .max(1))
            }
            _ => Ok(()),
        }
    }

    /// Counts a refused credential from `ip`.
    pub fn fail(&self, ip: IpAddr) {
        let now = Instant::now();
        let mut map = self.lock();
        if map.len() > MAX_TRACKED {
            map.retain(|_, (start, _)| now.duration_since(*start) < WINDOW);
        }
        let e = map.entry(ip).or_insert((now, 0));
        if now.duration_since(e.0) >= WINDOW {
            *e = (now, 0);
        }
        e.1 = e.1.saturating_add(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_after_the_limit_per_address() {
        let t = GuessThrottle::default();
        let a: IpAddr = [10, 0, 0, 1].into();
        let b: IpAddr = [10, 0, 0, 2].into();
        for _ in 0..MAX_FAILURES {
            assert!(t.check(a).is_ok());
            t.fail(a);
        }
        assert!(t.check(a).is_err());
        assert!(t.check(b).is_ok());
    }
}
