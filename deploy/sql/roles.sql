-- Roles of one service database (docs/deployment.md "Database roles and migrations").
--
-- Two login roles per service database:
--   owner  owns the schema objects; the migrate Job (`<binary> migrate`, DATABASE_MIGRATION_URL)
--          runs with it. DDL rights.
--   app    what the service's pods run with (DATABASE_URL). SELECT/INSERT/UPDATE/DELETE on the
--          owner's tables and use of its sequences; no CREATE on the schema, so no DDL.
--
-- Run once per service database (and again at any time: it is idempotent), connected to that
-- database as the server administrator:
--
--   psql "host=<server> dbname=phonebill_product user=<admin> sslmode=verify-full sslrootcert=<ca>" \
--     -v owner=phonebill_product_owner -v app=phonebill_product_app \
--     -v owner_password="$OWNER_PW" -v app_password="$APP_PW" -f deploy/sql/roles.sql
--
-- The passwords go to Key Vault as the two URLs (<svc>-database-migration-url, <svc>-database-url).

\set ON_ERROR_STOP on

SELECT format('CREATE ROLE %I LOGIN', :'owner')
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'owner') \gexec
SELECT format('CREATE ROLE %I LOGIN', :'app')
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'app') \gexec
ALTER ROLE :"owner" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :'owner_password';
ALTER ROLE :"app" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT PASSWORD :'app_password';

-- Needed (PostgreSQL 15) to set the owner's default privileges below; harmless when already a member.
SELECT format('GRANT %I TO CURRENT_USER', :'owner')
 WHERE NOT pg_has_role(CURRENT_USER, :'owner', 'MEMBER') \gexec

-- Nobody else connects; PUBLIC never creates in the schema.
SELECT format('REVOKE ALL ON DATABASE %I FROM PUBLIC', current_database()) \gexec
SELECT format('GRANT CONNECT, TEMPORARY ON DATABASE %I TO %I', current_database(), :'owner') \gexec
SELECT format('GRANT CONNECT ON DATABASE %I TO %I', current_database(), :'app') \gexec
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT USAGE, CREATE ON SCHEMA public TO :"owner";
GRANT USAGE ON SCHEMA public TO :"app";
REVOKE CREATE ON SCHEMA public FROM :"app";

-- Tables and sequences the owner creates from now on (the migrations) are usable by the app.
ALTER DEFAULT PRIVILEGES FOR ROLE :"owner" IN SCHEMA public
  GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO :"app";
ALTER DEFAULT PRIVILEGES FOR ROLE :"owner" IN SCHEMA public
  GRANT USAGE, SELECT ON SEQUENCES TO :"app";
-- And those that already exist (a re-run after the first migration).
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO :"app";
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO :"app";
