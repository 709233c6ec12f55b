//! The session deny list (docs/architecture.md decision 4): revocation without a round trip on the hot path.
//!
//! Every instance keeps the revoked session ids in memory, each with the instant until which it
//! must stay denied (the end of the session's life; after that its tokens are expired anyway).
//! With Redis, a revocation is also added to the sorted set `{prefix}auth:denied` (member: the
//! sid, score: the Unix second until which it stays denied) and published on
//! `{prefix}auth:revoked`; every instance subscribes, loads the set after subscribing (so
//! nothing published meanwhile is missed) and reconnects with capped backoff when Redis drops,
//! reloading on each reconnect. One key, not one key per session: a Redis Cluster refuses
//! `SCAN` + `MGET` across slots, and one sorted set is read with one `ZRANGEBYSCORE` on any
//! deployment (docs/architecture.md, "One Redis abstraction"). Entries whose sessions are over
//! are pruned by score on every write.
//! Without Redis the list is process-local. Redis failures never fail a request: the local
//! entry is always made, and the error is logged. A revocation whose Redis write failed stays
//! *pending* and is written and published again after the next successful (re)subscription,
//! so a logout made while Redis was down still reaches the other instances once it is back;
//! pending revocations are also retried every second while subscribed (on a cluster the
//! subscription may live on a node that stayed up while the set's master failed over).

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::actuator::{ComponentHealth, HealthCheck};
use crate::backoff::Backoff;
use crate::config::{ConfigError, Env};
use crate::redis_conn::{RedisClient, RedisConfig};

/// Bound on every Redis command and connection attempt.
const REDIS_TIMEOUT: Duration = Duration::from_secs(2);
/// First delay before reconnecting.
const MIN_BACKOFF: Duration = Duration::from_millis(200);
/// Backoff cap between reconnection attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(10);

/// Where the deny list is replicated.
#[derive(Debug, Clone, Default)]
pub struct DenyListConfig {
    /// Redis (`REDIS_URL`, `REDIS_CLUSTER`, `REDIS_CA_CERT`); `None` keeps the list
    /// process-local.
    pub redis: Option<RedisConfig>,
    /// `REDIS_KEY_PREFIX` (default empty): prepended to every key and channel, so tests and
    /// environments sharing one Redis stay apart.
    pub key_prefix: String,
}

impl DenyListConfig {
    /// Reads `REDIS_URL`, `REDIS_CLUSTER`, `REDIS_CA_CERT` and `REDIS_KEY_PREFIX`.
    pub fn from_env(env: Env<'_>) -> Result<Self, ConfigError> {
        Ok(Self {
            redis: RedisConfig::from_env(env)?,
            key_prefix: env.string("REDIS_KEY_PREFIX").unwrap_or_default(),
        })
    }
}

/// The deny list could not be set up.
#[derive(Debug, thiserror::Error)]
#[error("cannot set up the Redis deny list: {0}")]
pub struct DenyListError(String);

/// The message published on `auth:revoked`.
#[derive(Debug, Serialize, Deserialize)]
struct Revoked {
    sid: String,
    exp: i64,
}

struct RedisSide {
    client: RedisClient,
    channel: String,
    /// The sorted set of revocations.
    key: String,
}

struct Inner {
    /// sid → Unix second until which it stays denied.
    local: RwLock<HashMap<String, i64>>,
    /// Revocations not (yet) known to be in Redis: sid → until. Re-sent after (re)subscribing.
    pending: Mutex<HashMap<String, i64>>,
    last_purge: AtomicI64,
    redis: Option<RedisSide>,
    subscribed: watch::Sender<bool>,
}

/// The revoked sessions. Cheap to clone; all clones share one list.
#[derive(Clone)]
pub struct DenyList(Arc<Inner>);

impl std::fmt::Debug for DenyList {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DenyList")
            .field("redis", &self.0.redis.is_some())
            .field("subscribed", &self.is_subscribed())
            .finish_non_exhaustive()
    }
}

fn now_unix() -> i64 {
    chrono::Utc::now().timestamp()
}

