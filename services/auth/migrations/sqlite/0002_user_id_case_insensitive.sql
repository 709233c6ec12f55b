-- Issue 17 (docs/security.md): user ids are unique without regard to case. SQLite has no
-- RAISE outside triggers, so a named CHECK refuses the migration while rows that differ only
-- in case exist (the error names the constraint, which says what to do).
CREATE TEMP TABLE auth_0002_case_check (
    clashes INTEGER NOT NULL
        CONSTRAINT user_ids_differing_only_in_case_exist_rename_them_then_restart
        CHECK (clashes = 0)
);
INSERT INTO auth_0002_case_check
    SELECT count(*) FROM (SELECT 1 FROM auth_users GROUP BY lower(user_id) HAVING count(*) > 1);
DROP TABLE auth_0002_case_check;
CREATE UNIQUE INDEX auth_users_user_id_ci_idx ON auth_users (lower(user_id));
