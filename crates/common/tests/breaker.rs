//! The circuit breaker's full state machine under tokio's paused clock (no real sleeping).

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use phonebill_common::breaker::{BreakerConfig, BreakerState, CircuitBreaker};
use phonebill_common::metrics::Metrics;
use tokio::sync::Notify;

fn breaker() -> (CircuitBreaker, Metrics) {
    let m = Metrics::new();
    (CircuitBreaker::new("kos", BreakerConfig::default(), &m), m)
}

fn fail(b: &CircuitBreaker, n: u32) {
    for _ in 0..n {
        b.try_acquire().expect("admitted").failure();
    }
}

fn transitions(m: &Metrics, from: &str, to: &str) -> u64 {
    m.breaker_transitions
        .with_label_values(&["kos", from, to])
        .get()
}

fn gauge(m: &Metrics) -> i64 {
    m.breaker_state.with_label_values(&["kos"]).get()
}

#[tokio::test(start_paused = true)]
async fn opens_after_five_consecutive_failures_only() {
    let (b, m) = breaker();
    fail(&b, 4);
    b.try_acquire().expect("closed").success();
    assert_eq!(b.consecutive_failures(), 0, "a success resets the count");
    fail(&b, 4);
    assert_eq!(b.state(), BreakerState::Closed);
    assert_eq!(gauge(&m), 0);
    fail(&b, 1);
    assert_eq!(b.state(), BreakerState::Open);
    assert_eq!(gauge(&m), 1);
    assert_eq!(transitions(&m, "closed", "open"), 1);

    let rejected = b.try_acquire().expect_err("open rejects");
    assert_eq!(rejected.retry_after, Duration::from_secs(60));
    assert_eq!(rejected.retry_after_secs(), 60);
}

#[tokio::test(start_paused = true)]
async fn reports_the_remaining_open_time_then_goes_half_open() {
    let (b, m) = breaker();
    fail(&b, 5);
    tokio::time::advance(Duration::from_millis(20_500)).await;
    let e = b.try_acquire().expect_err("still open");
    assert_eq!(e.retry_after, Duration::from_millis(39_500));
    assert_eq!(e.retry_after_secs(), 40);
    tokio::time::advance(Duration::from_millis(39_499)).await;
    assert_eq!(
        b.try_acquire().expect_err("1 ms left").retry_after_secs(),
        1
    );
    tokio::time::advance(Duration::from_millis(1)).await;
    let p = b.try_acquire().expect("trial admitted after 60 s");
    assert_eq!(b.state(), BreakerState::HalfOpen);
    assert_eq!(gauge(&m), 2);
    assert_eq!(transitions(&m, "open", "half_open"), 1);
    p.success();
}

#[tokio::test(start_paused = true)]
async fn half_open_admits_exactly_three_concurrent_trials_and_closes_when_they_succeed() {
    let (b, m) = breaker();
    fail(&b, 5);
    tokio::time::advance(Duration::from_secs(60)).await;

    let release = Arc::new(Notify::new());
    let started = Arc::new(AtomicU32::new(0));
    let mut tasks = Vec::new();
    for _ in 0..10 {
        let b = b.clone();
        let release = release.clone();
        let started = started.clone();
        tasks.push(tokio::spawn(async move {
            b.call(
                async {
                    started.fetch_add(1, Ordering::SeqCst);
                    release.notified().await;
                    Ok::<_, ()>(())
                },
                Result::is_err,
            )
            .await
        }));
    }
    // Let every task reach its admission decision.
    while started.load(Ordering::SeqCst) < 3 {
        tokio::task::yield_now().await;
    }
    for _ in 0..20 {
        tokio::task::yield_now().await;
    }
    assert_eq!(started.load(Ordering::SeqCst), 3, "exactly 3 trials run");
    assert_eq!(b.state(), BreakerState::HalfOpen);
    release.notify_waiters();
    let mut admitted = 0;
    let mut rejected = 0;
    for t in tasks {
        match t.await.expect("task") {
            Ok(_) => admitted += 1,
            Err(e) => {
                assert_eq!(e.retry_after_secs(), 1);
                rejected += 1;
            }
        }
    }
    assert_eq!((admitted, rejected), (3, 7));
    assert_eq!(b.state(), BreakerState::Closed);
    assert_eq!(gauge(&m), 0);
    assert_eq!(transitions(&m, "half_open", "closed"), 1);
    assert_eq!(b.consecutive_failures(), 0);
}

