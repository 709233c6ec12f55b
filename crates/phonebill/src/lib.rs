//! The all-in-one process: the four services merged into one router on one port, with the same
//! path routing the production ingress uses, each service with its own SQLite file under the
//! data directory. Bill and product still reach the KOS mock over real HTTP on that port, so
//! timeouts and the circuit breaker behave as in production.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use clap::Parser;
use phonebill_common::config::{ConfigError, Env, HttpConfig, OverlayEnv, ServerConfig};
use phonebill_common::http::assemble;
use phonebill_common::service::Deps;
use tokio::net::TcpListener;

/// Command-line options; each also reads an environment variable.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "phonebill",
    version,
    about = "phonebill: auth, bill inquiry, product change and the KOS mock in one process",
    long_about = "Runs the whole phonebill back end in one process on one port, with embedded SQLite \
                  files under the data directory and no Redis. Every /api/v1 path of docs/api.md is served \
                  without prefix rewriting. Other variables (RUST_LOG, LOG_FORMAT, CORS_ALLOWED_ORIGINS, \
                  REQUEST_TIMEOUT_SECONDS, SHUTDOWN_GRACE_SECONDS, …) are read from the environment as \
                  documented in README.md."
)]
pub struct Options {
    /// TCP port to listen on.
    #[arg(long, env = "PORT", default_value_t = 8080)]
    pub port: u16,
    /// Address to bind (use 0.0.0.0 to accept connections from other machines).
    #[arg(long, env = "BIND_ADDRESS", default_value = "127.0.0.1")]
    pub bind: IpAddr,
    /// Directory for the SQLite files (auth.db, bill-inquiry.db, …) and the local JWT key.
    #[arg(long, env = "DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,
    /// Make the embedded KOS mock behave like production: seed latencies (bill 200–500 ms,
    /// product change 300–800 ms) and failure rates. Off by default: answers at once, never fails.
    #[arg(long)]
    pub kos_realistic: bool,
}

/// The running process's pieces, for `main` and tests.
#[derive(Debug)]
pub struct AllInOne {
    /// Bound listener.
    pub listener: TcpListener,
    /// Shared dependencies (shutdown token, metrics, lifecycle).
    pub deps: Deps,
    services: Services,
    server: ServerConfig,
    http: HttpConfig,
    /// Whether the docs/api.md §8 demo users were seeded (the banner lists them).
    pub demo_users: bool,
}

#[derive(Debug)]
struct Services {
    auth: phonebill_auth::App,
    bill: phonebill_bill_inquiry::App,
    product: phonebill_product_change::App,
    kos: phonebill_kos_mock::App,
}

/// Start-up failed.
#[derive(Debug, thiserror::Error)]
pub enum LaunchError {
    /// A configuration value is wrong.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The port could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The cause.
        source: std::io::Error,
    },
    /// A service could not be built.
    #[error("{service}: {message}")]
    Service {
        /// Which one.
        service: &'static str,
        /// What went wrong.
        message: String,
    },
}

fn service_err(service: &'static str) -> impl Fn(&dyn std::fmt::Display) -> LaunchError {
    move |e| LaunchError::Service {
        service,
        message: e.to_string(),
    }
}

/// The environment each service sees: the process environment, with the data directory from
/// the options and no `DATABASE_URL` (each service gets its own SQLite file). Local defaults
/// differ from production where a newcomer expects them to: the KOS mock answers at once and
/// never fails unless `--kos-realistic` (or `KOS_SIMULATION`) says otherwise, rate limits are
/// off, demo users are seeded, registration is `open` (the registration page registers, then
/// creates the mock data), and bill/product reach KOS and the JWKS on this very port.
///
/// `kos_key` is set on a non-loopback bind (see [`network_kos_key`]): then the mock requires
/// the service key on every KOS endpoint and on its admin, fault, outbox and bulk endpoints, and
/// the in-process KOS clients send it (docs/security.md, issue 17 finding 6).
fn service_env(opts: &Options, port: u16, kos_key: Option<&str>) -> OverlayEnv {
    let own = format!("http://127.0.0.1:{port}");
    let mut env = OverlayEnv::new()
        .set("DATA_DIR", opts.data_dir.display().to_string())
        .hide("DATABASE_URL");
    let simulation = if opts.kos_realistic {
        "realistic"
    } else {
        "off"
    };
    let mut defaults: Vec<(&str, String)> = vec![
        ("KOS_SIMULATION", simulation.to_owned()),
        ("KOS_RATE_LIMIT_ENABLED", "false".to_owned()),
        ("SEED_DEMO_USERS", "true".to_owned()),
        ("REGISTRATION_MODE", "open".to_owned()),
        ("KOS_BASE_URL", own.clone()),
        (
            "JWKS_URL",
            format!("{own}/api/v1/auth/.well-known/jwks.json"),
        ),
    ];
    if let Some(key) = kos_key {
        defaults.push(("KOS_API_KEY", key.to_owned()));
        defaults.push(("KOS_REQUIRE_AUTH", "true".to_owned()));
        defaults.push(("KOS_ADMIN_REQUIRES_KEY", "true".to_owned()));
    }
    for (key, value) in defaults {
        let forced = key == "KOS_SIMULATION" && opts.kos_realistic;
        if forced || std::env::var_os(key).is_none() {
            env = env.set(key, value);
        }
    }
    env
}

