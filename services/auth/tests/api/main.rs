//! Integration tests of the auth service over real HTTP, on PostgreSQL and SQLite.

// Test code: a failed unwrap is a failed test.
#![expect(clippy::unwrap_used, reason = "test helpers fail the test on error")]

mod doors;
mod flows;
mod helpers;
mod lifecycle;
mod security;
mod seed_metrics;
mod shapes;
mod store_contract;
