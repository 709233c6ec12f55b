//! Harness for the fault tests across real processes (`tests/*.rs` of this crate).
//!
//! The tests start the real service binaries (`auth-service`, `bill-inquiry-service`,
//! `product-change-service`, `kos-mock-service`) and, where a test needs to kill them, a private
//! `redis-server` or PostgreSQL cluster, as child processes: each on its own free port, with its
//! own database and logs in the test's temp dir. Nothing here is used by the services.
//!
//! - [`bin`]: where the service binaries are (next to the test executable; a missing binary is
//!   a test failure with a clear message, never a skip).
//! - [`Proc`]: one child process with its output captured to files; killed by PID on drop
//!   (SIGTERM, then SIGKILL), its logs printed when the test is failing.
//! - [`Service`]: a started service with its base URL; [`Stack`] starts the usual set.
//! - [`RedisServer`], [`PgCluster`]: private servers a test may stop and restart.
//! - [`Backend`]: a service's database on SQLite or a private PostgreSQL cluster, and how a crash
//!   test takes it away ([`DbAway`]: the cluster stopped, or SQLite's write lock held).
//! - [`RedisCluster`]: a private TLS-only Redis Cluster (3 masters + 3 replicas) whose masters a
//!   test may kill.
//! - [`TestCa`]: a private CA and server certificate for TLS-only servers.
//! - [`Http`]: a small JSON client that measures every call.
//! - [`Haproxy`], [`chart_routes`]: the ingress, with the routes of the chart's Ingress.
//! - [`ProdShape`]: every service as several replicas behind that ingress, on a [`Backing`].
//! - [`InquiryLoad`]: steady inquiry traffic during an outage, with sent/failed counts.

pub mod backend;
pub mod http;
pub mod ingress;
pub mod load;
pub mod pg;
pub mod proc;
pub mod redis;
pub mod redis_cluster;
pub mod shape;
pub mod stack;
pub mod tls;

pub use backend::{Backend, DbAway};
pub use http::{Http, Resp, metric_sum};
pub use ingress::{Haproxy, Route, chart_routes, maxconn_for_open_files};
pub use load::{AnsweredLoad, Answers, InquiryLoad, LoadTotals};
pub use pg::PgCluster;
pub use proc::{Proc, bin, free_port};
pub use redis::RedisServer;
pub use redis_cluster::RedisCluster;
pub use shape::{Backing, ProdShape, Replica, ShapeOptions};
pub use stack::{Service, Stack, current_month, month_back};
pub use tls::TestCa;

use std::future::Future;
use std::time::Duration;

/// Runs a test body under a hard time limit; a body that overruns fails the test (its
/// processes are killed when the body's future is dropped).
pub async fn bounded<F: Future<Output = T>, T>(limit: Duration, body: F) -> T {
    match tokio::time::timeout(limit, body).await {
        Ok(v) => v,
        Err(_) => panic!("test exceeded its time limit of {limit:?}"),
    }
}
