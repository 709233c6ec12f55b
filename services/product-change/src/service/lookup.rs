//! Look-ups: the catalogue and a line through the cache (stale copy when KOS fails, where the
//! endpoint allows it, docs/api.md §3.4), the pre-checks of §4.5, a change's state (§4.7, owner
//! only) and the history page (§4.8, on the read replica where there is one).

use std::sync::Arc;

use chrono::{DateTime, Utc};
use phonebill_common::cache::{CacheKey, Cached, Invalidate, Loaded, Negative};
use phonebill_common::error::{ApiError, ErrorCode};
use phonebill_common::kos::client::KosError;
use phonebill_common::kos::{KosEndpoint, ProductInquiryRequest, codes};
use phonebill_common::line::LineNumber;
use serde::de::DeserializeOwned;

use super::{ProductService, catalog_key, kos_api_error, line_key, store_err};
use crate::domain::{Catalog, ChangeRecord, LineSnapshot, ValidationOutcome, run_checks};
use crate::store::HistoryFilter;

/// A value and, when it is a stale copy served because KOS failed, when it was cached.
#[derive(Debug, Clone)]
pub struct Fetched<T> {
    /// The value; `None` when KOS does not know the line.
    pub value: Option<Arc<T>>,
    /// `Some(cachedAt)` when stale.
    pub stale_since: Option<DateTime<Utc>>,
}

impl ProductService {
    /// Ages out the fresh cached copies of the catalogue and of `line`, keeping their stale
    /// copies (what the fresh TTL running out does; tests use it instead of waiting hours).
    pub async fn expire_fresh(&self, line: &LineNumber) {
        let cache = &self.inner.cache;
        cache.invalidate(&catalog_key(), Invalidate::Fresh).await;
        cache
            .invalidate(&line_key(line.as_str()), Invalidate::Fresh)
            .await;
    }

    /// The product catalogue (cached `product:list`; stale copy when KOS fails, if `allow_stale`).
    pub async fn catalog(&self, allow_stale: bool) -> Result<Fetched<Catalog>, ApiError> {
        let key = catalog_key();
        let request_id = phonebill_common::envelope::trace_id_now();
        let loaded = self
            .inner
            .cache
            .get_or_load(&key, || async {
                let data = self
                    .logged(
                        KosEndpoint::ProductList,
                        &request_id,
                        self.inner.kos.product_list(),
                    )
                    .await?;
                Ok::<_, KosError>(Loaded::Value(Catalog::from_items(&data.products)))
            })
            .await;
        match loaded {
            Ok(l) => match l.entry {
                Cached::Value(v) => Ok(Fetched {
                    value: Some(v),
                    stale_since: None,
                }),
                Cached::Negative(n) => {
                    Err(ApiError::new(ErrorCode::KosError).details(format!("KOS {}", n.code)))
                }
            },
            Err(e) if e.is_business() => Err(ApiError::new(ErrorCode::KosError)),
            Err(e) => self.stale_or(&key, allow_stale, e).await,
        }
    }

    /// A look-up's KOS failure `e`: the stale copy of `key` when the endpoint allows one and
    /// it is there, else the KOS error.
    async fn stale_or<T>(
        &self,
        key: &CacheKey<T>,
        allow_stale: bool,
        e: KosError,
    ) -> Result<Fetched<T>, ApiError>
    where
        T: DeserializeOwned + Send + Sync + 'static,
    {
        if allow_stale && let Some(s) = self.inner.cache.get_stale(key).await {
            return Ok(Fetched {
                value: Some(s.value),
                stale_since: Some(s.cached_at),
            });
        }
        Err(kos_api_error(e))
    }

