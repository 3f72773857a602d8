# bench/lib.sh - throwaway PostgreSQL clusters for benchmarks and the demo.
# Source it.  pg_up DIR PORT [conf lines...]; pg_down DIR.
# Clusters load the tide plugin straight from the build tree (through
# dynamic_library_path), so nothing has to be installed.
set -euo pipefail
TIDE_ROOT=${TIDE_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
PGBIN=$($PG_CONFIG --bindir 2>/dev/null || pg_config --bindir)
export PATH="$PGBIN:$PATH"

# PostgreSQL refuses to run as root: run it as the postgres OS user.
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

# pg_up DIR PORT [extra postgresql.conf lines...]
pg_up() {
	local dir=$1 port=$2; shift 2
	rm -rf "$dir"; mkdir -p "$dir"
	[ "$(id -u)" = 0 ] && chown postgres "$dir"
	as_pg initdb -D "$dir/data" -U postgres -A trust --no-sync >/dev/null
	as_pg tee -a "$dir/data/postgresql.conf" >/dev/null <<-CONF
	port = $port
	listen_addresses = ''
	unix_socket_directories = '$dir'
	wal_level = logical
	max_wal_senders = 10
	max_replication_slots = 10
	shared_buffers = 512MB
	max_wal_size = 8GB
	checkpoint_timeout = 30min
	synchronous_commit = on
	fsync = on
	logical_decoding_work_mem = 64MB
	dynamic_library_path = '${TIDE_LIBDIR:-$TIDE_ROOT/decoder}:\$libdir'
	CONF
	# Servers with this setting only load output plugins it names.
	if as_pg postgres -D "$dir/data" -C output_plugin_libraries >/dev/null 2>&1; then
		echo "output_plugin_libraries = 'pgoutput, test_decoding, wal2json, noop_decoding, tide'" |
			as_pg tee -a "$dir/data/postgresql.conf" >/dev/null
	fi
	local l
	for l in "$@"; do echo "$l" | as_pg tee -a "$dir/data/postgresql.conf" >/dev/null; done
	as_pg pg_ctl -D "$dir/data" -l "$dir/log" -w start >/dev/null
}

pg_down() { [ -d "$1/data" ] && as_pg pg_ctl -D "$1/data" -m fast -w stop >/dev/null 2>&1 || true; }

now() { date +%s.%N; }
el() { echo "$2 - $1" | bc; }
# measure NAME COMMAND... - run it under GNU time into the caller's
# associative arrays secs, rss (KiB), usr and sys (declare -A them first);
# $W holds the timing file
measure() { # name command... ; GNU time gives elapsed seconds and max RSS
	local name=$1; shift
	sync
	/usr/bin/time -f '%e %M %U %S' -o "$W/$name.time" "$@"
	read -r secs[$name] rss[$name] usr[$name] sys[$name] <"$W/$name.time"
}
