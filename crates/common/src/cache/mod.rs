//! The two-level cache (docs/architecture.md decision 5, docs/api.md §3.4/3.5): L1 moka in the process over L2 Redis
//! shared by the replicas.
//!
//! - **Typed keys** ([`CacheKey<T>`]) in [`Family`]s; the family gives the Redis TTL, the stale
//!   policy and the `cache` metric label. Families are values the services define (bill-inquiry's
//!   and product-change's `cache` modules; the bill family both use in [`crate::contract`]) and
//!   declare to [`CacheConfig::from_env`], which reads their TTL overrides; this module knows
//!   none of them.
//! - **Values are serialised once**: a loaded value is encoded to JSON once and the same bytes go
//!   to the fresh key and the stale copy in one pipeline. L1 holds the *typed* value (`Arc<T>`),
//!   not the bytes: an L1 hit is a map look-up and a pointer copy, no JSON decoding, which is what
//!   keeps it under a microsecond (decoding a bill costs several). An L2 hit is decoded once and
//!   the typed value goes into L1.
//! - **Single flight**: [`Cache::get_or_load`] runs the L2 look-up and the loader inside moka's
//!   `entry().or_try_insert_with`, so concurrent misses on one key share one load (errors are
//!   shared too and not cached).
//! - **Negative entries**: a loader may return [`Loaded::Negative`] (a KOS business failure); it is
//!   cached in L1 and under the `neg:` key in L2 for the short negative TTL (60 s, docs/api.md §3.2).
//! - **Stale copies**: families that keep one write `{family}:stale:{id}` with TTL fresh + 24 h.
//!   [`Cache::get_stale`] reads it (L2 first, then a process-local copy) only when KOS failed, and
//!   returns its `cachedAt`; it counts `cache_stale_served_total`.
//! - **Redis trouble never fails a request**: errors and timeouts (per operation, default 100 ms)
//!   degrade to L1/miss and count `result=error`; after repeated failures L2 is skipped for a
//!   cool-down (see `l2`). With no `REDIS_URL` the cache is L1 only.
//! - **Invalidation** deletes the L2 keys and publishes the key on `{prefix}:v1:cache:invalidate`;
//!   every instance's subscriber drops its L1 copy. The subscriber reconnects with backoff and
//!   clears its L1 after each (re)subscription, because invalidations published while it was
//!   disconnected were missed.
//!
//! Variables (see [`CacheConfig::from_env`]): `REDIS_URL`, `REDIS_CLUSTER`, `REDIS_CA_CERT` (see
//! [`crate::redis_conn`]), `CACHE_KEY_PREFIX` (`pb`),
//! `CACHE_L1_CAPACITY` (2000, the seed's `max_entries`), `CACHE_L1_TTL_SECONDS` (300),
//! `CACHE_REDIS_TIMEOUT_MS` (100), `CACHE_L2_FAILURE_THRESHOLD` (3),
//! `CACHE_L2_COOLDOWN_MS` (5000), `CACHE_STALE_WINDOW_SECONDS` (86400),
//! `CACHE_NEGATIVE_TTL_SECONDS` (60), `CACHE_TTL_<FAMILY>_SECONDS` (per-family Redis TTL override
//! of each declared family, e.g. `CACHE_TTL_BILL_SECONDS`).

mod key;
mod l2;

use std::any::Any;
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use moka::Expiry;
use prometheus::IntCounter;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub use key::{CacheKey, Family, SCHEMA_VERSION};
use l2::{L2, L2Error, L2Settings, Op};

use crate::actuator::{ComponentHealth, HealthCheck};
use crate::backoff::Backoff;
use crate::config::{ConfigError, Env};
use crate::metrics::Metrics;
use crate::redis_conn::RedisConfig;

/// Cache settings.
#[derive(Debug, Clone)]
pub struct CacheConfig {
    /// First segment of every Redis key and of the invalidation channel.
    pub prefix: String,
    /// L1 capacity in entries.
    pub l1_capacity: u64,
    /// L1 time to live.
    pub l1_ttl: Duration,
    /// Redis (`REDIS_URL`, `REDIS_CLUSTER`, `REDIS_CA_CERT`); `None` = L1 only.
    pub redis: Option<RedisConfig>,
    /// Bound on each Redis operation (connection + command).
    pub redis_timeout: Duration,
    /// Consecutive Redis failures that start a cool-down.
    pub l2_failure_threshold: u32,
    /// How long L2 is skipped after repeated failures.
    pub l2_cooldown: Duration,
    /// How long a stale copy outlives the fresh value.
    pub stale_window: Duration,
    /// TTL of negative entries (L1 and L2).
    pub negative_ttl: Duration,
    /// Per-family Redis TTL overrides.
    pub l2_ttl_overrides: BTreeMap<Family, Duration>,
    /// The families the process uses: their TTL overrides are read at start and their
    /// `cache_requests_total` series exist (at 0) from the first scrape. A key of a family not
    /// listed still works, with its default TTL and counters resolved on each use.
    pub families: Vec<Family>,
}

