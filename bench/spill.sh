#!/usr/bin/env bash
# bench/spill.sh - what tide costs the source on large transactions, with
# and without streaming them while in progress, in one run on one cluster.
#
# Usage: bench/spill.sh [SIZE_MB] [WORKDIR]
#   one transaction of SIZE_MB (default 1024), then 4 concurrent ones of
#   SIZE_MB/4 each, interleaved (five steps each) with small transactions
#   (pgbench, 50 a second), each workload twice: `tide stream` following
#   the slot live with streaming (the default), then with --no-streaming.
#
# Per run it prints the source's pg_stat_replication_slots (spill_bytes:
# what the walsender spilled to the source's disk; stream_bytes), the
# walsender's peak memory (VmHWM, and the highest RssAnon sampled every
# 0.2 s), the time from COMMIT returning on the source to the slot's
# confirmed_flush_lsn passing it (durable in a segment: the streamer
# confirms only that; both read on the source's clock), the streamer's
# peak RSS (GNU time) and the most its spool held.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
PG_CONFIG=${PG_CONFIG:-pg_config}
. "$here/lib.sh"
. "$here/workload.sh"
mb=${1:-1024}
W=${2:-/tmp/tide-bench-spill}
S=$W/src; SP=56444
mkdir -p "$W"; [ "$(id -u)" = 0 ] && chown postgres "$W"
[ -x "$TIDE_ROOT/tide" ] && [ -f "$TIDE_ROOT/decoder/tide.so" ] || { echo "build first: make" >&2; exit 1; }

pg_down "$S"; rm -rf "$W"/run.*
pg_up "$S" $SP
trap 'kill $(jobs -p) 2>/dev/null || true; pg_down "$S"' EXIT
ps() { psql -X -q -h "$S" -p $SP -U postgres -d postgres -v ON_ERROR_STOP=1 "$@"; }
bench_schema bigtxn
ps -c "CREATE TABLE small (id bigserial PRIMARY KEY, v int)"
cat >"$W/small.sql" <<-'SQL'
INSERT INTO small (v) VALUES (1);
SQL
work_mem=$(ps -Atc "SHOW logical_decoding_work_mem")
conninfo="host=$S port=$SP user=postgres dbname=postgres"

# big_txn TAG ROWS - one transaction inserting ROWS rows in five steps,
# then the commit's end LSN and time (source clock) into $W/run.commits
big_txn() {
	local tag=$1 rows=$2 step=$(( $2 / 5 ))
	{
		echo "BEGIN;"
		for i in 1 2 3 4 5; do
			echo "INSERT INTO messages (msg_id, topic, username, category, headers, body)
			SELECT gen_random_uuid(), 'org.fedoraproject.prod.bodhi.update.' || (i % 50),
			       'user' || (i % 1000), 'cat' || (i % 20),
			       jsonb_build_object('sent-at', now(), 'priority', i % 3, 'x-id', i),
			       jsonb_build_object('i', i, 'comment', md5(random()::text) || ' ' || md5(random()::text) || ' ' || md5(random()::text),
			                          'tags', jsonb_build_array('a', 'b', i), 'agent', 'bodhi', 'version', '5.7.1')
			FROM generate_series(1, $step) i;"
			echo "SELECT pg_sleep(0.2);"
		done
		echo "COMMIT;"
		echo "SELECT '$tag', pg_current_wal_lsn() - '0/0', extract(epoch FROM clock_timestamp());"
	} | ps -At >>"$W/run.commits"
}

