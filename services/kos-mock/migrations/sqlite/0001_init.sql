-- KOS mock service: initial schema (sqlite). Placeholder until the service's tables land; both dialects keep
-- the same versions (checked by tests/api/migrations.rs).
CREATE TABLE IF NOT EXISTS phonebill_kos_mock_meta (
    meta_key TEXT PRIMARY KEY,
    meta_value TEXT NOT NULL
);
