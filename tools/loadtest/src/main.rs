//! `loadtest`: the reproducible load harness of issue 11 (docs/benchmarks.md, "Load harness").
//!
//! Every scenario starts the system under test itself (the all-in-one `phonebill`, the four
//! services against PostgreSQL and Redis, or the production shape: replicas of every service
//! behind the chart's ingress), waits for readiness (recording spawn-to-ready), sets
//! up accounts and lines, drives load for a bounded time against 127.0.0.1, samples RSS and CPU
//! of every server process, stops everything it started by PID, prints a table and writes a JSON
//! result file.

mod bare;
mod calllog;
mod client;
mod cpulimit;
mod procstat;
mod scenarios;
mod setup;
mod stats;
mod sut;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand};
use serde::Serialize;
use serde_json::{Value, json};

use crate::procstat::ProcessUsage;
use crate::scenarios::{Endpoint, JourneySpec, LoopSpec};
use crate::stats::{Latency, Summary};
use crate::sut::{BackingKind, Kos, Startup, Sut, Target};

/// Command line.
#[derive(Debug, Parser)]
#[command(
    name = "loadtest",
    about = "phonebill load harness (issue 11): one command per scenario"
)]
struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Debug, Clone, Args)]
struct Global {
    /// System under test.
    #[arg(long, global = true, value_enum, default_value = "all-in-one")]
    target: Target,
    /// Directory holding the server binaries (`phonebill`, `auth-service`, …).
    #[arg(long, global = true, env = "LOADTEST_BIN_DIR")]
    bin_dir: Option<PathBuf>,
    /// Directory for the JSON result files.
    #[arg(long, global = true, default_value = "target/loadtest")]
    out_dir: PathBuf,
    /// PostgreSQL server for `--target services` (databases with fresh names are created and dropped).
    #[arg(
        long,
        global = true,
        default_value = "postgres://postgres@127.0.0.1:5432"
    )]
    postgres: String,
    /// Redis for `--target services` (keys under a fresh prefix, deleted afterwards).
    #[arg(long, global = true, default_value = "redis://127.0.0.1:6379")]
    redis: String,
    /// Registered accounts, each with its own KOS line (default: 200 journey, 50 endpoints).
    #[arg(long, global = true)]
    accounts: Option<usize>,
    /// Extra unowned KOS lines bulk-created so the mock's store has a realistic size.
    #[arg(long, global = true, default_value_t = 10_000)]
    extra_lines: u32,
    /// Replicas of every service for `--target production`.
    #[arg(long, global = true, default_value_t = 2, value_parser = clap::value_parser!(u16).range(1..=16))]
    replicas: u16,
    /// Data stores of `--target production`: `machine` (`--postgres`, `--redis`) or `tls`
    /// (private TLS-only PostgreSQL with a read replica and Redis Cluster 3 + 3).
    #[arg(long, global = true, value_enum, default_value = "machine")]
    backing: BackingKind,
    /// Hold a server process to a CPU limit from its start, as a Kubernetes
    /// limit does (CFS quota per 100 ms in a cgroup of its own; needs root):
    /// `--cpu-limit bill-inquiry-service=600m` (repeatable; all-in-one and services targets).
    #[arg(long = "cpu-limit", global = true, value_name = "PROCESS=CPU")]
    cpu_limit: Vec<cpulimit::CpuLimit>,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// The customer journey: menu → inquiry → product menu → available → validation → change (rare).
    Journey(JourneyArgs),
    /// One endpoint closed-loop, with the bare axum ceiling measured right before it.
    Endpoint(EndpointArgs),
    /// Every endpoint scenario, then the journey (one result file each).
    All {
        #[command(flatten)]
        endpoint: EndpointTiming,
        #[command(flatten)]
        journey: JourneyArgs,
    },
    /// A few seconds at low load against the all-in-one (or `--target production`: the journey
    /// through the ingress); fails unless every request succeeded and the result file is valid
    /// (CI).
    Smoke,
    /// Internal: serve the bare axum ceiling on `--port`.
    #[command(hide = true)]
    BareServer {
        #[arg(long)]
        port: u16,
    },
}

