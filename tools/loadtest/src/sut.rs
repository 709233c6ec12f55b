//! The system under test: starts the all-in-one `phonebill`, the four services (with fresh
//! PostgreSQL databases and a Redis key prefix of their own), or the production shape (every
//! service as replicas behind the chart's ingress, `phonebill_system_tests::ProdShape`) from
//! release or debug binaries, measures each process's spawn-to-ready time, and stops everything
//! it started by PID (SIGTERM, then SIGKILL after a grace period; also from `Drop` if the
//! harness fails).

use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde::Serialize;
use sqlx::Connection;
use tokio::process::{Child, Command};

use phonebill_system_tests::{Backing, ProdShape, ShapeOptions, maxconn_for_open_files};

use crate::client::{self, Call};
use crate::cpulimit::{Cgroups, CpuLimit};

/// Which deployment shape to start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Target {
    /// `phonebill`: one process, SQLite files, no Redis.
    AllInOne,
    /// `auth-service`, `bill-inquiry-service`, `product-change-service`, `kos-mock-service`
    /// against PostgreSQL and Redis.
    Services,
    /// The production shape: `--replicas` of every service behind HAProxy with the chart's
    /// Ingress routes; requests go to the ingress, KOS set-up to the mock's Service address.
    Production,
}

impl Target {
    /// Name in result file names.
    pub fn name(self) -> &'static str {
        match self {
            Self::AllInOne => "all-in-one",
            Self::Services => "services",
            Self::Production => "production",
        }
    }
}

/// Where the production shape keeps its data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum BackingKind {
    /// The PostgreSQL and Redis of `--postgres` / `--redis` (plain text, standalone Redis).
    Machine,
    /// Private TLS-only servers as deploy/terraform provisions them: PostgreSQL with a streaming
    /// read replica, Redis Cluster of 3 masters + 3 replicas.
    Tls,
}

/// How the KOS mock behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kos {
    /// 0 ms, never fails.
    Instant,
    /// The seed's latencies (docs/api.md §5.7); failures simulated only when `failures` is set.
    Seed {
        /// Keep the seed's success rates (99.5 % etc.) instead of 100 %.
        failures: bool,
    },
}

/// Start options.
#[derive(Debug, Clone)]
pub struct Options {
    /// Deployment shape.
    pub target: Target,
    /// Directory with the server binaries.
    pub bin_dir: PathBuf,
    /// KOS behaviour.
    pub kos: Kos,
    /// Make (almost) every bill inquiry a cache miss: L1 of one entry, no Redis for bills.
    pub cache_miss: bool,
    /// PostgreSQL server URL (without database) for the services.
    pub postgres: String,
    /// Redis URL for the services.
    pub redis: String,
    /// Run tag used in database names and key prefixes.
    pub tag: String,
    /// Replicas of every service (production target).
    pub replicas: usize,
    /// Data stores of the production target.
    pub backing: BackingKind,
    /// The open-files limit the ingress inherits (its `maxconn` is sized from it).
    pub nofile: u64,
    /// Client connections the scenario keeps open at once (virtual users or connections).
    pub connections: usize,
    /// CPU limits of server processes, held from each process's start (`--cpu-limit`).
    pub cpu_limits: Vec<CpuLimit>,
}

/// Ingress connections beyond the scenario's own: the set-up and warm-up calls (at most 32 at
/// once, each on a connection of its own, closed before the measured run) and the smoke's checks.
const INGRESS_HEADROOM: usize = 100;

/// One started process.
#[derive(Debug)]
pub struct Proc {
    /// Role name.
    pub name: String,
    /// Where it listens.
    pub addr: SocketAddr,
    /// Spawn to `/actuator/health/readiness` 200.
    pub ready: Duration,
    child: Child,
}

impl Proc {
    /// Its PID (0 if already reaped).
    pub fn pid(&self) -> u32 {
        self.child.id().unwrap_or(0)
    }

    /// Sends SIGTERM (graceful shutdown: readiness 503, drain, flush history).
    pub fn terminate(&self) {
        if let Some(pid) = self.child.id().and_then(|id| i32::try_from(id).ok())
            && let Some(pid) = rustix::process::Pid::from_raw(pid)
        {
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
        }
    }

    /// Waits up to 30 s for the exit, then kills.
    pub async fn reap(&mut self) {
        if tokio::time::timeout(Duration::from_secs(30), self.child.wait())
            .await
            .is_err()
        {
            let _ = self.child.start_kill();
            let _ = self.child.wait().await;
        }
    }

