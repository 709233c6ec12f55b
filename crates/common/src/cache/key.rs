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

/// A family of keys sharing a TTL policy and a metric label. A service defines its families as
/// constants (bill-inquiry's `cache` module, product-change's `cache` module; a family two
/// services share lives in [`crate::contract`]); this crate only applies them.
///
/// ```
/// use std::time::Duration;
/// use phonebill_common::cache::Family;
///
/// const MONTHS: Family =
///     Family::new("bill_months", "bill:months", "BILL_MONTHS", Duration::from_secs(3600))
///         .keeping_stale();
/// assert_eq!(MONTHS.segment(), "bill:months");
/// assert!(MONTHS.keeps_stale());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Family {
    label: &'static str,
    segment: &'static str,
    env_name: &'static str,
    default_l2_ttl: Duration,
    keeps_stale: bool,
}

impl Family {
    /// A family without a stale copy: `label` is the `cache` metric label (docs/api.md §6),
    /// `segment` its part of the Redis key (docs/api.md §3.5 spelling, may hold `:`), `env_name`
    /// the `<NAME>` of its `CACHE_TTL_<NAME>_SECONDS` override, `default_l2_ttl` the Redis TTL of
    /// a fresh value. The label must be unique among the families of a process: the metrics and
    /// the configuration are keyed by it.
    pub const fn new(
        label: &'static str,
        segment: &'static str,
        env_name: &'static str,
        default_l2_ttl: Duration,
    ) -> Self {
        Self {
            label,
            segment,
            env_name,
            default_l2_ttl,
            keeps_stale: false,
        }
    }

    /// The same family keeping a stale copy after the fresh TTL (docs/api.md §3.4: for data KOS
    /// serves; never for sessions or tokens, whose expiry is a security rule).
    #[must_use]
    pub const fn keeping_stale(mut self) -> Self {
        self.keeps_stale = true;
        self
    }

    /// The `cache` metric label (docs/api.md §6).
    pub const fn label(self) -> &'static str {
        self.label
    }

    /// The family's segment in a Redis key (docs/api.md §3.5 spelling).
    pub const fn segment(self) -> &'static str {
        self.segment
    }

    /// The `CACHE_TTL_<NAME>_SECONDS` override variable's `<NAME>`.
    pub const fn env_name(self) -> &'static str {
        self.env_name
    }

    /// Default Redis TTL of a fresh value.
    pub const fn default_l2_ttl(self) -> Duration {
        self.default_l2_ttl
    }

    /// Whether a stale copy is kept after the fresh TTL.
    pub const fn keeps_stale(self) -> bool {
        self.keeps_stale
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

    const BILL: Family =
        Family::new("bill", "bill", "BILL", Duration::from_secs(3600)).keeping_stale();
    const MONTHS: Family = Family::new(
        "bill_months",
        "bill:months",
        "BILL_MONTHS",
        Duration::from_secs(3600),
    );
    const LIST: Family = Family::new(
        "product_list",
        "product:list",
        "PRODUCT_LIST",
        Duration::from_secs(3600),
    );

    #[test]
    fn renders_the_spec_layout() {
        let k: CacheKey<()> = CacheKey::new(BILL, &["01012345678", "202509"]);
        assert_eq!(k.render("pb", None), "pb:v1:bill:01012345678:202509");
        assert_eq!(
            k.render("pb", Some("stale")),
            "pb:v1:bill:stale:01012345678:202509"
        );
        assert_eq!(
            k.render("pb", Some("neg")),
            "pb:v1:bill:neg:01012345678:202509"
        );
        let m: CacheKey<()> = CacheKey::new(MONTHS, &["01012345678"]);
        assert_eq!(m.render("t1", None), "t1:v1:bill:months:01012345678");
        let l: CacheKey<()> = CacheKey::new(LIST, &[]);
        assert_eq!(l.render("pb", None), "pb:v1:product:list");
        assert!(!format!("{k:?}").contains("5678"));
    }

    #[test]
    fn a_family_is_what_its_constant_says() {
        assert_eq!(BILL.label(), "bill");
        assert_eq!(BILL.env_name(), "BILL");
        assert_eq!(BILL.default_l2_ttl(), Duration::from_secs(3600));
        assert!(BILL.keeps_stale());
        assert!(!MONTHS.keeps_stale());
        assert_eq!(MONTHS.to_string(), "bill_months");
        assert_ne!(BILL, MONTHS);
    }
}
