//! Idempotency keys (docs/api.md §4.6 rule 2): the first request with a key does the change and
//! stores its answer; a repeat with the same body replays it (or the change's current state
//! when the first answer was `202`), a different body is `IDEMPOTENCY_KEY_REUSED`; a key whose
//! request died before its outbox row is taken over.

use std::time::Duration;

use chrono::{DateTime, Utc};
use http::StatusCode;
use phonebill_common::error::{ApiError, ErrorCode};
use serde_json::{Value, json};

use super::change::{Caller, ChangeCommand, ChangeReply};
use super::{ProductService, store_err};
use crate::domain::{self, ProcessStatus};
use crate::store::{Claim, KeyRow};

/// A key still "in flight" after this long belonged to a request that died; it is resolved
/// from the change record instead of answering 409 for a whole day.
const ABANDONED_KEY_AFTER: Duration = Duration::from_secs(60);

impl ChangeReply {
    pub(super) fn to_stored(&self) -> (i32, Value) {
        match self {
            Self::Done {
                status,
                message,
                data,
                location,
            } => (
                i32::from(status.as_u16()),
                json!({ "message": message, "data": data, "location": location }),
            ),
            Self::Error(e) => (
                i32::from(e.code().status().as_u16()),
                json!({ "error": { "code": e.code().as_str(), "message": e.message_text(), "details": e.details_text() } }),
            ),
        }
    }

    pub(super) fn from_stored(status: i32, body: &Value) -> Option<Self> {
        if let Some(err) = body.get("error") {
            let code = err.get("code")?.as_str()?;
            let code = ErrorCode::ALL
                .iter()
                .copied()
                .find(|c| c.as_str() == code)?;
            let mut e = ApiError::new(code).message(err.get("message")?.as_str()?.to_owned());
            if let Some(d) = err.get("details").and_then(Value::as_str) {
                e = e.details(d.to_owned());
            }
            return Some(Self::Error(e));
        }
        Some(Self::Done {
            status: StatusCode::from_u16(u16::try_from(status).ok()?).ok()?,
            message: body.get("message")?.as_str()?.to_owned(),
            data: body.get("data")?.clone(),
            location: body
                .get("location")
                .and_then(Value::as_str)
                .map(str::to_owned),
        })
    }
}

impl ProductService {
    pub(super) async fn change_attached(
        &self,
        caller: &Caller,
        cmd: ChangeCommand,
    ) -> (ChangeReply, bool) {
        let key = cmd
            .idempotency_key
            .clone()
            .or_else(|| cmd.client_request_id.clone());
        let now = self.now();
        // The record id (answer, Location, history, KOS) is always the server's: a client-chosen
        // id was one namespace across users, so another user's id answered 422 and told that
        // it existed (issue 17). The client's `requestId` is this user's idempotency key and,
        // through `map_client_id`, this user's name for the change.
        let request_id = domain::new_request_id(now);
        let Some(key) = key else {
            return (self.change_once(caller, &cmd, &request_id).await, false);
        };
        let hash = domain::request_hash(
            cmd.line.as_str(),
            &cmd.current_product_code,
            &cmd.target_product_code,
            cmd.client_request_id.as_deref(),
        );
        let row = KeyRow {
            request_hash: hash.clone(),
            request_id: request_id.clone(),
            status_code: None,
            response_body: None,
            created_at: now,
            expires_at: now
                + chrono::Duration::from_std(self.inner.idempotency_ttl)
                    .unwrap_or(chrono::Duration::days(1)),
        };
        let claim_key = || self.inner.store.claim_key(&caller.user_id, &key, &row);
        let mut claim = match claim_key().await {
            Ok(c) => c,
            Err(e) => return (ChangeReply::Error(store_err(e)), false),
        };
        // A key claimed by a request that died before writing its outbox row (a crash between
        // the two statements) has no change behind it and no answer: once it is older than
        // ABANDONED_KEY_AFTER it is taken over by this retry instead of answering
        // PRODUCT_CHANGE_IN_PROGRESS until the key expires (24 h).
        if let Claim::Existing(existing) = &claim
            && existing.request_hash == hash
            && self.orphaned(existing, now).await
        {
            match self
                .inner
                .store
                .release_abandoned_key(&caller.user_id, &key, existing.created_at)
                .await
            {
                Ok(released) => {
                    if released {
                        tracing::warn!(request_id = %existing.request_id, "idempotency key of a request that died before its change row taken over");
                    }
                    claim = match claim_key().await {
                        Ok(c) => c,
                        Err(e) => return (ChangeReply::Error(store_err(e)), false),
                    };
                }
                Err(e) => return (ChangeReply::Error(store_err(e)), false),
            }
        }
        match claim {
            Claim::Claimed => {
                let reply = self.change_once(caller, &cmd, &request_id).await;
                self.settle_key(&caller.user_id, &key, &reply).await;
                (reply, false)
            }
            Claim::Existing(existing) => {
                if existing.request_hash != hash {
                    return (
                        ChangeReply::Error(ApiError::new(ErrorCode::IdempotencyKeyReused)),
                        false,
                    );
                }
                (self.replay(caller, &existing, now).await, true)
            }
        }
    }

    /// The key was claimed long enough ago, never answered, and no change row exists for it.
    async fn orphaned(&self, existing: &KeyRow, now: DateTime<Utc>) -> bool {
        let abandoned = now
            .signed_duration_since(existing.created_at)
            .to_std()
            .is_ok_and(|a| a > ABANDONED_KEY_AFTER);
        existing.status_code.is_none()
            && abandoned
            && matches!(
                self.inner.store.get_change(&existing.request_id).await,
                Ok(None)
            )
    }

    async fn settle_key(&self, user_id: &str, key: &str, reply: &ChangeReply) {
        let retryable =
            matches!(reply, ChangeReply::Error(e) if e.code().status().is_server_error());
        let result = if retryable {
            self.inner.store.release_key(user_id, key).await
        } else {
            let (status, body) = reply.to_stored();
            self.inner
                .store
                .complete_key(user_id, key, status, &body)
                .await
        };
        if let Err(e) = result {
            tracing::error!(error = %e, "cannot store the idempotency key's response");
        }
    }

    /// Answers a repeated key: the stored response, or the change's current state when the first
    /// answer was `202` (or the first request died before answering).
    async fn replay(&self, caller: &Caller, existing: &KeyRow, now: DateTime<Utc>) -> ChangeReply {
        let stored = existing
            .status_code
            .zip(existing.response_body.as_ref())
            .and_then(|(s, b)| ChangeReply::from_stored(s, b).map(|r| (s, r)));
        match stored {
            Some((s, reply)) if s != 202 => reply,
            other => {
                let in_flight = other.is_none();
                let abandoned = now
                    .signed_duration_since(existing.created_at)
                    .to_std()
                    .is_ok_and(|a| a > ABANDONED_KEY_AFTER);
                match self.inner.store.get_change(&existing.request_id).await {
                    Ok(Some(r))
                        if r.user_id == caller.user_id
                            && (!in_flight
                                || abandoned
                                || r.process_status != ProcessStatus::Processing) =>
                    {
                        self.reply_for_record(&r).await
                    }
                    Ok(_) if in_flight => {
                        ChangeReply::Error(ApiError::new(ErrorCode::ProductChangeInProgress))
                    }
                    Ok(_) => ChangeReply::Error(ApiError::new(ErrorCode::ProductChangeInProgress)),
                    Err(e) => ChangeReply::Error(store_err(e)),
                }
            }
        }
    }
}