#[derive(Debug, Clone, Args)]
struct JourneyArgs {
    /// Concurrent virtual users, each with its own keep-alive connection(s).
    #[arg(long, default_value_t = 1000)]
    users: usize,
    /// Mean think time between steps, ms (uniform 0.5x–1.5x).
    #[arg(long, default_value_t = 1000)]
    think_ms: u64,
    /// Probability that a journey ends with a product change.
    #[arg(long, default_value_t = 0.01)]
    change_ratio: f64,
    /// Seconds over which the users start.
    #[arg(long, default_value_t = 5.0)]
    ramp: f64,
    /// Seconds after the ramp that are not recorded.
    #[arg(long, default_value_t = 3.0)]
    warmup: f64,
    /// Recorded seconds.
    #[arg(long, default_value_t = 20.0)]
    duration: f64,
    /// KOS mock at 0 ms instead of the seed's latencies.
    #[arg(long)]
    kos_instant: bool,
    /// Keep the seed's KOS failure rates (99.5 % success etc.); off = seed latencies, no failures.
    #[arg(long)]
    kos_failures: bool,
}

#[derive(Debug, Clone, Args)]
struct EndpointTiming {
    /// Concurrent connections (login: at most 8 are useful, hashing is bounded).
    #[arg(long, default_value_t = 64)]
    connections: usize,
    /// Seconds not recorded.
    #[arg(
        id = "endpoint_warmup",
        long = "endpoint-warmup",
        default_value_t = 2.0
    )]
    warmup: f64,
    /// Recorded seconds.
    #[arg(
        id = "endpoint_duration",
        long = "endpoint-duration",
        default_value_t = 10.0
    )]
    duration: f64,
}

#[derive(Debug, Clone, Args)]
struct EndpointArgs {
    /// Which endpoint.
    #[arg(long, value_enum)]
    name: Endpoint,
    #[command(flatten)]
    timing: EndpointTiming,
}

/// Time our services added to journey responses (response time minus KOS time).
#[derive(Debug, Clone, Serialize)]
struct Added {
    /// Percentiles in ms.
    latency_ms: Latency,
    /// Responses in the figure.
    samples: u64,
    /// Of which had a KOS call subtracted (from `kos_call_log`).
    kos_subtracted: u64,
    /// Cache-miss responses with no `kos_call_log` row: they joined another request's KOS
    /// call (single flight) and are left out.
    joined_kos_call: u64,
    /// Product look-ups right after a change of the line (may include a KOS reload) left out.
    unattributed: u64,
    /// How it was computed.
    method: &'static str,
}

/// One goal of issue 11 and whether this run met it.
#[derive(Debug, Clone, Serialize)]
struct Check {
    goal: String,
    value: String,
    met: bool,
}

/// The JSON result of one scenario.
#[derive(Debug, Serialize)]
struct Report {
    scenario: String,
    target: Target,
    started_at: String,
    git_commit: String,
    cpus: usize,
    load_average_before: Option<f64>,
    load_average_after: Option<f64>,
    config: Value,
    startup: Vec<Startup>,
    /// The scenario as a whole (and the bare ceiling for endpoint scenarios).
    results: Vec<Summary>,
    /// Per-step rows (journey).
    steps: Vec<Summary>,
    #[serde(skip_serializing_if = "Option::is_none")]
    added_latency: Option<Added>,
    /// Server processes and the harness itself during the measured run.
    processes: Vec<ProcessUsage>,
    /// Production target: HTTP requests the ingress received from its start to the end of the
    /// measured run (set-up, warm-up and the run itself), from HAProxy's `req_tot`.
    #[serde(skip_serializing_if = "Option::is_none")]
    ingress_requests: Option<u64>,
    /// `--cpu-limit`: each limited process's limit and how often the limit throttled it.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    cpu_limits: Vec<Value>,
    checks: Vec<Check>,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    if let Cmd::BareServer { port } = cli.command {
        return Ok(rt.block_on(bare::serve(port))?);
    }
    let nofile = raise_nofile();
    rt.block_on(run(cli, nofile))
}

/// The open-files limit the harness asks for when its hard limit is lower (a process with
/// `CAP_SYS_RESOURCE` may raise it): a 10,000-user journey through the ingress needs
/// 2 × 10,100 + 256 descriptors in HAProxy (client and server side of each connection,
/// `ingress::maxconn_for_open_files`).
const WANT_NOFILE: u64 = 65_536;

