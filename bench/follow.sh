#!/usr/bin/env bash
# bench/follow.sh - replication lag of `tide apply --follow`: a steady load
# at a fixed rate on a source, `tide stream` and `tide apply --follow`
# running, and the time from each source commit to the replica commit that
# made its row visible.
#
# Usage: bench/follow.sh [WORKDIR]
#   RATE=1000      transactions per second (pgbench --rate, Poisson arrivals)
#   DURATION=60    seconds of load (`make bench-follow SECONDS=60` sets it)
#   WARMUP=5       leave out rows committed in the first WARMUP seconds
#   CLIENTS=8      pgbench connections
#   STREAM_OPTS=   extra options for tide stream (e.g. "--flush-interval 1s")
#   APPLY_OPTS=    extra options for tide apply
#   STRACE=1       count the streamer's fsync/fdatasync calls (strace)
#   FAULTS=0       1: kill -9 the streamer at 1/3 of the run and the
#                  follower at 2/3, restarting each at once
#
# Each transaction inserts one row.  The lag of a row is
#   pg_xact_commit_timestamp(xmin) on the replica - the same on the source
# (track_commit_timestamp on both clusters, one host, one clock): the
# commit time PostgreSQL records for the source transaction and for the
# replica transaction that applied it.  Its own error is microseconds: the
# source stamps before its WAL flush (synchronous_commit = on, so a row
# becomes decodable a WAL fsync later, a few ms at most), the replica stamps
# just before its commit record.  The row also carries the source's
# clock_timestamp() at insert, a cross-check printed beside it.
# Prints p50/p90/p99/max and the count, the achieved rate, a histogram, and
# the streamer's fsyncs per second under load.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
PG_CONFIG=${PG_CONFIG:-pg_config}
. "$here/lib.sh"
RATE=${RATE:-1000}
SECS=${DURATION:-60}
WARMUP=${WARMUP:-5}
CLIENTS=${CLIENTS:-8}
STRACE=${STRACE:-1}
FAULTS=${FAULTS:-0}
W=${1:-/tmp/tide-bench-follow}
S=$W/src; SP=56460; R=$W/rep; RP=56461
mkdir -p "$W"; [ "$(id -u)" = 0 ] && chown postgres "$W"
[ -x "$TIDE_ROOT/tide" ] && [ -f "$TIDE_ROOT/decoder/tide.so" ] || { echo "build first: make" >&2; exit 1; }
command -v strace >/dev/null || STRACE=0

