//! Integration tests of the KOS mock over real HTTP.

#![expect(
    clippy::unwrap_used,
    reason = "test helpers outside #[test] functions unwrap freely"
)]

mod admin_sim;
mod bills;
mod closed_doors;
mod faults;
mod helpers;
mod mock_data;
mod products;
mod service_auth;
mod store_contract;

#[test]
fn migration_versions_match() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
    let pg = phonebill_common::db::migration_versions(&root.join("postgres")).unwrap();
    let lite = phonebill_common::db::migration_versions(&root.join("sqlite")).unwrap();
    assert!(!pg.is_empty());
    assert_eq!(pg, lite);
}
