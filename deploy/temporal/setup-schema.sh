#!/bin/sh
# Temporal's schema job (admin-tools image): creates, then upgrades to the image's version, the schemas of the
# two databases that deploy/postgres/init-roles.sh made for the `temporal` role. Safe to run on every start.
set -eu
schema=/etc/temporal/schema/postgresql/v12
for db in temporal temporal_visibility; do
	case $db in temporal) dir=$schema/temporal/versioned ;; *) dir=$schema/visibility/versioned ;; esac
	tool="temporal-sql-tool --plugin postgres12 --ep postgres -p 5432 -u temporal --pw $TEMPORAL_DB_PASSWORD --db $db"
	$tool setup-schema -v 0.0
	$tool update-schema -d "$dir"
done
