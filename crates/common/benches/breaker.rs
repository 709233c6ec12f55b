//! Circuit-breaker overhead on the closed path (target < 100 ns per call): admission plus
//! recording a success, with and without a wrapped async call.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use phonebill_common::breaker::{BreakerConfig, CircuitBreaker};
use phonebill_common::metrics::Metrics;

fn closed_path(c: &mut Criterion) {
    let m = Metrics::new();
    let b = CircuitBreaker::new("kos", BreakerConfig::default(), &m);
    c.bench_function("breaker/closed/acquire+success", |bench| {
        bench.iter(|| {
            let p = black_box(&b).try_acquire().expect("closed");
            p.success();
        });
    });
    c.bench_function("breaker/closed/acquire+failure-below-threshold", |bench| {
        // A failure then a success, so the breaker stays closed: the worst closed-path case.
        bench.iter(|| {
            black_box(&b).try_acquire().expect("closed").failure();
            black_box(&b).try_acquire().expect("closed").success();
        });
    });
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    c.bench_function("breaker/closed/call(ready future)", |bench| {
        bench.to_async(&rt).iter(|| async {
            black_box(
                b.call(async { Ok::<u32, ()>(1) }, Result::is_err)
                    .await
                    .expect("closed"),
            )
        });
    });
    c.bench_function("baseline/ready future", |bench| {
        bench
            .to_async(&rt)
            .iter(|| async { black_box(async { Ok::<u32, ()>(1) }.await) });
    });
}

criterion_group!(benches, closed_path);
criterion_main!(benches);
