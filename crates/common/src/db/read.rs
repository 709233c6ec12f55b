//! The optional read replica (`DATABASE_READ_URL`) of the read-only history queries of
//! bill-inquiry and product-change, and the fallback to the primary.
//!
//! A background task measures the replica every second: reachable, and its replay lag under
//! `DATABASE_READ_MAX_LAG_MS` (default 2000 ms). Lag is `now() - pg_last_xact_replay_timestamp()`
//! only while the replica has received WAL it has not replayed; a replica that has replayed all
//! it received is current however old its last replayed transaction is (no writes on the
//! primary is not lag). A history read goes to the replica while the last measurement was good,
//! else to the primary; a read that fails on the replica is retried once on the primary and
//! marks the replica unusable until the next good measurement. Each read counts in
//! `db_reads_total{service,target="replica|primary"}`. Readiness shows a non-critical
//! `db-replica` component: DOWN with the reason (naming `DATABASE_READ_URL`) while reads go to
//! the primary, so the service stays ready (docs/architecture.md "Read replica").

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

use crate::actuator::{ComponentHealth, HealthCheck};
use crate::config::ReadReplicaConfig;
use crate::metrics::Metrics;

use super::{Db, DbError};

/// How often the replica is measured, and the bound on one measurement.
const CHECK_EVERY: Duration = Duration::from_secs(1);
const CHECK_TIMEOUT: Duration = Duration::from_secs(1);

/// The replay lag in milliseconds: 0 on a primary and on a replica that replayed all it
/// received; NULL when it has received WAL but never replayed a transaction (treated as lagging).
const LAG_SQL: &str = "SELECT CASE \
    WHEN NOT pg_is_in_recovery() THEN 0::float8 \
    WHEN COALESCE(pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn(), false) THEN 0::float8 \
    ELSE EXTRACT(EPOCH FROM (now() - pg_last_xact_replay_timestamp())) * 1000 END";

/// The last measurement of the replica.
#[derive(Debug, Clone)]
struct ReplicaState {
    /// Reads may go there.
    usable: bool,
    /// The last measured lag.
    lag_ms: Option<u64>,
    /// Why it is not usable.
    reason: String,
}

#[derive(Debug)]
struct Replica {
    pool: PgPool,
    max_lag: Duration,
    redacted_url: String,
    state: Mutex<ReplicaState>,
}

impl Replica {
    fn snapshot(&self) -> ReplicaState {
        self.state
            .lock()
            .map(|s| s.clone())
            .unwrap_or_else(|p| p.into_inner().clone())
    }

    fn set(&self, next: ReplicaState) {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if s.usable != next.usable {
            if next.usable {
                tracing::info!(db.url = %self.redacted_url, lag_ms = next.lag_ms, "read replica usable again; history reads go to it");
            } else {
                tracing::warn!(db.url = %self.redacted_url, reason = %next.reason, "read replica not usable; history reads go to the primary");
            }
        }
        *s = next;
    }

    async fn measure(&self) -> ReplicaState {
        let q = sqlx::query_scalar::<_, Option<f64>>(LAG_SQL).fetch_one(&self.pool);
        match tokio::time::timeout(CHECK_TIMEOUT, q).await {
            Err(_) => self.unusable(format!("no answer within {CHECK_TIMEOUT:?}"), None),
            Ok(Err(e)) => self.unusable(e.to_string(), None),
            Ok(Ok(None)) => {
                self.unusable("replica has not replayed any transaction yet".into(), None)
            }
            Ok(Ok(Some(ms))) => {
                let lag = ms.max(0.0) as u64;
                if Duration::from_millis(lag) > self.max_lag {
                    self.unusable(
                        format!(
                            "replay lag {lag} ms exceeds DATABASE_READ_MAX_LAG_MS={}",
                            self.max_lag.as_millis()
                        ),
                        Some(lag),
                    )
                } else {
                    ReplicaState {
                        usable: true,
                        lag_ms: Some(lag),
                        reason: String::new(),
                    }
                }
            }
        }
    }

    fn unusable(&self, reason: String, lag_ms: Option<u64>) -> ReplicaState {
        ReplicaState {
            usable: false,
            lag_ms,
            reason,
        }
    }
}

