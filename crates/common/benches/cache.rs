//! Cache hit latency: L1 (target < 1 µs, typed value, no decoding) and L2 against the local
//! Redis (`PHONEBILL_TEST_REDIS_URL`, default `redis://127.0.0.1:6379`; skipped with a note if
//! it does not answer).

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use phonebill_common::cache::{Cache, CacheConfig, Loaded};
use phonebill_common::contract::bill_cache;
use phonebill_common::metrics::Metrics;
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

/// A bill-sized value (the shape of docs/api.md §3.2's `data`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct BillData {
    line_number: String,
    billing_month: String,
    product_code: String,
    product_name: String,
    monthly_fee: i64,
    usage_fee: i64,
    discount_amount: i64,
    total_fee: i64,
    data_usage: String,
    voice_usage: String,
    sms_usage: String,
    bill_status: String,
    due_date: String,
    customer_name: String,
    customer_id: String,
}

fn sample() -> BillData {
    BillData {
        line_number: "01012345678".into(),
        billing_month: "202509".into(),
        product_code: "5G-STANDARD-001".into(),
        product_name: "5G 스탠다드 플랜".into(),
        monthly_fee: 69000,
        usage_fee: 12340,
        discount_amount: 0,
        total_fee: 81340,
        data_usage: "37GB".into(),
        voice_usage: "212분".into(),
        sms_usage: "41건".into(),
        bill_status: "UNPAID".into(),
        due_date: "20251025".into(),
        customer_name: "홍길동".into(),
        customer_id: "CU202401001".into(),
    }
}

fn redis_url() -> String {
    std::env::var("PHONEBILL_TEST_REDIS_URL")
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "redis://127.0.0.1:6379".to_owned())
}

fn hits(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let m = Metrics::new();
    let cancel = CancellationToken::new();
    let prefix = format!("bench{}", std::process::id());

    let l1_only = rt.block_on(async {
        let cache = Cache::new(
            CacheConfig {
                prefix: prefix.clone(),
                families: vec![bill_cache::FAMILY],
                ..CacheConfig::default()
            },
            &m,
            &cancel,
        )
        .expect("cache");
        let key = bill_cache::key::<BillData>("01012345678", "202509");
        cache.put(&key, sample()).await;
        (cache, key)
    });
    c.bench_function("cache/l1_hit/get_or_load", |b| {
        let (cache, key) = &l1_only;
        b.to_async(&rt).iter(|| async {
            black_box(
                cache
                    .get_or_load(key, || async { Ok::<_, ()>(Loaded::Value(sample())) })
                    .await
                    .expect("hit"),
            )
        });
    });

    // L2 hit: a second instance whose L1 TTL is 1 ms, so every read goes to Redis.
    let l2 = rt.block_on(async {
        let writer = Cache::new(
            CacheConfig {
                prefix: prefix.clone(),
                families: vec![bill_cache::FAMILY],
                redis: Some(phonebill_common::redis_conn::RedisConfig::new(redis_url())),
                ..CacheConfig::default()
            },
            &m,
            &cancel,
        )
        .expect("cache");
        let key = bill_cache::key::<BillData>("01012345678", "202509");
        writer.put(&key, sample()).await;
        let reader = Cache::new(
            CacheConfig {
                prefix: prefix.clone(),
                families: vec![bill_cache::FAMILY],
                redis: Some(phonebill_common::redis_conn::RedisConfig::new(redis_url())),
                l1_capacity: 1,
                l1_ttl: Duration::from_nanos(1),
                ..CacheConfig::default()
            },
            &m,
            &cancel,
        )
        .expect("cache");
        let ok = reader.get(&key).await.is_some();
        (reader, key, ok)
    });
    if l2.2 {
        c.bench_function("cache/l2_hit/get (local Redis, JSON decode)", |b| {
            let (cache, key, _) = &l2;
            b.to_async(&rt)
                .iter(|| async { black_box(cache.get(key).await.expect("L2 hit")) });
        });
    } else {
        eprintln!(
            "Redis at {} not answering: L2 benchmark not run",
            redis_url()
        );
    }

    c.bench_function("serde_json/decode bill (for comparison)", |b| {
        let bytes = serde_json::to_vec(&sample()).expect("json");
        b.iter(|| {
            black_box(serde_json::from_slice::<BillData>(black_box(&bytes)).expect("decode"))
        });
    });
    cancel.cancel();
}

criterion_group!(benches, hits);
criterion_main!(benches);
