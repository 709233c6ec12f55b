//! Typed cache keys and key families.
//!
//! A [`CacheKey<T>`] names one cached value of type `T` in one [`Family`]. The family fixes the
//! Redis TTL, whether a stale copy is kept, and the `cache` metric label; the type parameter makes
//! the compiler check that a key is always read as the type it was written with.
//!
//! Redis key layout (docs/api.md §3.5, with a namespace and a schema version in front):
//! `{prefix}:v1:{family}:{id}` for the fresh value, `{prefix}:v1:{family}:stale:{id}` for the stale
//! copy, `{prefix}:v1:{family}:neg:{id}` for a negative entry, e.g. `pb:v1:bill:01012345678:202509`,
//! `pb:v1:bill:stale:01012345678:202509`, `pb:v1:bill:months:01012345678`. The prefix (default
//! `pb`) isolates tests and environments sharing a Redis; [`SCHEMA_VERSION`] is bumped whenever a
//! cached value's JSON layout changes, so a rolling deployment never reads the other version's
//! values.

use std::fmt;
use std::marker::PhantomData;
use std::time::Duration;

/// The version segment of every key. Bump it when a cached type's JSON layout changes.
pub const SCHEMA_VERSION: &str = "v1";

/// A family of keys sharing a TTL policy and a metric label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Family {
    /// `bill:{line}:{YYYYMM}`: a bill inquiry result (L2 1 h).
    Bill,
    /// `bill:months:{line}`: the months a line has bills for (L2 1 h).
    BillMonths,
    /// `product:customer:{line}`: a line's customer and current product (L2 4 h).
    ProductCustomer,
    /// `product:list`: the product catalogue (L2 4 h).
    ProductList,
    /// `token:{id}`: verified tokens (L2 30 min, the seed's session TTL).
    Token,
    /// `session:{id}`: user sessions (L2 30 min).
    Session,
    /// `static:{id}`: static content (L2 24 h).
    Static,
}

impl Family {
    /// Every family.
    pub const ALL: [Family; 7] = [
        Family::Bill,
        Family::BillMonths,
        Family::ProductCustomer,
        Family::ProductList,
        Family::Token,
        Family::Session,
        Family::Static,
    ];

    /// The `cache` metric label (docs/api.md §6).
    pub fn label(self) -> &'static str {
        match self {
            Self::Bill => "bill",
            Self::BillMonths => "bill_months",
            Self::ProductCustomer => "product_customer",
            Self::ProductList => "product_list",
            Self::Token => "token",
            Self::Session => "session",
            Self::Static => "static",
        }
    }

    /// The family's segment in a Redis key (docs/api.md §3.5 spelling).
    pub fn segment(self) -> &'static str {
        match self {
            Self::Bill => "bill",
            Self::BillMonths => "bill:months",
            Self::ProductCustomer => "product:customer",
            Self::ProductList => "product:list",
            Self::Token => "token",
            Self::Session => "session",
            Self::Static => "static",
        }
    }

    /// The `CACHE_TTL_<NAME>_SECONDS` override variable's `<NAME>`.
    pub fn env_name(self) -> &'static str {
        match self {
            Self::Bill => "BILL",
            Self::BillMonths => "BILL_MONTHS",
            Self::ProductCustomer => "PRODUCT_CUSTOMER",
            Self::ProductList => "PRODUCT_LIST",
            Self::Token => "TOKEN",
            Self::Session => "SESSION",
            Self::Static => "STATIC",
        }
    }

    /// Default Redis TTL of a fresh value (seed 5.2.2: session 30 min, bill 1 h, product 4 h,
    /// static 24 h).
    pub fn default_l2_ttl(self) -> Duration {
        const MIN: u64 = 60;
        Duration::from_secs(match self {
            Self::Token | Self::Session => 30 * MIN,
            Self::Bill | Self::BillMonths => 60 * MIN,
            Self::ProductCustomer | Self::ProductList => 4 * 60 * MIN,
            Self::Static => 24 * 60 * MIN,
        })
    }

    /// Whether a stale copy is kept after the fresh TTL (docs/api.md §3.4: data KOS serves; never for
    /// sessions or tokens, whose expiry is a security rule).
    pub fn keeps_stale(self) -> bool {
        matches!(
            self,
            Self::Bill | Self::BillMonths | Self::ProductCustomer | Self::ProductList
        )
    }

    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// The key of one cached value of type `T`.
pub struct CacheKey<T> {
    family: Family,
    id: String,
    _value: PhantomData<fn() -> T>,
}

impl<T> CacheKey<T> {
    /// A key in `family` whose id is `parts` joined by `:` (e.g. `["01012345678", "202509"]`).
    /// Parts must not contain `:` themselves (callers pass normalised line numbers and months).
    pub fn new(family: Family, parts: &[&str]) -> Self {
        Self {
            family,
            id: parts.join(":"),
            _value: PhantomData,
        }
    }

    /// The family.
    pub fn family(&self) -> Family {
        self.family
    }

    /// The id part (after the family).
    pub fn id(&self) -> &str {
        &self.id
    }

    pub(crate) fn render(&self, prefix: &str, kind: Option<&str>) -> String {
        let mut s =
            String::with_capacity(prefix.len() + self.family.segment().len() + self.id.len() + 16);
        s.push_str(prefix);
        s.push(':');
        s.push_str(SCHEMA_VERSION);
        s.push(':');
        s.push_str(self.family.segment());
        if let Some(kind) = kind {
            s.push(':');
            s.push_str(kind);
        }
        if !self.id.is_empty() {
            s.push(':');
            s.push_str(&self.id);
        }
        s
    }
}

impl<T> Clone for CacheKey<T> {
    fn clone(&self) -> Self {
        Self {
            family: self.family,
            id: self.id.clone(),
            _value: PhantomData,
        }
    }
}

impl<T> fmt::Debug for CacheKey<T> {
    // The id may hold a line number: show only the family.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CacheKey({}:…)", self.family.segment())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_the_spec_layout() {
        let k: CacheKey<()> = CacheKey::new(Family::Bill, &["01012345678", "202509"]);
        assert_eq!(k.render("pb", None), "pb:v1:bill:01012345678:202509");
        assert_eq!(
            k.render("pb", Some("stale")),
            "pb:v1:bill:stale:01012345678:202509"
        );
        assert_eq!(
            k.render("pb", Some("neg")),
            "pb:v1:bill:neg:01012345678:202509"
        );
        let m: CacheKey<()> = CacheKey::new(Family::BillMonths, &["01012345678"]);
        assert_eq!(m.render("t1", None), "t1:v1:bill:months:01012345678");
        let l: CacheKey<()> = CacheKey::new(Family::ProductList, &[]);
        assert_eq!(l.render("pb", None), "pb:v1:product:list");
        assert!(!format!("{k:?}").contains("5678"));
    }

    #[test]
    fn default_ttls_follow_the_seed() {
        assert_eq!(Family::Session.default_l2_ttl(), Duration::from_secs(1800));
        assert_eq!(Family::Bill.default_l2_ttl(), Duration::from_secs(3600));
        assert_eq!(
            Family::ProductCustomer.default_l2_ttl(),
            Duration::from_secs(4 * 3600)
        );
        assert_eq!(Family::Static.default_l2_ttl(), Duration::from_secs(86_400));
        for (i, f) in Family::ALL.iter().enumerate() {
            assert_eq!(f.index(), i);
        }
    }
}
