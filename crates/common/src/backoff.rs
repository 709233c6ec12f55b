//! Capped exponential backoff: the delay between retries of something that keeps failing (a Redis
//! subscription, migrations against a database that is not up yet, the history writer's commits,
//! the KOS mock's seeding).
//!
//! The first delay is `min`; each [`Backoff::next`] doubles it up to `max`; [`Backoff::reset`]
//! (after a success) starts again at `min`. With a jitter `j`, each delay returned is the plain
//! one times a factor drawn uniformly from `[1 - j, 1 + j)`, so instances that lost the same
//! server do not all come back at the same instant; the doubling itself is not jittered.

use std::time::Duration;

/// One retry loop's delays.
#[derive(Debug, Clone)]
pub struct Backoff {
    min: Duration,
    max: Duration,
    jitter: f64,
    current: Duration,
}

impl Backoff {
    /// Delays from `min`, doubling, capped at `max`, without jitter. A `max` below `min` is
    /// honoured after the first delay (`min`, then `max`), as the hand-written loops did.
    pub fn new(min: Duration, max: Duration) -> Self {
        Self {
            min,
            max,
            jitter: 0.0,
            current: min,
        }
    }

    /// The same delays, each scaled by a random factor in `[1 - jitter, 1 + jitter)`; `jitter` is
    /// clamped to `0..=1`.
    #[must_use]
    pub fn with_jitter(mut self, jitter: f64) -> Self {
        self.jitter = if jitter.is_finite() {
            jitter.clamp(0.0, 1.0)
        } else {
            0.0
        };
        self
    }

    /// The delay to wait now (jittered); the one after it doubles, up to `max`.
    #[expect(
        clippy::should_implement_trait,
        reason = "an endless sequence of delays, not an iterator that may end"
    )]
    pub fn next(&mut self) -> Duration {
        let wait = if self.jitter > 0.0 {
            let factor = 1.0 - self.jitter + 2.0 * self.jitter * rand::random::<f64>();
            self.current.mul_f64(factor)
        } else {
            self.current
        };
        self.current = self.current.saturating_mul(2).min(self.max);
        wait
    }

    /// The plain (unjittered) delay that [`Self::next`] will return next, without advancing.
    pub fn current(&self) -> Duration {
        self.current
    }

    /// Back to `min`, after a success.
    pub fn reset(&mut self) {
        self.current = self.min;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn doubles_from_min_and_caps_at_max() {
        let mut b = Backoff::new(100 * MS, 1000 * MS);
        let seen: Vec<_> = (0..7).map(|_| b.next()).collect();
        assert_eq!(seen, [100, 200, 400, 800, 1000, 1000, 1000].map(|n| n * MS));
        assert_eq!(b.current(), 1000 * MS);
    }

    #[test]
    fn reset_starts_again_at_min() {
        let mut b = Backoff::new(200 * MS, 10_000 * MS);
        b.next();
        b.next();
        assert_eq!(b.current(), 800 * MS);
        b.reset();
        assert_eq!(b.current(), 200 * MS);
        assert_eq!(b.next(), 200 * MS);
        assert_eq!(b.next(), 400 * MS);
    }

    #[test]
    fn current_does_not_advance() {
        let b = Backoff::new(5 * MS, 50 * MS);
        assert_eq!((b.current(), b.current()), (5 * MS, 5 * MS));
    }

    #[test]
    fn a_max_below_min_applies_after_the_first_delay_and_huge_delays_saturate() {
        let mut b = Backoff::new(300 * MS, 100 * MS);
        assert_eq!(
            (b.next(), b.next(), b.next()),
            (300 * MS, 100 * MS, 100 * MS)
        );
        let mut b = Backoff::new(Duration::MAX / 2 + MS, Duration::MAX);
        b.next();
        assert_eq!(b.next(), Duration::MAX);
    }

    #[test]
    fn jitter_stays_within_its_bounds_and_varies() {
        let mut b = Backoff::new(100 * MS, 400 * MS).with_jitter(0.25);
        let mut distinct = std::collections::BTreeSet::new();
        for round in 0..200 {
            if round % 3 == 0 {
                b.reset();
            }
            let plain = b.current();
            let got = b.next();
            assert!(
                got >= plain.mul_f64(0.75) && got < plain.mul_f64(1.25),
                "{got:?} outside ±25 % of {plain:?}"
            );
            distinct.insert(got);
        }
        assert!(distinct.len() > 10, "jitter varies: {distinct:?}");
        // The doubling is of the plain delay, not of the jittered one.
        let mut b = Backoff::new(100 * MS, 10_000 * MS).with_jitter(1.0);
        b.next();
        b.next();
        assert_eq!(b.current(), 400 * MS);
    }

    #[test]
    fn jitter_is_clamped() {
        let mut b = Backoff::new(100 * MS, 100 * MS).with_jitter(f64::NAN);
        assert_eq!(b.next(), 100 * MS);
        let mut b = Backoff::new(100 * MS, 100 * MS).with_jitter(-3.0);
        assert_eq!(b.next(), 100 * MS);
        let mut b = Backoff::new(100 * MS, 100 * MS).with_jitter(7.0);
        for _ in 0..50 {
            assert!(b.next() < 200 * MS);
        }
    }
}
