//! The production shape on one machine: every service as two (or more) replicas sharing one
//! database per service and one Redis, behind the ingress of the chart ([`Haproxy`]).
//!
//! What the replicas share is what the chart gives the pods of one Deployment: the same
//! `DATABASE_URL` (one database per service), the same `REDIS_URL` and key prefix, the same
//! signing keys in `JWT_KEYS_DIR` (a Key Vault secret mounted in every auth pod). In-cluster
//! calls (JWKS, KOS) go to a Service address that balances over the replicas, as kube-proxy
//! does; here that is a second HAProxy front-end per Service ([`ProdShape::service_url`]).
//!
//! Where the data lives is a [`Backing`]: the machine's PostgreSQL and Redis by default; the
//! TLS-only PostgreSQL and Redis Cluster of the production-shape tests plug in the same way
//! (their URLs and the variables that go with them).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, bail};
use sqlx::Connection;

use crate::ingress::{Haproxy, Route};
use crate::pg::PgCluster;
use crate::proc::free_port;
use crate::redis_cluster::RedisCluster;
use crate::stack::{Service, Stack};
use crate::tls::TestCa;

/// The four service binaries, in start order (KOS and auth first: the others call them).
pub const BINARIES: [&str; 4] = [
    "kos-mock-service",
    "auth-service",
    "bill-inquiry-service",
    "product-change-service",
];

/// Where the replicas keep their data.
#[derive(Debug, Clone)]
pub struct Backing {
    /// Admin URL of the PostgreSQL server (a database per service is created on it).
    pub pg_admin_url: String,
    /// Admin URL of a streaming read replica of it, if any (`DATABASE_READ_URL` of the services
    /// with history reads).
    pub pg_read_admin_url: Option<String>,
    /// Redis URL and the variables that go with it (`REDIS_CA_CERT`, `REDIS_CLUSTER`, ...).
    pub redis_env: Vec<(String, String)>,
    /// Private servers this backing started (kept alive as long as a clone of it lives).
    servers: Option<std::sync::Arc<TlsServers>>,
}

/// The TLS-only servers of [`Backing::production`].
#[derive(Debug)]
pub struct TlsServers {
    /// The CA every server certificate is signed by.
    pub ca: TestCa,
    /// The PostgreSQL primary (TLS only).
    pub pg: PgCluster,
    /// Its streaming replica.
    pub pg_replica: PgCluster,
    /// Redis Cluster, 3 masters + 3 replicas, TLS only, with a password.
    pub redis: RedisCluster,
    _dir: tempfile::TempDir,
}

/// The password of the production shape's Redis Cluster (Azure Cache for Redis has an access key).
const REDIS_PASSWORD: &str = "shape-redis-access-key";

impl Backing {
    /// The machine's PostgreSQL and Redis (`PHONEBILL_TEST_DATABASE_URL`,
    /// `PHONEBILL_TEST_REDIS_URL`).
    pub fn machine() -> Self {
        let var = |k: &str, d: &str| {
            std::env::var(k)
                .ok()
                .filter(|v| !v.is_empty())
                .unwrap_or_else(|| d.to_owned())
        };
        Self::plain(
            &var(
                "PHONEBILL_TEST_DATABASE_URL",
                "postgres://postgres@127.0.0.1:5432/test",
            ),
            &var("PHONEBILL_TEST_REDIS_URL", "redis://127.0.0.1:6379"),
        )
    }

    /// A plain-text PostgreSQL (`pg_admin_url` names a database the admin role can connect to)
    /// and a standalone Redis, both already running (the load harness's `--postgres`/`--redis`).
    pub fn plain(pg_admin_url: &str, redis_url: &str) -> Self {
        Self {
            pg_admin_url: pg_admin_url.to_owned(),
            pg_read_admin_url: None,
            redis_env: vec![("REDIS_URL".into(), redis_url.to_owned())],
            servers: None,
        }
    }

    /// What deploy/terraform provisions, on this machine: a PostgreSQL that accepts only TLS
    /// (`sslmode=verify-full` against a private CA) with one streaming read replica, and a
    /// Redis Cluster of 3 masters + 3 replicas that accepts only TLS and a password, given to
    /// the services as one seed node (`REDIS_CLUSTER=true`, `REDIS_CA_CERT`).
    pub async fn production() -> anyhow::Result<Self> {
        Self::production_on(None).await
    }

