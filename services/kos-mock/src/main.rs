//! `kos-mock-service`: the KOS mock service as its own process (production: one per pod).
//!
//! `<binary> migrate [--wait [SECONDS]]` applies the database migrations (owner role,
//! `DATABASE_MIGRATION_URL`) and exits instead of serving (docs/deployment.md).

/// mimalloc rather than glibc's allocator: glibc keeps every 19 MiB Argon2 block it ever freed
/// in the arena of the thread that hashed (its mmap threshold grows to the largest freed block),
/// so RSS climbed to hundreds of MiB under a login load; mimalloc returns freed memory to the
/// kernel (docs/benchmarks.md). Same allocator in every binary so measurements compare.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    Ok(phonebill_common::cli::main::<phonebill_kos_mock::Binary>().await?)
}