pids=()
cleanup() {
	local p
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	pg_down "$S"; pg_down "$R"
}
pg_down "$S"; pg_down "$R"; rm -rf "$W/segs" "$W"/*.log "$W"/*.strace
pg_up "$S" $SP "track_commit_timestamp = on"
trap cleanup EXIT
pg_up "$R" $RP "track_commit_timestamp = on"
ps() { psql -X -q -h "$S" -p $SP -U postgres -d postgres -v ON_ERROR_STOP=1 "$@"; }
pr() { psql -X -q -h "$R" -p $RP -U postgres -d postgres -v ON_ERROR_STOP=1 "$@"; }

schema="CREATE TABLE lagprobe (id bigserial PRIMARY KEY,
        src_ts timestamptz NOT NULL DEFAULT clock_timestamp(), note text)"
ps -c "$schema"
pr -c "$schema" -c "CREATE SCHEMA bench" \
	-c "CREATE TABLE bench.src (id bigint PRIMARY KEY, commit_ts timestamptz)"
ps -c "SELECT pg_create_logical_replication_slot('tide', 'tide')" >/dev/null

# The streamer; under strace (only the fsync calls stop it: seccomp-bpf)
# when counting them.  Signals go to tide itself, not to strace.
start_stream() {
	local cmd=("$TIDE_ROOT/tide" stream -d "host=$S port=$SP user=postgres dbname=postgres"
		-S tide -D "$W/segs" ${STREAM_OPTS:-})
	if [ "$STRACE" = 1 ]; then
		strace -f --seccomp-bpf -qq -ttt -A -e trace=fsync,fdatasync -o "$W/stream.strace" \
			"${cmd[@]}" 2>>"$W/stream.log" &
		pids+=($!)
		for _ in $(seq 50); do stream_pid=$(pgrep -P "$!" || true); [ -n "$stream_pid" ] && break; sleep 0.02; done
	else
		"${cmd[@]}" 2>>"$W/stream.log" &
		stream_pid=$!
	fi
	pids+=($stream_pid)
}
start_apply() {
	"$TIDE_ROOT/tide" apply -d "host=$R port=$RP user=postgres dbname=postgres" -D "$W/segs" \
		--follow ${APPLY_OPTS:-} 2>>"$W/apply.log" &
	apply_pid=$!
	pids+=($apply_pid)
}
start_stream
for _ in $(seq 100); do ls "$W"/segs/*.tseg* >/dev/null 2>&1 && break; sleep 0.1; done
start_apply
for _ in $(seq 100); do grep -q following "$W/apply.log" && break; sleep 0.1; done
grep -q following "$W/apply.log" || { cat "$W/apply.log" >&2; exit 1; }

echo "INSERT INTO lagprobe (src_ts, note) VALUES (clock_timestamp(), md5(random()::text));" >"$W/probe.sql"
echo "load: $RATE tps for $SECS s, $CLIENTS clients; tide stream ${STREAM_OPTS:-(defaults)}; tide apply --follow ${APPLY_OPTS:-}"
t0=$(now)
pgbench -n -h "$S" -p $SP -U postgres -c "$CLIENTS" -j 2 -R "$RATE" -T "$SECS" \
	-f "$W/probe.sql" postgres >"$W/pgbench.log" 2>&1 &
pgbench_pid=$!
if [ "$FAULTS" = 1 ]; then
	# kill -9 and restart at once, as a supervisor would: the streamer at a
	# third of the run, the follower at two thirds
	sleep "$(echo "$SECS / 3" | bc -l)"
	kill -9 "$stream_pid"; wait "$stream_pid" 2>/dev/null || true
	echo "fault: streamer killed at $(echo "$(now) - $t0" | bc | cut -c1-5) s, restarted"
	start_stream
	sleep "$(echo "$SECS / 3" | bc -l)"
	kill -9 "$apply_pid"; wait "$apply_pid" 2>/dev/null || true
	echo "fault: follower killed at $(echo "$(now) - $t0" | bc | cut -c1-5) s, restarted"
	start_apply
fi
wait "$pgbench_pid" || { cat "$W/pgbench.log" >&2; exit 1; }
t1=$(now)

# Wait for the replica to hold every row (a lost row would show here).
n=$(ps -Atc "SELECT count(*) FROM lagprobe")
for _ in $(seq 300); do [ "$(pr -Atc "SELECT count(*) FROM lagprobe")" = "$n" ] && break; sleep 0.1; done
m=$(pr -Atc "SELECT count(*) FROM lagprobe")

# fsyncs during the load only
fsyncs=-
if [ "$STRACE" = 1 ]; then
	# "PID TIME fdatasync(3 <unfinished ...>" or "PID TIME fdatasync(3) = 0"
	fsyncs=$(awk -v a="$t0" -v b="$t1" '$2 >= a && $2 <= b && /(fsync|fdatasync)\(/ { n++ }
		END { print n + 0 }' "$W/stream.strace")
fi

ps -c "\\copy (SELECT id, pg_xact_commit_timestamp(xmin) FROM lagprobe) TO '$W/src.copy'"
pr -c "\\copy bench.src FROM '$W/src.copy'"
pr -At -F ' ' >"$W/lag.txt" <<-SQL
	SELECT s.id,
	       extract(epoch FROM s.commit_ts),
	       1000 * extract(epoch FROM pg_xact_commit_timestamp(r.xmin) - s.commit_ts),
	       1000 * extract(epoch FROM pg_xact_commit_timestamp(r.xmin) - r.src_ts)
	FROM bench.src s JOIN lagprobe r USING (id)
	WHERE s.commit_ts >= (SELECT min(commit_ts) FROM bench.src) + interval '$WARMUP s'
	ORDER BY s.id
SQL

echo
grep -E "^(number of transactions actually processed|latency average|rate limit schedule lag|tps)" "$W/pgbench.log" | sed 's/^/pgbench: /'
echo "rows: $n on the source, $m on the replica"
[ "$n" = "$m" ] || { echo "the replica is missing rows" >&2; exit 1; }
sort -g -k3 "$W/lag.txt" | awk '
	{ v[NR] = $3; w[NR] = $4; s += $3 }
	function pct(p,  i) { i = int(p * NR + 0.999999); if (i < 1) i = 1; return v[i] }
	END {
		if (NR == 0) { print "no rows measured"; exit 1 }
		printf "lag, source commit -> replica commit, ms (n=%d): p50 %.0f  p90 %.0f  p99 %.0f  max %.0f  mean %.0f\n",
			NR, pct(0.5), pct(0.9), pct(0.99), v[NR], s / NR
	}'
sort -g -k4 "$W/lag.txt" | awk '
	{ v[NR] = $4 }
	function pct(p,  i) { i = int(p * NR + 0.999999); if (i < 1) i = 1; return v[i] }
	END { printf "cross-check, clock_timestamp() at insert -> replica commit, ms: p50 %.0f  p99 %.0f  max %.0f\n",
		pct(0.5), pct(0.99), v[NR] }'
awk '{ b = int($3 / 100); if (b > 30) b = 30; h[b]++ }
	END { printf "histogram (100 ms buckets):"; for (i = 0; i <= 30; i++) if (h[i]) printf " %s%d:%d", i == 30 ? ">=" : "", i * 100, h[i]; print "" }' "$W/lag.txt"
if [ "$STRACE" = 1 ]; then
	printf 'streamer fsync+fdatasync calls under load: %d (%.1f per second)\n' "$fsyncs" \
		"$(echo "$fsyncs / ($t1 - $t0)" | bc -l)"
fi
printf 'segments: %d, %.1f bytes per transaction on disk\n' "$(ls "$W/segs" | grep -c tseg)" \
	"$(echo "$(cat "$W"/segs/*.tseg* | wc -c) / $n" | bc -l)"