/// Raises the soft open-files limit to the hard limit (inherited by the servers we spawn), and
/// first the hard limit to [`WANT_NOFILE`] when the process may (`CAP_SYS_RESOURCE`; else it stays).
fn raise_nofile() -> u64 {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let mut l = getrlimit(Resource::Nofile);
    if l.maximum.is_some_and(|m| m < WANT_NOFILE) {
        let want = Rlimit {
            current: Some(WANT_NOFILE),
            maximum: Some(WANT_NOFILE),
        };
        if setrlimit(Resource::Nofile, want).is_ok() {
            l = getrlimit(Resource::Nofile);
        }
    }
    if l.maximum.is_some() {
        l.current = l.maximum;
    }
    let _ = setrlimit(Resource::Nofile, l);
    getrlimit(Resource::Nofile).current.unwrap_or(1024)
}

async fn run(cli: Cli, nofile: u64) -> anyhow::Result<()> {
    let g = cli.global;
    match cli.command {
        Cmd::Journey(j) => {
            journey(&g, &j, nofile).await?;
        }
        Cmd::Endpoint(e) => {
            endpoint(&g, e.name, &e.timing, nofile).await?;
        }
        Cmd::All {
            endpoint: t,
            journey: j,
        } => {
            let mut rows = Vec::new();
            for ep in [
                Endpoint::CacheHit,
                Endpoint::CacheMiss,
                Endpoint::Login,
                Endpoint::Refresh,
                Endpoint::Validate,
            ] {
                let r = endpoint(&g, ep, &t, nofile).await?;
                rows.extend(r.results);
            }
            let r = journey(&g, &j, nofile).await?;
            rows.extend(r.results);
            stats::print_table("all scenarios", &rows);
        }
        Cmd::Smoke => smoke(&g, nofile).await?,
        Cmd::BareServer { .. } => {}
    }
    Ok(())
}

fn bin_dir(g: &Global) -> PathBuf {
    g.bin_dir.clone().unwrap_or_else(|| {
        let target = std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".into());
        PathBuf::from(target).join("release")
    })
}

/// What the production target's JSON result records about the shape.
fn production_config(g: &Global, nofile: u64) -> Value {
    json!({ "replicas": g.replicas, "backing": g.backing,
            "ingress": "HAProxy, routes of the chart's Ingress (deploy/helm, values-prod)",
            "ingress_maxconn_cap": phonebill_system_tests::maxconn_for_open_files(nofile) })
}

fn sut_options(
    g: &Global,
    kos: Kos,
    cache_miss: bool,
    nofile: u64,
    connections: usize,
) -> sut::Options {
    sut::Options {
        target: g.target,
        bin_dir: bin_dir(g),
        kos,
        cache_miss,
        postgres: g.postgres.trim_end_matches('/').to_owned(),
        redis: g.redis.clone(),
        tag: chrono::Utc::now().format("%H%M%S%3f").to_string(),
        replicas: usize::from(g.replicas),
        backing: g.backing,
        nofile,
        connections,
        cpu_limits: g.cpu_limit.clone(),
    }
}

fn git_commit() -> String {
    std::process::Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default()
}

fn new_report(scenario: &str, g: &Global, config: Value) -> Report {
    Report {
        scenario: scenario.to_owned(),
        target: g.target,
        started_at: chrono::Utc::now().to_rfc3339(),
        git_commit: git_commit(),
        cpus: std::thread::available_parallelism().map_or(1, usize::from),
        load_average_before: procstat::loadavg(),
        load_average_after: None,
        config,
        startup: Vec::new(),
        results: Vec::new(),
        steps: Vec::new(),
        added_latency: None,
        processes: Vec::new(),
        ingress_requests: None,
        cpu_limits: Vec::new(),
        checks: Vec::new(),
    }
}

/// `  CPU/req 12.3 µs (2.10× bare)` where measured.
fn cost_text(p: &procstat::ProcessUsage) -> String {
    match (p.cpu_us_per_request, p.cpu_ratio_to_bare) {
        (Some(us), Some(x)) => format!("  CPU/req {us:>7.1} µs ({x:.2}× bare)"),
        (Some(us), None) => format!("  CPU/req {us:>7.1} µs"),
        _ => String::new(),
    }
}

