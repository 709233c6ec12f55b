//! The two-level cache against the machine's real Redis (unique key prefix per test), against a
//! closed port and an unresponsive listener (Redis down), and without Redis at all.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use phonebill_common::cache::{
    Cache, CacheConfig, CacheKey, Cached, Family, Invalidate, Loaded, Negative, Source,
};
use phonebill_common::contract::bill_cache;
use phonebill_common::metrics::Metrics;
use phonebill_common::redis_conn::RedisConfig;
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Bill {
    line: String,
    total: i64,
}

fn redis_url() -> String {
    std::env::var("PHONEBILL_TEST_REDIS_URL")
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "redis://127.0.0.1:6379".to_owned())
}

fn unique_prefix() -> String {
    format!("t{}", &uuid::Uuid::new_v4().simple().to_string()[..12])
}

fn config(prefix: &str, url: Option<String>) -> CacheConfig {
    CacheConfig {
        prefix: prefix.to_owned(),
        redis: url.map(RedisConfig::new),
        ..CacheConfig::default()
    }
}

fn build(cfg: CacheConfig) -> (Cache, Metrics) {
    let m = Metrics::new();
    let c = Cache::new(cfg, &m, &CancellationToken::new()).expect("cache");
    (c, m)
}

fn count(m: &Metrics, cache: &str, level: &str, result: &str) -> u64 {
    m.cache_requests
        .with_label_values(&[cache, level, result])
        .get()
}

fn bill_key(month: &str) -> CacheKey<Bill> {
    bill_cache::key("01012345678", month)
}

/// Families shaped as the services define theirs (bill-inquiry's months, product-change's
/// customer), and two without a stale copy, as a session or static-content family would be.
const BILL_MONTHS: Family = Family::new(
    "bill_months",
    "bill:months",
    "BILL_MONTHS",
    Duration::from_secs(3600),
)
.keeping_stale();
const PRODUCT_CUSTOMER: Family = Family::new(
    "product_customer",
    "product:customer",
    "PRODUCT_CUSTOMER",
    Duration::from_secs(4 * 3600),
)
.keeping_stale();
const SESSION: Family = Family::new("session", "session", "SESSION", Duration::from_secs(1800));
const STATIC: Family = Family::new("static", "static", "STATIC", Duration::from_secs(86_400));

fn bill(total: i64) -> Bill {
    Bill {
        line: "01012345678".into(),
        total,
    }
}

async fn conn() -> redis::aio::MultiplexedConnection {
    redis::Client::open(redis_url())
        .expect("url")
        .get_multiplexed_async_connection()
        .await
        .expect("the test Redis at PHONEBILL_TEST_REDIS_URL must be running")
}

async fn pttl(key: &str) -> i64 {
    redis::cmd("PTTL")
        .arg(key)
        .query_async(&mut conn().await)
        .await
        .expect("pttl")
}

/// Polls `cond` every 10 ms for up to `secs` seconds.
async fn eventually<F, Fut>(secs: u64, what: &str, mut cond: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < deadline {
        if cond().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("timed out waiting for: {what}");
}

fn value<T>(c: &Cached<T>) -> &T {
    match c {
        Cached::Value(v) => v,
        Cached::Negative(n) => panic!("expected a value, got negative {n:?}"),
    }
}

async fn load_counting(
    cache: &Cache,
    key: &CacheKey<Bill>,
    calls: &AtomicU32,
    total: i64,
) -> phonebill_common::cache::Lookup<Bill> {
    cache
        .get_or_load(key, || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Ok::<_, String>(Loaded::Value(bill(total)))
        })
        .await
        .expect("loaded")
}

