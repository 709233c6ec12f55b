//! In-memory adapter (`KOS_STORE=memory`): a mutex-guarded map; nothing survives the process.

use std::collections::{BTreeMap, HashMap};

use tokio::sync::Mutex;

use super::{ChangeRecord, KosStore, RecordOutcome, StoreError, StoredChange};
use crate::domain::{Line, Product};

#[derive(Default)]
struct Data {
    products: BTreeMap<String, Product>,
    lines: HashMap<String, Line>,
    changes: HashMap<String, StoredChange>,
}

/// The in-memory store.
#[derive(Default)]
pub struct MemoryStore {
    data: Mutex<Data>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait::async_trait]
impl KosStore for MemoryStore {
    async fn seed(&self, products: &[Product], lines: &[Line]) -> Result<(), StoreError> {
        let mut d = self.data.lock().await;
        for p in products {
            d.products
                .entry(p.code.clone())
                .or_insert_with(|| p.clone());
        }
        for l in lines {
            d.lines
                .entry(l.line_number.clone())
                .or_insert_with(|| l.clone());
        }
        Ok(())
    }

    async fn products(&self) -> Result<Vec<Product>, StoreError> {
        Ok(self.data.lock().await.products.values().cloned().collect())
    }

    async fn line(&self, line_number: &str) -> Result<Option<Line>, StoreError> {
        Ok(self.data.lock().await.lines.get(line_number).cloned())
    }

    async fn change_request(&self, request_id: &str) -> Result<Option<StoredChange>, StoreError> {
        Ok(self.data.lock().await.changes.get(request_id).cloned())
    }

    async fn record_change(&self, rec: ChangeRecord) -> Result<RecordOutcome, StoreError> {
        let mut d = self.data.lock().await;
        if let Some(existing) = d.changes.get(&rec.request_id) {
            return Ok(RecordOutcome::Existing(existing.clone()));
        }
        if let Some(u) = &rec.update {
            match d.lines.get_mut(&u.line_number) {
                Some(line) if line.current_product_code == u.from => {
                    line.current_product_code.clone_from(&u.to);
                }
                _ => return Ok(RecordOutcome::Stale),
            }
        }
        d.changes.insert(
            rec.request_id,
            StoredChange {
                request_hash: rec.request_hash,
                response: rec.response,
            },
        );
        Ok(RecordOutcome::Recorded)
    }

    async fn create_lines(&self, lines: &[Line]) -> Result<u64, StoreError> {
        let mut d = self.data.lock().await;
        let mut created = 0;
        for l in lines {
            if !d.lines.contains_key(&l.line_number) {
                d.lines.insert(l.line_number.clone(), l.clone());
                created += 1;
            }
        }
        Ok(created)
    }
}