impl Default for CacheConfig {
    fn default() -> Self {
        Self {
            prefix: "pb".to_owned(),
            l1_capacity: 2000,
            l1_ttl: Duration::from_secs(300),
            redis: None,
            redis_timeout: Duration::from_millis(100),
            l2_failure_threshold: 3,
            l2_cooldown: Duration::from_secs(5),
            stale_window: Duration::from_secs(24 * 3600),
            negative_ttl: Duration::from_secs(60),
            l2_ttl_overrides: BTreeMap::new(),
            families: Vec::new(),
        }
    }
}

impl CacheConfig {
    /// Reads the variables listed in the module documentation, with a TTL override variable for
    /// each of `families` (a family listed twice counts once).
    pub fn from_env(env: Env<'_>, families: &[Family]) -> Result<Self, ConfigError> {
        let prefix = env
            .string("CACHE_KEY_PREFIX")
            .unwrap_or_else(|| "pb".into());
        if prefix.contains(char::is_whitespace) {
            return Err(ConfigError::new(
                "CACHE_KEY_PREFIX",
                "must not contain whitespace",
            ));
        }
        let mut declared: Vec<Family> = Vec::with_capacity(families.len());
        for f in families {
            if !declared.contains(f) {
                declared.push(*f);
            }
        }
        let mut overrides = BTreeMap::new();
        for &f in &declared {
            let var = format!("CACHE_TTL_{}_SECONDS", f.env_name());
            if let Some(secs) = env.parse_opt::<u64>(&var)? {
                if secs == 0 {
                    return Err(ConfigError::new(&var, "must be at least 1"));
                }
                overrides.insert(f, Duration::from_secs(secs));
            }
        }
        Ok(Self {
            prefix,
            l1_capacity: env.ranged("CACHE_L1_CAPACITY", 2000u64, 1..=10_000_000)?,
            l1_ttl: Duration::from_secs(env.ranged("CACHE_L1_TTL_SECONDS", 300u64, 1..=86_400)?),
            redis: RedisConfig::from_env(env)?,
            redis_timeout: Duration::from_millis(env.ranged(
                "CACHE_REDIS_TIMEOUT_MS",
                100u64,
                1..=10_000,
            )?),
            l2_failure_threshold: env.ranged("CACHE_L2_FAILURE_THRESHOLD", 3u32, 1..=1000)?,
            l2_cooldown: Duration::from_millis(env.ranged(
                "CACHE_L2_COOLDOWN_MS",
                5000u64,
                1..=600_000,
            )?),
            stale_window: Duration::from_secs(env.ranged(
                "CACHE_STALE_WINDOW_SECONDS",
                86_400u64,
                0..=30 * 86_400,
            )?),
            negative_ttl: Duration::from_secs(env.ranged(
                "CACHE_NEGATIVE_TTL_SECONDS",
                60u64,
                1..=3600,
            )?),
            l2_ttl_overrides: overrides,
            families: declared,
        })
    }

    /// The Redis TTL of a fresh value of `family`.
    pub fn l2_ttl(&self, family: Family) -> Duration {
        self.l2_ttl_overrides
            .get(&family)
            .copied()
            .unwrap_or_else(|| family.default_l2_ttl())
    }

    /// The L1 TTL of a fresh value of `family` (never longer than its Redis TTL).
    pub fn l1_ttl_for(&self, family: Family) -> Duration {
        self.l1_ttl.min(self.l2_ttl(family))
    }
}

/// The cache could not be built (bad Redis URL).
#[derive(Debug, thiserror::Error)]
#[error("cache: {0}")]
pub struct CacheError(String);

/// A cached business failure (e.g. KOS `1001` "no such line").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Negative {
    /// The business code.
    pub code: String,
    /// Its message.
    pub message: String,
}

/// What a loader produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Loaded<T> {
    /// A value, cached with the family's TTLs (and a stale copy where kept).
    Value(T),
    /// A business failure, cached with the negative TTL.
    Negative(Negative),
}

/// A cached entry.
#[derive(Debug)]
pub enum Cached<T> {
    /// A value.
    Value(Arc<T>),
    /// A cached business failure.
    Negative(Arc<Negative>),
}