#[tokio::test]
async fn l1_only_without_redis() {
    let (c, m) = build(config(&unique_prefix(), None));
    assert!(!c.has_redis());
    let calls = AtomicU32::new(0);
    let k = bill_key("202509");
    let first = load_counting(&c, &k, &calls, 81340).await;
    assert_eq!(first.source, Source::Loaded);
    let second = load_counting(&c, &k, &calls, 1).await;
    assert_eq!(second.source, Source::L1);
    assert_eq!(value(&second.entry).total, 81340);
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert_eq!(count(&m, "bill", "l1", "miss"), 1);
    assert_eq!(count(&m, "bill", "l1", "hit"), 1);
    assert_eq!(count(&m, "bill", "l2", "error"), 0);
    // Stale copies work without Redis too (process-local).
    let stale = c.get_stale(&k).await.expect("local stale copy");
    assert_eq!(stale.value.total, 81340);
    assert_eq!(stale.cached_at, first.cached_at);
    assert_eq!(m.cache_stale_served.with_label_values(&["bill"]).get(), 1);
}

#[tokio::test]
async fn l2_is_shared_between_instances_with_the_spec_key_layout() {
    let prefix = unique_prefix();
    let (a, _) = build(config(&prefix, Some(redis_url())));
    let (b, mb) = build(config(&prefix, Some(redis_url())));
    let k = bill_key("202509");
    let calls = AtomicU32::new(0);
    assert_eq!(
        load_counting(&a, &k, &calls, 81340).await.source,
        Source::Loaded
    );
    let from_b = load_counting(&b, &k, &calls, 1).await;
    assert_eq!(from_b.source, Source::L2);
    assert_eq!(value(&from_b.entry).total, 81340);
    assert_eq!(calls.load(Ordering::SeqCst), 1, "B did not load");
    assert_eq!(count(&mb, "bill", "l2", "hit"), 1);
    assert!(b.l1_contains(&k), "an L2 hit is promoted to L1");
    assert_eq!(load_counting(&b, &k, &calls, 1).await.source, Source::L1);

    let fresh = format!("{prefix}:v1:bill:01012345678:202509");
    assert_eq!(a.redis_key(&k), fresh);
    let ttl = pttl(&fresh).await;
    assert!(
        (3_590_000..=3_600_000).contains(&ttl),
        "bill 1 h, got {ttl}"
    );
    let stale = pttl(&format!("{prefix}:v1:bill:stale:01012345678:202509")).await;
    assert!(
        (90_000_000 - 10_000..=90_000_000).contains(&stale),
        "stale copy 1 h + 24 h, got {stale}"
    );
    let raw: String = redis::cmd("GET")
        .arg(&fresh)
        .query_async(&mut conn().await)
        .await
        .expect("get");
    let json: serde_json::Value = serde_json::from_str(&raw).expect("json");
    assert_eq!(json["value"]["total"], 81340);
    assert!(json["cachedAt"].is_string());
}

#[tokio::test]
async fn each_family_gets_its_redis_ttl() {
    let prefix = unique_prefix();
    let (c, _) = build(config(&prefix, Some(redis_url())));
    let cases: [(Family, i64, bool); 5] = [
        (bill_cache::FAMILY, 3600, true),
        (BILL_MONTHS, 3600, true),
        (PRODUCT_CUSTOMER, 4 * 3600, true),
        (SESSION, 1800, false),
        (STATIC, 86_400, false),
    ];
    for (family, secs, stale) in cases {
        let k: CacheKey<Vec<String>> = CacheKey::new(family, &["x"]);
        c.put(&k, vec!["2025-09".to_owned()]).await;
        let ttl = pttl(&c.redis_key(&k)).await;
        assert!(
            (secs * 1000 - 10_000..=secs * 1000).contains(&ttl),
            "{family}: {ttl}"
        );
        let stale_key = format!("{prefix}:v1:{}:stale:x", family.segment());
        assert_eq!(pttl(&stale_key).await > 0, stale, "{family} stale copy");
    }
}

