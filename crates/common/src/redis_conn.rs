//! The one Redis client of every Redis user (docs/architecture.md, "One Redis abstraction"):
//! the L2 cache, the cache invalidation pub/sub, the session deny list and readiness all go
//! through [`RedisClient`], so plain Redis, TLS (`rediss://`) and Redis Cluster behave alike.
//!
//! - **Config** ([`RedisConfig::from_env`]): `REDIS_URL` (`redis://` or `rediss://`; TLS trusts
//!   the public webpki roots), `REDIS_CA_CERT` (path of a PEM bundle: the private CA that
//!   signed the server certificate replaces the public roots), `REDIS_CLUSTER` (`true` = speak
//!   the cluster protocol; `REDIS_URL` names one seed node, the rest are discovered).
//! - **Commands** run on a [`RedisConn`]: a standalone `ConnectionManager` or a cluster
//!   connection, both multiplexed and self-reconnecting. Every command names at most one key, or
//!   keys of one hash slot, because a cluster refuses multi-key commands across slots; callers
//!   that touch several keys send one command per key concurrently ([`RedisClient::exec_all`]),
//!   which the multiplexer pipelines on a standalone server.
//! - **Pub/sub** ([`RedisClient::subscribe`]) is a dedicated connection to one node. In a cluster
//!   `PUBLISH` reaches every node over the cluster bus, so one subscription on any node (master
//!   or replica) sees every message; when that node dies the subscription ends (or its keep-alive
//!   ping fails) and the caller re-subscribes, trying the seed and then the nodes last
//!   discovered with `CLUSTER SLOTS`.
//! - **Start-up check** ([`RedisClient::preflight`]): configuration mistakes (wrong CA, wrong
//!   password, plain URL against a TLS port, `REDIS_CLUSTER` not matching the server) stop the
//!   service with an error naming the variable; an unreachable Redis does not (the service
//!   starts and degrades, docs/reliability.md).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use futures::future::{BoxFuture, Shared};
use futures::{FutureExt, StreamExt};
use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig, PubSubSink};
use redis::cluster::ClusterClient;
use redis::cluster_async::ClusterConnection;
use redis::{
    Cmd, ConnectionAddr, ConnectionInfo, IntoConnectionInfo, Pipeline, RedisError, RedisFuture,
    TlsCertificates, Value,
};
use secrecy::{ExposeSecret, SecretString};

use crate::config::{ConfigError, Env};

/// How often an idle subscription pings its node, so a silently dead node is noticed.
const KEEPALIVE: Duration = Duration::from_secs(5);
/// Bound on the start-up check.
const PREFLIGHT_TIMEOUT: Duration = Duration::from_secs(3);

/// Where Redis is and how to speak to it.
#[derive(Clone)]
pub struct RedisConfig {
    /// `REDIS_URL` (may hold a password: never logged).
    pub url: SecretString,
    /// `REDIS_CLUSTER`: the cluster protocol, `url` being one seed node.
    pub cluster: bool,
    /// `REDIS_CA_CERT`: PEM bundle of the CA to trust instead of the public roots.
    pub ca_cert: Option<PathBuf>,
}

impl std::fmt::Debug for RedisConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisConfig")
            .field(
                "url",
                &crate::config::redact_url_password(self.url.expose_secret()),
            )
            .field("cluster", &self.cluster)
            .field("ca_cert", &self.ca_cert)
            .finish()
    }
}

