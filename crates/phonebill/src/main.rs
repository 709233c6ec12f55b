//! `phonebill`: the whole system in one process (see the library docs and README.md).

use clap::Parser;
use phonebill::{Options, banner, launch};
use phonebill_common::config::{Env, ProcessEnv};
use phonebill_common::telemetry::TelemetryConfig;

/// mimalloc rather than glibc's allocator: glibc keeps every 19 MiB Argon2 block it ever freed
/// in the arena of the thread that hashed (its mmap threshold grows to the largest freed block),
/// so RSS climbed to hundreds of MiB under a login load; mimalloc returns freed memory to the
/// kernel (docs/benchmarks.md). Same allocator in every binary so measurements compare.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