impl<T> Clone for Cached<T> {
    fn clone(&self) -> Self {
        match self {
            Self::Value(v) => Self::Value(Arc::clone(v)),
            Self::Negative(n) => Self::Negative(Arc::clone(n)),
        }
    }
}

/// Where an answer came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The process's L1.
    L1,
    /// Redis.
    L2,
    /// The loader ran (for this caller or for a concurrent one it waited for).
    Loaded,
}

/// The answer of [`Cache::get`] / [`Cache::get_or_load`].
#[derive(Debug, Clone)]
pub struct Lookup<T> {
    /// The entry.
    pub entry: Cached<T>,
    /// Where it came from (`cached` in docs/api.md §3.2 is `source != Loaded`).
    pub source: Source,
    /// When the loader produced it.
    pub cached_at: DateTime<Utc>,
}

/// A stale copy (docs/api.md §3.4).
#[derive(Debug, Clone)]
pub struct Stale<T> {
    /// The value.
    pub value: Arc<T>,
    /// When it was loaded (`data.cachedAt`).
    pub cached_at: DateTime<Utc>,
}

/// What [`Cache::invalidate`] removes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Invalidate {
    /// Fresh value and negative entry; the stale copy stays usable during a KOS outage.
    Fresh,
    /// Everything, stale copy included (the data is known to be wrong now).
    All,
}

type AnyArc = Arc<dyn Any + Send + Sync>;

#[derive(Clone)]
enum Slot {
    Value(AnyArc),
    Negative(Arc<Negative>),
}

#[derive(Clone)]
struct L1Entry {
    slot: Slot,
    ttl: Duration,
    source: Source,
    cached_at: DateTime<Utc>,
}

#[derive(Clone)]
struct StaleEntry {
    value: AnyArc,
    ttl: Duration,
    cached_at: DateTime<Utc>,
}

struct L1Expiry;

impl Expiry<Arc<str>, L1Entry> for L1Expiry {
    fn expire_after_create(
        &self,
        _key: &Arc<str>,
        value: &L1Entry,
        _created_at: std::time::Instant,
    ) -> Option<Duration> {
        Some(value.ttl)
    }
}

impl Expiry<Arc<str>, StaleEntry> for L1Expiry {
    fn expire_after_create(
        &self,
        _key: &Arc<str>,
        value: &StaleEntry,
        _created_at: std::time::Instant,
    ) -> Option<Duration> {
        Some(value.ttl)
    }
}

/// The JSON stored in Redis: the value with the time it was loaded.
#[derive(Serialize)]
struct StoredRef<'a, T> {
    #[serde(rename = "cachedAt")]
    cached_at: DateTime<Utc>,
    value: &'a T,
}

#[derive(Deserialize)]
struct Stored<T> {
    #[serde(rename = "cachedAt")]
    cached_at: DateTime<Utc>,
    value: T,
}

/// Pre-resolved counters of one family (no label look-up on the hot path).
#[derive(Clone)]
struct FamilyCounters {
    l1_hit: IntCounter,
    l1_miss: IntCounter,
    l2_hit: IntCounter,
    l2_miss: IntCounter,
    l2_error: IntCounter,
    stale_served: IntCounter,
}

impl FamilyCounters {
    fn resolve(metrics: &Metrics, f: Family) -> Self {
        let c = |level: &str, result: &str| {
            metrics
                .cache_requests
                .with_label_values(&[f.label(), level, result])
        };
        Self {
            l1_hit: c("l1", "hit"),
            l1_miss: c("l1", "miss"),
            l2_hit: c("l2", "hit"),
            l2_miss: c("l2", "miss"),
            l2_error: c("l2", "error"),
            stale_served: metrics.cache_stale_served.with_label_values(&[f.label()]),
        }
    }
}

/// The two-level cache. Cheap to clone; clones share everything.
#[derive(Clone)]
pub struct Cache {
    inner: Arc<Inner>,
}

impl fmt::Debug for Cache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cache")
            .field("prefix", &self.inner.config.prefix)
            .field("redis", &self.inner.l2.is_some())
            .finish()
    }
}

