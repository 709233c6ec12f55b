//! Bill-inquiry's cache key families (docs/api.md §3.5): the bill itself, whose definition
//! product-change shares through [`phonebill_common::contract::bill_cache`] because it clears it
//! after a product change, and the months a line has bills for, which only this service uses.
//! The TTLs are the seed's (5.2.2: bill data 1 h); `CACHE_TTL_BILL_SECONDS` and
//! `CACHE_TTL_BILL_MONTHS_SECONDS` override them.

use std::time::Duration;

use phonebill_common::cache::Family;
use phonebill_common::contract::bill_cache;

/// `bill:{line}:{YYYYMM}`: a bill inquiry result (the shared contract's family).
pub const BILL: Family = bill_cache::FAMILY;

/// `bill:months:{line}`: the months a line has bills for (L2 1 h, stale copy kept).
pub const BILL_MONTHS: Family = Family::new(
    "bill_months",
    "bill:months",
    "BILL_MONTHS",
    Duration::from_secs(3600),
)
.keeping_stale();

/// Every family this service caches in (its configuration reads their TTL overrides).
pub const FAMILIES: &[Family] = &[BILL, BILL_MONTHS];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttls_and_labels_follow_the_seed() {
        assert_eq!(BILL.default_l2_ttl(), Duration::from_secs(3600));
        assert_eq!(BILL_MONTHS.default_l2_ttl(), Duration::from_secs(3600));
        assert!(BILL.keeps_stale() && BILL_MONTHS.keeps_stale());
        assert_eq!(BILL_MONTHS.label(), "bill_months");
        assert_eq!(BILL_MONTHS.env_name(), "BILL_MONTHS");
    }
}
