//! Product-change's cache key families (docs/api.md §3.5): a line's customer and current
//! product, and the product catalogue, both 4 h in Redis (seed 5.2.2), with stale copies served
//! while KOS is down. It also clears bill-inquiry's cached bill after a completed change; that
//! key comes from the shared [`phonebill_common::contract::bill_cache`], never built here.
//! `CACHE_TTL_PRODUCT_CUSTOMER_SECONDS` and `CACHE_TTL_PRODUCT_LIST_SECONDS` override the TTLs.

use std::time::Duration;

use phonebill_common::cache::Family;
use phonebill_common::contract::bill_cache;

const FOUR_HOURS: Duration = Duration::from_secs(4 * 3600);

/// `product:customer:{line}`: a line's customer and current product.
pub const PRODUCT_CUSTOMER: Family = Family::new(
    "product_customer",
    "product:customer",
    "PRODUCT_CUSTOMER",
    FOUR_HOURS,
)
.keeping_stale();

/// `product:list`: the product catalogue.
pub const PRODUCT_LIST: Family =
    Family::new("product_list", "product:list", "PRODUCT_LIST", FOUR_HOURS).keeping_stale();

/// Every family this service touches: its own two and the bill family it invalidates.
pub const FAMILIES: &[Family] = &[PRODUCT_CUSTOMER, PRODUCT_LIST, bill_cache::FAMILY];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttls_and_labels_follow_the_seed() {
        assert_eq!(
            PRODUCT_CUSTOMER.default_l2_ttl(),
            Duration::from_secs(4 * 3600)
        );
        assert_eq!(PRODUCT_LIST.default_l2_ttl(), Duration::from_secs(4 * 3600));
        assert!(PRODUCT_CUSTOMER.keeps_stale() && PRODUCT_LIST.keeps_stale());
        assert_eq!(PRODUCT_CUSTOMER.segment(), "product:customer");
        assert_eq!(PRODUCT_LIST.label(), "product_list");
    }
}
