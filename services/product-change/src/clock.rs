//! Where the service reads "now" from, injected into [`crate::service::ProductService`] so time
//! rules (due times, the give-up age, key expiry) can be driven without waiting. The same seam
//! as the other services' clocks, kept to one trait method so folding the workspace's clocks into
//! one (in `phonebill_common`) is a change of import.

use std::sync::Arc;

use chrono::{DateTime, Utc};

/// Where "now" comes from.
pub trait Clock: Send + Sync + 'static {
    /// The current instant.
    fn now(&self) -> DateTime<Utc>;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A shared clock.
pub type DynClock = Arc<dyn Clock>;
