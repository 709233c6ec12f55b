-- Issue 17 (docs/security.md): user ids are unique without regard to case (`MVNO001` must not
-- register beside `mvno001`). Rows that already differ only in case are not merged silently:
-- the migration refuses and names them, so an operator decides which account keeps the id.
DO $$
DECLARE
    clashes TEXT;
BEGIN
    SELECT string_agg(ids, '; ') INTO clashes FROM (
        SELECT string_agg(user_id, ', ' ORDER BY user_id) AS ids
        FROM auth_users GROUP BY lower(user_id) HAVING count(*) > 1
    ) d;
    IF clashes IS NOT NULL THEN
        RAISE EXCEPTION 'auth_users holds user ids that differ only in case (%); rename or remove all but one of each, then restart', clashes;
    END IF;
END $$;
CREATE UNIQUE INDEX auth_users_user_id_ci_idx ON auth_users (lower(user_id));