struct Inner {
    config: CacheConfig,
    l1: moka::future::Cache<Arc<str>, L1Entry>,
    stale: moka::future::Cache<Arc<str>, StaleEntry>,
    l2: Option<Arc<L2>>,
    /// The declared families' counters; a handful, so a linear scan beats hashing.
    counters: Vec<(Family, FamilyCounters)>,
    metrics: Metrics,
    channel: String,
    subscribed: watch::Receiver<bool>,
    cancel: CancellationToken,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl Cache {
    /// Builds the cache. With a Redis URL this spawns the invalidation subscriber (so it must be
    /// called inside a tokio runtime); the subscriber stops when `shutdown` is cancelled or on
    /// [`Cache::close`]. Nothing connects to Redis here: a service starts while Redis is down.
    pub fn new(
        config: CacheConfig,
        metrics: &Metrics,
        shutdown: &CancellationToken,
    ) -> Result<Self, CacheError> {
        let l1 = moka::future::Cache::builder()
            .name("l1")
            .max_capacity(config.l1_capacity)
            .expire_after(L1Expiry)
            .build();
        let stale = moka::future::Cache::builder()
            .name("l1-stale")
            .max_capacity(config.l1_capacity)
            .expire_after(L1Expiry)
            .build();
        let l2 = match &config.redis {
            None => None,
            Some(redis) => Some(Arc::new(
                L2::new(L2Settings {
                    redis: redis.clone(),
                    timeout: config.redis_timeout,
                    failure_threshold: config.l2_failure_threshold,
                    cooldown: config.l2_cooldown,
                })
                .map_err(CacheError)?,
            )),
        };
        let counters = config
            .families
            .iter()
            .map(|&f| (f, FamilyCounters::resolve(metrics, f)))
            .collect();
        let channel = format!("{}:{SCHEMA_VERSION}:cache:invalidate", config.prefix);
        let (sub_tx, sub_rx) = watch::channel(false);
        let cancel = shutdown.child_token();
        let cache = Self {
            inner: Arc::new(Inner {
                config,
                l1,
                stale,
                l2: l2.clone(),
                counters,
                metrics: metrics.clone(),
                channel: channel.clone(),
                subscribed: sub_rx,
                cancel: cancel.clone(),
                task: Mutex::new(None),
            }),
        };
        if let Some(l2) = l2 {
            let task = tokio::spawn(subscriber(
                l2,
                channel,
                cache.inner.l1.clone(),
                cache.inner.stale.clone(),
                sub_tx,
                cancel,
            ));
            if let Ok(mut slot) = cache.inner.task.lock() {
                *slot = Some(task);
            }
        }
        Ok(cache)
    }

    /// The settings.
    pub fn config(&self) -> &CacheConfig {
        &self.inner.config
    }

    /// Whether a Redis level is configured.
    pub fn has_redis(&self) -> bool {
        self.inner.l2.is_some()
    }

    /// Whether L2 is currently skipped after repeated failures.
    pub fn l2_in_cooldown(&self) -> bool {
        self.inner.l2.as_ref().is_some_and(|l2| l2.in_cooldown())
    }

    /// Stops the invalidation subscriber and waits for it.
    pub async fn close(&self) {
        self.inner.cancel.cancel();
        let task = self.inner.task.lock().ok().and_then(|mut t| t.take());
        if let Some(task) = task {
            let _ = task.await;
        }
    }

    /// Waits until the invalidation subscriber is subscribed (returns at once without Redis).
    pub async fn wait_subscribed(&self) {
        if self.inner.l2.is_none() {
            return;
        }
        let mut rx = self.inner.subscribed.clone();
        let _ = rx.wait_for(|s| *s).await;
    }

    /// Whether L1 holds `key` (tests and diagnostics).
    pub fn l1_contains<T>(&self, key: &CacheKey<T>) -> bool {
        let k = key.render(&self.inner.config.prefix, None);
        self.inner.l1.contains_key(k.as_str())
    }

    /// The full Redis key of `key`'s fresh value (tests and diagnostics).
    pub fn redis_key<T>(&self, key: &CacheKey<T>) -> String {
        key.render(&self.inner.config.prefix, None)
    }

    fn counters(&self, f: Family) -> Cow<'_, FamilyCounters> {
        match self.inner.counters.iter().find(|(g, _)| *g == f) {
            Some((_, c)) => Cow::Borrowed(c),
            None => Cow::Owned(FamilyCounters::resolve(&self.inner.metrics, f)),
        }
    }

    /// Looks `key` up in L1, then L2 (an L2 hit is put into L1). Never calls a loader.
    pub async fn get<T>(&self, key: &CacheKey<T>) -> Option<Lookup<T>>
    where
        T: DeserializeOwned + Send + Sync + 'static,
    {
        let k: Arc<str> = Arc::from(key.render(&self.inner.config.prefix, None));
        if let Some(hit) = self.l1_get(key, &k).await {
            return Some(hit);
        }
        let entry = self.l2_get(key).await?;
        self.inner.l1.insert(Arc::clone(&k), entry.clone()).await;
        lookup_of(key, &entry)
    }