#[tokio::test(start_paused = true)]
async fn a_failed_trial_reopens_for_a_full_period() {
    let (b, m) = breaker();
    fail(&b, 5);
    tokio::time::advance(Duration::from_secs(60)).await;
    let t1 = b.try_acquire().expect("trial 1");
    let t2 = b.try_acquire().expect("trial 2");
    t1.success();
    t2.failure();
    assert_eq!(b.state(), BreakerState::Open);
    assert_eq!(transitions(&m, "half_open", "open"), 1);
    assert_eq!(
        b.try_acquire().expect_err("open again").retry_after,
        Duration::from_secs(60)
    );
    // The third trial of the old half-open period reports late: no effect.
    tokio::time::advance(Duration::from_secs(60)).await;
    let trials: Vec<_> = (0..3)
        .map(|_| b.try_acquire().expect("new trial"))
        .collect();
    assert!(b.try_acquire().is_err(), "fourth concurrent trial rejected");
    for t in trials {
        t.success();
    }
    assert_eq!(b.state(), BreakerState::Closed);
    assert_eq!(transitions(&m, "open", "half_open"), 2);
}

#[tokio::test(start_paused = true)]
async fn a_dropped_trial_frees_its_slot() {
    let (b, _m) = breaker();
    fail(&b, 5);
    tokio::time::advance(Duration::from_secs(60)).await;
    let t1 = b.try_acquire().expect("1");
    let t2 = b.try_acquire().expect("2");
    let t3 = b.try_acquire().expect("3");
    assert!(b.try_acquire().is_err());
    drop(t3); // cancelled call: neutral
    let t4 = b.try_acquire().expect("slot freed");
    t1.success();
    t2.success();
    assert_eq!(
        b.state(),
        BreakerState::HalfOpen,
        "two successes are not enough"
    );
    t4.success();
    assert_eq!(b.state(), BreakerState::Closed);
}

#[tokio::test(start_paused = true)]
async fn late_outcomes_from_an_earlier_period_are_ignored() {
    let (b, _m) = breaker();
    let slow = b.try_acquire().expect("closed");
    fail(&b, 5);
    assert_eq!(b.state(), BreakerState::Open);
    tokio::time::advance(Duration::from_secs(60)).await;
    let trials: Vec<_> = (0..3).map(|_| b.try_acquire().expect("trial")).collect();
    // A call admitted while closed fails now: must not reopen the half-open breaker.
    slow.failure();
    assert_eq!(b.state(), BreakerState::HalfOpen);
    for t in trials {
        t.success();
    }
    assert_eq!(b.state(), BreakerState::Closed);
    assert_eq!(b.consecutive_failures(), 0);
}

#[tokio::test(start_paused = true)]
async fn numbers_are_configurable() {
    let m = Metrics::new();
    let b = CircuitBreaker::new(
        "kos",
        BreakerConfig {
            failure_threshold: 2,
            open_duration: Duration::from_secs(5),
            half_open_trials: 1,
        },
        &m,
    );
    fail(&b, 2);
    assert_eq!(b.state(), BreakerState::Open);
    assert_eq!(
        b.try_acquire().expect_err("open").retry_after,
        Duration::from_secs(5)
    );
    tokio::time::advance(Duration::from_secs(5)).await;
    let t = b.try_acquire().expect("one trial");
    assert!(b.try_acquire().is_err());
    t.success();
    assert_eq!(b.state(), BreakerState::Closed);
}

#[tokio::test(start_paused = true)]
async fn call_counts_only_what_the_classifier_calls_a_failure() {
    let (b, _m) = breaker();
    for _ in 0..10 {
        // e.g. a KOS business code or a 4xx: an Err that is not a breaker failure.
        let r = b
            .call(async { Err::<(), _>("4xx") }, |_| false)
            .await
            .expect("admitted");
        assert!(r.is_err());
    }
    assert_eq!(b.state(), BreakerState::Closed);
    for _ in 0..5 {
        let _ = b.call(async { Err::<(), _>("5xx") }, Result::is_err).await;
    }
    assert_eq!(b.state(), BreakerState::Open);
    let ran = AtomicU32::new(0);
    let r = b
        .call(
            async {
                ran.fetch_add(1, Ordering::SeqCst);
                Ok::<_, ()>(())
            },
            Result::is_err,
        )
        .await;
    assert!(r.is_err());
    assert_eq!(
        ran.load(Ordering::SeqCst),
        0,
        "a rejected call never starts"
    );
}