impl RedisConfig {
    /// A standalone server at `url`, public roots for TLS.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: SecretString::from(url.into()),
            cluster: false,
            ca_cert: None,
        }
    }

    /// The same with the cluster protocol on or off.
    #[must_use]
    pub fn with_cluster(mut self, cluster: bool) -> Self {
        self.cluster = cluster;
        self
    }

    /// The same trusting the CA in `path`.
    #[must_use]
    pub fn with_ca_cert(mut self, path: impl Into<PathBuf>) -> Self {
        self.ca_cert = Some(path.into());
        self
    }

    /// Reads `REDIS_URL`, `REDIS_CLUSTER` and `REDIS_CA_CERT`; `None` without `REDIS_URL`.
    pub fn from_env(env: Env<'_>) -> Result<Option<Self>, ConfigError> {
        let cluster = env.bool("REDIS_CLUSTER", false)?;
        let ca_cert = env.string("REDIS_CA_CERT").map(PathBuf::from);
        let Some(url) = crate::config::redis_url(env)? else {
            if cluster {
                return Err(ConfigError::new(
                    "REDIS_CLUSTER",
                    "is true but REDIS_URL is not set (name one seed node of the cluster)",
                ));
            }
            if ca_cert.is_some() {
                return Err(ConfigError::new(
                    "REDIS_CA_CERT",
                    "is set but REDIS_URL is not (the CA is only used for a rediss:// URL)",
                ));
            }
            return Ok(None);
        };
        let raw = url.expose_secret();
        if let Some(path) = &ca_cert {
            if !raw.starts_with("rediss://") {
                return Err(ConfigError::new(
                    "REDIS_CA_CERT",
                    "is set but REDIS_URL is not a rediss:// URL; the CA is only used over TLS",
                ));
            }
            load_ca(path).map_err(|e| ConfigError::new("REDIS_CA_CERT", e))?;
        }
        if cluster && raw.starts_with("unix://") {
            return Err(ConfigError::new(
                "REDIS_CLUSTER",
                "is true but REDIS_URL is a unix socket; a cluster is reached over TCP",
            ));
        }
        Ok(Some(Self {
            url,
            cluster,
            ca_cert,
        }))
    }
}

/// Reads a PEM bundle and checks that it holds at least one certificate.
fn load_ca(path: &Path) -> Result<Vec<u8>, String> {
    let pem = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    if !String::from_utf8_lossy(&pem).contains("-----BEGIN CERTIFICATE-----") {
        return Err(format!("{} holds no PEM certificate", path.display()));
    }
    Ok(pem)
}

/// Redis is set up wrongly; `var` names the variable to fix.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{var}: {message}")]
pub struct RedisSetupError {
    /// The variable at fault.
    pub var: &'static str,
    /// What is wrong and how to fix it.
    pub message: String,
}

fn setup(var: &'static str, message: impl Into<String>) -> RedisSetupError {
    RedisSetupError {
        var,
        message: message.into(),
    }
}

/// A connection for commands: standalone or cluster. Cheap to clone (both are multiplexed
/// handles); use it with `cmd.query_async(&mut conn)`.
#[derive(Clone)]
pub enum RedisConn {
    /// One server (reconnects by itself).
    Single(ConnectionManager),
    /// A cluster (routes by slot, follows `MOVED`, refreshes its slot map after a failover).
    Cluster(ClusterConnection),
}

impl ConnectionLike for RedisConn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Self::Single(c) => c.req_packed_command(cmd),
            Self::Cluster(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        cmd: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Self::Single(c) => c.req_packed_commands(cmd, offset, count),
            Self::Cluster(c) => c.req_packed_commands(cmd, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Self::Single(c) => c.get_db(),
            Self::Cluster(c) => c.get_db(),
        }
    }
}

enum Mode {
    Single,
    Cluster(Box<ClusterClient>),
}

struct Inner {
    mode: Mode,
    /// The seed node (the only node when standalone).
    seed: redis::Client,
    seed_info: ConnectionInfo,
    certs: Option<TlsCertificates>,
    timeout: Duration,
    conn: RwLock<Option<RedisConn>>,
    /// The connection attempt under way, shared by every caller waiting for it.
    connecting: Mutex<Option<PendingConn>>,
    /// Cluster nodes last seen in `CLUSTER SLOTS` (host, port), for re-subscribing.
    nodes: Mutex<Vec<(String, u16)>>,
}

/// A connection attempt running in its own task. Callers bound their wait, not the attempt: a
/// TLS handshake slower than one caller's 100 ms budget still completes for the next caller.
type PendingConn = Shared<BoxFuture<'static, Result<RedisConn, Arc<RedisError>>>>;

/// The Redis client. Cheap to clone; clones share one connection. Nothing connects until the
/// first command, so a service starts while Redis is down.
#[derive(Clone)]
pub struct RedisClient(Arc<Inner>);

impl std::fmt::Debug for RedisClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisClient")
            .field("cluster", &self.is_cluster())
            .finish_non_exhaustive()
    }
}

