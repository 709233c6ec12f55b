//! A process-local read-through cache of lines in front of a database store.
//!
//! Why: the bill inquiry is the mock's hot path and it reads one line per request. Through sqlx's
//! SQLite worker that read cost more than everything else together (14k req/s with it, 33k with
//! the in-memory store on the same machine), and the mock must never be the bottleneck of a
//! benchmark (issue 4). Products are already served from the in-memory catalogue.
//!
//! Exactness: every write the mock makes (product change, mock-data creation) goes through this
//! wrapper, which drops the affected line numbers after the write. A reader that missed and read
//! the database concurrently with a write could otherwise put the old row back; so readers note
//! the write epoch before reading and only fill the cache if no write finished in between.
//! Unknown line numbers are cached too (as absent), and mock-data creation drops them, so a line
//! created through this process is visible to the next inquiry.
//!
//! Scope: the cache is per process. An SQLite file has one owning process, so there it is exact.
//! With PostgreSQL several replicas may share one database and a change made through one replica
//! is not seen by another's cache: entries then live at most `KOS_LINE_CACHE_TTL_MS` (default
//! 1000 ms for PostgreSQL), which is fine for a mock. The cache is bounded: when it holds
//! [`MAX_ENTRIES`] lines it is emptied and refilled from the database.

use std::collections::HashMap;
use std::sync::{PoisonError, RwLock};
use std::time::{Duration, Instant};

use super::{ChangeRecord, DynStore, KosStore, RecordOutcome, StoreError, StoredChange};
use crate::domain::{Line, Product};

/// Most lines kept; bulk mock data can create far more, and unknown numbers are cached too.
pub const MAX_ENTRIES: usize = 200_000;

struct Entry {
    line: Option<Line>,
    at: Instant,
}

#[derive(Default)]
struct Inner {
    /// Bumped by every finished write; a fill started before a write is discarded.
    epoch: u64,
    lines: HashMap<String, Entry>,
}

/// The caching wrapper.
pub struct CachedStore {
    inner: DynStore,
    ttl: Option<Duration>,
    cache: RwLock<Inner>,
}

impl CachedStore {
    /// Wraps `inner`; entries expire after `ttl` (`None`: only writes through this process
    /// invalidate them).
    pub fn new(inner: DynStore, ttl: Option<Duration>) -> Self {
        Self {
            inner,
            ttl,
            cache: RwLock::new(Inner::default()),
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Inner> {
        self.cache.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Inner> {
        self.cache.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// Drops `keys` and bumps the epoch (after the write reached the database).
    fn invalidate<'a>(&self, keys: impl IntoIterator<Item = &'a str>) {
        let mut c = self.write();
        c.epoch += 1;
        for k in keys {
            c.lines.remove(k);
        }
    }
}

#[async_trait::async_trait]
impl KosStore for CachedStore {
    async fn seed(&self, products: &[Product], lines: &[Line]) -> Result<(), StoreError> {
        let r = self.inner.seed(products, lines).await;
        self.invalidate(lines.iter().map(|l| l.line_number.as_str()));
        r
    }

    async fn products(&self) -> Result<Vec<Product>, StoreError> {
        self.inner.products().await
    }

    async fn line(&self, line_number: &str) -> Result<Option<Line>, StoreError> {
        let epoch = {
            let c = self.read();
            if let Some(e) = c.lines.get(line_number)
                && self.ttl.is_none_or(|ttl| e.at.elapsed() < ttl)
            {
                return Ok(e.line.clone());
            }
            c.epoch
        };
        let line = self.inner.line(line_number).await?;
        let mut c = self.write();
        if c.epoch == epoch {
            if c.lines.len() >= MAX_ENTRIES {
                c.lines.clear();
            }
            c.lines.insert(
                line_number.to_owned(),
                Entry {
                    line: line.clone(),
                    at: Instant::now(),
                },
            );
        }
        Ok(line)
    }

    async fn change_request(&self, request_id: &str) -> Result<Option<StoredChange>, StoreError> {
        self.inner.change_request(request_id).await
    }

    async fn record_change(&self, rec: ChangeRecord) -> Result<RecordOutcome, StoreError> {
        let line = rec.update.as_ref().map(|u| u.line_number.clone());
        let r = self.inner.record_change(rec).await;
        // Also after a failure or `Stale`: the database may hold something the cache does not.
        self.invalidate(line.as_deref());
        r
    }

    async fn create_lines(&self, lines: &[Line]) -> Result<u64, StoreError> {
        let r = self.inner.create_lines(lines).await;
        self.invalidate(lines.iter().map(|l| l.line_number.as_str()));
        r
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::store::memory::MemoryStore;
    use crate::store::{ChangeRecord, ProductUpdate};

    fn line(n: &str, product: &str) -> Line {
        Line {
            line_number: n.to_owned(),
            customer_id: "C1".to_owned(),
            customer_name: "고객".to_owned(),
            operator_code: "KT".to_owned(),
            current_product_code: product.to_owned(),
            initial_product_code: product.to_owned(),
            line_status: "ACTIVE".to_owned(),
            contract_date: chrono::NaiveDate::from_ymd_opt(2024, 1, 1).unwrap(),
        }
    }

    #[tokio::test]
    async fn writes_through_the_wrapper_are_seen_by_the_next_read() {
        let inner: DynStore = Arc::new(MemoryStore::new());
        let s = CachedStore::new(inner.clone(), None);
        assert_eq!(s.line("01011112222").await.unwrap(), None);
        s.create_lines(&[line("01011112222", "A")]).await.unwrap();
        assert_eq!(
            s.line("01011112222")
                .await
                .unwrap()
                .unwrap()
                .current_product_code,
            "A"
        );
        let out = s
            .record_change(ChangeRecord {
                request_id: "r1".to_owned(),
                request_hash: "h".to_owned(),
                response: serde_json::Value::Null,
                update: Some(ProductUpdate {
                    line_number: "01011112222".to_owned(),
                    from: "A".to_owned(),
                    to: "B".to_owned(),
                }),
            })
            .await
            .unwrap();
        assert_eq!(out, RecordOutcome::Recorded);
        assert_eq!(
            s.line("01011112222")
                .await
                .unwrap()
                .unwrap()
                .current_product_code,
            "B"
        );
    }

    #[tokio::test]
    async fn without_ttl_a_foreign_write_stays_invisible_and_with_ttl_zero_it_is_seen() {
        // Documents the per-process scope: writes that bypass the wrapper (another replica)
        // are only picked up when entries expire.
        let inner: DynStore = Arc::new(MemoryStore::new());
        let cached = CachedStore::new(inner.clone(), None);
        let expiring = CachedStore::new(inner.clone(), Some(Duration::ZERO));
        assert_eq!(cached.line("01033334444").await.unwrap(), None);
        assert_eq!(expiring.line("01033334444").await.unwrap(), None);
        inner
            .create_lines(&[line("01033334444", "A")])
            .await
            .unwrap();
        assert_eq!(cached.line("01033334444").await.unwrap(), None);
        assert!(expiring.line("01033334444").await.unwrap().is_some());
    }
}
