//! `prod-shape`: the production shape on one machine, in the foreground until SIGTERM or
//! Ctrl-C (`scripts/prod-shape.sh up` runs it in the background, `down` stops it by PID).
//!
//! It starts what deploy/terraform provisions (a TLS-only PostgreSQL with a streaming read
//! replica, a TLS-only Redis Cluster of 3 masters + 3 replicas), two replicas of every service
//! on it (migrated first by `<binary> migrate`, as the chart's hook Job does), and HAProxy with
//! the routes of the chart's Ingress, then prints the ingress URL. Everything it started stops
//! when it stops (children by PID, servers by `pg_ctl stop` / PID).
//!
//! `PROD_SHAPE_MODE=backing` starts only the servers, for the chart's own containers
//! (`deploy/tests/chart_pods.py`): with `PROD_SHAPE_ADDR=<ip>` (the Docker network gateway) they
//! also listen on, are certified for and (Redis) announce that address. The state file
//! (`PROD_SHAPE_STATE`) then holds `pg_host`, `pg_port`, `pg_replica_port`, `pg_admin_url`,
//! `redis_url` (with the access key: the file is mode 0600), `redis_cluster` and `ca_cert`.

use std::time::Duration;

use anyhow::Context;
use phonebill_system_tests::{Backing, ProdShape};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let replicas: usize = std::env::var("PROD_SHAPE_REPLICAS")
        .ok()
        .map(|v| v.parse().context("PROD_SHAPE_REPLICAS must be a number"))
        .transpose()?
        .unwrap_or(2);
    let state = std::env::var("PROD_SHAPE_STATE").ok();
    let mode = std::env::var("PROD_SHAPE_MODE").unwrap_or_default();
    let backing_only = match mode.as_str() {
        "" | "full" => false,
        "backing" => true,
        other => anyhow::bail!("PROD_SHAPE_MODE must be `full` or `backing`, not `{other}`"),
    };
    let extra: Option<std::net::IpAddr> = std::env::var("PROD_SHAPE_ADDR")
        .ok()
        .filter(|v| !v.is_empty())
        .map(|v| {
            v.parse()
                .with_context(|| format!("PROD_SHAPE_ADDR must be an IP address, not `{v}`"))
        })
        .transpose()?;
    eprintln!("starting the TLS PostgreSQL (+ read replica) and the TLS Redis Cluster ...");
    let backing = Backing::production_on(extra).await?;
    if backing_only {
        return serve_backing(&backing, state.as_deref()).await;
    }
    eprintln!("starting {replicas} replicas of every service behind the ingress ...");
    let shape = ProdShape::start(backing, replicas).await?;
    let mut summary = format!("ingress={}\n", shape.ingress.base);
    for (binary, list) in &shape.replicas {
        for r in list {
            summary.push_str(&format!(
                "{}={} pid={}\n",
                r.name,
                r.svc.base,
                r.svc.proc.pid()
            ));
        }
        summary.push_str(&format!("{binary}.service={}\n", shape.services[binary]));
    }
    summary.push_str(&format!("logs={}\n", shape.stack.path().display()));
    print!("{summary}");
    if let Some(path) = state {
        std::fs::write(&path, &summary).with_context(|| format!("cannot write {path}"))?;
    }
    println!(
        "ready: the web client works against {} (Ctrl-C or `scripts/prod-shape.sh down` stops it)",
        shape.ingress.base
    );

    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    eprintln!("stopping ...");
    drop(shape);
    tokio::time::sleep(Duration::from_millis(100)).await;
    Ok(())
}

/// `PROD_SHAPE_MODE=backing`: writes where the servers are and waits for SIGTERM / Ctrl-C;
/// they stop when `backing` is dropped by the caller.
async fn serve_backing(backing: &Backing, state: Option<&str>) -> anyhow::Result<()> {
    let servers = backing
        .servers()
        .context("the production backing has its servers")?;
    let redis_url = backing
        .redis_env
        .iter()
        .find(|(k, _)| k == "REDIS_URL")
        .map(|(_, v)| v.clone())
        .context("the production backing has a REDIS_URL")?;
    let summary = format!(
        "pg_host={}\npg_port={}\npg_replica_port={}\npg_admin_url={}\nredis_url={redis_url}\n\
         redis_cluster=true\nca_cert={}\n",
        servers.pg.host(),
        servers.pg.port,
        servers.pg_replica.port,
        backing.pg_admin_url,
        servers.ca.ca_cert.display(),
    );
    match state {
        Some(path) => write_private(path, &summary)?,
        // Without a state file, say where the servers are but not the access key.
        None => print!(
            "{}",
            summary
                .lines()
                .filter(|l| !l.starts_with("redis_url="))
                .map(|l| format!("{l}\n"))
                .collect::<String>()
        ),
    }
    println!("ready: TLS PostgreSQL and TLS Redis Cluster (SIGTERM or Ctrl-C stops them)");
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    eprintln!("stopping ...");
    Ok(())
}

/// Writes `text` to `path`, readable by its owner only (it carries the Redis access key).
fn write_private(path: &str, text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot write {path}"))?;
    f.write_all(text.as_bytes())
        .with_context(|| format!("cannot write {path}"))
}