/// rustls needs one process-wide crypto provider; the workspace builds rustls with `ring`.
fn install_crypto_provider() {
    // Err = one is installed already (by us or another library): fine either way.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

impl Inner {
    /// One connection attempt (standalone manager or cluster connection).
    async fn connect(&self) -> Result<RedisConn, RedisError> {
        // A TLS handshake on a busy node takes longer than one cache operation may.
        let connect_timeout = self.timeout.max(Duration::from_secs(2));
        let response_timeout = self.timeout.max(Duration::from_secs(1));
        let fut = async {
            Ok(match &self.mode {
                Mode::Single => {
                    let cfg = ConnectionManagerConfig::new()
                        .set_connection_timeout(connect_timeout)
                        .set_response_timeout(response_timeout)
                        .set_number_of_retries(2)
                        .set_max_delay(1000);
                    RedisConn::Single(
                        ConnectionManager::new_with_config(self.seed.clone(), cfg).await?,
                    )
                }
                Mode::Cluster(c) => RedisConn::Cluster(c.get_async_connection().await?),
            })
        };
        match tokio::time::timeout(connect_timeout * 3, fut).await {
            Ok(r) => r,
            Err(_) => Err(RedisError::from(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "connecting to Redis timed out",
            ))),
        }
    }
}

impl RedisClient {
    /// A client for `cfg`; `timeout` bounds every connection attempt and command.
    pub fn new(cfg: &RedisConfig, timeout: Duration) -> Result<Self, RedisSetupError> {
        install_crypto_provider();
        let seed_info = cfg
            .url
            .expose_secret()
            .into_connection_info()
            .map_err(|e| setup("REDIS_URL", format!("not a usable Redis URL: {e}")))?;
        let certs = match &cfg.ca_cert {
            None => None,
            Some(path) => Some(TlsCertificates {
                client_tls: None,
                root_cert: Some(load_ca(path).map_err(|e| setup("REDIS_CA_CERT", e))?),
            }),
        };
        let seed = node_client(&seed_info, certs.as_ref())?;
        let mode = if cfg.cluster {
            let mut b = ClusterClient::builder(vec![seed_info.clone()])
                .connection_timeout(timeout.max(Duration::from_secs(2)))
                .response_timeout(timeout.max(Duration::from_secs(1)))
                // A killed master's slots answer again once its replica is promoted (about
                // cluster-node-timeout); callers bound each operation, so retry briefly.
                .retries(3)
                .min_retry_wait(20)
                .max_retry_wait(200);
            if let Some(c) = &certs {
                b = b.certs(c.clone());
            }
            Mode::Cluster(Box::new(b.build().map_err(|e| {
                setup("REDIS_CLUSTER", format!("cluster client: {e}"))
            })?))
        } else {
            Mode::Single
        };
        Ok(Self(Arc::new(Inner {
            mode,
            seed,
            seed_info,
            certs,
            timeout,
            conn: RwLock::new(None),
            connecting: Mutex::new(None),
            nodes: Mutex::new(Vec::new()),
        })))
    }

    /// Whether this speaks the cluster protocol.
    pub fn is_cluster(&self) -> bool {
        matches!(self.0.mode, Mode::Cluster(_))
    }

    /// The shared command connection, made on first use. The attempt runs in its own task
    /// (bounded by the connection timeout); this waits for it unbounded, so callers wrap their
    /// whole operation in a timeout.
    pub async fn connection(&self) -> Result<RedisConn, RedisError> {
        if let Some(c) = self.cached() {
            return Ok(c);
        }
        let pending = {
            let mut slot = self
                .0
                .connecting
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if let Some(c) = self.cached() {
                return Ok(c);
            }
            match &*slot {
                Some(p) => p.clone(),
                None => {
                    let inner = Arc::clone(&self.0);
                    let task = tokio::spawn(async move {
                        let r = inner.connect().await;
                        if let Ok(c) = &r
                            && let Ok(mut conn) = inner.conn.write()
                        {
                            *conn = Some(c.clone());
                        }
                        // Done either way: after a failure the next caller starts a new attempt.
                        *inner
                            .connecting
                            .lock()
                            .unwrap_or_else(std::sync::PoisonError::into_inner) = None;
                        r.map_err(Arc::new)
                    });
                    let p = async move {
                        task.await.unwrap_or_else(|e| {
                            Err(Arc::new(RedisError::from(std::io::Error::other(
                                e.to_string(),
                            ))))
                        })
                    }
                    .boxed()
                    .shared();
                    *slot = Some(p.clone());
                    p
                }
            }
        };
        pending.await.map_err(|e| {
            RedisError::from((
                redis::ErrorKind::IoError,
                "cannot connect to Redis",
                e.to_string(),
            ))
        })
    }