/// File under the data directory that keeps the generated KOS service key.
pub const KOS_KEY_FILE: &str = "kos-api-key";

/// On a non-loopback bind the embedded KOS mock must not be open to the network: the service
/// key from `KOS_API_KEY`, else one generated once and kept in `$DATA_DIR/kos-api-key` (0600).
/// Its path is logged, never its value. `None` on a loopback bind.
fn network_kos_key(opts: &Options) -> Result<Option<String>, LaunchError> {
    if opts.bind.is_loopback() {
        return Ok(None);
    }
    if let Some(key) = std::env::var("KOS_API_KEY").ok().filter(|k| !k.is_empty()) {
        return Ok(Some(key));
    }
    let path = opts.data_dir.join(KOS_KEY_FILE);
    let fail = |e: std::io::Error| LaunchError::Service {
        service: "kos-mock",
        message: format!(
            "cannot keep the generated KOS key at {}: {e}",
            path.display()
        ),
    };
    if let Ok(existing) = std::fs::read_to_string(&path) {
        let key = existing.trim().to_owned();
        if !key.is_empty() {
            tracing::info!(path = %path.display(), "non-loopback bind: the KOS mock requires the service key kept in this file");
            return Ok(Some(key));
        }
    }
    let mut dir = std::fs::DirBuilder::new();
    dir.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut dir, 0o700);
    dir.create(&opts.data_dir).map_err(fail)?;
    let key = hex::encode(rand::random::<[u8; 32]>());
    let mut file = std::fs::OpenOptions::new();
    file.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut file, 0o600);
    let mut f = file.open(&path).map_err(fail)?;
    std::io::Write::write_all(&mut f, key.as_bytes()).map_err(fail)?;
    tracing::warn!(path = %path.display(), "non-loopback bind: generated a KOS service key; the KOS mock's endpoints, admin, faults and bulk creation require it (Authorization: Bearer <key>, X-Service-Name)");
    Ok(Some(key))
}

/// Every service's configuration parses (errors name the variable).
fn validate(env: Env<'_>) -> Result<(), ConfigError> {
    ServerConfig::from_env(env, 0, IpAddr::from([127, 0, 0, 1]))?;
    HttpConfig::from_env(env)?;
    phonebill_auth::Config::from_env(env)?;
    phonebill_bill_inquiry::Config::from_env(env)?;
    phonebill_product_change::Config::from_env(env)?;
    phonebill_kos_mock::Config::from_env(env)?;
    Ok(())
}