impl DenyList {
    /// A process-local list (no Redis).
    pub fn local() -> Self {
        Self(Arc::new(Inner {
            local: RwLock::new(HashMap::new()),
            pending: Mutex::new(HashMap::new()),
            last_purge: AtomicI64::new(now_unix()),
            redis: None,
            subscribed: watch::channel(false).0,
        }))
    }

    /// A list replicated through Redis when `cfg.redis` is set (the subscriber task runs
    /// until `cancel`), else [`DenyList::local`]. Must be called inside a tokio runtime.
    pub fn start(cfg: &DenyListConfig, cancel: CancellationToken) -> Result<Self, DenyListError> {
        let Some(redis) = &cfg.redis else {
            return Ok(Self::local());
        };
        let client =
            RedisClient::new(redis, REDIS_TIMEOUT).map_err(|e| DenyListError(e.to_string()))?;
        Ok(Self::start_with(client, cfg, cancel))
    }

    /// [`DenyList::start`] after the Redis start-up check ([`RedisClient::preflight`]): a
    /// wrong CA, password or `REDIS_CLUSTER` is an error naming the variable; an unreachable
    /// Redis is not (the list starts and catches up when Redis is back).
    pub async fn start_checked(
        cfg: &DenyListConfig,
        cancel: CancellationToken,
    ) -> Result<Self, DenyListError> {
        let Some(redis) = &cfg.redis else {
            return Ok(Self::local());
        };
        let client =
            RedisClient::new(redis, REDIS_TIMEOUT).map_err(|e| DenyListError(e.to_string()))?;
        client
            .preflight()
            .await
            .map_err(|e| DenyListError(e.to_string()))?;
        Ok(Self::start_with(client, cfg, cancel))
    }

    fn start_with(client: RedisClient, cfg: &DenyListConfig, cancel: CancellationToken) -> Self {
        let list = Self(Arc::new(Inner {
            local: RwLock::new(HashMap::new()),
            pending: Mutex::new(HashMap::new()),
            last_purge: AtomicI64::new(now_unix()),
            redis: Some(RedisSide {
                client,
                channel: format!("{}auth:revoked", cfg.key_prefix),
                key: format!("{}auth:denied", cfg.key_prefix),
            }),
            subscribed: watch::channel(false).0,
        }));
        let task = list.clone();
        tokio::spawn(async move { task.subscriber(cancel).await });
        list
    }

    /// The Redis client and key prefix of the replication, so other per-deployment counters
    /// (auth's login limit) share its connection and its `REDIS_KEY_PREFIX`.
    pub fn redis(&self) -> Option<(RedisClient, String)> {
        self.0.redis.as_ref().map(|r| {
            let prefix = r.key.trim_end_matches("auth:denied").to_owned();
            (r.client.clone(), prefix)
        })
    }

    /// Whether Redis replication is configured.
    pub fn is_replicated(&self) -> bool {
        self.0.redis.is_some()
    }

    /// Whether `sid` is revoked (hot path: one read lock, no I/O).
    pub fn is_revoked(&self, sid: &str) -> bool {
        let map = self.0.local.read().unwrap_or_else(|p| p.into_inner());
        map.get(sid).is_some_and(|until| *until >= now_unix())
    }

    /// Revokes `sid` until `until_unix` (the end of the session's life): locally at once, then
    /// in Redis (key + publish). A Redis failure is logged, not returned; the revocation stays
    /// pending and is re-sent after the next (re)subscription.
    pub async fn revoke(&self, sid: &str, until_unix: i64) {
        self.insert_local(sid, until_unix);
        let Some(r) = &self.0.redis else { return };
        // Marked pending before the write: a reconnection racing with a failed write still
        // finds it. A write that succeeds twice is harmless (same key, same value).
        self.pending().insert(sid.to_owned(), until_unix);
        match self.write_revocation(r, sid, until_unix).await {
            Ok(()) => {
                self.pending().remove(sid);
            }
            Err(e) => tracing::warn!(
                error = %e,
                "deny list: Redis write failed; revocation is local until Redis is back"
            ),
        }
    }

