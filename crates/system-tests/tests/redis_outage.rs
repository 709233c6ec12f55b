//! Redis killed (SIGKILL) in the middle of load and restarted on the same port (docs/architecture.md//! decisions 4 and 5), with real `auth-service`, `bill-inquiry-service` and `kos-mock-service`
//! processes sharing a private `redis-server`.
//!
//! - Load: 8 concurrent clients send inquiries for the whole run; not one may fail (L1 and KOS
//!   keep serving; Redis calls are bounded at 100 ms and skipped during a cool-down).
//! - Caches recover: after the restart (Redis comes back empty), bill entries are written to
//!   L2 again.
//! - Revocations: a session logged out before the outage stays rejected by bill-inquiry during
//!   and after it; a session logged out *during* the outage (auth cannot write the deny key or
//!   publish) is rejected by auth at once and must reach bill-inquiry once Redis is back
//!   (docs/api.md §2.5: rejected by every service "in any case before its exp").

use std::sync::Arc;
use std::time::{Duration, Instant};

use phonebill_system_tests::{InquiryLoad, LoadTotals, RedisServer, Service, Stack, bounded};
use serde_json::json;

/// Status of `GET /api/v1/bills/menu` with `token`, and the error code.
async fn bill_sees(stack: &Stack, bill: &Service, token: &str) -> (u16, String) {
    let r = stack
        .http
        .get(&bill.url("/api/v1/bills/menu"), Some(token))
        .await;
    (r.status, r.code())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redis_killed_mid_load_no_failures_caches_recover_revocations_hold() {
    bounded(Duration::from_secs(90), async {
        let stack = Stack::new();
        let mut redis = RedisServer::start(stack.path()).await;
        let url = redis.url();
        let shared = [
            ("REDIS_URL", url.as_str()),
            ("REDIS_KEY_PREFIX", "sys:"),
            ("CACHE_KEY_PREFIX", "sys"),
        ];
        let (auth, kos) = tokio::join!(stack.auth(&shared), stack.kos(&[]));
        let mut bill_env = shared.to_vec();
        bill_env.extend([
            // Entries expire quickly so loads (and L2 writes) keep happening.
            ("CACHE_L1_TTL_SECONDS", "1"),
            ("CACHE_TTL_BILL_SECONDS", "1"),
            ("CACHE_L2_COOLDOWN_MS", "1000"),
        ]);
        let bill = stack
            .bill(&auth, &kos, &bill_env)
            .await
            .expect("bill-inquiry-service ready");
        // Both deny lists subscribed (readiness reports the subscription as `redis`).
        for svc in [&auth, &bill] {
            let deadline = Instant::now() + Duration::from_secs(10);
            while svc.readiness(&stack.http).await["components"]["redis"]["status"] != "UP" {
                assert!(Instant::now() < deadline, "deny list never subscribed");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }

        let load_token = Arc::new(stack.token(&auth).await);
        let before = stack.token(&auth).await;
        let during = stack.token(&auth).await;
        assert_eq!(bill_sees(&stack, &bill, &before).await.0, 200);
        assert_eq!(bill_sees(&stack, &bill, &during).await.0, 200);
        let logout = |t: String| {
            let http = stack.http.clone();
            let u = auth.url("/api/v1/auth/logout");
            async move {
                let r = http.post(&u, Some(&t), &json!({})).await;
                assert_eq!(r.status, 200, "logout: {}", r.body);
            }
        };
        logout(before.clone()).await;
        let deadline = Instant::now() + Duration::from_secs(2);
        while bill_sees(&stack, &bill, &before).await.0 != 401 {
            assert!(
                Instant::now() < deadline,
                "revocation did not replicate within 1 s"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }

        // Load.
        let load = InquiryLoad::start(
            &stack.http,
            bill.url("/api/v1/bills/inquiry"),
            load_token.clone(),
            "01012345678",
            8,
            Duration::ZERO,
        );
        tokio::time::sleep(Duration::from_millis(1000)).await;
        let l2_before = redis.keys("sys:v1:bill:*").await;
        assert!(!l2_before.is_empty(), "L2 is in use before the outage");

        // Outage.
        redis.kill();
        let killed = Instant::now();
        tokio::time::sleep(Duration::from_millis(500)).await;
        logout(during.clone()).await;
        let r = stack
            .http
            .get(
                &auth.url(&format!("/api/v1/auth/verify?token={during}")),
                None,
            )
            .await;
        assert_eq!(
            r.body["valid"], false,
            "auth itself rejects at once: {}",
            r.body
        );
        let (s, code) = bill_sees(&stack, &bill, &before).await;
        assert_eq!(
            (s, code.as_str()),
            (401, "TOKEN_REVOKED"),
            "revoked before the outage"
        );
        let during_seen_in_outage = bill_sees(&stack, &bill, &during).await.0;
        tokio::time::sleep(Duration::from_millis(2500)).await;
        let (s, _) = bill_sees(&stack, &bill, &before).await;
        assert_eq!(s, 401, "still revoked late in the outage");
        let outage = killed.elapsed();

        // Restart (empty: no persistence).
        redis.restart().await;
        let restarted = Instant::now();
        let l2_back = loop {
            let keys = redis.keys("sys:v1:bill:*").await;
            if keys.iter().any(|k| !k.contains(":stale:")) {
                break restarted.elapsed();
            }
            assert!(
                restarted.elapsed() < Duration::from_secs(15),
                "L2 was never written again after the restart"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        let revoked_after = loop {
            if bill_sees(&stack, &bill, &during).await.0 == 401 {
                break restarted.elapsed();
            }
            assert!(
                restarted.elapsed() < Duration::from_secs(20),
                "a logout made during the Redis outage never reached bill-inquiry after Redis \
                 came back (the token stays valid there until it expires)"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        assert_eq!(bill_sees(&stack, &bill, &before).await.0, 401);
        tokio::time::sleep(Duration::from_millis(500)).await;
        let LoadTotals { sent, failed, max } = load.finish().await;
        println!(
            "FIGURES redis-outage sent={sent} failed={failed} max_ms={} outage_ms={} \
             l2_written_again_after_ms={} during_outage_logout_seen_by_bill_in_outage={} \
             during_outage_logout_rejected_by_bill_after_restart_ms={}",
            max.as_millis(),
            outage.as_millis(),
            l2_back.as_millis(),
            during_seen_in_outage == 401,
            revoked_after.as_millis()
        );
        assert_eq!(failed, 0, "no request may fail while Redis is down");
        assert!(sent > 100, "the load ran ({sent} requests)");
    })
    .await;
}