/// Checks every scenario shares: RSS per server process and start-to-ready.
fn common_checks(r: &mut Report) {
    for p in &r.processes {
        if !p.is_system_under_test() {
            continue;
        }
        r.checks.push(Check {
            goal: format!("{} peak RSS < 64 MiB", p.name),
            value: format!("{:.1} MiB", p.peak_rss_mib),
            met: p.peak_rss_mib < 64.0,
        });
    }
    for s in &r.startup {
        r.checks.push(Check {
            goal: format!("{} start to ready < 1 s", s.process),
            value: format!("{:.0} ms", s.ready_ms),
            met: s.ready_ms < 1000.0,
        });
    }
}

fn finish(mut r: Report, g: &Global) -> anyhow::Result<Report> {
    r.load_average_after = procstat::loadavg();
    common_checks(&mut r);
    if !r.steps.is_empty() {
        stats::print_table(&format!("{} steps ({:?})", r.scenario, r.target), &r.steps);
    }
    stats::print_table(&format!("{} ({:?})", r.scenario, r.target), &r.results);
    if let Some(a) = &r.added_latency {
        println!(
            "added latency (response − KOS): p50 {:.2} ms, p95 {:.2} ms, p99 {:.2} ms, max {:.2} ms over {} responses \
             ({} with KOS subtracted; left out: {} joined a KOS call, {} after a change)",
            a.latency_ms.p50,
            a.latency_ms.p95,
            a.latency_ms.p99,
            a.latency_ms.max,
            a.samples,
            a.kos_subtracted,
            a.joined_kos_call,
            a.unattributed
        );
    }
    println!("processes during the measured run:");
    for p in &r.processes {
        println!(
            "  {:<24} pid {:>7}  peak RSS {:>7.1} MiB  (lifetime peak {:>7.1})  CPU {:>6.1} %{}",
            p.name,
            p.pid,
            p.peak_rss_mib,
            p.hwm_mib,
            p.cpu_percent,
            cost_text(p)
        );
    }
    for s in &r.startup {
        println!("  {:<24} ready after {:.0} ms", s.process, s.ready_ms);
    }
    if let Some(n) = r.ingress_requests {
        println!("ingress: {n} HTTP requests received (set-up, warm-up and run)");
    }
    for l in &r.cpu_limits {
        println!(
            "  cpu limit {} = {}m: throttled in {} periods of 100 ms, {:.0} ms in all",
            l["process"].as_str().unwrap_or("?"),
            l["millicores"],
            l["throttled_periods"],
            l["throttled_ms"].as_f64().unwrap_or(0.0)
        );
    }
    for c in &r.checks {
        println!(
            "  [{}] {}: {}",
            if c.met { "met" } else { "NOT MET" },
            c.goal,
            c.value
        );
    }
    println!(
        "load average before/after: {:?} / {:?} on {} CPUs",
        r.load_average_before, r.load_average_after, r.cpus
    );
    std::fs::create_dir_all(&g.out_dir)
        .with_context(|| format!("cannot create {}", g.out_dir.display()))?;
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ");
    let target = r.target.name();
    let path = g
        .out_dir
        .join(format!("{stamp}-{}-{target}.json", r.scenario));
    std::fs::write(&path, serde_json::to_vec_pretty(&r)?)?;
    println!("result: {}", path.display());
    Ok(r)
}