    fn cached(&self) -> Option<RedisConn> {
        self.0.conn.read().ok().and_then(|c| c.clone())
    }

    /// Runs one command.
    pub async fn exec<R: redis::FromRedisValue>(&self, cmd: &Cmd) -> Result<R, RedisError> {
        let mut conn = self.connection().await?;
        cmd.query_async::<R>(&mut conn).await
    }

    /// Runs `cmds` concurrently (one key or one slot each) and returns their answers in order;
    /// the first error fails the whole.
    pub async fn exec_all(&self, cmds: &[Cmd]) -> Result<Vec<Value>, RedisError> {
        let conn = self.connection().await?;
        let futs = cmds.iter().map(|c| {
            let mut conn = conn.clone();
            async move { c.query_async::<Value>(&mut conn).await }
        });
        futures::future::try_join_all(futs).await
    }

    /// `PING` (on a cluster: any node).
    pub async fn ping(&self) -> Result<(), RedisError> {
        self.exec::<String>(&redis::cmd("PING")).await.map(|_| ())
    }

    /// A subscription to `channel` on one node (see the module documentation).
    pub async fn subscribe(&self, channel: &str) -> Result<Subscription, RedisError> {
        let mut last_err = None;
        for client in self.pubsub_candidates().await? {
            let attempt = async {
                let mut ps = client.get_async_pubsub().await?;
                ps.subscribe(channel).await?;
                Ok::<_, RedisError>(ps)
            };
            match tokio::time::timeout(self.0.timeout.max(Duration::from_secs(2)), attempt).await {
                Ok(Ok(ps)) => {
                    let (sink, stream) = ps.split();
                    return Ok(Subscription {
                        sink,
                        stream,
                        keepalive: tokio::time::interval_at(
                            tokio::time::Instant::now() + KEEPALIVE,
                            KEEPALIVE,
                        ),
                        timeout: self.0.timeout.max(Duration::from_secs(1)),
                    });
                }
                Ok(Err(e)) => last_err = Some(e),
                Err(_) => {
                    last_err = Some(RedisError::from(std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        "subscribe timed out",
                    )));
                }
            }
        }
        Err(last_err.unwrap_or_else(|| {
            RedisError::from(std::io::Error::other("no Redis node to subscribe to"))
        }))
    }

    /// The seed, then (cluster) every node of the last known slot map.
    async fn pubsub_candidates(&self) -> Result<Vec<redis::Client>, RedisError> {
        let mut out = vec![self.0.seed.clone()];
        if !self.is_cluster() {
            return Ok(out);
        }
        // Refresh the node list when the cluster answers; keep the old one when it does not.
        let slots = tokio::time::timeout(
            self.0.timeout.max(Duration::from_secs(1)),
            self.exec::<Value>(redis::cmd("CLUSTER").arg("SLOTS")),
        )
        .await;
        if let Ok(Ok(v)) = slots {
            let found = parse_cluster_slots(&v);
            if !found.is_empty()
                && let Ok(mut nodes) = self.0.nodes.lock()
            {
                *nodes = found;
            }
        }
        let nodes = self.0.nodes.lock().map(|n| n.clone()).unwrap_or_default();
        for (host, port) in nodes {
            let mut info = self.0.seed_info.clone();
            info.addr = match info.addr {
                ConnectionAddr::TcpTls {
                    insecure,
                    tls_params,
                    ..
                } => ConnectionAddr::TcpTls {
                    host,
                    port,
                    insecure,
                    tls_params,
                },
                _ => ConnectionAddr::Tcp(host, port),
            };
            if let Ok(c) = node_client(&info, self.0.certs.as_ref()) {
                out.push(c);
            }
        }
        Ok(out)
    }

    /// The start-up check (see the module documentation): `Err` for a configuration mistake,
    /// `Ok` when Redis answers as configured *or* cannot be reached at all (an outage is not a
    /// configuration error; the service starts degraded and logs it).
    pub async fn preflight(&self) -> Result<(), RedisSetupError> {
        let cfg = redis::AsyncConnectionConfig::new()
            .set_connection_timeout(PREFLIGHT_TIMEOUT)
            .set_response_timeout(PREFLIGHT_TIMEOUT);
        let check = async {
            let mut conn = self
                .0
                .seed
                .get_multiplexed_async_connection_with_config(&cfg)
                .await?;
            redis::cmd("INFO")
                .arg("cluster")
                .query_async::<String>(&mut conn)
                .await
        };
        let info = match tokio::time::timeout(PREFLIGHT_TIMEOUT * 2, check).await {
            Err(_) => {
                tracing::warn!("Redis did not answer at start-up; starting without it for now");
                return Ok(());
            }
            Ok(Err(e)) => return classify(&e, self.0.certs.is_some()),
            Ok(Ok(info)) => info,
        };
        let server_cluster = info.lines().any(|l| l.trim() == "cluster_enabled:1");
        match (self.is_cluster(), server_cluster) {
            (true, false) => Err(setup(
                "REDIS_CLUSTER",
                "is true but the server at REDIS_URL is a standalone Redis (cluster support \
                 disabled); unset REDIS_CLUSTER or point REDIS_URL at a cluster node",
            )),
            (false, true) => Err(setup(
                "REDIS_CLUSTER",
                "is false (unset) but the server at REDIS_URL is a Redis Cluster node; set \
                 REDIS_CLUSTER=true",
            )),
            _ => Ok(()),
        }
    }
}