    pub(super) async fn inquire(
        &self,
        line: &LineNumber,
        request_id: &str,
    ) -> Result<Loaded<LineSnapshot>, KosError> {
        let req = ProductInquiryRequest {
            line_number: line.as_str().to_owned(),
            request_id: request_id.to_owned(),
        };
        let call = self.logged(
            KosEndpoint::ProductInquiry,
            request_id,
            self.inner.kos.product_inquiry(&req),
        );
        let data = match tokio::time::timeout(self.inner.budget, call).await {
            Err(_) => return Err(KosError::Timeout),
            Ok(Err(KosError::Business { code, message }))
                if code == codes::PRODUCT_LINE_NOT_FOUND =>
            {
                return Ok(Loaded::Negative(Negative { code, message }));
            }
            Ok(r) => r?,
        };
        LineSnapshot::from_inquiry(&data)
            .map(Loaded::Value)
            .map_err(|e| KosError::Malformed(e.to_string()))
    }

    /// A line through the cache (`product:customer:{line}`); KOS 3001 → `value: None`.
    pub async fn line(
        &self,
        line: &LineNumber,
        allow_stale: bool,
    ) -> Result<Fetched<LineSnapshot>, ApiError> {
        let key = line_key(line.as_str());
        let request_id = phonebill_common::envelope::trace_id_now();
        match self
            .inner
            .cache
            .get_or_load(&key, || self.inquire(line, &request_id))
            .await
        {
            Ok(l) => Ok(Fetched {
                value: match l.entry {
                    Cached::Value(v) => Some(v),
                    Cached::Negative(_) => None,
                },
                stale_since: None,
            }),
            Err(e) if e.is_business() => Err(kos_api_error(e)),
            Err(e) => self.stale_or(&key, allow_stale, e).await,
        }
    }

    /// A line read fresh from KOS (docs/api.md §4.6 rule 3); refreshes the cache.
    pub(super) async fn fresh_line(
        &self,
        line: &LineNumber,
        request_id: &str,
    ) -> Result<Option<LineSnapshot>, ApiError> {
        match self.inquire(line, request_id).await {
            Ok(Loaded::Value(v)) => {
                self.inner
                    .cache
                    .put(&line_key(line.as_str()), v.clone())
                    .await;
                Ok(Some(v))
            }
            Ok(Loaded::Negative(_)) => Ok(None),
            Err(e) => Err(kos_api_error(e)),
        }
    }

    /// docs/api.md §4.5: the three checks on cached data; KOS unavailable → error (no guessing).
    pub async fn validate(
        &self,
        line: &LineNumber,
        current: &str,
        target: &str,
    ) -> Result<ValidationOutcome, ApiError> {
        let catalog = self.catalog(false).await?;
        let snapshot = self.line(line, false).await?;
        let catalog = catalog.value.unwrap_or_default();
        Ok(run_checks(
            &catalog,
            snapshot.value.as_deref(),
            current,
            target,
        ))
    }

    /// The change `request_id` names for `user_id`: the record id, or the id the caller chose
    /// for its change (body `requestId`), resolved for this user only (another user's choice of
    /// the same id is another change, issue 17). `None` when it is not this user's.
    pub async fn change_status(
        &self,
        user_id: &str,
        request_id: &str,
    ) -> Result<Option<ChangeRecord>, ApiError> {
        let store = &self.inner.store;
        let own = |r: &ChangeRecord| r.user_id == user_id;
        let found = store
            .get_change(request_id)
            .await
            .map_err(store_err)?
            .filter(own);
        if found.is_some() {
            return Ok(found);
        }
        let Some(id) = store
            .find_client_id(user_id, request_id)
            .await
            .map_err(store_err)?
        else {
            return Ok(None);
        };
        Ok(store.get_change(&id).await.map_err(store_err)?.filter(own))
    }

    /// A page of change history, newest first, and the number of matching rows; nothing when
    /// the filter names no line.
    pub async fn history(&self, f: &HistoryFilter) -> Result<(Vec<ChangeRecord>, i64), ApiError> {
        if f.lines.is_empty() {
            return Ok((Vec::new(), 0));
        }
        self.inner.store.history(f).await.map_err(store_err)
    }
}
