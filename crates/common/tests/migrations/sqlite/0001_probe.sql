-- A throwaway table so the stack tests exercise real migrations on both dialects.
CREATE TABLE IF NOT EXISTS probe (id INTEGER PRIMARY KEY, note TEXT NOT NULL);