/// Sorts a failed start-up connection into "configuration mistake" (`Err`) or "outage" (`Ok`).
fn classify(e: &RedisError, private_ca: bool) -> Result<(), RedisSetupError> {
    let text = e.to_string();
    let lower = text.to_ascii_lowercase();
    if e.kind() == redis::ErrorKind::AuthenticationFailed
        || lower.contains("wrongpass")
        || lower.contains("invalid password")
        || lower.contains("invalid username-password")
    {
        return Err(setup(
            "REDIS_URL",
            format!("Redis refused the credentials in REDIS_URL: {text}"),
        ));
    }
    if lower.contains("noauth") {
        return Err(setup(
            "REDIS_URL",
            "Redis requires a password and REDIS_URL has none (rediss://:PASSWORD@host:port)",
        ));
    }
    if lower.contains("certificate") || lower.contains("unknownissuer") || lower.contains("tls") {
        let hint = if private_ca {
            "REDIS_CA_CERT does not name the CA that signed the server certificate"
        } else {
            "the server certificate is not signed by a public CA; set REDIS_CA_CERT to the PEM \
             of its CA"
        };
        return Err(setup(
            "REDIS_CA_CERT",
            format!("TLS handshake with Redis failed ({text}): {hint}"),
        ));
    }
    if e.is_connection_refusal() || e.is_timeout() {
        tracing::warn!(error = %text, "Redis not reachable at start-up; starting without it for now");
        return Ok(());
    }
    if e.is_io_error() || e.is_connection_dropped() {
        // Reached the port, then the server hung up: typically a plain redis:// URL against a
        // TLS-only port (or the reverse).
        return Err(setup(
            "REDIS_URL",
            format!(
                "Redis closed the connection during the handshake ({text}); a TLS-only server \
                 needs a rediss:// URL, a plain one redis://"
            ),
        ));
    }
    Err(setup(
        "REDIS_URL",
        format!("Redis refused the connection: {text}"),
    ))
}

fn node_client(
    info: &ConnectionInfo,
    certs: Option<&TlsCertificates>,
) -> Result<redis::Client, RedisSetupError> {
    match certs {
        Some(c) => redis::Client::build_with_tls(info.clone(), c.clone())
            .map_err(|e| setup("REDIS_CA_CERT", format!("cannot use the CA bundle: {e}"))),
        None => redis::Client::open(info.clone())
            .map_err(|e| setup("REDIS_URL", format!("not a usable Redis URL: {e}"))),
    }
}