    /// Returns the cached entry for `key` or runs `load` once for all concurrent callers that
    /// miss, caching what it returns. A loader error is handed to every waiting caller (hence
    /// `E: Clone`) and not cached.
    ///
    /// A key must always be used with the same `T` (its constructor fixes it); should another
    /// type sit under the key, the loader's answer is returned uncached and an error is logged.
    pub async fn get_or_load<T, E, F, Fut>(
        &self,
        key: &CacheKey<T>,
        load: F,
    ) -> Result<Lookup<T>, E>
    where
        T: Serialize + DeserializeOwned + Send + Sync + 'static,
        E: Clone + Send + Sync + 'static,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Loaded<T>, E>>,
    {
        let k: Arc<str> = Arc::from(key.render(&self.inner.config.prefix, None));
        if let Some(hit) = self.l1_get(key, &k).await {
            return Ok(hit);
        }
        let mut load = Some(load);
        let entry = {
            let load = &mut load;
            // `None` as the error means "no loader left", which moka's run-once contract rules out.
            let init = async {
                if let Some(e) = self.l2_get(key).await {
                    return Ok(e);
                }
                let f = load.take().ok_or(None)?;
                let loaded = f().await.map_err(Some)?;
                Ok(self.store(key, loaded).await)
            };
            // Boxed: moka's entry future is ~16 KiB and would bloat every caller's future.
            Box::pin(
                self.inner
                    .l1
                    .entry(Arc::clone(&k))
                    .or_try_insert_with::<_, Option<E>>(init),
            )
            .await
        };
        let fallback = match entry {
            Ok(e) => match lookup_of(key, e.value()) {
                Some(l) => return Ok(l),
                None => {
                    tracing::error!(
                        cache = key.family().label(),
                        "cache entry has an unexpected type; key used with two types"
                    );
                    self.inner.l1.invalidate(&k).await;
                    load.take()
                }
            },
            Err(shared) => match &*shared {
                Some(e) => return Err(e.clone()),
                None => load.take(),
            },
        };
        // Only reachable when the entry had another type (the loader did not run).
        let Some(f) = fallback else {
            unreachable!("cache loader consumed without producing an entry");
        };
        let cached_at = Utc::now();
        let entry = match f().await? {
            Loaded::Value(v) => Cached::Value(Arc::new(v)),
            Loaded::Negative(n) => Cached::Negative(Arc::new(n)),
        };
        Ok(Lookup {
            entry,
            source: Source::Loaded,
            cached_at,
        })
    }

    /// Caches `value` under `key` (e.g. a result that completed in the background).
    pub async fn put<T>(&self, key: &CacheKey<T>, value: T) -> Arc<T>
    where
        T: Serialize + Send + Sync + 'static,
    {
        let entry = self.store(key, Loaded::Value(value)).await;
        let k: Arc<str> = Arc::from(key.render(&self.inner.config.prefix, None));
        let out = match &entry.slot {
            Slot::Value(v) => Arc::clone(v).downcast::<T>().ok(),
            Slot::Negative(_) => None,
        };
        self.inner.l1.insert(k, entry).await;
        let Some(v) = out else {
            unreachable!("store() returns the value it was given");
        };
        v
    }

    /// Caches a business failure under `key` for the negative TTL.
    pub async fn put_negative<T>(&self, key: &CacheKey<T>, negative: Negative)
    where
        T: Serialize + Send + Sync + 'static,
    {
        let entry = self.store(key, Loaded::Negative(negative)).await;
        let k: Arc<str> = Arc::from(key.render(&self.inner.config.prefix, None));
        self.inner.l1.insert(k, entry).await;
    }

    /// The stale copy of `key` (docs/api.md §3.4), only for use when KOS failed: Redis first (shared,
    /// newest), then the process-local copy. Counts `cache_stale_served_total` when found.
    pub async fn get_stale<T>(&self, key: &CacheKey<T>) -> Option<Stale<T>>
    where
        T: DeserializeOwned + Send + Sync + 'static,
    {
        let family = key.family();
        if !family.keeps_stale() {
            return None;
        }
        let mut found = None;
        if let Some(l2) = &self.inner.l2 {
            let rk = key.render(&self.inner.config.prefix, Some("stale"));
            if let Ok(Some(bytes)) = l2
                .exec::<Option<Vec<u8>>>("get_stale", Op::Cmd(redis::cmd("GET").arg(&rk)))
                .await
            {
                match serde_json::from_slice::<Stored<T>>(&bytes) {
                    Ok(s) => {
                        found = Some(Stale {
                            value: Arc::new(s.value),
                            cached_at: s.cached_at,
                        });
                    }
                    Err(e) => l2.log_rate_limited("decode_stale", &e),
                }
            }
        }
        if found.is_none() {
            let k = key.render(&self.inner.config.prefix, None);
            if let Some(e) = self.inner.stale.get(k.as_str()).await
                && let Ok(v) = e.value.downcast::<T>()
            {
                found = Some(Stale {
                    value: v,
                    cached_at: e.cached_at,
                });
            }
        }
        if found.is_some() {
            self.counters(family).stale_served.inc();
        }
        found
    }

