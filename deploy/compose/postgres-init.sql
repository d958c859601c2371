-- One database and one login role per service: a service's role owns its database and can
-- connect to no other, so a leaked credential exposes one service's data only. Run as the
-- cluster administrator with psql, the passwords as variables (postgres-init.sh; Kubernetes:
-- see deploy/operations.md). Services never use the administrator.
--   psql -v signals_password=... -v indicators_password=... -v funding_password=... -f this

CREATE ROLE signals LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT PASSWORD :'signals_password';
CREATE ROLE indicators LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT PASSWORD :'indicators_password';
CREATE ROLE funding LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT PASSWORD :'funding_password';

CREATE DATABASE signals OWNER signals;
CREATE DATABASE indicators OWNER indicators;
CREATE DATABASE funding OWNER funding;

-- PUBLIC may connect to (and create temporary tables in) every new database by default.
REVOKE ALL ON DATABASE signals FROM PUBLIC;
REVOKE ALL ON DATABASE indicators FROM PUBLIC;
REVOKE ALL ON DATABASE funding FROM PUBLIC;

-- Inside each database, only its owner uses the public schema.
\connect signals
REVOKE ALL ON SCHEMA public FROM PUBLIC;
ALTER SCHEMA public OWNER TO signals;
\connect indicators
REVOKE ALL ON SCHEMA public FROM PUBLIC;
ALTER SCHEMA public OWNER TO indicators;
\connect funding
REVOKE ALL ON SCHEMA public FROM PUBLIC;
ALTER SCHEMA public OWNER TO funding;
