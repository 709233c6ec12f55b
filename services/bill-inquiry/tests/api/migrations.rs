//! Both dialects keep the same migration versions.

use std::path::Path;

use phonebill_common::db::migration_versions;

#[test]
fn postgres_and_sqlite_migrations_match() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
    let pg = migration_versions(&root.join("postgres")).unwrap();
    let sqlite = migration_versions(&root.join("sqlite")).unwrap();
    assert!(!pg.is_empty());
    assert_eq!(pg, sqlite);
}