    fn pending(&self) -> std::sync::MutexGuard<'_, HashMap<String, i64>> {
        self.0
            .pending
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Adds the revocation to the set (pruning ended sessions) and publishes it (bounded).
    async fn write_revocation(
        &self,
        r: &RedisSide,
        sid: &str,
        until_unix: i64,
    ) -> Result<(), String> {
        let payload = serde_json::to_string(&Revoked {
            sid: sid.to_owned(),
            exp: until_unix,
        })
        .unwrap_or_default();
        let fut = async {
            // One key, so the pipeline stays in one slot. The set needs no TTL: every write
            // drops the entries whose sessions are over.
            let mut pipe = redis::pipe();
            pipe.cmd("ZADD")
                .arg(&r.key)
                .arg(until_unix)
                .arg(sid)
                .ignore();
            pipe.cmd("ZREMRANGEBYSCORE")
                .arg(&r.key)
                .arg("-inf")
                .arg(format!("({}", now_unix()))
                .ignore();
            let mut conn = r.client.connection().await.map_err(|e| e.to_string())?;
            pipe.query_async::<()>(&mut conn)
                .await
                .map_err(|e| e.to_string())?;
            redis::cmd("PUBLISH")
                .arg(&r.channel)
                .arg(payload)
                .query_async::<i64>(&mut conn)
                .await
                .map_err(|e| e.to_string())?;
            Ok::<(), String>(())
        };
        tokio::time::timeout(REDIS_TIMEOUT * 2, fut)
            .await
            .map_err(|_| "timed out".to_owned())?
    }

    /// Re-sends the pending revocations (those still in force); `Err` leaves the rest pending.
    async fn flush_pending(&self, r: &RedisSide) -> Result<usize, String> {
        let now = now_unix();
        let entries: Vec<(String, i64)> = {
            let mut p = self.pending();
            p.retain(|_, until| *until >= now);
            p.iter().map(|(s, u)| (s.clone(), *u)).collect()
        };
        for (sid, until) in &entries {
            self.write_revocation(r, sid, *until).await?;
            let mut p = self.pending();
            if p.get(sid) == Some(until) {
                p.remove(sid);
            }
        }
        Ok(entries.len())
    }

    fn insert_local(&self, sid: &str, until_unix: i64) {
        let now = now_unix();
        let mut map = self.0.local.write().unwrap_or_else(|p| p.into_inner());
        map.insert(sid.to_owned(), until_unix);
        // Drop entries whose sessions are over, at most once a minute.
        let last = self.0.last_purge.load(Ordering::Relaxed);
        if now - last >= 60 {
            self.0.last_purge.store(now, Ordering::Relaxed);
            map.retain(|_, until| *until >= now);
        }
    }

    /// Number of entries held in memory (including ones not yet purged).
    pub fn len(&self) -> usize {
        self.0.local.read().map_or(0, |m| m.len())
    }

    /// Whether the in-memory list is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether the Redis subscription is live (always `false` without Redis).
    pub fn is_subscribed(&self) -> bool {
        *self.0.subscribed.borrow()
    }

    /// Waits up to `timeout` for the subscription to be live.
    pub async fn wait_subscribed(&self, timeout: Duration) -> bool {
        let mut rx = self.0.subscribed.subscribe();
        tokio::time::timeout(timeout, rx.wait_for(|s| *s))
            .await
            .is_ok_and(|r| r.is_ok())
    }

    /// The readiness component `redis` (never critical; `DISABLED` without Redis).
    pub fn health(&self) -> Arc<dyn HealthCheck> {
        Arc::new(RedisDenyHealth(self.clone()))
    }

    /// Subscribes, loads, follows; reconnects with backoff until `cancel`.
    async fn subscriber(self, cancel: CancellationToken) {
        let Some(r) = &self.0.redis else { return };
        let mut backoff = Backoff::new(MIN_BACKOFF, MAX_BACKOFF);
        loop {
            let result = tokio::select! {
                () = cancel.cancelled() => return,
                res = self.follow(r, &cancel) => res,
            };
            self.0.subscribed.send_replace(false);
            let failure = match result {
                Ok(true) => return,
                // A stream that ended after a session starts again from the shortest delay.
                Ok(false) => {
                    backoff.reset();
                    None
                }
                Err(e) => Some(e),
            };
            let delay = backoff.next();
            if let Some(e) = failure {
                tracing::warn!(error = %e, retry_in_ms = delay.as_millis() as u64,
                    "deny list: Redis subscription failed; will reconnect");
            }
            tokio::select! {
                () = cancel.cancelled() => return,
                () = tokio::time::sleep(delay) => {}
            }
        }
    }