/// Starts the SUT, sets up accounts, runs `f`; always stops and cleans up, also on error.
/// With `read_call_log`, the KOS time per request id is read from the bill and product
/// databases after the servers stopped (and flushed) and before the databases are dropped.
async fn with_sut<T, F, Fut>(
    opts: sut::Options,
    accounts: usize,
    extra: u32,
    read_call_log: bool,
    f: F,
) -> anyhow::Result<(T, HashMap<String, i64>, Vec<Value>)>
where
    F: FnOnce(Arc<Sut>, Arc<Vec<setup::Account>>, Vec<Duration>) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<T>>,
{
    let mut sut = Sut::start(&opts).await?;
    let result = match setup::accounts(&sut, accounts, extra).await {
        Ok((acc, logins)) => {
            let shared = Arc::new(sut);
            let r = f(shared.clone(), Arc::new(acc), logins).await;
            sut = match Arc::try_unwrap(shared) {
                Ok(s) => s,
                Err(_) => bail!("internal: system handle still shared"),
            };
            r
        }
        Err(e) => Err(e),
    };
    let throttling = sut.cpu_throttling();
    sut.stop().await;
    if result.is_err() {
        // Keep the servers' logs for the post-mortem.
        sut.keep_logs();
        eprintln!("server logs kept in {}", sut.log_dir().display());
    }
    let mut kos = HashMap::new();
    if read_call_log && result.is_ok() {
        for svc in ["bill", "product"] {
            match calllog::kos_ms_by_request(&sut.database_url(svc)).await {
                Ok(m) => kos.extend(m),
                Err(e) => eprintln!("warning: cannot read the {svc} kos_call_log: {e}"),
            }
        }
    }
    sut.cleanup().await;
    Ok((result?, kos, throttling))
}

async fn endpoint(
    g: &Global,
    ep: Endpoint,
    t: &EndpointTiming,
    nofile: u64,
) -> anyhow::Result<Report> {
    let accounts = g.accounts.unwrap_or(50);
    let conns = if ep == Endpoint::Login {
        t.connections.min(8)
    } else {
        t.connections
    };
    let opts = sut_options(g, Kos::Instant, ep == Endpoint::CacheMiss, nofile, conns);
    let mut config = json!({ "endpoint": ep, "connections": conns, "warmup_s": t.warmup,
                         "duration_s": t.duration, "accounts": accounts, "extra_lines": g.extra_lines,
                         "kos": "0 ms, no failures", "cache_miss_config": ep == Endpoint::CacheMiss });
    if g.target == Target::Production {
        config["production"] = production_config(g, nofile);
    }
    let mut report = new_report(ep.name(), g, config);
    let timing = t.clone();
    let ((results, processes, startup, ingress), _, throttling) = with_sut(
        opts,
        accounts,
        g.extra_lines,
        false,
        |sut, acc, _| async move {
            // Refresh: one session per connection, so rotations never collide.
            let mut refresh = Vec::new();
            if ep == Endpoint::Refresh {
                for i in 0..conns {
                    let a = &acc[i % acc.len()];
                    refresh.push(setup::login(sut.auth, &a.user, &a.password).await?.refresh);
                }
            }
            let addr = match ep {
                Endpoint::Login | Endpoint::Refresh => sut.auth,
                Endpoint::CacheHit | Endpoint::CacheMiss => sut.bill,
                Endpoint::Validate => sut.product,
                Endpoint::Bare => sut.bill,
            };
            let spec = |addr, mon: &procstat::Monitor| LoopSpec {
                addr,
                conns,
                warmup: Duration::from_secs_f64(timing.warmup),
                duration: Duration::from_secs_f64(timing.duration),
                window: Some(mon.window()),
            };
            // The ceiling, same connections and duration, right before.
            let mut bare = sut::spawn_bare(sut.dir.path()).await?;
            let mon = procstat::Monitor::start(&[("bare-axum".to_owned(), bare.pid())]);
            let (brec, bwin) = scenarios::endpoint(
                Endpoint::Bare,
                &spec(bare.addr, &mon),
                acc.clone(),
                Vec::new(),
            )
            .await;
            let mut bare_usage = mon.finish().await;
            bare.stop().await;
            let bare_row = brec.total("bare-axum", bwin);
            procstat::set_cost(&mut bare_usage, bare_row.requests);

            let mut pids = sut.pids();
            pids.push(("loadtest".to_owned(), std::process::id()));
            let mon = procstat::Monitor::start(&pids);
            let (rec, win) = scenarios::endpoint(ep, &spec(addr, &mon), acc.clone(), refresh).await;
            let mut usage = mon.finish().await;
            let mut row = rec
                .summaries(win)
                .into_iter()
                .next()
                .unwrap_or_else(|| rec.total(ep.name(), win));
            if bare_row.rps > 0.0 {
                row.ratio_to_bare = Some((row.rps / bare_row.rps * 1000.0).round() / 1000.0);
            }
            procstat::set_cost(&mut usage, row.requests);
            if let Some(bare_us) = bare_usage.first().and_then(|b| b.cpu_us_per_request) {
                procstat::set_ratio_to_bare(&mut usage, bare_us);
            }
            usage.extend(bare_usage);
            let ingress = sut.ingress_requests().await;
            Ok((vec![bare_row, row], usage, sut.startup(), ingress))
        },
    )
    .await?;
    report.cpu_limits = throttling;
    report.results = results;
    report.processes = processes;
    report.startup = startup;
    report.ingress_requests = ingress;
    if let Some(row) = report.results.get(1) {
        match ep {
            Endpoint::CacheHit => report.checks.push(Check {
                goal: "cache-hit inquiry ≥ 50 % of the bare ceiling".into(),
                value: format!("{:.0} %", row.ratio_to_bare.unwrap_or(0.0) * 100.0),
                met: row.ratio_to_bare.unwrap_or(0.0) >= 0.5,
            }),
            Endpoint::CacheMiss => report.checks.push(Check {
                goal: "cache-miss inquiry (KOS 0 ms) ≥ 10,000 req/s".into(),
                value: format!("{:.0} req/s", row.rps),
                met: row.rps >= 10_000.0,
            }),
            _ => {}
        }
        // Issue 22's cost targets, in the shape they are stated for.
        if g.target == Target::Services {
            match ep {
                Endpoint::CacheHit => {
                    report.checks.push(Check {
                        goal: "services: cache-hit inquiry ≥ 40 % of the bare ceiling".into(),
                        value: format!("{:.0} %", row.ratio_to_bare.unwrap_or(0.0) * 100.0),
                        met: row.ratio_to_bare.unwrap_or(0.0) >= 0.4,
                    });
                    let ratio = report
                        .processes
                        .iter()
                        .find(|p| p.name == "bill-inquiry-service")
                        .and_then(|p| p.cpu_ratio_to_bare);
                    report.checks.push(Check {
                        goal: "services: bill-inquiry-service CPU per cache-hit ≤ 2.0× the bare handler's"
                            .into(),
                        value: ratio.map_or("not measured".into(), |x| format!("{x:.2}×")),
                        met: ratio.is_some_and(|x| x <= 2.0),
                    });
                }
                Endpoint::Refresh => report.checks.push(Check {
                    goal: "services: token refresh ≥ 1,500/s".into(),
                    value: format!("{:.0} req/s", row.rps),
                    met: row.rps >= 1_500.0,
                }),
                _ => {}
            }
        }
        report.checks.push(Check {
            goal: format!("{} without errors", ep.name()),
            value: row.errors.to_string(),
            met: row.errors == 0,
        });
    }
    finish(report, g)
}