    /// SIGTERM and wait.
    pub async fn stop(&mut self) {
        self.terminate();
        self.reap().await;
    }
}

/// Start-up record for the JSON result.
#[derive(Debug, Clone, Serialize)]
pub struct Startup {
    /// Role name.
    pub process: String,
    /// Spawn-to-ready in ms.
    pub ready_ms: f64,
}

/// The running system.
pub struct Sut {
    /// Processes in start order.
    pub procs: Vec<Proc>,
    /// Auth endpoints.
    pub auth: SocketAddr,
    /// Bill-inquiry endpoints.
    pub bill: SocketAddr,
    /// Product-change endpoints.
    pub product: SocketAddr,
    /// KOS mock endpoints.
    pub kos: SocketAddr,
    /// Where SQLite files, keys and process logs live.
    pub dir: tempfile::TempDir,
    /// The production shape (its replicas, ingress and databases), production target only.
    pub shape: Option<ProdShape>,
    databases: Vec<String>,
    postgres: String,
    redis: String,
    redis_prefix: Option<String>,
    /// `--cpu-limit` cgroups (last: removed after the processes above are gone).
    cgroups: Cgroups,
}

/// The `X-Service-Name` the harness's KOS set-up calls carry in the production shape.
pub const KOS_CALLER: &str = "loadtest";

/// A free TCP port on 127.0.0.1 (bound and released; the tiny race is acceptable here).
pub fn free_port() -> anyhow::Result<u16> {
    let l = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).context("bind 127.0.0.1:0")?;
    Ok(l.local_addr()?.port())
}

fn addr(port: u16) -> SocketAddr {
    SocketAddr::from((Ipv4Addr::LOCALHOST, port))
}

fn kos_env(kos: Kos) -> Vec<(String, String)> {
    let mut env = vec![
        ("KOS_RATE_LIMIT_ENABLED".into(), "false".into()),
        // One mock process owns its database here, so its line cache need not expire (the 1 s
        // default on PostgreSQL exists for mock replicas sharing one database). With 2,000
        // accounts that default made the mock re-read every active line every second; its pool
        // of 10 starved (acquire > 2 s), our KOS timeout fired and the breaker opened: the right
        // reaction to a KOS that does not answer, but a measurement of the mock, not of us.
        ("KOS_LINE_CACHE_TTL_MS".into(), "3600000".into()),
        // `--extra-lines` may ask for more than the mock's default cap of one bulk call.
        ("KOS_BULK_MAX".into(), "1000000".into()),
    ];
    match kos {
        Kos::Instant => env.push(("KOS_SIMULATION".into(), "off".into())),
        Kos::Seed { failures } => {
            env.push(("KOS_SIMULATION".into(), "realistic".into()));
            // Repeatable latency draws (docs/api.md §5.7).
            env.push(("KOS_SIM_SEED".into(), "11".into()));
            if !failures {
                for ep in [
                    "BILL_INQUIRY",
                    "PRODUCT_CHANGE",
                    "PRODUCT_INQUIRY",
                    "PRODUCT_LIST",
                    "AVAILABLE_MONTHS",
                    "AUTH",
                ] {
                    env.push((format!("KOS_SUCCESS_RATE_{ep}"), "1.0".into()));
                }
            }
        }
    }
    env
}

async fn spawn(
    name: &str,
    bin: &Path,
    args: &[String],
    env: &[(String, String)],
    port: u16,
    log_dir: &Path,
    cgroup: Option<PathBuf>,
) -> anyhow::Result<Proc> {
    let log = std::fs::File::create(log_dir.join(format!("{name}.log")))?;
    let log2 = log.try_clone()?;
    let started = Instant::now();
    let mut cmd = match cgroup {
        Some(dir) => {
            let mut c = Command::new("/bin/sh");
            c.args(["-c", crate::cpulimit::JOIN_THEN_EXEC, "sh"])
                .arg(bin)
                .env("PHONEBILL_LOADTEST_CGROUP", dir);
            c
        }
        None => Command::new(bin),
    };
    cmd.args(args)
        .env("PORT", port.to_string())
        .env("BIND_ADDRESS", "127.0.0.1")
        .env("RUST_LOG", "warn")
        .env("LOG_FORMAT", "json")
        .env_remove("DATABASE_URL")
        .env_remove("REDIS_URL")
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log2)
        .kill_on_drop(true);
    let child = cmd
        .spawn()
        .with_context(|| format!("cannot start {}", bin.display()))?;
    let mut proc = Proc {
        name: name.to_owned(),
        addr: addr(port),
        ready: Duration::ZERO,
        child,
    };
    proc.ready = wait_ready(&mut proc, started).await?;
    Ok(proc)
}