#[tokio::test]
async fn entries_expire_from_l1_and_l2() {
    let prefix = unique_prefix();
    let mut cfg = config(&prefix, Some(redis_url()));
    cfg.l1_ttl = Duration::from_millis(150);
    cfg.l2_ttl_overrides
        .insert(bill_cache::FAMILY, Duration::from_millis(400));
    cfg.stale_window = Duration::from_secs(30);
    let (c, _) = build(cfg);
    let k = bill_key("202508");
    c.put(&k, bill(5)).await;
    assert!(c.l1_contains(&k));
    eventually(5, "L1 expiry", || async { !c.l1_contains(&k) }).await;
    // Still in Redis: the next read is an L2 hit (kept in L1 only for the L2 time left).
    let l = c.get(&k).await.expect("L2 still has it");
    assert_eq!(l.source, Source::L2);
    eventually(5, "L2 expiry", || async { c.get(&k).await.is_none() }).await;
    // The stale copy outlives the fresh value.
    let stale = c.get_stale(&k).await.expect("stale copy");
    assert_eq!(stale.value.total, 5);
}

#[tokio::test]
async fn one_hundred_concurrent_misses_cause_one_load() {
    let prefix = unique_prefix();
    let (c, _) = build(config(&prefix, Some(redis_url())));
    let k = bill_key("202507");
    let calls = Arc::new(AtomicU32::new(0));
    let mut tasks = Vec::new();
    for _ in 0..100 {
        let c = c.clone();
        let k = k.clone();
        let calls = calls.clone();
        tasks.push(tokio::spawn(async move {
            c.get_or_load(&k, || async {
                calls.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(100)).await;
                Ok::<_, String>(Loaded::Value(bill(7)))
            })
            .await
        }));
    }
    for t in tasks {
        let l = t.await.expect("task").expect("value");
        assert_eq!(value(&l.entry).total, 7);
    }
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_load_error_is_shared_and_not_cached() {
    let (c, _) = build(config(&unique_prefix(), None));
    let k = bill_key("202506");
    let calls = Arc::new(AtomicU32::new(0));
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let c = c.clone();
        let k = k.clone();
        let calls = calls.clone();
        tasks.push(tokio::spawn(async move {
            c.get_or_load(&k, || async {
                calls.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(50)).await;
                Err::<Loaded<Bill>, _>("kos down".to_owned())
            })
            .await
        }));
    }
    for t in tasks {
        assert_eq!(t.await.expect("task").expect_err("error"), "kos down");
    }
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    let calls2 = AtomicU32::new(0);
    load_counting(&c, &k, &calls2, 3).await;
    assert_eq!(calls2.load(Ordering::SeqCst), 1, "the error was not cached");
}

#[tokio::test]
async fn business_failures_are_cached_negatively_for_a_short_time() {
    let prefix = unique_prefix();
    let (a, _) = build(config(&prefix, Some(redis_url())));
    let (b, _) = build(config(&prefix, Some(redis_url())));
    let k = bill_key("202401");
    let neg = Negative {
        code: "1003".into(),
        message: "해당 월 요금 정보가 없습니다".into(),
    };
    let calls = AtomicU32::new(0);
    let load = || async {
        calls.fetch_add(1, Ordering::SeqCst);
        Ok::<_, String>(Loaded::<Bill>::Negative(neg.clone()))
    };
    let first = a.get_or_load(&k, load).await.expect("ok");
    assert!(matches!(&first.entry, Cached::Negative(n) if n.code == "1003"));
    let again = a.get_or_load(&k, load).await.expect("ok");
    assert_eq!(again.source, Source::L1);
    let other = b.get_or_load(&k, load).await.expect("ok");
    assert_eq!(other.source, Source::L2);
    assert!(matches!(&other.entry, Cached::Negative(n) if *n.as_ref() == neg));
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    let ttl = pttl(&format!("{prefix}:v1:bill:neg:01012345678:202401")).await;
    assert!((50_000..=60_000).contains(&ttl), "negative TTL 60 s: {ttl}");
    assert_eq!(pttl(&a.redis_key(&k)).await, -2, "no fresh key");
    assert!(
        a.get_stale(&k).await.is_none(),
        "no stale copy of a failure"
    );
}