async fn journey(g: &Global, j: &JourneyArgs, nofile: u64) -> anyhow::Result<Report> {
    let kos = if j.kos_instant {
        Kos::Instant
    } else {
        Kos::Seed {
            failures: j.kos_failures,
        }
    };
    let opts = sut_options(g, kos, false, nofile, j.users);
    let accounts = g.accounts.unwrap_or(200);
    // Services: a user talks to bill and product (2 sockets); keep headroom for the rest. The
    // all-in-one and the ingress are one address, so one socket per user.
    let hosts = if g.target == Target::Services { 2 } else { 1 };
    let single = (j.users * hosts) as u64 + 1000 > nofile;
    let spec = JourneySpec {
        users: j.users,
        think_ms: j.think_ms,
        change_ratio: j.change_ratio,
        ramp_s: j.ramp,
        warmup_s: j.warmup,
        duration_s: j.duration,
        single_connection: single,
        window: None,
    };
    let mut config = json!({ "journey": spec, "accounts": accounts, "extra_lines": g.extra_lines,
                         "kos": kos, "open_files_limit": nofile });
    if g.target == Target::Production {
        config["production"] = production_config(g, nofile);
    }
    let mut report = new_report("journey", g, config);
    let ((outcome, usage, startup, logins, ingress), kos_ms, throttling) = with_sut(
        opts,
        accounts,
        g.extra_lines,
        true,
        |sut, acc, logins| async move {
            warm(&sut, &acc).await;
            let mut pids = sut.pids();
            pids.push(("loadtest".to_owned(), std::process::id()));
            let mon = procstat::Monitor::start(&pids);
            let spec = JourneySpec {
                window: Some(mon.window()),
                ..spec
            };
            let outcome = scenarios::journey(spec, acc.clone(), sut.bill, sut.product).await;
            let usage = mon.finish().await;
            let ingress = sut.ingress_requests().await;
            Ok((outcome, usage, sut.startup(), logins, ingress))
        },
    )
    .await?;
    // Our added time: responses without KOS as they are; responses that called KOS minus the
    // KOS time our service measured for that request id.
    let mut added = outcome.added.clone();
    let (mut subtracted, mut joined) = (0u64, 0u64);
    for (id, us) in &outcome.kos_samples {
        match kos_ms.get(id) {
            Some(ms) => {
                let kos_us = u64::try_from(*ms).unwrap_or(0) * 1000;
                let _ = added.record(us.saturating_sub(kos_us).max(1));
                subtracted += 1;
            }
            None => joined += 1,
        }
    }
    report.added_latency = Some(Added {
        latency_ms: Latency::of(&added),
        samples: added.len(),
        kos_subtracted: subtracted,
        joined_kos_call: joined,
        unattributed: outcome.unattributed,
        method: "response time minus the sum of kos_call_log.duration_ms (1 ms resolution) of the same request id; \
                 responses that made no KOS call count whole",
    });
    let mut steps = outcome.rec.summaries(outcome.window);
    let mut login_hist = stats::histogram();
    for l in &logins {
        let _ = login_hist.record(stats::micros(*l));
    }
    steps.insert(
        0,
        Summary::from_hist(
            "login (setup, per account)",
            &login_hist,
            logins.len() as u64,
            0,
            0.0,
        ),
    );
    report.steps = steps;
    report.results = vec![outcome.rec.total("journey", outcome.window)];
    let mut usage = usage;
    // Per request of the whole journey (every step; the bare ceiling is not run for journeys).
    procstat::set_cost(&mut usage, report.results[0].requests);
    report.processes = usage;
    report.startup = startup;
    report.ingress_requests = ingress;
    report.cpu_limits = throttling;
    if let (Some(total), Some(a)) = (report.results.first(), &report.added_latency) {
        report.checks.push(Check {
            goal: format!("journey with {} users without errors", j.users),
            value: total.errors.to_string(),
            met: total.errors == 0,
        });
        report.checks.push(Check {
            goal: "journey: our added p99 (response − KOS) < 5 ms".into(),
            value: format!("{:.2} ms", a.latency_ms.p99),
            met: a.latency_ms.p99 < 5.0,
        });
    }
    finish(report, g)
}