/// Builds the four services and binds the port.
pub async fn launch(opts: &Options) -> Result<AllInOne, LaunchError> {
    // Validate the configuration before touching the network, so a bad value is reported as such.
    let kos_key = network_kos_key(opts)?;
    let probe = service_env(opts, opts.port, kos_key.as_deref());
    validate(Env::new(&probe))?;

    // Bind first: with `--port 0` the services must learn the real port to reach KOS and JWKS.
    let addr = SocketAddr::new(opts.bind, opts.port);
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| LaunchError::Bind { addr, source })?;
    let port = listener
        .local_addr()
        .map_err(|source| LaunchError::Bind { addr, source })?
        .port();
    let overlay = service_env(opts, port, kos_key.as_deref());
    let env = Env::new(&overlay);
    let server = ServerConfig::from_env(env, opts.port, opts.bind)?;
    let server = ServerConfig {
        bind: opts.bind,
        port,
        ..server
    };
    let http = HttpConfig::from_env(env)?;
    let mut deps = Deps::new();
    // One deny list for the whole process: a logout in auth must reach bill and product at once,
    // with or without Redis.
    let deny_cfg = phonebill_common::auth::DenyListConfig::from_env(env)?;
    let deny =
        phonebill_common::auth::DenyList::start_checked(&deny_cfg, deps.shutdown.child_token())
            .await
            .map_err(|e| service_err("deny-list")(&e))?;
    deps.deny_list = Some(deny);
    // One cache too: product-change invalidates bill entries, and without Redis only a shared
    // L1 can carry that.
    let families = [
        phonebill_bill_inquiry::cache::FAMILIES,
        phonebill_product_change::cache::FAMILIES,
    ]
    .concat();
    let cache_cfg = phonebill_common::cache::CacheConfig::from_env(env, &families)?;
    let cache = phonebill_common::cache::Cache::new(cache_cfg, &deps.metrics, &deps.shutdown)
        .map_err(|e| service_err("cache")(&e))?;
    deps.cache = Some(cache);

    let auth_cfg = phonebill_auth::Config::from_env(env)?;
    let demo_users = auth_cfg.seed_demo_users;
    let bill_cfg = phonebill_bill_inquiry::Config::from_env(env)?;
    let product_cfg = phonebill_product_change::Config::from_env(env)?;
    let kos_cfg = phonebill_kos_mock::Config::from_env(env)?;

    let services = Services {
        auth: phonebill_auth::build(auth_cfg, deps.clone())
            .await
            .map_err(|e| service_err("auth")(&e))?,
        bill: phonebill_bill_inquiry::build(bill_cfg, deps.clone())
            .await
            .map_err(|e| service_err("bill-inquiry")(&e))?,
        product: phonebill_product_change::build(product_cfg, deps.clone())
            .await
            .map_err(|e| service_err("product-change")(&e))?,
        kos: phonebill_kos_mock::build(kos_cfg, deps.clone())
            .await
            .map_err(|e| service_err("kos-mock")(&e))?,
    };
    Ok(AllInOne {
        listener,
        deps,
        services,
        server,
        http,
        demo_users,
    })
}

impl AllInOne {
    /// The bound address.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until `deps.shutdown` is cancelled, then shuts every service down.
    pub async fn run(self) -> std::io::Result<()> {
        let Self {
            listener,
            deps,
            services,
            server,
            http,
            ..
        } = self;
        let parts = vec![
            services.auth.parts(),
            services.bill.parts(),
            services.product.parts(),
            services.kos.parts(),
        ];
        let router = assemble("phonebill", parts, &deps.metrics, &deps.lifecycle, &http);
        let result = phonebill_common::server::serve(
            listener,
            router,
            deps.shutdown.clone(),
            deps.lifecycle.clone(),
            &server,
        )
        .await;
        services.auth.shutdown().await;
        services.bill.shutdown().await;
        services.product.shutdown().await;
        services.kos.shutdown().await;
        result
    }
}

/// The demo users table for the banner (docs/api.md §8).
pub fn demo_users_text() -> String {
    let mut out = String::from("Demo users (docs/api.md §8):\n");
    for u in phonebill_auth::DEMO_USERS {
        let perms: Vec<&str> = u.permissions.iter().map(|p| p.as_str()).collect();
        out.push_str(&format!(
            "  {:<8} {:<12} {}  {}\n",
            u.id,
            u.password,
            u.line,
            perms.join(",")
        ));
    }
    out
}

/// The start-up banner: where the system answers and where its docs are.
pub fn banner(addr: SocketAddr, opts: &Options) -> String {
    let base = format!("http://{addr}");
    format!(
        "phonebill is running at {base}\n\
         \x20 API (docs/api.md):   {base}/api/v1/...\n\
         \x20 API docs:        {base}/swagger-ui/  (OpenAPI index: {base}/v3/api-docs)\n\
         \x20 health:          {base}/actuator/health   readiness: {base}/actuator/health/readiness\n\
         \x20 metrics:         {base}/actuator/prometheus\n\
         \x20 data directory:  {}\n\
         Press Ctrl-C to stop.",
        opts.data_dir.display()
    )
}
