#!/bin/sh
# Runs once, when the PostgreSQL volume is first initialised: one database and one login role
# per service (deploy/compose/postgres-init.sql), with the passwords from the environment.
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  -v signals_password="$DDK_SIGNALS_DB_PASSWORD" \
  -v indicators_password="$DDK_INDICATORS_DB_PASSWORD" \
  -v funding_password="$DDK_FUNDING_DB_PASSWORD" \
  -f /etc/ddk/postgres-init.sql