/// The nodes (masters and replicas) of a `CLUSTER SLOTS` answer.
fn parse_cluster_slots(v: &Value) -> Vec<(String, u16)> {
    let mut out: Vec<(String, u16)> = Vec::new();
    let Value::Array(ranges) = v else {
        return out;
    };
    for range in ranges {
        let Value::Array(items) = range else { continue };
        for node in items.iter().skip(2) {
            let Value::Array(parts) = node else { continue };
            let (Some(h), Some(p)) = (parts.first(), parts.get(1)) else {
                continue;
            };
            let (Ok(host), Ok(port)) = (
                redis::from_redis_value::<String>(h),
                redis::from_redis_value::<u16>(p),
            ) else {
                continue;
            };
            if host.is_empty() || host == "?" {
                continue;
            }
            if !out.iter().any(|(oh, op)| *oh == host && *op == port) {
                out.push((host, port));
            }
        }
    }
    out
}

/// One live subscription. [`Subscription::next`] returns `None` once it is lost.
pub struct Subscription {
    sink: PubSubSink,
    stream: redis::aio::PubSubStream,
    keepalive: tokio::time::Interval,
    timeout: Duration,
}

impl Subscription {
    /// The next message's payload as text; `None` when the connection ended or its keep-alive
    /// ping went unanswered (re-subscribe then).
    pub async fn next(&mut self) -> Option<String> {
        loop {
            let msg = tokio::select! {
                msg = self.stream.next() => Some(msg?),
                _ = self.keepalive.tick() => None,
            };
            match msg {
                Some(msg) => {
                    if let Ok(p) = msg.get_payload::<String>() {
                        return Some(p);
                    }
                }
                None => {
                    let ping = tokio::time::timeout(self.timeout, self.sink.ping::<Value>()).await;
                    if !matches!(ping, Ok(Ok(_))) {
                        return None;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env_of(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn config_names_the_variable_at_fault() {
        let m = env_of(&[("REDIS_CLUSTER", "maybe"), ("REDIS_URL", "redis://h:6379")]);
        assert_eq!(
            RedisConfig::from_env(Env::new(&m))
                .expect_err("bad bool")
                .var,
            "REDIS_CLUSTER"
        );
        let m = env_of(&[
            ("REDIS_CA_CERT", "/nonexistent/ca.pem"),
            ("REDIS_URL", "rediss://h:6380"),
        ]);
        assert_eq!(
            RedisConfig::from_env(Env::new(&m))
                .expect_err("missing CA")
                .var,
            "REDIS_CA_CERT"
        );
        let m = env_of(&[
            ("REDIS_CA_CERT", "/etc/hostname"),
            ("REDIS_URL", "redis://h:6379"),
        ]);
        assert_eq!(
            RedisConfig::from_env(Env::new(&m))
                .expect_err("CA without TLS")
                .var,
            "REDIS_CA_CERT"
        );
        let m = env_of(&[("REDIS_CLUSTER", "true")]);
        assert_eq!(
            RedisConfig::from_env(Env::new(&m))
                .expect_err("cluster without URL")
                .var,
            "REDIS_CLUSTER"
        );
        let m = env_of(&[
            ("REDIS_CLUSTER", "true"),
            ("REDIS_URL", "rediss://:pw@h:6380"),
        ]);
        let cfg = RedisConfig::from_env(Env::new(&m))
            .expect("valid")
            .expect("set");
        assert!(cfg.cluster);
        assert!(!format!("{cfg:?}").contains("pw"), "no password in Debug");
    }

    #[test]
    fn a_ca_file_without_certificates_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("ca.pem");
        std::fs::write(&p, "not a certificate").expect("write");
        let e = load_ca(&p).expect_err("no PEM");
        assert!(e.contains("no PEM certificate"), "{e}");
    }

    #[test]
    fn cluster_slots_are_parsed_into_nodes() {
        let node = |h: &str, p: i64| {
            Value::Array(vec![
                Value::BulkString(h.as_bytes().to_vec()),
                Value::Int(p),
                Value::BulkString(b"id".to_vec()),
            ])
        };
        let v = Value::Array(vec![
            Value::Array(vec![
                Value::Int(0),
                Value::Int(5460),
                node("127.0.0.1", 7001),
                node("127.0.0.1", 7004),
            ]),
            Value::Array(vec![
                Value::Int(5461),
                Value::Int(10922),
                node("127.0.0.1", 7002),
                node("127.0.0.1", 7001),
            ]),
        ]);
        assert_eq!(
            parse_cluster_slots(&v),
            vec![
                ("127.0.0.1".to_owned(), 7001),
                ("127.0.0.1".to_owned(), 7004),
                ("127.0.0.1".to_owned(), 7002)
            ]
        );
    }
}
