//! The seed's autoscaling metric `auth_requests_total` (physical-architecture-prod 3.3.2:
//! `requests_per_second`; services/auth/src/metrics.rs), read from `/actuator/prometheus`
//! over HTTP.

use crate::helpers::*;
use phonebill_test_support::backend_tests;

/// The value of `auth_requests_total{service="auth"}` in the exposition.
async fn requests(app: &TestApp) -> Option<u64> {
    let text = app
        .client
        .get(app.url("/actuator/prometheus"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(r#"auth_requests_total{service="auth"} "#))
        .map(|v| v.trim().parse().expect("integer counter"))
}

backend_tests!(
    requests_total_counts_every_auth_route_request,
    |backend| async move {
        let app = spawn_app(backend).await;
        assert_eq!(
            requests(&app).await,
            Some(0),
            "the series exists from the start"
        );
        // Answered, refused and failed requests all count; operational routes (the scrapes, health)
        // and unmatched paths do not.
        let (s, _) = parts(app.login("mvno001", "Phonebill1!").await).await;
        assert_eq!(s, 200);
        let (s, _) = parts(app.login("mvno001", "WrongPass1!").await).await;
        assert_eq!(s, 401);
        let r = app
            .client
            .get(app.url("/api/v1/auth/.well-known/jwks.json"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let r = app
            .client
            .get(app.url("/actuator/health"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let r = app
            .client
            .get(app.url("/api/v1/nowhere"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 404);
        assert_eq!(requests(&app).await, Some(3));
    }
);
