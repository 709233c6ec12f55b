//! Reconciliation (docs/api.md §4.6 rule 9, docs/architecture.md "Reconciliation claims"):
//! changes whose KOS outcome is unknown stay `PROCESSING`; each pass claims due rows for this
//! replica, re-sends them, and gives a row up (after a last look at KOS) after too many
//! attempts or too long.

use chrono::{DateTime, Utc};
use http::StatusCode;
use phonebill_common::cache::{Loaded, Negative};
use phonebill_common::line::LineNumber;

use super::ProductService;
use super::change::ChangeReply;
use crate::domain::{self, ChangeRecord};
use crate::store::StoreError;

impl ProductService {
    /// One reconciliation pass over due `PROCESSING` records; returns how many were finished.
    pub async fn reconcile_once(&self) -> Result<usize, StoreError> {
        self.reconcile_at(self.now()).await
    }

    /// [`Self::reconcile_once`] as if it were `now` (the clock is a parameter so the time rules
    /// — due times, the 30-minute give-up — are testable without waiting).
    pub async fn reconcile_at(&self, now: DateTime<Utc>) -> Result<usize, StoreError> {
        if let Err(e) = self.inner.store.purge_keys(now).await {
            tracing::warn!(error = %e, "idempotency key purge failed");
        }
        let cfg = self.inner.reconcile;
        let lease = chrono::Duration::from_std(cfg.lease).unwrap_or(chrono::Duration::seconds(120));
        let mut finished = 0;
        let mut seen = std::collections::HashSet::new();
        // Small batches, each claimed atomically for this replica (docs/architecture.md
        // "Reconciliation claims"): another replica's pass skips them, so KOS gets each change
        // once per attempt however many replicas run.
        for _ in 0..RECONCILE_BATCHES {
            let claimed_at = std::time::Instant::now();
            let due = self
                .inner
                .store
                .claim_due(now, &self.inner.claimer, now + lease, RECONCILE_BATCH)
                .await?;
            let batch_len = due.len();
            let mut fresh_rows = 0;
            let mut failure = None;
            for r in due {
                // A row handled earlier in this pass (its last look at KOS failed) waits for
                // the next pass; so does everything once the lease may be running out, since
                // another replica could hold the row by then.
                let expiring = claimed_at.elapsed() >= cfg.lease / 2;
                if failure.is_none() && !expiring && seen.insert(r.request_id.clone()) {
                    fresh_rows += 1;
                    match self.reconcile_one(&r, now).await {
                        Ok(true) => finished += 1,
                        Ok(false) => {}
                        Err(e) => failure = Some(e),
                    }
                }
                self.release(&r.request_id).await;
            }
            if let Some(e) = failure {
                return Err(e);
            }
            if fresh_rows == 0 || batch_len < RECONCILE_BATCH as usize {
                break;
            }
        }
        Ok(finished)
    }

    /// Releases this replica's claim on a row; a failure only delays the row to its lease end.
    async fn release(&self, request_id: &str) {
        if let Err(e) = self
            .inner
            .store
            .release_claim(request_id, &self.inner.claimer)
            .await
        {
            tracing::warn!(error = %e, "cannot release a reconciliation claim; it runs out with its lease");
        }
    }

    /// One claimed row: give it up (after a last look at KOS) or re-send it. `Ok(true)` when the
    /// row reached a final state.
    async fn reconcile_one(
        &self,
        r: &ChangeRecord,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let cfg = self.inner.reconcile;
        if domain::should_give_up(
            r.attempts,
            r.requested_at,
            now,
            cfg.max_attempts,
            cfg.max_age,
        ) {
            // Last word: does KOS show the line on the target product?
            let line = LineNumber::parse(&r.line_number);
            let fresh = match &line {
                Some(l) => self.inquire(l, &r.request_id).await,
                None => Ok(Loaded::Negative(Negative {
                    code: "LINE".into(),
                    message: String::new(),
                })),
            };
            let on_target = match fresh {
                Ok(Loaded::Value(s)) => s.current_product_code == r.target_product_code,
                Ok(Loaded::Negative(_)) => false,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot confirm an expired change; will retry");
                    return Ok(false);
                }
            };
            let f = domain::given_up(on_target, now);
            return self.finish(r, f).await;
        }
        let next =
            now + chrono::Duration::from_std(cfg.interval).unwrap_or(chrono::Duration::seconds(30));
        self.inner
            .store
            .record_attempt(&r.request_id, r.attempts + 1, next, now)
            .await?;
        let answer = self.send_change(r).await;
        Ok(matches!(
            self.apply(r, answer, true).await,
            ChangeReply::Done { status, .. } if status == StatusCode::OK
        ))
    }
}

/// Rows claimed per batch of a reconciliation pass, and batches per pass (at most 100 rows a
/// pass, as before claims; a small batch keeps the lease short relative to its work).
const RECONCILE_BATCH: i64 = 25;
const RECONCILE_BATCHES: usize = 4;