/// One bill menu, product menu and product list per account, so the measured window starts with
/// warm months, customer and catalogue caches (inquiries stay a mix of misses and hits).
async fn warm(sut: &Sut, acc: &[setup::Account]) {
    use futures::StreamExt;
    let (bill, product) = (sut.bill, sut.product);
    futures::stream::iter(acc)
        .for_each_concurrent(32, |a| async move {
            let t = a.token.as_str();
            let _ = client::once(bill, client::Call::get("/api/v1/bills/menu").bearer(t)).await;
            let _ = client::once(
                product,
                client::Call::get("/api/v1/products/menu").bearer(t),
            )
            .await;
            let _ = client::once(
                product,
                client::Call::get("/api/v1/products/available").bearer(t),
            )
            .await;
        })
        .await;
}

async fn smoke(g: &Global, nofile: u64) -> anyhow::Result<()> {
    let mut g = g.clone();
    // The all-in-one unless the production shape is asked for (its own CI step); the services
    // target is exercised by the system tests.
    let production = g.target == Target::Production;
    if !production {
        g.target = Target::AllInOne;
    }
    g.accounts = Some(g.accounts.unwrap_or(3));
    g.extra_lines = 100;
    let j = JourneyArgs {
        users: if production { 10 } else { 20 },
        think_ms: 20,
        change_ratio: 0.2,
        ramp: 0.5,
        warmup: 0.5,
        duration: 3.0,
        kos_instant: true,
        kos_failures: false,
    };
    let mut reports = vec![journey(&g, &j, nofile).await?];
    // The production shape starts in ~10 s; its smoke is the journey alone (every request of it
    // goes through the ingress).
    if !production {
        let t = EndpointTiming {
            connections: 4,
            warmup: 0.5,
            duration: 2.0,
        };
        reports.push(endpoint(&g, Endpoint::CacheHit, &t, nofile).await?);
    }
    for rep in &reports {
        let path = std::fs::read_dir(&g.out_dir)?
            .filter_map(Result::ok)
            .map(|d| d.path())
            .filter(|p| {
                p.to_string_lossy().ends_with(&format!(
                    "-{}-{}.json",
                    rep.scenario,
                    g.target.name()
                ))
            })
            .max()
            .context("no result file written")?;
        let v: Value = serde_json::from_slice(&std::fs::read(&path)?)
            .with_context(|| format!("{} is not JSON", path.display()))?;
        let total = &v["results"][v["results"]
            .as_array()
            .map_or(0, |a| a.len().saturating_sub(1))];
        let (requests, errors) = (
            total["requests"].as_u64().unwrap_or(0),
            total["errors"].as_u64().unwrap_or(1),
        );
        if requests == 0 || errors != 0 {
            bail!(
                "smoke {}: {requests} requests, {errors} errors ({})",
                rep.scenario,
                path.display()
            );
        }
        if production {
            check_through_ingress(&v, requests).with_context(|| path.display().to_string())?;
        }
    }
    println!("smoke passed");
    Ok(())
}

