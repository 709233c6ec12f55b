//! [`Prerendered`]: a shared value that is serialised to JSON at most once.
//!
//! A cached bill is sent to many clients; serialising its ~30 fields (and escaping its Korean
//! text) on every cache hit was the largest single cost of the hit path after the history row
//! (callgrind, docs/benchmarks.md). A `Prerendered<T>` keeps the value behind an `Arc` (cloning
//! it is a reference count, not a deep copy) together with its JSON text, computed on first
//! serialisation and spliced in verbatim afterwards. Serialising to JSON gives exactly what
//! serialising `T` gives (compact form); deserialising is `T`'s.

use std::fmt;
use std::ops::Deref;
use std::sync::{Arc, OnceLock};

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::value::RawValue;

/// A shared, immutable `T` with its JSON text memoised.
pub struct Prerendered<T>(Arc<Inner<T>>);

struct Inner<T> {
    value: T,
    /// `None` inside once rendering failed (then `T` is serialised each time, and fails again).
    json: OnceLock<Option<Box<RawValue>>>,
}

impl<T> Prerendered<T> {
    /// Wraps `value`; nothing is rendered until the first serialisation.
    pub fn new(value: T) -> Self {
        Self(Arc::new(Inner {
            value,
            json: OnceLock::new(),
        }))
    }
}

impl<T: Serialize> Prerendered<T> {
    /// The JSON text of the value (rendered on first use).
    pub fn json(&self) -> Option<&RawValue> {
        self.0
            .json
            .get_or_init(|| serde_json::value::to_raw_value(&self.0.value).ok())
            .as_deref()
    }
}

impl<T> Deref for Prerendered<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0.value
    }
}

impl<T> Clone for Prerendered<T> {
    fn clone(&self) -> Self {
        Self(Arc::clone(&self.0))
    }
}

impl<T: fmt::Debug> fmt::Debug for Prerendered<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.value.fmt(f)
    }
}

impl<T: PartialEq> PartialEq for Prerendered<T> {
    fn eq(&self, other: &Self) -> bool {
        self.0.value == other.0.value
    }
}

impl<T: Eq> Eq for Prerendered<T> {}

impl<T: Serialize> Serialize for Prerendered<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.json() {
            Some(raw) => raw.serialize(serializer),
            None => self.0.value.serialize(serializer),
        }
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Prerendered<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        T::deserialize(deserializer).map(Self::new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Bill {
        product_name: String,
        total_fee: i64,
        note: Option<String>,
    }

    fn bill() -> Bill {
        Bill {
            product_name: "5G 스탠다드 \"플랜\"\n".into(),
            total_fee: 81_340,
            note: None,
        }
    }

    #[test]
    fn renders_exactly_what_the_value_renders_every_time() {
        let p = Prerendered::new(bill());
        let plain = serde_json::to_string(&bill()).unwrap();
        assert_eq!(serde_json::to_string(&p).unwrap(), plain);
        // Second time from the memo; inside another structure and through `Value` too.
        assert_eq!(serde_json::to_string(&p).unwrap(), plain);
        #[derive(Serialize)]
        struct Outer<'a> {
            b: &'a Prerendered<Bill>,
            n: i32,
        }
        let wrapped = serde_json::to_string(&Outer { b: &p, n: 1 }).unwrap();
        assert_eq!(wrapped, format!("{{\"b\":{plain},\"n\":1}}"));
        assert_eq!(
            serde_json::to_value(&p).unwrap(),
            serde_json::to_value(bill()).unwrap()
        );
    }

    #[test]
    fn round_trips_and_shares_on_clone() {
        let p = Prerendered::new(bill());
        let back: Prerendered<Bill> =
            serde_json::from_str(&serde_json::to_string(&p).unwrap()).unwrap();
        assert_eq!(back, p);
        assert_eq!(back.total_fee, 81_340);
        let c = p.clone();
        assert!(Arc::ptr_eq(&p.0, &c.0), "a clone shares the value");
    }
}