    /// Removes `key` here and in Redis, and tells every other instance to drop its L1 copy.
    pub async fn invalidate<T>(&self, key: &CacheKey<T>, what: Invalidate) {
        let prefix = &self.inner.config.prefix;
        let k = key.render(prefix, None);
        self.inner.l1.invalidate(k.as_str()).await;
        if what == Invalidate::All {
            self.inner.stale.invalidate(k.as_str()).await;
        }
        if let Some(l2) = &self.inner.l2 {
            // One DEL per key: the keys of one entry lie in different cluster slots.
            let mut cmds = vec![
                redis::cmd("DEL").arg(&k).clone(),
                redis::cmd("DEL")
                    .arg(key.render(prefix, Some("neg")))
                    .clone(),
            ];
            if what == Invalidate::All {
                cmds.push(
                    redis::cmd("DEL")
                        .arg(key.render(prefix, Some("stale")))
                        .clone(),
                );
            }
            let tag = if what == Invalidate::All { "A" } else { "F" };
            cmds.push(
                redis::cmd("PUBLISH")
                    .arg(&self.inner.channel)
                    .arg(format!("{tag}|{k}"))
                    .clone(),
            );
            if let Err(e) = l2.exec::<redis::Value>("invalidate", Op::Each(&cmds)).await {
                // Other replicas keep their L1 copy until its TTL (at most L1 TTL).
                tracing::debug!(error = %e, "cache invalidation not published");
            }
        }
    }

    async fn l1_get<T>(&self, key: &CacheKey<T>, k: &Arc<str>) -> Option<Lookup<T>>
    where
        T: Send + Sync + 'static,
    {
        let c = self.counters(key.family());
        match self.inner.l1.get(k).await {
            Some(e) => match lookup_of(key, &e) {
                Some(mut l) => {
                    c.l1_hit.inc();
                    l.source = Source::L1;
                    Some(l)
                }
                None => {
                    c.l1_miss.inc();
                    None
                }
            },
            None => {
                c.l1_miss.inc();
                None
            }
        }
    }

    /// The L2 look-up: fresh and negative keys in one round trip. Errors degrade to a miss.
    async fn l2_get<T>(&self, key: &CacheKey<T>) -> Option<L1Entry>
    where
        T: DeserializeOwned + Send + Sync + 'static,
    {
        let l2 = self.inner.l2.as_ref()?;
        let c = self.counters(key.family());
        let prefix = &self.inner.config.prefix;
        // Two GETs sent together, not one MGET: the keys lie in different cluster slots.
        let cmds = [
            redis::cmd("GET").arg(key.render(prefix, None)).clone(),
            redis::cmd("GET")
                .arg(key.render(prefix, Some("neg")))
                .clone(),
        ];
        let (fresh, neg) = match l2
            .exec::<(Option<Vec<u8>>, Option<Vec<u8>>)>("get", Op::Each(&cmds))
            .await
        {
            Ok(v) => v,
            Err(_) => {
                c.l2_error.inc();
                return None;
            }
        };
        let family = key.family();
        let now = Utc::now();
        // Never keep a value in L1 past its Redis expiry.
        let remaining = |cached_at: DateTime<Utc>, ttl: Duration| {
            let age = (now - cached_at).to_std().unwrap_or_default();
            ttl.saturating_sub(age)
        };
        if let Some(bytes) = fresh {
            match serde_json::from_slice::<Stored<T>>(&bytes) {
                Ok(s) => {
                    c.l2_hit.inc();
                    let ttl = remaining(s.cached_at, self.inner.config.l2_ttl(family))
                        .min(self.inner.config.l1_ttl);
                    return Some(L1Entry {
                        slot: Slot::Value(Arc::new(s.value)),
                        ttl,
                        source: Source::L2,
                        cached_at: s.cached_at,
                    });
                }
                Err(e) => l2.log_rate_limited("decode", &e),
            }
        }
        if let Some(bytes) = neg {
            match serde_json::from_slice::<Stored<Negative>>(&bytes) {
                Ok(s) => {
                    c.l2_hit.inc();
                    let ttl = remaining(s.cached_at, self.inner.config.negative_ttl)
                        .min(self.inner.config.l1_ttl);
                    return Some(L1Entry {
                        slot: Slot::Negative(Arc::new(s.value)),
                        ttl,
                        source: Source::L2,
                        cached_at: s.cached_at,
                    });
                }
                Err(e) => l2.log_rate_limited("decode", &e),
            }
        }
        c.l2_miss.inc();
        None
    }

