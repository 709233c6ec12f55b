//! `prod-shape`: the production shape on one machine, in the foreground until SIGTERM or
//! Ctrl-C (`scripts/prod-shape.sh up` runs it in the background, `down` stops it by PID).
//!
//! It starts what deploy/terraform provisions (a TLS-only PostgreSQL with a streaming read
//! replica, a TLS-only Redis Cluster of 3 masters + 3 replicas), two replicas of every service
//! on it (migrated first by `<binary> migrate`, as the chart's hook Job does), and HAProxy with
//! the routes of the chart's Ingress, then prints the ingress URL. Everything it started stops
//! when it stops (children by PID, servers by `pg_ctl stop` / PID).

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
    eprintln!("starting the TLS PostgreSQL (+ read replica) and the TLS Redis Cluster ...");
    let backing = Backing::production().await?;
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
