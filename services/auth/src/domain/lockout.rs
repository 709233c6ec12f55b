//! The lockout rule (docs/api.md §2.3): the `max`-th consecutive failure locks the account for the lock
//! window; while locked every login is refused; once the lock has expired the counter restarts.

use chrono::{DateTime, Utc};

/// An account's lock state at some instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockState {
    /// Not locked and no expired lock to clear.
    Open,
    /// Locked until the given instant.
    Locked(DateTime<Utc>),
    /// A lock that has expired: the counter must be reset before counting again.
    Expired,
}

/// The state of an account with `locked_until` at `now`.
pub fn lock_state(locked_until: Option<DateTime<Utc>>, now: DateTime<Utc>) -> LockState {
    match locked_until {
        None => LockState::Open,
        Some(t) if t > now => LockState::Locked(t),
        Some(_) => LockState::Expired,
    }
}

/// Whether the failure that brings the counter to `count` locks the account.
pub fn locks_at(count: u32, max: u32) -> bool {
    count >= max
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    #[test]
    fn states() {
        let now = Utc::now();
        assert_eq!(lock_state(None, now), LockState::Open);
        let later = now + Duration::minutes(30);
        assert_eq!(lock_state(Some(later), now), LockState::Locked(later));
        assert_eq!(lock_state(Some(now), now), LockState::Expired);
        assert!(!locks_at(4, 5));
        assert!(locks_at(5, 5));
    }
}