    /// [`Self::production`], the servers also listening on `extra` (the Docker network
    /// gateway), certified for it, and the URLs naming it: what the chart's containers reach
    /// (`prod-shape` with `PROD_SHAPE_MODE=backing`, `deploy/tests/chart_pods.py`). The Redis
    /// nodes announce `extra`, so the cluster's redirects point there too.
    pub async fn production_on(extra: Option<std::net::IpAddr>) -> anyhow::Result<Self> {
        let dir = tempfile::tempdir()?;
        let extra_ips: Vec<std::net::IpAddr> = extra.into_iter().collect();
        let ca = TestCa::create_for(&dir.path().join("ca"), "production-shape", &extra_ips)?;
        let (pg, redis) = tokio::join!(
            PgCluster::start_tls_on(&ca, extra),
            RedisCluster::start_on(dir.path(), &ca, Some(REDIS_PASSWORD), extra)
        );
        let redis = redis?;
        let pg_replica = pg.replica().await;
        let ca_cert = ca.ca_cert.to_string_lossy().into_owned();
        Ok(Self {
            pg_admin_url: pg.tls_url("postgres", "postgres", None),
            pg_read_admin_url: Some(pg_replica.tls_url("postgres", "postgres", None)),
            redis_env: vec![
                ("REDIS_URL".into(), redis.seed_url()),
                ("REDIS_CLUSTER".into(), "true".into()),
                ("REDIS_CA_CERT".into(), ca_cert),
            ],
            servers: Some(std::sync::Arc::new(TlsServers {
                ca,
                pg,
                pg_replica,
                redis,
                _dir: dir,
            })),
        })
    }

    /// The private servers, when this backing started them.
    pub fn servers(&self) -> Option<&TlsServers> {
        self.servers.as_deref()
    }
}

/// `postgres://u@h:p/db?params` with the database name replaced (query kept).
pub fn with_database(url: &str, db: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let base = base.rsplit_once('/').map_or(base, |(b, _)| b);
    match query {
        Some(q) => format!("{base}/{db}?{q}"),
        None => format!("{base}/{db}"),
    }
}

/// The database name of a `postgres://…/<db>?…` URL.
fn db_name(url: &str) -> String {
    let base = url.split('?').next().unwrap_or(url);
    base.rsplit('/').next().unwrap_or_default().to_owned()
}

/// One replica: the running service and how to start it again.
#[derive(Debug)]
pub struct Replica {
    /// The running process.
    pub svc: Service,
    /// Its binary.
    pub binary: &'static str,
    /// Its process name (`auth-service-0`, ...).
    pub name: String,
    /// Its environment (without the common settings of [`Stack::start`]).
    pub env: Vec<(String, String)>,
    /// Spawn to readiness 200 of its last start.
    pub ready: Duration,
}

/// How to start a [`ProdShape`] beyond the backing.
#[derive(Debug, Clone)]
pub struct ShapeOptions {
    /// Replicas of every service.
    pub replicas: usize,
    /// Directory of the service binaries; `None`: next to the test executable
    /// ([`crate::proc::bin`]).
    pub bin_dir: Option<PathBuf>,
    /// Extra variables per binary, applied after the shape's own (a later entry wins), e.g. the
    /// load harness's KOS latencies or an open registration for its setup.
    pub env: BTreeMap<String, Vec<(String, String)>>,
    /// Auth hashes with a cheap Argon2 (the tests log in often; login speed is not under test
    /// there). `false` keeps auth's own, production cost.
    pub cheap_argon2: bool,
    /// The ingress's `maxconn` (concurrent client connections).
    pub maxconn: u32,
}

impl ShapeOptions {
    /// `replicas` of every service with the tests' settings.
    pub fn new(replicas: usize) -> Self {
        Self {
            replicas,
            bin_dir: None,
            env: BTreeMap::new(),
            cheap_argon2: true,
            maxconn: crate::ingress::DEFAULT_MAXCONN,
        }
    }
}