    /// Encodes `loaded` once, writes it to Redis (fresh + stale, or negative) and the local
    /// stale copy, and returns the L1 entry.
    async fn store<T>(&self, key: &CacheKey<T>, loaded: Loaded<T>) -> L1Entry
    where
        T: Serialize + Send + Sync + 'static,
    {
        let cfg = &self.inner.config;
        let family = key.family();
        let cached_at = Utc::now();
        match loaded {
            Loaded::Value(v) => {
                let value = Arc::new(v);
                let fresh_ttl = cfg.l2_ttl(family);
                let stale_ttl = fresh_ttl + cfg.stale_window;
                if family.keeps_stale() && !cfg.stale_window.is_zero() {
                    let any: AnyArc = value.clone();
                    self.inner
                        .stale
                        .insert(
                            Arc::from(key.render(&cfg.prefix, None)),
                            StaleEntry {
                                value: any,
                                ttl: stale_ttl,
                                cached_at,
                            },
                        )
                        .await;
                }
                if let Some(l2) = &self.inner.l2 {
                    match serde_json::to_vec(&StoredRef {
                        cached_at,
                        value: &*value,
                    }) {
                        Ok(bytes) => {
                            let mut cmds = vec![
                                redis::cmd("SET")
                                    .arg(key.render(&cfg.prefix, None))
                                    .arg(&bytes)
                                    .arg("PX")
                                    .arg(millis(fresh_ttl))
                                    .clone(),
                            ];
                            if family.keeps_stale() && !cfg.stale_window.is_zero() {
                                cmds.push(
                                    redis::cmd("SET")
                                        .arg(key.render(&cfg.prefix, Some("stale")))
                                        .arg(&bytes)
                                        .arg("PX")
                                        .arg(millis(stale_ttl))
                                        .clone(),
                                );
                            }
                            let _ = l2.exec::<redis::Value>("set", Op::Each(&cmds)).await;
                        }
                        Err(e) => {
                            tracing::error!(cache = family.label(), error = %e, "cache value not serialisable; kept in L1 only");
                        }
                    }
                }
                L1Entry {
                    slot: Slot::Value(value),
                    ttl: cfg.l1_ttl_for(family),
                    source: Source::Loaded,
                    cached_at,
                }
            }
            Loaded::Negative(n) => {
                if let Some(l2) = &self.inner.l2
                    && let Ok(bytes) = serde_json::to_vec(&StoredRef {
                        cached_at,
                        value: &n,
                    })
                {
                    let mut cmd = redis::cmd("SET");
                    cmd.arg(key.render(&cfg.prefix, Some("neg")))
                        .arg(bytes)
                        .arg("PX")
                        .arg(millis(cfg.negative_ttl));
                    let _ = l2.exec::<()>("set_negative", Op::Cmd(&cmd)).await;
                }
                L1Entry {
                    slot: Slot::Negative(Arc::new(n)),
                    ttl: cfg.negative_ttl.min(cfg.l1_ttl),
                    source: Source::Loaded,
                    cached_at,
                }
            }
        }
    }

    /// A readiness check named `redis` (never critical: Redis degrades to L1).
    pub fn health_check(&self) -> Arc<dyn HealthCheck> {
        Arc::new(RedisHealth {
            cache: self.clone(),
        })
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1)
}

fn lookup_of<T: Send + Sync + 'static>(_key: &CacheKey<T>, e: &L1Entry) -> Option<Lookup<T>> {
    let entry = match &e.slot {
        Slot::Value(v) => Cached::Value(Arc::clone(v).downcast::<T>().ok()?),
        Slot::Negative(n) => Cached::Negative(Arc::clone(n)),
    };
    Some(Lookup {
        entry,
        source: e.source,
        cached_at: e.cached_at,
    })
}

struct RedisHealth {
    cache: Cache,
}

#[async_trait::async_trait]
impl HealthCheck for RedisHealth {
    fn name(&self) -> String {
        "redis".into()
    }
    fn critical(&self) -> bool {
        false
    }
    async fn check(&self) -> ComponentHealth {
        match &self.cache.inner.l2 {
            None => ComponentHealth::disabled(),
            Some(l2) => match l2.ping().await {
                Ok(()) => ComponentHealth::up(),
                Err(e) => ComponentHealth::down(e.to_string()),
            },
        }
    }
}