#[tokio::test]
async fn invalidation_on_one_instance_clears_l1_on_the_other() {
    let prefix = unique_prefix();
    let (a, _) = build(config(&prefix, Some(redis_url())));
    let (b, _) = build(config(&prefix, Some(redis_url())));
    tokio::time::timeout(Duration::from_secs(5), async {
        a.wait_subscribed().await;
        b.wait_subscribed().await;
    })
    .await
    .expect("both subscribed");
    let k = bill_key("202509");
    a.put(&k, bill(1)).await;
    assert_eq!(b.get(&k).await.expect("L2").source, Source::L2);
    assert!(b.l1_contains(&k));

    a.invalidate(&k, Invalidate::Fresh).await;
    assert!(!a.l1_contains(&k));
    eventually(5, "B drops its L1 copy", || async { !b.l1_contains(&k) }).await;
    assert!(b.get(&k).await.is_none(), "gone from Redis too");
    assert_eq!(
        b.get_stale(&k).await.expect("stale kept").value.total,
        1,
        "Fresh keeps the stale copy"
    );

    a.put(&k, bill(2)).await;
    a.invalidate(&k, Invalidate::All).await;
    assert_eq!(
        pttl(&format!("{prefix}:v1:bill:stale:01012345678:202509")).await,
        -2
    );
    assert!(a.get_stale(&k).await.is_none(), "All drops local stale too");
    a.close().await;
    b.close().await;
}

#[tokio::test]
async fn a_closed_port_degrades_to_l1_and_counts_errors() {
    // Port 1 on loopback: connection refused at once.
    let mut cfg = config(&unique_prefix(), Some("redis://127.0.0.1:1".into()));
    cfg.l2_failure_threshold = 3;
    cfg.l2_cooldown = Duration::from_secs(60);
    let (c, m) = build(cfg);
    let k = bill_key("202509");
    let calls = AtomicU32::new(0);
    let l = load_counting(&c, &k, &calls, 9).await;
    assert_eq!(l.source, Source::Loaded);
    assert_eq!(load_counting(&c, &k, &calls, 9).await.source, Source::L1);
    assert!(count(&m, "bill", "l2", "error") >= 1);
    for i in 0..3 {
        let k = bill_cache::key::<Bill>("01099999999", &format!("20250{i}"));
        load_counting(&c, &k, &calls, 1).await;
    }
    assert!(c.l2_in_cooldown(), "repeated failures start the cool-down");
    assert!(
        c.get_stale(&k).await.is_some(),
        "local stale copy still served"
    );
    let health = c.health_check().check().await;
    assert_eq!(
        serde_json::to_value(&health).expect("json")["status"],
        "DOWN"
    );
}

#[tokio::test]
async fn an_unresponsive_redis_adds_no_latency_after_the_cool_down_starts() {
    // A listener that accepts and never answers: every Redis operation runs into the timeout.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let hold = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = listener.accept().await {
            held.push(s);
        }
    });
    let mut cfg = config(&unique_prefix(), Some(format!("redis://{addr}")));
    cfg.redis_timeout = Duration::from_millis(200);
    cfg.l2_failure_threshold = 2;
    cfg.l2_cooldown = Duration::from_secs(60);
    let (c, m) = build(cfg);
    let calls = AtomicU32::new(0);

    let start = Instant::now();
    load_counting(&c, &bill_key("202509"), &calls, 1).await;
    let first = start.elapsed();
    assert!(
        first >= Duration::from_millis(200),
        "first miss waits for the timeout: {first:?}"
    );
    assert!(c.l2_in_cooldown());
    let errors = count(&m, "bill", "l2", "error");

    let start = Instant::now();
    for month in ["202508", "202507", "202506", "202505"] {
        let l = load_counting(&c, &bill_key(month), &calls, 1).await;
        assert_eq!(l.source, Source::Loaded);
    }
    let later = start.elapsed();
    assert!(
        later < Duration::from_millis(100),
        "four misses during the cool-down took {later:?}"
    );
    assert_eq!(
        count(&m, "bill", "l2", "error"),
        errors + 4,
        "skipped look-ups still count as errors"
    );
    hold.abort();
}
