#!/bin/sh
# Runs once, when the PostgreSQL volume is first initialised: one role per application, each owning only its own
# databases. The superuser (POSTGRES_USER) is for administration; neither the product nor Temporal uses it.
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
	-v app_password="$APP_DB_PASSWORD" -v temporal_password="$TEMPORAL_DB_PASSWORD" <<'SQL'
CREATE ROLE compliance LOGIN PASSWORD :'app_password';
CREATE DATABASE compliance OWNER compliance;
REVOKE ALL ON DATABASE compliance FROM PUBLIC;
CREATE ROLE temporal LOGIN PASSWORD :'temporal_password';
CREATE DATABASE temporal OWNER temporal;
CREATE DATABASE temporal_visibility OWNER temporal;
REVOKE ALL ON DATABASE temporal FROM PUBLIC;
REVOKE ALL ON DATABASE temporal_visibility FROM PUBLIC;
SQL