/// Polls readiness every 5 ms for up to 60 s.
async fn wait_ready(proc: &mut Proc, started: Instant) -> anyhow::Result<Duration> {
    let deadline = started + Duration::from_secs(60);
    loop {
        if let Ok(r) = client::once(proc.addr, Call::get("/actuator/health/readiness")).await
            && r.status.is_success()
        {
            return Ok(started.elapsed());
        }
        if let Ok(Some(status)) = proc.child.try_wait() {
            bail!("{} exited during start-up: {status}", proc.name);
        }
        if Instant::now() > deadline {
            bail!("{} not ready after 60 s", proc.name);
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

impl Sut {
    /// Starts the system and waits until every process is ready.
    pub async fn start(opts: &Options) -> anyhow::Result<Self> {
        let dir = tempfile::Builder::new()
            .prefix("phonebill-loadtest-")
            .tempdir()?;
        let bin = |n: &str| opts.bin_dir.join(n);
        let mut cg = Cgroups::new(&opts.tag, &opts.cpu_limits);
        match opts.target {
            Target::AllInOne => {
                let port = free_port()?;
                let mut env = kos_env(opts.kos);
                env.push(("AUTH_RATE_LIMIT_PER_MINUTE".into(), "0".into()));
                env.push(("SEED_DEMO_USERS".into(), "true".into()));
                if opts.cache_miss {
                    env.push(("CACHE_L1_CAPACITY".into(), "1".into()));
                }
                let mut args = vec![
                    "--port".to_owned(),
                    port.to_string(),
                    "--data-dir".to_owned(),
                    dir.path().join("data").display().to_string(),
                ];
                if matches!(opts.kos, Kos::Seed { .. }) {
                    args.push("--kos-realistic".into());
                }
                let p = spawn(
                    "phonebill",
                    &bin("phonebill"),
                    &args,
                    &env,
                    port,
                    dir.path(),
                    cg.prepare("phonebill")?,
                )
                .await?;
                let a = p.addr;
                cg.all_used(&["phonebill"])?;
                Ok(Self {
                    procs: vec![p],
                    auth: a,
                    bill: a,
                    product: a,
                    kos: a,
                    dir,
                    shape: None,
                    databases: Vec::new(),
                    postgres: opts.postgres.clone(),
                    redis: opts.redis.clone(),
                    redis_prefix: None,
                    cgroups: cg,
                })
            }
            Target::Services => Self::start_services(opts, dir, cg).await,
            Target::Production => {
                if !opts.cpu_limits.is_empty() {
                    bail!(
                        "--cpu-limit applies to the all-in-one and the services targets (the \
                         production shape's replicas are started by the system tests' shape)"
                    );
                }
                Self::start_production(opts, dir).await
            }
        }
    }

    /// The production shape with what the harness's set-up and scenarios need on top of the
    /// shape's own settings: open registration and no login limit (the set-up registers and
    /// logs in every account from one address), auth's production Argon2 cost, the KOS mock's
    /// latencies of `opts.kos`, the harness allowed as a KOS caller, and an ingress `maxconn`
    /// as large as the open-files limit allows.
    async fn start_production(opts: &Options, dir: tempfile::TempDir) -> anyhow::Result<Self> {
        if opts.cache_miss {
            bail!(
                "the cache-miss scenario needs bill-inquiry without Redis, and every replica of \
                 the production shape shares one Redis; run it with --target services"
            );
        }
        let backing = match opts.backing {
            BackingKind::Machine => {
                Backing::plain(&format!("{}/postgres", opts.postgres), &opts.redis)
            }
            BackingKind::Tls => Backing::production()
                .await
                .context("cannot start the TLS PostgreSQL and Redis Cluster")?,
        };
        // HAProxy's maxconn: what the scenario needs, within what the open-files limit carries
        // (two descriptors per connection); a run that would queue users at the ingress's
        // accept is refused before anything starts.
        let cap = maxconn_for_open_files(opts.nofile);
        let needed = u32::try_from(opts.connections + INGRESS_HEADROOM).unwrap_or(u32::MAX);
        if needed > cap {
            bail!(
                "{} connections need an ingress maxconn of {needed}, but the open-files limit of \
                 {} carries at most {cap} (HAProxy refuses to start without 2 descriptors per \
                 connection + {}); raise the hard limit (`ulimit -Hn`, `prlimit --nofile`: \
                 needs CAP_SYS_RESOURCE; the harness raises it itself to 65536 where it may)",
                opts.connections,
                opts.nofile,
                phonebill_system_tests::ingress::FD_RESERVE
            );
        }
        let mut so = ShapeOptions::new(opts.replicas);
        so.bin_dir = Some(opts.bin_dir.clone());
        so.cheap_argon2 = false;
        so.maxconn = needed
            .max(phonebill_system_tests::ingress::DEFAULT_MAXCONN)
            .min(cap);
        let mut kos = kos_env(opts.kos);
        // Two mock replicas share one database: keep the mock's short line cache (its
        // documented bound across replicas), so a change made through one is seen by the other.
        kos.retain(|(k, _)| k != "KOS_LINE_CACHE_TTL_MS");
        kos.push((
            "KOS_ALLOWED_SERVICES".into(),
            format!("bill-inquiry-service,product-change-service,auth-service,{KOS_CALLER}"),
        ));
        so.env.insert("kos-mock-service".into(), kos);
        so.env.insert(
            "auth-service".into(),
            vec![
                ("AUTH_RATE_LIMIT_PER_MINUTE".into(), "0".into()),
                ("REGISTRATION_MODE".into(), "open".into()),
            ],
        );
        let shape = ProdShape::start_with(backing, &so).await?;
        let ingress = addr(shape.ingress.port);
        let kos_addr = shape.services["kos-mock-service"]
            .trim_start_matches("http://")
            .parse::<SocketAddr>()
            .context("the KOS Service address")?;
        Ok(Self {
            procs: Vec::new(),
            auth: ingress,
            bill: ingress,
            product: ingress,
            kos: kos_addr,
            dir,
            shape: Some(shape),
            databases: Vec::new(),
            postgres: opts.postgres.clone(),
            redis: opts.redis.clone(),
            redis_prefix: None,
            cgroups: Cgroups::default(),
        })
    }

    /// The credential of KOS calls (X-Service-Name, key): the production shape's mock requires
    /// one (`KOS_REQUIRE_AUTH=true`); the other targets accept calls without.
    pub fn kos_credential(&self) -> Option<(&str, &str)> {
        self.shape
            .as_ref()
            .map(|s| (KOS_CALLER, s.kos_api_key.as_str()))
    }

    /// HTTP requests the production shape's ingress has received so far.
    pub async fn ingress_requests(&self) -> Option<u64> {
        match &self.shape {
            Some(s) => match s.ingress.ingress_requests().await {
                Ok(n) => Some(n),
                Err(e) => {
                    eprintln!("warning: cannot read the ingress's request count: {e}");
                    None
                }
            },
            None => None,
        }
    }

    async fn start_services(
        opts: &Options,
        dir: tempfile::TempDir,
        mut cg: Cgroups,
    ) -> anyhow::Result<Self> {
        let prefix = format!("lt{}", opts.tag);
        let mut sut = Self {
            procs: Vec::new(),
            auth: addr(free_port()?),
            bill: addr(free_port()?),
            product: addr(free_port()?),
            kos: addr(free_port()?),
            dir,
            shape: None,
            databases: Vec::new(),
            postgres: opts.postgres.clone(),
            redis: opts.redis.clone(),
            redis_prefix: Some(prefix.clone()),
            cgroups: Cgroups::default(),
        };
        let mut urls = Vec::new();
        for svc in ["auth", "bill", "product", "kos"] {
            urls.push(sut.create_database(&format!("{prefix}_{svc}")).await?);
        }
        let data = sut.dir.path().join("data").display().to_string();
        let jwks = format!("http://{}/api/v1/auth/.well-known/jwks.json", sut.auth);
        let kos_url = format!("http://{}", sut.kos);
        let common = |db: &str| -> Vec<(String, String)> {
            vec![
                ("DATABASE_URL".into(), db.to_owned()),
                ("DATA_DIR".into(), data.clone()),
            ]
        };
        let redis = |v: &mut Vec<(String, String)>| {
            v.push(("REDIS_URL".into(), opts.redis.clone()));
            v.push(("REDIS_KEY_PREFIX".into(), format!("{prefix}d")));
            v.push(("DENY_LIST_KEY_PREFIX".into(), format!("{prefix}d")));
            v.push(("CACHE_KEY_PREFIX".into(), format!("{prefix}c")));
        };
        let dirp = sut.dir.path().to_owned();

        let mut kos_e = common(&urls[3]);
        kos_e.extend(kos_env(opts.kos));
        let mut auth_e = common(&urls[0]);
        redis(&mut auth_e);
        auth_e.push(("SEED_DEMO_USERS".into(), "true".into()));
        auth_e.push(("AUTH_RATE_LIMIT_PER_MINUTE".into(), "0".into()));
        // The setup registers accounts in one step (register, then mock data), as the
        // all-in-one does; line ownership is tested elsewhere (crates/integration-tests).
        auth_e.push(("REGISTRATION_MODE".into(), "open".into()));
        let (kos_bin, auth_bin) = (
            opts.bin_dir.join("kos-mock-service"),
            opts.bin_dir.join("auth-service"),
        );
        let (kos, auth) = tokio::join!(
            spawn(
                "kos-mock-service",
                &kos_bin,
                &[],
                &kos_e,
                sut.kos.port(),
                &dirp,
                cg.prepare("kos-mock-service")?,
            ),
            spawn(
                "auth-service",
                &auth_bin,
                &[],
                &auth_e,
                sut.auth.port(),
                &dirp,
                cg.prepare("auth-service")?,
            ),
        );
        sut.procs.push(kos?);
        sut.procs.push(auth?);

        let mut bill_e = common(&urls[1]);
        if opts.cache_miss {
            // Every key would be a Redis hit after its first miss; without L2 and with a
            // one-entry L1 almost every inquiry goes to KOS.
            bill_e.push(("REDIS_KEY_PREFIX".into(), format!("{prefix}d")));
            bill_e.push(("CACHE_L1_CAPACITY".into(), "1".into()));
        } else {
            redis(&mut bill_e);
        }
        let mut prod_e = common(&urls[2]);
        redis(&mut prod_e);
        for e in [&mut bill_e, &mut prod_e] {
            e.push(("JWKS_URL".into(), jwks.clone()));
            e.push(("KOS_BASE_URL".into(), kos_url.clone()));
        }
        let (bill_bin, product_bin) = (
            opts.bin_dir.join("bill-inquiry-service"),
            opts.bin_dir.join("product-change-service"),
        );
        let (bill, product) = tokio::join!(
            spawn(
                "bill-inquiry-service",
                &bill_bin,
                &[],
                &bill_e,
                sut.bill.port(),
                &dirp,
                cg.prepare("bill-inquiry-service")?,
            ),
            spawn(
                "product-change-service",
                &product_bin,
                &[],
                &prod_e,
                sut.product.port(),
                &dirp,
                cg.prepare("product-change-service")?,
            ),
        );
        sut.procs.push(bill?);
        sut.procs.push(product?);
        let names: Vec<&str> = sut.procs.iter().map(|p| p.name.as_str()).collect();
        cg.all_used(&names)?;
        sut.cgroups = cg;
        Ok(sut)
    }

    /// What the CPU limits did so far: per limited process its limit, throttled periods and
    /// throttled time (empty without `--cpu-limit`).
    pub fn cpu_throttling(&self) -> Vec<serde_json::Value> {
        self.cgroups
            .throttling()
            .into_iter()
            .map(|(l, periods, ms)| {
                serde_json::json!({ "process": l.process, "millicores": l.millicores,
                                    "throttled_periods": periods, "throttled_ms": ms })
            })
            .collect()
    }

    async fn create_database(&mut self, name: &str) -> anyhow::Result<String> {
        let mut conn = sqlx::PgConnection::connect(&format!("{}/postgres", self.postgres))
            .await
            .with_context(|| format!("cannot reach PostgreSQL at {}", self.postgres))?;
        sqlx::query(&format!("CREATE DATABASE \"{name}\""))
            .execute(&mut conn)
            .await?;
        self.databases.push(name.to_owned());
        Ok(format!("{}/{name}", self.postgres))
    }

    /// (name, pid) of every process, for the monitor: every replica and the ingress of the
    /// production shape.
    pub fn pids(&self) -> Vec<(String, u32)> {
        let mut out: Vec<(String, u32)> = self
            .procs
            .iter()
            .map(|p| (p.name.clone(), p.pid()))
            .collect();
        if let Some(s) = &self.shape {
            out.extend(s.pids());
        }
        out
    }

    /// Start-up times (every replica of the production shape, each spawn to ready).
    pub fn startup(&self) -> Vec<Startup> {
        let ms = |d: Duration| (d.as_secs_f64() * 10_000.0).round() / 10.0;
        let mut out: Vec<Startup> = self
            .procs
            .iter()
            .map(|p| Startup {
                process: p.name.clone(),
                ready_ms: ms(p.ready),
            })
            .collect();
        if let Some(s) = &self.shape {
            out.extend(s.replicas.values().flatten().map(|r| Startup {
                process: r.name.clone(),
                ready_ms: ms(r.ready),
            }));
        }
        out
    }

    /// Where the server logs are (the production shape keeps its own).
    pub fn log_dir(&self) -> &Path {
        self.shape
            .as_ref()
            .map_or(self.dir.path(), |s| s.stack.path())
    }

    /// Keeps the log directories after the run (for the post-mortem of a failed one).
    pub fn keep_logs(&mut self) {
        self.dir.disable_cleanup(true);
        if let Some(s) = &mut self.shape {
            s.stack.dir.disable_cleanup(true);
        }
    }

    /// The database URL of one service's database (services target) or its SQLite file.
    pub fn database_url(&self, service: &str) -> String {
        if let Some(s) = &self.shape {
            let binary = match service {
                "bill" => "bill-inquiry-service",
                "product" => "product-change-service",
                "auth" => "auth-service",
                _ => "kos-mock-service",
            };
            return s.database_urls[binary].clone();
        }
        match self.redis_prefix.as_deref() {
            Some(prefix) => format!("{}/{prefix}_{service}", self.postgres),
            None => {
                let file = match service {
                    "bill" => "bill-inquiry.db",
                    "product" => "product-change.db",
                    "auth" => "auth.db",
                    _ => "kos-mock.db",
                };
                format!(
                    "sqlite://{}?mode=ro",
                    self.dir.path().join("data").join(file).display()
                )
            }
        }
    }

    /// Stops every process (SIGTERM, 30 s grace, then SIGKILL) so that history and call logs
    /// are flushed; databases and keys stay until [`Sut::cleanup`].
    pub async fn stop(&mut self) {
        for p in self.procs.iter_mut().rev() {
            p.terminate();
        }
        for p in &mut self.procs {
            p.reap().await;
        }
        if let Some(s) = &mut self.shape {
            s.stop(Duration::from_secs(30)).await;
        }
    }

    /// Drops the run's databases and Redis keys (the production shape: stops its ingress, drops
    /// its databases and, on the machine's Redis, deletes its keys).
    pub async fn cleanup(&mut self) {
        if let Some(shape) = self.shape.take() {
            let machine_redis = shape.backing.servers().is_none();
            let prefix = shape.key_prefix.clone();
            // The shape's Drop stops the ingress by PID and drops the databases.
            drop(shape);
            if machine_redis && let Err(e) = delete_keys(&self.redis, &format!("{prefix}*")).await {
                eprintln!("warning: could not delete Redis keys {prefix}*: {e}");
            }
        }
        if !self.databases.is_empty()
            && let Ok(mut conn) =
                sqlx::PgConnection::connect(&format!("{}/postgres", self.postgres)).await
        {
            for db in self.databases.drain(..) {
                let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS \"{db}\" WITH (FORCE)"))
                    .execute(&mut conn)
                    .await;
            }
        }
        if let Some(prefix) = self.redis_prefix.take()
            && let Err(e) = delete_keys(&self.redis, &format!("{prefix}*")).await
        {
            eprintln!("warning: could not delete Redis keys {prefix}*: {e}");
        }
    }
}

async fn delete_keys(url: &str, pattern: &str) -> anyhow::Result<()> {
    let client = redis::Client::open(url)?;
    let mut conn = client.get_multiplexed_async_connection().await?;
    let mut cursor: u64 = 0;
    loop {
        let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(pattern)
            .arg("COUNT")
            .arg(1000)
            .query_async(&mut conn)
            .await?;
        if !keys.is_empty() {
            let _: i64 = redis::cmd("DEL").arg(&keys).query_async(&mut conn).await?;
        }
        if next == 0 {
            return Ok(());
        }
        cursor = next;
    }
}

/// A separate process serving the bare axum ceiling (`loadtest bare-server`), so its RSS and CPU
/// are measured like the servers' and it does not share a runtime with the load generator.
pub async fn spawn_bare(log_dir: &Path) -> anyhow::Result<Proc> {
    let port = free_port()?;
    let exe = std::env::current_exe()?;
    spawn(
        "bare-axum",
        &exe,
        &[
            "bare-server".to_owned(),
            "--port".to_owned(),
            port.to_string(),
        ],
        &[],
        port,
        log_dir,
        None,
    )
    .await
}