# watch SLOT - every 0.2 s: source clock, confirmed_flush, the walsender's
# VmHWM and RssAnon (kB), until $W/run.stop exists
watch_slot() {
	local slot=$1 pid hwm anon
	while [ ! -e "$W/run.stop" ]; do
		read -r now conf pid < <(ps -At -F ' ' -c "SELECT extract(epoch FROM clock_timestamp()),
			confirmed_flush_lsn - '0/0', coalesce(active_pid, 0) FROM pg_replication_slots WHERE slot_name = '$slot'")
		hwm=0; anon=0
		if [ "$pid" != 0 ] && [ -r "/proc/$pid/status" ]; then
			hwm=$(awk '/^VmHWM/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0)
			anon=$(awk '/^RssAnon/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0)
		fi
		echo "$now $conf ${hwm:-0} ${anon:-0}" >>"$W/run.watch"
		sleep 0.2
	done
}

# run NAME SLOT STREAM-OPTIONS... - the two workloads, streamer following
run() {
	local name=$1 slot=$2; shift 2
	local segs=$W/segs.$name
	rm -rf "$segs" "$W"/run.*
	ps -c "SELECT pg_create_logical_replication_slot('$slot', 'tide')" >/dev/null
	ps -c "SELECT pg_stat_reset_replication_slot('$slot')" >/dev/null
	/usr/bin/time -f '%M' -o "$W/run.time" "$TIDE_ROOT/tide" stream -d "$conninfo" -S "$slot" \
		-D "$segs" --status-interval 1h "$@" 2>"$W/run.stream.log" &
	local time_pid=$!	# GNU time's: tide is its child
	watch_slot "$slot" & local watch_pid=$!
	sleep 1
	pgbench -n -h "$S" -p $SP -U postgres -f "$W/small.sql" -R 50 -T 3600 postgres >/dev/null 2>&1 &
	local pgb=$!
	local rows=$(( mb * 1000000 / 400 ))
	big_txn one "$rows"
	local pids="" t
	for t in a b c d; do big_txn "$t" "$(( rows / 4 ))" & pids="$pids $!"; done
	for t in $pids; do wait "$t"; done
	kill "$pgb" 2>/dev/null || true
	local end; end=$(ps -Atc "SELECT pg_current_wal_lsn()")
	# everything durable, then the streamer stops
	until [ "$(ps -Atc "SELECT confirmed_flush_lsn >= '$end' FROM pg_replication_slots WHERE slot_name = '$slot'")" = t ]; do
		sleep 0.2
	done
	sleep 0.5
	touch "$W/run.stop"; wait "$watch_pid"
	read -r spill_txns spill_bytes stream_txns stream_bytes < <(ps -At -F ' ' -c \
		"SELECT spill_txns, spill_bytes, stream_txns, stream_bytes FROM pg_stat_replication_slots WHERE slot_name = '$slot'")
	pkill -TERM -P "$time_pid" tide || true; wait "$time_pid" || true
	local spool; spool=$(sed -n 's/.*the spool held at most \([0-9]*\) bytes.*/\1/p' "$W/run.stream.log" | tail -1)
	# commit-to-durable: for each commit, the first sample confirming it
	local c2d
	c2d=$(awk '
		FNR == NR { if (NF < 3) next; n++; tag[n] = $1; cl[n] = $2 + 0; ct[n] = $3; next }
		{ for (i = 1; i <= n; i++) if (!(i in done) && $2 + 0 >= cl[i]) { d[i] = $1 - ct[i]; done[i] = 1 } }
		END { one = 0; four = 0
		      for (i = 1; i <= n; i++) { if (tag[i] == "one") one = d[i]; else if (d[i] > four) four = d[i] }
		      printf "%.1f %.1f", one, four }' FS='|' "$W/run.commits" FS=' ' "$W/run.watch")
	local hwm anon
	hwm=$(awk '$3 > m {m = $3} END {print m + 0}' "$W/run.watch")
	anon=$(awk '$4 > m {m = $4} END {print m + 0}' "$W/run.watch")
	printf '%-13s %12s %7s %12s %7s %9.0f %9.0f %8s %8s %9.1f %10s\n' "$name" "$spill_bytes" "$spill_txns" \
		"$stream_bytes" "$stream_txns" "$(echo "$hwm/1024" | bc -l)" "$(echo "$anon/1024" | bc -l)" \
		${c2d} "$(echo "$(cat "$W/run.time")/1024" | bc -l)" "${spool:-0}"
	ps -c "SELECT pg_drop_replication_slot('$slot')" >/dev/null
	cp "$W/run.stream.log" "$W/stream.$name.log"
}

echo "one transaction of $mb MB, then 4 of $(( mb / 4 )) MB at once among small ones; logical_decoding_work_mem = $work_mem"
printf '%-13s %12s %7s %12s %7s %9s %9s %8s %8s %9s %10s\n' run spill_bytes spills stream_bytes streams \
	'ws_HWM_MB' 'ws_anon' 'c2d_1_s' 'c2d_4_s' 'tide_MiB' spool_bytes
run streaming s_on
run no-streaming s_off --no-streaming
