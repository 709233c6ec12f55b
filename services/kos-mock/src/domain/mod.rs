//! The mock's business rules, free of I/O: the data model, deterministic bills (docs/api.md §5.5),
//! the product-change checks (docs/api.md §5.3.3), mock-data defaults (docs/api.md §5.6) and the demo data (5.4).

pub mod bills;
pub mod change;
pub mod model;
pub mod seed;

pub use model::{Line, NewLine, Product};

/// FNV-1a, 64 bit, over `bytes` (offset basis `0xcbf29ce484222325`, prime `0x100000001b3`).
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv_reference_values() {
        // Published FNV-1a 64 test vectors.
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a64(b"foobar"), 0x8594_4171_f739_67e8);
    }
}
