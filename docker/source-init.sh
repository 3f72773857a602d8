#!/usr/bin/env bash
# docker/source-init.sh - run once by the postgres image's entrypoint on a
# new data directory: logical decoding, the tide plugin allowed, and a
# replication entry for the tide user.  Only for TIDE_ROLE=source.
set -euo pipefail
[ "${TIDE_ROLE:-}" = source ] || exit 0
conf="$PGDATA/postgresql.conf"
cat >>"$conf" <<CONF
wal_level = logical
max_replication_slots = 10
max_wal_senders = 10
max_slot_wal_keep_size = 10GB
CONF
# Servers that have output_plugin_libraries only load plugins named there.
if postgres -D "$PGDATA" -C output_plugin_libraries >/dev/null 2>&1; then
	echo "output_plugin_libraries = 'pgoutput, test_decoding, tide'" >>"$conf"
fi
echo "host replication all all scram-sha-256" >>"$PGDATA/pg_hba.conf"