/// A running production shape.
#[derive(Debug)]
pub struct ProdShape {
    /// Temp dir, logs and the HTTP client.
    pub stack: Stack,
    /// Replicas per binary.
    pub replicas: BTreeMap<&'static str, Vec<Replica>>,
    /// The ingress (public routes of the chart) and the in-cluster Service addresses.
    pub ingress: Haproxy,
    /// Service address per binary (`http://127.0.0.1:<port>`).
    pub services: BTreeMap<&'static str, String>,
    /// The KOS service key the callers use.
    pub kos_api_key: String,
    /// Where the data lives (its private servers stop when the shape is dropped).
    pub backing: Backing,
    /// The Redis key prefix every replica uses (`REDIS_KEY_PREFIX`, `CACHE_KEY_PREFIX`).
    pub key_prefix: String,
    /// The database URL of each binary (owner role), until the shape is dropped.
    pub database_urls: BTreeMap<&'static str, String>,
    databases: Vec<String>,
}

/// Settings every replica gets: a short readiness-503 window before the listener closes (longer
/// than the ingress's health-check interval, so the ingress stops sending first), and a cheap
/// Argon2 (login speed is not under test).
const SHUTDOWN_DELAY_SECONDS: &str = "1";

impl ProdShape {
    /// Starts `n` replicas of every service on `backing`, and the ingress.
    pub async fn start(backing: Backing, n: usize) -> anyhow::Result<Self> {
        Self::start_with(backing, &ShapeOptions::new(n)).await
    }

    /// Starts the shape as `opts` says.
    pub async fn start_with(backing: Backing, opts: &ShapeOptions) -> anyhow::Result<Self> {
        let n = opts.replicas.max(1);
        let stack = match &opts.bin_dir {
            Some(dir) => Stack::new().with_bin_dir(dir.clone()),
            None => Stack::new(),
        };
        let prefix = format!(
            "shape{}:",
            &uuid_like(&stack.path().to_string_lossy())[..10]
        );
        let kos_api_key = format!("kos-key-{}", uuid_like(&prefix));

        // One database per service, as deploy/terraform creates them.
        let mut databases = Vec::new();
        let mut db_urls = BTreeMap::new();
        let mut admin = sqlx::PgConnection::connect(&backing.pg_admin_url)
            .await
            .with_context(|| "cannot reach the shape's PostgreSQL".to_owned())?;
        for b in BINARIES {
            let db = format!(
                "{}_{}",
                prefix.trim_end_matches(':'),
                b.trim_end_matches("-service").replace('-', "_")
            );
            sqlx::query(&format!("CREATE DATABASE \"{db}\""))
                .execute(&mut admin)
                .await?;
            db_urls.insert(b, with_database(&backing.pg_admin_url, &db));
            databases.push(db);
        }
        let _ = admin.close().await;

        // The signing key every auth replica mounts.
        let keys_dir = stack.path().join("jwt-keys");
        std::fs::create_dir_all(&keys_dir)?;
        generate_ed25519(&keys_dir.join("k1.pem"))?;

        // Ports first: the Service front-ends must be known before the callers start.
        let ports: BTreeMap<&'static str, Vec<u16>> = BINARIES
            .iter()
            .map(|b| (*b, (0..n).map(|_| free_port()).collect()))
            .collect();
        let service_ports: BTreeMap<String, u16> = BINARIES
            .iter()
            .map(|b| ((*b).to_owned(), free_port()))
            .collect();
        let services: BTreeMap<&'static str, String> = BINARIES
            .iter()
            .map(|b| (*b, format!("http://127.0.0.1:{}", service_ports[*b])))
            .collect();

        let routes: Vec<Route> = crate::ingress::chart_routes(&[])?;
        let backends: BTreeMap<String, Vec<u16>> = ports
            .iter()
            .map(|(b, p)| ((*b).to_owned(), p.clone()))
            .collect();
        let ingress = Haproxy::start_with(
            stack.path(),
            &routes,
            &backends,
            &service_ports,
            opts.maxconn,
        )
        .await?;

        let mut shape = Self {
            stack,
            replicas: BTreeMap::new(),
            ingress,
            services,
            kos_api_key,
            databases,
            backing: backing.clone(),
            key_prefix: prefix.clone(),
            database_urls: db_urls.clone(),
        };
        for b in BINARIES {
            let mut env = shape.env_of(
                b,
                &db_urls[b],
                &backing,
                &prefix,
                &keys_dir,
                opts.cheap_argon2,
            );
            env.push((
                "SHUTDOWN_DELAY_SECONDS".into(),
                SHUTDOWN_DELAY_SECONDS.into(),
            ));
            env.extend(opts.env.get(b).into_iter().flatten().cloned());
            // As the chart does: the migration hook Job first, then pods that do not migrate.
            let (ok, out, err) = shape
                .stack
                .run_to_end(
                    b,
                    &["migrate", "--wait", "30"],
                    &env,
                    Duration::from_secs(60),
                )
                .await?;
            if !ok {
                bail!("{b} migrate failed: {out}{err}");
            }
            env.push(("DATABASE_MIGRATE_ON_START".into(), "false".into()));
            if let (Some(read), "bill-inquiry-service" | "product-change-service") =
                (&backing.pg_read_admin_url, b)
            {
                let db = db_name(&db_urls[b]);
                env.push(("DATABASE_READ_URL".into(), with_database(read, &db)));
            }
            let started = futures_join(
                (0..n)
                    .map(|i| {
                        let name = format!("{b}-{i}");
                        let env = env.clone();
                        let port = ports[b][i];
                        let stack = &shape.stack;
                        async move {
                            let spawned = std::time::Instant::now();
                            let svc = stack.start(b, &name, port, &env).await?;
                            anyhow::Ok(Replica {
                                svc,
                                binary: b,
                                name,
                                env,
                                ready: spawned.elapsed(),
                            })
                        }
                    })
                    .collect(),
            )
            .await?;
            shape.replicas.insert(b, started);
        }
        shape.ingress.wait_all_up(Duration::from_secs(10)).await?;
        Ok(shape)
    }