/// The production smoke's proof that the load went through the ingress: HAProxy counted at
/// least as many requests as the harness recorded, and the result lists the replicas and
/// HAProxy among the measured processes.
fn check_through_ingress(v: &Value, requests: u64) -> anyhow::Result<()> {
    let through = v["ingress_requests"].as_u64().unwrap_or(0);
    if through < requests {
        bail!("the ingress received {through} requests, fewer than the {requests} recorded");
    }
    let names: Vec<&str> = v["processes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| p["name"].as_str())
        .collect();
    for want in [
        "haproxy",
        "bill-inquiry-service-1",
        "product-change-service-1",
    ] {
        if !names.contains(&want) {
            bail!("{want} is not among the measured processes {names:?}");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn command_line_is_consistent() {
        Cli::command().debug_assert();
        let cli = Cli::try_parse_from(["loadtest", "--target", "services", "all", "--users", "10"])
            .expect("all parses");
        assert_eq!(cli.global.target, Target::Services);
        assert!(matches!(cli.command, Cmd::All { ref journey, .. } if journey.users == 10));
        let cli = Cli::try_parse_from([
            "loadtest",
            "--target",
            "production",
            "--replicas",
            "3",
            "--backing",
            "tls",
            "journey",
        ])
        .expect("production parses");
        assert_eq!(cli.global.target, Target::Production);
        assert_eq!(
            (cli.global.replicas, cli.global.backing),
            (3, BackingKind::Tls)
        );
        let cli =
            Cli::try_parse_from(["loadtest", "--target", "production", "smoke"]).expect("defaults");
        assert_eq!(
            (cli.global.replicas, cli.global.backing),
            (2, BackingKind::Machine)
        );
        assert!(Cli::try_parse_from(["loadtest", "--replicas", "0", "smoke"]).is_err());
    }

    #[test]
    fn through_the_ingress_needs_its_count_and_every_replica_measured() {
        let procs = json!([{ "name": "haproxy" }, { "name": "bill-inquiry-service-0" },
                           { "name": "bill-inquiry-service-1" }, { "name": "product-change-service-1" }]);
        let ok = json!({ "ingress_requests": 120, "processes": procs });
        check_through_ingress(&ok, 100).expect("through the ingress");
        let short = json!({ "ingress_requests": 99, "processes": procs });
        assert!(check_through_ingress(&short, 100).is_err());
        let missing = json!({ "processes": procs });
        assert!(check_through_ingress(&missing, 1).is_err());
        let no_haproxy = json!({ "ingress_requests": 120,
                                 "processes": [{ "name": "bill-inquiry-service-1" }] });
        let err = check_through_ingress(&no_haproxy, 100).expect_err("haproxy missing");
        assert!(err.to_string().contains("haproxy"), "{err}");
    }
}
