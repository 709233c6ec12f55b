//! Bill-inquiry's cached bill, as product-change sees it: a completed product change clears the
//! line's current-month bill (docs/api.md §3.5), so both services build the key from this one
//! definition. Owner: bill-inquiry (it writes and reads the entry); product-change only
//! invalidates it.
//!
//! Key: `{prefix}:v1:bill:{line}:{YYYYMM}` (stale copy `bill:stale:…`), Redis TTL 1 h
//! (`CACHE_TTL_BILL_SECONDS`), metric label `cache="bill"`.

use std::time::Duration;

use crate::cache::{CacheKey, Family};

/// `bill:{line}:{YYYYMM}`: a bill inquiry result (L2 1 h, seed 5.2.2), with a stale copy served
/// while KOS is down (docs/api.md §3.4).
pub const FAMILY: Family =
    Family::new("bill", "bill", "BILL", Duration::from_secs(3600)).keeping_stale();

/// The key of `line`'s bill for `month` (`YYYYMM`). `line` is the normalised 11-digit number
/// (no `-`), as both services hold it. `T` is the cached type: bill-inquiry's result; a caller
/// that only invalidates may use any type.
pub fn key<T>(line: &str, month: &str) -> CacheKey<T> {
    CacheKey::new(FAMILY, &[line, month])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_and_family_are_the_documented_ones() {
        let k: CacheKey<()> = key("01012345678", "202509");
        assert_eq!(k.family(), FAMILY);
        assert_eq!(k.id(), "01012345678:202509");
        assert_eq!(FAMILY.label(), "bill");
        assert_eq!(FAMILY.segment(), "bill");
        assert_eq!(FAMILY.env_name(), "BILL");
        assert_eq!(FAMILY.default_l2_ttl(), Duration::from_secs(3600));
        assert!(FAMILY.keeps_stale());
    }
}