    fn env_of(
        &self,
        binary: &str,
        db_url: &str,
        backing: &Backing,
        prefix: &str,
        keys_dir: &Path,
        cheap_argon2: bool,
    ) -> Vec<(String, String)> {
        let mut env: Vec<(String, String)> = vec![
            ("DATABASE_URL".into(), db_url.to_owned()),
            ("REDIS_KEY_PREFIX".into(), prefix.to_owned()),
            ("CACHE_KEY_PREFIX".into(), prefix.to_owned()),
            ("KOS_API_KEY".into(), self.kos_api_key.clone()),
            (
                "CORS_ALLOWED_ORIGINS".into(),
                "http://localhost:3000".into(),
            ),
        ];
        env.extend(backing.redis_env.iter().cloned());
        let kos = self.services["kos-mock-service"].clone();
        let jwks = format!(
            "{}/api/v1/auth/.well-known/jwks.json",
            self.services["auth-service"]
        );
        let mut more: Vec<(&str, String)> = match binary {
            "kos-mock-service" => vec![
                ("KOS_STORE", "database".into()),
                ("KOS_SIMULATION", "off".into()),
                ("KOS_REQUIRE_AUTH", "true".into()),
                ("KOS_RATE_LIMIT_ENABLED", "false".into()),
                ("KOS_FAULTS_ENABLED", "false".into()),
            ],
            "auth-service" => vec![
                ("JWT_KEYS_DIR", keys_dir.to_string_lossy().into_owned()),
                ("SEED_DEMO_USERS", "true".into()),
                ("TRUST_X_FORWARDED_FOR", "true".into()),
                // Verified registration asks KOS who holds a line.
                ("KOS_BASE_URL", kos),
            ],
            _ => vec![("JWKS_URL", jwks), ("KOS_BASE_URL", kos)],
        };
        if cheap_argon2 && binary == "auth-service" {
            more.push(("ARGON2_MEMORY_KIB", "64".into()));
            more.push(("ARGON2_ITERATIONS", "1".into()));
        }
        env.extend(more.into_iter().map(|(k, v)| (k.to_owned(), v)));
        env
    }

    /// `ingress + path`.
    pub fn url(&self, path: &str) -> String {
        self.ingress.url(path)
    }

    /// The in-cluster Service address of `binary` plus `path`.
    pub fn service_url(&self, binary: &str, path: &str) -> String {
        format!("{}{path}", self.services[binary])
    }

