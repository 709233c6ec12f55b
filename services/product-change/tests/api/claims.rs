//! Reconciliation claims across replicas (issue 18 point 3, docs/architecture.md
//! "Reconciliation claims"): two service instances on one database reconcile the same stuck
//! changes at the same moment, and KOS receives each `requestId` once; a claim whose holder
//! died becomes due again when its lease runs out. Both stores.

use std::collections::HashSet;

use chrono::Utc;
use phonebill_product_change::domain::{ChangeRecord, ProcessStatus};
use phonebill_test_support::backend_tests;

use crate::helpers::{TestApp, processing_record, spawn_app_manual_reconcile, spawn_on};

/// A `PROCESSING` row as the outbox leaves it when the process dies before KOS answers.
fn stuck(i: usize) -> ChangeRecord {
    let now = Utc::now();
    ChangeRecord {
        user_id: "u-claims".into(),
        customer_id: "CU-claims".into(),
        updated_at: now,
        ..processing_record(
            &format!("PCR_CLAIM_{i:04}"),
            &format!("01077{i:06}"),
            now - chrono::Duration::seconds(i as i64 % 60),
        )
    }
}

/// Product-change calls the KOS mock received, from its own counter.
async fn kos_change_calls(app: &TestApp) -> f64 {
    let text = app
        .client
        .get(format!("{}/actuator/prometheus", app.kos.url))
        .send()
        .await
        .expect("kos metrics")
        .text()
        .await
        .expect("metrics text");
    text.lines()
        .filter(|l| {
            l.starts_with("kos_mock_requests_total{") && l.contains("endpoint=\"product-change\"")
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

backend_tests!(
    two_replicas_send_each_stuck_change_once,
    |backend| async move {
        let a = spawn_app_manual_reconcile(backend).await;
        let b = spawn_on(
            a.db.clone(),
            a.kos.clone(),
            a.key.clone(),
            a.prefix(),
            false,
        )
        .await;
        for i in 0..100 {
            a.service.store().insert_change(&stuck(i)).await.unwrap();
        }
        // Every change call takes 20 ms at KOS, so both passes run at the same time: without
        // claims each replica would send all 100.
        a.fault("product-change", "slow", 200, Some(20)).await;
        let before = kos_change_calls(&a).await;
        let later = Utc::now() + chrono::Duration::seconds(1);
        let (ra, rb) = tokio::join!(a.service.reconcile_at(later), b.service.reconcile_at(later));
        let (ra, rb) = (ra.unwrap(), rb.unwrap());
        let sent = kos_change_calls(&a).await - before;
        assert_eq!(sent, 100.0, "KOS must get exactly one change per requestId");
        assert_eq!(
            ra + rb,
            100,
            "every row reached a final state once (a={ra}, b={rb})"
        );
        assert!(ra > 0 && rb > 0, "both replicas took part (a={ra}, b={rb})");
        for i in 0..100 {
            let r = a
                .service
                .store()
                .get_change(&format!("PCR_CLAIM_{i:04}"))
                .await
                .unwrap()
                .unwrap();
            // Unknown lines: KOS answers a business failure, which is final.
            assert_eq!(r.process_status, ProcessStatus::Failed, "{r:?}");
            assert_eq!(r.attempts, 1, "{r:?}");
        }
        // Nothing is due any more: a further pass on either replica sends nothing.
        let again = Utc::now() + chrono::Duration::seconds(2);
        assert_eq!(a.service.reconcile_at(again).await.unwrap(), 0);
        assert_eq!(kos_change_calls(&a).await - before, 100.0);
    }
);

backend_tests!(
    claims_are_disjoint_and_expire_with_their_lease,
    |backend| async move {
        let a = spawn_app_manual_reconcile(backend).await;
        let store = a.service.store().clone();
        for i in 0..10 {
            store.insert_change(&stuck(i)).await.unwrap();
        }
        let now = Utc::now() + chrono::Duration::seconds(1);
        let lease = now + chrono::Duration::seconds(120);
        let (x, y) = tokio::join!(
            store.claim_due(now, "replica-x", lease, 6),
            store.claim_due(now, "replica-y", lease, 6)
        );
        let (x, y) = (x.unwrap(), y.unwrap());
        let ids = |v: &[ChangeRecord]| {
            v.iter()
                .map(|r| r.request_id.clone())
                .collect::<HashSet<_>>()
        };
        let (ix, iy) = (ids(&x), ids(&y));
        assert!(ix.is_disjoint(&iy), "a row claimed twice: {ix:?} {iy:?}");
        assert_eq!(ix.len() + iy.len(), 10, "all 10 due rows claimed once");
        // Everything is leased: a third claimer gets nothing.
        assert!(
            store
                .claim_due(now, "replica-z", lease, 100)
                .await
                .unwrap()
                .is_empty()
        );
        // Releasing only works for the holder.
        let one = x.first().map(|r| r.request_id.clone()).unwrap_or_else(|| {
            y.first()
                .map(|r| r.request_id.clone())
                .expect("a claimed row")
        });
        store.release_claim(&one, "replica-z").await.unwrap();
        assert!(
            store
                .claim_due(now, "replica-z", lease, 100)
                .await
                .unwrap()
                .is_empty()
        );
        let holder = if ix.contains(&one) {
            "replica-x"
        } else {
            "replica-y"
        };
        store.release_claim(&one, holder).await.unwrap();
        let got = store.claim_due(now, "replica-z", lease, 100).await.unwrap();
        assert_eq!(ids(&got), HashSet::from([one.clone()]));
        // The holders "die": once the lease has run out, every row is due again.
        let after = lease + chrono::Duration::seconds(1);
        let back = store
            .claim_due(
                after,
                "replica-w",
                after + chrono::Duration::seconds(120),
                100,
            )
            .await
            .unwrap();
        assert_eq!(back.len(), 10, "expired leases make the rows due again");
    }
);
