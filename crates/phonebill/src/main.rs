//! `phonebill`: the whole system in one process (see the library docs and README.md).

use clap::Parser;
use phonebill::{Options, banner, launch};
use phonebill_common::config::{Env, ProcessEnv};
use phonebill_common::telemetry::TelemetryConfig;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let opts = Options::parse();
    let telemetry = TelemetryConfig::from_env(Env::new(&ProcessEnv), "phonebill")?;
    let _telemetry = phonebill_common::telemetry::init(&telemetry)?;
    let app = launch(&opts).await?;
    phonebill_common::server::cancel_on_signal(app.deps.shutdown.clone());
    let addr = app.local_addr()?;
    if app.demo_users {
        println!("{}", phonebill::demo_users_text());
    }
    println!("{}", banner(addr, &opts));
    tracing::info!(%addr, "phonebill listening");
    app.run().await?;
    tracing::info!("phonebill stopped");
    Ok(())
}
