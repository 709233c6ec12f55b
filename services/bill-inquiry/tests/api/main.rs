//! Black-box tests of the bill-inquiry service over real HTTP, on both stores, against the real
//! KOS mock running in-process.

#![expect(
    clippy::unwrap_used,
    reason = "test helpers outside #[test] functions unwrap freely"
)]

mod helpers;
mod history;
mod inquiry;
mod menu;
mod migrations;
mod openapi;
mod resilience;
mod security;
mod seed_metrics;
mod store_contract;