/// Where history reads run: the replica when it is usable, else the primary. Cheap to clone.
#[derive(Debug, Clone)]
pub struct ReadRouter {
    primary: PgPool,
    replica: Option<Arc<Replica>>,
    service: &'static str,
    metrics: Option<Metrics>,
}

impl ReadRouter {
    /// Every read on the primary (no `DATABASE_READ_URL`).
    pub fn primary_only(primary: PgPool) -> Self {
        Self {
            primary,
            replica: None,
            service: "",
            metrics: None,
        }
    }

    /// Reads on the replica of `cfg` when usable; starts its measuring task (ends with
    /// `cancel`). Fails only on a URL that cannot be used at all.
    pub fn start(
        primary: PgPool,
        cfg: &ReadReplicaConfig,
        max_connections: u32,
        app_name: &str,
        service: &'static str,
        metrics: Metrics,
        cancel: CancellationToken,
    ) -> Result<Self, DbError> {
        let Db::Postgres(pool) = Db::connect_lazy_url(&cfg.url, max_connections, app_name)? else {
            return Err(DbError::InvalidUrl(
                "DATABASE_READ_URL must be a postgres:// URL".into(),
            ));
        };
        let replica = Arc::new(Replica {
            pool,
            max_lag: cfg.max_lag,
            redacted_url: cfg.url.redacted(),
            state: Mutex::new(ReplicaState {
                usable: false,
                lag_ms: None,
                reason: "not measured yet".into(),
            }),
        });
        let task = Arc::clone(&replica);
        tokio::spawn(async move {
            loop {
                let next = task.measure().await;
                task.set(next);
                tokio::select! {
                    () = cancel.cancelled() => break,
                    () = tokio::time::sleep(CHECK_EVERY) => {}
                }
            }
            task.pool.close().await;
        });
        Ok(Self {
            primary,
            replica: Some(replica),
            service,
            metrics: Some(metrics),
        })
    }

    fn count(&self, target: &str) {
        if let Some(m) = &self.metrics {
            m.db_reads.with_label_values(&[self.service, target]).inc();
        }
    }

    /// Runs the read-only query `f` on the replica when usable (retried on the primary if it
    /// fails there), else on the primary.
    pub async fn read<T, E, F, Fut>(&self, f: F) -> Result<T, E>
    where
        F: Fn(PgPool) -> Fut,
        Fut: Future<Output = Result<T, E>>,
        E: std::fmt::Display,
    {
        if let Some(r) = &self.replica
            && r.snapshot().usable
        {
            match f(r.pool.clone()).await {
                Ok(v) => {
                    self.count("replica");
                    return Ok(v);
                }
                Err(e) => {
                    r.set(ReplicaState {
                        usable: false,
                        lag_ms: None,
                        reason: format!("a read failed: {e}"),
                    });
                }
            }
        }
        let out = f(self.primary.clone()).await;
        if out.is_ok() {
            self.count("primary");
        }
        out
    }

    /// The `db-replica` readiness component, when a replica is configured.
    pub fn health(&self) -> Option<Arc<dyn HealthCheck>> {
        self.replica
            .as_ref()
            .map(|r| Arc::new(ReplicaHealth(Arc::clone(r))) as Arc<dyn HealthCheck>)
    }
}

/// Readiness of the replica: never critical (reads fall back to the primary).
struct ReplicaHealth(Arc<Replica>);

#[async_trait::async_trait]
impl HealthCheck for ReplicaHealth {
    fn name(&self) -> String {
        "db-replica".into()
    }
    fn critical(&self) -> bool {
        false
    }
    async fn check(&self) -> ComponentHealth {
        let s = self.0.snapshot();
        let h = if s.usable {
            ComponentHealth::up().detail("reads", "replica")
        } else {
            ComponentHealth::down(format!("DATABASE_READ_URL: {}", s.reason))
                .detail("reads", "primary")
        };
        let h = h.detail("maxLagMs", self.0.max_lag.as_millis() as u64);
        match s.lag_ms {
            Some(l) => h.detail("lagMs", l),
            None => h,
        }
    }
}