/// The invalidation subscriber: drops L1 copies of keys published by any instance.
async fn subscriber(
    l2: Arc<L2>,
    channel: String,
    l1: moka::future::Cache<Arc<str>, L1Entry>,
    stale: moka::future::Cache<Arc<str>, StaleEntry>,
    subscribed: watch::Sender<bool>,
    cancel: CancellationToken,
) {
    const MIN_BACKOFF: Duration = Duration::from_millis(100);
    const MAX_BACKOFF: Duration = Duration::from_secs(5);
    const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
    // ±25 % so that instances which lost the same Redis do not all reconnect at once.
    let mut backoff = Backoff::new(MIN_BACKOFF, MAX_BACKOFF).with_jitter(0.25);
    loop {
        let connect = l2.client.subscribe(&channel);
        let connected = tokio::select! {
            () = cancel.cancelled() => return,
            r = tokio::time::timeout(CONNECT_TIMEOUT, connect) => r,
        };
        match connected {
            Ok(Ok(mut ps)) => {
                // Invalidations published while we were not subscribed were missed.
                l1.invalidate_all();
                backoff.reset();
                subscribed.send_replace(true);
                tracing::debug!("cache invalidation subscriber connected");
                loop {
                    let msg = tokio::select! {
                        () = cancel.cancelled() => {
                            subscribed.send_replace(false);
                            return;
                        }
                        m = ps.next() => m,
                    };
                    let Some(payload) = msg else { break };
                    let (tag, key) = payload.split_once('|').unwrap_or(("F", payload.as_str()));
                    l1.invalidate(key).await;
                    if tag == "A" {
                        stale.invalidate(key).await;
                    }
                }
                subscribed.send_replace(false);
                l2.log_rate_limited("subscribe", &"invalidation subscription lost; reconnecting");
            }
            Ok(Err(e)) => l2.log_rate_limited("subscribe", &e),
            Err(_) => l2.log_rate_limited("subscribe", &L2Error::Timeout),
        }
        let wait = backoff.next();
        tokio::select! {
            () = cancel.cancelled() => return,
            () = tokio::time::sleep(wait) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    const A: Family = Family::new("fam_a", "fam:a", "FAM_A", Duration::from_secs(3600));
    const B: Family =
        Family::new("fam_b", "fam:b", "FAM_B", Duration::from_secs(60)).keeping_stale();

    fn env(vars: &[(&str, &str)]) -> HashMap<String, String> {
        vars.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn from_env_reads_the_overrides_of_the_declared_families() {
        let vars = env(&[
            ("CACHE_TTL_FAM_A_SECONDS", "10"),
            ("CACHE_TTL_OTHER_SECONDS", "0"),
        ]);
        let cfg = CacheConfig::from_env(Env::new(&vars), &[A, B, A]).expect("valid");
        assert_eq!(
            cfg.families,
            vec![A, B],
            "a family declared twice counts once"
        );
        assert_eq!(cfg.l2_ttl(A), Duration::from_secs(10));
        assert_eq!(cfg.l2_ttl(B), Duration::from_secs(60));
        assert_eq!(
            cfg.l1_ttl_for(B),
            Duration::from_secs(60),
            "L1 never outlives L2"
        );

        let zero = env(&[("CACHE_TTL_FAM_B_SECONDS", "0")]);
        let err = CacheConfig::from_env(Env::new(&zero), &[A, B]).expect_err("0 is refused");
        assert_eq!(err.var, "CACHE_TTL_FAM_B_SECONDS");
    }

    #[tokio::test]
    async fn declared_families_have_series_from_the_start_and_others_still_count() {
        let m = Metrics::new();
        let cfg = CacheConfig {
            families: vec![A],
            ..CacheConfig::default()
        };
        let c = Cache::new(cfg, &m, &CancellationToken::new()).expect("cache");
        let text = m.render();
        assert!(
            text.contains(r#"cache_requests_total{cache="fam_a",level="l1",result="hit"} 0"#),
            "{text}"
        );
        assert!(!text.contains(r#"cache="fam_b""#), "{text}");
        let k: CacheKey<u32> = CacheKey::new(B, &["x"]);
        assert!(c.get(&k).await.is_none());
        c.put(&k, 7).await;
        assert!(c.get(&k).await.is_some());
        let count = |result: &str| {
            m.cache_requests
                .with_label_values(&["fam_b", "l1", result])
                .get()
        };
        assert_eq!((count("miss"), count("hit")), (1, 1));
    }
}