    /// (name, pid) of every replica and of the ingress, for per-process CPU and RSS.
    pub fn pids(&self) -> Vec<(String, u32)> {
        let mut out: Vec<(String, u32)> = self
            .replicas
            .values()
            .flatten()
            .map(|r| (r.name.clone(), r.svc.proc.pid()))
            .collect();
        out.push(("haproxy".to_owned(), self.ingress.proc.pid()));
        out
    }

    /// Stops every replica (SIGTERM to all, so each drains and flushes its history, then waits
    /// up to `grace` for each and SIGKILLs what is left), newest callers first; the ingress and
    /// the databases stay until the shape is dropped (a caller may still read them).
    pub async fn stop(&mut self, grace: Duration) {
        for b in BINARIES.iter().rev() {
            for r in self.replicas.get(b).into_iter().flatten() {
                r.svc.proc.sigterm();
            }
        }
        let deadline = tokio::time::Instant::now() + grace;
        for r in self.replicas.values_mut().flatten() {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            if r.svc.proc.wait_exit(left).await.is_none() {
                r.svc.proc.sigkill();
            }
        }
    }

    /// The replicas of `binary`.
    pub fn of(&self, binary: &str) -> &[Replica] {
        self.replicas.get(binary).map_or(&[], Vec::as_slice)
    }

    /// A rolling restart of one replica: SIGTERM (readiness turns 503, the ingress drains it,
    /// the process exits), then the same replica started again on its port, ready.
    pub async fn restart(&mut self, binary: &str, i: usize, grace: Duration) -> anyhow::Result<()> {
        let stack = &self.stack;
        let r = self
            .replicas
            .get_mut(binary)
            .and_then(|v| v.get_mut(i))
            .with_context(|| format!("no replica {binary}-{i}"))?;
        r.svc.proc.sigterm();
        let status = r.svc.proc.wait_exit(grace).await;
        match status {
            Some(s) if s.success() => {}
            Some(s) => bail!("{} exited with {s}\n{}", r.name, r.svc.proc.logs_tail(40)),
            None => bail!("{} did not exit within {grace:?}", r.name),
        }
        let spawned = std::time::Instant::now();
        r.svc = stack.start(r.binary, &r.name, r.svc.port, &r.env).await?;
        r.ready = spawned.elapsed();
        // The next replica goes only once the ingress sends to this one again, as a rolling
        // update waits for the new pod's readiness.
        self.ingress.wait_all_up(Duration::from_secs(10)).await
    }
}

impl Drop for ProdShape {
    fn drop(&mut self) {
        // Stop the replicas before their databases go.
        self.replicas.clear();
        let (admin, dbs) = (
            self.backing.pg_admin_url.clone(),
            std::mem::take(&mut self.databases),
        );
        let _ = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async {
                if let Ok(mut conn) = sqlx::PgConnection::connect(&admin).await {
                    for db in dbs {
                        let _ =
                            sqlx::query(&format!("DROP DATABASE IF EXISTS \"{db}\" WITH (FORCE)"))
                                .execute(&mut conn)
                                .await;
                    }
                    let _ = conn.close().await;
                }
            });
        })
        .join();
    }
}

/// Runs the futures concurrently and collects their results in order.
async fn futures_join<T>(
    futs: Vec<impl std::future::Future<Output = anyhow::Result<T>>>,
) -> anyhow::Result<Vec<T>> {
    futures::future::join_all(futs).await.into_iter().collect()
}

/// A short lowercase hex tag derived from `seed` and the clock (database and key names).
fn uuid_like(seed: &str) -> String {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    seed.hash(&mut h);
    std::time::SystemTime::now().hash(&mut h);
    std::process::id().hash(&mut h);
    format!("{:016x}", h.finish())
}

/// An Ed25519 private key, PKCS#8 PEM (what `JWT_KEYS_DIR` holds), made by openssl.
pub fn generate_ed25519(path: &Path) -> anyhow::Result<PathBuf> {
    let out = Command::new("openssl")
        .args(["genpkey", "-algorithm", "ed25519", "-out"])
        .arg(path)
        .output()
        .context("cannot run openssl")?;
    if !out.status.success() {
        bail!("openssl genpkey: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(path.to_owned())
}