    /// One subscription session. `Ok(true)`: cancelled; `Ok(false)`: the stream ended.
    async fn follow(&self, r: &RedisSide, cancel: &CancellationToken) -> Result<bool, String> {
        let mut sub = tokio::time::timeout(REDIS_TIMEOUT * 3, r.client.subscribe(&r.channel))
            .await
            .map_err(|_| "subscribe timed out".to_owned())?
            .map_err(|e| e.to_string())?;
        // Load after subscribing: a revocation published in between is seen either way.
        let loaded = self.load_all(r).await?;
        // Revocations made here while Redis was unreachable: written and published now, so
        // the other instances learn them (they load the keys or get the message).
        let resent = self.flush_pending(r).await?;
        tracing::info!(
            entries = loaded,
            resent,
            "deny list: subscribed to Redis and loaded revoked sessions"
        );
        self.0.subscribed.send_replace(true);
        let mut retry = tokio::time::interval(Duration::from_secs(1));
        retry.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = cancel.cancelled() => return Ok(true),
                _ = retry.tick() => {
                    if !self.pending().is_empty()
                        && let Err(e) = self.flush_pending(r).await
                    {
                        tracing::debug!(error = %e, "deny list: pending revocations not written yet");
                    }
                }
                msg = sub.next() => match msg {
                    None => {
                        tracing::warn!("deny list: Redis subscription closed");
                        return Ok(false);
                    }
                    Some(payload) => {
                        match serde_json::from_str::<Revoked>(&payload) {
                            Ok(rev) => self.insert_local(&rev.sid, rev.exp),
                            Err(e) => tracing::warn!(error = %e, "deny list: ignoring malformed message"),
                        }
                    }
                },
            }
        }
    }

    /// Reads the revocations still in force into memory; returns how many were found.
    async fn load_all(&self, r: &RedisSide) -> Result<usize, String> {
        const PAGE: usize = 1000;
        let fut = async {
            let mut conn = r.client.connection().await.map_err(|e| e.to_string())?;
            let now = now_unix();
            let mut offset = 0usize;
            let mut count = 0;
            loop {
                let page: Vec<(String, f64)> = redis::cmd("ZRANGEBYSCORE")
                    .arg(&r.key)
                    .arg(now)
                    .arg("+inf")
                    .arg("WITHSCORES")
                    .arg("LIMIT")
                    .arg(offset)
                    .arg(PAGE)
                    .query_async(&mut conn)
                    .await
                    .map_err(|e| e.to_string())?;
                let n = page.len();
                for (sid, until) in page {
                    // Scores are whole Unix seconds (written as integers).
                    #[allow(clippy::cast_possible_truncation)]
                    let until = until as i64;
                    self.insert_local(&sid, until);
                    count += 1;
                }
                if n < PAGE {
                    return Ok(count);
                }
                offset += n;
            }
        };
        tokio::time::timeout(REDIS_TIMEOUT * 5, fut)
            .await
            .map_err(|_| "loading the deny list timed out".to_owned())?
    }
}

/// Readiness component for the deny list's Redis link.
pub struct RedisDenyHealth(DenyList);

#[async_trait::async_trait]
impl HealthCheck for RedisDenyHealth {
    fn name(&self) -> String {
        "redis".into()
    }
    fn critical(&self) -> bool {
        false
    }
    async fn check(&self) -> ComponentHealth {
        if !self.0.is_replicated() {
            ComponentHealth::disabled()
        } else if self.0.is_subscribed() {
            ComponentHealth::up()
        } else {
            ComponentHealth::down("deny-list subscription not connected")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_entries_expire() {
        let d = DenyList::local();
        assert!(!d.is_revoked("s1"));
        d.insert_local("s1", now_unix() + 60);
        d.insert_local("s2", now_unix() - 1);
        assert!(d.is_revoked("s1"));
        assert!(!d.is_revoked("s2"));
        assert!(!d.is_subscribed());
    }
}
