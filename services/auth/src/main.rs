//! `auth-service`: the auth service as its own process (production: one per pod).
//!
//! `<binary> migrate [--wait [SECONDS]]` applies the database migrations (owner role,
//! `DATABASE_MIGRATION_URL`) and exits instead of serving (docs/deployment.md).

use anyhow::Context;
use phonebill_auth::Config;
use phonebill_common::cli::{Cli, Command};
use phonebill_common::config::{Env, ProcessEnv};
use phonebill_common::service::Deps;

/// mimalloc rather than glibc's allocator: glibc keeps every 19 MiB Argon2 block it ever freed
/// in the arena of the thread that hashed (its mmap threshold grows to the largest freed block),
/// so RSS climbed to hundreds of MiB under a login load; mimalloc returns freed memory to the
/// kernel (docs/benchmarks.md). Same allocator in every binary so measurements compare.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // `auth-service migrate`: apply the migrations with the owner role and exit (the chart's hook Job).
    if let Some(Command::Migrate { wait }) = Cli::parse_for("auth-service").command {
        let report = phonebill_common::cli::migrate(
            Env::new(&ProcessEnv),
            phonebill_auth::SERVICE,
            "auth-service",
            &phonebill_auth::MIGRATIONS,
            wait,
        )
        .await?;
        println!("auth-service migrate: {report}");
        return Ok(());
    }
    let config = Config::from_env(Env::new(&ProcessEnv))?;
    let _telemetry = phonebill_common::telemetry::init(&config.base.telemetry)?;
    let deps = Deps::new();
    phonebill_common::server::cancel_on_signal(deps.shutdown.clone());
    let listener = phonebill_common::server::bind(&config.base.server)
        .await
        .with_context(|| {
            format!(
                "cannot listen on {}:{}",
                config.base.server.bind, config.base.server.port
            )
        })?;
    let addr = listener.local_addr()?;
    tracing::info!(%addr, database = %config.base.database.url.redacted(), "auth-service listening");
    let app = phonebill_auth::build(config, deps).await?;
    phonebill_auth::run(app, listener).await?;
    tracing::info!("auth-service stopped");
    Ok(())
}
